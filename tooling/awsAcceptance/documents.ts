import { z } from "zod";
import { shapeName, ShapeRef, validateAgainstShape } from "./sdkShapes";
import { AcceptanceResource, isKnown, Report, UNKNOWN } from "./violation";

/**
 * JSON documents the provider hands to AWS as strings. Where an AWS SDK v3 shape describes the
 * document, it is the rule; the documents AWS's API takes as an opaque string (ECR lifecycle
 * policies, SQS redrive policies) have a small schema here, cited to the page that defines them.
 */
interface SdkDocument {
    property: string;
    shape: ShapeRef;
}

const SDK_DOCUMENTS: Record<string, SdkDocument[]> = {
    "aws:ecs/taskDefinition:TaskDefinition": [{ property: "containerDefinitions", shape: { clientPackage: "@aws-sdk/client-ecs", schemaExport: "ContainerDefinition$", list: true } }],
};

const ECR_LIFECYCLE_SOURCE = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html";
const SQS_ATTRIBUTES_SOURCE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html (RedrivePolicy, RedriveAllowPolicy)";

const ecrLifecycleRule = z
    .strictObject({
        rulePriority: z.int().min(1),
        description: z.string().optional(),
        selection: z.strictObject({
            tagStatus: z.enum(["tagged", "untagged", "any"]),
            tagPrefixList: z.array(z.string()).optional(),
            tagPatternList: z.array(z.string()).optional(),
            storageClass: z.enum(["standard", "archive"]).optional(),
            countType: z.enum(["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"]),
            countUnit: z.literal("days").optional(),
            countNumber: z.int().min(1),
        }),
        action: z.strictObject({ type: z.enum(["expire", "transition"]), targetStorageClass: z.literal("archive").optional() }),
    })
    .superRefine((rule, ctx) => {
        const { selection } = rule;
        if (selection.tagStatus === "tagged" && !selection.tagPrefixList?.length && !selection.tagPatternList?.length) {
            ctx.addIssue({ code: "custom", path: ["selection"], message: 'tagStatus "tagged" needs tagPrefixList or tagPatternList' });
        }
        if (selection.countType === "imageCountMoreThan" && selection.countUnit !== undefined) {
            ctx.addIssue({ code: "custom", path: ["selection", "countUnit"], message: "countUnit applies only to the since* count types" });
        }
        if (selection.countType !== "imageCountMoreThan" && selection.countUnit === undefined) {
            ctx.addIssue({ code: "custom", path: ["selection", "countUnit"], message: `countType ${selection.countType} needs countUnit "days"` });
        }
    });

const ecrLifecyclePolicy = z.strictObject({ rules: z.array(ecrLifecycleRule).min(1) }).superRefine((policy, ctx) => {
    const priorities = policy.rules.map((r) => r.rulePriority);
    if (new Set(priorities).size !== priorities.length) ctx.addIssue({ code: "custom", path: ["rules"], message: "rulePriority values must be unique" });
    const anyRules = policy.rules.filter((r) => r.selection.tagStatus === "any");
    if (anyRules.length > 1) ctx.addIssue({ code: "custom", path: ["rules"], message: 'only one rule may have tagStatus "any"' });
    if (anyRules.length === 1 && anyRules[0].rulePriority !== Math.max(...priorities)) {
        ctx.addIssue({ code: "custom", path: ["rules"], message: 'the rule with tagStatus "any" must have the highest rulePriority' });
    }
});

const redrivePolicy = z.strictObject({ deadLetterTargetArn: z.string().startsWith("arn:"), maxReceiveCount: z.int().min(1).max(1000) });
const redriveAllowPolicy = z
    .strictObject({ redrivePermission: z.enum(["allowAll", "denyAll", "byQueue"]), sourceQueueArns: z.array(z.string().startsWith("arn:")).max(10).optional() })
    .refine((p) => p.redrivePermission !== "byQueue" || (p.sourceQueueArns?.length ?? 0) > 0, { message: 'redrivePermission "byQueue" needs sourceQueueArns (1 to 10)', path: ["sourceQueueArns"] });

interface HandKeptDocument {
    property: string;
    rule: string;
    schema: z.ZodType;
    source: string;
}

const HAND_KEPT_DOCUMENTS: Record<string, HandKeptDocument[]> = {
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": [{ property: "policy", rule: "ecr-lifecycle-policy", schema: ecrLifecyclePolicy, source: ECR_LIFECYCLE_SOURCE }],
    "aws:sqs/queue:Queue": [
        { property: "redrivePolicy", rule: "sqs-redrive-policy", schema: redrivePolicy, source: SQS_ATTRIBUTES_SOURCE },
        { property: "redriveAllowPolicy", rule: "sqs-redrive-policy", schema: redriveAllowPolicy, source: SQS_ATTRIBUTES_SOURCE },
    ],
    "aws:sqs/redrivePolicy:RedrivePolicy": [{ property: "redrivePolicy", rule: "sqs-redrive-policy", schema: redrivePolicy, source: SQS_ATTRIBUTES_SOURCE }],
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": [{ property: "redriveAllowPolicy", rule: "sqs-redrive-policy", schema: redriveAllowPolicy, source: SQS_ATTRIBUTES_SOURCE }],
};

/** A JSON document input: parsed when it is a string, as is when the program passed an object. */
export function parseDocument(value: unknown): { ok: true; document: unknown } | { ok: false; error: string } | undefined {
    if (!isKnown(value)) return undefined;
    if (typeof value !== "string") return { ok: true, document: value };
    if (value.includes(UNKNOWN)) return undefined;
    try {
        return { ok: true, document: JSON.parse(value) };
    } catch (err) {
        return { ok: false, error: (err as Error).message };
    }
}

export function checkDocuments(resource: AcceptanceResource, report: Report): void {
    for (const { property, shape } of SDK_DOCUMENTS[resource.type] ?? []) {
        const parsed = parseDocument(resource.inputs[property]);
        if (!parsed) continue;
        if (!parsed.ok) {
            report(property, "json-syntax", `${property} is not JSON: ${parsed.error}`, `AWS SDK v3 shape ${shapeName(shape)}`);
            continue;
        }
        for (const issue of validateAgainstShape(parsed.document, shape, property)) {
            report(issue.path, issue.rule, issue.message, `AWS SDK v3 shape ${issue.shape} (${shape.clientPackage})`);
        }
    }
    for (const { property, rule, schema, source } of HAND_KEPT_DOCUMENTS[resource.type] ?? []) {
        const parsed = parseDocument(resource.inputs[property]);
        if (!parsed) continue;
        if (!parsed.ok) {
            report(property, "json-syntax", `${property} is not JSON: ${parsed.error}`, source);
            continue;
        }
        const result = schema.safeParse(parsed.document);
        if (result.success) continue;
        for (const issue of result.error.issues) {
            const at = [property, ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))].join("").replace(/\.\[/g, "[");
            const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
            report(at, rule, `${at}: ${issue.message}${keys}`, source);
        }
    }
}
