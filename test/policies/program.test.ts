import * as assert from "assert";
import { toStackExport } from "../../tooling/capture";
import { formatEvaluation, PolicyEvaluation, resourcesFromStackExport, StackResource } from "../../tooling/policyAnalyzer";
import { standardPlan } from "../support/plans";
import { useAnalyzer } from "./helpers";

/**
 * The whole jobfleet program, captured under mocks for each stack and handed to the pack as a
 * stack export, has no mandatory violation under that stack's --policy-pack-config.
 */
describe("policy pack: the jobfleet program passes its own guardrails", function () {
    this.timeout(120_000);
    const shared = useAnalyzer("policies/config/prod.json");
    const plans: Record<string, StackResource[]> = {};

    before(async function () {
        this.timeout(120_000);
        for (const stack of ["staging", "prod"] as const) {
            plans[stack] = resourcesFromStackExport(toStackExport(await standardPlan(stack)), `${stack} plan`);
        }
    });
    const evaluate = (stack: string, resources: StackResource[]): Promise<PolicyEvaluation> =>
        shared.get().evaluate(resources, { config: `policies/config/${stack}.json`, stack: { stack, project: "jobfleet" } });

    for (const stack of ["staging", "prod"]) {
        it(`${stack}: zero mandatory violations`, async () => {
            const resources = plans[stack];
            const types = new Set(resources.map((r) => r.type));
            for (const t of ["aws:ecs/taskDefinition:TaskDefinition", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:s3/bucket:Bucket", "aws:sqs/queue:Queue"]) {
                assert.ok(types.has(t), `the ${stack} plan has a ${t} for the pack to check`);
            }
            const evaluation = await evaluate(stack, resources);
            assert.strictEqual(evaluation.mandatoryCount, 0, `${stack} has mandatory violations:\n${formatEvaluation(evaluation)}`);
            assert.ok(evaluation.passed);
        });
    }

    it("control: a task definition of the prod plan passes, and the same one with seed 004's plaintext DATABASE_URL is blocked", async () => {
        const analyzer = shared.get();
        await analyzer.configure("policies/config/prod.json");
        const original = plans.prod.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition")!;
        assert.deepStrictEqual((await analyzer.analyze(original, plans.prod)).diagnostics, []);
        const td: StackResource = JSON.parse(JSON.stringify(original));
        const containers = JSON.parse(td.inputs!.containerDefinitions as string) as { name: string; environment?: { name: string; value: string }[] }[];
        containers[0].environment = [...(containers[0].environment ?? []), { name: "DATABASE_URL", value: "postgresql://postgres:TFMdb#SecureKey9@tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com:5432/tfmdb" }];
        td.inputs!.containerDefinitions = JSON.stringify(containers);
        const blocked = (await analyzer.analyze(td, plans.prod)).diagnostics;
        assert.deepStrictEqual(blocked.map((d) => [d.policyName, d.enforcementLevel]), [["no-plaintext-secrets", "mandatory"]]);
        assert.ok(blocked[0].message.includes(`container "${containers[0].name}" environment "DATABASE_URL"`), blocked[0].message);
    });
});
