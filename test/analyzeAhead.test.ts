import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { PolicyAnalyzer } from "../tooling/policyAnalyzer";
import { res } from "./policies/helpers";

/**
 * PolicyAnalyzer.analyzeAhead (issue 11): the compiled preview sends the pack each resource while
 * the program is still registering them, and the gate's Analyze takes such an answer. It may only
 * ever take one for the very request it would send, under the very configuration it set: these
 * tests change each of those after asking ahead and expect the pack's fresh verdict. Both ways
 * the calls can go: from the caller's thread, and from tooling/analyzeAheadWorker.js.
 */
for (const thread of [false, true]) describe(`policy gate: answers asked for ahead${thread ? ", sent from their own thread" : ""}`, function () {
    this.timeout(120_000);
    const POLICY = "lambda-explicit-timeout";
    const fn = (timeout?: number) => res(aws.lambda.Function, "api", { role: "r", packageType: "Image", imageUri: "x", ...(timeout === undefined ? {} : { timeout }) });
    const blocked = (r: { diagnostics: Array<{ policyName: string; enforcementLevel: string }> }) => r.diagnostics.filter((d) => d.policyName === POLICY).map((d) => d.enforcementLevel);
    let analyzer: PolicyAnalyzer;

    before(async () => {
        analyzer = await PolicyAnalyzer.start({ typeCheck: false });
        if (thread) analyzer.startAheadThread();
    });
    after(async () => {
        await analyzer?.close();
    });

    it("an answer asked for ahead is the pack's answer to the same request", async () => {
        await analyzer.configure({});
        const resource = fn();
        analyzer.analyzeAhead(resource, new Map([[resource.urn, resource]]));
        const taken = await analyzer.analyze(resource, [resource]);
        assert.deepStrictEqual(blocked(taken), ["mandatory"]);
        const fresh = await analyzer.analyze(resource, [resource]);
        assert.deepStrictEqual(taken, fresh);
    });

    it("is not taken once the pack is configured otherwise", async () => {
        await analyzer.configure({});
        const resource = fn();
        analyzer.analyzeAhead(resource, new Map([[resource.urn, resource]]));
        await analyzer.configure({ [POLICY]: "advisory" });
        assert.deepStrictEqual(blocked(await analyzer.analyze(resource, [resource])), ["advisory"]);
        await analyzer.configure({ [POLICY]: "disabled" });
        assert.deepStrictEqual(blocked(await analyzer.analyze(resource, [resource])), []);
    });

    it("is not taken when the stack is configured otherwise", async () => {
        await analyzer.configure({});
        await analyzer.configureStack({ stack: "staging", project: "jobfleet" });
        const resource = fn();
        analyzer.analyzeAhead(resource, new Map([[resource.urn, resource]]));
        await analyzer.configureStack({ stack: "prod", project: "jobfleet" });
        // The same verdict either way for this policy; what matters is that the pack was asked again, under prod.
        const calls: string[] = [];
        const client = (analyzer as unknown as { client: { makeUnaryRequest: (method: string, ...a: unknown[]) => unknown } }).client;
        const original = client.makeUnaryRequest;
        client.makeUnaryRequest = (method: string, ...a: unknown[]) => {
            calls.push(method.split("/").pop()!);
            return original.call(client, method, ...a);
        };
        try {
            assert.deepStrictEqual(blocked(await analyzer.analyze(resource, [resource])), ["mandatory"]);
        } finally {
            client.makeUnaryRequest = original;
        }
        assert.deepStrictEqual(calls, ["Analyze"]);
    });

    it("is not taken for a resource whose inputs changed since", async () => {
        await analyzer.configure({});
        const before = fn();
        analyzer.analyzeAhead(before, new Map([[before.urn, before]]));
        const after = fn(29);
        assert.strictEqual(after.urn, before.urn);
        assert.deepStrictEqual(blocked(await analyzer.analyze(after, [after])), []);
        const unchanged = fn();
        assert.deepStrictEqual(blocked(await analyzer.analyze(unchanged, [unchanged])), ["mandatory"]);
    });
});
