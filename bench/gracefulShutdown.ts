import * as http from "http";
import { get, startSlowServer } from "../test/fixtures/serverProcess";

/**
 * Seed 002's graceful shutdown in numbers: a real HTTP server (test/fixtures/slowServer.ts, using
 * runtime/gracefulShutdown.ts) in its own process holds N slow requests on N keep-alive
 * connections, receives SIGTERM, and the client counts what completed and what was dropped. The
 * drain overhead is the time from the last response to the process's exit: what the shutdown
 * itself costs on top of the requests it waits for. The forced row holds requests longer than the
 * deadline and measures how close to the deadline the process exits.
 *
 * Run alone: npx ts-node --transpile-only bench/gracefulShutdown.ts (BENCH_REPEAT=3 by default).
 */

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

interface Run {
    inFlight: number;
    completed: number;
    dropped: number;
    refusedNewConnection: boolean;
    lastResponseMs: number;
    exitMs: number;
    exitCode: number | null;
}

async function runOnce(concurrency: number, requestMs: number, deadlineSeconds: number): Promise<Run> {
    const server = await startSlowServer({ GRACEFUL_SHUTDOWN_TIMEOUT_SEC: String(deadlineSeconds) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    try {
        let lastResponseAt = 0;
        const responses = Array.from({ length: concurrency }, (_, i) =>
            get(server.port, `/slow?ms=${requestMs}&id=${i}`, agent).then((r) => {
                if (r.status === 200) lastResponseAt = Date.now();
                return r;
            }),
        );
        await server.waitForAccepted(concurrency, 60000);
        const sigtermAt = Date.now();
        server.child.kill("SIGTERM");
        const started = await server.waitForEvent("shutdown_started");
        await server.waitForEvent("listeners_closed");
        const newcomer = await get(server.port, "/slow?ms=1&id=late");
        const results = await Promise.all(responses);
        const exit = await server.exited;
        const completed = results.filter((r, i) => r.status === 200 && r.body === `done ${i}`).length;
        return {
            inFlight: Number(started.in_flight),
            completed,
            dropped: concurrency - completed,
            refusedNewConnection: newcomer.error === "ECONNREFUSED",
            lastResponseMs: completed > 0 ? lastResponseAt - sigtermAt : Number.NaN,
            exitMs: exit.at - sigtermAt,
            exitCode: exit.code,
        };
    } finally {
        agent.destroy();
        await server.stop();
    }
}

const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
};

async function main(): Promise<void> {
    const scenarios: Array<{ concurrency: number; requestMs: number; deadlineSeconds: number }> = [
        { concurrency: 100, requestMs: 1000, deadlineSeconds: 30 },
        { concurrency: 300, requestMs: 1000, deadlineSeconds: 30 },
        { concurrency: 1000, requestMs: 3000, deadlineSeconds: 30 },
        { concurrency: 300, requestMs: 5000, deadlineSeconds: 30 },
        { concurrency: 50, requestMs: 30000, deadlineSeconds: 2 },
    ];
    const rows: string[] = [];
    for (const s of scenarios) {
        const runs: Run[] = [];
        for (let i = 0; i < REPEAT; i++) runs.push(await runOnce(s.concurrency, s.requestMs, s.deadlineSeconds));
        const forced = s.requestMs > s.deadlineSeconds * 1000;
        const overhead = forced ? "n/a (forced)" : `${median(runs.map((r) => r.exitMs - r.lastResponseMs))} ms`;
        rows.push(
            `| ${s.concurrency} | ${s.requestMs} ms | ${s.deadlineSeconds} s | ${runs.reduce((n, r) => n + r.inFlight, 0)} | ${runs.reduce((n, r) => n + r.completed, 0)} | ${runs.reduce((n, r) => n + r.dropped, 0)} | ${runs.every((r) => r.refusedNewConnection) ? "yes" : "NO"} | ${forced ? "n/a" : `${median(runs.map((r) => r.lastResponseMs))} ms`} | ${median(runs.map((r) => r.exitMs))} ms | ${overhead} | ${[...new Set(runs.map((r) => r.exitCode))].join(",")} |`,
        );
    }
    process.stdout.write(`Graceful shutdown on SIGTERM, ${REPEAT} run(s) per row (times are medians, counts are totals over the runs; times from SIGTERM).\n\n`);
    process.stdout.write("| concurrent requests | request time | deadline | in flight at SIGTERM | completed | dropped | new connection refused | last response | process exit | drain overhead | exit code |\n");
    process.stdout.write("| ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: | :---: |\n");
    process.stdout.write(rows.join("\n") + "\n");
}

main().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
});
