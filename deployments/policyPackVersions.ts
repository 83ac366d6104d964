// The content each version of the policy pack was recorded with (deployments/policy-pack-versions.json).
//
// Why: deployments/ publishes policies/ to Pulumi Cloud under the version in policies/package.json,
// and published versions are immutable. A change to policies/ that keeps a published version is
// either refused by Pulumi Cloud or, since the PolicyPack resource's inputs (name, version, path)
// have not changed, never published at all: every stack keeps enforcing the old rules while the
// repository's tests pass on the new ones. So each version is recorded with the SHA-256 of what
// `npm pack` of policies/ holds, and a change under a recorded version is refused here, before it
// reaches main.
//
//   npm run lock -w policies      (records a new version; refuses a changed pack under a recorded one)
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

export const VERSIONS_FILE = path.resolve(__dirname, "policy-pack-versions.json");

/** version → `sha256:<hex>` of the pack's files. */
export type RecordedVersions = Record<string, string>;

/** The files `npm pack` puts in the pack's tarball, as npm lists them (its `files`, package.json, the shrinkwrap). */
export function packedFiles(packDir: string): string[] {
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
        cwd: packDir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, npm_config_update_notifier: "false" },
    });
    const [packed] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
    return packed.files.map((f) => f.path);
}

/** SHA-256 over each file's path and bytes, in path order. */
export function packDigest(packDir: string, files: string[]): string {
    const hash = createHash("sha256");
    for (const file of [...files].sort()) {
        const bytes = fs.readFileSync(path.join(packDir, file));
        hash.update(`${file}\0${bytes.length}\0`);
        hash.update(bytes);
    }
    return `sha256:${hash.digest("hex")}`;
}

export function packVersion(packDir: string): string {
    const version = (JSON.parse(fs.readFileSync(path.join(packDir, "package.json"), "utf8")) as { version?: unknown }).version;
    if (typeof version !== "string" || version === "") throw new Error(`${path.join(packDir, "package.json")} has no version`);
    return version;
}

export function readRecordedVersions(file = VERSIONS_FILE): RecordedVersions {
    if (!fs.existsSync(file)) return {};
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${file} must map each pack version to "sha256:<64 hex digits>"`);
    for (const [version, digest] of Object.entries(parsed)) {
        if (typeof digest !== "string" || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`${file}: version ${version} must map to "sha256:<64 hex digits>", not ${JSON.stringify(digest)}`);
    }
    return parsed as RecordedVersions;
}

/** Why the pack cannot be published as it is, or undefined when its version is recorded with exactly this content. */
export function versionProblem(version: string, digest: string, recorded: RecordedVersions): string | undefined {
    const known = recorded[version];
    if (known === digest) return undefined;
    if (known === undefined) return `policy pack version ${version} is not recorded in deployments/policy-pack-versions.json: run npm run lock -w policies`;
    return (
        `policies/ changed since version ${version} was recorded, and published policy pack versions are immutable ` +
        `(Pulumi Cloud would refuse it, or deployments/ would see no change and never publish it): ` +
        `give policies/package.json a new version, then run npm run lock -w policies. ` +
        `(A version that has not reached main yet, recorded on this branch only, was never published: delete its entry ` +
        `from deployments/policy-pack-versions.json and run npm run lock -w policies again.)`
    );
}

/**
 * Records the pack's current version with its digest; refuses (throws) when that version is
 * already recorded with other content. Returns true when it wrote a new entry.
 */
export function recordVersion(packDir: string, file = VERSIONS_FILE, digest = packDigest(packDir, packedFiles(packDir))): boolean {
    const version = packVersion(packDir);
    const recorded = readRecordedVersions(file);
    if (recorded[version] === digest) return false;
    if (recorded[version] !== undefined) throw new Error(versionProblem(version, digest, recorded));
    const next = Object.fromEntries(Object.entries({ ...recorded, [version]: digest }).sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true })));
    fs.writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`);
    return true;
}
