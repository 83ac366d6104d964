import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLOUDWATCH_RETENTION_DAYS, fargateSizeProblem, isDigestPinned } from "../config";
import { ecrRepositoryArnOf } from "./ecrImage";
import { grant, PolicyStatement, serviceRole } from "./iam";
import type { ComponentAccess } from "./access";

/** Fargate sends SIGKILL at most 120 s after SIGTERM, whatever the task definition asks for. */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
export const DEFAULT_STOP_TIMEOUT_MARGIN_SECONDS = 5;
export const DEFAULT_CONTAINER_USER = "1001";

export interface FargatePortMapping {
    containerPort: number;
    name?: string;
    appProtocol?: "http" | "grpc";
}

export interface FargateHealthCheck {
    /** ["CMD", ...] or ["CMD-SHELL", "..."], as ECS expects. */
    command: string[];
    intervalSeconds: number;
    timeoutSeconds: number;
    retries: number;
    startPeriodSeconds: number;
}

export interface FargateEfsVolume {
    name: string;
    fileSystemId: pulumi.Input<string>;
    accessPointId: pulumi.Input<string>;
    containerPath: string;
    readOnly?: boolean;
}

export interface FargateCapacityProviderStrategy {
    capacityProvider: "FARGATE" | "FARGATE_SPOT";
    weight: number;
    base?: number;
}

export interface FargateServiceAlarms {
    topicArn: pulumi.Input<string>;
    cpuHighPercent: number;
    memoryHighPercent: number;
    evaluationMinutes: number;
}

export interface FargateServiceArgs {
    /** The caller's aws.ecs.Cluster arn. */
    clusterArn: pulumi.Input<string>;
    /** The cluster's name, for alarm dimensions. */
    clusterName: pulumi.Input<string>;
    vpcId: pulumi.Input<string>;
    /** Private subnets; tasks never get a public IP. */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** Must be pinned by digest (repo@sha256:<64 hex>) when requireDigest is true. */
    image: string;
    /** config.isProd. */
    requireDigest: boolean;
    cpu: number;
    memory: number;
    containerName: string;
    command?: string[];
    portMappings?: FargatePortMapping[];
    /** Plain, non-secret values only; secrets go in `secrets`. */
    environment?: Record<string, pulumi.Input<string>>;
    /** Env var -> Secrets Manager secret ARN (optionally with the ":jsonKey:versionStage:versionId" suffix ECS accepts). */
    secrets?: Record<string, pulumi.Input<string>>;
    /** Seconds the process drains after SIGTERM; stopTimeout = this + stopTimeoutMarginSeconds. */
    gracefulShutdownSeconds: number;
    /** Default 5; must be at least 1 so that ECS never kills a drain that is still within its budget. */
    stopTimeoutMarginSeconds?: number;
    healthCheck?: FargateHealthCheck;
    /** Default true; `/tmp` (and every path in scratchPaths) stays writable through task-local volumes. */
    readonlyRootFilesystem?: boolean;
    /** Extra writable directories for a read-only root filesystem (e.g. a cache directory under the app's home). */
    scratchPaths?: string[];
    /** Default "1001"; root (0 or "root") is refused. */
    user?: string;
    /** e.g. /ecs/sandbox-broker-api */
    logGroupName: string;
    logRetentionDays: number;
    desiredCount: number;
    /** Default 100 (a singleton worker may use 0 with maximumPercent 100). */
    minimumHealthyPercent?: number;
    /** Default 200. */
    maximumPercent?: number;
    /** When set, the service uses these instead of launchType FARGATE. */
    capacityProviderStrategies?: FargateCapacityProviderStrategy[];
    /** Target groups the caller created (with its health check numbers); each port must be in portMappings. */
    loadBalancers?: { targetGroupArn: pulumi.Input<string>; containerPort: number }[];
    healthCheckGracePeriodSeconds?: number;
    /** Mounted with transit encryption and IAM authorization through the access point. */
    efsVolumes?: FargateEfsVolume[];
    alarms: FargateServiceAlarms;
    /** Set when Application Auto Scaling owns desiredCount, so a stack update does not reset it. */
    desiredCountManagedExternally?: boolean;
    /** Task definition family; default: the component name. */
    family?: string;
    /** Default X86_64. */
    cpuArchitecture?: "X86_64" | "ARM64";
    tags?: Record<string, string>;
}

const SECRETS_MANAGER_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+(:[^:]*:[^:]*:[^:]*)?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_LOOKING_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL)/i;
const LOG_GROUP_NAME = /^[A-Za-z0-9_\-/.#]{1,512}$/;
const CONTAINER_NAME = /^[A-Za-z0-9_-]{1,255}$/;

/** The secret's own ARN, without the jsonKey/versionStage/versionId suffix a `valueFrom` may carry. */
export function secretArnOf(valueFrom: string): string {
    return valueFrom.split(":").slice(0, 7).join(":");
}

/** The stop timeout a container gets for a graceful shutdown budget. */
export function stopTimeoutFor(gracefulShutdownSeconds: number, marginSeconds = DEFAULT_STOP_TIMEOUT_MARGIN_SECONDS): number {
    return gracefulShutdownSeconds + marginSeconds;
}

function isInt(v: unknown): v is number {
    return typeof v === "number" && Number.isInteger(v);
}

/**
 * Every check the component makes on its arguments, in one place, before anything is created.
 * Returns the problems as sentences naming the argument, the value and what was expected.
 */
export function fargateServiceArgsProblems(name: string, args: FargateServiceArgs): string[] {
    const problems: string[] = [];
    const add = (field: string, value: unknown, expected: string) =>
        problems.push(`FargateService ${name}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);

    const size = fargateSizeProblem(args.cpu, args.memory);
    if (size) add("cpu/memory", `${args.cpu}/${args.memory}`, `a task size Fargate accepts (${size})`);

    if (typeof args.image !== "string" || args.image.trim() === "") {
        add("image", args.image, "an image reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:<64 hex>");
    } else if (/:latest(@|$)/.test(args.image)) {
        add("image", args.image, "an image without the moving tag :latest (pin it by digest: repository@sha256:<64 hex>)");
    } else if (args.requireDigest && !isDigestPinned(args.image)) {
        add("image", args.image, "an image pinned by digest (repository@sha256:<64 hex>) because requireDigest is set (prod): a tag can move, a digest runs exactly the reviewed build");
    }

    if (!CONTAINER_NAME.test(args.containerName ?? "")) add("containerName", args.containerName, "1 to 255 letters, digits, hyphens or underscores");
    if (args.command !== undefined && (args.command.length === 0 || args.command.some((c) => typeof c !== "string"))) {
        add("command", args.command, "a non-empty list of strings (omit it to use the image's CMD)");
    }

    const margin = args.stopTimeoutMarginSeconds ?? DEFAULT_STOP_TIMEOUT_MARGIN_SECONDS;
    if (!isInt(args.gracefulShutdownSeconds) || args.gracefulShutdownSeconds < 1) {
        add("gracefulShutdownSeconds", args.gracefulShutdownSeconds, "a whole number of seconds of at least 1");
    } else if (!isInt(margin) || margin < 1) {
        add(
            "stopTimeoutMarginSeconds",
            margin,
            `a whole number of at least 1, so the stop timeout (${args.gracefulShutdownSeconds} + margin) is above the ${args.gracefulShutdownSeconds} s graceful shutdown; at or below it ECS kills the container mid-drain`,
        );
    } else {
        const stopTimeout = stopTimeoutFor(args.gracefulShutdownSeconds, margin);
        if (stopTimeout > FARGATE_MAX_STOP_TIMEOUT_SECONDS) {
            add(
                "gracefulShutdownSeconds + stopTimeoutMarginSeconds",
                stopTimeout,
                `at most ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} seconds (Fargate's stop timeout limit): lower gracefulShutdownSeconds (${args.gracefulShutdownSeconds}) or the margin (${margin})`,
            );
        }
    }

    const hc = args.healthCheck;
    if (hc) {
        if (!Array.isArray(hc.command) || hc.command.length < 2 || !["CMD", "CMD-SHELL"].includes(hc.command[0])) {
            add("healthCheck.command", hc.command, `["CMD", "executable", ...args] or ["CMD-SHELL", "shell command"]`);
        }
        const bounds: [keyof FargateHealthCheck, number, number][] = [
            ["intervalSeconds", 5, 300],
            ["timeoutSeconds", 2, 60],
            ["retries", 1, 10],
            ["startPeriodSeconds", 0, 300],
        ];
        for (const [field, min, max] of bounds) {
            const v = hc[field];
            if (!isInt(v) || v < min || v > max) add(`healthCheck.${field}`, v, `a whole number from ${min} to ${max} (ECS's range)`);
        }
        if (isInt(hc.timeoutSeconds) && isInt(hc.intervalSeconds) && hc.timeoutSeconds >= hc.intervalSeconds) {
            add("healthCheck.timeoutSeconds", hc.timeoutSeconds, `less than healthCheck.intervalSeconds (${hc.intervalSeconds})`);
        }
    }

    const user = args.user ?? DEFAULT_CONTAINER_USER;
    if (typeof user !== "string" || user.trim() === "" || /^(0|root)(:|$)/.test(user.trim())) {
        add("user", user, `a non-root user such as "${DEFAULT_CONTAINER_USER}" or "1001:1001"`);
    }

    for (const p of args.scratchPaths ?? []) {
        if (!p.startsWith("/") || p === "/" || p === "/tmp") add("scratchPaths", p, "absolute directories other than / and /tmp (/tmp is always writable)");
    }

    if (!LOG_GROUP_NAME.test(args.logGroupName ?? "")) add("logGroupName", args.logGroupName, "1 to 512 characters of letters, digits, _ - / . #, like /ecs/sandbox-broker-api");
    if (!(CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays)) {
        add("logRetentionDays", args.logRetentionDays, `one of the retention periods CloudWatch accepts: ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`);
    }

    if (!isInt(args.desiredCount) || args.desiredCount < 0) add("desiredCount", args.desiredCount, "a whole number of tasks, 0 or more");
    const minPercent = args.minimumHealthyPercent ?? 100;
    const maxPercent = args.maximumPercent ?? 200;
    if (!isInt(minPercent) || minPercent < 0 || minPercent > 100) add("minimumHealthyPercent", minPercent, "a whole number from 0 to 100");
    if (!isInt(maxPercent) || maxPercent < 100 || maxPercent > 200) add("maximumPercent", maxPercent, "a whole number from 100 to 200");
    if (isInt(minPercent) && isInt(maxPercent) && maxPercent <= minPercent) {
        add("maximumPercent", maxPercent, `more than minimumHealthyPercent (${minPercent}), or a rolling deployment can neither start a new task nor stop an old one`);
    }

    const ports = (args.portMappings ?? []).map((p) => p.containerPort);
    for (const p of args.portMappings ?? []) {
        if (!isInt(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) add("portMappings.containerPort", p.containerPort, "a TCP port from 1 to 65535");
        if (p.name !== undefined && !/^[a-z0-9][a-z0-9-]{0,63}$/.test(p.name)) add("portMappings.name", p.name, "lower-case letters, digits and hyphens, at most 64");
    }
    if (new Set(ports).size !== ports.length) add("portMappings", ports, "each container port once");
    for (const lb of args.loadBalancers ?? []) {
        if (!ports.includes(lb.containerPort)) add("loadBalancers.containerPort", lb.containerPort, `one of the container's portMappings (${ports.join(", ") || "none declared"})`);
    }
    if (args.healthCheckGracePeriodSeconds !== undefined) {
        if (!isInt(args.healthCheckGracePeriodSeconds) || args.healthCheckGracePeriodSeconds < 0 || args.healthCheckGracePeriodSeconds > 2147483647) {
            add("healthCheckGracePeriodSeconds", args.healthCheckGracePeriodSeconds, "a whole number of seconds, 0 or more");
        } else if ((args.loadBalancers ?? []).length === 0) {
            add("healthCheckGracePeriodSeconds", args.healthCheckGracePeriodSeconds, "to be set only together with loadBalancers (ECS ignores it otherwise)");
        }
    }

    const environment = args.environment ?? {};
    const secrets = args.secrets ?? {};
    for (const [key, value] of Object.entries(environment)) {
        if (!ENV_NAME.test(key)) add(`environment name`, key, "letters, digits and underscores, not starting with a digit");
        if (key in secrets) add(`environment.${key}`, key, "each variable in either environment or secrets, not both");
        if (SECRET_LOOKING_NAME.test(key) && typeof value === "string" && !/^arn:aws/.test(value) && !/^(\d+|true|false)$/.test(value)) {
            add(`environment.${key}`, "(value hidden)", "no secret in plain environment: pass a Secrets Manager ARN in `secrets` instead");
        }
    }
    for (const [key, value] of Object.entries(secrets)) {
        if (!ENV_NAME.test(key)) add(`secrets name`, key, "letters, digits and underscores, not starting with a digit");
        if (typeof value === "string" && !SECRETS_MANAGER_ARN.test(value)) {
            add(`secrets.${key}`, value.startsWith("arn:") ? value : "(a value that is not an ARN; hidden)", "a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>, optionally :jsonKey:: at the end); secret values never go into the task definition");
        }
    }

    const strategies = args.capacityProviderStrategies;
    if (strategies !== undefined) {
        if (strategies.length === 0) add("capacityProviderStrategies", strategies, "at least one strategy (omit it for launchType FARGATE)");
        if (strategies.every((s) => s.weight === 0)) add("capacityProviderStrategies", strategies, "at least one strategy with a weight above 0");
        for (const s of strategies) {
            if (!["FARGATE", "FARGATE_SPOT"].includes(s.capacityProvider)) add("capacityProviderStrategies.capacityProvider", s.capacityProvider, "FARGATE or FARGATE_SPOT");
            if (!isInt(s.weight) || s.weight < 0 || s.weight > 1000) add("capacityProviderStrategies.weight", s.weight, "a whole number from 0 to 1000");
            if (s.base !== undefined && (!isInt(s.base) || s.base < 0 || s.base > 100000)) add("capacityProviderStrategies.base", s.base, "a whole number from 0 to 100000");
        }
        if (strategies.filter((s) => (s.base ?? 0) > 0).length > 1) add("capacityProviderStrategies", strategies, "a base on at most one strategy (ECS's rule)");
    }

    const volumeNames = (args.efsVolumes ?? []).map((v) => v.name);
    for (const v of args.efsVolumes ?? []) {
        if (!/^[A-Za-z0-9_-]{1,255}$/.test(v.name) || v.name === "tmp" || v.name.startsWith("scratch")) add("efsVolumes.name", v.name, "letters, digits, _ or -, not tmp or scratch* (reserved for the writable scratch volumes)");
        if (!v.containerPath.startsWith("/") || v.containerPath === "/") add("efsVolumes.containerPath", v.containerPath, "an absolute directory other than /");
    }
    if (new Set(volumeNames).size !== volumeNames.length) add("efsVolumes", volumeNames, "unique volume names");

    const a = args.alarms;
    if (!a) {
        add("alarms", a, "the alarm topic and thresholds: every service gets CPU-high and memory-high alarms");
    } else {
        if (!isInt(a.cpuHighPercent) || a.cpuHighPercent < 1 || a.cpuHighPercent > 100) add("alarms.cpuHighPercent", a.cpuHighPercent, "a whole percentage from 1 to 100");
        if (!isInt(a.memoryHighPercent) || a.memoryHighPercent < 1 || a.memoryHighPercent > 100) add("alarms.memoryHighPercent", a.memoryHighPercent, "a whole percentage from 1 to 100");
        if (!isInt(a.evaluationMinutes) || a.evaluationMinutes < 1 || a.evaluationMinutes > 60) add("alarms.evaluationMinutes", a.evaluationMinutes, "a whole number of minutes from 1 to 60");
    }
    if (args.family !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(args.family)) add("family", args.family, "1 to 255 letters, digits, hyphens or underscores");
    return problems;
}

/** Throws every problem of fargateServiceArgsProblems at once. */
export function checkFargateServiceArgs(name: string, args: FargateServiceArgs): void {
    const problems = fargateServiceArgsProblems(name, args);
    if (problems.length > 0) throw new Error(problems.join("\n"));
}

/**
 * Stand-ins for the outputs an owner only has once it has created its cluster, table or target
 * groups, so it can check the FargateService arguments it will pass before creating anything.
 * The checks never look at these values, except secrets, which must look like Secrets Manager ARNs.
 */
export const PREFLIGHT_PLACEHOLDERS = {
    clusterArn: "arn:aws:ecs:us-east-1:000000000000:cluster/preflight",
    clusterName: "preflight",
    targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/preflight/0000000000000000",
    secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:preflight-AbCdEf",
    id: "preflight",
} as const;

/**
 * One long-running container on ECS Fargate, built the same safe way for every service: a task
 * definition with a validated size, a non-root user, a read-only root filesystem with writable
 * scratch volumes, a stop timeout above the graceful shutdown, a container health check, logs with
 * retention and secrets only by ARN; separate execution and task roles; a service in private
 * subnets without a public IP, with circuit breaker and rollback; CPU and memory alarms.
 *
 * The task role starts empty (plus EFS client access when volumes are mounted): the owner grants
 * what its service needs with `grant(..., service.taskRole, ...)`. The security group starts with
 * HTTPS egress only: the owner adds ingress (from its load balancer) and any other egress with
 * `aws.vpc.SecurityGroupIngressRule` / `SecurityGroupEgressRule` on `securityGroup.id`.
 */
export class FargateService extends pulumi.ComponentResource {
    public readonly taskRole: aws.iam.Role;
    public readonly executionRole: aws.iam.Role;
    public readonly taskDefinition: aws.ecs.TaskDefinition;
    public readonly service: aws.ecs.Service;
    public readonly securityGroup: aws.ec2.SecurityGroup;
    public readonly logGroup: aws.cloudwatch.LogGroup;
    public readonly serviceName: pulumi.Output<string>;
    public readonly cpuAlarm: aws.cloudwatch.MetricAlarm;
    public readonly memoryAlarm: aws.cloudwatch.MetricAlarm;
    /** The container's stop timeout in seconds (gracefulShutdownSeconds + margin). */
    public readonly stopTimeoutSeconds: number;

    constructor(name: string, args: FargateServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:compute:FargateService", name, {}, opts);
        checkFargateServiceArgs(name, args);

        const tags = args.tags ?? {};
        const margin = args.stopTimeoutMarginSeconds ?? DEFAULT_STOP_TIMEOUT_MARGIN_SECONDS;
        this.stopTimeoutSeconds = stopTimeoutFor(args.gracefulShutdownSeconds, margin);
        const secrets = args.secrets ?? {};
        const efsVolumes = args.efsVolumes ?? [];
        const readonlyRootFilesystem = args.readonlyRootFilesystem ?? true;
        const scratchPaths = ["/tmp", ...(args.scratchPaths ?? [])];

        this.logGroup = new aws.cloudwatch.LogGroup(name, { name: args.logGroupName, retentionInDays: args.logRetentionDays, tags }, { parent: this });

        this.executionRole = serviceRole(`${name}-execution`, { kind: "execution", description: `ECS execution role of ${name}: image pull, logs, injected secrets`, tags }, { parent: this });
        const executionStatements: pulumi.Input<PolicyStatement>[] = [];
        const repositoryArn = ecrRepositoryArnOf(args.image);
        if (repositoryArn) {
            // GetAuthorizationToken has no resource type: AWS only accepts "*" for it.
            executionStatements.push({ Sid: "EcrAuthorizationToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" });
            executionStatements.push({ Sid: "EcrPullImage", Effect: "Allow", Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], Resource: repositoryArn });
        }
        executionStatements.push({
            Sid: "WriteOwnLogGroup",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: pulumi.interpolate`${this.logGroup.arn}:log-stream:*`,
        });
        const secretValues = Object.values(secrets);
        if (secretValues.length > 0) {
            const secretArns = pulumi.all(secretValues).apply((values) => {
                for (const v of values) {
                    if (!SECRETS_MANAGER_ARN.test(v)) throw new Error(`FargateService ${name}: a secrets value resolved to ${JSON.stringify(v.startsWith("arn:") ? v : "(not an ARN; hidden)")}; expected a Secrets Manager secret ARN.`);
                }
                return [...new Set(values.map(secretArnOf))].sort();
            });
            executionStatements.push(secretArns.apply((arns): PolicyStatement => ({ Sid: "ReadInjectedSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: arns })));
        }
        const executionPolicy = grant(`${name}-execution`, this.executionRole, executionStatements, { parent: this });

        this.taskRole = serviceRole(`${name}-task`, { kind: "task", description: `ECS task role of ${name}: only what its owner grants`, tags }, { parent: this });
        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const region = aws.getRegionOutput({}, { parent: this }).region;
        const taskPolicies: aws.iam.RolePolicy[] = [];
        if (efsVolumes.length > 0) {
            // IAM-authorized mounts: the task role may mount (and write, unless read-only) only through its access point.
            const efsStatements = efsVolumes.map((v, i) => ({
                Sid: `MountEfsVolume${i}`,
                Effect: "Allow" as const,
                Action: v.readOnly ? ["elasticfilesystem:ClientMount"] : ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                Resource: pulumi.interpolate`arn:${partition}:elasticfilesystem:${region}:${accountId}:file-system/${v.fileSystemId}`,
                Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": pulumi.interpolate`arn:${partition}:elasticfilesystem:${region}:${accountId}:access-point/${v.accessPointId}` } },
            }));
            taskPolicies.push(grant(`${name}-efs`, this.taskRole, efsStatements, { parent: this }));
        }

        const environment = Object.entries(args.environment ?? {}).sort(([a], [b]) => a.localeCompare(b));
        const containerDefinition = {
            name: args.containerName,
            image: args.image,
            essential: true,
            ...(args.command ? { command: args.command } : {}),
            user: args.user ?? DEFAULT_CONTAINER_USER,
            readonlyRootFilesystem,
            // An init process reaps zombies and forwards SIGTERM to the app, so the graceful shutdown starts.
            linuxParameters: { initProcessEnabled: true },
            stopTimeout: this.stopTimeoutSeconds,
            portMappings: (args.portMappings ?? []).map((p) => ({
                containerPort: p.containerPort,
                hostPort: p.containerPort,
                protocol: "tcp",
                ...(p.name ? { name: p.name } : {}),
                ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
            })),
            environment: environment.map(([key, value]) => ({ name: key, value })),
            secrets: Object.entries(secrets)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([key, valueFrom]) => ({ name: key, valueFrom })),
            ...(args.healthCheck
                ? {
                      healthCheck: {
                          command: args.healthCheck.command,
                          interval: args.healthCheck.intervalSeconds,
                          timeout: args.healthCheck.timeoutSeconds,
                          retries: args.healthCheck.retries,
                          startPeriod: args.healthCheck.startPeriodSeconds,
                      },
                  }
                : {}),
            mountPoints: [
                ...scratchPaths.map((containerPath, i) => ({ sourceVolume: i === 0 ? "tmp" : `scratch${i}`, containerPath, readOnly: false })),
                ...efsVolumes.map((v) => ({ sourceVolume: v.name, containerPath: v.containerPath, readOnly: v.readOnly ?? false })),
            ],
            logConfiguration: {
                logDriver: "awslogs",
                options: { "awslogs-group": this.logGroup.name, "awslogs-region": region, "awslogs-stream-prefix": args.containerName },
            },
        };

        this.taskDefinition = new aws.ecs.TaskDefinition(
            name,
            {
                family: args.family ?? name,
                networkMode: "awsvpc",
                requiresCompatibilities: ["FARGATE"],
                cpu: String(args.cpu),
                memory: String(args.memory),
                runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: args.cpuArchitecture ?? "X86_64" },
                executionRoleArn: this.executionRole.arn,
                taskRoleArn: this.taskRole.arn,
                containerDefinitions: pulumi.jsonStringify([containerDefinition]),
                volumes: [
                    // A volume without a host path is task-local (ephemeral) storage on Fargate.
                    ...scratchPaths.map((_, i) => ({ name: i === 0 ? "tmp" : `scratch${i}` })),
                    ...efsVolumes.map((v) => ({
                        name: v.name,
                        efsVolumeConfiguration: {
                            fileSystemId: v.fileSystemId,
                            transitEncryption: "ENABLED",
                            authorizationConfig: { accessPointId: v.accessPointId, iam: "ENABLED" },
                        },
                    })),
                ],
                tags,
            },
            { parent: this },
        );

        this.securityGroup = new aws.ec2.SecurityGroup(
            name,
            { vpcId: args.vpcId, description: `Tasks of ${name}: no ingress unless its owner adds it; HTTPS egress`, revokeRulesOnDelete: true, tags: { ...tags, Name: name } },
            { parent: this },
        );
        // Rules are separate resources (not inline) so owners can add theirs to the same group without the two fighting.
        const httpsEgress = new aws.vpc.SecurityGroupEgressRule(
            `${name}-https-egress`,
            { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS to AWS APIs (endpoints or NAT) and external APIs", tags },
            { parent: this },
        );

        const strategies = args.capacityProviderStrategies;
        this.service = new aws.ecs.Service(
            name,
            {
                cluster: args.clusterArn,
                taskDefinition: this.taskDefinition.arn,
                desiredCount: args.desiredCount,
                ...(strategies
                    ? { capacityProviderStrategies: strategies.map((s) => ({ capacityProvider: s.capacityProvider, weight: s.weight, ...(s.base !== undefined ? { base: s.base } : {}) })) }
                    : { launchType: "FARGATE" }),
                platformVersion: "LATEST",
                networkConfiguration: { subnets: args.subnetIds, securityGroups: [this.securityGroup.id], assignPublicIp: false },
                deploymentCircuitBreaker: { enable: true, rollback: true },
                deploymentController: { type: "ECS" },
                deploymentMinimumHealthyPercent: args.minimumHealthyPercent ?? 100,
                deploymentMaximumPercent: args.maximumPercent ?? 200,
                loadBalancers: (args.loadBalancers ?? []).map((lb) => ({ targetGroupArn: lb.targetGroupArn, containerName: args.containerName, containerPort: lb.containerPort })),
                ...(args.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: args.healthCheckGracePeriodSeconds } : {}),
                enableExecuteCommand: false,
                enableEcsManagedTags: true,
                propagateTags: "SERVICE",
                tags,
            },
            {
                parent: this,
                dependsOn: [executionPolicy, ...taskPolicies, httpsEgress],
                ...(args.desiredCountManagedExternally ? { ignoreChanges: ["desiredCount"] } : {}),
            },
        );
        this.serviceName = this.service.name;

        const alarm = (metric: "CPUUtilization" | "MemoryUtilization", suffix: string, threshold: number, what: string) =>
            new aws.cloudwatch.MetricAlarm(
                `${name}-${suffix}`,
                {
                    alarmDescription: `${name}: average ${what} above ${threshold}% for ${args.alarms.evaluationMinutes} consecutive minute(s)`,
                    namespace: "AWS/ECS",
                    metricName: metric,
                    dimensions: { ClusterName: args.clusterName, ServiceName: this.service.name },
                    statistic: "Average",
                    period: 60,
                    evaluationPeriods: args.alarms.evaluationMinutes,
                    datapointsToAlarm: args.alarms.evaluationMinutes,
                    threshold,
                    comparisonOperator: "GreaterThanThreshold",
                    // No data means no running task; the load balancer alarms of the owner cover that case.
                    treatMissingData: "notBreaching",
                    alarmActions: [args.alarms.topicArn],
                    okActions: [args.alarms.topicArn],
                    tags,
                },
                { parent: this },
            );
        this.cpuAlarm = alarm("CPUUtilization", "cpu-high", args.alarms.cpuHighPercent, "CPU utilisation");
        this.memoryAlarm = alarm("MemoryUtilization", "memory-high", args.alarms.memoryHighPercent, "memory utilisation");

        this.registerOutputs({
            serviceName: this.serviceName,
            taskDefinitionArn: this.taskDefinition.arn,
            taskRoleArn: this.taskRole.arn,
            executionRoleArn: this.executionRole.arn,
            securityGroupId: this.securityGroup.id,
            logGroupName: this.logGroup.name,
        });
    }
}

/** What ECS itself does with every Fargate service's roles (read by `npm run access`; docs/access.md). */
export const fargateServiceAccess: ComponentAccess = {
    component: "jobfleet:compute:FargateService",
    roles: [
        { role: /-execution$/, expected: (plan) => plan.ecsAgentCalls() },
        { role: /-task$/, expected: (plan) => plan.ecsVolumeCalls() },
    ],
};
