import { PolicyResource, UnknownValueError } from "@pulumi/policy";

/** Pulumi type tokens of the resources the pack reads (strings, so the pack needs no provider SDK at run time). */
export const T = {
    iamPolicy: "aws:iam/policy:Policy",
    iamRolePolicy: "aws:iam/rolePolicy:RolePolicy",
    iamUserPolicy: "aws:iam/userPolicy:UserPolicy",
    iamGroupPolicy: "aws:iam/groupPolicy:GroupPolicy",
    iamRole: "aws:iam/role:Role",
    iamRolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    iamUserPolicyAttachment: "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    iamGroupPolicyAttachment: "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    iamPolicyAttachment: "aws:iam/policyAttachment:PolicyAttachment",
    s3Bucket: "aws:s3/bucket:Bucket",
    s3BucketV2: "aws:s3/bucketV2:BucketV2",
    s3BucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    s3PublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    s3AccountPublicAccessBlock: "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
    s3Encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    s3EncryptionV2: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    sqsQueue: "aws:sqs/queue:Queue",
    sqsQueuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
    snsTopic: "aws:sns/topic:Topic",
    snsTopicPolicy: "aws:sns/topicPolicy:TopicPolicy",
    ecrRepository: "aws:ecr/repository:Repository",
    ecrRepositoryPolicy: "aws:ecr/repositoryPolicy:RepositoryPolicy",
    secretPolicy: "aws:secretsmanager/secretPolicy:SecretPolicy",
    lambdaFunction: "aws:lambda/function:Function",
    lambdaPermission: "aws:lambda/permission:Permission",
    lambdaEventSourceMapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
    ecsTaskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
    ecsService: "aws:ecs/service:Service",
    ec2LaunchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
    ec2Instance: "aws:ec2/instance:Instance",
    ssmParameter: "aws:ssm/parameter:Parameter",
} as const;

export const BUCKET_TYPES: string[] = [T.s3Bucket, T.s3BucketV2];

// ---------------------------------------------------------------------------------------------
// ECS container definitions
// ---------------------------------------------------------------------------------------------

export interface KeyValue {
    name?: string;
    value?: unknown;
}

export interface ContainerDefinition {
    name?: string;
    image?: string;
    essential?: boolean;
    stopTimeout?: unknown;
    environment?: KeyValue[];
    secrets?: { name?: string; valueFrom?: string }[];
    [key: string]: unknown;
}

export type ParsedContainers = { ok: true; containers: ContainerDefinition[] } | { ok: false; error: string };

/** `containerDefinitions` as the provider takes it (a JSON string) or as an already-parsed list. */
export function parseContainerDefinitions(value: unknown): ParsedContainers {
    let parsed = value;
    if (typeof value === "string") {
        try {
            parsed = JSON.parse(value);
        } catch (err) {
            return { ok: false, error: `containerDefinitions is not valid JSON (${(err as Error).message})` };
        }
    }
    if (!Array.isArray(parsed)) return { ok: false, error: "containerDefinitions is not a JSON list of containers" };
    return { ok: true, containers: parsed.filter((c) => c && typeof c === "object") as ContainerDefinition[] };
}

export function containerLabel(c: ContainerDefinition, index: number): string {
    return c.name ? `container "${c.name}"` : `container #${index}`;
}

export function environmentOf(c: ContainerDefinition): { name: string; value: string }[] {
    if (!Array.isArray(c.environment)) return [];
    return c.environment
        .filter((e) => e && typeof e.name === "string")
        .map((e) => ({ name: e.name as string, value: e.value === undefined || e.value === null ? "" : String(e.value) }));
}

export function isFargate(props: Record<string, any>): boolean {
    const compat = props.requiresCompatibilities;
    return Array.isArray(compat) && compat.some((c) => String(c).toUpperCase() === "FARGATE");
}

// ---------------------------------------------------------------------------------------------
// Cross-resource references
// ---------------------------------------------------------------------------------------------

/**
 * Reads a property that may not be known yet (during a preview, outputs of resources still to be
 * created are unknown and the policy SDK throws on access). Joins use it so one unknown name does
 * not stop a whole stack policy: property dependencies still connect resources in a preview.
 */
export function knownOrUndefined<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch (err) {
        if (err instanceof UnknownValueError) return undefined;
        throw err;
    }
}

/**
 * The values another resource may use to point at `r`: its logical name (what mocks return as id),
 * its physical name, id, ARN and URL properties. Inputs that reference another resource's output
 * are plain values in a checkpoint, so equality on these is how a reference shows.
 */
export function identifiersOf(r: PolicyResource, extraKeys: string[] = []): Set<string> {
    const ids = new Set<string>([r.name, r.urn]);
    for (const key of ["id", "name", "arn", "bucket", "url", "family", "arnWithoutRevision", ...extraKeys]) {
        const v = knownOrUndefined(() => r.props[key]);
        if (typeof v === "string" && v !== "") ids.add(v);
    }
    return ids;
}

/** Identifier → resources, for joins by value; property dependencies join by URN. */
export class ResourceIndex {
    private readonly byId = new Map<string, PolicyResource[]>();

    constructor(resources: PolicyResource[], extraKeys: string[] = []) {
        for (const r of resources) for (const id of identifiersOf(r, extraKeys)) this.add(id, r);
    }

    /** Lets `r` be found by one more identifier (a bucket by its ARN). */
    add(id: string, r: PolicyResource): void {
        const list = this.byId.get(id) ?? [];
        if (!list.includes(r)) list.push(r);
        this.byId.set(id, list);
    }

    /** The indexed resources `holder.props[prop]` points at (by property dependency or by value; lists followed). */
    targets(holder: PolicyResource, prop: string): PolicyResource[] {
        const found = new Set<PolicyResource>();
        for (const d of holder.propertyDependencies?.[prop] ?? []) for (const r of this.byId.get(d.urn) ?? []) found.add(r);
        const values = ([] as unknown[]).concat(knownOrUndefined(() => holder.props[prop]) ?? []);
        for (const v of values) {
            if (typeof v !== "string") continue;
            for (const r of this.lookup(v)) found.add(r);
        }
        return [...found];
    }

    lookup(value: string): PolicyResource[] {
        const direct = this.byId.get(value);
        if (direct) return direct;
        // A role ARN's last segment is its name; a Lambda ARN may carry a qualifier (`:live`, `:3`).
        const roleName = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(value)?.[1];
        if (roleName) return this.byId.get(roleName) ?? [];
        const fn = /^(arn:aws[a-z-]*:lambda:[^:]+:\d{12}:function:[^:]+):[^:]+$/.exec(value)?.[1];
        return fn ? (this.byId.get(fn) ?? []) : [];
    }
}

/** Bucket names and ARNs a bucket may be referred to by. */
export function bucketIdentifiers(bucket: PolicyResource): Set<string> {
    const ids = identifiersOf(bucket);
    for (const v of [...ids]) {
        if (!v.startsWith("arn:") && !v.startsWith("urn:")) ids.add(`arn:aws:s3:::${v}`);
    }
    return ids;
}

export function tagsOf(props: Record<string, any>): Record<string, string> {
    const tags = knownOrUndefined(() => props.tags);
    if (!tags || typeof tags !== "object" || Array.isArray(tags)) return {};
    const out: Record<string, string> = {};
    for (const k of Object.keys(tags)) {
        const v = knownOrUndefined(() => (tags as Record<string, unknown>)[k]);
        if (typeof v === "string") out[k] = v;
    }
    return out;
}

export function asNumber(value: unknown): number | undefined {
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
    return undefined;
}
