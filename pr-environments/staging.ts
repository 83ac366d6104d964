import * as pulumi from "@pulumi/pulumi";
import { DELEGATED_IAM_PATH } from "../components/iam";
import { S3_BUCKET_ARN, S3_BUCKET_NAME } from "../runtime/s3Names";

/** The outputs of the jobfleet staging stack a review stack uses (index.ts of the root project exports them). */
export const SHARED_OUTPUT_NAMES = ["environment", "vpcId", "privateSubnetIds", "publicSubnetIds", "artifactBucketName", "artifactBucketArn", "reviewIamPath", "reviewInstanceBoundaryArn"] as const;

export interface SharedStagingOutputs {
    vpcId: pulumi.Output<string>;
    privateSubnetIds: pulumi.Output<string[]>;
    publicSubnetIds: pulumi.Output<string[]>;
    artifactBucketName: pulumi.Output<string>;
    artifactBucketArn: pulumi.Output<string>;
    /** Where this stack may create its instance role: staging's review IAM path and the boundary the role must carry. */
    reviewIamPath: pulumi.Output<string>;
    reviewInstanceBoundaryArn: pulumi.Output<string>;
}

export class SharedStackError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SharedStackError";
    }
}

/**
 * Reads staging's network and artifact bucket through the StackReference and checks each value
 * before anything uses it: a review stack must land in a staging network, never prod's, and a
 * missing output (a staging stack deployed before it exported one) must say which.
 */
export function sharedStagingOutputs(staging: pulumi.StackReference, stackName: string): SharedStagingOutputs {
    const fail = (message: string): never => {
        throw new SharedStackError(`StackReference ${stackName}: ${message}`);
    };
    const environment = staging.requireOutput("environment").apply((value: unknown) => {
        if (value === "prod") fail("is a prod stack (its environment output is prod); review stacks share only a staging network and bucket.");
        if (typeof value !== "string" || value === "") fail(`has no environment output (got ${JSON.stringify(value)}); deploy the jobfleet program to it first.`);
        return value as string;
    });
    const text = (name: string, pattern: RegExp, expected: string) =>
        pulumi.all([environment, staging.requireOutput(name)]).apply(([, value]: [string, unknown]) => {
            if (typeof value !== "string" || !pattern.test(value)) fail(`output ${name} is ${JSON.stringify(value)}; expected ${expected}.`);
            return value as string;
        });
    const subnets = (name: string) =>
        pulumi.all([environment, staging.requireOutput(name)]).apply(([, value]: [string, unknown]) => {
            if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string" && /^subnet-[0-9a-f]+$/.test(v))) {
                fail(`output ${name} is ${JSON.stringify(value)}; expected a non-empty list of subnet ids (subnet-...).`);
            }
            return value as string[];
        });
    return {
        vpcId: text("vpcId", /^vpc-[0-9a-f]+$/, "a VPC id like vpc-0123abcd"),
        privateSubnetIds: subnets("privateSubnetIds"),
        publicSubnetIds: subnets("publicSubnetIds"),
        artifactBucketName: text("artifactBucketName", S3_BUCKET_NAME, "an S3 bucket name"),
        artifactBucketArn: text("artifactBucketArn", S3_BUCKET_ARN, "an S3 bucket ARN"),
        // Empty on a staging stack deployed without review stacks: its account's review-stacks role would not exist either.
        reviewIamPath: text("reviewIamPath", DELEGATED_IAM_PATH, "the IAM path of review-stack roles, like /jobfleet-pr-environments/ (staging deploys it with its review-stacks role)"),
        reviewInstanceBoundaryArn: text("reviewInstanceBoundaryArn", /^arn:aws[a-z-]*:iam::\d{12}:policy\/[\w+=,.@\/-]+$/, "the ARN of the review instances' permissions boundary (arn:aws:iam::<account>:policy/<name>)"),
    };
}
