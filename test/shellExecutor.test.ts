import * as assert from "node:assert/strict";
import { lambdaArgsProblems } from "../components/jobWorker";
import { JOB_SUBMITTER_TAG, ShellExecutorArgs, shellExecutorArgsProblems } from "../components/shellExecutor";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf, resourcesOfType } from "../tooling/capture";
import { CALLER_ENV, RUNNER_ENV } from "../runtime/shellJob/contract";
import { standardPlan } from "./support/plans";

type Stack = "staging" | "prod";
type Statement = { Sid: string; Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, string | string[]>> };

const byName = (plan: CapturedPlan, type: string, name: string): CapturedResource => {
    const found = resourcesOfType(plan, type).find((r) => r.name === name);
    assert.ok(found, `${type} ${name} exists`);
    return found;
};
const statementsOf = (policy: CapturedResource): Statement[] => JSON.parse(inputsOf(policy).policy).Statement;
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): string[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const policiesOfRole = (plan: CapturedPlan, role: CapturedResource): CapturedResource[] =>
    resourcesOfType(plan, "aws:iam/rolePolicy:RolePolicy").filter((p) => inputsOf(p).role === role.id || inputsOf(p).role === role.outputs.name);

/** The shell executor, job worker and API as the program registers them under the mock runtime (issue 4). */
describe("shell executor, job worker and API (seed 000) under mocks", () => {
    const plans: Partial<Record<Stack, CapturedPlan>> = {};
    let tuned: CapturedPlan;
    before(async () => {
        plans.staging = await standardPlan("staging");
        plans.prod = await standardPlan("prod");
        tuned = await captureProgram({ stack: "staging", configOverrides: { "jobfleet:shellJobExpirationDays": "3", "jobfleet:shellJobUrlTtlSeconds": "600", "jobfleet:shellExecutorStopTimeoutSeconds": "45" } });
    });

    function executorParts(plan: CapturedPlan) {
        const base = `jobfleet-${plan.stack}-shell-executor`;
        return {
            base,
            cluster: byName(plan, "aws:ecs/cluster:Cluster", base),
            taskDefinition: byName(plan, "aws:ecs/taskDefinition:TaskDefinition", base),
            logGroup: byName(plan, "aws:cloudwatch/logGroup:LogGroup", `${base}-logs`),
            bucket: byName(plan, "aws:s3/bucket:Bucket", `${base}-jobs`),
            securityGroup: byName(plan, "aws:ec2/securityGroup:SecurityGroup", `${base}-tasks`),
            taskRole: byName(plan, "aws:iam/role:Role", `${base}-task`),
            executionRole: byName(plan, "aws:iam/role:Role", `${base}-execution`),
        };
    }

    for (const stack of ["staging", "prod"] as const) {
        it(`${stack}: runs the digest-pinned runner on Fargate in its own cluster with Container Insights, a stop timeout and a log group with retention`, () => {
            const plan = plans[stack]!;
            const { base, cluster, taskDefinition, logGroup } = executorParts(plan);
            assert.deepEqual(inputsOf(cluster).settings, [{ name: "containerInsights", value: "enabled" }]);
            const td = inputsOf(taskDefinition);
            assert.equal(td.family, base);
            assert.deepEqual(td.requiresCompatibilities, ["FARGATE"]);
            assert.equal(td.networkMode, "awsvpc");
            assert.equal(td.cpu, String(plan.config.shellExecutorCpu));
            assert.equal(td.memory, String(plan.config.shellExecutorMemory));
            const [container] = JSON.parse(td.containerDefinitions);
            assert.equal(container.image, plan.config.shellExecutorImage);
            assert.match(container.image, /@sha256:[0-9a-f]{64}$/);
            assert.equal(container.stopTimeout, 30);
            assert.equal(container.readonlyRootFilesystem, true);
            assert.notEqual(container.user, "root");
            assert.deepEqual(container.environment, [
                { name: RUNNER_ENV.commandTimeoutSeconds, value: String(plan.config.shellCommandTimeoutSeconds) },
                { name: RUNNER_ENV.maxOutputBytes, value: String(plan.config.shellMaxOutputBytes) },
            ]);
            assert.equal(container.secrets, undefined);
            assert.equal(inputsOf(logGroup).name, `/aws/ecs/${base}`);
            assert.equal(inputsOf(logGroup).retentionInDays, plan.config.logRetentionDays);
            assert.equal(container.logConfiguration.options["awslogs-group"], `/aws/ecs/${base}`);
            assert.equal(resourcesOfType(plan, "aws:ecs/service:Service").filter((s) => s.parent === taskDefinition.parent).length, 0, "no service: callers start tasks with RunTask");
        });

        it(`${stack}: keeps the job bucket private, encrypted, TLS-only, expiring shell-jobs/ and shell-results/ after one day`, () => {
            const plan = plans[stack]!;
            const { bucket } = executorParts(plan);
            const on = (type: string) => resourcesOfType(plan, type).filter((r) => inputsOf(r).bucket === bucket.id);
            const [block] = on("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
            assert.deepEqual(
                ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].map((k) => inputsOf(block)[k]),
                [true, true, true, true],
            );
            assert.equal(inputsOf(on("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]).rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
            assert.equal(inputsOf(on("aws:s3/bucketOwnershipControls:BucketOwnershipControls")[0]).rule.objectOwnership, "BucketOwnerEnforced");
            const [deny] = JSON.parse(inputsOf(on("aws:s3/bucketPolicy:BucketPolicy")[0]).policy).Statement;
            assert.equal(deny.Effect, "Deny");
            assert.deepEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
            assert.deepEqual(deny.Resource, [bucket.outputs.arn, `${bucket.outputs.arn}/*`]);
            const rules = inputsOf(on("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0]).rules as Array<Record<string, any>>;
            assert.deepEqual(
                rules.map((r) => [r.filter.prefix, r.status, r.expiration.days]),
                [
                    ["shell-jobs/", "Enabled", 1],
                    ["shell-results/", "Enabled", 1],
                ],
            );
            assert.equal(on("aws:s3/bucketVersioning:BucketVersioning").length, 0, "no versioning: a deleted job request is really gone");
        });

        it(`${stack}: gives the task no ingress and HTTPS egress only, and callers the private subnets`, () => {
            const plan = plans[stack]!;
            const { securityGroup } = executorParts(plan);
            const sg = inputsOf(securityGroup);
            assert.equal(sg.ingress, undefined);
            assert.equal(sg.egress, undefined);
            const ruleOf = (type: string) => resourcesOfType(plan, type).filter((r) => inputsOf(r).securityGroupId === securityGroup.id).map(inputsOf);
            assert.deepEqual(ruleOf("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"), []);
            assert.deepEqual(
                ruleOf("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => [r.ipProtocol, r.fromPort, r.toPort, r.cidrIpv4]),
                [["tcp", 443, 443, "0.0.0.0/0"]],
            );
            const fn = byName(plan, "aws:lambda/function:Function", `jobfleet-${stack}-job-processor`);
            assert.deepEqual(inputsOf(fn).environment.variables[CALLER_ENV.subnets].split(","), plan.outputs.privateSubnetIds);
        });

        it(`${stack}: leaves the executor's task role without any permission (the presigned URLs carry the caller's)`, () => {
            const plan = plans[stack]!;
            const { taskRole, executionRole } = executorParts(plan);
            assert.deepEqual(policiesOfRole(plan, taskRole), [], "no inline policy on the task role");
            const attachments = resourcesOfType(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => [taskRole.id, taskRole.outputs.name].includes(inputsOf(a).role));
            assert.deepEqual(attachments, [], "no managed policy on the task role");
            assert.equal(inputsOf(taskRole).inlinePolicies, undefined);
            assert.equal(inputsOf(taskRole).managedPolicyArns, undefined);
            const executionActions = policiesOfRole(plan, executionRole).flatMap(statementsOf).flatMap(actionsOf).sort();
            assert.deepEqual(executionActions, ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents"]);
            const s3Anywhere = [taskRole, executionRole].flatMap((r) => policiesOfRole(plan, r)).flatMap(statementsOf).filter((s) => actionsOf(s).some((a) => a.startsWith("s3:")));
            assert.deepEqual(s3Anywhere, []);
        });

        for (const caller of ["job-processor", "api"] as const) {
            it(`${stack}: grants the ${caller} exactly what submitting a shell job takes, and hands it the executor's coordinates`, () => {
                const plan = plans[stack]!;
                const { base, cluster, taskDefinition, bucket, securityGroup, taskRole, executionRole } = executorParts(plan);
                const fnName = `jobfleet-${stack}-${caller}`;
                const role = byName(plan, "aws:iam/role:Role", `${fnName}-role`);
                const submit = byName(plan, "aws:iam/rolePolicy:RolePolicy", `${base}-submit-${fnName}`);
                assert.equal(inputsOf(submit).role, role.id);
                assert.equal(inputsOf(role).tags[JOB_SUBMITTER_TAG], "true", "tagged so the guardrails accept its RunTask and PassRole");
                const bucketArn = bucket.outputs.arn as string;
                const presignedOnly = { StringEquals: { "s3:authType": "REST-QUERY-STRING" }, NumericLessThanEquals: { "s3:signatureAge": "900000" } };
                assert.deepEqual(statementsOf(submit), [
                    {
                        Sid: "RunShellExecutorTask",
                        Effect: "Allow",
                        Action: "ecs:RunTask",
                        Resource: `arn:aws:ecs:us-east-1:123456789012:task-definition/${base}:*`,
                        Condition: { ArnEquals: { "ecs:cluster": cluster.outputs.arn } },
                    },
                    {
                        Sid: "PassShellExecutorRoles",
                        Effect: "Allow",
                        Action: "iam:PassRole",
                        Resource: [taskRole.outputs.arn, executionRole.outputs.arn],
                        Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
                    },
                    { Sid: "StoreAndDeleteJobRequests", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: `${bucketArn}/shell-jobs/*` },
                    { Sid: "PresignJobRequestReads", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn}/shell-jobs/*`, Condition: presignedOnly },
                    { Sid: "PresignJobResultWrites", Effect: "Allow", Action: "s3:PutObject", Resource: `${bucketArn}/shell-results/*`, Condition: presignedOnly },
                    { Sid: "ReadAndDeleteJobResults", Effect: "Allow", Action: ["s3:GetObject", "s3:DeleteObject"], Resource: `${bucketArn}/shell-results/*` },
                ]);
                // Nothing else on the role touches S3, ECS or IAM: the grant is the only way in.
                const others = policiesOfRole(plan, role).filter((p) => p !== submit).flatMap(statementsOf);
                assert.deepEqual(others.flatMap(actionsOf).filter((a) => /^(s3|ecs|iam):/.test(a)), []);
                for (const s of others.filter((s) => resourcesOf(s).includes("*"))) {
                    assert.deepEqual(actionsOf(s).sort(), ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], `only wildcard-only actions on "*" (${s.Sid})`);
                }

                const fn = byName(plan, "aws:lambda/function:Function", fnName);
                assert.deepEqual(inputsOf(fn).environment.variables, {
                    [CALLER_ENV.clusterArn]: cluster.outputs.arn,
                    [CALLER_ENV.taskDefinition]: taskDefinition.outputs.arn,
                    [CALLER_ENV.containerName]: "runner",
                    [CALLER_ENV.subnets]: (plan.outputs.privateSubnetIds as string[]).join(","),
                    [CALLER_ENV.securityGroup]: securityGroup.id,
                    [CALLER_ENV.bucket]: bucket.outputs.bucket,
                    [CALLER_ENV.urlTtlSeconds]: "900",
                });
                assert.ok(fn.dependencies.includes(submit.urn), "the function waits for its grant");
            });
        }

        it(`${stack}: runs the job processor from a pinned image in the private subnets, with timeout, memory, reserved concurrency, DLQ and log retention`, () => {
            const plan = plans[stack]!;
            const fnName = `jobfleet-${stack}-job-processor`;
            const fn = inputsOf(byName(plan, "aws:lambda/function:Function", fnName));
            assert.equal(fn.packageType, "Image");
            assert.equal(fn.imageUri, plan.config.jobWorkerImage);
            assert.equal(fn.timeout, plan.config.jobWorkerTimeoutSeconds);
            assert.equal(fn.memorySize, plan.config.jobWorkerMemoryMb);
            assert.equal(fn.reservedConcurrentExecutions, plan.config.jobWorkerReservedConcurrency);
            assert.deepEqual(fn.vpcConfig.subnetIds, plan.outputs.privateSubnetIds);
            const sg = byName(plan, "aws:ec2/securityGroup:SecurityGroup", `${fnName}-sg`);
            assert.deepEqual(fn.vpcConfig.securityGroupIds, [sg.id]);
            const egress = resourcesOfType(plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").filter((r) => inputsOf(r).securityGroupId === sg.id).map(inputsOf);
            assert.deepEqual(egress.map((r) => [r.fromPort, r.toPort]), [[443, 443]]);
            assert.equal(resourcesOfType(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => inputsOf(r).securityGroupId === sg.id).length, 0);

            const dlq = byName(plan, "aws:sqs/queue:Queue", `${fnName}-dlq`);
            assert.equal(fn.deadLetterConfig.targetArn, dlq.outputs.arn);
            assert.equal(inputsOf(dlq).sqsManagedSseEnabled, true);
            assert.ok(inputsOf(dlq).visibilityTimeoutSeconds > fn.timeout);
            const role = byName(plan, "aws:iam/role:Role", `${fnName}-role`);
            const statements = policiesOfRole(plan, role).flatMap(statementsOf);
            assert.deepEqual(statements.find((s) => s.Sid === "SendToDeadLetterQueue"), { Sid: "SendToDeadLetterQueue", Effect: "Allow", Action: "sqs:SendMessage", Resource: dlq.outputs.arn });
            const eni = statements.find((s) => s.Sid === "ManageVpcNetworkInterfaces")!;
            assert.deepEqual(resourcesOf(eni), [
                "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
                ...(plan.outputs.privateSubnetIds as string[]).map((id) => `arn:aws:ec2:us-east-1:123456789012:subnet/${id}`),
                `arn:aws:ec2:us-east-1:123456789012:security-group/${sg.id}`,
            ]);
            const logGroup = inputsOf(byName(plan, "aws:cloudwatch/logGroup:LogGroup", `${fnName}-logs`));
            assert.deepEqual([logGroup.name, logGroup.retentionInDays], [`/aws/lambda/${fnName}`, plan.config.logRetentionDays]);
        });

        it(`${stack}: serves the API Lambda through an HTTP API with access logs, CORS from config and an invoke permission scoped to the API`, () => {
            const plan = plans[stack]!;
            const fnName = `jobfleet-${stack}-api`;
            const fnResource = byName(plan, "aws:lambda/function:Function", fnName);
            const fn = inputsOf(fnResource);
            assert.equal(fn.packageType, "Image");
            assert.equal(fn.imageUri, plan.config.apiImage);
            assert.equal(fn.timeout, 29);
            const api = byName(plan, "aws:apigatewayv2/api:Api", fnName);
            assert.equal(inputsOf(api).protocolType, "HTTP");
            assert.deepEqual(inputsOf(api).corsConfiguration.allowOrigins, plan.config.apiCorsAllowedOrigins);
            const integration = inputsOf(byName(plan, "aws:apigatewayv2/integration:Integration", `${fnName}-lambda`));
            assert.deepEqual([integration.apiId, integration.integrationType, integration.integrationUri], [api.id, "AWS_PROXY", fnResource.outputs.arn]);
            const route = inputsOf(byName(plan, "aws:apigatewayv2/route:Route", `${fnName}-default`));
            assert.equal(route.routeKey, "$default");
            const stage = inputsOf(byName(plan, "aws:apigatewayv2/stage:Stage", `${fnName}-default`));
            const accessLogs = byName(plan, "aws:cloudwatch/logGroup:LogGroup", `${fnName}-access-logs`);
            assert.equal(stage.name, "$default");
            assert.equal(stage.accessLogSettings.destinationArn, accessLogs.outputs.arn);
            assert.ok(JSON.parse(stage.accessLogSettings.format).requestId);
            assert.equal(inputsOf(accessLogs).retentionInDays, plan.config.logRetentionDays);
            const permission = inputsOf(byName(plan, "aws:lambda/permission:Permission", `${fnName}-invoke`));
            assert.equal(permission.principal, "apigateway.amazonaws.com");
            assert.equal(permission.sourceArn, `${api.outputs.executionArn}/*/*`);
            assert.equal(plan.outputs.apiUrl, `https://${api.id}.execute-api.us-east-1.amazonaws.com/`);
        });
    }

    it("takes the expiry, URL lifetime and stop timeout from config", () => {
        const { bucket, taskDefinition } = executorParts(tuned);
        const lifecycle = resourcesOfType(tuned, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").find((r) => inputsOf(r).bucket === bucket.id)!;
        assert.deepEqual((inputsOf(lifecycle).rules as Array<Record<string, any>>).map((r) => r.expiration.days), [3, 3]);
        assert.equal(JSON.parse(inputsOf(taskDefinition).containerDefinitions)[0].stopTimeout, 45);
        const submit = byName(tuned, "aws:iam/rolePolicy:RolePolicy", "jobfleet-staging-shell-executor-submit-jobfleet-staging-api");
        const presign = statementsOf(submit).filter((s) => s.Sid.startsWith("Presign"));
        assert.deepEqual(presign.map((s) => s.Condition!.NumericLessThanEquals["s3:signatureAge"]), ["600000", "600000"]);
        const fn = inputsOf(byName(tuned, "aws:lambda/function:Function", "jobfleet-staging-job-processor"));
        assert.equal(fn.environment.variables[CALLER_ENV.urlTtlSeconds], "600");
    });

    describe("argument checks, before anything is created", () => {
        const good: ShellExecutorArgs = {
            vpcId: "vpc-1",
            subnetIds: ["subnet-1"],
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/shell-executor@sha256:" + "a".repeat(64),
            requireDigest: true,
            cpu: 512,
            memory: 1024,
            stopTimeoutSeconds: 30,
            commandTimeoutSeconds: 300,
            maxOutputBytes: 1048576,
            urlTtlSeconds: 900,
            jobExpirationDays: 1,
            logRetentionDays: 30,
        };

        it("accepts seed 000's settings", () => {
            assert.deepEqual(shellExecutorArgsProblems("jobfleet-prod", good), []);
        });

        it("refuses a tag where a digest is required, naming the argument, the value and what it expected", () => {
            const [problem] = shellExecutorArgsProblems("jobfleet-prod", { ...good, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/shell-executor:v42" });
            assert.equal(
                problem,
                'ShellExecutor jobfleet-prod: image is "123456789012.dkr.ecr.us-east-1.amazonaws.com/shell-executor:v42"; expected an image pinned by digest (repository@sha256:<64 hex>) because requireDigest is set (prod): every task must run exactly the reviewed runner.',
            );
            assert.deepEqual(shellExecutorArgsProblems("jobfleet-staging", { ...good, requireDigest: false, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/shell-executor:v42" }), []);
        });

        it("refuses a stop timeout beyond Fargate's, a URL outliving the lifecycle rule, a bad size and an upper-case name", () => {
            const problems = shellExecutorArgsProblems("Jobfleet", { ...good, stopTimeoutSeconds: 180, urlTtlSeconds: 172800, memory: 8192, subnetIds: [] });
            assert.equal(problems.length, 5, problems.join("\n"));
            assert.match(problems[0], /lower-case letters/);
            assert.match(problems.join("\n"), /cpu\/memory is "512\/8192"/);
            assert.match(problems.join("\n"), /stopTimeoutSeconds is 180; expected a whole number of seconds from 2 to 120/);
            assert.match(problems.join("\n"), /urlTtlSeconds is 172800; expected less than jobExpirationDays \(1 day\(s\) = 86400 s\)/);
            assert.match(problems.join("\n"), /subnetIds is \[\]/);
        });

        it("refuses an API timeout at API Gateway's 30 s limit and a non-ECR Lambda image", () => {
            const lambda = { image: "docker.io/library/node:20", requireDigest: false, memoryMb: 512, timeoutSeconds: 30, logRetentionDays: 30 };
            const problems = lambdaArgsProblems("Api", "jobfleet-staging", lambda, 29, "API Gateway HTTP APIs give up at 30 s");
            assert.equal(problems.length, 2);
            assert.match(problems[0], /image is "docker.io\/library\/node:20"; expected a private ECR image/);
            assert.match(problems[1], /timeoutSeconds is 30; expected a whole number of seconds from 1 to 29/);
        });
    });
});
