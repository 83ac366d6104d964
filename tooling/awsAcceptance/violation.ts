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

/** Values at a dotted path; `[]` fans out over a list. */
export function valuesAt(value: unknown, path: string): Array<{ path: string; value: unknown }> {
    let current: Array<{ path: string; value: unknown }> = [{ path: "", value }];
    for (const step of path.split(".")) {
        const list = step.endsWith("[]");
        const key = list ? step.slice(0, -2) : step;
        const next: Array<{ path: string; value: unknown }> = [];
        for (const { path: at, value: v } of current) {
            if (v === null || typeof v !== "object") continue;
            const child = (v as Record<string, unknown>)[key];
            const childPath = at ? `${at}.${key}` : key;
            if (!list) next.push({ path: childPath, value: child });
            else if (Array.isArray(child)) child.forEach((item, i) => next.push({ path: `${childPath}[${i}]`, value: item }));
        }
        current = next;
    }
    return current.filter((entry) => isKnown(entry.value));
}

export type Report = (property: string, rule: string, message: string, source: string) => void;
