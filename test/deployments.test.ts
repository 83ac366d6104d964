import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { DEPLOY_OPERATIONS, DeploymentOperation, DEPLOY_MANAGED_POLICY_ARNS, REVIEW_STACKS_PROJECT } from "../components/ciAccess";
import { awsConfigText, claimsOf, main as chooseAwsRole, roleFor } from "../deployments/awsRole";
import {
    DeploymentsConfigError,
    deployPaths,
    DEPLOYMENTS_PROJECT,
    parseDeploymentsConfig,
    policyConfigToApiForm,
    pullRequestNumberOf,
    readReviewStacks,
    readTargetStack,
    reviewStackPaths,
    reviewStackSettingsArgs,
} from "../deployments/settings";
import { AnalyzerInfo, PolicyAnalyzer, PolicyPackConfigFile, reconcileConfig } from "../tooling/policyAnalyzer";
import { CapturedPlan, CapturedProjectPlan, CapturedResource, captureProject, inputsOf } from "../tooling/capture";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { standardPlan } from "./support/plans";

const DEPLOYMENTS_ROOT = path.join(PROJECT_ROOT, "deployments");
const SETTINGS = "pulumiservice:index:DeploymentSettings";
const ENVIRONMENT = "pulumiservice:index:Environment";
const POLICY_GROUP = "pulumiservice:index:PolicyGroup";
const VERSION_TAG = "pulumiservice:index:EnvironmentVersionTag";
const DRIFT = "pulumiservice:index:DriftSchedule";
const APPROVAL = "pulumiservice:index:ApprovalRule";
const POLICY_PACK = "pulumiservice:index:PolicyPack";
const ORG = "jobfleet-org";

function captureDeployments(configOverrides?: Record<string, string>): Promise<CapturedProjectPlan> {
    return captureProject({ projectRoot: DEPLOYMENTS_ROOT, project: DEPLOYMENTS_PROJECT, stack: "main", configOverrides });
}

function byInput(plan: CapturedProjectPlan, type: string, key: string, value: string): Record<string, any> {
    const found = plan.resources.filter((r) => r.type === type && inputsOf(r)[key] === value);
    assert.equal(found.length, 1, `expected one ${type} with ${key} = ${value}, found ${found.length}`);
    return inputsOf(found[0]);
}

/** Glob as Pulumi Deployments' path filters read it: `**` crosses directories, `*` does not. */
function globMatches(glob: string, file: string): boolean {
    const source = glob
        .split("**")
        .map((part) => part.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*"))
        .join(".*");
    return new RegExp(`^${source}$`).test(file);
}

/** The program's own modules: index.ts and every relative import it reaches, transitively. */
function localImportsOf(entry: string): string[] {
    const seen = new Set<string>();
    const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
        for (const { fileName } of importedFiles) {
            if (!fileName.startsWith(".")) continue;
            const base = path.resolve(path.dirname(file), fileName);
            const resolved = [`${base}.ts`, path.join(base, "index.ts"), base].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
            assert.ok(resolved, `${path.relative(PROJECT_ROOT, file)} imports ${fileName}, which does not resolve`);
            visit(resolved);
        }
    };
    visit(entry);
    return [...seen];
}

/** IAM's StringLike: `*` matches any run of characters, `?` one. */
function stringLike(pattern: string, value: string): boolean {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${source}$`).test(value);
}

type TrustStatement = { Sid: string; Effect: string; Action: string | string[]; Principal: { Federated?: string } | string; Condition?: Record<string, Record<string, string | string[]>> };

function trustOf(plan: CapturedPlan, roleName: string): TrustStatement[] {
    const role = plan.resources.find((r: CapturedResource) => r.type === "aws:iam/role:Role" && inputsOf(r).name === roleName);
    assert.ok(role, `the jobfleet program creates the role ${roleName}`);
    return JSON.parse(inputsOf(role).assumeRolePolicy).Statement;
}

interface WebIdentityToken {
    issuer: "token.actions.githubusercontent.com" | "api.pulumi.com/oidc";
    aud: string;
    sub: string;
}

/**
 * Whether IAM lets this token assume a role with this trust: an Allow of sts:AssumeRoleWithWebIdentity
 * for the issuer's provider whose every condition holds (StringEquals/StringLike: any listed value
 * matches; a key the token lacks fails the condition). Operators outside these two make the test fail:
 * a trust this evaluator cannot read is not one the test may call safe.
 */
function trustAdmits(trust: TrustStatement[], providerArns: Record<string, string>, token: WebIdentityToken): boolean {
    return trust.some((s) => {
        if (s.Effect !== "Allow") return false;
        const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
        if (!actions.some((a) => a === "sts:AssumeRoleWithWebIdentity" || a === "sts:*" || a === "*")) return false;
        if (typeof s.Principal === "string" || s.Principal.Federated !== providerArns[token.issuer]) return false;
        return Object.entries(s.Condition ?? {}).every(([operator, keys]) => {
            assert.ok(operator === "StringEquals" || operator === "StringLike", `trust ${s.Sid}: condition operator ${operator} is not one this test evaluates`);
            return Object.entries(keys).every(([key, expected]) => {
                const claim = key === `${token.issuer}:sub` ? token.sub : key === `${token.issuer}:aud` ? token.aud : undefined;
                if (claim === undefined) return false;
                const values = Array.isArray(expected) ? expected : [expected];
                return values.some((v) => (operator === "StringEquals" ? v === claim : stringLike(v, claim)));
            });
        });
    });
}

function deploymentsToken(project: string, stack: string, operation: string, org = ORG): WebIdentityToken {
    return { issuer: "api.pulumi.com/oidc", aud: org, sub: `pulumi:deploy:org:${org}:project:${project}:stack:${stack}:operation:${operation}:scope:write` };
}

/** A JWT as Pulumi Deployments mints it, unsigned: the role choice reads claims only (STS checks the signature). */
function jwt(sub: string): string {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    return `${part({ alg: "RS256", typ: "JWT" })}.${part({ iss: "https://api.pulumi.com/oidc", aud: ORG, sub })}.signature`;
}

/** Managed policy ARNs attached to a role of the plan, by the role's name. */
function managedPoliciesOf(plan: CapturedPlan, roleName: string): string[] {
    return plan.resources.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && inputsOf(r).role === roleName).map((r) => String(inputsOf(r).policyArn));
}

/** Whether an inline policy of the role allows every action, or every IAM action (which grants the rest). */
function inlineAdmin(plan: CapturedPlan, roleName: string): boolean {
    return plan.resources
        .filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && inputsOf(r).role === roleName)
        .flatMap((r) => JSON.parse(String(inputsOf(r).policy)).Statement as Array<{ Effect: string; Action?: string | string[] }>)
        .some((st) => st.Effect === "Allow" && ([] as string[]).concat(st.Action ?? []).some((a) => a === "*" || a === "*:*" || a.toLowerCase() === "iam:*"));
}

/** AWS managed policies that amount to administrator: all actions, or IAM (which grants the rest). */
const ADMIN_EQUIVALENT = /policy\/(AdministratorAccess|IAMFullAccess|AdministratorAccess-Amplify|AWSCloudFormationFullAccess)$/;

/**
 * What the engine does with a policy group's config (pkg/resource/analyzer/config.go,
 * ParsePolicyPackConfigFromAPI): each entry unmarshalled into an object, enforcementLevel taken
 * out and checked, empty entries dropped. A bare string is a Go unmarshal error.
 */
function parsePolicyPackConfigFromApi(config: Record<string, unknown>): PolicyPackConfigFile {
    const result: PolicyPackConfigFile = {};
    for (const [name, raw] of Object.entries(config)) {
        if (raw === null) continue;
        const value = JSON.parse(JSON.stringify(raw)) as unknown;
        if (typeof value !== "object" || Array.isArray(value)) throw new Error(`json: cannot unmarshal ${Array.isArray(value) ? "array" : typeof value} into Go value of type map[string]interface {} (policy ${name})`);
        const props = { ...(value as Record<string, unknown>) };
        const level = props.enforcementLevel;
        delete props.enforcementLevel;
        if (level !== undefined && (typeof level !== "string" || !["advisory", "mandatory", "remediate", "disabled"].includes(level))) {
            throw new Error(`parsing enforcement level for "${name}": ${JSON.stringify(level)} is not a valid enforcement level`);
        }
        if (level === undefined && Object.keys(props).length === 0) continue;
        result[name] = { ...(level ? { enforcementLevel: level as "mandatory" } : {}), ...props };
    }
    return result;
}

describe("deployments project (jobfleet-deployments)", () => {
    let plan: CapturedProjectPlan;
    let analyzerInfo: AnalyzerInfo;
    const jobfleet: Record<string, CapturedPlan> = {};
    const providers: Record<string, Record<string, string>> = {};
    before(async function () {
        this.timeout(120_000);
        plan = await captureDeployments();
        jobfleet.staging = await standardPlan("staging");
        jobfleet.prod = await standardPlan("prod");
        for (const stack of ["staging", "prod"]) {
            const arnOf = (name: string) => String(jobfleet[stack].resources.find((r) => r.name === name)!.outputs.arn);
            providers[stack] = { "token.actions.githubusercontent.com": arnOf("ci-access-github"), "api.pulumi.com/oidc": arnOf("ci-access-pulumi") };
        }
        // The pack's own policy list and config schemas, from GetAnalyzerInfo as the engine asks for them.
        const analyzer = await PolicyAnalyzer.start({ packDir: path.join(PROJECT_ROOT, "policies"), typeCheck: false });
        try {
            analyzerInfo = await analyzer.getAnalyzerInfo();
        } finally {
            await analyzer.close();
        }
    });

    it("is its own Pulumi project, so no stack manages its own deployment settings", () => {
        const project = YAML.parse(fs.readFileSync(path.join(DEPLOYMENTS_ROOT, "Pulumi.yaml"), "utf8"));
        assert.equal(project.name, "jobfleet-deployments");
        assert.equal(project.runtime.name, "nodejs");
        const managed = plan.resources.filter((r) => r.type === SETTINGS).map((r) => `${inputsOf(r).project}/${inputsOf(r).stack}`);
        assert.deepEqual(managed.sort(), [`${REVIEW_STACKS_PROJECT}/pr`, "jobfleet/prod", "jobfleet/staging"]);
    });

    for (const stack of ["staging", "prod"] as const) {
        describe(`settings of jobfleet/${stack}`, () => {
            const accountId = stack === "staging" ? "111122223333" : "444455556666";
            const roles = { preview: `arn:aws:iam::${accountId}:role/jobfleet-${stack}-gha-preview`, deploy: `arn:aws:iam::${accountId}:role/jobfleet-${stack}-pulumi-deploy` };

            it("deploys from this repository's main branch, previews every pull request, installs with npm ci", () => {
                const s = byInput(plan, SETTINGS, "stack", stack);
                assert.equal(s.organization, jobfleet[stack].config.pulumiOrganization);
                assert.equal(s.project, "jobfleet");
                assert.deepEqual(s.sourceContext, { git: { branch: "refs/heads/main" } });
                assert.equal(s.vcs.provider, "github");
                assert.equal(s.vcs.repository, jobfleet[stack].config.githubRepository);
                assert.equal(s.vcs.previewPullRequests, true);
                assert.equal(s.vcs.pullRequestTemplate, false);
                assert.equal(s.vcs.deployCommits, stack === "staging", `${stack} deploys on push: ${stack === "staging"}`);
                assert.equal(s.operationContext.options.skipInstallDependencies, true, "the executor's own npm install is skipped");
                assert.match(s.operationContext.preRunCommands[0], /^npm ci\b/, "the first pre-run command installs with npm ci");
                assert.equal(s.github, undefined, "the deprecated github block is not used");
            });

            it("does not give every operation one role: Deployments' single-role OIDC is off, a pre-run command picks the role by the token's operation", () => {
                const s = byInput(plan, SETTINGS, "stack", stack);
                assert.equal(s.operationContext.oidc, undefined, "one roleARN for every operation would give previews the deploy role");
                assert.deepEqual(s.operationContext.environmentVariables, { AWS_CONFIG_FILE: "/tmp/jobfleet-aws/config", AWS_SDK_LOAD_CONFIG: "1" });
                const command: string = s.operationContext.preRunCommands[1];
                assert.match(command, /^npx ts-node --transpile-only deployments\/awsRole\.ts /);
                assert.ok(fs.existsSync(path.join(PROJECT_ROOT, "deployments", "awsRole.ts")));
                const argv = command.split(" ").slice(4);
                const arg = (name: string) => argv[argv.indexOf(`--${name}`) + 1];
                assert.equal(arg("preview-role"), roles.preview);
                assert.equal(arg("deploy-role"), roles.deploy);
                assert.deepEqual([arg("organization"), arg("project"), arg("stack"), arg("region")], [ORG, "jobfleet", stack, "us-east-1"]);

                // Run the command as a deployment would, for each operation, and check the role it picks against IAM's trust.
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-awsrole-"));
                try {
                    for (const operation of ["preview", ...DEPLOY_OPERATIONS] as DeploymentOperation[]) {
                        const token = deploymentsToken("jobfleet", stack, operation);
                        fs.writeFileSync(path.join(dir, "pulumi.oidc"), jwt(token.sub));
                        const env = { AWS_CONFIG_FILE: path.join(dir, "config"), JOBFLEET_OIDC_TOKEN_FILE: path.join(dir, "pulumi.oidc"), PULUMI_CI_OPERATION: operation };
                        const choice = chooseAwsRole(argv, env);
                        const expectedRole = operation === "preview" ? roles.preview : roles.deploy;
                        assert.equal(choice.roleArn, expectedRole, `${operation} runs with ${expectedRole}`);
                        assert.match(fs.readFileSync(env.AWS_CONFIG_FILE, "utf8"), new RegExp(`role_arn = ${expectedRole.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\n`));
                        const roleName = expectedRole.split("/").pop()!;
                        assert.ok(trustAdmits(trustOf(jobfleet[stack], roleName), providers[stack], token), `the trust of ${roleName} admits a ${operation} token of jobfleet/${stack}`);
                    }
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            });

            it("keeps the deploy role out of reach of previews, of other stacks and of other projects, whatever the pre-run command asks for", () => {
                const trust = trustOf(jobfleet[stack], `jobfleet-${stack}-pulumi-deploy`);
                const other = stack === "staging" ? "prod" : "staging";
                const refused: Array<[string, WebIdentityToken]> = [
                    ["a Deployments preview of this stack", deploymentsToken("jobfleet", stack, "preview")],
                    ["an update of the other stack", deploymentsToken("jobfleet", other, "update")],
                    ["an update of the deployments project", deploymentsToken(DEPLOYMENTS_PROJECT, stack, "update")],
                    ["an update of a review stack", deploymentsToken(REVIEW_STACKS_PROJECT, "pr-51", "update")],
                    ["an update in another organization", deploymentsToken("jobfleet", stack, "update", "another-org")],
                    ["a GitHub pull request", { issuer: "token.actions.githubusercontent.com", aud: "sts.amazonaws.com", sub: `repo:${jobfleet[stack].config.githubRepository}:pull_request` }],
                    ["a GitHub push to main", { issuer: "token.actions.githubusercontent.com", aud: "sts.amazonaws.com", sub: `repo:${jobfleet[stack].config.githubRepository}:ref:refs/heads/main` }],
                ];
                for (const [what, token] of refused) assert.equal(trustAdmits(trust, providers[stack], token), false, `the deploy role refuses ${what}`);
                for (const operation of DEPLOY_OPERATIONS) assert.ok(trustAdmits(trust, providers[stack], deploymentsToken("jobfleet", stack, operation)), `the deploy role admits ${operation}`);
            });

            it("defines the ESC environment the stack file imports at its stable tag: no credentials, no secrets, the account guard", () => {
                const stackFile = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
                assert.deepEqual(stackFile.environment, [`jobfleet/${stack}@stable`]);
                const env = byInput(plan, ENVIRONMENT, "name", stack);
                assert.equal(env.project, "jobfleet");
                assert.equal(env.organization, jobfleet[stack].config.pulumiOrganization);
                const text: string = env.yaml.text;
                const definition = YAML.parse(text);
                // ESC tokens name no operation, and an imported environment's values reach previews too.
                assert.doesNotMatch(text, /fn::open|fn::secret|accessKey|secretKey|sessionToken|AWS_SECRET|roleArn/, "nothing in the environment logs in or fetches a secret");
                assert.deepEqual(definition.values, { aws: { region: "us-east-1", accountId }, pulumiConfig: { "aws:allowedAccountIds": ["${aws.accountId}"] } });

                const tagResource = plan.resources.find((r) => r.type === VERSION_TAG && inputsOf(r).environment === stack)!;
                const envResource = plan.resources.find((r) => r.type === ENVIRONMENT && inputsOf(r).name === stack)!;
                assert.deepEqual({ ...inputsOf(tagResource) }, { organization: ORG, project: "jobfleet", environment: stack, tagName: "stable", revision: envResource.outputs.revision });
                const settings = plan.resources.find((r) => r.type === SETTINGS && inputsOf(r).stack === stack && inputsOf(r).project === "jobfleet")!;
                assert.ok(settings.dependencies.includes(tagResource.urn), "the settings wait for the tag the stack file imports");
            });

            it("enforces the pack through a policy group whose config is in the API form, which the engine reads back and the pack's schemas accept", () => {
                const group = byInput(plan, POLICY_GROUP, "name", `jobfleet-${stack}`);
                const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "package.json"), "utf8"));
                const packConfig = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "config", `${stack}.json`), "utf8"));
                assert.equal(group.mode, "preventative");
                assert.equal(group.entityType, "stacks");
                assert.deepEqual(group.stacks, [{ name: stack, routingProject: "jobfleet" }]);
                assert.equal(group.policyPacks.length, 1);
                const [reference] = group.policyPacks;
                assert.equal(reference.name, manifest.name);
                assert.equal(reference.versionTag, manifest.version);
                for (const [name, entry] of Object.entries<unknown>(reference.config)) {
                    assert.ok(entry && typeof entry === "object" && !Array.isArray(entry), `${name}: an object, as the API stores it`);
                }
                assert.deepEqual(reference.config.all, { enforcementLevel: "mandatory" });

                // Read back as the engine does, reconciled with the pack's GetAnalyzerInfo, validated against each policy's schema.
                const engineView = parsePolicyPackConfigFromApi(reference.config);
                const resolved = reconcileConfig(analyzerInfo, engineView);
                const fromFile = reconcileConfig(analyzerInfo, packConfig);
                assert.deepEqual(resolved, fromFile, "Pulumi Cloud enforces exactly what the offline gate and the PR preview use");
            });

            it("runs drift detection on a schedule, reporting rather than remediating", () => {
                const drift = byInput(plan, DRIFT, "stack", stack);
                assert.deepEqual({ ...drift }, { organization: ORG, project: "jobfleet", stack, scheduleCron: "0 */6 * * *", autoRemediate: false });
            });
        });
    }

    it("rejects the CLI-file form where the engine reads the API form (the failure this project had)", () => {
        const fileForm = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "config", "staging.json"), "utf8"));
        assert.throws(() => parsePolicyPackConfigFromApi(fileForm), /cannot unmarshal string .*policy all/);
        assert.throws(() => policyConfigToApiForm({ all: "blocking" }, "x.json"), /x\.json: all has enforcement level "blocking"; expected one of advisory, mandatory, remediate, disabled/);
        assert.throws(() => policyConfigToApiForm({ "s3-encryption": 3 }, "x.json"), /s3-encryption must be an enforcement level .* or an object, got 3/);
        assert.throws(() => policyConfigToApiForm({ environments: ["a/b"] }, "x.json"), /"environments"/);
        assert.deepEqual(policyConfigToApiForm({ all: "advisory", a: { enforcementLevel: "disabled", x: 1 }, b: {} }, "x.json"), { all: { enforcementLevel: "advisory" }, a: { enforcementLevel: "disabled", x: 1 } });
    });

    it("holds prod's environment changes for one approval by the approver team, not by their author", () => {
        const rules = plan.resources.filter((r) => r.type === APPROVAL);
        assert.equal(rules.length, 1);
        const rule = inputsOf(rules[0]);
        assert.deepEqual(rule.environmentIdentifier, { organization: ORG, project: "jobfleet", name: "prod" });
        assert.deepEqual(rule.targetActionTypes, ["update"]);
        assert.equal(rule.enabled, true);
        assert.deepEqual(rule.approvalRuleConfig, { numApprovalsRequired: 1, allowSelfApproval: false, requireReapprovalOnChange: true, eligibleApprovers: [{ teamName: "platform" }] });
    });

    it("publishes the pack of this commit, at the version of policies/package.json, before any group enforces it", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "package.json"), "utf8"));
        const packs = plan.resources.filter((r) => r.type === POLICY_PACK);
        assert.equal(packs.length, 1);
        assert.deepEqual({ ...inputsOf(packs[0]) }, { organization: ORG, name: manifest.name, versionTag: manifest.version, sourcePath: "../policies" });
        assert.ok(fs.existsSync(path.resolve(DEPLOYMENTS_ROOT, "../policies/PulumiPolicy.yaml")));
        for (const group of plan.resources.filter((r) => r.type === POLICY_GROUP)) assert.ok(group.dependencies.includes(packs[0].urn), `${group.name} waits for the publication`);
    });

    it("publishes nothing when told to enforce a version published before", async () => {
        const pinned = await captureDeployments({ "jobfleet-deployments:policyPackVersionTag": "0.0.9" });
        assert.equal(pinned.resources.filter((r) => r.type === POLICY_PACK).length, 0);
        assert.equal(byInput(pinned, POLICY_GROUP, "name", "jobfleet-prod").policyPacks[0].versionTag, "0.0.9");
    });

    it("no role that holds AdministratorAccess or an equivalent is assumable by a preview, a pull request or a review stack", () => {
        for (const stack of ["staging", "prod"]) {
            const p = jobfleet[stack];
            const repository = p.config.githubRepository;
            const previewTokens: Array<[string, WebIdentityToken]> = [
                ["a Deployments preview", deploymentsToken("jobfleet", stack, "preview")],
                ["a GitHub pull request", { issuer: "token.actions.githubusercontent.com", aud: "sts.amazonaws.com", sub: `repo:${repository}:pull_request` }],
                ["a GitHub pull request (immutable subject)", { issuer: "token.actions.githubusercontent.com", aud: "sts.amazonaws.com", sub: `repo:${repository.replace("/", "@1/")}@2:pull_request` }],
                ...["preview", "update", "destroy"].map((op): [string, WebIdentityToken] => [`a review stack ${op}`, deploymentsToken(REVIEW_STACKS_PROJECT, "pr-pulumi-jobfleet-51", op)]),
            ];
            const roles = p.resources.filter((r) => r.type === "aws:iam/role:Role");
            assert.ok(roles.length > 10);
            let admins = 0;
            for (const role of roles) {
                const name = String(inputsOf(role).name ?? role.name);
                const managed = managedPoliciesOf(p, name);
                const admin = managed.some((arn) => ADMIN_EQUIVALENT.test(arn)) || inlineAdmin(p, name);
                if (!admin) continue;
                admins += 1;
                const trust = JSON.parse(inputsOf(role).assumeRolePolicy).Statement as TrustStatement[];
                for (const [what, token] of previewTokens) assert.equal(trustAdmits(trust, providers[stack], token), false, `${stack}: ${name} holds ${managed.join(", ")} and must not be assumable by ${what}`);
            }
            assert.equal(admins, DEPLOY_MANAGED_POLICY_ARNS.length, `${stack}: the deploy role is the one admin role`);
        }
    });

    it("deploys only on changes that can change the stack", async () => {
        const paths: string[] = byInput(plan, SETTINGS, "stack", "staging").vcs.paths;
        assert.deepEqual(paths, deployPaths("staging"));
        // Every project file the program imports, followed from index.ts, is covered.
        const loaded = localImportsOf(path.join(PROJECT_ROOT, "index.ts")).map((f) => path.relative(PROJECT_ROOT, f).split(path.sep).join("/"));
        assert.ok(loaded.includes("index.ts") && loaded.includes("config.ts") && loaded.includes("components/ciAccess.ts"));
        for (const file of [...loaded, "Pulumi.yaml", "Pulumi.staging.yaml", "package-lock.json"]) {
            assert.ok(paths.some((g) => globMatches(g, file)), `a change to ${file} deploys staging`);
        }
        for (const file of ["README.md", "docs/deployments.md", "test/ciAccess.test.ts", ".github/workflows/preview.yml", "bench/policyGate.ts", "policies/iam.ts", "deployments/index.ts", "Pulumi.prod.yaml", "scripts/preview.ts", "pr-environments/index.ts", "images/shell-executor/Dockerfile"]) {
            assert.equal(paths.some((g) => globMatches(g, file)), false, `a change to ${file} alone does not deploy staging`);
        }
    });

    it("deploys prod on push too when its config says so", async () => {
        const onPush = await captureDeployments({ "jobfleet-deployments:prodDeployOnPush": "true" });
        assert.equal(byInput(onPush, SETTINGS, "stack", "prod").vcs.deployCommits, true);
        assert.equal(byInput(onPush, SETTINGS, "stack", "staging").vcs.deployCommits, true);
    });

    it("refuses bad config before registering anything, naming every key", async () => {
        await assert.rejects(
            captureDeployments({ "jobfleet-deployments:prodAwsAccountId": "4444-5555-6666", "jobfleet-deployments:prodDeployOnPush": "yes" }),
            (err: Error) => {
                assert.ok(err instanceof DeploymentsConfigError);
                assert.match(err.message, /jobfleet-deployments:prodAwsAccountId = "4444-5555-6666": expected the 12-digit id of the prod AWS account/);
                assert.match(err.message, /jobfleet-deployments:prodDeployOnPush = "yes": expected true or false/);
                return true;
            },
        );
    });

    describe("review stacks of jobfleet-pr-environments (issue 14)", () => {
        it("makes the pr stack the template: a stack per pull request, from pr-environments/, deployed with the review-stack role", () => {
            const s = plan.resources.map(inputsOf).find((i) => i.project === REVIEW_STACKS_PROJECT)!;
            assert.equal(s.stack, "pr");
            assert.deepEqual(s.sourceContext, { git: { branch: "refs/heads/main", repoDir: "pr-environments" } });
            assert.equal(s.vcs.pullRequestTemplate, true);
            assert.equal(s.vcs.deployCommits, false, "the template itself never deploys");
            assert.deepEqual(s.vcs.paths, reviewStackPaths());
            assert.equal(s.operationContext.oidc.aws.roleARN, "arn:aws:iam::111122223333:role/jobfleet-staging-review-stacks");
            assert.deepEqual(s.operationContext.preRunCommands, ["cd .. && npm ci --no-audit --no-fund", "bash pre-run.sh"]);
            const env = byInput(plan, ENVIRONMENT, "name", "pr");
            assert.equal(env.project, "jobfleet", "the environment pr-environments/Pulumi.pr.yaml imports (jobfleet/pr) exists");
            assert.doesNotMatch(env.yaml.text, /fn::open|fn::secret|roleArn/);
            assert.deepEqual(YAML.parse(env.yaml.text).values.pulumiConfig, { "aws:allowedAccountIds": ["${aws.accountId}"] });
            assert.equal(YAML.parse(env.yaml.text).values.aws.accountId, "111122223333");
            const trust = trustOf(jobfleet.staging, "jobfleet-staging-review-stacks");
            for (const op of ["preview", "update", "destroy"]) assert.ok(trustAdmits(trust, providers.staging, deploymentsToken(REVIEW_STACKS_PROJECT, "pr-pulumi-jobfleet-51", op)));
            assert.equal(trustAdmits(trust, providers.staging, deploymentsToken("jobfleet", "staging", "update")), false);
            assert.deepEqual(managedPoliciesOf(jobfleet.staging, "jobfleet-staging-review-stacks"), ["arn:aws:iam::aws:policy/PowerUserAccess"]);
            assert.equal(jobfleet.prod.resources.some((r) => r.type === "aws:iam/role:Role" && inputsOf(r).name === "jobfleet-prod-review-stacks"), false, "no review stack reaches prod's account");
        });

        it("runs review stacks with the configured Pulumi token as a secret variable, or with the deployment's own token without one", async () => {
            const s = plan.resources.map(inputsOf).find((i) => i.project === REVIEW_STACKS_PROJECT)!;
            assert.equal(s.operationContext.environmentVariables, undefined, "without reviewStacksAccessToken: Deployments' own token");
            const staging = readTargetStack("staging", parseDeploymentsConfig({ "jobfleet-deployments:stagingAwsAccountId": "111122223333", "jobfleet-deployments:prodAwsAccountId": "444455556666" }));
            const token = `pul-${"ab".repeat(20)}`;
            const args = reviewStackSettingsArgs(readReviewStacks(staging), token);
            const variable = (args.operationContext as { environmentVariables: Record<string, unknown> }).environmentVariables.PULUMI_ACCESS_TOKEN;
            assert.ok(pulumi.Output.isInstance(variable), "an output");
            assert.equal(await pulumi.isSecret(variable as pulumi.Output<string>), true, "marked secret, so the provider sends it as a secret variable");
            await assert.rejects(captureDeployments({ "jobfleet-deployments:reviewStacksAccessToken": token }), /reviewStacksAccessToken is set in plain text/);
        });

        it("covers review stacks before they exist: the pack on the org's default policy group, which Pulumi Cloud adds every new stack to", () => {
            const group = plan.resources.find((r) => r.type === POLICY_GROUP && inputsOf(r).name === "default-policy-group")!;
            assert.ok(group);
            assert.equal(inputsOf(group).mode, "preventative");
            assert.equal(inputsOf(group).stacks, undefined, "membership is Pulumi Cloud's");
            assert.deepEqual(group.options.ignoreChanges.sort(), ["accounts", "stacks"]);
            assert.equal(group.options.retainOnDelete, true, "the default group cannot be deleted");
            const [reference] = inputsOf(group).policyPacks;
            assert.deepEqual(reconcileConfig(analyzerInfo, parsePolicyPackConfigFromApi(reference.config)), reconcileConfig(analyzerInfo, JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "config", "staging.json"), "utf8"))));
        });

        it("derives the pull request number from the review stack's name", () => {
            assert.equal(pullRequestNumberOf("pr-51"), 51);
            assert.equal(pullRequestNumberOf("pr-jobfleet-org-jobfleet-52"), 52);
            for (const bad of ["pr", "pr-", "staging", "pr-0", "pr-51a"]) assert.throws(() => pullRequestNumberOf(bad), /does not end in a pull request number/);
        });
    });
});

describe("deployments AWS role choice (deployments/awsRole.ts)", () => {
    const expected = { organization: ORG, project: "jobfleet", stack: "prod" };
    const roles = { preview: "arn:aws:iam::444455556666:role/jobfleet-prod-gha-preview", deploy: "arn:aws:iam::444455556666:role/jobfleet-prod-pulumi-deploy" };
    const token = (operation: string, stack = "prod") => jwt(`pulumi:deploy:org:${ORG}:project:jobfleet:stack:${stack}:operation:${operation}:scope:write`);

    it("refuses a token for another stack, an unknown operation, or one that disagrees with PULUMI_CI_OPERATION", () => {
        assert.throws(() => roleFor(claimsOf(token("update", "staging")), expected, roles), /token is for stack "staging", but these settings belong to "prod"/);
        assert.throws(() => claimsOf(token("import")), /operation "import"; expected one of/);
        assert.throws(() => roleFor(claimsOf(token("preview")), expected, roles, "update"), /PULUMI_CI_OPERATION is "update" but the token names "preview"/);
        assert.throws(() => claimsOf("not-a-jwt"), /not a JWT/);
        assert.throws(() => claimsOf(jwt("repo:jobfleet-org/jobfleet:pull_request")), /is not a Pulumi Deployments subject/);
    });

    it("writes a web-identity profile and refuses what is not a role ARN", () => {
        assert.equal(awsConfigText(roles.deploy, "/mnt/pulumi/pulumi.oidc", "jobfleet-prod-update", "us-east-1"), "[default]\nrole_arn = arn:aws:iam::444455556666:role/jobfleet-prod-pulumi-deploy\nweb_identity_token_file = /mnt/pulumi/pulumi.oidc\nrole_session_name = jobfleet-prod-update\nregion = us-east-1\n");
        assert.throws(() => awsConfigText("arn:aws:iam::444455556666:user/admin", "/t", "s-1", "us-east-1"), /is not an IAM role ARN/);
    });
});

describe("deployments config", () => {
    const valid = { "jobfleet-deployments:stagingAwsAccountId": "111122223333", "jobfleet-deployments:prodAwsAccountId": "444455556666" };

    it("applies the defaults: main, prod on demand, the pack version of policies/package.json", () => {
        assert.deepEqual(parseDeploymentsConfig(valid), {
            branch: "main",
            awsAccountIds: { staging: "111122223333", prod: "444455556666" },
            prodDeployOnPush: false,
            policyPackVersionTag: "",
            driftScheduleCron: "0 */6 * * *",
            prodApproverTeam: "platform",
            reviewStacksAccessToken: "",
        });
    });

    it("takes the review stacks' Pulumi token only as a secret, and never prints it", () => {
        const token = `pul-${"0123456789abcdef".repeat(2)}01234567`;
        const key = "jobfleet-deployments:reviewStacksAccessToken";
        assert.equal(parseDeploymentsConfig({ ...valid, [key]: token }, (k) => k === key).reviewStacksAccessToken, token);
        for (const [value, isSecret, problem] of [
            [token, false, /reviewStacksAccessToken is set in plain text: it is a credential; set it with `pulumi config set --secret reviewStacksAccessToken`/],
            ["pul-short", true, /reviewStacksAccessToken = \(a value, not shown\): expected empty, or a Pulumi access token/],
        ] as const) {
            assert.throws(
                () => parseDeploymentsConfig({ ...valid, [key]: value }, () => isSecret),
                (err: Error) => {
                    assert.match(err.message, problem);
                    assert.ok(!err.message.includes(value), "the value is not in the message");
                    return true;
                },
            );
        }
    });

    it("names missing, malformed and unknown keys together", () => {
        assert.throws(
            () => parseDeploymentsConfig({ "jobfleet-deployments:prodAwsAccountId": "444455556666", "jobfleet-deployments:branch": "release/*", "jobfleet-deployments:stagingAccount": "1" }),
            (err: Error) => {
                assert.match(err.message, /3 problems/);
                assert.match(err.message, /jobfleet-deployments:branch = "release\/\*": expected a branch name like main \(no wildcards\)/);
                assert.match(err.message, /jobfleet-deployments:stagingAwsAccountId is not set: expected the 12-digit id of the staging AWS account/);
                assert.match(err.message, /jobfleet-deployments:stagingAccount is not a key jobfleet-deployments reads/);
                return true;
            },
        );
    });

    it("refuses a drift schedule cron that is not five valid fields", () => {
        for (const cron of ["0 */6 * *", "61 * * * *", "0 0 32 * *", "0 0 * * mon-fri", "*/0 * * * *"]) {
            assert.throws(() => parseDeploymentsConfig({ ...valid, "jobfleet-deployments:driftScheduleCron": cron }), /jobfleet-deployments:driftScheduleCron/, cron);
        }
        assert.equal(parseDeploymentsConfig({ ...valid, "jobfleet-deployments:driftScheduleCron": "15 1-5,22 * * 1-5" }).driftScheduleCron, "15 1-5,22 * * 1-5");
    });

    describe("against a stack file that imports another environment", () => {
        let root: string;
        before(() => {
            root = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-deployments-"));
            fs.copyFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
            const stackFile = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.staging.yaml"), "utf8"));
            stackFile.environment = ["jobfleet/shared-admin"];
            fs.writeFileSync(path.join(root, "Pulumi.staging.yaml"), YAML.stringify(stackFile));
            fs.mkdirSync(path.join(root, "policies", "config"), { recursive: true });
            fs.copyFileSync(path.join(PROJECT_ROOT, "policies", "package.json"), path.join(root, "policies", "package.json"));
            fs.copyFileSync(path.join(PROJECT_ROOT, "policies", "config", "staging.json"), path.join(root, "policies", "config", "staging.json"));
        });
        after(() => fs.rmSync(root, { recursive: true, force: true }));

        it("refuses it: the deploy role trusts only jobfleet/<stack>", () => {
            assert.throws(() => readTargetStack("staging", parseDeploymentsConfig(valid), root), /Pulumi\.staging\.yaml imports \["jobfleet\/shared-admin"\]; expected exactly the ESC environment jobfleet\/staging/);
        });

        it("refuses a pack config that is not a JSON object", () => {
            const stackFile = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.staging.yaml"), "utf8"));
            fs.writeFileSync(path.join(root, "Pulumi.staging.yaml"), YAML.stringify(stackFile));
            fs.writeFileSync(path.join(root, "policies", "config", "staging.json"), "[1, 2]");
            assert.throws(() => readTargetStack("staging", parseDeploymentsConfig(valid), root), /policies\/config\/staging\.json must be a JSON object/);
        });
    });
});
