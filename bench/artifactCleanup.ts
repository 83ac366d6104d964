/**
 * Artifact cleanup over 10,000 objects on loopback (s3rver): S3 requests and wall time of
 * planCleanup + runCleanup (ListObjectsV2 pages of 1,000, DeleteObjects batches of 1,000) against
 * deleting one object per DeleteObject request, sequentially (what a per-object `aws s3 rm` loop
 * does) and 16 at a time.
 *
 * Run: npx ts-node --transpile-only bench/artifactCleanup.ts
 *
 * Setup writes the objects straight into s3rver's filesystem store (<bucket>/<key>._S3rver_object,
 * its on-disk format), because 10,000 PUTs take about a minute here; everything measured goes over
 * HTTP through the AWS SDK.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execSync } from "child_process";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { formatBuildTime, planCleanup, runCleanup } from "../runtime/artifacts";
import { listObjects } from "../runtime/artifacts/listing";
import { S3rverProcess, startS3rver } from "../test/artifactS3rver";

const BUCKET = "jobfleet-artifacts-bench";
const APP = "express-api";
const ENVIRONMENT = "pr-51";
const ARTIFACTS = 2500;
const FILES_PER_ARTIFACT = 4;
const OBJECT_BYTES = 512;
const KEEP = 5;
const DAYS = 7;
const NOW = new Date("2025-09-01T12:00:00Z");

interface Counts {
    /** SDK calls (one per client.send), by command. */
    calls: Map<string, number>;
    /** HTTP attempts including the SDK's retries (s3rver's DeleteObjects sometimes answers 500 on a race in its own directory cleanup). */
    attempts: number;
}

function countingClient(endpoint: string): { client: S3Client; counts: Counts; reset(): void } {
    const client = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    const counts: Counts = { calls: new Map(), attempts: 0 };
    const seen = new Set<string>();
    client.middlewareStack.add(
        (next, context) => async (args) => {
            const request = args.request as { headers: Record<string, string> };
            counts.attempts += 1;
            const id = request.headers["amz-sdk-invocation-id"];
            if (!seen.has(id)) {
                seen.add(id);
                const command = String(context.commandName).replace(/Command$/, "");
                counts.calls.set(command, (counts.calls.get(command) ?? 0) + 1);
            }
            return next(args);
        },
        { step: "finalizeRequest", name: "countRequests" },
    );
    return {
        client,
        counts,
        reset() {
            counts.calls.clear();
            counts.attempts = 0;
            seen.clear();
        },
    };
}

/** 2,500 artifacts of 4 objects, one every 10 minutes going back from 8 days before NOW. */
function seed(server: S3rverProcess): number {
    const bucketDir = path.join(server.directory, BUCKET);
    fs.rmSync(path.join(bucketDir, APP), { recursive: true, force: true });
    const body = Buffer.alloc(OBJECT_BYTES, "x");
    let objects = 0;
    for (let i = 0; i < ARTIFACTS; i++) {
        const buildTime = formatBuildTime(new Date(NOW.getTime() - 8 * 86_400_000 - i * 600_000));
        const sha8 = i.toString(16).padStart(8, "0");
        const dir = path.join(bucketDir, APP, ENVIRONMENT, `${sha8}-${buildTime}`);
        fs.mkdirSync(dir, { recursive: true });
        for (let f = 0; f < FILES_PER_ARTIFACT; f++) {
            const name = f === 0 ? `${APP}-deployment.tar.gz` : `part-${f}.bin`;
            fs.writeFileSync(path.join(dir, `${name}._S3rver_object`), body);
            objects += 1;
        }
    }
    return objects;
}

async function remaining(client: S3Client): Promise<number> {
    let n = 0;
    for await (const page of listObjects(client, BUCKET, `${APP}/`)) n += page.length;
    return n;
}

interface Row {
    strategy: string;
    lists: number;
    deletes: number;
    attempts: number;
    seconds: number;
    deleted: number;
}

async function main(): Promise<void> {
    const server = await startS3rver([BUCKET]);
    const rows: Row[] = [];
    let seeded = 0;
    let toDelete = 0;
    try {
        const { client, counts, reset } = countingClient(server.endpoint);
        const row = (strategy: string, seconds: number, deleted: number): Row => ({
            strategy,
            lists: counts.calls.get("ListObjectsV2") ?? 0,
            deletes: (counts.calls.get("DeleteObjects") ?? 0) + (counts.calls.get("DeleteObject") ?? 0),
            attempts: counts.attempts,
            seconds,
            deleted,
        });

        seeded = seed(server);
        reset();
        let start = process.hrtime.bigint();
        const dry = await planCleanup({ client, bucket: BUCKET, app: APP, environment: ENVIRONMENT, keep: KEEP, days: DAYS, now: NOW });
        await runCleanup({ client, plan: dry, dryRun: true });
        toDelete = dry.keysToDelete.length;
        rows.push(row("dry run (plan only)", Number(process.hrtime.bigint() - start) / 1e9, 0));

        reset();
        start = process.hrtime.bigint();
        const plan = await planCleanup({ client, bucket: BUCKET, app: APP, environment: ENVIRONMENT, keep: KEEP, days: DAYS, now: NOW });
        const result = await runCleanup({ client, plan });
        rows.push(row("planCleanup + runCleanup (DeleteObjects x1000)", Number(process.hrtime.bigint() - start) / 1e9, result.deletedObjects));
        reset();
        const left = await remaining(client);
        if (left !== seeded - toDelete) throw new Error(`batched cleanup left ${left} objects, expected ${seeded - toDelete}`);

        for (const concurrency of [1, 16]) {
            seed(server);
            reset();
            start = process.hrtime.bigint();
            const naivePlan = await planCleanup({ client, bucket: BUCKET, app: APP, environment: ENVIRONMENT, keep: KEEP, days: DAYS, now: NOW });
            const queue = [...naivePlan.keysToDelete];
            await Promise.all(
                Array.from({ length: concurrency }, async () => {
                    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
                        await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
                    }
                }),
            );
            rows.push(row(`same plan, DeleteObject one key per request, ${concurrency} at a time`, Number(process.hrtime.bigint() - start) / 1e9, naivePlan.keysToDelete.length));
            reset();
            const leftNaive = await remaining(client);
            if (leftNaive !== seeded - toDelete) throw new Error(`per-object cleanup left ${leftNaive} objects, expected ${seeded - toDelete}`);
        }
    } finally {
        await server.stop();
    }

    const floorLists = Math.ceil(seeded / 1000);
    const floorDeletes = Math.ceil(toDelete / 1000);
    const cpus = (() => {
        try {
            return execSync("nproc").toString().trim();
        } catch {
            return String(os.cpus().length);
        }
    })();
    console.log(`## Artifact cleanup: ${seeded} objects (${ARTIFACTS} artifacts x ${FILES_PER_ARTIFACT}), keep ${KEEP}, older than ${DAYS} days: ${toDelete} to delete`);
    console.log("");
    console.log(`s3rver on loopback; ${cpus} CPUs, Node ${process.version}, ${new Date().toISOString()}. Floor: ${floorLists} ListObjectsV2 (one per 1,000 keys) + ${floorDeletes} DeleteObjects (one per 1,000 deletions).`);
    console.log("");
    console.log("| strategy | ListObjectsV2 | delete requests | total requests | HTTP attempts (with SDK retries) | time (s) | objects deleted |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const r of rows) {
        console.log(`| ${r.strategy} | ${r.lists} | ${r.deletes} | ${r.lists + r.deletes} | ${r.attempts} | ${r.seconds.toFixed(2)} | ${r.deleted} |`);
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
