import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { grant, objectArn, PolicyStatement } from "./iam";
import { PrivateBucket } from "./privateBucket";
import { checkApp, checkEnvironment, environmentPrefix } from "../runtime/artifacts/keys";

/**
 * What an artifact's upload and its readers need from the bucket that holds it: the bucket and the
 * grant methods. `ArtifactStore` (the stack owns the bucket) and `SharedArtifactStore` (a bucket
 * another stack owns, read through a StackReference) both provide it.
 */
export interface ArtifactBucket {
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    /** Settings an upload must wait for; empty when another stack owns (and already applied) them. */
    readonly uploadPrerequisites: pulumi.Resource[];
    grantRead(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy;
    grantPublish(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy;
    grantCleanup(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy;
}

/**
 * The per-prefix grants of an artifacts bucket, shared by every `ArtifactBucket`: each grant is an
 * inline policy on the role, a child of the store that hands it out, scoped to `{app}/{environment}/`.
 */
export class ArtifactGrants {
    private readonly grantNames = new Set<string>();

    constructor(
        private readonly storeLabel: string,
        private readonly storeName: string,
        private readonly bucketArn: pulumi.Output<string>,
        private readonly parent: pulumi.Resource,
    ) {}

    private prefixOf(method: string, app: string, environment: string): string {
        try {
            return environmentPrefix(checkApp(app), checkEnvironment(environment));
        } catch (err) {
            throw new Error(`${this.storeLabel} ${this.storeName}.${method}: ${(err as Error).message}`);
        }
    }

    private addGrant(method: string, kind: string, role: aws.iam.Role, app: string, environment: string, name: string | undefined, statements: (prefix: string) => PolicyStatement[]): aws.iam.RolePolicy {
        const prefix = this.prefixOf(method, app, environment);
        const policyName = name ?? `${this.storeName}-${kind}-${app}-${environment}`;
        if (this.grantNames.has(policyName)) {
            throw new Error(`${this.storeLabel} ${this.storeName}.${method}: a grant named ${policyName} already exists; pass a distinct name as the last argument when granting the same prefix to a second role.`);
        }
        this.grantNames.add(policyName);
        return grant(policyName, role, statements(prefix), { parent: this.parent });
    }

    /**
     * Lets a role read the artifacts of one app and environment: GetObject (and GetObjectVersion,
     * for a reader that pins the version id) on `{app}/{environment}/*`. No ListBucket: a reader
     * that is handed the exact key never needs to list, and without it the role cannot even learn
     * which other builds exist.
     */
    grantRead(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy {
        return this.addGrant("grantRead", "read", role, app, environment, name, (prefix) => [
            { Sid: "ReadArtifacts", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: objectArn(this.bucketArn, `${prefix}*`) },
        ]);
    }

    /**
     * What `npm run artifacts -- publish|verify|resolve` needs for one app and environment:
     * PutObject and GetObject under the prefix, and ListBucket restricted to that prefix with an
     * `s3:prefix` condition (resolve lists the environment to find the newest build).
     */
    grantPublish(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy {
        return this.addGrant("grantPublish", "publish", role, app, environment, name, (prefix) => [
            { Sid: "PublishArtifacts", Effect: "Allow", Action: ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"], Resource: objectArn(this.bucketArn, `${prefix}*`) },
            { Sid: "ListEnvironment", Effect: "Allow", Action: "s3:ListBucket", Resource: this.bucketArn, Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}*`] } } },
        ]);
    }

    /** What `npm run artifacts -- cleanup` needs for one app and environment: list the prefix and delete under it. */
    grantCleanup(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy {
        return this.addGrant("grantCleanup", "cleanup", role, app, environment, name, (prefix) => [
            { Sid: "DeleteArtifacts", Effect: "Allow", Action: "s3:DeleteObject", Resource: objectArn(this.bucketArn, `${prefix}*`) },
            { Sid: "ListEnvironment", Effect: "Allow", Action: "s3:ListBucket", Resource: this.bucketArn, Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}*`] } } },
        ]);
    }
}

export interface ArtifactStoreArgs {
    /** Days a noncurrent object version (left by a cleanup delete) is kept before S3 expires it. */
    noncurrentVersionDays: number;
    tags?: Record<string, string>;
}

/**
 * A component that is an `ArtifactBucket`: the grant methods hand out its `ArtifactGrants`, so the
 * store that owns its bucket and the one that shares another stack's grant the same way.
 */
export abstract class ArtifactBucketComponent extends pulumi.ComponentResource implements ArtifactBucket {
    abstract readonly bucketName: pulumi.Output<string>;
    abstract readonly bucketArn: pulumi.Output<string>;
    abstract readonly uploadPrerequisites: pulumi.Resource[];
    protected abstract readonly grants: ArtifactGrants;

    /** See `ArtifactGrants.grantRead`: GetObject and GetObjectVersion on `{app}/{environment}/*`, nothing else. */
    grantRead(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy {
        return this.grants.grantRead(role, app, environment, name);
    }

    /** See `ArtifactGrants.grantPublish`. */
    grantPublish(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy {
        return this.grants.grantPublish(role, app, environment, name);
    }

    /** See `ArtifactGrants.grantCleanup`. */
    grantCleanup(role: aws.iam.Role, app: string, environment: string, name?: string): aws.iam.RolePolicy {
        return this.grants.grantCleanup(role, app, environment, name);
    }
}

/**
 * The deployment artifacts bucket of seed 003: private (every public-access block on, ACLs
 * disabled), encrypted at rest (SSE-S3), reachable over TLS only, versioned so that a delete (by
 * cleanup or by mistake) leaves a recoverable noncurrent version until the lifecycle rule expires
 * it. Access is handed out per `{app}/{environment}/` prefix through the grant methods.
 */
export class ArtifactStore extends ArtifactBucketComponent {
    public readonly bucketName: pulumi.Output<string>;
    public readonly bucketArn: pulumi.Output<string>;
    /** The bucket resource, for a VersionedArtifact to upload into. */
    public readonly bucket: aws.s3.Bucket;
    /**
     * Settings an upload must wait for: versioning (so every object gets a version id that readers
     * can pin), default encryption and the public access block.
     */
    public readonly uploadPrerequisites: pulumi.Resource[];
    protected readonly grants: ArtifactGrants;

    constructor(name: string, args: ArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:artifacts:ArtifactStore", name, {}, opts);
        if (!Number.isInteger(args.noncurrentVersionDays) || args.noncurrentVersionDays < 1) {
            throw new Error(`ArtifactStore ${name}: noncurrentVersionDays must be a whole number of days, at least 1 (got ${JSON.stringify(args.noncurrentVersionDays)}).`);
        }
        const tags = args.tags ?? {};

        const store = new PrivateBucket(
            name,
            {
                // A delete (by cleanup or by mistake) leaves a noncurrent version until the rule below expires it.
                versioned: true,
                lifecycleRules: [
                    {
                        id: "expire-noncurrent-artifact-versions",
                        status: "Enabled",
                        filter: {},
                        noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays },
                        // Once the last noncurrent version is gone, the delete marker left by cleanup is removed too.
                        expiration: { expiredObjectDeleteMarker: true },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
                    },
                ],
                forceDestroy: false,
                tags: { ...tags, Purpose: "deployment-artifacts" },
                childNames: { policy: `${name}-policy` },
                movedFrom: this,
            },
            { parent: this },
        );

        this.bucket = store.bucket;
        this.uploadPrerequisites = [store.versioning!, store.encryption, store.publicAccessBlock];
        this.bucketName = store.bucketName;
        this.bucketArn = store.arn;
        this.grants = new ArtifactGrants("ArtifactStore", name, this.bucketArn, this);
        this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
    }
}
