import { z } from "zod";

/**
 * The submission runner's (seed 004) configuration, read once at start from its environment.
 *
 * The seed handed the runner `DATABASE_URL=postgresql://postgres:<password>@host/db` in plain
 * task-definition environment. Here the task definition carries only the non-secret parts
 * (`DB_HOST`, `DB_PORT`, `DB_NAME`) as environment, ECS injects `DB_USERNAME` and `DB_PASSWORD`
 * from the RDS-managed Secrets Manager secret, and this loader assembles the connection string in
 * memory. Every problem is reported at once, naming the variable; the values of the injected
 * credentials never appear in an error, a log line or a serialised config.
 *
 * What can reach a log: the config object (JSON.stringify, util.inspect, String) holds no
 * credential part at all (neither the user name nor the password: both live only inside the
 * functions of `database`), and `redactedConnectionString()` shows `****` for both. An error
 * shows a malformed value only for the variables whose valid values are short words or numbers
 * (BUILD_TOOL, DB_PORT, ...) and only when the value looks like one; free-form values (host,
 * bucket, paths, queue URL), which an operator may have pasted a connection string or a password
 * into, are described (length, which characters are wrong), never quoted. A URL is shown without
 * its user-info and query.
 */
import { urlForLog } from "./artifacts/objectReference";
import { S3_BUCKET_NAME } from "./s3Names";

/** Seed 004's defaults for its optional variables. */
export const RUNNER_ENV_DEFAULTS = {
    RUNNER_POLL_INTERVAL_MS: "20000",
    RUNNER_TIMEOUT_MS: "120000",
    RUNNER_MAX_LOG_BYTES: "200000",
    JDK_VERSION: "17",
    BUILD_TOOL: "maven",
    DB_PORT: "5432",
    DB_SSLMODE: "verify-full",
    GRACEFUL_SHUTDOWN_TIMEOUT_SEC: "30",
    AWS_S3_SUBMISSIONS_PREFIX: "submissions/",
    AWS_S3_LOGS_PREFIX: "logs/",
    RUNNER_WORK_DIR: "/tmp/runner",
} as const;

/** Variables whose values come from Secrets Manager and are never echoed back. */
export const SECRET_VARIABLES = ["DB_USERNAME", "DB_PASSWORD"] as const;

export const BUILD_TOOLS = ["maven", "gradle"] as const;
export type BuildTool = (typeof BUILD_TOOLS)[number];

/**
 * libpq's sslmode values that encrypt; RDS for PostgreSQL 15 and later refuses unencrypted connections
 * (rds.force_ssl=1). verify-full also checks the server certificate against the RDS CA, which the
 * image must trust (NODE_EXTRA_CA_CERTS, or DB_SSL_ROOT_CERT naming the bundle file).
 */
export const SSL_MODES = ["require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface DatabaseSettings {
    host: string;
    port: number;
    name: string;
    sslMode: SslMode;
    /** CA bundle file the client verifies the server against (libpq's sslrootcert), if set. */
    sslRootCert?: string;
    /**
     * `postgresql://user:password@host:port/name?sslmode=...`, user and password URL-encoded.
     * A function rather than a field so that logging or serialising the config never prints it.
     */
    connectionString(): string;
    /** The same string with the user name and the password replaced by `****`, for log lines. */
    redactedConnectionString(): string;
    /** The user name and password, for a client that takes them apart from the connection string. */
    credentials(): { user: string; password: string };
}

export interface RunnerConfig {
    region: string;
    bucket: string;
    /** Key prefix the runner downloads submissions from (its role may read only there). */
    submissionsPrefix: string;
    /** Key prefix of `logs/<submissionId>/run.log` (its role may write only there). */
    logsPrefix: string;
    queueUrl: string;
    pollIntervalMs: number;
    timeoutMs: number;
    maxLogBytes: number;
    jdkVersion: string;
    buildTool: BuildTool;
    /** Seconds between SIGTERM and ECS's SIGKILL that the runner has to finish or release its message. */
    gracefulShutdownSeconds: number;
    /** Where submissions are unpacked and built; under /tmp, the writable scratch of a read-only container. */
    workDir: string;
    database: DatabaseSettings;
}

export interface RunnerConfigProblem {
    variable: string;
    problem: string;
}

export class RunnerConfigError extends Error {
    constructor(public readonly problems: readonly RunnerConfigProblem[]) {
        super(
            `Runner configuration is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}); fix these environment variables:\n` +
                problems.map((p) => `  - ${p.variable}: ${p.problem}`).join("\n"),
        );
        this.name = "RunnerConfigError";
    }
}

type Env = Record<string, string | undefined>;

interface VariableSpec<T> {
    /** What a good value looks like, in words, for the error message. */
    expected: string;
    schema: z.ZodType<T, string>;
    /**
     * "word": valid values are short words or numbers, so a malformed value that looks like one
     * is shown; "free": a host, path, bucket or URL, where a pasted secret could sit: described only.
     */
    shown: "word" | "free" | "url";
}

const wholeNumber = (min: number, max: number) =>
    z
        .string()
        .regex(/^\d+$/)
        .transform(Number)
        .pipe(z.number().int().min(min).max(max));

const HOSTNAME = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/;
const S3_PREFIX = /^[A-Za-z0-9!_.*'()\-/]+\/$/;

const absolutePath = z
    .string()
    .regex(/^\/[^\0]*$/)
    .refine((v) => !v.split("/").includes(".."));

function variable<T>(expected: string, schema: z.ZodType<T, string>, shown: VariableSpec<T>["shown"] = "free"): VariableSpec<T> {
    return { expected, schema, shown };
}

const PUBLIC_VARIABLES = {
    AWS_REGION: variable("an AWS region name like us-east-1", z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/), "word"),
    AWS_S3_BUCKET: variable("an S3 bucket name (3 to 63 lower-case letters, digits, dots and dashes)", z.string().regex(S3_BUCKET_NAME)),
    AWS_S3_SUBMISSIONS_PREFIX: variable("an S3 key prefix ending in /, like submissions/", z.string().regex(S3_PREFIX)),
    AWS_S3_LOGS_PREFIX: variable("an S3 key prefix ending in /, like logs/", z.string().regex(S3_PREFIX)),
    AWS_SQS_QUEUE_URL: variable(
        "an SQS queue URL like https://sqs.us-east-1.amazonaws.com/123456789012/submissions (http only for localhost)",
        z.string().refine(isQueueUrl),
        "url",
    ),
    DB_HOST: variable("a host name like db.abc123.us-east-1.rds.amazonaws.com", z.string().regex(HOSTNAME)),
    DB_PORT: variable("a TCP port from 1 to 65535", wholeNumber(1, 65535), "word"),
    DB_NAME: variable("a PostgreSQL database name (a letter, then up to 62 letters, digits or underscores)", z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/)),
    DB_SSLMODE: variable(`one of ${SSL_MODES.join(", ")} (RDS refuses unencrypted connections)`, z.enum(SSL_MODES), "word"),
    RUNNER_POLL_INTERVAL_MS: variable("a whole number of milliseconds from 1 to 3600000", wholeNumber(1, 3_600_000), "word"),
    RUNNER_TIMEOUT_MS: variable("a whole number of milliseconds from 1000 to 43000000 (below SQS's 12-hour visibility limit)", wholeNumber(1000, 43_000_000), "word"),
    RUNNER_MAX_LOG_BYTES: variable("a whole number of bytes from 1 to 5368709120", wholeNumber(1, 5 * 1024 ** 3), "word"),
    JDK_VERSION: variable("a JDK major version like 17", z.string().regex(/^\d{1,3}$/), "word"),
    BUILD_TOOL: variable(`one of ${BUILD_TOOLS.join(", ")}`, z.enum(BUILD_TOOLS), "word"),
    GRACEFUL_SHUTDOWN_TIMEOUT_SEC: variable("a whole number of seconds from 1 to 115 (Fargate kills a container 120 s after SIGTERM at most)", wholeNumber(1, 115), "word"),
    RUNNER_WORK_DIR: variable("an absolute directory path like /tmp/runner", absolutePath),
}

/** Optional variables without a default: absent means "not used". */
const OPTIONAL_VARIABLES = {
    DB_SSL_ROOT_CERT: variable("an absolute path to the RDS CA bundle, like /etc/ssl/certs/rds-global-bundle.pem", absolutePath),
} as const;

const SECRET_DESCRIPTIONS: Record<(typeof SECRET_VARIABLES)[number], string> = {
    DB_USERNAME: "the database user name, injected by ECS from the RDS-managed secret's \"username\" key",
    DB_PASSWORD: "the database password, injected by ECS from the RDS-managed secret's \"password\" key",
};

/** Variables of the seed's deployment that must not come back: they put credentials in plain environment. */
const FORBIDDEN_VARIABLES: Record<string, string> = {
    DATABASE_URL:
        "is set (value hidden); the runner does not read a connection string with the password in plain environment any more: remove it and let ECS inject DB_USERNAME and DB_PASSWORD from the database's managed secret",
};

type PublicName = keyof typeof PUBLIC_VARIABLES;
type PublicValues = { [K in PublicName]: z.output<(typeof PUBLIC_VARIABLES)[K]["schema"]> };

function isQueueUrl(value: string): boolean {
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return false;
    }
    const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
    if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) return false;
    if (url.username || url.password || url.search || url.hash) return false;
    return /^\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(url.pathname);
}

const SHOWABLE_WORD = /^[A-Za-z0-9._-]{1,32}$/;

/** What is notable about a value, without any of its characters. */
function describeValue(value: string): string {
    const notes: string[] = [`${value.length} character${value.length === 1 ? "" : "s"}`];
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) notes.push("starts like a URL");
    if (/\s/.test(value)) notes.push("contains whitespace");
    if (value.includes("@")) notes.push("contains @ (credentials in a URL?)");
    if (/[A-Z]/.test(value)) notes.push("contains upper-case letters");
    // Only structural characters are named; naming a password's punctuation would give part of it away.
    for (const c of ["/", ":", "_"]) if (value.includes(c)) notes.push(`contains ${JSON.stringify(c)}`);
    if (/[^A-Za-z0-9\s@/:_.-]/.test(value)) notes.push("contains other punctuation");
    return `the value (${notes.join("; ")}; not shown, it may hold a secret)`;
}

/**
 * A malformed value as the error may show it: quoted only when its variable's valid values are
 * short words or numbers, it looks like one, and it holds none of the credentials; a URL without
 * user-info and query; anything else described, never quoted.
 */
function show(value: string, spec: VariableSpec<unknown>, credentials: string[]): string {
    const holdsCredential = credentials.some((c) => c.length > 0 && value.includes(c));
    if (spec.shown === "word" && SHOWABLE_WORD.test(value) && !holdsCredential) return JSON.stringify(value);
    if (spec.shown === "url" && !holdsCredential) {
        const shown = urlForLog(value);
        if (!shown.startsWith("(")) return shown;
    }
    return describeValue(value);
}

/**
 * Reads and validates the runner's environment. Throws `RunnerConfigError` listing every missing
 * or malformed variable; a malformed credential is reported by name only.
 */
export function loadRunnerConfig(env: Env = process.env): RunnerConfig {
    const problems: RunnerConfigProblem[] = [];

    for (const [name, problem] of Object.entries(FORBIDDEN_VARIABLES)) {
        if (env[name] !== undefined) problems.push({ variable: name, problem });
    }

    // Values an error must never contain, in any variable they may have been pasted into.
    const credentialValues = [...SECRET_VARIABLES.map((name) => env[name] ?? ""), env.DATABASE_URL ?? ""].filter((v) => v.trim().length >= 3);
    const values: Partial<Record<PublicName, unknown>> = {};
    for (const name of Object.keys(PUBLIC_VARIABLES) as PublicName[]) {
        const spec = PUBLIC_VARIABLES[name];
        const raw = env[name] ?? (RUNNER_ENV_DEFAULTS as Record<string, string | undefined>)[name];
        if (raw === undefined || raw.trim() === "") {
            problems.push({ variable: name, problem: `not set; expected ${spec.expected}` });
            continue;
        }
        const parsed = spec.schema.safeParse(raw);
        if (parsed.success) {
            values[name] = parsed.data;
        } else {
            problems.push({ variable: name, problem: `${show(raw, spec as VariableSpec<unknown>, credentialValues)} is not valid; expected ${spec.expected}` });
        }
    }

    const optional: Partial<Record<keyof typeof OPTIONAL_VARIABLES, string>> = {};
    for (const name of Object.keys(OPTIONAL_VARIABLES) as (keyof typeof OPTIONAL_VARIABLES)[]) {
        const raw = env[name];
        if (raw === undefined || raw === "") continue;
        const parsed = OPTIONAL_VARIABLES[name].schema.safeParse(raw);
        if (parsed.success) optional[name] = parsed.data;
        else problems.push({ variable: name, problem: `${show(raw, OPTIONAL_VARIABLES[name] as VariableSpec<unknown>, credentialValues)} is not valid; expected ${OPTIONAL_VARIABLES[name].expected}` });
    }

    const credentials: Partial<Record<(typeof SECRET_VARIABLES)[number], string>> = {};
    for (const name of SECRET_VARIABLES) {
        const raw = env[name];
        if (raw === undefined || raw === "") {
            problems.push({ variable: name, problem: `not set; expected ${SECRET_DESCRIPTIONS[name]}` });
        } else if (/[\r\n\0]/.test(raw)) {
            problems.push({ variable: name, problem: `has a line break or NUL character (value hidden); expected ${SECRET_DESCRIPTIONS[name]}` });
        } else {
            credentials[name] = raw;
        }
    }

    if (problems.length > 0) throw new RunnerConfigError(problems);

    const v = values as PublicValues;
    return {
        region: v.AWS_REGION,
        bucket: v.AWS_S3_BUCKET,
        submissionsPrefix: v.AWS_S3_SUBMISSIONS_PREFIX,
        logsPrefix: v.AWS_S3_LOGS_PREFIX,
        queueUrl: v.AWS_SQS_QUEUE_URL,
        pollIntervalMs: v.RUNNER_POLL_INTERVAL_MS,
        timeoutMs: v.RUNNER_TIMEOUT_MS,
        maxLogBytes: v.RUNNER_MAX_LOG_BYTES,
        jdkVersion: v.JDK_VERSION,
        buildTool: v.BUILD_TOOL,
        gracefulShutdownSeconds: v.GRACEFUL_SHUTDOWN_TIMEOUT_SEC,
        workDir: v.RUNNER_WORK_DIR,
        database: databaseSettings(v.DB_HOST, v.DB_PORT, v.DB_NAME, v.DB_SSLMODE, optional.DB_SSL_ROOT_CERT, credentials.DB_USERNAME!, credentials.DB_PASSWORD!),
    };
}

function databaseSettings(host: string, port: number, name: string, sslMode: SslMode, sslRootCert: string | undefined, user: string, password: string): DatabaseSettings {
    const query = `sslmode=${sslMode}${sslRootCert ? `&sslrootcert=${encodeURIComponent(sslRootCert)}` : ""}`;
    // encodeURIComponent escapes every character with a meaning in a URL's authority (@ : / ? # [ ] %).
    const url = (shownUser: string, shownPassword: string) => `postgresql://${shownUser}:${shownPassword}@${host}:${port}/${encodeURIComponent(name)}?${query}`;
    // The credentials live only in these closures: no enumerable field, so no serialised or inspected form, holds them.
    return {
        host,
        port,
        name,
        sslMode,
        ...(sslRootCert ? { sslRootCert } : {}),
        connectionString: () => url(encodeURIComponent(user), encodeURIComponent(password)),
        redactedConnectionString: () => url("****", "****"),
        credentials: () => ({ user, password }),
    };
}
