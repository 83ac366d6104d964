/**
 * What a component says about the roles it creates, for `npm run access` and test/access.test.ts:
 * which runtime code each role runs (its calls are recorded when the tests run that code), which
 * calls it makes from code that lives elsewhere (another repository, the ECS agent, the Lambda
 * service), and why a grant that no call exercises stays. Components import these types only;
 * the tooling (tooling/access/) hands the declaration functions a view of the captured plan.
 * This file holds types (and one shared keep) only, so the program imports nothing of the tooling.
 */

/** A resource of the captured plan, as the access tooling hands it to a declaration (a tooling/capture.ts CapturedResource). */
export interface PlanResource {
    urn: string;
    type: string;
    name: string;
    id?: string;
    parent?: string;
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
}

/** Runtime code whose AWS calls the access tests record (test/support/accessScenarios.ts runs each). */
export type RuntimeCode =
    /** startShellJob / waitForShellJobResult: stores the request, presigns both URLs, RunTask, collects and deletes. */
    | "runtime/shellJob/caller"
    /** The executor's container: reads the request and writes the result through the presigned URLs. */
    | "runtime/shellJob/runner"
    /** verifyArtifact of the artifact the launch template names (HeadObject, GetObject of that version). */
    | "runtime/artifacts/verify";

/** A call made by code this repository does not hold, as the component documents it. */
export interface ExpectedCall {
    action: string;
    resource: string;
    context?: Record<string, string | string[]>;
    /** Where the call is documented (a seed, the ECS agent, the Lambda service). */
    why: string;
    /** Requests the service sends over TLS unless said otherwise. */
    secureTransport?: boolean;
}

/** A grant kept although no recorded or expected call uses it. */
export interface KeptGrant {
    /** The granted action: a glob (`*`, `?`) or a regular expression. */
    action: string | RegExp;
    /** The granted resource pattern: a glob or a regular expression; every resource of the action when omitted. */
    resource?: string | RegExp;
    reason: string;
}

export interface RoleAccess {
    /** Matches the role's logical name within the component (e.g. /-task$/). */
    role: RegExp;
    runs?: RuntimeCode[];
    expected?: (plan: DeclarationView) => ExpectedCall[];
    keep?: KeptGrant[];
}

export interface ComponentAccess {
    /** The component's type token; the declaration covers roles created anywhere beneath it. */
    component: string;
    roles: RoleAccess[];
}

/** The part of the captured plan a declaration reads: resources of its role and component. */
export interface DeclarationView {
    stack: string;
    region: string;
    accountId: string;
    role: { logicalName: string; arn: string; name: string };
    /** Resources beneath the declaring component. */
    resources: PlanResource[];
    /** Plain inputs of a resource (secrets revealed). */
    inputsOf(resource: PlanResource): Record<string, any>;
    /** Task definitions whose task or execution role is this role. */
    taskDefinitions(): PlanResource[];
    /** Container definitions of those task definitions, parsed. */
    containers(): Array<Record<string, any> & { taskDefinition: PlanResource }>;
    /** Lambda functions that run as this role. */
    functions(): PlanResource[];
    /** What the ECS agent does with an execution role for each task definition: image pull, log stream, injected secrets. */
    ecsAgentCalls(): ExpectedCall[];
    /** What ECS does with a task role at start: EFS mounts with IAM authorization. */
    ecsVolumeCalls(): ExpectedCall[];
    /** What the Lambda service does with a function's role: its log stream, VPC network interfaces, dead-letter queue. */
    lambdaServiceCalls(): ExpectedCall[];
}
