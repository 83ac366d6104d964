import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { builtinModules } from "module";
import * as path from "path";
import type * as esbuild from "esbuild";

/**
 * The offline gate's build: the program, the preview CLI and the policy pack compiled to JavaScript
 * with esbuild, so `npm run preview`, the tests and the benches start plain `node` instead of
 * ts-node (which type-checks the pack on every start when started as the Pulumi CLI starts it).
 * `pulumi preview --policy-pack policies` keeps running the sources; `npm test` type-checks them.
 *
 * Each target is one bundle of the project's own files; packages stay outside it, required by the
 * absolute path Node resolves from the importing source file, so the compiled code loads exactly
 * the modules the sources load. A bundle is cached by content: its manifest lists the SHA-256 of
 * every file the bundle was made from, and it is reused only while all of them (and this file, the
 * lockfiles and esbuild's version) are unchanged. Outputs go to node_modules/.cache/jobfleet/,
 * outside git.
 */

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const CACHE_DIR = path.join(PROJECT_ROOT, "node_modules", ".cache", "jobfleet");
/** Builds kept per target: a process that read a manifest just before a rebuild may still be about to load the previous one. */
const KEEP_BUILDS = 3;

export interface BuildTarget {
    /** File-name prefix of the outputs, e.g. `pack`. */
    name: string;
    /** The entry module (TypeScript or JavaScript). */
    entry: string;
    /** Modules to run before the entry, in order, in the same bundle (e.g. the lazy closure serializer). */
    preload?: Array<{ module: string; call: string; args: unknown[] }>;
    /**
     * Writes Node's compile cache (when one is enabled, see runCompiled.js) once the entry has
     * loaded: for a process that is stopped by a signal, which never reaches the exit that writes it.
     */
    flushCompileCache?: boolean;
}

export interface BuiltTarget {
    /** The compiled bundle to require or run. */
    file: string;
    /** false when this call compiled it. */
    cached: boolean;
    /** The source files it was compiled from. */
    inputs: string[];
}

export class BuildError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "BuildError";
    }
}

interface Manifest {
    key: string;
    file: string;
    inputs: Record<string, string>;
}

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

function hashFile(file: string): string | undefined {
    try {
        return sha256(fs.readFileSync(file));
    } catch {
        return undefined;
    }
}

/** What a build depends on besides its own source files: how it is compiled and what packages resolve to. Read once per process. */
let salt: string | undefined;
function environmentSalt(): string {
    salt ??= readEnvironmentSalt();
    return salt;
}

function readEnvironmentSalt(): string {
    const parts = [
        `build ${hashFile(__filename) ?? "?"}`,
        `esbuild ${esbuildVersion()}`,
        `node ${process.versions.node.split(".")[0]}`,
        `lock ${hashFile(path.join(PROJECT_ROOT, "package-lock.json")) ?? "-"}`,
        `installed ${hashFile(path.join(PROJECT_ROOT, "node_modules", ".package-lock.json")) ?? "-"}`,
    ];
    return parts.join("\n");
}

function esbuildVersion(): string {
    const pkg = JSON.parse(fs.readFileSync(require.resolve("esbuild/package.json", { paths: [PROJECT_ROOT] }), "utf8")) as { version: string };
    return pkg.version;
}

function targetId(target: BuildTarget): string {
    return `${target.name}-${sha256(JSON.stringify([path.resolve(target.entry), target.preload ?? []])).slice(0, 12)}`;
}

function keyOf(target: BuildTarget, inputs: Record<string, string>, salt: string): string {
    const listed = Object.keys(inputs)
        .sort()
        .map((f) => `${f} ${inputs[f]}`)
        .join("\n");
    return sha256(`${targetId(target)}\n${salt}\n${listed}`).slice(0, 20);
}

/** The cached bundle, if every file it was made from still has the content it had. */
export function cachedBuild(target: BuildTarget): BuiltTarget | undefined {
    const manifestFile = path.join(CACHE_DIR, `${targetId(target)}.json`);
    let manifest: Manifest;
    try {
        manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Manifest;
    } catch {
        return undefined;
    }
    const now: Record<string, string> = {};
    for (const file of Object.keys(manifest.inputs)) {
        const hash = hashFile(file);
        if (hash === undefined || hash !== manifest.inputs[file]) return undefined;
        now[file] = hash;
    }
    if (keyOf(target, now, environmentSalt()) !== manifest.key || !fs.existsSync(manifest.file)) return undefined;
    return { file: manifest.file, cached: true, inputs: Object.keys(manifest.inputs) };
}

/** The bundle for `target`: the cached one when its sources are unchanged, else compiled now. */
export async function ensureBuilt(target: BuildTarget): Promise<BuiltTarget> {
    return cachedBuild(target) ?? compile(target);
}

// Its own copy of runtime/keptFiles.ts's: runCompiled.js compiles this file alone, so it imports no project module.
function writeAtomically(file: string, contents: string): void {
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, contents);
    fs.renameSync(tmp, file);
}

const LOADERS: Record<string, esbuild.Loader> = { ".ts": "ts", ".js": "js", ".cjs": "js", ".json": "json" };

async function compile(target: BuildTarget): Promise<BuiltTarget> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esb = require(require.resolve("esbuild", { paths: [PROJECT_ROOT] })) as typeof esbuild;
    const entry = path.resolve(target.entry);
    const inputs: Record<string, string> = {};
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const plugin: esbuild.Plugin = {
        name: "jobfleet",
        setup(build) {
            // Packages stay outside the bundle, required by the path Node resolves from the importing file.
            build.onResolve({ filter: /^[^./]/ }, (args) => {
                if (builtins.has(args.path) || args.path.startsWith("node:")) return { path: args.path, external: true };
                try {
                    return { path: require.resolve(args.path, { paths: [args.resolveDir] }), external: true };
                } catch {
                    return { errors: [{ text: `cannot resolve ${JSON.stringify(args.path)} from ${path.relative(PROJECT_ROOT, args.importer) || args.importer} (is it installed? run npm ci)` }] };
                }
            });
            // Source files: hashed exactly as compiled; __dirname/__filename keep naming the source's location.
            build.onLoad({ filter: /.*/, namespace: "file" }, (args) => {
                const loader = LOADERS[path.extname(args.path)];
                if (!loader) return undefined;
                const source = fs.readFileSync(args.path);
                inputs[args.path] = sha256(source);
                let text = source.toString("utf8");
                if (loader !== "json" && /\b__(dirname|filename)\b/.test(text)) {
                    text = `var __dirname = ${JSON.stringify(path.dirname(args.path))}, __filename = ${JSON.stringify(args.path)};\n${text}`;
                }
                return { contents: text, loader, resolveDir: path.dirname(args.path) };
            });
        },
    };
    const lines = [
        ...(target.preload ?? []).map((p) => `require(${JSON.stringify(path.resolve(p.module))}).${p.call}(...${JSON.stringify(p.args)});`),
        `module.exports = require(${JSON.stringify(entry)});`,
        ...(target.flushCompileCache ? ['setImmediate(() => { const m = require("module"); if (typeof m.flushCompileCache === "function") m.flushCompileCache(); });'] : []),
    ];
    let result: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] };
    try {
        result = await esb.build({
            stdin: { contents: lines.join("\n"), resolveDir: path.dirname(entry), sourcefile: `${target.name}-entry.js`, loader: "js" },
            bundle: true,
            platform: "node",
            format: "cjs",
            target: "node22",
            write: false,
            logLevel: "silent",
            plugins: [plugin],
            // Kept as in the sources: error stack traces and class names (the SDKs compare constructor names).
            keepNames: true,
            sourcemap: "inline",
            sourcesContent: false,
            absWorkingDir: PROJECT_ROOT,
        });
    } catch (err) {
        const failure = err as esbuild.BuildFailure;
        const problems = (failure.errors ?? []).map((e) => `${e.location ? `${path.relative(PROJECT_ROOT, path.resolve(PROJECT_ROOT, e.location.file))}:${e.location.line}:${e.location.column}: ` : ""}${e.text}`);
        throw new BuildError(`cannot compile ${path.relative(PROJECT_ROOT, entry) || entry}:\n${problems.length > 0 ? problems.map((p) => `  ${p}`).join("\n") : `  ${(err as Error).message}`}`);
    }
    const key = keyOf(target, inputs, environmentSalt());
    const id = targetId(target);
    const file = path.join(CACHE_DIR, `${id}-${key}.js`);
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    writeAtomically(file, result.outputFiles[0].text);
    writeAtomically(path.join(CACHE_DIR, `${id}.json`), JSON.stringify({ key, file, inputs } satisfies Manifest, null, 2));
    pruneOldBuilds(id, file);
    return { file, cached: false, inputs: Object.keys(inputs) };
}

function pruneOldBuilds(id: string, keep: string): void {
    const builds = fs
        .readdirSync(CACHE_DIR)
        .filter((f) => f.startsWith(`${id}-`) && f.endsWith(".js"))
        .map((f) => path.join(CACHE_DIR, f))
        .filter((f) => f !== keep)
        .map((f) => ({ f, mtime: fs.statSync(f).mtimeMs }))
        .sort((a, b) => b.mtime - a.mtime);
    for (const { f } of builds.slice(KEEP_BUILDS - 1)) fs.rmSync(f, { force: true });
}

// ---------------------------------------------------------------------------------------------
// The gate's three targets
// ---------------------------------------------------------------------------------------------

const DEFER_CLOSURE_SERIALIZER = (fromDirs: string[]) => ({ module: path.join(PROJECT_ROOT, "tooling", "lazyClosure.ts"), call: "deferClosureSerializer", args: fromDirs });

/** The policy pack in `packDir` (its package.json `main`), run by plain node in that directory. */
export function packTarget(packDir: string): BuildTarget {
    const dir = path.resolve(packDir);
    let main = "index.js";
    try {
        main = (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { main?: string }).main ?? main;
    } catch {
        // No readable package.json: the pack's own start reports it (the policy SDK reads its version there).
    }
    return { name: "pack", entry: path.resolve(dir, main), preload: [DEFER_CLOSURE_SERIALIZER([dir])], flushCompileCache: true };
}

/** The program (index.ts), which the compiled preview runs under mocks. */
export const PROGRAM_TARGET: BuildTarget = { name: "program", entry: path.join(PROJECT_ROOT, "index.ts") };

/** The preview CLI (scripts/preview.ts). */
export const PREVIEW_TARGET: BuildTarget = {
    name: "preview",
    entry: path.join(PROJECT_ROOT, "scripts", "preview.ts"),
    preload: [DEFER_CLOSURE_SERIALIZER([PROJECT_ROOT]), { module: path.join(PROJECT_ROOT, "tooling", "lazyClosure.ts"), call: "deferAwsServices", args: [PROJECT_ROOT] }],
};

/** The Analyze requests the early pack warms up on (policies/lib/warmUp.ts), saved by the last compiled gate run. */
export const PACK_WARM_UP_FILE = path.join(CACHE_DIR, "pack-warm-up.json");

/**
 * Young-generation size (MiB) of the compiled pack's process, as `npm run preview` gives its own
 * (package.json). 8 MiB: measured on a prod preview, 32 MiB in both processes cost 0.25-0.3 s
 * more (2.46 against 2.19 s, medians of 7, interleaved), because most young objects survive and a
 * larger semi-space both copies them more often and faults in fresh pages; at 10,000 resources the
 * two sizes used the same CPU (docs/benchmarks.md, fourth round).
 */
export const PACK_SEMI_SPACE_MIB = 8;

/** How node runs the compiled pack: with the same young generation as the CLI. */
export function packNodeArgs(packFile: string): string[] {
    return [`--max-semi-space-size=${PACK_SEMI_SPACE_MIB}`, packFile];
}

/** A compiled pack's process started before the preview CLI has loaded, for its PolicyAnalyzer to take (`takeEarlyPack`). */
export interface EarlyPack {
    file: string;
    packDir: string;
    child: ChildProcess;
    /** Set when the process could not be started. */
    error?: Error;
}

// On globalThis: this module is loaded twice, by runCompiled.js and inside the preview's bundle.
const EARLY_PACK = Symbol.for("jobfleet.earlyPack");
type WithEarlyPack = { [EARLY_PACK]?: EarlyPack };

/**
 * Starts the compiled pack's process now. `npm run preview` does this before loading the preview
 * CLI (about a second), so the pack is serving by the time the program registers its first
 * resources; the CLI's PolicyAnalyzer takes the process instead of starting another. One not taken
 * is killed when this process exits.
 */
export function startPackEarly(packFile: string, packDir: string): void {
    const holder = globalThis as WithEarlyPack;
    if (holder[EARLY_PACK]) return;
    // JOBFLEET_PACK_WARM_UP: the pack prepares its caches while it waits for the program, and runs the saved requests (policies/index.ts).
    const env = { ...process.env, JOBFLEET_PACK_WARM_UP: "1", JOBFLEET_PACK_WARM_UP_REQUESTS: PACK_WARM_UP_FILE };
    const child = spawn(process.execPath, packNodeArgs(packFile), { cwd: packDir, env, stdio: ["ignore", "pipe", "pipe"] });
    const early: EarlyPack = { file: packFile, packDir: path.resolve(packDir), child };
    child.once("error", (err) => (early.error = err));
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.removeListener("exit", killOnExit));
    holder[EARLY_PACK] = early;
}

/** The early pack's process, if one was started for this bundle and pack directory and not taken yet. */
export function takeEarlyPack(packFile: string, packDir: string): EarlyPack | undefined {
    const holder = globalThis as WithEarlyPack;
    const early = holder[EARLY_PACK];
    if (!early || early.file !== packFile || early.packDir !== path.resolve(packDir)) return undefined;
    delete holder[EARLY_PACK];
    return early;
}

/** Everything `npm run preview` runs, compiled (or taken from the cache). */
export async function buildGate(packDir = path.join(PROJECT_ROOT, "policies"), builtPack?: BuiltTarget): Promise<{ preview: BuiltTarget; program: BuiltTarget; pack: BuiltTarget }> {
    const [preview, program, pack] = await Promise.all([ensureBuilt(PREVIEW_TARGET), ensureBuilt(PROGRAM_TARGET), builtPack ?? ensureBuilt(packTarget(packDir))]);
    return { preview, program, pack };
}

/**
 * `node tooling/runCompiled.js <command> [args]` (package.json scripts); resolves to the exit code.
 *   preview <args>   `npm run preview`: the preview CLI, its program and the pack, compiled
 *   build            compiles (or finds in the cache) every target and says which it compiled
 */
export async function main(argv: string[]): Promise<number> {
    const [command, ...args] = argv;
    if (command !== "build" && command !== "preview") {
        process.stderr.write("usage: node tooling/runCompiled.js preview [args] | build\n");
        return 2;
    }
    let built;
    try {
        const packDir = path.join(PROJECT_ROOT, "policies");
        // The pack first, started at once: it takes longer to serve than the CLI takes to load.
        const pack = await ensureBuilt(packTarget(packDir));
        if (command === "preview" && !args.some((a) => a === "-h" || a === "--help")) startPackEarly(pack.file, packDir);
        built = await buildGate(packDir, pack);
    } catch (err) {
        if (!(err instanceof BuildError)) throw err;
        process.stderr.write(`error: ${err.message}\n`);
        return 3;
    }
    if (command === "build") {
        for (const [name, b] of Object.entries(built)) process.stdout.write(`${name}: ${path.relative(PROJECT_ROOT, b.file)} (${b.cached ? "cached" : "compiled"}, ${b.inputs.length} source files)\n`);
        return 0;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const preview = require(built.preview.file) as { main(argv: string[], compiled: { program: string }): Promise<number> };
    return preview.main(args, { program: built.program.file });
}
