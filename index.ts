// Composition root: validated config in, components wired, outputs out. Nothing else lives here.
import { loadConfig, PROJECT } from "./config";
import { AlarmTopic } from "./components/alarmTopic";
import { CiAccess, ecrRepositoryArnsOf } from "./components/ciAccess";
import { Network } from "./components/network";

const config = loadConfig();

const network = new Network("network", {
    cidrBlock: config.vpcCidr,
    availabilityZoneCount: config.availabilityZoneCount,
    natStrategy: config.natStrategy,
    tags: config.tags,
});

const alarms = new AlarmTopic("alarms", { email: config.alarmEmail, tags: config.tags });

export const environment = config.environment;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const publicSubnetIds = network.publicSubnetIds;
export const isolatedSubnetIds = network.isolatedSubnetIds;
export const alarmTopicArn = alarms.topicArn;

// CI and Pulumi Deployments access (issue 8): GitHub OIDC preview and image-push roles, the Deployments/ESC deploy role.
const ciAccess = new CiAccess("ci-access", {
    githubRepository: config.githubRepository,
    githubOidcProviderArn: config.githubOidcProviderArn,
    pulumiOidcProviderArn: config.pulumiOidcProviderArn,
    pulumiOrganization: config.pulumiOrganization,
    pulumiProject: PROJECT,
    stack: config.stack,
    imageRepositoryArns: ecrRepositoryArnsOf([config.shellExecutorImage, config.jobWorkerImage, config.apiImage, config.sandboxBrokerImage, config.agentRuntimeImage, config.submissionRunnerImage]),
    tags: config.tags,
});
export const ciPreviewRoleArn = ciAccess.previewRoleArn;
export const ciImagePushRoleArn = ciAccess.imagePushRoleArn;
export const deployRoleArn = ciAccess.deployRoleArn;
