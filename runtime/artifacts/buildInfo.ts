import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ArtifactArgumentError, checkBuildTime, checkCommitSha, formatBuildTime } from "./keys";
import { keepFile } from "../keptFiles";

/** Where a build came from: the five metadata entries of seed 003, before the checksum. */
export interface BuildInfo {
    commitSha: string;
    /** "" when unknown. */
    branch: string;
    /** UTC YYYYMMDD-HHMMSS; with the commit it makes the key, so it is fixed for one build. */
    buildTime: string;
    /** "" when not built by a CI run. */
    workflowRunId: string;
    /** "" when not built for a pull request. */
    prNumber: string;
}

/** Object metadata names (S3 sends them as `x-amz-meta-<name>`). */
export const METADATA = {
    commitSha: "commit-sha",
    branch: "branch",
    buildTime: "build-time",
    workflowRunId: "workflow-run-id",
    prNumber: "pr-number",
    sha256: "sha256",
} as const;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * The metadata every artifact carries. Entries with no value are left out rather than written
 * empty, so "absent" always means "not known" (a local build has no workflow run).
 */
export function artifactMetadata(build: BuildInfo, sha256Hex: string): Record<string, string> {
    const metadata: Record<string, string> = {
        [METADATA.commitSha]: build.commitSha,
        [METADATA.buildTime]: build.buildTime,
        [METADATA.sha256]: sha256Hex,
    };
    if (build.branch) metadata[METADATA.branch] = build.branch;
    if (build.workflowRunId) metadata[METADATA.workflowRunId] = build.workflowRunId;
    if (build.prNumber) metadata[METADATA.prNumber] = build.prNumber;
    return metadata;
}

export type BuildField = "commitSha" | "branch" | "buildTime" | "workflowRunId" | "prNumber";

/** How the caller names its explicit inputs in error messages: config keys, or CLI flags. */
export type BuildFieldLabels = Record<BuildField, string>;

export const CONFIG_LABELS: BuildFieldLabels = {
    commitSha: "jobfleet:previewCommitSha",
    branch: "jobfleet:previewBranch",
    buildTime: "jobfleet:previewBuildTime",
    workflowRunId: "jobfleet:previewWorkflowRunId",
    prNumber: "jobfleet:previewPrNumber",
};

/** The CI variables read when the explicit value is empty (GitHub Actions names, plus ours for the build time). */
export const CI_VARIABLES = {
    commitSha: "GITHUB_SHA",
    branch: "GITHUB_HEAD_REF or GITHUB_REF_NAME",
    buildTime: "JOBFLEET_BUILD_TIME",
    workflowRunId: "GITHUB_RUN_ID",
    prNumber: "GITHUB_REF (refs/pull/<n>/merge)",
} as const;

export type BuildInfoSource = "explicit" | "ci" | "git";

export interface ResolvedBuildInfo extends BuildInfo {
    /** Where the commit and build time came from, for logs and docs. */
    source: BuildInfoSource;
}

/** Commit that last changed a committed, unmodified file: a local run's honest stand-in for a CI build. */
export interface GitOrigin {
    commitSha: string;
    committedAt: Date;
    branch: string;
}

export interface ResolveBuildInfoOptions {
    /** Explicit values (config or flags); "" or undefined means "not given". */
    explicit: Partial<Record<BuildField, string>>;
    labels: BuildFieldLabels;
    env: Record<string, string | undefined>;
    /** Environment name; `pr-<n>` gives the PR number when nothing else does. */
    environment?: string;
    /**
     * When neither explicit values nor CI give a commit and build time: the artifact file, whose
     * last commit stands in (only if the file is committed and unmodified). Omit to require them.
     */
    gitFallback?: { artifactPath: string; probe?: (artifactPath: string) => GitOrigin | string };
}

function firstSet(...values: Array<string | undefined>): string | undefined {
    return values.find((v) => v !== undefined && v.trim() !== "")?.trim();
}

/**
 * Resolves where an artifact was built from: explicit value first, then the CI environment, and
 * for the commit and build time together, as a last resort, git (when no build time is given
 * and no commit is configured). The build time never comes from the clock here: the key must be
 * the same in `pulumi preview` and the `pulumi up` that follows.
 */
export function resolveBuildInfo(options: ResolveBuildInfoOptions): ResolvedBuildInfo {
    const { explicit, labels, env } = options;
    const explicitCommit = firstSet(explicit.commitSha);
    const explicitTime = firstSet(explicit.buildTime);
    const ciCommit = firstSet(env.GITHUB_SHA);
    const ciTime = firstSet(env.JOBFLEET_BUILD_TIME);

    let commitSha = explicitCommit !== undefined ? checkCommitSha(explicitCommit, labels.commitSha) : ciCommit !== undefined ? checkCommitSha(ciCommit, "GITHUB_SHA") : undefined;
    let buildTime = explicitTime !== undefined ? checkBuildTime(explicitTime, labels.buildTime) : ciTime !== undefined ? checkBuildTime(ciTime, "JOBFLEET_BUILD_TIME") : undefined;
    let source: BuildInfoSource = explicitCommit !== undefined && explicitTime !== undefined ? "explicit" : "ci";
    let gitBranch = "";

    const howToSet = (field: "commitSha" | "buildTime") => `set ${labels[field]} or the CI variable ${CI_VARIABLES[field]}`;
    if (commitSha === undefined && buildTime !== undefined) {
        throw new ArtifactArgumentError(`The artifact's build time is set but its commit is not: ${howToSet("commitSha")} (a full 40-character SHA).`);
    }
    if (buildTime === undefined) {
        // No build time means no build described this run. GITHUB_SHA alone is just the checkout
        // every GitHub Actions job has (e.g. a test job), so it does not block the git fallback;
        // an explicitly configured commit does.
        let reason = "no git fallback was allowed here";
        if (explicitCommit !== undefined) {
            reason = `${labels.commitSha} is set explicitly, so git cannot stand in for its build time`;
        } else if (options.gitFallback) {
            const origin = (options.gitFallback.probe ?? keptGitOrigin)(options.gitFallback.artifactPath);
            if (typeof origin === "string") {
                reason = origin;
            } else {
                commitSha = origin.commitSha;
                buildTime = formatBuildTime(origin.committedAt);
                gitBranch = origin.branch;
                source = "git";
            }
        }
        if (commitSha === undefined || buildTime === undefined) {
            const advice = `(UTC YYYYMMDD-HHMMSS, fixed once per build, e.g. JOBFLEET_BUILD_TIME=$(date -u +%Y%m%d-%H%M%S) in the workflow, never the time of each run). The git fallback did not apply: ${reason}.`;
            throw new ArtifactArgumentError(
                commitSha === undefined
                    ? `No commit and build time for the artifact: ${howToSet("commitSha")}, and ${howToSet("buildTime")} ${advice}`
                    : `The artifact's commit is set but its build time is not: ${howToSet("buildTime")} ${advice}`,
            );
        }
    }

    const branch = firstSet(explicit.branch) ?? (source === "git" ? gitBranch : firstSet(env.GITHUB_HEAD_REF, env.GITHUB_REF_NAME)) ?? "";
    if (!PRINTABLE_ASCII.test(branch)) {
        throw new ArtifactArgumentError(`branch ${JSON.stringify(branch)} must be printable ASCII: S3 metadata travels in HTTP headers.`);
    }
    const workflowRunId = firstSet(explicit.workflowRunId) ?? (source === "git" ? undefined : firstSet(env.GITHUB_RUN_ID)) ?? "";
    if (workflowRunId && !/^\d+$/.test(workflowRunId)) {
        throw new ArtifactArgumentError(`${firstSet(explicit.workflowRunId) ? labels.workflowRunId : "GITHUB_RUN_ID"} must be a number (got ${JSON.stringify(workflowRunId)}).`);
    }
    const prFromEnvironment = /^pr-([1-9]\d*)$/.exec(options.environment ?? "")?.[1];
    const prFromRef = source === "git" ? undefined : /^refs\/pull\/(\d+)\//.exec(env.GITHUB_REF ?? "")?.[1];
    const prNumber = firstSet(explicit.prNumber) ?? prFromEnvironment ?? prFromRef ?? "";
    if (prNumber && !/^[1-9]\d*$/.test(prNumber)) {
        throw new ArtifactArgumentError(`${labels.prNumber} must be a pull request number (got ${JSON.stringify(prNumber)}).`);
    }
    if (prFromEnvironment && prNumber !== prFromEnvironment) {
        throw new ArtifactArgumentError(`${labels.prNumber} is ${prNumber} but the environment is ${options.environment}: the artifact would be filed under the wrong pull request.`);
    }
    // Both are set here: every path that leaves one undefined has thrown above.
    return { commitSha: commitSha!, buildTime, branch, workflowRunId, prNumber, source };
}

function git(cwd: string, args: string[]): string {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).trim();
}

/**
 * The commit that last changed `artifactPath`, if the file is committed and unmodified; otherwise a
 * sentence saying why not. Its committer time serves as the build time: the moment this exact
 * content was fixed, the same on every machine that checks the commit out.
 */
export function gitOrigin(artifactPath: string): GitOrigin | string {
    const dir = path.dirname(path.resolve(artifactPath));
    const file = path.basename(artifactPath);
    // Two calls (each git call costs tens of ms): the file's status with the branch in its header
    // (`## main...origin/main`, `## HEAD (no branch)` when detached, `## No commits yet on main`),
    // then the last commit that changed the file.
    let status: string[];
    try {
        status = git(dir, ["status", "--porcelain", "--branch", "--", file]).split("\n");
    } catch (err) {
        const message = (err as Error).message;
        return /not a git repository|ENOENT/.test(message) ? `${artifactPath} is not inside a git checkout (or git is not installed)` : `git could not describe ${artifactPath} (${message.split("\n")[0]})`;
    }
    if (status.slice(1).some((line) => line.trim() !== "")) {
        return `${artifactPath} has uncommitted changes or is untracked, so no commit describes its content`;
    }
    if (/^## (No commits yet|Initial commit) on /.test(status[0])) return `${artifactPath} is not committed`;
    try {
        const last = git(dir, ["log", "-1", "--format=%H %ct", "--", file]);
        if (last === "") return `${artifactPath} is not committed`;
        const [commitSha, seconds] = last.split(" ");
        return { commitSha, committedAt: new Date(Number(seconds) * 1000), branch: branchOfStatusHeader(status[0]) };
    } catch (err) {
        return `git could not describe ${artifactPath} (${(err as Error).message.split("\n")[0]})`;
    }
}

/** The branch from `git status --branch`'s header; empty when HEAD is detached. */
export function branchOfStatusHeader(header: string): string {
    const name = header.replace(/^## /, "").replace(/^No commits yet on /, "").replace(/^Initial commit on /, "");
    if (name.startsWith("HEAD (no branch)")) return "";
    return name.split("...")[0].trim();
}

/** Where `keptGitOrigin` keeps what git said, beside the project's other build caches (outside git). */
export const GIT_ORIGIN_CACHE_DIR = path.join(__dirname, "..", "..", "node_modules", ".cache", "jobfleet", "git-origin");

const NETWORK_OR_UI_GIT_VARIABLE = /^GIT_(SSL_|SSH|HTTP_|CURL_|PROXY_|TRACE|TERMINAL_PROMPT$|ASKPASS$|PAGER$|EDITOR$|PROTOCOL_FROM_USER$|ALLOW_PROTOCOL$)/;

function statKey(file: string): string {
    try {
        const s = fs.statSync(file, { bigint: true });
        return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
    } catch {
        return "-";
    }
}

/**
 * What decides `gitOrigin`'s answer for a committed, unmodified file, without running git: the
 * file's real path and stat, HEAD, the ref HEAD names (loose and packed), the index, and the files
 * that change history's reading (shallow, replace refs, grafts, the repository's config). A commit,
 * checkout, reset, rebase, fetch --unshallow, `git add` or edit of the file changes one of them.
 * Undefined when the file is not inside a checkout that can be read in this way (reftable refs,
 * git's environment variables set).
 */
export function gitOriginKey(artifactPath: string): string | undefined {
    // git's environment (GIT_DIR, GIT_CONFIG_*, GIT_NO_REPLACE_OBJECTS, ...) can make it answer otherwise;
    // only variables about the network, prompts and tracing are known not to.
    if (Object.keys(process.env).some((v) => v.startsWith("GIT_") && !NETWORK_OR_UI_GIT_VARIABLE.test(v))) return undefined;
    let file: string;
    try {
        // Where git runs: the real directory, symbolic links resolved.
        file = fs.realpathSync(path.resolve(artifactPath));
    } catch {
        return undefined;
    }
    let dir = path.dirname(file);
    let dotGit: string | undefined;
    for (;;) {
        const candidate = path.join(dir, ".git");
        if (fs.existsSync(candidate)) {
            dotGit = candidate;
            break;
        }
        const up = path.dirname(dir);
        if (up === dir) return undefined;
        dir = up;
    }
    try {
        let gitDir = dotGit;
        if (fs.statSync(dotGit).isFile()) {
            const target = /^gitdir: (.+)$/m.exec(fs.readFileSync(dotGit, "utf8"))?.[1]?.trim();
            if (!target) return undefined;
            gitDir = path.resolve(dir, target);
        }
        const commonFile = path.join(gitDir, "commondir");
        const commonDir = fs.existsSync(commonFile) ? path.resolve(gitDir, fs.readFileSync(commonFile, "utf8").trim()) : gitDir;
        // Refs in a reftable are not files this key can follow.
        if (fs.existsSync(path.join(commonDir, "reftable"))) return undefined;
        const head = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
        const ref = /^ref: (.+)$/.exec(head)?.[1];
        const parts = [
            file,
            statKey(file),
            head,
            ref ? statKey(path.join(commonDir, ref)) : "detached",
            statKey(path.join(commonDir, "packed-refs")),
            statKey(path.join(gitDir, "index")),
            // What else changes `git log`'s answer without a new commit: unshallowing, replace refs, grafts, config.
            statKey(path.join(commonDir, "shallow")),
            statKey(path.join(commonDir, "refs", "replace")),
            statKey(path.join(commonDir, "info", "grafts")),
            statKey(path.join(commonDir, "config")),
        ];
        return crypto.createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 32);
    } catch {
        return undefined;
    }
}

/**
 * `gitOrigin`, with each answer for a committed, unmodified file kept under `gitOriginKey`: the two
 * git calls cost a preview tens of milliseconds, each time. Answers that say why git cannot
 * describe the file are never kept, so they always come from git itself.
 */
export function keptGitOrigin(artifactPath: string, cacheDir = GIT_ORIGIN_CACHE_DIR): GitOrigin | string {
    const key = gitOriginKey(artifactPath);
    const kept = key === undefined ? undefined : path.join(cacheDir, `${key}.json`);
    if (kept) {
        try {
            const stored = JSON.parse(fs.readFileSync(kept, "utf8")) as { commitSha?: unknown; committedAt?: unknown; branch?: unknown };
            const committedAt = new Date(String(stored.committedAt));
            if (typeof stored.commitSha === "string" && /^[0-9a-f]{40}$/.test(stored.commitSha) && !Number.isNaN(committedAt.getTime()) && typeof stored.branch === "string") {
                return { commitSha: stored.commitSha, committedAt, branch: stored.branch };
            }
        } catch {
            // Not kept yet: ask git.
        }
    }
    const fileBefore = statKey(path.resolve(artifactPath));
    const origin = gitOrigin(artifactPath);
    // Kept under the state git left behind: `git status` may rewrite the index as it refreshes it.
    const after = gitOriginKey(artifactPath);
    if (after !== undefined && typeof origin !== "string" && statKey(path.resolve(artifactPath)) === fileBefore) {
        // A read-only tree asks git next time.
        keepFile(path.join(cacheDir, `${after}.json`), JSON.stringify({ commitSha: origin.commitSha, committedAt: origin.committedAt.toISOString(), branch: origin.branch }));
    }
    return origin;
}
