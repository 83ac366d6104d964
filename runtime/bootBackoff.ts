/**
 * Boot-failure backoff of the agent runtime (seed 002, "Retry Backoff on Boot Failure").
 *
 * When the runtime cannot boot (package download fails, no package source, the boot time hard
 * limit is exceeded, the package does not load) it exits non-zero and ECS starts a replacement.
 * Exiting at once every time makes a hot restart loop, so the exit is delayed by
 * `min(60, 2^failure_count)` seconds, where `failure_count` is the number of consecutive boot
 * failures before this one, read from `BOOT_FAILURE_COUNT`:
 *
 * | BOOT_FAILURE_COUNT | this failure is the | delay before exit |
 * | --- | --- | --- |
 * | 0 (or unset) | 1st | 0 s (exit immediately) |
 * | 1 | 2nd | 2 s |
 * | 2 | 3rd | 4 s |
 * | 3 | 4th | 8 s |
 * | 4 | 5th | 16 s |
 * | 5 | 6th | 32 s |
 * | 6 and more | 7th and later | 60 s (the cap) |
 *
 * The seed's summary line "Fifth+ failure: Sleep 60 seconds" disagrees with its own formula (2^4 =
 * 16 s for the fifth); the formula and the issue ("2, 4, 8 ... seconds, capped at 60") win. The
 * first failure is the one exception to the formula (2^0 would be 1 s): it exits immediately.
 */

export const BOOT_FAILURE_COUNT_ENV = "BOOT_FAILURE_COUNT";
export const BOOT_BACKOFF_CAP_SECONDS = 60;

/** Seconds to wait before exiting, given the consecutive boot failures before this one. */
export function bootBackoffSeconds(previousFailures: number): number {
    if (!Number.isInteger(previousFailures) || previousFailures < 0) {
        throw new RangeError(`previousFailures must be a whole number of 0 or more (got ${previousFailures}).`);
    }
    if (previousFailures === 0) return 0;
    // 2 ** n grows past the cap at n = 6; beyond ~1024 it is Infinity, which Math.min also caps.
    return Math.min(BOOT_BACKOFF_CAP_SECONDS, 2 ** previousFailures);
}

/**
 * Reads `BOOT_FAILURE_COUNT`: unset or empty means no earlier failure. Anything other than a
 * whole number of 0 or more is an error naming the variable and the value.
 */
export function parseBootFailureCount(raw: string | undefined): number {
    if (raw === undefined || raw.trim() === "") return 0;
    const trimmed = raw.trim();
    if (!/^\d+$/.test(trimmed)) {
        throw new Error(`${BOOT_FAILURE_COUNT_ENV} is ${JSON.stringify(raw)}; expected a whole number of 0 or more (the consecutive boot failures before this start).`);
    }
    return Number(trimmed);
}

export interface ExitWithBackoffOptions {
    /** Exit code of the failed boot; default 1. */
    exitCode?: number;
    /** Why the boot failed, for the log line. */
    reason?: string;
    /** Default process.env. */
    env?: NodeJS.ProcessEnv;
    /** Default: a real timer. */
    sleep?: (ms: number) => Promise<void>;
    /** Default process.exit. */
    exit?: (code: number) => never | void;
    /** Default console.error (one JSON line, as the runtime logs). */
    log?: (line: string) => void;
}

export interface BootBackoffDecision {
    previousFailures: number;
    delaySeconds: number;
    /** Set when BOOT_FAILURE_COUNT could not be read: the delay is then the cap, never a hot loop. */
    problem?: string;
}

/**
 * The delay for this process's environment. An unreadable count backs off the full cap: a
 * misconfigured variable must not turn into a hot restart loop.
 */
export function decideBootBackoff(env: NodeJS.ProcessEnv = process.env): BootBackoffDecision {
    try {
        const previousFailures = parseBootFailureCount(env[BOOT_FAILURE_COUNT_ENV]);
        return { previousFailures, delaySeconds: bootBackoffSeconds(previousFailures) };
    } catch (error) {
        return { previousFailures: Number.NaN, delaySeconds: BOOT_BACKOFF_CAP_SECONDS, problem: (error as Error).message };
    }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Logs the failure, waits the backoff for this failure, then exits with the failure's code. */
export async function exitWithBackoff(options: ExitWithBackoffOptions = {}): Promise<void> {
    const exitCode = options.exitCode ?? 1;
    if (!Number.isInteger(exitCode) || exitCode < 1 || exitCode > 255) {
        throw new RangeError(`exitCode must be a whole number from 1 to 255 for a failed boot (got ${exitCode}).`);
    }
    const log = options.log ?? ((line: string) => console.error(line));
    const decision = decideBootBackoff(options.env ?? process.env);
    log(
        JSON.stringify({
            level: "error",
            event: "boot_failed",
            reason: options.reason ?? "boot failed",
            previous_failures: Number.isNaN(decision.previousFailures) ? null : decision.previousFailures,
            backoff_seconds: decision.delaySeconds,
            exit_code: exitCode,
            ...(decision.problem ? { problem: decision.problem } : {}),
        }),
    );
    if (decision.delaySeconds > 0) await (options.sleep ?? realSleep)(decision.delaySeconds * 1000);
    (options.exit ?? process.exit)(exitCode);
}
