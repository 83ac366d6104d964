import { AcceptanceResource, isKnown, logicalName, Report } from "./violation";

/**
 * Physical names as the AWS provider forms them, and the names AWS accepts.
 *
 * Autonaming (pulumi-terraform-bridge `AutoName`, configured per resource in pulumi-aws
 * `provider/resources.go` and `provider/autonaming.go`): when the program leaves the name input
 * unset, the provider uses the logical name, a `-` and 7 random hex digits. When that would exceed
 * the resource's autonaming maximum, the provider fails the preview ("name '<name>-' plus 7 random
 * chars is longer than maximum length N"); it never truncates. Buckets (and DB subnet groups) are
 * lowercased first. Every resource with a `name` input that has no override gets a maximum of 255.
 */
export const AUTONAME_RANDOM_HEX = 7;
export const AUTONAME_SOURCE = "https://github.com/pulumi/pulumi-aws/blob/master/provider/autonaming.go (tfbridge.AutoName: <name>-<7 hex>)";

export interface NameRule {
    /** The input that holds the physical name. */
    property: string;
    /** The provider's autonaming maximum; undefined when the provider does not autoname this property. */
    autonameMaxLength?: number;
    /** The provider lowercases the logical name before it appends the suffix. */
    lowercase?: boolean;
    minLength: number;
    maxLength: number;
    /** The whole name must match. */
    pattern: RegExp;
    /** The pattern as AWS documents it, for the message. */
    allowed: string;
    /** Further documented constraints: a sentence when the name breaks one. */
    extra?: (name: string) => string | undefined;
    source: string;
}

const IAM_NAME = { pattern: /^[\w+=,.@-]+$/, allowed: "letters, digits and _+=,.@-" };
const ECS_NAME = { pattern: /^[A-Za-z0-9_-]+$/, allowed: "letters, digits, hyphens and underscores" };
const ELB_NAME = { pattern: /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/, allowed: "letters, digits and hyphens, not starting or ending with a hyphen" };
/** The characters EC2 accepts in VPC security group names and descriptions, and in rule descriptions. */
export const EC2_DESCRIPTION_CHARSET = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
export const EC2_DESCRIPTION_ALLOWED = "a-z A-Z 0-9, space and ._-:/()#,@[]+=&;{}!$*";

export const NAME_RULES: Record<string, NameRule> = {
    "aws:iam/role:Role": { property: "name", autonameMaxLength: 64, minLength: 1, maxLength: 64, ...IAM_NAME, source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (RoleName)" },
    "aws:iam/instanceProfile:InstanceProfile": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 128, ...IAM_NAME, source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html (InstanceProfileName)" },
    "aws:iam/rolePolicy:RolePolicy": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 128, ...IAM_NAME, source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html (PolicyName)" },
    "aws:iam/policy:Policy": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 128, ...IAM_NAME, source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html (PolicyName)" },
    "aws:lb/loadBalancer:LoadBalancer": {
        property: "name", autonameMaxLength: 32, minLength: 1, maxLength: 32, ...ELB_NAME,
        extra: (name) => (name.startsWith("internal-") ? 'must not begin with "internal-"' : undefined),
        source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html (Name)",
    },
    "aws:lb/targetGroup:TargetGroup": { property: "name", autonameMaxLength: 32, minLength: 1, maxLength: 32, ...ELB_NAME, source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html (Name)" },
    "aws:sqs/queue:Queue": { property: "name", autonameMaxLength: 80, minLength: 1, maxLength: 80, pattern: /^[A-Za-z0-9_-]+(\.fifo)?$/, allowed: "letters, digits, hyphens and underscores (and .fifo for FIFO queues)", source: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html (QueueName)" },
    "aws:sns/topic:Topic": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 256, pattern: /^[A-Za-z0-9_-]+(\.fifo)?$/, allowed: "letters, digits, hyphens and underscores", source: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html (Name)" },
    "aws:s3/bucket:Bucket": {
        property: "bucket", autonameMaxLength: 63, lowercase: true, minLength: 3, maxLength: 63, pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, allowed: "lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
        extra: (name) =>
            name.includes("..") ? "must not contain two adjacent periods"
            : /^\d+\.\d+\.\d+\.\d+$/.test(name) ? "must not be formatted as an IP address"
            : /^(xn--|sthree-|amzn-s3-demo-)/.test(name) ? "must not begin with xn--, sthree- or amzn-s3-demo-"
            : /(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name) ? "must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3"
            : undefined,
        source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    },
    "aws:lambda/function:Function": { property: "name", autonameMaxLength: 64, minLength: 1, maxLength: 64, pattern: /^[a-zA-Z0-9_-]+$/, allowed: "letters, digits, hyphens and underscores", source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (FunctionName)" },
    "aws:cloudwatch/logGroup:LogGroup": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/, allowed: "letters, digits and ._-/#", source: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html (logGroupName)" },
    "aws:cloudwatch/metricAlarm:MetricAlarm": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 255, pattern: /^[^\x00-\x1f\x7f]+$/, allowed: "UTF-8 characters except ASCII control characters", source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (AlarmName)" },
    "aws:ecs/cluster:Cluster": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 255, ...ECS_NAME, source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html (clusterName)" },
    "aws:ecs/service:Service": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 255, ...ECS_NAME, source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html (serviceName)" },
    "aws:ecs/taskDefinition:TaskDefinition": { property: "family", minLength: 1, maxLength: 255, ...ECS_NAME, source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html (family)" },
    "aws:ec2/securityGroup:SecurityGroup": {
        property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 255, pattern: /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/, allowed: EC2_DESCRIPTION_ALLOWED,
        extra: (name) => (name.startsWith("sg-") ? 'must not begin with "sg-"' : undefined),
        source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html (GroupName)",
    },
    "aws:ec2/launchTemplate:LaunchTemplate": { property: "name", autonameMaxLength: 255, minLength: 3, maxLength: 128, pattern: /^[a-zA-Z0-9().\-/_]+$/, allowed: "letters, digits and ().-/_", source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html (LaunchTemplateName)" },
    "aws:autoscaling/group:Group": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 255, pattern: /^[^\x00-\x08\x0b\x0c\x0e-\x1f]+$/, allowed: "printable characters", source: "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html (AutoScalingGroupName)" },
    "aws:rds/instance:Instance": {
        property: "identifier", autonameMaxLength: 63, lowercase: true, minLength: 1, maxLength: 63, pattern: /^[a-z][a-z0-9-]*$/, allowed: "lowercase letters, digits and hyphens, starting with a letter",
        extra: (name) => (name.endsWith("-") || name.includes("--") ? "must not end with a hyphen or contain two consecutive hyphens" : undefined),
        source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (DBInstanceIdentifier)",
    },
    "aws:rds/subnetGroup:SubnetGroup": {
        property: "name", autonameMaxLength: 255, lowercase: true, minLength: 1, maxLength: 255, pattern: /^[a-z0-9 ._-]+$/, allowed: "lowercase letters, digits, spaces and ._-",
        extra: (name) => (name === "default" ? 'must not be "default"' : undefined),
        source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html (DBSubnetGroupName)",
    },
    "aws:secretsmanager/secret:Secret": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 512, pattern: /^[A-Za-z0-9/_+=.@-]+$/, allowed: "letters, digits and /_+=.@-", source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html (Name)" },
    "aws:ecr/repository:Repository": { property: "name", autonameMaxLength: 255, minLength: 2, maxLength: 256, pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, allowed: "lowercase path segments of letters and digits joined by . _ or -", source: "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html (repositoryName)" },
    "aws:dynamodb/table:Table": { property: "name", autonameMaxLength: 255, minLength: 3, maxLength: 255, pattern: /^[a-zA-Z0-9_.-]+$/, allowed: "letters, digits and _.-", source: "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html (TableName)" },
    "aws:appautoscaling/policy:Policy": { property: "name", autonameMaxLength: 255, minLength: 1, maxLength: 256, pattern: /^[^|:/\x00-\x1f]+$/, allowed: "printable characters except | : /", source: "https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html (PolicyName)" },
};

// The legacy bucket resource names its bucket the same way.
NAME_RULES["aws:s3/bucketV2:BucketV2"] = NAME_RULES["aws:s3/bucket:Bucket"];

/** The name the provider would autoname, with a given suffix (the mocks pass a deterministic one). */
export function autoname(logical: string, rule: Pick<NameRule, "lowercase">, suffix: string): string {
    return `${rule.lowercase ? logical.toLowerCase() : logical}-${suffix}`;
}

/**
 * The physical name AWS will be asked for: the input when the program sets it, `<namePrefix>`
 * plus the 26 characters the provider appends to a prefix, or the autoname.
 */
export function physicalName(resource: AcceptanceResource, rule: NameRule): { name: string; autonamed: boolean } | undefined {
    const value = resource.inputs[rule.property];
    if (typeof value === "string") return isKnown(value) ? { name: value, autonamed: false } : undefined;
    const prefix = resource.inputs[`${rule.property === "bucket" ? "bucket" : "name"}Prefix`];
    if (typeof prefix === "string") return { name: `${prefix}${"0".repeat(26)}`, autonamed: false };
    if (rule.autonameMaxLength === undefined) return undefined;
    return { name: autoname(logicalName(resource.urn), rule, "0".repeat(AUTONAME_RANDOM_HEX)), autonamed: true };
}

export function checkNames(resource: AcceptanceResource, report: Report): void {
    const rule = NAME_RULES[resource.type];
    if (!rule) return;
    const physical = physicalName(resource, rule);
    if (!physical) return;
    const { name, autonamed } = physical;
    const shown = autonamed ? `${name.slice(0, -AUTONAME_RANDOM_HEX)}<7 hex>` : name;
    if (autonamed && rule.autonameMaxLength !== undefined && name.length > rule.autonameMaxLength) {
        report(rule.property, "name-length", `the autonamed ${rule.property} "${shown}" is ${name.length} characters; the provider autonames at most ${rule.autonameMaxLength} and fails the preview ("plus 7 random chars is longer than maximum length ${rule.autonameMaxLength}"): shorten the logical name to ${rule.autonameMaxLength - AUTONAME_RANDOM_HEX - 1} characters or set ${rule.property}`, AUTONAME_SOURCE);
    } else if (name.length > rule.maxLength || name.length < rule.minLength) {
        report(rule.property, "name-length", `${rule.property} "${shown}" is ${name.length} characters; AWS accepts ${rule.minLength} to ${rule.maxLength}`, rule.source);
    }
    if (!rule.pattern.test(name)) {
        report(rule.property, "name-charset", `${rule.property} "${shown}" has characters AWS refuses; allowed: ${rule.allowed}`, rule.source);
    }
    const extra = rule.extra?.(name);
    if (extra) report(rule.property, "name-format", `${rule.property} "${shown}" ${extra}`, rule.source);
}
