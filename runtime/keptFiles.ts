import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * Writes `file` whole or not at all (a temporary file renamed over it), making its directory: a
 * process reading it meanwhile sees the previous contents or these, never part of them.
 */
export function writeAtomically(file: string, contents: string | Uint8Array): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, contents);
    fs.renameSync(tmp, file);
}

/** `writeAtomically` for what a run keeps for the next one: where it cannot be written (a read-only tree), the next run just works it out again. */
export function keepFile(file: string, contents: string | Uint8Array): void {
    try {
        writeAtomically(file, contents);
    } catch {
        // Not kept.
    }
}
