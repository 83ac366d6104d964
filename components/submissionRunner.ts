import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLOUDWATCH_RETENTION_DAYS, isDigestPinned } from "../config";
import { FargateService, FargateServiceAlarms, FargateServiceArgs, fargateServiceArgsProblems, FARGATE_MAX_STOP_TIMEOUT_SECONDS, stopTimeoutFor } from "./fargateService";
import { parseEcrImage } from "./ecrImage";
import { grant, objectArn, PolicyStatement } from "./iam";
import { ABORT_INCOMPLETE_UPLOADS_RULE, PrivateBucket } from "./privateBucket";
import type { ComponentAccess } from "./access";
import { loadRunnerConfig } from "../runtime/runnerConfig";

/** SQS refuses a visibility timeout above 12 hours. */
export const SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** Time a runner spends around the test run itself: download and unpack the ZIP, upload run.log, write the result row. */
export const DEFAULT_PROCESSING_MARGIN_SECONDS = 60;
export const SUBMISSIONS_PREFIX = "submissions/";
export const RUN_LOGS_PREFIX = "logs/";
export const POSTGRES_PORT = 5432;
/** Where the runner unpacks and builds submissions: under /tmp, the writable scratch of its read-only container. */
export const RUNNER_WORK_DIR = "/tmp/runner";
/** Messages land in the dead-letter queue with their original enqueue time, so it keeps them for SQS's maximum. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;
const SUBMISSION_RETENTION_SECONDS = 4 * 24 * 3600;

/**
 * The visibility timeout that keeps a submission away from every other runner while one works on it:
 * the whole test run (RUNNER_TIMEOUT_MS, rounded up), plus the work around it (download, upload,
 * result row), plus the container's stop timeout, during which a runner that got SIGTERM may still
 * finish and delete the message before ECS kills it.
 */
export function submissionVisibilityTimeoutSeconds(runnerTimeoutMs: number, processingMarginSeconds: number, stopTimeoutSeconds: number): number {
    return Math.ceil(runnerTimeoutMs / 1000) + processingMarginSeconds + stopTimeoutSeconds;
}

export interface RunnerSettings {
    /** RUNNER_POLL_INTERVAL_MS (seed 004: 20000). */
    pollIntervalMs: number;
    /** RUNNER_TIMEOUT_MS, the test execution timeout (seed 004: 120000). */
    timeoutMs: number;
    /** RUNNER_MAX_LOG_BYTES (seed 004: 200000). */
    maxLogBytes: number;
    /** JDK_VERSION (seed 004: 17). */
    jdkVersion: string;
    /** BUILD_TOOL (seed 004: maven). */
    buildTool: "maven" | "gradle";
}

export interface SubmissionDatabaseSettings {
    instanceClass: string;
    allocatedStorageGb: number;
    /** PostgreSQL major (16) or major.minor (16.4) version. */
    engineVersion: string;
    name: string;
    /** Master user name; RDS generates the password and keeps it in Secrets Manager. */
    username: string;
    multiAz: boolean;
    backupRetentionDays: number;
    deletionProtection: boolean;
    /** Take a final snapshot when the instance is deleted (prod). */
    finalSnapshot: boolean;
}

export interface SubmissionScaling {
    minTasks: number;
    maxTasks: number;
    /** Outstanding submissions (waiting plus in flight) per running task that target tracking holds. */
    backlogPerTask: number;
}

export interface SubmissionRunnerArgs {
    vpcId: pulumi.Input<string>;
    /** Private subnets with NAT egress, for the runner tasks. */
    privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** Isolated subnets (no route out), for the database. */
    isolatedSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The runner image; in prod `<this stack's repository>@sha256:<64 hex>`. */
    image: string;
    /** config.isProd: refuse an image that is not pinned by digest. */
    requireDigest: boolean;
    /** Name of the ECR repository this component creates, e.g. jobfleet/runner; a digest-pinned image must come from it. */
    repositoryName: string;
    cpu: number;
    memory: number;
    /** Seconds the runner has after SIGTERM to finish its submission or release it back to the queue. */
    gracefulShutdownSeconds: number;
    runner: RunnerSettings;
    /** Seconds added to the test timeout for the work around it; default 60. */
    processingMarginSeconds?: number;
    /** Receives before a submission moves to the dead-letter queue. */
    maxReceiveCount: number;
    scaling: SubmissionScaling;
    /** Fargate Spot (staging) instead of on-demand Fargate (prod). */
    useSpot: boolean;
    /** Days `logs/<submissionId>/run.log` objects are kept. */
    runLogRetentionDays: number;
    /** CloudWatch Logs retention of the container log group. */
    logRetentionDays: number;
    database: SubmissionDatabaseSettings;
    alarms: FargateServiceAlarms;
    tags?: Record<string, string>;
}

/** The plain values the service's wiring resolves to; placeholders stand in for them while the arguments are checked. */
interface RunnerWiring {
    clusterArn: pulumi.Input<string>;
    clusterName: pulumi.Input<string>;
    region: pulumi.Input<string>;
    bucketName: pulumi.Input<string>;
    queueUrl: pulumi.Input<string>;
    databaseHost: pulumi.Input<string>;
    databasePort: pulumi.Input<string>;
    databaseSecretArn: pulumi.Input<string>;
}

const PLACEHOLDER_WIRING: RunnerWiring = {
    clusterArn: "arn:aws:ecs:us-east-1:000000000000:cluster/placeholder",
    clusterName: "placeholder",
    region: "us-east-1",
    bucketName: "placeholder",
    queueUrl: "https://sqs.us-east-1.amazonaws.com/000000000000/placeholder",
    databaseHost: "placeholder.rds.amazonaws.com",
    databasePort: String(POSTGRES_PORT),
    databaseSecretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:placeholder-AbCdEf",
};

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/** The repository path of an ECR image reference (`<registry>/<path>[:tag][@digest]`), or undefined. */
/**
 * Seed 004's submission runner, rebuilt without its plaintext secrets, wide roles or moving tags:
 * an SQS queue (with a dead-letter queue) of submissions, an S3 bucket for the submitted ZIPs and
 * `logs/<submissionId>/run.log`, a PostgreSQL database whose password RDS keeps in Secrets Manager,
 * an ECR repository with immutable tags, and a Fargate service on its own cluster that scales on
 * the backlog per task, on Spot in staging and on-demand in prod.
 */
export class SubmissionRunner extends pulumi.ComponentResource {
    public readonly repository: aws.ecr.Repository;
    public readonly bucket: aws.s3.Bucket;
    public readonly queue: aws.sqs.Queue;
    public readonly deadLetterQueue: aws.sqs.Queue;
    public readonly database: aws.rds.Instance;
    public readonly databaseSecurityGroup: aws.ec2.SecurityGroup;
    public readonly cluster: aws.ecs.Cluster;
    public readonly service: FargateService;
    public readonly scalingTarget: aws.appautoscaling.Target;
    public readonly deadLetterAlarm: aws.cloudwatch.MetricAlarm;
    /** The queue's visibility timeout: see `submissionVisibilityTimeoutSeconds`. */
    public readonly visibilityTimeoutSeconds: number;
    public readonly repositoryArn: pulumi.Output<string>;
    public readonly repositoryUrl: pulumi.Output<string>;
    /** ARN of the RDS-managed secret holding `username` and `password` (the ARN, never the value). */
    public readonly databaseSecretArn: pulumi.Output<string>;

    constructor(name: string, args: SubmissionRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:runner:SubmissionRunner", name, {}, opts);
        const margin = args.processingMarginSeconds ?? DEFAULT_PROCESSING_MARGIN_SECONDS;
        const serviceArgs = (wiring: RunnerWiring): FargateServiceArgs => ({
            clusterArn: wiring.clusterArn,
            clusterName: wiring.clusterName,
            vpcId: args.vpcId,
            subnetIds: args.privateSubnetIds,
            image: args.image,
            requireDigest: args.requireDigest,
            cpu: args.cpu,
            memory: args.memory,
            containerName: "runner",
            environment: {
                AWS_REGION: wiring.region,
                AWS_S3_BUCKET: wiring.bucketName,
                AWS_S3_SUBMISSIONS_PREFIX: SUBMISSIONS_PREFIX,
                AWS_S3_LOGS_PREFIX: RUN_LOGS_PREFIX,
                AWS_SQS_QUEUE_URL: wiring.queueUrl,
                DB_HOST: wiring.databaseHost,
                DB_PORT: wiring.databasePort,
                DB_NAME: args.database.name,
                // Encrypted and verified against the RDS CA, which the image trusts (see docs/submission-runner.md).
                DB_SSLMODE: "verify-full",
                RUNNER_POLL_INTERVAL_MS: String(args.runner.pollIntervalMs),
                RUNNER_TIMEOUT_MS: String(args.runner.timeoutMs),
                RUNNER_MAX_LOG_BYTES: String(args.runner.maxLogBytes),
                JDK_VERSION: args.runner.jdkVersion,
                BUILD_TOOL: args.runner.buildTool,
                GRACEFUL_SHUTDOWN_TIMEOUT_SEC: String(args.gracefulShutdownSeconds),
                RUNNER_WORK_DIR,
                // Maven (~/.m2) and Gradle (~/.gradle) keep their caches under HOME; the root filesystem is read-only.
                HOME: "/tmp",
            },
            secrets: {
                DB_USERNAME: pulumi.interpolate`${wiring.databaseSecretArn}:username::`,
                DB_PASSWORD: pulumi.interpolate`${wiring.databaseSecretArn}:password::`,
            },
            gracefulShutdownSeconds: args.gracefulShutdownSeconds,
            readonlyRootFilesystem: true,
            logGroupName: `/ecs/${name}`,
            logRetentionDays: args.logRetentionDays,
            desiredCount: args.scaling.minTasks,
            desiredCountManagedExternally: true,
            capacityProviderStrategies: [{ capacityProvider: args.useSpot ? "FARGATE_SPOT" : "FARGATE", weight: 1 }],
            alarms: args.alarms,
            tags: args.tags,
        });

        // The component's own checks first (they guard the fields serviceArgs reads), then the building block's, on the same arguments it will get.
        const ownProblems = submissionRunnerArgsProblems(name, args, margin);
        if (ownProblems.length > 0) throw new Error(ownProblems.join("\n"));
        const serviceProblems = fargateServiceArgsProblems(name, serviceArgs(PLACEHOLDER_WIRING));
        if (serviceProblems.length > 0) throw new Error(serviceProblems.join("\n"));

        const tags = args.tags ?? {};
        const stopTimeoutSeconds = stopTimeoutFor(args.gracefulShutdownSeconds);
        this.visibilityTimeoutSeconds = submissionVisibilityTimeoutSeconds(args.runner.timeoutMs, margin, stopTimeoutSeconds);
        const region = aws.getRegionOutput({}, { parent: this }).region;

        // Image repository: tags can never be moved, every push is scanned.
        this.repository = new aws.ecr.Repository(
            name,
            {
                name: args.repositoryName,
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "AES256" }],
                forceDelete: false,
                tags,
            },
            { parent: this },
        );
        new aws.ecr.LifecyclePolicy(
            name,
            {
                repository: this.repository.name,
                policy: JSON.stringify({
                    rules: [
                        { rulePriority: 1, description: "Expire untagged images (failed or superseded pushes) after 14 days", selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 14 }, action: { type: "expire" } },
                        { rulePriority: 2, description: "Keep the 200 most recent images", selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 200 }, action: { type: "expire" } },
                    ],
                }),
            },
            { parent: this },
        );
        this.repositoryArn = this.repository.arn;
        this.repositoryUrl = this.repository.repositoryUrl;

        // Submissions and run logs: private, encrypted, TLS only, old logs expire.
        this.bucket = new PrivateBucket(
            name,
            {
                lifecycleRules: [{ id: "expire-run-logs", status: "Enabled", filter: { prefix: RUN_LOGS_PREFIX }, expiration: { days: args.runLogRetentionDays } }, ABORT_INCOMPLETE_UPLOADS_RULE],
                forceDestroy: false,
                tags,
                childNames: "bucket-name",
                movedFrom: this,
            },
            { parent: this },
        ).bucket;

        // Submission queue and its dead-letter queue, both encrypted with SQS-managed keys.
        this.deadLetterQueue = new aws.sqs.Queue(
            `${name}-dlq`,
            { sqsManagedSseEnabled: true, messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS, tags },
            { parent: this },
        );
        this.queue = new aws.sqs.Queue(
            `${name}-submissions`,
            {
                sqsManagedSseEnabled: true,
                visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
                // Long polling: a receive waits up to 20 s for a message instead of returning empty at once.
                receiveWaitTimeSeconds: 20,
                messageRetentionSeconds: SUBMISSION_RETENTION_SECONDS,
                redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: args.maxReceiveCount }),
                tags,
            },
            { parent: this },
        );
        // Only the submission queue may move messages into the dead-letter queue.
        new aws.sqs.RedriveAllowPolicy(
            `${name}-dlq`,
            { queueUrl: this.deadLetterQueue.url, redriveAllowPolicy: pulumi.jsonStringify({ redrivePermission: "byQueue", sourceQueueArns: [this.queue.arn] }) },
            { parent: this },
        );
        for (const [suffix, queue] of [["submissions", this.queue], ["dlq", this.deadLetterQueue]] as const) {
            new aws.sqs.QueuePolicy(
                `${name}-${suffix}`,
                {
                    queueUrl: queue.url,
                    policy: pulumi.jsonStringify({
                        Version: "2012-10-17",
                        Statement: [{ Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: queue.arn, Condition: { Bool: { "aws:SecureTransport": "false" } } }],
                    }),
                },
                { parent: this },
            );
        }

        // PostgreSQL in the isolated subnets; RDS generates the master password and keeps it in Secrets Manager.
        this.databaseSecurityGroup = new aws.ec2.SecurityGroup(
            `${name}-db`,
            { vpcId: args.vpcId, description: `PostgreSQL of ${name}: port ${POSTGRES_PORT} from the runner tasks only`, revokeRulesOnDelete: true, tags: { ...tags, Name: `${name}-db` } },
            { parent: this },
        );
        const subnetGroup = new aws.rds.SubnetGroup(`${name}-db`, { subnetIds: args.isolatedSubnetIds, description: `Isolated subnets of ${name}'s database`, tags }, { parent: this });
        const db = args.database;
        this.database = new aws.rds.Instance(
            `${name}-db`,
            {
                engine: "postgres",
                engineVersion: db.engineVersion,
                instanceClass: db.instanceClass,
                allocatedStorage: db.allocatedStorageGb,
                storageType: "gp3",
                storageEncrypted: true,
                dbName: db.name,
                username: db.username,
                manageMasterUserPassword: true,
                port: POSTGRES_PORT,
                dbSubnetGroupName: subnetGroup.name,
                vpcSecurityGroupIds: [this.databaseSecurityGroup.id],
                publiclyAccessible: false,
                multiAz: db.multiAz,
                backupRetentionPeriod: db.backupRetentionDays,
                copyTagsToSnapshot: true,
                deletionProtection: db.deletionProtection,
                skipFinalSnapshot: !db.finalSnapshot,
                ...(db.finalSnapshot ? { finalSnapshotIdentifier: `${name}-db-final` } : {}),
                autoMinorVersionUpgrade: true,
                allowMajorVersionUpgrade: false,
                tags,
            },
            { parent: this },
        );
        this.databaseSecretArn = this.database.masterUserSecrets.apply((secrets) => {
            const arn = secrets?.[0]?.secretArn;
            if (!arn) throw new Error(`SubmissionRunner ${name}: the database reports no managed master user secret; manageMasterUserPassword must stay true.`);
            return arn;
        });

        // The runner's own cluster, with Container Insights (its RunningTaskCount drives scaling).
        this.cluster = new aws.ecs.Cluster(name, { settings: [{ name: "containerInsights", value: "enabled" }], tags }, { parent: this });
        const capacityProviders = new aws.ecs.ClusterCapacityProviders(
            name,
            {
                clusterName: this.cluster.name,
                capacityProviders: ["FARGATE", "FARGATE_SPOT"],
                defaultCapacityProviderStrategies: [{ capacityProvider: args.useSpot ? "FARGATE_SPOT" : "FARGATE", weight: 1 }],
            },
            { parent: this },
        );

        this.service = new FargateService(
            name,
            serviceArgs({
                // A service with a capacity provider strategy fails to create before the cluster has those providers.
                clusterArn: pulumi.all([this.cluster.arn, capacityProviders.id]).apply(([arn]) => arn),
                clusterName: this.cluster.name,
                region,
                bucketName: this.bucket.bucket,
                queueUrl: this.queue.url,
                databaseHost: this.database.address,
                databasePort: this.database.port.apply(String),
                databaseSecretArn: this.databaseSecretArn,
            }),
            { parent: this },
        );

        // The task role: consume this queue, read submissions, write run logs. Nothing else.
        grant(`${name}-task`, this.service.taskRole, runnerTaskStatements(this.queue.arn, this.bucket.arn), { parent: this });

        // The database admits PostgreSQL from the runner tasks' security group only; the tasks may reach it.
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-db-from-runner`,
            {
                securityGroupId: this.databaseSecurityGroup.id,
                referencedSecurityGroupId: this.service.securityGroup.id,
                ipProtocol: "tcp",
                fromPort: POSTGRES_PORT,
                toPort: POSTGRES_PORT,
                description: "PostgreSQL from the submission runner tasks",
                tags,
            },
            { parent: this },
        );
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-runner-to-db`,
            {
                securityGroupId: this.service.securityGroup.id,
                referencedSecurityGroupId: this.databaseSecurityGroup.id,
                ipProtocol: "tcp",
                fromPort: POSTGRES_PORT,
                toPort: POSTGRES_PORT,
                description: "PostgreSQL to the submissions database",
                tags,
            },
            { parent: this },
        );

        // Scaling on the backlog per task: (waiting + in-flight submissions) / running tasks.
        this.scalingTarget = new aws.appautoscaling.Target(
            name,
            {
                serviceNamespace: "ecs",
                scalableDimension: "ecs:service:DesiredCount",
                resourceId: pulumi.interpolate`service/${this.cluster.name}/${this.service.serviceName}`,
                minCapacity: args.scaling.minTasks,
                maxCapacity: args.scaling.maxTasks,
                tags,
            },
            { parent: this },
        );
        const queueMetric = (id: string, metricName: string): aws.types.input.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetric => ({
            id,
            metricStat: { metric: { namespace: "AWS/SQS", metricName, dimensions: [{ name: "QueueName", value: this.queue.name }] }, stat: "Average" },
            returnData: false,
        });
        new aws.appautoscaling.Policy(
            `${name}-backlog-per-task`,
            {
                policyType: "TargetTrackingScaling",
                serviceNamespace: this.scalingTarget.serviceNamespace,
                scalableDimension: this.scalingTarget.scalableDimension,
                resourceId: this.scalingTarget.resourceId,
                targetTrackingScalingPolicyConfiguration: {
                    targetValue: args.scaling.backlogPerTask,
                    scaleOutCooldown: 60,
                    // Scaling in stops busy runners too (they release their submission on SIGTERM): do it slowly.
                    scaleInCooldown: 300,
                    customizedMetricSpecification: {
                        metrics: [
                            queueMetric("waiting", "ApproximateNumberOfMessagesVisible"),
                            queueMetric("inflight", "ApproximateNumberOfMessagesNotVisible"),
                            {
                                id: "running",
                                metricStat: {
                                    metric: {
                                        namespace: "ECS/ContainerInsights",
                                        metricName: "RunningTaskCount",
                                        dimensions: [
                                            { name: "ClusterName", value: this.cluster.name },
                                            { name: "ServiceName", value: this.service.serviceName },
                                        ],
                                    },
                                    stat: "Average",
                                },
                                returnData: false,
                            },
                            { id: "backlogpertask", expression: "(waiting + inflight) / IF(running > 0, running, 1)", label: "Outstanding submissions per running runner task", returnData: true },
                        ],
                    },
                },
            },
            { parent: this },
        );
        if (args.scaling.minTasks === 0) this.wakeFromZero(name, tags);

        this.deadLetterAlarm = new aws.cloudwatch.MetricAlarm(
            `${name}-dlq-not-empty`,
            {
                alarmDescription: `${name}: a submission failed ${args.maxReceiveCount} times and waits in the dead-letter queue; inspect it, then redrive it to the submission queue`,
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: this.deadLetterQueue.name },
                statistic: "Maximum",
                period: 300,
                evaluationPeriods: 1,
                threshold: 1,
                comparisonOperator: "GreaterThanOrEqualToThreshold",
                treatMissingData: "notBreaching",
                alarmActions: [args.alarms.topicArn],
                okActions: [args.alarms.topicArn],
                tags,
            },
            { parent: this },
        );

        this.registerOutputs({
            queueUrl: this.queue.url,
            deadLetterQueueUrl: this.deadLetterQueue.url,
            bucketName: this.bucket.bucket,
            repositoryArn: this.repositoryArn,
            repositoryUrl: this.repositoryUrl,
            clusterName: this.cluster.name,
            serviceName: this.service.serviceName,
            databaseAddress: this.database.address,
            databaseSecretArn: this.databaseSecretArn,
            visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
        });
    }

    /**
     * Target tracking multiplies the current task count, so from zero tasks it never starts one. This
     * step policy adds the first task when submissions wait and no runner is running.
     */
    private wakeFromZero(name: string, tags: Record<string, string>): void {
        const policy = new aws.appautoscaling.Policy(
            `${name}-wake-from-zero`,
            {
                policyType: "StepScaling",
                serviceNamespace: this.scalingTarget.serviceNamespace,
                scalableDimension: this.scalingTarget.scalableDimension,
                resourceId: this.scalingTarget.resourceId,
                stepScalingPolicyConfiguration: {
                    adjustmentType: "ChangeInCapacity",
                    cooldown: 60,
                    metricAggregationType: "Maximum",
                    stepAdjustments: [{ metricIntervalLowerBound: "0", scalingAdjustment: 1 }],
                },
            },
            { parent: this },
        );
        new aws.cloudwatch.MetricAlarm(
            `${name}-wake-from-zero`,
            {
                alarmDescription: `${name}: submissions are waiting and no runner task is running`,
                metricQueries: [
                    // CloudWatch alarms on exactly one returned series: the inputs say so explicitly.
                    { id: "waiting", metric: { namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible", dimensions: { QueueName: this.queue.name }, period: 60, stat: "Maximum" }, returnData: false },
                    {
                        id: "running",
                        metric: { namespace: "ECS/ContainerInsights", metricName: "RunningTaskCount", dimensions: { ClusterName: this.cluster.name, ServiceName: this.service.serviceName }, period: 60, stat: "Maximum" },
                        returnData: false,
                    },
                    { id: "idlewithwork", expression: "IF(waiting > 0 AND FILL(running, 0) == 0, 1, 0)", label: "Submissions waiting with no runner", returnData: true },
                ],
                evaluationPeriods: 1,
                threshold: 1,
                comparisonOperator: "GreaterThanOrEqualToThreshold",
                treatMissingData: "notBreaching",
                alarmActions: [policy.arn],
                tags,
            },
            { parent: this },
        );
    }

    /** Lets a producer (the submissions API) upload a ZIP under `submissions/` and enqueue it. */
    public grantSubmit(name: string, role: aws.iam.Role): aws.iam.RolePolicy {
        return grant(name, role, submitStatements(this.queue.arn, this.bucket.arn), { parent: this });
    }

    /** Lets a reader (the feedback endpoint) fetch `logs/<submissionId>/run.log`. */
    public grantReadRunLogs(name: string, role: aws.iam.Role): aws.iam.RolePolicy {
        return grant(name, role, readRunLogStatements(this.bucket.arn), { parent: this });
    }
}

/** Everything the runner task may do: exactly these actions on exactly these resources. */
export function runnerTaskStatements(queueArn: pulumi.Input<string>, bucketArn: pulumi.Input<string>): PolicyStatement[] {
    return [
        { Sid: "ConsumeSubmissionQueue", Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"], Resource: queueArn },
        { Sid: "ReadSubmissions", Effect: "Allow", Action: "s3:GetObject", Resource: objectArn(bucketArn, `${SUBMISSIONS_PREFIX}*`) },
        { Sid: "WriteRunLogs", Effect: "Allow", Action: "s3:PutObject", Resource: objectArn(bucketArn, `${RUN_LOGS_PREFIX}*`) },
    ];
}

export function submitStatements(queueArn: pulumi.Input<string>, bucketArn: pulumi.Input<string>): PolicyStatement[] {
    return [
        { Sid: "UploadSubmissions", Effect: "Allow", Action: "s3:PutObject", Resource: objectArn(bucketArn, `${SUBMISSIONS_PREFIX}*`) },
        { Sid: "EnqueueSubmissions", Effect: "Allow", Action: ["sqs:SendMessage", "sqs:GetQueueUrl"], Resource: queueArn },
    ];
}

export function readRunLogStatements(bucketArn: pulumi.Input<string>): PolicyStatement[] {
    return [{ Sid: "ReadRunLogs", Effect: "Allow", Action: "s3:GetObject", Resource: objectArn(bucketArn, `${RUN_LOGS_PREFIX}*`) }];
}

/** The component's own checks (the building block's run beside them), as sentences naming argument, value and expectation. */
export function submissionRunnerArgsProblems(name: string, args: SubmissionRunnerArgs, processingMarginSeconds: number): string[] {
    const problems: string[] = [];
    const add = (field: string, value: unknown, expected: string) => problems.push(`SubmissionRunner ${name}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);

    if (!REPOSITORY_NAME.test(args.repositoryName ?? "") || args.repositoryName.length < 2 || args.repositoryName.length > 256) {
        add("repositoryName", args.repositoryName, "an ECR repository name like jobfleet/runner (lower-case letters, digits, . _ - separated by /)");
    } else if (args.requireDigest && typeof args.image === "string" && isDigestPinned(args.image) && parseEcrImage(args.image)?.repository !== args.repositoryName) {
        add("image", args.image, `an image from this stack's runner repository ${args.repositoryName} (<account>.dkr.ecr.<region>.amazonaws.com/${args.repositoryName}@sha256:<64 hex>), the one with immutable tags and scan on push`);
    }

    const r = args.runner ?? ({} as RunnerSettings);
    if (!isInt(r.timeoutMs) || r.timeoutMs < 1000) add("runner.timeoutMs", r.timeoutMs, "a whole number of milliseconds of at least 1000");
    if (!isInt(r.pollIntervalMs) || r.pollIntervalMs < 1) add("runner.pollIntervalMs", r.pollIntervalMs, "a whole number of milliseconds of at least 1");
    if (!isInt(r.maxLogBytes) || r.maxLogBytes < 1) add("runner.maxLogBytes", r.maxLogBytes, "a whole number of bytes of at least 1");
    if (typeof r.jdkVersion !== "string" || !/^\d{1,3}$/.test(r.jdkVersion)) add("runner.jdkVersion", r.jdkVersion, "a JDK major version like 17");
    if (r.buildTool !== "maven" && r.buildTool !== "gradle") add("runner.buildTool", r.buildTool, "maven or gradle");
    if (!isInt(processingMarginSeconds) || processingMarginSeconds < 0) add("processingMarginSeconds", processingMarginSeconds, "a whole number of seconds, 0 or more");

    if (isInt(r.timeoutMs) && isInt(processingMarginSeconds) && isInt(args.gracefulShutdownSeconds)) {
        const stopTimeout = stopTimeoutFor(args.gracefulShutdownSeconds);
        const visibility = submissionVisibilityTimeoutSeconds(r.timeoutMs, processingMarginSeconds, stopTimeout);
        if (stopTimeout <= FARGATE_MAX_STOP_TIMEOUT_SECONDS && visibility > SQS_MAX_VISIBILITY_TIMEOUT_SECONDS) {
            add(
                "runner.timeoutMs",
                r.timeoutMs,
                `a timeout whose visibility timeout (ceil(${r.timeoutMs} / 1000) + ${processingMarginSeconds} s margin + ${stopTimeout} s stop timeout = ${visibility} s) stays within SQS's ${SQS_MAX_VISIBILITY_TIMEOUT_SECONDS} s (12 hours)`,
            );
        }
    }

    if (!isInt(args.maxReceiveCount) || args.maxReceiveCount < 1 || args.maxReceiveCount > 1000) add("maxReceiveCount", args.maxReceiveCount, "a whole number from 1 to 1000 (SQS's range)");

    const s = args.scaling ?? ({} as SubmissionScaling);
    if (!isInt(s.minTasks) || s.minTasks < 0) add("scaling.minTasks", s.minTasks, "a whole number of tasks, 0 or more");
    if (!isInt(s.maxTasks) || s.maxTasks < 1) add("scaling.maxTasks", s.maxTasks, "a whole number of tasks, at least 1");
    if (isInt(s.minTasks) && isInt(s.maxTasks) && s.minTasks > s.maxTasks) add("scaling.minTasks", s.minTasks, `at most scaling.maxTasks (${s.maxTasks})`);
    if (!isInt(s.backlogPerTask) || s.backlogPerTask < 1) add("scaling.backlogPerTask", s.backlogPerTask, "a whole number of submissions per task, at least 1");
    if (typeof args.useSpot !== "boolean") add("useSpot", args.useSpot, "true or false");
    if (args.requireDigest && args.useSpot) add("useSpot", args.useSpot, "false in prod (requireDigest set): a Spot interruption aborts a graded run");

    if (!isInt(args.runLogRetentionDays) || args.runLogRetentionDays < 1) add("runLogRetentionDays", args.runLogRetentionDays, "a whole number of days, at least 1");
    if (!(CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays)) {
        add("logRetentionDays", args.logRetentionDays, `one of the retention periods CloudWatch accepts: ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`);
    }

    const db = args.database ?? ({} as SubmissionDatabaseSettings);
    if (typeof db.instanceClass !== "string" || !/^db\.[a-z0-9]+\.[a-z0-9]+$/.test(db.instanceClass)) add("database.instanceClass", db.instanceClass, "an RDS instance class like db.t4g.micro");
    if (!isInt(db.allocatedStorageGb) || db.allocatedStorageGb < 20 || db.allocatedStorageGb > 65536) add("database.allocatedStorageGb", db.allocatedStorageGb, "a whole number of GiB from 20 (gp3's minimum) to 65536");
    if (typeof db.engineVersion !== "string" || !/^\d+(\.\d+)?$/.test(db.engineVersion)) add("database.engineVersion", db.engineVersion, "a PostgreSQL version like 16 or 16.4");
    if (typeof db.name !== "string" || !/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(db.name)) add("database.name", db.name, "a PostgreSQL identifier (a letter, then up to 62 letters, digits or underscores)");
    if (typeof db.username !== "string" || !/^[A-Za-z][A-Za-z0-9_]{0,15}$/.test(db.username) || ["postgres", "rdsadmin", "admin"].includes(db.username)) {
        add("database.username", db.username, "1 to 16 letters, digits or underscores starting with a letter, other than postgres, rdsadmin or admin");
    }
    if (!isInt(db.backupRetentionDays) || db.backupRetentionDays < 1 || db.backupRetentionDays > 35) add("database.backupRetentionDays", db.backupRetentionDays, "a whole number of days from 1 to 35");
    if (db.finalSnapshot === false && db.deletionProtection === true) {
        add("database.finalSnapshot", db.finalSnapshot, "true whenever deletionProtection is on: a database worth protecting is worth a final snapshot");
    }
    return problems;
}

/**
 * The runner's code lives in its own repository (seed 004); its configuration loader is
 * runtime/runnerConfig.ts. The calls are those the seed documents, on the queue, bucket and
 * prefixes that loader reads from the task definition's environment.
 */
export const submissionRunnerAccess: ComponentAccess = {
    component: "jobfleet:runner:SubmissionRunner",
    roles: [
        {
            role: /-task$/,
            expected: (plan) =>
                plan.containers().flatMap((c) => {
                    const env = Object.fromEntries((c.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]));
                    // ECS injects the database credentials; stand-ins let the loader check everything else.
                    const config = loadRunnerConfig({ ...env, DB_USERNAME: "injected", DB_PASSWORD: "injected" });
                    const [, account, queueName] = /^https:\/\/sqs\.[a-z0-9-]+\.amazonaws\.com\/(\d{12})\/(.+)$/.exec(config.queueUrl) ?? [];
                    const queue = `arn:aws:sqs:${config.region}:${account}:${queueName}`;
                    const why = "seed 004: poll the submission queue, download the submission, upload the run log, delete the message";
                    return [
                        { action: "sqs:ReceiveMessage", resource: queue, why },
                        { action: "sqs:GetQueueAttributes", resource: queue, why },
                        { action: "sqs:DeleteMessage", resource: queue, why },
                        { action: "s3:GetObject", resource: `arn:aws:s3:::${config.bucket}/${config.submissionsPrefix}example-submission.zip`, why },
                        { action: "s3:PutObject", resource: `arn:aws:s3:::${config.bucket}/${config.logsPrefix}example-submission.log`, why },
                    ];
                }),
            keep: [
                {
                    action: "sqs:ChangeMessageVisibility",
                    reason: "seed 004 relies on the visibility timeout so that no two runners build one submission; a build that outlives it extends the timeout, an error path the seed's runner takes only for long builds",
                },
            ],
        },
    ],
};
