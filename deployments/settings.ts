import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import * as YAML from "yaml";
import { ciRoleNames, REVIEW_STACKS_PROJECT } from "../components/ciAccess";
import { PROJECT, validateConfig } from "../config";
import { loadStackConfig, PROJECT_ROOT } from "../tooling/stackConfig";
import { AWS_CONFIG_PATH } from "./awsRole";

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
    /** Empty: the version in policies/package.json, the one the PolicyPack resource publishes. */
    policyPackVersionTag: string;
    /** Cron (UTC) of the drift runs of both stacks. */
    driftScheduleCron: string;
    /** Pulumi Cloud team whose members approve changes to the prod ESC environment. */
    prodApproverTeam: string;
    /**
     * Empty, or the Pulumi access token review stacks deploy with (PULUMI_ACCESS_TOKEN, a secret
     * variable of the `pr` template): needed when the organization's default stack permission is
     * None, since a pull-request deployment's own token reaches only its stack and so cannot read
     * staging through the StackReference. It must have Write on review stacks and Read on staging.
     */
    reviewStacksAccessToken: string;
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

type ThisProjectKey = "branch" | "stagingAwsAccountId" | "prodAwsAccountId" | "prodDeployOnPush" | "policyPackVersionTag" | "driftScheduleCron" | "prodApproverTeam" | "reviewStacksAccessToken";

/** Keys whose value is a credential: never printed, and refused unless set with `pulumi config set --secret`. */
const SECRET_KEYS: ReadonlySet<ThisProjectKey> = new Set(["reviewStacksAccessToken"]);

const CONFIG_KEYS_OF_THIS_PROJECT: Record<ThisProjectKey, KeySpec> = {
    branch: { pattern: /^[A-Za-z0-9._\/-]+$/, expected: "a branch name like main (no wildcards)", default: "main" },
    stagingAwsAccountId: { pattern: /^\d{12}$/, expected: "the 12-digit id of the staging AWS account" },
    prodAwsAccountId: { pattern: /^\d{12}$/, expected: "the 12-digit id of the prod AWS account" },
    prodDeployOnPush: { pattern: /^(true|false)$/, expected: "true or false", default: "false" },
    policyPackVersionTag: { pattern: /^(\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?)?$/, expected: "empty or a version like 0.1.0", default: "" },
    // Five fields, each a number, *, a range, a list or a step: what Pulumi Cloud's schedules accept.
    driftScheduleCron: { pattern: /^(\S+\s+){4}\S+$/, expected: "a five-field cron expression like 0 */6 * * *", default: "0 */6 * * *" },
    prodApproverTeam: { pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, expected: "the name of a Pulumi Cloud team of the organization", default: "platform" },
    reviewStacksAccessToken: { pattern: /^(pul-[0-9a-f]{40})?$/, expected: "empty, or a Pulumi access token (pul- and 40 hex digits)", default: "" },
};

/** Validates this project's config (`jobfleet-deployments:<key>` → string, as the CLI hands it over) and reports every problem at once. */
export function parseDeploymentsConfig(raw: Record<string, string | undefined>, isSecret: (fullKey: string) => boolean = () => false): DeploymentsConfig {
    const problems: string[] = [];
    const value: Record<string, string> = {};
    for (const [key, spec] of Object.entries(CONFIG_KEYS_OF_THIS_PROJECT)) {
        const fullKey = `${DEPLOYMENTS_PROJECT}:${key}`;
        const given = raw[fullKey] ?? spec.default;
        const secret = SECRET_KEYS.has(key as ThisProjectKey);
        if (given === undefined) problems.push(`${fullKey} is not set: expected ${spec.expected}`);
        else if (!spec.pattern.test(given)) problems.push(`${fullKey} = ${secret ? "(a value, not shown)" : JSON.stringify(given)}: expected ${spec.expected}`);
        else if (secret && given !== "" && !isSecret(fullKey)) problems.push(`${fullKey} is set in plain text: it is a credential; set it with \`pulumi config set --secret ${key}\``);
        else value[key] = given;
    }
    for (const key of Object.keys(raw)) {
        if (key.startsWith(`${DEPLOYMENTS_PROJECT}:`) && !(key.slice(DEPLOYMENTS_PROJECT.length + 1) in CONFIG_KEYS_OF_THIS_PROJECT)) {
            problems.push(`${key} is not a key ${DEPLOYMENTS_PROJECT} reads (known: ${Object.keys(CONFIG_KEYS_OF_THIS_PROJECT).join(", ")})`);
        }
    }
    if (value.driftScheduleCron !== undefined && !cronFieldsValid(value.driftScheduleCron)) {
        problems.push(`${DEPLOYMENTS_PROJECT}:driftScheduleCron = ${JSON.stringify(value.driftScheduleCron)}: expected minute hour day-of-month month day-of-week, each *, a number in range, a range a-b, a list or a /step`);
    }
    if (problems.length > 0) throw new DeploymentsConfigError(problems);
    return {
        branch: value.branch,
        awsAccountIds: { staging: value.stagingAwsAccountId, prod: value.prodAwsAccountId },
        prodDeployOnPush: value.prodDeployOnPush === "true",
        policyPackVersionTag: value.policyPackVersionTag,
        driftScheduleCron: value.driftScheduleCron,
        prodApproverTeam: value.prodApproverTeam,
        reviewStacksAccessToken: value.reviewStacksAccessToken,
    };
}

const CRON_RANGES: Array<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

function cronFieldsValid(expression: string): boolean {
    const fields = expression.trim().split(/\s+/);
    return (
        fields.length === 5 &&
        fields.every((field, i) => {
            const [min, max] = CRON_RANGES[i];
            const inRange = (n: string) => /^\d+$/.test(n) && Number(n) >= min && Number(n) <= max;
            return field.split(",").every((part) => {
                const [base, step] = part.split("/");
                if (step !== undefined && !(/^\d+$/.test(step) && Number(step) > 0)) return false;
                if (base === "*") return true;
                const [from, to] = base.split("-");
                return to === undefined ? inRange(from) : inRange(from) && inRange(to) && Number(from) <= Number(to);
            });
        })
    );
}

export interface PolicyPackRef {
    name: string;
    versionTag: string;
    /** The pack's per-stack config, as `--policy-pack-config policies/config/<stack>.json` gives it. */
    config: Record<string, unknown>;
    /** The same config in the form Pulumi Cloud's API stores and the engine reads back: an object per policy. */
    apiConfig: Record<string, Record<string, unknown>>;
    configFile: string;
}

const ENFORCEMENT_LEVELS = ["advisory", "mandatory", "remediate", "disabled"];

/**
 * The CLI-file form of a pack config (`"all": "mandatory"`, `"<policy>": {"enforcementLevel": ..., <properties>}`)
 * in the API form, as `pulumi policy enable --config` converts it (LoadPolicyPackConfigFromFile,
 * then marshalAnalyzerPolicyConfig in pkg/cmd/pulumi/policy/policy_enable.go): every entry an object,
 * its level under enforcementLevel, empty entries dropped. A Policy Group holding a bare string
 * fails when the engine reads it (ParsePolicyPackConfigFromAPI unmarshals each entry into an object).
 */
export function policyConfigToApiForm(config: Record<string, unknown>, where: string): Record<string, Record<string, unknown>> {
    const problems: string[] = [];
    const result: Record<string, Record<string, unknown>> = {};
    for (const [name, value] of Object.entries(config)) {
        if (name === "environments") {
            problems.push(`${where}: "environments" (ESC environments for the pack) is a policy group setting this project does not manage; remove it`);
            continue;
        }
        let entry: Record<string, unknown>;
        if (typeof value === "string") {
            entry = { enforcementLevel: value };
        } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
            entry = { ...(value as Record<string, unknown>) };
        } else {
            problems.push(`${where}: ${name} must be an enforcement level (${ENFORCEMENT_LEVELS.join(", ")}) or an object, got ${JSON.stringify(value)}`);
            continue;
        }
        if ("enforcementLevel" in entry && !ENFORCEMENT_LEVELS.includes(entry.enforcementLevel as string)) {
            problems.push(`${where}: ${name} has enforcement level ${JSON.stringify(entry.enforcementLevel)}; expected one of ${ENFORCEMENT_LEVELS.join(", ")}`);
            continue;
        }
        if (Object.keys(entry).length > 0) result[name] = entry;
    }
    if (problems.length > 0) throw new Error(`The policy pack config cannot go to Pulumi Cloud:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return result;
}

export interface TargetStack {
    stack: JobfleetStack;
    organization: string;
    project: string;
    repository: string;
    branch: string;
    region: string;
    awsAccountId: string;
    /** Read-only: what a preview of the stack runs with. */
    previewRoleArn: string;
    /** AdministratorAccess: what update, refresh, destroy and drift runs of the stack run with. */
    deployRoleArn: string;
    deployOnPush: boolean;
    /** The ESC environment the stack file imports, `<project>/<name>`. */
    environment: { project: string; name: string };
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

export function readPolicyPack(stack: string, versionTag: string, repoRoot = PROJECT_ROOT): PolicyPackRef {
    const manifest = readJson(path.join(repoRoot, "policies", "package.json"), "the policy pack's name and version") as { name?: unknown; version?: unknown };
    if (typeof manifest.name !== "string" || typeof manifest.version !== "string") {
        throw new Error("policies/package.json must name the pack (name) and its version (version).");
    }
    const configFile = path.join(repoRoot, "policies", "config", `${stack}.json`);
    const config = readJson(configFile, `the policy pack config of the ${stack} stack`);
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
        throw new Error(`policies/config/${stack}.json must be a JSON object of policy name → enforcement level or settings.`);
    }
    const apiConfig = policyConfigToApiForm(config as Record<string, unknown>, `policies/config/${stack}.json`);
    return { name: manifest.name, versionTag: versionTag || manifest.version, config: config as Record<string, unknown>, apiConfig, configFile };
}

function partitionOf(region: string): string {
    return region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
}

function roleArn(region: string, accountId: string, roleName: string): string {
    return `arn:${partitionOf(region)}:iam::${accountId}:role/${roleName}`;
}

/** The ESC environment the stack file imports, at the tag this project moves to each revision it writes. */
export const ENVIRONMENT_TAG = "stable";

/** Everything about one jobfleet stack the deployments project needs, checked against the stack file. */
export function readTargetStack(stack: JobfleetStack, settings: DeploymentsConfig, repoRoot = PROJECT_ROOT): TargetStack {
    const source = loadStackConfig(stack, undefined, repoRoot);
    const config = validateConfig(source.config, stack);
    const expectedEnvironment = `${PROJECT}/${stack}@${ENVIRONMENT_TAG}`;
    if (source.environments.length !== 1 || source.environments[0] !== expectedEnvironment) {
        throw new Error(
            `Pulumi.${stack}.yaml imports ${JSON.stringify(source.environments)}; expected exactly the ESC environment ${expectedEnvironment}, the one this project defines and tags (an untagged import would take edits made outside review).`,
        );
    }
    const awsAccountId = settings.awsAccountIds[stack];
    const roles = ciRoleNames(PROJECT, stack);
    return {
        stack,
        organization: config.pulumiOrganization,
        project: PROJECT,
        repository: config.githubRepository,
        branch: settings.branch,
        region: config.region,
        awsAccountId,
        previewRoleArn: roleArn(config.region, awsAccountId, roles.preview),
        deployRoleArn: roleArn(config.region, awsAccountId, roles.deploy),
        deployOnPush: stack === "staging" ? true : settings.prodDeployOnPush,
        environment: { project: PROJECT, name: stack },
        policyPack: readPolicyPack(stack, settings.policyPackVersionTag, repoRoot),
    };
}

/** Where the pre-run command that picks the AWS role lives, relative to the repository root. */
export const AWS_ROLE_COMMAND = "deployments/awsRole.ts";

/**
 * Deployments: source from the repository's branch, `npm ci`, then AWS by operation: the pre-run
 * command reads this deployment's OIDC token and writes an AWS profile for the read-only role
 * (preview) or the deploy role (update, refresh, destroy, drift); IAM's trust decides which one the
 * token may actually assume. Deployments' own single-role OIDC setting is not used for that reason.
 */
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
            preRunCommands: [
                "npm ci --no-audit --no-fund",
                [
                    `npx ts-node --transpile-only ${AWS_ROLE_COMMAND}`,
                    `--organization ${t.organization} --project ${t.project} --stack ${t.stack} --region ${t.region}`,
                    `--preview-role ${t.previewRoleArn} --deploy-role ${t.deployRoleArn}`,
                ].join(" "),
            ],
            // Not a secret: where the AWS SDKs of the CLI and the providers find that profile.
            environmentVariables: { AWS_CONFIG_FILE: AWS_CONFIG_PATH, AWS_SDK_LOAD_CONFIG: "1" },
        },
        cacheOptions: { enable: true },
    };
}

/**
 * The ESC environment the stack file imports (`<project>/<stack>@stable`). It holds no credentials
 * and no secrets on purpose: anything it logged into would reach every operation that imports it,
 * previews included (ESC's token names no operation), and its pulumiConfig would override the
 * per-operation role. What it carries is the account guard: the AWS provider refuses to act on any
 * account but the stack's own, whichever credentials an operation has.
 */
export function environmentDefinition(t: TargetStack): Record<string, unknown> {
    return {
        values: {
            aws: { region: t.region, accountId: t.awsAccountId },
            pulumiConfig: {
                "aws:allowedAccountIds": ["${aws.accountId}"],
            },
        },
    };
}

export function environmentYaml(t: TargetStack): string {
    const header = `# Managed by the ${DEPLOYMENTS_PROJECT} Pulumi project (deployments/ in ${t.repository}); edits here are overwritten and reach the stack only through the ${ENVIRONMENT_TAG} tag.\n`;
    return header + YAML.stringify(environmentDefinition(t), { lineWidth: 0 });
}

/** The policy pack enforced on the stack (preventative: a mandatory violation fails the preview and the update), config in the API form. */
export function policyGroupArgs(t: TargetStack): pulumiservice.PolicyGroupArgs {
    return {
        name: `${t.project}-${t.stack}`,
        organizationName: t.organization,
        entityType: "stacks",
        mode: "preventative",
        stacks: [{ name: t.stack, routingProject: t.project }],
        policyPacks: [{ name: t.policyPack.name, versionTag: t.policyPack.versionTag, config: t.policyPack.apiConfig }],
    };
}

/** Drift detection on the stack's schedule; remediation stays a reviewed update, never automatic. */
export function driftScheduleArgs(t: TargetStack, cron: string): pulumiservice.DriftScheduleArgs {
    return { organization: t.organization, project: t.project, stack: t.stack, scheduleCron: cron, autoRemediate: false };
}

/**
 * Pulumi Cloud's approval rules (pulumiservice 1.3 ApprovalRule, the REST API's change gates) target
 * ESC environments only, with the action `update`: a change to prod's environment waits for one
 * approval from the team, not from its author, and a changed draft needs approving again.
 * Prod stack updates are gated on the GitHub side (the production environment of deploy-prod.yml).
 */
export function prodApprovalRuleArgs(t: TargetStack, team: string): pulumiservice.ApprovalRuleArgs {
    return {
        name: `${t.project}-${t.stack}-environment-changes`,
        enabled: true,
        environmentIdentifier: { organization: t.organization, project: t.environment.project, name: t.environment.name },
        targetActionTypes: ["update"],
        approvalRuleConfig: { numApprovalsRequired: 1, allowSelfApproval: false, requireReapprovalOnChange: true, eligibleApprovers: [{ teamName: team }] },
    };
}

// ---------------------------------------------------------------------------------------------
// Review stacks (issue 14): the pr-environments project, one stack per pull request
// ---------------------------------------------------------------------------------------------

export const REVIEW_STACKS_DIRECTORY = "pr-environments";
export const REVIEW_TEMPLATE_STACK = "pr";
/** The org's default policy group: Pulumi Cloud adds every new stack to it, so review stacks land there on creation. */
export const DEFAULT_POLICY_GROUP = "default-policy-group";

/** What pr-environments/ needs before each operation of a review stack (docs/artifacts.md). */
export const REVIEW_STACK_PRE_RUN_COMMANDS = ["cd .. && npm ci --no-audit --no-fund", "bash pre-run.sh"];

/**
 * The ESC environment Pulumi.pr.yaml imports (`jobfleet/pr`): like the main stacks' environments,
 * no credentials (the review-stack role comes from the deployment's own OIDC token) and the
 * staging account as the only one the AWS provider may touch.
 */
export function reviewEnvironmentDefinition(r: ReviewStacks, stagingAccountId: string): Record<string, unknown> {
    return { values: { aws: { region: r.region, accountId: stagingAccountId }, pulumiConfig: { "aws:allowedAccountIds": ["${aws.accountId}"] } } };
}

export interface ReviewStacks {
    organization: string;
    project: string;
    templateStack: string;
    directory: string;
    repository: string;
    branch: string;
    region: string;
    roleArn: string;
    policyPack: PolicyPackRef;
}

/** Files whose change can change a review stack: its own program and what it shares with the main program. */
export function reviewStackPaths(): string[] {
    return [`${REVIEW_STACKS_DIRECTORY}/**`, "components/**", "runtime/**", "artifacts/**", "config.ts", "package.json", "package-lock.json", "tsconfig.json"];
}

/** Review stacks run in the staging account with the review-stack role, and take staging's pack config. */
export function readReviewStacks(staging: TargetStack, repoRoot = PROJECT_ROOT): ReviewStacks {
    return {
        organization: staging.organization,
        project: REVIEW_STACKS_PROJECT,
        templateStack: REVIEW_TEMPLATE_STACK,
        directory: REVIEW_STACKS_DIRECTORY,
        repository: staging.repository,
        branch: staging.branch,
        region: staging.region,
        roleArn: roleArn(staging.region, staging.awsAccountId, ciRoleNames(PROJECT, "staging").reviewStacks),
        policyPack: { ...readPolicyPack("staging", staging.policyPack.versionTag, repoRoot) },
    };
}

/**
 * The template stack `pr`: `pullRequestTemplate` makes Pulumi Deployments create a review stack from
 * it for each pull request against the branch (config copied from Pulumi.pr.yaml, these settings
 * copied), update it on every push and destroy it when the pull request closes. Every operation of
 * a review stack runs the pull request's code, so all of them get the review-stack role, which has
 * no secret reads and IAM only for the bounded roles review stacks create (components/ciAccess.ts).
 * With `accessToken`, Deployments runs them with that Pulumi token (a secret variable) instead of
 * the pull-request deployment's own, which cannot read staging when the organization's default
 * stack permission is None.
 */
export function reviewStackSettingsArgs(r: ReviewStacks, accessToken?: pulumi.Input<string>): pulumiservice.DeploymentSettingsArgs {
    return {
        organization: r.organization,
        project: r.project,
        stack: r.templateStack,
        sourceContext: { git: { branch: `refs/heads/${r.branch}`, repoDir: r.directory } },
        vcs: {
            provider: "github",
            repository: r.repository,
            deployCommits: false,
            previewPullRequests: false,
            pullRequestTemplate: true,
            paths: reviewStackPaths(),
        },
        operationContext: {
            options: { skipInstallDependencies: true, skipIntermediateDeployments: true },
            // repoDir is pr-environments/: install the repository's workspace from its root, then
            // pre-run.sh builds, retains the newest builds (update) or removes them all (destroy).
            preRunCommands: REVIEW_STACK_PRE_RUN_COMMANDS,
            oidc: { aws: { roleARN: r.roleArn, sessionName: `${r.project}-review`, duration: "1h0m0s" } },
            ...(accessToken !== undefined ? { environmentVariables: { PULUMI_ACCESS_TOKEN: pulumi.secret(accessToken) } } : {}),
        },
        cacheOptions: { enable: true },
    };
}

/**
 * The default policy group, adopted rather than created (it exists in every organization and
 * cannot be deleted): only its packs are managed. `stacks` is left to Pulumi Cloud, which adds
 * each new stack, review stacks included, the moment it is created; the provider's update is a
 * diff of add/remove calls, so with `stacks` ignored it never removes a member.
 */
export function reviewStacksPolicyGroupArgs(r: ReviewStacks): pulumiservice.PolicyGroupArgs {
    return {
        name: DEFAULT_POLICY_GROUP,
        organizationName: r.organization,
        entityType: "stacks",
        mode: "preventative",
        policyPacks: [{ name: r.policyPack.name, versionTag: r.policyPack.versionTag, config: r.policyPack.apiConfig }],
    };
}

/**
 * How a review stack's name carries its pull request: Pulumi Cloud names review stacks
 * `pr-<organization>-<repository>-<number>` (stated on its Azure DevOps integration page); a stack
 * previewed offline or by CI is `pr-<number>`. Deployments also sets PULUMI_CI_STACK (that name),
 * PULUMI_CI_OPERATION and, for pull-request events, PULUMI_PR_NUMBER. The program's own reading is
 * pr-environments/pullRequest.ts; this one is what the role's trust and the docs assume.
 */
export function pullRequestNumberOf(stackName: string): number {
    const match = /^(?:pr-(\d+)|[A-Za-z0-9._-]+-(\d+))$/.exec(stackName);
    const n = match ? Number(match[1] ?? match[2]) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`stack ${JSON.stringify(stackName)} does not end in a pull request number (expected pr-<n> or a review stack name ending in -<n>)`);
    return n;
}

// ---------------------------------------------------------------------------------------------
// The policy pack Pulumi Cloud enforces: the one in policies/, published from this repository
// ---------------------------------------------------------------------------------------------

export interface PolicyPackPublication {
    name: string;
    versionTag: string;
    /** Relative to deployments/, where the provider runs: it `npm pack`s this directory. */
    sourcePath: string;
}

export function policyPackPublication(repoRoot = PROJECT_ROOT): PolicyPackPublication {
    const manifest = readJson(path.join(repoRoot, "policies", "package.json"), "the policy pack's name and version") as { name?: unknown; version?: unknown };
    if (typeof manifest.name !== "string" || typeof manifest.version !== "string") {
        throw new Error("policies/package.json must name the pack (name) and its version (version).");
    }
    return { name: manifest.name, versionTag: manifest.version, sourcePath: "../policies" };
}
