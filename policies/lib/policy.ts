import {
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
    validateResourceOfType,
} from "@pulumi/policy";

/**
 * The small frame every jobfleet policy is built in: metadata the engine shows (description,
 * severity, remediation steps), a config schema whose defaults also apply when the engine sends no
 * config, reviewed exemptions, and violation messages that always say which resource, which field,
 * what is wrong and how to fix it.
 */

type PolicyConfigJSONSchema = PolicyConfigSchema["properties"][string];

/** A reviewed exception: the resource (logical name or URN, `*` matches any run of characters) and why. */
export interface Exemption {
    resource: string;
    reason: string;
}

export interface BaseConfig {
    exemptions: Exemption[];
}

export type ConfigProperties = Record<string, PolicyConfigJSONSchema>;

export interface PolicyMeta {
    name: string;
    description: string;
    severity: Severity;
    /** What to do about a violation, shown by `pulumi preview` and in the Pulumi Cloud policy view. */
    remediationSteps: string;
    tags: string[];
    /** Extra config properties (each with a `default`), besides `exemptions`. */
    config?: ConfigProperties;
}

const EXEMPTIONS_SCHEMA: PolicyConfigJSONSchema = {
    type: "array",
    description: "Reviewed exceptions: resource (logical name or URN; * matches anything) and the reason it may break this rule.",
    items: {
        type: "object",
        properties: {
            resource: { type: "string", minLength: 1 },
            reason: { type: "string", minLength: 10 },
        },
        required: ["resource", "reason"],
        additionalProperties: false,
    },
    default: [],
};

/** One violation, phrased so a reader can act on it without opening the code. */
export interface Finding {
    /** The resource, e.g. `aws.ecs.TaskDefinition "runner"`. */
    resource: string;
    /** The exact place: container, variable, statement index, action... */
    field: string;
    problem: string;
    fix: string;
}

export function formatFinding(f: Finding): string {
    return `${f.resource} ${f.field}: ${f.problem}. Fix: ${f.fix}`;
}

/** `aws:ecs/taskDefinition:TaskDefinition` + `runner` → `aws.ecs.TaskDefinition "runner"`. */
export function resourceLabel(type: string, name: string): string {
    const m = /^([^:]+):([^/:]+)\/[^:]*:(.+)$/.exec(type);
    const shown = m ? `${m[1]}.${m[2]}.${m[3]}` : type;
    return `${shown} "${name}"`;
}

export function nameFromUrn(urn: string): string {
    const i = urn.lastIndexOf("::");
    return i >= 0 ? urn.slice(i + 2) : urn;
}

/** Compiled exemption patterns, by pattern: a config names a handful, each is tested for every resource. */
const exemptionPatterns = new Map<string, RegExp>();

function globToRegExp(glob: string): RegExp {
    let re = exemptionPatterns.get(glob);
    if (!re) {
        const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
        re = new RegExp(`^${escaped}$`);
        exemptionPatterns.set(glob, re);
    }
    return re;
}

function isExempt(exemptions: Exemption[], name: string, urn: string): boolean {
    return exemptions.some((e) => {
        const re = globToRegExp(e.resource);
        return re.test(name) || re.test(urn);
    });
}

/** The schema defaults as JSON text, made once per policy; each call gets its own copy. */
const defaultsText = new WeakMap<ConfigProperties, string>();

function defaultsOf(properties: ConfigProperties): Record<string, unknown> {
    let text = defaultsText.get(properties);
    if (text === undefined) {
        const out: Record<string, unknown> = {};
        for (const [key, schema] of Object.entries(properties)) {
            if (schema.default !== undefined) out[key] = schema.default;
        }
        text = JSON.stringify(out);
        defaultsText.set(properties, text);
    }
    return JSON.parse(text) as Record<string, unknown>;
}

/**
 * `args.notApplicable(reason)` without the cost of a stack trace: the policy SDK throws an Error
 * for it, which it catches and reports by its reason only; most policies do not apply to most
 * resources, so capturing the stack each time cost about a tenth of the pack's time.
 */
export function notApplicable(args: { notApplicable(reason?: string): never }, reason: string): never {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
        return args.notApplicable(reason);
    } finally {
        Error.stackTraceLimit = limit;
    }
}

function schemaOf(meta: PolicyMeta): { properties: ConfigProperties } {
    return { properties: { ...(meta.config ?? {}), exemptions: EXEMPTIONS_SCHEMA } };
}

/** The policy's config: the engine's (already defaulted by the CLI) over the schema defaults. */
function configOf<C>(schema: { properties: ConfigProperties }, given: object): C & BaseConfig {
    return { ...defaultsOf(schema.properties), ...given } as C & BaseConfig;
}

export interface ResourceContext<C> {
    args: ResourceValidationArgs;
    props: Record<string, any>;
    config: C & BaseConfig;
    /** `aws.ecs.TaskDefinition "runner"`. */
    label: string;
    report(finding: Omit<Finding, "resource"> & { resource?: string }): void;
}

export interface ResourcePolicyDefinition<C> extends PolicyMeta {
    /** Resource types this policy looks at; omitted: every resource. */
    types?: string[];
    validate(ctx: ResourceContext<C>): void | Promise<void>;
}

/**
 * The not-applicable reason of a policy that checks several types. The engine receives one per
 * policy and resource, so it names a few types and counts the rest: listing all of them (up to
 * 26, about 1,200 characters) made the reasons most of each Analyze answer's bytes.
 */
export function notThisTypeReason(types: readonly string[]): string {
    const shown = 2;
    if (types.length <= shown + 1) return `applies to ${types.join(", ")}`;
    return `applies to ${types.length} resource types: ${types.slice(0, shown).join(", ")} and ${types.length - shown} more`;
}

/**
 * What `validateResourceOfType` reads from a generated resource class (its static
 * `__pulumiType`), for a type the pack does not import a class for. A policy whose single
 * validation carries it is skipped by the policy SDK for every other type before it deserializes
 * the inputs for that policy, and reported as not applicable in the SDK's own words.
 */
function resourceClassOf(type: string): Parameters<typeof validateResourceOfType>[0] {
    return { __pulumiType: type } as unknown as Parameters<typeof validateResourceOfType>[0];
}

export function resourcePolicy<C = Record<string, never>>(def: ResourcePolicyDefinition<C>): ResourceValidationPolicy {
    const types = def.types ? new Set(def.types) : undefined;
    const notThisType = types ? notThisTypeReason([...types]) : "";
    const configSchema = schemaOf(def);
    const validate = async (args: ResourceValidationArgs, reportViolation: ReportViolation): Promise<void> => {
        if (types && !types.has(args.type)) notApplicable(args, notThisType);
        const config = configOf<C>(configSchema, args.getConfig<object>());
        if (isExempt(config.exemptions, args.name, args.urn)) notApplicable(args, "exempted by the policy pack config");
        const label = resourceLabel(args.type, args.name);
        await def.validate({
            args,
            props: args.props,
            config,
            label,
            report: (f) => reportViolation(formatFinding({ resource: label, ...f })),
        });
    };
    return {
        name: def.name,
        description: def.description,
        severity: def.severity,
        remediationSteps: def.remediationSteps,
        tags: def.tags,
        configSchema,
        validateResource: types?.size === 1 ? validateResourceOfType(resourceClassOf([...types][0]), (_props, args, reportViolation) => validate(args, reportViolation)) : validate,
    };
}

export interface StackContext<C> {
    args: StackValidationArgs;
    resources: PolicyResource[];
    config: C & BaseConfig;
    report(resource: PolicyResource, finding: Omit<Finding, "resource">): void;
}

export interface StackPolicyDefinition<C> extends PolicyMeta {
    validate(ctx: StackContext<C>): void | Promise<void>;
}

export function stackPolicy<C = Record<string, never>>(def: StackPolicyDefinition<C>): StackValidationPolicy {
    const configSchema = schemaOf(def);
    return {
        name: def.name,
        description: def.description,
        severity: def.severity,
        remediationSteps: def.remediationSteps,
        tags: def.tags,
        configSchema,
        validateStack: async (args, reportViolation) => {
            const config = configOf<C>(configSchema, args.getConfig<object>());
            await def.validate({
                args,
                resources: args.resources,
                config,
                report: (resource, f) => {
                    if (isExempt(config.exemptions, resource.name, resource.urn)) return;
                    reportViolation(formatFinding({ resource: resourceLabel(resource.type, resource.name), ...f }), resource.urn);
                },
            });
        },
    };
}

/** Reads a string list from config, tolerating a single string. */
export function stringList(value: unknown): string[] {
    if (value === undefined || value === null) return [];
    return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}
