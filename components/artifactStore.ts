import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { grant, objectArn, PolicyStatement } from "./iam";
import { PrivateBucket } from "./privateBucket";
import { checkApp, checkEnvironment, environmentPrefix } from "../runtime/artifacts/keys";

export interface ArtifactStoreArgs {
    /** Days a noncurrent object version (left by a cleanup delete) is kept before S3 expires it. */
    noncurrentVersionDays: number;
    tags?: Record<string, string>;
}

/**
 * The deployment artifacts bucket of seed 003: private (every public-access block on, ACLs
 * disabled), encrypted at rest (SSE-S3), reachable over TLS only, versioned so that a delete (by
 * cleanup or by mistake) leaves a recoverable noncurrent version until the lifecycle rule expires
 * it. Access is handed out per `{app}/{environment}/` prefix through the grant methods.
 */
export class ArtifactStore extends pulumi.ComponentResource {
    public readonly bucketName: pulumi.Output<string>;
    public readonly bucketArn: pulumi.Output<string>;
    /** The bucket resource, for a VersionedArtifact to upload into. */
    public readonly bucket: aws.s3.Bucket;
    /**
     * Settings an upload must wait for: versioning (so every object gets a version id that readers
     * can pin), default encryption and the public access block.
     */
    public readonly uploadPrerequisites: pulumi.Resource[];
    private readonly name: string;
    private readonly grantNames = new Set<string>();

    constructor(name: string, args: ArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:artifacts:ArtifactStore", name, {}, opts);
        if (!Number.isInteger(args.noncurrentVersionDays) || args.noncurrentVersionDays < 1) {
            throw new Error(`ArtifactStore ${name}: noncurrentVersionDays must be a whole number of days, at least 1 (got ${JSON.stringify(args.noncurrentVersionDays)}).`);
        }
        this.name = name;
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
        this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
    }

    private prefixOf(method: string, app: string, environment: string): string {
        try {
            return environmentPrefix(checkApp(app), checkEnvironment(environment));
        } catch (err) {
            throw new Error(`ArtifactStore ${this.name}.${method}: ${(err as Error).message}`);
        }
    }

    private addGrant(method: string, kind: string, role: aws.iam.Role, app: string, environment: string, name: string | undefined, statements: (prefix: string) => PolicyStatement[]): aws.iam.RolePolicy {
        const prefix = this.prefixOf(method, app, environment);
        const policyName = name ?? `${this.name}-${kind}-${app}-${environment}`;
        if (this.grantNames.has(policyName)) {
            throw new Error(`ArtifactStore ${this.name}.${method}: a grant named ${policyName} already exists; pass a distinct name as the last argument when granting the same prefix to a second role.`);
        }
        this.grantNames.add(policyName);
        return grant(policyName, role, statements(prefix), { parent: this });
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
