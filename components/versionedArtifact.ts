import * as fs from "fs";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ArtifactBucket } from "./artifactStore";
import { artifactMetadata, BuildField, BuildFieldLabels, CONFIG_LABELS, METADATA, resolveBuildInfo, ResolvedBuildInfo } from "../runtime/artifacts/buildInfo";
import { digestFileSync } from "../runtime/artifacts/checksum";
import { artifactKey, artifactVersion, checkApp, checkEnvironment, checkFileName, defaultArtifactFileName } from "../runtime/artifacts/keys";

export interface VersionedArtifactArgs {
    /** The bucket: this stack's `ArtifactStore`, or another stack's through `SharedArtifactStore`. */
    store: ArtifactBucket;
    app: string;
    environment: string;
    /** The tarball to upload (absolute, or relative to the working directory). */
    filePath: string;
    /** Name under the version prefix; default `{app}-deployment.tar.gz` (seed 003). */
    fileName?: string;
    /** Explicit build facts (the stack's preview* config); "" means "not set: use CI, then git". */
    build: Partial<Record<BuildField, string>>;
    /** How `build`'s fields are named in errors; default the jobfleet:preview* config keys. */
    buildLabels?: BuildFieldLabels;
    /** The CI environment to read GITHUB_SHA, JOBFLEET_BUILD_TIME, ... from; default process.env. */
    ciEnvironment?: Record<string, string | undefined>;
    /** Let a committed, unmodified file's last commit stand in for commit and build time (default true). */
    allowGitFallback?: boolean;
}

export class ArtifactContentConflictError extends Error {
    constructor(key: string, stored: string, local: string, filePath: string) {
        super(
            `Artifact key ${key} already holds content with sha256 ${stored}, but ${filePath} now has sha256 ${local}. ` +
                `Artifacts are never overwritten: give the new build a new build time (jobfleet:previewBuildTime or JOBFLEET_BUILD_TIME) or commit.`,
        );
        this.name = "ArtifactContentConflictError";
    }
}

/** Throws when the object already stored under the key (kept by ignoreChanges) is not the local file. */
export function assertSameContent(key: string, storedMetadata: Record<string, string> | undefined, localSha256: string, filePath: string): string {
    const stored = storedMetadata?.[METADATA.sha256];
    if (stored !== undefined && stored !== localSha256) throw new ArtifactContentConflictError(key, stored, localSha256, filePath);
    return localSha256;
}

/**
 * One build of a deployment tarball as an S3 object at
 * `{app}/{environment}/{sha8}-{YYYYMMDD-HHMMSS}/{file}`, with seed 003's metadata, S3's SHA-256
 * checksum and our `sha256` metadata entry (what instances and `verify` compare).
 *
 * Never overwritten, by construction:
 * - the key comes from the commit and a build time fixed for the build (config or CI, or the
 *   file's last commit in git), never from the clock, so a preview and its update agree;
 * - the Pulumi resource is named after the key's version: a new build is a new resource (create),
 *   never an in-place update, and the replaced one is retained in S3 for rollback until cleanup;
 * - `ignoreChanges` on the content means Pulumi never re-uploads under an existing key; if the
 *   local file differs from what the key holds, the program fails with a message instead.
 */
export class VersionedArtifact extends pulumi.ComponentResource {
    public readonly bucket: pulumi.Output<string>;
    public readonly key: pulumi.Output<string>;
    /** SHA-256 of the content, lower-case hex (as `sha256sum` prints it). */
    public readonly checksum: pulumi.Output<string>;
    /** S3 version id of the uploaded object; readers that pin it can never get other bytes. */
    public readonly versionId: pulumi.Output<string>;
    /** Known while the program runs (no S3 round trip needed). */
    public readonly keyValue: string;
    public readonly sizeBytes: number;
    public readonly sha256Hex: string;
    public readonly buildInfo: ResolvedBuildInfo;
    public readonly object: aws.s3.BucketObjectv2;

    constructor(name: string, args: VersionedArtifactArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:artifacts:VersionedArtifact", name, {}, opts);
        const fail = (message: string): never => {
            throw new Error(`VersionedArtifact ${name}: ${message}`);
        };
        let app = "";
        let environment = "";
        let fileName = "";
        try {
            app = checkApp(args.app);
            environment = checkEnvironment(args.environment);
            fileName = checkFileName(args.fileName ?? defaultArtifactFileName(app));
        } catch (err) {
            fail((err as Error).message);
        }
        let stat: fs.Stats | undefined;
        try {
            stat = fs.statSync(args.filePath);
        } catch {
            fail(`filePath ${JSON.stringify(args.filePath)} does not exist; build the deployment tarball first (the sample: npx ts-node --transpile-only scripts/make-sample-artifact.ts), or point jobfleet:previewArtifactPath at it.`);
        }
        if (!stat!.isFile() || stat!.size === 0) fail(`filePath ${JSON.stringify(args.filePath)} must be a non-empty file.`);

        let build: ResolvedBuildInfo | undefined;
        try {
            build = resolveBuildInfo({
                explicit: args.build,
                labels: args.buildLabels ?? CONFIG_LABELS,
                env: args.ciEnvironment ?? process.env,
                environment,
                gitFallback: args.allowGitFallback === false ? undefined : { artifactPath: args.filePath },
            });
        } catch (err) {
            fail((err as Error).message);
        }
        this.buildInfo = build!;
        const digest = digestFileSync(args.filePath);
        this.sizeBytes = digest.size;
        this.sha256Hex = digest.sha256Hex;
        this.keyValue = artifactKey({ app, environment, commitSha: build!.commitSha, buildTime: build!.buildTime, fileName });

        this.object = new aws.s3.BucketObjectv2(
            `${name}-${artifactVersion(build!.commitSha, build!.buildTime)}`,
            {
                bucket: args.store.bucketName,
                key: this.keyValue,
                source: new pulumi.asset.FileAsset(args.filePath),
                contentType: /\.(tar\.gz|tgz)$/.test(fileName) ? "application/gzip" : "application/octet-stream",
                checksumAlgorithm: "SHA256",
                metadata: artifactMetadata(build!, digest.sha256Hex),
            },
            { parent: this, dependsOn: args.store.uploadPrerequisites, retainOnDelete: true, ignoreChanges: ["source", "metadata", "contentType", "checksumAlgorithm"] },
        );

        this.bucket = this.object.bucket;
        this.key = this.object.key;
        this.versionId = this.object.versionId;
        this.checksum = this.object.metadata.apply((stored) => assertSameContent(this.keyValue, stored, digest.sha256Hex, args.filePath));
        this.registerOutputs({ bucket: this.bucket, key: this.key, checksum: this.checksum, versionId: this.versionId });
    }
}
