import { EC2_DESCRIPTION_ALLOWED, EC2_DESCRIPTION_CHARSET } from "./names";
import { AcceptanceResource, isKnown, Report, valuesAt } from "./violation";

/** A free-text input whose length or characters AWS restricts. */
interface TextRule {
    /** Dotted path; `[]` steps into every element of a list. */
    path: string;
    rule: string;
    maxLength: number;
    pattern?: RegExp;
    allowed?: string;
    source: string;
}

const SG_DESCRIPTION_SOURCE = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html (GroupDescription)";
const RULE_DESCRIPTION_SOURCE = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html (Description: \"Invalid rule description\" otherwise)";
const ruleDescription = (path: string): TextRule => ({ path, rule: "sg-rule-description-charset", maxLength: 255, pattern: EC2_DESCRIPTION_CHARSET, allowed: EC2_DESCRIPTION_ALLOWED, source: RULE_DESCRIPTION_SOURCE });
/** IAM's description pattern: tab, newline, carriage return, printable ASCII and Latin-1. */
const IAM_DESCRIPTION = /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$/;

const TEXT_RULES: Record<string, TextRule[]> = {
    "aws:ec2/securityGroup:SecurityGroup": [
        { path: "description", rule: "sg-description-charset", maxLength: 255, pattern: EC2_DESCRIPTION_CHARSET, allowed: EC2_DESCRIPTION_ALLOWED, source: SG_DESCRIPTION_SOURCE },
        ruleDescription("ingress[].description"),
        ruleDescription("egress[].description"),
    ],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [ruleDescription("description")],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": [ruleDescription("description")],
    "aws:ec2/securityGroupRule:SecurityGroupRule": [ruleDescription("description")],
    "aws:iam/role:Role": [{ path: "description", rule: "iam-description", maxLength: 1000, pattern: IAM_DESCRIPTION, allowed: "printable ASCII and Latin-1 characters", source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (Description)" }],
    "aws:iam/policy:Policy": [{ path: "description", rule: "iam-description", maxLength: 1000, pattern: IAM_DESCRIPTION, allowed: "printable ASCII and Latin-1 characters", source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html (Description)" }],
    "aws:lambda/function:Function": [{ path: "description", rule: "text-length", maxLength: 256, source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (Description)" }],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [{ path: "alarmDescription", rule: "text-length", maxLength: 1024, source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (AlarmDescription)" }],
    "aws:ec2/launchTemplate:LaunchTemplate": [{ path: "description", rule: "text-length", maxLength: 255, source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html (VersionDescription)" }],
    "aws:secretsmanager/secret:Secret": [{ path: "description", rule: "text-length", maxLength: 2048, source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html (Description)" }],
    "aws:kms/key:Key": [{ path: "description", rule: "text-length", maxLength: 8192, source: "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html (Description)" }],
};

const TAG_SOURCE = "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html#tag-conventions";
const IAM_TAG_SOURCE = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html";
const IAM_TAG_CHARSET = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export function checkFreeText(resource: AcceptanceResource, report: Report): void {
    for (const rule of TEXT_RULES[resource.type] ?? []) {
        for (const { path, value } of valuesAt(resource.inputs, rule.path)) {
            if (typeof value !== "string") continue;
            if (value.length > rule.maxLength) report(path, rule.rule, `${path} is ${value.length} characters; AWS accepts at most ${rule.maxLength}`, rule.source);
            if (rule.pattern && !rule.pattern.test(value)) {
                const refused = [...new Set([...value].filter((c) => !rule.pattern!.test(c)))].map((c) => JSON.stringify(c)).join(", ");
                report(path, rule.rule, `${path} ${JSON.stringify(value)} has characters AWS refuses (${refused}); allowed: ${rule.allowed}`, rule.source);
            }
        }
    }
    checkTags(resource, report);
}

function checkTags(resource: AcceptanceResource, report: Report): void {
    const tags = resource.inputs.tags;
    if (tags === null || typeof tags !== "object" || Array.isArray(tags)) return;
    const iam = resource.type.startsWith("aws:iam/");
    const entries = Object.entries(tags as Record<string, unknown>);
    if (entries.length > 50) report("tags", "tag-count", `${entries.length} tags; AWS accepts at most 50 per resource`, TAG_SOURCE);
    for (const [key, value] of entries) {
        if (key.length < 1 || key.length > 128) report(`tags.${key}`, "tag-key", `tag key ${JSON.stringify(key)} is ${key.length} characters; AWS accepts 1 to 128`, TAG_SOURCE);
        if (/^aws:/i.test(key)) report(`tags.${key}`, "tag-key", `tag key ${JSON.stringify(key)} uses the reserved aws: prefix`, TAG_SOURCE);
        if (typeof value === "string" && isKnown(value) && value.length > 256) report(`tags.${key}`, "tag-value", `tag value of ${key} is ${value.length} characters; AWS accepts at most 256`, TAG_SOURCE);
        if (iam && (!IAM_TAG_CHARSET.test(key) || (typeof value === "string" && isKnown(value) && !IAM_TAG_CHARSET.test(value)))) {
            report(`tags.${key}`, "tag-charset", `IAM refuses tag ${JSON.stringify(key)}: keys and values may hold letters, digits, spaces and _.:/=+-@ only`, IAM_TAG_SOURCE);
        }
    }
}
