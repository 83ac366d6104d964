import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { artifactPolicies } from "../../policies/artifacts";
import { iamPolicies } from "../../policies/iam";
import { notThisTypeReason } from "../../policies/lib/policy";
import { secretPolicies } from "../../policies/secrets";
import { stopTimeoutPolicies } from "../../policies/stopTimeouts";
import { expectViolation, res, useAnalyzer } from "./helpers";

/**
 * What the pack answers for the policies that do not apply to a resource (issue 11). The engine
 * gets one entry per policy and resource, so on a large stack these entries are most of the
 * Analyze traffic: a policy that checks one type lets the policy SDK skip every other type before
 * it deserializes the inputs for it, and the reason of one that checks many stays short.
 */
// The function the SDK's server reads a validation's type tag with (internal to its typings).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getPulumiType } = require("@pulumi/policy/policy") as { getPulumiType(validation: unknown): string | undefined };

describe("policy pack: not-applicable answers", () => {
    const analyzer = useAnalyzer();
    const resourcePolicies = [...iamPolicies, ...secretPolicies, ...stopTimeoutPolicies, ...artifactPolicies].filter((p): p is ResourceValidationPolicy => "validateResource" in p);
    const SINGLE_TYPE: Record<string, string> = {
        "ecr-immutable-tags": "aws:ecr/repository:Repository",
        "iam-trust-policy-principals": "aws:iam/role:Role",
        "iam-trust-service-source-condition": "aws:iam/role:Role",
        "ecs-container-stop-timeout": "aws:ecs/taskDefinition:TaskDefinition",
        "ecs-service-circuit-breaker": "aws:ecs/service:Service",
        "lambda-explicit-timeout": "aws:lambda/function:Function",
    };

    it("a policy that checks one resource type carries the SDK's type tag, so the SDK skips other types before deserializing", () => {
        const tagged = Object.fromEntries(resourcePolicies.flatMap((p) => (Array.isArray(p.validateResource) ? [] : [[p.name, getPulumiType(p.validateResource)]])).filter(([, type]) => type));
        assert.deepStrictEqual(tagged, SINGLE_TYPE);
    });

    it("answers a resource no policy checks with the SDK's reason for single-type policies and a short one for the others", async () => {
        const logGroup = res(aws.cloudwatch.LogGroup, "jobs", { name: "/jobfleet/jobs", retentionInDays: 30 });
        const result = await analyzer.get().analyze(logGroup);
        const reasons = new Map(result.notApplicable.map((n) => [n.policyName, n.reason]));
        for (const [policy, type] of Object.entries(SINGLE_TYPE)) assert.strictEqual(reasons.get(policy), `Policy only applies to resources of type '${type}'`, policy);
        const others = [...reasons].filter(([policy]) => !(policy in SINGLE_TYPE));
        // Every other resource policy but the one that looks at every resource (it did look at this one).
        const expected = resourcePolicies.map((p) => p.name).filter((name) => !(name in SINGLE_TYPE) && name !== "no-plaintext-secrets");
        assert.deepStrictEqual(others.map(([policy]) => policy).sort(), expected.sort());
        for (const [policy, reason] of others) {
            assert.match(reason, /^applies to /, policy);
            assert.ok(reason.length <= 160, `${policy}'s reason is ${reason.length} characters: ${reason}`);
        }
    });

    it("names up to three types, and beyond that two of them and how many more", () => {
        assert.strictEqual(notThisTypeReason(["aws:ecs/taskDefinition:TaskDefinition", "aws:lambda/function:Function"]), "applies to aws:ecs/taskDefinition:TaskDefinition, aws:lambda/function:Function");
        assert.strictEqual(notThisTypeReason(["a:b/c:C", "a:b/d:D", "a:b/e:E"]), "applies to a:b/c:C, a:b/d:D, a:b/e:E");
        assert.strictEqual(notThisTypeReason(["a:b/c:C", "a:b/d:D", "a:b/e:E", "a:b/f:F"]), "applies to 4 resource types: a:b/c:C, a:b/d:D and 2 more");
        assert.strictEqual(notThisTypeReason(["a:b/c:C", "a:b/d:D", "a:b/e:E", "a:b/f:F", "a:b/g:G"]), "applies to 5 resource types: a:b/c:C, a:b/d:D and 3 more");
    });
});

describe("policy pack: a single-type policy's exemptions", () => {
    const analyzer = useAnalyzer({ "lambda-explicit-timeout": { exemptions: [{ resource: "legacy-*", reason: "migrated off Lambda next quarter" }] } });

    it("exempts the resources its config names, and still checks the others of its type", async () => {
        const fn = (name: string) => res(aws.lambda.Function, name, { name, role: "arn:aws:iam::123456789012:role/fn", packageType: "Image", imageUri: "111122223333.dkr.ecr.us-east-1.amazonaws.com/fn@sha256:" + "ab".repeat(32) });
        const exempt = await analyzer.get().analyze(fn("legacy-report"));
        assert.deepStrictEqual(exempt.notApplicable.find((n) => n.policyName === "lambda-explicit-timeout")?.reason, "exempted by the policy pack config");
        assert.ok(!exempt.diagnostics.some((d) => d.policyName === "lambda-explicit-timeout"));
        expectViolation(await analyzer.get().analyze(fn("report")), "lambda-explicit-timeout", 'aws.lambda.Function "report"');
    });
});
