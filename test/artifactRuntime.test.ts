import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { main as artifactsCli } from "../scripts/artifacts";
import { S3rverProcess, startS3rver } from "./artifactS3rver";
import { S3FaultProxy, startS3FaultProxy } from "./support/s3FaultProxy";
import type { RetryPolicy } from "../runtime/retry";
import {
    ArtifactExistsError,
    ArtifactNotFoundError,
    ArtifactTransportError,
    ArtifactVerificationError,
    BuildInfo,
    createArtifactS3Client,
    isTransientS3Failure,
    digestFile,
    formatBuildTime,
    planCleanup,
    publishArtifact,
    resolveArtifact,
    runCleanup,
    verifyArtifact,
} from "../runtime/artifacts";

const BUCKET = "jobfleet-artifacts-test";
const APP = "express-api";
const FILE = "express-api-deployment.tar.gz";
const SAMPLE = path.resolve(__dirname, "..", "artifacts", FILE);
const NOW = new Date("2025-09-01T12:00:00Z");
const DAY = 86_400_000;

interface RecordedRequest {
    command: string;
    headers: Record<string, string>;
    /** The attempt failed in a way the retry policy retries (5xx, reset, truncated answer). */
    transient?: boolean;
}

function sha(n: number): string {
    return n.toString(16).padStart(8, "0").repeat(5);
}

function build(n: number, daysOld: number, extra: Partial<BuildInfo> = {}): BuildInfo {
    return { commitSha: sha(n), branch: "main", buildTime: formatBuildTime(new Date(NOW.getTime() - daysOld * DAY)), workflowRunId: String(1000 + n), prNumber: "", ...extra };
}

/** Short bounds so that a test that exhausts its retries ends in well under a second or two. */
const FAST: RetryPolicy = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 40, attemptTimeoutMs: 1_500 };

/**
 * The artifact runtime and CLI end to end on loopback, through the project's fault-injecting S3
 * proxy (test/support/s3FaultProxy.ts) in front of s3rver. s3rver answers real S3 HTTP (listing
 * with continuation tokens, DeleteObjects, metadata) but ignores If-None-Match, checks and keeps
 * no SHA-256 checksum, has no key-length limit and writes non-atomically; the proxy adds those S3
 * behaviours (412 atomically per key, x-amz-checksum-sha256 checked and returned with checksum
 * mode, 1,024-byte keys) and injects the faults: 5xx and SlowDown, resets mid-request and
 * mid-response, early FIN, short Content-Length, dripped bodies, black holes, lost answers.
 * Lifecycle rules are asserted on the bucket resource in previewEnvironment.test.ts. s3rver runs
 * in a child process (see artifactS3rver.ts: its continuation tokens need DES).
 */
describe("artifact runtime and CLI through the fault proxy in front of s3rver on loopback", function () {
    this.timeout(30_000);
    let server: S3rverProcess;
    let proxy: S3FaultProxy;
    let workDir: string;
    let endpoint: string;
    let s3: S3Client;
    let requests: RecordedRequest[] = [];

    function recordingClient(): S3Client {
        const client = createArtifactS3Client({ endpoint, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
        client.middlewareStack.add(
            (next, context) => async (args) => {
                const request = args.request as { headers: Record<string, string>; path: string };
                const record: RecordedRequest = { command: String(context.commandName), headers: { ...request.headers } };
                requests.push(record);
                try {
                    return await next(args);
                } catch (err) {
                    record.transient = isTransientS3Failure(err);
                    throw err;
                }
            },
            { step: "finalizeRequest", name: "recordRequests" },
        );
        return client;
    }

    /**
     * One entry per operation. Retries of a request are folded (each attempt is its own SDK call
     * here, so by command and input): s3rver's DeleteObjects races on its own directory cleanup
     * and sometimes answers 500 to a batch, which the artifact retry policy retries.
     */
    function commands(): string[] {
        return requests.filter((r) => !r.transient).map((r) => r.command);
    }

    async function keys(prefix: string): Promise<string[]> {
        const all: string[] = [];
        let token: string | undefined;
        do {
            const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
            all.push(...(page.Contents ?? []).map((o) => o.Key!));
            token = page.NextContinuationToken;
        } while (token);
        return all.sort();
    }

    async function put(key: string, body: string | Buffer, metadata: Record<string, string> = {}): Promise<void> {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: metadata }));
    }

    function tempFile(name: string, content: string): string {
        const file = path.join(workDir, name);
        fs.writeFileSync(file, content);
        return file;
    }

    /** A versioned artifact of `files` objects with the given age, written directly. */
    async function seedArtifact(environment: string, n: number, daysOld: number, files = 1): Promise<string> {
        const b = build(n, daysOld);
        const prefix = `${APP}/${environment}/${b.commitSha.slice(0, 8)}-${b.buildTime}/`;
        await put(`${prefix}${FILE}`, `artifact ${n}`);
        for (let i = 1; i < files; i++) await put(`${prefix}extra-${i}.txt`, `extra ${i}`);
        return prefix;
    }

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "artifacts-work-"));
        server = await startS3rver([BUCKET]);
        proxy = await startS3FaultProxy({ upstream: server.endpoint });
        endpoint = proxy.endpoint;
        s3 = recordingClient();
    });

    after(async () => {
        s3?.destroy();
        await proxy?.close();
        await server?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    beforeEach(() => {
        requests = [];
    });
    afterEach(() => proxy.clearFaults());

    describe("publish", () => {
        it("uploads under {app}/{env}/{sha8}-{time}/{file} with If-None-Match: *, S3's SHA-256 header and seed 003's metadata", async () => {
            const b = build(1, 0, { prNumber: "51" });
            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-51", filePath: SAMPLE, build: b });
            const digest = await digestFile(SAMPLE);
            assert.equal(published.key, `express-api/pr-51/00000001-20250901-120000/${FILE}`);

            const put = requests.find((r) => r.command === "PutObjectCommand")!;
            assert.equal(put.headers["if-none-match"], "*", "the PUT must never replace an existing key");
            assert.equal(put.headers["x-amz-checksum-sha256"], digest.sha256Base64, "S3 checks the body against this and stores it");
            assert.deepEqual(
                Object.fromEntries(Object.entries(put.headers).filter(([h]) => h.startsWith("x-amz-meta-"))),
                {
                    "x-amz-meta-commit-sha": b.commitSha,
                    "x-amz-meta-branch": "main",
                    "x-amz-meta-build-time": "20250901-120000",
                    "x-amz-meta-workflow-run-id": "1001",
                    "x-amz-meta-pr-number": "51",
                    "x-amz-meta-sha256": digest.sha256Hex,
                },
            );
            const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: published.key }));
            assert.ok(Buffer.from(await stored.Body!.transformToByteArray()).equals(fs.readFileSync(SAMPLE)));
        });

        it("never overwrites: a second publish of the same build fails and the first bytes stay; a new build time is a new key", async () => {
            const b = build(2, 0);
            const first = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-52", filePath: SAMPLE, build: b });
            const other = tempFile("other.tar.gz", "different bytes");
            await assert.rejects(publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-52", filePath: other, build: b }), (err: unknown) => {
                assert.ok(err instanceof ArtifactExistsError);
                assert.match((err as Error).message, /already exists and artifacts are never overwritten/);
                return true;
            });
            const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: first.key }));
            assert.ok(Buffer.from(await stored.Body!.transformToByteArray()).equals(fs.readFileSync(SAMPLE)));

            const later = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-52", filePath: other, build: { ...b, buildTime: "20250901-120001" } });
            assert.notEqual(later.key, first.key);
            assert.deepEqual(await keys("express-api/pr-52/"), [first.key, later.key].sort());
        });

        it("checks its arguments before any request", async () => {
            await assert.rejects(publishArtifact({ client: s3, bucket: "Not_A_Bucket", app: APP, environment: "pr-1", filePath: SAMPLE, build: build(3, 0) }), /bucket must be an S3 bucket name/);
            await assert.rejects(publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-1", filePath: path.join(workDir, "missing.tar.gz"), build: build(3, 0) }), /does not exist/);
            await assert.rejects(publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-1", filePath: SAMPLE, build: { ...build(3, 0), commitSha: "abc" } }), /commit SHA must be a full 40-character/);
            assert.deepEqual(requests, []);
        });
    });

    describe("verify", () => {
        let key: string;
        let digest: { sha256Hex: string; size: number };
        before(async () => {
            requests = [];
            digest = await digestFile(SAMPLE);
            key = (await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "verify", filePath: SAMPLE, build: build(4, 0) })).key;
        });

        it("passes a faithful artifact, by S3's stored SHA-256 and by hashing the downloaded bytes", async () => {
            const expected = { sha256Hex: digest.sha256Hex, size: digest.size, build: { commitSha: sha(4) } };
            const verified = await verifyArtifact({ client: s3, bucket: BUCKET, key, expected });
            assert.equal(verified.contentCheckedBy, "s3-checksum");
            assert.equal(verified.sha256Hex, digest.sha256Hex);
            const downloaded = await verifyArtifact({ client: s3, bucket: BUCKET, key, expected, download: "always" });
            assert.equal(downloaded.contentCheckedBy, "download");
        });

        it("fails a tampered object: same size and metadata, one byte changed", async () => {
            const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
            const bytes = fs.readFileSync(SAMPLE);
            bytes[bytes.length - 1] ^= 0xff;
            await put(key, bytes, head.Metadata);
            await assert.rejects(verifyArtifact({ client: s3, bucket: BUCKET, key, expected: { sha256Hex: digest.sha256Hex, size: digest.size } }), (err: unknown) => {
                assert.ok(err instanceof ArtifactVerificationError);
                assert.deepEqual(err.differences.length, 1);
                assert.match(err.differences[0], /^checksum: S3's SHA-256 of the stored bytes is [0-9a-f]{64}, expected /);
                return true;
            });
            await assert.rejects(verifyArtifact({ client: s3, bucket: BUCKET, key, expected: { sha256Hex: digest.sha256Hex, size: digest.size }, download: "always" }), (err: unknown) => {
                assert.ok(err instanceof ArtifactVerificationError);
                assert.match(err.differences.join("\n"), /^content: the downloaded bytes hash to [0-9a-f]{64}, expected /m);
                return true;
            });
        });

        it("fails metadata that no longer matches the key, and a missing object, each with a clear message", async () => {
            const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
            await put(key, fs.readFileSync(SAMPLE), { ...head.Metadata, "commit-sha": sha(99) });
            await assert.rejects(verifyArtifact({ client: s3, bucket: BUCKET, key, expected: { sha256Hex: digest.sha256Hex } }), /commit-sha: metadata says "00000063.*", but the key names commit 00000004/);
            await assert.rejects(verifyArtifact({ client: s3, bucket: BUCKET, key: `${APP}/verify/nothing-here.tar.gz` }), (err: unknown) => err instanceof ArtifactNotFoundError && /does not exist/.test(err.message));
        });
    });

    describe("resolve", () => {
        it("returns the newest build by the time in its key, whatever the upload order", async () => {
            for (const [n, days] of [
                [10, 2],
                [11, 1],
                [12, 3],
            ]) {
                await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-70", filePath: SAMPLE, build: build(n, days) });
            }
            await put(`${APP}/pr-70/${FILE}`, "legacy bytes");
            const resolved = await resolveArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-70" });
            assert.equal(resolved.key, `${APP}/pr-70/0000000b-${build(11, 1).buildTime}/${FILE}`);
            assert.equal(resolved.legacy, false, "a versioned build wins over the legacy key");
        });

        it("falls back to seed 003's legacy key when the environment has no versioned build", async () => {
            await put(`${APP}/pr-71/${FILE}`, "legacy bytes");
            const resolved = await resolveArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-71" });
            assert.deepEqual([resolved.key, resolved.legacy], ["express-api/pr-71/express-api-deployment.tar.gz", true]);
        });

        it("says what it looked for when there is nothing", async () => {
            await assert.rejects(resolveArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-72" }), /No artifact express-api-deployment.tar.gz for express-api in environment pr-72 .*legacy express-api\/pr-72\/express-api-deployment.tar.gz \(the prefix is empty\)/);
        });
    });

    describe("cleanup", () => {
        it("keeps the newest N per environment and deletes every object of the others, leaving other environments and strays alone", async () => {
            const prefixes: string[] = [];
            for (let n = 0; n < 6; n++) prefixes.push(await seedArtifact("pr-80", 20 + n, n, 2));
            const neighbour = await seedArtifact("pr-81", 30, 30);
            await put(`${APP}/pr-80/notes.txt`, "not an artifact");

            const plan = await planCleanup({ client: s3, bucket: BUCKET, app: APP, environment: "pr-80", keep: 2, days: 0, now: NOW });
            assert.deepEqual(plan.deletions.map((a) => a.id).sort(), prefixes.slice(2).sort());
            assert.equal(plan.keysToDelete.length, 8);
            const result = await runCleanup({ client: s3, plan });
            assert.equal(result.deletedArtifacts, 4);
            assert.deepEqual(await keys(`${APP}/pr-80/`), [...prefixes.slice(0, 2).flatMap((p) => [`${p}extra-1.txt`, `${p}${FILE}`]), `${APP}/pr-80/notes.txt`].sort());
            assert.deepEqual(await keys(`${APP}/pr-81/`), [`${neighbour}${FILE}`]);
        });

        it("by age: deletes what is older than D days unless it is among the newest N", async () => {
            const ages = [1, 5, 9, 12];
            const prefixes: string[] = [];
            for (const [i, days] of ages.entries()) prefixes.push(await seedArtifact("pr-82", 40 + i, days));
            const plan = await planCleanup({ client: s3, bucket: BUCKET, app: APP, environment: "pr-82", keep: 1, days: 7, now: NOW });
            await runCleanup({ client: s3, plan });
            assert.deepEqual(await keys(`${APP}/pr-82/`), prefixes.slice(0, 2).map((p) => `${p}${FILE}`).sort());
        });

        it("a dry run reports the same plan and bytes but sends no delete", async () => {
            for (let n = 0; n < 4; n++) await seedArtifact("pr-83", 50 + n, 10 + n);
            const before = await keys(`${APP}/pr-83/`);
            requests = [];
            const plan = await planCleanup({ client: s3, bucket: BUCKET, app: APP, environment: "pr-83", keep: 1, days: 7, now: NOW });
            const result = await runCleanup({ client: s3, plan, dryRun: true });
            assert.equal(plan.deletions.length, 3);
            assert.equal(plan.bytesToReclaim, 3 * "artifact 5x".length);
            assert.deepEqual(result, { dryRun: true, deletedObjects: 0, deletedArtifacts: 0, bytesReclaimed: 0, deleteRequests: 0 });
            assert.deepEqual(commands(), ["ListObjectsV2Command"]);
            assert.deepEqual(await keys(`${APP}/pr-83/`), before);
        });

        it("never deletes the deployed artifact, however old, and refuses a plan edited to include it", async () => {
            const prefixes: string[] = [];
            for (let n = 0; n < 3; n++) prefixes.push(await seedArtifact("pr-84", 60 + n, 30 + n));
            const deployedKey = `${prefixes[2]}${FILE}`;
            const plan = await planCleanup({ client: s3, bucket: BUCKET, app: APP, environment: "pr-84", keep: 1, days: 1, deployedKeys: [deployedKey], now: NOW });
            assert.deepEqual(plan.deletions.map((a) => a.id), [prefixes[1]]);
            const edited = { ...plan, keysToDelete: [...plan.keysToDelete, deployedKey] };
            await assert.rejects(runCleanup({ client: s3, plan: edited }), /refusing to run a cleanup plan that deletes the deployed/);
            await runCleanup({ client: s3, plan });
            assert.deepEqual(await keys(`${APP}/pr-84/`), [`${prefixes[0]}${FILE}`, deployedKey].sort());
        });

        it("lists page by page and deletes in batches: one request per page and per batch", async () => {
            for (let n = 0; n < 25; n++) await seedArtifact("pr-85", 100 + n, 10 + n);
            requests = [];
            const plan = await planCleanup({ client: s3, bucket: BUCKET, app: APP, environment: "pr-85", keep: 0, days: 1, now: NOW, pageSize: 10 });
            const result = await runCleanup({ client: s3, plan, batchSize: 10 });
            assert.deepEqual(commands(), [...Array(3).fill("ListObjectsV2Command"), ...Array(3).fill("DeleteObjectsCommand")]);
            assert.deepEqual([plan.listRequests, result.deleteRequests, result.deletedObjects], [3, 3, 25]);
            assert.deepEqual(await keys(`${APP}/pr-85/`), []);
        });
    });

    describe("S3 faults: retried, bounded and told apart", () => {
        const objectPath = (key: string) => `/${BUCKET}/${key}`;

        it("publish retries 503 SlowDown and a connection reset mid-upload, re-reading the body: the stored bytes are the file's", async () => {
            const b = build(300, 0);
            const key = `${APP}/faults-1/${b.commitSha.slice(0, 8)}-${b.buildTime}/${FILE}`;
            const slow = proxy.inject({ method: "PUT", path: objectPath(key), times: 2, fault: { kind: "status", status: 503, code: "SlowDown" } });
            const reset = proxy.inject({ method: "PUT", path: objectPath(key), fault: { kind: "reset-request", afterBodyBytes: 100 } });
            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-1", filePath: SAMPLE, build: b, retry: FAST });
            assert.equal(published.key, key);
            assert.deepEqual([slow.hits, reset.hits], [2, 1]);
            assert.equal(requests.filter((r) => r.command === "PutObjectCommand").length, 4, "2 SlowDown, 1 reset, 1 success");
            const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
            assert.ok(Buffer.from(await stored.Body!.transformToByteArray()).equals(fs.readFileSync(SAMPLE)), "the retried upload sent the whole file again");
        });

        it("publish whose answer was lost after it landed: the retry's 412 is recognised by checksum and metadata as its own write", async () => {
            const b = build(301, 0);
            const key = `${APP}/faults-2/${b.commitSha.slice(0, 8)}-${b.buildTime}/${FILE}`;
            const lost = proxy.inject({ method: "PUT", path: objectPath(key), fault: { kind: "lose-answer" } });
            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-2", filePath: SAMPLE, build: b, retry: FAST });
            assert.equal(lost.hits, 1);
            assert.equal(published.recoveredLostAnswer, true);
            const puts = proxy.requests.filter((r) => r.method === "PUT" && r.path === objectPath(key));
            assert.deepEqual(
                puts.map((r) => [r.upstreamStatus, r.status]),
                [
                    [200, undefined],
                    [undefined, 412],
                ],
                "the first PUT landed (s3rver answered 200) but its answer was lost; the retry was refused by If-None-Match",
            );
            const verified = await verifyArtifact({ client: s3, bucket: BUCKET, key, expected: { sha256Hex: published.sha256Hex, size: published.size }, retry: FAST });
            assert.equal(verified.contentCheckedBy, "s3-checksum");
        });

        it("a lost answer does not make someone else's object ours: other content under the key is still ArtifactExistsError", async () => {
            const b = build(302, 0);
            const key = `${APP}/faults-3/${b.commitSha.slice(0, 8)}-${b.buildTime}/${FILE}`;
            // Another writer's object lands first (through the proxy, as S3 would store it); our first attempt's answer is lost.
            await put(key, "someone else's build", { sha256: "0".repeat(64) });
            proxy.inject({ method: "PUT", path: objectPath(key), fault: { kind: "lose-answer" } });
            await assert.rejects(publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-3", filePath: SAMPLE, build: b, retry: FAST }), ArtifactExistsError);
        });

        it("verify retries a reset, an early FIN, a short Content-Length and 5xx on HEAD, and then checks the real bytes", async () => {
            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-4", filePath: SAMPLE, build: build(303, 0), retry: FAST });
            const p = objectPath(published.key);
            proxy.inject({ method: "HEAD", path: p, fault: { kind: "status", status: 500 } });
            proxy.inject({ method: "GET", path: p, fault: { kind: "reset-response", afterBytes: 100 } });
            proxy.inject({ method: "GET", path: p, fault: { kind: "early-fin", afterBytes: 300 } });
            const short = proxy.inject({ method: "GET", path: p, fault: { kind: "short-content-length", bytes: 200 } });
            const verified = await verifyArtifact({ client: s3, bucket: BUCKET, key: published.key, expected: { sha256Hex: published.sha256Hex, size: published.size }, download: "always", retry: FAST });
            assert.equal(verified.contentCheckedBy, "download");
            assert.equal(short.hits, 1);
            assert.equal(proxy.requests.filter((r) => r.method === "GET" && r.path === p).length, 4);
        });

        it("a transport failure during verify is a transport failure, never tampering: truncated answers to the end, a black hole", async () => {
            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-5", filePath: SAMPLE, build: build(304, 0), retry: FAST });
            const p = objectPath(published.key);
            const expected = { sha256Hex: published.sha256Hex, size: published.size };
            proxy.inject({ method: "GET", path: p, times: Infinity, fault: { kind: "short-content-length", bytes: 10 } });
            await assert.rejects(verifyArtifact({ client: s3, bucket: BUCKET, key: published.key, expected, download: "always", retry: FAST }), (err: unknown) => {
                assert.ok(err instanceof ArtifactTransportError, `a transport error, not ${String(err)}`);
                assert.ok(!(err instanceof ArtifactVerificationError));
                assert.equal(err.attempts, FAST.maxAttempts);
                assert.match(err.message, /GetObject s3:\/\/.*: S3 gave no usable answer after 4 attempt\(s\).*(received 10 of 797 bytes|Checksum mismatch).*not a finding about the object/);
                return true;
            });
            proxy.clearFaults();
            proxy.inject({ method: "HEAD", path: p, times: Infinity, fault: { kind: "black-hole" } });
            const policy = { ...FAST, maxAttempts: 2, attemptTimeoutMs: 300 };
            const started = Date.now();
            await assert.rejects(verifyArtifact({ client: s3, bucket: BUCKET, key: published.key, expected, retry: policy }), ArtifactTransportError);
            const bound = policy.maxAttempts * policy.attemptTimeoutMs + (policy.maxAttempts - 1) * policy.maxDelayMs;
            assert.ok(Date.now() - started < bound + 2_000, `a stalled HEAD gives up within its bound (${bound} ms) instead of hanging`);
        });

        it("the client's own socket timeout cuts a stalled connection even when the attempt timeout is long", async () => {
            const stalling = createArtifactS3Client({ endpoint, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, socketIdleTimeoutMs: 300 });
            try {
                proxy.inject({ method: "HEAD", path: `/${BUCKET}/${APP}/faults-9/`, times: Infinity, fault: { kind: "black-hole" } });
                const started = Date.now();
                const policy = { ...FAST, maxAttempts: 2, attemptTimeoutMs: 20_000 };
                await assert.rejects(verifyArtifact({ client: stalling, bucket: BUCKET, key: `${APP}/faults-9/k`, retry: policy }), (err: unknown) => {
                    assert.ok(err instanceof ArtifactTransportError, String(err));
                    assert.equal(err.attempts, 2);
                    return true;
                });
                assert.ok(Date.now() - started < 5_000, `both attempts were cut by the 300 ms socket timeout, not the 20 s attempt timeout (${Date.now() - started} ms)`);
            } finally {
                stalling.destroy();
            }
        });

        it("a dripped body within the attempt timeout is simply slow, not a failure", async () => {
            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-6", filePath: SAMPLE, build: build(305, 0), retry: FAST });
            proxy.inject({ method: "GET", path: objectPath(published.key), fault: { kind: "drip", chunkBytes: 200, intervalMs: 20 } });
            const verified = await verifyArtifact({ client: s3, bucket: BUCKET, key: published.key, expected: { sha256Hex: published.sha256Hex }, download: "always", retry: FAST });
            assert.equal(verified.contentCheckedBy, "download");
        });

        it("resolve and cleanup retry listings cut short (truncated XML, resets, SlowDown) and a failed DeleteObjects", async () => {
            const prefixes: string[] = [];
            for (let n = 0; n < 4; n++) prefixes.push(await seedArtifact("faults-7", 310 + n, 20 + n));
            const list = `/${BUCKET}`;
            proxy.inject({ method: "GET", path: list, fault: { kind: "short-content-length", bytes: 120 } });
            proxy.inject({ method: "GET", path: list, fault: { kind: "early-fin", afterBytes: 80 } });
            proxy.inject({ method: "GET", path: list, fault: { kind: "status", status: 503, code: "SlowDown" } });
            const resolved = await resolveArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-7", retry: FAST });
            assert.equal(resolved.key, `${prefixes[0]}${FILE}`);

            proxy.inject({ method: "GET", path: list, fault: { kind: "reset-response", afterBytes: 50 } });
            const plan = await planCleanup({ client: s3, bucket: BUCKET, app: APP, environment: "faults-7", keep: 1, days: 0, now: NOW, retry: FAST });
            assert.equal(plan.deletions.length, 3);
            const failedDelete = proxy.inject({ method: "POST", path: list, fault: { kind: "status", status: 500 } });
            const result = await runCleanup({ client: s3, plan, retry: FAST });
            assert.equal(failedDelete.hits, 1);
            assert.deepEqual([result.deletedArtifacts, result.deleteRequests], [3, 1]);
            assert.deepEqual(await keys(`${APP}/faults-7/`), [`${prefixes[0]}${FILE}`]);
        });

        it("gives up within the bound when S3 keeps answering 503, with a transport error naming the request", async () => {
            proxy.inject({ method: "GET", path: `/${BUCKET}`, times: Infinity, fault: { kind: "status", status: 503, code: "SlowDown" } });
            await assert.rejects(resolveArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "faults-8", retry: FAST }), (err: unknown) => {
                assert.ok(err instanceof ArtifactTransportError);
                assert.match(err.message, /^ListObjectsV2 s3:\/\/jobfleet-artifacts-test\/express-api\/faults-8\/ \(page 1\): S3 gave no usable answer after 4 attempt\(s\).*SlowDown \(HTTP 503\)/);
                return true;
            });
        });
    });

    describe("CLI", () => {
        interface Run {
            code: number;
            stdout: string;
            stderr: string;
            clientsMade: number;
        }
        async function cli(args: string[], env: Record<string, string> = {}, signal?: AbortSignal): Promise<Run> {
            let stdout = "";
            let stderr = "";
            let clientsMade = 0;
            const code = await artifactsCli(args, {
                stdout: (t) => (stdout += t),
                stderr: (t) => (stderr += t),
                env,
                now: () => NOW,
                retry: FAST,
                signal,
                makeClient: (options) => {
                    clientsMade += 1;
                    assert.equal(options.endpoint, endpoint);
                    return s3;
                },
            });
            return { code, stdout, stderr, clientsMade };
        }
        const at = () => ["--bucket", BUCKET, "--endpoint", endpoint];

        it("prints help and exits 0; exits 2 with a clear message on bad arguments, before creating an S3 client", async () => {
            const help = await cli(["cleanup", "--help"]);
            assert.equal(help.code, 0);
            assert.match(help.stdout, /--keep <n>\s+newest artifacts kept per environment \(default: the stack's artifactKeepCount, else 5;/);
            const cases: Array<[string[], RegExp]> = [
                [[], /Usage: npm run artifacts -- <command>/],
                [["deploy"], /Unknown command "deploy"; expected one of publish, verify, resolve, cleanup/],
                [["cleanup", ...at(), "--kep", "3"], /Unknown option '--kep'/],
                [["cleanup", ...at(), "--keep", "three"], /--keep must be a whole number, 0 or more \(got "three"\)/],
                [["cleanup", ...at(), "--keep", "0", "--days", "0"], /keep and days are both 0/],
                [["cleanup", "--keep", "3"], /--bucket is required/],
                [["resolve", ...at(), "--pr", "51", "--env", "pr-52"], /--pr 51 means --env pr-51, but --env is pr-52/],
                [["resolve", ...at()], /--env \(or --pr\) is required/],
                [["publish", ...at(), "--pr", "51", "--file", SAMPLE], /build time is set but its commit is not: set --commit or the CI variable GITHUB_SHA/],
                [["publish", ...at(), "--pr", "51", "--file", "nope.tar.gz", "--commit", sha(1)], /--file "nope.tar.gz" does not exist/],
                [["verify", ...at(), "--key", "k", "--sha256", "xyz"], /--sha256 must be 64 lower-case hex characters/],
                [["verify", ...at(), "--key", "k", "--download", "sometimes"], /--download must be auto, always or never/],
                [["resolve", "--bucket", BUCKET, "--endpoint", "ftp://x", "--pr", "1"], /--endpoint must be an http\(s\) URL/],
            ];
            for (const [args, message] of cases) {
                const run = await cli(args);
                assert.equal(run.code, 2, `${args.join(" ")} exits 2`);
                assert.match(run.stderr, message, args.join(" "));
                assert.equal(run.clientsMade, 0, `${args.join(" ")} touches no S3`);
            }
        });

        it("publish, resolve, verify and a dry-run cleanup through the CLI", async () => {
            const ci = { GITHUB_SHA: sha(200), JOBFLEET_BUILD_TIME: "20250901-110000", GITHUB_REF_NAME: "main", GITHUB_RUN_ID: "555" };
            const published = await cli(["publish", ...at(), "--pr", "90", "--file", SAMPLE], ci);
            assert.equal(published.code, 0, published.stderr);
            const key = published.stdout.trim();
            assert.equal(key, `express-api/pr-90/000000c8-20250901-110000/${FILE}`);

            const resolved = await cli(["resolve", ...at(), "--env", "pr-90"]);
            assert.deepEqual([resolved.code, resolved.stdout.trim()], [0, key]);

            const verified = await cli(["verify", ...at(), "--key", key, "--file", SAMPLE, "--commit", sha(200), "--pr-number", "90"]);
            assert.equal(verified.code, 0, verified.stderr);
            assert.match(verified.stdout, /^OK s3:\/\/.* sha256 [0-9a-f]{64} \(content checked by s3-checksum\)/);
            const mismatch = await cli(["verify", ...at(), "--key", key, "--sha256", "0".repeat(64)]);
            assert.equal(mismatch.code, 1);
            assert.match(mismatch.stderr, /failed verification:\n  - sha256: metadata says [0-9a-f]{64}, expected 0{64}/);

            await seedArtifact("pr-90", 201, 20);
            // As `pulumi stack output --json` prints them: the bucket and the cleanup policy come from the stack.
            const outputs = tempFile("outputs.json", JSON.stringify({ artifactKey: key, artifactBucketName: BUCKET, artifactCleanupPolicy: { keep: 0, days: 7 }, previewUrl: "https://preview" }));
            const dry = await cli(["cleanup", "--endpoint", endpoint, "--pr", "90", "--stack-outputs", outputs, "--dry-run", "--json"]);
            assert.equal(dry.code, 0, dry.stderr);
            const report = JSON.parse(dry.stdout);
            assert.deepEqual([report.bucket, report.rules], [BUCKET, { keep: 0, days: 7 }]);
            assert.deepEqual(
                report.decisions.map((d: { delete: boolean; reasons: string[] }) => [d.delete, d.reasons[0].split(" ")[0]]),
                [
                    [false, "deployed"],
                    [true, "20.0"],
                ],
            );
            assert.deepEqual([report.dryRun, report.deleteArtifacts, report.deleteRequests], [true, 1, 0]);
            assert.equal((await keys("express-api/pr-90/")).length, 2, "a dry run deletes nothing");
        });

        /** Runs the CLI and asserts it was refused with exit 2 before any request reached S3 (or the proxy). */
        async function refusedBeforeAnyRequest(args: string[], message: RegExp, env: Record<string, string> = {}): Promise<Run> {
            const seen = proxy.requests.length;
            const run = await cli(args, env);
            const shown = args.join(" ").slice(0, 200);
            assert.equal(run.code, 2, `${shown} exits 2: ${run.stderr}`);
            assert.match(run.stderr, message);
            assert.equal(proxy.requests.length, seen, `${shown} sends nothing`);
            return run;
        }

        it("cleanup refuses stack outputs without artifactKey or of another bucket, and unreadable or foreign deployed keys, before any request", async () => {
            const noKey = tempFile("no-key.json", JSON.stringify({ artifactBucketName: BUCKET, previewUrl: "https://preview.example/x" }));
            await refusedBeforeAnyRequest(["cleanup", ...at(), "--pr", "91", "--stack-outputs", noKey], /--stack-outputs ".*no-key.json" has no artifactKey output, so it names nothing that is deployed/);
            const otherBucket = tempFile("other-bucket.json", JSON.stringify({ artifactKey: `${APP}/pr-91/00000001-20250901-110000/${FILE}`, artifactBucketName: "someone-elses-artifacts" }));
            await refusedBeforeAnyRequest(["cleanup", ...at(), "--pr", "91", "--stack-outputs", otherBucket], /--stack-outputs names bucket someone-elses-artifacts \(artifactBucketName\) but the cleanup would run on jobfleet-artifacts-test/);
            const keyInOtherBucket = tempFile("key-other-bucket.json", JSON.stringify({ artifactKey: `s3://someone-elses-artifacts/${APP}/pr-91/00000001-20250901-110000/${FILE}` }));
            await refusedBeforeAnyRequest(["cleanup", ...at(), "--pr", "91", "--stack-outputs", keyInOtherBucket], /artifactKey "s3:\/\/someone-elses-artifacts\/.*": names bucket "someone-elses-artifacts"/);
            const secret = tempFile("secret.json", '{"artifactKey": "express-api/pr-91/x", "dbPassword": "hunter2-in-the-outputs"');
            const broken = await refusedBeforeAnyRequest(["cleanup", ...at(), "--pr", "91", "--stack-outputs", secret], /is not JSON/);
            assert.doesNotMatch(broken.stderr, /hunter2/, "a JSON syntax error never quotes the input");
            for (const [deployed, message] of [
                [`s3://other-bucket/${APP}/pr-91/x`, /--deployed "s3:\/\/other-bucket\/express-api\/pr-91\/x": names bucket "other-bucket"/],
                [`https://example.com/${APP}/pr-91/x?X-Amz-Signature=topsecret`, /--deployed https:\/\/example.com\/express-api\/pr-91\/x \(query, fragment and credentials not shown\): is a presigned URL/],
                [`gs://${BUCKET}/${APP}/pr-91/x`, /uses gs:/],
                [`${APP}/pr-91/${"x".repeat(1100)}`, /--deployed is 1118 bytes long; S3 object keys are at most 1024 bytes/],
            ] as Array<[string, RegExp]>) {
                const run = await refusedBeforeAnyRequest(["cleanup", ...at(), "--pr", "91", "--deployed", deployed], message);
                assert.doesNotMatch(run.stderr, /topsecret/);
            }
        });

        it("cleanup refuses a deployed key that matches no build (exit 2, no delete sent), and understands every accepted form of one that does", async () => {
            const prefixes: string[] = [];
            for (let n = 0; n < 3; n++) prefixes.push(await seedArtifact("pr-92", 400 + n, 30 + n));
            const typo = `${prefixes[2].replace("pr-92", "pr-29")}${FILE}`;
            requests = [];
            const unmatched = await cli(["cleanup", ...at(), "--pr", "92", "--keep", "1", "--days", "0", "--deployed", `${prefixes[2]}${FILE}`, "--deployed", typo]);
            assert.equal(unmatched.code, 2, unmatched.stderr);
            assert.match(unmatched.stderr, /this deployed key matches no build in the listing of s3:\/\/jobfleet-artifacts-test\/express-api\/pr-92\/: "express-api\/pr-29\/.*nothing was deleted/);
            assert.deepEqual(commands(), ["ListObjectsV2Command"], "listed, but no DeleteObjects sent");
            assert.equal((await keys(`${APP}/pr-92/`)).length, 3);

            const forms = [
                `S3://${BUCKET}/${prefixes[1]}${FILE}`,
                `https://${BUCKET}.s3.us-east-1.amazonaws.com/${prefixes[2]}${FILE}?versionId=null`,
                `${endpoint}/${BUCKET}/${prefixes[0]}${FILE}`,
            ];
            const dry = await cli(["cleanup", ...at(), "--pr", "92", "--keep", "1", "--days", "0", "--dry-run", "--json", ...forms.flatMap((f) => ["--deployed", f])]);
            assert.equal(dry.code, 0, dry.stderr);
            const report = JSON.parse(dry.stdout) as { decisions: Array<{ artifact: string; delete: boolean; reasons: string[] }> };
            assert.deepEqual(
                report.decisions.map((d) => [d.artifact, d.delete]),
                prefixes.map((p) => [p, false]),
                "each form protects its build",
            );
            assert.doesNotMatch(dry.stdout, /versionId/, "keys are reported without their query");

            const elsewhere = tempFile("staging-outputs.json", JSON.stringify({ artifactKey: `${APP}/staging/00000001-20250901-110000/${FILE}`, artifactBucketName: BUCKET }));
            const scoped = await cli(["cleanup", ...at(), "--pr", "92", "--keep", "3", "--dry-run", "--stack-outputs", elsewhere]);
            assert.equal(scoped.code, 0, scoped.stderr);
            assert.match(scoped.stderr, /note: the stack's artifactKey express-api\/staging\/.* belongs to environment staging, not pr-92; this cleanup cannot reach it/);
        });

        it("cleanup never gives the legacy key a --keep slot, and resolve never ranks it above a versioned build", async () => {
            const older = await seedArtifact("pr-93", 410, 30);
            const newer = await seedArtifact("pr-93", 411, 20);
            await put(`${APP}/pr-93/${FILE}`, "legacy bytes uploaded last");
            const resolved = await cli(["resolve", ...at(), "--pr", "93"]);
            assert.deepEqual([resolved.code, resolved.stdout.trim()], [0, `${newer}${FILE}`]);
            const dry = await cli(["cleanup", ...at(), "--pr", "93", "--keep", "2", "--days", "0", "--dry-run", "--json"]);
            const report = JSON.parse(dry.stdout) as { decisions: Array<{ artifact: string; delete: boolean }> };
            assert.deepEqual(Object.fromEntries(report.decisions.map((d) => [d.artifact, d.delete])), { [newer]: false, [older]: false, [`${APP}/pr-93/${FILE}`]: true });
        });

        it("publish refuses a build time in the future and a key over 1,024 bytes, verify a key over 1,024 bytes: exit 2, nothing sent", async () => {
            await refusedBeforeAnyRequest(["publish", ...at(), "--pr", "94", "--file", SAMPLE, "--commit", sha(420), "--build-time", "20250901-130000"], /--build-time 20250901-130000 is 60 minutes in the future \(now is 20250901-120000 UTC/);
            await refusedBeforeAnyRequest(["publish", ...at(), "--pr", "94", "--file", SAMPLE], /JOBFLEET_BUILD_TIME 20260101-000000 is .* minutes in the future/, { GITHUB_SHA: sha(421), JOBFLEET_BUILD_TIME: "20260101-000000" });
            await refusedBeforeAnyRequest(["publish", ...at(), "--env", `e${"n".repeat(1000)}`, "--file", SAMPLE, "--commit", sha(422)], /the artifact key is 1068 bytes long; S3 object keys are at most 1024 bytes/);
            await refusedBeforeAnyRequest(["verify", ...at(), "--key", `${APP}/${"k".repeat(1020)}`], /--key is 1032 bytes long/);
            await refusedBeforeAnyRequest(["resolve", ...at(), "--env", `e${"n".repeat(1000)}`], /the legacy key is 1043 bytes long/);
            await refusedBeforeAnyRequest(["cleanup", ...at(), "--env", `e${"n".repeat(1000)}`], /the legacy key is 1043 bytes long/);
        });

        it("never shows an endpoint's user-info or query, and exits 3 (transport) rather than 1 when S3 cannot answer", async () => {
            const run = await cli(["resolve", "--bucket", BUCKET, "--endpoint", "http://admin:s3cr3t@127.0.0.1:1/?token=abc", "--pr", "1"]);
            assert.equal(run.code, 2);
            assert.match(run.stderr, /--endpoint http:\/\/127.0.0.1:1\/ \(query, fragment and credentials not shown\) must not carry credentials/);
            assert.doesNotMatch(run.stderr, /s3cr3t|token=abc|admin/);

            const published = await publishArtifact({ client: s3, bucket: BUCKET, app: APP, environment: "pr-95", filePath: SAMPLE, build: build(430, 0), retry: FAST });
            proxy.inject({ method: "HEAD", times: Infinity, fault: { kind: "status", status: 503, code: "SlowDown" } });
            const unavailable = await cli(["verify", ...at(), "--key", published.key, "--file", SAMPLE]);
            assert.equal(unavailable.code, 3, unavailable.stderr);
            assert.match(unavailable.stderr, /HeadObject .*S3 gave no usable answer after 4 attempt\(s\).*This is a transport failure, not a finding about the object/);
            proxy.clearFaults();
            proxy.inject({ method: "GET", times: Infinity, fault: { kind: "reset-response", afterBytes: 10 } });
            const cut = await cli(["verify", ...at(), "--key", published.key, "--file", SAMPLE, "--download", "always"]);
            assert.equal(cut.code, 3, cut.stderr);
            assert.doesNotMatch(cut.stderr, /failed verification/);
        });

        it("never hangs on a black hole: a stop (SIGINT in the real entry point) cuts the request at once and exits 130", async () => {
            proxy.inject({ method: "GET", path: `/${BUCKET}`, times: Infinity, fault: { kind: "black-hole" } });
            const stop = new AbortController();
            const started = Date.now();
            setTimeout(() => stop.abort(new Error("SIGINT")), 200);
            const run = await cli(["resolve", ...at(), "--pr", "96"], {}, stop.signal);
            assert.equal(run.code, 130, run.stderr);
            assert.match(run.stderr, /artifacts resolve: interrupted \(SIGINT\)/);
            assert.ok(Date.now() - started < FAST.attemptTimeoutMs, "the stop did not wait for the attempt timeout");
        });

        it("the real entry point exits 2 on a bad argument", () => {
            const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.resolve(__dirname, "..", "scripts", "artifacts.ts"), "cleanup", "--bucket", BUCKET, "--keep", "lots"], {
                cwd: path.resolve(__dirname, ".."),
                encoding: "utf8",
                env: { ...process.env, TS_NODE_PROJECT: path.resolve(__dirname, "..", "tsconfig.json") },
            });
            assert.equal(result.status, 2, result.stderr);
            assert.match(result.stderr, /artifacts cleanup: --keep must be a whole number, 0 or more \(got "lots"\)/);
        });
    });
});
