import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { CONFIG_KEYS, ConfigValidationError, FARGATE_MEMORY_BY_CPU, fargateSizeProblem, validateConfig } from "../config";
import { loadStackConfig, PROJECT_ROOT } from "../tooling/stackConfig";

function stackConfig(stack: "staging" | "prod"): Record<string, string> {
    return loadStackConfig(stack).config;
}

/** Validates a stack's config with some keys changed and returns the problems (none: []). */
function problemsWith(stack: "staging" | "prod", changes: Record<string, string | undefined>) {
    const raw = { ...stackConfig(stack) };
    for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) delete raw[key];
        else raw[key] = value;
    }
    try {
        validateConfig(raw, stack);
        return [];
    } catch (err) {
        assert.ok(err instanceof ConfigValidationError, `expected a ConfigValidationError, got ${err}`);
        return err.problems;
    }
}

function assertRejects(stack: "staging" | "prod", changes: Record<string, string | undefined>, key: string, expected: RegExp) {
    const problems = problemsWith(stack, changes);
    const problem = problems.find((p) => p.key === key);
    assert.ok(problem, `expected a problem naming ${key}; got ${JSON.stringify(problems)}`);
    assert.match(problem.expected, expected);
    return problem;
}

describe("stack config", () => {
    it("Pulumi.yaml declares every key the program reads, with the same type and default", () => {
        const project = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"));
        assert.equal(project.name, "jobfleet");
        assert.equal(project.runtime.name, "nodejs");
        assert.equal(project.runtime.options.packagemanager, "npm");
        const declared = project.config as Record<string, { type: string; default?: unknown; description?: string }>;
        assert.deepEqual(Object.keys(declared).sort(), Object.keys(CONFIG_KEYS).sort());
        for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
            assert.equal(declared[key].type, spec.kind, `type of ${key}`);
            assert.deepEqual(declared[key].default, spec.default, `default of ${key}`);
            assert.ok(declared[key].description, `${key} has a description`);
        }
    });

    it("both stack files validate, and differ where staging and prod should", () => {
        const staging = validateConfig(stackConfig("staging"), "staging");
        const prod = validateConfig(stackConfig("prod"), "prod");
        assert.equal(staging.environment, "staging");
        assert.equal(prod.environment, "prod");
        assert.equal(staging.natStrategy, "Single");
        assert.equal(prod.natStrategy, "OnePerAz");
        assert.ok(prod.logRetentionDays > staging.logRetentionDays);
        assert.ok(prod.sandboxBrokerApiDesiredCount >= 2, "seed 001: 2 API tasks in prod");
        assert.equal(staging.submissionRunnerUseSpot, true);
        assert.equal(prod.submissionRunnerUseSpot, false);
        assert.equal(prod.dbDeletionProtection, true);
        assert.equal(prod.dbMultiAz, true);
    });

    it("keeps the seeds' numbers as defaults", () => {
        const c = validateConfig(stackConfig("staging"), "staging");
        assert.equal(c.shellJobUrlTtlSeconds, 900, "seed 000: presigned URL valid 15 minutes");
        assert.equal(c.shellJobExpirationDays, 1, "seed 000: shell-jobs/ and shell-results/ expire after 1 day");
        assert.equal(c.agentRuntimeCpu, 256, "seed 002: 256 CPU");
        assert.equal(c.agentRuntimeMemory, 512, "seed 002: 512 MB");
        assert.equal(c.agentRuntimeGracefulShutdownSeconds, 30, "seed 002: GRACEFUL_SHUTDOWN_TIMEOUT_SEC=30");
        assert.equal(c.alarmMemoryHighPercent, 80, "seed 002: memory above 80 %");
        assert.equal(c.runnerPollIntervalMs, 20000, "seed 004");
        assert.equal(c.runnerTimeoutMs, 120000, "seed 004");
        assert.equal(c.runnerMaxLogBytes, 200000, "seed 004");
        assert.equal(c.runnerJdkVersion, "17", "seed 004");
        assert.equal(c.runnerBuildTool, "maven", "seed 004");
        assert.equal(c.artifactKeepCount, 5, "seed 003: keep 5");
        assert.equal(c.artifactMaxAgeDays, 7, "seed 003: 7 days");
    });

    it("no secret value lives in either stack file", () => {
        for (const stack of ["staging", "prod"] as const) {
            const source = loadStackConfig(stack);
            assert.deepEqual(source.secretKeys, [], `${stack} has no secure: values`);
            assert.deepEqual(source.environments, [`jobfleet/${stack}@stable`], `${stack} imports its ESC environment at the tag deployments/ moves`);
            const values = JSON.stringify(YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8")).config);
            assert.doesNotMatch(values, /password|passwd|secret_?key|AKIA[0-9A-Z]{16}|postgres(ql)?:\/\/[^\s:@]+:[^\s@]+@/i);
        }
    });

    it("rejects * in prod CORS origins, naming the key", () => {
        assertRejects("prod", { "jobfleet:sandboxBrokerCorsAllowedOrigins": JSON.stringify(["*"]) }, "jobfleet:sandboxBrokerCorsAllowedOrigins", /explicit origins in prod/);
        assertRejects("prod", { "jobfleet:apiCorsAllowedOrigins": JSON.stringify(["https://a.example.com", "*"]) }, "jobfleet:apiCorsAllowedOrigins", /explicit origins in prod/);
        assert.deepEqual(problemsWith("staging", { "jobfleet:sandboxBrokerCorsAllowedOrigins": JSON.stringify(["*"]) }), [], "staging may still use * (seed 001 left it for later)");
        assertRejects("staging", { "jobfleet:sandboxBrokerCorsAllowedOrigins": JSON.stringify(["https://a.example.com/path"]) }, "jobfleet:sandboxBrokerCorsAllowedOrigins", /item 0: an origin like/);
    });

    it("rejects cpu/memory combinations Fargate does not accept", () => {
        const p = assertRejects("staging", { "jobfleet:agentRuntimeMemory": "4096" }, "jobfleet:agentRuntimeMemory", /Fargate does not accept 4096 MiB with 256 cpu units; with 256 it accepts 512, 1024, 2048 MiB/);
        assert.equal(p.value, "4096");
        assertRejects("staging", { "jobfleet:submissionRunnerCpu": "768" }, "jobfleet:submissionRunnerCpu", /one of Fargate's cpu sizes/);
        assert.equal(fargateSizeProblem(4096, 30720), undefined);
        assert.match(fargateSizeProblem(4096, 30000)!, /8192 to 30720 in steps of 1024/);
        for (const [cpu, memories] of Object.entries(FARGATE_MEMORY_BY_CPU)) {
            for (const memory of memories) assert.equal(fargateSizeProblem(Number(cpu), memory), undefined, `${cpu}/${memory}`);
        }
    });

    it("requires images pinned by digest in prod, and refuses :latest everywhere", () => {
        assertRejects("prod", { "jobfleet:submissionRunnerImage": "444455556666.dkr.ecr.us-east-1.amazonaws.com/jobfleet/runner:v1.2.3" }, "jobfleet:submissionRunnerImage", /pinned by digest in prod/);
        assert.deepEqual(problemsWith("staging", { "jobfleet:submissionRunnerImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/runner:v1.2.3" }), []);
        assertRejects("staging", { "jobfleet:submissionRunnerImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/uoc-tfm/runner:latest" }, "jobfleet:submissionRunnerImage", /without the moving tag :latest/);
    });

    it("accepts only retention periods CloudWatch accepts", () => {
        assertRejects("staging", { "jobfleet:logRetentionDays": "10" }, "jobfleet:logRetentionDays", /one of the retention periods CloudWatch accepts: 1, 3, 5, 7, 14/);
        assertRejects("staging", { "jobfleet:logRetentionDays": "two weeks" }, "jobfleet:logRetentionDays", /a whole number/);
        assert.deepEqual(problemsWith("staging", { "jobfleet:logRetentionDays": "3653" }), []);
    });

    it("refuses a package prefix that would widen the agent runtime's read grant", () => {
        assertRejects("staging", { "jobfleet:agentRuntimePackagePrefix": "*/" }, "jobfleet:agentRuntimePackagePrefix", /no \* or leading \//);
        assertRejects("staging", { "jobfleet:agentRuntimePackagePrefix": "packages/*/" }, "jobfleet:agentRuntimePackagePrefix", /no \* or leading \//);
        assertRejects("staging", { "jobfleet:agentRuntimePackagePrefix": "/packages/" }, "jobfleet:agentRuntimePackagePrefix", /no \* or leading \//);
        assertRejects("staging", { "jobfleet:agentRuntimePackagePrefix": "packages" }, "jobfleet:agentRuntimePackagePrefix", /ending in \//);
        assert.deepEqual(problemsWith("staging", { "jobfleet:agentRuntimePackagePrefix": "agents/v2/" }), []);
    });

    it("holds prod to its safety settings", () => {
        assertRejects("prod", { "jobfleet:natStrategy": "Single" }, "jobfleet:natStrategy", /OnePerAz in prod/);
        assertRejects("prod", { "jobfleet:dbDeletionProtection": "false" }, "jobfleet:dbDeletionProtection", /true in prod/);
        assertRejects("prod", { "jobfleet:submissionRunnerUseSpot": "true" }, "jobfleet:submissionRunnerUseSpot", /false in prod/);
    });

    it("reports every problem at once, each naming the key, the value and what was expected", () => {
        const problems = problemsWith("prod", {
            "aws:region": "moon-base-1",
            "jobfleet:environment": "production",
            "jobfleet:logRetentionDays": "13",
            "jobfleet:shellExecutorMemory": "4096",
            "jobfleet:shellExecutorCpu": "256",
            "jobfleet:apiCorsAllowedOrigins": "[\"*\"]",
            "jobfleet:previewAssociatePublicIp": "yes",
            "jobfleet:agentRuntimeAppId": undefined,
            "jobfleet:availabilityZoneCount": "1",
            "jobfleet:shellExecutrImage": "typo",
        });
        const byKey = new Map(problems.map((p) => [p.key, p]));
        assert.match(byKey.get("aws:region")!.expected, /AWS region name/);
        assert.match(byKey.get("jobfleet:environment")!.expected, /one of staging, prod/);
        assert.equal(byKey.get("jobfleet:environment")!.value, "production");
        assert.match(byKey.get("jobfleet:logRetentionDays")!.expected, /CloudWatch accepts/);
        assert.match(byKey.get("jobfleet:shellExecutorMemory")!.expected, /Fargate does not accept 4096 MiB with 256/);
        assert.match(byKey.get("jobfleet:previewAssociatePublicIp")!.expected, /true or false/);
        assert.match(byKey.get("jobfleet:agentRuntimeAppId")!.expected, /required/);
        assert.equal(byKey.get("jobfleet:agentRuntimeAppId")!.value, undefined);
        assert.match(byKey.get("jobfleet:availabilityZoneCount")!.expected, /at least 2 availability zones/);
        assert.match(byKey.get("jobfleet:shellExecutrImage")!.expected, /not declared in Pulumi.yaml/);
        // environment is invalid, so the prod-only CORS rule cannot apply; every other problem is listed.
        assert.equal(problems.length, 8, JSON.stringify(problems, null, 2));

        const error = new ConfigValidationError(problems);
        assert.match(error.message, /jobfleet config has 8 problems/);
        assert.match(error.message, /jobfleet:logRetentionDays = "13": expected one of the retention periods/);
        assert.match(error.message, /jobfleet:agentRuntimeAppId = \(not set\): expected/);
    });

    it("reads a stack's settings the way the CLI does, and rejects unreadable files", () => {
        const source = loadStackConfig("staging");
        assert.equal(source.config["jobfleet:costCenter"], "platform", "project default applies");
        assert.equal(source.config["jobfleet:logRetentionDays"], "14", "stack value overrides the default");
        assert.equal(source.config["jobfleet:apiCorsAllowedOrigins"], JSON.stringify(["https://staging.jobfleet.example.com", "http://localhost:3000"]));
        assert.throws(() => loadStackConfig("nosuchstack"), /Pulumi\.nosuchstack\.yaml: no such file/);
    });

    it("reads an edited stack file anew, and reports invalid YAML every time, though parsed files are kept by content", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-config-"));
        try {
            fs.copyFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
            const stackFile = path.join(dir, "Pulumi.x.yaml");
            const write = (retention: string) => fs.writeFileSync(stackFile, `config:\n  jobfleet:logRetentionDays: ${retention}\n  jobfleet:tags:\n    team: "a: b"\n`);
            write("30");
            const first = loadStackConfig("x", undefined, dir);
            assert.deepEqual(loadStackConfig("x", undefined, dir), first);
            assert.equal(first.config["jobfleet:logRetentionDays"], "30");
            assert.equal(first.config["jobfleet:tags"], JSON.stringify({ team: "a: b" }));
            write("90");
            assert.equal(loadStackConfig("x", undefined, dir).config["jobfleet:logRetentionDays"], "90");
            fs.writeFileSync(stackFile, "config:\n  a: [1, 2\n");
            for (let i = 0; i < 2; i++) assert.throws(() => loadStackConfig("x", undefined, dir), /Pulumi\.x\.yaml: not valid YAML/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
