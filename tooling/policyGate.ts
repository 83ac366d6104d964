import * as fs from "fs";
import * as path from "path";
import { CapturedResource, CaptureRun, onCaptureStarting, onResourceCaptured } from "./capture";
import { PACK_WARM_UP_FILE } from "./build";
import { compiledGate } from "./compiledGate";
import { DEFAULT_PACK_DIR, PolicyAnalyzer, PolicyEvaluation, PolicyViolation, StackResource } from "./policyAnalyzer";
import { PROJECT_ROOT } from "./stackConfig";

/**
 * The offline policy gate: after `npm run preview` has planned a stack (or given a `pulumi stack
 * export` file), it runs the policy pack the way `pulumi preview --policy-pack policies
 * --policy-pack-config policies/config/<stack>.json` would, through tooling/policyAnalyzer.ts
 * (GetAnalyzerInfo, Configure, Analyze per resource, AnalyzeStack once), prints the result as the
 * CLI prints its "Policies:" section, and fails when any violation is mandatory.
 */

export interface GateOptions {
    /** Stack whose pack config is the default (`policies/config/<stack>.json`). */
    stack?: string;
    project?: string;
    organization?: string;
    /** `--policy-pack-config <file>`: replaces the stack's pack config, as the CLI flag does. */
    configFile?: string;
    /** `--policy-pack <dir>`; default policies/. */
    packDir?: string;
    /** An analyzer already started (tests and the benchmark reuse one); otherwise the gate starts and stops one. */
    analyzer?: PolicyAnalyzer;
    /**
     * How the gate starts the pack: true exactly as the CLI, type-checking the TypeScript pack; false
     * compiled (tooling/build.ts). Default: compiled when the gate runs compiled (`npm run preview`),
     * as the CLI when it runs from its sources.
     */
    typeCheck?: boolean;
    /** Paths in the report are shown relative to this directory. */
    cwd?: string;
    /**
     * Save requests of these resources for the next compiled pack to warm up on (policies/lib/warmUp.ts):
     * for a plan the program made offline, never for a stack export (which may hold real values).
     */
    saveWarmUp?: boolean;
}

export interface GateResult {
    evaluation: PolicyEvaluation;
    /** The "Policies:" section, as the CLI prints it. */
    policies: string;
    /** One line: passed, or blocked with the counts. */
    verdict: string;
    /** Both, as printed. */
    report: string;
    /** 0: no mandatory violation; 1: at least one (the change is blocked). */
    exitCode: 0 | 1;
    configFile: string;
    resourceCount: number;
    /** Wall time, ms: starting the pack (0 when given one), and the whole evaluation. */
    timings: { startMs: number; evaluateMs: number };
}

export class PolicyGateInputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PolicyGateInputError";
    }
}

/** The pack config the gate uses: the flag's file, else the stack's file under policies/config/. */
export function resolvePackConfig(options: Pick<GateOptions, "stack" | "configFile" | "packDir">): string {
    if (options.configFile) {
        const file = path.resolve(options.configFile);
        if (!fs.existsSync(file)) throw new PolicyGateInputError(`--policy-pack-config ${options.configFile}: no such file`);
        return file;
    }
    if (!options.stack) throw new PolicyGateInputError("the policy gate needs --stack <name> (for policies/config/<stack>.json) or --policy-pack-config <file>");
    const file = path.join(path.resolve(options.packDir ?? DEFAULT_PACK_DIR), "config", `${options.stack}.json`);
    if (!fs.existsSync(file)) {
        throw new PolicyGateInputError(`the policy pack has no config for the stack ${options.stack} (${path.relative(PROJECT_ROOT, file)}); pass --policy-pack-config <file>`);
    }
    return file;
}

let prestarted: { packDir: string; analyzer: Promise<PolicyAnalyzer>; abort: AbortController; stopLookingAhead: () => void } | undefined;

/**
 * Starts the compiled pack now, for the next `runPolicyGate` that would start the same pack
 * compiled: the compiled preview starts it while the program runs under mocks, which takes about
 * as long as the pack's start. While the first capture runs, it also sends the pack each resource
 * as it is registered (`lookAhead`), so the pack evaluates on the other core during the program.
 */
export function prestartPack(packDir = DEFAULT_PACK_DIR): void {
    if (prestarted) return;
    const abort = new AbortController();
    const analyzer = PolicyAnalyzer.start({ packDir, typeCheck: false, signal: abort.signal });
    // Its failure is reported by the gate that takes it (or ignored if none does).
    analyzer.catch(() => undefined);
    // The first call connects the channel and waits for the pack's first answer: asked for now, while
    // the stack's config is read, rather than when the capture is about to start (the pack's info is kept).
    void analyzer.then((a) => a.getAnalyzerInfo()).catch(() => undefined);
    const stopLookingAhead = lookAhead(analyzer, path.resolve(packDir));
    prestarted = { packDir: path.resolve(packDir), analyzer, abort, stopLookingAhead };
}

/**
 * Analyze, ahead of the gate, for the resources of the first capture after the pack's start,
 * configured as the gate will configure it for that stack by default (its policies/config/<stack>.json
 * and the stack's name and project). The gate takes an answer only for a byte-identical request
 * under byte-identical configuration (PolicyAnalyzer.analyzeAhead), so a wrong guess (another
 * --policy-pack-config, a review stack whose plan follows staging's) costs only the pack's time.
 */
function lookAhead(started: Promise<PolicyAnalyzer>, packDir: string): () => void {
    let run: CaptureRun | undefined;
    let ready: Promise<PolicyAnalyzer | undefined> | undefined;
    const stop = () => {
        stopStarting();
        stopCaptured();
    };
    // Configured before the program runs: the program registers its resources in one burst that
    // leaves this thread's event loop no turn for the pack's answers until it is done.
    const stopStarting = onCaptureStarting((current: CaptureRun) => {
        if (run !== undefined) return stop();
        run = current;
        const configFile = path.join(packDir, "config", `${current.stack}.json`);
        if (!fs.existsSync(configFile)) return stop();
        const stack = { stack: current.stack, project: current.project };
        // The configuration goes out from the ahead thread, ahead of the Analyze calls, without
        // waiting for its answers; the capture waits only for the pack's info, when neither it nor
        // the answer this compiled pack gave in an earlier run is at hand.
        ready = started
            .then(async (analyzer) => {
                analyzer.startAheadThread();
                if (analyzer.configureAhead(configFile, stack)) return analyzer;
                await analyzer.analyzerInfo();
                if (!analyzer.configureAhead(configFile, stack)) {
                    await analyzer.configure(configFile);
                    await analyzer.configureStack(stack);
                }
                return analyzer;
            })
            .catch(() => undefined);
        return ready.then(() => undefined);
    });
    const stopCaptured = onResourceCaptured((resource: CapturedResource, current: CaptureRun) => {
        if (current !== run || !ready) return;
        void ready.then((analyzer) => analyzer?.analyzeAhead(resource, current.byUrn));
    });
    return stop;
}

/** Stops a pack `prestartPack` started that no gate took. */
export async function discardPrestartedPack(): Promise<void> {
    const pending = prestarted;
    prestarted = undefined;
    if (!pending) return;
    pending.stopLookingAhead();
    pending.abort.abort();
    await (await pending.analyzer.catch(() => undefined))?.close();
}

function startAnalyzer(options: GateOptions): Promise<PolicyAnalyzer> {
    const packDir = path.resolve(options.packDir ?? DEFAULT_PACK_DIR);
    const typeCheck = options.typeCheck ?? compiledGate() === undefined;
    if (prestarted && !typeCheck && prestarted.packDir === packDir) {
        const { analyzer, stopLookingAhead } = prestarted;
        prestarted = undefined;
        stopLookingAhead();
        return analyzer;
    }
    return PolicyAnalyzer.start({ packDir, typeCheck });
}

/** Runs the pack over the resources and renders the verdict; never throws for violations, only for broken input or a broken pack. */
export async function runPolicyGate(resources: StackResource[], options: GateOptions = {}): Promise<GateResult> {
    const configFile = resolvePackConfig(options);
    const started = Date.now();
    const warmsUpNextPack = options.saveWarmUp === true && !options.analyzer && compiledGate() !== undefined;
    const analyzer = options.analyzer ?? (await startAnalyzer(options));
    const startMs = options.analyzer ? 0 : Date.now() - started;
    try {
        const evaluationStarted = Date.now();
        const evaluation = await analyzer.evaluate(resources, {
            config: configFile,
            stack: options.stack ? { stack: options.stack, project: options.project ?? "jobfleet", organization: options.organization } : undefined,
        });
        const evaluateMs = Date.now() - evaluationStarted;
        // For the next `npm run preview`'s pack to warm up on (tooling/build.ts startPackEarly).
        // Where it cannot be written (a read-only tree), the next pack starts cold.
        if (warmsUpNextPack) analyzer.saveWarmUp(resources, PACK_WARM_UP_FILE);
        const cwd = options.cwd ?? process.cwd();
        const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
        const policies = renderPolicies(evaluation, { cwd, stackUrn });
        const verdict = renderVerdict(evaluation, resources.length, path.relative(cwd, configFile) || configFile);
        return { evaluation, policies, verdict, report: `${policies}\n${verdict}`, exitCode: evaluation.passed ? 0 : 1, configFile, resourceCount: resources.length, timings: { startMs, evaluateMs } };
    } finally {
        // The compiled CLI exits right after the verdict, and its exit kills the pack: it need not wait for the pack to go.
        if (!options.analyzer) await analyzer.close({ waitForExit: compiledGate() === undefined });
    }
}

/** `urn:pulumi:s::p::a$b::name` → [`b`, `name`], as the CLI's (type: name). */
function typeAndName(urn: string): [string, string] {
    const parts = urn.split("::");
    const types = (parts[2] ?? "").split("$");
    return [types[types.length - 1] ?? "", parts.slice(3).join("::")];
}

/**
 * The CLI's "Policies:" section (pkg/backend/display/progress.go printPolicies): one line per pack
 * (✅ passed, ⚠️ advisory only, ❌ mandatory), then each violation sorted by enforcement level,
 * policy name and URN as `- [level]  policy  (type: name)` with the message below it (the policy
 * SDK already starts it with the policy's description). The gate adds the full URN, which the CLI
 * leaves out.
 */
export function renderPolicies(evaluation: PolicyEvaluation, options: { cwd: string; stackUrn?: string }): string {
    const lines = ["Policies:"];
    for (const pack of evaluation.policyPacks) {
        const mandatory = pack.violations.some((v) => v.enforcementLevel === "mandatory" || v.enforcementLevel === "remediate");
        const mark = mandatory ? "❌" : pack.violations.length > 0 ? "⚠️" : "✅";
        lines.push(`    ${mark} ${pack.name}@v${pack.version} (local: ${path.relative(options.cwd, pack.packDir) || "."})`);
        const sorted = [...pack.violations].sort(
            (a, b) => a.enforcementLevel.localeCompare(b.enforcementLevel) || a.policyName.localeCompare(b.policyName) || (a.urn ?? "").localeCompare(b.urn ?? ""),
        );
        for (const v of sorted) lines.push(...renderViolation(v, options.stackUrn));
    }
    return lines.join("\n") + "\n";
}

function renderViolation(v: PolicyViolation, stackUrn: string | undefined): string[] {
    const urn = v.urn ?? stackUrn ?? "";
    const [type, name] = urn ? typeAndName(urn) : ["stack", ""];
    const body = v.message.trimEnd();
    return [`        - [${v.enforcementLevel}]  ${v.policyName}  (${type}: ${name})`, ...body.split("\n").map((l) => `          ${l}`), ...(urn ? [`          urn: ${urn}`] : [])];
}

export function renderVerdict(evaluation: PolicyEvaluation, resourceCount: number, configShown: string): string {
    const counts = `${evaluation.mandatoryCount} mandatory, ${evaluation.advisoryCount} advisory`;
    return evaluation.passed
        ? `Policy gate passed: ${resourceCount} resources checked with ${configShown}; ${counts} violation(s).\n`
        : `error: policy gate blocked the change: ${counts} violation(s) in ${resourceCount} resources checked with ${configShown}.\n`;
}

// ---------------------------------------------------------------------------------------------
// `pulumi stack export` files
// ---------------------------------------------------------------------------------------------

const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const URN = /^urn:pulumi:([^:]+)::([^:]+)::([^:]+(?::[^:]+)*)::(.+)$/;

export interface StackExportContents {
    resources: StackResource[];
    /** Stacks and projects the URNs name (one each in a real export). */
    stacks: string[];
    projects: string[];
    /** Secret values exported encrypted (without --show-secrets): the pack sees them as unknown. */
    encryptedSecrets: number;
    /** Resources pending deletion in the export; the engine would not analyze them. */
    pendingDeletes: number;
}

function countEncryptedSecrets(value: unknown): number {
    if (Array.isArray(value)) return value.reduce((n: number, v) => n + countEncryptedSecrets(v), 0);
    if (value === null || typeof value !== "object") return 0;
    const obj = value as Record<string, unknown>;
    if (obj[SPECIAL_SIG_KEY] === SECRET_SIG) return typeof obj.plaintext === "string" || "value" in obj ? 0 : 1;
    return Object.values(obj).reduce((n: number, v) => n + countEncryptedSecrets(v), 0);
}

/** Reads a `pulumi stack export` file, refusing anything else with a sentence that says what is wrong. */
export function readStackExport(file: string): StackExportContents {
    const shown = path.relative(process.cwd(), path.resolve(file)) || file;
    const fail = (problem: string): never => {
        throw new PolicyGateInputError(`--state ${shown}: ${problem}`);
    };
    if (!fs.existsSync(file)) fail("no such file");
    if (fs.statSync(file).isDirectory()) fail("is a directory; expected the JSON file `pulumi stack export --file <file>` writes");
    let value: unknown;
    try {
        value = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        fail(`not JSON (${(err as Error).message}); expected the output of \`pulumi stack export\``);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) fail("expected a JSON object with version and deployment (the output of `pulumi stack export`)");
    const doc = value as Record<string, unknown>;
    if ("terraform_version" in doc) fail("this is a Terraform state, not a Pulumi stack export");
    if (doc.version !== 3) {
        fail(`"version" is ${JSON.stringify(doc.version)}; expected 3, the deployment format of \`pulumi stack export\` (re-export it with a current Pulumi CLI)`);
    }
    const deployment = doc.deployment;
    if (deployment === null || typeof deployment !== "object" || Array.isArray(deployment)) fail('has no "deployment" object');
    const list = (deployment as Record<string, unknown>).resources;
    if (list === undefined) fail('has no "deployment.resources": the stack has never been deployed, or this is not a stack export');
    if (!Array.isArray(list)) fail('"deployment.resources" is not a list');
    const resources: StackResource[] = [];
    const stacks = new Set<string>();
    const projects = new Set<string>();
    const seen = new Set<string>();
    let pendingDeletes = 0;
    (list as unknown[]).forEach((item, i) => {
        const at = `deployment.resources[${i}]`;
        if (item === null || typeof item !== "object" || Array.isArray(item)) fail(`${at} is not an object`);
        const r = item as Record<string, unknown>;
        if (typeof r.urn !== "string") fail(`${at} has no urn`);
        const m = URN.exec(r.urn as string);
        if (!m) fail(`${at}.urn ${JSON.stringify(r.urn)} is not a Pulumi URN (urn:pulumi:<stack>::<project>::<type>::<name>)`);
        const urn = r.urn as string;
        if (typeof r.type !== "string" || r.type === "") fail(`${at} (${urn}) has no type`);
        const urnType = m![3].split("$").pop();
        if (urnType !== r.type) fail(`${at} has type ${JSON.stringify(r.type)} but its urn names ${JSON.stringify(urnType)}`);
        for (const key of ["inputs", "outputs", "propertyDependencies"] as const) {
            if (r[key] !== undefined && (r[key] === null || typeof r[key] !== "object" || Array.isArray(r[key]))) fail(`${at} (${urn}) ${key} is not an object`);
        }
        if (r.dependencies !== undefined && !(Array.isArray(r.dependencies) && r.dependencies.every((d) => typeof d === "string"))) {
            fail(`${at} (${urn}) dependencies is not a list of URNs`);
        }
        if (r.parent !== undefined && typeof r.parent !== "string") fail(`${at} (${urn}) parent is not a URN`);
        if (r.delete === true) {
            pendingDeletes++;
            return;
        }
        if (seen.has(urn)) fail(`${at} repeats the urn ${urn}`);
        seen.add(urn);
        stacks.add(m![1]);
        projects.add(m![2]);
        resources.push(r as unknown as StackResource);
    });
    if (resources.length === 0) fail("lists no resources to check");
    return { resources, stacks: [...stacks], projects: [...projects], encryptedSecrets: countEncryptedSecrets(resources.map((r) => r.inputs)), pendingDeletes };
}
