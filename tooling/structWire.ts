import { Struct } from "google-protobuf/google/protobuf/struct_pb";

/**
 * `google.protobuf.Struct` bytes, exactly as `Struct.fromJavaScript(value).serializeBinary()` writes
 * them, without building the message objects first: the gate serializes every resource's
 * properties once per Analyze request and once more in AnalyzeStack, and google-protobuf's object
 * building was most of that cost (about 0.2 ms per resource, and the garbage it leaves).
 *
 * Plain JSON values only: strings (well-formed UTF-16), finite or not numbers, booleans, null,
 * arrays and plain objects. Anything else (undefined, functions, class instances, lone surrogates)
 * goes through google-protobuf itself, which defines what those become.
 * test/structWire.test.ts compares the bytes with google-protobuf's, value by value.
 */

class NotPlain extends Error {}

type Chunks = { parts: Uint8Array[]; length: number };

function push(out: Chunks, bytes: Uint8Array): void {
    out.parts.push(bytes);
    out.length += bytes.length;
}

function varint(n: number): Uint8Array {
    const bytes: number[] = [];
    while (n > 0x7f) {
        bytes.push((n & 0x7f) | 0x80);
        n = Math.floor(n / 128);
    }
    bytes.push(n);
    return Uint8Array.from(bytes);
}

/** A length-delimited field: tag, length, then the nested chunks. */
function pushNested(out: Chunks, tag: number, nested: Chunks): void {
    push(out, Uint8Array.of(tag));
    push(out, varint(nested.length));
    for (const p of nested.parts) out.parts.push(p);
    out.length += nested.length;
}

function pushString(out: Chunks, tag: number, s: string): void {
    if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) throw new NotPlain();
    const bytes = Buffer.from(s, "utf8");
    push(out, Uint8Array.of(tag));
    push(out, varint(bytes.length));
    push(out, bytes);
}

const NULL_VALUE = Uint8Array.of(0x08, 0x00);
/** google-protobuf writes NaN with every mantissa bit set, not as the canonical quiet NaN. */
const NAN_VALUE = Uint8Array.of(0x11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);

function doubleValue(v: number): Uint8Array {
    const b = Buffer.allocUnsafe(9);
    b[0] = 0x11;
    b.writeDoubleLE(v, 1);
    return b;
}
const TRUE_VALUE = Uint8Array.of(0x20, 0x01);
const FALSE_VALUE = Uint8Array.of(0x20, 0x00);

/** A google.protobuf.Value's fields. */
function value(v: unknown): Chunks {
    const out: Chunks = { parts: [], length: 0 };
    if (v === null) {
        push(out, NULL_VALUE);
    } else if (typeof v === "string") {
        pushString(out, 0x1a, v);
    } else if (typeof v === "number") {
        push(out, Number.isNaN(v) ? NAN_VALUE : doubleValue(v));
    } else if (typeof v === "boolean") {
        push(out, v ? TRUE_VALUE : FALSE_VALUE);
    } else if (Array.isArray(v)) {
        const list: Chunks = { parts: [], length: 0 };
        for (const item of v) pushNested(list, 0x0a, value(item));
        pushNested(out, 0x32, list);
    } else if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
        pushNested(out, 0x2a, struct(v as Record<string, unknown>));
    } else {
        throw new NotPlain();
    }
    return out;
}

/** A google.protobuf.Struct's fields: one map entry (key 1, value 2) per key, keys sorted as google-protobuf sorts a map's keys. */
function struct(obj: Record<string, unknown>): Chunks {
    const out: Chunks = { parts: [], length: 0 };
    for (const key of Object.keys(obj).sort()) {
        const entry: Chunks = { parts: [], length: 0 };
        pushString(entry, 0x0a, key);
        pushNested(entry, 0x12, value(obj[key]));
        pushNested(out, 0x0a, entry);
    }
    return out;
}

/** The serialized Struct of a plain object, byte for byte as google-protobuf serializes `Struct.fromJavaScript(obj)`. */
export function structBytes(obj: Record<string, unknown>): Uint8Array {
    if (Object.getPrototypeOf(obj) === Object.prototype) {
        try {
            const out = struct(obj);
            return Buffer.concat(out.parts, out.length);
        } catch (err) {
            if (!(err instanceof NotPlain)) throw err;
        }
    }
    return Struct.fromJavaScript(obj as Record<string, never>).serializeBinary();
}

/** A length-delimited field (`tag` already shifted with wire type 2) holding `bytes`. */
export function lengthDelimited(tag: number, bytes: Uint8Array): Uint8Array {
    const len = varint(bytes.length);
    const out = new Uint8Array(1 + len.length + bytes.length);
    out[0] = tag;
    out.set(len, 1);
    out.set(bytes, 1 + len.length);
    return out;
}
