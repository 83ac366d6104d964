import { messageOf } from "./errors";
import { runShellJob } from "./runner";

/**
 * The shell executor container's entrypoint (`node runnerMain.js` in the runner image). ECS sends
 * SIGTERM when the task is stopped and SIGKILL after the container's stopTimeout: on SIGTERM the
 * running command is terminated and the result is still written before the process exits.
 */
const stop = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
        process.stderr.write(`shell-executor: ${signal} received; stopping the running command and reporting.\n`);
        stop.abort();
    });
}

runShellJob({ env: process.env, signal: stop.signal, log: (line) => process.stderr.write(`${line}\n`) })
    .then((outcome) => {
        process.exitCode = outcome.exitCode;
    })
    .catch((err: unknown) => {
        process.stderr.write(`shell-executor: the runner failed unexpectedly: ${messageOf(err)}\n`);
        process.exitCode = 2;
    });
