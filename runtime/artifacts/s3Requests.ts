import { checkRetryPolicy, isTransient, RetriesExhaustedError, RetryPolicy, TransientError, withRetries } from "../retry";

/**
 * How the artifact tools retry their S3 requests. Every request (HeadObject, GetObject with its
 * body, PutObject, ListObjectsV2 per page, DeleteObjects per batch) runs under `withRetries`:
 * at most 5 attempts, full-jitter backoff of random(0, min(5 s, 200 ms × 2^(n−1))) between them,
 * and each attempt aborted after 30 s (uploads and downloads: 30 s plus 1 s per MiB, a floor of
 * 1 MiB/s). A stalled connection is also cut by the client's socket timeout (30 s without a
 * byte, 5 s to connect). So one request gives up after at most
 * 5 × 30 s + 4 × 5 s = 170 s (plus 5 s per MiB for a body). The SDK's own retries are turned
 * off in `createArtifactS3Client`; a client made elsewhere keeps its own and is retried on top.
 */
export const ARTIFACT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 5_000, attemptTimeoutMs: 30_000 });

/** Upload and download attempts get this much extra time per byte: a floor throughput of 1 MiB/s. */
export const MIN_TRANSFER_BYTES_PER_SECOND = 1024 * 1024;

/** The socket timeouts of `createArtifactS3Client`. */
export const ARTIFACT_CONNECT_TIMEOUT_MS = 5_000;
export const ARTIFACT_SOCKET_IDLE_TIMEOUT_MS = 30_000;

/** The attempt timeout for moving `bytes` (an upload or a download) under `policy`. */
export function transferPolicy(policy: RetryPolicy, bytes: number): RetryPolicy {
    const extra = Math.ceil((bytes / MIN_TRANSFER_BYTES_PER_SECOND) * 1000);
    return { ...policy, attemptTimeoutMs: Math.min(2_147_483_647, policy.attemptTimeoutMs + extra) };
}

/**
 * S3 (or the path to it) could not give a usable answer within the retry bound: 5xx and SlowDown
 * to the end, resets, truncated answers, stalls. It says nothing about the object itself: a
 * transport failure during verify is never reported as tampering.
 */
export class ArtifactTransportError extends RetriesExhaustedError {
    constructor(message: string, attempts: number, lastError: unknown) {
        super(message, attempts, lastError);
        this.name = "ArtifactTransportError";
    }
}

/**
 * Transient for an S3 request: what `isTransient` says, plus a 2xx answer whose XML could not be
 * parsed (a body cut short with a matching Content-Length looks complete to the SDK and fails
 * only in its parser).
 */
export function isTransientS3Failure(error: unknown): boolean {
    if (isTransient(error)) return true;
    const e = error as { message?: unknown; $metadata?: { httpStatusCode?: number } };
    const status = e?.$metadata?.httpStatusCode;
    return typeof e?.message === "string" && /Deserialization error|XML parse error/i.test(e.message) && typeof status === "number" && status >= 200 && status < 300;
}

export interface ArtifactRequestOptions {
    /** Default ARTIFACT_RETRY_POLICY. */
    policy?: RetryPolicy;
    /** Stops the retries and aborts the running attempt (SIGINT of the CLI). */
    signal?: AbortSignal;
    /** Named in messages: "HeadObject s3://bucket/key". */
    what: string;
    /** Extra failures to retry besides transient ones (publish: 409 ConditionalRequestConflict). */
    alsoRetry?: (error: unknown) => boolean;
}

/**
 * Runs one S3 operation with the artifact retry policy. `attempt` gets the attempt's abort signal
 * (pass it to `client.send(command, { abortSignal })`) and builds its command afresh each time,
 * so a body stream is re-opened. Non-transient failures come back as they are; exhausted retries
 * as ArtifactTransportError naming the request and the last failure.
 */
export async function artifactRequest<T>(attempt: (context: { attempt: number; signal: AbortSignal }) => Promise<T>, options: ArtifactRequestOptions): Promise<T> {
    const policy = checkRetryPolicy(options.policy ?? ARTIFACT_RETRY_POLICY);
    try {
        return await withRetries(attempt, {
            policy,
            signal: options.signal,
            what: options.what,
            retryable: (error) => isTransientS3Failure(error) || options.alsoRetry?.(error) === true,
        });
    } catch (err) {
        if (err instanceof RetriesExhaustedError) {
            throw new ArtifactTransportError(`${options.what}: S3 gave no usable answer after ${err.attempts} attempt(s) (retry bound: ${policy.maxAttempts} attempts, ${policy.attemptTimeoutMs} ms each); last failure: ${describeFailure(err.lastError)}. This is a transport failure, not a finding about the object: try again later.`, err.attempts, err.lastError);
        }
        throw err;
    }
}

/** A failure in one line, with no request URL or query (the SDK's messages carry none; fetch's may). */
export function describeFailure(error: unknown): string {
    const e = error as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    if (e === undefined || e === null) return String(error);
    const status = e.$metadata?.httpStatusCode;
    const message = (e.message ?? "").split("\n")[0].replace(/https?:\/\/\S+/g, (url) => url.replace(/\?\S*$/, "").replace(/\/\/[^/@]*@/, "//"));
    return `${e.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}${e.code && !message.includes(e.code) ? ` ${e.code}` : ""}: ${message}`;
}

/** A body whose byte count differs from what S3 announced: the connection was cut short. */
export function truncatedBody(what: string, got: number, expected: number): TransientError {
    return new TransientError(`${what}: received ${got} of ${expected} bytes (the answer was cut short)`);
}
