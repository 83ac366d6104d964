import * as fs from "fs";
import * as path from "path";
import * as pulumiservice from "@pulumi/pulumiservice";
import * as YAML from "yaml";
import { ciRoleNames } from "../components/ciAccess";
import { CONFIG_KEYS, JobfleetConfig, PROJECT, validateConfig } from "../config";
import { loadStackConfig, PROJECT_ROOT } from "../tooling/stackConfig";

/**
 * What the deployments/ project manages for each jobfleet stack, as plain data built from the
 * files that already say it: the stack file (organization, repository, region, the ESC
 * environment it imports, the secrets it references), the policy pack (name, version, per-stack
 * config) and this project's own small config (accounts, branch, whether prod deploys on push).
 */

export const DEPLOYMENTS_PROJECT = "jobfleet-deployments";
export const JOBFLEET_STACKS = ["staging", "prod"] as const;
export type JobfleetStack = (typeof JOBFLEET_STACKS)[number];

export interface DeploymentsConfig {
    branch: string;
    awsAccountIds: Record<JobfleetStack, string>;
    prodDeployOnPush: boolean;
    /** Empty: the version in policies/package.json, the one `pulumi policy publish policies` publishes. */
    policyPackVersionTag: string;
}

export class DeploymentsConfigError extends Error {
    constructor(problems: string[]) {
        super(`${DEPLOYMENTS_PROJECT} config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "DeploymentsConfigError";
    }
}

interface KeySpec {
    pattern: RegExp;
    expected: string;
    default?: string;
}

const CONFIG_KEYS_OF_THIS_PROJECT: Record<"branch" | "stagingAwsAccountId" | "prodAwsAccountId" | "prodDeployOnPush" | "policyPackVersionTag", KeySpec> = {
    branch: { pattern: /^[A-Za-z0-9._\/-]+$/, expected: "a branch name like main (no wildcards)", default: "main" },
    stagingAwsAccountId: { pattern: /^\d{12}$/, expected: "the 12-digit id of the staging AWS account" },
    prodAwsAccountId: { pattern: /^\d{12}$/, expected: "the 12-digit id of the prod AWS account" },
    prodDeployOnPush: { pattern: /^(true|false)$/, expected: "true or false", default: "false" },
    policyPackVersionTag: { pattern: /^(\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?)?$/, expected: "empty or a version like 0.1.0", default: "" },
};

/** Validates this project's config (`jobfleet-deployments:<key>` → string, as the CLI hands it over) and reports every problem at once. */
export function parseDeploymentsConfig(raw: Record<string, string | undefined>): DeploymentsConfig {
    const problems: string[] = [];
    const value: Record<string, string> = {};
    for (const [key, spec] of Object.entries(CONFIG_KEYS_OF_THIS_PROJECT)) {
        const fullKey = `${DEPLOYMENTS_PROJECT}:${key}`;
        const given = raw[fullKey] ?? spec.default;
        if (given === undefined) problems.push(`${fullKey} is not set: expected ${spec.expected}`);
        else if (!spec.pattern.test(given)) problems.push(`${fullKey} = ${JSON.stringify(given)}: expected ${spec.expected}`);
        else value[key] = given;
    }
    for (const key of Object.keys(raw)) {
        if (key.startsWith(`${DEPLOYMENTS_PROJECT}:`) && !(key.slice(DEPLOYMENTS_PROJECT.length + 1) in CONFIG_KEYS_OF_THIS_PROJECT)) {
            problems.push(`${key} is not a key ${DEPLOYMENTS_PROJECT} reads (known: ${Object.keys(CONFIG_KEYS_OF_THIS_PROJECT).join(", ")})`);
        }
    }
    if (problems.length > 0) throw new DeploymentsConfigError(problems);
    return {
        branch: value.branch,
        awsAccountIds: { staging: value.stagingAwsAccountId, prod: value.prodAwsAccountId },
        prodDeployOnPush: value.prodDeployOnPush === "true",
        policyPackVersionTag: value.policyPackVersionTag,
    };
}

export interface PolicyPackRef {
    name: string;
    versionTag: string;
    /** The pack's per-stack config, as `--policy-pack-config policies/config/<stack>.json` gives it. */
    config: Record<string, unknown>;
    configFile: string;
}

export interface TargetStack {
    stack: JobfleetStack;
    organization: string;
    project: string;
    repository: string;
    branch: string;
    region: string;
    awsAccountId: string;
    deployRoleArn: string;
    deployOnPush: boolean;
    /** The ESC environment the stack file imports, `<project>/<name>`. */
    environment: { project: string; name: string };
    /** Config key (without `SecretArn`) → the Secrets Manager secret the stack references. */
    secretReferences: Record<string, string>;
    policyPack: PolicyPackRef;
}

/**
 * Files of the repository whose change can change what `pulumi up` of the stack does: the program
 * and what it imports, its project and stack settings, its dependencies and the artifacts it
 * publishes. Docs, tests, benchmarks, workflows, the pack and this project do not deploy.
 */
export function deployPaths(stack: string): string[] {
    return ["index.ts", "config.ts", "components/**", "runtime/**", "artifacts/**", "Pulumi.yaml", `Pulumi.${stack}.yaml`, "package.json", "package-lock.json", "tsconfig.json"];
}

function readJson(file: string, what: string): unknown {
    if (!fs.existsSync(file)) throw new Error(`${path.relative(PROJECT_ROOT, file)} is missing: it holds ${what}.`);
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`${path.relative(PROJECT_ROOT, file)} is not valid JSON (${(err as Error).message}); it holds ${what}.`);
    }
}

export function readPolicyPack(stack: JobfleetStack, versionTag: string, repoRoot = PROJECT_ROOT): PolicyPackRef {
    const manifest = readJson(path.join(repoRoot, "policies", "package.json"), "the policy pack's name and version") as { name?: unknown; version?: unknown };
    if (typeof manifest.name !== "string" || typeof manifest.version !== "string") {
        throw new Error("policies/package.json must name the pack (name) and its version (version).");
    }
    const configFile = path.join(repoRoot, "policies", "config", `${stack}.json`);
    const config = readJson(configFile, `the policy pack config of the ${stack} stack`);
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
        throw new Error(`policies/config/${stack}.json must be a JSON object of policy name → enforcement level or settings.`);
    }
    return { name: manifest.name, versionTag: versionTag || manifest.version, config: config as Record<string, unknown>, configFile };
}

/** Secret ARNs the stack config references (keys ending in SecretArn), for the ESC environment to resolve. */
export function secretReferencesOf(config: JobfleetConfig): Record<string, string> {
    const references: Record<string, string> = {};
    for (const key of Object.keys(CONFIG_KEYS) as (keyof typeof CONFIG_KEYS)[]) {
        const value = config[key];
        if (key.endsWith("SecretArn") && typeof value === "string" && value !== "") references[key.slice(0, -"SecretArn".length)] = value;
    }
    return references;
}

/** Everything about one jobfleet stack the deployments project needs, checked against the stack file. */
export function readTargetStack(stack: JobfleetStack, settings: DeploymentsConfig, repoRoot = PROJECT_ROOT): TargetStack {
    const source = loadStackConfig(stack, undefined, repoRoot);
    const config = validateConfig(source.config, stack);
    const expectedEnvironment = `${PROJECT}/${stack}`;
    if (source.environments.length !== 1 || source.environments[0] !== expectedEnvironment) {
        throw new Error(
            `Pulumi.${stack}.yaml imports ${JSON.stringify(source.environments)}; expected exactly the ESC environment ${expectedEnvironment}, the one this project defines and the deploy role trusts.`,
        );
    }
    const awsAccountId = settings.awsAccountIds[stack];
    const partition = config.region.startsWith("cn-") ? "aws-cn" : config.region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
    return {
        stack,
        organization: config.pulumiOrganization,
        project: PROJECT,
        repository: config.githubRepository,
        branch: settings.branch,
        region: config.region,
        awsAccountId,
        deployRoleArn: `arn:${partition}:iam::${awsAccountId}:role/${ciRoleNames(PROJECT, stack).deploy}`,
        deployOnPush: stack === "staging" ? true : settings.prodDeployOnPush,
        environment: { project: PROJECT, name: stack },
        secretReferences: secretReferencesOf(config),
        policyPack: readPolicyPack(stack, settings.policyPackVersionTag, repoRoot),
    };
}

/** Deployments: source from the repository's branch, `npm ci`, AWS through Deployments OIDC, push-to-deploy as configured. */
export function deploymentSettingsArgs(t: TargetStack): pulumiservice.DeploymentSettingsArgs {
    return {
        organization: t.organization,
        project: t.project,
        stack: t.stack,
        sourceContext: { git: { branch: `refs/heads/${t.branch}` } },
        vcs: {
            provider: "github",
            repository: t.repository,
            deployCommits: t.deployOnPush,
            previewPullRequests: true,
            pullRequestTemplate: false,
            paths: deployPaths(t.stack),
        },
        operationContext: {
            // The executor's own install would run `npm install`, which may rewrite the lock file.
            options: { skipInstallDependencies: true, skipIntermediateDeployments: true },
            preRunCommands: ["npm ci --no-audit --no-fund"],
            oidc: { aws: { roleARN: t.deployRoleArn, sessionName: `${t.project}-${t.stack}-deployments`, duration: "1h0m0s" } },
        },
        cacheOptions: { enable: true },
    };
}

/**
 * The ESC environment the stack file imports: short-lived AWS credentials through OIDC (the deploy
 * role, for the environment `<project>/<stack>` only), handed to the AWS provider and to
 * `pulumi env run`, and the stack's secrets as references resolved when the environment is opened.
 */
export function environmentDefinition(t: TargetStack): Record<string, unknown> {
    const hasSecrets = Object.keys(t.secretReferences).length > 0;
    return {
        values: {
            aws: {
                region: t.region,
                login: {
                    "fn::open::aws-login": {
                        oidc: {
                            roleArn: t.deployRoleArn,
                            sessionName: `${t.project}-${t.stack}-esc`,
                            duration: "1h",
                            subjectAttributes: ["currentEnvironment.name"],
                        },
                    },
                },
                ...(hasSecrets
                    ? {
                          secrets: {
                              "fn::open::aws-secrets": {
                                  region: "${aws.region}",
                                  login: "${aws.login}",
                                  get: Object.fromEntries(Object.entries(t.secretReferences).map(([name, arn]) => [name, { secretId: arn }])),
                              },
                          },
                      }
                    : {}),
            },
            environmentVariables: {
                AWS_ACCESS_KEY_ID: "${aws.login.accessKeyId}",
                AWS_SECRET_ACCESS_KEY: "${aws.login.secretAccessKey}",
                AWS_SESSION_TOKEN: "${aws.login.sessionToken}",
            },
            pulumiConfig: {
                "aws:accessKey": "${aws.login.accessKeyId}",
                "aws:secretKey": "${aws.login.secretAccessKey}",
                "aws:token": "${aws.login.sessionToken}",
            },
        },
    };
}

export function environmentYaml(t: TargetStack): string {
    const header = `# Managed by the ${DEPLOYMENTS_PROJECT} Pulumi project (deployments/ in ${t.repository}); edits here are overwritten.\n`;
    return header + YAML.stringify(environmentDefinition(t), { lineWidth: 0 });
}

/** The policy pack enforced on the stack (preventative: a mandatory violation fails the update), with the stack's pack config. */
export function policyGroupArgs(t: TargetStack): pulumiservice.PolicyGroupArgs {
    return {
        name: `${t.project}-${t.stack}`,
        organizationName: t.organization,
        entityType: "stacks",
        mode: "preventative",
        stacks: [{ name: t.stack, routingProject: t.project }],
        policyPacks: [{ name: t.policyPack.name, versionTag: t.policyPack.versionTag, config: t.policyPack.config }],
    };
}
