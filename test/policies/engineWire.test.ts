import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { engineProperties, SECRET_SIG, SPECIAL_SIG_KEY, UNKNOWN_VALUE } from "../../tooling/engineWire";
import { expectPass, expectViolation, goodContainer, of, res, secret, taskDefinition, UNKNOWN, useAnalyzer } from "./helpers";

/**
 * What the engine sends a pack (docs/policies.md, "What reaches a policy"), and the rules that
 * depend on it: provider Check defaults present, `__` keys absent, secrets and unknowns kept.
 */
describe("policy pack: the engine's wire form", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");

    describe("marshalling", () => {
        it("fills in the provider's Check defaults, drops top-level __ keys only, keeps secrets and unknowns", () => {
            const props = engineProperties("aws:lambda/function:Function", {
                role: "r",
                __defaults: ["timeout"],
                environment: { variables: { __KEEP: "nested keys are not internal", TOKEN: checkpoint("t0k3n") } },
                imageUri: UNKNOWN_VALUE,
            });
            assert.strictEqual(props.timeout, 3);
            assert.strictEqual(props.memorySize, 128);
            assert.strictEqual(props.packageType, "Zip");
            assert.ok(!("__defaults" in props));
            const vars = (props.environment as { variables: Record<string, unknown> }).variables;
            assert.strictEqual(vars.__KEEP, "nested keys are not internal");
            assert.deepStrictEqual(vars.TOKEN, { [SPECIAL_SIG_KEY]: SECRET_SIG, value: "t0k3n" });
            assert.strictEqual(props.imageUri, UNKNOWN_VALUE);
        });

        it("marks the inputs @pulumi/aws's constructors make secret (RDS password, SSM value, provider keys), as the engine receives them", () => {
            assert.deepStrictEqual(engineProperties("aws:rds/instance:Instance", { password: "literal" }).password, { [SPECIAL_SIG_KEY]: SECRET_SIG, value: "literal" });
            assert.deepStrictEqual(engineProperties("pulumi:providers:aws", { secretKey: "k" }).secretKey, { [SPECIAL_SIG_KEY]: SECRET_SIG, value: "k" });
            assert.strictEqual(engineProperties("aws:lambda/function:Function", { role: "r" }).role, "r");
        });

        it("an RDS password literal arrives as a secret (not reported), an SSM String parameter's value is checked although the SDK made it secret", async () => {
            expectPass(await analyzer.get().analyze(res(aws.rds.Instance, "db", { instanceClass: "db.t4g.micro", engine: "postgres", allocatedStorage: 20, username: "app", password: "Sup3rS3cretDb!" })), "no-plaintext-secrets");
            expectViolation(await analyzer.get().analyze(res(aws.ssm.Parameter, "p", { name: "/app/db-password", type: "String", value: "Sup3rS3cret!" })), "no-plaintext-secrets", 'parameter "/app/db-password"');
        });

        it("an explicit value wins over the default; ECR repositories arrive MUTABLE, queues with 30 s visibility", () => {
            assert.strictEqual(engineProperties("aws:lambda/function:Function", { timeout: 30 }).timeout, 30);
            assert.strictEqual(engineProperties("aws:ecr/repository:Repository", { name: "x" }).imageTagMutability, "MUTABLE");
            assert.strictEqual(engineProperties("aws:sqs/queue:Queue", {}).visibilityTimeoutSeconds, 30);
        });
    });

    describe("lambda-explicit-timeout reads the checked inputs", () => {
        const fn = (timeout?: number) => res(aws.lambda.Function, "fn", { role: "arn:aws:iam::123456789012:role/fn", packageType: "Image", imageUri: "x", ...(timeout === undefined ? {} : { timeout }) });

        it("blocks a function without timeout: it arrives as timeout 3, as from the CLI", async () => {
            expectViolation(await analyzer.get().analyze(fn()), "lambda-explicit-timeout", "timeout 3", "provider's default");
        });

        it("passes a chosen timeout", async () => {
            expectPass(await analyzer.get().analyze(fn(20)), "lambda-explicit-timeout");
        });
    });

    describe("secrets and unknowns as the engine sends them", () => {
        it("a value the program made a Pulumi secret is not reported as plaintext", async () => {
            const r = res(aws.lambda.Function, "with-secret", { role: "r", imageUri: "x", packageType: "Image", timeout: 10, environment: { variables: { DB_PASSWORD: secret("Hunter2-in-clear") } } });
            expectPass(await analyzer.get().analyze(r), "no-plaintext-secrets");
        });

        it("an unknown value affects only itself: known values are still checked, the unknown one is named as not checkable", async () => {
            const r = res(aws.lambda.Function, "half-known", { role: "r", imageUri: "x", packageType: "Image", timeout: 10, environment: { variables: { QUEUE_URL: UNKNOWN, DB_PASSWORD: "Hunter2-in-clear" } } });
            const result = await analyzer.get().analyze(r);
            const found = of(result, "no-plaintext-secrets");
            const mandatory = found.filter((d) => d.enforcementLevel === "mandatory");
            assert.strictEqual(mandatory.length, 1, JSON.stringify(found));
            assert.ok(mandatory[0].message.includes("environment.variables.DB_PASSWORD"));
            const advisory = found.filter((d) => d.enforcementLevel === "advisory");
            assert.strictEqual(advisory.length, 1);
            assert.ok(advisory[0].message.includes("environment.variables.QUEUE_URL"), advisory[0].message);
        });

        it("an unknown containerDefinitions does not stop the task definition's other checks", async () => {
            const td = taskDefinition("later", [goodContainer()]);
            td.inputs!.containerDefinitions = UNKNOWN;
            td.inputs!.tags = { ApiToken: "tok-7d1e0c9b8a" };
            expectViolation(await analyzer.get().analyze(td), "no-plaintext-secrets", "tags.ApiToken");
        });
    });
});

function checkpoint(value: unknown): Record<string, unknown> {
    return { [SPECIAL_SIG_KEY]: SECRET_SIG, plaintext: JSON.stringify(value) };
}
