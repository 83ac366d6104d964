import { S3Client } from "@aws-sdk/client-s3";
import { CleanupDecision, CleanupPlan, deployedArtifactId } from "./cleanup";
import { ArtifactArgumentError, checkApp, environmentForPullRequest, environmentPrefix, parseArtifactKey } from "./keys";
import { listArtifacts, ListingProgress, newestFirst, StoredArtifact } from "./listing";
import { checkBucketName } from "./publish";

/**
 * The artifacts of one pull request (seed 003: `express-api/pr-<n>/...`) over its life: after each
 * deployment only its newest builds stay (`--pr 51 --keep 3`, the deployed one always), and when
 * the pull request closes every build of it goes. Both plans list exactly `{app}/pr-<n>/` (with the
 * trailing slash, so pull request 5 never matches 51's keys) and run with `runCleanup`, which
 * checks the plan against its deployed keys once more before it deletes anything.
 */

export interface PullRequestArtifactsInput {
    client: S3Client;
    bucket: string;
    app: string;
    prNumber: number | string;
    /** The artifact file name, used to recognise the pull request's legacy key. */
    fileName?: string;
    now?: Date;
    onProgress?: (progress: ListingProgress) => void;
    pageSize?: number;
}

export interface PullRequestRetentionInput extends PullRequestArtifactsInput {
    /** Builds of the pull request kept, counting the incoming one (seed 003: 3). */
    keep: number;
    /** What the review stack runs now (its `artifactKey` output): never deleted. */
    deployedKeys: string[];
    /**
     * The build this deployment is about to deploy, when it is not uploaded yet (the program uploads
     * it in `pulumi up`): it takes one of the `keep` places and is protected like a deployed key.
     */
    incomingKey?: string;
}

function prefixOf(input: PullRequestArtifactsInput): { app: string; environment: string; prefix: string; bucket: string } {
    const bucket = checkBucketName(input.bucket);
    const app = checkApp(input.app);
    const environment = environmentForPullRequest(input.prNumber);
    return { bucket, app, environment, prefix: environmentPrefix(app, environment) };
}

/** A deployed or incoming key must be a build of this pull request: another one's key would protect nothing here and hint at a mix-up. */
function checkOwnKey(bucket: string, key: unknown, prefix: string, what: string): string {
    if (typeof key !== "string" || key.trim() === "") throw new ArtifactArgumentError(`${what} must be a non-empty object key (got ${JSON.stringify(key)}).`);
    const id = deployedArtifactId(bucket, key);
    if (!id.startsWith(prefix)) throw new ArtifactArgumentError(`${what} ${key} is not a build of this pull request (its keys start with ${prefix}); refusing to plan with it.`);
    return key.trim();
}

function finish(base: { bucket: string; app: string; environment: string; prefix: string }, rules: CleanupPlan["rules"], decisions: CleanupDecision[], unmatched: string[], listing: Awaited<ReturnType<typeof listArtifacts>>): CleanupPlan {
    const deletions = decisions.filter((d) => d.delete).map((d) => d.artifact);
    const keysToDelete = deletions.flatMap((a) => a.objects.map((o) => o.key));
    const outside = keysToDelete.find((k) => !k.startsWith(base.prefix));
    if (outside !== undefined) throw new Error(`internal error: a pull request plan for ${base.prefix} names ${outside}; nothing was deleted.`);
    return {
        bucket: base.bucket,
        app: base.app,
        environment: base.environment,
        rules,
        decisions,
        deletions,
        keysToDelete,
        bytesToReclaim: deletions.reduce((sum, a) => sum + a.bytes, 0),
        strayObjects: listing.strays.length,
        unmatchedDeployedKeys: unmatched,
        listRequests: listing.listRequests,
        listedObjects: listing.objects,
    };
}

/**
 * After a deployment of the pull request: its newest `keep` builds stay, counting `incomingKey`
 * when it is not in the bucket yet, and every deployed or incoming build stays whatever its age
 * or rank. Nothing outside `{app}/pr-<n>/` is listed, let alone deleted. Deletes nothing itself.
 */
export async function planPullRequestRetention(input: PullRequestRetentionInput): Promise<CleanupPlan> {
    const base = prefixOf(input);
    if (typeof input.keep !== "number" || !Number.isInteger(input.keep) || input.keep < 1) {
        throw new ArtifactArgumentError(`keep must be a whole number of builds, at least 1 (the deployed one; got ${JSON.stringify(input.keep)}).`);
    }
    if (!Array.isArray(input.deployedKeys)) throw new ArtifactArgumentError("deployedKeys must be a list of object keys.");
    const deployedKeys = input.deployedKeys.map((k) => checkOwnKey(base.bucket, k, base.prefix, "deployed key"));
    let incoming: string | undefined;
    if (input.incomingKey !== undefined) {
        incoming = checkOwnKey(base.bucket, input.incomingKey, base.prefix, "incoming key");
        if (!parseArtifactKey(incoming)) throw new ArtifactArgumentError(`incoming key ${incoming} is not a versioned key {app}/{env}/{sha8}-{YYYYMMDD-HHMMSS}/{file}; a new build always gets one.`);
    }
    const listing = await listArtifacts({ client: input.client, bucket: base.bucket, app: base.app, environment: base.environment, fileName: input.fileName, onProgress: input.onProgress, pageSize: input.pageSize });
    const incomingId = incoming === undefined ? undefined : deployedArtifactId(base.bucket, incoming);
    const incomingStored = incomingId !== undefined && listing.artifacts.some((a) => a.id === incomingId);
    // The incoming build is not listed yet, but it will be the newest: it takes one of the places.
    const keepListed = incoming !== undefined && !incomingStored ? input.keep - 1 : input.keep;
    const protectedKeys = [...deployedKeys, ...(incomingStored && incoming ? [incoming] : [])];
    const rules = { keep: keepListed, days: 0, deployedKeys: protectedKeys, now: input.now ?? new Date() };
    const { decisions, unmatchedDeployedKeys } = decideRetention(listing.artifacts, rules.keep, input.keep, base.environment, protectedKeys, base.bucket);
    return finish(base, rules, decisions, unmatchedDeployedKeys, listing);
}

/**
 * Rank by build time with every versioned build before the legacy key: the legacy key's time is
 * only its upload time (a re-upload would make it look newest), and it predates versioned builds.
 */
function decideRetention(artifacts: StoredArtifact[], keepListed: number, keep: number, environment: string, protectedKeys: string[], bucket: string): { decisions: CleanupDecision[]; unmatchedDeployedKeys: string[] } {
    const protectedBy = new Map<string, string[]>();
    for (const key of protectedKeys) {
        const id = deployedArtifactId(bucket, key);
        protectedBy.set(id, [...(protectedBy.get(id) ?? []), key]);
    }
    const ordered = [...artifacts.filter((a) => !a.legacy).sort(newestFirst), ...artifacts.filter((a) => a.legacy).sort(newestFirst)];
    const taken = keep - keepListed;
    const decisions = ordered.map((artifact, rank): CleanupDecision => {
        const reasons: string[] = [];
        const by = protectedBy.get(artifact.id);
        if (by) reasons.push(`deployed (${by.join(", ")})`);
        if (rank < keepListed) reasons.push(`among the newest ${keep} of ${environment} (#${rank + 1 + taken})`);
        if (reasons.length > 0) return { artifact, delete: false, reasons };
        return { artifact, delete: true, reasons: [`not among the newest ${keep} of ${environment} (#${rank + 1 + taken}${taken > 0 ? ", after the incoming build" : ""})${artifact.legacy ? ", the legacy key ranks after every versioned build" : ""}`, "not deployed"] };
    });
    const listed = new Set(artifacts.map((a) => a.id));
    return { decisions, unmatchedDeployedKeys: [...protectedBy].filter(([id]) => !listed.has(id)).flatMap(([, keys]) => keys).sort() };
}

/**
 * When the pull request closes: every build of it (each `{sha8}-{time}/` prefix and the legacy
 * key) goes; objects under the prefix that are not builds are counted in `strayObjects` and left.
 * Other pull requests, staging and prod live under other prefixes and are never listed.
 */
export async function planPullRequestClose(input: PullRequestArtifactsInput): Promise<CleanupPlan> {
    const base = prefixOf(input);
    const listing = await listArtifacts({ client: input.client, bucket: base.bucket, app: base.app, environment: base.environment, fileName: input.fileName, onProgress: input.onProgress, pageSize: input.pageSize });
    const number = base.environment.slice("pr-".length);
    const decisions: CleanupDecision[] = listing.artifacts.map((artifact) => ({ artifact, delete: true, reasons: [`pull request #${number} is closed: its review stack is destroyed`] }));
    return finish(base, { keep: 0, days: 0, deployedKeys: [], now: input.now ?? new Date() }, decisions, [], listing);
}
