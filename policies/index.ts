import { PolicyPack } from "@pulumi/policy";
import { artifactPolicies } from "./artifacts";
import { iamPolicies } from "./iam";
import { secretPolicies } from "./secrets";
import { stopTimeoutPolicies } from "./stopTimeouts";

/**
 * jobfleet-guardrails: the CrossGuard pack that blocks unsafe jobfleet changes.
 *
 *   pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json
 *
 * Every policy is mandatory unless the stack's config file relaxes it (staging relaxes a few to
 * advisory). Constructing the pack starts its analyzer server and prints the port, which is how
 * the Pulumi CLI (and tooling/policyAnalyzer.ts, offline) talk to it.
 */
new PolicyPack("jobfleet-guardrails", {
    description: "jobfleet guardrails: least-privilege IAM, no plaintext secrets, stop timeouts, immutable artifacts.",
    displayName: "jobfleet guardrails",
    provider: "aws",
    tags: ["aws", "iam", "secrets", "ecs", "lambda", "s3", "ecr"],
    enforcementLevel: "mandatory",
    policies: [...iamPolicies, ...secretPolicies, ...stopTimeoutPolicies, ...artifactPolicies],
});
