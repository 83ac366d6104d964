import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { JobfleetConfig, PROJECT, validateConfig } from "../config";
import { ensureBuilt } from "./build";
import { compiledGate } from "./compiledGate";
import { DEFAULT_MOCK_ACCOUNT_ID, JobfleetMocks } from "./mocks";
import { loadStackConfig, PROJECT_ROOT, StackConfigSource } from "./stackConfig";

/** One registered resource, as the engine would record it in a checkpoint. */
export interface CapturedResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    /** A component implemented by a provider plugin (awsx): its children are not visible offline. */
    remote: boolean;
    /** Read, not managed (a StackReference, or `Resource.get`): the engine records it as external and never changes it. */
    external?: boolean;
    id?: string;
    parent?: string;
    provider?: string;
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    options: CapturedOptions;
}

export interface CapturedOptions {
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace?: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    additionalSecretOutputs: string[];
    deletedWith?: string;
    aliases: string[];
    version?: string;
}

export interface CapturedPlan {
    project: string;
    stack: string;
    config: JobfleetConfig;
    configSource: StackConfigSource;
    resources: CapturedResource[];
    /** Stack outputs, resolved. */
    outputs: Record<string, unknown>;
}

export interface CaptureOptions {
    stack: string;
    /** Read config from this file instead of `Pulumi.<stack>.yaml`, like `pulumi preview --config-file`. */
    configFile?: string;
    /** `jobfleet:key` (or `aws:region`) → value, applied over the stack file (values as the CLI passes them: strings, JSON for lists). */
    configOverrides?: Record<string, string>;
    accountId?: string;
    /** The program's entry module; the default is the project's index.ts. */
    program?: string;
}

const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

/**
 * Turns the wire form of properties into what a checkpoint stores: secrets keep their marker with
 * the plaintext beside it (as `pulumi stack export --show-secrets` writes them), and resource
 * references become the referenced id (custom resources) or URN (components).
 */
export function toCheckpointValue(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(toCheckpointValue);
    if (value === null || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    const sig = obj[SPECIAL_SIG_KEY];
    if (sig === SECRET_SIG) return { [SPECIAL_SIG_KEY]: SECRET_SIG, plaintext: JSON.stringify(toCheckpointValue(obj.value)) };
    if (sig === RESOURCE_SIG) return (obj.id as string | undefined) || obj.urn;
    if (sig === OUTPUT_SIG) return obj.secret ? { [SPECIAL_SIG_KEY]: SECRET_SIG, plaintext: JSON.stringify(toCheckpointValue(obj.value)) } : toCheckpointValue(obj.value);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toCheckpointValue(v)]));
}

/** Removes secret markers, for readers (tests, the tree printer) that want plain values. */
export function revealSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(revealSecrets);
    if (value === null || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    if (obj[SPECIAL_SIG_KEY] === SECRET_SIG && typeof obj.plaintext === "string") return revealSecrets(JSON.parse(obj.plaintext));
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, revealSecrets(v)]));
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getRemote(): boolean;
    getProvider(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (value: { getUrnsList(): string[] }, key: string) => void): void };
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getDeletebeforereplacedefined(): boolean;
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getDeletedwith(): string;
    getAliasurnsList(): string[];
    getVersion(): string;
}

interface RegisterResponse {
    getUrn(): string;
    getId(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

type Callback<T> = (err: Error | null, response?: T) => void;

interface ReadRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getId(): string;
    getProvider(): string;
    getProperties(): { toJavaScript(): Record<string, unknown> } | undefined;
    getDependenciesList(): string[];
    getVersion(): string;
}

interface ReadResponse {
    getUrn(): string;
    getProperties(): { toJavaScript(): Record<string, unknown> } | undefined;
}

interface MonitorLike {
    registerResource(req: RegisterRequest, callback: Callback<RegisterResponse>): Promise<void> | void;
    readResource(req: ReadRequest, callback: Callback<ReadResponse>): Promise<void> | void;
    registerResourceOutputs(req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined }, callback: Callback<unknown>): void;
}

/** Captures are serialized: the Pulumi runtime's state is process-global. */
let captureQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs the real program under Pulumi's mock runtime with a stack's config and records every
 * resource it registers. Config is validated first: an invalid config throws
 * `ConfigValidationError` and nothing, not even the stack resource, is registered.
 */
export function captureProgram(options: CaptureOptions): Promise<CapturedPlan> {
    return serialized(() => captureOnce(options));
}

function serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = captureQueue.then(work);
    captureQueue = run.catch(() => undefined);
    return run;
}

async function captureOnce(options: CaptureOptions): Promise<CapturedPlan> {
    const configSource = loadStackConfig(options.stack, options.configFile);
    const rawConfig = { ...configSource.config, ...(options.configOverrides ?? {}) };
    const config = validateConfig(rawConfig, options.stack);
    const mocks = new JobfleetMocks({ accountId: options.accountId ?? DEFAULT_MOCK_ACCOUNT_ID, region: config.region });
    const program = path.resolve(options.program ?? compiledGate()?.program ?? path.join(PROJECT_ROOT, "index.ts"));
    const { resources, outputs } = await runUnderMocks(PROJECT, options.stack, rawConfig, configSource.secretKeys, mocks, program);
    return { project: PROJECT, stack: options.stack, config, configSource, resources, outputs };
}

/** Options of `captureProject`: another Pulumi project of this repository, such as deployments/. */
export interface ProjectCaptureOptions {
    /** Directory holding the project's Pulumi.yaml and stack files. */
    projectRoot: string;
    /** The `name:` in its Pulumi.yaml. */
    project: string;
    stack: string;
    configFile?: string;
    configOverrides?: Record<string, string>;
    accountId?: string;
    /** Region the AWS mocks answer for; the default is the stack's aws:region, else us-east-1. */
    region?: string;
    /** Wraps the AWS mocks, e.g. to answer StackReferences (tooling/stackReferences.ts). */
    mocks?: (aws: JobfleetMocks) => pulumi.runtime.Mocks;
}

/** A captured plan of another project: its config is its own, handed over raw (not jobfleet's validated settings). */
export interface CapturedProjectPlan extends Omit<CapturedPlan, "config"> {
    config: Record<string, string>;
}

/** Like `captureProgram`, for another Pulumi project of this repository; its program validates its own config. */
export function captureProject(options: ProjectCaptureOptions): Promise<CapturedProjectPlan> {
    return serialized(() => captureProjectOnce(options));
}

async function captureProjectOnce(options: ProjectCaptureOptions): Promise<CapturedProjectPlan> {
    const projectRoot = path.resolve(options.projectRoot);
    const configSource = loadStackConfig(options.stack, options.configFile, projectRoot, options.project);
    const rawConfig = { ...configSource.config, ...(options.configOverrides ?? {}) };
    const region = options.region ?? rawConfig["aws:region"] ?? "us-east-1";
    const awsMocks = new JobfleetMocks({ accountId: options.accountId ?? DEFAULT_MOCK_ACCOUNT_ID, region });
    const mocks = options.mocks ? options.mocks(awsMocks) : awsMocks;
    const source = path.join(projectRoot, "index.ts");
    // Under the compiled gate no TypeScript loader is registered: the project's program is compiled like the main one.
    const program = compiledGate() ? (await ensureBuilt({ name: `program-${options.project}`, entry: source })).file : source;
    const { resources, outputs } = await runUnderMocks(options.project, options.stack, rawConfig, configSource.secretKeys, mocks, program);
    return { project: options.project, stack: options.stack, config: rawConfig, configSource, resources, outputs };
}

/** What a capture listener learns with each resource: the run it belongs to and every resource registered so far. */
export interface CaptureRun {
    project: string;
    stack: string;
    byUrn: ReadonlyMap<string, CapturedResource>;
}

export type CaptureListener = (resource: CapturedResource, run: CaptureRun) => void;

const captureListeners = new Set<CaptureListener>();

/**
 * Calls `listener` with every resource as the program registers it (the compiled preview sends
 * each one to the policy pack at once, as the engine does). A listener's failure is its own: the
 * capture ignores it. Returns the function that removes the listener.
 */
export function onResourceCaptured(listener: CaptureListener): () => void {
    captureListeners.add(listener);
    return () => captureListeners.delete(listener);
}

export type CaptureStartListener = (run: CaptureRun) => Promise<void> | void;

const startListeners = new Set<CaptureStartListener>();
/** How long a capture waits for its start listeners before it runs the program anyway. */
const START_WAIT_MS = 1000;

/**
 * Calls `listener` before each capture runs its program, and waits for the promise it returns, at
 * most 1 s (the compiled preview configures the pack there, so that the pack can analyze every
 * resource while the program registers the rest). Returns the function that removes the listener.
 */
export function onCaptureStarting(listener: CaptureStartListener): () => void {
    startListeners.add(listener);
    return () => startListeners.delete(listener);
}

async function beforeProgram(run: CaptureRun): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    for (const listener of startListeners) {
        try {
            waits.push(Promise.resolve(listener(run)).catch(() => undefined));
        } catch {
            // A listener only looks ahead; the capture does not depend on it.
        }
    }
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise((resolve) => (timer = setTimeout(resolve, START_WAIT_MS)))]);
    clearTimeout(timer);
}

function announce(resource: CapturedResource, run: CaptureRun): void {
    for (const listener of captureListeners) {
        try {
            listener(resource, run);
        } catch {
            // A listener only looks ahead; the capture and the plan do not depend on it.
        }
    }
}

async function runUnderMocks(
    project: string,
    stack: string,
    rawConfig: Record<string, string>,
    secretKeys: string[],
    mocks: pulumi.runtime.Mocks,
    program: string,
): Promise<{ resources: CapturedResource[]; outputs: Record<string, unknown> }> {
    pulumi.runtime.setAllConfig(rawConfig, secretKeys);
    await pulumi.runtime.setMocks(mocks, project, stack, false);

    const resources: CapturedResource[] = [];
    const byUrn = new Map<string, CapturedResource>();
    const run: CaptureRun = { project, stack, byUrn };
    const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
    const registerResource = monitor.registerResource.bind(monitor);
    const registerResourceOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((value, key) => {
            propertyDependencies[key] = value.getUrnsList();
        });
        const record: Omit<CapturedResource, "urn"> = {
            type: req.getType(),
            name: req.getName(),
            custom: req.getCustom(),
            remote: req.getRemote(),
            parent: req.getParent() || undefined,
            provider: req.getProvider() || undefined,
            inputs: toCheckpointValue(req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
            outputs: {},
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            options: {
                protect: req.getProtect(),
                retainOnDelete: req.getRetainondelete(),
                deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
                ignoreChanges: req.getIgnorechangesList(),
                replaceOnChanges: req.getReplaceonchangesList(),
                additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
                deletedWith: req.getDeletedwith() || undefined,
                aliases: req.getAliasurnsList(),
                version: req.getVersion() || undefined,
            },
        };
        return registerResource(req, (err, response) => {
            if (!err && response) {
                const captured: CapturedResource = {
                    urn: response.getUrn(),
                    ...record,
                    id: record.custom ? response.getId() || undefined : undefined,
                    outputs: toCheckpointValue(response.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
                };
                resources.push(captured);
                byUrn.set(captured.urn, captured);
                announce(captured, run);
            }
            callback(err, response);
        });
    };
    const readResource = monitor.readResource.bind(monitor);
    monitor.readResource = (req, callback) =>
        readResource(req, (err, response) => {
            if (!err && response) {
                const captured: CapturedResource = {
                    urn: response.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    custom: true,
                    remote: false,
                    external: true,
                    id: req.getId(),
                    parent: req.getParent() || undefined,
                    provider: req.getProvider() || undefined,
                    inputs: toCheckpointValue(req.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>,
                    outputs: toCheckpointValue(response.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>,
                    dependencies: req.getDependenciesList(),
                    propertyDependencies: {},
                    options: { protect: false, retainOnDelete: false, ignoreChanges: [], replaceOnChanges: [], additionalSecretOutputs: [], aliases: [], version: req.getVersion() || undefined },
                };
                resources.push(captured);
                byUrn.set(captured.urn, captured);
                announce(captured, run);
            }
            callback(err, response);
        });
    monitor.registerResourceOutputs = (req, callback) => {
        const captured = byUrn.get(req.getUrn());
        if (captured) captured.outputs = toCheckpointValue(req.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>;
        registerResourceOutputs(req, callback);
    };

    await beforeProgram(run);
    delete require.cache[require.resolve(program)];
    // The runtime records a stack trace for every promise and resource it makes (debugging
    // metadata the mock monitor discards); ts-node's source-map hook makes each one costly, so the
    // program runs with V8's own formatting, which cuts a capture's time by more than half.
    const sourceMappedStackTraces = Error.prepareStackTrace;
    (Error as { prepareStackTrace?: ErrorConstructor["prepareStackTrace"] }).prepareStackTrace = undefined;
    const restoreTraces = withoutUnreadStackTraces();
    let outputs: Record<string, unknown> | undefined;
    // An Output that fails inside a component's registerResourceOutputs rejects no promise the
    // program awaits; the Pulumi language host fails the program on such an unhandled rejection,
    // so the capture does too instead of returning a plan the engine would never produce.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const waitForRPCs = () => (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    let failure: { error: unknown } | undefined;
    try {
        outputs = (await pulumi.runtime.runInPulumiStack(async () => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            return require(program);
        })) as Record<string, unknown> | undefined;
        // Marked internal (absent from the typings) but exported: it drains the registrations still in flight.
        await waitForRPCs();
    } catch (error) {
        failure = { error };
        // Let the failed run's remaining registrations settle, so their rejections are this run's, not the next capture's.
        await waitForRPCs().catch(() => undefined);
    } finally {
        await new Promise((resolve) => setImmediate(resolve));
        process.off("unhandledRejection", onUnhandled);
        restoreTraces();
        Error.prepareStackTrace = sourceMappedStackTraces;
    }
    if (failure) throw failure.error;
    if (unhandled.length > 0) throw unhandled[0] instanceof Error ? unhandled[0] : new Error(`the program failed: ${String(unhandled[0])}`);

    return { resources, outputs: revealSecrets(toCheckpointValue(outputs ?? {})) as Record<string, unknown> };
}

/**
 * The runtime also records two stack traces nobody reads under the mock monitor, about a third of a
 * capture's time: one per promise (`debuggablePromise`, printed only when PULUMI_DEBUG_PROMISE_LEAKS
 * is set, so kept then) and one per resource, unlimited in depth, for the source position the
 * engine shows (the mock monitor and the plan do not carry it). While the program runs under the
 * capture, the first is taken with no frames and the second not at all. The real CLI's runs are
 * untouched: this is the offline harness only. Returns the function that puts both back.
 */
function withoutUnreadStackTraces(): () => void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debugPromiseLeaks: boolean; debuggablePromise: (...args: unknown[]) => unknown };
    const resourceClass = pulumi.Resource as unknown as { callsites: () => unknown[] };
    const originalPromise = debuggable.debuggablePromise;
    const originalCallsites = resourceClass.callsites;
    if (!debuggable.debugPromiseLeaks) {
        debuggable.debuggablePromise = function (this: unknown, ...args: unknown[]) {
            const limit = Error.stackTraceLimit;
            Error.stackTraceLimit = 0;
            try {
                return originalPromise.apply(this, args);
            } finally {
                Error.stackTraceLimit = limit;
            }
        };
    }
    resourceClass.callsites = () => [];
    return () => {
        debuggable.debuggablePromise = originalPromise;
        resourceClass.callsites = originalCallsites;
    };
}

/** Resources of one type, for tests and tools. */
export function resourcesOfType(plan: CapturedPlan, type: string): CapturedResource[] {
    return plan.resources.filter((r) => r.type === type);
}

/** Plain inputs of a resource (secrets revealed), typed loosely for assertions. */
export function inputsOf(resource: CapturedResource): Record<string, any> {
    return revealSecrets(resource.inputs) as Record<string, any>;
}

export interface StackExport {
    version: 3;
    deployment: {
        manifest: { time: string; magic: string; version: string };
        resources: StackExportResource[];
    };
}

export interface StackExportResource {
    urn: string;
    custom: boolean;
    id?: string;
    type: string;
    external?: boolean;
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
    parent?: string;
    provider?: string;
    protect?: boolean;
    retainOnDelete?: boolean;
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
}

/** The plan in the shape of `pulumi stack export`, so one set of tools reads plans and live stacks. */
export function toStackExport(plan: Pick<CapturedPlan, "resources">, time = new Date()): StackExport {
    return {
        version: 3,
        deployment: {
            manifest: { time: time.toISOString(), magic: "jobfleet-offline-preview", version: `@pulumi/pulumi ${pulumiVersion()}` },
            resources: plan.resources.map((r) => ({
                urn: r.urn,
                custom: r.custom,
                ...(r.id ? { id: r.id } : {}),
                type: r.type,
                ...(r.external ? { external: true } : {}),
                inputs: r.inputs,
                outputs: r.outputs,
                ...(r.parent ? { parent: r.parent } : {}),
                ...(r.provider ? { provider: r.provider } : {}),
                ...(r.options.protect ? { protect: true } : {}),
                ...(r.options.retainOnDelete ? { retainOnDelete: true } : {}),
                dependencies: r.dependencies,
                propertyDependencies: r.propertyDependencies,
            })),
        },
    };
}

function pulumiVersion(): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("@pulumi/pulumi/package.json") as { version: string }).version;
}
