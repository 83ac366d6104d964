// Composition root of jobfleet-deployments: the policy pack it publishes; per jobfleet stack its ESC
// environment (tagged stable), Deployments settings, drift schedule and policy group; prod's approval
// rule; the review-stack template of jobfleet-pr-environments and the default policy group that
// covers review stacks from the moment Pulumi Cloud creates them.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import * as YAML from "yaml";
import { loadStackConfig } from "../tooling/stackConfig";
import {
    DEFAULT_POLICY_GROUP,
    DEPLOYMENTS_PROJECT,
    deploymentSettingsArgs,
    driftScheduleArgs,
    ENVIRONMENT_TAG,
    environmentYaml,
    JOBFLEET_STACKS,
    parseDeploymentsConfig,
    policyGroupArgs,
    policyPackPublication,
    prodApprovalRuleArgs,
    readReviewStacks,
    readTargetStack,
    reviewEnvironmentDefinition,
    reviewStackSettingsArgs,
    reviewStacksPolicyGroupArgs,
    REVIEW_TEMPLATE_STACK,
} from "./settings";

// Which keys the stack file holds as `secure:` ciphertext: a credential in plain text stops the update.
const stackFile = loadStackConfig(pulumi.getStack(), undefined, path.resolve(__dirname), DEPLOYMENTS_PROJECT);
const settings = parseDeploymentsConfig(pulumi.runtime.allConfig(), (key) => stackFile.secretKeys.includes(key));
// Read and checked before anything is registered: a bad stack file or pack config stops the update here.
const targets = JOBFLEET_STACKS.map((stack) => readTargetStack(stack, settings));
const staging = targets.find((t) => t.stack === "staging")!;
const review = readReviewStacks(staging);
const publication = policyPackPublication();

// The version the groups enforce is published by this same update, from the same commit CI tested.
const pack =
    settings.policyPackVersionTag === "" || settings.policyPackVersionTag === publication.versionTag
        ? new pulumiservice.PolicyPack("policy-pack", { organization: staging.organization, name: publication.name, versionTag: publication.versionTag, sourcePath: publication.sourcePath })
        : undefined;
const afterPack = pack ? { dependsOn: [pack] } : {};

const stacks: Record<string, pulumi.Output<unknown>> = {};
for (const target of targets) {
    const environment = new pulumiservice.Environment(`${target.stack}-environment`, {
        organization: target.organization,
        project: target.environment.project,
        name: target.environment.name,
        yaml: new pulumi.asset.StringAsset(environmentYaml(target)),
    });
    const tag = new pulumiservice.EnvironmentVersionTag(`${target.stack}-environment-${ENVIRONMENT_TAG}`, {
        organization: target.organization,
        project: target.environment.project,
        environment: target.environment.name,
        tagName: ENVIRONMENT_TAG,
        revision: environment.revision,
    });
    if (target.stack === "prod") new pulumiservice.ApprovalRule(`${target.stack}-environment-approval`, prodApprovalRuleArgs(target, settings.prodApproverTeam), { dependsOn: [environment] });
    // The stack file imports the tagged environment, so it exists before Deployments run.
    const deployment = new pulumiservice.DeploymentSettings(`${target.stack}-deployment`, deploymentSettingsArgs(target), { dependsOn: [tag] });
    const drift = new pulumiservice.DriftSchedule(`${target.stack}-drift`, driftScheduleArgs(target, settings.driftScheduleCron), { dependsOn: [deployment] });
    const policyGroup = new pulumiservice.PolicyGroup(`${target.stack}-policy-group`, policyGroupArgs(target), afterPack);
    stacks[target.stack] = pulumi.output({
        stack: `${target.organization}/${target.project}/${target.stack}`,
        environment: pulumi.interpolate`${environment.organization}/${environment.project}/${environment.name}@${tag.tagName}`,
        deployOnPush: target.deployOnPush,
        previewRoleArn: target.previewRoleArn,
        deployRoleArn: target.deployRoleArn,
        deploymentSettings: deployment.id,
        driftSchedule: drift.scheduleCron,
        policyGroup: policyGroup.name,
        policyPack: `${target.policyPack.name}@${target.policyPack.versionTag}`,
    });
}

const reviewEnvironment = new pulumiservice.Environment("review-stacks-environment", {
    organization: review.organization,
    project: "jobfleet",
    name: REVIEW_TEMPLATE_STACK,
    yaml: new pulumi.asset.StringAsset(`# Managed by ${"jobfleet-deployments"} (deployments/): imported by pr-environments/Pulumi.pr.yaml; no credentials.\n` + YAML.stringify(reviewEnvironmentDefinition(review, staging.awsAccountId))),
});
const reviewSettings = new pulumiservice.DeploymentSettings("review-stacks-template", reviewStackSettingsArgs(review, settings.reviewStacksAccessToken || undefined), { dependsOn: [reviewEnvironment] });
const defaultGroup = new pulumiservice.PolicyGroup("review-stacks-policy-group", reviewStacksPolicyGroupArgs(review), {
    ...afterPack,
    // Adopted, not created: `pulumi import pulumiservice:index:PolicyGroup review-stacks-policy-group <org>/default-policy-group` once (docs/deployments.md).
    ignoreChanges: ["stacks", "accounts"],
    retainOnDelete: true,
});

export const managedStacks = stacks;
export const policyPack = pack ? pulumi.interpolate`${pack.name}@${pack.versionTag}` : `${publication.name}@${settings.policyPackVersionTag} (published before)`;
export const reviewStacks = pulumi.output({
    template: `${review.organization}/${review.project}/${review.templateStack}`,
    deploymentSettings: reviewSettings.id,
    roleArn: review.roleArn,
    environment: pulumi.interpolate`${reviewEnvironment.project}/${reviewEnvironment.name}`,
    policyGroup: defaultGroup.name,
    coveredBy: DEFAULT_POLICY_GROUP,
});
