// s3rver in a child process, for test/artifactRuntime.test.ts and bench/artifactCleanup.ts.
//
// Why a child process: s3rver 3.7 encrypts ListObjectsV2 continuation tokens with DES, which
// Node 20's OpenSSL 3 only offers with --openssl-legacy-provider; in-process, every second page
// of a listing fails with InternalError. The flag cannot be turned on inside a running process.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const PROJECT_ROOT = path.resolve(__dirname, "..");

const CHILD = `
const S3rver = require("s3rver");
const [directory, ...buckets] = process.argv.slice(1);
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
server.run().then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + "\\n"), (err) => { console.error(err); process.exit(1); });
let stopping = false;
const stop = () => { if (stopping) return; stopping = true; server.close().then(() => process.exit(0), () => process.exit(1)); };
process.on("SIGTERM", stop);
// The parent holds our stdin: if it dies without stopping us, the pipe closes and we stop too.
process.stdin.on("end", stop);
process.stdin.resume();
`;

export interface S3rverProcess {
    endpoint: string;
    /** s3rver's filesystem store: `<bucket>/<key>._S3rver_object` per object (the benchmark seeds it directly). */
    directory: string;
    stop(): Promise<void>;
}

export async function startS3rver(buckets: string[]): Promise<S3rverProcess> {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "artifacts-s3rver-"));
    const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", CHILD, directory, ...buckets], { cwd: PROJECT_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        const onData = (d: Buffer) => {
            out += d.toString();
            const line = out.split("\n")[0];
            if (out.includes("\n")) {
                child.stdout!.off("data", onData);
                try {
                    resolve((JSON.parse(line) as { port: number }).port);
                } catch {
                    reject(new Error(`s3rver child printed ${JSON.stringify(line)}`));
                }
            }
        };
        child.stdout!.on("data", onData);
        child.once("exit", (code) => reject(new Error(`s3rver child exited with ${code} before listening: ${stderr}`)));
    });
    let stopped: Promise<void> | undefined;
    return {
        endpoint: `http://127.0.0.1:${port}`,
        directory,
        stop() {
            stopped ??= (async () => {
                if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
                await exited;
                fs.rmSync(directory, { recursive: true, force: true });
            })();
            return stopped;
        },
    };
}
