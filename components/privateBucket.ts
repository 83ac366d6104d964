import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { objectArn } from "./iam";

/** The settings resources a PrivateBucket creates beside its bucket. */
export type PrivateBucketChild = "publicAccessBlock" | "ownershipControls" | "encryption" | "versioning" | "lifecycle" | "policy";

const CHILD_SUFFIXES: Record<PrivateBucketChild, string> = {
    publicAccessBlock: "public-access",
    ownershipControls: "ownership",
    encryption: "encryption",
    versioning: "versioning",
    lifecycle: "lifecycle",
    policy: "tls-only",
};

export interface PrivateBucketArgs {
    /** Turn on S3 versioning (a delete then leaves a recoverable noncurrent version). Default false. */
    versioned?: boolean;
    /** Lifecycle rules; none means no lifecycle configuration. Rules on noncurrent versions need `versioned: true`. */
    lifecycleRules?: aws.types.input.s3.BucketLifecycleConfigurationRule[];
    /** Let `pulumi destroy` delete a bucket that still holds objects. Default false. */
    forceDestroy?: boolean;
    /** Tags of the bucket. */
    tags?: Record<string, string>;
    /**
     * Logical names of the settings resources. "suffixed" (the default): the component's name and a
     * suffix per kind (-public-access, -ownership, -encryption, -versioning, -lifecycle, -tls-only).
     * "bucket-name": each one is named like the bucket (their types differ, so their URNs do too).
     * A record names single kinds and leaves the rest suffixed. This exists so that buckets built
     * before PrivateBucket keep the names their stacks already hold.
     */
    childNames?: "suffixed" | "bucket-name" | Partial<Record<PrivateBucketChild, string>>;
    /**
     * The component that created the bucket and its settings directly, before they moved into a
     * PrivateBucket. Every child then carries an alias with movedFrom's URN as parent, so a stack deployed
     * before the move keeps (updates in place) the bucket instead of replacing it. New buckets leave it unset.
     */
    movedFrom?: pulumi.Resource;
}

/** Whole-bucket rule: parts of a multipart upload that never completed are removed after a day. */
export const ABORT_INCOMPLETE_UPLOADS_RULE: aws.types.input.s3.BucketLifecycleConfigurationRule = {
    id: "abort-incomplete-uploads",
    status: "Enabled",
    filter: { prefix: "" },
    abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
};

/** Everything wrong with the arguments, each naming the argument, the value and what was expected; empty when they are fine. */
export function privateBucketArgsProblems(name: string, args: PrivateBucketArgs): string[] {
    const problems: string[] = [];
    const say = (text: string) => problems.push(`PrivateBucket ${JSON.stringify(name)}: ${text}`);
    // Pulumi names the bucket `${name}-` and 7 random characters; S3 allows 3 to 63 lower-case letters, digits, hyphens and dots.
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,54}$/.test(name)) {
        say("the name must be 1 to 55 lower-case letters, digits or hyphens, starting with a letter or digit (the bucket is named after it plus an 8-character suffix, and S3 bucket names are lower-case and at most 63 characters).");
    }
    for (const key of ["versioned", "forceDestroy"] as const) {
        if (args[key] !== undefined && typeof args[key] !== "boolean") say(`${key} is ${JSON.stringify(args[key])}; expected true or false.`);
    }
    if (args.tags !== undefined) {
        if (args.tags === null || typeof args.tags !== "object" || Array.isArray(args.tags)) {
            say(`tags is ${JSON.stringify(args.tags)}; expected an object of string values.`);
        } else {
            for (const [key, value] of Object.entries(args.tags)) {
                if (typeof value !== "string") say(`tags.${key} is ${JSON.stringify(value)}; expected a string.`);
            }
        }
    }
    if (args.lifecycleRules !== undefined) {
        if (!Array.isArray(args.lifecycleRules) || args.lifecycleRules.length === 0) {
            say(`lifecycleRules is ${JSON.stringify(args.lifecycleRules)}; expected at least one rule, or leave it out for no lifecycle configuration.`);
        } else {
            const ids = new Set<string>();
            args.lifecycleRules.forEach((rule, i) => {
                const where = `lifecycleRules[${i}]`;
                if (typeof rule.id !== "string" || rule.id === "") {
                    if (!pulumi.Output.isInstance(rule.id)) say(`${where}.id is ${JSON.stringify(rule.id)}; expected a non-empty string.`);
                } else if (ids.has(rule.id)) {
                    say(`${where}.id ${JSON.stringify(rule.id)} is used by an earlier rule; S3 needs each rule id once.`);
                } else {
                    ids.add(rule.id);
                }
                if (typeof rule.status === "string" && rule.status !== "Enabled" && rule.status !== "Disabled") {
                    say(`${where}.status is ${JSON.stringify(rule.status)}; expected "Enabled" or "Disabled".`);
                }
                const actions = [rule.expiration, rule.noncurrentVersionExpiration, rule.abortIncompleteMultipartUpload, rule.transitions, rule.noncurrentVersionTransitions];
                if (actions.every((a) => a === undefined)) {
                    say(`${where} has no action; expected expiration, noncurrentVersionExpiration, abortIncompleteMultipartUpload or a transition.`);
                }
                if ((args.versioned === undefined || args.versioned === false) && (rule.noncurrentVersionExpiration !== undefined || rule.noncurrentVersionTransitions !== undefined)) {
                    say(`${where} acts on noncurrent versions, but versioned is ${JSON.stringify(args.versioned)}; set versioned: true or drop the noncurrent-version action.`);
                }
            });
        }
    }
    const names = args.childNames;
    if (names !== undefined && names !== "suffixed" && names !== "bucket-name") {
        if (names === null || typeof names !== "object" || Array.isArray(names)) {
            say(`childNames is ${JSON.stringify(names)}; expected "suffixed", "bucket-name" or an object naming some of ${Object.keys(CHILD_SUFFIXES).join(", ")}.`);
        } else {
            for (const [kind, childName] of Object.entries(names)) {
                if (!(kind in CHILD_SUFFIXES)) say(`childNames.${kind} is not a child of a PrivateBucket; expected one of ${Object.keys(CHILD_SUFFIXES).join(", ")}.`);
                else if (typeof childName !== "string" || childName === "") say(`childNames.${kind} is ${JSON.stringify(childName)}; expected a non-empty string.`);
            }
        }
    }
    if (args.movedFrom !== undefined && !pulumi.Resource.isInstance(args.movedFrom)) {
        say("movedFrom is not a Pulumi resource; expected the component that created these resources before (usually `this`).");
    }
    return problems;
}

/**
 * An S3 bucket for job data and artifacts: every public-access block on, ACLs disabled (bucket
 * owner enforced), default encryption SSE-S3 with a bucket key, and a bucket policy that denies
 * every request not made over TLS, on the bucket and its objects. The policy waits for the public
 * access block (S3 can refuse a policy put while the block is being applied); lifecycle rules wait
 * for versioning when the bucket has both. Access is granted by the owning component, per prefix.
 */
export class PrivateBucket extends pulumi.ComponentResource {
    public readonly bucket: aws.s3.Bucket;
    public readonly bucketName: pulumi.Output<string>;
    public readonly arn: pulumi.Output<string>;
    public readonly publicAccessBlock: aws.s3.BucketPublicAccessBlock;
    public readonly ownershipControls: aws.s3.BucketOwnershipControls;
    public readonly encryption: aws.s3.BucketServerSideEncryptionConfiguration;
    /** Present when `versioned` is true. */
    public readonly versioning?: aws.s3.BucketVersioning;
    /** Present when lifecycle rules were given. */
    public readonly lifecycle?: aws.s3.BucketLifecycleConfiguration;
    /** The TLS-only bucket policy. */
    public readonly policy: aws.s3.BucketPolicy;

    constructor(name: string, args: PrivateBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:storage:PrivateBucket", name, {}, opts);
        const problems = privateBucketArgsProblems(name, args);
        if (problems.length > 0) throw new Error(problems.join("\n"));

        const childName = (kind: PrivateBucketChild): string => {
            const names = args.childNames ?? "suffixed";
            if (names === "bucket-name") return name;
            if (names !== "suffixed" && names[kind] !== undefined) return names[kind]!;
            return `${name}-${CHILD_SUFFIXES[kind]}`;
        };
        const childOpts = (extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions => ({
            ...extra,
            parent: this,
            // By URN: the same alias spec on the wire as `{ parent: movedFrom }`, which makes the SDK
            // walk the whole resource object graph of movedFrom twice per child (containsUnknowns).
            ...(args.movedFrom ? { aliases: [{ parent: args.movedFrom.urn }] } : {}),
        });

        const bucket = new aws.s3.Bucket(name, { forceDestroy: args.forceDestroy ?? false, tags: args.tags ?? {} }, childOpts());
        this.publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            childName("publicAccessBlock"),
            { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            childOpts(),
        );
        this.ownershipControls = new aws.s3.BucketOwnershipControls(childName("ownershipControls"), { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, childOpts());
        // SSE-S3 rather than a KMS key: presigned URLs and grants then work with S3 permissions alone.
        this.encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
            childName("encryption"),
            { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
            childOpts(),
        );
        if (args.versioned) {
            this.versioning = new aws.s3.BucketVersioning(childName("versioning"), { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, childOpts());
        }
        if (args.lifecycleRules) {
            this.lifecycle = new aws.s3.BucketLifecycleConfiguration(
                childName("lifecycle"),
                { bucket: bucket.id, rules: args.lifecycleRules },
                // Rules on noncurrent versions need versioning to exist first.
                childOpts(this.versioning ? { dependsOn: [this.versioning] } : {}),
            );
        }
        this.policy = new aws.s3.BucketPolicy(
            childName("policy"),
            {
                bucket: bucket.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            Action: "s3:*",
                            Resource: [bucket.arn, objectArn(bucket.arn, "*")],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                    ],
                }),
            },
            // S3 can refuse a bucket policy while the public access block is still being applied.
            childOpts({ dependsOn: [this.publicAccessBlock] }),
        );

        this.bucket = bucket;
        this.bucketName = bucket.bucket;
        this.arn = bucket.arn;
        this.registerOutputs({ bucketName: this.bucketName, arn: this.arn });
    }

    /** ARN of every object matching a key pattern (such as `logs/*`) in this bucket. */
    objectArn(keyPattern: string): pulumi.Output<string> {
        return objectArn(this.arn, keyPattern);
    }
}
