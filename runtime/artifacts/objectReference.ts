import { ArtifactArgumentError, checkKeyLength } from "./keys";

/**
 * A URL as it may appear in a log or an error: scheme, host, port and path only. The query
 * (a presigned URL's signature, a versionId) and the user-info (`user:password@`) are dropped.
 * Anything that does not parse as a URL is not shown at all.
 */
export function urlForLog(value: string): string {
    try {
        const url = new URL(value);
        return `${url.protocol}//${url.host}${url.pathname}${url.search || url.username || url.password || url.hash ? " (query, fragment and credentials not shown)" : ""}`;
    } catch {
        return "(not a URL; value not shown)";
    }
}

export interface ObjectReference {
    /** The object key, without a leading `/`, percent-decoded when it came from an https URL. */
    key: string;
    /** From `?versionId=`, when the reference named one. */
    versionId?: string;
    /** How the reference was written, for messages. */
    form: "key" | "s3-uri" | "virtual-hosted-url" | "path-style-url" | "endpoint-url" | "arn";
}

export interface ObjectReferenceContext {
    /** The bucket the command works on: a reference to any other bucket is refused. */
    bucket: string;
    /** The flag or field the value came from, for messages. */
    field: string;
    /** The --endpoint of an S3-compatible server: its path-style URLs are understood too. */
    endpoint?: string;
}

// AWS S3 host names: s3.amazonaws.com, s3.<region>.amazonaws.com, s3-<region>.amazonaws.com,
// s3.dualstack.<region>.amazonaws.com, and the same under amazonaws.com.cn.
const S3_HOST = /^s3(?:[.-](?:dualstack\.)?[a-z]{2}(?:-gov)?-[a-z]+-\d)?\.amazonaws\.com(?:\.cn)?$/;
const S3_HOST_SUFFIX = /\.(s3(?:[.-](?:dualstack\.)?[a-z]{2}(?:-gov)?-[a-z]+-\d)?\.amazonaws\.com(?:\.cn)?)$/;

function refuse(context: ObjectReferenceContext, shown: string, why: string): never {
    throw new ArtifactArgumentError(`${context.field} ${shown}: ${why}`);
}

/** Splits a trailing `?versionId=<id>`; any other query is refused (artifact keys never contain `?`). */
function splitVersionId(context: ObjectReferenceContext, shown: string, query: string | undefined): string | undefined {
    if (query === undefined) return undefined;
    const params = new URLSearchParams(query);
    const names = [...params.keys()];
    if (names.length === 1 && names[0] === "versionId" && params.get("versionId")) return params.get("versionId")!;
    if (names.some((n) => /^x-amz-/i.test(n))) {
        refuse(context, shown, "is a presigned URL; give the object's key (or s3://bucket/key) instead, a signed URL is a credential.");
    }
    refuse(context, shown, "has a query other than ?versionId=<id>; artifact keys never contain '?', so this cannot name an artifact.");
}

function checkedKey(context: ObjectReferenceContext, shown: string, rawKey: string): string {
    const key = rawKey.replace(/^\/+/, "");
    if (key === "") refuse(context, shown, "names a bucket but no object key.");
    if (/[\r\n\0]/.test(key)) refuse(context, shown, "contains a line break or NUL character, which no artifact key has.");
    return checkKeyLength(key, context.field);
}

function decodePath(context: ObjectReferenceContext, shown: string, pathname: string): string {
    try {
        return decodeURIComponent(pathname);
    } catch {
        refuse(context, shown, "has a malformed percent-encoding in its path.");
    }
}

function sameBucket(context: ObjectReferenceContext, shown: string, bucket: string): void {
    if (bucket !== context.bucket) refuse(context, shown, `names bucket ${JSON.stringify(bucket)}, but this command works on ${JSON.stringify(context.bucket)}; refusing rather than ignoring it.`);
}

/**
 * Reads every form an operator may paste for an object: a plain key (with or without a leading
 * `/`), `s3://bucket/key` (scheme in any case), an S3 ARN, virtual-hosted and path-style https
 * URLs of AWS S3, path-style URLs of the --endpoint, each optionally with `?versionId=`. A form it
 * does not understand, or one that names another bucket, is refused, never silently ignored.
 * Messages show URLs without their query or user-info.
 */
export function parseObjectReference(value: string, context: ObjectReferenceContext): ObjectReference {
    const trimmed = value.trim();
    if (trimmed === "") throw new ArtifactArgumentError(`${context.field} needs an object key.`);

    const s3Uri = /^s3:\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(trimmed);
    if (s3Uri) {
        const shown = JSON.stringify(`s3://${s3Uri[1]}${s3Uri[2] ?? ""}`);
        sameBucket(context, shown, s3Uri[1]);
        const versionId = splitVersionId(context, shown, s3Uri[3]);
        return { key: checkedKey(context, shown, s3Uri[2] ?? ""), versionId, form: "s3-uri" };
    }

    const arn = /^arn:aws(?:-cn|-us-gov)?:s3:::([^/]+)(\/.*)?$/.exec(trimmed);
    if (arn) {
        const shown = JSON.stringify(trimmed);
        sameBucket(context, shown, arn[1]);
        return { key: checkedKey(context, shown, arn[2] ?? ""), form: "arn" };
    }

    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
        let url: URL;
        try {
            url = new URL(trimmed);
        } catch {
            refuse(context, urlForLog(trimmed), "is not a URL that can be read.");
        }
        const shown = urlForLog(trimmed);
        if (url.username || url.password) refuse(context, shown, "carries credentials in the URL; give the object's key instead.");
        if (url.hash) refuse(context, shown, "has a #fragment, which no S3 object URL has.");
        if (url.protocol !== "https:" && url.protocol !== "http:") refuse(context, shown, `uses ${url.protocol}, expected s3://, https:// or a plain key.`);
        const versionId = splitVersionId(context, shown, url.search === "" ? (trimmed.includes("?") ? "" : undefined) : url.search.slice(1));
        const host = url.hostname.toLowerCase();
        const endpoint = context.endpoint ? safeUrl(context.endpoint) : undefined;
        if (endpoint && url.protocol === endpoint.protocol && url.host.toLowerCase() === endpoint.host.toLowerCase()) {
            const [bucket, ...rest] = decodePath(context, shown, url.pathname).replace(/^\//, "").split("/");
            sameBucket(context, shown, bucket);
            return { key: checkedKey(context, shown, rest.join("/")), versionId, form: "endpoint-url" };
        }
        if (url.protocol !== "https:") refuse(context, shown, "is plain http to a host that is not the --endpoint; AWS S3 URLs use https.");
        if (S3_HOST.test(host)) {
            const [bucket, ...rest] = decodePath(context, shown, url.pathname).replace(/^\//, "").split("/");
            if (!bucket) refuse(context, shown, "names no bucket.");
            sameBucket(context, shown, bucket);
            return { key: checkedKey(context, shown, rest.join("/")), versionId, form: "path-style-url" };
        }
        const suffix = S3_HOST_SUFFIX.exec(host);
        if (suffix) {
            sameBucket(context, shown, host.slice(0, host.length - suffix[0].length));
            return { key: checkedKey(context, shown, decodePath(context, shown, url.pathname)), versionId, form: "virtual-hosted-url" };
        }
        refuse(context, shown, "is not an S3 URL (expected https://<bucket>.s3.<region>.amazonaws.com/<key> or https://s3.<region>.amazonaws.com/<bucket>/<key>).");
    }

    if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed) && !trimmed.includes("/")) {
        refuse(context, JSON.stringify(trimmed.slice(0, 80)), "looks like a URI of a scheme the artifact tools do not read; expected a key, s3://, or https://.");
    }

    const question = trimmed.indexOf("?");
    const rawKey = question < 0 ? trimmed : trimmed.slice(0, question);
    const shown = JSON.stringify(rawKey.length > 200 ? `${rawKey.slice(0, 197)}...` : rawKey);
    const versionId = question < 0 ? undefined : splitVersionId(context, shown, trimmed.slice(question + 1));
    return { key: checkedKey(context, shown, rawKey), versionId, form: "key" };
}

function safeUrl(value: string): URL | undefined {
    try {
        return new URL(value);
    } catch {
        return undefined;
    }
}
