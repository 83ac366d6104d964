import * as crypto from "crypto";
import * as fs from "fs";

export interface FileDigest {
    /** Lower-case hex, as `sha256sum` prints it; stored in the `sha256` metadata entry. */
    sha256Hex: string;
    /** Base64, as S3's `x-amz-checksum-sha256` carries it. */
    sha256Base64: string;
    size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
    return SHA256_HEX.test(value);
}

export function sha256HexToBase64(hex: string): string {
    if (!isSha256Hex(hex)) throw new Error(`a SHA-256 checksum must be 64 lower-case hex characters (got ${JSON.stringify(hex)}).`);
    return Buffer.from(hex, "hex").toString("base64");
}

export function sha256Base64ToHex(base64: string): string {
    const bytes = Buffer.from(base64, "base64");
    if (bytes.length !== 32) throw new Error(`a base64 SHA-256 checksum must decode to 32 bytes (got ${JSON.stringify(base64)}).`);
    return bytes.toString("hex");
}

export function digestBuffer(data: Buffer): FileDigest {
    const digest = crypto.createHash("sha256").update(data).digest();
    return { sha256Hex: digest.toString("hex"), sha256Base64: digest.toString("base64"), size: data.length };
}

/** Streams the file: tarballs can be larger than we want in memory. */
export async function digestFile(path: string): Promise<FileDigest> {
    const hash = crypto.createHash("sha256");
    let size = 0;
    for await (const chunk of fs.createReadStream(path)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
    }
    const digest = hash.digest();
    return { sha256Hex: digest.toString("hex"), sha256Base64: digest.toString("base64"), size };
}

/** For the Pulumi program, which must know the digest synchronously while it registers resources. */
export function digestFileSync(path: string): FileDigest {
    return digestBuffer(fs.readFileSync(path));
}

/** Hashes a readable stream (a GetObject body) without buffering it. */
export async function digestStream(stream: AsyncIterable<Uint8Array>): Promise<FileDigest> {
    const hash = crypto.createHash("sha256");
    let size = 0;
    for await (const chunk of stream) {
        hash.update(chunk);
        size += chunk.length;
    }
    const digest = hash.digest();
    return { sha256Hex: digest.toString("hex"), sha256Base64: digest.toString("base64"), size };
}
