import { spawn } from "child_process";
import { createHash } from "crypto";
import { readFileSync } from "fs";
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
    MAX_JOB_RESULT_BYTES,
    OVERRIDE_ENV,
    RUNNER_ENV,
    ShellCommandResult,
    ShellJobErrorCode,
    ShellJobRequest,
    ShellJobResult,
    SUPPORTED_CONTRACT_VERSIONS,
} from "./contract";
import { ShellJobError, jsonSyntaxProblem, messageOf } from "./errors";
import { presignedUrlExpiry, redactUrl, redactUrls } from "./presignedUrl";
import { HttpStatusError, RetryPolicy, TransientError, withRetries } from "../retry";

/**
 * The runner side of the shell job contract: what the shell executor's container does from start
 * to exit. It reads the job request (presigned GET URL, or legacy SHELL_EXECUTOR_JOB_B64), checks
 * the contract version, runs the commands as the unprivileged job user with a timeout each and a
 * cap on captured output, and writes the result through the presigned PUT URL, also when the
 * request was refused or a command failed. It holds no AWS credentials: the URLs carry the
 * caller's authority, and the job's commands can reach neither them nor the request (see
 * docs/shell-executor.md, "isolation").
 */

export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 300;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
export const DEFAULT_JOB_UID = 1002;
export const DEFAULT_JOB_GID = 1002;
export const SAME_USER_DEV_ONLY = "same-user-dev-only";
/** Time kept back before the result URL expires, to upload the result. */
export const RESULT_UPLOAD_RESERVE_MS = 15_000;
/** After SIGTERM the result must be written within this (ECS sends SIGKILL stopTimeout seconds after SIGTERM). */
export const STOP_REPORT_BUDGET_MS = 20_000;
/** A command gets SIGTERM at its timeout (or on stop) and SIGKILL this much later. */
export const KILL_GRACE_MS = 3_000;
/**
 * Once the command's shell has exited and its process group is killed, its output pipes should
 * close at once; a process that left the group (setsid, a double fork into a new session) may
 * still hold them. After this long they are closed from our side so the command is over.
 */
export const PIPE_DRAIN_MS = 1_000;
/** S3 attempts of the runner (request GET, result PUT): 5 attempts, full jitter 250 ms × 2^n up to 4 s. */
export const RUNNER_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 4_000, attemptTimeoutMs: 60_000 });
/** Part of MAX_JOB_RESULT_BYTES kept for the result's envelope (status, error, timestamps). */
export const RESULT_ENVELOPE_RESERVE_BYTES = 64 * 1024;
/** Kept per command for its entry's fields other than stdout and stderr. */
export const RESULT_ENTRY_RESERVE_BYTES = 1024;

/** Appended to a stream whose output was cut: the bytes kept are within the cap, the marker comes after them. */
export function truncationMarker(droppedBytes: number, why: "output cap" | "result budget"): string {
    return `\n[shell-executor: output truncated (${why}); ${droppedBytes} byte(s) dropped]\n`;
}

export interface RunnerOptions {
    env: NodeJS.ProcessEnv;
    /** Aborted on SIGTERM: the running command is stopped and the result written. */
    signal?: AbortSignal;
    /** One line per event, for the container log. Never given URLs with their signatures. */
    log?: (line: string) => void;
    /** Replaces parts of RUNNER_RETRY_POLICY (tests, benchmarks); SHELL_S3_ATTEMPT_TIMEOUT_SECONDS sets its attempt timeout. */
    retryPolicy?: Partial<RetryPolicy>;
}

export interface RunnerOutcome {
    /** 0: result written, every command succeeded; 1: result written, job failed or refused; 2: no result could be written. */
    exitCode: 0 | 1 | 2;
    result: ShellJobResult;
    resultWritten: boolean;
}

type Isolation = { mode: "separate-user"; uid: number; gid: number } | { mode: "same-user-dev-only" };

interface RunnerSettings {
    commandTimeoutSeconds: number;
    maxOutputBytes: number;
    isolation: Isolation;
    retry: RetryPolicy;
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
    if (!/^\d+$/.test(raw.trim()) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
        throw new Refusal("RUNNER_MISCONFIGURED", `${name} is ${JSON.stringify(raw)}; expected a whole number above 0 (the task definition sets it).`);
    }
    return Number(raw);
}

/** A uid or gid: a whole number from 0 (refused later with its own message) to 2^32 − 2. */
function idFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d{1,10}$/.test(raw.trim()) || Number(raw) > 4294967294) {
        throw new Refusal("RUNNER_MISCONFIGURED", `${name} is ${JSON.stringify(raw)}; expected a numeric user or group id (the task definition sets it).`);
    }
    return Number(raw);
}

const REQUIRED_CAPABILITIES = [
    ["CAP_CHOWN", 0],
    ["CAP_KILL", 5],
    ["CAP_SETGID", 6],
    ["CAP_SETUID", 7],
] as const;

/** The effective capabilities of this process, from /proc/self/status; undefined where /proc is not Linux's. */
function effectiveCapabilities(): bigint | undefined {
    try {
        const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
        return hex === undefined ? undefined : BigInt(`0x${hex}`);
    } catch {
        return undefined;
    }
}

/** How the job's commands are kept from the runner's URLs: another uid, or (developer machines only) none. */
function isolationFromEnv(env: NodeJS.ProcessEnv): Isolation {
    const mode = env[RUNNER_ENV.isolation];
    if (mode === SAME_USER_DEV_ONLY) return { mode };
    if (mode !== undefined && mode !== "" && mode !== "separate-user") {
        throw new Refusal("RUNNER_MISCONFIGURED", `${RUNNER_ENV.isolation} is ${JSON.stringify(mode)}; expected it unset (commands run as the job user) or "${SAME_USER_DEV_ONLY}" on a developer machine.`);
    }
    const uid = idFromEnv(env, RUNNER_ENV.jobUid, DEFAULT_JOB_UID);
    const gid = idFromEnv(env, RUNNER_ENV.jobGid, DEFAULT_JOB_GID);
    const ownUid = process.getuid?.();
    if (ownUid === undefined) throw new Refusal("RUNNER_MISCONFIGURED", "This platform has no user ids; the runner can only isolate job commands on Linux.");
    if (uid === ownUid) {
        throw new Refusal("RUNNER_MISCONFIGURED", `The job user (${RUNNER_ENV.jobUid}=${uid}) is the runner's own uid: job commands could read the runner's URLs in /proc/<pid>/environ. Give the job user its own uid (the image creates "job", uid ${DEFAULT_JOB_UID}).`);
    }
    if (uid === 0 || gid === 0) {
        throw new Refusal("RUNNER_MISCONFIGURED", `The job user would be root (${RUNNER_ENV.jobUid}=${uid}, ${RUNNER_ENV.jobGid}=${gid}); job commands run as an unprivileged user (the image creates "job", uid ${DEFAULT_JOB_UID}).`);
    }
    const caps = effectiveCapabilities();
    const missing = caps === undefined ? REQUIRED_CAPABILITIES.map(([name]) => name) : REQUIRED_CAPABILITIES.filter(([, bit]) => (caps & (1n << BigInt(bit))) === 0n).map(([name]) => name);
    if (missing.length > 0) {
        throw new Refusal(
            "RUNNER_MISCONFIGURED",
            `The runner (uid ${ownUid}) cannot run job commands as uid ${uid}: it lacks ${missing.join(", ")}. The image gives them to the runner's node binary (setcap cap_chown,cap_kill,cap_setgid,cap_setuid+ep); the task definition must not drop them. ` +
                `On a developer machine only, ${RUNNER_ENV.isolation}=${SAME_USER_DEV_ONLY} runs commands as the runner's user.`,
        );
    }
    return { mode: "separate-user", uid, gid };
}

export async function runShellJob(options: RunnerOptions): Promise<RunnerOutcome> {
    const { env } = options;
    // Whatever a line quotes (an error from fetch names its URL), the log never shows a signature or user-info.
    const log = (line: string) => options.log?.(redactUrls(line));
    const started = new Date();
    const startedMs = performance.now();
    const resultUrl = env[OVERRIDE_ENV.resultPutUrl];
    const transport: Transport = env[OVERRIDE_ENV.jobGetUrl] ? "presigned-url" : "legacy-env";
    let stoppedAt: number | undefined;
    const onStop = () => (stoppedAt ??= Date.now());
    if (options.signal?.aborted) onStop();
    options.signal?.addEventListener("abort", onStop, { once: true });

    let request: ShellJobRequest | undefined;
    let refusal: Refusal | undefined;
    let commands: ShellCommandResult[] = [];
    let stopped = false;
    let retry: RetryPolicy = { ...RUNNER_RETRY_POLICY, ...options.retryPolicy };

    if (!resultUrl) {
        log(`shell-executor: ${OVERRIDE_ENV.resultPutUrl} is not set, so no result could be reported; running nothing.`);
    } else {
        try {
            retry = { ...retry, attemptTimeoutMs: positiveIntFromEnv(env, RUNNER_ENV.s3AttemptTimeoutSeconds, retry.attemptTimeoutMs / 1000) * 1000, ...options.retryPolicy };
            const settings: RunnerSettings = {
                commandTimeoutSeconds: positiveIntFromEnv(env, RUNNER_ENV.commandTimeoutSeconds, DEFAULT_COMMAND_TIMEOUT_SECONDS),
                maxOutputBytes: positiveIntFromEnv(env, RUNNER_ENV.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES),
                isolation: isolationFromEnv(env),
                retry,
            };
            if (settings.isolation.mode === SAME_USER_DEV_ONLY) {
                log(`shell-executor: WARNING ${RUNNER_ENV.isolation}=${SAME_USER_DEV_ONLY}: the job's commands run as the runner's own user and can read its URLs through /proc. Never use this outside a developer machine.`);
            }
            request = await loadRequest(env, transport, { signal: options.signal, retry, log });
            log(`shell-executor: job ${request.jobId}: ${request.commands.length} command(s), ${request.files.length} file(s), read through ${transport}.`);
            const run = await runCommands(request, settings, { env, resultUrl, signal: options.signal, log });
            commands = run.commands;
            stopped = run.stopped;
        } catch (err) {
            refusal = err instanceof Refusal ? new Refusal(err.code as ShellJobErrorCode, redactUrls(err.message)) : new Refusal("WORKSPACE_FAILED", `The job could not be run: ${redactUrls(messageOf(err))}`);
            log(`shell-executor: job refused (${refusal.code}): ${refusal.message}`);
        }
    }
    options.signal?.removeEventListener("abort", onStop);

    const failed = commands.some((c) => c.exitCode !== 0 || c.timedOut || c.error !== undefined);
    const status: ShellJobResult["status"] = refusal?.code === "STOPPED" ? "stopped" : refusal ? "rejected" : stopped ? "stopped" : failed ? "failed" : "succeeded";
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
    const urlExpiry = presignedUrlExpiry(resultUrl)?.getTime();
    const deadline = Math.min(urlExpiry ?? Infinity, stoppedAt !== undefined ? stoppedAt + STOP_REPORT_BUDGET_MS : Infinity);
    try {
        await writeResult(resultUrl, result, { deadline: Number.isFinite(deadline) ? deadline : undefined, retry, log });
        log(`shell-executor: job ${result.jobId ?? "(unknown)"} ${status}; result written to ${redactUrl(resultUrl)}.`);
        return { exitCode: status === "succeeded" ? 0 : 1, result, resultWritten: true };
    } catch (err) {
        log(`shell-executor: job ${result.jobId ?? "(unknown)"} ${status}, but the result could not be written: ${messageOf(err)}`);
        return { exitCode: 2, result, resultWritten: false };
    }
}

interface LoadContext {
    signal?: AbortSignal;
    retry: RetryPolicy;
    log: (line: string) => void;
}

async function loadRequest(env: NodeJS.ProcessEnv, transport: Transport, ctx: LoadContext): Promise<ShellJobRequest> {
    if (transport === "presigned-url") {
        const announced = env[OVERRIDE_ENV.contractVersion];
        if (!announced || !SUPPORTED_CONTRACT_VERSIONS.includes(announced)) {
            throw new Refusal(
                "UNKNOWN_CONTRACT_VERSION",
                `Unknown contract version ${JSON.stringify(announced ?? null)} in ${OVERRIDE_ENV.contractVersion}; this runner understands ${SUPPORTED_CONTRACT_VERSIONS.join(", ")} (and legacy requests in ${OVERRIDE_ENV.legacyJobB64}). Deploy a runner image that knows the caller's version, or submit with a version it knows.`,
            );
        }
        const digest = env[OVERRIDE_ENV.jobSha256];
        if (digest !== undefined && !/^[A-Za-z0-9+/]{43}=$/.test(digest)) {
            throw new Refusal("MALFORMED_REQUEST", `${OVERRIDE_ENV.jobSha256} is not a base64 SHA-256 digest (44 characters ending in =); the caller built an inconsistent job.`);
        }
        const body = await fetchRequest(env[OVERRIDE_ENV.jobGetUrl]!, digest, ctx);
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

/** Never quotes the text: a request carries the job's files and environment. */
function parseJson(text: string, what: string): unknown {
    try {
        return JSON.parse(text);
    } catch (err) {
        throw new Refusal("MALFORMED_REQUEST", `${what} is not valid JSON (${jsonSyntaxProblem(err)}).`);
    }
}

function checkVersion(parsed: unknown, opts: { required: boolean; announced?: string }): void {
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Refusal("MALFORMED_REQUEST", "The job request is malformed: expected a JSON object.");
    }
    const version = (parsed as { contractVersion?: unknown }).contractVersion;
    if (version === undefined && !opts.required) return;
    if (typeof version !== "string" || !SUPPORTED_CONTRACT_VERSIONS.includes(version)) {
        const shown = typeof version === "string" && version.length <= 32 ? JSON.stringify(version) : `(a ${typeof version})`;
        throw new Refusal("UNKNOWN_CONTRACT_VERSION", `Unknown contract version ${version === undefined ? "null" : shown} in the job request; this runner understands ${SUPPORTED_CONTRACT_VERSIONS.join(", ")}.`);
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

/** Reads a response body, refusing past `limit` bytes; a body shorter than its Content-Length is a transient failure. */
async function readBody(response: Response, limit: number, tooLarge: (size: number | undefined) => Refusal): Promise<Buffer> {
    const declared = response.headers.has("content-length") ? Number(response.headers.get("content-length")) : undefined;
    if (declared !== undefined && declared > limit) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLarge(declared);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
        for await (const chunk of response.body ?? []) {
            size += chunk.length;
            if (size > limit) throw tooLarge(undefined);
            chunks.push(Buffer.from(chunk));
        }
    } catch (err) {
        if (err instanceof Refusal) throw err;
        throw new TransientError(`the answer was cut off after ${size} byte(s)${declared !== undefined ? ` of ${declared}` : ""}`, { cause: err });
    }
    if (declared !== undefined && size !== declared) throw new TransientError(`the answer has ${size} byte(s) but announced ${declared}`);
    return Buffer.concat(chunks);
}

/**
 * Reads the request through its presigned URL: refuses early when it has expired or is too large;
 * retries 5xx, resets, truncated answers and stalls until the URL expires or RUNNER_RETRY_POLICY's
 * attempts are spent; a read that could not complete is REQUEST_UNREADABLE, one cut short by
 * SIGTERM is STOPPED.
 */
async function fetchRequest(url: string, expectedSha256: string | undefined, ctx: LoadContext): Promise<Buffer> {
    const shown = redactUrl(url);
    const expiry = presignedUrlExpiry(url);
    if (expiry && expiry.getTime() < Date.now()) {
        throw new Refusal("REQUEST_URL_EXPIRED", `The job request URL (${shown}) expired at ${expiry.toISOString()}, before the task started; submit the job again (the caller signs new URLs).`);
    }
    try {
        return await withRetries(
            async ({ signal }) => {
                const response = await fetch(url, { signal });
                if (!response.ok) {
                    const text = await response.text().catch(() => "");
                    const { code } = s3ErrorOf(text);
                    if (response.status >= 500 || response.status === 429 || code === "SlowDown") throw new HttpStatusError(response.status, code, `${shown} answered HTTP ${response.status}${code ? ` ${code}` : ""}`);
                    throw httpRefusal("request", shown, response.status, text, expiry);
                }
                const body = await readBody(response, MAX_JOB_REQUEST_BYTES, (size) =>
                    new Refusal("REQUEST_TOO_LARGE", size !== undefined ? `The job request at ${shown} is ${size} bytes; the runner reads at most ${MAX_JOB_REQUEST_BYTES}.` : `The job request at ${shown} is larger than the ${MAX_JOB_REQUEST_BYTES} bytes the runner reads.`),
                );
                if (expectedSha256 !== undefined && createHash("sha256").update(body).digest("base64") !== expectedSha256) {
                    throw new TransientError(`the ${body.length} byte(s) read do not match the request's SHA-256 (a truncated or damaged answer)`);
                }
                return body;
            },
            {
                policy: ctx.retry,
                deadline: expiry?.getTime(),
                signal: ctx.signal,
                what: `GET ${shown}`,
                onRetry: ({ attempt, error, delayMs }) => ctx.log(`shell-executor: reading the job request, attempt ${attempt} failed (${messageOf(error)}); retrying in ${delayMs} ms.`),
            },
        );
    } catch (err) {
        if (ctx.signal?.aborted) throw new Refusal("STOPPED", `The task was stopped (SIGTERM) while it read the job request from ${shown}; nothing ran.`);
        if (err instanceof Refusal) throw err;
        throw new Refusal(
            "REQUEST_UNREADABLE",
            `The job request could not be read from ${shown}: ${messageOf(err)}. Check that the task's security group allows HTTPS egress and that the subnets reach S3 (gateway endpoint or NAT); submit the job again.`,
        );
    }
}

function s3ErrorOf(body: string): { code?: string; message?: string } {
    return { code: /<Code>([^<]{0,100})<\/Code>/.exec(body)?.[1], message: /<Message>([^<]{0,300})<\/Message>/.exec(body)?.[1] };
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

interface Workspace {
    base: string;
    workdir: string;
    home: string;
    tmp: string;
}

/** <base>/work (the commands' cwd, with the job's files), <base>/home and <base>/tmp; all the job user's, mode 0700. */
async function prepareWorkspace(request: ShellJobRequest, isolation: Isolation): Promise<Workspace> {
    const base = await fs.mkdtemp(path.join(os.tmpdir(), `shell-job-${request.jobId}-`));
    const space: Workspace = { base, workdir: path.join(base, "work"), home: path.join(base, "home"), tmp: path.join(base, "tmp") };
    try {
        for (const dir of [space.workdir, space.home, space.tmp]) await fs.mkdir(dir, { mode: 0o700 });
        for (const file of request.files) {
            const target = path.join(space.workdir, file.path);
            await fs.mkdir(path.dirname(target), { recursive: true });
            await fs.writeFile(target, Buffer.from(file.content, file.encoding));
        }
        if (isolation.mode === "separate-user") {
            const entries = await fs.readdir(base, { recursive: true });
            for (const entry of ["", ...entries]) await fs.lchown(path.join(base, entry), isolation.uid, isolation.gid);
        }
    } catch (err) {
        await fs.rm(base, { recursive: true, force: true }).catch(() => undefined);
        throw new Refusal("WORKSPACE_FAILED", `The job's files could not be written into its working directory: ${messageOf(err)}.`);
    }
    return space;
}

/** Runs a small shell command as the job user (cleanup), bounded in time; failures are logged, not thrown. */
function runAsJobUser(isolation: Isolation & { mode: "separate-user" }, script: string, args: string[]): Promise<void> {
    return new Promise((resolve) => {
        const child = spawn("/bin/sh", ["-c", script, "cleanup", ...args], { uid: isolation.uid, gid: isolation.gid, env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, stdio: "ignore", cwd: "/" });
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("error", () => {
            clearTimeout(timer);
            resolve();
        });
        child.once("close", () => {
            clearTimeout(timer);
            resolve();
        });
    });
}

async function cleanUp(space: Workspace, isolation: Isolation, log: (line: string) => void): Promise<void> {
    if (isolation.mode === "separate-user") {
        // kill(-1) as the job user ends every process it still has (one that left its group with setsid included), never the runner.
        await runAsJobUser(isolation, "kill -KILL -1 2>/dev/null; rm -rf -- \"$1\"", [space.base]);
    }
    await fs.rm(space.base, { recursive: true, force: true }).catch((err: unknown) => log(`shell-executor: the job's directory ${space.base} could not be removed: ${messageOf(err)}`));
}

/** Everything a command inherits, by allow-list: never the runner's URLs, digests or AWS/ECS variables. */
export function commandEnvironment(env: NodeJS.ProcessEnv, request: ShellJobRequest, space: Workspace): Record<string, string> {
    const inherited: Record<string, string> = {};
    for (const name of ["PATH", "LANG", "LC_ALL", "TZ"]) {
        const value = env[name];
        if (value !== undefined) inherited[name] = value;
    }
    inherited.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    return { ...inherited, HOME: space.home, TMPDIR: space.tmp, ...request.env, SHELL_JOB_ID: request.jobId, SHELL_JOB_WORKDIR: space.workdir };
}

/** Bytes of a string once JSON-serialised (escapes included). */
function jsonBytes(value: string): number {
    return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/** Bytes JSON.stringify spends on the UTF-16 unit at `i` (a surrogate pair counts 4 on its first unit, 0 on its second). */
function jsonUnitCost(text: string, i: number): number {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) return 2;
    if (c < 0x20) return 6;
    if (c < 0x80) return 1;
    if (c < 0x800) return 2;
    if (c >= 0xd800 && c <= 0xdbff) {
        const next = text.charCodeAt(i + 1);
        return next >= 0xdc00 && next <= 0xdfff ? 4 : 6;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
        const previous = text.charCodeAt(i - 1);
        return i > 0 && previous >= 0xd800 && previous <= 0xdbff ? 0 : 6;
    }
    return 3;
}

/** The longest prefix of `text` whose serialised form (quotes included) fits `maxBytes`; one pass, never splits a surrogate pair. */
function fitPrefix(text: string, maxBytes: number): string {
    let used = 2;
    let end = 0;
    while (end < text.length) {
        const cost = jsonUnitCost(text, end);
        const width = cost === 4 ? 2 : 1;
        if (used + cost > maxBytes) break;
        used += cost;
        end += width;
    }
    return text.slice(0, end);
}

/** Cuts a command's outputs so its entry serialises within `budget` bytes, marking what was cut. */
function fitEntry(entry: ShellCommandResult, budget: number): ShellCommandResult {
    const size = () => Buffer.byteLength(JSON.stringify(entry), "utf8");
    if (size() <= budget) return entry;
    const others = size() - jsonBytes(entry.stdout) - jsonBytes(entry.stderr);
    const markerBytes = jsonBytes(truncationMarker(Number.MAX_SAFE_INTEGER, "result budget"));
    const room = Math.max(0, budget - others - 2 * markerBytes);
    const cut = (text: string, share: number) => {
        const kept = fitPrefix(text, Math.max(2, share));
        return kept.length < text.length ? `${kept}${truncationMarker(Buffer.byteLength(text.slice(kept.length), "utf8"), "result budget")}` : text;
    };
    // stdout gets what stderr leaves, and at least half.
    const stdoutRoom = Math.min(jsonBytes(entry.stdout), Math.max(room - jsonBytes(entry.stderr), Math.floor(room / 2)));
    const stdout = cut(entry.stdout, stdoutRoom);
    const stderr = cut(entry.stderr, room - stdoutRoom);
    return { ...entry, stdout, stderr, outputTruncated: true };
}

async function runCommands(request: ShellJobRequest, settings: RunnerSettings, ctx: RunContext): Promise<{ commands: ShellCommandResult[]; stopped: boolean }> {
    const space = await prepareWorkspace(request, settings.isolation);
    try {
        const commandEnv = commandEnvironment(ctx.env, request, space);
        const resultDeadline = presignedUrlExpiry(ctx.resultUrl)?.getTime();
        // The result's budget: what is left for outputs once the envelope and every entry's own fields are reserved.
        let outputBudget = MAX_JOB_RESULT_BYTES - RESULT_ENVELOPE_RESERVE_BYTES - request.commands.length * RESULT_ENTRY_RESERVE_BYTES;
        const results: ShellCommandResult[] = [];
        let stopped = false;
        let failedBefore = false;
        const user = settings.isolation.mode === "separate-user" ? { uid: settings.isolation.uid, gid: settings.isolation.gid } : undefined;
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
                cwd: space.workdir,
                env: { ...commandEnv, ...(command.env ?? {}) },
                stdin: command.stdin,
                timeoutMs,
                maxOutputBytes: Math.max(0, Math.min(settings.maxOutputBytes, outputBudget)),
                signal: ctx.signal,
                user,
            });
            const entry = fitEntry({ index, ...outcome, skipped: false }, Math.max(0, outputBudget) + RESULT_ENTRY_RESERVE_BYTES);
            outputBudget -= Math.max(0, Buffer.byteLength(JSON.stringify(entry), "utf8") - RESULT_ENTRY_RESERVE_BYTES);
            results.push(entry);
            ctx.log(`shell-executor: job ${request.jobId} command ${index}: exit ${outcome.exitCode ?? "none"}${outcome.signal ? ` (${outcome.signal})` : ""}${outcome.timedOut ? ", timed out" : ""} after ${outcome.durationMs} ms.`);
            if (ctx.signal?.aborted) stopped = true;
            if (outcome.exitCode !== 0 || outcome.timedOut || outcome.error) failedBefore = true;
        }
        return { commands: results, stopped };
    } finally {
        await cleanUp(space, settings.isolation, ctx.log);
    }
}

interface CommandOptions {
    cwd: string;
    env: NodeJS.ProcessEnv;
    stdin?: string;
    timeoutMs: number;
    /** Bytes of stdout and stderr together that are kept; the rest is dropped and a marker appended. */
    maxOutputBytes: number;
    signal?: AbortSignal;
    /** Run as this user (the job user); default: the runner's own. */
    user?: { uid: number; gid: number };
}

type CommandOutcome = Omit<ShellCommandResult, "index" | "skipped">;

/** Runs one command in its own process group, so a timeout or stop ends everything it started. */
export function runCommand(run: string, options: CommandOptions): Promise<CommandOutcome> {
    const startedAt = new Date().toISOString();
    const startedMs = performance.now();
    return new Promise((resolve) => {
        const child = spawn("/bin/sh", ["-c", run], { cwd: options.cwd, env: options.env, detached: true, stdio: ["pipe", "pipe", "pipe"], ...(options.user ?? {}) });
        const captured = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
        const dropped = { stdout: 0, stderr: 0 };
        let budget = options.maxOutputBytes;
        let timedOut = false;
        let spawnError: string | undefined;
        let killTimer: NodeJS.Timeout | undefined;

        const capture = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
            const kept = chunk.length <= budget ? chunk : chunk.subarray(0, Math.max(0, budget));
            dropped[stream] += chunk.length - kept.length;
            budget -= kept.length;
            if (kept.length > 0) captured[stream].push(kept);
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
            const text = (stream: "stdout" | "stderr") => Buffer.concat(captured[stream]).toString("utf8") + (dropped[stream] > 0 ? truncationMarker(dropped[stream], "output cap") : "");
            resolve({
                exitCode: code,
                signal: signal ?? null,
                timedOut,
                stdout: text("stdout"),
                stderr: text("stderr"),
                outputTruncated: dropped.stdout + dropped.stderr > 0,
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

export interface WriteResultOptions {
    /** Epoch ms: the result URL's expiry, or the stop budget after SIGTERM. */
    deadline?: number;
    retry?: RetryPolicy;
    log?: (line: string) => void;
}

/**
 * PUTs the result through its presigned URL, retrying 5xx, SlowDown, resets and stalls with
 * backoff until the URL expires (or the stop budget ends); a 4xx other than 429 is final.
 */
export async function writeResult(url: string, result: ShellJobResult, options: WriteResultOptions = {}): Promise<void> {
    let body = Buffer.from(JSON.stringify(result), "utf8");
    if (body.length > MAX_JOB_RESULT_BYTES) {
        // Cannot happen within the budget runCommands keeps; if it ever does, report without outputs rather than not at all.
        const stripped: ShellJobResult = { ...result, commands: result.commands.map((c) => ({ ...c, stdout: truncationMarker(Buffer.byteLength(c.stdout), "result budget"), stderr: truncationMarker(Buffer.byteLength(c.stderr), "result budget"), outputTruncated: true })) };
        body = Buffer.from(JSON.stringify(stripped), "utf8");
    }
    const shown = redactUrl(url);
    const expiry = presignedUrlExpiry(url);
    const deadline = options.deadline ?? expiry?.getTime();
    if (deadline !== undefined && deadline <= Date.now()) {
        throw new Error(
            expiry !== undefined && expiry.getTime() <= Date.now()
                ? `The result URL (${shown}) has expired (at ${expiry.toISOString()}); no result can be written`
                : `The time to report after the stop (${STOP_REPORT_BUDGET_MS} ms) has run out; no result was written`,
        );
    }
    await withRetries(
        async ({ signal }) => {
            const response = await fetch(url, { method: "PUT", body, headers: { "content-type": "application/json" }, signal });
            const text = await response.text().catch(() => "");
            if (response.ok) return;
            const { code } = s3ErrorOf(text);
            if (response.status >= 500 || response.status === 429 || code === "SlowDown") throw new HttpStatusError(response.status, code, `${shown} answered HTTP ${response.status}${code ? ` ${code}` : ""}`);
            throw httpRefusal("result", shown, response.status, text, expiry);
        },
        {
            policy: options.retry ?? RUNNER_RETRY_POLICY,
            deadline,
            what: `PUT ${shown}`,
            onRetry: ({ attempt, error, delayMs }) => options.log?.(`shell-executor: writing the result, attempt ${attempt} failed (${messageOf(error)}); retrying in ${delayMs} ms.`),
        },
    );
}
