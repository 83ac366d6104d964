import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { RunTaskCommand, RunTaskCommandInput, RunTaskCommandOutput } from "@aws-sdk/client-ecs";
import type { RunTaskClient } from "./caller";
import { ECS_OVERRIDES_LIMIT_BYTES } from "./contract";
import { runShellJob, RunnerOutcome } from "./runner";

/**
 * A stand-in for ECS RunTask that starts the runner on this machine with the environment a real
 * task would get: the task definition's environment plus the caller's container overrides. It
 * refuses what ECS refuses (oversize overrides, an unknown container name), so a caller tested
 * against it behaves as against ECS. Used by the tests and the benchmark; never deployed.
 */

export interface LocalRunTaskOptions {
    /** The runner container's name in the task definition. */
    containerName: string;
    /** What the task definition's container environment sets (SHELL_COMMAND_TIMEOUT_SECONDS, ...). */
    taskEnvironment?: Record<string, string>;
    /** child-process: node runs runnerMain as the container would; in-process: runShellJob in this process (benchmark). */
    mode?: "child-process" | "in-process";
    /** Delay between RunTask answering and the runner starting, like a task's provisioning. */
    startDelayMs?: number;
    /** Resolve RunTask only once the runner has exited (in-process timing without polling noise). */
    waitForRunner?: boolean;
    /** Lets a test change the container's environment (an older caller, a newer version) before it starts. */
    alterEnvironment?: (env: Record<string, string>) => Record<string, string>;
}

export interface LocalRun {
    taskArn: string;
    environment: Record<string, string>;
    exitCode: number | null;
    /** The container's log (the runner writes it to stderr). */
    log: string;
}

const RUNNER_MAIN = path.join(__dirname, `runnerMain${path.extname(__filename)}`);

let bundledRunner: string | undefined;
/**
 * The runner as one JavaScript file, built once per process with esbuild (a dev dependency: this
 * file only runs in tests and benchmarks) when this module runs from TypeScript sources, so each
 * task starts as fast as the compiled image's `node runnerMain.js` instead of compiling on start.
 */
export function runnerEntrypoint(): string {
    if (!RUNNER_MAIN.endsWith(".ts")) return RUNNER_MAIN;
    if (bundledRunner && fs.existsSync(bundledRunner)) return bundledRunner;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shell-runner-bundle-"));
    const outfile = path.join(dir, "runnerMain.js");
    esbuild.buildSync({ entryPoints: [RUNNER_MAIN], bundle: true, platform: "node", target: "node22", format: "cjs", outfile, logLevel: "error" });
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    bundledRunner = outfile;
    return outfile;
}

export class LocalRunTask implements RunTaskClient {
    public readonly calls: RunTaskCommandInput[] = [];
    private readonly runs: Promise<LocalRun>[] = [];
    private readonly children = new Set<ChildProcess>();

    constructor(private readonly options: LocalRunTaskOptions) {}

    async send(command: RunTaskCommand): Promise<RunTaskCommandOutput> {
        const input = command.input;
        this.calls.push(input);
        const overrides = input.overrides ?? {};
        if (Buffer.byteLength(JSON.stringify(overrides), "utf8") > ECS_OVERRIDES_LIMIT_BYTES) {
            throw Object.assign(new Error(`Container Overrides length must be at most ${ECS_OVERRIDES_LIMIT_BYTES}`), { name: "InvalidParameterException" });
        }
        const containerOverride = overrides.containerOverrides?.[0];
        if (!containerOverride || containerOverride.name !== this.options.containerName) {
            throw Object.assign(new Error(`Override for container named ${containerOverride?.name} is not a container in the TaskDefinition.`), { name: "InvalidParameterException" });
        }
        let environment: Record<string, string> = { ...(this.options.taskEnvironment ?? {}) };
        for (const { name, value } of containerOverride.environment ?? []) {
            if (name !== undefined) environment[name] = value ?? "";
        }
        if (this.options.alterEnvironment) environment = this.options.alterEnvironment(environment);
        const taskArn = `arn:aws:ecs:local:000000000000:task/local/${this.calls.length}`;
        const run = this.launch(taskArn, environment);
        this.runs.push(run);
        if (this.options.waitForRunner) await run;
        return { tasks: [{ taskArn, lastStatus: "PROVISIONING" }], failures: [], $metadata: {} };
    }

    /** Every runner started so far, once each has exited. */
    settled(): Promise<LocalRun[]> {
        return Promise.all(this.runs);
    }

    /** Kills runners still running (a test that failed midway must not leave processes behind). */
    stopAll(): void {
        for (const child of this.children) child.kill("SIGKILL");
    }

    private async launch(taskArn: string, environment: Record<string, string>): Promise<LocalRun> {
        if (this.options.startDelayMs) await new Promise((resolve) => setTimeout(resolve, this.options.startDelayMs));
        if (this.options.mode === "in-process") {
            let log = "";
            const outcome: RunnerOutcome = await runShellJob({ env: { PATH: process.env.PATH, ...environment }, log: (line) => (log += `${line}\n`) });
            return { taskArn, environment, exitCode: outcome.exitCode, log };
        }
        const args = [runnerEntrypoint()];
        // The container's environment only: nothing of this process leaks in except what a shell needs.
        const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", TMPDIR: process.env.TMPDIR ?? "/tmp", ...environment };
        const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        this.children.add(child);
        let log = "";
        child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
        return new Promise((resolve, reject) => {
            child.on("error", reject);
            child.on("close", (code) => {
                this.children.delete(child);
                resolve({ taskArn, environment, exitCode: code, log });
            });
        });
    }
}
