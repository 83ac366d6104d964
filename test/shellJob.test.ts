import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { RunTaskCommand } from "@aws-sdk/client-ecs";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
    collectShellJobResult,
    createShellJobS3Client,
    ShellExecutorTarget,
    shellExecutorTargetFromEnv,
    ShellJobCaller,
    shellJobHandle,
    ShellJobRejectedError,
    startShellJob,
    submitShellJob,
    waitForShellJobResult,
} from "../runtime/shellJob/caller";
import { CALLER_ENV, CONTRACT_VERSION, JOB_REQUEST_PREFIX, JOB_RESULT_PREFIX, jobResultKey, MAX_JOB_REQUEST_BYTES, MAX_JOB_RESULT_BYTES, OVERRIDE_ENV, RUNNER_ENV, ShellJobResult } from "../runtime/shellJob/contract";
import { ShellJobError } from "../runtime/shellJob/errors";
import { LocalRunTask, LocalRunTaskOptions, runnerEntrypoint } from "../runtime/shellJob/localRunTask";
import { runCommand, runShellJob } from "../runtime/shellJob/runner";
import { startS3rver, S3rverProcess } from "./artifactS3rver";
import { S3FaultProxy, startS3FaultProxy } from "./support/s3FaultProxy";

const BUCKET = "shell-executor-jobs-test";
const CONTAINER = "runner";
/**
 * The job user of this test run: a uid of its own per process, so that the runner's cleanup
 * (kill -KILL -1 as the job user) never reaches the jobs of a suite running in parallel.
 */
const JOB_UID = 20_000 + (process.pid % 20_000);
const JOB_USER_ENV = { [RUNNER_ENV.jobUid]: String(JOB_UID), [RUNNER_ENV.jobGid]: String(JOB_UID) };
const TASK_ENVIRONMENT = { [RUNNER_ENV.commandTimeoutSeconds]: "30", [RUNNER_ENV.maxOutputBytes]: "65536", [RUNNER_ENV.s3AttemptTimeoutSeconds]: "2", ...JOB_USER_ENV };
/** The runner's S3 retries, shortened for in-process runs. */
const FAST_RUNNER_RETRY = { baseDelayMs: 20, maxDelayMs: 200, attemptTimeoutMs: 2_000 };

/**
 * The contract end to end on loopback. s3rver stands in for S3 (it serves presigned URLs and
 * enforces their expiry) behind the project's fault proxy (test/support/s3FaultProxy.ts), which
 * adds what s3rver lacks and the contract relies on: If-None-Match: * answered 412 atomically per
 * key, x-amz-checksum-sha256 checked, no anonymous access, 1,024-byte keys, and objects served only
 * once fully written; and which injects the faults (5xx, SlowDown, resets, early FIN, short
 * Content-Length, black holes, lost answers). Lifecycle rules are checked in the plan.
 * LocalRunTask stands in for ECS by starting runnerMain.ts as a real child process with the
 * environment the caller built. The tests run as root, so the job user is real: commands run as
 * uid JOB_UID, the runner as root.
 */
describe("shell job contract (caller, runner) through the S3 fault proxy on loopback", function () {
    this.timeout(60_000);
    let s3rver: S3rverProcess;
    let proxy: S3FaultProxy;
    let endpoint: string;
    let s3: S3Client;
    let launchers: LocalRunTask[] = [];

    before(async function () {
        if (process.getuid?.() !== 0) throw new Error("these tests run job commands as another uid and need root (the CI container runs them as root)");
        s3rver = await startS3rver([BUCKET]);
        proxy = await startS3FaultProxy({ upstream: s3rver.endpoint });
        endpoint = proxy.endpoint;
        s3 = s3Client();
    });

    after(async () => {
        s3?.destroy();
        await proxy?.close();
        await s3rver?.stop();
    });

    afterEach(async () => {
        proxy.clearFaults();
        for (const launcher of launchers) launcher.stopAll();
        await Promise.all(launchers.map((l) => l.settled().catch(() => undefined)));
        launchers = [];
        // A test that failed midway must not fail the next one's empty-bucket check.
        for (const key of [...(await keysUnder(JOB_REQUEST_PREFIX)), ...(await keysUnder(JOB_RESULT_PREFIX))]) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    });

    function s3Client(): S3Client {
        return createShellJobS3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    }

    function target(overrides: Partial<ShellExecutorTarget> = {}): ShellExecutorTarget {
        return {
            clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/jobfleet-test-shell-executor",
            taskDefinition: "arn:aws:ecs:us-east-1:123456789012:task-definition/jobfleet-test-shell-executor:1",
            containerName: CONTAINER,
            subnets: ["subnet-0a1b2c3d"],
            securityGroup: "sg-0a1b2c3d",
            bucket: BUCKET,
            urlTtlSeconds: 900,
            ...overrides,
        };
    }

    function callerWith(options: Partial<LocalRunTaskOptions> = {}, targetOverrides: Partial<ShellExecutorTarget> = {}): { caller: ShellJobCaller; ecs: LocalRunTask; warnings: string[] } {
        const ecs = new LocalRunTask({ containerName: CONTAINER, taskEnvironment: TASK_ENVIRONMENT, ...options });
        launchers.push(ecs);
        const warnings: string[] = [];
        return { caller: { s3, ecs, target: target(targetOverrides), warn: (m) => warnings.push(m), retry: { baseDelayMs: 20, maxDelayMs: 200, attemptTimeoutMs: 3_000 } }, ecs, warnings };
    }

    async function keysUnder(prefix: string): Promise<string[]> {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
        return (listed.Contents ?? []).map((o) => o.Key!);
    }

    async function assertBucketEmpty(): Promise<void> {
        assert.deepEqual(await keysUnder(JOB_REQUEST_PREFIX), [], "nothing left under shell-jobs/");
        assert.deepEqual(await keysUnder(JOB_RESULT_PREFIX), [], "nothing left under shell-results/");
    }

    const fastPolling = { initialPollMs: 100, maxPollMs: 400 };

    it("round-trips a 10 MB job request from caller to runner to caller, with overrides carrying only two URLs and the version", async () => {
        const { caller, ecs } = callerWith();
        const payload = randomBytes(7_500_000).toString("base64"); // 10,000,000 characters
        const { job, result } = await submitShellJob(
            caller,
            {
                files: [{ path: "input/payload.txt", content: payload }],
                commands: [{ run: "wc -c < input/payload.txt" }, { run: "sha256sum input/payload.txt | cut -d' ' -f1" }, { run: "printf %s \"$SHELL_EXECUTOR_RESULT_PUT_URL\"" }],
            },
            fastPolling,
        );
        assert.ok(job.requestBytes > 10_000_000, `the request is over 10 MB (${job.requestBytes} bytes)`);
        assert.equal(result.status, "succeeded", JSON.stringify(result.error ?? result.commands.map((c) => c.stderr)));
        assert.equal(result.jobId, job.jobId);
        assert.equal(result.transport, "presigned-url");
        assert.equal(result.commands[0].stdout.trim(), String(payload.length));
        assert.equal(result.commands[1].stdout.trim(), createHash("sha256").update(payload).digest("hex"), "the runner read the request byte for byte");
        assert.equal(result.commands[2].stdout, "", "the runner's URLs are not passed on to the job's commands");

        assert.equal(ecs.calls.length, 1);
        const call = ecs.calls[0];
        assert.equal(call.cluster, caller.target.clusterArn);
        assert.equal(call.launchType, "FARGATE");
        assert.deepEqual(call.networkConfiguration, { awsvpcConfiguration: { subnets: ["subnet-0a1b2c3d"], securityGroups: ["sg-0a1b2c3d"], assignPublicIp: "DISABLED" } });
        const override = call.overrides!.containerOverrides![0];
        assert.equal(override.name, CONTAINER);
        assert.deepEqual(override.environment!.map((e) => e.name), [OVERRIDE_ENV.contractVersion, OVERRIDE_ENV.jobGetUrl, OVERRIDE_ENV.resultPutUrl, OVERRIDE_ENV.jobSha256]);
        assert.equal(override.environment![0].value, CONTRACT_VERSION);
        assert.match(override.environment![3].value!, /^[A-Za-z0-9+/]{43}=$/, "the request's SHA-256, so the runner knows a complete read");
        assert.equal(Object.keys(call.overrides!).join(), "containerOverrides", "no task-level overrides");
        assert.ok(job.overridesBytes < 2048, `a 10 MB job needs ${job.overridesBytes} bytes of overrides`);

        const [run] = await ecs.settled();
        assert.equal(run.exitCode, 0, run.log);
        await assertBucketEmpty();
    });

    it("uploads the request with If-None-Match: * and presigns 15-minute URLs without a body checksum", async () => {
        const seen: Array<{ method: string; path: string; headers: Record<string, string> }> = [];
        const spying = s3Client();
        spying.middlewareStack.add(
            (next) => async (args) => {
                const request = args.request as { method: string; path: string; headers: Record<string, string> };
                seen.push({ method: request.method, path: request.path, headers: { ...request.headers } });
                return next(args);
            },
            { step: "finalizeRequest", name: "recordRequests" },
        );
        const { caller, ecs } = callerWith();
        const job = await startShellJob({ ...caller, s3: spying }, { commands: [{ run: "true" }] });
        const upload = seen.find((r) => r.method === "PUT");
        assert.ok(upload, "the request was uploaded");
        assert.equal(upload.path, `/${BUCKET}/shell-jobs/${job.jobId}.json`);
        assert.equal(upload.headers["if-none-match"], "*", "a second job with the same id cannot replace the first's request");
        const digest = ecs.calls[0].overrides!.containerOverrides![0].environment!.find((e) => e.name === OVERRIDE_ENV.jobSha256)?.value;
        assert.equal(upload.headers["x-amz-checksum-sha256"], digest, "S3 checks the request's SHA-256, the same one the runner gets");
        const urls = ecs.calls[0].overrides!.containerOverrides![0].environment!.filter((e) => e.name?.endsWith("_URL")).map((e) => new URL(e.value!));
        for (const url of urls) {
            assert.equal(url.searchParams.get("X-Amz-Expires"), "900");
            assert.ok(![...url.searchParams.keys()].some((k) => /^x-amz-checksum-crc/i.test(k)), `${url.pathname} carries no precomputed checksum`);
        }
        assert.deepEqual(urls.map((u) => u.pathname), [`/${BUCKET}/shell-jobs/${job.jobId}.json`, `/${BUCKET}/shell-results/${job.jobId}.json`]);
        await waitForShellJobResult(caller, job, fastPolling);
        await assertBucketEmpty();
    });

    it("still runs legacy jobs passed inline as SHELL_EXECUTOR_JOB_B64, reporting a failing command's output", async () => {
        const { caller, ecs } = callerWith();
        const { job, result } = await submitShellJob(caller, { commands: [{ run: "echo hello; echo oops >&2; exit 3" }, { run: "echo never" }] }, { transport: "legacy-env", ...fastPolling });
        const env = ecs.calls[0].overrides!.containerOverrides![0].environment!;
        assert.deepEqual(env.map((e) => e.name), [OVERRIDE_ENV.legacyJobB64, OVERRIDE_ENV.resultPutUrl]);
        const legacyBody = JSON.parse(Buffer.from(env[0].value!, "base64").toString("utf8"));
        assert.equal(legacyBody.contractVersion, undefined, "the legacy format has no contract version");
        assert.equal(legacyBody.jobId, job.jobId);
        assert.equal(job.requestKey, undefined, "nothing stored under shell-jobs/");

        assert.equal(result.status, "failed");
        assert.equal(result.transport, "legacy-env");
        assert.equal(result.commands[0].exitCode, 3);
        assert.equal(result.commands[0].stdout, "hello\n");
        assert.equal(result.commands[0].stderr, "oops\n");
        assert.equal(result.commands[1].skipped, true, "failFast skips the rest");
        const [run] = await ecs.settled();
        assert.equal(run.exitCode, 1, "the task exits non-zero when the job failed");
        await assertBucketEmpty();
    });

    it("lets a later invocation collect a job started elsewhere by its id, as the API does", async () => {
        const { caller, ecs } = callerWith({ startDelayMs: 500 });
        const startedAt = new Date();
        const { jobId } = await startShellJob(caller, { commands: [{ run: "echo collected" }] });
        const handle = shellJobHandle(caller, jobId, startedAt);
        assert.equal(await collectShellJobResult(caller, handle), undefined, "no result while the task is still starting");
        assert.deepEqual(await keysUnder(JOB_REQUEST_PREFIX), [`shell-jobs/${jobId}.json`], "the request stays until the result is read");
        await ecs.settled();
        const result = await collectShellJobResult(caller, handle);
        assert.equal(result?.commands[0].stdout, "collected\n");
        await assertBucketEmpty();
    });

    it("refuses a job whose legacy overrides exceed ECS's 8192 limit before calling ECS; the presigned path carries the same job", async () => {
        const spec = { commands: [{ run: `printf '%s' '${"x".repeat(12_000)}' | wc -c` }] };
        const legacy = callerWith();
        await assert.rejects(startShellJob(legacy.caller, spec, { transport: "legacy-env" }), (err: ShellJobError) => {
            assert.equal(err.code, "OVERRIDES_TOO_LARGE");
            assert.match(err.message, /would be \d+ bytes, over ECS's limit of 8192/);
            assert.match(err.message, /presigned-url transport/);
            return true;
        });
        assert.equal(legacy.ecs.calls.length, 0, "ECS was never called");

        const presigned = callerWith();
        const { result } = await submitShellJob(presigned.caller, spec, fastPolling);
        assert.equal(result.status, "succeeded");
        assert.equal(result.commands[0].stdout.trim(), "12000");
        await assertBucketEmpty();
    });

    it("reports an expired job request URL: the runner says so and the caller reports the missing result at its deadline", async () => {
        // URLs valid 1 s, and the task starts 2 s later: the seed's failure when a task waits for capacity.
        const { caller, ecs } = callerWith({ startDelayMs: 2000 }, { urlTtlSeconds: 1 });
        const job = await startShellJob(caller, { commands: [{ run: "echo should not run" }] });
        await assert.rejects(waitForShellJobResult(caller, job, { deadline: new Date(Date.now() + 4000), ...fastPolling }), (err: ShellJobError) => {
            assert.equal(err.code, "RESULT_MISSING");
            assert.match(err.message, new RegExp(`No result for shell job ${job.jobId} at s3://${BUCKET}/shell-results/${job.jobId}\\.json by the deadline`));
            assert.match(err.message, /URLs expired before it started/);
            return true;
        });
        const [run] = await ecs.settled();
        assert.equal(run.exitCode, 2, "no result could be written");
        assert.match(run.log, /job refused \(REQUEST_URL_EXPIRED\): The job request URL \(http:\/\/127\.0\.0\.1:\d+\/shell-executor-jobs-test\/shell-jobs\/[\w-]+\.json\) expired at/);
        assert.match(run.log, /the result could not be written: The result URL .* has expired/);
        assert.doesNotMatch(run.log, /X-Amz-Signature|\n\s+at /, "no signed URL and no stack trace in the log");
        await assertBucketEmpty();
    });

    it("refuses an unknown contract version with the runner's message", async () => {
        const { caller } = callerWith({ alterEnvironment: (env) => ({ ...env, [OVERRIDE_ENV.contractVersion]: "2099-01-01" }) });
        await assert.rejects(submitShellJob(caller, { commands: [{ run: "echo should not run" }] }, fastPolling), (err: ShellJobRejectedError) => {
            assert.ok(err instanceof ShellJobRejectedError);
            assert.equal(err.code, "UNKNOWN_CONTRACT_VERSION");
            assert.match(err.message, /Unknown contract version "2099-01-01" in SHELL_EXECUTOR_CONTRACT_VERSION; this runner understands 2025-12-29/);
            assert.deepEqual(err.result.commands, [], "nothing ran");
            return true;
        });
        await assertBucketEmpty();
    });

    it("refuses a malformed request at the caller, naming each field, before anything is stored or started", async () => {
        const { caller, ecs } = callerWith();
        await assert.rejects(startShellJob(caller, { jobId: "../escape", commands: [], files: [{ path: "/etc/passwd", content: "" }] }), (err: ShellJobError) => {
            assert.equal(err.code, "MALFORMED_REQUEST");
            assert.match(err.message, /jobId: 1 to 64 letters, digits, _ or -/);
            assert.match(err.message, /commands: at least one command/);
            assert.match(err.message, /files\.0\.path: a path relative to the job's working directory/);
            return true;
        });
        assert.equal(ecs.calls.length, 0);
        await assertBucketEmpty();
    });

    it("refuses a malformed request at the runner and reports it through the result", async () => {
        const notJson = Buffer.from("{ not json", "utf8").toString("base64");
        const { caller } = callerWith({ alterEnvironment: (env) => ({ ...env, [OVERRIDE_ENV.legacyJobB64]: notJson }) });
        await assert.rejects(submitShellJob(caller, { commands: [{ run: "true" }] }, { transport: "legacy-env", ...fastPolling }), (err: ShellJobError) => {
            assert.equal(err.code, "MALFORMED_REQUEST");
            assert.match(err.message, /The shell executor refused job [\w-]+: The legacy job request in SHELL_EXECUTOR_JOB_B64 is not valid JSON/);
            return true;
        });
        await assertBucketEmpty();
    });

    it("refuses a request over the runner's size limit before uploading it", async () => {
        const { caller, ecs } = callerWith();
        await assert.rejects(startShellJob(caller, { files: [{ path: "big", content: "x".repeat(MAX_JOB_REQUEST_BYTES) }], commands: [{ run: "true" }] }), (err: ShellJobError) => {
            assert.equal(err.code, "REQUEST_TOO_LARGE");
            assert.match(err.message, new RegExp(`the runner reads at most ${MAX_JOB_REQUEST_BYTES}`));
            return true;
        });
        assert.equal(ecs.calls.length, 0);
        await assertBucketEmpty();
    });

    it("refuses a presigning client that would sign an empty-body checksum into the result URL", async () => {
        const { caller, ecs } = callerWith();
        const defaultClient = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
        await assert.rejects(startShellJob({ ...caller, s3: defaultClient }, { commands: [{ run: "true" }] }), (err: ShellJobError) => {
            assert.equal(err.code, "UNSAFE_PRESIGNED_URL");
            assert.match(err.message, /x-amz-checksum-crc32/);
            assert.match(err.message, /createShellJobS3Client/);
            return true;
        });
        assert.equal(ecs.calls.length, 0);
        await assertBucketEmpty();
    });

    it("deletes the stored request when RunTask starts no task", async () => {
        const caller: ShellJobCaller = {
            s3,
            target: target(),
            ecs: { send: async (_command: RunTaskCommand) => ({ tasks: [], failures: [{ arn: "arn:aws:ecs:us-east-1:123456789012:container-instance/x", reason: "RESOURCE:ENI" }], $metadata: {} }) },
        };
        await assert.rejects(startShellJob(caller, { commands: [{ run: "true" }] }), (err: ShellJobError) => {
            assert.equal(err.code, "TASK_NOT_STARTED");
            assert.match(err.message, /RESOURCE:ENI/);
            assert.match(err.message, /Its stored request was deleted/);
            return true;
        });
        await assertBucketEmpty();
    });

    describe("runner", () => {
        async function resultUrl(jobId: string, expiresIn = 900): Promise<string> {
            return getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }), { expiresIn });
        }

        async function takeResult(jobId: string): Promise<ShellJobResult> {
            const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }));
            const result = JSON.parse(await response.Body!.transformToString()) as ShellJobResult;
            await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }));
            return result;
        }

        function legacyEnv(job: object, putUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
            return { PATH: process.env.PATH, ...JOB_USER_ENV, [OVERRIDE_ENV.legacyJobB64]: Buffer.from(JSON.stringify(job)).toString("base64"), [OVERRIDE_ENV.resultPutUrl]: putUrl, ...extra };
        }

        it("times out a command, caps captured output and still writes the result", async () => {
            const jobId = "runner-limits";
            const env = legacyEnv(
                { jobId, failFast: false, commands: [{ run: "head -c 200000 /dev/zero | tr '\\0' a; echo tail >&2" }, { run: "sleep 30", timeoutSeconds: 1 }, { run: "echo after" }] },
                await resultUrl(jobId),
                { [RUNNER_ENV.maxOutputBytes]: "1000", [RUNNER_ENV.commandTimeoutSeconds]: "20" },
            );
            const outcome = await runShellJob({ env });
            assert.equal(outcome.exitCode, 1);
            assert.equal(outcome.resultWritten, true);
            const result = await takeResult(jobId);
            assert.equal(result.status, "failed");
            assert.equal(result.commands[0].exitCode, 0);
            assert.equal(result.commands[0].outputTruncated, true);
            const marker = /\n\[shell-executor: output truncated \(output cap\); (\d+) byte\(s\) dropped\]\n$/;
            const kept = result.commands[0].stdout.replace(marker, "");
            assert.equal(kept, "a".repeat(1000), "the first 1000 bytes are kept, then the marker");
            assert.equal(Number(marker.exec(result.commands[0].stdout)?.[1]), 199_000);
            assert.match(result.commands[0].stderr, /^\n\[shell-executor: output truncated \(output cap\); 5 byte\(s\) dropped\]\n$/);
            assert.equal(result.commands[1].timedOut, true);
            assert.equal(result.commands[1].error, "timed out after 1 s");
            assert.ok(result.commands[1].durationMs < 10_000, "the sleep was killed, not waited for");
            assert.equal(result.commands[2].stdout, "after\n", "without failFast the next command still runs");
        });

        it("reports a forbidden (not expired) request URL as forbidden", async () => {
            const denying = http.createServer((_req, res) => {
                res.writeHead(403, { "content-type": "application/xml" });
                res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
            });
            await new Promise<void>((resolve) => denying.listen(0, "127.0.0.1", resolve));
            try {
                const port = (denying.address() as AddressInfo).port;
                const jobId = "runner-forbidden";
                const outcome = await runShellJob({
                    env: {
                        PATH: process.env.PATH,
                        ...JOB_USER_ENV,
                        [OVERRIDE_ENV.contractVersion]: CONTRACT_VERSION,
                        [OVERRIDE_ENV.jobGetUrl]: `http://127.0.0.1:${port}/${BUCKET}/shell-jobs/${jobId}.json?X-Amz-Signature=abc`,
                        [OVERRIDE_ENV.resultPutUrl]: await resultUrl(jobId),
                    },
                });
                assert.equal(outcome.exitCode, 1);
                const result = await takeResult(jobId);
                assert.equal(result.status, "rejected");
                assert.equal(result.error?.code, "REQUEST_URL_FORBIDDEN");
                assert.match(result.error!.message, /refused with 403 Forbidden \(S3 said AccessDenied: Access Denied\): the role that signed it lacks the S3 permission \(grantSubmit\)/);
                assert.doesNotMatch(result.error!.message, /X-Amz-Signature/, "the URL is shown without its signature");
            } finally {
                await new Promise((resolve) => denying.close(resolve));
            }
        });

        it("reports a request URL whose signing session expired (S3's 400 ExpiredToken) as expired, not as unreadable", async () => {
            const expiredSession = http.createServer((_req, res) => {
                res.writeHead(400, { "content-type": "application/xml" });
                res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>');
            });
            await new Promise<void>((resolve) => expiredSession.listen(0, "127.0.0.1", resolve));
            try {
                const port = (expiredSession.address() as AddressInfo).port;
                const jobId = "runner-expired-token";
                const outcome = await runShellJob({
                    env: {
                        PATH: process.env.PATH,
                        ...JOB_USER_ENV,
                        [OVERRIDE_ENV.contractVersion]: CONTRACT_VERSION,
                        [OVERRIDE_ENV.jobGetUrl]: `http://127.0.0.1:${port}/${BUCKET}/shell-jobs/${jobId}.json?X-Amz-Security-Token=abc&X-Amz-Signature=def`,
                        [OVERRIDE_ENV.resultPutUrl]: await resultUrl(jobId),
                    },
                });
                assert.equal(outcome.exitCode, 1);
                const result = await takeResult(jobId);
                assert.equal(result.error?.code, "REQUEST_URL_EXPIRED");
                assert.match(result.error!.message, /has expired \(S3 said ExpiredToken: The provided token has expired\.\)/);
                assert.doesNotMatch(result.error!.message, /X-Amz-(Signature|Security-Token)/);
            } finally {
                await new Promise((resolve) => expiredSession.close(resolve));
            }
        });

        describe("a command's processes", () => {
            let dir: string;
            const stray: number[] = [];
            beforeEach(() => {
                dir = fs.mkdtempSync(path.join(os.tmpdir(), "shell-job-command-"));
            });
            afterEach(() => {
                for (const pid of stray.splice(0)) {
                    try {
                        process.kill(pid, "SIGKILL");
                    } catch {
                        // already gone
                    }
                }
                fs.rmSync(dir, { recursive: true, force: true });
            });
            /** Running, not a zombie waiting for a reaper (a container without init may not reap). */
            const alive = (pid: number) => {
                try {
                    process.kill(pid, 0);
                } catch {
                    return false;
                }
                try {
                    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
                } catch {
                    return true;
                }
            };
            const pidIn = (file: string) => Number(fs.readFileSync(path.join(dir, file), "utf8").trim());

            it("ends when its shell exits: a process it left in the background is killed, not waited for until the timeout", async () => {
                const outcome = await runCommand("sleep 30 & echo $! > bg.pid; echo started", { cwd: dir, env: { PATH: process.env.PATH }, timeoutMs: 20_000, maxOutputBytes: 1000 });
                const pid = pidIn("bg.pid");
                stray.push(pid);
                assert.deepEqual([outcome.exitCode, outcome.timedOut, outcome.stdout, outcome.error], [0, false, "started\n", undefined]);
                assert.ok(outcome.durationMs < 5000, `the command took ${outcome.durationMs} ms`);
                await new Promise((resolve) => setTimeout(resolve, 100));
                assert.equal(alive(pid), false, "the background sleep was killed with the command's process group");
            });

            it("is not held open past its end or its timeout by a process that left its process group", async function () {
                if (!fs.existsSync("/usr/bin/setsid") && !fs.existsSync("/bin/setsid")) this.skip();
                const escape = (file: string) => `setsid sh -c 'echo $$ > ${file}; exec sleep 30' &`;
                const [finished, timedOut] = await Promise.all([
                    runCommand(`${escape("finished.pid")} sleep 0.2; echo done`, { cwd: dir, env: { PATH: process.env.PATH }, timeoutMs: 20_000, maxOutputBytes: 1000 }),
                    runCommand(`${escape("timed-out.pid")} sleep 30`, { cwd: dir, env: { PATH: process.env.PATH }, timeoutMs: 500, maxOutputBytes: 1000 }),
                ]);
                stray.push(pidIn("finished.pid"), pidIn("timed-out.pid"));
                assert.deepEqual([finished.exitCode, finished.timedOut, finished.stdout], [0, false, "done\n"]);
                assert.ok(finished.durationMs < 5000, `a finished command returned after ${finished.durationMs} ms`);
                assert.equal(timedOut.timedOut, true);
                assert.ok(timedOut.durationMs < 5000, `a timed-out command returned after ${timedOut.durationMs} ms, not when the escaped process ended`);
            });
        });

        it("refuses a legacy request with an unknown contract version", async () => {
            const jobId = "runner-legacy-version";
            const outcome = await runShellJob({ env: legacyEnv({ contractVersion: "2019-01-01", jobId, commands: [{ run: "true" }] }, await resultUrl(jobId)) });
            assert.equal(outcome.exitCode, 1);
            const result = await takeResult(jobId);
            assert.equal(result.error?.code, "UNKNOWN_CONTRACT_VERSION");
            assert.match(result.error!.message, /Unknown contract version "2019-01-01" in the job request; this runner understands 2025-12-29/);
        });

        it("on SIGTERM stops the running command and still writes the result (child process)", async () => {
            const jobId = "runner-sigterm";
            const env = { PATH: process.env.PATH!, HOME: os.tmpdir(), ...legacyEnv({ jobId, commands: [{ run: "sleep 30" }, { run: "echo never" }] }, await resultUrl(jobId)) } as Record<string, string>;
            const child = spawn(process.execPath, [runnerEntrypoint()], { env, stdio: ["ignore", "ignore", "pipe"] });
            let log = "";
            const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
            try {
                await new Promise<void>((resolve, reject) => {
                    child.stderr.on("data", (d: Buffer) => {
                        log += d.toString();
                        if (log.includes("1 command(s)") || log.includes("2 command(s)")) resolve();
                    });
                    child.on("close", () => reject(new Error(`runner exited early: ${log}`)));
                });
                await new Promise((resolve) => setTimeout(resolve, 300));
                child.kill("SIGTERM");
                assert.equal(await exited, 1, log);
            } finally {
                child.kill("SIGKILL");
            }
            const result = await takeResult(jobId);
            assert.equal(result.status, "stopped");
            assert.equal(result.error?.code, "STOPPED");
            assert.equal(result.commands[0].signal, "SIGTERM");
            assert.equal(result.commands[1].skipped, true);
        });

        /** Stores a request the way a caller does and returns the runner's environment for it (presigned-url transport). */
        async function presignedEnv(job: { jobId: string } & Record<string, unknown>, options: { ttlSeconds?: number; extra?: Record<string, string> } = {}): Promise<NodeJS.ProcessEnv> {
            const body = JSON.stringify({ contractVersion: CONTRACT_VERSION, ...job });
            const key = `${JOB_REQUEST_PREFIX}${job.jobId}.json`;
            await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
            return {
                PATH: process.env.PATH,
                ...JOB_USER_ENV,
                [OVERRIDE_ENV.contractVersion]: CONTRACT_VERSION,
                [OVERRIDE_ENV.jobGetUrl]: await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: options.ttlSeconds ?? 900 }),
                [OVERRIDE_ENV.resultPutUrl]: await resultUrl(job.jobId, options.ttlSeconds),
                [OVERRIDE_ENV.jobSha256]: createHash("sha256").update(body).digest("base64"),
                ...options.extra,
            };
        }

        async function removeRequest(jobId: string): Promise<void> {
            await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${JOB_REQUEST_PREFIX}${jobId}.json` }));
        }

        describe("S3 faults", () => {
            it("retries the request GET through 503 SlowDown, a reset and an early FIN mid-body, and a short Content-Length, and the result PUT through 500, a reset mid-request and a lost answer", async () => {
                const jobId = "runner-s3-faults";
                const env = await presignedEnv({ jobId, files: [{ path: "in.txt", content: "x".repeat(50_000) }], commands: [{ run: "wc -c < in.txt" }] });
                const requestPath = `/shell-jobs/${jobId}.json`;
                const resultPath = `/shell-results/${jobId}.json`;
                for (const fault of [{ kind: "status", status: 503 }, { kind: "reset-response", afterBytes: 1000 }, { kind: "early-fin", afterBytes: 1000 }, { kind: "short-content-length", bytes: 20_000 }] as const) {
                    proxy.inject({ method: "GET", path: requestPath, fault });
                }
                for (const fault of [{ kind: "status", status: 500 }, { kind: "reset-request", afterBodyBytes: 10 }, { kind: "lose-answer" }] as const) proxy.inject({ method: "PUT", path: resultPath, fault });
                const lines: string[] = [];
                const outcome = await runShellJob({ env, retryPolicy: { ...FAST_RUNNER_RETRY, maxAttempts: 5 }, log: (l) => lines.push(l) });
                assert.equal(outcome.exitCode, 0, lines.join("\n"));
                const result = await takeResult(jobId);
                assert.equal(result.status, "succeeded");
                assert.equal(result.commands[0].stdout.trim(), "50000", "the request was read in full, not the truncated answer");
                assert.equal(proxy.requests.filter((r) => r.method === "GET" && r.path.endsWith(requestPath)).length, 5);
                assert.equal(proxy.requests.filter((r) => r.method === "PUT" && r.path.endsWith(resultPath)).length, 4);
                assert.equal(lines.filter((l) => /attempt \d failed/.test(l)).length, 7, lines.join("\n"));
                assert.ok(lines.some((l) => /do not match the request's SHA-256/.test(l)), "the short answer was recognised by its checksum");
                await removeRequest(jobId);
            });

            it("reports a request read that keeps failing as REQUEST_UNREADABLE, never WORKSPACE_FAILED, and a black-holed read gives up within its bound", async () => {
                for (const [jobId, fault] of [
                    ["runner-read-resets", { kind: "reset-response", afterBytes: 10 }],
                    ["runner-read-hole", { kind: "black-hole" }],
                ] as const) {
                    const env = await presignedEnv({ jobId, commands: [{ run: "echo never" }] });
                    proxy.inject({ method: "GET", path: `/shell-jobs/${jobId}.json`, times: Infinity, fault });
                    const policy = { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100, attemptTimeoutMs: 400 };
                    const started = Date.now();
                    const outcome = await runShellJob({ env, retryPolicy: policy });
                    assert.ok(Date.now() - started < 3 * 400 + 2 * 100 + 2000, `${jobId} gave up after ${Date.now() - started} ms`);
                    assert.equal(outcome.exitCode, 1);
                    const result = await takeResult(jobId);
                    assert.equal(result.status, "rejected");
                    assert.equal(result.error?.code, "REQUEST_UNREADABLE", result.error?.message);
                    assert.match(result.error!.message, /could not be read from http:\/\/127\.0\.0\.1:\d+\/shell-executor-jobs-test\/shell-jobs\/[\w-]+\.json: GET .* failed after 3 attempt\(s\)/);
                    assert.doesNotMatch(result.error!.message, /X-Amz-/);
                    proxy.clearFaults();
                    await removeRequest(jobId);
                }
            });

            it("stops waiting for a black-holed result PUT once the result URL has expired", async () => {
                const jobId = "runner-put-hole";
                const env = await presignedEnv({ jobId, commands: [{ run: "true" }] }, { ttlSeconds: 3 });
                proxy.inject({ method: "PUT", path: `/shell-results/${jobId}.json`, times: Infinity, fault: { kind: "black-hole" } });
                const started = Date.now();
                const lines: string[] = [];
                const outcome = await runShellJob({ env, retryPolicy: { maxAttempts: 100, baseDelayMs: 20, maxDelayMs: 200, attemptTimeoutMs: 30_000 }, log: (l) => lines.push(l) });
                assert.equal(outcome.exitCode, 2);
                assert.equal(outcome.resultWritten, false);
                assert.ok(Date.now() - started < 6000, `the runner waited ${Date.now() - started} ms for a URL valid 3 s`);
                assert.match(lines.join("\n"), /the result could not be written/);
                await removeRequest(jobId);
            });

            it("on SIGTERM while the request read hangs reports STOPPED, not a workspace failure (child process)", async () => {
                const jobId = "runner-stop-while-reading";
                const env = { ...(await presignedEnv({ jobId, commands: [{ run: "echo never" }] })), [RUNNER_ENV.s3AttemptTimeoutSeconds]: "30" } as Record<string, string>;
                proxy.inject({ method: "GET", path: `/shell-jobs/${jobId}.json`, times: Infinity, fault: { kind: "black-hole" } });
                const child = spawn(process.execPath, [runnerEntrypoint()], { env, stdio: ["ignore", "ignore", "pipe"] });
                let log = "";
                child.stderr.on("data", (d: Buffer) => (log += d.toString()));
                const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
                try {
                    const until = Date.now() + 10_000;
                    while (!proxy.requests.some((r) => r.method === "GET" && r.path.endsWith(`/shell-jobs/${jobId}.json`)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
                    child.kill("SIGTERM");
                    assert.equal(await exited, 1, log);
                } finally {
                    child.kill("SIGKILL");
                }
                const result = await takeResult(jobId);
                assert.equal(result.status, "stopped");
                assert.equal(result.error?.code, "STOPPED");
                assert.match(result.error!.message, /stopped \(SIGTERM\) while it read the job request/);
                await removeRequest(jobId);
            });
        });

        it("survives a second SIGTERM and a SIGINT: it stops the command's process group and writes its result first (child process)", async () => {
            const jobId = "runner-sigterm-twice";
            // The command ignores SIGTERM, so it only ends with the SIGKILL KILL_GRACE_MS later: the window in which the extra signals arrive.
            const env = { PATH: process.env.PATH!, ...legacyEnv({ jobId, commands: [{ run: "trap '' TERM; echo ready; sleep 30; sleep 30" }] }, await resultUrl(jobId)) } as Record<string, string>;
            const child = spawn(process.execPath, [runnerEntrypoint()], { env, stdio: ["ignore", "ignore", "pipe"] });
            let log = "";
            const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (code, signal) => resolve([code, signal])));
            try {
                await new Promise<void>((resolve, reject) => {
                    child.stderr.on("data", (d: Buffer) => {
                        log += d.toString();
                        if (log.includes("1 command(s)")) resolve();
                    });
                    child.on("close", () => reject(new Error(`runner exited early: ${log}`)));
                });
                await new Promise((resolve) => setTimeout(resolve, 300));
                for (const signal of ["SIGTERM", "SIGTERM", "SIGINT", "SIGTERM"] as const) {
                    child.kill(signal);
                    await new Promise((resolve) => setTimeout(resolve, 150));
                }
                assert.deepEqual(await exited, [1, null], log);
            } finally {
                child.kill("SIGKILL");
            }
            assert.match(log, /received again; already stopping/);
            const result = await takeResult(jobId);
            assert.equal(result.status, "stopped");
            assert.equal(result.commands[0].signal, "SIGKILL", "the command that ignored SIGTERM was killed with its group");
        });

        it("keeps a result within MAX_JOB_RESULT_BYTES however the outputs escape: outputs are cut with a marker, the result still parses", async () => {
            const jobId = "runner-result-budget";
            // Two commands of 1 MiB of \x01 each (within the output cap): 6 bytes apiece once JSON-escaped, 12 MiB of result without a budget.
            const commands = Array.from({ length: 2 }, () => ({ run: "head -c 1048576 /dev/zero | tr '\\0' '\\1'" }));
            const outcome = await runShellJob({ env: legacyEnv({ jobId, commands }, await resultUrl(jobId), { [RUNNER_ENV.maxOutputBytes]: String(1024 * 1024) }) });
            assert.equal(outcome.exitCode, 0);
            const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }));
            assert.ok(head.ContentLength! <= MAX_JOB_RESULT_BYTES, `the result is ${head.ContentLength} bytes`);
            assert.ok(head.ContentLength! > MAX_JOB_RESULT_BYTES * 0.9, "the budget is used, not thrown away");
            const result = await takeResult(jobId);
            assert.equal(result.status, "succeeded");
            assert.equal(result.commands.length, 2);
            assert.ok(result.commands.some((c) => /\[shell-executor: output truncated \(result budget\); \d+ byte\(s\) dropped\]\n$/.test(c.stdout)));
            assert.ok(result.commands.every((c) => c.outputTruncated || c.stdout === "\u0001".repeat(1024 * 1024)));
        });

        it("refuses non-base64 content under encoding base64 as a malformed request, and never quotes a request in a JSON syntax error", async () => {
            const jobId = "runner-bad-base64";
            await runShellJob({ env: legacyEnv({ jobId, files: [{ path: "a.bin", content: "not base64!", encoding: "base64" }], commands: [{ run: "true" }] }, await resultUrl(jobId)) });
            const result = await takeResult(jobId);
            assert.equal(result.error?.code, "MALFORMED_REQUEST");
            assert.match(result.error!.message, /files\.0\.content: base64/);

            const secretJob = "runner-json-secret";
            const text = `{"jobId":"${secretJob}","commands":[{"run":"echo","env":{"DB_PASSWORD":"hunter2-secret"}}] oops}`;
            const outcome = await runShellJob({ env: { ...legacyEnv({}, await resultUrl(secretJob)), [OVERRIDE_ENV.legacyJobB64]: Buffer.from(text).toString("base64") }, log: () => undefined });
            assert.equal(outcome.exitCode, 1);
            const refused = await takeResult(secretJob);
            assert.equal(refused.error?.code, "MALFORMED_REQUEST");
            assert.match(refused.error!.message, /is not valid JSON \(syntax error at position \d+\)/);
            assert.doesNotMatch(refused.error!.message, /hunter2|oops|DB_PASSWORD/);
        });

        it("logs and reports URLs without user-info or query string", async () => {
            const jobId = "runner-url-userinfo";
            const lines: string[] = [];
            const env = { ...legacyEnv({}, await resultUrl(jobId)), [OVERRIDE_ENV.contractVersion]: CONTRACT_VERSION, [OVERRIDE_ENV.jobGetUrl]: `http://operator:pa55word@127.0.0.1:1/${BUCKET}/shell-jobs/${jobId}.json?X-Amz-Signature=abc123` };
            await runShellJob({ env, retryPolicy: FAST_RUNNER_RETRY, log: (l) => lines.push(l) });
            const result = await takeResult(jobId);
            assert.equal(result.error?.code, "REQUEST_UNREADABLE");
            for (const text of [...lines, result.error!.message]) {
                assert.doesNotMatch(text, /pa55word|operator@|X-Amz-Signature|abc123/, text);
            }
            assert.match(result.error!.message, /http:\/\/127\.0\.0\.1:1\/shell-executor-jobs-test\/shell-jobs\/runner-url-userinfo\.json/);
        });
    });

    describe("isolation of the job's commands", () => {
        const JOIN_SECRET = `request-secret-${randomBytes(6).toString("hex")}`;
        const half = Math.floor(JOIN_SECRET.length / 2);
        /**
         * Searches every /proc/<pid>/{environ,cmdline} it can read, the readable file descriptors and
         * the job workspaces for the URLs' signature parameters and for a secret of the request that
         * this command was not given (it gets it in two halves, joined only into a file); then tries
         * the runner's /proc entries directly and PUTs a forged result, anonymously and with a made-up signature.
         */
        const SEARCH = [
            // Patterns are only ever joined at run time, so no process's command line holds them.
            `amz="X-Amz-"; pat="$TMPDIR/patterns"; printf '%s\\n' "\${amz}Signature" "\${amz}Credential" "$SECRET_HEAD$SECRET_TAIL" > "$pat"`,
            // One grep over every environ and cmdline it may read, one over the regular files behind readable descriptors (pipes would block).
            `found=$(grep -l -a -s -F -f "$pat" /proc/[0-9]*/environ /proc/[0-9]*/cmdline | tr '\\n' ' ')`,
            `found="$found$(find -L /proc/[0-9]*/fd -maxdepth 1 -type f -size -8M 2>/dev/null | xargs -r grep -l -a -s -F -f "$pat" | tr '\\n' ' ')"`,
            `for f in $(grep -r -a -l -F -f "$pat" /tmp/shell-job-* 2>/dev/null); do [ "$f" = "$pat" ] || found="$found $f"; done`,
            `echo "found: \${found:-none}"`,
            `for e in environ maps; do if head -c 1 /proc/$PPID/$e >/dev/null 2>&1; then echo "runner $e: readable"; else echo "runner $e: denied"; fi; done`,
            // Opening mem is what the kernel guards (ptrace access); count=0 reads nothing.
            `if dd if=/proc/$PPID/mem bs=1 count=0 2>/dev/null; then echo "runner mem: readable"; else echo "runner mem: denied"; fi`,
            `if ls /proc/$PPID/fd >/dev/null 2>&1; then echo "runner fd: readable"; else echo "runner fd: denied"; fi`,
            `curl -s -o /dev/null -w 'anonymous %{http_code}\\n' -X PUT --data '{"forged":true}' "$S3_ENDPOINT/$BUCKET_NAME/shell-results/$SHELL_JOB_ID.json"`,
            `q="\${amz}Algorithm=AWS4-HMAC-SHA256&\${amz}Credential=S3RVER%2F$(date -u +%Y%m%d)%2Fus-east-1%2Fs3%2Faws4_request&\${amz}Date=$(date -u +%Y%m%dT%H%M%SZ)&\${amz}Expires=900&\${amz}SignedHeaders=host&\${amz}Signature=$(printf '0%.0s' $(seq 64))"`,
            `curl -s -o /dev/null -w 'made-up signature %{http_code}\\n' -X PUT --data '{"forged":true}' "$S3_ENDPOINT/$BUCKET_NAME/shell-results/$SHELL_JOB_ID.json?$q"`,
            `id -u; id -g; env | cut -d= -f1 | grep -v '^PWD$' | sort | tr '\\n' ' '`,
        ].join("\n");

        function searchJob() {
            return {
                env: { SECRET_HEAD: JOIN_SECRET.slice(0, half), SECRET_TAIL: JOIN_SECRET.slice(half), S3_ENDPOINT: endpoint, BUCKET_NAME: BUCKET },
                commands: [{ run: SEARCH }, { run: "true", env: { LATER_ONLY: JOIN_SECRET } }],
            };
        }

        it("runs commands as the job user with an allow-listed environment: a command searching /proc finds neither the URLs nor the request, and its forged result is refused", async function () {
            if (!fs.existsSync("/usr/bin/curl")) this.skip();
            const { caller } = callerWith({ taskEnvironment: { ...TASK_ENVIRONMENT, AWS_SECRET_ACCESS_KEY: "task-secret", AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/x" } });
            const { result } = await submitShellJob(caller, searchJob(), fastPolling);
            const out = result.commands[0].stdout;
            assert.equal(result.status, "succeeded", JSON.stringify(result.commands[0]));
            assert.match(out, /^found: none$/m, out);
            for (const entry of ["environ", "maps", "mem", "fd"]) assert.match(out, new RegExp(`^runner ${entry}: denied$`, "m"), out);
            assert.match(out, /^anonymous 403$/m, "S3 refuses an unsigned PUT");
            assert.match(out, /^made-up signature 403$/m, "and one with a signature that does not verify");
            const [uid, gid, names] = out.trim().split("\n").slice(-3);
            assert.deepEqual([Number(uid), Number(gid)], [JOB_UID, JOB_UID]);
            assert.deepEqual(names.trim().split(" "), ["BUCKET_NAME", "HOME", "PATH", "S3_ENDPOINT", "SECRET_HEAD", "SECRET_TAIL", "SHELL_JOB_ID", "SHELL_JOB_WORKDIR", "TMPDIR"], "nothing of the runner's environment but PATH");
            assert.deepEqual(result.commands.map((c) => c.exitCode), [0, 0], "the result the caller accepted is the runner's, with both commands");
            await assertBucketEmpty();
        });

        it("(the search works: with the dev-only same-user mode it finds the runner's URLs in /proc/<ppid>/environ)", async function () {
            if (!fs.existsSync("/usr/bin/curl")) this.skip();
            const { caller } = callerWith({ alterEnvironment: (env) => ({ ...env, [RUNNER_ENV.isolation]: "same-user-dev-only" }) });
            const { result } = await submitShellJob(caller, searchJob(), fastPolling);
            assert.match(result.commands[0].stdout, /^found: (.* )?\/proc\/\d+\/environ/m);
            assert.match(result.commands[0].stdout, /^runner environ: readable$/m);
            await assertBucketEmpty();
        });

        it("refuses to run commands when it cannot switch users, naming what is missing", async function () {
            const { caller } = callerWith({ alterEnvironment: (env) => ({ ...env, [RUNNER_ENV.jobUid]: "0" }) });
            await assert.rejects(submitShellJob(caller, { commands: [{ run: "echo never" }] }, fastPolling), (err: ShellJobError) => {
                assert.equal(err.code, "RUNNER_MISCONFIGURED");
                assert.match(err.message, /The job user \(SHELL_JOB_UID=0\) is the runner's own uid/);
                return true;
            });
            if (!fs.existsSync("/usr/sbin/capsh") && !fs.existsSync("/sbin/capsh")) return;
            const jobId = "runner-without-capabilities";
            const env = { PATH: process.env.PATH!, ...JOB_USER_ENV, [OVERRIDE_ENV.legacyJobB64]: Buffer.from(JSON.stringify({ jobId, commands: [{ run: "echo never" }] })).toString("base64"), [OVERRIDE_ENV.resultPutUrl]: await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }), { expiresIn: 900 }) };
            const child = spawn("capsh", ["--drop=cap_setuid,cap_setgid", "--", "-c", `exec "${process.execPath}" "${runnerEntrypoint()}"`], { env, stdio: ["ignore", "ignore", "pipe"] });
            const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
            assert.equal(code, 1);
            const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }));
            const result = JSON.parse(await response.Body!.transformToString()) as ShellJobResult;
            await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: jobResultKey(jobId) }));
            assert.equal(result.error?.code, "RUNNER_MISCONFIGURED");
            assert.match(result.error!.message, /cannot run job commands as uid \d+: it lacks CAP_SETGID, CAP_SETUID/);
            assert.deepEqual(result.commands, []);
        });
    });

    describe("caller against S3 faults", () => {
        it("submits once when the answer to its conditional PUT was lost after the write landed (412 on the retry is its own write)", async () => {
            const { caller, ecs } = callerWith();
            proxy.inject({ method: "PUT", path: "/shell-jobs/", fault: { kind: "lose-answer" } });
            const { job, result } = await submitShellJob(caller, { commands: [{ run: "echo once" }] }, fastPolling);
            assert.equal(result.commands[0].stdout, "once\n");
            const puts = proxy.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/shell-jobs/${job.jobId}.json`));
            assert.deepEqual(puts.map((r) => [r.fault, r.upstreamStatus, r.status]), [["lose-answer", 200, undefined], [undefined, undefined, 412]], "the write landed, its answer was lost, the retry met our own object");
            assert.equal(ecs.calls.length, 1);
            await assertBucketEmpty();
        });

        it("still refuses a job id that another job's request holds", async () => {
            const { caller, ecs } = callerWith({ startDelayMs: 300 });
            const first = await startShellJob(caller, { jobId: "taken-id", commands: [{ run: "echo first" }] });
            proxy.inject({ method: "PUT", path: "/shell-jobs/taken-id.json", fault: { kind: "lose-answer" } });
            await assert.rejects(startShellJob(caller, { jobId: "taken-id", commands: [{ run: "echo second" }] }), (err: ShellJobError) => {
                assert.equal(err.code, "TASK_NOT_STARTED");
                assert.match(err.message, /Shell job id taken-id is already in use/);
                return true;
            });
            assert.equal(ecs.calls.length, 1);
            const result = await waitForShellJobResult(caller, first, fastPolling);
            assert.equal(result.commands[0].stdout, "first\n", "the first job's request was not replaced");
            await assertBucketEmpty();
        });

        it("deletes the job's objects only after reading the result in full: short, reset, cut and 503 reads are retried, deletes too", async () => {
            const { caller } = callerWith({ waitForRunner: true });
            const job = await startShellJob(caller, { commands: [{ run: "printf '%s' \"$(head -c 3000 /dev/zero | tr '\\0' r)\"" }] });
            const resultPath = `/shell-results/${job.jobId}.json`;
            for (const fault of [{ kind: "short-content-length", bytes: 100 }, { kind: "reset-response", afterBytes: 200 }, { kind: "early-fin", afterBytes: 300 }, { kind: "status", status: 503 }, { kind: "drip", chunkBytes: 500, intervalMs: 5 }] as const) {
                proxy.inject({ method: "GET", path: resultPath, fault });
            }
            proxy.inject({ method: "DELETE", path: resultPath, fault: { kind: "status", status: 503 } });
            const result = await waitForShellJobResult(caller, job, fastPolling);
            assert.equal(result.commands[0].stdout, "r".repeat(3000));
            const seen = proxy.requests.filter((r) => r.path.endsWith(resultPath) && r.method !== "PUT");
            const lastGet = seen.map((r) => r.method).lastIndexOf("GET");
            const firstDelete = seen.map((r) => r.method).indexOf("DELETE");
            assert.ok(firstDelete > lastGet, `no DELETE before the last (complete) GET: ${seen.map((r) => `${r.method}:${r.fault ?? r.status}`).join(" ")}`);
            assert.deepEqual(seen.filter((r) => r.method === "GET").map((r) => r.fault), ["short-content-length", "reset-response", "early-fin", "status", "drip"], "four bad reads, then the dripped one was complete");
            await assertBucketEmpty();
        });

        it("keeps a result it could not read in full by the deadline (RESULT_UNREADABLE, nothing deleted), and collects it later", async () => {
            const { caller } = callerWith({ waitForRunner: true });
            const job = await startShellJob(caller, { commands: [{ run: "echo kept" }] });
            proxy.inject({ method: "GET", path: `/shell-results/${job.jobId}.json`, times: Infinity, fault: { kind: "short-content-length", bytes: 40 } });
            await assert.rejects(waitForShellJobResult(caller, job, { ...fastPolling, deadline: new Date(Date.now() + 1500) }), (err: ShellJobError) => {
                assert.equal(err.code, "RESULT_UNREADABLE");
                assert.match(err.message, /could not be read in full by the deadline .* not complete JSON \(it ends before the JSON value is complete, 40 byte\(s\)\)\)\. Nothing was deleted/);
                return true;
            });
            assert.equal(proxy.requests.filter((r) => r.method === "DELETE" && r.path.includes(job.jobId)).length, 0, "nothing of the job was deleted");
            assert.deepEqual(await keysUnder(JOB_RESULT_PREFIX), [`shell-results/${job.jobId}.json`], "the good result is still there");
            proxy.clearFaults();
            const result = await collectShellJobResult(caller, job);
            assert.equal(result?.commands[0].stdout, "kept\n");
            await assertBucketEmpty();
        });

        it("reports a result over the budget as RESULT_TOO_LARGE, not RESULT_MISSING, and leaves it in place", async () => {
            const { caller } = callerWith();
            const handle = shellJobHandle(caller, "too-large-result", new Date());
            await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: handle.resultKey, Body: Buffer.alloc(MAX_JOB_RESULT_BYTES + 1, 0x20) }));
            await assert.rejects(waitForShellJobResult(caller, handle, { ...fastPolling, deadline: new Date(Date.now() + 5000) }), (err: ShellJobError) => {
                assert.equal(err.code, "RESULT_TOO_LARGE");
                assert.match(err.message, new RegExp(`is ${MAX_JOB_RESULT_BYTES + 1} bytes, over the ${MAX_JOB_RESULT_BYTES}`));
                return true;
            });
            assert.deepEqual(await keysUnder(JOB_RESULT_PREFIX), [handle.resultKey]);
            await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: handle.resultKey }));
        });

        it("never quotes an unparsable result in its error", async () => {
            const { caller } = callerWith();
            const handle = shellJobHandle(caller, "unparsable-result", new Date());
            await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: handle.resultKey, Body: '{"stdout":"DB_PASSWORD=hunter2-secret" oops' }));
            await assert.rejects(waitForShellJobResult(caller, handle, { ...fastPolling, deadline: new Date(Date.now() + 500) }), (err: ShellJobError) => {
                assert.equal(err.code, "RESULT_UNREADABLE");
                assert.doesNotMatch(err.message, /hunter2|oops|DB_PASSWORD/);
                return true;
            });
            await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: handle.resultKey }));
        });

        it("refuses non-base64 content under encoding base64 before storing anything", async () => {
            const { caller, ecs } = callerWith();
            await assert.rejects(startShellJob(caller, { files: [{ path: "ok.bin", content: "aGVsbG8=", encoding: "base64" }, { path: "bad.bin", content: "aGVsbG8=!!", encoding: "base64" }], commands: [{ run: "true" }] }), (err: ShellJobError) => {
                assert.equal(err.code, "MALFORMED_REQUEST");
                assert.match(err.message, /files\.1\.content: base64/);
                assert.doesNotMatch(err.message, /files\.0/);
                return true;
            });
            assert.equal(ecs.calls.length, 0);
            await assertBucketEmpty();
        });
    });

    it("refuses polling settings that would hammer S3 before sending a single request", async () => {
        let requests = 0;
        const counting = { send: async () => void requests++ } as unknown as S3Client;
        const caller: ShellJobCaller = { s3: counting, ecs: { send: async () => assert.fail("no RunTask") }, target: target() };
        const handle = shellJobHandle(caller, "poll-settings", new Date());
        for (const options of [{ initialPollMs: 0 }, { initialPollMs: -5 }, { initialPollMs: 500, maxPollMs: 100 }, { deadline: new Date(Number.NaN) }]) {
            await assert.rejects(waitForShellJobResult(caller, handle, options), (err: ShellJobError) => err.code === "CALLER_MISCONFIGURED", JSON.stringify(options));
        }
        assert.equal(requests, 0);
    });

    it("reads the executor's coordinates from the caller's environment and names every bad variable", () => {
        const good = {
            [CALLER_ENV.clusterArn]: "arn:aws:ecs:us-east-1:123456789012:cluster/jobfleet-staging-shell-executor",
            [CALLER_ENV.taskDefinition]: "arn:aws:ecs:us-east-1:123456789012:task-definition/jobfleet-staging-shell-executor:7",
            [CALLER_ENV.containerName]: "runner",
            [CALLER_ENV.subnets]: "subnet-0a1,subnet-0b2",
            [CALLER_ENV.securityGroup]: "sg-0c3",
            [CALLER_ENV.bucket]: "jobfleet-staging-shell-jobs-1a2b",
            [CALLER_ENV.urlTtlSeconds]: "900",
        };
        assert.deepEqual(shellExecutorTargetFromEnv(good).subnets, ["subnet-0a1", "subnet-0b2"]);
        assert.throws(
            () => shellExecutorTargetFromEnv({ ...good, [CALLER_ENV.subnets]: "", [CALLER_ENV.clusterArn]: "my-cluster" }),
            (err: ShellJobError) => {
                assert.equal(err.code, "CALLER_MISCONFIGURED");
                assert.match(err.message, /SHELL_EXECUTOR_CLUSTER_ARN: an ECS cluster ARN/);
                assert.match(err.message, /SHELL_EXECUTOR_SUBNETS: at least one subnet id/);
                return true;
            },
        );
    });
});
