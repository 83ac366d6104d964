// Writes policies/npm-shrinkwrap.json: the pack's dependency tree exactly as the repository's
// package-lock.json resolved it, so the published pack installs the versions CI tested.
//
// Why: the pack is an npm workspace, so its dependencies are locked only in the root lock file,
// which `npm pack` of policies/ does not carry. Pulumi Cloud serves the `npm pack` tarball and the
// CLI of every stack that enforces it runs the language host's dependency install in the unpacked
// directory; without a lock file there, every ^range resolves afresh. npm packs an
// npm-shrinkwrap.json into the tarball and `npm install`/`npm ci` in the unpacked pack honor it.
//
//   npm run lock -w policies      (after any dependency change; test/policyPackPublish.test.ts checks it;
//                                  it also records the pack's version, deployments/policyPackVersions.ts)
import * as fs from "fs";
import * as path from "path";
import { packVersion, recordVersion, VERSIONS_FILE } from "./policyPackVersions";

interface LockPackage {
    version?: string;
    resolved?: string;
    integrity?: string;
    link?: boolean;
    dev?: boolean;
    optional?: boolean;
    peer?: boolean;
    license?: string;
    engines?: unknown;
    os?: string[];
    cpu?: string[];
    bin?: unknown;
    hasInstallScript?: boolean;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    name?: string;
}

interface Lock {
    name?: string;
    version?: string;
    lockfileVersion: number;
    requires?: boolean;
    packages: Record<string, LockPackage>;
}

export const REPO_ROOT = path.resolve(__dirname, "..");
export const PACK_DIR = "policies";
export const SHRINKWRAP = path.join(REPO_ROOT, PACK_DIR, "npm-shrinkwrap.json");

/** Node's resolution in the root lock: from `from`'s own node_modules up to the root's. */
function resolveIn(lock: Lock, from: string, name: string): string | undefined {
    let dir = from;
    for (;;) {
        const candidate = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
        if (lock.packages[candidate]) return candidate;
        if (dir === "") return undefined;
        const idx = dir.lastIndexOf("/node_modules/");
        // node_modules/a/node_modules/b → node_modules/a; node_modules/a or a workspace (policies) → the root.
        dir = idx >= 0 ? dir.slice(0, idx) : "";
    }
}

/** The shrinkwrap of the workspace `packDir`, from the root lock; throws when its tree cannot be laid out alone. */
export function shrinkwrapFor(lock: Lock, packDir = PACK_DIR): Lock {
    const root = lock.packages[packDir];
    if (!root) throw new Error(`package-lock.json has no entry for the workspace ${packDir}; run npm install at the repository root`);
    const packages: Record<string, LockPackage> = {};
    const rootEntry: LockPackage = { name: root.name, version: root.version, license: root.license, dependencies: root.dependencies, engines: root.engines };
    packages[""] = JSON.parse(JSON.stringify(rootEntry));
    const problems: string[] = [];
    // Source location in the root lock → location under the pack's own node_modules.
    const placed = new Map<string, string>();
    const relocate = (source: string): string => (source.startsWith(`${packDir}/`) ? source.slice(packDir.length + 1) : source);
    const visit = (from: string, deps: Record<string, string> | undefined, optional: boolean) => {
        for (const name of Object.keys(deps ?? {}).sort()) {
            const source = resolveIn(lock, from, name);
            if (!source) {
                if (!optional) problems.push(`${name} (needed by ${from || packDir}) is not in package-lock.json`);
                continue;
            }
            if (placed.has(source)) continue;
            const target = relocate(source);
            const clash = [...placed.entries()].find(([s, t]) => t === target && s !== source);
            if (clash) {
                problems.push(`${target} would hold both ${clash[0]} and ${source}; the pack's tree needs its own layout (npm install in a copy of ${packDir}/)`);
                continue;
            }
            placed.set(source, target);
            const entry = lock.packages[source];
            if (entry.link) {
                problems.push(`${name} (needed by ${from || packDir}) is a link to a workspace; the published pack cannot carry it`);
                continue;
            }
            const { dev: _dev, peer: _peer, ...kept } = entry;
            packages[target] = kept;
            visit(source, entry.dependencies, false);
            visit(source, entry.optionalDependencies, true);
            const peers = Object.fromEntries(Object.entries(entry.peerDependencies ?? {}).filter(([p]) => !entry.peerDependenciesMeta?.[p]?.optional));
            visit(source, peers, false);
        }
    };
    visit(packDir, root.dependencies, false);
    if (problems.length > 0) throw new Error(`cannot write ${PACK_DIR}/npm-shrinkwrap.json:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
    return { name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages: sorted };
}

export function shrinkwrapText(repoRoot = REPO_ROOT): string {
    const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")) as Lock;
    return `${JSON.stringify(shrinkwrapFor(lock), null, 2)}\n`;
}

if (require.main === module) {
    const text = shrinkwrapText();
    fs.writeFileSync(SHRINKWRAP, text);
    console.log(`${path.relative(process.cwd(), SHRINKWRAP)}: ${Object.keys(JSON.parse(text).packages).length - 1} packages`);
    // The shrinkwrap is part of the pack, so its version is recorded after it is written.
    const packDir = path.join(REPO_ROOT, PACK_DIR);
    try {
        const wrote = recordVersion(packDir);
        console.log(`${path.relative(process.cwd(), VERSIONS_FILE)}: version ${packVersion(packDir)} ${wrote ? "recorded" : "already recorded with this content"}`);
    } catch (err) {
        console.error((err as Error).message);
        process.exitCode = 1;
    }
}
