/**
 * The offline policy gate per stack: wall time of `npm run preview` as a user runs it (a fresh
 * process: the compiled CLI, program and pack, tooling/build.ts) against the same CLI run from its
 * sources (ts-node, the pack started as the Pulumi CLI starts it, type-checked), then its parts:
 * starting the pack (CLI-exact and compiled), importing @pulumi/pulumi with its closure serializer
 * loaded eagerly and on first use, one whole evaluation on a warm pack (GetAnalyzerInfo, Configure,
 * Analyze for every resource, AnalyzeStack), and the time per resource (every Analyze call timed
 * alone, one after another; AnalyzeStack alone).
 *
 * Run: npm run bench -- policyGate      (GATE_RUNS=5 fresh runs per CLI figure)
 */
import { spawnSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { buildGate, ensureBuilt } from "../tooling/build";
import { captureProgram, CapturedResource } from "../tooling/capture";
import { PolicyAnalyzer, SEMI_SPACE_MIB } from "../tooling/policyAnalyzer";
import { runPolicyGate } from "../tooling/policyGate";
import { PROJECT_ROOT } from "../tooling/stackConfig";

const STACKS = ["staging", "prod"] as const;
const EVALUATIONS = 5;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
const s = (n: number) => `${(n / 1000).toFixed(1)} s`;

const RUNS = Number(process.env.GATE_RUNS ?? 5);

function timeOnce(args: string[]): { wallMs: number; code: number | null } {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { cwd: PROJECT_ROOT, stdio: "ignore" });
    return { wallMs: Number(process.hrtime.bigint() - started) / 1e6, code: result.status };
}

/** Median and min of fresh runs, with the exit codes seen. */
function timeRuns(args: string[], runs = RUNS): { medianMs: number; minMs: number; codes: string } {
    const results = Array.from({ length: runs }, () => timeOnce(args));
    return { medianMs: median(results.map((r) => r.wallMs)), minMs: Math.min(...results.map((r) => r.wallMs)), codes: [...new Set(results.map((r) => r.code))].join("/") };
}

/** As the package.json script runs it, node flags included. */
const compiledCli = (stack: string) => [`--max-semi-space-size=${SEMI_SPACE_MIB}`, path.join(PROJECT_ROOT, "tooling", "runCompiled.js"), "preview", "--stack", stack];
const sourceCli = (stack: string) => ["-r", "ts-node/register/transpile-only", path.join(PROJECT_ROOT, "scripts", "preview.ts"), "--stack", stack];

/** Fresh processes importing @pulumi/pulumi, eagerly as the SDK does, or with the closure serializer deferred as the compiled gate does. */
async function timeSdkImport(): Promise<{ eagerMs: number; deferredMs: number }> {
    const lazy = await ensureBuilt({ name: "bench-lazy-closure", entry: path.join(PROJECT_ROOT, "tooling", "lazyClosure.ts") });
    const timeImport = (prelude: string) => {
        const script = `const t = process.hrtime.bigint(); ${prelude} require("@pulumi/pulumi"); process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
        const times = Array.from({ length: RUNS }, () => Number(spawnSync(process.execPath, ["-e", script], { cwd: PROJECT_ROOT, encoding: "utf8" }).stdout));
        return median(times);
    };
    return { eagerMs: timeImport(""), deferredMs: timeImport(`require(${JSON.stringify(lazy.file)}).deferClosureSerializer(${JSON.stringify(PROJECT_ROOT)});`) };
}

async function sequential(n: number, measure: () => Promise<number>): Promise<number[]> {
    const values: number[] = [];
    for (let i = 0; i < n; i++) values.push(await measure());
    return values;
}

async function timeStart(typeCheck: boolean): Promise<number> {
    const started = process.hrtime.bigint();
    const analyzer = await PolicyAnalyzer.start({ typeCheck });
    await analyzer.getAnalyzerInfo();
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    await analyzer.close();
    return elapsed;
}

async function main(): Promise<void> {
    await buildGate();
    const cli = STACKS.map((stack) => ({ stack, compiled: timeRuns(compiledCli(stack)), source: timeRuns(sourceCli(stack)) }));
    const startTypeChecked = median(await sequential(RUNS, () => timeStart(true)));
    const startCompiled = median(await sequential(RUNS, () => timeStart(false)));
    const sdk = await timeSdkImport();

    const rows: string[] = [];
    const perType: Array<{ stack: string; type: string; meanMs: number; count: number }> = [];
    for (const stack of STACKS) {
        const captureStarted = process.hrtime.bigint();
        const plan = await captureProgram({ stack });
        const captureMs = Number(process.hrtime.bigint() - captureStarted) / 1e6;
        const resources: CapturedResource[] = plan.resources;

        // A fresh pack per evaluation, as each `pulumi preview` has: the pack's Analyze calls get
        // slower with every further Configure a long-lived pack process receives.
        const evaluations: number[] = [];
        for (let i = 0; i < EVALUATIONS; i++) {
            const analyzer = await PolicyAnalyzer.start({ typeCheck: false });
            try {
                const started = process.hrtime.bigint();
                const result = await runPolicyGate(resources, { stack, analyzer });
                evaluations.push(Number(process.hrtime.bigint() - started) / 1e6);
                if (result.exitCode !== 0) throw new Error(`the ${stack} plan does not pass the gate:\n${result.report}`);
            } finally {
                await analyzer.close();
            }
        }

        const analyzer = await PolicyAnalyzer.start({ typeCheck: false });
        const perResource: number[] = [];
        const byType = new Map<string, number[]>();
        let analyzeStackMs = 0;
        try {
            await analyzer.configure(path.join(PROJECT_ROOT, "policies", "config", `${stack}.json`));
            for (const r of resources) {
                const started = process.hrtime.bigint();
                await analyzer.analyze(r, resources);
                const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
                perResource.push(elapsed);
                byType.set(r.type, [...(byType.get(r.type) ?? []), elapsed]);
            }
            const stackStarted = process.hrtime.bigint();
            await analyzer.analyzeStack(resources);
            analyzeStackMs = Number(process.hrtime.bigint() - stackStarted) / 1e6;
        } finally {
            await analyzer.close();
        }
        for (const [type, times] of byType) perType.push({ stack, type, count: times.length, meanMs: times.reduce((a, b) => a + b, 0) / times.length });

        const cliRun = cli.find((c) => c.stack === stack)!;
        rows.push(
            `| ${stack} | ${resources.length} | ${s(cliRun.compiled.medianMs)} (min ${s(cliRun.compiled.minMs)}, exit ${cliRun.compiled.codes}) | ${s(cliRun.source.medianMs)} (min ${s(cliRun.source.minMs)}, exit ${cliRun.source.codes}) | ${s(captureMs)} | ${ms(median(evaluations))} | ${ms(median(evaluations) / resources.length)} | ${ms(median(perResource))} | ${ms(percentile(perResource, 95))} | ${ms(Math.max(...perResource))} | ${ms(analyzeStackMs)} |`,
        );
    }

    process.stdout.write(
        [
            `Load average when done: ${os.loadavg().map((l) => l.toFixed(1)).join(", ")} (${os.cpus().length} CPUs); CLI figures are medians (and min) of ${RUNS} fresh runs.`,
            "",
            `Starting the pack (GetAnalyzerInfo answered, median of ${RUNS}): ${s(startTypeChecked)} as the Pulumi CLI starts it (run-policy-pack, type-checked), ${s(startCompiled)} compiled.`,
            "",
            `Importing @pulumi/pulumi in a fresh process (median of ${RUNS}): ${ms(sdk.eagerMs)} as the SDK loads itself, ${ms(sdk.deferredMs)} with the closure serializer deferred.`,
            "",
            "| stack | resources | `npm run preview` wall (compiled) | from sources (ts-node, CLI-exact pack) | capture under mocks | gate evaluation (started pack, median of 5) | per resource (evaluation) | Analyze median | Analyze p95 | Analyze max | AnalyzeStack |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ...rows,
            "",
            "Slowest resource types to analyze (mean of sequential Analyze calls):",
            "",
            "| stack | type | resources | mean Analyze |",
            "| --- | --- | ---: | ---: |",
            ...perType
                .sort((a, b) => b.meanMs - a.meanMs)
                .slice(0, 6)
                .map((t) => `| ${t.stack} | ${t.type} | ${t.count} | ${ms(t.meanMs)} |`),
            "",
            "The evaluation runs Analyze 8 at a time, as the engine analyzes resources while it registers them; the per-resource column divides its wall time by the resources.",
            "",
        ].join("\n"),
    );
}

main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
});
