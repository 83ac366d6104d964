import { S3Client } from "@aws-sdk/client-s3";
import { urlForLog } from "./objectReference";
import { ARTIFACT_CONNECT_TIMEOUT_MS, ARTIFACT_SOCKET_IDLE_TIMEOUT_MS } from "./s3Requests";

export interface ArtifactClientOptions {
    region?: string;
    /** S3-compatible endpoint (s3rver, MinIO, LocalStack): path-style addressing is forced. */
    endpoint?: string;
    /** Default: the SDK's credential chain (env, SSO, instance role). */
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    /** Default ARTIFACT_CONNECT_TIMEOUT_MS (5 s). */
    connectTimeoutMs?: number;
    /** A connection silent this long is cut; default ARTIFACT_SOCKET_IDLE_TIMEOUT_MS (30 s). */
    socketIdleTimeoutMs?: number;
}

const QUIET_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * An S3 client for the artifact tools. Its own retries are off (`maxAttempts: 1`): every artifact
 * request is retried by `artifactRequest`, which can re-open an upload's body, recognise its own
 * landed write and bound the whole operation. A connection that takes over 5 s to open, or stays
 * silent for 30 s, is cut.
 */
export function createArtifactS3Client(options: ArtifactClientOptions = {}): S3Client {
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
    const common = {
        region,
        maxAttempts: 1,
        // The SDK warns "non-retryable streaming request" on every failed upload; the retries here
        // re-open the body, and the final failure is reported by the caller in one sentence.
        logger: QUIET_LOGGER,
        requestHandler: { connectionTimeout: options.connectTimeoutMs ?? ARTIFACT_CONNECT_TIMEOUT_MS, socketTimeout: options.socketIdleTimeoutMs ?? ARTIFACT_SOCKET_IDLE_TIMEOUT_MS },
        ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    if (options.endpoint !== undefined) {
        let url: URL;
        try {
            url = new URL(options.endpoint);
        } catch {
            throw new Error(`endpoint must be a URL like http://127.0.0.1:4568 (got ${urlForLog(options.endpoint)}).`);
        }
        if (url.protocol !== "http:" && url.protocol !== "https:") {
            throw new Error(`endpoint must use http or https (got ${urlForLog(options.endpoint)}).`);
        }
        return new S3Client({ ...common, endpoint: options.endpoint, forcePathStyle: true });
    }
    return new S3Client(common);
}

/** True for the SDK's errors that mean "no such key" (HeadObject has no body, so only the status says so). */
export function isNotFound(err: unknown): boolean {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

export function httpStatus(err: unknown): number | undefined {
    return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
