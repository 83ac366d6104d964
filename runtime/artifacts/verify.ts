import { GetObjectCommand, HeadObjectCommand, HeadObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { RetryPolicy, TransientError } from "../retry";
import { ARTIFACT_RETRY_POLICY, artifactRequest, describeFailure, transferPolicy, truncatedBody } from "./s3Requests";
import { BuildInfo, METADATA } from "./buildInfo";
import { digestStream, isSha256Hex, sha256Base64ToHex } from "./checksum";
import { isNotFound } from "./client";
import { parseArtifactKey } from "./keys";
import { checkBucketName } from "./publish";

/** What the caller knows the artifact must be; every field given is compared. */
export interface ExpectedArtifact {
    sha256Hex?: string;
    size?: number;
    build?: Partial<BuildInfo>;
}

/** What S3 says about the object (and, when downloaded, what its bytes hash to). */
export interface ObservedArtifact {
    size: number | undefined;
    metadata: Record<string, string>;
    /** S3's own SHA-256 of a single-part upload, base64; absent when the server keeps none. */
    checksumSha256Base64?: string;
    /** SHA-256 of the downloaded bytes, when they were downloaded. */
    downloadedSha256Hex?: string;
    downloadedSize?: number;
}

export interface VerifiedArtifact {
    bucket: string;
    key: string;
    size: number;
    sha256Hex: string;
    metadata: Record<string, string>;
    /** How the content was checked: S3's stored checksum, by downloading and hashing, or not at all (download "never" without an S3 checksum). */
    contentCheckedBy: "s3-checksum" | "download" | "not-checked";
    versionId?: string;
    lastModified?: Date;
}

export class ArtifactNotFoundError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ArtifactNotFoundError";
    }
}

export class ArtifactVerificationError extends Error {
    constructor(
        public readonly bucket: string,
        public readonly key: string,
        public readonly differences: string[],
    ) {
        super(`s3://${bucket}/${key} failed verification:\n${differences.map((d) => `  - ${d}`).join("\n")}`);
        this.name = "ArtifactVerificationError";
    }
}

const BUILD_FIELDS: Array<[keyof BuildInfo, string]> = [
    ["commitSha", METADATA.commitSha],
    ["branch", METADATA.branch],
    ["buildTime", METADATA.buildTime],
    ["workflowRunId", METADATA.workflowRunId],
    ["prNumber", METADATA.prNumber],
];

/**
 * Every way the observed object differs from what it must be, each as a sentence naming the
 * field. Besides the caller's expectations, a versioned key must agree with its own metadata
 * (the commit starts with the key's sha8, the build time is the key's), and S3's checksum or the
 * downloaded bytes must agree with the `sha256` metadata.
 */
export function describeDifferences(key: string, observed: ObservedArtifact, expected: ExpectedArtifact): string[] {
    const differences: string[] = [];
    const metadataSha = observed.metadata[METADATA.sha256];
    if (metadataSha === undefined) {
        differences.push(`metadata ${METADATA.sha256} is missing: the object was not published by the artifact tools, so nothing vouches for its content`);
    } else if (!isSha256Hex(metadataSha)) {
        differences.push(`metadata ${METADATA.sha256} is ${JSON.stringify(metadataSha)}, not a 64-character hex SHA-256`);
    }
    if (expected.sha256Hex !== undefined && metadataSha !== undefined && metadataSha !== expected.sha256Hex) {
        differences.push(`sha256: metadata says ${metadataSha}, expected ${expected.sha256Hex}`);
    }
    if (expected.size !== undefined && observed.size !== expected.size) {
        differences.push(`size: object has ${observed.size ?? "unknown"} bytes, expected ${expected.size}`);
    }
    if (observed.checksumSha256Base64 !== undefined && !observed.checksumSha256Base64.includes("-")) {
        const s3Sha = sha256Base64ToHex(observed.checksumSha256Base64);
        const reference = expected.sha256Hex ?? metadataSha;
        if (reference !== undefined && s3Sha !== reference) {
            differences.push(`checksum: S3's SHA-256 of the stored bytes is ${s3Sha}, expected ${reference}`);
        }
    }
    if (observed.downloadedSha256Hex !== undefined) {
        const reference = expected.sha256Hex ?? metadataSha;
        if (reference !== undefined && observed.downloadedSha256Hex !== reference) {
            differences.push(`content: the downloaded bytes hash to ${observed.downloadedSha256Hex}, expected ${reference}`);
        }
        if (observed.size !== undefined && observed.downloadedSize !== undefined && observed.downloadedSize !== observed.size) {
            differences.push(`size: downloaded ${observed.downloadedSize} bytes but S3 reports ${observed.size}`);
        }
    }
    for (const [field, name] of BUILD_FIELDS) {
        const want = expected.build?.[field];
        if (want === undefined || want === "") continue;
        const got = observed.metadata[name];
        if (got !== want) differences.push(`${name}: metadata says ${got === undefined ? "nothing" : JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
    const parsed = parseArtifactKey(key);
    if (parsed) {
        const commit = observed.metadata[METADATA.commitSha];
        if (commit === undefined || !commit.startsWith(parsed.sha8)) {
            differences.push(`${METADATA.commitSha}: metadata says ${commit === undefined ? "nothing" : JSON.stringify(commit)}, but the key names commit ${parsed.sha8}`);
        }
        const buildTime = observed.metadata[METADATA.buildTime];
        if (buildTime !== parsed.buildTime) {
            differences.push(`${METADATA.buildTime}: metadata says ${buildTime === undefined ? "nothing" : JSON.stringify(buildTime)}, but the key says ${parsed.buildTime}`);
        }
    }
    return differences;
}

export interface VerifyArtifactInput {
    client: S3Client;
    bucket: string;
    key: string;
    /** A specific object version (`?versionId=`); default the current one. */
    versionId?: string;
    expected?: ExpectedArtifact;
    /**
     * auto (default): trust S3's stored SHA-256 when HeadObject returns one, else download and
     * hash; always: download even so; never: metadata and size only.
     */
    download?: "auto" | "always" | "never";
    /** Default ARTIFACT_RETRY_POLICY. */
    retry?: RetryPolicy;
    signal?: AbortSignal;
}

/** HeadObject (with S3's checksum), compare, and hash the bytes when S3 has no checksum to offer. */
export async function verifyArtifact(input: VerifyArtifactInput): Promise<VerifiedArtifact> {
    const bucket = checkBucketName(input.bucket);
    const expected = input.expected ?? {};
    if (expected.sha256Hex !== undefined && !isSha256Hex(expected.sha256Hex)) {
        throw new Error(`expected sha256 must be 64 lower-case hex characters (got ${JSON.stringify(expected.sha256Hex)}).`);
    }
    const location = `s3://${bucket}/${input.key}${input.versionId ? " (the requested version)" : ""}`;
    let head: HeadObjectCommandOutput;
    try {
        head = await artifactRequest(
            ({ signal }) => input.client.send(new HeadObjectCommand({ Bucket: bucket, Key: input.key, ChecksumMode: "ENABLED", ...(input.versionId ? { VersionId: input.versionId } : {}) }), { abortSignal: signal }),
            { policy: input.retry, signal: input.signal, what: `HeadObject ${location}` },
        );
    } catch (err) {
        if (isNotFound(err)) throw new ArtifactNotFoundError(`${location} does not exist (or this identity may not read it).`);
        throw err;
    }
    const observed: ObservedArtifact = {
        size: head.ContentLength,
        metadata: head.Metadata ?? {},
        checksumSha256Base64: head.ChecksumSHA256,
    };
    const s3HasChecksum = head.ChecksumSHA256 !== undefined && !head.ChecksumSHA256.includes("-");
    const mode = input.download ?? "auto";
    if (mode === "always" || (mode === "auto" && !s3HasChecksum)) {
        // The body is read inside the attempt: a reset, an early close or a short answer is a
        // transport failure and retried, never compared as if it were the object's content.
        const expectedSize = head.ContentLength;
        const what = `GetObject ${location}`;
        const digest = await artifactRequest(
            async ({ signal }) => {
                const object = await input.client.send(new GetObjectCommand({ Bucket: bucket, Key: input.key, ...(head.VersionId ? { VersionId: head.VersionId } : {}) }), { abortSignal: signal });
                let got;
                try {
                    got = await digestStream(object.Body as AsyncIterable<Uint8Array>);
                } catch (err) {
                    throw new TransientError(`${what}: the body could not be read in full (${describeFailure(err)})`, { cause: err });
                }
                const announced = object.ContentLength ?? expectedSize;
                if (announced !== undefined && got.size !== announced) throw truncatedBody(what, got.size, announced);
                if (expectedSize !== undefined && got.size !== expectedSize) throw truncatedBody(what, got.size, expectedSize);
                return got;
            },
            { policy: transferPolicy(input.retry ?? ARTIFACT_RETRY_POLICY, expectedSize ?? 0), signal: input.signal, what },
        );
        observed.downloadedSha256Hex = digest.sha256Hex;
        observed.downloadedSize = digest.size;
    }
    const differences = describeDifferences(input.key, observed, expected);
    if (differences.length > 0) throw new ArtifactVerificationError(bucket, input.key, differences);
    return {
        bucket,
        key: input.key,
        size: observed.size ?? 0,
        sha256Hex: observed.metadata[METADATA.sha256],
        metadata: observed.metadata,
        contentCheckedBy: observed.downloadedSha256Hex !== undefined ? "download" : s3HasChecksum ? "s3-checksum" : "not-checked",
        versionId: head.VersionId,
        lastModified: head.LastModified,
    };
}
