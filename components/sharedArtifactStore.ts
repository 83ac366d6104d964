import * as pulumi from "@pulumi/pulumi";
import { ArtifactBucketComponent, ArtifactGrants } from "./artifactStore";
import { S3_BUCKET_ARN, S3_BUCKET_NAME } from "../runtime/s3Names";

export interface SharedArtifactStoreArgs {
    /** Name of the bucket another stack's `ArtifactStore` created (its `artifactBucketName` output). */
    bucketName: pulumi.Input<string>;
    /** ARN of that bucket (its `artifactBucketArn` output). */
    bucketArn: pulumi.Input<string>;
}


/**
 * The artifacts bucket of another stack (a review stack uses staging's), as an `ArtifactBucket`:
 * artifacts upload into it and roles get the same per-prefix grants as from `ArtifactStore`, but
 * this stack creates no bucket and no bucket settings, so destroying it can never touch the bucket
 * or another environment's builds. Values known while the program runs are checked first.
 */
export class SharedArtifactStore extends ArtifactBucketComponent {
    public readonly bucketName: pulumi.Output<string>;
    public readonly bucketArn: pulumi.Output<string>;
    /** The owning stack applied versioning, encryption and the public access block long before. */
    public readonly uploadPrerequisites: pulumi.Resource[] = [];
    protected readonly grants: ArtifactGrants;

    constructor(name: string, args: SharedArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:artifacts:SharedArtifactStore", name, {}, opts);
        const fail = (message: string): never => {
            throw new Error(`SharedArtifactStore ${name}: ${message}`);
        };
        // A StackReference output is known at run time; a wrong one must stop the update, not upload into the wrong bucket.
        this.bucketName = pulumi.output(args.bucketName).apply((bucket) => {
            if (typeof bucket !== "string" || !S3_BUCKET_NAME.test(bucket)) fail(`bucketName must be an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens; got ${JSON.stringify(bucket)}).`);
            return bucket;
        });
        this.bucketArn = pulumi.all([args.bucketArn, this.bucketName]).apply(([arn, bucket]) => {
            const m = typeof arn === "string" ? S3_BUCKET_ARN.exec(arn) : null;
            if (!m) fail(`bucketArn must be an S3 bucket ARN like arn:aws:s3:::${bucket} (got ${JSON.stringify(arn)}).`);
            if (m![1] !== bucket) fail(`bucketArn ${arn} names the bucket ${m![1]}, but bucketName is ${bucket}; both must come from the same stack's outputs.`);
            return arn;
        });
        this.grants = new ArtifactGrants("SharedArtifactStore", name, this.bucketArn, this);
        this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
    }
}
