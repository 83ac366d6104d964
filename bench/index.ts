import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * `npm run bench`: runs every benchmark script in this folder (or those named on the command
 * line), each in its own process so one's warm caches do not flatter another, and prints what each
 * reports. The figures quoted in docs/benchmarks.md come from this command.
 */
const requested = process.argv.slice(2);
const scripts = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".ts") && f !== "index.ts")
    .filter((f) => requested.length === 0 || requested.some((r) => f.startsWith(r)))
    .sort();

if (scripts.length === 0) {
    process.stderr.write(`No benchmark matches ${requested.join(", ")}; available: ${fs.readdirSync(__dirname).filter((f) => f !== "index.ts").join(", ")}\n`);
    process.exit(2);
}

process.stdout.write(`# jobfleet benchmarks\n\nMachine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${process.platform} ${os.release()}, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.\n\n`);
let failed = 0;
for (const script of scripts) {
    process.stdout.write(`## ${script}\n\n`);
    const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, script)], { stdio: "inherit", cwd: path.resolve(__dirname, "..") });
    if (result.status !== 0) {
        failed++;
        process.stdout.write(`\n(${script} failed with exit code ${result.status})\n`);
    }
    process.stdout.write("\n");
}
process.exit(failed === 0 ? 0 : 1);
