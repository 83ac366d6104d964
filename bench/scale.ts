/**
 * The gate at scale: synthetic stack exports made from the prod plan (bench/support/syntheticStack.ts,
 * every copy renamed consistently) at about 224, 1,000, 4,000 and 10,000 resources, each checked
 * with `npm run preview -- --state <file>` as a user runs it (compiled gate, fresh processes, the
 * script's node flags). Per size: wall time (median and min of the runs, taken round by round over
 * the sizes), peak resident memory of the CLI process and of the pack's process, the verdict; then,
 * in this process with a started pack, the time of the Analyze calls (8 at a time) and of
 * AnalyzeStack, so growth can be attributed.
 *
 * Run: npm run bench -- scale        (SCALE_COPIES=1,5 to choose the sizes; SCALE_RUNS=3)
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildGate } from "../tooling/build";
import { captureProgram, toStackExport } from "../tooling/capture";
import { PolicyAnalyzer, SEMI_SPACE_MIB } from "../tooling/policyAnalyzer";
import { readStackExport } from "../tooling/policyGate";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { syntheticStack } from "./support/syntheticStack";

const COPIES = (process.env.SCALE_COPIES ?? "1,5,18,45").split(",").map(Number);
const RUNS = Number(process.env.SCALE_RUNS ?? 3);
const CLI = path.join(PROJECT_ROOT, "tooling", "runCompiled.js");

interface Run {
    wallMs: number;
    code: number | null;
    /** Peak resident set (VmHWM), MiB: the CLI's process and the largest other process under it (the pack). */
    cliPeakMiB: number;
    packPeakMiB: number;
    verdict: string;
}

function peakOf(pid: number): number {
    try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) / 1024 : 0;
    } catch {
        return 0;
    }
}

function childrenOf(pid: number): number[] {
    try {
        return fs
            .readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map(Number);
    } catch {
        return [];
    }
}

/** One gate run as a user starts it; peak memory sampled from /proc every 20 ms (VmHWM only grows). */
function runGate(file: string): Promise<Run> {
    return new Promise((resolve, reject) => {
        const started = process.hrtime.bigint();
        const child = spawn(process.execPath, [`--max-semi-space-size=${SEMI_SPACE_MIB}`, CLI, "preview", "--state", file, "--stack", "prod"], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        let cliPeak = 0;
        let packPeak = 0;
        const sample = () => {
            cliPeak = Math.max(cliPeak, peakOf(child.pid!));
            for (const c of childrenOf(child.pid!)) packPeak = Math.max(packPeak, peakOf(c));
        };
        const timer = setInterval(sample, 20);
        child.on("error", reject);
        child.on("exit", (code) => {
            clearInterval(timer);
            const verdict = /^(Policy gate passed|error: policy gate blocked)[^\n]*/m.exec(out)?.[0] ?? out.trim().split("\n").pop() ?? "";
            resolve({ wallMs: Number(process.hrtime.bigint() - started) / 1e6, code, cliPeakMiB: cliPeak, packPeakMiB: packPeak, verdict });
        });
    });
}

/** Analyze for every resource (8 at a time) and AnalyzeStack, timed apart, on a started compiled pack. */
async function phases(file: string): Promise<{ analyzeMs: number; analyzeStackMs: number }> {
    const { resources } = readStackExport(file);
    const analyzer = await PolicyAnalyzer.start({ typeCheck: false });
    try {
        await analyzer.configure(path.join(PROJECT_ROOT, "policies", "config", "prod.json"));
        const started = process.hrtime.bigint();
        let next = 0;
        const worker = async () => {
            while (next < resources.length) await analyzer.analyze(resources[next++], resources);
        };
        await Promise.all(Array.from({ length: 8 }, worker));
        const analyzeMs = Number(process.hrtime.bigint() - started) / 1e6;
        const stackStarted = process.hrtime.bigint();
        await analyzer.analyzeStack(resources);
        return { analyzeMs, analyzeStackMs: Number(process.hrtime.bigint() - stackStarted) / 1e6 };
    } finally {
        await analyzer.close();
    }
}

const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
    await buildGate();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-scale-"));
    try {
        const plan = toStackExport(await captureProgram({ stack: "prod" }));
        const sizes = COPIES.map((copies) => {
            const file = path.join(dir, `prod-x${copies}.json`);
            const synthetic = syntheticStack(plan, copies);
            fs.writeFileSync(file, JSON.stringify(synthetic));
            return { file, count: synthetic.deployment.resources.length, runs: [] as Run[] };
        });
        // Round by round over all sizes, so that each size's runs meet the same minutes of this
        // host (its speed drifts by a quarter within minutes) and the ratios compare like with like;
        // each round starts at another size, so no size always follows the largest.
        for (let i = 0; i < RUNS; i++) {
            for (let k = 0; k < sizes.length; k++) {
                const size = sizes[(i + k) % sizes.length];
                size.runs.push(await runGate(size.file));
                process.stderr.write(`${size.count} resources, run ${i + 1}: ${s(size.runs[i].wallMs)}\n`);
            }
        }
        const rows: string[] = [];
        const baseMs = median(sizes[0].runs.map((r) => r.wallMs));
        const baseCount = sizes[0].count;
        for (const { file, count, runs } of sizes) {
            const wall = median(runs.map((r) => r.wallMs));
            const { analyzeMs, analyzeStackMs } = await phases(file);
            const verdicts = [...new Set(runs.map((r) => r.verdict))];
            rows.push(
                `| ${count.toLocaleString("en-US")} | ${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB | ${s(wall)} | ${s(Math.min(...runs.map((r) => r.wallMs)))} | ${(wall / baseMs).toFixed(2)}× (${(count / baseCount).toFixed(1)}× resources) | ${s(analyzeMs)} | ${s(analyzeStackMs)} | ${Math.max(...runs.map((r) => r.cliPeakMiB)).toFixed(0)} MiB | ${Math.max(...runs.map((r) => r.packPeakMiB)).toFixed(0)} MiB | exit ${runs.map((r) => r.code).join("/")}: ${verdicts.join("; ").replace(/\|/g, "\\|")} |`,
            );
        }
        process.stdout.write(
            [
                `Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(", ")} (${os.cpus().length} CPUs). ${RUNS} run(s) per size, interleaved (one run of each size per round).`,
                "",
                "| resources | export | `npm run preview -- --state` wall (median) | min | vs smallest | Analyze, all resources (8 at a time) | AnalyzeStack | peak RSS, CLI | peak RSS, pack | verdict |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
                ...rows,
                "",
            ].join("\n"),
        );
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
});
