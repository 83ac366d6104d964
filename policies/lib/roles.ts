import { PolicyResource } from "@pulumi/policy";
import { parsePolicyDocument, principalValues, isAllow } from "./iamDocument";
import { identifiersOf, refersTo, T, tagsOf } from "./resources";

/**
 * The roles of a stack with everything that grants them permissions: inline policies, `RolePolicy`
 * resources, attached customer-managed policies of the same stack and attached AWS-managed
 * policies. Joins go by property dependency first and by value second, so they work on a plan
 * captured under mocks and on a live stack's export alike.
 */

export const ROLE_KIND_TAG = "jobfleet:role-kind";
export const JOB_SUBMITTER_TAG = "jobfleet:job-submitter";

export interface GrantingDocument {
    /** The resource whose property holds the document (the role itself for inline policies). */
    holder: PolicyResource;
    /** Where in that resource: `policy`, `inlinePolicies[0].policy`. */
    field: string;
    document: unknown;
}

export interface AttachedPolicyArn {
    arn: string;
    /** The resource that attaches it (the role itself for `managedPolicyArns`). */
    holder: PolicyResource;
    field: string;
}

export interface RoleGrants {
    role: PolicyResource;
    /** Service principals its trust policy lets assume it. */
    trustedServices: string[];
    /** Value of the `jobfleet:role-kind` tag, lower-cased, if any. */
    kind?: string;
    /** Tagged `jobfleet:job-submitter = true`. */
    jobSubmitter: boolean;
    documents: GrantingDocument[];
    /** Managed policies attached whose document is not part of the stack (AWS-managed or created elsewhere). */
    externalPolicies: AttachedPolicyArn[];
}

function trustedServicesOf(role: PolicyResource): string[] {
    const parsed = parsePolicyDocument(role.props.assumeRolePolicy);
    if (!parsed.ok) return [];
    return parsed.statements.filter(isAllow).flatMap((s) => principalValues(s.principal, "Service"));
}

export function collectRoleGrants(resources: PolicyResource[]): RoleGrants[] {
    const policies = resources.filter((r) => r.type === T.iamPolicy);
    const rolePolicies = resources.filter((r) => r.type === T.iamRolePolicy);
    const attachments = resources.filter((r) => r.type === T.iamRolePolicyAttachment);
    const multiAttachments = resources.filter((r) => r.type === T.iamPolicyAttachment);

    return resources
        .filter((r) => r.type === T.iamRole)
        .map((role) => {
            const ids = identifiersOf(role);
            const tags = tagsOf(role.props);
            const kindTag = Object.entries(tags).find(([k]) => k === ROLE_KIND_TAG)?.[1];
            const grants: RoleGrants = {
                role,
                trustedServices: trustedServicesOf(role),
                kind: kindTag?.toLowerCase(),
                jobSubmitter: (tags[JOB_SUBMITTER_TAG] ?? "").toLowerCase() === "true",
                documents: [],
                externalPolicies: [],
            };

            const inline = Array.isArray(role.props.inlinePolicies) ? role.props.inlinePolicies : [];
            inline.forEach((p: { name?: string; policy?: unknown }, i: number) => {
                if (p && p.policy !== undefined && p.policy !== "") {
                    grants.documents.push({ holder: role, field: `inlinePolicies[${i}]${p.name ? ` ("${p.name}")` : ""}.policy`, document: p.policy });
                }
            });
            for (const rp of rolePolicies) {
                if (refersTo(rp, "role", role, ids)) grants.documents.push({ holder: rp, field: "policy", document: rp.props.policy });
            }

            const attach = (arn: string, holder: PolicyResource, field: string, attachment?: PolicyResource) => {
                const local = policies.find((p) => (attachment && refersTo(attachment, "policyArn", p)) || identifiersOf(p).has(arn));
                if (local) grants.documents.push({ holder: local, field: "policy", document: local.props.policy });
                else grants.externalPolicies.push({ arn, holder, field });
            };
            for (const a of attachments) {
                if (refersTo(a, "role", role, ids) && typeof a.props.policyArn === "string") attach(a.props.policyArn, a, "policyArn", a);
            }
            for (const a of multiAttachments) {
                if (refersTo(a, "roles", role, ids) && typeof a.props.policyArn === "string") attach(a.props.policyArn, a, "policyArn", a);
            }
            const managed = Array.isArray(role.props.managedPolicyArns) ? role.props.managedPolicyArns : [];
            managed.forEach((arn: unknown, i: number) => {
                if (typeof arn === "string") attach(arn, role, `managedPolicyArns[${i}]`);
            });
            return grants;
        });
}
