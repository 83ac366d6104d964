// Composition root: validated config in, components wired, outputs out. Nothing else lives here.
import { loadConfig } from "./config";
import { AlarmTopic } from "./components/alarmTopic";
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
