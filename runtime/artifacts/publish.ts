import * as fs from "fs";
import * as path from "path";
import { HeadObjectCommand, PutObjectCommand, PutObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import type { RetryPolicy } from "../retry";
import { artifactMetadata, BuildInfo } from "./buildInfo";
import { digestFile, FileDigest } from "./checksum";
import { httpStatus } from "./client";
import { ARTIFACT_RETRY_POLICY, artifactRequest, transferPolicy } from "./s3Requests";
import { ArtifactArgumentError, artifactKey, checkApp, checkBuildTimeNotFuture, checkEnvironment, checkFileName, defaultArtifactFileName } from "./keys";
import { S3_BUCKET_NAME } from "../s3Names";

/** S3 refuses a single PUT above 5 GiB; deployment tarballs are far below it. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

export interface PublishArtifactInput {
    client: S3Client;
    bucket: string;
    app: string;
    environment: string;
    filePath: string;
    /** Name under the version prefix; default `{app}-deployment.tar.gz` (seed 003). */
    fileName?: string;
    build: BuildInfo;
    /** The clock the build time is checked against (a build from the future is refused); default now. */
    now?: Date;
    /** Default ARTIFACT_RETRY_POLICY (its attempt timeout grows by 1 s per MiB of the file). */
    retry?: RetryPolicy;
    signal?: AbortSignal;
}

export interface PublishedArtifact {
    bucket: string;
    key: string;
    size: number;
    sha256Hex: string;
    sha256Base64: string;
    metadata: Record<string, string>;
    versionId?: string;
    /** True when the PUT's answer was lost after it landed and the retry's 412 was recognised as this write. */
    recoveredLostAnswer?: boolean;
}

export class ArtifactExistsError extends Error {
    constructor(
        public readonly bucket: string,
        public readonly key: string,
    ) {
        super(`s3://${bucket}/${key} already exists and artifacts are never overwritten: publish the new build under a new build time (JOBFLEET_BUILD_TIME / --build-time).`);
        this.name = "ArtifactExistsError";
    }
}

export function checkBucketName(bucket: unknown, field = "bucket"): string {
    if (typeof bucket !== "string" || !S3_BUCKET_NAME.test(bucket)) {
        throw new ArtifactArgumentError(`${field} must be an S3 bucket name (3-63 lower-case letters, digits, dots and dashes; got ${JSON.stringify(bucket)}).`);
    }
    return bucket;
}

function contentType(fileName: string): string {
    return /\.(tar\.gz|tgz)$/.test(fileName) ? "application/gzip" : "application/octet-stream";
}

/**
 * Uploads one build under its own key with its metadata and SHA-256 checksum. The PUT carries
 * `If-None-Match: *`, so S3 (and MinIO) refuse it with 412 when the key exists: a published
 * artifact can never be replaced, not even by a concurrent run that computed the same key.
 * S3 also checks the body against `x-amz-checksum-sha256` and rejects a corrupted upload.
 */
export async function publishArtifact(input: PublishArtifactInput): Promise<PublishedArtifact> {
    const bucket = checkBucketName(input.bucket);
    const app = checkApp(input.app);
    const environment = checkEnvironment(input.environment);
    const fileName = checkFileName(input.fileName ?? defaultArtifactFileName(app));
    const key = artifactKey({ app, environment, commitSha: input.build.commitSha, buildTime: input.build.buildTime, fileName });
    checkBuildTimeNotFuture(input.build.buildTime, input.now ?? new Date());
    let stat: fs.Stats;
    try {
        stat = fs.statSync(input.filePath);
    } catch {
        throw new ArtifactArgumentError(`file ${JSON.stringify(input.filePath)} does not exist.`);
    }
    if (!stat.isFile()) throw new ArtifactArgumentError(`file ${JSON.stringify(input.filePath)} is not a regular file.`);
    if (stat.size === 0) throw new ArtifactArgumentError(`file ${JSON.stringify(input.filePath)} is empty; a deployment artifact has content.`);
    if (stat.size > MAX_SINGLE_PUT_BYTES) throw new ArtifactArgumentError(`file ${JSON.stringify(input.filePath)} is ${stat.size} bytes; a single S3 PUT takes at most 5 GiB.`);

    const digest = await digestFile(input.filePath);
    const metadata = artifactMetadata(input.build, digest.sha256Hex);
    const what = `PutObject s3://${bucket}/${key}`;
    const policy = transferPolicy(input.retry ?? ARTIFACT_RETRY_POLICY, digest.size);
    // Attempts that were sent: once one was, a 412 may be our own write whose answer was lost.
    let sent = 0;
    let response: PutObjectCommandOutput;
    try {
        response = await artifactRequest(
            ({ signal }) => {
                sent += 1;
                return input.client.send(
                    new PutObjectCommand({
                        Bucket: bucket,
                        Key: key,
                        // Re-opened on every attempt: a retried upload sends the whole file again.
                        Body: fs.createReadStream(input.filePath),
                        ContentLength: digest.size,
                        ContentType: contentType(fileName),
                        ContentDisposition: `attachment; filename="${path.basename(fileName)}"`,
                        ChecksumSHA256: digest.sha256Base64,
                        Metadata: metadata,
                        IfNoneMatch: "*",
                    }),
                    { abortSignal: signal },
                );
            },
            // 409 ConditionalRequestConflict: another PUT of this key is in flight, possibly our own lost attempt; S3 says retry.
            { policy, signal: input.signal, what, alsoRetry: (err) => httpStatus(err) === 409 },
        );
    } catch (err) {
        const status = httpStatus(err);
        // The SDK of a client made elsewhere may have retried on its own: its $metadata.attempts says so.
        const sdkAttempts = (err as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1;
        if (status === 412 && (sent > 1 || sdkAttempts > 1)) {
            // The key exists and an earlier attempt of ours may have landed: it is ours if it holds our bytes and our metadata.
            const own = await ownWrite(input, bucket, key, digest, metadata);
            if (own) return { bucket, key, size: digest.size, sha256Hex: digest.sha256Hex, sha256Base64: digest.sha256Base64, metadata, versionId: own.versionId, recoveredLostAnswer: true };
        }
        if (status === 412 || status === 409) throw new ArtifactExistsError(bucket, key);
        throw err;
    }
    return { bucket, key, size: digest.size, sha256Hex: digest.sha256Hex, sha256Base64: digest.sha256Base64, metadata, versionId: response.VersionId };
}

/**
 * Whether the object now at `key` is the one this publish wrote: same size, S3's SHA-256 (when
 * it reports one) and every metadata entry equal. Another build under the same key would differ
 * at least in its sha256 metadata; identical bytes and metadata are the same build.
 */
async function ownWrite(input: PublishArtifactInput, bucket: string, key: string, digest: FileDigest, metadata: Record<string, string>): Promise<{ versionId?: string } | undefined> {
    const head = await artifactRequest(({ signal }) => input.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }), { abortSignal: signal }), {
        policy: input.retry,
        signal: input.signal,
        what: `HeadObject s3://${bucket}/${key}`,
    });
    const stored = head.Metadata ?? {};
    const sameMetadata = Object.keys(metadata).length === Object.keys(stored).length && Object.entries(metadata).every(([k, v]) => stored[k] === v);
    const sameChecksum = head.ChecksumSHA256 === undefined || head.ChecksumSHA256 === digest.sha256Base64;
    return sameMetadata && sameChecksum && head.ContentLength === digest.size ? { versionId: head.VersionId } : undefined;
}
