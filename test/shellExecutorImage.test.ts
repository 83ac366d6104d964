import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { RunTaskCommand, RunTaskCommandOutput } from "@aws-sdk/client-ecs";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { bundleRunner, RunnerBundle } from "../images/shell-executor/bundle";
import { createShellJobS3Client, RunTaskClient, ShellExecutorTarget, submitShellJob } from "../runtime/shellJob/caller";
import { JOB_REQUEST_PREFIX, JOB_RESULT_PREFIX } from "../runtime/shellJob/contract";
import { CapturedPlan, inputsOf } from "../tooling/capture";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { startS3rver, S3rverProcess } from "./artifactS3rver";
import { standardPlan } from "./support/plans";

const IMAGE_DIR = path.join(PROJECT_ROOT, "images", "shell-executor");
const DOCKERFILE = fs.readFileSync(path.join(IMAGE_DIR, "Dockerfile"), "utf8");
const RUNNER_CAPS = "cap_chown,cap_kill,cap_setgid,cap_setuid";

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
    return text
        .replace(/\\\n/g, " ")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => ({ op: l.split(/\s+/)[0].toUpperCase(), args: l.slice(l.split(/\s+/)[0].length).trim() }));
}

function shellExecutorContainer(plan: CapturedPlan): Record<string, any> {
    const td = plan.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && String(inputsOf(r).family).endsWith("-shell-executor") || (r.type === "aws:ecs/taskDefinition:TaskDefinition" && /shell/.test(r.name)));
    assert.ok(td, "the program defines the shell executor's task definition");
    const [container] = JSON.parse(inputsOf(td).containerDefinitions);
    return container;
}

describe("shell executor image (images/shell-executor)", () => {
    const steps = instructions(DOCKERFILE);
    const finalStage = steps.slice(steps.map((s) => s.op).lastIndexOf("FROM"));

    it("pins its base image by digest, for every stage", () => {
        const arg = steps.find((s) => s.op === "ARG" && s.args.startsWith("NODE_IMAGE="));
        assert.ok(arg);
        assert.match(arg.args, /^NODE_IMAGE=node:24-bookworm-slim@sha256:[0-9a-f]{64}$/);
        const froms = steps.filter((s) => s.op === "FROM");
        assert.equal(froms.length, 2);
        for (const from of froms) assert.match(from.args, /^\$\{NODE_IMAGE\}( AS \w+)?$/, `FROM ${from.args} uses the pinned base`);
    });

    it("runs as uid 1001 — the task definition's user — with the runner bundle and no package manager or node_modules", async () => {
        const container = shellExecutorContainer(await standardPlan("staging"));
        const user = finalStage.filter((s) => s.op === "USER").pop();
        assert.equal(user?.args, "1001:1001");
        assert.equal(String(container.user).split(":")[0], "1001", "the task definition runs the image's user");
        assert.equal(container.readonlyRootFilesystem, true);
        assert.deepEqual(container.mountPoints.map((m: { containerPath: string }) => m.containerPath), ["/tmp"], "the only writable path is the /tmp the image uses");
        assert.ok(finalStage.some((s) => s.op === "ENV" && /TMPDIR=\/tmp/.test(s.args)));
        // Fargate seeds a task-storage mount from the image only at a declared VOLUME; otherwise it is root's, 0755, and uid 1001 cannot write it.
        assert.deepEqual(finalStage.filter((s) => s.op === "VOLUME").map((s) => JSON.parse(s.args)), [["/tmp"]], "the mounted /tmp is a declared volume");
        assert.deepEqual(finalStage.filter((s) => s.op === "ENTRYPOINT").map((s) => JSON.parse(s.args)), [["/usr/local/bin/shell-runner-node", "/app/runnerMain.js"]]);
        const copies = finalStage.filter((s) => s.op === "COPY");
        assert.deepEqual(copies.map((c) => c.args), ["--from=build --chown=root:root --chmod=0444 /out/runnerMain.js /app/runnerMain.js"], "the final image gets the bundle and nothing else from the repository");
        const run = finalStage.filter((s) => s.op === "RUN").map((s) => s.args).join(" ");
        assert.match(run, /useradd --uid 1001 --gid 1001 .*runner/);
        assert.match(run, /useradd --uid 1002 --gid 1002 .*job/);
        assert.match(run, new RegExp(`setcap ${RUNNER_CAPS}\\+ep /usr/local/bin/shell-runner-node`));
        assert.match(run, /install -o root -g runner -m 0750 \/usr\/local\/bin\/node \/usr\/local\/bin\/shell-runner-node/, "only group runner may execute the capable node, so job commands (uid 1002) cannot");
        assert.match(run, /rm -rf .*\/usr\/local\/lib\/node_modules .*\/usr\/local\/bin\/npm .*\/usr\/local\/bin\/npx/);
        const ignore = fs.readFileSync(path.join(IMAGE_DIR, "Dockerfile.dockerignore"), "utf8").split("\n");
        assert.equal(ignore.find((l) => l.trim() !== "" && !l.startsWith("#")), "*", "the build context starts empty");
        assert.equal(ignore.some((l) => /node_modules/.test(l) && l.startsWith("!")), false);
    });

    describe("the bundle, run as the image runs it", () => {
        let work: string;
        let bundle: RunnerBundle;
        let s3rver: S3rverProcess;
        let s3: S3Client;
        let runnerNode: string;
        const BUCKET = "shell-executor-image-test";

        before(async function () {
            this.timeout(60_000);
            work = fs.mkdtempSync(path.join(os.tmpdir(), "shell-executor-image-"));
            fs.chmodSync(work, 0o755);
            bundle = await bundleRunner(path.join(work, "app", "runnerMain.js"));
            s3rver = await startS3rver([BUCKET]);
            s3 = createShellJobS3Client({ region: "us-east-1", endpoint: s3rver.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
            // As the Dockerfile makes it: a copy of node only group 1001 may execute, with the runner's four capabilities.
            runnerNode = path.join(work, "shell-runner-node");
            fs.copyFileSync(process.execPath, runnerNode);
            if (process.getuid?.() === 0) {
                fs.chownSync(runnerNode, 0, 1001);
                fs.chmodSync(runnerNode, 0o750);
                const setcap = spawnSync("setcap", [`${RUNNER_CAPS}+ep`, runnerNode], { encoding: "utf8" });
                assert.equal(setcap.status, 0, `setcap: ${setcap.stderr}`);
            }
        });
        after(async () => {
            await s3rver?.stop();
            if (work) fs.rmSync(work, { recursive: true, force: true });
        });

        it("bundles zod and nothing else: no AWS SDK, no dev dependency", () => {
            assert.deepEqual(bundle.packages, ["zod"]);
            assert.ok(bundle.bytes > 10_000);
            const text = fs.readFileSync(bundle.outfile, "utf8");
            assert.doesNotMatch(text, /require\("(zod|@aws-sdk\/[^"]+|ts-node[^"]*)"\)/, "no require of a package: the image has no node_modules");
        });

        it("runs a job end to end against S3, as uid 1001 with only the task definition's environment and the RunTask overrides", async function () {
            this.timeout(60_000);
            if (process.getuid?.() !== 0) this.skip(); // Starting a process as uid 1001 with file capabilities needs root here.
            const container = shellExecutorContainer(await standardPlan("staging"));
            const taskEnvironment: Record<string, string> = Object.fromEntries(container.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
            // The task's /tmp: task storage, writable by the runner's user; nothing else is (the bundle is root's, 0444).
            const tmp = path.join(work, "tmp");
            fs.mkdirSync(tmp, { mode: 0o1777 });
            fs.chmodSync(tmp, 0o1777);
            fs.chmodSync(bundle.outfile, 0o444);
            const runs: Array<Promise<{ exitCode: number | null; log: string }>> = [];

            // ECS's side of RunTask: the container starts with the task definition's environment plus the overrides, nothing of this process.
            const ecs: RunTaskClient = {
                async send(command: RunTaskCommand): Promise<RunTaskCommandOutput> {
                    const override = command.input.overrides!.containerOverrides![0];
                    assert.equal(override.name, container.name, "the caller overrides the task definition's container");
                    const env: Record<string, string> = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/nonexistent", TMPDIR: tmp, NODE_ENV: "production", ...taskEnvironment };
                    for (const { name, value } of override.environment ?? []) env[name!] = value ?? "";
                    const child = spawn(runnerNode, [bundle.outfile], { env, cwd: tmp, uid: 1001, gid: 1001, stdio: ["ignore", "pipe", "pipe"] });
                    let log = "";
                    child.stdout!.on("data", (d: Buffer) => (log += d));
                    child.stderr!.on("data", (d: Buffer) => (log += d));
                    runs.push(new Promise((resolve) => child.on("close", (exitCode) => resolve({ exitCode, log }))));
                    return { tasks: [{ taskArn: "arn:aws:ecs:us-east-1:111122223333:task/image-test/1", lastStatus: "PROVISIONING" }], failures: [], $metadata: {} };
                },
            };
            const target: ShellExecutorTarget = {
                clusterArn: "arn:aws:ecs:us-east-1:111122223333:cluster/jobfleet-staging-shell-executor",
                taskDefinition: "jobfleet-staging-shell-executor:1",
                containerName: container.name,
                subnets: ["subnet-0a1b2c3d"],
                securityGroup: "sg-0a1b2c3d",
                bucket: BUCKET,
                urlTtlSeconds: 900,
            };
            const { result } = await submitShellJob(
                { s3, ecs, target, warn: () => undefined },
                { files: [{ path: "in.txt", content: "bundled\n" }], commands: [{ run: "cat in.txt; id -u" }, { run: "echo no >&2; exit 4" }] },
                { initialPollMs: 100, maxPollMs: 400 },
            );
            assert.equal(runs.length, 1);
            const run = await runs[0];
            // The runner exits 1 for a job whose command failed (it still wrote the result), never by a signal or a crash (2).
            assert.equal(run.exitCode, 1, `the runner reported the failed job and exited: ${run.log}`);
            assert.equal(result.status, "failed");
            assert.equal(result.commands[0].exitCode, 0, JSON.stringify(result));
            const [first, uid] = result.commands[0].stdout.trim().split("\n");
            assert.equal(first, "bundled");
            assert.notEqual(uid, "0", "job commands never run as root");
            assert.equal(result.commands[1].exitCode, 4);
            assert.equal(result.commands[1].stderr.trim(), "no");
            for (const prefix of [JOB_REQUEST_PREFIX, JOB_RESULT_PREFIX]) {
                const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
                assert.deepEqual(listed.Contents ?? [], [], `nothing left under ${prefix}`);
            }
        });
    });
});
