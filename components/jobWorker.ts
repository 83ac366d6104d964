import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLOUDWATCH_RETENTION_DAYS, isDigestPinned } from "../config";
import { parseEcrImage } from "./ecrImage";
import { grant, PolicyStatement, serviceRole } from "./iam";
import { jobSubmitterTags, ShellExecutor } from "./shellExecutor";
import type { ComponentAccess } from "./access";

/** Lambda runs container images only from private ECR: account.dkr.ecr.region.amazonaws.com/repository[:tag][@digest]. */
const SQS_MAX_VISIBILITY_SECONDS = 43200;
const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

function isInt(v: unknown): v is number {
    return typeof v === "number" && Number.isInteger(v);
}

/** Checks shared by the Lambda components: name, image, memory, log retention. */
export function lambdaArgsProblems(
    component: string,
    name: string,
    args: { image: string; requireDigest: boolean; memoryMb: number; timeoutSeconds: number; logRetentionDays: number },
    maxTimeoutSeconds: number,
    timeoutReason: string,
): string[] {
    const problems: string[] = [];
    const add = (field: string, value: unknown, expected: string) => problems.push(`${component} ${name}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,40}$/.test(name)) {
        problems.push(`${component} ${JSON.stringify(name)}: the name must be 1 to 41 letters, digits or hyphens (it prefixes the function name, which Lambda caps at 64 characters).`);
    }
    if (typeof args.image !== "string" || parseEcrImage(args.image) === undefined) {
        add("image", args.image, "a private ECR image (123456789012.dkr.ecr.us-east-1.amazonaws.com/repository@sha256:<64 hex>): Lambda runs container images only from ECR");
    } else if (/:latest(@|$)/.test(args.image)) {
        add("image", args.image, "an image without the moving tag :latest (pin it by digest: repository@sha256:<64 hex>)");
    } else if (args.requireDigest && !isDigestPinned(args.image)) {
        add("image", args.image, "an image pinned by digest (repository@sha256:<64 hex>) because requireDigest is set (prod)");
    }
    if (!isInt(args.memoryMb) || args.memoryMb < 128 || args.memoryMb > 10240) add("memoryMb", args.memoryMb, "a whole number of MB from 128 to 10240 (Lambda's range)");
    if (!isInt(args.timeoutSeconds) || args.timeoutSeconds < 1 || args.timeoutSeconds > maxTimeoutSeconds) {
        add("timeoutSeconds", args.timeoutSeconds, `a whole number of seconds from 1 to ${maxTimeoutSeconds} (${timeoutReason})`);
    }
    if (!(CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays)) {
        add("logRetentionDays", args.logRetentionDays, `one of the retention periods CloudWatch accepts: ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`);
    }
    return problems;
}

/** What a Lambda function needs to write its own log group (the group is created by the component, so no logs:CreateLogGroup). */
export function lambdaLogStatement(logGroup: aws.cloudwatch.LogGroup): PolicyStatement {
    return { Sid: "WriteOwnLogGroup", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${logGroup.arn}:log-stream:*` };
}

export interface JobWorkerArgs {
    /** The shell executor this worker submits jobs to; the worker gets its grantSubmit and its coordinates. */
    executor: ShellExecutor;
    vpcId: pulumi.Input<string>;
    /** Private subnets (NAT or VPC endpoints for S3, ECS and SQS). */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The job processor image in ECR; pinned by digest when requireDigest is set. */
    image: string;
    requireDigest: boolean;
    memoryMb: number;
    timeoutSeconds: number;
    reservedConcurrency: number;
    logRetentionDays: number;
    tags?: Record<string, string>;
}

/**
 * Seed 000's job processor: a Lambda function from a container image, in the private subnets, with
 * explicit timeout, memory and reserved concurrency, a dead-letter queue for asynchronous
 * invocations that keep failing, and a log group with retention. It submits shell jobs to the
 * executor, which grants it exactly that.
 */
export class JobWorker extends pulumi.ComponentResource {
    public readonly functionName: pulumi.Output<string>;
    public readonly functionArn: pulumi.Output<string>;
    public readonly role: aws.iam.Role;
    public readonly deadLetterQueueArn: pulumi.Output<string>;
    public readonly deadLetterQueueUrl: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;
    public readonly logGroupName: pulumi.Output<string>;

    constructor(name: string, args: JobWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:shell:JobWorker", name, {}, opts);
        const problems = lambdaArgsProblems("JobWorker", name, args, 900, "Lambda's limit");
        if (!isInt(args.reservedConcurrency) || args.reservedConcurrency < 1) {
            problems.push(`JobWorker ${name}: reservedConcurrency is ${JSON.stringify(args.reservedConcurrency)}; expected a whole number of at least 1 (0 would stop the function from running at all).`);
        }
        if (Array.isArray(args.subnetIds) && args.subnetIds.length === 0) problems.push(`JobWorker ${name}: subnetIds is []; expected at least one private subnet id.`);
        if (!(args.executor instanceof ShellExecutor)) problems.push(`JobWorker ${name}: executor must be the ShellExecutor component the worker submits jobs to.`);
        if (problems.length > 0) throw new Error(problems.join("\n"));

        const tags = args.tags ?? {};
        const functionName = `${name}-job-processor`;

        const logGroup = new aws.cloudwatch.LogGroup(`${functionName}-logs`, { name: `/aws/lambda/${functionName}`, retentionInDays: args.logRetentionDays, tags }, { parent: this });
        const deadLetterQueue = new aws.sqs.Queue(
            `${functionName}-dlq`,
            {
                sqsManagedSseEnabled: true,
                messageRetentionSeconds: DLQ_RETENTION_SECONDS,
                // Whoever redrives these events to the worker must not see them again while one still runs.
                visibilityTimeoutSeconds: Math.min(args.timeoutSeconds + 60, SQS_MAX_VISIBILITY_SECONDS),
                tags,
            },
            { parent: this },
        );

        this.role = serviceRole(`${functionName}-role`, { kind: "lambda", description: `Lambda role of ${functionName}: logs, its dead-letter queue, VPC network interfaces, shell job submission`, tags: jobSubmitterTags(tags) }, { parent: this });

        const securityGroup = new aws.ec2.SecurityGroup(
            `${functionName}-sg`,
            { vpcId: args.vpcId, description: `${functionName}: no ingress, HTTPS egress only`, revokeRulesOnDelete: true, tags: { ...tags, Name: `${functionName}-sg` } },
            { parent: this },
        );
        const httpsEgress = new aws.vpc.SecurityGroupEgressRule(
            `${functionName}-https-egress`,
            { securityGroupId: securityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS to S3, ECS, SQS and Logs (endpoints or NAT)", tags },
            { parent: this },
        );

        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const region = aws.getRegionOutput({}, { parent: this }).region;
        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        // What AWSLambdaVPCAccessExecutionRole allows on "*", scoped to this account's interfaces, the worker's subnets and its group.
        const networkInterfaces = pulumi.all([partition, region, accountId, pulumi.output(args.subnetIds), securityGroup.id]).apply(
            ([p, r, a, subnets, sg]): PolicyStatement => ({
                Sid: "ManageVpcNetworkInterfaces",
                Effect: "Allow",
                Action: ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                Resource: [`arn:${p}:ec2:${r}:${a}:network-interface/*`, ...subnets.map((id) => `arn:${p}:ec2:${r}:${a}:subnet/${id}`), `arn:${p}:ec2:${r}:${a}:security-group/${sg}`],
            }),
        );

        const ownPolicy = grant(
            `${functionName}-runtime`,
            this.role,
            [
                lambdaLogStatement(logGroup),
                { Sid: "SendToDeadLetterQueue", Effect: "Allow", Action: "sqs:SendMessage", Resource: deadLetterQueue.arn },
                // Describe calls have no resource type: AWS only accepts "*" for them.
                { Sid: "DescribeVpcNetwork", Effect: "Allow", Action: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], Resource: "*" },
                networkInterfaces,
            ],
            { parent: this },
        );
        const submitPolicy = args.executor.grantSubmit(this.role, functionName);

        const fn = new aws.lambda.Function(
            functionName,
            {
                name: functionName,
                description: "Job processor: runs jobs and submits their shell steps to the shell executor",
                packageType: "Image",
                imageUri: args.image,
                role: this.role.arn,
                timeout: args.timeoutSeconds,
                memorySize: args.memoryMb,
                reservedConcurrentExecutions: args.reservedConcurrency,
                vpcConfig: { subnetIds: args.subnetIds, securityGroupIds: [securityGroup.id] },
                deadLetterConfig: { targetArn: deadLetterQueue.arn },
                environment: { variables: args.executor.callerEnvironment() },
                tags,
            },
            { parent: this, dependsOn: [logGroup, ownPolicy, submitPolicy, httpsEgress] },
        );

        this.functionName = fn.name;
        this.functionArn = fn.arn;
        this.deadLetterQueueArn = deadLetterQueue.arn;
        this.deadLetterQueueUrl = deadLetterQueue.url;
        this.securityGroupId = securityGroup.id;
        this.logGroupName = logGroup.name;
        this.registerOutputs({
            functionName: this.functionName,
            functionArn: this.functionArn,
            deadLetterQueueArn: this.deadLetterQueueArn,
            securityGroupId: this.securityGroupId,
            logGroupName: this.logGroupName,
        });
    }
}

/** Who runs what with the job processor's role (read by `npm run access`; docs/access.md). */
export const jobWorkerAccess: ComponentAccess = {
    component: "jobfleet:shell:JobWorker",
    roles: [
        {
            role: /-role$/,
            runs: ["runtime/shellJob/caller"],
            expected: (plan) => plan.lambdaServiceCalls(),
            keep: [
                ...["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"].flatMap((action) =>
                    ["*:subnet/*", "*:security-group/*"].map((resource) => ({
                        action,
                        resource,
                        reason: "one statement lists the network-interface actions over the interface, subnet and security group ARNs; the service reference evaluates only CreateNetworkInterface on subnets and groups, so these pairs grant nothing",
                    })),
                ),
            ],
        },
    ],
};
