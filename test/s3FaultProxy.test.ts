import * as assert from "node:assert/strict";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createHash } from "crypto";
import { startS3rver, S3rverProcess } from "./artifactS3rver";
import { S3FaultProxy, startS3FaultProxy } from "./support/s3FaultProxy";

/**
 * The test support's fault proxy behaves like S3 where s3rver does not, and its faults do what they
 * say: the other suites rely on both.
 */
describe("s3 fault proxy (test support) in front of s3rver", function () {
    this.timeout(20_000);
    const BUCKET = "fault-proxy-test";
    let s3rver: S3rverProcess;
    let proxy: S3FaultProxy;
    let s3: S3Client;

    before(async () => {
        s3rver = await startS3rver([BUCKET]);
        proxy = await startS3FaultProxy({ upstream: s3rver.endpoint });
        s3 = new S3Client({ region: "us-east-1", endpoint: proxy.endpoint, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
    });
    after(async () => {
        s3?.destroy();
        await proxy?.close();
        await s3rver?.stop();
    });
    afterEach(() => proxy.clearFaults());

    const nameOf = (err: unknown) => (err as { name?: string }).name;

    it("answers If-None-Match: * with 412 once the key exists, for exactly one of concurrent writers", async () => {
        const key = "conditional/once.json";
        const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `writer ${i}`, IfNoneMatch: "*" }))));
        assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1, "one writer wins");
        for (const o of outcomes) if (o.status === "rejected") assert.equal(nameOf(o.reason), "PreconditionFailed");
    });

    it("checks a PUT's x-amz-checksum-sha256 and returns it with checksum mode", async () => {
        const body = "checked body";
        const good = createHash("sha256").update(body).digest("base64");
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "checksum/good", Body: body, ChecksumSHA256: good }));
        const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "checksum/good", ChecksumMode: "ENABLED" }));
        assert.equal(head.ChecksumSHA256, good);
        const wrong = createHash("sha256").update("other").digest("base64");
        await assert.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "checksum/bad", Body: body, ChecksumSHA256: wrong })), (err) => nameOf(err) === "BadDigest");
    });

    it("refuses keys over 1,024 bytes and anonymous requests", async () => {
        // Segments under the file-name limit of s3rver's store; 1,024 bytes in all.
        const longest = `${"k".repeat(99)}/`.repeat(10) + "é".repeat(12);
        assert.equal(Buffer.byteLength(longest), 1024);
        await assert.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${longest}k`, Body: "x" })), (err) => nameOf(err) === "KeyTooLongError");
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: longest, Body: "x" }));
        const anonymous = await fetch(`${proxy.endpoint}/${BUCKET}/anonymous`, { method: "PUT", body: "forged" });
        assert.equal(anonymous.status, 403);
        await anonymous.body?.cancel();
    });

    it("verifies SigV4 signatures, presigned and in the Authorization header", async () => {
        const url = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: "signed/é key.json" }), { expiresIn: 60 }));
        const good = await fetch(url, { method: "PUT", body: "signed" });
        assert.equal(good.status, 200, await good.text());
        url.searchParams.set("X-Amz-Signature", "0".repeat(64));
        const forged = await fetch(url, { method: "PUT", body: "forged" });
        assert.equal(forged.status, 403);
        assert.match(await forged.text(), /SignatureDoesNotMatch/);
        const wrongKey = new S3Client({ region: "us-east-1", endpoint: proxy.endpoint, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: "S3RVER", secretAccessKey: "guessed" } });
        await assert.rejects(wrongKey.send(new PutObjectCommand({ Bucket: BUCKET, Key: "signed/other", Body: "x" })), (err) => nameOf(err) === "SignatureDoesNotMatch");
        wrongKey.destroy();
    });

    it("injects 503 SlowDown, resets, an early FIN, a short Content-Length and a lost answer, each as scripted", async () => {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "faults/object", Body: "0123456789".repeat(100) }));
        const get = () => s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "faults/object" })).then((r) => r.Body!.transformToString());

        const slow = proxy.inject({ method: "GET", path: "/faults/object", fault: { kind: "status", status: 503 } });
        await assert.rejects(get(), (err) => nameOf(err) === "SlowDown");
        assert.equal((await get()).length, 1000, "times: 1 by default");
        assert.equal(slow.hits, 1);

        proxy.inject({ method: "GET", path: "/faults/object", fault: { kind: "reset-response", afterBytes: 100 } });
        await assert.rejects(get());
        proxy.inject({ method: "GET", path: "/faults/object", fault: { kind: "early-fin", afterBytes: 100 } });
        await assert.rejects(get());
        proxy.inject({ method: "GET", path: "/faults/object", fault: { kind: "short-content-length", bytes: 10 } });
        assert.equal(await get(), "0123456789", "a truncated answer that looks complete");
        proxy.inject({ method: "GET", path: "/faults/object", fault: { kind: "reset-request" } });
        await assert.rejects(get());

        proxy.inject({ method: "PUT", path: "/faults/lost", fault: { kind: "lose-answer" } });
        await assert.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "faults/lost", Body: "landed", IfNoneMatch: "*" })));
        assert.equal(await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "faults/lost" })).then((r) => r.Body!.transformToString()), "landed", "the write landed although its answer was lost");
        await assert.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "faults/lost", Body: "landed", IfNoneMatch: "*" })), (err) => nameOf(err) === "PreconditionFailed");
    });

    it("holds a black-holed request until the client gives up", async () => {
        proxy.inject({ path: "/faults/hole", fault: { kind: "black-hole" } });
        const started = Date.now();
        await assert.rejects(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "faults/hole" }), { abortSignal: AbortSignal.timeout(300) }));
        assert.ok(Date.now() - started < 5000);
    });
});
