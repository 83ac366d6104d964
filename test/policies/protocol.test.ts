import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as aws from "@pulumi/aws";
import { AnalyzerInfo, PolicyAnalyzer, PolicyPackConfigError, PolicyPackStartError, reconcileConfig, resourcesFromStackExport } from "../../tooling/policyAnalyzer";
import { expectViolation, goodContainer, of, res, taskDefinition } from "./helpers";

const PACK_DIR = path.resolve(__dirname, "../../policies");

const RESOURCE_POLICIES = [
    "iam-no-wildcard-resource",
    "iam-no-wildcard-actions",
    "iam-no-not-action-allow",
    "iam-passrole-scoped",
    "iam-no-admin-managed-policies",
    "iam-no-static-credentials",
    "iam-trust-policy-principals",
    "iam-trust-service-source-condition",
    "iam-resource-policy-principals",
    "no-plaintext-secrets",
    "ecs-container-stop-timeout",
    "ecs-service-circuit-breaker",
    "lambda-explicit-timeout",
    "images-pinned-by-digest",
    "ecr-immutable-tags",
];
const STACK_POLICIES = ["ecr-scan-on-push", "iam-runtime-no-control-plane", "iam-execution-role-scope", "sqs-visibility-exceeds-job-timeout", "s3-block-public-access", "s3-enforce-tls", "s3-encryption"];
const STAGING_ADVISORY = ["ecr-scan-on-push", "iam-trust-service-source-condition", "lambda-explicit-timeout"];

describe("policy pack: the analyzer protocol", function () {
    let analyzer: PolicyAnalyzer;
    let info: AnalyzerInfo;

    before(async function () {
        this.timeout(60_000);
        // Exactly as `pulumi preview --policy-pack policies` starts it: run-policy-pack, type-checking with ts-node.
        analyzer = await PolicyAnalyzer.start({ packDir: PACK_DIR, typeCheck: true });
        info = await analyzer.getAnalyzerInfo();
    });
    after(async () => {
        await analyzer?.close();
    });

    describe("GetAnalyzerInfo", () => {
        it("names the pack and its version from policies/package.json", () => {
            const pkg = JSON.parse(fs.readFileSync(path.join(PACK_DIR, "package.json"), "utf8")) as { name: string; version: string };
            assert.strictEqual(info.name, "jobfleet-guardrails");
            assert.strictEqual(pkg.name, "jobfleet-guardrails");
            assert.strictEqual(info.version, pkg.version);
            assert.ok(info.supportsConfig);
        });

        it("lists every policy, resource and stack kinds as declared", () => {
            assert.deepStrictEqual(info.policies.map((p) => p.name).sort(), [...RESOURCE_POLICIES, ...STACK_POLICIES].sort());
            for (const p of info.policies) assert.strictEqual(p.type, STACK_POLICIES.includes(p.name) ? "stack" : "resource", p.name);
        });

        it("gives every policy a description, a severity, remediation steps and mandatory as its default level", () => {
            for (const p of info.policies) {
                assert.ok(p.description.length > 40, `${p.name} description`);
                assert.ok(p.severity && ["low", "medium", "high", "critical"].includes(p.severity), `${p.name} severity`);
                assert.ok((p.remediationSteps ?? "").length > 60, `${p.name} remediation steps`);
                assert.strictEqual(p.enforcementLevel, "mandatory", `${p.name} level`);
                assert.ok(p.configSchema?.properties.exemptions, `${p.name} accepts exemptions`);
            }
        });
    });

    describe("Configure", () => {
        it("prod.json: every policy mandatory, with the control-plane list the config names", () => {
            const prod = reconcileConfig(info, JSON.parse(fs.readFileSync(path.join(PACK_DIR, "config/prod.json"), "utf8")));
            for (const [name, c] of Object.entries(prod)) assert.strictEqual(c.enforcementLevel, "mandatory", name);
            assert.ok((prod["iam-runtime-no-control-plane"].properties.forbiddenActions as string[]).includes("servicediscovery:*"));
            assert.strictEqual(prod["images-pinned-by-digest"].properties.requireDigest, true);
        });

        it("staging.json relaxes exactly three policies to advisory and allows image tags", () => {
            const staging = reconcileConfig(info, JSON.parse(fs.readFileSync(path.join(PACK_DIR, "config/staging.json"), "utf8")));
            const advisory = Object.entries(staging).filter(([, c]) => c.enforcementLevel === "advisory").map(([n]) => n).sort();
            assert.deepStrictEqual(advisory, STAGING_ADVISORY);
            assert.strictEqual(staging["images-pinned-by-digest"].properties.requireDigest, false);
        });

        it("sends the levels: the same violation is advisory under staging, mandatory under prod, absent when disabled", async () => {
            const fn = res(aws.lambda.Function, "api", { role: "r", packageType: "Image", imageUri: "x" });
            await analyzer.configure(path.join(PACK_DIR, "config/staging.json"));
            assert.strictEqual(expectViolation(await analyzer.analyze(fn), "lambda-explicit-timeout")[0].enforcementLevel, "advisory");
            await analyzer.configure(path.join(PACK_DIR, "config/prod.json"));
            const [v] = expectViolation(await analyzer.analyze(fn), "lambda-explicit-timeout");
            assert.strictEqual(v.enforcementLevel, "mandatory");
            assert.strictEqual(v.severity, "medium");
            assert.strictEqual(v.policyPackName, "jobfleet-guardrails");
            await analyzer.configure({ all: "mandatory", "lambda-explicit-timeout": "disabled" });
            assert.deepStrictEqual(of(await analyzer.analyze(fn), "lambda-explicit-timeout"), []);
        });

        it("honours reviewed exemptions for the named resources only", async () => {
            await analyzer.configure({ "images-pinned-by-digest": { exemptions: [{ resource: "legacy-*", reason: "third-party image mirrored without digests until Q3" }] } });
            const latest = [goodContainer({ image: "nginx:latest" })];
            assert.deepStrictEqual(of(await analyzer.analyze(taskDefinition("legacy-proxy", latest)), "images-pinned-by-digest"), []);
            expectViolation(await analyzer.analyze(taskDefinition("proxy", latest)), "images-pinned-by-digest", "nginx:latest");
        });

        it("rejects unknown policies, bad levels and properties of the wrong type, naming each", () => {
            assert.throws(
                () => reconcileConfig(info, { "iam-no-wildcard-actons": "advisory", "s3-encryption": "sometimes" as never, "images-pinned-by-digest": { requireDigest: "yes" } }),
                (err: unknown) =>
                    err instanceof PolicyPackConfigError &&
                    err.problems.some((p) => p.startsWith("iam-no-wildcard-actons: the pack jobfleet-guardrails has no policy of that name")) &&
                    err.problems.some((p) => p.startsWith('s3-encryption: "sometimes" is not an enforcement level')) &&
                    err.problems.some((p) => p === "images-pinned-by-digest.requireDigest: expected boolean, got string"),
            );
            assert.throws(() => reconcileConfig(info, { "no-plaintext-secrets": { exemptions: [{ resource: "x" }] } }), /no-plaintext-secrets\.exemptions\[0\]: reason is required/);
        });
    });

    describe("values as the engine sends them", () => {
        it("a secret whose ciphertext is not available reaches policies as unknown: reported as advisory, not passed", async () => {
            await analyzer.configure({});
            const td = taskDefinition("encrypted", [goodContainer()]);
            td.inputs!.containerDefinitions = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "AAABAKjz..." };
            const r = await analyzer.analyze(td);
            const unknown = r.diagnostics.filter((d) => d.message.includes("can't run policy"));
            assert.ok(unknown.length > 0 && unknown.every((d) => d.enforcementLevel === "advisory"), JSON.stringify(r.diagnostics));
        });

        it("reads stack exports and refuses other files with a clear message", () => {
            assert.throws(() => resourcesFromStackExport({ version: 2, deployment: { resources: [] } }, "old.json"), /old\.json is not a Pulumi stack export: expected "version": 3, found 2/);
            assert.throws(() => resourcesFromStackExport({ version: 3, deployment: { resources: [{ type: "aws:s3/bucket:Bucket" }] } }), /resources\[0\] has no urn/);
            assert.throws(() => resourcesFromStackExport([1, 2]), /expected "version": 3/);
        });
    });

    describe("process lifecycle", () => {
        it("reports a pack that fails to start with its stderr", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "broken-pack-"));
            try {
                fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\n");
                fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "broken", version: "0.0.1", main: "index.js" }));
                fs.writeFileSync(path.join(dir, "index.js"), 'throw new Error("boom: the pack cannot load its rules");\n');
                await assert.rejects(PolicyAnalyzer.start({ packDir: dir, typeCheck: false }), (err: unknown) => err instanceof PolicyPackStartError && /exited \(code 1\)/.test(err.message) && /boom: the pack cannot load its rules/.test(err.message));
                await assert.rejects(PolicyAnalyzer.start({ packDir: os.tmpdir(), typeCheck: false }), /has no PulumiPolicy\.yaml/);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("stops the pack's process on close (last: it closes this file's analyzer)", async () => {
            const pid = analyzer.pid!;
            assert.doesNotThrow(() => process.kill(pid, 0));
            await analyzer.close();
            assert.throws(() => process.kill(pid, 0), /ESRCH/);
        });
    });
});
