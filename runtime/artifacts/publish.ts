import * as fs from "fs";
import * as path from "path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { artifactMetadata, BuildInfo } from "./buildInfo";
import { digestFile } from "./checksum";
import { httpStatus } from "./client";
import { ArtifactArgumentError, artifactKey, checkApp, checkBuildTimeNotFuture, checkEnvironment, checkFileName, defaultArtifactFileName } from "./keys";

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
}

export interface PublishedArtifact {
    bucket: string;
    key: string;
    size: number;
    sha256Hex: string;
    sha256Base64: string;
    metadata: Record<string, string>;
    versionId?: string;
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
    if (typeof bucket !== "string" || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
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
    try {
        const response = await input.client.send(
            new PutObjectCommand({
                Bucket: bucket,
                Key: key,
                Body: fs.createReadStream(input.filePath),
                ContentLength: digest.size,
                ContentType: contentType(fileName),
                ContentDisposition: `attachment; filename="${path.basename(fileName)}"`,
                ChecksumSHA256: digest.sha256Base64,
                Metadata: metadata,
                IfNoneMatch: "*",
            }),
        );
        return { bucket, key, size: digest.size, sha256Hex: digest.sha256Hex, sha256Base64: digest.sha256Base64, metadata, versionId: response.VersionId };
    } catch (err) {
        // 412: the key exists. 409: another PUT of the same key is in flight (S3's ConditionalRequestConflict).
        const status = httpStatus(err);
        if (status === 412 || status === 409) throw new ArtifactExistsError(bucket, key);
        throw err;
    }
}
