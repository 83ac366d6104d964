import { createHash, randomUUID } from "crypto";
import type { RunTaskCommandInput, RunTaskCommandOutput, TaskOverride } from "@aws-sdk/client-ecs";
import { RunTaskCommand } from "@aws-sdk/client-ecs";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { z } from "zod";
import {
    CALLER_ENV,
    CONTRACT_VERSION,
    DEFAULT_URL_TTL_SECONDS,
    describeIssues,
    ECS_OVERRIDES_LIMIT_BYTES,
    JOB_ID,
    jobRequestKey,
    jobRequestSchema,
    jobResultKey,
    jobResultSchema,
    MAX_JOB_REQUEST_BYTES,
    MAX_JOB_RESULT_BYTES,
    OVERRIDE_ENV,
    ShellJobRequest,
    ShellJobResult,
    ShellJobSpec,
} from "./contract";
import { jsonSyntaxProblem, messageOf, ShellJobError } from "./errors";
import { checksumParametersOf, presignedUrlExpiry, redactUrl, redactUrls } from "./presignedUrl";
import { DEFAULT_RETRY_POLICY, HttpStatusError, RetriesExhaustedError, RetryPolicy, TransientError, withRetries } from "../retry";
import { S3_BUCKET_NAME } from "../s3Names";

/**
 * The caller side of the shell job contract, as the job worker and the API use it: validate a job,
 * store it under shell-jobs/, start the executor's task with RunTask carrying only two presigned
 * URLs and the contract version, wait for the result under shell-results/, and delete both objects.
 */

/** Where the shell executor is, as its Pulumi component hands it to callers through their environment. */
export interface ShellExecutorTarget {
    clusterArn: string;
    /** Task definition ARN (family:revision) or family. */
    taskDefinition: string;
    containerName: string;
    subnets: string[];
    securityGroup: string;
    bucket: string;
    urlTtlSeconds: number;
}

const targetFromEnvSchema = z.object({
    [CALLER_ENV.clusterArn]: z.string().regex(/^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]+$/, "an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)"),
    [CALLER_ENV.taskDefinition]: z.string().regex(/^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/)?[A-Za-z0-9_-]{1,255}(:\d+)?$/, "a task definition ARN or family[:revision]"),
    [CALLER_ENV.containerName]: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, "the runner's container name"),
    [CALLER_ENV.subnets]: z
        .string()
        .transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== ""))
        .pipe(z.array(z.string().regex(/^subnet-[0-9a-f]+$/, "subnet ids (subnet-...)")).min(1, "at least one subnet id, comma-separated").max(16, "at most 16 subnets (RunTask's limit)")),
    [CALLER_ENV.securityGroup]: z.string().regex(/^sg-[0-9a-f]+$/, "a security group id (sg-...)"),
    [CALLER_ENV.bucket]: z.string().regex(S3_BUCKET_NAME, "an S3 bucket name"),
    [CALLER_ENV.urlTtlSeconds]: z
        .string()
        .default(String(DEFAULT_URL_TTL_SECONDS))
        .transform(Number)
        .pipe(z.number().int("a whole number of seconds").min(1).max(604800, "at most 604800 (7 days, SigV4's limit)")),
});

/** Reads the executor's coordinates from the caller's environment; every bad variable is named at once. */
export function shellExecutorTargetFromEnv(env: NodeJS.ProcessEnv = process.env): ShellExecutorTarget {
    const parsed = targetFromEnvSchema.safeParse(env);
    if (!parsed.success) {
        throw new ShellJobError("CALLER_MISCONFIGURED", `The shell executor is not configured in this function's environment: ${describeIssues(parsed.error)} (the ShellExecutor component's grantSubmit wiring sets these variables).`);
    }
    const v = parsed.data;
    return {
        clusterArn: v[CALLER_ENV.clusterArn],
        taskDefinition: v[CALLER_ENV.taskDefinition],
        containerName: v[CALLER_ENV.containerName],
        subnets: v[CALLER_ENV.subnets],
        securityGroup: v[CALLER_ENV.securityGroup],
        bucket: v[CALLER_ENV.bucket],
        urlTtlSeconds: v[CALLER_ENV.urlTtlSeconds],
    };
}

/**
 * An S3 client fit for presigning job URLs. Since SDK 3.729 the client computes a CRC32 of the
 * request body by default and signs it into a presigned PUT URL: for a URL signed before the body
 * exists that is the checksum of nothing, and S3 then refuses the runner's upload. Computing
 * checksums only when an operation requires them keeps the URL body-agnostic.
 */
export function createShellJobS3Client(config: S3ClientConfig = {}): S3Client {
    // maxAttempts 1: the caller's own retries (CALLER_RETRY_POLICY) are the one documented bound, not multiplied by the SDK's.
    return new S3Client({ requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED", maxAttempts: 1, ...config });
}

/**
 * Every S3 request of a caller (request PUT, result GET, deletes) retries transient failures
 * (5xx, SlowDown, resets, truncated bodies, stalls) under this policy: 5 attempts, full jitter
 * 200 ms × 2^n up to 5 s, 30 s per attempt, so at most 170 s per request, and never past the
 * wait's deadline. A client with its own SDK retries multiplies the attempts.
 */
export const CALLER_RETRY_POLICY: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY;

/** What a caller needs from ECS; `new ECSClient({})` fits, and tests pass a stand-in. */
export interface RunTaskClient {
    send(command: RunTaskCommand): Promise<RunTaskCommandOutput>;
}

export interface ShellJobCaller {
    s3: S3Client;
    ecs: RunTaskClient;
    target: ShellExecutorTarget;
    /** Where cleanup problems are reported (they never hide a result). Default: console.warn. */
    warn?: (message: string) => void;
    /** Replaces parts of CALLER_RETRY_POLICY. */
    retry?: Partial<RetryPolicy>;
}

function retryPolicyOf(caller: ShellJobCaller): RetryPolicy {
    return { ...CALLER_RETRY_POLICY, ...caller.retry };
}

function nameOf(err: unknown): string {
    return (err as { name?: string }).name ?? "";
}

function sha256Base64(body: string | Uint8Array): string {
    return createHash("sha256").update(body).digest("base64");
}

export type ShellJobTransport = "presigned-url" | "legacy-env";

export interface StartShellJobOptions {
    /** presigned-url (default) or the legacy inline SHELL_EXECUTOR_JOB_B64, for runners older than 2025-12-29. */
    transport?: ShellJobTransport;
    /** Default: the executor's SHELL_JOB_URL_TTL_SECONDS. */
    urlTtlSeconds?: number;
}

export interface ShellJobTimings {
    presignMs: number;
    uploadMs: number;
    runTaskMs: number;
    waitMs?: number;
    cleanupMs?: number;
}

export interface StartedShellJob {
    jobId: string;
    transport: ShellJobTransport;
    /** undefined for the legacy transport, which stores nothing under shell-jobs/. */
    requestKey?: string;
    resultKey: string;
    taskArn?: string;
    /** After this the runner can no longer write a result. */
    resultUrlExpiresAt: Date;
    requestBytes: number;
    overridesBytes: number;
    timings: ShellJobTimings;
}

/** Validates a job and fills in its defaults; throws MALFORMED_REQUEST naming each bad field. */
export function buildJobRequest(spec: ShellJobSpec): ShellJobRequest {
    const candidate = { ...spec, contractVersion: CONTRACT_VERSION, jobId: spec.jobId ?? randomUUID() };
    const parsed = jobRequestSchema.safeParse(candidate);
    if (!parsed.success) {
        throw new ShellJobError("MALFORMED_REQUEST", `The shell job request is malformed: ${describeIssues(parsed.error)}. Nothing was uploaded or started.`, spec.jobId);
    }
    return parsed.data;
}

function runnerEnvironment(target: ShellExecutorTarget, environment: Record<string, string>): TaskOverride {
    return { containerOverrides: [{ name: target.containerName, environment: Object.entries(environment).map(([name, value]) => ({ name, value })) }] };
}

/** The overrides of the 2025-12-29 contract: the version, the two URLs and the request's SHA-256 (so the runner knows a complete read). */
export function presignedOverrides(target: ShellExecutorTarget, jobGetUrl: string, resultPutUrl: string, requestSha256?: string): TaskOverride {
    return runnerEnvironment(target, {
        [OVERRIDE_ENV.contractVersion]: CONTRACT_VERSION,
        [OVERRIDE_ENV.jobGetUrl]: jobGetUrl,
        [OVERRIDE_ENV.resultPutUrl]: resultPutUrl,
        ...(requestSha256 ? { [OVERRIDE_ENV.jobSha256]: requestSha256 } : {}),
    });
}

/** The legacy overrides: the whole request inline, base64 JSON without a contract version. */
export function legacyOverrides(target: ShellExecutorTarget, request: ShellJobRequest, resultPutUrl: string): TaskOverride {
    const { contractVersion: _omitted, ...legacyBody } = request;
    return runnerEnvironment(target, {
        [OVERRIDE_ENV.legacyJobB64]: Buffer.from(JSON.stringify(legacyBody), "utf8").toString("base64"),
        [OVERRIDE_ENV.resultPutUrl]: resultPutUrl,
    });
}

/** Size of the overrides as ECS counts it: the JSON text, punctuation included (in bytes, never less than characters). */
export function overridesSize(overrides: TaskOverride): number {
    return Buffer.byteLength(JSON.stringify(overrides), "utf8");
}

function assertOverridesFit(overrides: TaskOverride, jobId: string, transport: ShellJobTransport): number {
    const size = overridesSize(overrides);
    if (size > ECS_OVERRIDES_LIMIT_BYTES) {
        const why =
            transport === "legacy-env"
                ? `the legacy ${OVERRIDE_ENV.legacyJobB64} transport carries the whole request inline; submit it with the presigned-url transport (the default), which carries only two URLs`
                : "the presigned URLs alone are too long; use a shorter bucket name or job id";
        throw new ShellJobError(
            "OVERRIDES_TOO_LARGE",
            `The RunTask overrides for shell job ${jobId} would be ${size} bytes, over ECS's limit of ${ECS_OVERRIDES_LIMIT_BYTES} (JSON punctuation included): ${why}. Nothing was uploaded or started.`,
            jobId,
        );
    }
    return size;
}

async function presign(caller: ShellJobCaller, command: GetObjectCommand | PutObjectCommand, ttlSeconds: number, jobId: string): Promise<string> {
    const url = await getSignedUrl(caller.s3, command, { expiresIn: ttlSeconds });
    const checksums = checksumParametersOf(url);
    if (checksums.length > 0) {
        throw new ShellJobError(
            "UNSAFE_PRESIGNED_URL",
            `The S3 client signed ${checksums.join(", ")} into the URL for shell job ${jobId}: a checksum computed before the body exists, which S3 would refuse when the runner uploads. Create the client with createShellJobS3Client() (requestChecksumCalculation: "WHEN_REQUIRED").`,
            jobId,
        );
    }
    return url;
}

function since(start: number): number {
    return Math.round((performance.now() - start) * 100) / 100;
}

/** Whether the object behind the job's presigned GET URL is exactly `sha256`: the caller's own write. */
async function holdsOwnWrite(caller: ShellJobCaller, jobGetUrl: string, sha256: string): Promise<boolean> {
    const body = await withRetries(
        async ({ signal }) => {
            const response = await fetch(jobGetUrl, { signal });
            if (!response.ok) {
                await response.body?.cancel().catch(() => undefined);
                if (response.status >= 500 || response.status === 429) throw new HttpStatusError(response.status, undefined, `HTTP ${response.status}`);
                return undefined;
            }
            let bytes: Buffer;
            try {
                bytes = Buffer.from(await response.arrayBuffer());
            } catch (err) {
                throw new TransientError("the stored request was cut off", { cause: err });
            }
            const declared = response.headers.get("content-length");
            if (declared !== null && Number(declared) !== bytes.length) throw new TransientError(`the stored request has ${bytes.length} byte(s) but announced ${declared}`);
            return bytes;
        },
        { policy: retryPolicyOf(caller), what: `GET ${redactUrl(jobGetUrl)}` },
    );
    return body !== undefined && sha256Base64(body) === sha256;
}

/**
 * PUTs the request with If-None-Match: * (a job id is used once) and its SHA-256, retrying
 * transient failures. A 412 on a retry may be the answer to our own earlier attempt that landed
 * but whose answer was lost: if the stored object has our checksum it is ours and the job goes
 * on; otherwise the id belongs to another job. When every attempt failed, a write of ours that may
 * have landed is deleted again, so the id is not burnt.
 */
async function storeRequest(caller: ShellJobCaller, request: { key: string; body: string; sha256: string; jobId: string; jobGetUrl: string }): Promise<void> {
    const { bucket } = caller.target;
    const { key, jobId } = request;
    const where = `s3://${bucket}/${key}`;
    try {
        await withRetries(
            async ({ attempt, signal }) => {
                try {
                    await caller.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: request.body, ContentType: "application/json", ChecksumSHA256: request.sha256, IfNoneMatch: "*" }), { abortSignal: signal });
                } catch (err) {
                    if (nameOf(err) !== "PreconditionFailed" && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412) throw err;
                    const triedBefore = attempt > 1 || ((err as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) > 1;
                    if (triedBefore && (await holdsOwnWrite(caller, request.jobGetUrl, request.sha256))) return;
                    throw new ShellJobError("TASK_NOT_STARTED", `Shell job id ${jobId} is already in use (${where} exists); nothing was started.`, jobId);
                }
            },
            { policy: retryPolicyOf(caller), what: `PUT ${where}` },
        );
    } catch (err) {
        if (err instanceof ShellJobError) throw err;
        if (err instanceof RetriesExhaustedError && (await holdsOwnWrite(caller, request.jobGetUrl, request.sha256).catch(() => false))) await deleteObjects(caller, [key], jobId);
        throw new ShellJobError("TASK_NOT_STARTED", `Shell job ${jobId} could not be stored at ${where}: ${redactUrls(messageOf(err))}. Nothing was started; check that this role was given grantSubmit, and submit again.`, jobId);
    }
}

/**
 * Validates the job, stores it, presigns its URLs and starts the executor's task. Everything that
 * can refuse the job (validation, request size, overrides size) runs before anything is uploaded
 * or started; if RunTask fails, the stored request is deleted again.
 */
export async function startShellJob(caller: ShellJobCaller, spec: ShellJobSpec, options: StartShellJobOptions = {}): Promise<StartedShellJob> {
    const transport = options.transport ?? "presigned-url";
    const ttl = options.urlTtlSeconds ?? caller.target.urlTtlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 604800) {
        throw new ShellJobError("CALLER_MISCONFIGURED", `urlTtlSeconds is ${ttl}; expected a whole number of seconds from 1 to 604800 (SigV4's limit).`);
    }
    const request = buildJobRequest(spec);
    const { jobId } = request;
    const body = JSON.stringify(request);
    const requestBytes = Buffer.byteLength(body, "utf8");
    if (requestBytes > MAX_JOB_REQUEST_BYTES) {
        throw new ShellJobError("REQUEST_TOO_LARGE", `Shell job ${jobId} is ${requestBytes} bytes as JSON; the runner reads at most ${MAX_JOB_REQUEST_BYTES}. Move large inputs to their own objects and pass their keys. Nothing was uploaded or started.`, jobId);
    }
    const { bucket } = caller.target;
    const requestKey = jobRequestKey(jobId);
    const resultKey = jobResultKey(jobId);

    const presignStart = performance.now();
    const resultPutUrl = await presign(caller, new PutObjectCommand({ Bucket: bucket, Key: resultKey }), ttl, jobId);
    const jobGetUrl = transport === "presigned-url" ? await presign(caller, new GetObjectCommand({ Bucket: bucket, Key: requestKey }), ttl, jobId) : undefined;
    const requestSha256 = sha256Base64(body);
    const overrides = jobGetUrl ? presignedOverrides(caller.target, jobGetUrl, resultPutUrl, requestSha256) : legacyOverrides(caller.target, request, resultPutUrl);
    const overridesBytes = assertOverridesFit(overrides, jobId, transport);
    const presignMs = since(presignStart);

    const uploadStart = performance.now();
    if (jobGetUrl) await storeRequest(caller, { key: requestKey, body, sha256: requestSha256, jobId, jobGetUrl });
    const uploadMs = since(uploadStart);

    const runTaskStart = performance.now();
    const input: RunTaskCommandInput = {
        cluster: caller.target.clusterArn,
        taskDefinition: caller.target.taskDefinition,
        launchType: "FARGATE",
        count: 1,
        networkConfiguration: { awsvpcConfiguration: { subnets: caller.target.subnets, securityGroups: [caller.target.securityGroup], assignPublicIp: "DISABLED" } },
        overrides,
        startedBy: `shell-job/${jobId}`.slice(0, 128),
        // Retries of this call (by the SDK or a redelivered job) start one task, not two.
        clientToken: jobId,
    };
    let taskArn: string | undefined;
    try {
        const response = await caller.ecs.send(new RunTaskCommand(input));
        const failures = response.failures ?? [];
        taskArn = response.tasks?.[0]?.taskArn;
        if (failures.length > 0 || !taskArn) {
            const reasons = failures.map((f) => [f.arn, f.reason, f.detail].filter(Boolean).join(": ")).join("; ") || "ECS returned no task";
            throw new Error(reasons);
        }
    } catch (err) {
        if (transport === "presigned-url") await deleteObjects(caller, [requestKey], jobId);
        const denied = /AccessDenied|not authorized/i.test(`${(err as { name?: string }).name} ${messageOf(err)}`);
        throw new ShellJobError(
            "TASK_NOT_STARTED",
            `RunTask did not start shell job ${jobId} on ${caller.target.clusterArn}: ${messageOf(err)}.${denied ? " This role needs the executor's grantSubmit (ecs:RunTask on the task definition family, iam:PassRole on its two roles)." : ""} Its stored request was deleted.`,
            jobId,
        );
    }
    return {
        jobId,
        transport,
        requestKey: transport === "presigned-url" ? requestKey : undefined,
        resultKey,
        taskArn,
        resultUrlExpiresAt: presignedUrlExpiry(resultPutUrl) ?? new Date(Date.now() + ttl * 1000),
        requestBytes,
        overridesBytes,
        timings: { presignMs, uploadMs, runTaskMs: since(runTaskStart) },
    };
}

export interface WaitOptions {
    /** Default: one minute after the result URL expires (after that no result can arrive). */
    deadline?: Date;
    /** First pause between polls; it grows 1.5x per poll up to maxPollMs. Default 500. */
    initialPollMs?: number;
    /** Default 5000. */
    maxPollMs?: number;
}

/** Grace after the result URL expires for an upload that started just before. */
const LATE_UPLOAD_GRACE_MS = 60_000;

/**
 * The handle of a job started elsewhere (the API starts a job and returns its id; a later
 * invocation collects the result). `startedAt` is when the job was started; the result URL expired
 * urlTtlSeconds later.
 */
export function shellJobHandle(caller: ShellJobCaller, jobId: string, startedAt: Date, transport: ShellJobTransport = "presigned-url"): StartedShellJob {
    if (!JOB_ID.test(jobId)) throw new ShellJobError("MALFORMED_REQUEST", `Shell job id ${JSON.stringify(jobId)} is not one: expected 1 to 64 letters, digits, _ or -.`);
    return {
        jobId,
        transport,
        requestKey: transport === "presigned-url" ? jobRequestKey(jobId) : undefined,
        resultKey: jobResultKey(jobId),
        resultUrlExpiresAt: new Date(startedAt.getTime() + caller.target.urlTtlSeconds * 1000),
        requestBytes: 0,
        overridesBytes: 0,
        timings: { presignMs: 0, uploadMs: 0, runTaskMs: 0 },
    };
}

/** found: read in full and valid; absent: not there (yet); unreadable: there, but the read was cut short or is not complete JSON. */
type Attempt = { kind: "found"; result: ShellJobResult } | { kind: "absent"; answer: string } | { kind: "unreadable"; answer: string };

/** GETs the result object in full (retrying transient failures), or says why not. Throws RESULT_TOO_LARGE. */
async function readResultObject(caller: ShellJobCaller, job: StartedShellJob, deadline?: number): Promise<Attempt | { kind: "text"; text: string }> {
    const where = `s3://${caller.target.bucket}/${job.resultKey}`;
    try {
        return await withRetries(
            async ({ signal }): Promise<Attempt | { kind: "text"; text: string }> => {
                let response;
                try {
                    response = await caller.s3.send(new GetObjectCommand({ Bucket: caller.target.bucket, Key: job.resultKey }), { abortSignal: signal });
                } catch (err) {
                    // Without s3:ListBucket (deliberately not granted), S3 answers 403 rather than 404 for a key that does not exist yet.
                    const name = nameOf(err);
                    if (name === "NoSuchKey" || name === "AccessDenied" || name === "NotFound") return { kind: "absent", answer: name };
                    throw err;
                }
                const declared = response.ContentLength;
                if (declared !== undefined && declared > MAX_JOB_RESULT_BYTES) {
                    (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
                    throw new ShellJobError(
                        "RESULT_TOO_LARGE",
                        `The result of shell job ${job.jobId} at ${where} is ${declared} bytes, over the ${MAX_JOB_RESULT_BYTES} a result may have (the runner keeps its results within that): it was not read, and it and the request are left for the bucket's lifecycle rule. Is the runner image on contract ${CONTRACT_VERSION}?`,
                        job.jobId,
                    );
                }
                let bytes: Uint8Array;
                try {
                    bytes = await response.Body!.transformToByteArray();
                } catch (err) {
                    throw new TransientError(`the result was cut off while it was read`, { cause: err });
                }
                if (declared !== undefined && bytes.length !== declared) throw new TransientError(`the result read has ${bytes.length} byte(s) but announced ${declared}`);
                return { kind: "text", text: Buffer.from(bytes).toString("utf8") };
            },
            { policy: retryPolicyOf(caller), deadline, what: `GET ${where}` },
        );
    } catch (err) {
        if (err instanceof ShellJobError) throw err;
        // Only a body that was there and cut short is "unreadable"; S3 failing to answer at all says nothing about the result.
        if (err instanceof RetriesExhaustedError && err.lastError instanceof TransientError && !(err.lastError.name === "AttemptTimeoutError")) return { kind: "unreadable", answer: redactUrls(messageOf(err)) };
        return { kind: "absent", answer: redactUrls(messageOf(err)) };
    }
}

/**
 * One look: reads the result in full and validates it; only then are the job's objects deleted.
 * A read cut short or not complete JSON is "unreadable" (look again: a good result is never
 * destroyed by a bad read); a complete JSON result that breaks the contract is RESULT_MALFORMED.
 */
async function attemptCollect(caller: ShellJobCaller, job: StartedShellJob, deadline?: number): Promise<Attempt> {
    const read = await readResultObject(caller, job, deadline);
    if (read.kind !== "text") return read;
    let parsed: unknown;
    try {
        parsed = JSON.parse(read.text);
    } catch (err) {
        return { kind: "unreadable", answer: `the result read is not complete JSON (${jsonSyntaxProblem(err)}, ${Buffer.byteLength(read.text)} byte(s))` };
    }
    const result = validateResult(job.jobId, parsed);
    const cleanupStart = performance.now();
    await deleteObjects(caller, [job.requestKey, job.resultKey].filter((k): k is string => k !== undefined), job.jobId);
    job.timings.cleanupMs = since(cleanupStart);
    if (result.status === "rejected") {
        const error = result.error ?? { code: "MALFORMED_REQUEST" as const, message: "(the runner gave no reason)" };
        throw new ShellJobRejectedError(error.code, `The shell executor refused job ${job.jobId}: ${error.message}`, job.jobId, result);
    }
    return { kind: "found", result };
}

function validateResult(jobId: string, parsed: unknown): ShellJobResult {
    const checked = jobResultSchema.safeParse(parsed);
    if (!checked.success) {
        throw new ShellJobError("RESULT_MALFORMED", `The result of shell job ${jobId} does not match contract ${CONTRACT_VERSION}: ${describeIssues(checked.error)}. It and the request are left for the bucket's lifecycle rule.`, jobId);
    }
    if (checked.data.jobId !== null && checked.data.jobId !== jobId) {
        throw new ShellJobError("RESULT_MALFORMED", `The result at shell-results/${jobId}.json names another job (${JSON.stringify(checked.data.jobId.slice(0, 64))}); it and the request are left for the bucket's lifecycle rule.`, jobId);
    }
    return checked.data;
}

/**
 * One look for the result, for callers that cannot wait (the API): undefined while there is none;
 * once it is there, both objects are deleted and the result returned (or the refusal thrown).
 */
export async function collectShellJobResult(caller: ShellJobCaller, job: StartedShellJob): Promise<ShellJobResult | undefined> {
    const attempt = await attemptCollect(caller, job);
    return attempt.kind === "found" ? attempt.result : undefined;
}

/**
 * Polls for the result with backoff until the deadline; once it was read in full and validated, deletes
 * the request and the result (never before: a read cut short is retried, never destroys a result).
 * A refused job (expired URL, unknown version, malformed request) throws with the runner's code and
 * message; a job whose commands failed returns its result with status "failed". At the deadline
 * the request is deleted and RESULT_MISSING thrown.
 */
export async function waitForShellJobResult(caller: ShellJobCaller, job: StartedShellJob, options: WaitOptions = {}): Promise<ShellJobResult> {
    const deadline = options.deadline ?? new Date(job.resultUrlExpiresAt.getTime() + LATE_UPLOAD_GRACE_MS);
    const maxPoll = options.maxPollMs ?? 5000;
    let pause = options.initialPollMs ?? 500;
    // A pause of 0 would never grow (0 * 1.5) and poll S3 in a tight loop until the deadline.
    if (!(pause >= 1) || !(maxPoll >= pause) || !Number.isFinite(maxPoll)) {
        throw new ShellJobError("CALLER_MISCONFIGURED", `initialPollMs is ${pause} and maxPollMs ${maxPoll}; expected initialPollMs of at least 1 and a finite maxPollMs not below it.`, job.jobId);
    }
    if (Number.isNaN(deadline.getTime())) {
        throw new ShellJobError("CALLER_MISCONFIGURED", `The deadline for shell job ${job.jobId} is not a valid date.`, job.jobId);
    }
    const waitStart = performance.now();
    let lastAnswer = "no answer yet";
    let unreadable = false;

    for (;;) {
        const attempt = await attemptCollect(caller, job, deadline.getTime()).finally(() => (job.timings.waitMs = since(waitStart) - (job.timings.cleanupMs ?? 0)));
        if (attempt.kind === "found") return attempt.result;
        // Once an object was seen but not read in full, only a definite "no such key" says it is gone.
        if (attempt.kind === "unreadable") {
            unreadable = true;
            lastAnswer = attempt.answer;
        } else if (!unreadable || /^(NoSuchKey|AccessDenied|NotFound)$/.test(attempt.answer)) {
            unreadable = false;
            lastAnswer = attempt.answer;
        }
        const left = deadline.getTime() - Date.now();
        if (left <= 0) break;
        const jittered = pause * (0.8 + Math.random() * 0.4);
        await new Promise((resolve) => setTimeout(resolve, Math.min(jittered, left)));
        pause = Math.min(pause * 1.5, maxPoll);
    }

    if (unreadable) {
        // Something is there that could not be read in full: it may be a good result, so nothing is deleted.
        throw new ShellJobError(
            "RESULT_UNREADABLE",
            `The result of shell job ${job.jobId} at s3://${caller.target.bucket}/${job.resultKey} could not be read in full by the deadline ${deadline.toISOString()} (last: ${lastAnswer}). Nothing was deleted: collect it again with shellJobHandle, or the bucket's lifecycle rule removes it.`,
            job.jobId,
        );
    }
    // Only the request: a result that S3 would not show us (or that arrives after a caller's early deadline) is left for the lifecycle rule.
    const cleanupStart = performance.now();
    if (job.requestKey) await deleteObjects(caller, [job.requestKey], job.jobId);
    job.timings.cleanupMs = since(cleanupStart);
    throw new ShellJobError(
        "RESULT_MISSING",
        `No result for shell job ${job.jobId} at s3://${caller.target.bucket}/${job.resultKey} by the deadline ${deadline.toISOString()} (waited ${Math.round((job.timings.waitMs ?? 0) / 1000)} s; last answer: ${lastAnswer}). ` +
            `The task${job.taskArn ? ` ${job.taskArn}` : ""} stopped before it could report (image pull, no route to S3, URLs expired before it started: see its log group) or is still running past its result URL (valid until ${job.resultUrlExpiresAt.toISOString()}). Its request was deleted.`,
        job.jobId,
    );
}

/** A job the runner refused; `code` is the runner's (REQUEST_URL_EXPIRED, UNKNOWN_CONTRACT_VERSION, ...). */
export class ShellJobRejectedError extends ShellJobError {
    constructor(
        code: NonNullable<ShellJobResult["error"]>["code"],
        message: string,
        jobId: string,
        public readonly result: ShellJobResult,
    ) {
        super(code, message, jobId);
        this.name = "ShellJobRejectedError";
    }
}

/** start + wait: the whole round trip for callers that can wait (the job worker). */
export async function submitShellJob(caller: ShellJobCaller, spec: ShellJobSpec, options: StartShellJobOptions & WaitOptions = {}): Promise<{ job: StartedShellJob; result: ShellJobResult }> {
    const job = await startShellJob(caller, spec, options);
    const result = await waitForShellJobResult(caller, job, options);
    return { job, result };
}

async function deleteObjects(caller: ShellJobCaller, keys: string[], jobId: string): Promise<void> {
    const warn = caller.warn ?? ((m: string) => console.warn(m));
    const outcomes = await Promise.allSettled(
        keys.map((Key) => withRetries(({ signal }) => caller.s3.send(new DeleteObjectCommand({ Bucket: caller.target.bucket, Key }), { abortSignal: signal }), { policy: retryPolicyOf(caller), what: `DELETE s3://${caller.target.bucket}/${Key}` })),
    );
    outcomes.forEach((o, i) => {
        if (o.status === "rejected") {
            warn(`shell job ${jobId}: s3://${caller.target.bucket}/${keys[i]} could not be deleted (${redactUrls(messageOf(o.reason))}); the bucket's lifecycle rule removes it within a day.`);
        }
    });
}
