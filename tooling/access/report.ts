import { expandIamActions } from "@cloud-copilot/iam-expand";
import { CapturedResource, inputsOf } from "../capture";
import { ComponentAccess, DeclarationView, ExpectedCall, KeptGrant, RoleAccess } from "../../components/access";
import { AccessRequest, accessRequestsFor, RecordedCall } from "./operations";
import { AccessPlan, asList, isRuntimeRole, PlannedRole, resourcesUnder, statementsOf } from "./plan";
import { Decision, simulateRequest, SimulatedRequest } from "./simulate";

/** A recorded call with the role that made it, and for a presigned request the role that signed it. */
export interface AttributedCall extends RecordedCall {
    /** Logical name of the role whose code made the call. */
    role: string;
    /** Logical name of the role whose signature the request carries (a presigned URL). */
    presignedBy?: string;
}

export interface ReportCall {
    action: string;
    resource: string;
    decision: Decision;
    presignedBy?: string;
    note?: string;
}

export interface ReportGrant {
    action: string;
    resource: string;
    /** Why the grant stays although nothing uses it; null when the component gives no reason. */
    reason: string | null;
}

export interface ReportProbe {
    action: string;
    resource: string;
    decision: Decision;
}

export interface RoleReport {
    role: string;
    principal: string;
    calls: ReportCall[];
    unused: ReportGrant[];
    probes: ReportProbe[];
}

export interface AccessReport {
    stack: string;
    roles: RoleReport[];
}

/** The report and, per role, the details behind it (sources, what denied what), for the text view and the tests. */
export interface AccessAnalysis {
    report: AccessReport;
    details: Map<string, { calls: SimulatedRequest[]; probes: SimulatedRequest[]; runs: string[] }>;
    /** Reasons to keep a grant that no role they cover still holds: stale, to be removed from the component. */
    staleKeeps: { roles: string[]; keep: KeptGrant }[];
}

function glob(pattern: string): RegExp {
    return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
}

/** The declarations that cover a role: those of every component above it whose pattern matches its name. */
export function declarationsFor(access: AccessPlan, role: PlannedRole, declarations: ComponentAccess[]): RoleAccess[] {
    const ancestors = new Set<string>();
    const byUrn = new Map(access.plan.resources.map((r) => [r.urn, r]));
    for (let r = byUrn.get(role.urn); r?.parent; r = byUrn.get(r.parent)) ancestors.add(byUrn.get(r.parent)?.type ?? "");
    return declarations.filter((d) => ancestors.has(d.component)).flatMap((d) => d.roles.filter((r) => r.role.test(role.logicalName)));
}

function componentUrnFor(access: AccessPlan, role: PlannedRole, component: string): string | undefined {
    let urn: string | undefined = access.plan.resources.find((r) => r.urn === role.urn)?.parent;
    while (urn) {
        const resource = access.plan.resources.find((r) => r.urn === urn);
        if (!resource) return undefined;
        if (resource.type === component) return urn;
        urn = resource.parent;
    }
    return undefined;
}

function ecrRepositoryArn(image: string): string | undefined {
    const m = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^@:]+)/.exec(image);
    return m ? `arn:aws:ecr:${m[2]}:${m[1]}:repository/${m[3]}` : undefined;
}

export function declarationView(access: AccessPlan, role: PlannedRole, component: string): DeclarationView {
    const { plan, region, accountId } = access;
    const componentUrn = componentUrnFor(access, role, component);
    const resources = componentUrn ? resourcesUnder(plan, componentUrn) : [];
    const taskDefinitions = () =>
        plan.resources.filter((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && [inputsOf(r).taskRoleArn, inputsOf(r).executionRoleArn].includes(role.arn));
    const containers = (): Array<Record<string, any> & { taskDefinition: CapturedResource }> =>
        taskDefinitions().flatMap((td) => (JSON.parse(String(inputsOf(td).containerDefinitions)) as Record<string, any>[]).map((c) => Object.assign({}, c, { taskDefinition: td })));
    const functions = () => plan.resources.filter((r) => r.type === "aws:lambda/function:Function" && inputsOf(r).role === role.arn);
    const logCalls = (group: string, stream: string, why: string): ExpectedCall[] => [
        // The service reference authorizes both on the log stream (resource type log-stream).
        { action: "logs:CreateLogStream", resource: `arn:aws:logs:${region}:${accountId}:log-group:${group}:log-stream:${stream}`, why },
        { action: "logs:PutLogEvents", resource: `arn:aws:logs:${region}:${accountId}:log-group:${group}:log-stream:${stream}`, why },
    ];
    return {
        stack: access.stack,
        region,
        accountId,
        role: { logicalName: role.logicalName, arn: role.arn, name: role.name },
        resources,
        inputsOf,
        taskDefinitions,
        containers,
        functions,
        ecsAgentCalls() {
            const calls: ExpectedCall[] = [];
            for (const c of containers().filter((c) => inputsOf(c.taskDefinition).executionRoleArn === role.arn)) {
                const why = `the ECS agent starting ${c.taskDefinition.name}/${c.name}`;
                const repository = ecrRepositoryArn(String(c.image));
                if (repository) {
                    calls.push({ action: "ecr:GetAuthorizationToken", resource: "*", why });
                    for (const action of ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]) calls.push({ action, resource: repository, why });
                }
                const log = c.logConfiguration?.logDriver === "awslogs" ? (c.logConfiguration.options as Record<string, string>) : undefined;
                if (log) calls.push(...logCalls(log["awslogs-group"], `${log["awslogs-stream-prefix"]}/${c.name}/0123456789abcdef0123456789abcdef`, why));
                for (const secret of asList(c.secrets as { valueFrom: string }[] | undefined)) {
                    // valueFrom may name a JSON key (arn:...:secret:name-AbCdEf:password::); the request is for the secret itself.
                    const arn = /^(arn:aws[a-z-]*:secretsmanager:[^:]+:\d{12}:secret:[^:]+)/.exec(secret.valueFrom)?.[1] ?? secret.valueFrom;
                    if (arn.includes(":secretsmanager:")) calls.push({ action: "secretsmanager:GetSecretValue", resource: arn, why });
                    else calls.push({ action: "ssm:GetParameters", resource: arn, why });
                }
            }
            return calls;
        },
        ecsVolumeCalls() {
            const calls: ExpectedCall[] = [];
            for (const td of taskDefinitions().filter((td) => inputsOf(td).taskRoleArn === role.arn)) {
                const mounts = (JSON.parse(String(inputsOf(td).containerDefinitions)) as { mountPoints?: { sourceVolume: string; readOnly?: boolean }[] }[]).flatMap((c) => c.mountPoints ?? []);
                for (const volume of asList(inputsOf(td).volumes as Record<string, any>[] | undefined)) {
                    const efs = volume.efsVolumeConfiguration;
                    if (!efs || efs.authorizationConfig?.iam !== "ENABLED") continue;
                    const fileSystem = plan.resources.find((r) => r.type === "aws:efs/fileSystem:FileSystem" && r.id === efs.fileSystemId);
                    const accessPoint = plan.resources.find((r) => r.type === "aws:efs/accessPoint:AccessPoint" && r.id === efs.authorizationConfig.accessPointId);
                    const resource = String(fileSystem?.outputs.arn ?? `arn:aws:elasticfilesystem:${region}:${accountId}:file-system/${efs.fileSystemId}`);
                    const context: Record<string, string> = accessPoint ? { "elasticfilesystem:AccessPointArn": String(accessPoint.outputs.arn) } : {};
                    const why = `ECS mounting EFS volume ${volume.name} of ${td.name} with IAM authorization`;
                    calls.push({ action: "elasticfilesystem:ClientMount", resource, context, why, secureTransport: efs.transitEncryption === "ENABLED" });
                    if (mounts.some((m) => m.sourceVolume === volume.name && !m.readOnly)) calls.push({ action: "elasticfilesystem:ClientWrite", resource, context, why, secureTransport: efs.transitEncryption === "ENABLED" });
                }
            }
            return calls;
        },
        lambdaServiceCalls() {
            const calls: ExpectedCall[] = [];
            for (const fn of functions()) {
                const i = inputsOf(fn);
                const name = String(fn.outputs.name ?? i.name);
                const group = String(i.loggingConfig?.logGroup ?? `/aws/lambda/${name}`);
                calls.push(...logCalls(group, "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef", `the Lambda service writing ${name}'s log`));
                if (i.deadLetterConfig?.targetArn) calls.push({ action: "sqs:SendMessage", resource: String(i.deadLetterConfig.targetArn), why: `the Lambda service sending ${name}'s failed events to its dead-letter queue` });
                const vpc = i.vpcConfig as { subnetIds?: string[]; securityGroupIds?: string[] } | undefined;
                if (vpc?.subnetIds?.length) {
                    const why = `the Lambda service attaching ${name} to its VPC (Hyperplane network interfaces)`;
                    const eni = `arn:aws:ec2:${region}:${accountId}:network-interface/eni-0123456789abcdef0`;
                    calls.push({ action: "ec2:DescribeNetworkInterfaces", resource: "*", why }, { action: "ec2:DescribeSubnets", resource: "*", why });
                    calls.push({ action: "ec2:CreateNetworkInterface", resource: eni, why });
                    for (const subnet of vpc.subnetIds) calls.push({ action: "ec2:CreateNetworkInterface", resource: `arn:aws:ec2:${region}:${accountId}:subnet/${subnet}`, why });
                    for (const group of vpc.securityGroupIds ?? []) calls.push({ action: "ec2:CreateNetworkInterface", resource: `arn:aws:ec2:${region}:${accountId}:security-group/${group}`, why });
                    for (const action of ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]) calls.push({ action, resource: eni, why });
                }
            }
            return calls;
        },
    };
}

/** One (action, resource pattern) an Allow statement of the role's identity policies grants. */
interface Grant {
    policy: string;
    statementIndex: number;
    action: string;
    resource: string;
}

async function grantsOf(role: PlannedRole): Promise<Grant[]> {
    const grants: Grant[] = [];
    for (const policy of role.identityPolicies) {
        for (const [statementIndex, statement] of statementsOf(policy.document).entries()) {
            if (statement.Effect !== "Allow") continue;
            const actions = statement.NotAction ? [`NotAction ${asList(statement.NotAction).join(",")}`] : [];
            for (const action of asList(statement.Action)) {
                actions.push(...(action === "*" || !action.includes("*") && !action.includes("?") ? [action] : await expandIamActions(action)));
            }
            const resources = statement.NotResource ? [`NotResource ${asList(statement.NotResource).join(",")}`] : asList(statement.Resource);
            for (const action of actions) for (const resource of resources) grants.push({ policy: policy.name, statementIndex, action, resource });
        }
    }
    return grants;
}

function grantKey(policy: string, statementIndex: number, action: string, resource: string): string {
    return `${policy}#${statementIndex}|${action.toLowerCase()}|${resource}`;
}

function keeps(k: KeptGrant, grant: Grant): boolean {
    const matches = (pattern: string | RegExp, value: string) => (typeof pattern === "string" ? glob(pattern) : pattern).test(value);
    return matches(k.action, grant.action) && (k.resource === undefined || matches(k.resource, grant.resource));
}

function reasonFor(grant: Grant, keep: KeptGrant[]): string | null {
    return keep.find((k) => keeps(k, grant))?.reason ?? null;
}

function expectedToRecorded(call: ExpectedCall): AccessRequest {
    return { action: call.action, resource: call.resource, context: { "aws:SecureTransport": String(call.secureTransport ?? true), ...(call.context ?? {}) }, source: call.why };
}

function otherStack(stack: string): string {
    return stack === "prod" ? "staging" : "prod";
}

/** A bucket of the same purpose in another stack: the stack name swapped, or prefixed when the name carries none. */
function otherStackBucket(bucket: string, stack: string): string {
    return bucket.includes(`-${stack}-`) ? bucket.replace(`-${stack}-`, `-${otherStack(stack)}-`) : `jobfleet-${otherStack(stack)}-${bucket}`.slice(0, 63);
}

/**
 * Calls a runtime role must never make: control-plane changes (ECS, ELB, IAM), other stacks'
 * buckets, other environments' and pull requests' prefixes, its own objects without TLS, and
 * presigned URLs older than the contract allows.
 */
function probesFor(access: AccessPlan, role: PlannedRole, calls: AccessRequest[]): AccessRequest[] {
    const { region, accountId, plan, stack } = access;
    const probes: AccessRequest[] = [];
    const tls = { "aws:SecureTransport": "true" };
    const add = (action: string, resource: string, context: Record<string, string> = {}) => {
        if (!probes.some((p) => p.action === action && p.resource === resource && JSON.stringify(p.context) === JSON.stringify({ ...tls, ...context }))) {
            probes.push({ action, resource, context: { ...tls, ...context }, source: "probe" });
        }
    };
    const first = (type: string) => plan.resources.find((r) => r.type === type);
    const cluster = String(first("aws:ecs/cluster:Cluster")?.outputs.arn ?? `arn:aws:ecs:${region}:${accountId}:cluster/default`);
    const service = first("aws:ecs/service:Service");
    add("ecs:UpdateService", `arn:aws:ecs:${region}:${accountId}:service/${cluster.split("/").pop()}/${service?.outputs.name ?? "service"}`, { "ecs:cluster": cluster });
    add("ecs:RegisterTaskDefinition", "*");
    const ranTaskDefinitions = new Set(calls.filter((c) => c.action === "ecs:RunTask").map((c) => c.resource.replace(/:\d+$/, "")));
    for (const td of plan.resources.filter((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition")) {
        const arn = String(td.outputs.arn);
        if (!ranTaskDefinitions.has(arn.replace(/:\d+$/, ""))) add("ecs:RunTask", arn, { "ecs:cluster": cluster });
    }
    const listener = first("aws:lb/listener:Listener");
    if (listener) add("elasticloadbalancing:ModifyListener", String(listener.id));
    const targetGroup = first("aws:lb/targetGroup:TargetGroup");
    if (targetGroup) add("elasticloadbalancing:RegisterTargets", String(targetGroup.id));
    add("iam:PutRolePolicy", role.arn);
    add("iam:AttachRolePolicy", role.arn);
    add("iam:CreateAccessKey", `arn:aws:iam::${accountId}:user/jobfleet-probe`);
    add("iam:PassRole", role.arn, { "iam:PassedToService": "ec2.amazonaws.com" });
    for (const other of access.roles.filter((r) => !isRuntimeRole(r))) add("iam:PassRole", other.arn, { "iam:PassedToService": "ecs-tasks.amazonaws.com" });

    for (const call of calls.filter((c) => c.action.startsWith("s3:") && c.resource.includes("/"))) {
        const m = /^arn:aws:s3:::([^/]+)\/(.*)$/.exec(call.resource)!;
        const [bucket, key] = [m[1], m[2]];
        add(call.action, `arn:aws:s3:::${otherStackBucket(bucket, stack)}/${key}`, { ...call.context, "aws:SecureTransport": "true" } as Record<string, string>);
        const segments = key.split("/");
        // Keys per environment ({app}/{environment}/...): another pull request's environment must stay out of reach.
        if (segments.length >= 3 && (segments[1] === stack || /^pr-\d+$/.test(segments[1]) || segments[1] === "staging" || segments[1] === "prod")) add(call.action, `arn:aws:s3:::${bucket}/${[segments[0], "pr-4242", ...segments.slice(2)].join("/")}`, call.context as Record<string, string>);
        add(call.action, call.resource, { ...(call.context as Record<string, string>), "aws:SecureTransport": "false" });
        add("s3:ListBucket", `arn:aws:s3:::${bucket}`, { "s3:authType": "REST-HEADER" });
        add("s3:PutObject", `arn:aws:s3:::${bucket}/${segments[0]}-outside/${segments.slice(1).join("/") || "probe"}`, { "s3:authType": "REST-HEADER" });
        if (call.context["s3:authType"] === "REST-QUERY-STRING") add(call.action, call.resource, { ...(call.context as Record<string, string>), "s3:signatureAge": String(3600 * 1000 + 1) });
    }
    // Without TLS wherever the plan puts a resource policy (the TLS-only queue and file system policies).
    for (const call of calls.filter((c) => !c.action.startsWith("s3:") && access.resourcePolicies.has(c.resource))) {
        add(call.action, call.resource, { ...(call.context as Record<string, string>), "aws:SecureTransport": "false" });
    }
    for (const table of new Set(calls.filter((c) => c.action.startsWith("dynamodb:")).map((c) => c.resource.replace(/\/index\/.*$/, "")))) {
        add("dynamodb:DeleteTable", table);
        add("dynamodb:GetItem", table.replace(/table\/(.*)$/, `table/jobfleet-${otherStack(stack)}-$1`));
    }
    return probes;
}

/**
 * Whether the role's requests leave from inside the VPC, through its endpoints: Fargate tasks and
 * EC2 instances always run in its subnets; a Lambda function only with a VPC configuration.
 */
function sendsFromVpc(access: AccessPlan, role: PlannedRole): boolean {
    if (role.servicePrincipals.includes("ecs-tasks.amazonaws.com") || role.servicePrincipals.includes("ec2.amazonaws.com")) return true;
    return access.plan.resources.some((r) => r.type === "aws:lambda/function:Function" && inputsOf(r).role === role.arn && (inputsOf(r).vpcConfig?.subnetIds?.length ?? 0) > 0);
}

/**
 * The whole analysis of one plan: every runtime role (trust names ecs-tasks, lambda or ec2) with
 * its recorded and declared calls simulated, the grants no call exercised, and the probes.
 */
export async function analyzeAccess(access: AccessPlan, declarations: ComponentAccess[], recorded: AttributedCall[]): Promise<AccessAnalysis> {
    const report: AccessReport = { stack: access.stack, roles: [] };
    const details: AccessAnalysis["details"] = new Map();
    const roleByName = new Map(access.roles.map((r) => [r.logicalName, r]));
    const keepUse = new Map<KeptGrant, { roles: string[]; used: boolean }>();
    for (const role of access.roles.filter(isRuntimeRole)) {
        const covering = declarationsFor(access, role, declarations);
        const runs = [...new Set(covering.flatMap((d) => d.runs ?? []))];
        const keep = covering.flatMap((d) => d.keep ?? []);
        const requests: { request: AccessRequest; authority: PlannedRole }[] = [];
        for (const call of recorded.filter((c) => c.role === role.logicalName)) {
            const signer = call.presignedBy ? roleByName.get(call.presignedBy) : role;
            if (!signer) throw new Error(`A call of ${role.logicalName} was presigned by ${call.presignedBy}, which is no role of this plan.`);
            for (const request of await accessRequestsFor(call, access)) {
                requests.push({ request: call.presignedBy ? { ...request, presignedBy: call.presignedBy } : request, authority: signer });
            }
        }
        for (const declaration of declarations.filter((d) => covering.some((c) => d.roles.includes(c)))) {
            const view = declarationView(access, role, declaration.component);
            for (const roleAccess of declaration.roles.filter((r) => covering.includes(r))) {
                for (const expected of roleAccess.expected?.(view) ?? []) requests.push({ request: expectedToRecorded(expected), authority: role });
            }
        }
        const unique = new Map<string, { request: AccessRequest; authority: PlannedRole }>();
        for (const r of requests) unique.set(JSON.stringify([r.request.action, r.request.resource, r.request.context, r.request.presignedBy ?? null]), r);
        // The network is the caller's (a presigned request goes out through the runner's endpoints, on the signer's authority).
        const network = { viaEndpoints: sendsFromVpc(access, role) };
        const simulated: SimulatedRequest[] = [];
        for (const { request, authority } of unique.values()) simulated.push(await simulateRequest(access, authority, request, network));

        const used = new Set<string>();
        for (const result of simulated.filter((s) => s.decision === "Allowed" && !s.request.presignedBy)) {
            for (const statement of result.allowedBy) {
                for (const pattern of statement.resourcePatterns) {
                    used.add(grantKey(statement.policy, statement.statementIndex, result.request.action, pattern));
                    used.add(grantKey(statement.policy, statement.statementIndex, "*", pattern));
                }
            }
        }
        const unused: ReportGrant[] = [];
        const grants = await grantsOf(role);
        for (const k of keep) {
            const use = keepUse.get(k) ?? { roles: [], used: false };
            use.roles.push(role.logicalName);
            use.used ||= grants.some((g) => keeps(k, g));
            keepUse.set(k, use);
        }
        for (const grant of grants) {
            if (used.has(grantKey(grant.policy, grant.statementIndex, grant.action, grant.resource))) continue;
            if (unused.some((u) => u.action === grant.action && u.resource === grant.resource)) continue;
            unused.push({ action: grant.action, resource: grant.resource, reason: reasonFor(grant, keep) });
        }
        const probes: SimulatedRequest[] = [];
        for (const probe of probesFor(access, role, simulated.map((s) => s.request))) probes.push(await simulateRequest(access, role, probe, network));

        report.roles.push({
            role: role.logicalName,
            principal: role.servicePrincipals.filter((p) => p.endsWith(".amazonaws.com")).join(","),
            calls: simulated.map((s) => ({ action: s.request.action, resource: s.request.resource, decision: s.decision, ...(s.request.presignedBy ? { presignedBy: s.request.presignedBy } : {}), ...(s.note ? { note: s.note } : {}) })),
            unused,
            probes: probes.map((p) => ({ action: p.request.action, resource: p.request.resource, decision: p.decision })),
        });
        details.set(role.logicalName, { calls: simulated, probes, runs });
    }
    const staleKeeps = [...keepUse].filter(([, use]) => !use.used).map(([keep, use]) => ({ roles: use.roles, keep }));
    return { report, details, staleKeeps };
}

/** Problems that make the access check fail, one sentence each. */
export function accessProblems(analysis: AccessAnalysis): string[] {
    const problems: string[] = [];
    for (const role of analysis.report.roles) {
        const detail = analysis.details.get(role.role)!;
        if (role.calls.length === 0) problems.push(`${role.role} (${role.principal}): no recorded or declared call; declare in its component which runtime code it runs or which calls it makes.`);
        for (const call of detail.calls.filter((c) => c.decision !== "Allowed")) {
            problems.push(`${role.role}: ${call.request.action} on ${call.request.resource} (from ${call.request.source}) is ${call.decision} by ${call.deniedBy.join(", ")}${call.request.presignedBy ? ` (presigned by ${call.request.presignedBy})` : ""}.`);
        }
        for (const grant of role.unused.filter((g) => g.reason === null)) problems.push(`${role.role}: unused grant ${grant.action} on ${grant.resource}: no call uses it and its component states no reason to keep it.`);
        for (const probe of detail.probes.filter((p) => p.decision === "Allowed")) {
            problems.push(`${role.role}: the forbidden call ${probe.request.action} on ${probe.request.resource} (${JSON.stringify(probe.request.context)}) is Allowed.`);
        }
    }
    for (const { roles, keep } of analysis.staleKeeps) {
        problems.push(`${roles.join(", ")}: the component keeps ${String(keep.action)} on ${keep.resource === undefined ? "any resource" : String(keep.resource)} ("${keep.reason}"), but none of these roles holds such a grant any more; remove the stale reason.`);
    }
    return problems;
}

/** The report as a reader wants it on a terminal: per role, calls with decisions, unused grants, probes. */
export function formatAccessReport(analysis: AccessAnalysis): string {
    const lines: string[] = [`Access of stack ${analysis.report.stack}: ${analysis.report.roles.length} runtime roles`];
    for (const role of analysis.report.roles) {
        const detail = analysis.details.get(role.role)!;
        lines.push("", `${role.role}  (${role.principal})${detail.runs.length ? `  runs ${detail.runs.join(", ")}` : ""}`);
        lines.push(`  calls (${role.calls.length}):`);
        for (const c of detail.calls) {
            const signed = c.request.presignedBy ? `  [sent with a URL presigned by ${c.request.presignedBy}]` : c.request.context["s3:authType"] === "REST-QUERY-STRING" ? `  [presigned, valid ${Number(c.request.context["s3:signatureAge"]) / 1000} s]` : "";
            lines.push(`    ${c.decision.padEnd(16)} ${c.request.action} ${c.request.resource}${signed}`);
            lines.push(`${" ".repeat(21)}from ${c.request.source}${c.decision !== "Allowed" ? `; denied by ${c.deniedBy.join(", ")}` : ""}${c.note ? `; ${c.note}` : ""}`);
        }
        lines.push(`  unused grants (${role.unused.length}):`);
        for (const g of role.unused) lines.push(`    ${g.action} ${g.resource}: ${g.reason ?? "NO REASON GIVEN"}`);
        const allowedProbes = role.probes.filter((p) => p.decision === "Allowed");
        lines.push(`  probes (${role.probes.length}, ${allowedProbes.length} allowed):`);
        for (const p of detail.probes) lines.push(`    ${p.decision.padEnd(16)} ${p.request.action} ${p.request.resource}${p.request.context["aws:SecureTransport"] === "false" ? " (no TLS)" : ""}${p.request.context["s3:signatureAge"] ? ` (signature ${p.request.context["s3:signatureAge"]} ms old)` : ""}`);
    }
    return lines.join("\n");
}

export type { CapturedResource };
