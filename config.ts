import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

/**
 * Every stack setting jobfleet reads, declared once. `Pulumi.yaml` declares the same keys with the
 * same types and defaults (a test keeps the two in step), the stack files set what differs, and
 * `loadConfig` validates the lot before any resource is registered.
 */
export const PROJECT = "jobfleet";

type ConfigKind = "string" | "integer" | "boolean" | "array";

interface KeySpec<T> {
    kind: ConfigKind;
    description: string;
    /** undefined: the key is required in every stack file. */
    default?: T;
    schema: z.ZodType<T>;
}

/** CloudWatch Logs accepts exactly these retention periods (PutRetentionPolicy). */
export const CLOUDWATCH_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Fargate's accepted task sizes: cpu units to the memory (MiB) values allowed with it. */
export const FARGATE_MEMORY_BY_CPU: Readonly<Record<number, readonly number[]>> = {
    256: [512, 1024, 2048],
    512: [1024, 2048, 3072, 4096],
    1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
    2048: range(4096, 16384, 1024),
    4096: range(8192, 30720, 1024),
    8192: range(16384, 61440, 4096),
    16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
    const values: number[] = [];
    for (let v = from; v <= to; v += step) values.push(v);
    return values;
}

export function fargateSizeProblem(cpu: number, memory: number): string | undefined {
    const allowed = FARGATE_MEMORY_BY_CPU[cpu];
    if (!allowed) {
        return `Fargate cpu must be one of ${Object.keys(FARGATE_MEMORY_BY_CPU).join(", ")} units`;
    }
    if (!allowed.includes(memory)) {
        const shown = allowed.length > 8 ? `${allowed[0]} to ${allowed[allowed.length - 1]} in steps of ${allowed[1] - allowed[0]}` : allowed.join(", ");
        return `Fargate does not accept ${memory} MiB with ${cpu} cpu units; with ${cpu} it accepts ${shown} MiB`;
    }
    return undefined;
}

const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;
export function isDigestPinned(image: string): boolean {
    return DIGEST_PINNED.test(image);
}

const nonEmpty = z.string().trim().min(1, "a non-empty string");
const positiveInt = z.number().int().positive();
const image = z
    .string()
    .trim()
    .min(1, "an image reference")
    .refine((v) => !/:latest(@|$)/.test(v), "an image reference without the moving tag :latest (pin it by digest: repo@sha256:<64 hex>)");
const arnOf = (service: string, example: string) =>
    z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `an ARN of ${service} (arn:aws:${service}:..., for example ${example})`);
const optionalArnOf = (service: string, example: string) => z.union([z.literal(""), arnOf(service, example)]);
const origin = z
    .string()
    .refine((v) => v === "*" || /^https?:\/\/[^/\s*]+$/.test(v), "an origin like https://app.example.com (scheme and host, no path), or *");
const fargateCpu = z.number().int().refine((v) => v in FARGATE_MEMORY_BY_CPU, `one of Fargate's cpu sizes: ${Object.keys(FARGATE_MEMORY_BY_CPU).join(", ")}`);
const retention = z
    .number()
    .int()
    .refine((v) => (CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(v), `one of the retention periods CloudWatch accepts: ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`);
const lambdaTimeout = z.number().int().min(1).max(900, "at most 900 seconds (Lambda's limit)");
const lambdaMemory = z.number().int().min(128).max(10240, "between 128 and 10240 MB (Lambda's range)");
const gracefulSeconds = z.number().int().min(1).max(115, "at most 115 seconds, so that the stop timeout (5 s more) stays within Fargate's 120 s");

function spec<T>(kind: ConfigKind, description: string, schema: z.ZodType<T>, defaultValue?: T): KeySpec<T> {
    return { kind, description, schema, default: defaultValue };
}

export const CONFIG_KEYS = {
    environment: spec("string", "Which kind of stack this is; prod turns every safety default on.", z.enum(["staging", "prod"])),
    costCenter: spec("string", "Value of the CostCenter tag on every resource.", nonEmpty, "platform"),
    logRetentionDays: spec("integer", "CloudWatch Logs retention for every log group.", retention, 30),
    alarmCpuHighPercent: spec("integer", "CPU utilisation (%) above which a service's CPU-high alarm fires.", z.number().int().min(1).max(100), 80),
    alarmMemoryHighPercent: spec("integer", "Memory utilisation (%) above which a service's memory-high alarm fires (seed 002: 80).", z.number().int().min(1).max(100), 80),
    alarmEvaluationMinutes: spec("integer", "How many consecutive one-minute periods must breach before a utilisation alarm fires.", z.number().int().min(1).max(60), 5),
    alarmEmail: spec("string", "E-mail address subscribed to the alarm topic; empty for none.", z.union([z.literal(""), z.string().email("an e-mail address")]), ""),

    vpcCidr: spec("string", "CIDR block of the VPC.", z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|20)$/, "an IPv4 CIDR block from /16 to /20, like 10.40.0.0/16 (smaller blocks cannot hold the subnets)"), "10.40.0.0/16"),
    availabilityZoneCount: spec("integer", "Availability zones the VPC spans (private subnets in each).", z.number().int().min(2, "at least 2 availability zones").max(4, "at most 4 availability zones (the subnet layout is sized for 4)"), 2),
    natStrategy: spec("string", "NAT gateways: Single (one shared, cheaper) or OnePerAz (survives an AZ outage).", z.enum(["Single", "OnePerAz"]), "Single"),

    shellExecutorImage: spec("string", "Shell executor runner image (ECR), pinned by digest in prod.", image),
    shellExecutorCpu: spec("integer", "Shell executor task cpu units.", fargateCpu, 512),
    shellExecutorMemory: spec("integer", "Shell executor task memory (MiB).", positiveInt, 1024),
    shellExecutorStopTimeoutSeconds: spec("integer", "Seconds ECS waits after SIGTERM before killing the runner container.", z.number().int().min(2).max(120, "at most 120 seconds (Fargate's limit)"), 30),
    shellJobUrlTtlSeconds: spec("integer", "Validity of the presigned job request and result URLs (seed 000: 15 minutes).", z.number().int().min(60).max(604800, "at most 7 days (SigV4's limit)"), 900),
    shellJobExpirationDays: spec("integer", "Days after which shell-jobs/ and shell-results/ objects expire (seed 000: 1).", positiveInt, 1),
    shellCommandTimeoutSeconds: spec("integer", "Per-command timeout inside the runner.", positiveInt, 300),
    shellMaxOutputBytes: spec("integer", "Cap on captured stdout+stderr per command.", positiveInt, 1048576),

    jobWorkerImage: spec("string", "Job processor Lambda image (ECR), pinned by digest in prod.", image),
    jobWorkerMemoryMb: spec("integer", "Job processor Lambda memory.", lambdaMemory, 1024),
    jobWorkerTimeoutSeconds: spec("integer", "Job processor Lambda timeout.", lambdaTimeout, 600),
    jobWorkerReservedConcurrency: spec("integer", "Reserved concurrency of the job processor Lambda.", z.number().int().min(1).max(1000), 5),

    apiImage: spec("string", "API Lambda image (ECR), pinned by digest in prod.", image),
    apiMemoryMb: spec("integer", "API Lambda memory.", lambdaMemory, 512),
    apiTimeoutSeconds: spec("integer", "API Lambda timeout; at most 29 s so it answers before API Gateway HTTP APIs stop waiting at 30 s.", z.number().int().min(1).max(29, "at most 29 seconds, so the function answers before API Gateway HTTP API's 30 s integration limit"), 29),
    apiCorsAllowedOrigins: spec("array", "Origins allowed to call the API from a browser.", z.array(origin), []),

    sandboxBrokerImage: spec("string", "Sandbox broker image (API and worker share it).", image),
    sandboxBrokerCpu: spec("integer", "Sandbox broker task cpu units.", fargateCpu, 512),
    sandboxBrokerMemory: spec("integer", "Sandbox broker task memory (MiB).", positiveInt, 1024),
    sandboxBrokerApiDesiredCount: spec("integer", "Sandbox broker API tasks (seed 001: 2).", z.number().int().min(1), 2),
    sandboxBrokerWorkerDesiredCount: spec("integer", "Sandbox broker worker tasks (seed 001: 1; the background jobs must not run twice).", z.number().int().min(0).max(1, "at most 1: the background jobs must run in exactly one worker"), 1),
    sandboxBrokerCertificateArn: spec("string", "ACM certificate for the broker's HTTPS listener.", arnOf("acm", "arn:aws:acm:eu-central-1:123456789012:certificate/...")),
    sandboxBrokerCorsAllowedOrigins: spec("array", "CORS_ALLOWED_ORIGINS of the broker API.", z.array(origin).min(1, "at least one origin")),
    sandboxBrokerCspApiTokenSecretArn: spec("string", "Existing Secrets Manager secret holding the CSP API token; empty: the stack creates an empty secret for operators to fill.", optionalArnOf("secretsmanager", "arn:aws:secretsmanager:eu-central-1:123456789012:secret:csp-api-token-AbCdEf"), ""),
    sandboxBrokerRateLimitPerMinute: spec("integer", "Requests per minute per sandbox (X-Instruqt-Sandbox-ID) the broker allows.", positiveInt, 60),
    sandboxBrokerGracefulShutdownSeconds: spec("integer", "Seconds the broker drains on SIGTERM.", gracefulSeconds, 30),

    agentRuntimeImage: spec("string", "Agent runtime image.", image),
    agentRuntimeCpu: spec("integer", "Agent runtime task cpu units (seed 002: 256).", fargateCpu, 256),
    agentRuntimeMemory: spec("integer", "Agent runtime task memory (seed 002: 512).", positiveInt, 512),
    agentRuntimeDesiredCount: spec("integer", "Agent runtime tasks.", z.number().int().min(1), 1),
    agentRuntimeGracefulShutdownSeconds: spec("integer", "GRACEFUL_SHUTDOWN_TIMEOUT_SEC of the agent runtime (seed 002: 30).", gracefulSeconds, 30),
    agentRuntimeAppId: spec("string", "AGENT_APP_ID the runtime serves.", nonEmpty),
    agentRuntimePackagePrefix: spec("string", "Key prefix in the package bucket the runtime may read.", z.string().regex(/^(?!\/)[A-Za-z0-9!_.'()\-/]+\/$/, "an S3 key prefix ending in / (letters, digits, ! _ . ' ( ) - /; no * or leading /, which would widen the task's s3:GetObject grant)"), "packages/"),
    agentRuntimeCertificateArn: spec("string", "ACM certificate for the agent runtime's HTTPS listener.", arnOf("acm", "arn:aws:acm:us-east-2:123456789012:certificate/...")),

    previewApp: spec("string", "Application name, the first part of every artifact key (seed 003: express-api).", z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"), "express-api"),
    previewEnvironmentName: spec("string", "Preview environment name, the second part of the artifact key (pr-51, staging, ...).", z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes")),
    previewArtifactPath: spec("string", "Path of the deployment tarball to publish, relative to the project.", nonEmpty, "artifacts/express-api-deployment.tar.gz"),
    previewCommitSha: spec("string", "Commit the artifact was built from; empty: GITHUB_SHA.", z.union([z.literal(""), z.string().regex(/^[0-9a-f]{40}$/, "a full 40-character commit SHA")]), ""),
    previewBranch: spec("string", "Branch the artifact was built from; empty: GITHUB_REF_NAME.", z.string(), ""),
    previewBuildTime: spec("string", "UTC build time YYYYMMDD-HHMMSS, fixed for the update; empty: JOBFLEET_BUILD_TIME.", z.union([z.literal(""), z.string().regex(/^\d{8}-\d{6}$/, "a UTC time written YYYYMMDD-HHMMSS")]), ""),
    previewWorkflowRunId: spec("string", "CI run that built the artifact; empty: GITHUB_RUN_ID.", z.union([z.literal(""), z.string().regex(/^\d+$/, "a number")]), ""),
    previewPrNumber: spec("string", "Pull request number; empty when not built for a pull request.", z.union([z.literal(""), z.string().regex(/^\d+$/, "a number")]), ""),
    previewInstanceType: spec("string", "EC2 instance type of the preview environment.", z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type like t3.small"), "t3.small"),
    previewMinSize: spec("integer", "Minimum instances in the preview Auto Scaling group.", z.number().int().min(0), 1),
    previewMaxSize: spec("integer", "Maximum instances in the preview Auto Scaling group.", z.number().int().min(1), 2),
    previewAssociatePublicIp: spec("boolean", "Give preview instances a public IP (off: they sit in private subnets behind the ALB).", z.boolean(), false),
    previewCertificateArn: spec("string", "ACM certificate for the preview ALB's HTTPS listener.", arnOf("acm", "arn:aws:acm:us-east-1:123456789012:certificate/...")),
    artifactNoncurrentVersionDays: spec("integer", "Days a noncurrent artifact object version is kept.", positiveInt, 30),
    artifactKeepCount: spec("integer", "Artifacts kept per environment by cleanup (seed 003: 5).", positiveInt, 5),
    artifactMaxAgeDays: spec("integer", "Artifacts older than this are removed by cleanup (seed 003: 7).", positiveInt, 7),

    submissionRunnerImage: spec("string", "Submission runner image; the runner's ECR repository@digest in prod.", image),
    submissionRunnerCpu: spec("integer", "Submission runner task cpu units (seed 004: 1024).", fargateCpu, 1024),
    submissionRunnerMemory: spec("integer", "Submission runner task memory (seed 004: 2048).", positiveInt, 2048),
    submissionRunnerGracefulShutdownSeconds: spec("integer", "Seconds the runner gets on SIGTERM to finish or release its message.", gracefulSeconds, 30),
    runnerPollIntervalMs: spec("integer", "RUNNER_POLL_INTERVAL_MS (seed 004: 20000).", positiveInt, 20000),
    runnerTimeoutMs: spec("integer", "RUNNER_TIMEOUT_MS, the test execution timeout (seed 004: 120000).", z.number().int().min(1000).max(43_000_000, "below SQS's 12-hour visibility limit"), 120000),
    runnerMaxLogBytes: spec("integer", "RUNNER_MAX_LOG_BYTES (seed 004: 200000).", positiveInt, 200000),
    runnerJdkVersion: spec("string", "JDK_VERSION (seed 004: 17).", z.string().regex(/^\d+$/, "a JDK major version like 17"), "17"),
    runnerBuildTool: spec("string", "BUILD_TOOL (seed 004: maven).", z.enum(["maven", "gradle"]), "maven"),
    submissionQueueMaxReceiveCount: spec("integer", "Receives before a submission goes to the dead-letter queue.", z.number().int().min(1).max(1000), 3),
    submissionRunnerMinTasks: spec("integer", "Minimum runner tasks.", z.number().int().min(0), 1),
    submissionRunnerMaxTasks: spec("integer", "Maximum runner tasks.", z.number().int().min(1), 4),
    submissionRunnerBacklogPerTask: spec("integer", "Target outstanding submissions (waiting plus in flight) per running runner task for autoscaling.", positiveInt, 5),
    submissionRunnerUseSpot: spec("boolean", "Run the runner on Fargate Spot (staging) instead of on-demand.", z.boolean(), false),
    runLogRetentionDays: spec("integer", "Days run logs (logs/<id>/run.log) are kept in S3.", positiveInt, 90),
    dbInstanceClass: spec("string", "RDS instance class of the submissions database.", z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "an RDS instance class like db.t4g.micro"), "db.t4g.micro"),
    dbAllocatedStorageGb: spec("integer", "RDS storage (GiB).", z.number().int().min(20, "at least 20 GiB (gp3's minimum)").max(65536), 20),
    dbEngineVersion: spec("string", "PostgreSQL major version.", z.string().regex(/^\d+(\.\d+)?$/, "a PostgreSQL version like 16 or 16.4"), "16"),
    dbName: spec("string", "Database name.", z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, "a PostgreSQL identifier"), "submissions"),
    dbUsername: spec("string", "Master user name (its password is managed by RDS in Secrets Manager).", z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, "1 to 16 letters, digits or underscores, starting with a letter").refine((v) => !["postgres", "rdsadmin", "admin"].includes(v), "a name other than postgres, rdsadmin or admin"), "runner"),
    dbMultiAz: spec("boolean", "Run the database in two AZs.", z.boolean(), false),
    dbBackupRetentionDays: spec("integer", "Automated backup retention.", z.number().int().min(1).max(35), 7),
    dbDeletionProtection: spec("boolean", "Refuse to delete the database (and take a final snapshot).", z.boolean(), false),

    githubRepository: spec("string", "owner/name of the GitHub repository that may assume the CI roles.", z.string().regex(/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/, "owner/name")),
    githubOidcSubjectPrefix: spec(
        "string",
        "Start of GitHub's OIDC subject for the repository; empty: repo:<owner>/<name>. Repositories on GitHub's immutable subject claims: repo:<owner>@<owner id>/<name>@<repository id>.",
        z.union([z.literal(""), z.string().regex(/^repo:[A-Za-z0-9-]+(@\d+)?\/[A-Za-z0-9._-]+(@\d+)?$/, "repo:<owner>/<name> or repo:<owner>@<owner id>/<name>@<repository id>")]),
        "",
    ),
    githubOidcProviderArn: spec("string", "Existing GitHub OIDC provider in the account; empty: the stack creates it.", optionalArnOf("iam", "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"), ""),
    pulumiOidcProviderArn: spec("string", "Existing Pulumi Cloud OIDC provider (api.pulumi.com/oidc) in the account; empty: the stack creates it.", optionalArnOf("iam", "arn:aws:iam::123456789012:oidc-provider/api.pulumi.com/oidc"), ""),
    pulumiOrganization: spec("string", "Pulumi Cloud organization whose Deployments assume the deploy role.", z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a Pulumi organization name")),
} satisfies Record<string, KeySpec<unknown>>;

type Specs = typeof CONFIG_KEYS;
export type ConfigKey = keyof Specs;
export type RawSettings = { [K in ConfigKey]: Specs[K] extends KeySpec<infer T> ? T : never };

export interface ConfigProblem {
    key: string;
    value: string | undefined;
    expected: string;
}

export class ConfigValidationError extends Error {
    constructor(public readonly problems: ConfigProblem[]) {
        super(
            `jobfleet config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
                problems.map((p) => `  - ${p.key} = ${p.value === undefined ? "(not set)" : JSON.stringify(p.value)}: expected ${p.expected}`).join("\n"),
        );
        this.name = "ConfigValidationError";
    }
}

export interface JobfleetConfig extends RawSettings {
    isProd: boolean;
    stack: string;
    region: string;
    /** Tags for every taggable resource. */
    tags: Record<string, string>;
}

/** Parses a raw config value (Pulumi hands every value over as a string) into its declared kind. */
function coerce(kind: ConfigKind, raw: string): unknown {
    switch (kind) {
        case "string":
            return raw;
        case "integer":
            return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
        case "boolean":
            return raw === "true" ? true : raw === "false" ? false : raw;
        case "array":
            try {
                return JSON.parse(raw);
            } catch {
                return raw;
            }
    }
}

function describe(kind: ConfigKind): string {
    return { string: "a string", integer: "a whole number", boolean: "true or false", array: "a list" }[kind];
}

/**
 * Validates a flat map of config (`jobfleet:key` → string, as `pulumi.runtime.allConfig()` returns it)
 * and reports every problem at once. Pure: the offline preview calls it before running the program.
 */
export function validateConfig(raw: Record<string, string>, stack: string): JobfleetConfig {
    const problems: ConfigProblem[] = [];
    const settings: Record<string, unknown> = {};
    const known = new Set(Object.keys(CONFIG_KEYS).map((k) => `${PROJECT}:${k}`));

    for (const [key, s] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec<unknown>][]) {
        const fullKey = `${PROJECT}:${key}`;
        const rawValue = raw[fullKey];
        if (rawValue === undefined) {
            if (s.default === undefined) {
                problems.push({ key: fullKey, value: undefined, expected: `${describe(s.kind)}: ${s.description} (required, no default)` });
            } else {
                settings[key] = s.default;
            }
            continue;
        }
        const result = s.schema.safeParse(coerce(s.kind, rawValue));
        if (result.success) {
            settings[key] = result.data;
        } else {
            const expected = result.error.issues.map((i) => explainIssue(i, s.kind)).join("; ");
            problems.push({ key: fullKey, value: rawValue, expected });
        }
    }
    for (const key of Object.keys(raw)) {
        if (key.startsWith(`${PROJECT}:`) && !known.has(key)) {
            problems.push({ key, value: raw[key], expected: `a key jobfleet knows; this one is not declared in Pulumi.yaml (a typo?)` });
        }
    }
    const region = raw["aws:region"];
    if (!region) {
        problems.push({ key: "aws:region", value: undefined, expected: "the AWS region to deploy to, like us-east-1" });
    } else if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) {
        problems.push({ key: "aws:region", value: region, expected: "an AWS region name like us-east-1" });
    }
    problems.push(...crossChecks(settings as Partial<RawSettings>));
    if (problems.length > 0) {
        throw new ConfigValidationError(problems);
    }
    const s = settings as RawSettings;
    return {
        ...s,
        isProd: s.environment === "prod",
        stack,
        region: region!,
        tags: { Project: PROJECT, Environment: s.environment, Stack: stack, CostCenter: s.costCenter, ManagedBy: "pulumi" },
    };
}

function explainIssue(issue: z.core.$ZodIssue, kind: ConfigKind): string {
    const where = issue.path.length > 0 ? `item ${issue.path.join(".")}: ` : "";
    if (issue.code === "invalid_type") return where + describe(kind);
    if (issue.code === "invalid_value" && "values" in issue) return where + `one of ${(issue.values as unknown[]).map(String).join(", ")}`;
    // zod's own wording for bounds ("Too small: expected number to be >=2") reads poorly; our schemas' custom messages read well.
    if (issue.code === "too_small" && /^Too small/.test(issue.message)) return where + `at least ${issue.minimum}`;
    if (issue.code === "too_big" && /^Too big/.test(issue.message)) return where + `at most ${issue.maximum}`;
    return where + issue.message;
}

/**
 * Rules that span several keys, or that only hold in prod. Each runs when the keys it reads parsed,
 * so a config with a bad key still gets every other problem reported in the same run.
 */
function crossChecks(s: Partial<RawSettings>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const k = (key: ConfigKey) => `${PROJECT}:${key}`;
    const has = (...keys: ConfigKey[]) => keys.every((key) => s[key] !== undefined);
    const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
    const prod = s.environment === "prod";

    for (const [cpuKey, memoryKey] of [
        ["shellExecutorCpu", "shellExecutorMemory"],
        ["sandboxBrokerCpu", "sandboxBrokerMemory"],
        ["agentRuntimeCpu", "agentRuntimeMemory"],
        ["submissionRunnerCpu", "submissionRunnerMemory"],
    ] as const) {
        if (!has(cpuKey, memoryKey)) continue;
        const problem = fargateSizeProblem(s[cpuKey]!, s[memoryKey]!);
        if (problem) problems.push({ key: k(memoryKey), value: String(s[memoryKey]), expected: `${problem} (${k(cpuKey)} = ${s[cpuKey]})` });
    }
    if (prod) {
        for (const key of ["apiCorsAllowedOrigins", "sandboxBrokerCorsAllowedOrigins"] as const) {
            if (s[key]?.includes("*")) {
                problems.push({ key: k(key), value: show(s[key]), expected: "explicit origins in prod: * lets any website call the API with its users' browsers" });
            }
        }
        for (const key of ["shellExecutorImage", "jobWorkerImage", "apiImage", "sandboxBrokerImage", "agentRuntimeImage", "submissionRunnerImage"] as const) {
            const value = s[key];
            if (value !== undefined && !isDigestPinned(value)) {
                problems.push({ key: k(key), value, expected: "an image pinned by digest in prod (repository@sha256:<64 hex>), so every task runs exactly the reviewed build" });
            }
        }
        if (s.natStrategy !== undefined && s.natStrategy !== "OnePerAz") {
            problems.push({ key: k("natStrategy"), value: s.natStrategy, expected: "OnePerAz in prod, so one AZ's outage does not cut the others off from AWS and the internet" });
        }
        if (s.dbDeletionProtection === false) {
            problems.push({ key: k("dbDeletionProtection"), value: "false", expected: "true in prod: the submissions database must not be deletable by a stack change" });
        }
        if (s.submissionRunnerUseSpot === true) {
            problems.push({ key: k("submissionRunnerUseSpot"), value: "true", expected: "false in prod: Spot interruptions would abort graded runs" });
        }
    }
    if (has("submissionRunnerMinTasks", "submissionRunnerMaxTasks") && s.submissionRunnerMinTasks! > s.submissionRunnerMaxTasks!) {
        problems.push({ key: k("submissionRunnerMinTasks"), value: String(s.submissionRunnerMinTasks), expected: `at most ${k("submissionRunnerMaxTasks")} (${s.submissionRunnerMaxTasks})` });
    }
    if (has("previewMinSize", "previewMaxSize") && s.previewMinSize! > s.previewMaxSize!) {
        problems.push({ key: k("previewMinSize"), value: String(s.previewMinSize), expected: `at most ${k("previewMaxSize")} (${s.previewMaxSize})` });
    }
    if (has("runnerPollIntervalMs", "runnerTimeoutMs") && s.runnerPollIntervalMs! >= s.runnerTimeoutMs!) {
        problems.push({ key: k("runnerPollIntervalMs"), value: String(s.runnerPollIntervalMs), expected: `less than ${k("runnerTimeoutMs")} (${s.runnerTimeoutMs})` });
    }
    return problems;
}

/** Reads and validates this stack's config. Call it first in the program: it throws before any resource exists. */
export function loadConfig(): JobfleetConfig {
    return validateConfig(pulumi.runtime.allConfig(), pulumi.getStack());
}
