import { PolicyPack } from "@pulumi/policy";
import { artifactPolicies } from "./artifacts";
import { iamPolicies } from "./iam";
import { prepareManagedPolicies } from "./lib/managedPolicies";
import { detectSecrets } from "./lib/secretDetectors";
import { secretPolicies } from "./secrets";
import { stopTimeoutPolicies } from "./stopTimeouts";
import { readWarmUpRequests, warmUp } from "./lib/warmUp";

/**
 * jobfleet-guardrails: the CrossGuard pack that blocks unsafe jobfleet changes.
 *
 *   pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json
 *
 * Every policy is mandatory unless the stack's config file relaxes it (staging relaxes a few to
 * advisory). Constructing the pack starts its analyzer server and prints the port, which is how
 * the Pulumi CLI (and tooling/policyAnalyzer.ts, offline) talk to it.
 */
const PACK_NAME = "jobfleet-guardrails";
const policies = [...iamPolicies, ...secretPolicies, ...stopTimeoutPolicies, ...artifactPolicies];

new PolicyPack(PACK_NAME, {
    description: "jobfleet guardrails: least-privilege IAM, no plaintext secrets, stop timeouts, immutable artifacts.",
    displayName: "jobfleet guardrails",
    provider: "aws",
    tags: ["aws", "iam", "secrets", "ecs", "lambda", "s3", "ecr"],
    enforcementLevel: "mandatory",
    policies,
});

// The offline gate (tooling/build.ts) starts the pack a second before its first request and sets
// this: the pack uses that time to do what its first requests would otherwise wait for (index the
// managed policies' data file, load and compile secretlint's rules, and run the gate's saved
// requests once, lib/warmUp.ts). Verdicts do not change: all of it only compiles code and fills
// caches that are keyed by content.
if (process.env.JOBFLEET_PACK_WARM_UP === "1") {
    setTimeout(() => {
        prepareManagedPolicies();
        setImmediate(async () => {
            await detectSecrets([{ value: "jobfleet-guardrails warm-up", byValue: true }]).catch(() => undefined);
            const saved = process.env.JOBFLEET_PACK_WARM_UP_REQUESTS;
            if (saved) await warmUp(readWarmUpRequests(saved), { name: PACK_NAME, enforcementLevel: "mandatory", policies }).catch(() => undefined);
        });
    }, 50);
}
