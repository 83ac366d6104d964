/**
 * The artifact key contract of seed 003, shared by the Pulumi components, the runtime library and
 * the CLI so that all of them write and read exactly the same keys:
 *
 *   {app}/{environment}/{sha8}-{YYYYMMDD-HHMMSS}/{file}      one never-overwritten key per build
 *   {app}/{environment}/{app}-deployment.tar.gz              the legacy key every deploy reused
 *
 * The `{sha8}-{YYYYMMDD-HHMMSS}/` part is the artifact's version prefix: everything under it
 * belongs to one build, and cleanup removes or keeps it as a whole.
 */

export const APP_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const ENVIRONMENT_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const COMMIT_SHA_PATTERN = /^[0-9a-f]{40}$/;
export const BUILD_TIME_PATTERN = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;
/** One path segment an S3 console and a shell both handle without quoting. */
export const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERSION_PATTERN = /^([0-9a-f]{8})-(\d{8}-\d{6})$/;

export interface ArtifactCoordinates {
    app: string;
    environment: string;
    /** Full 40-character commit SHA; the key carries its first 8 characters. */
    commitSha: string;
    /** UTC build time written YYYYMMDD-HHMMSS. */
    buildTime: string;
    fileName: string;
}

export interface ParsedArtifactKey {
    app: string;
    environment: string;
    /** `{sha8}-{YYYYMMDD-HHMMSS}`: the version prefix's last segment. */
    version: string;
    sha8: string;
    buildTime: string;
    /** Path below the version prefix (usually one file name). */
    file: string;
    /** `{app}/{environment}/{version}/` */
    versionPrefix: string;
}

/** S3 refuses object keys longer than 1,024 bytes of UTF-8. */
export const MAX_S3_KEY_BYTES = 1024;

export class ArtifactArgumentError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ArtifactArgumentError";
    }
}

/** Refuses a key S3 would refuse, before any request is sent. */
export function checkKeyLength(key: string, field = "key", hint = "S3 would refuse it, so no request is sent."): string {
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > MAX_S3_KEY_BYTES) {
        throw new ArtifactArgumentError(`${field} is ${bytes} bytes long; S3 object keys are at most ${MAX_S3_KEY_BYTES} bytes (UTF-8). ${hint}`);
    }
    return key;
}

function check(field: string, value: unknown, pattern: RegExp, expected: string): string {
    if (typeof value !== "string" || !pattern.test(value)) {
        throw new ArtifactArgumentError(`${field} must be ${expected} (got ${JSON.stringify(value)}).`);
    }
    return value;
}

export function checkApp(app: unknown, field = "app"): string {
    return check(field, app, APP_PATTERN, "lower-case letters, digits and dashes, like express-api");
}

export function checkEnvironment(environment: unknown, field = "environment"): string {
    return check(field, environment, ENVIRONMENT_PATTERN, "lower-case letters, digits and dashes, like pr-51 or staging");
}

export function checkCommitSha(sha: unknown, field = "commit SHA"): string {
    return check(field, sha, COMMIT_SHA_PATTERN, "a full 40-character lower-case hex commit SHA");
}

export function checkFileName(fileName: unknown, field = "file name"): string {
    return check(field, fileName, FILE_NAME_PATTERN, "a single file name of letters, digits, dots, dashes and underscores, like express-api-deployment.tar.gz");
}

/** Checks the format and that the date and time exist (no 20250231-256000). */
export function checkBuildTime(buildTime: unknown, field = "build time"): string {
    const value = check(field, buildTime, BUILD_TIME_PATTERN, "a UTC time written YYYYMMDD-HHMMSS, like 20250820-124500");
    const parsed = buildTimeToDate(value);
    if (formatBuildTime(parsed) !== value) {
        throw new ArtifactArgumentError(`${field} ${JSON.stringify(value)} is not a real date and time (YYYYMMDD-HHMMSS, UTC).`);
    }
    return value;
}

export function formatBuildTime(date: Date): string {
    if (Number.isNaN(date.getTime())) throw new ArtifactArgumentError("build time must be a valid date.");
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

export function buildTimeToDate(buildTime: string): Date {
    const m = BUILD_TIME_PATTERN.exec(buildTime);
    if (!m) throw new ArtifactArgumentError(`build time must be a UTC time written YYYYMMDD-HHMMSS (got ${JSON.stringify(buildTime)}).`);
    const [, y, mo, d, h, mi, s] = m.map(Number);
    return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/** The file name seed 003 uses for an app's deployment tarball. */
export function defaultArtifactFileName(app: string): string {
    return `${checkApp(app)}-deployment.tar.gz`;
}

export function environmentForPullRequest(prNumber: number | string): string {
    const n = String(prNumber);
    if (!/^[1-9]\d*$/.test(n)) throw new ArtifactArgumentError(`pull request number must be a positive whole number (got ${JSON.stringify(prNumber)}).`);
    return `pr-${n}`;
}

export function artifactVersion(commitSha: string, buildTime: string): string {
    return `${checkCommitSha(commitSha).slice(0, 8)}-${checkBuildTime(buildTime)}`;
}

export function environmentPrefix(app: string, environment: string): string {
    return `${checkApp(app)}/${checkEnvironment(environment)}/`;
}

export function artifactKey(c: ArtifactCoordinates): string {
    return checkKeyLength(`${environmentPrefix(c.app, c.environment)}${artifactVersion(c.commitSha, c.buildTime)}/${checkFileName(c.fileName)}`, "the artifact key", "Use a shorter app, environment or file name.");
}

/** Clock skew tolerated between the build machine and this one before a build time counts as "in the future". */
export const BUILD_TIME_SKEW_MS = 5 * 60 * 1000;

/**
 * A build time later than now (beyond a small clock skew) would rank that build newest until the
 * clock catches up, in resolve and in cleanup's --keep: refused at publish.
 */
export function checkBuildTimeNotFuture(buildTime: string, now: Date, field = "build time"): string {
    const at = buildTimeToDate(checkBuildTime(buildTime, field));
    if (at.getTime() > now.getTime() + BUILD_TIME_SKEW_MS) {
        throw new ArtifactArgumentError(
            `${field} ${buildTime} is ${Math.round((at.getTime() - now.getTime()) / 60000)} minutes in the future (now is ${formatBuildTime(now)} UTC; at most ${BUILD_TIME_SKEW_MS / 60000} minutes of clock skew are accepted): a build from the future would outrank every real build. Use the UTC time of the build.`,
        );
    }
    return buildTime;
}

/** Seed 003's pre-versioning key, `express-api/pr-51/express-api-deployment.tar.gz`: read-only fallback. */
export function legacyArtifactKey(app: string, environment: string, fileName = defaultArtifactFileName(app)): string {
    return checkKeyLength(`${environmentPrefix(app, environment)}${checkFileName(fileName)}`, "the legacy key", "Use a shorter app, environment or file name.");
}

/** Parses a versioned key; undefined for anything else (legacy keys, stray objects). */
export function parseArtifactKey(key: string): ParsedArtifactKey | undefined {
    const parts = key.split("/");
    if (parts.length < 4) return undefined;
    const [app, environment, version, ...rest] = parts;
    const file = rest.join("/");
    const m = VERSION_PATTERN.exec(version);
    if (!APP_PATTERN.test(app) || !ENVIRONMENT_PATTERN.test(environment) || !m || file === "" || rest.some((p) => p === "")) return undefined;
    if (formatBuildTime(buildTimeToDate(m[2])) !== m[2]) return undefined;
    return { app, environment, version, sha8: m[1], buildTime: m[2], file, versionPrefix: `${app}/${environment}/${version}/` };
}

export function isLegacyArtifactKey(key: string, app: string, environment: string, fileName = defaultArtifactFileName(app)): boolean {
    return key === legacyArtifactKey(app, environment, fileName);
}
