/** A value AWS (or the AWS provider, before it calls AWS) would refuse, or silently drop. */
export interface AcceptanceViolation {
    urn: string;
    /** The resource's type token, e.g. `aws:lb/targetGroup:TargetGroup`. */
    type: string;
    /** The input property, as a path: `name`, `containerDefinitions[0].stopTimeout`, `policy.Statement[1].Action`. */
    property: string;
    /** A short rule id, stable for tests: `name-length`, `sg-rule-description-charset`, `sdk-shape-unknown-key`, `iam-action-unknown`... */
    rule: string;
    /** What is wrong and what AWS expects. */
    message: string;
    /** Where the rule comes from: an AWS documentation URL, or the AWS SDK v3 shape that carries it. */
    source: string;
}

/** The parts of a registered resource the checks read (a captured resource and a stack export's both fit). */
export interface AcceptanceResource {
    urn: string;
    type: string;
    /** Inputs with secrets revealed; the engine's unknown sentinel marks values not known until apply. */
    inputs: Record<string, unknown>;
}

/** The engine's marker for a value that is not known during a preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isKnown(value: unknown): boolean {
    return value !== undefined && value !== null && value !== UNKNOWN;
}

/** The logical name: the last segment of the URN (`urn:pulumi:stack::project::type::name`). */
export function logicalName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

export type Report = (property: string, rule: string, message: string, source: string) => void;
