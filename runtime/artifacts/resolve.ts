import { S3Client } from "@aws-sdk/client-s3";
import { checkApp, checkEnvironment, checkFileName, defaultArtifactFileName, legacyArtifactKey } from "./keys";
import { listArtifacts, ListingProgress, RequestControl } from "./listing";
import { checkBucketName } from "./publish";
import { ArtifactNotFoundError } from "./verify";

export interface ResolveArtifactInput extends RequestControl {
    client: S3Client;
    bucket: string;
    app: string;
    environment: string;
    fileName?: string;
    onProgress?: (progress: ListingProgress) => void;
}

export interface ResolvedArtifact {
    bucket: string;
    key: string;
    /** True when only seed 003's pre-versioning key exists: its content may change under the reader. */
    legacy: boolean;
    version?: string;
    buildTime?: string;
    size: number;
    lastModified: Date;
}

/**
 * The newest artifact of an environment that contains the file: newest by the build time in its
 * key. When the environment has no versioned artifact yet, the legacy key
 * `{app}/{environment}/{app}-deployment.tar.gz` (seed 003's fallback for old deployments) is
 * returned with `legacy: true`, so callers can warn that it is not immutable.
 */
export async function resolveArtifact(input: ResolveArtifactInput): Promise<ResolvedArtifact> {
    const bucket = checkBucketName(input.bucket);
    const app = checkApp(input.app);
    const environment = checkEnvironment(input.environment);
    const fileName = checkFileName(input.fileName ?? defaultArtifactFileName(app));
    // Also refuses, before any request, names that make even the shortest key longer than S3 allows.
    const legacyKey = legacyArtifactKey(app, environment, fileName);
    const listing = await listArtifacts({ client: input.client, bucket, app, environment, fileName, onProgress: input.onProgress, retry: input.retry, signal: input.signal });

    for (const artifact of listing.artifacts) {
        if (artifact.legacy) continue;
        const object = artifact.objects.find((o) => o.key === `${artifact.id}${fileName}`);
        if (object) {
            return { bucket, key: object.key, legacy: false, version: artifact.version, buildTime: artifact.buildTime, size: object.size, lastModified: object.lastModified };
        }
    }
    const legacy = listing.artifacts.find((a) => a.legacy && a.id === legacyKey);
    if (legacy) {
        return { bucket, key: legacyKey, legacy: true, size: legacy.bytes, lastModified: legacy.objects[0].lastModified };
    }
    const seen = listing.artifacts.length + listing.strays.length;
    throw new ArtifactNotFoundError(
        `No artifact ${fileName} for ${app} in environment ${environment} in s3://${bucket}: ` +
            `looked for ${app}/${environment}/<sha8>-<YYYYMMDD-HHMMSS>/${fileName} and the legacy ${legacyKey}` +
            (seen > 0 ? ` (the prefix holds ${listing.objects} other object${listing.objects === 1 ? "" : "s"}).` : " (the prefix is empty)."),
    );
}
