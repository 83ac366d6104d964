import * as assert from "node:assert/strict";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { runPreview } from "../scripts/preview";
import { captureProgram, toStackExport } from "../tooling/capture";
import { PolicyAnalyzer } from "../tooling/policyAnalyzer";
import { readStackExport, runPolicyGate } from "../tooling/policyGate";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { useAnalyzer } from "./policies/helpers";
import { standardPlan } from "./support/plans";

const FIXTURES = path.join(PROJECT_ROOT, "test", "fixtures", "stack-exports");
const fixture = (name: string) => path.join(FIXTURES, name);

interface CliRun {
    code: number;
    out: string;
    err: string;
}

/** The real CLI as `npm run preview` starts it, in a child process: the pack started exactly as the Pulumi CLI does. */
function runCliProcess(args: string[]): Promise<CliRun> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            ["-r", require.resolve("ts-node/register/transpile-only"), path.join(PROJECT_ROOT, "scripts", "preview.ts"), ...args],
            { cwd: PROJECT_ROOT, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
            (error, stdout, stderr) => {
                if (error && typeof error.code !== "number") return reject(error);
                resolve({ code: error ? (error.code as number) : 0, out: stdout, err: stderr });
            },
        );
    });
}

/** Violations of one evaluation as `policy name → resource names`. */
function blockedBy(run: CliRun): Map<string, string[]> {
    const found = new Map<string, string[]>();
    for (const m of run.out.matchAll(/^ {8}- \[mandatory\] {2}(\S+) {2}\(([^)]*): ([^)]*)\)$/gm)) {
        found.set(m[1], [...(found.get(m[1]) ?? []), m[3]]);
    }
    return found;
}

describe("offline policy gate", () => {
    // The pack's analyzer child, shared with the policy tests (each evaluation reconfigures it); the
    // child-process cases below start the pack exactly as the Pulumi CLI does instead.
    const shared = useAnalyzer();
    let analyzer: PolicyAnalyzer;
    let tmp: string;
    const cli = async (args: string[]): Promise<CliRun> => {
        let out = "";
        let err = "";
        const code = await runPreview(args, { out: (t) => (out += t), err: (t) => (err += t) }, { analyzer });
        return { code, out, err };
    };
    /** A copy of a stack file with some config keys changed, as an operator would edit it. */
    const stackFileWith = (stack: "staging" | "prod", changes: Record<string, unknown>): string => {
        const doc = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
        Object.assign(doc.config, changes);
        const file = path.join(tmp, `Pulumi.${stack}.${Object.keys(changes).join("-").replace(/[^A-Za-z0-9-]/g, "_")}.yaml`);
        fs.writeFileSync(file, YAML.stringify(doc));
        return file;
    };

    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-gate-"));
        analyzer = shared.get();
    });
    after(() => {
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    for (const stack of ["staging", "prod"] as const) {
        it(`lets the ${stack} stack through with its own pack config`, async () => {
            const plan = await standardPlan(stack);
            const result = await runPolicyGate(plan.resources, { stack, analyzer, cwd: PROJECT_ROOT });
            assert.equal(result.exitCode, 0, result.report);
            assert.equal(result.configFile, path.join(PROJECT_ROOT, "policies", "config", `${stack}.json`));
            assert.equal(result.resourceCount, plan.resources.length);
            assert.equal(result.evaluation.mandatoryCount, 0);
            assert.match(result.policies, /^Policies:\n {4}✅ jobfleet-guardrails@v\d+\.\d+\.\d+ \(local: policies\)\n$/);
            assert.match(result.verdict, new RegExp(`^Policy gate passed: ${plan.resources.length} resources checked with policies/config/${stack}\\.json`));
        });
    }

    it("runs after the plan in `npm run preview`, and blocks a plaintext secret a config file puts into an environment variable", async () => {
        const token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
        const run = await cli(["--stack", "staging", "--config-file", stackFileWith("staging", { "jobfleet:agentRuntimeAppId": token })]);
        assert.equal(run.code, 1, run.err);
        assert.ok(run.out.indexOf("Resources by type:") < run.out.indexOf("Policies:"), "the plan is printed first");
        assert.match(run.out, / {4}❌ jobfleet-guardrails@v[\d.]+ \(local: policies\)\n/);
        assert.deepEqual([...blockedBy(run).entries()], [["no-plaintext-secrets", ["agent-runtime"]]]);
        assert.match(run.out, /environment "AGENT_APP_ID": holds a plaintext secret \(secretlint github/);
        assert.match(run.out, /urn: urn:pulumi:staging::jobfleet::.*aws:ecs\/taskDefinition:TaskDefinition::agent-runtime\n/);
        assert.match(run.err, /^error: policy gate blocked the change: 1 mandatory, 0 advisory violation\(s\)/m);
    });

    it("blocks credentials in a URL that config hands a container (CORS origin with user:password)", async () => {
        const plan = await captureProgram({
            stack: "prod",
            configOverrides: { "jobfleet:sandboxBrokerCorsAllowedOrigins": JSON.stringify(["https://admin:Sup3rS3cretPw@play.instruqt.com"]) },
        });
        const result = await runPolicyGate(plan.resources, { stack: "prod", analyzer });
        assert.equal(result.exitCode, 1);
        const violations = result.evaluation.policyPacks[0].violations;
        assert.deepEqual([...new Set(violations.map((v) => v.policyName))], ["no-plaintext-secrets"]);
        assert.deepEqual(violations.map((v) => v.urn!.split("::").pop()).sort(), ["sandbox-broker-api"]);
        assert.match(violations[0].message, /"CORS_ALLOWED_ORIGINS": holds a plaintext secret/);
        assert.doesNotMatch(result.report, /Sup3rS3cretPw/, "the report names the variable, not the password");
    });

    it("prints every mandatory violation before failing, then exits 1 (a copy of the real plan without stop timeouts)", async () => {
        const exported = toStackExport(await standardPlan("staging"));
        let stripped = 0;
        for (const r of exported.deployment.resources) {
            if (r.type !== "aws:ecs/taskDefinition:TaskDefinition") continue;
            const containers = JSON.parse(r.inputs.containerDefinitions as string) as Array<Record<string, unknown>>;
            for (const c of containers) {
                delete c.stopTimeout;
                stripped++;
            }
            r.inputs = { ...r.inputs, containerDefinitions: JSON.stringify(containers) };
        }
        const file = path.join(tmp, "staging-without-stop-timeouts.json");
        fs.writeFileSync(file, JSON.stringify(exported));
        const run = await cli(["--state", file]);
        assert.equal(run.code, 1);
        const blocked = blockedBy(run);
        assert.deepEqual([...blocked.keys()], ["ecs-container-stop-timeout"]);
        assert.equal(blocked.get("ecs-container-stop-timeout")!.length, stripped, "one violation per container, all printed");
        assert.match(run.err, new RegExp(`${stripped} mandatory`));
    });

    const fixtureCases: Array<[string, string, string, RegExp]> = [
        ["a wildcard IAM grant", "wildcard-iam-grant.json", "iam-no-wildcard-resource", /Resource "\*": allows s3:\*/],
        ["a missing stop timeout", "missing-stop-timeout.json", "ecs-container-stop-timeout", /container "report-builder" stopTimeout: is not set/],
        ["a :latest image", "latest-image.json", "images-pinned-by-digest", /image ".*report-builder:latest": uses :latest/],
    ];
    for (const [what, file, policy, message] of fixtureCases) {
        it(`blocks ${what} in a stack export with ${policy}`, async () => {
            const run = await cli(["--state", fixture(file)]);
            assert.equal(run.code, 1);
            assert.ok(blockedBy(run).has(policy), `${policy} blocks; got ${[...blockedBy(run).keys()]}`);
            assert.match(run.out, message);
        });
    }

    it("blocks seed 004's runner as its guide writes it, naming DATABASE_URL", async () => {
        const run = await cli(["--state", fixture("seed-004-runner.json"), "--stack", "prod"]);
        assert.equal(run.code, 1);
        const blocked = blockedBy(run);
        assert.deepEqual(blocked.get("no-plaintext-secrets"), ["uoc-tfm-runner"]);
        assert.match(run.out, /container "runner" environment "DATABASE_URL": holds a plaintext secret/);
        for (const policy of ["images-pinned-by-digest", "ecs-container-stop-timeout", "iam-no-wildcard-resource", "ecs-service-circuit-breaker"]) {
            assert.ok(blocked.has(policy), `${policy} blocks the seed`);
        }
        assert.doesNotMatch(run.out, /TFMdb#SecureKey9/);
    });

    it("takes --policy-pack-config instead of the stack's pack config, as the CLI flag does", async () => {
        const relaxed = path.join(tmp, "all-advisory.json");
        fs.writeFileSync(relaxed, JSON.stringify({ all: "advisory" }));
        const run = await cli(["--state", fixture("missing-stop-timeout.json"), "--policy-pack-config", relaxed]);
        assert.equal(run.code, 0, "advisory violations are printed but do not block");
        assert.match(run.out, / {4}⚠️ jobfleet-guardrails@v[\d.]+/);
        assert.match(run.out, / {8}- \[advisory\] {2}ecs-container-stop-timeout {2}\(aws:ecs\/taskDefinition:TaskDefinition: report-builder\)/);
        assert.match(run.out, /Policy gate passed: 3 resources checked with .*all-advisory\.json; 0 mandatory, 1 advisory/);

        const invalid = path.join(tmp, "invalid-pack-config.json");
        fs.writeFileSync(invalid, JSON.stringify({ "ecs-container-stop-timeout": "sometimes" }));
        const bad = await cli(["--state", fixture("missing-stop-timeout.json"), "--policy-pack-config", invalid]);
        assert.equal(bad.code, 2);
        assert.match(bad.err, /policy pack config is invalid/);
        const missing = await cli(["--state", fixture("missing-stop-timeout.json"), "--policy-pack-config", path.join(tmp, "nope.json")]);
        assert.equal(missing.code, 2);
        assert.match(missing.err, /--policy-pack-config .*nope\.json: no such file/);
    });

    const malformed: Array<[string, string, RegExp]> = [
        ["text that is not JSON", "not-json.txt", /not-json\.txt: not JSON \(.*\); expected the output of `pulumi stack export`/],
        ["a Terraform state", "terraform.tfstate.json", /this is a Terraform state, not a Pulumi stack export/],
        ["an old deployment version", "wrong-version.json", /"version" is 2; expected 3/],
        ["a stack that was never deployed", "never-deployed.json", /has no "deployment\.resources"/],
        ["a resource without urn", "resource-without-urn.json", /deployment\.resources\[1\] has no urn/],
        ["a file that does not exist", "no-such-export.json", /no-such-export\.json: no such file/],
    ];
    for (const [what, file, message] of malformed) {
        it(`refuses ${what} with a clear error and exit 2`, async () => {
            const run = await cli(["--state", fixture(file)]);
            assert.equal(run.code, 2);
            assert.equal(run.out, "");
            assert.match(run.err, message);
        });
    }

    it("refuses a resource whose type contradicts its urn, and repeated urns", () => {
        const file = path.join(tmp, "inconsistent.json");
        const doc = JSON.parse(fs.readFileSync(fixture("latest-image.json"), "utf8"));
        doc.deployment.resources[2].type = "aws:s3/bucket:Bucket";
        fs.writeFileSync(file, JSON.stringify(doc));
        assert.throws(() => readStackExport(file), /deployment\.resources\[2\] has type "aws:s3\/bucket:Bucket" but its urn names "aws:ecs\/taskDefinition:TaskDefinition"/);
        doc.deployment.resources[2].type = "aws:ecs/taskDefinition:TaskDefinition";
        doc.deployment.resources.push(doc.deployment.resources[2]);
        fs.writeFileSync(file, JSON.stringify(doc));
        assert.throws(() => readStackExport(file), /deployment\.resources\[3\] repeats the urn/);
    });

    it("says when an export hides secret values the pack cannot check", async () => {
        const doc = JSON.parse(fs.readFileSync(fixture("missing-stop-timeout.json"), "utf8"));
        doc.deployment.resources[2].inputs.tags = { ApiKey: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "AAABAK1l" } };
        const file = path.join(tmp, "encrypted.json");
        fs.writeFileSync(file, JSON.stringify(doc));
        assert.equal(readStackExport(file).encryptedSecrets, 1);
        const run = await cli(["--state", file]);
        assert.match(run.out, /Note: 1 secret value\(s\) are encrypted in this export; the pack sees them as unknown\. Export with --show-secrets/);
    });

    it("exits 2 when the config refuses a stop timeout of 0, before anything is planned or checked", async () => {
        const run = await cli(["--stack", "staging", "--config-file", stackFileWith("staging", { "jobfleet:shellExecutorStopTimeoutSeconds": 0 })]);
        assert.equal(run.code, 2, run.err);
        assert.match(run.err, /jobfleet:shellExecutorStopTimeoutSeconds = "0": expected at least 2/);
        assert.equal(run.out, "");
    });

    describe("the CLI in a child process, as CI runs it", () => {
        it("exits 2 when the config itself refuses a :latest image, before anything is planned or checked", async () => {
            const image = "444455556666.dkr.ecr.us-east-1.amazonaws.com/jobfleet/runner:latest";
            const run = await runCliProcess(["--stack", "prod", "--config-file", stackFileWith("prod", { "jobfleet:submissionRunnerImage": image })]);
            assert.equal(run.code, 2, run.err);
            assert.match(run.err, /jobfleet:submissionRunnerImage = ".*:latest": expected an image reference without the moving tag :latest/);
            assert.doesNotMatch(run.out, /Policies:/);
        });

        it("exits 1 on seed 004's export, the pack started as the Pulumi CLI starts it", async () => {
            const run = await runCliProcess(["--state", fixture("seed-004-runner.json")]);
            assert.equal(run.code, 1, run.err);
            assert.ok(blockedBy(run).has("no-plaintext-secrets"));
            assert.match(run.err, /^error: policy gate blocked the change: \d+ mandatory/m);
        });
    });
});
