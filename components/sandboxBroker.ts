import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkFargateServiceArgs, FargateHealthCheck, FargateService, FargateServiceAlarms, FargateServiceArgs, PREFLIGHT_PLACEHOLDERS } from "./fargateService";
import { checkHttpsLoadBalancerArgs, HttpsLoadBalancer, HttpsLoadBalancerArgs } from "./httpsLoadBalancer";
import { grant, PolicyStatement } from "./iam";
import type { ComponentAccess } from "./access";

/** The header the broker's rate limiter keys on (seed 001, "Rate Limiter Accepts New Header"). */
export const RATE_LIMIT_HEADER = "X-Instruqt-Sandbox-ID";
export const BROKER_HEALTH_PATH = "/healthz";

/** Item-level DynamoDB actions: the data plane of one table, nothing that manages tables. */
export const ALLOCATION_TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
] as const;

export interface SandboxBrokerArgs {
    vpcId: pulumi.Input<string>;
    publicSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** config.isProd: digest-pinned image, no `*` origin, deletion protection on the table and load balancer. */
    isProd: boolean;
    image: string;
    cpu: number;
    memory: number;
    apiDesiredCount: number;
    /** 0 or 1: the background jobs must never run in two workers. */
    workerDesiredCount: number;
    certificateArn: string;
    corsAllowedOrigins: string[];
    /** Existing secret with the CSP API token; empty: an empty secret is created for operators to fill. */
    cspApiTokenSecretArn: string;
    rateLimitPerMinute: number;
    gracefulShutdownSeconds: number;
    logRetentionDays: number;
    alarms: FargateServiceAlarms;
    /** Port the API listens on inside the task; default 8080. */
    containerPort?: number;
    /** Default: uvicorn serving the API (no background jobs). */
    apiCommand?: string[];
    /** Default: the worker entry point running the background jobs. */
    workerCommand?: string[];
    /** Default: GET /healthz on the container port with Python's urllib (the image has no curl). */
    apiContainerHealthCheck?: FargateHealthCheck;
    tags?: Record<string, string>;
}

const ORIGIN = /^https?:\/\/[^/\s*]+$/;

/**
 * The sandbox broker of seed 001 in its own ECS cluster: the API service behind an
 * internet-facing HTTPS load balancer (HTTP only redirects; only the load balancer reaches the
 * tasks), and the worker service running the background jobs, both from the same image with
 * different commands; a DynamoDB table for allocations; the CSP API token injected as a secret.
 */
export class SandboxBroker extends pulumi.ComponentResource {
    public readonly cluster: aws.ecs.Cluster;
    public readonly allocationsTable: aws.dynamodb.Table;
    public readonly api: FargateService;
    public readonly worker: FargateService;
    public readonly loadBalancer: HttpsLoadBalancer;
    public readonly apiTargetGroup: aws.lb.TargetGroup;
    public readonly cspApiTokenSecretArn: pulumi.Output<string>;
    public readonly apiUrl: pulumi.Output<string>;
    public readonly noHealthyApiTargetsAlarm: aws.cloudwatch.MetricAlarm;

    constructor(name: string, args: SandboxBrokerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:services:SandboxBroker", name, {}, opts);
        const fail = (field: string, value: unknown, expected: string) => {
            throw new Error(`SandboxBroker ${name}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);
        };
        if (!Array.isArray(args.corsAllowedOrigins) || args.corsAllowedOrigins.length === 0) fail("corsAllowedOrigins", args.corsAllowedOrigins, "at least one origin like https://play.instruqt.com");
        for (const origin of args.corsAllowedOrigins) {
            if (origin === "*") {
                if (args.isProd) fail("corsAllowedOrigins", args.corsAllowedOrigins, "explicit origins in prod: * lets any website call the broker with its users' browsers");
            } else if (!ORIGIN.test(origin)) {
                fail("corsAllowedOrigins", origin, "an origin like https://play.instruqt.com (scheme and host, no path), or * outside prod");
            }
        }
        if (args.cspApiTokenSecretArn !== "" && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(args.cspApiTokenSecretArn)) {
            fail("cspApiTokenSecretArn", args.cspApiTokenSecretArn.startsWith("arn:") ? args.cspApiTokenSecretArn : "(not an ARN; hidden)", "a Secrets Manager secret ARN, or empty to create an empty secret");
        }
        if (!Number.isInteger(args.apiDesiredCount) || args.apiDesiredCount < 1) fail("apiDesiredCount", args.apiDesiredCount, "a whole number of 1 or more (seed 001: 2 in prod)");
        if (args.workerDesiredCount !== 0 && args.workerDesiredCount !== 1) fail("workerDesiredCount", args.workerDesiredCount, "0 or 1: the background jobs must run in at most one worker");
        if (!Number.isInteger(args.rateLimitPerMinute) || args.rateLimitPerMinute < 1) fail("rateLimitPerMinute", args.rateLimitPerMinute, "a whole number of requests of 1 or more");
        const containerPort = args.containerPort ?? 8080;
        if (!Number.isInteger(containerPort) || containerPort < 1024 || containerPort > 65535) fail("containerPort", containerPort, "a port from 1024 to 65535 (the container runs as a non-root user)");

        const tags = args.tags ?? {};
        const loadBalancerArgs = (defaultTargetGroupArn: pulumi.Input<string>): HttpsLoadBalancerArgs => ({
            vpcId: args.vpcId,
            subnetIds: args.publicSubnetIds,
            certificateArn: args.certificateArn,
            defaultTargetGroupArn,
            deletionProtection: args.isProd,
            tags,
        });
        interface Refs {
            clusterArn: pulumi.Input<string>;
            clusterName: pulumi.Input<string>;
            tableName: pulumi.Input<string>;
            secretArn: pulumi.Input<string>;
            targetGroupArn: pulumi.Input<string>;
        }
        const shared = (refs: Refs) => ({
            clusterArn: refs.clusterArn,
            clusterName: refs.clusterName,
            vpcId: args.vpcId,
            subnetIds: args.privateSubnetIds,
            image: args.image,
            requireDigest: args.isProd,
            cpu: args.cpu,
            memory: args.memory,
            containerName: "sandbox-broker",
            secrets: { CSP_API_TOKEN: refs.secretArn },
            gracefulShutdownSeconds: args.gracefulShutdownSeconds,
            logRetentionDays: args.logRetentionDays,
            alarms: args.alarms,
            tags,
        });
        const commonEnvironment = (refs: Refs) => ({
            ALLOCATIONS_TABLE_NAME: refs.tableName,
            GRACEFUL_SHUTDOWN_TIMEOUT_SEC: String(args.gracefulShutdownSeconds),
        });
        const apiArgs = (refs: Refs): FargateServiceArgs => ({
            ...shared(refs),
            command: args.apiCommand ?? ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", String(containerPort), "--timeout-graceful-shutdown", String(args.gracefulShutdownSeconds)],
            portMappings: [{ containerPort, name: "http", appProtocol: "http" }],
            environment: {
                ...commonEnvironment(refs),
                PORT: String(containerPort),
                RUN_BACKGROUND_JOBS: "false",
                CORS_ALLOWED_ORIGINS: args.corsAllowedOrigins.join(","),
                RATE_LIMIT_PER_MINUTE: String(args.rateLimitPerMinute),
                RATE_LIMIT_HEADER,
            },
            healthCheck: args.apiContainerHealthCheck ?? {
                command: ["CMD-SHELL", `python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${containerPort}${BROKER_HEALTH_PATH}', timeout=4)" || exit 1`],
                intervalSeconds: 30,
                timeoutSeconds: 5,
                retries: 3,
                startPeriodSeconds: 30,
            },
            logGroupName: `/ecs/${name}-api`,
            desiredCount: args.apiDesiredCount,
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            loadBalancers: [{ targetGroupArn: refs.targetGroupArn, containerPort }],
            healthCheckGracePeriodSeconds: 60,
        });
        const workerArgs = (refs: Refs): FargateServiceArgs => ({
            ...shared(refs),
            command: args.workerCommand ?? ["python", "-m", "app.worker"],
            environment: { ...commonEnvironment(refs), RUN_BACKGROUND_JOBS: "true" },
            logGroupName: `/ecs/${name}-worker`,
            desiredCount: args.workerDesiredCount,
            // Stop the old worker before starting the new one: two workers would run every job twice.
            minimumHealthyPercent: 0,
            maximumPercent: 100,
        });

        // Every child component's arguments are checked here, before anything is created.
        const p = PREFLIGHT_PLACEHOLDERS;
        const preflight: Refs = { clusterArn: p.clusterArn, clusterName: p.clusterName, tableName: p.id, secretArn: args.cspApiTokenSecretArn || p.secretArn, targetGroupArn: p.targetGroupArn };
        checkHttpsLoadBalancerArgs(`${name}-alb`, loadBalancerArgs(p.targetGroupArn));
        checkFargateServiceArgs(`${name}-api`, apiArgs(preflight));
        checkFargateServiceArgs(`${name}-worker`, workerArgs(preflight));

        this.cluster = new aws.ecs.Cluster(name, { settings: [{ name: "containerInsights", value: "enabled" }], tags }, { parent: this });

        this.allocationsTable = new aws.dynamodb.Table(
            `${name}-allocations`,
            {
                billingMode: "PAY_PER_REQUEST",
                hashKey: "allocation_id",
                attributes: [{ name: "allocation_id", type: "S" }],
                pointInTimeRecovery: { enabled: true },
                serverSideEncryption: { enabled: true },
                deletionProtectionEnabled: args.isProd,
                tags,
            },
            { parent: this },
        );

        if (args.cspApiTokenSecretArn === "") {
            // No value on purpose: the token never passes through Pulumi. Operators put it with
            // `aws secretsmanager put-secret-value` (see docs/services.md) before the tasks can start.
            const secret = new aws.secretsmanager.Secret(
                `${name}-csp-api-token`,
                { description: `CSP API token of the sandbox broker (${name}); value set by operators, never by the stack`, recoveryWindowInDays: args.isProd ? 30 : 7, tags },
                { parent: this },
            );
            this.cspApiTokenSecretArn = secret.arn;
        } else {
            this.cspApiTokenSecretArn = pulumi.output(args.cspApiTokenSecretArn);
        }

        this.apiTargetGroup = new aws.lb.TargetGroup(
            `${name}-api`,
            {
                vpcId: args.vpcId,
                targetType: "ip",
                protocol: "HTTP",
                port: containerPort,
                // ECS waits for the deregistration before SIGTERM; the drain then has the whole graceful budget.
                deregistrationDelay: args.gracefulShutdownSeconds,
                healthCheck: { enabled: true, protocol: "HTTP", path: BROKER_HEALTH_PATH, matcher: "200", port: "traffic-port", interval: 30, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3 },
                tags,
            },
            { parent: this },
        );
        this.loadBalancer = new HttpsLoadBalancer(`${name}-alb`, loadBalancerArgs(this.apiTargetGroup.arn), { parent: this });

        const refs: Refs = {
            clusterArn: this.cluster.arn,
            clusterName: this.cluster.name,
            tableName: this.allocationsTable.name,
            secretArn: this.cspApiTokenSecretArn,
            targetGroupArn: this.apiTargetGroup.arn,
        };
        this.api = new FargateService(`${name}-api`, apiArgs(refs), { parent: this, dependsOn: [this.loadBalancer.httpsListener] });
        this.loadBalancer.allowTrafficTo("api", this.api.securityGroup.id, containerPort);
        this.worker = new FargateService(`${name}-worker`, workerArgs(refs), { parent: this });

        this.grantAllocationsAccess(`${name}-api-allocations`, this.api.taskRole);
        this.grantAllocationsAccess(`${name}-worker-allocations`, this.worker.taskRole);

        this.noHealthyApiTargetsAlarm = new aws.cloudwatch.MetricAlarm(
            `${name}-api-no-healthy-targets`,
            {
                alarmDescription: `${name}: no healthy API target behind the load balancer for 2 minutes`,
                namespace: "AWS/ApplicationELB",
                metricName: "HealthyHostCount",
                dimensions: { TargetGroup: this.apiTargetGroup.arnSuffix, LoadBalancer: this.loadBalancer.arnSuffix },
                statistic: "Minimum",
                period: 60,
                evaluationPeriods: 2,
                datapointsToAlarm: 2,
                threshold: 1,
                comparisonOperator: "LessThanThreshold",
                treatMissingData: "breaching",
                alarmActions: [args.alarms.topicArn],
                okActions: [args.alarms.topicArn],
                tags,
            },
            { parent: this },
        );

        this.apiUrl = pulumi.interpolate`https://${this.loadBalancer.dnsName}`;
        this.registerOutputs({
            clusterName: this.cluster.name,
            apiServiceName: this.api.serviceName,
            workerServiceName: this.worker.serviceName,
            allocationsTableName: this.allocationsTable.name,
            cspApiTokenSecretArn: this.cspApiTokenSecretArn,
            apiUrl: this.apiUrl,
        });
    }

    /** Item-level read/write on the allocations table (and its indexes) for a role; nothing that manages the table. */
    grantAllocationsAccess(policyName: string, role: aws.iam.Role): aws.iam.RolePolicy {
        const statement: PolicyStatement = {
            Sid: "AllocationsTableItems",
            Effect: "Allow",
            Action: [...ALLOCATION_TABLE_ACTIONS],
            Resource: [this.allocationsTable.arn, pulumi.interpolate`${this.allocationsTable.arn}/index/*`],
        };
        return grant(policyName, role, [statement], { parent: this });
    }
}

/**
 * The broker's code lives in its own repository (seed 001): the API and the worker read and write
 * allocations in the table the task environment names. These are the calls the seed documents.
 */
export const sandboxBrokerAccess: ComponentAccess = {
    component: "jobfleet:services:SandboxBroker",
    roles: [
        {
            role: /-task$/,
            expected: (plan) => {
                const tables = new Set(plan.containers().flatMap((c) => (c.environment as { name: string; value: string }[]).filter((e) => e.name === "ALLOCATIONS_TABLE_NAME").map((e) => e.value)));
                const why = "seed 001: the broker creates, reads, updates, lists and expires allocations in its table";
                return [...tables].flatMap((table) =>
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"].map((action) => ({
                        action,
                        resource: `arn:aws:dynamodb:${plan.region}:${plan.accountId}:table/${table}`,
                        why,
                    })),
                );
            },
            keep: ALLOCATION_TABLE_ACTIONS.map((action) => ({
                action,
                resource: "arn:aws:dynamodb:*:table/*",
                reason: "seed 001 names the allocations table but not the item APIs the broker's code uses; the grant is the table's item-level data plane (ALLOCATION_TABLE_ACTIONS, indexes included) and nothing that manages it, until the broker's code is audited",
            })),
        },
    ],
};
