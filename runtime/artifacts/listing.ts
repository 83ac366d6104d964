import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { RetryPolicy } from "../retry";
import { artifactRequest } from "./s3Requests";
import { ArtifactArgumentError, buildTimeToDate, checkApp, checkEnvironment, defaultArtifactFileName, environmentPrefix, parseArtifactKey } from "./keys";

export interface StoredObject {
    key: string;
    size: number;
    lastModified: Date;
}

/** One build: every object under one version prefix, or the single legacy key of an environment. */
export interface StoredArtifact {
    /** The version prefix (`{app}/{env}/{sha8}-{time}/`), or the legacy key itself. */
    id: string;
    app: string;
    environment: string;
    legacy: boolean;
    /** `{sha8}-{YYYYMMDD-HHMMSS}`; undefined for the legacy key. */
    version?: string;
    buildTime?: string;
    /** Build time for versioned artifacts (it is part of their identity), upload time for the legacy key. */
    time: Date;
    objects: StoredObject[];
    bytes: number;
}

export interface ListingProgress {
    pages: number;
    objects: number;
}

export interface ArtifactListing {
    artifacts: StoredArtifact[];
    /** Objects under the prefix that are neither versioned nor legacy artifacts: never touched. */
    strays: StoredObject[];
    listRequests: number;
    objects: number;
}

/** S3 returns at most 1,000 keys per ListObjectsV2 page. */
export const MAX_LIST_PAGE_SIZE = 1000;

export function checkPageSize(size: unknown, field: string): number {
    if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > MAX_LIST_PAGE_SIZE) {
        throw new ArtifactArgumentError(`${field} must be a whole number from 1 to 1000 (S3's limit per request; got ${JSON.stringify(size)}).`);
    }
    return size;
}

export interface RequestControl {
    /** Default ARTIFACT_RETRY_POLICY, per request (here: per page). */
    retry?: RetryPolicy;
    signal?: AbortSignal;
}

/**
 * Every object under a prefix, a page (default 1,000, S3's maximum) per ListObjectsV2 request,
 * following continuation tokens. Each page is retried on its own under the artifact retry policy.
 */
export async function* listObjects(client: S3Client, bucket: string, prefix: string, onPage?: (progress: ListingProgress) => void, pageSize = MAX_LIST_PAGE_SIZE, control: RequestControl = {}): AsyncGenerator<StoredObject[]> {
    checkPageSize(pageSize, "pageSize");
    let token: string | undefined;
    let pages = 0;
    let objects = 0;
    do {
        const continuation = token;
        const page = await artifactRequest(
            ({ signal }) => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuation, MaxKeys: pageSize }), { abortSignal: signal }),
            { policy: control.retry, signal: control.signal, what: `ListObjectsV2 s3://${bucket}/${prefix} (page ${pages + 1})` },
        );
        pages += 1;
        const batch = (page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) }));
        objects += batch.length;
        onPage?.({ pages, objects });
        yield batch;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
}

export interface ListArtifactsInput extends RequestControl {
    client: S3Client;
    bucket: string;
    app: string;
    /** One environment; all of the app's environments when omitted. */
    environment?: string;
    /** The artifact file name, used to recognise each environment's legacy key. */
    fileName?: string;
    onProgress?: (progress: ListingProgress) => void;
    /** Keys per ListObjectsV2 request; default and maximum 1,000. */
    pageSize?: number;
}

/** Newest first: by time, then by id so equal times order the same way on every run. */
export function newestFirst(a: StoredArtifact, b: StoredArtifact): number {
    return b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** Groups the objects under `{app}/` (or `{app}/{environment}/`) into artifacts, newest first. */
export async function listArtifacts(input: ListArtifactsInput): Promise<ArtifactListing> {
    const app = checkApp(input.app);
    const prefix = input.environment === undefined ? `${app}/` : environmentPrefix(app, checkEnvironment(input.environment));
    const fileName = input.fileName ?? defaultArtifactFileName(app);
    const byId = new Map<string, StoredArtifact>();
    const strays: StoredObject[] = [];
    let listRequests = 0;
    let objects = 0;
    for await (const page of listObjects(input.client, input.bucket, prefix, (p) => {
        listRequests = p.pages;
        objects = p.objects;
        input.onProgress?.(p);
    }, input.pageSize, { retry: input.retry, signal: input.signal })) {
        for (const object of page) {
            const parsed = parseArtifactKey(object.key);
            if (parsed && parsed.app === app) {
                let artifact = byId.get(parsed.versionPrefix);
                if (!artifact) {
                    artifact = {
                        id: parsed.versionPrefix,
                        app,
                        environment: parsed.environment,
                        legacy: false,
                        version: parsed.version,
                        buildTime: parsed.buildTime,
                        time: buildTimeToDate(parsed.buildTime),
                        objects: [],
                        bytes: 0,
                    };
                    byId.set(artifact.id, artifact);
                }
                artifact.objects.push(object);
                artifact.bytes += object.size;
                continue;
            }
            const parts = object.key.split("/");
            if (parts.length === 3 && parts[0] === app && parts[2] === fileName) {
                byId.set(object.key, { id: object.key, app, environment: parts[1], legacy: true, time: object.lastModified, objects: [object], bytes: object.size });
                continue;
            }
            strays.push(object);
        }
    }
    return { artifacts: [...byId.values()].sort(newestFirst), strays, listRequests, objects };
}
