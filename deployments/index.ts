// Composition root of jobfleet-deployments: per jobfleet stack, its ESC environment, its Deployments settings and its policy group.
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import {
    deploymentSettingsArgs,
    environmentYaml,
    JOBFLEET_STACKS,
    parseDeploymentsConfig,
    policyGroupArgs,
    readTargetStack,
} from "./settings";

const settings = parseDeploymentsConfig(pulumi.runtime.allConfig());
// Read and checked before anything is registered: a bad stack file or pack config stops the update here.
const targets = JOBFLEET_STACKS.map((stack) => readTargetStack(stack, settings));

const stacks: Record<string, pulumi.Output<unknown>> = {};
for (const target of targets) {
    const environment = new pulumiservice.Environment(`${target.stack}-environment`, {
        organization: target.organization,
        project: target.environment.project,
        name: target.environment.name,
        yaml: new pulumi.asset.StringAsset(environmentYaml(target)),
    });
    // The stack file imports the environment, so the environment exists before Deployments run.
    const deployment = new pulumiservice.DeploymentSettings(`${target.stack}-deployment`, deploymentSettingsArgs(target), { dependsOn: [environment] });
    const policyGroup = new pulumiservice.PolicyGroup(`${target.stack}-policy-group`, policyGroupArgs(target));
    stacks[target.stack] = pulumi.output({
        stack: `${target.organization}/${target.project}/${target.stack}`,
        environment: pulumi.interpolate`${environment.organization}/${environment.project}/${environment.name}`,
        deployOnPush: target.deployOnPush,
        deployRoleArn: target.deployRoleArn,
        deploymentSettings: deployment.id,
        policyGroup: policyGroup.name,
        policyPack: `${target.policyPack.name}@${target.policyPack.versionTag}`,
    });
}

export const managedStacks = stacks;
