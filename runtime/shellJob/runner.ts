import { spawn } from "child_process";
import * as fs from "fs/promises";
import * as os from "os";
import * as path from "path";
import { z } from "zod";
import {
    CONTRACT_VERSION,
    describeIssues,
    jobRequestSchema,
    legacyJobRequestSchema,
    MAX_JOB_REQUEST_BYTES,
    OVERRIDE_ENV,
    RUNNER_ENV,
    ShellCommandResult,
    ShellJobErrorCode,
    ShellJobRequest,
    ShellJobResult,
    SUPPORTED_CONTRACT_VERSIONS,
} from "./contract";
import { ShellJobError, messageOf } from "./errors";
import { presignedUrlExpiry, redactUrl } from "./presignedUrl";

/**
 * The runner side of the shell job contract: what the shell executor's container does from start
 * to exit. It reads the job request (presigned GET URL, or legacy SHELL_EXECUTOR_JOB_B64), checks
 * the contract version, runs the commands with a timeout each and a cap on captured output, and
 * writes the result through the presigned PUT URL, also when the request was refused or a command
 * failed. It holds no AWS credentials: the URLs carry the caller's authority.
 */

export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 300;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Time kept back before the result URL expires, to upload the result. */
export const RESULT_UPLOAD_RESERVE_MS = 15_000;
/** A command gets SIGTERM at its timeout (or on stop) and SIGKILL this much later. */
export const KILL_GRACE_MS = 3_000;
/**
 * Once the command's shell has exited and its process group is killed, its output pipes should
 * close at once; a process that left the group (setsid, a double fork into a new session) may
 * still hold them. After this long they are closed from our side so the command is over.
 */
export const PIPE_DRAIN_MS = 1_000;

export interface RunnerOptions {
    env: NodeJS.ProcessEnv;
    /** Aborted on SIGTERM: the running command is stopped and the result written. */
    signal?: AbortSignal;
    /** One line per event, for the container log. Never given URLs with their signatures. */
    log?: (line: string) => void;
}

export interface RunnerOutcome {
    /** 0: result written, every command succeeded; 1: result written, job failed or refused; 2: no result could be written. */
    exitCode: 0 | 1 | 2;
    result: ShellJobResult;
    resultWritten: boolean;
}

interface RunnerSettings {
    commandTimeoutSeconds: number;
    maxOutputBytes: number;
}

type Transport = ShellJobResult["transport"];

class Refusal extends ShellJobError {
    constructor(code: ShellJobErrorCode, message: string) {
        super(code, message);
    }
}

function positiveIntFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) <= 0) {
        throw new Refusal("RUNNER_MISCONFIGURED", `${name} is ${JSON.stringify(raw)}; expected a whole number above 0 (the task definition sets it).`);
    }
    return Number(raw);
}

export async function runShellJob(options: RunnerOptions): Promise<RunnerOutcome> {
    const { env } = options;
    const log = options.log ?? (() => undefined);
    const started = new Date();
    const startedMs = performance.now();
    const resultUrl = env[OVERRIDE_ENV.resultPutUrl];
    const transport: Transport = env[OVERRIDE_ENV.jobGetUrl] ? "presigned-url" : "legacy-env";

    let request: ShellJobRequest | undefined;
    let refusal: Refusal | undefined;
    let commands: ShellCommandResult[] = [];
    let stopped = false;

    if (!resultUrl) {
        log(`shell-executor: ${OVERRIDE_ENV.resultPutUrl} is not set, so no result could be reported; running nothing.`);
    } else {
        try {
            const settings: RunnerSettings = {
                commandTimeoutSeconds: positiveIntFromEnv(env, RUNNER_ENV.commandTimeoutSeconds, DEFAULT_COMMAND_TIMEOUT_SECONDS),
                maxOutputBytes: positiveIntFromEnv(env, RUNNER_ENV.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES),
            };
            request = await loadRequest(env, transport, options.signal);
            log(`shell-executor: job ${request.jobId}: ${request.commands.length} command(s), ${request.files.length} file(s), read through ${transport}.`);
            const run = await runCommands(request, settings, { env, resultUrl, signal: options.signal, log });
            commands = run.commands;
            stopped = run.stopped;
        } catch (err) {
            refusal = err instanceof Refusal ? err : new Refusal("WORKSPACE_FAILED", `The job could not be run: ${messageOf(err)}`);
            log(`shell-executor: job refused (${refusal.code}): ${refusal.message}`);
        }
    }

    const failed = commands.some((c) => c.exitCode !== 0 || c.timedOut || c.error !== undefined);
    const status: ShellJobResult["status"] = refusal ? "rejected" : stopped ? "stopped" : failed ? "failed" : "succeeded";
    const finished = new Date();
    const result: ShellJobResult = {
        contractVersion: CONTRACT_VERSION,
        jobId: request?.jobId ?? null,
        status,
        transport,
        ...(refusal ? { error: { code: refusal.code as ShellJobErrorCode, message: refusal.message } } : stopped ? { error: { code: "STOPPED" as const, message: "The task was stopped (SIGTERM) while the job ran; the running command was terminated and the rest skipped." } } : {}),
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        durationMs: Math.round(performance.now() - startedMs),
        commands,
    };

    if (!resultUrl) return { exitCode: 2, result, resultWritten: false };
    try {
        await writeResult(resultUrl, result);
        log(`shell-executor: job ${result.jobId ?? "(unknown)"} ${status}; result written to ${redactUrl(resultUrl)}.`);
        return { exitCode: status === "succeeded" ? 0 : 1, result, resultWritten: true };
    } catch (err) {
        log(`shell-executor: job ${result.jobId ?? "(unknown)"} ${status}, but the result could not be written: ${messageOf(err)}`);
        return { exitCode: 2, result, resultWritten: false };
    }
}

async function loadRequest(env: NodeJS.ProcessEnv, transport: Transport, signal?: AbortSignal): Promise<ShellJobRequest> {
    if (transport === "presigned-url") {
        const announced = env[OVERRIDE_ENV.contractVersion];
        if (!announced || !SUPPORTED_CONTRACT_VERSIONS.includes(announced)) {
            throw new Refusal(
                "UNKNOWN_CONTRACT_VERSION",
                `Unknown contract version ${JSON.stringify(announced ?? null)} in ${OVERRIDE_ENV.contractVersion}; this runner understands ${SUPPORTED_CONTRACT_VERSIONS.join(", ")} (and legacy requests in ${OVERRIDE_ENV.legacyJobB64}). Deploy a runner image that knows the caller's version, or submit with a version it knows.`,
            );
        }
        const body = await fetchRequest(env[OVERRIDE_ENV.jobGetUrl]!, signal);
        const parsed = parseJson(body.toString("utf8"), "The job request");
        checkVersion(parsed, { required: true, announced });
        return validate(jobRequestSchema, parsed);
    }

    const encoded = env[OVERRIDE_ENV.legacyJobB64];
    if (!encoded) {
        throw new Refusal("NO_REQUEST", `No job request: set ${OVERRIDE_ENV.jobGetUrl} (contract ${CONTRACT_VERSION}) or the legacy ${OVERRIDE_ENV.legacyJobB64}.`);
    }
    const compact = encoded.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
        throw new Refusal("MALFORMED_REQUEST", `The legacy job request in ${OVERRIDE_ENV.legacyJobB64} is not base64 (standard alphabet, optional = padding).`);
    }
    const decoded = Buffer.from(compact, "base64");
    if (decoded.length > MAX_JOB_REQUEST_BYTES) {
        throw new Refusal("REQUEST_TOO_LARGE", `The legacy job request is ${decoded.length} bytes; the runner reads at most ${MAX_JOB_REQUEST_BYTES}.`);
    }
    const parsed = parseJson(decoded.toString("utf8"), `The legacy job request in ${OVERRIDE_ENV.legacyJobB64}`);
    checkVersion(parsed, { required: false });
    return { ...validate(legacyJobRequestSchema, parsed), contractVersion: CONTRACT_VERSION };
}

function parseJson(text: string, what: string): unknown {
    try {
        return JSON.parse(text);
    } catch (err) {
        throw new Refusal("MALFORMED_REQUEST", `${what} is not valid JSON: ${messageOf(err)}.`);
    }
}

function checkVersion(parsed: unknown, opts: { required: boolean; announced?: string }): void {
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Refusal("MALFORMED_REQUEST", "The job request is malformed: expected a JSON object.");
    }
    const version = (parsed as { contractVersion?: unknown }).contractVersion;
    if (version === undefined && !opts.required) return;
    if (typeof version !== "string" || !SUPPORTED_CONTRACT_VERSIONS.includes(version)) {
        throw new Refusal(
            "UNKNOWN_CONTRACT_VERSION",
            `Unknown contract version ${JSON.stringify(version ?? null)} in the job request; this runner understands ${SUPPORTED_CONTRACT_VERSIONS.join(", ")}.`,
        );
    }
    if (opts.announced !== undefined && version !== opts.announced) {
        throw new Refusal("UNKNOWN_CONTRACT_VERSION", `The job request says contract version ${version} but ${OVERRIDE_ENV.contractVersion} says ${opts.announced}; the caller built an inconsistent job.`);
    }
}

function validate<T>(schema: z.ZodType<T>, parsed: unknown): T {
    const checked = schema.safeParse(parsed);
    if (!checked.success) throw new Refusal("MALFORMED_REQUEST", `The job request is malformed: ${describeIssues(checked.error)}.`);
    return checked.data;
}

/** Reads the request through its presigned URL, refusing early when it has expired or is too large. */
async function fetchRequest(url: string, signal?: AbortSignal): Promise<Buffer> {
    const shown = redactUrl(url);
    const expiry = presignedUrlExpiry(url);
    if (expiry && expiry.getTime() < Date.now()) {
        throw new Refusal("REQUEST_URL_EXPIRED", `The job request URL (${shown}) expired at ${expiry.toISOString()}, before the task started; submit the job again (the caller signs new URLs).`);
    }
    let response: Response;
    try {
        response = await fetch(url, { signal });
    } catch (err) {
        throw new Refusal("REQUEST_UNREADABLE", `The job request could not be fetched from ${shown}: ${messageOf(err)}. Check that the task's security group allows HTTPS egress and that the subnets reach S3 (gateway endpoint or NAT).`);
    }
    if (!response.ok) {
        const text = await response.text().catch(() => "");
        throw httpRefusal("request", shown, response.status, text, expiry);
    }
    const declared = Number(response.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > MAX_JOB_REQUEST_BYTES) {
        await response.body?.cancel();
        throw new Refusal("REQUEST_TOO_LARGE", `The job request at ${shown} is ${declared} bytes; the runner reads at most ${MAX_JOB_REQUEST_BYTES}.`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body ?? []) {
        size += chunk.length;
        if (size > MAX_JOB_REQUEST_BYTES) {
            throw new Refusal("REQUEST_TOO_LARGE", `The job request at ${shown} is larger than the ${MAX_JOB_REQUEST_BYTES} bytes the runner reads.`);
        }
        chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
}

function s3ErrorOf(body: string): { code?: string; message?: string } {
    return { code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1], message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1] };
}

function httpRefusal(what: "request" | "result", shown: string, status: number, body: string, expiry?: Date): Refusal {
    const { code, message } = s3ErrorOf(body);
    const said = code ? ` (S3 said ${code}${message ? `: ${message}` : ""})` : "";
    const subject = what === "request" ? "job request URL" : "result URL";
    // An expired URL is 403 AccessDenied "Request has expired"; a URL signed with temporary
    // credentials (a Lambda's role) also dies with its session, which S3 answers 400 ExpiredToken.
    if (code === "ExpiredToken" || (status === 403 && (/expired/i.test(message ?? "") || (expiry !== undefined && expiry.getTime() < Date.now())))) {
        return new Refusal("REQUEST_URL_EXPIRED", `The ${subject} (${shown}) has expired${said}; the job must be submitted again with fresh URLs.`);
    }
    if (status === 403) {
        return new Refusal(
            "REQUEST_URL_FORBIDDEN",
            `The ${subject} (${shown}) was refused with 403 Forbidden${said}: the role that signed it lacks the S3 permission (grantSubmit), or the signature does not match.`,
        );
    }
    if (status === 404 && what === "request") {
        return new Refusal("REQUEST_NOT_FOUND", `No job request at ${shown} (404${said}): it was deleted, expired by the lifecycle rule, or never uploaded.`);
    }
    return new Refusal("REQUEST_UNREADABLE", `The ${subject} (${shown}) answered HTTP ${status}${said}.`);
}

interface RunContext {
    env: NodeJS.ProcessEnv;
    resultUrl: string;
    signal?: AbortSignal;
    log: (line: string) => void;
}

async function runCommands(request: ShellJobRequest, settings: RunnerSettings, ctx: RunContext): Promise<{ commands: ShellCommandResult[]; stopped: boolean }> {
    const workdir = await fs.mkdtemp(path.join(os.tmpdir(), `shell-job-${request.jobId}-`));
    try {
        try {
            for (const file of request.files) {
                const target = path.join(workdir, file.path);
                await fs.mkdir(path.dirname(target), { recursive: true });
                await fs.writeFile(target, Buffer.from(file.content, file.encoding));
            }
        } catch (err) {
            throw new Refusal("WORKSPACE_FAILED", `The job's files could not be written into its working directory: ${messageOf(err)}.`);
        }
        const commandEnv = commandEnvironment(ctx.env, request, workdir);
        const resultDeadline = presignedUrlExpiry(ctx.resultUrl)?.getTime();
        const results: ShellCommandResult[] = [];
        let stopped = false;
        let failedBefore = false;
        for (const [index, command] of request.commands.entries()) {
            const skip = (reason: string): ShellCommandResult => ({ index, exitCode: null, signal: null, timedOut: false, skipped: true, stdout: "", stderr: "", outputTruncated: false, startedAt: null, durationMs: 0, error: reason });
            if (ctx.signal?.aborted) {
                stopped = true;
                results.push(skip("not started: the task was stopped"));
                continue;
            }
            if (failedBefore && request.failFast) {
                results.push(skip("not started: an earlier command failed and failFast is set"));
                continue;
            }
            let timeoutMs = Math.min(command.timeoutSeconds ?? settings.commandTimeoutSeconds, settings.commandTimeoutSeconds) * 1000;
            if (resultDeadline !== undefined) {
                const left = resultDeadline - Date.now() - RESULT_UPLOAD_RESERVE_MS;
                if (left <= 0) {
                    results.push(skip(`not started: the result URL expires at ${new Date(resultDeadline).toISOString()}, too soon to run it and still report`));
                    failedBefore = true;
                    continue;
                }
                timeoutMs = Math.min(timeoutMs, left);
            }
            const outcome = await runCommand(command.run, {
                cwd: workdir,
                env: { ...commandEnv, ...(command.env ?? {}) },
                stdin: command.stdin,
                timeoutMs,
                maxOutputBytes: settings.maxOutputBytes,
                signal: ctx.signal,
            });
            const result: ShellCommandResult = { index, ...outcome, skipped: false };
            results.push(result);
            ctx.log(`shell-executor: job ${request.jobId} command ${index}: exit ${outcome.exitCode ?? "none"}${outcome.signal ? ` (${outcome.signal})` : ""}${outcome.timedOut ? ", timed out" : ""} after ${outcome.durationMs} ms.`);
            if (ctx.signal?.aborted) stopped = true;
            if (outcome.exitCode !== 0 || outcome.timedOut || outcome.error) failedBefore = true;
        }
        return { commands: results, stopped };
    } finally {
        await fs.rm(workdir, { recursive: true, force: true });
    }
}

/** The runner's own variables (URLs that carry authority, its limits) never reach the job's commands. */
function commandEnvironment(env: NodeJS.ProcessEnv, request: ShellJobRequest, workdir: string): NodeJS.ProcessEnv {
    const hidden = new Set<string>([...Object.values(OVERRIDE_ENV), ...Object.values(RUNNER_ENV)]);
    const base = Object.fromEntries(Object.entries(env).filter(([k]) => !hidden.has(k)));
    return { ...base, ...request.env, SHELL_JOB_ID: request.jobId, SHELL_JOB_WORKDIR: workdir };
}

interface CommandOptions {
    cwd: string;
    env: NodeJS.ProcessEnv;
    stdin?: string;
    timeoutMs: number;
    maxOutputBytes: number;
    signal?: AbortSignal;
}

type CommandOutcome = Omit<ShellCommandResult, "index" | "skipped">;

/** Runs one command in its own process group, so a timeout or stop ends everything it started. */
export function runCommand(run: string, options: CommandOptions): Promise<CommandOutcome> {
    const startedAt = new Date().toISOString();
    const startedMs = performance.now();
    return new Promise((resolve) => {
        const child = spawn("/bin/sh", ["-c", run], { cwd: options.cwd, env: options.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
        const captured = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
        let budget = options.maxOutputBytes;
        let truncated = false;
        let timedOut = false;
        let spawnError: string | undefined;
        let killTimer: NodeJS.Timeout | undefined;

        const capture = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
            if (budget <= 0) {
                truncated = true;
                return;
            }
            const kept = chunk.length <= budget ? chunk : chunk.subarray(0, budget);
            if (kept.length < chunk.length) truncated = true;
            budget -= kept.length;
            captured[stream].push(kept);
        };
        child.stdout.on("data", capture("stdout"));
        child.stderr.on("data", capture("stderr"));

        const terminate = () => {
            signalGroup(child.pid, "SIGTERM");
            killTimer ??= setTimeout(() => signalGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
        };
        const timer = setTimeout(() => {
            timedOut = true;
            terminate();
        }, options.timeoutMs);
        const onAbort = () => terminate();
        options.signal?.addEventListener("abort", onAbort, { once: true });
        if (options.signal?.aborted) terminate();

        // A command that does not read its stdin closes the pipe early; that is its business, not an error.
        child.stdin.on("error", () => undefined);
        if (options.stdin !== undefined) child.stdin.end(options.stdin);
        else child.stdin.end();

        child.on("error", (err) => {
            spawnError = `could not start /bin/sh: ${err.message}`;
        });
        let drainTimer: NodeJS.Timeout | undefined;
        child.on("exit", () => {
            clearTimeout(timer);
            if (killTimer) clearTimeout(killTimer);
            // The shell is gone, so the command is over: anything it left running in its group (a
            // server started with &) goes too, instead of holding the output pipes open until the
            // timeout and turning a finished command into a timed-out one.
            signalGroup(child.pid, "SIGKILL");
            // A process that escaped the group may still hold the pipes; stop waiting for it.
            drainTimer = setTimeout(() => {
                child.stdout.destroy();
                child.stderr.destroy();
            }, PIPE_DRAIN_MS);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            if (killTimer) clearTimeout(killTimer);
            if (drainTimer) clearTimeout(drainTimer);
            options.signal?.removeEventListener("abort", onAbort);
            signalGroup(child.pid, "SIGKILL");
            resolve({
                exitCode: code,
                signal: signal ?? null,
                timedOut,
                stdout: Buffer.concat(captured.stdout).toString("utf8"),
                stderr: Buffer.concat(captured.stderr).toString("utf8"),
                outputTruncated: truncated,
                startedAt,
                durationMs: Math.round(performance.now() - startedMs),
                ...(spawnError ? { error: spawnError } : timedOut ? { error: `timed out after ${Math.round(options.timeoutMs / 1000)} s` } : {}),
            });
        });
    });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
    if (pid === undefined) return;
    try {
        process.kill(-pid, signal);
    } catch {
        // The group has already exited.
    }
}

const RESULT_WRITE_ATTEMPTS = 3;

/** PUTs the result through its presigned URL, retrying network errors and 5xx answers. */
export async function writeResult(url: string, result: ShellJobResult): Promise<void> {
    const body = Buffer.from(JSON.stringify(result), "utf8");
    const shown = redactUrl(url);
    const expiry = presignedUrlExpiry(url);
    let lastProblem = "";
    for (let attempt = 1; attempt <= RESULT_WRITE_ATTEMPTS; attempt++) {
        let response: Response;
        try {
            response = await fetch(url, { method: "PUT", body, headers: { "content-type": "application/json" } });
        } catch (err) {
            lastProblem = `could not reach ${shown}: ${messageOf(err)}`;
            await sleep(500 * 2 ** (attempt - 1));
            continue;
        }
        if (response.ok) {
            await response.body?.cancel();
            return;
        }
        const text = await response.text().catch(() => "");
        if (response.status < 500) throw httpRefusal("result", shown, response.status, text, expiry);
        lastProblem = `${shown} answered HTTP ${response.status}`;
        await sleep(500 * 2 ** (attempt - 1));
    }
    throw new Error(`The result could not be written after ${RESULT_WRITE_ATTEMPTS} attempts: ${lastProblem}.`);
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
