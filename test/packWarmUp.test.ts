import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as aws from "@pulumi/aws";
import { checkpointSecret } from "../tooling/engineWire";
import { PolicyAnalyzer, StackResource } from "../tooling/policyAnalyzer";
import { artifactPolicies } from "../policies/artifacts";
import { iamPolicies } from "../policies/iam";
import { secretPolicies } from "../policies/secrets";
import { stopTimeoutPolicies } from "../policies/stopTimeouts";
import { readWarmUpRequests, warmUp, WARM_UP_FORMAT } from "../policies/lib/warmUp";
import { res } from "./policies/helpers";

/**
 * What the compiled gate does so that the pack is warm and configured when the program registers
 * its first resource (issue 11): the pack runs the requests the last gate saved through the SDK's
 * own Analyze handler, and the capture configures the pack ahead, from the Analyze thread, with the
 * info the same compiled pack answered before. Neither may change a verdict: these tests make the
 * saved requests and the kept info disagree with the real run and expect the pack's fresh answer.
 */
describe("policy gate: the pack warmed up and configured ahead", function () {
    this.timeout(120_000);
    const POLICY = "lambda-explicit-timeout";
    const fn = (name: string, timeout?: number) => res(aws.lambda.Function, name, { role: "r", packageType: "Image", imageUri: "x", ...(timeout === undefined ? {} : { timeout }) });
    const levels = (r: { diagnostics: Array<{ policyName: string; enforcementLevel: string }> }) => r.diagnostics.filter((d) => d.policyName === POLICY).map((d) => d.enforcementLevel);
    const policies = [...iamPolicies, ...artifactPolicies, ...secretPolicies, ...stopTimeoutPolicies];
    let dir: string;

    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "pack-warm-up-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Saved requests for these resources, as the gate saves them after a run. */
    async function savedRequests(resources: StackResource[]): Promise<string> {
        const analyzer = await PolicyAnalyzer.start({ typeCheck: false });
        try {
            const file = path.join(dir, "warm-up.json");
            analyzer.saveWarmUp(resources, file);
            return file;
        } finally {
            await analyzer.close();
        }
    }

    it("saves one request per resource type, and runs each through the SDK's Analyze handler; a file of another format runs nothing", async () => {
        const file = await savedRequests([fn("a"), fn("b", 30), res(aws.sqs.Queue, "q", {})]);
        const requests = readWarmUpRequests(file);
        assert.strictEqual(requests.length, 2);
        assert.strictEqual(await warmUp(requests, { name: "jobfleet-guardrails", enforcementLevel: "mandatory", policies }), 2);
        // A request that does not decode is skipped, the others still run.
        assert.strictEqual(await warmUp([Buffer.from("not a request"), ...requests], { name: "jobfleet-guardrails", enforcementLevel: "mandatory", policies }), 2);
        fs.writeFileSync(file, JSON.stringify({ format: `${WARM_UP_FORMAT}-other`, analyze: [] }));
        assert.deepStrictEqual(readWarmUpRequests(file), []);
        assert.deepStrictEqual(readWarmUpRequests(path.join(dir, "missing.json")), []);
    });

    it("writes no secret value to the warm-up file: neither a secret of the plan nor an input the SDK makes secret", async () => {
        const db = res(aws.rds.Instance, "db", { instanceClass: "db.t4g.micro", engine: "postgres", password: "plain-text-db-password" } as never);
        const withSecret: StackResource = { ...fn("api"), inputs: { ...fn("api").inputs, environment: { variables: { TOKEN: checkpointSecret("marked-secret-value") } } } };
        const file = await savedRequests([db, withSecret]);
        const written = readWarmUpRequests(file).map((b) => Buffer.from(b).toString("latin1")).join("\n") + fs.readFileSync(file, "utf8");
        assert.ok(!written.includes("plain-text-db-password") && !written.includes("marked-secret-value"), "a secret value reached the file");
        assert.ok(written.includes("[secret]"));
    });

    it("gives the same verdicts after warming up on requests that break the rule differently", async () => {
        const saved = await savedRequests([fn("api"), fn("worker", 30)]);
        const warm = await PolicyAnalyzer.start({ typeCheck: false, env: { JOBFLEET_PACK_WARM_UP: "1", JOBFLEET_PACK_WARM_UP_REQUESTS: saved } });
        const cold = await PolicyAnalyzer.start({ typeCheck: false });
        try {
            await new Promise((resolve) => setTimeout(resolve, 1500));
            const stack = [fn("api"), fn("worker", 30), fn("other", 901)];
            for (const analyzer of [warm, cold]) await analyzer.configure({ [POLICY]: "advisory" });
            for (const r of stack) assert.deepStrictEqual(await warm.analyze(r, stack), await cold.analyze(r, stack), r.urn);
            assert.deepStrictEqual(levels(await warm.analyze(stack[0], stack)), ["advisory"]);
        } finally {
            await Promise.all([warm.close(), cold.close()]);
        }
    });

    it("configures ahead from the Analyze thread: the answers asked for after it are taken, and Configure is not sent twice", async () => {
        const analyzer = await PolicyAnalyzer.start({ typeCheck: false, keptInfoFile: path.join(dir, "info.json") });
        try {
            analyzer.startAheadThread();
            await analyzer.getAnalyzerInfo();
            assert.strictEqual(analyzer.configureAhead({ [POLICY]: "advisory" }, { stack: "prod", project: "jobfleet" }), true);
            const resource = fn("api");
            analyzer.analyzeAhead(resource, new Map([[resource.urn, resource]]));
            // What the CLI's own channel sends: Analyze as bytes (makeUnaryRequest), Configure and ConfigureStack by the generated methods.
            const sent: string[] = [];
            type Spied = Record<"makeUnaryRequest" | "configure" | "configureStack", (...a: unknown[]) => unknown>;
            const client = (analyzer as unknown as { client: Spied }).client;
            const originals = { makeUnaryRequest: client.makeUnaryRequest, configure: client.configure, configureStack: client.configureStack };
            client.makeUnaryRequest = (...a: unknown[]) => {
                sent.push(String(a[0]).split("/").pop()!);
                return originals.makeUnaryRequest.apply(client, a);
            };
            for (const m of ["configure", "configureStack"] as const) {
                client[m] = (...a: unknown[]) => {
                    sent.push(m === "configure" ? "Configure" : "ConfigureStack");
                    return originals[m].apply(client, a);
                };
            }
            try {
                await analyzer.configure({ [POLICY]: "advisory" });
                await analyzer.configureStack({ stack: "prod", project: "jobfleet" });
                assert.deepStrictEqual(levels(await analyzer.analyze(resource, [resource])), ["advisory"]);
                await analyzer.configure({});
                assert.deepStrictEqual(levels(await analyzer.analyze(resource, [resource])), ["mandatory"]);
            } finally {
                Object.assign(client, originals);
            }
            // Nothing until the configuration changes: then Configure, and Analyze asked anew.
            assert.deepStrictEqual(sent, ["Configure", "Analyze"]);
        } finally {
            await analyzer.close();
        }
    });

    it("drops what it configured and analyzed ahead on a kept info the pack no longer answers", async () => {
        const keptInfoFile = path.join(dir, "info.json");
        const first = await PolicyAnalyzer.start({ typeCheck: false, keptInfoFile });
        const info = await first.getAnalyzerInfo();
        await first.close();
        // As if the pack had changed since: the kept info says the policy is advisory by default.
        const kept = JSON.parse(fs.readFileSync(keptInfoFile, "utf8")) as typeof info;
        assert.deepStrictEqual(kept, JSON.parse(JSON.stringify(info)));
        kept.policies = kept.policies.map((p) => (p.name === POLICY ? { ...p, enforcementLevel: "advisory" } : p));
        fs.writeFileSync(keptInfoFile, JSON.stringify(kept));

        const analyzer = await PolicyAnalyzer.start({ typeCheck: false, keptInfoFile });
        try {
            analyzer.startAheadThread();
            assert.strictEqual(analyzer.configureAhead({}, { stack: "prod", project: "jobfleet" }), true);
            const resource = fn("api");
            analyzer.analyzeAhead(resource, new Map([[resource.urn, resource]]));
            await analyzer.getAnalyzerInfo();
            await analyzer.configure({});
            await analyzer.configureStack({ stack: "prod", project: "jobfleet" });
            assert.deepStrictEqual(levels(await analyzer.analyze(resource, [resource])), ["mandatory"]);
            // The pack's real answer is kept for the next run.
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(keptInfoFile, "utf8")), JSON.parse(JSON.stringify(info)));
        } finally {
            await analyzer.close();
        }
    });
});
