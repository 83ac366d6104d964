import assert from "node:assert/strict";
import {
    DEFAULT_PROCESSING_MARGIN_SECONDS,
    readRunLogStatements,
    runnerTaskStatements,
    SQS_MAX_VISIBILITY_TIMEOUT_SECONDS,
    submissionRunnerArgsProblems,
    SubmissionRunnerArgs,
    submissionVisibilityTimeoutSeconds,
    submitStatements,
} from "../components/submissionRunner";
import * as pulumi from "@pulumi/pulumi";
import { PolicyStatement } from "../components/iam";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf, revealSecrets, toStackExport } from "../tooling/capture";
import { PolicyAnalyzer } from "../tooling/policyAnalyzer";
import { standardPlan } from "./support/plans";

type Stack = "staging" | "prod";

const COMPONENT = "jobfleet:runner:SubmissionRunner";
const SEED_PASSWORD = "TFMdb#SecureKey9";
const DIGEST = "@sha256:" + "4e5f60718293a4b5c6d7e8f90a1b2c3d".repeat(2);

/** Every resource under the SubmissionRunner component, the building block's children included. */
function runnerResources(plan: CapturedPlan): CapturedResource[] {
    const root = plan.resources.filter((r) => r.type === COMPONENT);
    assert.equal(root.length, 1, "one SubmissionRunner in the program");
    const inside = new Set([root[0].urn]);
    for (const r of plan.resources) if (r.parent && inside.has(r.parent)) inside.add(r.urn);
    return plan.resources.filter((r) => inside.has(r.urn));
}

function only(plan: CapturedPlan, type: string, name?: string): CapturedResource {
    const found = runnerResources(plan).filter((r) => r.type === type && (name === undefined || r.name === name));
    assert.equal(found.length, 1, `exactly one ${type}${name ? ` named ${name}` : ""} under the runner (found ${found.length})`);
    return found[0];
}

function all(plan: CapturedPlan, type: string): CapturedResource[] {
    return runnerResources(plan).filter((r) => r.type === type);
}

function outputsOf(r: CapturedResource): Record<string, any> {
    return revealSecrets(r.outputs) as Record<string, any>;
}

interface Container {
    environment: { name: string; value: string }[];
    secrets: { name: string; valueFrom: string }[];
    stopTimeout: number;
    image: string;
}

function container(plan: CapturedPlan): Container {
    const definitions = JSON.parse(inputsOf(only(plan, "aws:ecs/taskDefinition:TaskDefinition")).containerDefinitions) as Container[];
    assert.equal(definitions.length, 1);
    return definitions[0];
}

function environmentOf(plan: CapturedPlan): Record<string, string> {
    return Object.fromEntries(container(plan).environment.map((e) => [e.name, e.value]));
}

interface Statement {
    Sid: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: unknown;
}

function statementsOf(policy: string): Statement[] {
    return (JSON.parse(policy) as { Statement: Statement[] }).Statement;
}

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

function resolved<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(value).apply((v) => resolve(v as T)));
}

function managedSecretArn(plan: CapturedPlan): string {
    return outputsOf(only(plan, "aws:rds/instance:Instance")).masterUserSecrets[0].secretArn;
}

function queues(plan: CapturedPlan) {
    return {
        submissions: only(plan, "aws:sqs/queue:Queue", "submission-runner-submissions"),
        deadLetter: only(plan, "aws:sqs/queue:Queue", "submission-runner-dlq"),
    };
}

describe("SubmissionRunner (seed 004) under mocks", () => {
    const plans: Partial<Record<Stack | "tuned", CapturedPlan>> = {};
    const TUNED = {
        "jobfleet:submissionRunnerMinTasks": "2",
        "jobfleet:submissionRunnerMaxTasks": "7",
        "jobfleet:submissionRunnerBacklogPerTask": "3",
        "jobfleet:submissionQueueMaxReceiveCount": "5",
        "jobfleet:runnerTimeoutMs": "600500",
        "jobfleet:runnerPollIntervalMs": "5000",
        "jobfleet:runnerMaxLogBytes": "1048576",
        "jobfleet:runnerJdkVersion": "21",
        "jobfleet:runnerBuildTool": "gradle",
        "jobfleet:submissionRunnerGracefulShutdownSeconds": "45",
        "jobfleet:runLogRetentionDays": "7",
    };
    before(async function () {
        // Three captures of the whole program; generous for a loaded 2-core machine.
        this.timeout(180_000);
        plans.staging = await standardPlan("staging");
        plans.prod = await standardPlan("prod");
        plans.tuned = await captureProgram({ stack: "staging", configOverrides: TUNED });
    });

    describe("the submission queue", () => {
        for (const stack of ["staging", "prod", "tuned"] as const) {
            it(`${stack}: keeps a message invisible longer than the runner's timeout plus its stop timeout`, () => {
                const plan = plans[stack]!;
                const timeoutSeconds = plan.config.runnerTimeoutMs / 1000;
                const stopTimeout = container(plan).stopTimeout;
                const visibility = inputsOf(queues(plan).submissions).visibilityTimeoutSeconds as number;
                assert.equal(stopTimeout, plan.config.submissionRunnerGracefulShutdownSeconds + 5);
                assert.ok(visibility > timeoutSeconds + stopTimeout, `${visibility} s must exceed ${timeoutSeconds} s + ${stopTimeout} s`);
                assert.equal(visibility, Math.ceil(timeoutSeconds) + DEFAULT_PROCESSING_MARGIN_SECONDS + stopTimeout);
                assert.ok(visibility <= SQS_MAX_VISIBILITY_TIMEOUT_SECONDS);
            });
        }

        it("uses the formula on the seed's numbers: 120 s run + 60 s margin + 35 s stop timeout = 215 s", () => {
            assert.equal(inputsOf(queues(plans.staging!).submissions).visibilityTimeoutSeconds, 215);
            // 600.5 s rounds up to 601; 45 s graceful shutdown gives a 50 s stop timeout.
            assert.equal(inputsOf(queues(plans.tuned!).submissions).visibilityTimeoutSeconds, 601 + 60 + 50);
        });

        it("sends a submission to the dead-letter queue after the configured receives, and only from this queue", () => {
            for (const [stack, expected] of [["staging", 3], ["prod", 3], ["tuned", 5]] as const) {
                const plan = plans[stack]!;
                const { submissions, deadLetter } = queues(plan);
                const redrive = JSON.parse(inputsOf(submissions).redrivePolicy);
                assert.deepEqual(redrive, { deadLetterTargetArn: outputsOf(deadLetter).arn, maxReceiveCount: expected });
                const allow = inputsOf(only(plan, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"));
                assert.equal(allow.queueUrl, outputsOf(deadLetter).url);
                assert.deepEqual(JSON.parse(allow.redriveAllowPolicy), { redrivePermission: "byQueue", sourceQueueArns: [outputsOf(submissions).arn] });
                assert.ok(inputsOf(deadLetter).messageRetentionSeconds > inputsOf(submissions).messageRetentionSeconds, "the DLQ keeps messages longer than the source queue");
            }
        });

        it("encrypts both queues, refuses plain HTTP to them and alarms when the dead-letter queue fills", () => {
            const plan = plans.prod!;
            for (const queue of Object.values(queues(plan))) {
                assert.equal(inputsOf(queue).sqsManagedSseEnabled, true, `${queue.name} is encrypted`);
                const policy = all(plan, "aws:sqs/queuePolicy:QueuePolicy").find((p) => inputsOf(p).queueUrl === outputsOf(queue).url);
                assert.ok(policy, `${queue.name} has a queue policy`);
                const [deny] = statementsOf(inputsOf(policy).policy);
                assert.deepEqual(deny, { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: outputsOf(queue).arn, Condition: { Bool: { "aws:SecureTransport": "false" } } });
            }
            const alarm = inputsOf(only(plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "submission-runner-dlq-not-empty"));
            assert.deepEqual(alarm.dimensions, { QueueName: outputsOf(queues(plan).deadLetter).name });
            assert.equal(alarm.threshold, 1);
            assert.deepEqual(alarm.alarmActions, [plan.outputs.alarmTopicArn]);
        });
    });

    describe("the database password", () => {
        for (const stack of ["staging", "prod"] as const) {
            it(`${stack}: lives only in the RDS-managed secret, injected by ARN`, () => {
                const plan = plans[stack]!;
                const db = inputsOf(only(plan, "aws:rds/instance:Instance"));
                assert.equal(db.manageMasterUserPassword, true);
                assert.equal(db.password, undefined, "no password is passed to RDS");
                assert.equal(db.passwordWo, undefined, "no write-only password either");

                const secretArn = managedSecretArn(plan);
                const { environment, secrets } = container(plan);
                assert.deepEqual(secrets, [
                    { name: "DB_PASSWORD", valueFrom: `${secretArn}:password::` },
                    { name: "DB_USERNAME", valueFrom: `${secretArn}:username::` },
                ]);
                for (const { name, value } of environment) {
                    assert.doesNotMatch(name, /PASSWORD|PASSWD|SECRET|TOKEN|DATABASE_URL/i, `environment variable ${name}`);
                    assert.doesNotMatch(value, /postgres(ql)?:\/\//i, `${name} must not carry a connection string`);
                }
                assert.deepEqual(
                    environment.filter((e) => e.name.startsWith("DB_")).map((e) => e.name),
                    ["DB_HOST", "DB_NAME", "DB_PORT", "DB_SSLMODE"],
                );
                assert.equal(environmentOf(plan).DB_HOST, outputsOf(only(plan, "aws:rds/instance:Instance")).address);
            });

            it(`${stack}: appears in no input, output or tag of any resource, and in no stack output`, () => {
                const plan = plans[stack]!;
                const everything = JSON.stringify({ resources: plan.resources.map((r) => ({ inputs: revealSecrets(r.inputs), outputs: revealSecrets(r.outputs) })), outputs: plan.outputs });
                assert.ok(!everything.includes(SEED_PASSWORD), "the seed's password is nowhere");
                assert.doesNotMatch(everything, /postgres(ql)?:\/\/[^"\s/]*:[^"\s/]*@/i, "no connection string with credentials");
                for (const key of Object.keys(plan.outputs)) assert.doesNotMatch(key, /password/i, `stack output ${key}`);
                for (const r of runnerResources(plan)) {
                    const tags = { ...(inputsOf(r).tags ?? {}) } as Record<string, string>;
                    for (const [k, v] of Object.entries(tags)) assert.doesNotMatch(`${k}=${v}`, /password|postgres(ql)?:\/\//i, `tag ${k} of ${r.name}`);
                    assert.equal(inputsOf(r).password, undefined, `${r.type} ${r.name} takes no password input`);
                }
                assert.equal(plan.outputs.submissionDatabaseSecretArn, managedSecretArn(plan), "operators get the secret's ARN, not its value");
            });
        }

        it("lets the execution role read exactly the managed secret, and nothing reads it through KMS", () => {
            const plan = plans.prod!;
            const execution = all(plan, "aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "submission-runner-execution")!;
            const statements = statementsOf(inputsOf(execution).policy);
            const secretStatements = statements.filter((s) => list(s.Action).some((a) => a.startsWith("secretsmanager:")));
            assert.deepEqual(secretStatements.map((s) => [list(s.Action), list(s.Resource)]), [[["secretsmanager:GetSecretValue"], [managedSecretArn(plan)]]]);
            assert.ok(!statements.some((s) => list(s.Action).some((a) => a.startsWith("kms:"))), "the RDS-managed secret uses the AWS managed key: no kms grant");
        });
    });

    describe("the runner's task role", () => {
        for (const stack of ["staging", "prod"] as const) {
            it(`${stack}: holds exactly SQS consume on this queue, GetObject on submissions/* and PutObject on logs/*`, () => {
                const plan = plans[stack]!;
                const taskRoleName = outputsOf(all(plan, "aws:iam/role:Role").find((r) => r.name === "submission-runner-task")!).name;
                const policies = plan.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && inputsOf(r).role === taskRoleName);
                assert.equal(policies.length, 1, "one inline policy on the task role");
                const attachments = plan.resources.filter((r) => /rolePolicyAttachment|policyAttachment/.test(r.type) && JSON.stringify(inputsOf(r)).includes(taskRoleName));
                assert.deepEqual(attachments, [], "no managed policy attached to the task role");

                const queueArn = outputsOf(queues(plan).submissions).arn;
                const bucketArn = outputsOf(only(plan, "aws:s3/bucket:Bucket")).arn;
                const granted = statementsOf(inputsOf(policies[0]).policy).flatMap((s) => {
                    assert.equal(s.Effect, "Allow");
                    assert.equal(s.Condition, undefined);
                    return list(s.Action).flatMap((a) => list(s.Resource).map((r) => `${a} ${r}`));
                });
                assert.deepEqual(granted.sort(), [
                    `s3:GetObject ${bucketArn}/submissions/*`,
                    `s3:PutObject ${bucketArn}/logs/*`,
                    `sqs:ChangeMessageVisibility ${queueArn}`,
                    `sqs:DeleteMessage ${queueArn}`,
                    `sqs:GetQueueAttributes ${queueArn}`,
                    `sqs:ReceiveMessage ${queueArn}`,
                ]);
                const task = inputsOf(only(plan, "aws:ecs/taskDefinition:TaskDefinition"));
                assert.equal(task.taskRoleArn, outputsOf(all(plan, "aws:iam/role:Role").find((r) => r.name === "submission-runner-task")!).arn);
            });
        }

        it("tells the runner where it may read and write", () => {
            const env = environmentOf(plans.staging!);
            assert.equal(env.AWS_S3_SUBMISSIONS_PREFIX, "submissions/");
            assert.equal(env.AWS_S3_LOGS_PREFIX, "logs/");
            assert.equal(env.AWS_S3_BUCKET, outputsOf(only(plans.staging!, "aws:s3/bucket:Bucket")).bucket);
            assert.equal(env.AWS_SQS_QUEUE_URL, outputsOf(queues(plans.staging!).submissions).url);
        });

        it("grants producers and log readers their own narrow statements", async () => {
            const queueArn = "arn:aws:sqs:us-east-1:123456789012:submissions";
            const bucketArn = "arn:aws:s3:::submissions-bucket";
            const grants = async (statements: PolicyStatement[]) =>
                (await Promise.all(statements.map((s) => resolved(s.Resource).then((r) => list(s.Action).flatMap((a) => list(r as string | string[]).map((x) => `${a} ${x}`)))))).flat().sort();
            assert.deepEqual(await grants(submitStatements(queueArn, bucketArn)), [`s3:PutObject ${bucketArn}/submissions/*`, `sqs:GetQueueUrl ${queueArn}`, `sqs:SendMessage ${queueArn}`]);
            assert.deepEqual(await grants(readRunLogStatements(bucketArn)), [`s3:GetObject ${bucketArn}/logs/*`]);
            assert.deepEqual(await grants(runnerTaskStatements(queueArn, bucketArn)), [
                `s3:GetObject ${bucketArn}/submissions/*`,
                `s3:PutObject ${bucketArn}/logs/*`,
                `sqs:ChangeMessageVisibility ${queueArn}`,
                `sqs:DeleteMessage ${queueArn}`,
                `sqs:GetQueueAttributes ${queueArn}`,
                `sqs:ReceiveMessage ${queueArn}`,
            ]);
        });
    });

    describe("capacity and scaling", () => {
        it("runs staging on Fargate Spot and prod on on-demand Fargate, through capacity provider strategies", () => {
            for (const [stack, provider] of [["staging", "FARGATE_SPOT"], ["prod", "FARGATE"]] as const) {
                const plan = plans[stack]!;
                const service = inputsOf(only(plan, "aws:ecs/service:Service"));
                assert.deepEqual(service.capacityProviderStrategies, [{ capacityProvider: provider, weight: 1 }], stack);
                assert.equal(service.launchType, undefined, "a capacity provider strategy replaces launchType");
                assert.equal(service.networkConfiguration.assignPublicIp, false);
                assert.deepEqual(service.networkConfiguration.subnets, plan.outputs.privateSubnetIds);
                assert.deepEqual(service.deploymentCircuitBreaker, { enable: true, rollback: true });

                const cluster = only(plan, "aws:ecs/cluster:Cluster");
                assert.deepEqual(inputsOf(cluster).settings, [{ name: "containerInsights", value: "enabled" }]);
                assert.equal(service.cluster, outputsOf(cluster).arn);
                const providers = only(plan, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders");
                assert.deepEqual(inputsOf(providers).capacityProviders, ["FARGATE", "FARGATE_SPOT"]);
                assert.deepEqual(inputsOf(providers).defaultCapacityProviderStrategies, [{ capacityProvider: provider, weight: 1 }]);
                const serviceResource = only(plan, "aws:ecs/service:Service");
                assert.ok(serviceResource.dependencies.includes(providers.urn), "the service waits for the cluster's capacity providers");
            }
        });

        for (const [stack, min, max, target] of [["staging", 0, 2, 5], ["prod", 1, 10, 5], ["tuned", 2, 7, 3]] as const) {
            it(`${stack}: scales between ${min} and ${max} tasks on ${target} outstanding submissions per task`, () => {
                const plan = plans[stack]!;
                const scalable = inputsOf(only(plan, "aws:appautoscaling/target:Target"));
                assert.equal(scalable.minCapacity, min);
                assert.equal(scalable.maxCapacity, max);
                assert.equal(scalable.scalableDimension, "ecs:service:DesiredCount");
                assert.equal(scalable.resourceId, `service/${plan.outputs.submissionRunnerClusterName}/${plan.outputs.submissionRunnerServiceName}`);

                const service = only(plan, "aws:ecs/service:Service");
                assert.equal(inputsOf(service).desiredCount, min);
                assert.ok(service.options.ignoreChanges.includes("desiredCount"), "a stack update leaves the scaled task count alone");

                const policies = all(plan, "aws:appautoscaling/policy:Policy").map(inputsOf);
                const tracking = policies.find((p) => p.policyType === "TargetTrackingScaling")!;
                const config = tracking.targetTrackingScalingPolicyConfiguration;
                assert.equal(config.targetValue, target);
                const metrics = config.customizedMetricSpecification.metrics as Array<Record<string, any>>;
                const byId = Object.fromEntries(metrics.map((m) => [m.id, m]));
                assert.equal(byId.waiting.metricStat.metric.metricName, "ApproximateNumberOfMessagesVisible");
                assert.equal(byId.inflight.metricStat.metric.metricName, "ApproximateNumberOfMessagesNotVisible");
                assert.deepEqual(byId.waiting.metricStat.metric.dimensions, [{ name: "QueueName", value: outputsOf(queues(plan).submissions).name }]);
                assert.equal(byId.running.metricStat.metric.metricName, "RunningTaskCount");
                assert.equal(byId.running.metricStat.metric.namespace, "ECS/ContainerInsights");
                assert.deepEqual(metrics.filter((m) => m.returnData).map((m) => m.expression), ["(waiting + inflight) / IF(running > 0, running, 1)"]);

                const wake = policies.filter((p) => p.policyType === "StepScaling");
                assert.equal(wake.length, min === 0 ? 1 : 0, "a wake-from-zero step policy exactly when the service may scale to zero");
            });
        }

        it("wakes a service scaled to zero when submissions wait", () => {
            const plan = plans.staging!;
            const policy = only(plan, "aws:appautoscaling/policy:Policy", "submission-runner-wake-from-zero");
            const alarm = inputsOf(only(plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "submission-runner-wake-from-zero"));
            assert.deepEqual(alarm.alarmActions, [outputsOf(policy).arn]);
            const queries = alarm.metricQueries as Array<Record<string, any>>;
            assert.deepEqual(queries.filter((q) => q.returnData).map((q) => q.expression), ["IF(waiting > 0 AND FILL(running, 0) == 0, 1, 0)"]);
            assert.deepEqual(queries.filter((q) => !q.returnData).map((q) => [q.id, q.returnData]), [["waiting", false], ["running", false]]);
            assert.deepEqual(inputsOf(policy).stepScalingPolicyConfiguration.stepAdjustments, [{ metricIntervalLowerBound: "0", scalingAdjustment: 1 }]);
        });
    });

    describe("the container", () => {
        it("gets every seed variable from stack config, with seed 004's defaults", () => {
            const seedDefaults = { RUNNER_POLL_INTERVAL_MS: "20000", RUNNER_TIMEOUT_MS: "120000", RUNNER_MAX_LOG_BYTES: "200000", JDK_VERSION: "17", BUILD_TOOL: "maven" };
            for (const stack of ["staging", "prod"] as const) {
                const env = environmentOf(plans[stack]!);
                for (const [name, value] of Object.entries(seedDefaults)) assert.equal(env[name], value, `${stack} ${name}`);
                assert.equal(env.AWS_REGION, "us-east-1");
                assert.equal(env.DB_PORT, "5432");
                assert.equal(env.DB_NAME, "submissions");
                assert.equal(env.GRACEFUL_SHUTDOWN_TIMEOUT_SEC, "30");
            }
            const tuned = environmentOf(plans.tuned!);
            assert.deepEqual(
                [tuned.RUNNER_POLL_INTERVAL_MS, tuned.RUNNER_TIMEOUT_MS, tuned.RUNNER_MAX_LOG_BYTES, tuned.JDK_VERSION, tuned.BUILD_TOOL, tuned.GRACEFUL_SHUTDOWN_TIMEOUT_SEC],
                ["5000", "600500", "1048576", "21", "gradle", "45"],
            );
        });

        it("runs the digest-pinned image from the stack's immutable, scanned repository", () => {
            for (const stack of ["staging", "prod"] as const) {
                const plan = plans[stack]!;
                assert.equal(container(plan).image, plan.config.submissionRunnerImage);
                assert.match(container(plan).image, /\/jobfleet\/runner@sha256:[0-9a-f]{64}$/);
                const repository = only(plan, "aws:ecr/repository:Repository");
                const repo = inputsOf(repository);
                assert.equal(repo.name, "jobfleet/runner");
                assert.equal(repo.imageTagMutability, "IMMUTABLE");
                assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush: true });
                assert.equal(plan.outputs.submissionRunnerRepositoryArn, outputsOf(repository).arn);
                const lifecycle = JSON.parse(inputsOf(only(plan, "aws:ecr/lifecyclePolicy:LifecyclePolicy")).policy);
                assert.equal(lifecycle.rules[0].selection.tagStatus, "untagged");
            }
        });
    });

    describe("the bucket", () => {
        it("is private, encrypted, TLS-only and expires run logs after the configured days", () => {
            for (const [stack, days] of [["staging", 30], ["prod", 180], ["tuned", 7]] as const) {
                const plan = plans[stack]!;
                const bucket = outputsOf(only(plan, "aws:s3/bucket:Bucket"));
                const block = inputsOf(only(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"));
                assert.deepEqual([block.blockPublicAcls, block.blockPublicPolicy, block.ignorePublicAcls, block.restrictPublicBuckets], [true, true, true, true]);
                const sse = inputsOf(only(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"));
                assert.equal(sse.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
                const [deny] = statementsOf(inputsOf(only(plan, "aws:s3/bucketPolicy:BucketPolicy")).policy) as Array<Statement & { Principal: string }>;
                assert.deepEqual(deny, { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*", Resource: [bucket.arn, `${bucket.arn}/*`], Condition: { Bool: { "aws:SecureTransport": "false" } } });
                const rules = inputsOf(only(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")).rules as Array<Record<string, any>>;
                const logs = rules.find((r) => r.filter?.prefix === "logs/");
                assert.deepEqual(logs?.expiration, { days }, `${stack} expires logs/ after ${days} days`);
                assert.ok(!rules.some((r) => r.expiration && r.filter?.prefix !== "logs/"), "nothing but logs/ expires");
            }
        });
    });

    describe("the database", () => {
        it("is encrypted, private, in the isolated subnets, and protected with a final snapshot in prod only", () => {
            for (const stack of ["staging", "prod"] as const) {
                const plan = plans[stack]!;
                const db = inputsOf(only(plan, "aws:rds/instance:Instance"));
                assert.equal(db.engine, "postgres");
                assert.equal(db.storageEncrypted, true);
                assert.equal(db.publiclyAccessible, false);
                assert.equal(db.multiAz, plan.config.dbMultiAz);
                assert.equal(db.backupRetentionPeriod, plan.config.dbBackupRetentionDays);
                assert.equal(db.instanceClass, plan.config.dbInstanceClass);
                const subnetGroup = only(plan, "aws:rds/subnetGroup:SubnetGroup");
                assert.deepEqual(inputsOf(subnetGroup).subnetIds, plan.outputs.isolatedSubnetIds);
                assert.equal(db.dbSubnetGroupName, outputsOf(subnetGroup).name);
                if (stack === "prod") {
                    assert.equal(db.deletionProtection, true);
                    assert.equal(db.skipFinalSnapshot, false);
                    assert.equal(db.finalSnapshotIdentifier, "submission-runner-db-final");
                } else {
                    assert.equal(db.deletionProtection, false);
                    assert.equal(db.skipFinalSnapshot, true);
                    assert.equal(db.finalSnapshotIdentifier, undefined);
                }
            }
        });

        it("admits PostgreSQL only from the runner tasks' security group", () => {
            const plan = plans.prod!;
            const dbGroup = only(plan, "aws:ec2/securityGroup:SecurityGroup", "submission-runner-db");
            const runnerGroup = only(plan, "aws:ec2/securityGroup:SecurityGroup", "submission-runner");
            assert.deepEqual(inputsOf(only(plan, "aws:rds/instance:Instance")).vpcSecurityGroupIds, [dbGroup.id]);
            assert.equal(inputsOf(dbGroup).ingress, undefined, "no inline rules");
            const ingress = plan.resources.filter((r) => r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" && inputsOf(r).securityGroupId === dbGroup.id).map(inputsOf);
            assert.equal(ingress.length, 1);
            assert.deepEqual(
                { from: ingress[0].referencedSecurityGroupId, protocol: ingress[0].ipProtocol, ports: [ingress[0].fromPort, ingress[0].toPort], cidr: ingress[0].cidrIpv4 },
                { from: runnerGroup.id, protocol: "tcp", ports: [5432, 5432], cidr: undefined },
            );
            const egress = plan.resources.filter((r) => r.type === "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule" && inputsOf(r).securityGroupId === runnerGroup.id).map(inputsOf);
            assert.deepEqual(
                egress.map((e) => `${e.ipProtocol}/${e.fromPort} ${e.referencedSecurityGroupId ?? e.cidrIpv4}`).sort(),
                [`tcp/443 0.0.0.0/0`, `tcp/5432 ${dbGroup.id}`],
                "the runner reaches HTTPS and its database, nothing else",
            );
        });
    });

    it("passes every rule of the policy pack in both stacks (its own resources and the building block's)", async function () {
        this.timeout(120_000);
        const analyzer = await PolicyAnalyzer.start({ typeCheck: false });
        try {
            for (const stack of ["staging", "prod"] as const) {
                const plan = plans[stack]!;
                const mine = new Set(runnerResources(plan).map((r) => r.urn));
                const evaluation = await analyzer.evaluate(toStackExport(plan).deployment.resources, { config: `policies/config/${stack}.json`, stack: { stack, project: "jobfleet" } });
                const violations = evaluation.policyPacks.flatMap((p) => p.violations).filter((v) => v.urn === undefined || mine.has(v.urn));
                assert.deepEqual(violations.map((v) => `${v.policyName} ${v.urn}: ${v.message}`), [], `${stack}: the pack flags the runner`);
            }
        } finally {
            await analyzer.close();
        }
    });

    it("refuses a prod image from another repository before creating the runner", async () => {
        await assert.rejects(
            captureProgram({ stack: "prod", configOverrides: { "jobfleet:submissionRunnerImage": `444455556666.dkr.ecr.us-east-1.amazonaws.com/jobfleet/other${DIGEST}` } }),
            /SubmissionRunner submission-runner: image is ".*jobfleet\/other@sha256:[0-9a-f]{64}"; expected an image from this stack's runner repository jobfleet\/runner/,
        );
    });
});

describe("SubmissionRunner arguments", () => {
    const valid = (): SubmissionRunnerArgs => ({
        vpcId: "vpc-1",
        privateSubnetIds: ["subnet-a"],
        isolatedSubnetIds: ["subnet-b"],
        image: `111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/runner${DIGEST}`,
        requireDigest: true,
        repositoryName: "jobfleet/runner",
        cpu: 1024,
        memory: 2048,
        gracefulShutdownSeconds: 30,
        runner: { pollIntervalMs: 20000, timeoutMs: 120000, maxLogBytes: 200000, jdkVersion: "17", buildTool: "maven" },
        maxReceiveCount: 3,
        scaling: { minTasks: 1, maxTasks: 4, backlogPerTask: 5 },
        useSpot: false,
        runLogRetentionDays: 90,
        logRetentionDays: 30,
        database: { instanceClass: "db.t4g.micro", allocatedStorageGb: 20, engineVersion: "16", name: "submissions", username: "runner", multiAz: true, backupRetentionDays: 7, deletionProtection: true, finalSnapshot: true },
        alarms: { topicArn: "arn:aws:sns:us-east-1:111122223333:alarms", cpuHighPercent: 80, memoryHighPercent: 80, evaluationMinutes: 5 },
    });
    const problems = (change: (a: SubmissionRunnerArgs) => void, margin = DEFAULT_PROCESSING_MARGIN_SECONDS) => {
        const args = valid();
        change(args);
        return submissionRunnerArgsProblems("runner", args, margin);
    };

    it("accepts the seed's numbers", () => {
        assert.deepEqual(problems(() => undefined), []);
    });

    it("computes the visibility timeout as ceil(timeout) + margin + stop timeout", () => {
        assert.equal(submissionVisibilityTimeoutSeconds(120000, 60, 35), 215);
        assert.equal(submissionVisibilityTimeoutSeconds(120001, 60, 35), 216);
    });

    const cases: Array<[string, (a: SubmissionRunnerArgs) => void, RegExp]> = [
        ["a timeout whose visibility would pass 12 hours", (a) => (a.runner.timeoutMs = 43_150_000), /runner\.timeoutMs is 43150000; expected a timeout whose visibility timeout \(ceil\(43150000 \/ 1000\) \+ 60 s margin \+ 35 s stop timeout = 43245 s\) stays within SQS's 43200 s/],
        ["more minimum than maximum tasks", (a) => (a.scaling = { minTasks: 5, maxTasks: 2, backlogPerTask: 5 }), /scaling\.minTasks is 5; expected at most scaling\.maxTasks \(2\)/],
        ["a zero backlog target", (a) => (a.scaling.backlogPerTask = 0), /scaling\.backlogPerTask is 0; expected a whole number of submissions per task, at least 1/],
        ["Spot in prod", (a) => (a.useSpot = true), /useSpot is true; expected false in prod/],
        ["a prod image from another repository", (a) => (a.image = a.image.replace("jobfleet/runner", "someone/else")), /image is ".*someone\/else@sha256:.*"; expected an image from this stack's runner repository jobfleet\/runner/],
        ["a bad repository name", (a) => (a.repositoryName = "Jobfleet/Runner"), /repositoryName is "Jobfleet\/Runner"; expected an ECR repository name/],
        ["a receive count SQS refuses", (a) => (a.maxReceiveCount = 0), /maxReceiveCount is 0; expected a whole number from 1 to 1000/],
        ["a reserved database user", (a) => (a.database.username = "postgres"), /database\.username is "postgres"; expected .* other than postgres, rdsadmin or admin/],
        ["deletion protection without a final snapshot", (a) => (a.database.finalSnapshot = false), /database\.finalSnapshot is false; expected true whenever deletionProtection is on/],
        ["too little storage", (a) => (a.database.allocatedStorageGb = 10), /database\.allocatedStorageGb is 10; expected a whole number of GiB from 20/],
        ["an unknown build tool", (a) => ((a.runner as { buildTool: string }).buildTool = "ant"), /runner\.buildTool is "ant"; expected maven or gradle/],
        ["a log retention CloudWatch refuses", (a) => (a.logRetentionDays = 10), /logRetentionDays is 10; expected one of the retention periods CloudWatch accepts/],
    ];
    for (const [what, change, message] of cases) {
        it(`rejects ${what}, naming the argument and the value`, () => {
            const found = problems(change);
            assert.equal(found.length, 1, found.join("\n"));
            assert.match(found[0], message);
        });
    }

    it("reports every problem at once", () => {
        const found = problems((a) => {
            a.useSpot = true;
            a.maxReceiveCount = 0;
            a.database.backupRetentionDays = 0;
        });
        assert.equal(found.length, 3);
    });
});
