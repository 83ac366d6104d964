import { PolicyResource } from "@pulumi/policy";
import { parsePolicyDocument, principalValues, isAllow } from "./iamDocument";
import { awsManagedPolicyDocument } from "./managedPolicies";
import { knownOrUndefined, ResourceIndex, T } from "./resources";

/**
 * The roles of a stack with every way a permission reaches them: inline policies
 * (`inlinePolicies`), RolePolicy resources, every attachment resource of @pulumi/aws 7
 * (RolePolicyAttachment, PolicyAttachment, RolePolicyAttachmentsExclusive), `managedPolicyArns`;
 * customer-managed policies of the stack by their document, AWS managed policies by their real
 * document (managedPolicies.ts). Roles are also classified by what uses them: the task
 * definitions whose executionRoleArn/taskRoleArn, the Lambdas whose role, and the instance
 * profiles whose role point at them.
 *
 * Joins go through an index of every identifier (logical name, URN, name, ARN, id) a resource can
 * be referred to by, so building the graph is linear in the stack's size.
 */

export const ROLE_KIND_TAG = "jobfleet:role-kind";
export const JOB_SUBMITTER_TAG = "jobfleet:job-submitter";

export interface GrantingDocument {
    /** The resource whose property holds (or attaches) the document. */
    holder: PolicyResource;
    /** Where in that resource: `policy`, `inlinePolicies[0].policy`, `policyArn "arn:aws:iam::aws:policy/..."`. */
    field: string;
    document: unknown;
}

export interface AttachedPolicyArn {
    arn: string;
    holder: PolicyResource;
    field: string;
}

export type RoleUse = "execution" | "task" | "lambda" | "instance";

export interface RoleGrants {
    role: PolicyResource;
    /** Service principals its trust policy lets assume it. */
    trustedServices: string[];
    /** What the role is, from the `jobfleet:role-kind` tag or from what uses it (`execution` when a task definition's executionRoleArn points at it). */
    kind?: string;
    /** How resources of the stack use the role. */
    usedAs: Set<RoleUse>;
    jobSubmitter: boolean;
    documents: GrantingDocument[];
    /** Managed policies attached whose document neither the stack nor the AWS managed policy data has. */
    externalPolicies: AttachedPolicyArn[];
}

function trustedServicesOf(role: PolicyResource): string[] {
    const parsed = parsePolicyDocument(knownOrUndefined(() => role.props.assumeRolePolicy));
    if (!parsed.ok) return [];
    return parsed.statements.filter(isAllow).flatMap((s) => principalValues(s.principal, "Service"));
}

/** Attachment resources: type → the property naming the principal(s), and the property with the policy ARN(s). */
const ROLE_ATTACHMENTS: { type: string; role: string; arns: string }[] = [
    { type: T.iamRolePolicyAttachment, role: "role", arns: "policyArn" },
    { type: T.iamPolicyAttachment, role: "roles", arns: "policyArn" },
    { type: "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive", role: "roleName", arns: "policyArns" },
];

export function collectRoleGrants(resources: PolicyResource[]): RoleGrants[] {
    const roles = resources.filter((r) => r.type === T.iamRole);
    const roleIndex = new ResourceIndex(roles);
    const policyIndex = new ResourceIndex(resources.filter((r) => r.type === T.iamPolicy));
    const grants = new Map<PolicyResource, RoleGrants>();
    for (const role of roles) {
        const tags = (knownOrUndefined(() => role.props.tags) ?? {}) as Record<string, unknown>;
        const kindTag = typeof tags[ROLE_KIND_TAG] === "string" ? (tags[ROLE_KIND_TAG] as string).toLowerCase() : undefined;
        const g: RoleGrants = {
            role,
            trustedServices: trustedServicesOf(role),
            kind: kindTag,
            usedAs: new Set(),
            jobSubmitter: String(tags[JOB_SUBMITTER_TAG] ?? "").toLowerCase() === "true",
            documents: [],
            externalPolicies: [],
        };
        const inline = knownOrUndefined(() => role.props.inlinePolicies);
        (Array.isArray(inline) ? inline : []).forEach((p: { name?: string; policy?: unknown }, i: number) => {
            if (p && p.policy !== undefined && p.policy !== "") g.documents.push({ holder: role, field: `inlinePolicies[${i}]${p.name ? ` ("${p.name}")` : ""}.policy`, document: p.policy });
        });
        grants.set(role, g);
    }

    const attach = (g: RoleGrants, arn: string, holder: PolicyResource, field: string, attachment?: PolicyResource, arnProp?: string) => {
        const local = (attachment && arnProp ? policyIndex.targets(attachment, arnProp) : []).concat(policyIndex.lookup(arn));
        if (local.length > 0) {
            g.documents.push({ holder: local[0], field: "policy", document: knownOrUndefined(() => local[0].props.policy) });
            return;
        }
        const managed = awsManagedPolicyDocument(arn);
        if (managed) g.documents.push({ holder, field: `${field} "${arn}" (its AWS managed document)`, document: managed });
        else g.externalPolicies.push({ arn, holder, field });
    };

    for (const r of resources) {
        if (r.type === T.iamRolePolicy) {
            for (const role of roleIndex.targets(r, "role")) grants.get(role)?.documents.push({ holder: r, field: "policy", document: knownOrUndefined(() => r.props.policy) });
            continue;
        }
        const attachment = ROLE_ATTACHMENTS.find((a) => a.type === r.type);
        if (attachment) {
            const arns = ([] as unknown[]).concat(knownOrUndefined(() => r.props[attachment.arns]) ?? []);
            for (const role of roleIndex.targets(r, attachment.role)) {
                const g = grants.get(role)!;
                arns.forEach((arn, i) => {
                    if (typeof arn === "string") attach(g, arn, r, Array.isArray(r.props[attachment.arns]) ? `${attachment.arns}[${i}]` : attachment.arns, r, attachment.arns);
                });
            }
            continue;
        }
        if (r.type === T.ecsTaskDefinition) {
            for (const role of roleIndex.targets(r, "executionRoleArn")) grants.get(role)!.usedAs.add("execution");
            for (const role of roleIndex.targets(r, "taskRoleArn")) grants.get(role)!.usedAs.add("task");
        } else if (r.type === T.lambdaFunction) {
            for (const role of roleIndex.targets(r, "role")) grants.get(role)!.usedAs.add("lambda");
        } else if (r.type === "aws:iam/instanceProfile:InstanceProfile") {
            for (const role of roleIndex.targets(r, "role")) grants.get(role)!.usedAs.add("instance");
        }
    }
    for (const g of grants.values()) {
        const managed = knownOrUndefined(() => g.role.props.managedPolicyArns);
        (Array.isArray(managed) ? managed : []).forEach((arn: unknown, i: number) => {
            if (typeof arn === "string") attach(g, arn, g.role, `managedPolicyArns[${i}]`);
        });
        // A role used as an execution role and as nothing else is an execution role, whatever its tags say.
        if (!g.kind && g.usedAs.has("execution") && !g.usedAs.has("task") && !g.usedAs.has("lambda")) g.kind = "execution";
    }
    return [...grants.values()];
}
