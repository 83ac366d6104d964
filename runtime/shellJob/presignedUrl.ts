/**
 * Small facts about SigV4 presigned URLs. A presigned URL is a bearer credential until it expires,
 * so logs and error messages show it without its query string.
 */

/** When a SigV4 query-string URL stops working (X-Amz-Date + X-Amz-Expires), or undefined if it is not one. */
export function presignedUrlExpiry(url: string): Date | undefined {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        return undefined;
    }
    const date = parsed.searchParams.get("X-Amz-Date");
    const expires = Number(parsed.searchParams.get("X-Amz-Expires"));
    const m = date ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date) : null;
    if (!m || !Number.isFinite(expires)) return undefined;
    const signedAt = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
    return new Date(signedAt + expires * 1000);
}

/** scheme://host/path, without the signature and credentials in the query. */
export function redactUrl(url: string): string {
    try {
        const parsed = new URL(url);
        return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    } catch {
        return "(not a URL)";
    }
}

/** The query parameters the S3 client adds when it computes a checksum for a presigned PUT. */
export function checksumParametersOf(url: string): string[] {
    try {
        return [...new URL(url).searchParams.keys()].filter((k) => /^x-amz-(checksum-(?!mode$)|sdk-checksum-algorithm$)/i.test(k));
    } catch {
        return [];
    }
}

/** Every http(s) URL in a text (an error message, a log line) without user-info and query. */
export function redactUrls(text: string): string {
    return text.replace(/\bhttps?:\/\/[^\s"'<>()]+/gi, (url) => redactUrl(url));
}
