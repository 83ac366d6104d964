import { ChildProcess, spawn } from "child_process";
import { Worker } from "worker_threads";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { engineProperties, engineStruct, withoutSecretValues } from "./engineWire";
import { keepFile } from "../runtime/keptFiles";
import { lengthDelimited, structBytes } from "./structWire";
import { BuildError, ensureBuilt, EarlyPack, PACK_SEMI_SPACE_MIB, packNodeArgs, packTarget, takeEarlyPack } from "./build";
import { WARM_UP_FORMAT, WarmUpFile } from "../policies/lib/warmUp";

/**
 * A client for a CrossGuard policy pack's analyzer, used the way the Pulumi engine uses it during
 * `pulumi preview --policy-pack <dir> --policy-pack-config <file>`: start the pack as a child
 * process in its own directory, read the port it prints, then call GetAnalyzerInfo, Configure
 * (with the config reconciled against the pack's schema, as the CLI does), Analyze for every
 * resource (its inputs) and AnalyzeStack once (outputs, parents, dependencies, property
 * dependencies). Resources are given in the shape of `pulumi stack export`, so a captured plan and
 * a live stack's export are evaluated alike.
 */

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const DEFAULT_PACK_DIR = path.join(PROJECT_ROOT, "policies");

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";
export type Severity = "low" | "medium" | "high" | "critical";

/** One resource as `pulumi stack export` writes it (the fields the analyzer needs). */
export interface StackResource {
    urn: string;
    type: string;
    custom?: boolean;
    id?: string;
    parent?: string;
    /** `<provider URN>::<provider id>`. */
    provider?: string;
    inputs?: Record<string, unknown>;
    /** When present, AnalyzeStack sees these (the engine analyzes a stack's final outputs); otherwise the inputs. */
    outputs?: Record<string, unknown>;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    protect?: boolean;
    /** Options as a captured plan records them (tooling/capture.ts). */
    options?: {
        protect?: boolean;
        ignoreChanges?: string[];
        deleteBeforeReplace?: boolean;
        additionalSecretOutputs?: string[];
        aliases?: string[];
    };
}

export interface PolicyInfo {
    name: string;
    displayName?: string;
    description: string;
    enforcementLevel: EnforcementLevel;
    severity?: Severity;
    remediationSteps?: string;
    url?: string;
    tags: string[];
    type: "resource" | "stack" | "unknown";
    configSchema?: { properties: Record<string, Record<string, unknown>>; required: string[] };
}

export interface AnalyzerInfo {
    name: string;
    version: string;
    displayName?: string;
    description?: string;
    supportsConfig: boolean;
    policies: PolicyInfo[];
    initialConfig: Record<string, { enforcementLevel?: EnforcementLevel; properties?: Record<string, unknown> }>;
}

export interface Diagnostic {
    policyName: string;
    policyPackName: string;
    policyPackVersion: string;
    description: string;
    message: string;
    enforcementLevel: EnforcementLevel;
    severity?: Severity;
    urn?: string;
}

export interface AnalyzeResult {
    diagnostics: Diagnostic[];
    notApplicable: { policyName: string; reason: string }[];
}

/** A policy pack config file (`--policy-pack-config`): policy name (or "all") → level, or object with enforcementLevel and properties. */
export type PolicyPackConfigFile = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export interface ResolvedPolicyConfig {
    enforcementLevel: EnforcementLevel;
    properties: Record<string, unknown>;
}

export class PolicyPackStartError extends Error {
    constructor(message: string, public readonly stderr: string) {
        super(message);
        this.name = "PolicyPackStartError";
    }
}

export class PolicyPackConfigError extends Error {
    constructor(public readonly problems: string[]) {
        super(`policy pack config is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "PolicyPackConfigError";
    }
}

export interface StartOptions {
    /** The pack's directory (with PulumiPolicy.yaml and package.json); default: policies/. */
    packDir?: string;
    /**
     * true (default): start the pack exactly as the Pulumi CLI does, through
     * `@pulumi/pulumi/cmd/run-policy-pack`, which type-checks TypeScript packs with ts-node.
     * false: same directory and entry point, compiled to JavaScript once (tooling/build.ts, cached
     * by the content of its sources) and run by plain node; `npm test` type-checks the pack instead.
     */
    typeCheck?: boolean;
    /** How long to wait for the pack to print its port. */
    startTimeoutMs?: number;
    /** Aborting it stops the pack's process (also while it starts). */
    signal?: AbortSignal;
    /** Deadline of each gRPC call (default 5 minutes). */
    rpcTimeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    /** Where a compiled pack's GetAnalyzerInfo answer is kept between runs (`configureAhead`); default beside the compiled pack. */
    keptInfoFile?: string;
}

/** Young-generation size (MiB) of the compiled pack's process, as `npm run preview` gives its own. */
export const SEMI_SPACE_MIB = PACK_SEMI_SPACE_MIB;

/** Analyze calls in flight at once: enough that the pack never waits for the next request (the answers keep the resources' order). */
const ANALYZE_CONCURRENCY = 32;

const ANALYZE_METHOD = "/pulumirpc.Analyzer/Analyze";
const ANALYZE_STACK_METHOD = "/pulumirpc.Analyzer/AnalyzeStack";

const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

function levelToProto(level: EnforcementLevel): pb.EnforcementLevel {
    switch (level) {
        case "advisory":
            return pb.EnforcementLevel.ADVISORY;
        case "mandatory":
            return pb.EnforcementLevel.MANDATORY;
        case "remediate":
            return pb.EnforcementLevel.REMEDIATE;
        case "disabled":
            return pb.EnforcementLevel.DISABLED;
    }
}

function levelFromProto(level: pb.EnforcementLevel): EnforcementLevel {
    switch (level) {
        case pb.EnforcementLevel.MANDATORY:
            return "mandatory";
        case pb.EnforcementLevel.REMEDIATE:
            return "remediate";
        case pb.EnforcementLevel.DISABLED:
            return "disabled";
        default:
            return "advisory";
    }
}

function severityFromProto(s: pb.PolicySeverity): Severity | undefined {
    switch (s) {
        case pb.PolicySeverity.POLICY_SEVERITY_LOW:
            return "low";
        case pb.PolicySeverity.POLICY_SEVERITY_MEDIUM:
            return "medium";
        case pb.PolicySeverity.POLICY_SEVERITY_HIGH:
            return "high";
        case pb.PolicySeverity.POLICY_SEVERITY_CRITICAL:
            return "critical";
        default:
            return undefined;
    }
}

// ---------------------------------------------------------------------------------------------
// Property values: checkpoint form (stack export) → wire form (what the engine sends the analyzer)
// ---------------------------------------------------------------------------------------------

/**
 * Properties go over in the engine's wire form (tooling/engineWire.ts): provider Check defaults
 * present, top-level `__` keys removed, secrets as secret values, unknowns as unknown sentinels.
 */
export { toWireValue, UNKNOWN_VALUE } from "./engineWire";

/** Field 2 (`properties`) of AnalyzeRequest and AnalyzerResource: the Struct's bytes, written directly (tooling/structWire.ts). */
function propertiesField(type: string, value: Record<string, unknown> | undefined, redact = false): Uint8Array {
    const wire = engineProperties(type, value);
    return lengthDelimited(0x12, structBytes(redact ? (withoutSecretValues(wire) as Record<string, unknown>) : wire));
}

/**
 * A message whose fields are written in field order as google-protobuf writes them: `head` holds
 * field 1 (type), then field 2 (properties), then `tail` the fields after it. The same bytes as
 * one google-protobuf message with all of them set.
 */
function withProperties(head: { serializeBinary(): Uint8Array }, properties: Uint8Array, tail: { serializeBinary(): Uint8Array }): Uint8Array {
    return Buffer.concat([head.serializeBinary(), properties, tail.serializeBinary()]);
}

const passBytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The fields AnalyzeRequest and AnalyzerResource share after `properties`: urn, name, options and (with `byUrn`) the provider. */
function setResourceFields<M extends pb.AnalyzeRequest | pb.AnalyzerResource>(message: M, r: StackResource, byUrn?: ReadonlyMap<string, StackResource>): M {
    message.setUrn(r.urn);
    message.setName(nameFromUrn(r.urn));
    message.setOptions(resourceOptions(r));
    const provider = byUrn && providerResource(r, byUrn);
    if (provider) message.setProvider(provider);
    return message;
}

export function nameFromUrn(urn: string): string {
    const i = urn.lastIndexOf("::");
    return i >= 0 ? urn.slice(i + 2) : urn;
}

function resourceOptions(r: StackResource): pb.AnalyzerResourceOptions {
    const o = new pb.AnalyzerResourceOptions();
    o.setProtect(Boolean(r.protect ?? r.options?.protect ?? false));
    o.setIgnorechangesList(r.options?.ignoreChanges ?? []);
    o.setAliasesList(r.options?.aliases ?? []);
    o.setAdditionalsecretoutputsList(r.options?.additionalSecretOutputs ?? []);
    if (r.options?.deleteBeforeReplace !== undefined) {
        o.setDeletebeforereplacedefined(true);
        o.setDeletebeforereplace(r.options.deleteBeforeReplace);
    }
    if (r.parent) o.setParent(r.parent);
    return o;
}

/** Resources by URN, built once per stack list (Analyze is called once per resource with the same list). */
const urnIndexes = new WeakMap<readonly StackResource[], { size: number; byUrn: Map<string, StackResource> }>();

function indexByUrn(resources: readonly StackResource[]): Map<string, StackResource> {
    const known = urnIndexes.get(resources);
    if (known && known.size === resources.length) return known.byUrn;
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    urnIndexes.set(resources, { size: resources.length, byUrn });
    return byUrn;
}

/** Provider messages by provider reference and properties, per resource list: every resource of a provider carries the same one. */
const providerMessages = new WeakMap<ReadonlyMap<string, StackResource>, Map<string, pb.AnalyzerProviderResource>>();

function providerResource(r: StackResource, byUrn: ReadonlyMap<string, StackResource>): pb.AnalyzerProviderResource | undefined {
    if (!r.provider) return undefined;
    let known = providerMessages.get(byUrn);
    if (!known) providerMessages.set(byUrn, (known = new Map()));
    // By the provider's properties as they are now, not only its reference: a resource list's objects may change between calls.
    const i = r.provider.lastIndexOf("::");
    const urn = i >= 0 ? r.provider.slice(0, i) : r.provider;
    const provider = byUrn.get(urn);
    const key = `${r.provider}\0${JSON.stringify(provider?.inputs ?? {})}`;
    let p = known.get(key);
    if (!p) known.set(key, (p = providerMessage(urn, provider)));
    return p;
}

/** The provider's message: its URN (the reference without its `::<id>`) and, when the stack holds it, its type and inputs. */
function providerMessage(urn: string, provider: StackResource | undefined): pb.AnalyzerProviderResource {
    const p = new pb.AnalyzerProviderResource();
    p.setUrn(urn);
    p.setName(nameFromUrn(urn));
    p.setType(provider?.type ?? (urn.split("::")[2] || ""));
    p.setProperties(engineStruct(p.getType(), provider?.inputs ?? {}));
    return p;
}

// ---------------------------------------------------------------------------------------------
// Config reconciliation, as the CLI does before Configure: schema defaults, then "all", then each
// policy's level and properties; the result is validated against each policy's schema.
// ---------------------------------------------------------------------------------------------

export function loadPolicyPackConfig(file: string): PolicyPackConfigFile {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new PolicyPackConfigError([`${file}: cannot be read (${(err as Error).message})`]);
    }
    if (text.trim() === "") return {};
    try {
        const parsed = JSON.parse(text) as unknown;
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the top level must be a JSON object");
        return parsed as PolicyPackConfigFile;
    } catch (err) {
        throw new PolicyPackConfigError([`${file}: not a valid policy pack config (${(err as Error).message})`]);
    }
}

type Schema = Record<string, unknown>;

function typeOf(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "array";
    if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
    return typeof v;
}

/** The JSON Schema keywords CrossGuard config schemas use: type, enum, const, items, properties, required, additionalProperties, bounds. */
export function validateAgainstSchema(value: unknown, schema: Schema, where: string): string[] {
    const problems: string[] = [];
    const types = schema.type === undefined ? undefined : ([] as unknown[]).concat(schema.type).map(String);
    if (types) {
        const actual = typeOf(value);
        const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
        if (!ok) return [`${where}: expected ${types.join(" or ")}, got ${actual}`];
    }
    if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
        problems.push(`${where}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
    }
    if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) problems.push(`${where}: must be ${JSON.stringify(schema.const)}`);
    if (typeof value === "number") {
        if (typeof schema.minimum === "number" && value < schema.minimum) problems.push(`${where}: must be at least ${schema.minimum}`);
        if (typeof schema.maximum === "number" && value > schema.maximum) problems.push(`${where}: must be at most ${schema.maximum}`);
    }
    if (typeof value === "string") {
        if (typeof schema.minLength === "number" && value.length < schema.minLength) problems.push(`${where}: must be at least ${schema.minLength} characters`);
        if (typeof schema.maxLength === "number" && value.length > schema.maxLength) problems.push(`${where}: must be at most ${schema.maxLength} characters`);
        if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) problems.push(`${where}: must match ${schema.pattern}`);
    }
    if (Array.isArray(value)) {
        if (typeof schema.minItems === "number" && value.length < schema.minItems) problems.push(`${where}: needs at least ${schema.minItems} items`);
        if (typeof schema.maxItems === "number" && value.length > schema.maxItems) problems.push(`${where}: allows at most ${schema.maxItems} items`);
        if (schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)) {
            value.forEach((item, i) => problems.push(...validateAgainstSchema(item, schema.items as Schema, `${where}[${i}]`)));
        }
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
        const obj = value as Record<string, unknown>;
        const props = (schema.properties ?? {}) as Record<string, Schema>;
        for (const key of (schema.required as string[] | undefined) ?? []) if (obj[key] === undefined) problems.push(`${where}: ${key} is required`);
        for (const [key, v] of Object.entries(obj)) {
            if (props[key]) problems.push(...validateAgainstSchema(v, props[key], `${where}.${key}`));
            else if (schema.additionalProperties === false) problems.push(`${where}: unknown property ${key}`);
            else if (schema.additionalProperties && typeof schema.additionalProperties === "object") problems.push(...validateAgainstSchema(v, schema.additionalProperties as Schema, `${where}.${key}`));
        }
    }
    return problems;
}

function infoFromProto(res: pb.AnalyzerInfo): AnalyzerInfo {
    const initialConfig: AnalyzerInfo["initialConfig"] = {};
    res.getInitialconfigMap().forEach((c, k) => {
        initialConfig[k] = { enforcementLevel: levelFromProto(c.getEnforcementlevel()), properties: c.getProperties()?.toJavaScript() };
    });
    return {
        name: res.getName(),
        version: res.getVersion(),
        displayName: res.getDisplayname() || undefined,
        description: res.getDescription() || undefined,
        supportsConfig: res.getSupportsconfig(),
        initialConfig,
        policies: res.getPoliciesList().map((p) => {
            const schema = p.getConfigschema();
            return {
                name: p.getName(),
                displayName: p.getDisplayname() || undefined,
                description: p.getDescription(),
                enforcementLevel: levelFromProto(p.getEnforcementlevel()),
                severity: severityFromProto(p.getSeverity()),
                remediationSteps: p.getRemediationSteps() || undefined,
                url: p.getUrl() || undefined,
                tags: p.getTagsList(),
                type: p.getPolicyType() === pb.PolicyType.POLICY_TYPE_RESOURCE ? "resource" : p.getPolicyType() === pb.PolicyType.POLICY_TYPE_STACK ? "stack" : "unknown",
                configSchema: schema
                    ? { properties: (schema.getProperties()?.toJavaScript() ?? {}) as Record<string, Record<string, unknown>>, required: schema.getRequiredList() }
                    : undefined,
            };
        }),
    };
}

/** Where a compiled pack's GetAnalyzerInfo answer is kept between runs: by the bundle and the files the SDK reads at start. */
function keptInfoFileFor(packFile: string, packDir: string): string {
    const hash = crypto.createHash("sha256").update(packFile);
    for (const f of ["package.json", "PulumiPolicy.yaml"]) {
        try {
            hash.update(`\0${f}\0`).update(fs.readFileSync(path.join(packDir, f)));
        } catch {
            hash.update(`\0${f}\0-`);
        }
    }
    return path.join(path.dirname(packFile), `pack-info-${hash.digest("hex").slice(0, 20)}.json`);
}

function readText(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}


export interface StackConfigureOptions {
    stack: string;
    project: string;
    organization?: string;
    dryRun?: boolean;
    tags?: Record<string, string>;
}

function configureRequest(resolved: Record<string, ResolvedPolicyConfig>): pb.ConfigureAnalyzerRequest {
    const req = new pb.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const [name, c] of Object.entries(resolved)) {
        const pc = new pb.PolicyConfig();
        pc.setEnforcementlevel(levelToProto(c.enforcementLevel));
        pc.setProperties(Struct.fromJavaScript(c.properties as Record<string, never>));
        map.set(name, pc);
    }
    return req;
}

function stackConfigureRequest(stack: StackConfigureOptions): pb.AnalyzerStackConfigureRequest {
    const req = new pb.AnalyzerStackConfigureRequest();
    req.setStack(stack.stack);
    req.setProject(stack.project);
    req.setOrganization(stack.organization ?? "organization");
    req.setDryRun(stack.dryRun ?? true);
    for (const [k, v] of Object.entries(stack.tags ?? {})) req.getTagsMap().set(k, v);
    return req;
}

/**
 * The config the CLI would send: every policy at its declared level with its schema defaults,
 * `all` applied, then each policy's entry. Unlike the CLI, a policy name the pack does not have is
 * an error (a typo would otherwise silently leave a rule at its default level).
 */
export function reconcileConfig(info: AnalyzerInfo, file: PolicyPackConfigFile = {}): Record<string, ResolvedPolicyConfig> {
    const problems: string[] = [];
    const result: Record<string, ResolvedPolicyConfig> = {};
    for (const p of info.policies) {
        const defaults: Record<string, unknown> = {};
        for (const [k, s] of Object.entries(p.configSchema?.properties ?? {})) if (s.default !== undefined) defaults[k] = JSON.parse(JSON.stringify(s.default));
        result[p.name] = { enforcementLevel: p.enforcementLevel, properties: defaults };
    }
    const apply = (given: Record<string, unknown>) => {
        const all = given.all;
        if (all !== undefined) {
            const level = typeof all === "string" ? all : (all as { enforcementLevel?: unknown })?.enforcementLevel;
            if (!LEVELS.includes(level as EnforcementLevel)) problems.push(`all: ${JSON.stringify(level)} is not an enforcement level (${LEVELS.join(", ")})`);
            else for (const r of Object.values(result)) r.enforcementLevel = level as EnforcementLevel;
        }
        for (const [name, value] of Object.entries(given)) {
            if (name === "all") continue;
            const target = result[name];
            if (!target) {
                problems.push(`${name}: the pack ${info.name} has no policy of that name (it has ${info.policies.map((p) => p.name).join(", ")})`);
                continue;
            }
            if (typeof value === "string") {
                if (!LEVELS.includes(value as EnforcementLevel)) problems.push(`${name}: ${JSON.stringify(value)} is not an enforcement level (${LEVELS.join(", ")})`);
                else target.enforcementLevel = value as EnforcementLevel;
            } else if (value && typeof value === "object" && !Array.isArray(value)) {
                const { enforcementLevel, ...props } = value as Record<string, unknown>;
                if (enforcementLevel !== undefined) {
                    if (!LEVELS.includes(enforcementLevel as EnforcementLevel)) problems.push(`${name}.enforcementLevel: ${JSON.stringify(enforcementLevel)} is not an enforcement level`);
                    else target.enforcementLevel = enforcementLevel as EnforcementLevel;
                }
                Object.assign(target.properties, props);
            } else {
                problems.push(`${name}: must be an enforcement level or an object`);
            }
        }
    };
    apply(info.initialConfig as Record<string, unknown>);
    apply(file as Record<string, unknown>);
    for (const p of info.policies) {
        if (!p.configSchema) continue;
        const schema: Schema = { type: "object", properties: p.configSchema.properties, required: p.configSchema.required };
        problems.push(...validateAgainstSchema(result[p.name].properties, schema, p.name));
    }
    if (problems.length > 0) throw new PolicyPackConfigError(problems);
    return result;
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

type Invoke<Res> = (metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

function diagnosticFrom(d: pb.AnalyzeDiagnostic): Diagnostic {
    return {
        policyName: d.getPolicyname(),
        policyPackName: d.getPolicypackname(),
        policyPackVersion: d.getPolicypackversion(),
        description: d.getDescription(),
        message: d.getMessage(),
        enforcementLevel: levelFromProto(d.getEnforcementlevel()),
        severity: severityFromProto(d.getSeverity()),
        urn: d.getUrn() || undefined,
    };
}

function resultFrom(res: pb.AnalyzeResponse): AnalyzeResult {
    return {
        diagnostics: res.getDiagnosticsList().map(diagnosticFrom),
        notApplicable: res.getNotApplicableList().map((n) => ({ policyName: n.getPolicyName(), reason: n.getReason() })),
    };
}

export class PolicyAnalyzer {
    private info?: AnalyzerInfo;
    private closed = false;
    /** Settles once the configuration sent from the ahead thread (`configureAhead`) has been answered. */
    private aheadConfigured: Promise<void> = Promise.resolve();
    /** The last GetAnalyzerInfo call, answered or not. */
    private pendingInfo?: Promise<AnalyzerInfo>;
    /** Bumped whenever Configure or ConfigureStack changes what the pack was told; answers sent ahead belong to one epoch. */
    private configEpoch = 0;
    private configuredAs = { policies: "", stack: "" };
    /** Analyze answers asked for ahead of time (`analyzeAhead`), by epoch and the request's exact bytes. */
    private readonly ahead = new Map<string, Promise<pb.AnalyzeResponse>>();

    /** The thread that sends the Analyze calls asked for ahead (tooling/analyzeAheadWorker.js); undefined: from this thread. */
    private aheadThread?: { worker: Worker; next: number; pending: Map<number, { resolve(b: Uint8Array): void; reject(e: Error): void }> } | null;

    /** The kept answer `infoForConfigureAhead` read, until the pack's own answer arrives. */
    private keptInfo?: string;

    private constructor(
        private readonly child: ChildProcess,
        private readonly client: AnalyzerClient,
        readonly packDir: string,
        private readonly stderr: () => string,
        private readonly rpcTimeoutMs: number,
        private readonly port: number,
        /** A compiled pack's kept GetAnalyzerInfo answer (`keptInfoFileFor`); undefined for a pack started as the CLI starts it. */
        private readonly keptInfoFile?: string,
    ) {}

    /**
     * Starts the thread that carries `analyzeAhead`'s calls, so they reach the pack while this
     * thread is busy running the program. Without one (or if it cannot start) they go from here.
     */
    startAheadThread(): void {
        if (this.aheadThread !== undefined || this.closed) return;
        try {
            const worker = new Worker(path.join(__dirname, "analyzeAheadWorker.js"), {
                workerData: { port: this.port, grpcModule: require.resolve("@grpc/grpc-js", { paths: [__dirname] }), method: ANALYZE_METHOD, timeoutMs: this.rpcTimeoutMs },
            });
            worker.unref();
            const thread = { worker, next: 0, pending: new Map<number, { resolve(b: Uint8Array): void; reject(e: Error): void }>() };
            const failAll = (err: Error) => {
                for (const p of thread.pending.values()) p.reject(err);
                thread.pending.clear();
                if (this.aheadThread === thread) this.aheadThread = null;
            };
            worker.on("message", (m: { id: number; response?: Uint8Array; error?: string }) => {
                const p = thread.pending.get(m.id);
                thread.pending.delete(m.id);
                if (m.response) p?.resolve(m.response);
                else p?.reject(new Error(`Analyze (ahead) failed: ${m.error}`));
            });
            worker.on("error", failAll);
            worker.on("exit", () => failAll(new Error("the Analyze thread exited")));
            this.aheadThread = thread;
        } catch {
            this.aheadThread = null;
        }
    }

    private analyzeByThread(request: Uint8Array): Promise<pb.AnalyzeResponse> | undefined {
        const thread = this.aheadThread;
        if (!thread) return undefined;
        const id = thread.next++;
        return new Promise<Uint8Array>((resolve, reject) => {
            thread.pending.set(id, { resolve, reject });
            // Handed over, not copied: the caller keeps no use for the bytes (analyzeAhead has made its key).
            // A Buffer may be a view of Node's shared pool: only a request that owns its whole buffer is handed over as it is.
            const owned = request.byteOffset === 0 && request.byteLength === request.buffer.byteLength ? request : Uint8Array.prototype.slice.call(request);
            thread.worker.postMessage({ id, request: owned }, [owned.buffer as ArrayBuffer]);
        }).then((bytes) => pb.AnalyzeResponse.deserializeBinary(bytes));
    }

    /** Starts the pack in a child process and connects to the port it prints. */
    static async start(options: StartOptions = {}): Promise<PolicyAnalyzer> {
        const packDir = path.resolve(options.packDir ?? DEFAULT_PACK_DIR);
        if (!fs.existsSync(path.join(packDir, "PulumiPolicy.yaml"))) {
            throw new PolicyPackStartError(`${packDir} is not a policy pack: it has no PulumiPolicy.yaml`, "");
        }
        const typeCheck = options.typeCheck ?? true;
        let args: string[];
        let early: EarlyPack | undefined;
        let packFile: string | undefined;
        if (typeCheck) {
            // What the CLI runs for a nodejs pack: the run-policy-pack shim with the engine address (unused by packs) and the pack directory.
            args = [require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir, __dirname] }), "127.0.0.1:0", "."];
        } else {
            let file: string;
            try {
                file = (await ensureBuilt(packTarget(packDir))).file;
                packFile = file;
            } catch (err) {
                if (err instanceof BuildError) throw new PolicyPackStartError(`policy pack ${packDir} does not compile: ${err.message}`, "");
                throw err;
            }
            args = packNodeArgs(file);
            // The same process, started by `npm run preview` before this CLI loaded (same bundle and environment, plus the flag that lets it warm up).
            if (!options.env || Object.keys(options.env).length === 0) early = takeEarlyPack(file, packDir);
        }
        if (early?.error) throw new PolicyPackStartError(`cannot start policy pack ${packDir}: ${early.error.message}`, "");
        const child = early?.child ?? spawn(process.execPath, args, { cwd: packDir, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"], signal: options.signal });
        if (early && options.signal) {
            if (options.signal.aborted) child.kill();
            else options.signal.addEventListener("abort", () => child.kill(), { once: true });
        }
        // Never leave the pack running after this process, even when a caller forgets close() or gives up while it starts.
        const killOnExit = () => child.kill("SIGKILL");
        process.once("exit", killOnExit);
        child.once("exit", () => process.removeListener("exit", killOnExit));
        let stderr = "";
        child.stderr!.setEncoding("utf8");
        child.stderr!.on("data", (d: string) => {
            stderr = (stderr + d).slice(-64 * 1024);
        });
        const port = await new Promise<number>((resolve, reject) => {
            let stdout = "";
            const timeoutMs = options.startTimeoutMs ?? 60_000;
            const timer = setTimeout(() => {
                child.kill("SIGKILL");
                reject(new PolicyPackStartError(`policy pack ${packDir} printed no port within ${timeoutMs} ms${stderr ? `; its stderr:\n${stderr}` : ""}`, stderr));
            }, timeoutMs);
            const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
                clearTimeout(timer);
                reject(new PolicyPackStartError(`policy pack ${packDir} exited (${signal ?? `code ${code}`}) before it started its analyzer server; its stderr:\n${stderr || "(empty)"}${stdout ? `\nits stdout:\n${stdout}` : ""}`, stderr));
            };
            child.once("exit", onExit);
            child.once("error", (err) => {
                clearTimeout(timer);
                reject(new PolicyPackStartError(`cannot start policy pack ${packDir}: ${err.message}`, stderr));
            });
            child.stdout!.setEncoding("utf8");
            child.stdout!.on("data", (d: string) => {
                stdout += d;
                const m = /^\s*(\d+)\s*$/m.exec(stdout);
                if (m) {
                    clearTimeout(timer);
                    child.removeListener("exit", onExit);
                    resolve(Number(m[1]));
                }
            });
            // An early process that already exited: its exit event has passed, so report it once its buffered output is read.
            if (early && (child.exitCode !== null || child.signalCode !== null)) {
                let open = 2;
                const ended = () => {
                    if (--open === 0) onExit(child.exitCode, child.signalCode);
                };
                child.stdout!.once("end", ended);
                child.stderr!.once("end", ended);
            }
        });
        const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
            "grpc.max_receive_message_length": 400 * 1024 * 1024,
            "grpc.max_send_message_length": 400 * 1024 * 1024,
        });
        return new PolicyAnalyzer(child, client, packDir, () => stderr, options.rpcTimeoutMs ?? 300_000, port, packFile && (options.keptInfoFile ?? keptInfoFileFor(packFile, packDir)));
    }

    /** Process id of the pack's analyzer server. */
    get pid(): number | undefined {
        return this.child.pid;
    }

    /** What the pack has written to stderr so far (warnings, errors). */
    get stderrText(): string {
        return this.stderr();
    }

    /** One unary call with a deadline; a failure says which call, and what the pack printed if it died. */
    private rpc<Res>(what: string, invoke: Invoke<Res>): Promise<Res> {
        return new Promise((resolve, reject) => {
            invoke(new grpc.Metadata(), { deadline: Date.now() + this.rpcTimeoutMs }, (err, res) => {
                if (!err) return resolve(res);
                const exited = this.child.exitCode !== null || this.child.signalCode !== null;
                reject(new Error(`${what} failed: ${err.details || err.message}${exited ? `; the policy pack's process has exited, its stderr:\n${this.stderr() || "(empty)"}` : ""}`));
            });
        });
    }

    /** The pack's info as last received, or as asked for last (possibly still on its way), else asked for now. */
    analyzerInfo(): Promise<AnalyzerInfo> {
        return this.info ? Promise.resolve(this.info) : (this.pendingInfo ?? this.getAnalyzerInfo());
    }

    getAnalyzerInfo(): Promise<AnalyzerInfo> {
        const pending = this.fetchAnalyzerInfo();
        this.pendingInfo = pending;
        // A failed call is not kept: the next one asks again.
        pending.catch(() => {
            if (this.pendingInfo === pending) this.pendingInfo = undefined;
        });
        return pending;
    }

    private async fetchAnalyzerInfo(): Promise<AnalyzerInfo> {
        const res = await this.rpc<pb.AnalyzerInfo>("GetAnalyzerInfo", (m, o, cb) => this.client.getAnalyzerInfo(new Empty(), m, o, cb));
        this.info = infoFromProto(res);
        if (this.keptInfoFile) {
            const received = JSON.stringify(this.info);
            if (received !== (this.keptInfo ?? readText(this.keptInfoFile))) keepFile(this.keptInfoFile, received);
            this.keptInfo = undefined;
        }
        return this.info;
    }

    /**
     * The info this compiled pack answered in an earlier run (`keptInfoFile`), so that the capture
     * can configure the pack ahead without waiting for its first answer. A wrong one costs only
     * time: the gate's own Configure, reconciled with the pack's real answer, then differs from the
     * one sent ahead, and every answer asked for under that is dropped (`configured`).
     */
    private infoForConfigureAhead(): AnalyzerInfo | undefined {
        if (this.info) return this.info;
        if (!this.keptInfoFile) return undefined;
        try {
            const text = fs.readFileSync(this.keptInfoFile, "utf8");
            const info = JSON.parse(text) as AnalyzerInfo;
            this.keptInfo = text;
            return info;
        } catch {
            return undefined;
        }
    }


    /**
     * Reconciles `config` (the contents of a --policy-pack-config file, or its path) with the
     * pack's schema as the CLI does, sends it with Configure, and returns what was sent.
     */
    async configure(config: PolicyPackConfigFile | string = {}): Promise<Record<string, ResolvedPolicyConfig>> {
        const info = await this.analyzerInfo();
        const resolved = reconcileConfig(info, typeof config === "string" ? loadPolicyPackConfig(config) : config);
        const req = configureRequest(resolved);
        await this.aheadConfigured;
        // The engine configures a pack once; sent ahead already (and answered), it is not sent again.
        if (this.isConfiguredAs("policies", req.serializeBinary())) return resolved;
        this.configurationUnknown("policies");
        await this.rpc<Empty>("Configure", (m, o, cb) => this.client.configure(req, m, o, cb));
        this.configured("policies", req.serializeBinary());
        return resolved;
    }

    /**
     * Configure and ConfigureStack, sent from the ahead thread (`startAheadThread`) before any
     * Analyze call asked for after this, without waiting for the answers: the capture can then run
     * the program at once. Answers asked for ahead are kept only while a later Configure and
     * ConfigureStack send exactly these requests; if the thread's calls fail, the calls held behind
     * them fail too and the gate asks again. False (nothing sent) without a thread, or when neither
     * the pack's info nor a kept answer of the same compiled pack is at hand.
     */
    configureAhead(config: PolicyPackConfigFile | string, stack: StackConfigureOptions): boolean {
        const thread = this.aheadThread;
        const info = thread && !this.closed ? this.infoForConfigureAhead() : undefined;
        if (!thread || !info) return false;
        const configure = configureRequest(reconcileConfig(info, typeof config === "string" ? loadPolicyPackConfig(config) : config)).serializeBinary();
        const configureStack = stackConfigureRequest(stack).serializeBinary();
        this.configured("policies", configure);
        this.configured("stack", configureStack);
        const id = thread.next++;
        const done = new Promise<void>((resolve, reject) => {
            thread.pending.set(id, { resolve: () => resolve(), reject });
            thread.worker.postMessage({
                id,
                configure: [
                    { method: "/pulumirpc.Analyzer/Configure", request: configure },
                    { method: "/pulumirpc.Analyzer/ConfigureStack", request: configureStack },
                ],
            });
        });
        this.aheadConfigured = done.catch(() => {
            // Nothing sent ahead under this configuration is used; the gate configures again.
            this.configurationUnknown("policies");
            this.configurationUnknown("stack");
        });
        return true;
    }

    /** Before a Configure or ConfigureStack whose answer may never come: until it does, the pack's configuration is not known. */
    private configurationUnknown(what: "policies" | "stack"): void {
        this.configuredAs[what] = "";
        this.configEpoch++;
        this.ahead.clear();
    }

    private isConfiguredAs(what: "policies" | "stack", request: Uint8Array): boolean {
        return this.configuredAs[what] !== "" && this.configuredAs[what] === Buffer.from(request).toString("base64");
    }

    /** Notes what the pack was just configured with; answers asked for ahead under anything else are dropped. */
    private configured(what: "policies" | "stack", request: Uint8Array): void {
        const key = Buffer.from(request).toString("base64");
        if (this.configuredAs[what] === key) return;
        this.configuredAs[what] = key;
        this.configEpoch++;
        this.ahead.clear();
    }

    private aheadKey(request: Uint8Array): string {
        return `${this.configEpoch}:${Buffer.from(request).toString("latin1")}`;
    }

    /** Tells the pack which stack it analyzes (stack tags reach policies as stackTags). */
    async configureStack(stack: StackConfigureOptions): Promise<void> {
        const req = stackConfigureRequest(stack);
        await this.aheadConfigured;
        if (this.isConfiguredAs("stack", req.serializeBinary())) return;
        this.configurationUnknown("stack");
        await this.rpc<pb.AnalyzerStackConfigureResponse>("ConfigureStack", (m, o, cb) => this.client.configureStack(req, m, o, cb));
        this.configured("stack", req.serializeBinary());
    }

    /**
     * The AnalyzeRequest's bytes, as google-protobuf would write the message. `forDisk`: secret
     * values replaced and no provider (whose inputs may hold credentials), for the warm-up file.
     */
    private analyzeRequest(resource: StackResource, byUrn: ReadonlyMap<string, StackResource>, forDisk = false): Uint8Array {
        const head = new pb.AnalyzeRequest();
        head.setType(resource.type);
        const tail = setResourceFields(new pb.AnalyzeRequest(), resource, forDisk ? undefined : byUrn);
        return withProperties(head, propertiesField(resource.type, resource.inputs, forDisk), tail);
    }

    private sendAnalyze(what: string, request: Uint8Array): Promise<pb.AnalyzeResponse> {
        return this.rpc<pb.AnalyzeResponse>(what, (m, o, cb) => this.client.makeUnaryRequest(ANALYZE_METHOD, passBytes, pb.AnalyzeResponse.deserializeBinary, request, m, o, (err, res) => cb(err, res!)));
    }

    /** Analyze: one resource's inputs, as before the engine registers it. `stack` lets the provider resource be resolved. */
    async analyze(resource: StackResource, stack: StackResource[] = []): Promise<AnalyzeResult> {
        const req = this.analyzeRequest(resource, indexByUrn(stack));
        if (this.ahead.size > 0) {
            const key = this.aheadKey(req);
            const early = this.ahead.get(key);
            if (early) {
                this.ahead.delete(key);
                const res = await early.catch(() => undefined);
                if (res) return resultFrom(res);
            }
        }
        // Never ahead of a configuration the Analyze thread is still sending.
        await this.aheadConfigured;
        return resultFrom(await this.sendAnalyze(`Analyze ${resource.urn}`, req));
    }

    /**
     * Sends Analyze for a resource now, under the configuration the pack has now, so that the pack
     * works while the program is still registering resources (the engine, too, analyzes each
     * resource as it is registered). A later `analyze` whose request is byte for byte the same,
     * under the same Configure and ConfigureStack, takes this answer instead of asking again;
     * anything else (another config, another provider, changed inputs) asks the pack as usual.
     */
    analyzeAhead(resource: StackResource, byUrn: ReadonlyMap<string, StackResource>): void {
        if (this.closed) return;
        const bytes = this.analyzeRequest(resource, byUrn);
        const key = this.aheadKey(bytes);
        if (this.ahead.has(key)) return;
        const answer = this.analyzeByThread(bytes) ?? this.sendAnalyze(`Analyze ${resource.urn}`, bytes);
        answer.catch(() => undefined);
        this.ahead.set(key, answer);
    }

    /**
     * Saves the Analyze requests of the first resource of each type, for the next compiled pack to
     * warm up on while it waits for the program (policies/lib/warmUp.ts): secret values replaced,
     * no provider, written atomically (or not at all, in a read-only tree), so a pack starting
     * meanwhile reads the previous file or this one whole.
     */
    saveWarmUp(resources: StackResource[], file: string): void {
        const byUrn = indexByUrn(resources);
        const seen = new Set<string>();
        const analyze: string[] = [];
        for (const r of resources) {
            if (seen.has(r.type)) continue;
            seen.add(r.type);
            analyze.push(Buffer.from(this.analyzeRequest(r, byUrn, true)).toString("base64"));
        }
        const contents: WarmUpFile = { format: WARM_UP_FORMAT, analyze };
        keepFile(file, JSON.stringify(contents));
    }

    /** AnalyzeStack: every resource with its final properties, parent, dependencies and property dependencies. */
    async analyzeStack(resources: StackResource[]): Promise<AnalyzeResult> {
        return this.sendAnalyzeStack(await this.analyzeStackRequest(resources));
    }

    private async sendAnalyzeStack(req: Uint8Array): Promise<AnalyzeResult> {
        return resultFrom(await this.rpc<pb.AnalyzeResponse>("AnalyzeStack", (m, o, cb) => this.client.makeUnaryRequest(ANALYZE_STACK_METHOD, passBytes, pb.AnalyzeResponse.deserializeBinary, req, m, o, (err, res) => cb(err, res!))));
    }

    /**
     * The AnalyzeStack request's bytes (as google-protobuf would write the message), built a slice
     * of resources at a time with a turn of the event loop between slices, so that `evaluate`
     * builds it while the Analyze calls are in flight.
     */
    private async analyzeStackRequest(resources: StackResource[], slice = 500): Promise<Uint8Array> {
        const byUrn = indexByUrn(resources);
        const list: Uint8Array[] = [];
        for (let start = 0; start < resources.length; start += slice) {
            if (start > 0) await new Promise((resolve) => setImmediate(resolve));
            for (const r of resources.slice(start, start + slice)) {
                const head = new pb.AnalyzerResource();
                head.setType(r.type);
                const tail = setResourceFields(new pb.AnalyzerResource(), r, byUrn);
                if (r.parent) tail.setParent(r.parent);
                tail.setDependenciesList(r.dependencies ?? []);
                const pd = tail.getPropertydependenciesMap();
                for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
                    const deps = new pb.AnalyzerPropertyDependencies();
                    deps.setUrnsList(urns);
                    pd.set(k, deps);
                }
                // AnalyzeStackRequest.resources is field 1, repeated.
                list.push(lengthDelimited(0x0a, withProperties(head, propertiesField(r.type, r.outputs ?? r.inputs), tail)));
            }
        }
        return Buffer.concat(list);
    }

    /**
     * One whole evaluation, in the engine's order: GetAnalyzerInfo, Configure, (ConfigureStack),
     * Analyze for every resource, AnalyzeStack once. Violations are grouped per policy pack.
     */
    async evaluate(resources: StackResource[], options: Pick<EvaluateOptions, "config" | "stack"> = {}): Promise<PolicyEvaluation> {
        const info = await this.analyzerInfo();
        await this.configure(options.config ?? {});
        if (options.stack) await this.configureStack(options.stack);
        // The engine analyzes resources as it registers them, several at a time; results keep the resources' order.
        const perResource: Diagnostic[][] = new Array(resources.length);
        let next = 0;
        const worker = async () => {
            while (next < resources.length) {
                const i = next++;
                const res = await this.analyze(resources[i], resources);
                perResource[i] = res.diagnostics.map((d) => ({ ...d, urn: d.urn ?? resources[i].urn }));
            }
        };
        // Built meanwhile; sent, as the engine sends it, once every Analyze has answered.
        const stackRequest = this.analyzeStackRequest(resources);
        stackRequest.catch(() => undefined); // awaited below, after the Analyze calls
        await Promise.all(Array.from({ length: Math.min(ANALYZE_CONCURRENCY, resources.length) }, worker));
        const diagnostics = perResource.flat();
        diagnostics.push(...(await this.sendAnalyzeStack(await stackRequest)).diagnostics);
        const violations: PolicyViolation[] = diagnostics
            .filter((d) => d.enforcementLevel !== "disabled")
            .map((d) => ({
                policyPack: d.policyPackName || info.name,
                policyPackVersion: d.policyPackVersion || info.version,
                policyName: d.policyName,
                enforcementLevel: d.enforcementLevel,
                severity: d.severity,
                urn: d.urn,
                message: d.message,
            }));
        const mandatoryCount = violations.filter((v) => v.enforcementLevel === "mandatory" || v.enforcementLevel === "remediate").length;
        return {
            policyPacks: [{ name: info.name, version: info.version, packDir: this.packDir, violations }],
            mandatoryCount,
            advisoryCount: violations.length - mandatoryCount,
            passed: mandatoryCount === 0,
        };
    }

    /**
     * Closes the connection and stops the pack's process; resolves once it has exited, or at once
     * with `waitForExit: false` (a process about to exit, whose exit kills the pack regardless).
     */
    async close(options: { waitForExit?: boolean } = {}): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        this.ahead.clear();
        const wait = options.waitForExit ?? true;
        if (this.aheadThread) {
            const { worker } = this.aheadThread;
            this.aheadThread = null;
            const terminated = worker.terminate().catch(() => undefined);
            if (wait) await terminated;
        }
        this.client.close();
        if (this.child.exitCode !== null || this.child.signalCode !== null) return;
        if (!wait) {
            this.child.kill("SIGTERM");
            return;
        }
        await new Promise<void>((resolve) => {
            const force = setTimeout(() => this.child.kill("SIGKILL"), 2000);
            this.child.once("exit", () => {
                clearTimeout(force);
                resolve();
            });
            this.child.kill("SIGTERM");
        });
    }
}

// ---------------------------------------------------------------------------------------------
// A whole evaluation, as `pulumi preview --policy-pack` runs it
// ---------------------------------------------------------------------------------------------

export interface PolicyViolation {
    policyPack: string;
    policyPackVersion: string;
    policyName: string;
    enforcementLevel: EnforcementLevel;
    severity?: Severity;
    /** The resource (Analyze), or the resource a stack policy named; undefined for a stack-wide violation. */
    urn?: string;
    message: string;
}

export interface PolicyPackResult {
    name: string;
    version: string;
    packDir: string;
    violations: PolicyViolation[];
}

export interface PolicyEvaluation {
    policyPacks: PolicyPackResult[];
    mandatoryCount: number;
    advisoryCount: number;
    /** No mandatory violation: the CLI would let the update proceed. */
    passed: boolean;
}

export interface EvaluateOptions extends StartOptions {
    /** Contents of a --policy-pack-config file, or its path. */
    config?: PolicyPackConfigFile | string;
    stack?: { stack: string; project: string; organization?: string; tags?: Record<string, string> };
}

/** Starts the pack, runs one whole evaluation, stops the pack. */
export async function evaluatePolicyPack(resources: StackResource[], options: EvaluateOptions = {}): Promise<PolicyEvaluation> {
    const analyzer = await PolicyAnalyzer.start(options);
    try {
        return await analyzer.evaluate(resources, options);
    } finally {
        await analyzer.close();
    }
}

/** The violations as `pulumi preview` prints them under "Policies:". */
export function formatEvaluation(evaluation: PolicyEvaluation, cwd = process.cwd()): string {
    const lines = ["Policies:"];
    for (const pack of evaluation.policyPacks) {
        const blocking = pack.violations.some((v) => v.enforcementLevel === "mandatory" || v.enforcementLevel === "remediate");
        lines.push(`    ${blocking ? "❌" : pack.violations.length > 0 ? "⚠️" : "✅"} ${pack.name}@v${pack.version} (local: ${path.relative(cwd, pack.packDir) || "."})`);
        for (const v of pack.violations) {
            const where = v.urn ? `  (${v.urn.split("::").slice(2).join(": ")})` : "";
            lines.push(`        - [${v.enforcementLevel}] ${v.severity ? `[severity: ${v.severity}] ` : ""} ${v.policyName}${where}`);
            for (const line of v.message.split("\n")) lines.push(`          ${line}`);
        }
    }
    return lines.join("\n");
}

/** Reads `pulumi stack export` JSON (or a captured plan in that shape), with a clear error for anything else. */
export function resourcesFromStackExport(value: unknown, source = "stack export"): StackResource[] {
    const fail = (why: string): never => {
        throw new Error(`${source} is not a Pulumi stack export: ${why}`);
    };
    if (!value || typeof value !== "object") fail("expected a JSON object");
    const v = value as { version?: unknown; deployment?: { resources?: unknown } };
    if (v.version !== 3) fail(`expected "version": 3, found ${JSON.stringify(v.version)}`);
    if (!v.deployment || typeof v.deployment !== "object") fail('it has no "deployment" object');
    const resources = v.deployment!.resources ?? [];
    if (!Array.isArray(resources)) fail('"deployment.resources" is not a list');
    return (resources as unknown[]).map((r, i) => {
        if (!r || typeof r !== "object") return fail(`resources[${i}] is not an object`);
        const res = r as Record<string, unknown>;
        if (typeof res.urn !== "string" || !res.urn.startsWith("urn:pulumi:")) fail(`resources[${i}] has no urn`);
        if (typeof res.type !== "string") fail(`resources[${i}] (${res.urn}) has no type`);
        return res as unknown as StackResource;
    });
}
