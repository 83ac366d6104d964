import * as aws from "@pulumi/aws";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { ArtifactBucket } from "./artifactStore";
import { DelegatedIam, delegatedIamPathProblem, grant, PolicyStatement, serviceRole } from "./iam";
import { VersionedArtifact } from "./versionedArtifact";
import { checkApp, checkEnvironment, environmentPrefix, parseArtifactKey } from "../runtime/artifacts/keys";
import type { ComponentAccess } from "./access";

export interface PreviewEnvironmentArgs {
    app: string;
    environment: string;
    /** The build every instance runs; the launch template takes its key, version id and checksum as inputs. */
    artifact: VersionedArtifact;
    /** The bucket the artifact lives in; the instance role is granted read on `{app}/{environment}/*` of it. */
    store: ArtifactBucket;
    vpcId: pulumi.Input<string>;
    privateSubnetIds: pulumi.Input<string[]>;
    publicSubnetIds: pulumi.Input<string[]>;
    instanceType: string;
    minSize: number;
    maxSize: number;
    /** Off (default): instances sit in private subnets with no public address, reachable only through the ALB. */
    associatePublicIp?: boolean;
    /** ACM certificate of the HTTPS listener (for a review stack, a wildcard certificate of `domain.name`'s parent). */
    certificateArn: string;
    /** Who may reach the ALB on 443 and 80 (IPv4 or IPv6 CIDR blocks); default the whole IPv4 internet, 0.0.0.0/0. */
    allowedCidrs?: string[];
    /**
     * A DNS name for the environment: an alias record `name` in the Route 53 zone `hostedZoneId`
     * pointing at the ALB, and the URL uses it (so the certificate matches). Without it the URL is the ALB's own name.
     */
    domain?: { name: string; hostedZoneId: string };
    /** Port the app listens on (PORT); default 8080. */
    appPort?: number;
    /** Default /health, as the sample build answers. */
    healthCheckPath?: string;
    /** Encrypted gp3 root volume size; default 20 GiB (the AL2023 image needs at least 8). */
    rootVolumeGb?: number;
    /** Refuse to delete the load balancer; default false. */
    deletionProtection?: boolean;
    /**
     * For a stack deployed under delegated IAM (a review stack): the instance role and profile are
     * created under this path with this permissions boundary, the only roles its deploying role may create.
     */
    delegatedIam?: DelegatedIam;
    tags?: Record<string, string>;
}

/**
 * What Session Manager needs from an instance: the SSM agent registers it and opens its channels
 * (AWS's documented minimum, no SSH and no key pairs). The staging stack's boundary for review
 * instances allows the same statements (components/ciAccess.ts).
 */
export function sessionManagerStatements(partition: pulumi.Input<string>, region: pulumi.Input<string>, accountId: pulumi.Input<string>): PolicyStatement[] {
    return [
        { Sid: "RegisterWithSsm", Effect: "Allow", Action: "ssm:UpdateInstanceInformation", Resource: pulumi.interpolate`arn:${partition}:ec2:${region}:${accountId}:instance/*` },
        // ssmmessages actions take no resource: "*" is the only value IAM accepts for them.
        { Sid: "SessionChannels", Effect: "Allow", Action: ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], Resource: "*" },
    ];
}

export interface UserDataParams {
    app: string;
    bucket: string;
    key: string;
    versionId: string;
    size: number;
    sha256Hex: string;
    appPort: number;
}

/** Node.js major version installed on the instances (AL2023 namespaced packages: nodejs22, node-22). */
export const NODE_MAJOR = 22;

function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The boot script: download exactly one object version, check its size and SHA-256 against the
 * values baked into the launch template, and only then unpack and start it. Any mismatch (or a
 * download that keeps failing) stops the script before the app exists, so the instance never
 * passes the ALB health check and Auto Scaling replaces it; nothing half-verified ever serves.
 */
export function previewUserData(p: UserDataParams): string {
    const release = parseArtifactKey(p.key)?.version ?? "legacy";
    return `#!/bin/bash
# jobfleet preview environment (seed 003): run exactly the artifact this launch template names.
set -euo pipefail
exec > >(tee -a /var/log/user-data.log | logger -t user-data) 2>&1

APP=${shellQuote(p.app)}
APP_PORT=${p.appPort}
ARTIFACT_BUCKET=${shellQuote(p.bucket)}
ARTIFACT_KEY=${shellQuote(p.key)}
ARTIFACT_VERSION_ID=${shellQuote(p.versionId)}
ARTIFACT_SIZE=${p.size}
ARTIFACT_SHA256=${shellQuote(p.sha256Hex)}
RELEASE_DIR="/opt/$APP/releases/${release}"
DOWNLOAD="$(mktemp -d /var/tmp/artifact.XXXXXX)/artifact.tar.gz"

refuse() {
    echo "REFUSING TO START $APP: $*"
    exit 1
}

version_args=()
if [ -n "$ARTIFACT_VERSION_ID" ]; then version_args=(--version-id "$ARTIFACT_VERSION_ID"); fi
echo "Fetching s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY (version $ARTIFACT_VERSION_ID)"
for attempt in 1 2 3 4 5; do
    if aws s3api get-object --bucket "$ARTIFACT_BUCKET" --key "$ARTIFACT_KEY" "\${version_args[@]}" "$DOWNLOAD" >/dev/null; then
        break
    fi
    [ "$attempt" -lt 5 ] || refuse "could not download s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY after 5 attempts"
    sleep $((attempt * 5))
done

actual_size=$(stat -c %s "$DOWNLOAD")
[ "$actual_size" = "$ARTIFACT_SIZE" ] || refuse "s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY has $actual_size bytes, the launch template expects $ARTIFACT_SIZE"
actual_sha256=$(sha256sum "$DOWNLOAD" | cut -d' ' -f1)
[ "$actual_sha256" = "$ARTIFACT_SHA256" ] || refuse "s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY has sha256 $actual_sha256, the launch template expects $ARTIFACT_SHA256"
echo "Artifact verified: $actual_size bytes, sha256 $actual_sha256"

dnf install -y nodejs${NODE_MAJOR}
id -u "$APP" >/dev/null 2>&1 || useradd --system --home-dir "/opt/$APP" --shell /sbin/nologin "$APP"
mkdir -p "$RELEASE_DIR"
tar -xzf "$DOWNLOAD" -C "$RELEASE_DIR" --no-same-owner --no-same-permissions
rm -rf "$(dirname "$DOWNLOAD")"
[ -f "$RELEASE_DIR/package.json" ] || refuse "the artifact has no package.json at its root"
MAIN=$(node-${NODE_MAJOR} -e 'console.log(require(process.argv[1]).main || "server.js")' "$RELEASE_DIR/package.json")
[ -f "$RELEASE_DIR/$MAIN" ] || refuse "the artifact's entry point $MAIN is missing"
ln -sfn "$RELEASE_DIR" "/opt/$APP/current"

cat > "/etc/systemd/system/$APP.service" <<UNIT
[Unit]
Description=$APP from $ARTIFACT_KEY
After=network-online.target
Wants=network-online.target

[Service]
User=$APP
WorkingDirectory=/opt/$APP/current
Environment=NODE_ENV=production
Environment=PORT=$APP_PORT
Environment=ARTIFACT_KEY=$ARTIFACT_KEY
Environment=ARTIFACT_SHA256=$ARTIFACT_SHA256
ExecStart=/usr/bin/node-${NODE_MAJOR} /opt/$APP/current/$MAIN
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now "$APP.service"
echo "$APP started from $ARTIFACT_KEY"
`;
}

/** Why a CIDR block is not one the security group accepts, or undefined when it is. */
export function cidrProblem(cidr: unknown): string | undefined {
    if (typeof cidr !== "string") return "is not a string; expected a CIDR block like 203.0.113.0/24";
    const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    if (!m) return "is not a CIDR block like 203.0.113.0/24 or 2001:db8::/32 (address/prefix length)";
    const family = net.isIP(m[1]);
    const bits = Number(m[2]);
    if (family === 0) return `has no valid IP address before the /`;
    if (family === 4 && bits > 32) return "has a prefix length above 32";
    if (family === 6 && bits > 128) return "has a prefix length above 128";
    if (family === 4) {
        const value = m[1].split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
        const hostBits = 32 - bits;
        if (hostBits > 0 && value % 2 ** hostBits !== 0) return `has host bits set; the network is ${toIpv4(value - (value % 2 ** hostBits))}/${bits}`;
    }
    return undefined;
}

function toIpv4(value: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Graviton families (t4g, m7g, c7gn, ...) run arm64 images; everything else x86_64. */
export function architectureOf(instanceType: string): "arm64" | "x86_64" {
    return /^[a-z]+\d+g[a-z]*\./.test(instanceType) ? "arm64" : "x86_64";
}

/**
 * An express API preview environment on EC2 (seed 003) where instances cannot start on the wrong
 * code: the launch template's user data carries the artifact's exact key, version id, size and
 * checksum as inputs, so the template (and with it every instance) only exists after the upload
 * finished, and a new build means a new template version, which the Auto Scaling group rolls out
 * with an instance refresh. Instances live in private subnets behind an HTTPS ALB, with IMDSv2
 * only, an encrypted root volume, read access to their own artifact prefix, and Session Manager
 * instead of SSH.
 */
export class PreviewEnvironment extends pulumi.ComponentResource {
    public readonly url: pulumi.Output<string>;
    public readonly loadBalancerDnsName: pulumi.Output<string>;
    public readonly autoScalingGroupName: pulumi.Output<string>;
    public readonly launchTemplateId: pulumi.Output<string>;
    public readonly instanceRoleArn: pulumi.Output<string>;
    public readonly artifactKey: pulumi.Output<string>;

    constructor(name: string, args: PreviewEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:preview:PreviewEnvironment", name, {}, opts);
        const fail = (message: string): never => {
            throw new Error(`PreviewEnvironment ${name}: ${message}`);
        };
        let prefix = "";
        try {
            prefix = environmentPrefix(checkApp(args.app), checkEnvironment(args.environment));
        } catch (err) {
            fail((err as Error).message);
        }
        if (!args.artifact.keyValue.startsWith(prefix)) {
            fail(`artifact ${args.artifact.keyValue} is not under ${prefix}; an environment runs only its own builds (its instance role can read nothing else).`);
        }
        if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(args.instanceType)) fail(`instanceType must be an EC2 instance type like t3.small (got ${JSON.stringify(args.instanceType)}).`);
        if (!Number.isInteger(args.minSize) || args.minSize < 0) fail(`minSize must be a whole number, 0 or more (got ${JSON.stringify(args.minSize)}).`);
        if (!Number.isInteger(args.maxSize) || args.maxSize < 1) fail(`maxSize must be a whole number, at least 1 (got ${JSON.stringify(args.maxSize)}).`);
        if (args.minSize > args.maxSize) fail(`minSize (${args.minSize}) must not exceed maxSize (${args.maxSize}).`);
        if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(args.certificateArn)) {
            fail(`certificateArn must be an ACM certificate ARN like arn:aws:acm:us-east-1:123456789012:certificate/<id> (got ${JSON.stringify(args.certificateArn)}).`);
        }
        const allowedCidrs = args.allowedCidrs ?? ["0.0.0.0/0"];
        if (!Array.isArray(allowedCidrs) || allowedCidrs.length === 0) fail(`allowedCidrs must list at least one CIDR block (got ${JSON.stringify(args.allowedCidrs)}); with none, nobody could reach the environment.`);
        for (const cidr of allowedCidrs) {
            const problem = cidrProblem(cidr);
            if (problem) fail(`allowedCidrs: ${JSON.stringify(cidr)} ${problem}.`);
        }
        if (new Set(allowedCidrs).size !== allowedCidrs.length) fail(`allowedCidrs lists a CIDR block twice (${JSON.stringify(allowedCidrs)}); security group rules must be unique.`);
        if (args.domain !== undefined) {
            if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(args.domain.name)) fail(`domain.name must be a lower-case DNS name like pr-51.preview.example.com (got ${JSON.stringify(args.domain.name)}).`);
            if (!/^Z[A-Z0-9]{1,31}$/.test(args.domain.hostedZoneId)) fail(`domain.hostedZoneId must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ (got ${JSON.stringify(args.domain.hostedZoneId)}).`);
        }
        const appPort = args.appPort ?? 8080;
        if (!Number.isInteger(appPort) || appPort < 1024 || appPort > 65535) fail(`appPort must be an unprivileged port from 1024 to 65535 (got ${JSON.stringify(appPort)}).`);
        const healthCheckPath = args.healthCheckPath ?? "/health";
        if (!/^\/[A-Za-z0-9._~\-/]*$/.test(healthCheckPath)) fail(`healthCheckPath must be a URL path starting with / (got ${JSON.stringify(healthCheckPath)}).`);
        // A path from another stack's outputs is checked when it arrives, before the role is created with it.
        const delegatedPath = args.delegatedIam === undefined ? undefined : pulumi.output(args.delegatedIam.path).apply((path) => {
            const problem = delegatedIamPathProblem(path);
            if (problem) fail(`delegatedIam.path ${problem} (got ${JSON.stringify(path)}).`);
            return path;
        });
        if (typeof args.delegatedIam?.path === "string") {
            const problem = delegatedIamPathProblem(args.delegatedIam.path);
            if (problem) fail(`delegatedIam.path ${problem} (got ${JSON.stringify(args.delegatedIam.path)}).`);
        }
        const rootVolumeGb = args.rootVolumeGb ?? 20;
        if (!Number.isInteger(rootVolumeGb) || rootVolumeGb < 8 || rootVolumeGb > 16384) fail(`rootVolumeGb must be a whole number from 8 to 16384 (got ${JSON.stringify(rootVolumeGb)}).`);

        const tags = { ...(args.tags ?? {}), App: args.app, PreviewEnvironment: args.environment };
        const associatePublicIp = args.associatePublicIp === true;

        // Instance role: its own artifact prefix, and Session Manager's minimum (no SSH, no key pairs).
        const delegated = args.delegatedIam;
        const role = serviceRole(
            `${name}-instance`,
            {
                kind: "instance",
                description: `${args.app} ${args.environment} preview instances: read own artifacts, Session Manager`,
                tags,
                ...(delegated ? { path: delegatedPath, permissionsBoundary: delegated.permissionsBoundaryArn } : {}),
            },
            { parent: this },
        );
        const readArtifacts = args.store.grantRead(role, args.app, args.environment);
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const region = aws.getRegionOutput({}, { parent: this }).name;
        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const sessionManager = grant(`${name}-session-manager`, role, sessionManagerStatements(partition, region, accountId), { parent: this });
        const profile = new aws.iam.InstanceProfile(`${name}-instance`, { role: role.name, tags, ...(delegated ? { path: delegatedPath } : {}) }, { parent: this });

        // Security groups, closed by default: the internet reaches the ALB, the ALB reaches the instances.
        const albSecurityGroup = new aws.ec2.SecurityGroup(`${name}-alb`, { vpcId: args.vpcId, description: `${args.app} ${args.environment} preview ALB: HTTPS and HTTP (redirect) from ${args.allowedCidrs === undefined ? "the internet" : "the allowed CIDR blocks"}`, tags: { ...tags, Name: `${name}-alb` } }, { parent: this });
        const instanceSecurityGroup = new aws.ec2.SecurityGroup(`${name}-instances`, { vpcId: args.vpcId, description: `${args.app} ${args.environment} preview instances: app port from the ALB only`, tags: { ...tags, Name: `${name}-instances` } }, { parent: this });
        // The default (staging, prod) keeps its original rule names; configured CIDR blocks get one rule each.
        const internetOnly = args.allowedCidrs === undefined;
        for (const port of [443, 80]) {
            const what = port === 443 ? "HTTPS" : "HTTP, redirected to HTTPS,";
            allowedCidrs.forEach((cidr, i) => {
                const ipv6 = cidr.includes(":");
                const ruleName = internetOnly ? `${name}-alb-in-${port}` : `${name}-alb-in-${port}-${i}`;
                const from = internetOnly ? "the internet" : cidr;
                new aws.vpc.SecurityGroupIngressRule(
                    ruleName,
                    { securityGroupId: albSecurityGroup.id, ipProtocol: "tcp", fromPort: port, toPort: port, ...(ipv6 ? { cidrIpv6: cidr } : { cidrIpv4: cidr }), description: `${what} from ${from}` },
                    { parent: this },
                );
            });
        }
        new aws.vpc.SecurityGroupEgressRule(`${name}-alb-to-instances`, { securityGroupId: albSecurityGroup.id, ipProtocol: "tcp", fromPort: appPort, toPort: appPort, referencedSecurityGroupId: instanceSecurityGroup.id, description: "Forward to the app port of the instances" }, { parent: this });
        new aws.vpc.SecurityGroupIngressRule(`${name}-instances-from-alb`, { securityGroupId: instanceSecurityGroup.id, ipProtocol: "tcp", fromPort: appPort, toPort: appPort, referencedSecurityGroupId: albSecurityGroup.id, description: "App port from the ALB only" }, { parent: this });
        new aws.vpc.SecurityGroupEgressRule(`${name}-instances-https-out`, { securityGroupId: instanceSecurityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS to S3, Systems Manager and the AL2023 package repositories" }, { parent: this });

        const targetGroup = new aws.lb.TargetGroup(
            `${name}-tg`,
            {
                vpcId: args.vpcId,
                port: appPort,
                protocol: "HTTP",
                targetType: "instance",
                deregistrationDelay: 30,
                healthCheck: { enabled: true, path: healthCheckPath, protocol: "HTTP", port: "traffic-port", matcher: "200", interval: 30, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3 },
                tags,
            },
            { parent: this },
        );
        const loadBalancer = new aws.lb.LoadBalancer(
            `${name}-alb`,
            {
                loadBalancerType: "application",
                internal: false,
                securityGroups: [albSecurityGroup.id],
                subnets: args.publicSubnetIds,
                dropInvalidHeaderFields: true,
                enableDeletionProtection: args.deletionProtection === true,
                tags,
            },
            { parent: this },
        );
        new aws.lb.Listener(
            `${name}-https`,
            {
                loadBalancerArn: loadBalancer.arn,
                port: 443,
                protocol: "HTTPS",
                sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
                certificateArn: args.certificateArn,
                defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
                tags,
            },
            { parent: this },
        );
        new aws.lb.Listener(
            `${name}-http`,
            {
                loadBalancerArn: loadBalancer.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
                tags,
            },
            { parent: this },
        );

        const architecture = architectureOf(args.instanceType);
        const ami = aws.ec2.getAmiOutput(
            {
                owners: ["amazon"],
                mostRecent: true,
                filters: [
                    { name: "name", values: [`al2023-ami-2023.*-${architecture}`] },
                    { name: "architecture", values: [architecture] },
                    { name: "virtualization-type", values: ["hvm"] },
                    { name: "root-device-type", values: ["ebs"] },
                ],
            },
            { parent: this },
        );

        const userData = pulumi
            .all([args.artifact.bucket, args.artifact.key, args.artifact.versionId, args.artifact.checksum])
            .apply(([bucket, key, versionId, checksum]) => previewUserData({ app: args.app, bucket, key, versionId: versionId ?? "", size: args.artifact.sizeBytes, sha256Hex: checksum, appPort }));
        const instanceTags = { ...tags, Name: `${args.app}-${args.environment}` };
        const launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-lt`,
            {
                description: pulumi.interpolate`${args.app} ${args.environment} preview running ${args.artifact.key}`,
                imageId: ami.id,
                instanceType: args.instanceType,
                iamInstanceProfile: { arn: profile.arn },
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
                blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeType: "gp3", volumeSize: rootVolumeGb, encrypted: "true", deleteOnTermination: "true" } }],
                networkInterfaces: [{ deviceIndex: 0, associatePublicIpAddress: String(associatePublicIp), securityGroups: [instanceSecurityGroup.id], deleteOnTermination: "true" }],
                userData: userData.apply((script) => Buffer.from(script, "utf8").toString("base64")),
                tagSpecifications: [
                    { resourceType: "instance", tags: instanceTags },
                    { resourceType: "volume", tags: instanceTags },
                ],
                updateDefaultVersion: true,
                tags,
            },
            // An instance launched before its role may read the artifact would only fail and be replaced.
            { parent: this, dependsOn: [readArtifacts, sessionManager] },
        );

        const autoScalingGroup = new aws.autoscaling.Group(
            `${name}-asg`,
            {
                vpcZoneIdentifiers: associatePublicIp ? args.publicSubnetIds : args.privateSubnetIds,
                minSize: args.minSize,
                maxSize: args.maxSize,
                healthCheckType: "ELB",
                healthCheckGracePeriod: 300,
                targetGroupArns: [targetGroup.arn],
                launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
                // A new artifact is a new template version: roll it out launch-before-terminate and roll back if it never gets healthy.
                instanceRefresh: {
                    strategy: "Rolling",
                    triggers: ["tag"],
                    preferences: { minHealthyPercentage: 100, maxHealthyPercentage: 200, instanceWarmup: "120", autoRollback: true },
                },
                ...(args.minSize > 0 ? { minElbCapacity: args.minSize } : {}),
                waitForCapacityTimeout: "15m",
                tags: [
                    ...Object.entries(instanceTags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
                    { key: "jobfleet:artifact-key", value: args.artifact.key, propagateAtLaunch: true },
                ],
            },
            { parent: this },
        );

        this.loadBalancerDnsName = loadBalancer.dnsName;
        if (args.domain) {
            new aws.route53.Record(
                `${name}-dns`,
                { zoneId: args.domain.hostedZoneId, name: args.domain.name, type: "A", aliases: [{ name: loadBalancer.dnsName, zoneId: loadBalancer.zoneId, evaluateTargetHealth: true }] },
                { parent: this },
            );
        }
        this.url = args.domain ? pulumi.output(`https://${args.domain.name}`) : pulumi.interpolate`https://${loadBalancer.dnsName}`;
        this.autoScalingGroupName = autoScalingGroup.name;
        this.launchTemplateId = launchTemplate.id;
        this.instanceRoleArn = role.arn;
        this.artifactKey = args.artifact.key;
        this.registerOutputs({
            url: this.url,
            loadBalancerDnsName: this.loadBalancerDnsName,
            autoScalingGroupName: this.autoScalingGroupName,
            launchTemplateId: this.launchTemplateId,
            instanceRoleArn: this.instanceRoleArn,
            artifactKey: this.artifactKey,
        });
    }
}

/**
 * The preview instance runs the boot-time verify (the user data fetches and checks the exact
 * version its launch template names, as runtime/artifacts verifyArtifact does) and the SSM agent,
 * whose calls are AWS's documented Session Manager minimum.
 */
export const previewEnvironmentAccess: ComponentAccess = {
    component: "jobfleet:preview:PreviewEnvironment",
    roles: [
        {
            role: /-instance$/,
            runs: ["runtime/artifacts/verify"],
            expected: (plan) => {
                const why = "the SSM agent registering the instance and opening Session Manager channels";
                const bootDownloads = plan.resources
                    .filter((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")
                    .map((r) => Buffer.from(String(plan.inputsOf(r).userData ?? ""), "base64").toString("utf8"))
                    .flatMap((script) => {
                        const value = (name: string) => new RegExp(`^${name}='([^']*)'$`, "m").exec(script)?.[1];
                        const [bucket, key, versionId] = [value("ARTIFACT_BUCKET"), value("ARTIFACT_KEY"), value("ARTIFACT_VERSION_ID")];
                        if (!bucket || !key) return [];
                        return [{ action: versionId ? "s3:GetObjectVersion" : "s3:GetObject", resource: `arn:aws:s3:::${bucket}/${key}`, why: "the user data's aws s3api get-object of the exact version its launch template names" }];
                    });
                return [
                    ...bootDownloads,
                    { action: "ssm:UpdateInstanceInformation", resource: `arn:aws:ec2:${plan.region}:${plan.accountId}:instance/i-0123456789abcdef0`, why },
                    ...["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"].map((action) => ({ action, resource: "*", why })),
                ];
            },
        },
    ],
};
