import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { architectureOf, previewUserData } from "../components/previewEnvironment";
import { assertSameContent } from "../components/versionedArtifact";
import {
    artifactKey,
    artifactMetadata,
    CleanupError,
    CleanupPlan,
    CONFIG_LABELS,
    decideCleanup,
    artifactStackOutputs,
    ArtifactArgumentError,
    checkBuildTimeNotFuture,
    deployedArtifactId,
    parseObjectReference,
    urlForLog,
    describeDifferences,
    environmentForPullRequest,
    branchOfStatusHeader,
    gitOrigin,
    keptGitOrigin,
    legacyArtifactKey,
    parseArtifactKey,
    resolveBuildInfo,
    runCleanup,
    sha256HexToBase64,
    StoredArtifact,
} from "../runtime/artifacts";

const SHA = "622d2103a1b2c3d4e5f60718293a4b5c6d7e8f90";
const OTHER_SHA = "0123456789abcdef0123456789abcdef01234567";
const SUM = "e62487a27b7915349e0db2786a9b747380778be2252ca8e569078f64f2863862";

describe("artifact keys (seed 003's contract)", () => {
    it("builds seed 003's example key and parses it back", () => {
        const key = artifactKey({ app: "express-api", environment: "pr-51", commitSha: SHA, buildTime: "20250820-124500", fileName: "express-api-deployment.tar.gz" });
        assert.equal(key, "express-api/pr-51/622d2103-20250820-124500/express-api-deployment.tar.gz");
        assert.deepEqual(parseArtifactKey(key), {
            app: "express-api",
            environment: "pr-51",
            version: "622d2103-20250820-124500",
            sha8: "622d2103",
            buildTime: "20250820-124500",
            file: "express-api-deployment.tar.gz",
            versionPrefix: "express-api/pr-51/622d2103-20250820-124500/",
        });
    });

    it("keeps the legacy key apart: it is seed 003's reused path and never parses as a versioned key", () => {
        const legacy = legacyArtifactKey("express-api", environmentForPullRequest(51));
        assert.equal(legacy, "express-api/pr-51/express-api-deployment.tar.gz");
        assert.equal(parseArtifactKey(legacy), undefined);
        assert.equal(parseArtifactKey("express-api/pr-51/622d2103-20250231-124500/x.tar.gz"), undefined, "31 February is not a build time");
        assert.equal(parseArtifactKey("express-api/pr-51/622D2103-20250820-124500/x.tar.gz"), undefined, "upper-case sha8");
    });

    it("rejects bad coordinates with the field, the value and what was expected", () => {
        const base = { app: "express-api", environment: "pr-51", commitSha: SHA, buildTime: "20250820-124500", fileName: "a.tar.gz" };
        assert.throws(() => artifactKey({ ...base, commitSha: "622d2103" }), /commit SHA must be a full 40-character lower-case hex commit SHA \(got "622d2103"\)/);
        assert.throws(() => artifactKey({ ...base, buildTime: "2025-08-20 12:45" }), /build time must be a UTC time written YYYYMMDD-HHMMSS/);
        assert.throws(() => artifactKey({ ...base, buildTime: "20250230-124500" }), /is not a real date and time/);
        assert.throws(() => artifactKey({ ...base, environment: "PR-51" }), /environment must be lower-case letters, digits and dashes.*\(got "PR-51"\)/);
        assert.throws(() => artifactKey({ ...base, fileName: "../etc/passwd" }), /file name must be a single file name/);
        assert.throws(() => environmentForPullRequest("0"), /pull request number must be a positive whole number/);
    });
});

describe("build info: explicit config, then CI, then the artifact's last commit", () => {
    const none = {};
    it("prefers the stack config over the CI environment, field by field", () => {
        const build = resolveBuildInfo({
            explicit: { commitSha: SHA, buildTime: "20250820-124500", branch: "" },
            labels: CONFIG_LABELS,
            env: { GITHUB_SHA: OTHER_SHA, JOBFLEET_BUILD_TIME: "20250101-000000", GITHUB_REF_NAME: "51/merge", GITHUB_HEAD_REF: "feature/x", GITHUB_RUN_ID: "987" },
            environment: "pr-51",
        });
        assert.deepEqual(build, { commitSha: SHA, buildTime: "20250820-124500", branch: "feature/x", workflowRunId: "987", prNumber: "51", source: "explicit" });
    });

    it("takes GitHub Actions' variables when the config is empty, and never the clock: the same inputs give the same key twice", () => {
        const env = { GITHUB_SHA: OTHER_SHA, JOBFLEET_BUILD_TIME: "20250101-000000", GITHUB_REF_NAME: "main", GITHUB_RUN_ID: "42", GITHUB_REF: "refs/heads/main" };
        const first = resolveBuildInfo({ explicit: { commitSha: "", buildTime: "" }, labels: CONFIG_LABELS, env, environment: "staging" });
        const second = resolveBuildInfo({ explicit: { commitSha: "", buildTime: "" }, labels: CONFIG_LABELS, env, environment: "staging" });
        assert.deepEqual(first, second);
        assert.deepEqual(first, { commitSha: OTHER_SHA, buildTime: "20250101-000000", branch: "main", workflowRunId: "42", prNumber: "", source: "ci" });
    });

    it("fails naming the config keys and the CI variables when neither gives a commit and build time", () => {
        const error = /No commit and build time.*jobfleet:previewCommitSha.*GITHUB_SHA.*jobfleet:previewBuildTime.*JOBFLEET_BUILD_TIME.*no git fallback was allowed/s;
        assert.throws(() => resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env: {} }), error);
        assert.throws(() => resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env: { GITHUB_SHA: SHA } }), /commit is set but its build time is not: set jobfleet:previewBuildTime or the CI variable JOBFLEET_BUILD_TIME/);
        assert.throws(() => resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env: { JOBFLEET_BUILD_TIME: "20250101-000000" } }), /build time is set but its commit is not: set jobfleet:previewCommitSha or the CI variable GITHUB_SHA/);
        assert.throws(() => resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env: { GITHUB_SHA: "abc", JOBFLEET_BUILD_TIME: "20250101-000000" } }), /GITHUB_SHA must be a full 40-character/);
    });

    it("falls back to the artifact's last commit only when git vouches for the content, and says why not otherwise", () => {
        const committedAt = new Date("2025-08-20T12:45:00Z");
        const fromGit = resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env: {}, environment: "staging", gitFallback: { artifactPath: "a.tar.gz", probe: () => ({ commitSha: SHA, committedAt, branch: "main" }) } });
        assert.deepEqual(fromGit, { commitSha: SHA, buildTime: "20250820-124500", branch: "main", workflowRunId: "", prNumber: "", source: "git" });
        assert.throws(
            () => resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env: {}, gitFallback: { artifactPath: "a.tar.gz", probe: () => "a.tar.gz has uncommitted changes" } }),
            /The git fallback did not apply: a.tar.gz has uncommitted changes/,
        );
    });

    it("in a GitHub Actions job that builds nothing (GITHUB_SHA but no JOBFLEET_BUILD_TIME), describes the committed file by git, not by the run", () => {
        const probe = () => ({ commitSha: SHA, committedAt: new Date("2025-08-20T12:45:00Z"), branch: "" });
        const env = { GITHUB_SHA: OTHER_SHA, GITHUB_RUN_ID: "42", GITHUB_REF: "refs/pull/7/merge", GITHUB_HEAD_REF: "feature/x" };
        assert.deepEqual(resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env, environment: "staging", gitFallback: { artifactPath: "a.tar.gz", probe } }), {
            commitSha: SHA,
            buildTime: "20250820-124500",
            branch: "",
            workflowRunId: "",
            prNumber: "",
            source: "git",
        });
        assert.throws(
            () => resolveBuildInfo({ explicit: none, labels: CONFIG_LABELS, env, gitFallback: { artifactPath: "a.tar.gz", probe: () => "a.tar.gz has uncommitted changes or is untracked" } }),
            /commit is set but its build time is not: set jobfleet:previewBuildTime or the CI variable JOBFLEET_BUILD_TIME .*git fallback did not apply: a.tar.gz has uncommitted changes/,
        );
        assert.throws(
            () => resolveBuildInfo({ explicit: { commitSha: SHA }, labels: CONFIG_LABELS, env: {}, gitFallback: { artifactPath: "a.tar.gz", probe } }),
            /jobfleet:previewCommitSha is set explicitly, so git cannot stand in for its build time/,
        );
    });

    it("refuses a PR number that contradicts the pr-<n> environment, and non-ASCII branches S3 headers cannot carry", () => {
        assert.throws(() => resolveBuildInfo({ explicit: { commitSha: SHA, buildTime: "20250820-124500", prNumber: "52" }, labels: CONFIG_LABELS, env: {}, environment: "pr-51" }), /jobfleet:previewPrNumber is 52 but the environment is pr-51/);
        assert.throws(() => resolveBuildInfo({ explicit: { commitSha: SHA, buildTime: "20250820-124500", branch: "fix/ünïcode" }, labels: CONFIG_LABELS, env: {} }), /must be printable ASCII/);
    });

    it("writes seed 003's metadata, leaving out what is unknown rather than writing it empty", () => {
        assert.deepEqual(artifactMetadata({ commitSha: SHA, branch: "", buildTime: "20250820-124500", workflowRunId: "", prNumber: "" }, SUM), { "commit-sha": SHA, "build-time": "20250820-124500", sha256: SUM });
        assert.deepEqual(artifactMetadata({ commitSha: SHA, branch: "main", buildTime: "20250820-124500", workflowRunId: "7", prNumber: "51" }, SUM), {
            "commit-sha": SHA,
            "build-time": "20250820-124500",
            sha256: SUM,
            branch: "main",
            "workflow-run-id": "7",
            "pr-number": "51",
        });
    });
});

describe("gitOrigin on a real repository", function () {
    let repo: string;
    const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], {
            cwd: repo,
            env: { ...process.env, GIT_COMMITTER_DATE: "2025-08-20T12:45:00Z", GIT_AUTHOR_DATE: "2025-08-20T12:45:00Z" },
            stdio: ["ignore", "pipe", "pipe"],
        })
            .toString()
            .trim();

    before(() => {
        repo = fs.mkdtempSync(path.join(os.tmpdir(), "artifact-git-"));
        git("init", "-q", "-b", "main");
        fs.writeFileSync(path.join(repo, "a.tar.gz"), "build 1");
        fs.writeFileSync(path.join(repo, "other.txt"), "x");
        git("add", "a.tar.gz", "other.txt");
        git("commit", "-q", "-m", "build 1");
    });
    after(() => fs.rmSync(repo, { recursive: true, force: true }));

    it("names the commit that last changed the file and its commit time, ignoring later unrelated commits", () => {
        const sha = git("rev-parse", "HEAD");
        fs.writeFileSync(path.join(repo, "other.txt"), "y");
        git("commit", "-q", "-am", "unrelated");
        assert.deepEqual(gitOrigin(path.join(repo, "a.tar.gz")), { commitSha: sha, committedAt: new Date("2025-08-20T12:45:00Z"), branch: "main" });
    });

    it("refuses a modified or untracked file: no commit describes its bytes", () => {
        fs.writeFileSync(path.join(repo, "a.tar.gz"), "build 2, not committed");
        assert.match(String(gitOrigin(path.join(repo, "a.tar.gz"))), /has uncommitted changes or is untracked/);
        git("checkout", "--", "a.tar.gz");
        fs.writeFileSync(path.join(repo, "b.tar.gz"), "new");
        assert.match(String(gitOrigin(path.join(repo, "b.tar.gz"))), /has uncommitted changes or is untracked/);
        assert.match(String(gitOrigin(path.join(os.tmpdir(), "surely-not-a-repo-artifact", "x.tar.gz"))), /not inside a git checkout/);
        fs.rmSync(path.join(repo, "b.tar.gz"));
    });

    it("names no branch on a detached HEAD, and the branch alone when it tracks an upstream", () => {
        const sha = git("log", "-1", "--format=%H", "--", "a.tar.gz");
        git("checkout", "-q", "--detach");
        try {
            assert.deepEqual(gitOrigin(path.join(repo, "a.tar.gz")), { commitSha: sha, committedAt: new Date("2025-08-20T12:45:00Z"), branch: "" });
        } finally {
            git("checkout", "-q", "main");
        }
        assert.equal(branchOfStatusHeader("## main...origin/main [ahead 1]"), "main");
        assert.equal(branchOfStatusHeader("## feature/x"), "feature/x");
        assert.equal(branchOfStatusHeader("## No commits yet on main"), "main");
        assert.equal(branchOfStatusHeader("## HEAD (no branch)"), "");
    });

    it("keeps what git said about a committed, clean file until a commit, an edit or a checkout changes it", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "git-origin-cache-"));
        const file = path.join(repo, "a.tar.gz");
        const withoutGit = <T>(f: () => T): T => {
            const saved = process.env.PATH;
            process.env.PATH = "";
            try {
                return f();
            } finally {
                process.env.PATH = saved;
            }
        };
        try {
            const first = keptGitOrigin(file, cache);
            assert.equal(typeof first, "object");
            // Answered from what was kept: with no git on PATH, gitOrigin itself would fail.
            assert.match(String(withoutGit(() => gitOrigin(file))), /not inside a git checkout \(or git is not installed\)/);
            assert.deepEqual(withoutGit(() => keptGitOrigin(file, cache)), first);

            fs.writeFileSync(path.join(repo, "other.txt"), "z");
            git("commit", "-q", "-am", "another unrelated commit");
            // A new commit changes the key: what was kept is not used (without git there is no answer)...
            assert.match(String(withoutGit(() => keptGitOrigin(file, cache))), /not inside a git checkout/);
            // ...and git, asked again, names the same commit.
            assert.deepEqual(keptGitOrigin(file, cache), first, "an unrelated commit: asked again, same answer");
            // Through a symbolic link to the checkout, the same answer, kept under the same real path.
            const link = path.join(cache, "link");
            fs.symlinkSync(repo, link);
            assert.deepEqual(withoutGit(() => keptGitOrigin(path.join(link, "a.tar.gz"), cache)), first);
            fs.rmSync(link);
            // git's own environment can change its answer: nothing is kept or used while it is set.
            process.env.GIT_NO_REPLACE_OBJECTS = "1";
            try {
                assert.match(String(withoutGit(() => keptGitOrigin(file, cache))), /not inside a git checkout/);
            } finally {
                delete process.env.GIT_NO_REPLACE_OBJECTS;
            }

            fs.writeFileSync(file, "build 3");
            assert.match(String(keptGitOrigin(file, cache)), /has uncommitted changes/);
            git("commit", "-q", "-am", "build 3");
            const third = keptGitOrigin(file, cache) as { commitSha: string; branch: string };
            assert.equal(third.commitSha, git("rev-parse", "HEAD"));
            assert.notEqual(third.commitSha, (first as { commitSha: string }).commitSha);

            git("checkout", "-q", "--detach");
            try {
                assert.equal((keptGitOrigin(file, cache) as { branch: string }).branch, "");
            } finally {
                git("checkout", "-q", "main");
            }
            assert.equal((keptGitOrigin(file, cache) as { branch: string }).branch, "main");
            assert.ok(fs.readdirSync(cache).length >= 3);
            // Nothing is kept for an answer that says why git cannot describe a file.
            fs.writeFileSync(path.join(repo, "c.tar.gz"), "untracked");
            const before = fs.readdirSync(cache).length;
            assert.match(String(keptGitOrigin(path.join(repo, "c.tar.gz"), cache)), /uncommitted changes or is untracked/);
            assert.equal(fs.readdirSync(cache).length, before);
            fs.rmSync(path.join(repo, "c.tar.gz"));
        } finally {
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });

    it("says a file in a repository with no commit yet is not committed", () => {
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "artifact-git-empty-"));
        try {
            execFileSync("git", ["init", "-q", "-b", "main"], { cwd: empty });
            fs.writeFileSync(path.join(empty, ".gitignore"), "*.tar.gz\n");
            fs.writeFileSync(path.join(empty, "a.tar.gz"), "x");
            assert.match(String(gitOrigin(path.join(empty, "a.tar.gz"))), /is not committed/);
        } finally {
            fs.rmSync(empty, { recursive: true, force: true });
        }
    });
});

describe("verification differences", () => {
    const key = "express-api/pr-51/622d2103-20250820-124500/express-api-deployment.tar.gz";
    const metadata = artifactMetadata({ commitSha: SHA, branch: "main", buildTime: "20250820-124500", workflowRunId: "7", prNumber: "51" }, SUM);

    it("finds nothing to say about a faithful object", () => {
        assert.deepEqual(describeDifferences(key, { size: 797, metadata, checksumSha256Base64: sha256HexToBase64(SUM) }, { sha256Hex: SUM, size: 797, build: { commitSha: SHA } }), []);
    });

    it("names S3's checksum, the size, each metadata field and the key's own commit and time", () => {
        const tampered = { ...metadata, "commit-sha": OTHER_SHA, "build-time": "20250821-000000" };
        const differences = describeDifferences(key, { size: 800, metadata: tampered, checksumSha256Base64: sha256HexToBase64(OTHER_SHA + OTHER_SHA.slice(0, 24)) }, { sha256Hex: SUM, size: 797, build: { commitSha: SHA } });
        assert.deepEqual(
            differences.map((d) => d.split(":")[0]),
            ["size", "checksum", "commit-sha", "commit-sha", "build-time"],
        );
        assert.match(differences.join("\n"), /the key names commit 622d2103/);
    });

    it("refuses an object without the sha256 metadata: nothing vouches for it", () => {
        assert.match(describeDifferences("express-api/pr-51/express-api-deployment.tar.gz", { size: 1, metadata: {} }, {}).join(), /metadata sha256 is missing/);
    });
});

describe("cleanup decisions", () => {
    const now = new Date("2025-09-01T00:00:00Z");
    function artifact(environment: string, daysOld: number, sha8 = "622d2103"): StoredArtifact {
        const time = new Date(now.getTime() - daysOld * 86_400_000);
        const stamp = time.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
        const id = `express-api/${environment}/${sha8}-${stamp}/`;
        return { id, app: "express-api", environment, legacy: false, version: `${sha8}-${stamp}`, buildTime: stamp, time, objects: [{ key: `${id}express-api-deployment.tar.gz`, size: 10, lastModified: time }], bytes: 10 };
    }

    it("keeps an artifact when any rule keeps it, counting the newest N per environment", () => {
        const artifacts = [1, 3, 10, 20, 30].map((d) => artifact("pr-51", d)).concat([artifact("pr-52", 40)]);
        const { decisions } = decideCleanup(artifacts, { keep: 2, days: 7, deployedKeys: [], now }, "b");
        const outcome = Object.fromEntries(decisions.map((d) => [`${d.artifact.environment}:${Math.round((now.getTime() - d.artifact.time.getTime()) / 86_400_000)}`, d.delete]));
        assert.deepEqual(outcome, { "pr-51:1": false, "pr-51:3": false, "pr-51:10": true, "pr-51:20": true, "pr-51:30": true, "pr-52:40": false });
    });

    it("never deletes what is deployed, given as a key or an s3:// URL of the same bucket", () => {
        const artifacts = [1, 10, 20].map((d) => artifact("pr-51", d));
        const deployed = artifacts[2].objects[0].key;
        const { decisions, unmatchedDeployedKeys } = decideCleanup(artifacts, { keep: 1, days: 0, deployedKeys: [`s3://b/${deployed}`, "express-api/pr-51/nope"], now }, "b");
        assert.deepEqual(
            decisions.map((d) => d.delete),
            [false, true, false],
        );
        assert.match(decisions[2].reasons.join(), /deployed/);
        assert.deepEqual(unmatchedDeployedKeys, ["express-api/pr-51/nope"]);
    });

    it("keeps the whole build for any way of naming it: its version prefix with or without the final /, a leading /, a file under it that was not listed", () => {
        const artifacts = [10, 20, 30, 40, 50].map((d) => artifact("pr-51", d));
        const ids = artifacts.map((a) => a.id);
        const deployedKeys = [ids[1].slice(0, -1), `/${artifacts[2].objects[0].key}`, `${ids[3]}config/app.env`, `s3://b/${ids[4]}`];
        const { decisions, unmatchedDeployedKeys } = decideCleanup(artifacts, { keep: 1, days: 0, deployedKeys, now }, "b");
        assert.deepEqual(
            decisions.map((d) => [d.artifact.id, d.delete]),
            ids.map((id) => [id, false]),
        );
        assert.deepEqual(
            decisions.slice(1).map((d) => d.reasons[0]),
            deployedKeys.map((k) => `deployed (${k})`),
        );
        assert.deepEqual(unmatchedDeployedKeys, []);
    });

    it("runCleanup refuses a plan that deletes any object of a build named deployed in any of those ways, before any request", async () => {
        const a = artifact("pr-51", 30);
        const extra = `${a.id}extra.txt`;
        const plan: CleanupPlan = {
            bucket: "b",
            app: "express-api",
            environment: "pr-51",
            rules: { keep: 1, days: 0, deployedKeys: [], now },
            decisions: [],
            deletions: [a],
            keysToDelete: [a.objects[0].key, extra],
            bytesToReclaim: 10,
            strayObjects: 0,
            unmatchedDeployedKeys: [],
            listRequests: 1,
            listedObjects: 2,
        };
        const untouchable = { send: async () => assert.fail("no request may be sent") } as unknown as S3Client;
        for (const deployed of [a.id.slice(0, -1), `/${a.objects[0].key}`, `${a.id}other-file`, `s3://b/${a.id}`]) {
            await assert.rejects(runCleanup({ client: untouchable, plan: { ...plan, rules: { ...plan.rules, deployedKeys: [deployed] } } }), /refusing to run a cleanup plan that deletes the deployed/, deployed);
        }
    });

    describe("runCleanup when S3 refuses deletions", () => {
        const artifacts = [10, 20, 30].map((d, i) => artifact("pr-51", d, `0000000${i}`));
        const plan: CleanupPlan = {
            bucket: "b",
            app: "express-api",
            environment: "pr-51",
            rules: { keep: 0, days: 1, deployedKeys: [], now },
            decisions: [],
            deletions: artifacts,
            keysToDelete: artifacts.map((a) => a.objects[0].key),
            bytesToReclaim: 30,
            strayObjects: 0,
            unmatchedDeployedKeys: [],
            listRequests: 1,
            listedObjects: 3,
        };

        it("collects the per-key Errors of every batch, keeps going, and counts only the artifacts that went whole", async () => {
            const sent: string[][] = [];
            const client = {
                send: async (command: DeleteObjectsCommand) => {
                    const keys = command.input.Delete!.Objects!.map((o) => o.Key!);
                    sent.push(keys);
                    assert.equal(command.input.Delete!.Quiet, true);
                    return { Errors: keys.filter((k) => k === plan.keysToDelete[1]).map((Key) => ({ Key, Code: "AccessDenied", Message: "Access Denied" })) };
                },
            } as unknown as S3Client;
            await assert.rejects(runCleanup({ client, plan, batchSize: 2 }), (err: CleanupError) => {
                assert.ok(err instanceof CleanupError);
                assert.deepEqual(sent, [plan.keysToDelete.slice(0, 2), plan.keysToDelete.slice(2)], "the second batch is still sent");
                assert.match(err.message, new RegExp(`^1 of 3 deletions failed:\n  ${plan.keysToDelete[1]}: AccessDenied Access Denied$`));
                assert.deepEqual(err.failures, [{ key: plan.keysToDelete[1], code: "AccessDenied", message: "Access Denied" }]);
                assert.deepEqual(err.partial, { dryRun: false, deletedObjects: 2, deletedArtifacts: 2, bytesReclaimed: 20, deleteRequests: 2 });
                return true;
            });
        });

        it("sends keys answered with a transient per-key error (InternalError, SlowDown) again, and reports the others", async () => {
            const sent: string[][] = [];
            const client = {
                send: async (command: DeleteObjectsCommand) => {
                    const keys = command.input.Delete!.Objects!.map((o) => o.Key!);
                    sent.push(keys);
                    if (sent.length > 1) return {};
                    return {
                        Errors: [
                            { Key: keys[0], Code: "InternalError", Message: "We encountered an internal error" },
                            { Key: keys[1], Code: "SlowDown", Message: "Reduce your request rate" },
                            { Key: keys[2], Code: "AccessDenied", Message: "Access Denied" },
                        ],
                    };
                },
            } as unknown as S3Client;
            await assert.rejects(runCleanup({ client, plan, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 1000 } }), (err: CleanupError) => {
                assert.deepEqual(sent, [plan.keysToDelete, plan.keysToDelete.slice(0, 2)], "only the transient ones are sent again");
                assert.deepEqual(err.failures, [{ key: plan.keysToDelete[2], code: "AccessDenied", message: "Access Denied" }]);
                assert.deepEqual(err.partial, { dryRun: false, deletedObjects: 2, deletedArtifacts: 2, bytesReclaimed: 20, deleteRequests: 2 });
                return true;
            });
        });

        it("says how far it got when a whole DeleteObjects request fails", async () => {
            let calls = 0;
            const client = {
                send: async () => {
                    calls += 1;
                    if (calls === 2) throw Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
                    return {};
                },
            } as unknown as S3Client;
            await assert.rejects(runCleanup({ client, plan, batchSize: 1 }), (err: CleanupError) => {
                assert.ok(err instanceof CleanupError, `a CleanupError, not ${String(err)}`);
                assert.equal(calls, 2, "nothing is sent after the failed request");
                assert.match(err.message, /^DeleteObjects failed after 1 of 3 objects were deleted \(1 whole artifacts\); the remaining 2 were not deleted: AccessDenied \(HTTP 403\): Access Denied\./);
                assert.deepEqual(err.partial, { dryRun: false, deletedObjects: 1, deletedArtifacts: 1, bytesReclaimed: 10, deleteRequests: 1 });
                return true;
            });
        });
    });

    it("never gives the legacy key a --keep slot: the newest N versioned builds stay even when the legacy key was uploaded last", () => {
        const versioned = [10, 20, 30].map((d, i) => artifact("pr-51", d, `0000000${i}`));
        const legacyTime = new Date(now.getTime() - 86_400_000);
        const legacy: StoredArtifact = {
            id: "express-api/pr-51/express-api-deployment.tar.gz",
            app: "express-api",
            environment: "pr-51",
            legacy: true,
            time: legacyTime,
            objects: [{ key: "express-api/pr-51/express-api-deployment.tar.gz", size: 5, lastModified: legacyTime }],
            bytes: 5,
        };
        const { decisions } = decideCleanup([legacy, ...versioned], { keep: 2, days: 0, deployedKeys: [], now }, "b");
        const byId = Object.fromEntries(decisions.map((d) => [d.artifact.id, d]));
        assert.equal(byId[versioned[0].id].delete, false);
        assert.equal(byId[versioned[1].id].delete, false, "the second-newest build keeps its slot although the legacy key is newer");
        assert.match(byId[versioned[1].id].reasons.join(), /#2/);
        assert.equal(byId[versioned[2].id].delete, true);
        assert.equal(byId[legacy.id].delete, true);
        assert.match(byId[legacy.id].reasons.join(), /legacy key, which never takes a --keep slot/);
    });
});

describe("object references: every form of a key is understood or refused", () => {
    const key = "express-api/pr-51/622d2103-20250820-124500/express-api-deployment.tar.gz";
    const context = { bucket: "jobfleet-artifacts", field: "--deployed" };

    it("understands a plain key, a leading /, s3:// in any case, the ARN, virtual-hosted and path-style https URLs, with or without ?versionId=", () => {
        const forms: Array<[string, string | undefined, string]> = [
            [key, undefined, "key"],
            [`/${key}`, undefined, "key"],
            [`//${key}`, undefined, "key"],
            [`${key}?versionId=3HL4kqtJvjVBH40Nrjfkd`, "3HL4kqtJvjVBH40Nrjfkd", "key"],
            [`s3://jobfleet-artifacts/${key}`, undefined, "s3-uri"],
            [`S3://jobfleet-artifacts/${key}`, undefined, "s3-uri"],
            [`s3://jobfleet-artifacts/${key}?versionId=v1`, "v1", "s3-uri"],
            [`arn:aws:s3:::jobfleet-artifacts/${key}`, undefined, "arn"],
            [`https://jobfleet-artifacts.s3.amazonaws.com/${key}`, undefined, "virtual-hosted-url"],
            [`https://jobfleet-artifacts.s3.eu-west-1.amazonaws.com/${key}?versionId=v2`, "v2", "virtual-hosted-url"],
            [`https://jobfleet-artifacts.s3-us-west-2.amazonaws.com/${key}`, undefined, "virtual-hosted-url"],
            [`https://jobfleet-artifacts.s3.dualstack.us-east-1.amazonaws.com/${key}`, undefined, "virtual-hosted-url"],
            [`https://s3.amazonaws.com/jobfleet-artifacts/${key}`, undefined, "path-style-url"],
            [`https://s3.us-east-1.amazonaws.com/jobfleet-artifacts/${key}?versionId=v3`, "v3", "path-style-url"],
            [`HTTPS://S3.US-EAST-1.AMAZONAWS.COM/jobfleet-artifacts/${key}`, undefined, "path-style-url"],
        ];
        for (const [given, versionId, form] of forms) {
            const ref = parseObjectReference(given, context);
            assert.equal(ref.key, key, given);
            assert.equal(ref.versionId, versionId, given);
            assert.equal(ref.form, form, given);
        }
        const encoded = parseObjectReference("https://jobfleet-artifacts.s3.amazonaws.com/express-api/pr-51/a%20b.txt", context);
        assert.equal(encoded.key, "express-api/pr-51/a b.txt", "https URLs are percent-decoded, as S3 encodes keys in them");
        const local = parseObjectReference(`http://127.0.0.1:4568/jobfleet-artifacts/${key}`, { ...context, endpoint: "http://127.0.0.1:4568" });
        assert.deepEqual([local.key, local.form], [key, "endpoint-url"]);
    });

    it("refuses another bucket, other hosts and schemes, presigned and other queries, credentials in a URL and a bare bucket, without showing a query or user-info", () => {
        const refused: Array<[string, RegExp]> = [
            [`s3://other-bucket/${key}`, /names bucket "other-bucket", but this command works on "jobfleet-artifacts"/],
            [`https://other-bucket.s3.amazonaws.com/${key}`, /names bucket "other-bucket"/],
            [`https://s3.us-east-1.amazonaws.com/other-bucket/${key}`, /names bucket "other-bucket"/],
            [`arn:aws:s3:::other-bucket/${key}`, /names bucket "other-bucket"/],
            [`https://example.com/${key}`, /is not an S3 URL/],
            [`http://127.0.0.1:4568/jobfleet-artifacts/${key}`, /plain http to a host that is not the --endpoint/],
            [`ftp://jobfleet-artifacts/${key}`, /uses ftp:/],
            [`gs://jobfleet-artifacts/${key}`, /uses gs:/],
            [`https://jobfleet-artifacts.s3.amazonaws.com/${key}?X-Amz-Signature=deadbeefsecret&X-Amz-Credential=AKIA`, /is a presigned URL/],
            [`${key}?versionId=v1&acl`, /query other than \?versionId=/],
            [`${key}?`, /query other than \?versionId=/],
            [`https://user:hunter2@jobfleet-artifacts.s3.amazonaws.com/${key}`, /carries credentials/],
            ["s3://jobfleet-artifacts", /names a bucket but no object key/],
            ["s3://jobfleet-artifacts/", /names a bucket but no object key/],
            ["/", /names a bucket but no object key/],
            [`${"x/".repeat(600)}a`, /1201 bytes long; S3 object keys are at most 1024 bytes/],
        ];
        for (const [given, pattern] of refused) {
            assert.throws(
                () => parseObjectReference(given, context),
                (err: Error) => {
                    assert.ok(err instanceof ArtifactArgumentError, given);
                    assert.match(err.message, pattern, given);
                    assert.match(err.message, /^--deployed /, "the message names the flag");
                    assert.doesNotMatch(err.message, /deadbeefsecret|AKIA|hunter2/, "no query or user-info in the message");
                    return true;
                },
                given,
            );
        }
    });

    it("maps every accepted form to the build it protects", () => {
        const prefix = "express-api/pr-51/622d2103-20250820-124500/";
        for (const given of [key, `S3://b/${key}`, `https://b.s3.amazonaws.com/${key}?versionId=v9`, `/${prefix.slice(0, -1)}`, `${prefix}other.txt`]) {
            assert.equal(deployedArtifactId("b", given), prefix, given);
        }
        assert.equal(deployedArtifactId("b", "express-api/pr-51/express-api-deployment.tar.gz"), "express-api/pr-51/express-api-deployment.tar.gz");
        assert.throws(() => deployedArtifactId("b", `s3://c/${key}`), /names bucket "c"/);
    });

    it("logs URLs without their query, fragment or user-info", () => {
        assert.equal(urlForLog("https://u:p@h.example:8443/a/b?X-Amz-Signature=s#f"), "https://h.example:8443/a/b (query, fragment and credentials not shown)");
        assert.equal(urlForLog("http://127.0.0.1:4568"), "http://127.0.0.1:4568/");
        assert.equal(urlForLog("not a url secret=1"), "(not a URL; value not shown)");
    });
});

describe("publish-time checks", () => {
    it("refuses a build time in the future beyond five minutes of clock skew", () => {
        const now = new Date("2025-09-01T12:00:00Z");
        assert.equal(checkBuildTimeNotFuture("20250901-120500", now), "20250901-120500", "five minutes ahead is clock skew");
        assert.equal(checkBuildTimeNotFuture("20200101-000000", now), "20200101-000000");
        assert.throws(() => checkBuildTimeNotFuture("20250901-120501", now, "--build-time"), /^ArtifactArgumentError: --build-time 20250901-120501 is 5 minutes in the future .*at most 5 minutes of clock skew/);
        assert.throws(() => checkBuildTimeNotFuture("20991231-235959", now), /in the future/);
    });

    it("refuses a key over S3's 1,024 bytes", () => {
        const base = { app: "express-api", environment: "e".repeat(900), commitSha: SHA, buildTime: "20250820-124500" };
        assert.throws(() => artifactKey({ ...base, fileName: "f".repeat(100) }), /the artifact key is 1038 bytes long; S3 object keys are at most 1024 bytes/);
        assert.equal(Buffer.byteLength(artifactKey({ ...base, fileName: "f".repeat(86) })), 1024, "exactly 1,024 bytes is allowed");
    });
});

describe("stack outputs", () => {
    it("reads artifactKey, the bucket and the cleanup policy of pulumi stack output --json", () => {
        assert.deepEqual(
            artifactStackOutputs({ artifactKey: "express-api/staging/622d2103-20250820-124500/express-api-deployment.tar.gz", artifactBucketName: "jobfleet-artifacts", artifactCleanupPolicy: { keep: 3, days: 14 }, previewUrl: "https://x" }),
            { keys: ["express-api/staging/622d2103-20250820-124500/express-api-deployment.tar.gz"], bucket: "jobfleet-artifacts", keep: 3, days: 14 },
        );
    });

    it("refuses outputs that cannot protect anything: no artifactKey, a hidden secret, a non-string key, a bad bucket or policy", () => {
        const cases: Array<[unknown, RegExp]> = [
            [{ previewUrl: "https://x", other: "a/b" }, /has no artifactKey output/],
            [[], /must be the JSON object/],
            [{ artifactKey: "[secret]" }, /--show-secrets/],
            [{ artifactKey: 3 }, /artifactKey must be an object key/],
            [{ artifactKey: "" }, /artifactKey must be an object key/],
            [{ artifactKey: "a/b", artifactBucketName: "Not_A_Bucket" }, /artifactBucketName must be an S3 bucket name/],
            [{ artifactKey: "a/b", artifactCleanupPolicy: { keep: -1 } }, /artifactCleanupPolicy.keep must be a whole number/],
        ];
        for (const [outputs, pattern] of cases) assert.throws(() => artifactStackOutputs(outputs), pattern, JSON.stringify(outputs));
    });
});

describe("VersionedArtifact and PreviewEnvironment helpers", () => {
    it("refuses to keep going when the key already holds other content", () => {
        assert.equal(assertSameContent("k", { sha256: SUM }, SUM, "f"), SUM);
        assert.equal(assertSameContent("k", undefined, SUM, "f"), SUM);
        assert.throws(() => assertSameContent("k", { sha256: OTHER_SHA + OTHER_SHA.slice(0, 24) }, SUM, "artifacts/x.tar.gz"), /Artifact key k already holds content with sha256 .* but artifacts\/x.tar.gz now has sha256 e624.*never overwritten/);
    });

    it("boot script checks size and checksum before it unpacks, and refuses to start otherwise", () => {
        const script = previewUserData({ app: "express-api", bucket: "b", key: "express-api/pr-51/622d2103-20250820-124500/express-api-deployment.tar.gz", versionId: "v1", size: 797, sha256Hex: SUM, appPort: 8080 });
        const at = (needle: string) => {
            const i = script.indexOf(needle);
            assert.ok(i >= 0, `script contains ${needle}`);
            return i;
        };
        assert.ok(at('[ "$actual_size" = "$ARTIFACT_SIZE" ] || refuse') < at("tar -xzf"));
        assert.ok(at('[ "$actual_sha256" = "$ARTIFACT_SHA256" ] || refuse') < at("tar -xzf"));
        assert.ok(at("tar -xzf") < at("systemctl enable --now"));
        assert.match(script, /^set -euo pipefail$/m);
        assert.match(script, /refuse\(\) \{\n\s+echo "REFUSING TO START \$APP: \$\*"\n\s+exit 1/);
        assert.match(script, /RELEASE_DIR="\/opt\/\$APP\/releases\/622d2103-20250820-124500"/);
    });

    it("picks arm64 images for Graviton instance types", () => {
        assert.equal(architectureOf("t3.small"), "x86_64");
        assert.equal(architectureOf("t4g.small"), "arm64");
        assert.equal(architectureOf("c7gn.large"), "arm64");
        assert.equal(architectureOf("m5.large"), "x86_64");
    });
});
