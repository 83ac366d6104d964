import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { BOOT_BACKOFF_CAP_SECONDS, bootBackoffSeconds, decideBootBackoff, exitWithBackoff, parseBootFailureCount } from "../runtime/bootBackoff";

describe("boot-failure backoff (seed 002)", () => {
    it("follows the documented table for BOOT_FAILURE_COUNT 0 to 10: immediate, then 2, 4, 8, 16, 32 s, then the 60 s cap", () => {
        const expected = [0, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60];
        assert.deepEqual(
            expected.map((_, count) => bootBackoffSeconds(count)),
            expected,
        );
    });

    it("is min(60, 2^count) for every count after the first failure, and never above the cap", () => {
        for (let count = 1; count <= 2000; count++) {
            const delay = bootBackoffSeconds(count);
            assert.equal(delay, Math.min(60, Math.pow(2, count)), `count ${count}`);
            assert.ok(delay <= BOOT_BACKOFF_CAP_SECONDS);
        }
    });

    it("rejects a count that is not a whole number of 0 or more", () => {
        for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => bootBackoffSeconds(bad), RangeError, String(bad));
    });

    it("reads BOOT_FAILURE_COUNT: unset or empty is 0, anything but a whole number is an error naming the variable", () => {
        assert.equal(parseBootFailureCount(undefined), 0);
        assert.equal(parseBootFailureCount(""), 0);
        assert.equal(parseBootFailureCount(" 3 "), 3);
        for (const bad of ["-1", "two", "1.5", "0x2"]) {
            assert.throws(() => parseBootFailureCount(bad), /BOOT_FAILURE_COUNT is ".*"; expected a whole number of 0 or more/, bad);
        }
    });

    it("backs off the full cap when BOOT_FAILURE_COUNT cannot be read, instead of restarting hot", () => {
        const decision = decideBootBackoff({ BOOT_FAILURE_COUNT: "lots" });
        assert.equal(decision.delaySeconds, 60);
        assert.match(decision.problem!, /BOOT_FAILURE_COUNT is "lots"/);
    });

    it("sleeps the backoff for this failure, then exits with the failure's code, logging one JSON line", async () => {
        for (const [count, seconds] of [["0", 0], ["3", 8], ["9", 60]] as const) {
            const slept: number[] = [];
            const exits: number[] = [];
            const lines: string[] = [];
            await exitWithBackoff({
                exitCode: 3,
                reason: "package download failed",
                env: { BOOT_FAILURE_COUNT: count },
                sleep: async (ms) => void slept.push(ms),
                exit: (code) => void exits.push(code),
                log: (line) => lines.push(line),
            });
            assert.deepEqual(slept, seconds === 0 ? [] : [seconds * 1000], `count ${count}: no sleep at all on the first failure`);
            assert.deepEqual(exits, [3]);
            assert.deepEqual(JSON.parse(lines[0]), {
                level: "error",
                event: "boot_failed",
                reason: "package download failed",
                previous_failures: Number(count),
                backoff_seconds: seconds,
                exit_code: 3,
            });
        }
    });

    it("refuses a success exit code for a failed boot", async () => {
        await assert.rejects(exitWithBackoff({ exitCode: 0, exit: () => undefined, log: () => undefined }), /exitCode must be a whole number from 1 to 255/);
    });

    it("exits a real process at once on the first failure, with its exit code", function () {
        this.timeout(20000);
        const script = `require(${JSON.stringify(path.resolve(__dirname, "../runtime/bootBackoff.ts"))}).exitWithBackoff({ exitCode: 4, reason: "no package source" });`;
        const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
            cwd: path.resolve(__dirname, ".."),
            env: { ...process.env, BOOT_FAILURE_COUNT: "0" },
            encoding: "utf8",
            timeout: 15000,
        });
        assert.equal(run.status, 4, run.stderr);
        assert.match(run.stderr, /"event":"boot_failed".*"backoff_seconds":0/);
    });
});
