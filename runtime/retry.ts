/**
 * Bounded retries for the runtime's S3 requests (shell jobs, artifacts): a fixed number of
 * attempts, exponential backoff with full jitter between them, a timeout per attempt and an
 * overall deadline. Only transient failures are retried (5xx, 429, SlowDown, connection resets,
 * truncated bodies, timeouts); anything else (403, 404, 412, a malformed answer) is returned to the
 * caller at once.
 *
 * The bound: an operation never takes longer than
 *   maxAttempts × attemptTimeoutMs + (maxAttempts − 1) × maxDelayMs
 * and never runs past `deadline`; `worstCaseMs(policy)` computes the first term. With the default
 * policy that is 5 × 30 s + 4 × 5 s = 170 s.
 */

export interface RetryPolicy {
    /** Attempts in all, the first included (at least 1). */
    maxAttempts: number;
    /** Backoff before attempt n+1 is random in [0, min(maxDelayMs, baseDelayMs × 2^(n−1))] ("full jitter"). */
    baseDelayMs: number;
    maxDelayMs: number;
    /** Each attempt is aborted after this long (a stalled connection, a black hole). */
    attemptTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 5_000, attemptTimeoutMs: 30_000 });

/** The longest an operation under `policy` can take when no deadline is given. */
export function worstCaseMs(policy: RetryPolicy): number {
    return policy.maxAttempts * policy.attemptTimeoutMs + (policy.maxAttempts - 1) * policy.maxDelayMs;
}

/** Refuses a policy that would not be bounded; the message names the field. */
export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
    const problems: string[] = [];
    if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1 || policy.maxAttempts > 100) problems.push(`maxAttempts is ${policy.maxAttempts}; expected a whole number from 1 to 100`);
    for (const field of ["baseDelayMs", "maxDelayMs", "attemptTimeoutMs"] as const) {
        const value = policy[field];
        if (!Number.isFinite(value) || value < 0 || value > 2_147_483_647) problems.push(`${field} is ${value}; expected a finite number of milliseconds from 0 to 2147483647`);
    }
    if (policy.attemptTimeoutMs < 1) problems.push(`attemptTimeoutMs is ${policy.attemptTimeoutMs}; expected at least 1`);
    if (problems.length > 0) throw new RangeError(`Invalid retry policy: ${problems.join("; ")}.`);
    return policy;
}

/** A failure the operation itself knows to be transient (a truncated body, an unparsable partial read). */
export class TransientError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "TransientError";
    }
}

/** An HTTP answer that is not a success, for operations made with fetch. `code` is S3's <Code>, when it sent one. */
export class HttpStatusError extends Error {
    constructor(
        public readonly status: number,
        public readonly code: string | undefined,
        message: string,
    ) {
        super(message);
        this.name = "HttpStatusError";
    }
}

/** The attempt ran out of its own time (not the caller's stop signal). */
export class AttemptTimeoutError extends TransientError {
    constructor(ms: number) {
        super(`no complete answer within ${ms} ms`);
        this.name = "AttemptTimeoutError";
    }
}

/** Every attempt failed, or the deadline came first. `lastError` is the last attempt's failure. */
export class RetriesExhaustedError extends Error {
    constructor(
        message: string,
        public readonly attempts: number,
        public readonly lastError: unknown,
    ) {
        super(message, { cause: lastError });
        this.name = "RetriesExhaustedError";
    }
}

const TRANSIENT_S3_CODES = new Set(["SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException", "Throttling", "ThrottlingException", "TooManyRequestsException", "TimeoutError", "OperationAborted"]);
const TRANSIENT_NET_CODES = new Set([
    "ECONNRESET",
    "ECONNREFUSED",
    "ECONNABORTED",
    "EPIPE",
    "ETIMEDOUT",
    "EAI_AGAIN",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "ENETDOWN",
    "ERR_STREAM_PREMATURE_CLOSE",
    "UND_ERR_SOCKET",
    "UND_ERR_CLOSED",
    "UND_ERR_CONNECT_TIMEOUT",
    "UND_ERR_HEADERS_TIMEOUT",
    "UND_ERR_BODY_TIMEOUT",
    "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
    "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
]);

/** Whether a failure is worth another attempt. Looks through `cause` chains (fetch wraps its socket errors). */
export function isTransient(error: unknown): boolean {
    for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
        if (e instanceof TransientError) return true;
        if (e instanceof HttpStatusError) return e.status >= 500 || e.status === 429 || (e.code !== undefined && TRANSIENT_S3_CODES.has(e.code));
        const candidate = e as { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; cause?: unknown };
        const status = candidate.$metadata?.httpStatusCode;
        if (typeof status === "number" && (status >= 500 || status === 429)) return true;
        if (typeof candidate.name === "string" && TRANSIENT_S3_CODES.has(candidate.name)) return true;
        if (typeof candidate.code === "string" && (TRANSIENT_NET_CODES.has(candidate.code) || TRANSIENT_S3_CODES.has(candidate.code))) return true;
        if (candidate.$retryable) return true;
        // Node's http client: a body cut short by the peer ("aborted"), a socket closed before the answer.
        if (typeof candidate.message === "string" && /^(aborted|socket hang up|other side closed|terminated|Premature close)$/i.test(candidate.message)) return true;
        e = candidate.cause;
    }
    return false;
}

export interface RetryOptions {
    policy?: RetryPolicy;
    /** Epoch ms: no attempt starts, and none runs, past it. */
    deadline?: number;
    /** The caller's stop (SIGTERM): aborts the running attempt and ends the retries at once. */
    signal?: AbortSignal;
    /** Default: isTransient. */
    retryable?: (error: unknown) => boolean;
    /** Told before each backoff, for a log line. */
    onRetry?: (info: { attempt: number; error: unknown; delayMs: number }) => void;
    /** Named in the exhaustion message: "GET s3://bucket/key". */
    what?: string;
    /** For tests: replaces Math.random. */
    random?: () => number;
}

export interface AttemptContext {
    /** 1-based. */
    attempt: number;
    /** Aborted at the attempt timeout, the deadline or the caller's stop. Pass it to fetch / the SDK's send. */
    signal: AbortSignal;
}

/** The delay before attempt `attempt + 1`, full jitter. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(random() * ceiling);
}

function abortReason(signal: AbortSignal): unknown {
    return signal.reason ?? new Error("stopped");
}

/**
 * Runs `operation` until it succeeds, fails with a non-transient error (thrown as is), or the
 * attempts / deadline run out (RetriesExhaustedError). A stop through `signal` is thrown as the
 * signal's reason without further attempts.
 */
export async function withRetries<T>(operation: (context: AttemptContext) => Promise<T>, options: RetryOptions = {}): Promise<T> {
    const policy = checkRetryPolicy(options.policy ?? DEFAULT_RETRY_POLICY);
    const retryable = options.retryable ?? isTransient;
    const random = options.random ?? Math.random;
    const what = options.what ?? "the request";
    let lastError: unknown;
    let made = 0;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
        if (options.signal?.aborted) throw abortReason(options.signal);
        const left = options.deadline === undefined ? Infinity : options.deadline - Date.now();
        if (left <= 0) break;
        const budget = Math.min(policy.attemptTimeoutMs, left);
        made = attempt;
        const attemptAbort = new AbortController();
        const timer = setTimeout(() => attemptAbort.abort(new AttemptTimeoutError(Math.round(budget))), budget);
        const onStop = () => attemptAbort.abort(abortReason(options.signal!));
        options.signal?.addEventListener("abort", onStop, { once: true });
        try {
            return await raceAbort(operation({ attempt, signal: attemptAbort.signal }), attemptAbort.signal);
        } catch (err) {
            if (options.signal?.aborted) throw abortReason(options.signal);
            // An attempt aborted by its own timer surfaces as AbortError from fetch or the SDK.
            lastError = attemptAbort.signal.aborted && attemptAbort.signal.reason instanceof AttemptTimeoutError ? attemptAbort.signal.reason : err;
            if (!retryable(lastError)) throw lastError;
        } finally {
            clearTimeout(timer);
            options.signal?.removeEventListener("abort", onStop);
        }
        if (attempt === policy.maxAttempts) break;
        const delayMs = backoffDelayMs(policy, attempt, random);
        if (options.deadline !== undefined && Date.now() + delayMs >= options.deadline) break;
        options.onRetry?.({ attempt, error: lastError, delayMs });
        await sleep(delayMs, options.signal);
    }
    const because = lastError === undefined ? "the deadline passed before an attempt could start" : describe(lastError);
    throw new RetriesExhaustedError(`${what} failed after ${made} attempt(s) within its retry bound: ${because}`, made, lastError);
}

function describe(error: unknown): string {
    if (error instanceof Error) {
        const cause = (error as { cause?: unknown }).cause;
        const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
        return `${error.message || error.name}${typeof code === "string" && !error.message.includes(code) ? ` (${code})` : ""}`;
    }
    return String(error);
}

/** Settles with the operation, or rejects as soon as `signal` aborts (an operation that ignores its signal cannot hang us). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) {
        work.catch(() => undefined);
        return Promise.reject(abortReason(signal));
    }
    return new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(abortReason(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        work.then(
            (value) => {
                signal.removeEventListener("abort", onAbort);
                resolve(value);
            },
            (err: unknown) => {
                signal.removeEventListener("abort", onAbort);
                reject(err);
            },
        );
    });
}

/** Waits `ms`, or less when `signal` aborts (then rejects with its reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(abortReason(signal));
        const timer = setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(timer);
            reject(abortReason(signal!));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
    });
}
