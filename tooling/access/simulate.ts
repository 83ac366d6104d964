import { runSimulation, Simulation } from "@cloud-copilot/iam-simulate";
import { AccessPlan, PlannedRole, resourcePolicyFor } from "./plan";
import { AccessRequest } from "./operations";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

/** An identity statement that allowed a request, and which of its resource patterns matched. */
export interface AllowingStatement {
    policy: string;
    statementIndex: number;
    resourcePatterns: string[];
}

export interface SimulatedRequest {
    request: AccessRequest;
    decision: Decision;
    /** Which policies decided a denial (identity, resource, vpce, ...), for the report's reader. */
    deniedBy: string[];
    allowedBy: AllowingStatement[];
    note?: string;
}

function accountOf(arn: string): string | undefined {
    return /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/.exec(arn)?.[1];
}

/**
 * Evaluates one request on the authority of `role` as AWS would: the role's identity policies, the
 * target's resource policy from the plan, and, when the request leaves from inside the VPC, the
 * endpoint policies of the VPC endpoints that carry the service's traffic. A resource of another account that the plan does not hold (the shared image
 * registry) is evaluated on the identity side only, and the report says so.
 */
export async function simulateRequest(access: AccessPlan, role: PlannedRole, request: AccessRequest, network: { viaEndpoints: boolean } = { viaEndpoints: true }): Promise<SimulatedRequest> {
    const resourceAccount = accountOf(request.resource) ?? access.accountId;
    const resourcePolicy = resourcePolicyFor(access, request.resource);
    let note = request.note;
    let account = resourceAccount;
    if (resourceAccount !== access.accountId && !resourcePolicy) {
        account = access.accountId;
        note = [note, `${request.resource} is in account ${resourceAccount}, outside this plan: only this role's side was evaluated; that account's resource policy must allow ${access.accountId}`].filter(Boolean).join("; ");
    }
    const service = request.action.split(":")[0];
    const endpoints = network.viaEndpoints ? (access.endpointPolicies.get(service) ?? []) : [];
    const principal = `arn:aws:sts::${access.accountId}:assumed-role/${role.name}/jobfleet-access`;
    const simulation: Simulation = {
        request: {
            principal,
            action: request.action,
            resource: { resource: request.resource, accountId: account },
            contextVariables: { "aws:PrincipalArn": role.arn, "aws:PrincipalAccount": access.accountId, ...request.context },
        },
        identityPolicies: role.identityPolicies.map((p) => ({ name: p.name, policy: p.document })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy: resourcePolicy.document } : {}),
        ...(role.permissionsBoundary ? { permissionBoundaryPolicies: [{ name: role.permissionsBoundary.name, policy: role.permissionsBoundary.document }] } : {}),
        ...(endpoints.length > 0 ? { vpcEndpointPolicies: endpoints.map((e) => ({ name: e.source, policy: e.document })) } : {}),
    };
    const response = await runSimulation(simulation, {});
    if (response.resultType === "error") {
        throw new Error(`Simulating ${request.action} on ${request.resource} for ${role.logicalName} failed: ${JSON.stringify(response.errors)}`);
    }
    // A request on "*" (actions that take no resource) comes back per matching pattern; the overall decision is AWS's.
    const analysis = response.resultType === "single" ? response.result.analysis : response.results.find((r) => r.analysis?.result === response.overallResult)?.analysis ?? response.results[0]?.analysis;
    const decision = response.overallResult as Decision;
    const allowedBy: AllowingStatement[] =
        decision === "Allowed"
            ? (analysis?.identityAnalysis?.allowStatements ?? []).map((s) => ({
                  policy: s.policyId,
                  statementIndex: s.statement.index() - 1,
                  resourcePatterns: [s.explain.resources ?? []].flat().filter((r) => r.matches).map((r) => r.resource),
              }))
            : [];
    const deniedBy: string[] = [];
    if (decision !== "Allowed") {
        if ((analysis?.identityAnalysis?.denyStatements.length ?? 0) > 0) deniedBy.push("an identity policy Deny");
        if ((analysis?.resourceAnalysis?.denyStatements.length ?? 0) > 0) deniedBy.push(`the resource policy ${resourcePolicy?.source} (Deny)`);
        if (analysis?.permissionBoundaryAnalysis && analysis.permissionBoundaryAnalysis.result !== "Allowed") deniedBy.push(`the permissions boundary ${role.permissionsBoundary?.name}`);
        if (analysis?.endpointAnalysis && analysis.endpointAnalysis.result !== "Allowed") deniedBy.push(`the VPC endpoint policy of ${endpoints.map((e) => e.source).join(", ")}`);
        for (const blocked of analysis?.blockedBy ?? []) if (!deniedBy.some((d) => d.includes(blocked))) deniedBy.push(`blocked by ${blocked}`);
        if (deniedBy.length === 0) deniedBy.push("no identity statement allows it");
    }
    return { request, decision, deniedBy, allowedBy, ...(note ? { note } : {}) };
}
