import * as assert from "node:assert/strict";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { cachedBuild, ensureBuilt, packNodeArgs, packTarget } from "../tooling/build";
import { DEFERRED_MODULES } from "../tooling/lazyClosure";
import { PolicyAnalyzer, SEMI_SPACE_MIB } from "../tooling/policyAnalyzer";
import { PROJECT_ROOT } from "../tooling/stackConfig";

interface Run {
    code: number;
    out: string;
    err: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
        execFile(process.execPath, args, { cwd: PROJECT_ROOT, timeout: 240_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
            if (error && typeof error.code !== "number") return reject(error);
            resolve({ code: error ? (error.code as number) : 0, out: stdout, err: stderr });
        });
    });
}

/** `npm run preview` as it runs now: the compiled CLI, program and pack. */
const compiledCli = (args: string[]) => run([path.join(PROJECT_ROOT, "tooling", "runCompiled.js"), "preview", ...args]);
/** The same CLI from its sources with ts-node, starting the pack exactly as the Pulumi CLI does (type-checked). */
const sourceCli = (args: string[]) => run(["-r", require.resolve("ts-node/register/transpile-only"), path.join(PROJECT_ROOT, "scripts", "preview.ts"), ...args]);

/** Runs `lines` as a script under ts-node in a fresh process; the script prints one JSON value, returned parsed once it exits 0. */
async function scriptResult(lines: string[]): Promise<unknown> {
    const result = await run(["-r", require.resolve("ts-node/register/transpile-only"), "-e", lines.join("\n")]);
    assert.equal(result.code, 0, result.err);
    return JSON.parse(result.out);
}

/** The script line that defers the closure serializer and the Automation API, as the compiled CLI's preload does. */
const DEFER_CLOSURE_LINE = `require(${JSON.stringify(path.join(PROJECT_ROOT, "tooling", "lazyClosure.ts"))}).deferClosureSerializer(${JSON.stringify(PROJECT_ROOT)});`;

describe("the compiled offline gate", function () {
    this.timeout(300_000);
    const scratch = path.join(PROJECT_ROOT, ".tmp", `compiled-gate-test-${process.pid}`);
    before(() => fs.mkdirSync(scratch, { recursive: true }));
    after(() => fs.rmSync(scratch, { recursive: true, force: true }));

    it("prints exactly what the gate run from its sources prints, for a program plan (prod) and its stack export", async () => {
        const exportFile = (which: string) => path.join(scratch, which, "plan-prod.json");
        const [compiled, source] = await Promise.all([compiledCli(["--stack", "prod", "--json", exportFile("compiled")]), sourceCli(["--stack", "prod", "--json", exportFile("source")])]);
        const compiledExport = fs.readFileSync(exportFile("compiled"), "utf8");
        const sourceExport = fs.readFileSync(exportFile("source"), "utf8");
        assert.equal(compiled.code, 0, compiled.err);
        assert.deepEqual({ ...compiled, out: compiled.out.replace(path.join("compiled", "plan-prod.json"), path.join("source", "plan-prod.json")) }, source);
        assert.match(compiled.out, /^Policy gate passed: \d+ resources checked with policies\/config\/prod\.json/m);
        // The export is the same but for the moment it was written.
        const withoutTime = (text: string) => text.replace(/"time": "[^"]+"/, '"time": "…"');
        assert.equal(withoutTime(compiledExport), withoutTime(sourceExport));
    });

    it("blocks a stack export with the same violations, messages and exit code as the sources", async () => {
        const state = path.join(PROJECT_ROOT, "test", "fixtures", "stack-exports", "wildcard-iam-grant.json");
        const [compiled, source] = await Promise.all([compiledCli(["--state", state]), sourceCli(["--state", state])]);
        assert.equal(compiled.code, 1);
        assert.match(compiled.out, /- \[mandatory\] {2}iam-no-wildcard-resource/);
        assert.deepEqual(compiled, source);
    });

    it("previews a review stack of pr-environments (another project, compiled on demand) exactly as the sources do", async () => {
        const args = ["--project", "pr-environments", "--stack", "pr-52"];
        const [compiled, source] = await Promise.all([compiledCli(args), sourceCli(args)]);
        assert.equal(compiled.code, 0, compiled.err);
        assert.match(compiled.out, /^Policy gate passed: \d+ resources checked/m);
        assert.deepEqual(compiled, source);
    });

    it("reports bad arguments before it starts anything, as the sources do", async () => {
        const [compiled, source] = await Promise.all([compiledCli(["--stack", "prod", "--state", "x.json", "--json", "y.json"]), sourceCli(["--stack", "prod", "--state", "x.json", "--json", "y.json"])]);
        assert.equal(compiled.code, 2);
        assert.deepEqual(compiled, source);
    });

    it("runs the pack with the young generation npm run preview gives the CLI, so the benches time what a user runs", () => {
        const scripts = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        const flag = /--max-semi-space-size=(\d+)/.exec(scripts.preview);
        assert.ok(flag, `package.json's preview script sets no young generation: ${scripts.preview}`);
        assert.equal(Number(flag[1]), SEMI_SPACE_MIB);
        assert.ok(packNodeArgs("pack.js").includes(`--max-semi-space-size=${SEMI_SPACE_MIB}`));
    });

    describe("build cache", () => {
        /** A small pack inside the project (so its packages resolve), whose one policy quotes a constant from a second file. */
        const packDir = () => path.join(scratch, "pack");
        const writePack = (word: string) => {
            fs.mkdirSync(packDir(), { recursive: true });
            fs.writeFileSync(path.join(packDir(), "PulumiPolicy.yaml"), "runtime: nodejs\n");
            fs.writeFileSync(path.join(packDir(), "package.json"), JSON.stringify({ name: "cache-probe", version: "1.0.0", main: "index.ts" }));
            fs.writeFileSync(path.join(packDir(), "word.ts"), `export const WORD: string = ${JSON.stringify(word)};\n`);
            fs.writeFileSync(
                path.join(packDir(), "index.ts"),
                [
                    'import { PolicyPack } from "@pulumi/policy";',
                    'import { WORD } from "./word";',
                    'new PolicyPack("cache-probe", {',
                    '    policies: [{ name: "says-word", description: "reports the word", enforcementLevel: "mandatory", validateResource: (_args, report) => report(`the word is ${WORD}`) }],',
                    "});",
                    "",
                ].join("\n"),
            );
        };
        const messageOfPack = async (): Promise<string> => {
            const analyzer = await PolicyAnalyzer.start({ packDir: packDir(), typeCheck: false });
            try {
                await analyzer.configure({});
                const result = await analyzer.analyze({ urn: "urn:pulumi:s::p::aws:s3/bucket:Bucket::b", type: "aws:s3/bucket:Bucket", inputs: {} });
                return result.diagnostics.map((d) => d.message).join("\n");
            } finally {
                await analyzer.close();
            }
        };

        it("reuses a build while its sources are unchanged, rebuilds when an imported file's content changes, and runs the new code", async () => {
            writePack("before");
            const target = packTarget(packDir());
            const first = await ensureBuilt(target);
            assert.equal(first.cached, false);
            assert.ok(first.file.startsWith(path.join(PROJECT_ROOT, "node_modules", ".cache", "jobfleet")), first.file);
            assert.deepEqual(first.inputs.filter((f) => f.startsWith(packDir())).sort(), [path.join(packDir(), "index.ts"), path.join(packDir(), "word.ts")]);
            const again = await ensureBuilt(target);
            assert.deepEqual(again, { ...first, cached: true });
            assert.match(await messageOfPack(), /the word is before/);

            // Only the content counts: a newer mtime with the same bytes keeps the build.
            const later = new Date(Date.now() + 60_000);
            fs.utimesSync(path.join(packDir(), "word.ts"), later, later);
            assert.equal(cachedBuild(target)?.file, first.file);

            writePack("after");
            assert.equal(cachedBuild(target), undefined, "a changed source invalidates the build");
            assert.match(await messageOfPack(), /the word is after/);
            const rebuilt = await ensureBuilt(target);
            assert.equal(rebuilt.cached, true);
            assert.notEqual(rebuilt.file, first.file);
        });

        it("reports a pack that does not compile with the file, line and reason", async () => {
            writePack("x");
            fs.writeFileSync(path.join(packDir(), "word.ts"), "export const WORD = ;\n");
            await assert.rejects(PolicyAnalyzer.start({ packDir: packDir(), typeCheck: false }), (err: Error) => /does not compile/.test(err.message) && /word\.ts:1:\d+: /.test(err.message));
        });
    });

    describe("@pulumi/pulumi's closure serializer and Automation API, loaded on first use", () => {
        it("stands in with exactly the real modules' exports (an SDK upgrade that changes them fails here)", () => {
            for (const deferred of DEFERRED_MODULES) {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const real = require(require.resolve(deferred.module, { paths: [PROJECT_ROOT] })) as Record<string, unknown>;
                assert.deepEqual(Object.keys(real).filter((k) => typeof real[k] === "function").sort(), [...deferred.exports].sort(), deferred.module);
            }
        });

        it("keeps the serializer and TypeScript unloaded when the SDK is imported, and serializes a function when asked", async () => {
            const found = await scriptResult([
                DEFER_CLOSURE_LINE,
                "const loaded = (part) => Object.keys(require.cache).some((f) => f.includes(part));",
                "const before = { createClosure: loaded('runtime/closure/createClosure'), typescriptShim: loaded('typescript-shim') };",
                'const pulumi = require("@pulumi/pulumi");',
                "const afterImport = { createClosure: loaded('runtime/closure/createClosure'), typescriptShim: loaded('typescript-shim') };",
                "pulumi.runtime.serializeFunction(() => 6 * 7).then((f) => {",
                "  console.log(JSON.stringify({ before, afterImport, afterUse: loaded('runtime/closure/createClosure'), text: f.text.includes('6 * 7') }));",
                "});",
            ]);
            assert.deepEqual(found, {
                before: { createClosure: false, typescriptShim: false },
                afterImport: { createClosure: false, typescriptShim: false },
                afterUse: true,
                text: true,
            });
        });

        it("defers @pulumi/aws's service namespaces: unloaded at import, the real classes on first use, resource references still come back as resources", async () => {
            const lazy = JSON.stringify(path.join(PROJECT_ROOT, "tooling", "lazyClosure.ts"));
            const found = await scriptResult([
                `require(${lazy}).deferAwsServices(${JSON.stringify(PROJECT_ROOT)});`,
                "const loaded = (svc) => Object.entries(require.cache).some(([f, m]) => f.endsWith(`/@pulumi/aws/${svc}/index.js`) && !require('util').types.isProxy(m.exports));",
                'const pulumi = require("@pulumi/pulumi");',
                'const aws = require("@pulumi/aws");',
                "const afterImport = { rds: loaded('rds'), ecs: loaded('ecs'), lambda: loaded('lambda') };",
                "pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name + '-id', state: a.inputs }), call: (a) => a.inputs }, 'p', 's', false);",
                "// The mock monitor cannot read a resource back; only the object the reference turns into matters here.",
                "process.on('unhandledRejection', () => undefined);",
                "const ref = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialResourceSig, urn: 'urn:pulumi:s::p::aws:rds/instance:Instance::db', id: 'db-id' };",
                "const db = pulumi.runtime.deserializeProperty(ref);",
                'const real = require(require.resolve("@pulumi/aws/ec2/securityGroup", { paths: [process.cwd()] }));',
                "console.log(JSON.stringify({ afterImport, afterRef: loaded('rds'), isInstance: db instanceof aws.rds.Instance, same: aws.ec2.SecurityGroup === real.SecurityGroup, keys: Object.keys(aws.ec2).includes('SecurityGroup'), enums: aws.ec2.InstanceType.T3_Micro }));",
            ]);
            assert.deepEqual(found, { afterImport: { rds: false, ecs: false, lambda: true }, afterRef: true, isInstance: true, same: true, keys: true, enums: "t3.micro" });
        });

        it("stands in for each deferred service with exactly the resource modules its index registers", async () => {
            const found = await scriptResult([
                `const { scanAwsServices } = require(${JSON.stringify(path.join(PROJECT_ROOT, "tooling", "lazyClosure.ts"))});`,
                'const path = require("path");',
                'const root = path.dirname(require.resolve("@pulumi/aws/package.json"));',
                'const pulumi = require("@pulumi/pulumi");',
                "const registered = new Map();",
                "const original = pulumi.runtime.registerResourceModule;",
                "pulumi.runtime.registerResourceModule = (pkg, mod, m) => { if (pkg === 'aws') { const s = mod.split('/')[0]; registered.set(s, [...(registered.get(s) ?? []), mod]); } return original(pkg, mod, m); };",
                "const services = scanAwsServices(root);",
                "for (const s of services) require(path.join(root, s.name));",
                "const differ = services.filter((s) => JSON.stringify([...s.modules].sort()) !== JSON.stringify([...(registered.get(s.name) ?? [])].sort())).map((s) => s.name);",
                "console.log(JSON.stringify({ count: services.length, deferred: services.filter((s) => s.deferrable).length, differ }));",
            ]);
            const { count, deferred, differ } = found as { count: number; deferred: number; differ: string[] };
            assert.deepEqual(differ, []);
            assert.ok(count > 200 && deferred > count - 20, JSON.stringify(found));
        });

        it("keeps the Automation API unloaded at import, and gives its real classes and keys when read", async () => {
            const found = await scriptResult([
                DEFER_CLOSURE_LINE,
                "const loaded = () => Object.keys(require.cache).some((f) => /automation[\\/]localWorkspace\\.js$/.test(f));",
                'const pulumi = require("@pulumi/pulumi");',
                "const afterImport = loaded();",
                "const { LocalWorkspace } = pulumi.automation;",
                'const real = require(require.resolve("@pulumi/pulumi/automation/localWorkspace", { paths: [process.cwd()] }));',
                "console.log(JSON.stringify({ afterImport, afterUse: loaded(), same: LocalWorkspace === real.LocalWorkspace, keys: Object.keys(pulumi.automation).includes('LocalWorkspace'), has: 'Stack' in pulumi.automation }));",
            ]);
            assert.deepEqual(found, { afterImport: false, afterUse: true, same: true, keys: true, has: true });
        });
    });
});
