// Composition root: validated config in, components wired, outputs out. Nothing else lives here.
import * as path from "path";
import { loadConfig, PROJECT } from "./config";
import { AlarmTopic } from "./components/alarmTopic";
import { CiAccess, ecrRepositoryArnsOf, REVIEW_STACKS_PROJECT } from "./components/ciAccess";
import { Network } from "./components/network";
import { ArtifactStore } from "./components/artifactStore";
import { PreviewEnvironment } from "./components/previewEnvironment";
import { VersionedArtifact } from "./components/versionedArtifact";
import { SubmissionRunner } from "./components/submissionRunner";
import { ShellExecutor } from "./components/shellExecutor";
import { JobWorker } from "./components/jobWorker";
import { Api } from "./components/api";
import { SandboxBroker } from "./components/sandboxBroker";
import { AgentRuntime } from "./components/agentRuntime";

const config = loadConfig();

const network = new Network("network", {
    cidrBlock: config.vpcCidr,
    availabilityZoneCount: config.availabilityZoneCount,
    natStrategy: config.natStrategy,
    tags: config.tags,
});

const alarms = new AlarmTopic("alarms", { email: config.alarmEmail, tags: config.tags });
// What every long-running service alarms on, and where it notifies.
const serviceAlarms = { topicArn: alarms.topicArn, cpuHighPercent: config.alarmCpuHighPercent, memoryHighPercent: config.alarmMemoryHighPercent, evaluationMinutes: config.alarmEvaluationMinutes };

export const environment = config.environment;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const publicSubnetIds = network.publicSubnetIds;
export const isolatedSubnetIds = network.isolatedSubnetIds;
export const alarmTopicArn = alarms.topicArn;

// Preview environments (seed 003, issue 7): versioned artifacts bucket, this build's artifact, EC2 behind an HTTPS ALB.
const artifactStore = new ArtifactStore("artifacts", { noncurrentVersionDays: config.artifactNoncurrentVersionDays, tags: config.tags });
const previewArtifact = new VersionedArtifact("preview-artifact", {
    store: artifactStore,
    app: config.previewApp,
    environment: config.previewEnvironmentName,
    filePath: path.resolve(__dirname, config.previewArtifactPath),
    build: { commitSha: config.previewCommitSha, branch: config.previewBranch, buildTime: config.previewBuildTime, workflowRunId: config.previewWorkflowRunId, prNumber: config.previewPrNumber },
});
const preview = new PreviewEnvironment("preview", {
    app: config.previewApp,
    environment: config.previewEnvironmentName,
    artifact: previewArtifact,
    store: artifactStore,
    vpcId: network.vpcId,
    privateSubnetIds: network.privateSubnetIds,
    publicSubnetIds: network.publicSubnetIds,
    instanceType: config.previewInstanceType,
    minSize: config.previewMinSize,
    maxSize: config.previewMaxSize,
    associatePublicIp: config.previewAssociatePublicIp,
    certificateArn: config.previewCertificateArn,
    deletionProtection: config.isProd,
    tags: config.tags,
});
export const artifactBucketName = artifactStore.bucketName;
// Read by pr-environments/ through a StackReference (with vpcId and the subnet ids): review stacks share this bucket.
export const artifactBucketArn = artifactStore.bucketArn;
export const artifactKey = previewArtifact.key;
export const artifactChecksum = previewArtifact.checksum;
export const previewUrl = preview.url;
export const previewAutoScalingGroupName = preview.autoScalingGroupName;
// Read by `npm run artifacts -- cleanup --stack-outputs <pulumi stack output --json>` as its --keep/--days defaults.
export const artifactCleanupPolicy = { keep: config.artifactKeepCount, days: config.artifactMaxAgeDays };

// Submission runner (seed 004, issue 6): SQS + DLQ, S3, RDS PostgreSQL with a managed password, ECR, Fargate service scaling on backlog.
const submissionRunner = new SubmissionRunner("submission-runner", {
    vpcId: network.vpcId,
    privateSubnetIds: network.privateSubnetIds,
    isolatedSubnetIds: network.isolatedSubnetIds,
    image: config.submissionRunnerImage,
    requireDigest: config.isProd,
    repositoryName: `${PROJECT}/runner`,
    cpu: config.submissionRunnerCpu,
    memory: config.submissionRunnerMemory,
    gracefulShutdownSeconds: config.submissionRunnerGracefulShutdownSeconds,
    runner: {
        pollIntervalMs: config.runnerPollIntervalMs,
        timeoutMs: config.runnerTimeoutMs,
        maxLogBytes: config.runnerMaxLogBytes,
        jdkVersion: config.runnerJdkVersion,
        buildTool: config.runnerBuildTool,
    },
    maxReceiveCount: config.submissionQueueMaxReceiveCount,
    scaling: { minTasks: config.submissionRunnerMinTasks, maxTasks: config.submissionRunnerMaxTasks, backlogPerTask: config.submissionRunnerBacklogPerTask },
    useSpot: config.submissionRunnerUseSpot,
    runLogRetentionDays: config.runLogRetentionDays,
    logRetentionDays: config.logRetentionDays,
    database: {
        instanceClass: config.dbInstanceClass,
        allocatedStorageGb: config.dbAllocatedStorageGb,
        engineVersion: config.dbEngineVersion,
        name: config.dbName,
        username: config.dbUsername,
        multiAz: config.dbMultiAz,
        backupRetentionDays: config.dbBackupRetentionDays,
        deletionProtection: config.dbDeletionProtection,
        finalSnapshot: config.isProd || config.dbDeletionProtection,
    },
    alarms: serviceAlarms,
    tags: config.tags,
});
export const submissionQueueUrl = submissionRunner.queue.url;
export const submissionDeadLetterQueueUrl = submissionRunner.deadLetterQueue.url;
export const submissionBucketName = submissionRunner.bucket.bucket;
export const submissionRunnerRepositoryArn = submissionRunner.repositoryArn;
export const submissionRunnerRepositoryUrl = submissionRunner.repositoryUrl;
export const submissionRunnerClusterName = submissionRunner.cluster.name;
export const submissionRunnerServiceName = submissionRunner.service.serviceName;
export const submissionDatabaseAddress = submissionRunner.database.address;
export const submissionDatabaseSecretArn = submissionRunner.databaseSecretArn;

// Shell executor, job worker and API (seed 000, issue 4): RunTask per job with presigned job/result URLs; both callers get grantSubmit.
const shellExecutorName = `${PROJECT}-${config.stack}`;
const shellExecutor = new ShellExecutor(shellExecutorName, {
    vpcId: network.vpcId,
    subnetIds: network.privateSubnetIds,
    image: config.shellExecutorImage,
    requireDigest: config.isProd,
    cpu: config.shellExecutorCpu,
    memory: config.shellExecutorMemory,
    stopTimeoutSeconds: config.shellExecutorStopTimeoutSeconds,
    commandTimeoutSeconds: config.shellCommandTimeoutSeconds,
    maxOutputBytes: config.shellMaxOutputBytes,
    urlTtlSeconds: config.shellJobUrlTtlSeconds,
    jobExpirationDays: config.shellJobExpirationDays,
    logRetentionDays: config.logRetentionDays,
    tags: config.tags,
});
const jobWorker = new JobWorker(shellExecutorName, {
    executor: shellExecutor,
    vpcId: network.vpcId,
    subnetIds: network.privateSubnetIds,
    image: config.jobWorkerImage,
    requireDigest: config.isProd,
    memoryMb: config.jobWorkerMemoryMb,
    timeoutSeconds: config.jobWorkerTimeoutSeconds,
    reservedConcurrency: config.jobWorkerReservedConcurrency,
    logRetentionDays: config.logRetentionDays,
    tags: config.tags,
});
const api = new Api(shellExecutorName, {
    executor: shellExecutor,
    image: config.apiImage,
    requireDigest: config.isProd,
    memoryMb: config.apiMemoryMb,
    timeoutSeconds: config.apiTimeoutSeconds,
    corsAllowedOrigins: config.apiCorsAllowedOrigins,
    requireExplicitOrigins: config.isProd,
    logRetentionDays: config.logRetentionDays,
    tags: config.tags,
});
export const shellExecutorClusterArn = shellExecutor.clusterArn;
export const shellExecutorTaskDefinitionArn = shellExecutor.taskDefinitionArn;
export const shellJobBucketName = shellExecutor.bucketName;
export const jobWorkerFunctionName = jobWorker.functionName;
export const jobWorkerDeadLetterQueueUrl = jobWorker.deadLetterQueueUrl;
export const apiUrl = api.url;

// CI and Pulumi Deployments access (issues 8, 13, 14): read-only previews, image pushes, the deploy role for update/refresh/destroy only, review stacks in staging.
const ciAccess = new CiAccess("ci-access", {
    githubRepository: config.githubRepository,
    githubSubjectPrefix: config.githubOidcSubjectPrefix,
    reviewStacksProject: config.isProd ? undefined : REVIEW_STACKS_PROJECT,
    reviewArtifactBucketArn: config.isProd ? undefined : artifactStore.bucketArn,
    githubOidcProviderArn: config.githubOidcProviderArn,
    pulumiOidcProviderArn: config.pulumiOidcProviderArn,
    pulumiOrganization: config.pulumiOrganization,
    pulumiProject: PROJECT,
    stack: config.stack,
    imageRepositoryArns: [
        submissionRunner.repositoryArn,
        ...ecrRepositoryArnsOf([config.shellExecutorImage, config.jobWorkerImage, config.apiImage, config.sandboxBrokerImage, config.agentRuntimeImage, config.submissionRunnerImage]),
    ],
    tags: config.tags,
});
export const ciPreviewRoleArn = ciAccess.previewRoleArn;
export const ciImagePushRoleArn = ciAccess.imagePushRoleArn;
export const deployRoleArn = ciAccess.deployRoleArn;
// Empty where no review stacks deploy (prod's account).
export const reviewStacksRoleArn = ciAccess.reviewStacksRoleArn ?? "";
// Where review stacks create their instance roles (pr-environments reads both through its StackReference).
export const reviewIamPath = ciAccess.reviewStackIam?.path ?? "";
export const reviewInstanceBoundaryArn = ciAccess.reviewStackIam?.permissionsBoundaryArn ?? "";

// Sandbox broker (seed 001) and agent runtime (seed 002), issue 5: long-running Fargate services behind HTTPS load balancers.
const sandboxBroker = new SandboxBroker("sandbox-broker", {
    vpcId: network.vpcId,
    publicSubnetIds: network.publicSubnetIds,
    privateSubnetIds: network.privateSubnetIds,
    isProd: config.isProd,
    image: config.sandboxBrokerImage,
    cpu: config.sandboxBrokerCpu,
    memory: config.sandboxBrokerMemory,
    apiDesiredCount: config.sandboxBrokerApiDesiredCount,
    workerDesiredCount: config.sandboxBrokerWorkerDesiredCount,
    certificateArn: config.sandboxBrokerCertificateArn,
    corsAllowedOrigins: config.sandboxBrokerCorsAllowedOrigins,
    cspApiTokenSecretArn: config.sandboxBrokerCspApiTokenSecretArn,
    rateLimitPerMinute: config.sandboxBrokerRateLimitPerMinute,
    gracefulShutdownSeconds: config.sandboxBrokerGracefulShutdownSeconds,
    logRetentionDays: config.logRetentionDays,
    alarms: serviceAlarms,
    tags: config.tags,
});
const agentRuntime = new AgentRuntime("agent-runtime", {
    vpcId: network.vpcId,
    vpcCidr: network.cidrBlock,
    publicSubnetIds: network.publicSubnetIds,
    privateSubnetIds: network.privateSubnetIdsPerAz,
    isProd: config.isProd,
    image: config.agentRuntimeImage,
    cpu: config.agentRuntimeCpu,
    memory: config.agentRuntimeMemory,
    desiredCount: config.agentRuntimeDesiredCount,
    gracefulShutdownSeconds: config.agentRuntimeGracefulShutdownSeconds,
    appId: config.agentRuntimeAppId,
    packagePrefix: config.agentRuntimePackagePrefix,
    certificateArn: config.agentRuntimeCertificateArn,
    logRetentionDays: config.logRetentionDays,
    alarms: serviceAlarms,
    tags: config.tags,
});
export const sandboxBrokerUrl = sandboxBroker.apiUrl;
export const sandboxBrokerClusterName = sandboxBroker.cluster.name;
export const sandboxBrokerAllocationsTableName = sandboxBroker.allocationsTable.name;
export const sandboxBrokerCspApiTokenSecretArn = sandboxBroker.cspApiTokenSecretArn;
export const agentRuntimeRestUrl = agentRuntime.restUrl;
export const agentRuntimeUiUrl = agentRuntime.uiUrl;
export const agentRuntimeA2aEndpoint = agentRuntime.a2aEndpoint;
export const agentRuntimePackageBucketName = agentRuntime.packageBucket.bucket;
