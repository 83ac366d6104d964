import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { RunTaskCommand } from "@aws-sdk/client-ecs";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
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
import { CALLER_ENV, CONTRACT_VERSION, JOB_REQUEST_PREFIX, JOB_RESULT_PREFIX, jobResultKey, MAX_JOB_REQUEST_BYTES, OVERRIDE_ENV, RUNNER_ENV, ShellJobResult } from "../runtime/shellJob/contract";
import { ShellJobError } from "../runtime/shellJob/errors";
import { LocalRunTask, LocalRunTaskOptions } from "../runtime/shellJob/localRunTask";
import { runCommand, runShellJob } from "../runtime/shellJob/runner";

// s3rver ships no typings; this is the part of its API the tests use.
interface S3rverServer {
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverServer;

const BUCKET = "shell-executor-jobs-test";
const CONTAINER = "runner";
const TASK_ENVIRONMENT = { [RUNNER_ENV.commandTimeoutSeconds]: "30", [RUNNER_ENV.maxOutputBytes]: "65536" };
const RUNNER_MAIN = path.resolve(__dirname, "../runtime/shellJob/runnerMain.ts");

/**
 * The contract end to end on loopback: s3rver stands in for S3 (it serves presigned URLs and
 * enforces their expiry, but does not check signatures, ignores If-None-Match and has no lifecycle
 * rules: those are tested at the request the caller sends, and in the infrastructure test), and
 * LocalRunTask stands in for ECS by starting runnerMain.ts as a real child process with the
 * environment the caller built.
 */
describe("shell job contract (caller, runner) against s3rver on loopback", function () {
    this.timeout(60_000);
    let server: S3rverServer;
    let storeDir: string;
    let endpoint: string;
    let s3: S3Client;
    let launchers: LocalRunTask[] = [];

    before(async () => {
        storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "shell-job-s3rver-"));
        server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: storeDir, configureBuckets: [{ name: BUCKET }] });
        const address = await server.run();
        endpoint = `http://127.0.0.1:${address.port}`;
        s3 = s3Client();
    });

    after(async () => {
        await server?.close();
        fs.rmSync(storeDir, { recursive: true, force: true });
    });

    afterEach(async () => {
        for (const launcher of launchers) launcher.stopAll();
        await Promise.all(launchers.map((l) => l.settled().catch(() => undefined)));
        launchers = [];
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
        return { caller: { s3, ecs, target: target(targetOverrides), warn: (m) => warnings.push(m) }, ecs, warnings };
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
        assert.deepEqual(override.environment!.map((e) => e.name), [OVERRIDE_ENV.contractVersion, OVERRIDE_ENV.jobGetUrl, OVERRIDE_ENV.resultPutUrl]);
        assert.equal(override.environment![0].value, CONTRACT_VERSION);
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
        const urls = ecs.calls[0].overrides!.containerOverrides![0].environment!.filter((e) => e.name !== OVERRIDE_ENV.contractVersion).map((e) => new URL(e.value!));
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
            return { PATH: process.env.PATH, [OVERRIDE_ENV.legacyJobB64]: Buffer.from(JSON.stringify(job)).toString("base64"), [OVERRIDE_ENV.resultPutUrl]: putUrl, ...extra };
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
            assert.equal(Buffer.byteLength(result.commands[0].stdout) + Buffer.byteLength(result.commands[0].stderr), 1000);
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
            const child = spawn(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), RUNNER_MAIN], { env, stdio: ["ignore", "ignore", "pipe"] });
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
