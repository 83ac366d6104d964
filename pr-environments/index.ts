// Composition root of jobfleet-pr-environments: one review stack per pull request (seed 003).
// Validated config in, staging's network and bucket through a StackReference, this pull request's
// build and its preview environment wired, outputs out. No VPC, database or cluster of its own.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PreviewEnvironment } from "../components/previewEnvironment";
import { SharedArtifactStore } from "../components/sharedArtifactStore";
import { VersionedArtifact } from "../components/versionedArtifact";
import { PR_PROJECT, validatePrConfig } from "./config";
import { sharedStagingOutputs } from "./staging";

const config = validatePrConfig(pulumi.runtime.allConfig(), pulumi.getStack(), process.env);
const pr = config.pullRequest;

const staging = new pulumi.StackReference("staging", { name: config.stagingStack });
const shared = sharedStagingOutputs(staging, config.stagingStack);

const store = new SharedArtifactStore("staging-artifacts", { bucketName: shared.artifactBucketName, bucketArn: shared.artifactBucketArn });
const artifact = new VersionedArtifact("preview-artifact", {
    store,
    app: config.app,
    environment: pr.environment,
    filePath: path.resolve(__dirname, config.artifactPath),
    build: { commitSha: config.commitSha, buildTime: config.buildTime, prNumber: String(pr.number) },
    buildLabels: {
        commitSha: `${PR_PROJECT}:commitSha`,
        branch: "PULUMI_CI_BRANCH_NAME",
        buildTime: `${PR_PROJECT}:buildTime`,
        workflowRunId: "PULUMI_CI_BUILD_ID",
        prNumber: `${PR_PROJECT}:pullRequestNumber`,
    },
});
// Named after the pull request: its target group is pr-<n>-tg-..., the only kind the review-stacks role lets an Auto Scaling group join.
const preview = new PreviewEnvironment(pr.environment, {
    app: config.app,
    environment: pr.environment,
    artifact,
    store,
    vpcId: shared.vpcId,
    privateSubnetIds: shared.privateSubnetIds,
    publicSubnetIds: shared.publicSubnetIds,
    instanceType: config.instanceType,
    minSize: config.minSize,
    maxSize: config.maxSize,
    certificateArn: config.certificateArn,
    allowedCidrs: config.reviewerCidrs,
    domain: config.domain,
    // Review stacks deploy with staging's review-stacks role, which creates only bounded roles under this path.
    delegatedIam: { path: shared.reviewIamPath, permissionsBoundaryArn: shared.reviewInstanceBoundaryArn },
    tags: config.tags,
});

// The review stack's pull request comment shows these; `pr-environments/artifacts.ts` reads them to retain and to close.
export const pullRequestNumber = pr.number;
export const environment = pr.environment;
export const previewUrl = preview.url;
export const artifactBucketName = store.bucketName;
export const artifactKey = artifact.key;
export const artifactChecksum = artifact.checksum;
export const artifactRetention = { app: config.app, keep: config.keepBuilds };
export const sharedWith = config.stagingStack;
