import { DeleteObjectsCommand, DeleteObjectsCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { ArtifactArgumentError, checkApp, checkEnvironment, defaultArtifactFileName, legacyArtifactKey, parseArtifactKey } from "./keys";
import { listArtifacts, ListingProgress, newestFirst, RequestControl, StoredArtifact } from "./listing";
import { ARTIFACT_RETRY_POLICY, artifactRequest, describeFailure } from "./s3Requests";
import { backoffDelayMs, sleep } from "../retry";
import { parseObjectReference } from "./objectReference";
import { checkBucketName } from "./publish";

/** DeleteObjects takes at most 1,000 keys per request. */
export const DELETE_BATCH_SIZE = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CleanupRules {
    /** The newest N artifacts of each environment are kept (seed 003: 5). 0: no count rule. */
    keep: number;
    /** Artifacts younger than D days are kept (seed 003: 7). 0: no age rule. */
    days: number;
    /** Object keys (or `s3://bucket/key`) that something runs: their artifacts are always kept. */
    deployedKeys: string[];
    now: Date;
}

export interface CleanupDecision {
    artifact: StoredArtifact;
    delete: boolean;
    /** Why it stays (every rule that keeps it) or why it goes. */
    reasons: string[];
}

export interface CleanupPlan {
    bucket: string;
    app: string;
    /** undefined: every environment of the app. */
    environment?: string;
    rules: CleanupRules;
    /** The --endpoint the deployed keys were read against (its URLs are understood as keys). */
    endpoint?: string;
    decisions: CleanupDecision[];
    deletions: StoredArtifact[];
    keysToDelete: string[];
    bytesToReclaim: number;
    /** Objects under the prefix that are not artifacts; cleanup never touches them. */
    strayObjects: number;
    /** Deployed keys that match no listed object (a typo, another environment, or already gone). */
    unmatchedDeployedKeys: string[];
    listRequests: number;
    listedObjects: number;
}

export function checkCleanupRules(keep: unknown, days: unknown): { keep: number; days: number } {
    if (typeof keep !== "number" || !Number.isInteger(keep) || keep < 0) {
        throw new ArtifactArgumentError(`keep must be a whole number of artifacts, 0 or more (got ${JSON.stringify(keep)}).`);
    }
    if (typeof days !== "number" || !Number.isInteger(days) || days < 0) {
        throw new ArtifactArgumentError(`days must be a whole number of days, 0 or more (got ${JSON.stringify(days)}).`);
    }
    if (keep === 0 && days === 0) {
        throw new ArtifactArgumentError("keep and days are both 0, which would delete every artifact that is not listed as deployed; keep at least one rule.");
    }
    return { keep, days };
}

/**
 * The artifact id a deployed key protects: for anything inside a version prefix (an object key,
 * a file that was not listed, or the prefix itself with or without its final `/`) that prefix,
 * so the whole build stays; otherwise (the legacy key) the key itself. Every form
 * `parseObjectReference` reads is accepted (s3://, S3://, https URLs, a leading `/`,
 * `?versionId=`); anything else, or another bucket, is refused with an ArtifactArgumentError.
 */
export function deployedArtifactId(bucket: string, key: string, endpoint?: string, field = "deployed key"): string {
    const { key: objectKey } = parseObjectReference(key, { bucket, field, endpoint });
    const inside = parseArtifactKey(objectKey) ?? parseArtifactKey(`${objectKey.replace(/\/+$/, "")}/-`);
    return inside ? inside.versionPrefix : objectKey;
}

/** A deployed key as messages show it: without a query (`?versionId=`), shortened. */
export function shownReference(given: string): string {
    const withoutQuery = given.trim().replace(/\?.*$/s, "");
    return withoutQuery.length > 200 ? `${withoutQuery.slice(0, 197)}...` : withoutQuery;
}

/** A deployed key that matches no build in the listing: a typo, another environment or bucket, or a build already gone. */
export class UnmatchedDeployedKeyError extends ArtifactArgumentError {
    constructor(
        public readonly unmatched: string[],
        scope: string,
    ) {
        super(
            `${unmatched.length === 1 ? "this deployed key matches" : `these ${unmatched.length} deployed keys match`} no build in the listing of ${scope}: ${unmatched.map((k) => JSON.stringify(shownReference(k))).join(", ")}. ` +
                "A cleanup cannot protect what it cannot find, so nothing was deleted: check the key, the bucket and --env, or drop the key if that build is gone.",
        );
        this.name = "UnmatchedDeployedKeyError";
    }
}

/**
 * Decides per artifact. An artifact stays when ANY rule keeps it: it is deployed, it is among the
 * newest `keep` of its environment, or it is younger than `days`. Everything else goes, whole
 * (all objects under its version prefix).
 */
export function decideCleanup(artifacts: StoredArtifact[], rules: CleanupRules, bucket: string, endpoint?: string): { decisions: CleanupDecision[]; unmatchedDeployedKeys: string[] } {
    // artifact id -> the deployed keys (as given) that protect it
    const deployed = new Map<string, string[]>();
    for (const given of rules.deployedKeys.map((k) => k.trim()).filter((k) => k !== "")) {
        const id = deployedArtifactId(bucket, given, endpoint);
        deployed.set(id, [...(deployed.get(id) ?? []), given]);
    }
    const matched = new Set<string>();
    const byEnvironment = new Map<string, StoredArtifact[]>();
    for (const artifact of artifacts) {
        const list = byEnvironment.get(artifact.environment) ?? [];
        list.push(artifact);
        byEnvironment.set(artifact.environment, list);
    }
    const decisions: CleanupDecision[] = [];
    for (const [environment, list] of byEnvironment) {
        list.sort(newestFirst);
        // Only versioned builds take --keep slots: the legacy key is a mutable leftover of seed
        // 003, and counting it would push a real build out of the newest N.
        let versionedRank = 0;
        list.forEach((artifact) => {
            const rank = artifact.legacy ? undefined : versionedRank++;
            const reasons: string[] = [];
            const deployedKeys = deployed.get(artifact.id) ?? [];
            if (deployedKeys.length > 0) matched.add(artifact.id);
            if (deployedKeys.length > 0) reasons.push(`deployed (${deployedKeys.map(shownReference).join(", ")})`);
            if (rank !== undefined && rank < rules.keep) reasons.push(`among the newest ${rules.keep} of ${environment} (#${rank + 1})`);
            const ageDays = (rules.now.getTime() - artifact.time.getTime()) / DAY_MS;
            if (rules.days > 0 && ageDays < rules.days) reasons.push(`younger than ${rules.days} days (${Math.max(0, ageDays).toFixed(1)} days)`);
            if (reasons.length > 0) {
                decisions.push({ artifact, delete: false, reasons });
            } else {
                const why = [
                    rank === undefined ? "the legacy key, which never takes a --keep slot" : rules.keep > 0 ? `not among the newest ${rules.keep} of ${environment} (#${rank + 1})` : undefined,
                    `${ageDays.toFixed(1)} days old`,
                    "not deployed",
                ].filter(Boolean);
                decisions.push({ artifact, delete: true, reasons: why as string[] });
            }
        });
    }
    decisions.sort((a, b) => (a.artifact.environment < b.artifact.environment ? -1 : a.artifact.environment > b.artifact.environment ? 1 : newestFirst(a.artifact, b.artifact)));
    return { decisions, unmatchedDeployedKeys: [...deployed].filter(([id]) => !matched.has(id)).flatMap(([, given]) => given).sort() };
}

export interface PlanCleanupInput extends RequestControl {
    client: S3Client;
    bucket: string;
    app: string;
    environment?: string;
    keep: number;
    days: number;
    deployedKeys?: string[];
    fileName?: string;
    now?: Date;
    onProgress?: (progress: ListingProgress) => void;
    /** Keys per ListObjectsV2 request; default and maximum 1,000. */
    pageSize?: number;
    /** The --endpoint of an S3-compatible server, so its URLs are understood as deployed keys. */
    endpoint?: string;
}

/**
 * Lists the app's (or one environment's) artifacts and decides; deletes nothing. Every deployed
 * key is read before the first request (an unreadable one, or one of another bucket, is refused),
 * and after the listing every one must match a build: otherwise UnmatchedDeployedKeyError.
 */
export async function planCleanup(input: PlanCleanupInput): Promise<CleanupPlan> {
    const bucket = checkBucketName(input.bucket);
    const app = checkApp(input.app);
    const environment = input.environment === undefined ? undefined : checkEnvironment(input.environment);
    if (environment !== undefined) legacyArtifactKey(app, environment, input.fileName ?? defaultArtifactFileName(app));
    const { keep, days } = checkCleanupRules(input.keep, input.days);
    const deployedKeys = input.deployedKeys ?? [];
    for (const key of deployedKeys) {
        if (typeof key !== "string" || key.trim() === "") throw new ArtifactArgumentError(`deployed keys must be non-empty object keys (got ${JSON.stringify(key)}).`);
        deployedArtifactId(bucket, key, input.endpoint);
    }
    const rules: CleanupRules = { keep, days, deployedKeys, now: input.now ?? new Date() };
    const listing = await listArtifacts({ client: input.client, bucket, app, environment, fileName: input.fileName, onProgress: input.onProgress, pageSize: input.pageSize, retry: input.retry, signal: input.signal });
    const { decisions, unmatchedDeployedKeys } = decideCleanup(listing.artifacts, rules, bucket, input.endpoint);
    if (unmatchedDeployedKeys.length > 0) {
        throw new UnmatchedDeployedKeyError(unmatchedDeployedKeys, `s3://${bucket}/${environment === undefined ? `${app}/` : `${app}/${environment}/`}`);
    }
    const deletions = decisions.filter((d) => d.delete).map((d) => d.artifact);
    return {
        bucket,
        app,
        environment,
        rules,
        ...(input.endpoint === undefined ? {} : { endpoint: input.endpoint }),
        decisions,
        deletions,
        keysToDelete: deletions.flatMap((a) => a.objects.map((o) => o.key)),
        bytesToReclaim: deletions.reduce((sum, a) => sum + a.bytes, 0),
        strayObjects: listing.strays.length,
        unmatchedDeployedKeys,
        listRequests: listing.listRequests,
        listedObjects: listing.objects,
    };
}

export interface CleanupResult {
    dryRun: boolean;
    deletedObjects: number;
    deletedArtifacts: number;
    bytesReclaimed: number;
    deleteRequests: number;
}

export class CleanupError extends Error {
    constructor(
        message: string,
        public readonly failures: Array<{ key: string; code?: string; message?: string }>,
        public readonly partial: CleanupResult,
        cause?: unknown,
    ) {
        super(message, cause === undefined ? undefined : { cause });
        this.name = "CleanupError";
    }
}

/** Per-key DeleteObjects errors worth another round. */
const TRANSIENT_DELETE_CODES = new Set(["InternalError", "SlowDown", "ServiceUnavailable", "OperationAborted"]);

export interface RunCleanupInput extends RequestControl {
    client: S3Client;
    plan: CleanupPlan;
    dryRun?: boolean;
    onProgress?: (deleted: number, total: number) => void;
    /** Keys per DeleteObjects request; default and maximum 1,000. */
    batchSize?: number;
}

/**
 * Deletes the plan's objects in DeleteObjects batches of 1,000. In a versioned bucket each delete
 * leaves a delete marker and the bytes go when the noncurrent-version lifecycle rule expires them,
 * so a mistaken cleanup can be undone until then. A dry run sends nothing.
 */
export async function runCleanup(input: RunCleanupInput): Promise<CleanupResult> {
    const { plan } = input;
    const batchSize = input.batchSize ?? DELETE_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > DELETE_BATCH_SIZE) {
        throw new ArtifactArgumentError(`batchSize must be a whole number from 1 to 1000 (DeleteObjects' limit; got ${JSON.stringify(input.batchSize)}).`);
    }
    const deployed = plan.rules.deployedKeys.map((k) => deployedArtifactId(plan.bucket, k, plan.endpoint));
    const protectedKey = plan.keysToDelete.find((k) => deployed.some((id) => k === id || (id.endsWith("/") && k.startsWith(id))));
    if (protectedKey !== undefined) {
        throw new ArtifactArgumentError(`refusing to run a cleanup plan that deletes the deployed ${protectedKey}; plan again.`);
    }
    const result: CleanupResult = { dryRun: input.dryRun === true, deletedObjects: 0, deletedArtifacts: 0, bytesReclaimed: 0, deleteRequests: 0 };
    if (input.dryRun) return result;

    const failures: Array<{ key: string; code?: string; message?: string }> = [];
    const policy = input.retry ?? ARTIFACT_RETRY_POLICY;
    for (let i = 0; i < plan.keysToDelete.length; i += batchSize) {
        const batch = plan.keysToDelete.slice(i, i + batchSize);
        // Keys S3 answered with a transient per-key error (InternalError, SlowDown) are sent again,
        // in the same bounded number of rounds as a whole request gets attempts.
        let pending = batch;
        for (let round = 1; pending.length > 0; round++) {
            let response: DeleteObjectsCommandOutput;
            const keys = pending;
            try {
                response = await artifactRequest(
                    ({ signal }) => input.client.send(new DeleteObjectsCommand({ Bucket: plan.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: signal }),
                    { policy, signal: input.signal, what: `DeleteObjects s3://${plan.bucket} (${keys.length} keys)` },
                );
            } catch (err) {
                // The whole request failed (denied, or S3 unreachable past the retry bound): say how far the cleanup got.
                const failedSoFar = new Set([...failures.map((f) => f.key), ...keys]);
                const deletedKeys = new Set(plan.keysToDelete.slice(0, i + batch.length).filter((k) => !failedSoFar.has(k)));
                result.deletedObjects = deletedKeys.size;
                countWholeArtifacts(plan, deletedKeys, result);
                const e = err as Error;
                throw new CleanupError(
                    `DeleteObjects failed after ${result.deletedObjects} of ${plan.keysToDelete.length} objects were deleted (${result.deletedArtifacts} whole artifacts); ` +
                        `the remaining ${plan.keysToDelete.length - result.deletedObjects - failures.length} were not deleted: ${describeFailure(e)}. Plan again and rerun.`,
                    [...failures, ...keys.map((key) => ({ key, code: e.name, message: e.message }))],
                    result,
                    err,
                );
            }
            result.deleteRequests += 1;
            const errors = response.Errors ?? [];
            const again: string[] = [];
            for (const e of errors) {
                if (round < policy.maxAttempts && e.Key !== undefined && TRANSIENT_DELETE_CODES.has(e.Code ?? "")) again.push(e.Key);
                else failures.push({ key: e.Key ?? "?", code: e.Code, message: e.Message });
            }
            result.deletedObjects += keys.length - errors.length;
            input.onProgress?.(result.deletedObjects, plan.keysToDelete.length);
            pending = again;
            if (pending.length > 0) await sleep(backoffDelayMs(policy, round), input.signal);
        }
    }
    const failed = new Set(failures.map((f) => f.key));
    countWholeArtifacts(plan, new Set(plan.keysToDelete.filter((k) => !failed.has(k))), result);
    if (failures.length > 0) {
        const shown = failures.slice(0, 10).map((f) => `${f.key}: ${f.code ?? "error"} ${f.message ?? ""}`.trim());
        throw new CleanupError(`${failures.length} of ${plan.keysToDelete.length} deletions failed:\n  ${shown.join("\n  ")}${failures.length > 10 ? "\n  ..." : ""}`, failures, result);
    }
    return result;
}

/** Adds the artifacts whose every object is in `deletedKeys` to the result's artifact and byte counts. */
function countWholeArtifacts(plan: CleanupPlan, deletedKeys: Set<string>, result: CleanupResult): void {
    for (const artifact of plan.deletions) {
        if (artifact.objects.every((o) => deletedKeys.has(o.key))) {
            result.deletedArtifacts += 1;
            result.bytesReclaimed += artifact.bytes;
        }
    }
}

/** What `pulumi stack output --json` of this project says about artifacts (index.ts exports these). */
export interface ArtifactStackOutputs {
    /** `artifactKey`: the object the stack deploys. */
    keys: string[];
    /** `artifactBucketName`, when present. */
    bucket?: string;
    /** `artifactCleanupPolicy.keep` / `.days`, when present and whole numbers. */
    keep?: number;
    days?: number;
}

/**
 * Reads the artifact outputs of `pulumi stack output --json`. Only `artifactKey` counts as
 * deployed: a file without it (another project's outputs, an empty stack, a secret that was not
 * shown) cannot protect anything and is refused, as is a malformed cleanup policy. Messages name
 * the output, never quote its value beyond a key.
 */
export function artifactStackOutputs(outputs: unknown, field = "stack outputs"): ArtifactStackOutputs {
    if (outputs === null || typeof outputs !== "object" || Array.isArray(outputs)) {
        throw new ArtifactArgumentError(`${field} must be the JSON object "pulumi stack output --json" prints.`);
    }
    const o = outputs as Record<string, unknown>;
    const rawKey = o.artifactKey;
    const keyList = Array.isArray(rawKey) ? rawKey : [rawKey];
    if (rawKey === undefined) {
        throw new ArtifactArgumentError(`${field} has no artifactKey output, so it names nothing that is deployed; save "pulumi stack output --json" of this project's stack.`);
    }
    if (keyList.length === 0 || keyList.some((k) => typeof k !== "string" || k.trim() === "")) {
        throw new ArtifactArgumentError(`${field}: artifactKey must be an object key (a non-empty string).`);
    }
    if (keyList.some((k) => k === "[secret]")) {
        throw new ArtifactArgumentError(`${field}: artifactKey is shown as [secret]; run "pulumi stack output --json --show-secrets" so the key can be read.`);
    }
    let bucket: string | undefined;
    if (o.artifactBucketName !== undefined) {
        if (typeof o.artifactBucketName !== "string") throw new ArtifactArgumentError(`${field}: artifactBucketName must be a bucket name.`);
        bucket = checkBucketName(o.artifactBucketName, `${field}: artifactBucketName`);
    }
    let keep: number | undefined;
    let days: number | undefined;
    if (o.artifactCleanupPolicy !== undefined) {
        const policy = o.artifactCleanupPolicy as { keep?: unknown; days?: unknown } | null;
        const whole = (name: "keep" | "days"): number | undefined => {
            const v = policy?.[name];
            if (v === undefined) return undefined;
            if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new ArtifactArgumentError(`${field}: artifactCleanupPolicy.${name} must be a whole number, 0 or more.`);
            return v;
        };
        if (policy === null || typeof policy !== "object") throw new ArtifactArgumentError(`${field}: artifactCleanupPolicy must be an object {keep, days}.`);
        keep = whole("keep");
        days = whole("days");
    }
    return { keys: keyList as string[], bucket, keep, days };
}
