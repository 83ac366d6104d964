import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { S3Client } from "@aws-sdk/client-s3";
import { CapturedPlan, CapturedResource, inputsOf } from "../tooling/capture";
import { COMPONENT_ACCESS } from "../tooling/access/components";
import { accessRequestsFor } from "../tooling/access/operations";
import { AccessPlan, readAccessPlan } from "../tooling/access/plan";
import { AccessAnalysis, accessProblems, analyzeAccess, AttributedCall } from "../tooling/access/report";
import { planCleanup, runCleanup } from "../runtime/artifacts/cleanup";
import { publishArtifact } from "../runtime/artifacts/publish";
import { resolveArtifact } from "../runtime/artifacts/resolve";
import { recordRuntimeCalls, withHttpsS3rver } from "./support/accessScenarios";
import { standardPlan } from "./support/plans";
import { SdkCallRecorder } from "./support/sdkCallRecorder";

/**
 * Least privilege, proven offline: the runtime code runs against s3rver (over TLS, signatures
 * checked) and LocalRunTask, configured from each stack's plan; every AWS call it makes is
 * recorded, mapped to IAM actions and resources, and evaluated by @cloud-copilot/iam-simulate
 * against the plan's identity, resource and VPC endpoint policies, together with the calls
 * components declare for code that lives elsewhere. Grants no call uses, and probes of what
 * a role must never do, are checked too. Mutated copies of the plan show that the check fails,
 * naming the call or grant, when a grant goes missing or is added without use.
 */

const STACKS = ["staging", "prod"] as const;
type Stack = (typeof STACKS)[number];

interface Checked {
    plan: CapturedPlan;
    access: AccessPlan;
    recorded: AttributedCall[];
    analysis: AccessAnalysis;
}

function clonePlan(plan: CapturedPlan): CapturedPlan {
    return JSON.parse(JSON.stringify(plan)) as CapturedPlan;
}

function resource(plan: CapturedPlan, type: string, name: RegExp): CapturedResource {
    const found = plan.resources.filter((r) => r.type === type && name.test(r.name));
    assert.equal(found.length, 1, `expected one ${type} named ${name}, found ${found.map((r) => r.name).join(", ") || "none"}`);
    return found[0];
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown };

/** Rewrites the statements of a role policy in a copy of the plan, as a changed component would. */
function editPolicy(plan: CapturedPlan, name: RegExp, edit: (statements: Statement[]) => Statement[]): void {
    const policy = resource(plan, "aws:iam/rolePolicy:RolePolicy", name);
    const document = JSON.parse(String(policy.inputs.policy)) as { Statement: Statement[] };
    document.Statement = edit(document.Statement);
    policy.inputs.policy = JSON.stringify(document);
}

function roleId(plan: CapturedPlan, name: RegExp): string {
    return String(resource(plan, "aws:iam/role:Role", name).id);
}

async function analyze(plan: CapturedPlan, recorded?: AttributedCall[]): Promise<{ analysis: AccessAnalysis; problems: string[] }> {
    const access = readAccessPlan(plan);
    const calls = recorded ?? (await recordRuntimeCalls(access, COMPONENT_ACCESS)).calls;
    const analysis = await analyzeAccess(access, COMPONENT_ACCESS, calls);
    return { analysis, problems: accessProblems(analysis) };
}

function assertProblem(problems: string[], pattern: RegExp): void {
    assert.ok(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}; got:\n${problems.join("\n") || "(none)"}`);
}

describe("access: every runtime call simulated against the plan's IAM", function () {
    this.timeout(180_000);
    const checked = new Map<Stack, Checked>();

    before(async () => {
        for (const stack of STACKS) {
            const plan = await standardPlan(stack);
            const access = readAccessPlan(plan);
            const { calls } = await recordRuntimeCalls(access, COMPONENT_ACCESS);
            checked.set(stack, { plan, access, recorded: calls, analysis: await analyzeAccess(access, COMPONENT_ACCESS, calls) });
        }
    });

    for (const stack of STACKS) {
        it(`${stack}: every role whose trust names ecs-tasks, lambda or ec2 appears with at least one call`, () => {
            const { plan, analysis } = checked.get(stack)!;
            const runtimeRoles = plan.resources
                .filter((r) => r.type === "aws:iam/role:Role")
                .filter((r) => /"Service":\s*"(ecs-tasks|lambda|ec2)\.amazonaws\.com"/.test(String(inputsOf(r).assumeRolePolicy)))
                .map((r) => r.name)
                .sort();
            assert.ok(runtimeRoles.length >= 13, `the ${stack} plan has ${runtimeRoles.length} runtime roles`);
            assert.deepEqual(analysis.report.roles.map((r) => r.role).sort(), runtimeRoles);
            for (const role of analysis.report.roles) assert.ok(role.calls.length > 0, `${role.role} has no call`);
        });

        it(`${stack}: no call is denied, no unused grant lacks a reason, every probe is denied`, () => {
            const { analysis } = checked.get(stack)!;
            assert.deepEqual(accessProblems(analysis), []);
            const probes = analysis.report.roles.flatMap((r) => r.probes);
            assert.ok(probes.length > 100 && probes.every((p) => p.decision !== "Allowed"));
            // The TLS-only bucket and queue policies are what deny the plain-HTTP probes.
            const plainHttp = [...analysis.details.values()].flatMap((d) => d.probes).filter((p) => p.request.context["aws:SecureTransport"] === "false");
            assert.ok(plainHttp.length > 0 && plainHttp.every((p) => p.decision === "ExplicitlyDenied"), "probes without TLS are explicitly denied by resource policies");
        });
    }

    it("writes the report in the issue's shape", () => {
        const { report } = checked.get("staging")!.analysis;
        assert.equal(report.stack, "staging");
        for (const role of report.roles) {
            assert.deepEqual(Object.keys(role), ["role", "principal", "calls", "unused", "probes"]);
            assert.match(role.principal, /^(ecs-tasks|lambda|ec2)\.amazonaws\.com$/);
            for (const call of role.calls) assert.deepEqual(Object.keys(call).slice(0, 3), ["action", "resource", "decision"]);
            for (const grant of role.unused) assert.deepEqual(Object.keys(grant), ["action", "resource", "reason"]);
            for (const probe of role.probes) assert.deepEqual(Object.keys(probe), ["action", "resource", "decision"]);
        }
    });

    it("maps the recorded operations to the actions and resources IAM evaluates", async () => {
        const { plan, access, recorded } = checked.get("staging")!;
        const head = recorded.find((c) => c.operation === "HeadObject" && c.role === "preview-instance");
        assert.ok(head, "the boot-time verify sends HeadObject");
        const [headRequest] = await accessRequestsFor(head, access);
        assert.equal(headRequest.action, "s3:GetObject");
        assert.equal(headRequest.resource, `arn:aws:s3:::${head.input.Bucket}/${head.input.Key}`);

        const runTask = recorded.find((c) => c.operation === "RunTask" && c.role === "jobfleet-staging-api-role");
        assert.ok(runTask, "the API's caller sends RunTask through the ECS client");
        const requests = await accessRequestsFor(runTask, access);
        const definition = resource(plan, "aws:ecs/taskDefinition:TaskDefinition", /shell-executor$/);
        assert.deepEqual(
            requests.map((r) => [r.action, r.resource]),
            [
                ["ecs:RunTask", String(definition.outputs.arn)],
                ["iam:PassRole", inputsOf(definition).taskRoleArn],
                ["iam:PassRole", inputsOf(definition).executionRoleArn],
            ],
        );
        assert.equal(requests[0].context["ecs:cluster"], String(resource(plan, "aws:ecs/cluster:Cluster", /shell-executor$/).outputs.arn));
        assert.equal(requests[1].context["iam:PassedToService"], "ecs-tasks.amazonaws.com");

        const runnerRead = recorded.find((c) => c.role === "jobfleet-staging-shell-executor-task" && c.operation === "GetObject");
        assert.ok(runnerRead, "the runner reads its request through the presigned URL");
        assert.equal(runnerRead.presignedBy, "jobfleet-staging-job-processor-role");
        const [read] = await accessRequestsFor(runnerRead, access);
        assert.deepEqual([read.context["s3:authType"], read.context["s3:signatureAge"], read.context["aws:SecureTransport"]], ["REST-QUERY-STRING", "900000", "true"]);
        assert.ok(recorded.every((c) => c.secureTransport), "every recorded call went over TLS");
    });

    it("maps the artifact tools' listing and batch delete (publish, resolve, cleanup against s3rver)", async () => {
        const { access } = checked.get("staging")!;
        const bucket = "artifacts-mapping-test";
        const pair = { accessKeyId: "AKIAARTIFACTTOOLS", secretAccessKey: "secret-of-the-artifact-tools" };
        const recorder = new SdkCallRecorder();
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "access-artifact-")), "express-api-deployment.tar.gz");
        fs.writeFileSync(file, "artifact bytes");
        await withHttpsS3rver([bucket], [pair], async (endpoint) => {
            const client = recorder.attach(new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: pair }), "artifact-tools", "runtime/artifacts");
            for (const buildTime of ["20260101-000000", "20260102-000000"]) {
                await publishArtifact({ client, bucket, app: "express-api", environment: "pr-51", filePath: file, build: { commitSha: "47c28abd1047d024627d8b3140819c058318cf41", branch: "main", buildTime, workflowRunId: "", prNumber: "51" } });
            }
            await resolveArtifact({ client, bucket, app: "express-api", environment: "pr-51" });
            const plan = await planCleanup({ client, bucket, app: "express-api", environment: "pr-51", keep: 1, days: 0 });
            await runCleanup({ client, plan });
        });
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
        const mapped = (await Promise.all(recorder.calls.map((c) => accessRequestsFor(c, access)))).flat();
        const list = mapped.find((r) => r.action === "s3:ListBucket");
        assert.ok(list, `ListObjectsV2 maps to s3:ListBucket; got ${mapped.map((r) => r.action).join(", ")}`);
        assert.equal(list.resource, `arn:aws:s3:::${bucket}`);
        assert.equal(list.context["s3:prefix"], "express-api/pr-51/");
        assert.ok(mapped.some((r) => r.action === "s3:PutObject" && r.resource.startsWith(`arn:aws:s3:::${bucket}/express-api/pr-51/47c28abd-20260101-000000/`)));
        assert.ok(mapped.some((r) => r.action === "s3:DeleteObject" && r.resource.includes("20260101-000000")), "DeleteObjects maps to s3:DeleteObject on each key");
    });

    describe("on mutated copies of the staging plan", () => {
        it("a grant removed from a component fails naming the call it broke", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            editPolicy(copy, /-submit-jobfleet-staging-job-processor$/, (statements) =>
                statements.map((s) => (s.Sid === "StoreAndDeleteJobRequests" ? { ...s, Action: ["s3:PutObject"] } : s)).filter((s) => s.Sid !== "PassShellExecutorRoles"),
            );
            const { problems } = await analyze(copy, recorded);
            assertProblem(problems, /^jobfleet-staging-job-processor-role: s3:DeleteObject on arn:aws:s3:::jobfleet-staging-shell-executor-jobs-[0-9a-f]+\/shell-jobs\/access-jobfleet-staging-job-processor\.json \(from runtime\/shellJob\/caller\) is ImplicitlyDenied/);
            assertProblem(problems, /^jobfleet-staging-job-processor-role: iam:PassRole on arn:aws:iam::\d+:role\/jobfleet-staging-shell-executor-task-[0-9a-f]+ .* is ImplicitlyDenied/);
            assert.ok(!problems.some((p) => p.startsWith("jobfleet-staging-api-role")), "the API's own copy of the grant is untouched");
        });

        it("a presign grant removed fails at the runner's request, naming who signed it", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            editPolicy(copy, /-submit-jobfleet-staging-api$/, (statements) => statements.filter((s) => s.Sid !== "PresignJobRequestReads"));
            const { problems } = await analyze(copy, recorded);
            assertProblem(problems, /^jobfleet-staging-shell-executor-task: s3:GetObject on .*\/shell-jobs\/access-jobfleet-staging-api\.json \(from runtime\/shellJob\/runner\) is ImplicitlyDenied .*\(presigned by jobfleet-staging-api-role\)/);
        });

        it("a caller whose URLs outlive the presign condition is denied (re-recorded with a 20-minute TTL)", async () => {
            const { plan } = checked.get("staging")!;
            const copy = clonePlan(plan);
            const fn = resource(copy, "aws:lambda/function:Function", /-api$/);
            (fn.inputs.environment as { variables: Record<string, string> }).variables.SHELL_JOB_URL_TTL_SECONDS = "1200";
            const { problems } = await analyze(copy);
            assertProblem(problems, /^jobfleet-staging-api-role: s3:GetObject on .*\/shell-jobs\/.* \(from runtime\/shellJob\/caller\) is ImplicitlyDenied/);
            assertProblem(problems, /^jobfleet-staging-shell-executor-task: s3:PutObject on .*\/shell-results\/.* is ImplicitlyDenied .*presigned by jobfleet-staging-api-role/);
        });

        it("a grant added without use fails naming it as unused", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            editPolicy(copy, /^agent-runtime-packages$/, (statements) => [...statements, { Sid: "PackageTags", Effect: "Allow", Action: "s3:GetObjectTagging", Resource: "arn:aws:s3:::agent-runtime-packages-5363a9dd/packages/*" }]);
            const { problems } = await analyze(copy, recorded);
            assert.deepEqual(problems, ["agent-runtime-task: unused grant s3:GetObjectTagging on arn:aws:s3:::agent-runtime-packages-5363a9dd/packages/*: no call uses it and its component states no reason to keep it."]);
        });

        it("a kept reason covers only the grants it names: a new action beside them is unused", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            editPolicy(copy, /^sandbox-broker-api-allocations$/, (statements) => statements.map((s) => ({ ...s, Action: [...[s.Action].flat(), "dynamodb:DescribeTable"] })));
            const { problems } = await analyze(copy, recorded);
            assertProblem(problems, /^sandbox-broker-api-task: unused grant dynamodb:DescribeTable on arn:aws:dynamodb:us-east-1:\d+:table\/sandbox-broker-allocations-[0-9a-f]+: no call uses it/);
            assert.ok(problems.every((p) => p.includes("dynamodb:DescribeTable")), problems.join("\n"));
        });

        it("a kept reason whose grant is gone fails as stale, naming the reason", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            editPolicy(copy, /^submission-runner-task$/, (statements) => statements.map((s) => (s.Sid === "ConsumeSubmissionQueue" ? { ...s, Action: [s.Action].flat().filter((a) => a !== "sqs:ChangeMessageVisibility") } : s)));
            const { problems } = await analyze(copy, recorded);
            assert.equal(problems.length, 1, problems.join("\n"));
            assert.match(problems[0], /^submission-runner-task: the component keeps sqs:ChangeMessageVisibility on .*but none of these roles holds such a grant any more; remove the stale reason\.$/);
        });

        it("an attached AWS managed policy is read from its real document", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            const role = roleId(copy, /^agent-runtime-task$/);
            copy.resources.push({ ...resource(copy, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", /preview-readonly/), name: "agent-runtime-s3-readonly", inputs: { role, policyArn: "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" } });
            const { problems } = await analyze(copy, recorded);
            assertProblem(problems, /^agent-runtime-task: unused grant s3:ListBucket on \*/);
            assertProblem(problems, /^agent-runtime-task: the forbidden call s3:GetObject on arn:aws:s3:::jobfleet-prod-agent-runtime-packages-[0-9a-f]+\/.* is Allowed/);
        });

        it("a VPC endpoint policy in the plan is part of the evaluation", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            const endpoint = resource(copy, "aws:ec2/vpcEndpoint:VpcEndpoint", /-s3$/);
            const artifactsBucket = resource(copy, "aws:s3/bucket:Bucket", /^artifacts$/).outputs.arn as string;
            endpoint.inputs.policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:*", Resource: [artifactsBucket, `${artifactsBucket}/*`] }] });
            const { problems } = await analyze(copy, recorded);
            assertProblem(problems, /^jobfleet-staging-job-processor-role: s3:PutObject on .*shell-jobs.* is ImplicitlyDenied by .*VPC endpoint policy of network-s3/);
            assert.ok(!problems.some((p) => p.startsWith("preview-instance")), "the artifacts bucket stays reachable");
            assert.ok(!problems.some((p) => p.startsWith("jobfleet-staging-api-role")), "the API's function runs outside the VPC: its requests do not pass the endpoint");
            assertProblem(problems, /^jobfleet-staging-shell-executor-task: s3:GetObject on .*access-jobfleet-staging-api\.json .*VPC endpoint policy of network-s3.*presigned by jobfleet-staging-api-role/);
        });

        it("a runtime role no component declares is reported missing", async () => {
            const { plan, recorded } = checked.get("staging")!;
            const copy = clonePlan(plan);
            const template = resource(copy, "aws:iam/role:Role", /^agent-runtime-task$/);
            copy.resources.push({ ...template, urn: template.urn.replace(/::agent-runtime-task$/, "::undeclared-task"), name: "undeclared-task", id: "undeclared-task", outputs: { ...template.outputs, name: "undeclared-task", arn: "arn:aws:iam::123456789012:role/undeclared-task" }, parent: undefined });
            const { problems } = await analyze(copy, recorded);
            assert.deepEqual(problems, ["undeclared-task (ecs-tasks.amazonaws.com): no recorded or declared call; declare in its component which runtime code it runs or which calls it makes."]);
        });
    });
});
