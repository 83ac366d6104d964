import * as assert from "node:assert/strict";
import { backoffDelayMs, checkRetryPolicy, HttpStatusError, isTransient, RetriesExhaustedError, TransientError, withRetries, worstCaseMs } from "../runtime/retry";

describe("runtime/retry: bounded retries with full jitter", function () {
    this.timeout(10_000);
    const fast = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 200 };

    it("classifies 5xx, 429, SlowDown, resets, truncated bodies and timeouts as transient, and 4xx as not", () => {
        const reset = Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) });
        const sdk503 = Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown", $metadata: { httpStatusCode: 503 } });
        for (const e of [reset, sdk503, new HttpStatusError(500, "InternalError", "x"), new HttpStatusError(429, undefined, "x"), new TransientError("truncated"), new Error("aborted"), Object.assign(new Error("x"), { code: "UND_ERR_BODY_TIMEOUT" })]) {
            assert.equal(isTransient(e), true, String(e));
        }
        const denied = Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
        for (const e of [denied, new HttpStatusError(404, "NoSuchKey", "x"), new HttpStatusError(412, "PreconditionFailed", "x"), new SyntaxError("Unexpected token")]) {
            assert.equal(isTransient(e), false, String(e));
        }
    });

    it("retries transient failures and returns the first success", async () => {
        let calls = 0;
        const value = await withRetries(async () => {
            calls++;
            if (calls < 3) throw new HttpStatusError(503, "SlowDown", "slow down");
            return "ok";
        }, { policy: fast });
        assert.deepEqual([value, calls], ["ok", 3]);
    });

    it("throws a non-transient failure at once, as it is", async () => {
        let calls = 0;
        const denied = new HttpStatusError(403, "AccessDenied", "denied");
        await assert.rejects(withRetries(async () => {
            calls++;
            throw denied;
        }, { policy: fast }), (err) => err === denied);
        assert.equal(calls, 1);
    });

    it("gives up after maxAttempts, and times out an attempt that never answers", async () => {
        let calls = 0;
        const started = Date.now();
        await assert.rejects(withRetries(() => {
            calls++;
            return new Promise<never>(() => undefined);
        }, { policy: { ...fast, maxAttempts: 3, attemptTimeoutMs: 50 }, what: "GET s3://b/k" }), (err: RetriesExhaustedError) => {
            assert.ok(err instanceof RetriesExhaustedError);
            assert.equal(err.attempts, 3);
            assert.match(err.message, /^GET s3:\/\/b\/k failed after 3 attempt\(s\) within its retry bound: no complete answer within 50 ms/);
            return true;
        });
        assert.equal(calls, 3);
        assert.ok(Date.now() - started < worstCaseMs({ ...fast, maxAttempts: 3, attemptTimeoutMs: 50 }) + 500);
    });

    it("stops at the deadline and when the caller's signal aborts", async () => {
        const deadline = Date.now() + 120;
        await assert.rejects(withRetries(() => new Promise<never>(() => undefined), { policy: { ...fast, maxAttempts: 100, attemptTimeoutMs: 1000 }, deadline }), RetriesExhaustedError);
        assert.ok(Date.now() - deadline < 300, "no attempt runs past the deadline");

        const stop = new AbortController();
        setTimeout(() => stop.abort(new Error("SIGTERM")), 50);
        await assert.rejects(withRetries(() => new Promise<never>(() => undefined), { policy: fast, signal: stop.signal }), /SIGTERM/);
    });

    it("draws each backoff from [0, min(max, base × 2^(n−1))] and refuses unbounded policies", () => {
        const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, attemptTimeoutMs: 1 };
        assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelayMs(policy, n, () => 0.999999)), [99, 199, 399, 799, 999]);
        assert.equal(backoffDelayMs(policy, 3, () => 0), 0);
        assert.throws(() => checkRetryPolicy({ ...policy, maxAttempts: Infinity }), /maxAttempts is Infinity/);
        assert.throws(() => checkRetryPolicy({ ...policy, attemptTimeoutMs: Number.NaN }), /attemptTimeoutMs is NaN/);
    });
});
