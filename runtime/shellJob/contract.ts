import { z } from "zod";

/**
 * The shell job contract (seed 000) shared by the callers (job worker, API) and the runner the
 * shell executor's Fargate task starts. A caller stores the job request in the executor's bucket
 * and hands the task two presigned URLs through RunTask's container overrides: one to read the
 * request, one to write the result. Requests used to travel inline, base64 in
 * SHELL_EXECUTOR_JOB_B64, which ECS caps at 8192 characters of overrides; runners still read that
 * legacy form.
 */
export const CONTRACT_VERSION = "2025-12-29";
export const SUPPORTED_CONTRACT_VERSIONS: readonly string[] = [CONTRACT_VERSION];

export const JOB_REQUEST_PREFIX = "shell-jobs/";
export const JOB_RESULT_PREFIX = "shell-results/";

/**
 * ECS RunTask: "A total of 8192 characters are allowed for overrides. This limit includes the JSON
 * formatting characters of the override structure." Counted here in UTF-8 bytes, which is never
 * less than the character count, so a request that passes here also passes ECS.
 */
export const ECS_OVERRIDES_LIMIT_BYTES = 8192;

/** Largest job request a runner reads (and a caller uploads): the runner holds it in memory. */
export const MAX_JOB_REQUEST_BYTES = 32 * 1024 * 1024;

/**
 * Largest result a runner writes and a caller reads: the runner builds the result within it
 * (outputs truncated with a marker), the caller refuses a larger object as RESULT_TOO_LARGE.
 */
export const MAX_JOB_RESULT_BYTES = 8 * 1024 * 1024;

/** Defaults that seed 000 fixes: URLs valid 15 minutes. */
export const DEFAULT_URL_TTL_SECONDS = 900;

/** Environment of the runner container: what the task definition sets. */
export const RUNNER_ENV = {
    commandTimeoutSeconds: "SHELL_COMMAND_TIMEOUT_SECONDS",
    maxOutputBytes: "SHELL_MAX_OUTPUT_BYTES",
    /** The unprivileged user the job's commands run as (default 1002:1002); never the runner's own. */
    jobUid: "SHELL_JOB_UID",
    jobGid: "SHELL_JOB_GID",
    /** Unset (separate user) in every deployment; `same-user-dev-only` on a developer machine only. */
    isolation: "SHELL_EXECUTOR_ISOLATION",
    /** Timeout of one S3 attempt (request GET, result PUT), whole seconds; default 60. */
    s3AttemptTimeoutSeconds: "SHELL_S3_ATTEMPT_TIMEOUT_SECONDS",
} as const;

/** Environment of the runner container: what a caller sets per job through RunTask overrides. */
export const OVERRIDE_ENV = {
    contractVersion: "SHELL_EXECUTOR_CONTRACT_VERSION",
    jobGetUrl: "SHELL_EXECUTOR_JOB_GET_URL",
    resultPutUrl: "SHELL_EXECUTOR_RESULT_PUT_URL",
    /** SHA-256 (base64) of the stored request: the runner retries a read that does not match (a truncated answer). */
    jobSha256: "SHELL_EXECUTOR_JOB_SHA256",
    /** Legacy: the whole request, base64 JSON, inline. */
    legacyJobB64: "SHELL_EXECUTOR_JOB_B64",
} as const;

/** Environment of a caller (job worker, API): references to the executor, never secrets. */
export const CALLER_ENV = {
    clusterArn: "SHELL_EXECUTOR_CLUSTER_ARN",
    taskDefinition: "SHELL_EXECUTOR_TASK_DEFINITION",
    containerName: "SHELL_EXECUTOR_CONTAINER_NAME",
    subnets: "SHELL_EXECUTOR_SUBNETS",
    securityGroup: "SHELL_EXECUTOR_SECURITY_GROUP",
    bucket: "SHELL_EXECUTOR_BUCKET",
    urlTtlSeconds: "SHELL_JOB_URL_TTL_SECONDS",
} as const;

/** Also the S3 key stem and RunTask's clientToken (at most 64 characters). */
export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function jobRequestKey(jobId: string): string {
    return `${JOB_REQUEST_PREFIX}${jobId}.json`;
}

export function jobResultKey(jobId: string): string {
    return `${JOB_RESULT_PREFIX}${jobId}.json`;
}

const relativePath = z
    .string()
    .min(1, "a non-empty relative path")
    .max(1024, "at most 1024 characters")
    .refine((p) => !p.startsWith("/") && !p.split(/[\\/]/).includes("..") && !p.includes("\0"), "a path relative to the job's working directory, without .. or a leading /");

const environment = z.record(z.string().regex(ENV_NAME, "an environment variable name (letters, digits, _; not starting with a digit)"), z.string());

export const shellCommandSchema = z.strictObject({
    /** Run with /bin/sh -c in the job's working directory. */
    run: z.string().min(1, "a non-empty shell command"),
    /** Lowered to the runner's SHELL_COMMAND_TIMEOUT_SECONDS when larger. */
    timeoutSeconds: z.number().int().positive("a whole number of seconds above 0").optional(),
    stdin: z.string().optional(),
    env: environment.optional(),
});

/** Standard base64 (RFC 4648 alphabet, = padding optional), line breaks allowed: Buffer.from would silently skip anything else. */
export function isBase64(text: string): boolean {
    const compact = text.replace(/[\r\n]/g, "");
    return /^[A-Za-z0-9+/]*={0,2}$/.test(compact) && (compact.includes("=") ? compact.length % 4 === 0 : compact.length % 4 !== 1);
}

export const jobFileSchema = z
    .strictObject({
        path: relativePath,
        content: z.string(),
        encoding: z.enum(["utf8", "base64"]).default("utf8"),
    })
    .superRefine((file, ctx) => {
        if (file.encoding === "base64" && !isBase64(file.content)) {
            ctx.addIssue({ code: "custom", path: ["content"], message: 'base64 (A-Z, a-z, 0-9, +, /, optional = padding) since encoding is "base64"' });
        }
    });

const jobBody = {
    jobId: z.string().regex(JOB_ID, "1 to 64 letters, digits, _ or -, starting with a letter or digit"),
    commands: z.array(shellCommandSchema).min(1, "at least one command").max(1000, "at most 1000 commands"),
    /** Written into the working directory before the first command runs. */
    files: z.array(jobFileSchema).max(10000, "at most 10000 files").default([]),
    env: environment.default({}),
    /** Stop at the first command that fails (default) or run them all. */
    failFast: z.boolean().default(true),
};

export const jobRequestSchema = z.strictObject({ contractVersion: z.literal(CONTRACT_VERSION), ...jobBody });

/** Requests from before 2025-12-29 carry no version; otherwise the same fields. */
export const legacyJobRequestSchema = z.strictObject({ contractVersion: z.literal(CONTRACT_VERSION).optional(), ...jobBody });

export type ShellJobRequest = z.output<typeof jobRequestSchema>;
/** What a caller writes: defaults (files, env, failFast) may be left out. */
export type ShellJobRequestInput = z.input<typeof jobRequestSchema>;
export type ShellJobSpec = Omit<ShellJobRequestInput, "contractVersion" | "jobId"> & { jobId?: string };

export const SHELL_JOB_ERROR_CODES = [
    "REQUEST_URL_EXPIRED",
    "REQUEST_URL_FORBIDDEN",
    "REQUEST_NOT_FOUND",
    "REQUEST_UNREADABLE",
    "UNKNOWN_CONTRACT_VERSION",
    "MALFORMED_REQUEST",
    "REQUEST_TOO_LARGE",
    "NO_REQUEST",
    "STOPPED",
    "WORKSPACE_FAILED",
    "RUNNER_MISCONFIGURED",
] as const;
export type ShellJobErrorCode = (typeof SHELL_JOB_ERROR_CODES)[number];

const commandResultSchema = z.strictObject({
    index: z.number().int().nonnegative(),
    /** null when the command did not run (skipped after a failure, or stopped before it started). */
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    timedOut: z.boolean(),
    skipped: z.boolean(),
    stdout: z.string(),
    stderr: z.string(),
    /** stdout and stderr together reached SHELL_MAX_OUTPUT_BYTES; the rest was dropped. */
    outputTruncated: z.boolean(),
    startedAt: z.string().nullable(),
    durationMs: z.number().nonnegative(),
    error: z.string().optional(),
});

export const jobResultSchema = z.strictObject({
    contractVersion: z.literal(CONTRACT_VERSION),
    /** null when the runner could not read a request to learn it. */
    jobId: z.string().nullable(),
    /** rejected: the runner refused the request itself (see error); failed: a command failed. */
    status: z.enum(["succeeded", "failed", "rejected", "stopped"]),
    transport: z.enum(["presigned-url", "legacy-env"]),
    error: z.strictObject({ code: z.enum(SHELL_JOB_ERROR_CODES), message: z.string() }).optional(),
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number().nonnegative(),
    commands: z.array(commandResultSchema),
});

export type ShellJobResult = z.output<typeof jobResultSchema>;
export type ShellCommandResult = z.output<typeof commandResultSchema>;

/** A zod error as one line per problem, each naming the field: `commands.0.run: a non-empty shell command`. */
export function describeIssues(error: z.ZodError): string {
    return error.issues
        .map((issue) => {
            const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "(the request)";
            if (issue.code === "unrecognized_keys") return `${where}: unknown field(s) ${issue.keys.join(", ")}`;
            if (issue.code === "invalid_type") return `${where}: expected ${issue.expected}`;
            return `${where}: ${issue.message}`;
        })
        .join("; ");
}
