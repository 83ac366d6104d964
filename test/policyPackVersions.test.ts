import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { packDigest, recordVersion, readRecordedVersions, versionProblem } from "../deployments/policyPackVersions";

/**
 * deployments/ publishes policies/ under its package.json version, and Pulumi Cloud never
 * replaces a published version: a pack edited under a recorded version must be refused before
 * it reaches main, with the fix in the message.
 */
describe("policy pack versions (deployments/policyPackVersions.ts)", () => {
    let dir: string;
    let ledger: string;
    const write = (file: string, text: string) => fs.writeFileSync(path.join(dir, file), text);

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-pack-versions-"));
        ledger = path.join(dir, "versions.json");
        write("package.json", JSON.stringify({ name: "jobfleet-guardrails", version: "1.4.0" }));
        write("index.ts", "export const rule = 1;\n");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const digest = () => packDigest(dir, ["package.json", "index.ts"]);

    it("records a new version once, and accepts the same content again", () => {
        assert.equal(recordVersion(dir, ledger, digest()), true);
        assert.equal(recordVersion(dir, ledger, digest()), false);
        assert.deepEqual(readRecordedVersions(ledger), { "1.4.0": digest() });
    });

    it("refuses a changed pack under a recorded version, saying to bump the version, and leaves the record alone", () => {
        recordVersion(dir, ledger, digest());
        const recorded = fs.readFileSync(ledger, "utf8");
        write("index.ts", "export const rule = 2;\n");
        assert.throws(() => recordVersion(dir, ledger, digest()), /policies\/ changed since version 1\.4\.0 was recorded.*give policies\/package\.json a new version.*has not reached main yet.*delete its entry/);
        assert.equal(fs.readFileSync(ledger, "utf8"), recorded);
        write("package.json", JSON.stringify({ name: "jobfleet-guardrails", version: "1.5.0" }));
        assert.equal(recordVersion(dir, ledger, digest()), true);
        assert.deepEqual(Object.keys(readRecordedVersions(ledger)), ["1.4.0", "1.5.0"]);
    });

    it("digests paths as well as bytes, whatever order the files are listed in", () => {
        const before = digest();
        assert.equal(packDigest(dir, ["index.ts", "package.json"]), before);
        fs.renameSync(path.join(dir, "index.ts"), path.join(dir, "main.ts"));
        assert.notEqual(packDigest(dir, ["package.json", "main.ts"]), before);
    });

    it("names an unrecorded version and a record that is not a version → digest map", () => {
        assert.match(versionProblem("2.0.0", digest(), {}) ?? "", /version 2\.0\.0 is not recorded.*npm run lock -w policies/);
        write("versions.json", JSON.stringify({ "1.0.0": "abc" }));
        assert.throws(() => readRecordedVersions(ledger), /version 1\.0\.0 must map to "sha256:<64 hex digits>", not "abc"/);
        write("versions.json", "[]");
        assert.throws(() => readRecordedVersions(ledger), /must map each pack version to "sha256:<64 hex digits>"/);
    });
});
