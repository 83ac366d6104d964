/**
 * The offline policy gate per stack: wall time of `npm run preview` as a user runs it (a fresh
 * process: ts-node, the program under mocks, the pack started as the Pulumi CLI starts it, the
 * evaluation), then its parts measured in one process: starting the pack (CLI-exact with its
 * TypeScript type check, and transpile-only), one whole evaluation on a warm pack
 * (GetAnalyzerInfo, Configure, Analyze for every resource, AnalyzeStack), and the time per resource
 * (every Analyze call timed alone, one after another; AnalyzeStack alone).
 *
 * Run: npx ts-node --transpile-only bench/policyGate.ts
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { captureProgram, CapturedResource } from "../tooling/capture";
import { PolicyAnalyzer } from "../tooling/policyAnalyzer";
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

function timeCli(stack: string): { wallMs: number; code: number | null } {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(PROJECT_ROOT, "scripts", "preview.ts"), "--stack", stack], {
        cwd: PROJECT_ROOT,
        stdio: "ignore",
    });
    return { wallMs: Number(process.hrtime.bigint() - started) / 1e6, code: result.status };
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
    const cli = STACKS.map((stack) => ({ stack, ...timeCli(stack) }));
    const startTypeChecked = await timeStart(true);
    const startTranspiled = await timeStart(false);

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
            `| ${stack} | ${resources.length} | ${s(cliRun.wallMs)} (exit ${cliRun.code}) | ${s(captureMs)} | ${ms(median(evaluations))} | ${ms(median(evaluations) / resources.length)} | ${ms(median(perResource))} | ${ms(percentile(perResource, 95))} | ${ms(Math.max(...perResource))} | ${ms(analyzeStackMs)} |`,
        );
    }

    process.stdout.write(
        [
            `Starting the pack (GetAnalyzerInfo answered): ${s(startTypeChecked)} as the Pulumi CLI starts it (run-policy-pack, type-checked), ${s(startTranspiled)} transpile-only.`,
            "",
            "| stack | resources | `npm run preview` wall | capture under mocks | gate evaluation (started pack, median of 5) | per resource (evaluation) | Analyze median | Analyze p95 | Analyze max | AnalyzeStack |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
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
