import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLOUDWATCH_RETENTION_DAYS, fargateSizeProblem, isDigestPinned } from "../config";
import { CALLER_ENV, JOB_REQUEST_PREFIX, JOB_RESULT_PREFIX, RUNNER_ENV } from "../runtime/shellJob/contract";
import { ecrRepositoryArnOf } from "./ecrImage";
import { DEFAULT_CONTAINER_USER, FARGATE_MAX_STOP_TIMEOUT_SECONDS } from "./fargateService";
import { grant, objectArn, PolicyStatement, policyDocument, serviceRole } from "./iam";
import { PrivateBucket } from "./privateBucket";
import type { ComponentAccess } from "./access";

export const SHELL_EXECUTOR_CONTAINER_NAME = "runner";

/**
 * Runtime roles may not hold ECS or IAM actions (policy iam-runtime-no-control-plane), except a
 * role tagged as a job submitter, which may hold exactly grantSubmit's RunTask and PassRole.
 */
export const JOB_SUBMITTER_TAG = "jobfleet:job-submitter";

/** Tags for a role that will be given grantSubmit. */
export function jobSubmitterTags(tags: Record<string, string> = {}): Record<string, string> {
    return { ...tags, [JOB_SUBMITTER_TAG]: "true" };
}

export interface ShellExecutorArgs {
    vpcId: pulumi.Input<string>;
    /** Private subnets the callers start the task in (it never gets a public IP). */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The runner image; pinned by digest (repository@sha256:<64 hex>) when requireDigest is set. */
    image: string;
    /** config.isProd: refuse an image that is not pinned by digest. */
    requireDigest: boolean;
    cpu: number;
    memory: number;
    /** Seconds ECS waits after SIGTERM (the runner then stops its command and writes the result) before SIGKILL. */
    stopTimeoutSeconds: number;
    /** Per-command timeout inside the runner (SHELL_COMMAND_TIMEOUT_SECONDS). */
    commandTimeoutSeconds: number;
    /** Cap on a command's captured stdout+stderr (SHELL_MAX_OUTPUT_BYTES). */
    maxOutputBytes: number;
    /** Validity of the presigned URLs callers sign (seed 000: 900 s); also the age S3 accepts for their signatures. */
    urlTtlSeconds: number;
    /** Days after which shell-jobs/ and shell-results/ objects expire (seed 000: 1). */
    jobExpirationDays: number;
    logRetentionDays: number;
    tags?: Record<string, string>;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
const GRANT_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
const SIGV4_MAX_SECONDS = 604800;

function isInt(v: unknown): v is number {
    return typeof v === "number" && Number.isInteger(v);
}

/** Every check on the arguments, before anything is created: sentences naming the argument, the value and what was expected. */
export function shellExecutorArgsProblems(name: string, args: ShellExecutorArgs): string[] {
    const problems: string[] = [];
    const add = (field: string, value: unknown, expected: string) => problems.push(`ShellExecutor ${name}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);

    if (!NAME.test(name)) {
        problems.push(`ShellExecutor ${JSON.stringify(name)}: the name must be 1 to 31 lower-case letters, digits or hyphens (it prefixes the cluster, task family, log group and bucket, and S3 bucket names are lower-case).`);
    }
    if (typeof args.image !== "string" || args.image.trim() === "") {
        add("image", args.image, "the runner image, such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/shell-executor@sha256:<64 hex>");
    } else if (/:latest(@|$)/.test(args.image)) {
        add("image", args.image, "an image without the moving tag :latest (pin it by digest: repository@sha256:<64 hex>)");
    } else if (args.requireDigest && !isDigestPinned(args.image)) {
        add("image", args.image, "an image pinned by digest (repository@sha256:<64 hex>) because requireDigest is set (prod): every task must run exactly the reviewed runner");
    }
    const size = fargateSizeProblem(args.cpu, args.memory);
    if (size) add("cpu/memory", `${args.cpu}/${args.memory}`, `a task size Fargate accepts (${size})`);
    if (!isInt(args.stopTimeoutSeconds) || args.stopTimeoutSeconds < 2 || args.stopTimeoutSeconds > FARGATE_MAX_STOP_TIMEOUT_SECONDS) {
        add("stopTimeoutSeconds", args.stopTimeoutSeconds, `a whole number of seconds from 2 to ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} (Fargate's limit), time for the runner to stop its command and write the result`);
    }
    if (!isInt(args.commandTimeoutSeconds) || args.commandTimeoutSeconds < 1) add("commandTimeoutSeconds", args.commandTimeoutSeconds, "a whole number of seconds, at least 1");
    if (!isInt(args.maxOutputBytes) || args.maxOutputBytes < 1) add("maxOutputBytes", args.maxOutputBytes, "a whole number of bytes, at least 1");
    if (!isInt(args.jobExpirationDays) || args.jobExpirationDays < 1) add("jobExpirationDays", args.jobExpirationDays, "a whole number of days, at least 1 (S3 lifecycle rules count in days)");
    if (!isInt(args.urlTtlSeconds) || args.urlTtlSeconds < 60 || args.urlTtlSeconds > SIGV4_MAX_SECONDS) {
        add("urlTtlSeconds", args.urlTtlSeconds, `a whole number of seconds from 60 to ${SIGV4_MAX_SECONDS} (SigV4's limit)`);
    } else if (isInt(args.jobExpirationDays) && args.urlTtlSeconds >= args.jobExpirationDays * 86400) {
        add("urlTtlSeconds", args.urlTtlSeconds, `less than jobExpirationDays (${args.jobExpirationDays} day(s) = ${args.jobExpirationDays * 86400} s): the lifecycle rule must not delete a request while its URL is still valid`);
    }
    if (!(CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays)) {
        add("logRetentionDays", args.logRetentionDays, `one of the retention periods CloudWatch accepts: ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`);
    }
    if (Array.isArray(args.subnetIds) && args.subnetIds.length === 0) add("subnetIds", args.subnetIds, "at least one private subnet id");
    return problems;
}

/**
 * Seed 000's shell executor: a Fargate task that callers start per job with RunTask, handing it two
 * presigned URLs (read the request from shell-jobs/, write the result to shell-results/) instead of
 * the request itself, which outgrew ECS's 8192-character overrides.
 *
 * Its own cluster (Container Insights on), a task definition for the digest-pinned runner image
 * with a stop timeout, a log group with retention, a security group with no ingress and HTTPS
 * egress only, and the job bucket: private, SSE-S3, TLS only, both prefixes expiring after
 * `jobExpirationDays`. The task role holds no permission at all: the URLs carry the caller's
 * authority, which `grantSubmit` gives a caller.
 */
export class ShellExecutor extends pulumi.ComponentResource {
    public readonly clusterArn: pulumi.Output<string>;
    public readonly clusterName: pulumi.Output<string>;
    public readonly taskDefinitionArn: pulumi.Output<string>;
    public readonly taskDefinitionFamily: pulumi.Output<string>;
    public readonly containerName = SHELL_EXECUTOR_CONTAINER_NAME;
    /** The awsvpcConfiguration a caller passes to RunTask: these subnets and this security group, no public IP. */
    public readonly subnetIds: pulumi.Output<string[]>;
    public readonly securityGroupId: pulumi.Output<string>;
    public readonly bucketName: pulumi.Output<string>;
    public readonly bucketArn: pulumi.Output<string>;
    public readonly logGroupName: pulumi.Output<string>;
    public readonly taskRole: aws.iam.Role;
    public readonly executionRole: aws.iam.Role;
    public readonly urlTtlSeconds: number;
    /** Settings the bucket must have before a caller may use it (lifecycle, encryption, TLS policy). */
    public readonly bucketReady: pulumi.Resource[];
    private readonly baseName: string;
    private readonly grantNames = new Set<string>();
    private readonly partition: pulumi.Output<string>;
    private readonly region: pulumi.Output<string>;
    private readonly accountId: pulumi.Output<string>;

    constructor(name: string, args: ShellExecutorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:shell:ShellExecutor", name, {}, opts);
        const problems = shellExecutorArgsProblems(name, args);
        if (problems.length > 0) throw new Error(problems.join("\n"));

        const base = `${name}-shell-executor`;
        this.baseName = base;
        const tags = args.tags ?? {};
        this.urlTtlSeconds = args.urlTtlSeconds;
        this.partition = aws.getPartitionOutput({}, { parent: this }).partition;
        this.region = aws.getRegionOutput({}, { parent: this }).region;
        this.accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;

        // The job bucket. No versioning: a deleted request (it may hold inputs the job's owner
        // considers sensitive) must really be gone, and every object is transient anyway.
        const jobs = new PrivateBucket(
            `${base}-jobs`,
            {
                lifecycleRules: [
                    { id: "expire-shell-jobs", status: "Enabled", filter: { prefix: JOB_REQUEST_PREFIX }, expiration: { days: args.jobExpirationDays }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
                    { id: "expire-shell-results", status: "Enabled", filter: { prefix: JOB_RESULT_PREFIX }, expiration: { days: args.jobExpirationDays }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
                ],
                // Holds nothing that outlives a day; destroying the stack must not stall on leftovers.
                forceDestroy: true,
                tags: { ...tags, Purpose: "shell-executor-jobs" },
                movedFrom: this,
            },
            { parent: this },
        );
        this.bucketName = jobs.bucketName;
        this.bucketArn = jobs.arn;
        this.bucketReady = [jobs.publicAccessBlock, jobs.ownershipControls, jobs.encryption, jobs.lifecycle!, jobs.policy];

        const cluster = new aws.ecs.Cluster(`${base}`, { name: base, settings: [{ name: "containerInsights", value: "enabled" }], tags }, { parent: this });
        const logGroup = new aws.cloudwatch.LogGroup(`${base}-logs`, { name: `/aws/ecs/${base}`, retentionInDays: args.logRetentionDays, tags }, { parent: this });

        this.executionRole = serviceRole(`${base}-execution`, { kind: "execution", description: `ECS execution role of ${base}: pulls the runner image, writes its log`, tags }, { parent: this });
        const executionStatements: PolicyStatement[] = [];
        const repositoryArn = ecrRepositoryArnOf(args.image);
        if (repositoryArn) {
            // GetAuthorizationToken has no resource type: AWS only accepts "*" for it.
            executionStatements.push({ Sid: "EcrAuthorizationToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" });
            executionStatements.push({ Sid: "EcrPullRunnerImage", Effect: "Allow", Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], Resource: repositoryArn });
        }
        executionStatements.push({ Sid: "WriteRunnerLog", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${logGroup.arn}:log-stream:*` });
        const executionPolicy = grant(`${base}-execution`, this.executionRole, executionStatements, { parent: this });

        // Deliberately without any policy: the runner reads and writes only through the caller's presigned URLs.
        this.taskRole = serviceRole(`${base}-task`, { kind: "task", description: `ECS task role of ${base}: no permissions; the presigned URLs carry the caller's authority`, tags }, { parent: this });

        const containerDefinition = {
            name: SHELL_EXECUTOR_CONTAINER_NAME,
            image: args.image,
            essential: true,
            user: DEFAULT_CONTAINER_USER,
            readonlyRootFilesystem: true,
            // An init process forwards SIGTERM to the runner and reaps what the job's commands leave behind.
            linuxParameters: { initProcessEnabled: true },
            stopTimeout: args.stopTimeoutSeconds,
            environment: [
                { name: RUNNER_ENV.commandTimeoutSeconds, value: String(args.commandTimeoutSeconds) },
                { name: RUNNER_ENV.maxOutputBytes, value: String(args.maxOutputBytes) },
            ],
            // The job's working directory lives under /tmp, on task-local storage.
            mountPoints: [{ sourceVolume: "tmp", containerPath: "/tmp", readOnly: false }],
            logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": logGroup.name, "awslogs-region": this.region, "awslogs-stream-prefix": SHELL_EXECUTOR_CONTAINER_NAME } },
        };
        const taskDefinition = new aws.ecs.TaskDefinition(
            `${base}`,
            {
                family: base,
                networkMode: "awsvpc",
                requiresCompatibilities: ["FARGATE"],
                cpu: String(args.cpu),
                memory: String(args.memory),
                runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
                executionRoleArn: this.executionRole.arn,
                taskRoleArn: this.taskRole.arn,
                containerDefinitions: pulumi.jsonStringify([containerDefinition]),
                volumes: [{ name: "tmp" }],
                tags,
            },
            { parent: this, dependsOn: [executionPolicy] },
        );

        const securityGroup = new aws.ec2.SecurityGroup(
            `${base}-tasks`,
            { vpcId: args.vpcId, description: `Shell executor tasks (${base}): no ingress, HTTPS egress only`, revokeRulesOnDelete: true, tags: { ...tags, Name: `${base}-tasks` } },
            { parent: this },
        );
        const httpsEgress = new aws.vpc.SecurityGroupEgressRule(
            `${base}-https-egress`,
            { securityGroupId: securityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS: the presigned S3 URLs, ECR and Logs endpoints, and the HTTPS calls of the job itself", tags },
            { parent: this },
        );

        this.clusterArn = cluster.arn;
        this.clusterName = cluster.name;
        this.taskDefinitionArn = taskDefinition.arn;
        this.taskDefinitionFamily = taskDefinition.family;
        this.subnetIds = pulumi.output(args.subnetIds);
        // Callers read the group id only once its egress rule exists, or their first task could start without a route out.
        this.securityGroupId = pulumi.all([securityGroup.id, httpsEgress.id]).apply(([id]) => id);
        this.logGroupName = logGroup.name;

        this.registerOutputs({
            clusterArn: this.clusterArn,
            taskDefinitionArn: this.taskDefinitionArn,
            taskDefinitionFamily: this.taskDefinitionFamily,
            subnetIds: this.subnetIds,
            securityGroupId: this.securityGroupId,
            bucketName: this.bucketName,
            logGroupName: this.logGroupName,
            taskRoleArn: this.taskRole.arn,
            executionRoleArn: this.executionRole.arn,
        });
    }

    /**
     * The environment a caller needs to submit jobs: references to this executor, never secrets.
     * The runtime reads it back with `shellExecutorTargetFromEnv`.
     */
    callerEnvironment(): Record<string, pulumi.Output<string>> {
        return {
            [CALLER_ENV.clusterArn]: this.clusterArn,
            [CALLER_ENV.taskDefinition]: this.taskDefinitionArn,
            [CALLER_ENV.containerName]: pulumi.output(this.containerName),
            [CALLER_ENV.subnets]: this.subnetIds.apply((ids) => ids.join(",")),
            [CALLER_ENV.securityGroup]: this.securityGroupId,
            [CALLER_ENV.bucket]: this.bucketName,
            [CALLER_ENV.urlTtlSeconds]: pulumi.output(String(this.urlTtlSeconds)),
        };
    }

    /**
     * The statements `grantSubmit` adds: exactly what starting a job and collecting its result takes.
     *
     * Beyond the issue's list (PutObject on shell-jobs/*, Get and DeleteObject on shell-results/*),
     * two rights are needed because a presigned URL is only as good as its signer's permissions:
     * GetObject on shell-jobs/* (the runner's GET URL) and PutObject on shell-results/* (its PUT
     * URL). Both are usable only through a presigned URL (s3:authType REST-QUERY-STRING) younger
     * than urlTtlSeconds (s3:signatureAge), so the caller cannot read requests or write results
     * directly. DeleteObject on shell-jobs/* lets the caller delete the request once the result is
     * read, as seed 000's cleanup requires.
     */
    submitStatements(): PolicyStatement[] {
        const jobs = objectArn(this.bucketArn, `${JOB_REQUEST_PREFIX}*`);
        const results = objectArn(this.bucketArn, `${JOB_RESULT_PREFIX}*`);
        const presignedOnly = {
            StringEquals: { "s3:authType": "REST-QUERY-STRING" },
            NumericLessThanEquals: { "s3:signatureAge": String(this.urlTtlSeconds * 1000) },
        };
        return [
            {
                Sid: "RunShellExecutorTask",
                Effect: "Allow",
                Action: "ecs:RunTask",
                Resource: pulumi.interpolate`arn:${this.partition}:ecs:${this.region}:${this.accountId}:task-definition/${this.taskDefinitionFamily}:*`,
                Condition: { ArnEquals: { "ecs:cluster": this.clusterArn } },
            },
            {
                Sid: "PassShellExecutorRoles",
                Effect: "Allow",
                Action: "iam:PassRole",
                Resource: [this.taskRole.arn, this.executionRole.arn],
                Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
            },
            { Sid: "StoreAndDeleteJobRequests", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: jobs },
            { Sid: "PresignJobRequestReads", Effect: "Allow", Action: "s3:GetObject", Resource: jobs, Condition: presignedOnly },
            { Sid: "PresignJobResultWrites", Effect: "Allow", Action: "s3:PutObject", Resource: results, Condition: presignedOnly },
            { Sid: "ReadAndDeleteJobResults", Effect: "Allow", Action: ["s3:GetObject", "s3:DeleteObject"], Resource: results },
        ];
    }

    /**
     * Lets `role` submit jobs: start this task definition on this cluster, pass its two roles to
     * ECS, store requests, presign the runner's URLs, read and delete results (see submitStatements).
     * `name` names the inline policy (unique per executor). Make the caller's function depend on
     * the returned policy so its first job does not race the grant.
     */
    grantSubmit(role: aws.iam.Role, name: string): aws.iam.RolePolicy {
        if (!GRANT_NAME.test(name)) {
            throw new Error(`ShellExecutor ${this.baseName}: grantSubmit name is ${JSON.stringify(name)}; expected 1 to 128 letters, digits or hyphens, unique per executor.`);
        }
        if (this.grantNames.has(name)) {
            throw new Error(`ShellExecutor ${this.baseName}: grantSubmit name ${JSON.stringify(name)} is already used; give each caller its own name.`);
        }
        this.grantNames.add(name);
        const policy = pulumi.all([role.tags, role.name, policyDocument(this.submitStatements())]).apply(([tags, roleName, document]) => {
            if (tags?.[JOB_SUBMITTER_TAG] !== "true") {
                throw new Error(`ShellExecutor ${this.baseName}: grantSubmit was given role ${roleName}, which is not tagged ${JOB_SUBMITTER_TAG}=true; create it with tags: jobSubmitterTags(tags) so the guardrails accept its ecs:RunTask and iam:PassRole.`);
            }
            return document;
        });
        return new aws.iam.RolePolicy(`${this.baseName}-submit-${name}`, { role: role.id, policy }, { parent: this, dependsOn: this.bucketReady });
    }
}

/** Who runs what with the executor's roles (read by `npm run access`; docs/access.md). */
export const shellExecutorAccess: ComponentAccess = {
    component: "jobfleet:shell:ShellExecutor",
    roles: [
        { role: /-shell-executor-execution$/, expected: (plan) => plan.ecsAgentCalls() },
        // No permissions of its own: every request the runner sends carries the caller's presigned signature.
        { role: /-shell-executor-task$/, runs: ["runtime/shellJob/runner"] },
    ],
};
