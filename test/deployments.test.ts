import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import * as YAML from "yaml";
import {
    DeploymentsConfigError,
    deployPaths,
    DEPLOYMENTS_PROJECT,
    parseDeploymentsConfig,
    readTargetStack,
} from "../deployments/settings";
import { CapturedPlan, CapturedProjectPlan, CapturedResource, captureProject, inputsOf } from "../tooling/capture";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { standardPlan } from "./support/plans";

const DEPLOYMENTS_ROOT = path.join(PROJECT_ROOT, "deployments");
const SETTINGS = "pulumiservice:index:DeploymentSettings";
const ENVIRONMENT = "pulumiservice:index:Environment";
const POLICY_GROUP = "pulumiservice:index:PolicyGroup";

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

function trustOf(plan: CapturedPlan, roleName: string): Array<{ Sid: string; Principal: unknown; Condition: Record<string, Record<string, string>> }> {
    const role = plan.resources.find((r: CapturedResource) => r.type === "aws:iam/role:Role" && inputsOf(r).name === roleName);
    assert.ok(role, `the jobfleet program creates the role ${roleName}`);
    return JSON.parse(inputsOf(role).assumeRolePolicy).Statement;
}

/** Every string leaf of a value, with its path. */
function leaves(value: unknown, at = ""): Array<[string, string]> {
    if (typeof value === "string") return [[at, value]];
    if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, `${at}[${i}]`));
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => leaves(v, at ? `${at}.${k}` : k));
    return [];
}

describe("deployments project (jobfleet-deployments)", () => {
    let plan: CapturedProjectPlan;
    const jobfleet: Record<string, CapturedPlan> = {};
    before(async () => {
        plan = await captureDeployments();
        jobfleet.staging = await standardPlan("staging");
        jobfleet.prod = await standardPlan("prod");
    });

    it("is its own Pulumi project, so no stack manages its own deployment settings", () => {
        const project = YAML.parse(fs.readFileSync(path.join(DEPLOYMENTS_ROOT, "Pulumi.yaml"), "utf8"));
        assert.equal(project.name, "jobfleet-deployments");
        assert.equal(project.runtime.name, "nodejs");
        const managed = plan.resources.filter((r) => r.type === SETTINGS).map((r) => `${inputsOf(r).project}/${inputsOf(r).stack}`);
        assert.deepEqual(managed.sort(), ["jobfleet/prod", "jobfleet/staging"]);
    });

    for (const stack of ["staging", "prod"] as const) {
        describe(`settings of jobfleet/${stack}`, () => {
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
                assert.ok(s.operationContext.preRunCommands.some((c: string) => /^npm ci\b/.test(c)), "a pre-run command installs with npm ci");
                assert.equal(s.github, undefined, "the deprecated github block is not used");
            });

            it("gets AWS credentials through Deployments OIDC, from the deploy role the jobfleet stack creates", () => {
                const s = byInput(plan, SETTINGS, "stack", stack);
                const accountId = stack === "staging" ? "111122223333" : "444455556666";
                const roleName = `jobfleet-${stack}-pulumi-deploy`;
                assert.deepEqual(Object.keys(s.operationContext.oidc), ["aws"]);
                assert.equal(s.operationContext.oidc.aws.roleARN, `arn:aws:iam::${accountId}:role/${roleName}`);
                assert.match(s.operationContext.oidc.aws.sessionName, /^[\w+=,.@-]{2,64}$/);
                assert.equal(s.operationContext.environmentVariables, undefined, "no credentials or other values as plain environment variables");

                // The trust of that role (captured from the real jobfleet program) admits exactly this stack's deployments.
                const org = s.organization;
                const deployments = trustOf(jobfleet[stack], roleName).find((t) => t.Sid === "PulumiDeployments")!;
                assert.equal(deployments.Condition.StringEquals["api.pulumi.com/oidc:aud"], org);
                const subject = deployments.Condition.StringLike["api.pulumi.com/oidc:sub"];
                for (const operation of ["preview", "update", "refresh", "destroy"]) {
                    assert.ok(stringLike(subject, `pulumi:deploy:org:${org}:project:jobfleet:stack:${stack}:operation:${operation}:scope:write`));
                }
                const other = stack === "staging" ? "prod" : "staging";
                assert.equal(stringLike(subject, `pulumi:deploy:org:${org}:project:jobfleet:stack:${other}:operation:update:scope:write`), false);
                assert.equal(stringLike(subject, `pulumi:deploy:org:${org}:project:jobfleet-deployments:stack:${stack}:operation:update:scope:write`), false);
                assert.equal(stringLike(subject, `pulumi:deploy:org:another-org:project:jobfleet:stack:${stack}:operation:update:scope:write`), false);
            });

            it("defines the ESC environment the stack file imports: OIDC login to the deploy role and secret references only", () => {
                const stackFile = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
                assert.deepEqual(stackFile.environment, [`jobfleet/${stack}`]);
                const env = byInput(plan, ENVIRONMENT, "name", stack);
                assert.equal(env.project, "jobfleet");
                assert.equal(env.organization, jobfleet[stack].config.pulumiOrganization);
                const text: string = env.yaml.text;
                const definition = YAML.parse(text);
                const login = definition.values.aws.login["fn::open::aws-login"].oidc;
                const settings = byInput(plan, SETTINGS, "stack", stack);
                assert.equal(login.roleArn, settings.operationContext.oidc.aws.roleARN);
                assert.deepEqual(login.subjectAttributes, ["currentEnvironment.name"]);
                assert.equal(definition.values.pulumiConfig["aws:accessKey"], "${aws.login.accessKeyId}");
                assert.equal(definition.values.environmentVariables.AWS_SESSION_TOKEN, "${aws.login.sessionToken}");

                // The deploy role trusts this environment's ESC tokens, and no other environment's.
                const org = env.organization;
                const esc = trustOf(jobfleet[stack], `jobfleet-${stack}-pulumi-deploy`).find((t) => t.Sid === "PulumiEscEnvironment")!;
                assert.equal(esc.Condition.StringEquals["api.pulumi.com/oidc:aud"], `aws:${org}`);
                assert.equal(esc.Condition.StringEquals["api.pulumi.com/oidc:sub"], `pulumi:environments:pulumi.organization.login:${org}:currentEnvironment.name:${env.project}/${env.name}`);

                // No secret value: every string is an interpolation, an ARN or a plain setting.
                assert.doesNotMatch(text, /fn::secret/);
                for (const [where, value] of leaves(definition)) {
                    const plain = /^\$\{[a-zA-Z0-9_.]+\}$/.test(value) || /^arn:aws[a-z-]*:/.test(value) || /^[a-z]{2}-[a-z]+-\d$/.test(value) || /^\d+h$/.test(value) || /^[a-z0-9-]+$/.test(value) || value === "currentEnvironment.name";
                    assert.ok(plain, `${where} = ${JSON.stringify(value)} is neither a reference nor a plain setting`);
                }
                const references = definition.values.aws.secrets?.["fn::open::aws-secrets"].get ?? {};
                const expected = jobfleet[stack].config.sandboxBrokerCspApiTokenSecretArn;
                if (expected) {
                    assert.deepEqual(references, { sandboxBrokerCspApiToken: { secretId: expected } });
                    assert.equal(definition.values.aws.secrets["fn::open::aws-secrets"].login, "${aws.login}");
                } else {
                    assert.deepEqual(references, {});
                }
            });

            it("enforces the policy pack with the stack's own pack config, blocking instead of reporting", () => {
                const group = byInput(plan, POLICY_GROUP, "name", `jobfleet-${stack}`);
                const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "package.json"), "utf8"));
                const packConfig = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policies", "config", `${stack}.json`), "utf8"));
                assert.equal(group.mode, "preventative");
                assert.equal(group.entityType, "stacks");
                assert.deepEqual(group.stacks, [{ name: stack, routingProject: "jobfleet" }]);
                assert.deepEqual(group.policyPacks, [{ name: manifest.name, versionTag: manifest.version, config: packConfig }]);
            });
        });
    }

    it("deploys only on changes that can change the stack", async () => {
        const paths: string[] = byInput(plan, SETTINGS, "stack", "staging").vcs.paths;
        assert.deepEqual(paths, deployPaths("staging"));
        // Every project file the program imports, followed from index.ts, is covered.
        const loaded = localImportsOf(path.join(PROJECT_ROOT, "index.ts")).map((f) => path.relative(PROJECT_ROOT, f).split(path.sep).join("/"));
        assert.ok(loaded.includes("index.ts") && loaded.includes("config.ts") && loaded.includes("components/ciAccess.ts"));
        for (const file of [...loaded, "Pulumi.yaml", "Pulumi.staging.yaml", "package-lock.json"]) {
            assert.ok(paths.some((g) => globMatches(g, file)), `a change to ${file} deploys staging`);
        }
        for (const file of ["README.md", "docs/deployments.md", "test/ciAccess.test.ts", ".github/workflows/preview.yml", "bench/policyGate.ts", "policies/iam.ts", "deployments/index.ts", "Pulumi.prod.yaml", "scripts/preview.ts"]) {
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
});

describe("deployments config", () => {
    const valid = { "jobfleet-deployments:stagingAwsAccountId": "111122223333", "jobfleet-deployments:prodAwsAccountId": "444455556666" };

    it("applies the defaults: main, prod on demand, the pack version of policies/package.json", () => {
        assert.deepEqual(parseDeploymentsConfig(valid), {
            branch: "main",
            awsAccountIds: { staging: "111122223333", prod: "444455556666" },
            prodDeployOnPush: false,
            policyPackVersionTag: "",
        });
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
