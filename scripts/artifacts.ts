/**
 * npm run artifacts -- publish|verify|resolve|cleanup [options]   (--help for each)
 *
 * The operator's and CI's side of seed 003's versioned artifacts. Every argument is validated
 * before the first S3 request. Exit codes: 0 done; 1 a check failed or S3 refused (tampered or
 * missing object, existing key, access denied); 2 bad arguments, nothing sent (or, for cleanup,
 * nothing deleted); 3 S3 could not be reached or gave no usable answer within the retry bound
 * (a transport failure: it says nothing about the artifact, try again later); 130 interrupted.
 */
import * as fs from "fs";
import { parseArgs, ParseArgsConfig } from "util";
import { S3Client } from "@aws-sdk/client-s3";
import type { RetryPolicy } from "../runtime/retry";
import {
    ArtifactArgumentError,
    ArtifactExistsError,
    ArtifactNotFoundError,
    ArtifactTransportError,
    ArtifactVerificationError,
    BuildFieldLabels,
    checkApp,
    checkBucketName,
    artifactKey,
    checkBuildTime,
    checkBuildTimeNotFuture,
    checkCleanupRules,
    checkCommitSha,
    checkEnvironment,
    checkFileName,
    CleanupError,
    createArtifactS3Client,
    describeFailure,
    defaultArtifactFileName,
    artifactStackOutputs,
    ArtifactStackOutputs,
    parseObjectReference,
    urlForLog,
    digestFile,
    environmentForPullRequest,
    ExpectedArtifact,
    formatBuildTime,
    isSha256Hex,
    planCleanup,
    publishArtifact,
    resolveArtifact,
    resolveBuildInfo,
    runCleanup,
    verifyArtifact,
} from "../runtime/artifacts";

export interface CliIo {
    stdout: (text: string) => void;
    stderr: (text: string) => void;
    env: Record<string, string | undefined>;
    /** Injected by tests (e.g. to count requests); default: a client for --region/--endpoint. */
    makeClient?: (options: { region?: string; endpoint?: string }) => S3Client;
    now?: () => Date;
    /** The retry policy of every S3 request; default ARTIFACT_RETRY_POLICY (tests shorten it). */
    retry?: RetryPolicy;
    /** Aborted on SIGINT/SIGTERM: the running request is cut and no retry follows. */
    signal?: AbortSignal;
}

class UsageError extends Error {
    constructor(
        message: string,
        public readonly command?: string,
    ) {
        super(message);
        this.name = "UsageError";
    }
}

const COMMANDS = ["publish", "verify", "resolve", "cleanup"] as const;
type Command = (typeof COMMANDS)[number];

const COMMON = `Common options:
  --bucket <name>       artifacts bucket (default: $JOBFLEET_ARTIFACT_BUCKET; the stack output artifactBucketName)
  --app <name>          application, the key's first part (default: express-api)
  --env <name>          environment, the key's second part (pr-51, staging, ...)
  --pr <n>              same as --env pr-<n>
  --region <region>     AWS region (default: $AWS_REGION, then us-east-1)
  --endpoint <url>      S3-compatible endpoint with path-style addressing (s3rver, MinIO)
  --json                print the result as JSON on stdout
  -h, --help            this help`;

const HELP: Record<Command | "main", string> = {
    main: `Usage: npm run artifacts -- <command> [options]

Versioned deployment artifacts (seed 003): {app}/{env}/{sha8}-{YYYYMMDD-HHMMSS}/{file}, never overwritten.

Commands:
  publish   upload a build under its own key, with metadata and a SHA-256 checksum
  verify    check an artifact's size, checksum and metadata before deploying it
  resolve   print the newest artifact of an environment (legacy key as fallback)
  cleanup   delete old artifacts: keep the newest N and those younger than D days, never a deployed one

Every S3 request is retried on 5xx, SlowDown, resets, truncated answers and stalls: at most 5
attempts, 30 s each (uploads and downloads: plus 1 s per MiB), full-jitter backoff up to 5 s;
one request gives up after at most 170 s.

Exit codes: 0 done; 1 a check failed or S3 refused (tampered or missing object, existing key,
access denied); 2 bad arguments, nothing sent (cleanup: nothing deleted); 3 S3 gave no usable
answer within the retry bound (transport failure; says nothing about the artifact);
130 interrupted (SIGINT/SIGTERM): the running request is cut, nothing is retried.

Run "npm run artifacts -- <command> --help" for a command's options.`,
    publish: `Usage: npm run artifacts -- publish --bucket <b> --env <e> --file <path> [options]

Uploads the file to {app}/{env}/{sha8}-{build time}/{file name} with If-None-Match: *, so an
existing key is never replaced. Prints the key.

  --file <path>         the tarball to upload (required)
  --file-name <name>    name under the version prefix (default: {app}-deployment.tar.gz)
  --commit <sha>        full commit SHA (default: $GITHUB_SHA)
  --build-time <t>      UTC YYYYMMDD-HHMMSS (default: $JOBFLEET_BUILD_TIME, else now)
  --branch <name>       (default: $GITHUB_HEAD_REF, then $GITHUB_REF_NAME)
  --run-id <n>          CI run (default: $GITHUB_RUN_ID)
  --pr-number <n>       pull request (default: from --env pr-<n> or $GITHUB_REF)

${COMMON}`,
    verify: `Usage: npm run artifacts -- verify --bucket <b> --key <key> [--file <path> | --sha256 <hex> --size <n>] [options]

HeadObject, then compares size, SHA-256 (S3's stored checksum, or the downloaded bytes when the
server keeps none) and metadata. A versioned key must also agree with its own commit and time.
Exits 1 naming every difference.

  --key <key>           the artifact's key (required)
  --file <path>         expect this local file's size and SHA-256
  --sha256 <hex>        expected SHA-256 (64 hex characters)
  --size <bytes>        expected size
  --commit <sha>        expected commit-sha metadata
  --branch <name>       expected branch metadata
  --build-time <t>      expected build-time metadata
  --run-id <n>          expected workflow-run-id metadata
  --pr-number <n>       expected pr-number metadata
  --download <mode>     auto (default) | always | never

${COMMON}`,
    resolve: `Usage: npm run artifacts -- resolve --bucket <b> --env <e> [options]

Prints the key of the newest artifact of the environment (newest by the build time in its key).
Falls back to the legacy key {app}/{env}/{app}-deployment.tar.gz, with a warning on stderr.

  --file-name <name>    file to look for (default: {app}-deployment.tar.gz)

${COMMON}`,
    cleanup: `Usage: npm run artifacts -- cleanup --bucket <b> [--env <e> | --pr <n>] [options]

An artifact (everything under its {sha8}-{time}/ prefix) stays if it is deployed, among the
newest --keep of its environment, or younger than --days; everything else is deleted with
DeleteObjects, 1,000 keys per request. Without --env/--pr, every environment of the app.
In the versioned bucket a delete leaves a noncurrent version until the lifecycle rule expires it.

  --keep <n>            newest artifacts kept per environment (default: the stack's artifactKeepCount, else 5; 0: no count rule)
  --days <d>            artifacts younger than this are kept (default: the stack's artifactMaxAgeDays, else 7; 0: no age rule)
  --deployed <key>      a deployed key; repeatable
  --deployed-file <p>   file with one deployed key per line (# comments)
  --stack-outputs <p>   JSON of "pulumi stack output --json": every key in it counts as deployed, and its
                        artifactBucketName and artifactCleanupPolicy give the bucket, --keep and --days defaults
  --dry-run             print what would be deleted and the bytes reclaimed; delete nothing
  --file-name <name>    artifact file name, to recognise legacy keys (default: {app}-deployment.tar.gz)

${COMMON}`,
};

const COMMON_OPTIONS = {
    bucket: { type: "string" },
    app: { type: "string" },
    env: { type: "string" },
    pr: { type: "string" },
    region: { type: "string" },
    endpoint: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
} as const;

const OPTIONS = {
    publish: { ...COMMON_OPTIONS, file: { type: "string" }, "file-name": { type: "string" }, commit: { type: "string" }, "build-time": { type: "string" }, branch: { type: "string" }, "run-id": { type: "string" }, "pr-number": { type: "string" } },
    verify: {
        ...COMMON_OPTIONS,
        key: { type: "string" },
        file: { type: "string" },
        sha256: { type: "string" },
        size: { type: "string" },
        commit: { type: "string" },
        branch: { type: "string" },
        "build-time": { type: "string" },
        "run-id": { type: "string" },
        "pr-number": { type: "string" },
        download: { type: "string" },
    },
    resolve: { ...COMMON_OPTIONS, "file-name": { type: "string" } },
    cleanup: {
        ...COMMON_OPTIONS,
        keep: { type: "string" },
        days: { type: "string" },
        deployed: { type: "string", multiple: true },
        "deployed-file": { type: "string" },
        "stack-outputs": { type: "string" },
        "dry-run": { type: "boolean" },
        "file-name": { type: "string" },
    },
} satisfies Record<Command, ParseArgsConfig["options"]>;

type Values = Record<string, string | boolean | string[] | undefined>;

const FLAG_LABELS: BuildFieldLabels = { commitSha: "--commit", branch: "--branch", buildTime: "--build-time", workflowRunId: "--run-id", prNumber: "--pr-number" };

function str(values: Values, name: string): string | undefined {
    const v = values[name];
    return typeof v === "string" ? v : undefined;
}

function wholeNumber(values: Values, name: string, fallback: number, command: Command): number {
    const raw = str(values, name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, 0 or more (got ${JSON.stringify(raw)}).`, command);
    return Number(raw);
}

function guard<T>(command: Command, fn: () => T): T {
    try {
        return fn();
    } catch (err) {
        if (err instanceof ArtifactArgumentError) throw new UsageError(err.message, command);
        throw err;
    }
}

interface Common {
    bucket: string;
    app: string;
    environment?: string;
    region?: string;
    endpoint?: string;
    json: boolean;
}

function common(values: Values, io: CliIo, command: Command, bucketFromOutputs?: string): Common {
    const bucketRaw = str(values, "bucket") ?? (io.env.JOBFLEET_ARTIFACT_BUCKET || undefined) ?? bucketFromOutputs;
    if (bucketRaw === undefined || bucketRaw === "") throw new UsageError("--bucket is required (or set JOBFLEET_ARTIFACT_BUCKET); the stack output artifactBucketName names it.", command);
    return guard(command, () => {
        const bucket = checkBucketName(bucketRaw, "--bucket");
        const app = checkApp(str(values, "app") ?? "express-api", "--app");
        const envFlag = str(values, "env");
        const prFlag = str(values, "pr");
        let environment: string | undefined;
        if (prFlag !== undefined) {
            const fromPr = environmentForPullRequest(prFlag);
            if (envFlag !== undefined && envFlag !== fromPr) throw new UsageError(`--pr ${prFlag} means --env ${fromPr}, but --env is ${envFlag}; give one of them.`, command);
            environment = fromPr;
        } else if (envFlag !== undefined) {
            environment = checkEnvironment(envFlag, "--env");
        }
        const endpoint = str(values, "endpoint");
        if (endpoint !== undefined) checkEndpoint(endpoint, command);
        const region = str(values, "region");
        if (region !== undefined && !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) throw new UsageError(`--region must be an AWS region like us-east-1 (got ${JSON.stringify(region)}).`, command);
        return { bucket, app, environment, region, endpoint, json: values.json === true };
    });
}

/** An endpoint URL is shown without user-info or query: either may carry a credential. */
function checkEndpoint(endpoint: string, command: Command): void {
    let url: URL | undefined;
    try {
        url = new URL(endpoint);
    } catch {
        url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || /\s/.test(endpoint)) {
        throw new UsageError(`--endpoint must be an http(s) URL like http://127.0.0.1:4568 (got ${urlForLog(endpoint)}).`, command);
    }
    if (url.username || url.password || url.search || url.hash) {
        throw new UsageError(`--endpoint ${urlForLog(endpoint)} must not carry credentials, a query or a fragment; credentials come from the AWS credential chain.`, command);
    }
}

function requireEnvironment(c: Common, command: Command): string {
    if (c.environment === undefined) throw new UsageError("--env (or --pr) is required.", command);
    return c.environment;
}

function readableFile(path: string | undefined, flag: string, command: Command): string {
    if (path === undefined) throw new UsageError(`${flag} is required.`, command);
    let stat: fs.Stats;
    try {
        stat = fs.statSync(path);
    } catch {
        throw new UsageError(`${flag} ${JSON.stringify(path)} does not exist.`, command);
    }
    if (!stat.isFile()) throw new UsageError(`${flag} ${JSON.stringify(path)} is not a regular file.`, command);
    return path;
}

function formatBytes(bytes: number): string {
    if (bytes < 1024) return `${bytes} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return `${value.toFixed(1)} ${units[unit]} (${bytes} bytes)`;
}

/** Runs one CLI invocation; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: string[], io: CliIo): Promise<number> {
    const [first, ...rest] = argv;
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
        (first === undefined ? io.stderr : io.stdout)(`${HELP.main}\n`);
        return first === undefined ? 2 : 0;
    }
    if (!(COMMANDS as readonly string[]).includes(first)) {
        io.stderr(`Unknown command ${JSON.stringify(first)}; expected one of ${COMMANDS.join(", ")}.\n\n${HELP.main}\n`);
        return 2;
    }
    const command = first as Command;
    try {
        let values: Values;
        try {
            values = parseArgs({ args: rest, options: OPTIONS[command], strict: true, allowPositionals: false }).values as Values;
        } catch (err) {
            throw new UsageError((err as Error).message.split("\n")[0], command);
        }
        if (values.help) {
            io.stdout(`${HELP[command]}\n`);
            return 0;
        }
        const makeClient = io.makeClient ?? createArtifactS3Client;
        switch (command) {
            case "publish":
                return await publish(values, io, makeClient);
            case "verify":
                return await verify(values, io, makeClient);
            case "resolve":
                return await resolve(values, io, makeClient);
            case "cleanup":
                return await cleanup(values, io, makeClient);
        }
    } catch (err) {
        if (err instanceof UsageError) {
            io.stderr(`artifacts ${command}: ${err.message}\nRun "npm run artifacts -- ${command} --help" for the options.\n`);
            return 2;
        }
        if (err instanceof ArtifactArgumentError) {
            io.stderr(`artifacts ${command}: ${err.message}\n`);
            return 2;
        }
        if (io.signal?.aborted) {
            io.stderr(`artifacts ${command}: interrupted (${String((io.signal.reason as Error)?.message ?? io.signal.reason)}); a publish may or may not have landed (run verify), a cleanup may have deleted part of its plan (plan again).\n`);
            return 130;
        }
        if (err instanceof ArtifactTransportError || (err instanceof CleanupError && err.cause instanceof ArtifactTransportError)) {
            io.stderr(`artifacts ${command}: ${err.message}\n`);
            return 3;
        }
        if (err instanceof ArtifactVerificationError || err instanceof ArtifactNotFoundError || err instanceof ArtifactExistsError || err instanceof CleanupError) {
            io.stderr(`artifacts ${command}: ${err.message}\n`);
            return 1;
        }
        io.stderr(`artifacts ${command}: S3 refused the request: ${describeFailure(err)}\n`);
        return 1;
    }
}

type MakeClient = NonNullable<CliIo["makeClient"]>;

async function publish(values: Values, io: CliIo, makeClient: MakeClient): Promise<number> {
    const c = common(values, io, "publish");
    const environment = requireEnvironment(c, "publish");
    const file = readableFile(str(values, "file"), "--file", "publish");
    const fileName = guard("publish", () => checkFileName(str(values, "file-name") ?? defaultArtifactFileName(c.app), "--file-name"));
    const now = io.now?.() ?? new Date();
    // A CLI publish is the build step itself: without a given build time, now is the build time.
    const build = guard("publish", () => {
        const resolved = resolveBuildInfo({
            explicit: {
                commitSha: str(values, "commit"),
                branch: str(values, "branch"),
                buildTime: str(values, "build-time") ?? io.env.JOBFLEET_BUILD_TIME ?? formatBuildTime(now),
                workflowRunId: str(values, "run-id"),
                prNumber: str(values, "pr-number"),
            },
            labels: FLAG_LABELS,
            env: io.env,
            environment,
        });
        checkBuildTimeNotFuture(resolved.buildTime, now, str(values, "build-time") !== undefined ? "--build-time" : io.env.JOBFLEET_BUILD_TIME ? "JOBFLEET_BUILD_TIME" : "build time");
        artifactKey({ app: c.app, environment, commitSha: resolved.commitSha, buildTime: resolved.buildTime, fileName });
        return resolved;
    });
    const client = makeClient({ region: c.region, endpoint: c.endpoint });
    const published = await publishArtifact({ client, bucket: c.bucket, app: c.app, environment, filePath: file, fileName, build, now, retry: io.retry, signal: io.signal });
    if (c.json) {
        io.stdout(`${JSON.stringify({ bucket: published.bucket, key: published.key, size: published.size, sha256: published.sha256Hex, metadata: published.metadata, versionId: published.versionId ?? null }, null, 2)}\n`);
    } else {
        io.stderr(`Published s3://${published.bucket}/${published.key} (${formatBytes(published.size)}, sha256 ${published.sha256Hex})\n`);
        io.stdout(`${published.key}\n`);
    }
    return 0;
}

async function verify(values: Values, io: CliIo, makeClient: MakeClient): Promise<number> {
    const c = common(values, io, "verify");
    const keyFlag = str(values, "key");
    if (keyFlag === undefined || keyFlag.trim() === "") throw new UsageError("--key is required.", "verify");
    const { key, versionId } = guard("verify", () => parseObjectReference(keyFlag, { bucket: c.bucket, field: "--key", endpoint: c.endpoint }));
    const download = str(values, "download") ?? "auto";
    if (download !== "auto" && download !== "always" && download !== "never") throw new UsageError(`--download must be auto, always or never (got ${JSON.stringify(download)}).`, "verify");
    const expected: ExpectedArtifact = {};
    const sha = str(values, "sha256");
    if (sha !== undefined) {
        if (!isSha256Hex(sha)) throw new UsageError(`--sha256 must be 64 lower-case hex characters (got ${JSON.stringify(sha)}).`, "verify");
        expected.sha256Hex = sha;
    }
    if (str(values, "size") !== undefined) expected.size = wholeNumber(values, "size", 0, "verify");
    const file = str(values, "file");
    if (file !== undefined) {
        const digest = await digestFile(readableFile(file, "--file", "verify"));
        if (expected.sha256Hex !== undefined && expected.sha256Hex !== digest.sha256Hex) throw new UsageError(`--sha256 and --file disagree (${file} has ${digest.sha256Hex}); give one of them.`, "verify");
        if (expected.size !== undefined && expected.size !== digest.size) throw new UsageError(`--size and --file disagree (${file} has ${digest.size} bytes); give one of them.`, "verify");
        expected.sha256Hex = digest.sha256Hex;
        expected.size = digest.size;
    }
    expected.build = guard("verify", () => ({
        commitSha: str(values, "commit") === undefined ? undefined : checkCommitSha(str(values, "commit"), "--commit"),
        buildTime: str(values, "build-time") === undefined ? undefined : checkBuildTime(str(values, "build-time"), "--build-time"),
        branch: str(values, "branch"),
        workflowRunId: str(values, "run-id"),
        prNumber: str(values, "pr-number"),
    }));
    const client = makeClient({ region: c.region, endpoint: c.endpoint });
    const verified = await verifyArtifact({ client, bucket: c.bucket, key, versionId, expected, download, retry: io.retry, signal: io.signal });
    if (c.json) {
        io.stdout(`${JSON.stringify({ bucket: verified.bucket, key: verified.key, size: verified.size, sha256: verified.sha256Hex, contentCheckedBy: verified.contentCheckedBy, metadata: verified.metadata, versionId: verified.versionId ?? null }, null, 2)}\n`);
    } else {
        io.stdout(`OK s3://${verified.bucket}/${verified.key}: ${formatBytes(verified.size)}, sha256 ${verified.sha256Hex} (content checked by ${verified.contentCheckedBy})\n`);
        for (const [k, v] of Object.entries(verified.metadata).sort()) io.stdout(`  ${k}: ${v}\n`);
    }
    return 0;
}

function progress(io: CliIo) {
    return (p: { pages: number; objects: number }) => {
        if (p.pages > 1) io.stderr(`  listed ${p.objects} objects (${p.pages} pages)...\n`);
    };
}

async function resolve(values: Values, io: CliIo, makeClient: MakeClient): Promise<number> {
    const c = common(values, io, "resolve");
    const environment = requireEnvironment(c, "resolve");
    const fileName = guard("resolve", () => checkFileName(str(values, "file-name") ?? defaultArtifactFileName(c.app), "--file-name"));
    const client = makeClient({ region: c.region, endpoint: c.endpoint });
    const resolved = await resolveArtifact({ client, bucket: c.bucket, app: c.app, environment, fileName, onProgress: progress(io), retry: io.retry, signal: io.signal });
    if (resolved.legacy) io.stderr(`warning: ${environment} has no versioned artifact; falling back to the legacy key ${resolved.key}, whose content can change between reads.\n`);
    if (c.json) {
        io.stdout(`${JSON.stringify({ ...resolved, lastModified: resolved.lastModified.toISOString() }, null, 2)}\n`);
    } else {
        io.stdout(`${resolved.key}\n`);
    }
    return 0;
}

function readStackOutputs(file: string): ArtifactStackOutputs {
    let outputs: unknown;
    try {
        outputs = JSON.parse(fs.readFileSync(readableFile(file, "--stack-outputs", "cleanup"), "utf8"));
    } catch (err) {
        if (err instanceof UsageError) throw err;
        // The parser's message quotes the input around the error, and stack outputs may hold secrets.
        throw new UsageError(`--stack-outputs ${JSON.stringify(file)} is not JSON (save "pulumi stack output --json" to it).`, "cleanup");
    }
    return guard("cleanup", () => artifactStackOutputs(outputs, `--stack-outputs ${JSON.stringify(file)}`));
}

/** The stack's deployed key, or why this cleanup's scope cannot contain it (then it protects nothing here). */
function stackKeyInScope(key: string, c: Common, endpoint: string | undefined): string | undefined {
    const { key: objectKey } = guard("cleanup", () => parseObjectReference(key, { bucket: c.bucket, field: "--stack-outputs artifactKey", endpoint }));
    const parts = objectKey.split("/");
    if (parts[0] !== c.app) return `${objectKey} belongs to app ${parts[0]}, not ${c.app}`;
    if (c.environment !== undefined && parts[1] !== c.environment) return `${objectKey} belongs to environment ${parts[1]}, not ${c.environment}`;
    return undefined;
}

async function cleanup(values: Values, io: CliIo, makeClient: MakeClient): Promise<number> {
    const outputsFile = str(values, "stack-outputs");
    const stack = outputsFile === undefined ? undefined : readStackOutputs(outputsFile);
    const c = common(values, io, "cleanup", stack?.bucket);
    if (stack?.bucket !== undefined && stack.bucket !== c.bucket) {
        throw new UsageError(`--stack-outputs names bucket ${stack.bucket} (artifactBucketName) but the cleanup would run on ${c.bucket}; those outputs describe another bucket's deployment, so they cannot protect anything here. Give the matching --bucket or the right stack's outputs.`, "cleanup");
    }
    // Explicit flags win; then the stack's jobfleet:artifactKeepCount / artifactMaxAgeDays; then seed 003's 5 and 7.
    const keep = wholeNumber(values, "keep", stack?.keep ?? 5, "cleanup");
    const days = wholeNumber(values, "days", stack?.days ?? 7, "cleanup");
    guard("cleanup", () => checkCleanupRules(keep, days));
    const fileName = guard("cleanup", () => checkFileName(str(values, "file-name") ?? defaultArtifactFileName(c.app), "--file-name"));
    const explicitKeys = ((values.deployed as string[] | undefined) ?? []).map((k) => k.trim());
    if (explicitKeys.some((k) => k === "")) throw new UsageError("--deployed needs a key.", "cleanup");
    const deployedFile = str(values, "deployed-file");
    if (deployedFile !== undefined) {
        const lines = fs.readFileSync(readableFile(deployedFile, "--deployed-file", "cleanup"), "utf8").split(/\r?\n/);
        explicitKeys.push(...lines.map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")));
    }
    for (const key of explicitKeys) guard("cleanup", () => parseObjectReference(key, { bucket: c.bucket, field: "--deployed", endpoint: c.endpoint }));
    const stackKeys: string[] = [];
    for (const key of stack?.keys ?? []) {
        const outside = stackKeyInScope(key, c, c.endpoint);
        if (outside === undefined) stackKeys.push(key);
        else io.stderr(`note: the stack's artifactKey ${outside}; this cleanup cannot reach it, so it protects nothing here.\n`);
    }
    const deployedKeys = [...explicitKeys, ...stackKeys];
    const dryRun = values["dry-run"] === true;
    const client = makeClient({ region: c.region, endpoint: c.endpoint });
    const plan = await planCleanup({ client, bucket: c.bucket, app: c.app, environment: c.environment, keep, days, deployedKeys, fileName, now: io.now?.(), onProgress: progress(io), endpoint: c.endpoint, retry: io.retry, signal: io.signal });

    const result = await runCleanup({
        client,
        plan,
        dryRun,
        retry: io.retry,
        signal: io.signal,
        onProgress: (done, total) => {
            if (total > 1000) io.stderr(`  deleted ${done} of ${total} objects...\n`);
        },
    });
    const scope = c.environment ?? `all environments of ${c.app}`;
    if (c.json) {
        io.stdout(
            `${JSON.stringify(
                {
                    bucket: plan.bucket,
                    scope,
                    dryRun,
                    rules: { keep, days },
                    decisions: plan.decisions.map((d) => ({ artifact: d.artifact.id, environment: d.artifact.environment, objects: d.artifact.objects.length, bytes: d.artifact.bytes, delete: d.delete, reasons: d.reasons })),
                    deleteArtifacts: plan.deletions.length,
                    deleteObjects: plan.keysToDelete.length,
                    bytesReclaimed: plan.bytesToReclaim,
                    listRequests: plan.listRequests,
                    deleteRequests: result.deleteRequests,
                },
                null,
                2,
            )}\n`,
        );
        return 0;
    }
    io.stdout(`Cleanup of s3://${plan.bucket}/${c.app}/ (${scope}); keep the newest ${keep}, keep younger than ${days} days, keep deployed${dryRun ? "; DRY RUN" : ""}\n`);
    for (const d of plan.decisions) {
        io.stdout(`  ${d.delete ? (dryRun ? "would delete" : "deleted") : "keep"}  ${d.artifact.id}  (${d.artifact.objects.length} object${d.artifact.objects.length === 1 ? "" : "s"}, ${d.artifact.bytes} bytes): ${d.reasons.join("; ")}\n`);
    }
    if (plan.strayObjects > 0) io.stdout(`  ${plan.strayObjects} object(s) under the prefix are not artifacts and were left alone.\n`);
    const verb = dryRun ? "Would delete" : "Deleted";
    io.stdout(`${verb} ${plan.deletions.length} of ${plan.decisions.length} artifacts: ${plan.keysToDelete.length} objects, ${formatBytes(plan.bytesToReclaim)} reclaimed; ${plan.listRequests} list and ${result.deleteRequests} delete requests.\n`);
    return 0;
}

if (require.main === module) {
    const stop = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort(new Error(signal)));
    main(process.argv.slice(2), {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        env: process.env,
        signal: stop.signal,
    }).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.stderr.write(`artifacts: ${(err as Error).stack ?? err}\n`);
            process.exitCode = 1;
        },
    );
}
