import { S3Client } from "@aws-sdk/client-s3";

export interface ArtifactClientOptions {
    region?: string;
    /** S3-compatible endpoint (s3rver, MinIO, LocalStack): path-style addressing is forced. */
    endpoint?: string;
}

/** An S3 client for the artifact tools; credentials come from the default chain (env, SSO, instance role). */
export function createArtifactS3Client(options: ArtifactClientOptions = {}): S3Client {
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
    if (options.endpoint !== undefined) {
        let url: URL;
        try {
            url = new URL(options.endpoint);
        } catch {
            throw new Error(`endpoint must be a URL like http://127.0.0.1:4568 (got ${JSON.stringify(options.endpoint)}).`);
        }
        if (url.protocol !== "http:" && url.protocol !== "https:") {
            throw new Error(`endpoint must use http or https (got ${JSON.stringify(options.endpoint)}).`);
        }
        return new S3Client({ region, endpoint: options.endpoint, forcePathStyle: true });
    }
    return new S3Client({ region });
}

/** True for the SDK's errors that mean "no such key" (HeadObject has no body, so only the status says so). */
export function isNotFound(err: unknown): boolean {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

export function httpStatus(err: unknown): number | undefined {
    return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
