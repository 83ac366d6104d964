import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkFargateServiceArgs, FargateService, FargateServiceAlarms, FargateServiceArgs, PREFLIGHT_PLACEHOLDERS } from "./fargateService";
import { checkHttpsLoadBalancerArgs, HttpsLoadBalancer, HttpsLoadBalancerArgs } from "./httpsLoadBalancer";
import { grant, objectArn } from "./iam";
import { ABORT_INCOMPLETE_UPLOADS_RULE, PrivateBucket } from "./privateBucket";
import type { ComponentAccess } from "./access";

/** The numbers of seed 002 ("ALB_HEALTH_CHECK.md", "ecs-task-definition-template.json", "Recommended Alarms"). */
export const AGENT_RUNTIME = {
    restPort: 8080,
    a2aPort: 50051,
    uiPort: 3000,
    healthPath: "/health",
    restHealthCheck: { intervalSeconds: 30, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 3 },
    a2aHealthCheck: { intervalSeconds: 30, timeoutSeconds: 10, healthyThreshold: 2, unhealthyThreshold: 3 },
    containerHealthCheckStartPeriodSeconds: 60,
    wheelhousePath: "/wheelhouse",
    /** The non-root uid/gid the container runs as, and the owner of the wheelhouse directory. */
    uid: 1001,
    gid: 1001,
    /** HealthyHostCount below 1 for this many one-minute periods: "no healthy targets > 2 minutes". */
    noHealthyTargetsMinutes: 2,
    /** "Health check failures > 5 in 5 minutes". */
    unhealthyWindowSeconds: 300,
    unhealthyThreshold: 5,
} as const;

export interface AgentRuntimeArgs {
    vpcId: pulumi.Input<string>;
    /** The VPC's CIDR block: who may reach the internal gRPC (A2A) load balancer. */
    vpcCidr: string;
    publicSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** One entry per availability zone: each gets an EFS mount target. */
    privateSubnetIds: pulumi.Input<string>[];
    isProd: boolean;
    image: string;
    cpu: number;
    memory: number;
    desiredCount: number;
    /** GRACEFUL_SHUTDOWN_TIMEOUT_SEC; the container's stop timeout is 5 s more. */
    gracefulShutdownSeconds: number;
    appId: string;
    /** Key prefix (ending in /) of the package bucket the runtime may read. */
    packagePrefix: string;
    certificateArn: string;
    logRetentionDays: number;
    /** memoryHighPercent is seed 002's 80 % by default config. */
    alarms: FargateServiceAlarms;
    tags?: Record<string, string>;
}

/**
 * The agent runtime of seed 002 on Fargate, with its three surfaces: REST (8080) and the UI (3000)
 * through an internet-facing HTTPS load balancer, gRPC/A2A (50051) through an internal network
 * load balancer; an encrypted EFS wheelhouse cache mounted through an access point with TLS; the
 * package bucket it reads its agent packages from, and a task role that may read exactly those
 * packages and nothing else.
 */
export class AgentRuntime extends pulumi.ComponentResource {
    public readonly cluster: aws.ecs.Cluster;
    public readonly service: FargateService;
    public readonly packageBucket: aws.s3.Bucket;
    public readonly fileSystem: aws.efs.FileSystem;
    public readonly accessPoint: aws.efs.AccessPoint;
    public readonly loadBalancer: HttpsLoadBalancer;
    public readonly networkLoadBalancer: aws.lb.LoadBalancer;
    public readonly restTargetGroup: aws.lb.TargetGroup;
    public readonly uiTargetGroup: aws.lb.TargetGroup;
    public readonly a2aTargetGroup: aws.lb.TargetGroup;
    public readonly alarms: aws.cloudwatch.MetricAlarm[];
    public readonly restUrl: pulumi.Output<string>;
    public readonly uiUrl: pulumi.Output<string>;
    public readonly a2aEndpoint: pulumi.Output<string>;
    private readonly baseName: string;

    constructor(name: string, args: AgentRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:services:AgentRuntime", name, {}, opts);
        const fail = (field: string, value: unknown, expected: string) => {
            throw new Error(`AgentRuntime ${name}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);
        };
        if (!/^[A-Za-z0-9!_.'()\-/]+\/$/.test(args.packagePrefix ?? "") || args.packagePrefix.startsWith("/")) {
            fail("packagePrefix", args.packagePrefix, "an S3 key prefix ending in / and not starting with /, without * (which would widen the task's read grant), like packages/");
        }
        if (typeof args.appId !== "string" || args.appId.trim() === "") fail("appId", args.appId, "the AGENT_APP_ID the runtime serves");
        if (!Array.isArray(args.privateSubnetIds) || args.privateSubnetIds.length === 0) fail("privateSubnetIds", args.privateSubnetIds, "one private subnet per availability zone");
        if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(args.vpcCidr ?? "")) fail("vpcCidr", args.vpcCidr, "the VPC's IPv4 CIDR block, like 10.40.0.0/16");
        if (!Number.isInteger(args.desiredCount) || args.desiredCount < 1) fail("desiredCount", args.desiredCount, "a whole number of tasks of 1 or more");

        this.baseName = name;
        const tags = args.tags ?? {};
        const rt = AGENT_RUNTIME;
        interface Refs {
            clusterArn: pulumi.Input<string>;
            clusterName: pulumi.Input<string>;
            packageBucketName: pulumi.Input<string>;
            fileSystemId: pulumi.Input<string>;
            accessPointId: pulumi.Input<string>;
            restTargetGroupArn: pulumi.Input<string>;
            a2aTargetGroupArn: pulumi.Input<string>;
            uiTargetGroupArn: pulumi.Input<string>;
        }
        const serviceArgs = (refs: Refs): FargateServiceArgs => ({
            clusterArn: refs.clusterArn,
            clusterName: refs.clusterName,
            vpcId: args.vpcId,
            subnetIds: args.privateSubnetIds,
            image: args.image,
            requireDigest: args.isProd,
            cpu: args.cpu,
            memory: args.memory,
            containerName: "agent-runtime",
            portMappings: [
                { containerPort: rt.restPort, name: "rest", appProtocol: "http" },
                { containerPort: rt.a2aPort, name: "a2a", appProtocol: "grpc" },
                { containerPort: rt.uiPort, name: "ui", appProtocol: "http" },
            ],
            environment: {
                AGENT_APP_ID: args.appId,
                PACKAGE_BUCKET: refs.packageBucketName,
                PACKAGE_PREFIX: args.packagePrefix,
                REST_PORT: String(rt.restPort),
                A2A_PORT: String(rt.a2aPort),
                UI_PORT: String(rt.uiPort),
                GRACEFUL_SHUTDOWN_TIMEOUT_SEC: String(args.gracefulShutdownSeconds),
                WHEELHOUSE_DIR: rt.wheelhousePath,
            },
            gracefulShutdownSeconds: args.gracefulShutdownSeconds,
            healthCheck: {
                command: ["CMD-SHELL", `curl -fsS http://127.0.0.1:${rt.restPort}${rt.healthPath} || exit 1`],
                intervalSeconds: 30,
                timeoutSeconds: 5,
                retries: 3,
                startPeriodSeconds: rt.containerHealthCheckStartPeriodSeconds,
            },
            logGroupName: `/ecs/${name}`,
            logRetentionDays: args.logRetentionDays,
            desiredCount: args.desiredCount,
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            loadBalancers: [
                { targetGroupArn: refs.restTargetGroupArn, containerPort: rt.restPort },
                { targetGroupArn: refs.a2aTargetGroupArn, containerPort: rt.a2aPort },
                { targetGroupArn: refs.uiTargetGroupArn, containerPort: rt.uiPort },
            ],
            // Package download and install happen at boot: the same 60 s the container health check allows.
            healthCheckGracePeriodSeconds: rt.containerHealthCheckStartPeriodSeconds,
            efsVolumes: [{ name: "wheelhouse", fileSystemId: refs.fileSystemId, accessPointId: refs.accessPointId, containerPath: rt.wheelhousePath }],
            alarms: args.alarms,
            tags,
        });
        const loadBalancerArgs = (defaultTargetGroupArn: pulumi.Input<string>): HttpsLoadBalancerArgs => ({
            vpcId: args.vpcId,
            subnetIds: args.publicSubnetIds,
            certificateArn: args.certificateArn,
            defaultTargetGroupArn,
            deletionProtection: args.isProd,
            tags,
        });
        // Every child component's arguments are checked here, before anything is created.
        const p = PREFLIGHT_PLACEHOLDERS;
        checkHttpsLoadBalancerArgs(`${name}-alb`, loadBalancerArgs(p.targetGroupArn));
        checkFargateServiceArgs(name, serviceArgs({ clusterArn: p.clusterArn, clusterName: p.clusterName, packageBucketName: p.id, fileSystemId: p.id, accessPointId: p.id, restTargetGroupArn: p.targetGroupArn, a2aTargetGroupArn: p.targetGroupArn, uiTargetGroupArn: p.targetGroupArn }));

        this.cluster = new aws.ecs.Cluster(name, { settings: [{ name: "containerInsights", value: "enabled" }], tags }, { parent: this });

        // Package bucket: versioned; `pulumi destroy` may empty it outside prod only.
        this.packageBucket = new PrivateBucket(
            `${name}-packages`,
            { versioned: true, lifecycleRules: [ABORT_INCOMPLETE_UPLOADS_RULE], forceDestroy: !args.isProd, tags, childNames: "bucket-name", movedFrom: this },
            { parent: this },
        ).bucket;

        // Wheelhouse cache: encrypted at rest, reached only through the access point, only over TLS.
        this.fileSystem = new aws.efs.FileSystem(
            `${name}-wheelhouse`,
            { encrypted: true, performanceMode: "generalPurpose", throughputMode: "elastic", lifecyclePolicies: [{ transitionToIa: "AFTER_30_DAYS" }], tags: { ...tags, Name: `${name}-wheelhouse` } },
            { parent: this },
        );
        new aws.efs.FileSystemPolicy(
            `${name}-wheelhouse`,
            {
                fileSystemId: this.fileSystem.id,
                bypassPolicyLockoutSafetyCheck: false,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        // With a file system policy in place EFS's default "allow every client" no longer applies:
                        // clients need an identity grant (the task role's, scoped to the access point) and TLS.
                        { Sid: "DenyUnencryptedTransport", Effect: "Deny", Principal: { AWS: "*" }, Action: "*", Resource: this.fileSystem.arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
                    ],
                }),
            },
            { parent: this },
        );
        this.accessPoint = new aws.efs.AccessPoint(
            `${name}-wheelhouse`,
            {
                fileSystemId: this.fileSystem.id,
                posixUser: { uid: rt.uid, gid: rt.gid },
                rootDirectory: { path: rt.wheelhousePath, creationInfo: { ownerUid: rt.uid, ownerGid: rt.gid, permissions: "750" } },
                tags: { ...tags, Name: `${name}-wheelhouse` },
            },
            { parent: this },
        );
        const efsSecurityGroup = new aws.ec2.SecurityGroup(
            `${name}-efs`,
            { vpcId: args.vpcId, description: `EFS mount targets of ${name}: NFS from its tasks only`, revokeRulesOnDelete: true, tags: { ...tags, Name: `${name}-efs` } },
            { parent: this },
        );
        const mountTargets = args.privateSubnetIds.map(
            (subnetId, i) => new aws.efs.MountTarget(`${name}-wheelhouse-${i}`, { fileSystemId: this.fileSystem.id, subnetId, securityGroups: [efsSecurityGroup.id] }, { parent: this }),
        );

        const targetGroup = (suffix: string, port: number, protocol: "HTTP" | "TCP", healthCheck: aws.types.input.lb.TargetGroupHealthCheck) =>
            new aws.lb.TargetGroup(
                `${name}-${suffix}`,
                { vpcId: args.vpcId, targetType: "ip", protocol, port, deregistrationDelay: args.gracefulShutdownSeconds, healthCheck, tags },
                { parent: this },
            );
        const restHealth = {
            enabled: true,
            protocol: "HTTP",
            path: rt.healthPath,
            matcher: "200",
            interval: rt.restHealthCheck.intervalSeconds,
            timeout: rt.restHealthCheck.timeoutSeconds,
            healthyThreshold: rt.restHealthCheck.healthyThreshold,
            unhealthyThreshold: rt.restHealthCheck.unhealthyThreshold,
        };
        this.restTargetGroup = targetGroup("rest", rt.restPort, "HTTP", { ...restHealth, port: "traffic-port" });
        // The UI is served by the same runtime process: its readiness is the runtime's /health on the REST port.
        this.uiTargetGroup = targetGroup("ui", rt.uiPort, "HTTP", { ...restHealth, port: String(rt.restPort) });
        this.a2aTargetGroup = targetGroup("a2a", rt.a2aPort, "TCP", {
            enabled: true,
            protocol: "TCP",
            port: "traffic-port",
            interval: rt.a2aHealthCheck.intervalSeconds,
            timeout: rt.a2aHealthCheck.timeoutSeconds,
            healthyThreshold: rt.a2aHealthCheck.healthyThreshold,
            unhealthyThreshold: rt.a2aHealthCheck.unhealthyThreshold,
        });

        this.loadBalancer = new HttpsLoadBalancer(`${name}-alb`, loadBalancerArgs(this.restTargetGroup.arn), { parent: this });
        // The UI has its own target group; the HTTPS listener sends /ui and /ui/* to it, everything else to REST.
        const uiRule = new aws.lb.ListenerRule(
            `${name}-ui`,
            {
                listenerArn: this.loadBalancer.httpsListener.arn,
                priority: 10,
                conditions: [{ pathPattern: { values: ["/ui", "/ui/*"] } }],
                actions: [{ type: "forward", targetGroupArn: this.uiTargetGroup.arn }],
                tags,
            },
            { parent: this },
        );

        // gRPC/A2A stays inside the VPC: an internal NLB whose group admits 50051 from the VPC only.
        const nlbSecurityGroup = new aws.ec2.SecurityGroup(
            `${name}-nlb`,
            { vpcId: args.vpcId, description: `Internal A2A load balancer of ${name}: gRPC from the VPC`, revokeRulesOnDelete: true, tags: { ...tags, Name: `${name}-nlb` } },
            { parent: this },
        );
        const nlbIngress = new aws.vpc.SecurityGroupIngressRule(
            `${name}-nlb-in`,
            { securityGroupId: nlbSecurityGroup.id, ipProtocol: "tcp", fromPort: rt.a2aPort, toPort: rt.a2aPort, cidrIpv4: args.vpcCidr, description: "gRPC/A2A from inside the VPC", tags },
            { parent: this },
        );
        this.networkLoadBalancer = new aws.lb.LoadBalancer(
            `${name}-nlb`,
            { loadBalancerType: "network", internal: true, subnets: args.privateSubnetIds, securityGroups: [nlbSecurityGroup.id], enableCrossZoneLoadBalancing: true, enableDeletionProtection: args.isProd, tags },
            { parent: this, dependsOn: [nlbIngress] },
        );
        const a2aListener = new aws.lb.Listener(
            `${name}-a2a`,
            { loadBalancerArn: this.networkLoadBalancer.arn, port: rt.a2aPort, protocol: "TCP", defaultActions: [{ type: "forward", targetGroupArn: this.a2aTargetGroup.arn }], tags },
            { parent: this },
        );

        this.service = new FargateService(
            name,
            serviceArgs({
                clusterArn: this.cluster.arn,
                clusterName: this.cluster.name,
                packageBucketName: this.packageBucket.bucket,
                fileSystemId: this.fileSystem.id,
                accessPointId: this.accessPoint.id,
                restTargetGroupArn: this.restTargetGroup.arn,
                a2aTargetGroupArn: this.a2aTargetGroup.arn,
                uiTargetGroupArn: this.uiTargetGroup.arn,
            }),
            { parent: this, dependsOn: [this.loadBalancer.httpsListener, uiRule, a2aListener, ...mountTargets] },
        );

        const taskSecurityGroupId = this.service.securityGroup.id;
        this.loadBalancer.allowTrafficTo("rest", taskSecurityGroupId, rt.restPort);
        this.loadBalancer.allowTrafficTo("ui", taskSecurityGroupId, rt.uiPort);
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-nlb-to-tasks`,
            { securityGroupId: nlbSecurityGroup.id, ipProtocol: "tcp", fromPort: rt.a2aPort, toPort: rt.a2aPort, referencedSecurityGroupId: taskSecurityGroupId, description: "to the A2A port of the runtime tasks", tags },
            { parent: this },
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-tasks-from-nlb`,
            { securityGroupId: taskSecurityGroupId, ipProtocol: "tcp", fromPort: rt.a2aPort, toPort: rt.a2aPort, referencedSecurityGroupId: nlbSecurityGroup.id, description: "A2A (and the TCP health checks of the NLB) from the internal NLB", tags },
            { parent: this },
        );
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-tasks-to-efs`,
            { securityGroupId: taskSecurityGroupId, ipProtocol: "tcp", fromPort: 2049, toPort: 2049, referencedSecurityGroupId: efsSecurityGroup.id, description: "NFS to the wheelhouse mount targets", tags },
            { parent: this },
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-efs-from-tasks`,
            { securityGroupId: efsSecurityGroup.id, ipProtocol: "tcp", fromPort: 2049, toPort: 2049, referencedSecurityGroupId: taskSecurityGroupId, description: "NFS from the runtime tasks", tags },
            { parent: this },
        );

        // The runtime's only AWS permission: read agent packages under its prefix (GetObject also answers HEAD).
        grant(
            `${name}-packages`,
            this.service.taskRole,
            [{ Sid: "ReadAgentPackages", Effect: "Allow", Action: "s3:GetObject", Resource: objectArn(this.packageBucket.arn, `${args.packagePrefix}*`) }],
            { parent: this },
        );

        this.alarms = [
            this.noHealthyTargetsAlarm("rest", "AWS/ApplicationELB", this.restTargetGroup, this.loadBalancer.arnSuffix, args.alarms.topicArn, tags),
            this.noHealthyTargetsAlarm("ui", "AWS/ApplicationELB", this.uiTargetGroup, this.loadBalancer.arnSuffix, args.alarms.topicArn, tags),
            this.noHealthyTargetsAlarm("a2a", "AWS/NetworkELB", this.a2aTargetGroup, this.networkLoadBalancer.arnSuffix, args.alarms.topicArn, tags),
            this.unhealthyTargetsAlarm("rest", "AWS/ApplicationELB", this.restTargetGroup, this.loadBalancer.arnSuffix, args.alarms.topicArn, tags),
            this.unhealthyTargetsAlarm("a2a", "AWS/NetworkELB", this.a2aTargetGroup, this.networkLoadBalancer.arnSuffix, args.alarms.topicArn, tags),
        ];

        this.restUrl = pulumi.interpolate`https://${this.loadBalancer.dnsName}`;
        this.uiUrl = pulumi.interpolate`https://${this.loadBalancer.dnsName}/ui/`;
        this.a2aEndpoint = pulumi.interpolate`${this.networkLoadBalancer.dnsName}:${rt.a2aPort}`;
        this.registerOutputs({
            clusterName: this.cluster.name,
            serviceName: this.service.serviceName,
            packageBucketName: this.packageBucket.bucket,
            fileSystemId: this.fileSystem.id,
            restUrl: this.restUrl,
            uiUrl: this.uiUrl,
            a2aEndpoint: this.a2aEndpoint,
        });
    }

    /** Lets a publisher (CI) put agent packages under the runtime's prefix; nothing else in the bucket. */
    grantPublishPackages(policyName: string, role: aws.iam.Role, packagePrefix: string): aws.iam.RolePolicy {
        return grant(policyName, role, [{ Sid: "PublishAgentPackages", Effect: "Allow", Action: "s3:PutObject", Resource: objectArn(this.packageBucket.arn, `${packagePrefix}*`) }], { parent: this });
    }

    private noHealthyTargetsAlarm(
        surface: string,
        namespace: "AWS/ApplicationELB" | "AWS/NetworkELB",
        targetGroup: aws.lb.TargetGroup,
        loadBalancerArnSuffix: pulumi.Input<string>,
        topicArn: pulumi.Input<string>,
        tags: Record<string, string>,
    ): aws.cloudwatch.MetricAlarm {
        const minutes = AGENT_RUNTIME.noHealthyTargetsMinutes;
        return new aws.cloudwatch.MetricAlarm(
            `${this.baseName}-${surface}-no-healthy-targets`,
            {
                alarmDescription: `${surface}: no healthy target for ${minutes} minutes (seed 002)`,
                namespace,
                metricName: "HealthyHostCount",
                dimensions: { TargetGroup: targetGroup.arnSuffix, LoadBalancer: loadBalancerArnSuffix },
                statistic: "Minimum",
                period: 60,
                evaluationPeriods: minutes,
                datapointsToAlarm: minutes,
                threshold: 1,
                comparisonOperator: "LessThanThreshold",
                // No datapoint means no registered target at all: as bad as none healthy.
                treatMissingData: "breaching",
                alarmActions: [topicArn],
                okActions: [topicArn],
                tags,
            },
            { parent: this },
        );
    }

    /**
     * "Health check failures > 5 in 5 minutes": load balancers publish no count of failed checks,
     * only UnHealthyHostCount, a per-minute gauge of targets currently failing. Its Sum over 5
     * minutes counts unhealthy target-minutes (each reported minute a target stays unhealthy adds
     * at least 1), so the alarm fires when more than 5 target-minutes were unhealthy in 5 minutes.
     */
    private unhealthyTargetsAlarm(
        surface: string,
        namespace: "AWS/ApplicationELB" | "AWS/NetworkELB",
        targetGroup: aws.lb.TargetGroup,
        loadBalancerArnSuffix: pulumi.Input<string>,
        topicArn: pulumi.Input<string>,
        tags: Record<string, string>,
    ): aws.cloudwatch.MetricAlarm {
        return new aws.cloudwatch.MetricAlarm(
            `${this.baseName}-${surface}-unhealthy-targets`,
            {
                alarmDescription: `${surface}: targets failed health checks for more than ${AGENT_RUNTIME.unhealthyThreshold} target-minutes in 5 minutes (seed 002: > 5 failures in 5 minutes)`,
                namespace,
                metricName: "UnHealthyHostCount",
                dimensions: { TargetGroup: targetGroup.arnSuffix, LoadBalancer: loadBalancerArnSuffix },
                statistic: "Sum",
                period: AGENT_RUNTIME.unhealthyWindowSeconds,
                evaluationPeriods: 1,
                threshold: AGENT_RUNTIME.unhealthyThreshold,
                comparisonOperator: "GreaterThanThreshold",
                treatMissingData: "notBreaching",
                alarmActions: [topicArn],
                okActions: [topicArn],
                tags,
            },
            { parent: this },
        );
    }
}

/** The agent runtime's code lives in its own repository (seed 002): it downloads agent packages under the package prefix. */
export const agentRuntimeAccess: ComponentAccess = {
    component: "jobfleet:services:AgentRuntime",
    roles: [
        {
            role: /-task$/,
            expected: (plan) =>
                plan.containers().flatMap((c) => {
                    const env = Object.fromEntries((c.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]));
                    if (!env.PACKAGE_BUCKET) return [];
                    return [{ action: "s3:GetObject", resource: `arn:aws:s3:::${env.PACKAGE_BUCKET}/${env.PACKAGE_PREFIX ?? ""}${env.AGENT_APP_ID ?? "agent"}/package.tar.gz`, why: "seed 002: the runtime reads (GET and HEAD) its agent package from the package prefix" }];
                }),
        },
    ],
};
