import * as fs from "fs";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { buildJobRequest, createShellJobS3Client, legacyOverrides, overridesSize, presignedOverrides, ShellExecutorTarget, ShellJobCaller, ShellJobTransport, submitShellJob } from "../runtime/shellJob/caller";
import { ECS_OVERRIDES_LIMIT_BYTES, MAX_JOB_REQUEST_BYTES, RUNNER_ENV } from "../runtime/shellJob/contract";
import { LocalRunTask } from "../runtime/shellJob/localRunTask";

/**
 * Seed 000 in numbers: the largest job request each transport can carry, and what the S3 path
 * adds to a job's latency on loopback (s3rver for S3, the runner in-process for ECS, so that only
 * the contract's own work is measured: presign, upload, read through the URL, delete).
 *
 * Run alone: npx ts-node --transpile-only bench/shellJob.ts
 */

interface S3rverServer {
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverServer;

const BUCKET = "jobfleet-prod-shell-executor-jobs-0b95c7d5";
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);

function target(): ShellExecutorTarget {
    return {
        clusterArn: "arn:aws:ecs:us-east-1:444455556666:cluster/jobfleet-prod-shell-executor",
        taskDefinition: "arn:aws:ecs:us-east-1:444455556666:task-definition/jobfleet-prod-shell-executor:12",
        containerName: "runner",
        subnets: ["subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e5f6071829", "subnet-2c3d4e5f607182930"],
        securityGroup: "sg-0a1b2c3d4e5f60718",
        bucket: BUCKET,
        urlTtlSeconds: 900,
    };
}

/** A Lambda's credentials are temporary: the session token (about 1 KB here) rides in every presigned URL. */
function lambdaLikeClient(): S3Client {
    return createShellJobS3Client({
        region: "us-east-1",
        credentials: { accessKeyId: "ASIAEXAMPLEEXAMPLE12", secretAccessKey: "x".repeat(40), sessionToken: "IQoJb3JpZ2luX2VjE".padEnd(1100, "A") },
    });
}

async function urlsFor(s3: S3Client, jobId: string): Promise<{ get: string; put: string }> {
    return {
        get: await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: `shell-jobs/${jobId}.json` }), { expiresIn: 900 }),
        put: await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: `shell-results/${jobId}.json` }), { expiresIn: 900 }),
    };
}

/** Largest request (JSON bytes) whose legacy overrides fit ECS's 8192, by bisection on a command's length. */
async function largestLegacyRequest(s3: S3Client): Promise<{ requestBytes: number; overridesBytes: number }> {
    const jobId = "0f8e3c52-6a1d-4b8e-9a43-3f2d1c0b9e87";
    const { put } = await urlsFor(s3, jobId);
    const sized = (n: number) => {
        const request = buildJobRequest({ jobId, commands: [{ run: "x".repeat(n) }] });
        return { requestBytes: Buffer.byteLength(JSON.stringify(request)), overridesBytes: overridesSize(legacyOverrides(target(), request, put)) };
    };
    let low = 1;
    let high = ECS_OVERRIDES_LIMIT_BYTES;
    while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        if (sized(mid).overridesBytes <= ECS_OVERRIDES_LIMIT_BYTES) low = mid;
        else high = mid - 1;
    }
    return sized(low);
}

function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function fmt(ms: number): string {
    return ms.toFixed(2);
}

async function main(): Promise<void> {
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-shell-job-"));
    const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: storeDir, configureBuckets: [{ name: BUCKET }] });
    const { port } = await server.run();
    try {
        const loopbackS3 = createShellJobS3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
        const caller = (): ShellJobCaller => ({
            s3: loopbackS3,
            ecs: new LocalRunTask({ containerName: "runner", mode: "in-process", waitForRunner: true, taskEnvironment: { [RUNNER_ENV.commandTimeoutSeconds]: "60", [RUNNER_ENV.maxOutputBytes]: "65536" } }),
            target: target(),
        });

        // 1. Capacity.
        const lambdaS3 = lambdaLikeClient();
        const legacyLambda = await largestLegacyRequest(lambdaS3);
        const legacyNoToken = await largestLegacyRequest(createShellJobS3Client({ region: "us-east-1", credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE12", secretAccessKey: "x".repeat(40) } }));
        const lambdaUrls = await urlsFor(lambdaS3, "0f8e3c52-6a1d-4b8e-9a43-3f2d1c0b9e87");
        const presignedLambdaBytes = overridesSize(presignedOverrides(target(), lambdaUrls.get, lambdaUrls.put));

        const bigPayload = "y".repeat(MAX_JOB_REQUEST_BYTES - 4096);
        const bigStart = performance.now();
        const big = await submitShellJob(caller(), { files: [{ path: "payload", content: bigPayload }], commands: [{ run: "wc -c < payload" }] }, { initialPollMs: 1, maxPollMs: 50 });
        const bigMs = performance.now() - bigStart;
        if (big.result.status !== "succeeded" || big.result.commands[0].stdout.trim() !== String(bigPayload.length)) throw new Error(`the near-limit S3 job did not round-trip: ${JSON.stringify(big.result.error ?? big.result.commands[0])}`);

        process.stdout.write("Largest job request each transport carries (request JSON, bytes):\n\n");
        process.stdout.write("| transport | largest request | limited by | RunTask overrides |\n| --- | ---: | --- | ---: |\n");
        process.stdout.write(`| legacy SHELL_EXECUTOR_JOB_B64, Lambda credentials (1.1 KB session token in the result URL) | ${legacyLambda.requestBytes} | ECS overrides ${ECS_OVERRIDES_LIMIT_BYTES} | ${legacyLambda.overridesBytes} |\n`);
        process.stdout.write(`| legacy SHELL_EXECUTOR_JOB_B64, long-term keys (no session token) | ${legacyNoToken.requestBytes} | ECS overrides ${ECS_OVERRIDES_LIMIT_BYTES} | ${legacyNoToken.overridesBytes} |\n`);
        process.stdout.write(`| presigned URL (contract 2025-12-29), Lambda credentials | ${MAX_JOB_REQUEST_BYTES} | runner's read cap (MAX_JOB_REQUEST_BYTES) | ${presignedLambdaBytes} (any request size) |\n\n`);
        process.stdout.write(`S3 path at the cap: a ${big.job.requestBytes}-byte request round-tripped on loopback in ${fmt(bigMs)} ms (upload ${fmt(big.job.timings.uploadMs)} ms). The S3 path carries ${Math.floor(MAX_JOB_REQUEST_BYTES / legacyLambda.requestBytes)}x the legacy path's largest request.\n\n`);

        // 2. Latency per job.
        const measure = async (transport: ShellJobTransport, requestBytes: number) => {
            const filler = "z".repeat(Math.max(0, requestBytes - 200));
            const samples: number[] = [];
            const uploads: number[] = [];
            const cleanups: number[] = [];
            for (let i = 0; i < ITERATIONS + 3; i++) {
                const start = performance.now();
                const { job, result } = await submitShellJob(caller(), { commands: [{ run: "true", ...(filler ? { stdin: filler } : {}) }] }, { transport, initialPollMs: 1, maxPollMs: 20 });
                const elapsed = performance.now() - start;
                if (result.status !== "succeeded") throw new Error(`job failed: ${JSON.stringify(result)}`);
                if (i < 3) continue; // warm-up
                samples.push(elapsed);
                uploads.push(job.timings.uploadMs);
                cleanups.push(job.timings.cleanupMs ?? 0);
            }
            const sorted = [...samples].sort((a, b) => a - b);
            const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
            return { median: percentile(sorted, 50), p90: percentile(sorted, 90), upload: median(uploads), cleanup: median(cleanups) };
        };

        process.stdout.write(`Latency per job on loopback (${ITERATIONS} jobs each after 3 warm-ups; runner in-process, one \`true\` command; ms):\n\n`);
        process.stdout.write("| request | legacy median | legacy p90 | S3 median | S3 p90 | added by S3 (median) | S3 upload | S3 cleanup |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (const size of [1024, 4096]) {
            const legacy = await measure("legacy-env", size);
            const s3 = await measure("presigned-url", size);
            process.stdout.write(`| ${size} B | ${fmt(legacy.median)} | ${fmt(legacy.p90)} | ${fmt(s3.median)} | ${fmt(s3.p90)} | ${fmt(s3.median - legacy.median)} | ${fmt(s3.upload)} | ${fmt(s3.cleanup)} |\n`);
        }
        for (const size of [1024 * 1024, 10 * 1024 * 1024]) {
            const s3 = await measure("presigned-url", size);
            process.stdout.write(`| ${size / 1024 / 1024} MiB | (does not fit) | | ${fmt(s3.median)} | ${fmt(s3.p90)} | | ${fmt(s3.upload)} | ${fmt(s3.cleanup)} |\n`);
        }
    } finally {
        await server.close();
        fs.rmSync(storeDir, { recursive: true, force: true });
    }
}

main().catch((err: unknown) => {
    process.stderr.write(`bench/shellJob.ts failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
