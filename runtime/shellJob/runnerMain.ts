import { OVERRIDE_ENV } from "./contract";
import { messageOf } from "./errors";
import { runShellJob } from "./runner";

/**
 * The shell executor container's entrypoint (`node runnerMain.js` in the runner image). ECS sends
 * SIGTERM when the task is stopped and SIGKILL after the container's stopTimeout: on SIGTERM (or
 * SIGINT) the running command's process group is terminated and the result is still written
 * before the process exits. Further SIGTERMs/SIGINTs are logged and ignored: only SIGKILL ends
 * the runner before its result is written (a handler stays installed until the process exits, so
 * the default action, exit without a result, never applies).
 */
const stop = new AbortController();
let signals = 0;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
        signals++;
        if (signals === 1) {
            process.stderr.write(`shell-executor: ${signal} received; stopping the running command and reporting.\n`);
            stop.abort(new Error(`stopped by ${signal}`));
        } else {
            process.stderr.write(`shell-executor: ${signal} received again; already stopping, the result is being written.\n`);
        }
    });
}

// The URLs stay in this process's initial environment block (/proc/<pid>/environ), which is why
// the commands run as another user; they are dropped from process.env so nothing here passes them on.
const env = { ...process.env };
for (const name of Object.values(OVERRIDE_ENV)) delete process.env[name];

runShellJob({ env, signal: stop.signal, log: (line) => process.stderr.write(`${line}\n`) })
    .then((outcome) => {
        process.exitCode = outcome.exitCode;
    })
    .catch((err: unknown) => {
        process.stderr.write(`shell-executor: the runner failed unexpectedly: ${messageOf(err)}\n`);
        process.exitCode = 2;
    });
