import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import {
    checkCiAccessArgs,
    CiAccessArgs,
    DATA_PLANE_READS,
    ecrRepositoryArnsOf,
    IMAGE_PUSH_ACTIONS,
} from "../components/ciAccess";
import { ecrRepositoryArnOf } from "../components/ecrImage";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf } from "../tooling/capture";
import { PROJECT_ROOT } from "../tooling/stackConfig";
import { standardPlan } from "./support/plans";

interface Statement {
    Sid?: string;
    Effect: string;
    Principal?: unknown;
    Action: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

const ROLE = "aws:iam/role:Role";
const PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

function ciResources(plan: CapturedPlan): CapturedResource[] {
    const component = plan.resources.find((r) => r.type === "jobfleet:ci:CiAccess");
    assert.ok(component, "the program registers a jobfleet:ci:CiAccess component");
    return plan.resources.filter((r) => r.parent === component.urn);
}

function one(plan: CapturedPlan, type: string, name: string): CapturedResource {
    const found = ciResources(plan).filter((r) => r.type === type && r.name === name);
    assert.equal(found.length, 1, `expected one ${type} named ${name}`);
    return found[0];
}

function statements(document: unknown): Statement[] {
    const parsed = typeof document === "string" ? JSON.parse(document) : document;
    return parsed.Statement as Statement[];
}

function asList(v: string | string[] | undefined): string[] {
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Inline policy statements and managed policy ARNs of a role, found through the role's name. */
function permissionsOf(plan: CapturedPlan, role: CapturedResource) {
    const roleName = inputsOf(role).name;
    const inline = ciResources(plan)
        .filter((r) => r.type === ROLE_POLICY && inputsOf(r).role === roleName)
        .flatMap((r) => statements(inputsOf(r).policy));
    const managed = ciResources(plan)
        .filter((r) => r.type === ATTACHMENT && inputsOf(r).role === roleName)
        .map((r) => String(inputsOf(r).policyArn));
    return { inline, managed };
}

function assertNoStarPrincipal(trust: Statement[], roleName: string) {
    for (const s of trust) {
        assert.notEqual(s.Principal, "*", `${roleName} ${s.Sid}: Principal "*"`);
        const principal = s.Principal as Record<string, string | string[]>;
        for (const [kind, value] of Object.entries(principal)) {
            for (const v of asList(value)) assert.ok(v !== "*" && !v.includes("*"), `${roleName} ${s.Sid}: ${kind} principal ${v} has a wildcard`);
        }
    }
}

for (const stack of ["staging", "prod"] as const) {
    describe(`CI access (${stack})`, () => {
        let plan: CapturedPlan;
        let githubProviderArn: string;
        let pulumiProviderArn: string;
        before(async () => {
            plan = await standardPlan(stack);
            const github = one(plan, PROVIDER, "ci-access-github");
            const pulumiProvider = one(plan, PROVIDER, "ci-access-pulumi");
            githubProviderArn = String(github.outputs.arn);
            pulumiProviderArn = String(pulumiProvider.outputs.arn);
        });

        it("creates the GitHub OIDC provider for audience sts.amazonaws.com and the Pulumi provider for the organization", () => {
            const github = inputsOf(one(plan, PROVIDER, "ci-access-github"));
            assert.equal(github.url, "https://token.actions.githubusercontent.com");
            assert.deepEqual(github.clientIdLists, ["sts.amazonaws.com"]);
            const pulumiProvider = inputsOf(one(plan, PROVIDER, "ci-access-pulumi"));
            assert.equal(pulumiProvider.url, "https://api.pulumi.com/oidc");
            // Deployments tokens only: no ESC environment logs into these roles any more.
            assert.deepEqual(pulumiProvider.clientIdLists, [plan.config.pulumiOrganization]);
        });

        it("trusts pull requests of this repository and Deployments previews of this stack, and nothing else, with the preview role", () => {
            const org = plan.config.pulumiOrganization;
            const role = one(plan, ROLE, "ci-access-preview");
            const trust = statements(inputsOf(role).assumeRolePolicy);
            assertNoStarPrincipal(trust, "preview");
            assert.equal(trust.length, 2);
            for (const s of trust) {
                assert.equal(s.Effect, "Allow");
                assert.equal(s.Action, "sts:AssumeRoleWithWebIdentity");
            }
            assert.deepEqual(trust[0].Principal, { Federated: githubProviderArn });
            assert.deepEqual(trust[0].Condition, {
                StringEquals: {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": `repo:${plan.config.githubRepository}:pull_request`,
                },
            });
            assert.deepEqual(trust[1].Principal, { Federated: pulumiProviderArn });
            assert.deepEqual(trust[1].Condition, {
                StringEquals: { "api.pulumi.com/oidc:aud": org, "api.pulumi.com/oidc:sub": [`pulumi:deploy:org:${org}:project:jobfleet:stack:${stack}:operation:preview:scope:write`] },
            });
        });

        it("trusts pushes to main of this repository, and nothing else, with the image-push role", () => {
            const role = one(plan, ROLE, "ci-access-image-push");
            const trust = statements(inputsOf(role).assumeRolePolicy);
            assertNoStarPrincipal(trust, "image-push");
            assert.equal(trust.length, 1);
            assert.deepEqual(trust[0].Principal, { Federated: githubProviderArn });
            assert.deepEqual(trust[0].Condition, {
                StringEquals: {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": `repo:${plan.config.githubRepository}:ref:refs/heads/main`,
                },
            });
        });

        it("trusts only update, refresh, destroy and drift runs of exactly this organization, project and stack with the deploy role", () => {
            const org = plan.config.pulumiOrganization;
            const role = one(plan, ROLE, "ci-access-deploy");
            const trust = statements(inputsOf(role).assumeRolePolicy);
            assertNoStarPrincipal(trust, "deploy");
            assert.equal(trust.length, 1);
            const [s] = trust;
            assert.equal(s.Effect, "Allow");
            assert.deepEqual(s.Principal, { Federated: pulumiProviderArn });
            assert.equal(s.Action, "sts:AssumeRoleWithWebIdentity");
            // Exact subjects: no wildcard anywhere, so no preview and no other stack can match.
            assert.deepEqual(Object.keys(s.Condition!), ["StringEquals"]);
            assert.deepEqual(s.Condition!.StringEquals, {
                "api.pulumi.com/oidc:aud": org,
                "api.pulumi.com/oidc:sub": ["update", "refresh", "destroy", "detect-drift", "remediate-drift"].map((op) => `pulumi:deploy:org:${org}:project:jobfleet:stack:${stack}:operation:${op}:scope:write`),
            });
            assert.doesNotMatch(JSON.stringify(s.Condition), /\*|operation:preview/);
        });

        it("names each role for its stack and tags it as a CI role", () => {
            for (const [name, suffix] of [["ci-access-preview", "gha-preview"], ["ci-access-image-push", "gha-image-push"], ["ci-access-deploy", "pulumi-deploy"]]) {
                const inputs = inputsOf(one(plan, ROLE, name));
                assert.equal(inputs.name, `jobfleet-${stack}-${suffix}`);
                assert.equal(inputs.tags["jobfleet:role-kind"], "ci");
                assert.equal(inputs.maxSessionDuration, 3600);
            }
            assert.equal(plan.outputs.ciPreviewRoleArn, one(plan, ROLE, "ci-access-preview").outputs.arn);
            assert.equal(plan.outputs.ciImagePushRoleArn, one(plan, ROLE, "ci-access-image-push").outputs.arn);
            assert.equal(plan.outputs.deployRoleArn, one(plan, ROLE, "ci-access-deploy").outputs.arn);
        });

        it("gives the preview role read-only access without data reads", () => {
            const { inline, managed } = permissionsOf(plan, one(plan, ROLE, "ci-access-preview"));
            assert.deepEqual(managed, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
            for (const arn of managed) assert.doesNotMatch(arn, /Administrator|PowerUser|FullAccess/);
            assert.ok(inline.length > 0);
            assert.ok(inline.every((s) => s.Effect === "Deny"), "the preview role's inline policy only takes permissions away");
            const denied = inline.flatMap((s) => asList(s.Action));
            for (const action of ["s3:GetObject", "secretsmanager:GetSecretValue", "sqs:ReceiveMessage", "dynamodb:Scan", "logs:GetLogEvents", "kms:Decrypt"]) {
                assert.ok(denied.includes(action), `the preview role denies ${action}`);
            }
            assert.deepEqual([...denied].sort(), [...DATA_PLANE_READS].sort());
        });

        it("limits the image-push role to pushing into the project's ECR repositories", () => {
            const { inline, managed } = permissionsOf(plan, one(plan, ROLE, "ci-access-image-push"));
            assert.deepEqual(managed, []);
            const c = plan.config;
            const configured = ecrRepositoryArnsOf([c.shellExecutorImage, c.jobWorkerImage, c.apiImage, c.sandboxBrokerImage, c.agentRuntimeImage, c.submissionRunnerImage]);
            assert.ok(configured.length >= 5, "every configured image is in the stack's ECR registry");
            // The runner's repository, created by the stack (offline its ARN has the mock account).
            const created = plan.resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => String(r.outputs.arn));
            assert.ok(created.length >= 1);
            const expectedRepositories = [...new Set([...configured, ...created])].sort();
            const login = inline.find((s) => s.Sid === "EcrLogin")!;
            assert.deepEqual(asList(login.Action), ["ecr:GetAuthorizationToken"]);
            assert.equal(login.Resource, "*");
            const push = inline.find((s) => s.Sid === "EcrPushProjectRepositories")!;
            assert.deepEqual(asList(push.Action), [...IMAGE_PUSH_ACTIONS]);
            assert.deepEqual(asList(push.Resource), expectedRepositories);
            for (const s of inline) {
                assert.equal(s.Effect, "Allow");
                for (const a of asList(s.Action)) {
                    assert.match(a, /^ecr:[A-Za-z]+$/, `image-push action ${a} is an exact ECR action`);
                }
                if (s.Sid !== "EcrLogin") for (const r of asList(s.Resource)) assert.match(r, /^arn:aws:ecr:[a-z0-9-]+:\d{12}:repository\/jobfleet\/[a-z-]+$/);
            }
        });

        it("lets the deploy role deploy, but never mint long-lived credentials or stop the audit trail", () => {
            const { inline, managed } = permissionsOf(plan, one(plan, ROLE, "ci-access-deploy"));
            assert.deepEqual(managed, ["arn:aws:iam::aws:policy/AdministratorAccess"]);
            const denied = inline.filter((s) => s.Effect === "Deny").flatMap((s) => asList(s.Action));
            for (const action of ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "cloudtrail:StopLogging", "organizations:LeaveOrganization"]) {
                assert.ok(denied.includes(action), `the deploy role denies ${action}`);
            }
            assert.ok(inline.every((s) => s.Effect === "Deny"));
        });
    });
}

describe("CI access with existing OIDC providers", () => {
    it("reuses the account's providers instead of creating them", async () => {
        const github = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
        const pulumiProvider = "arn:aws:iam::111122223333:oidc-provider/api.pulumi.com/oidc";
        const plan = await captureProgram({
            stack: "staging",
            configOverrides: { "jobfleet:githubOidcProviderArn": github, "jobfleet:pulumiOidcProviderArn": pulumiProvider },
        });
        assert.deepEqual(ciResources(plan).filter((r) => r.type === PROVIDER), []);
        const principals = ["ci-access-preview", "ci-access-image-push", "ci-access-deploy"].flatMap((name) =>
            statements(inputsOf(one(plan, ROLE, name)).assumeRolePolicy).map((s) => (s.Principal as { Federated: string }).Federated),
        );
        assert.deepEqual(principals, [github, pulumiProvider, github, pulumiProvider]);
    });

    it("refuses a provider ARN for another issuer before registering anything", async () => {
        await assert.rejects(
            captureProgram({ stack: "staging", configOverrides: { "jobfleet:githubOidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/gitlab.com" } }),
            /CiAccess ci-access: githubOidcProviderArn must be empty or the ARN of an IAM OIDC provider for token\.actions\.githubusercontent\.com .*gitlab\.com/,
        );
    });
});

describe("CI access with GitHub's immutable subject claims", () => {
    it("pins the owner and repository ids in both GitHub trusts when the prefix is set", async () => {
        const prefix = "repo:jobfleet-org@1234567/jobfleet@89012345";
        const plan = await captureProgram({ stack: "staging", configOverrides: { "jobfleet:githubOidcSubjectPrefix": prefix } });
        const subjectOf = (name: string) => statements(inputsOf(one(plan, ROLE, name)).assumeRolePolicy)[0].Condition!.StringEquals["token.actions.githubusercontent.com:sub"];
        assert.equal(subjectOf("ci-access-preview"), `${prefix}:pull_request`);
        assert.equal(subjectOf("ci-access-image-push"), `${prefix}:ref:refs/heads/main`);
    });

    it("refuses a prefix for another repository or in neither form, before registering anything", async () => {
        await assert.rejects(
            captureProgram({ stack: "staging", configOverrides: { "jobfleet:githubOidcSubjectPrefix": "repo:evil-org@1/jobfleet@2" } }),
            /CiAccess ci-access: githubSubjectPrefix must be empty or a prefix for the repository jobfleet-org\/jobfleet \(it names evil-org\/jobfleet\)/,
        );
        await assert.rejects(captureProgram({ stack: "staging", configOverrides: { "jobfleet:githubOidcSubjectPrefix": "repo:jobfleet-org/*" } }), /githubOidcSubjectPrefix/);
    });
});

describe("CiAccess arguments", () => {
    const valid: CiAccessArgs = {
        githubRepository: "jobfleet-org/jobfleet",
        pulumiOrganization: "jobfleet-org",
        pulumiProject: "jobfleet",
        stack: "staging",
        imageRepositoryArns: ["arn:aws:ecr:us-east-1:111122223333:repository/jobfleet/runner"],
    };

    it("accepts valid arguments", () => {
        checkCiAccessArgs("ci", valid);
    });

    const cases: Array<[string, Partial<CiAccessArgs>, RegExp]> = [
        ["a repository without owner", { githubRepository: "jobfleet" }, /githubRepository must be a GitHub repository written owner\/name.*"jobfleet"/],
        ["a wildcard branch", { mainBranch: "release/*" }, /mainBranch must be a branch name without wildcards.*"release\/\*"/],
        ["an organization with a space", { pulumiOrganization: "job fleet" }, /pulumiOrganization must be a Pulumi organization name.*"job fleet"/],
        ["no image repositories", { imageRepositoryArns: [] }, /imageRepositoryArns must be a non-empty list of ECR repository ARNs/],
        ["a wildcard repository", { imageRepositoryArns: ["arn:aws:ecr:us-east-1:111122223333:repository/*"] }, /imageRepositoryArns must be ECR repository ARNs .*without wildcards.*repository\/\*/],
        ["an immutable prefix with a non-numeric id", { githubSubjectPrefix: "repo:jobfleet-org@abc/jobfleet@1" }, /githubSubjectPrefix must be empty or repo:jobfleet-org\/jobfleet \(name form\) or repo:jobfleet-org@<owner id>\/jobfleet@<repository id>/],
        ["a prefix with a wildcard", { githubSubjectPrefix: "repo:jobfleet-org/*" }, /githubSubjectPrefix must be empty or/],
        ["review stacks of the same project", { reviewStacksProject: "jobfleet" }, /reviewStacksProject must be unset or the name of another Pulumi project than jobfleet/],
        ["a Pulumi provider for another host", { pulumiOidcProviderArn: "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com" }, /pulumiOidcProviderArn must be empty or the ARN of an IAM OIDC provider for api\.pulumi\.com\/oidc/],
    ];
    for (const [what, change, expected] of cases) {
        it(`rejects ${what}, naming the argument and the value`, () => {
            assert.throws(() => checkCiAccessArgs("ci", { ...valid, ...change }), expected);
        });
    }

    it("derives ECR repository ARNs from image references and skips other registries", () => {
        const digest = "@sha256:" + "a".repeat(64);
        assert.equal(ecrRepositoryArnOf(`111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/runner${digest}`), "arn:aws:ecr:us-east-1:111122223333:repository/jobfleet/runner");
        assert.equal(ecrRepositoryArnOf("111122223333.dkr.ecr.eu-south-2.amazonaws.com/uoc-tfm/runner:latest"), "arn:aws:ecr:eu-south-2:111122223333:repository/uoc-tfm/runner");
        assert.equal(ecrRepositoryArnOf("public.ecr.aws/nginx/nginx:1.27"), undefined);
        assert.equal(ecrRepositoryArnOf("docker.io/library/node:20"), undefined);
        assert.deepEqual(
            ecrRepositoryArnsOf([`111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/api${digest}`, `111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/api:v2`, "ghcr.io/x/y:1"]),
            ["arn:aws:ecr:us-east-1:111122223333:repository/jobfleet/api"],
        );
    });
});

describe("GitHub workflows", () => {
    const workflowDir = path.join(PROJECT_ROOT, ".github", "workflows");
    const read = (name: string) => ({ text: fs.readFileSync(path.join(workflowDir, name), "utf8"), doc: YAML.parse(fs.readFileSync(path.join(workflowDir, name), "utf8")) });
    type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
    const stepsOf = (doc: any): Step[] => Object.values(doc.jobs).flatMap((job: any) => job.steps as Step[]);

    it("hold no static AWS keys and pin every action to a full commit SHA, with its version in a comment", () => {
        for (const name of fs.readdirSync(workflowDir)) {
            const { text, doc } = read(name);
            // A tag (even v4.4.0) can be moved to other code; only a commit SHA fixes what runs beside the tokens.
            const usesLines = text.split("\n").filter((line) => /^\s*(-\s+)?uses:/.test(line));
            assert.ok(usesLines.length > 0, `${name} uses actions`);
            for (const line of usesLines) assert.match(line, /uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, `${name}: ${line.trim()} is pinned to a commit SHA with its version`);
            assert.doesNotMatch(text, /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-access-key-id|aws-secret-access-key/, `${name} uses no stored AWS keys`);
            assert.deepEqual(doc.permissions, { contents: "read" }, `${name}: the default token can only read`);
            for (const step of stepsOf(doc)) {
                if (step.uses) assert.match(step.uses, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${name}: ${step.uses} is pinned to a commit SHA`);
            }
            for (const [jobName, job] of Object.entries<any>(doc.jobs)) {
                const assumesRole = (job.steps as Step[]).some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
                assert.equal(job.permissions?.["id-token"] === "write", assumesRole, `${name} ${jobName}: id-token: write exactly where a role is assumed`);
                for (const s of (job.steps as Step[]).filter((st) => st.uses?.startsWith("aws-actions/configure-aws-credentials@"))) {
                    assert.ok(s.with?.["role-to-assume"], `${name} ${jobName}: assumes a role through OIDC`);
                }
            }
        }
    });

    it("run the tests and the offline gate for both stacks on every pull request, without cloud credentials", () => {
        const { doc } = read("preview.yml");
        assert.deepEqual(Object.keys(doc.on), ["pull_request"]);
        const offline = doc.jobs.offline;
        assert.equal(offline.permissions, undefined);
        const runs = (offline.steps as Step[]).map((s) => s.run ?? "");
        assert.ok(runs.some((r) => /^npm ci\b/.test(r)));
        assert.ok(runs.includes("npm test"));
        for (const stack of ["staging", "prod"]) assert.ok(runs.some((r) => r.startsWith(`npm run preview -- --stack ${stack}`)), `the gate runs for ${stack}`);
        assert.equal((offline.steps as Step[]).some((s) => s.uses?.startsWith("aws-actions/")), false);
    });

    it("preview each stack with pulumi/actions, the policy pack and its per-stack config, only where Pulumi access is set up", () => {
        const { doc } = read("preview.yml");
        const cloud = doc.jobs["pulumi-preview"];
        assert.match(cloud.if, /vars\.PULUMI_ACCESS == 'true'/);
        assert.deepEqual(cloud.strategy.matrix.include.map((m: { stack: string }) => m.stack), ["staging", "prod"]);
        const pulumiStep = (cloud.steps as Step[]).find((s) => s.uses?.startsWith("pulumi/actions@"))!;
        assert.equal(pulumiStep.with!.command, "preview");
        assert.equal(pulumiStep.with!.policyPacks, "policies");
        assert.equal(pulumiStep.with!.policyPackConfigs, "policies/config/${{ matrix.stack }}.json");
        assert.equal(pulumiStep.with!["comment-on-pr"], true);
        assert.equal(pulumiStep.env!.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
        // The stack file's ESC environment holds no credentials now, so the preview keeps it (and its account guard).
        assert.equal((cloud.steps as Step[]).some((s) => s.run?.includes("environment")), false);
        const setupNode = (cloud.steps as Step[]).find((s) => s.uses?.startsWith("actions/setup-node@"))!;
        assert.equal(setupNode.with!["package-manager-cache"], false, "no shared cache in the job that holds an OIDC token");
    });

    it("pin the Pulumi CLI wherever they install it, to the version of @pulumi/pulumi in package-lock.json", () => {
        const lock = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package-lock.json"), "utf8"));
        const sdk = lock.packages["node_modules/@pulumi/pulumi"].version as string;
        let installs = 0;
        for (const name of fs.readdirSync(workflowDir)) {
            for (const step of stepsOf(read(name).doc).filter((s) => s.uses?.startsWith("pulumi/actions@"))) {
                installs += 1;
                assert.equal(String(step.with?.["pulumi-version"]), sdk, `${name}: pulumi/actions installs the CLI ${sdk}`);
            }
        }
        assert.ok(installs >= 2);
    });

    it("pin every action at a release that runs on Node 24", () => {
        // First release of each action whose action.yml says runs.using: node24 (read from the actions' tags).
        const firstNode24Release: Record<string, [number, number, number]> = {
            "actions/checkout": [5, 0, 0],
            "actions/setup-node": [5, 0, 0],
            "actions/upload-artifact": [6, 0, 0],
            "aws-actions/configure-aws-credentials": [6, 0, 0],
            "aws-actions/amazon-ecr-login": [2, 0, 2],
            "docker/setup-buildx-action": [4, 0, 0],
            "docker/build-push-action": [7, 0, 0],
            "pulumi/actions": [7, 0, 0],
        };
        const atLeast = (v: number[], min: number[]) => v[0] !== min[0] ? v[0] > min[0] : v[1] !== min[1] ? v[1] > min[1] : v[2] >= min[2];
        for (const name of fs.readdirSync(workflowDir)) {
            for (const line of read(name).text.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l))) {
                const [, action, version] = /uses: ([\w.-]+\/[\w.-]+)@[0-9a-f]{40} # v(\d+\.\d+\.\d+)$/.exec(line)!;
                const min = firstNode24Release[action];
                assert.ok(min, `${name}: ${action} is an action whose first Node 24 release is known here`);
                assert.ok(atLeast(version.split(".").map(Number), min), `${name}: ${action} v${version} runs on an older Node than v${min.join(".")}`);
            }
        }
    });

    it("gate the PR's own review stack offline too", () => {
        const runs = (read("preview.yml").doc.jobs.offline.steps as Step[]).map((s) => s.run ?? "");
        assert.ok(runs.some((r) => r.startsWith("npm run preview -- --project pr-environments --stack pr-${{ github.event.pull_request.number }}")));
    });

    it("update prod only through the approved production environment, never on push", () => {
        const { doc, text } = read("deploy-prod.yml");
        assert.deepEqual(Object.keys(doc.on), ["workflow_dispatch"]);
        const job = doc.jobs.update;
        assert.equal(job.environment, "production", "GitHub's required reviewers of production approve the run");
        assert.equal(job.permissions, undefined, "no OIDC token: the deployment's own token gets the deploy role");
        const run = (job.steps as Step[]).map((s) => s.run ?? "").join("\n");
        assert.match(run, /pulumi deployment run update --stack "\$STACK"/);
        assert.match(text, /secrets\.PULUMI_DEPLOY_TOKEN/);
    });

    it("have Dependabot keep the action pins, npm (root and every workspace) and the image base digests current", () => {
        const config = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "dependabot.yml"), "utf8"));
        assert.equal(config.version, 2);
        const byEcosystem = (e: string) => config.updates.filter((u: { "package-ecosystem": string }) => u["package-ecosystem"] === e);
        assert.equal(byEcosystem("github-actions").length, 1);
        assert.equal(byEcosystem("github-actions")[0].directory, "/");
        const npmDirs: string[] = byEcosystem("npm").flatMap((u: { directory?: string; directories?: string[] }) => u.directories ?? [u.directory!]);
        const workspaces: string[] = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).workspaces;
        for (const dir of ["/", ...workspaces.map((w) => `/${w}`)]) assert.ok(npmDirs.includes(dir), `npm updates cover ${dir}`);
        const imageDirs = fs.readdirSync(path.join(PROJECT_ROOT, "images")).filter((d) => fs.existsSync(path.join(PROJECT_ROOT, "images", d, "Dockerfile")));
        assert.ok(imageDirs.length >= 1);
        const dockerDirs = byEcosystem("docker").map((u: { directory: string }) => u.directory);
        for (const d of imageDirs) assert.ok(dockerDirs.includes(`/images/${d}`), `docker updates cover images/${d}`);
        for (const u of config.updates) assert.ok(u.schedule?.interval, `${u["package-ecosystem"]} has a schedule`);
    });

    it("push images only from main, with the image-push role, under immutable tags", () => {
        const { doc } = read("images.yml");
        assert.deepEqual(doc.on.push.branches, ["main"]);
        const job = doc.jobs.push;
        assert.match(job.if, /github\.ref == 'refs\/heads\/main'/);
        const credentials = (job.steps as Step[]).find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"))!;
        assert.match(String(credentials.with!["role-to-assume"]), /IMAGE_PUSH_ROLE_ARN/);
        const build = (job.steps as Step[]).find((s) => s.uses?.startsWith("docker/build-push-action@"))!;
        assert.match(String(build.with!.tags), /:sha-\$\{\{ github\.sha \}\}$/);
        const code = read("images.yml").text.split("\n").filter((line) => !/^\s*#/.test(line)).join("\n");
        assert.doesNotMatch(code, /:latest|update-service|force-new-deployment/);
    });
});
