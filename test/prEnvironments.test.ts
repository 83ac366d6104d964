import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CapturedPlan, CapturedResource, inputsOf } from "../tooling/capture";
import { PolicyAnalyzer, StackResource } from "../tooling/policyAnalyzer";
import { runPolicyGate } from "../tooling/policyGate";
import { captureReviewStack, packConfigFor, ReviewStackPlan, reviewStackConfigFile } from "../tooling/projects";
import { loadStackConfig } from "../tooling/stackConfig";
import { runPreview } from "../scripts/preview";
import { PR_CONFIG_KEYS, PR_PROJECT, PrConfigValidationError, validatePrConfig } from "../pr-environments/config";
import { resolvePullRequest } from "../pr-environments/pullRequest";
import { SHARED_OUTPUT_NAMES } from "../pr-environments/staging";
import { main as prArtifacts } from "../pr-environments/artifacts";
import { parseArtifactKey } from "../runtime/artifacts/keys";
import { cidrProblem } from "../components/previewEnvironment";
import { runCleanup } from "../runtime/artifacts/cleanup";
import { planPullRequestClose, planPullRequestRetention } from "../runtime/artifacts/pullRequests";
import { S3rverProcess, startS3rver } from "./artifactS3rver";
import { standardPlan } from "./support/plans";

const PR_ROOT = path.resolve(__dirname, "..", "pr-environments");
const STAGING_REF = "jobfleet-org/jobfleet/staging";
/** Offline captures must not see a PULUMI_PR_NUMBER or build of the machine running the tests. */
const CLEAN_ENV = { PULUMI_PR_NUMBER: undefined, GITHUB_SHA: undefined, JOBFLEET_BUILD_TIME: undefined };

function of(plan: { resources: CapturedResource[] }, type: string): CapturedResource[] {
    return plan.resources.filter((r) => r.type === type);
}

function only(plan: { resources: CapturedResource[] }, type: string): CapturedResource {
    const found = of(plan, type);
    assert.equal(found.length, 1, `exactly one ${type} (found ${found.length})`);
    return found[0];
}

function userData(plan: { resources: CapturedResource[] }): string {
    return Buffer.from(String(inputsOf(only(plan, "aws:ec2/launchTemplate:LaunchTemplate")).userData), "base64").toString("utf8");
}

function templateConfig(): Record<string, string> {
    return loadStackConfig("pr", path.join(PR_ROOT, "Pulumi.pr.yaml"), PR_ROOT, PR_PROJECT).config;
}

describe("pr-environments: one review stack per pull request (seed 003, issue 14)", function () {
    this.timeout(120_000);

    describe("which pull request a review stack is", () => {
        const base = { env: {}, configured: "", configKey: `${PR_PROJECT}:pullRequestNumber` };

        it("reads it from the review stack's name (pr-<org>-<repo>-<n>, pr-<n>) and PULUMI_PR_NUMBER, which must agree", () => {
            assert.equal(resolvePullRequest({ ...base, stack: "pr-51" }).environment, "pr-51");
            const deployments = resolvePullRequest({ ...base, stack: "pr-jobfleet-org-jobfleet-51", env: { PULUMI_PR_NUMBER: "51" } });
            assert.deepEqual([deployments.number, deployments.environment], [51, "pr-51"]);
            assert.deepEqual(deployments.sources, ["stack name pr-jobfleet-org-jobfleet-51", "PULUMI_PR_NUMBER"]);
            // A repository whose name ends in digits: the number is the last part.
            assert.equal(resolvePullRequest({ ...base, stack: "pr-acme-infra-2-7" }).number, 7);
            assert.equal(resolvePullRequest({ ...base, stack: "review", env: { PULUMI_PR_NUMBER: "12" } }).environment, "pr-12");
            assert.throws(() => resolvePullRequest({ ...base, stack: "pr-51", env: { PULUMI_PR_NUMBER: "52" } }), /disagree: stack name pr-51 says 51, PULUMI_PR_NUMBER says 52/);
            assert.throws(() => resolvePullRequest({ ...base, stack: "pr-51", configured: "5" }), /disagree/);
        });

        it("refuses the template stack pr, a stack without a number and a malformed PULUMI_PR_NUMBER", () => {
            assert.throws(() => resolvePullRequest({ ...base, stack: "pr" }), /pr is the review stack template/);
            assert.throws(() => resolvePullRequest({ ...base, stack: "staging" }), /does not end in a pull request number/);
            assert.throws(() => resolvePullRequest({ ...base, stack: "pr-0" }), /belongs to no pull request/);
            assert.throws(() => resolvePullRequest({ ...base, stack: "pr-51", env: { PULUMI_PR_NUMBER: "51; rm -rf /" } }), /PULUMI_PR_NUMBER is .*expected a pull request number/);
        });

        it("a review stack without its own file reads the template's Pulumi.pr.yaml, as Deployments copies it", () => {
            assert.equal(reviewStackConfigFile("pr-51"), path.join(PR_ROOT, "Pulumi.pr.yaml"));
            assert.equal(reviewStackConfigFile("pr-jobfleet-org-jobfleet-51"), path.join(PR_ROOT, "Pulumi.pr.yaml"));
            assert.throws(() => reviewStackConfigFile("staging"), /not a review stack name/);
        });
    });

    it("runs on the repository's install, as the Pulumi CLI would: the program's packages resolve from pr-environments/ upwards", () => {
        // The Node.js language host resolves @pulumi/pulumi (and ts-node) from the program directory as require does;
        // plugin discovery finds no provider below it, and the engine installs the AWS provider on first use (docs/deployments.md).
        const root = path.resolve(PR_ROOT, "..");
        for (const pkg of ["@pulumi/pulumi", "@pulumi/aws", "ts-node", "typescript"]) {
            assert.ok(require.resolve(pkg, { paths: [PR_ROOT] }).startsWith(path.join(root, "node_modules") + path.sep), pkg);
        }
        assert.equal(fs.existsSync(path.join(PR_ROOT, "package.json")), false, "a package.json here would make Deployments install into pr-environments/, which the pre-run commands do not");
    });

    describe("config", () => {
        it("Pulumi.yaml declares exactly the keys config.ts reads, with the same defaults", () => {
            const declared = loadStackConfig("pr", path.join(PR_ROOT, "Pulumi.pr.yaml"), PR_ROOT, PR_PROJECT);
            const project = fs.readFileSync(path.join(PR_ROOT, "Pulumi.yaml"), "utf8");
            for (const [key, spec] of Object.entries(PR_CONFIG_KEYS)) {
                assert.match(project, new RegExp(`\\n  ${key}:\\n    type: ${spec.kind}\\n`), `Pulumi.yaml declares ${key} as ${spec.kind}`);
                if (spec.default !== undefined && !Array.isArray(spec.default)) assert.ok(`${PR_PROJECT}:${key}` in declared.config, `${key} has its default in Pulumi.yaml`);
            }
            assert.equal((project.slice(project.indexOf("\nconfig:\n")).match(/^  [A-Za-z]+:$/gm) ?? []).length, Object.keys(PR_CONFIG_KEYS).length);
        });

        it("checks CIDR blocks the way the security group API does: address, prefix length, no host bits", () => {
            for (const ok of ["198.51.100.0/24", "203.0.113.16/28", "10.0.0.1/32", "2001:db8::/32", "0.0.0.0/0"]) assert.equal(cidrProblem(ok), undefined, ok);
            assert.match(cidrProblem("198.51.100.0")!, /not a CIDR block/);
            assert.match(cidrProblem("198.51.100.0/33")!, /prefix length above 32/);
            assert.match(cidrProblem("300.1.1.0/24")!, /no valid IP address/);
            assert.match(cidrProblem("2001:db8::/129")!, /prefix length above 128/);
            assert.match(cidrProblem("203.0.113.17/28")!, /host bits set; the network is 203\.0\.113\.16\/28/);
        });

        it("names every bad key at once: the internet as reviewers, a prod stack to share, host bits, a domain without its zone", () => {
            const raw = {
                ...templateConfig(),
                [`${PR_PROJECT}:reviewerCidrs`]: JSON.stringify(["0.0.0.0/0"]),
                [`${PR_PROJECT}:stagingStack`]: "jobfleet-org/jobfleet/prod",
                [`${PR_PROJECT}:hostedZoneId`]: "",
                [`${PR_PROJECT}:keepBuilds`]: "0",
            };
            const err = (() => {
                try {
                    validatePrConfig(raw, "pr-51", {});
                } catch (e) {
                    return e as PrConfigValidationError;
                }
                return undefined;
            })();
            assert.ok(err instanceof PrConfigValidationError);
            const message = err.message;
            assert.match(message, /reviewerCidrs = .*not the whole internet/);
            assert.match(message, /stagingStack = "jobfleet-org\/jobfleet\/prod": expected a staging stack/);
            assert.match(message, /hostedZoneId = "": expected set together with .*previewDomain/);
            assert.match(message, /keepBuilds = "0": expected at least 1/);
            assert.throws(() => validatePrConfig({ ...templateConfig(), [`${PR_PROJECT}:reviewerCidrs`]: JSON.stringify(["198.51.100.7/24"]) }, "pr-51", {}), /has host bits set; the network is 198\.51\.100\.0\/24/);
            assert.throws(() => validatePrConfig(templateConfig(), "pr", {}), /pull request = "pr": expected .*review stack template/);
        });
    });

    describe("offline preview of two pull requests", () => {
        let staging: CapturedPlan;
        let pr51: ReviewStackPlan;
        let pr52: { resources: CapturedResource[] };
        let pr52Output = "";
        let rebuilt: ReviewStackPlan;
        let analyzer: PolicyAnalyzer;
        const exportFile = path.join(os.tmpdir(), `jobfleet-pr-52-${process.pid}.json`);

        before(async function () {
            this.timeout(300_000);
            staging = await standardPlan("staging");
            analyzer = await PolicyAnalyzer.start({ typeCheck: false });
            pr51 = await captureReviewStack({ stack: "pr-51", sharedPlan: staging, env: CLEAN_ENV });
            // pr-52 exactly as the PR workflow runs it: the CLI, with --json and the gate.
            const saved = process.env.PULUMI_PR_NUMBER;
            delete process.env.PULUMI_PR_NUMBER;
            try {
                const code = await runPreview(["--project", "pr-environments", "--stack", "pr-52", "--json", exportFile], { out: (t) => (pr52Output += t), err: (t) => (pr52Output += t) }, { analyzer });
                assert.equal(code, 0, pr52Output);
            } finally {
                if (saved !== undefined) process.env.PULUMI_PR_NUMBER = saved;
            }
            const exported = JSON.parse(fs.readFileSync(exportFile, "utf8")) as { deployment: { resources: CapturedResource[] } };
            pr52 = { resources: exported.deployment.resources };
            // A later build of pull request 51, deployed as Pulumi Deployments names and tells the review stack.
            rebuilt = await captureReviewStack({
                stack: "pr-jobfleet-org-jobfleet-51",
                sharedPlan: staging,
                env: { ...CLEAN_ENV, PULUMI_PR_NUMBER: "51", GITHUB_SHA: "622d2103a1b2c3d4e5f60718293a4b5c6d7e8f90", JOBFLEET_BUILD_TIME: "20250820-124500" },
            });
        });

        after(async () => {
            await analyzer?.close();
            fs.rmSync(exportFile, { force: true });
        });

        it("gives each pull request its own key under express-api/pr-<n>/, and each build a new one", () => {
            const key51 = String(inputsOf(only(pr51, "aws:s3/bucketObjectv2:BucketObjectv2")).key);
            const key52 = String(inputsOf(only(pr52, "aws:s3/bucketObjectv2:BucketObjectv2")).key);
            const keyRebuilt = String(inputsOf(only(rebuilt, "aws:s3/bucketObjectv2:BucketObjectv2")).key);
            assert.equal(parseArtifactKey(key51)?.environment, "pr-51");
            assert.equal(parseArtifactKey(key52)?.environment, "pr-52");
            assert.ok(key51.startsWith("express-api/pr-51/") && key52.startsWith("express-api/pr-52/"));
            assert.equal(keyRebuilt, "express-api/pr-51/622d2103-20250820-124500/express-api-deployment.tar.gz");
            assert.notEqual(keyRebuilt, key51);
            // A new build is a new resource (named after its version) that is retained, never an update in place.
            const [a, b] = [only(pr51, "aws:s3/bucketObjectv2:BucketObjectv2"), only(rebuilt, "aws:s3/bucketObjectv2:BucketObjectv2")];
            assert.notEqual(a.name, b.name);
            assert.equal(b.options.retainOnDelete, true);
            assert.equal(pr51.outputs.artifactKey, key51);
            assert.equal(rebuilt.outputs.environment, "pr-51");
        });

        it("boots exactly its own key: the launch template names it and not the other pull request's", () => {
            const key51 = String(pr51.outputs.artifactKey);
            const key52 = String(inputsOf(only(pr52, "aws:s3/bucketObjectv2:BucketObjectv2")).key);
            assert.match(userData(pr51), new RegExp(`ARTIFACT_KEY='${key51.replace(/[.]/g, "\\.")}'`));
            assert.match(userData(pr52), new RegExp(`ARTIFACT_KEY='${key52.replace(/[.]/g, "\\.")}'`));
            assert.ok(!userData(pr51).includes("pr-52") && !userData(pr52).includes("pr-51"));
            assert.match(String(inputsOf(only(pr51, "aws:ec2/launchTemplate:LaunchTemplate")).description), new RegExp(key51.replace(/[.]/g, "\\.")));
        });

        it("reads staging through a StackReference and creates nothing staging owns", () => {
            for (const plan of [pr51, pr52]) {
                const reference = only(plan, "pulumi:pulumi:StackReference");
                assert.equal(reference.id, STAGING_REF);
                assert.equal(reference.external, true);
                const owned = plan.resources.filter((r) => /^(awsx:ec2:Vpc|aws:ec2\/(vpc|subnet|natGateway|vpcEndpoint):|aws:s3\/(bucket|bucketV2):|aws:rds\/|aws:ecs\/|aws:sqs\/|aws:lambda\/|jobfleet:artifacts:ArtifactStore|jobfleet:network:)/.test(r.type));
                assert.deepEqual(owned.map((r) => r.type), [], "no VPC, bucket, database, cluster, queue or function per pull request");
            }
            // The root program exports every output a review stack reads (a rename in index.ts breaks review stacks).
            for (const name of SHARED_OUTPUT_NAMES) assert.ok(staging.outputs[name] !== undefined, `staging exports ${name}`);
            assert.deepEqual(pr51.stackReferences, [STAGING_REF]);
            // Everything lands in staging's network and bucket, by their ids.
            assert.equal(inputsOf(only(pr51, "aws:lb/targetGroup:TargetGroup")).vpcId, staging.outputs.vpcId);
            assert.deepEqual(inputsOf(only(pr51, "aws:lb/loadBalancer:LoadBalancer")).subnets, staging.outputs.publicSubnetIds);
            assert.deepEqual(inputsOf(only(pr51, "aws:autoscaling/group:Group")).vpcZoneIdentifiers, staging.outputs.privateSubnetIds);
            assert.equal(inputsOf(only(pr51, "aws:s3/bucketObjectv2:BucketObjectv2")).bucket, staging.outputs.artifactBucketName);
            const read = of(pr51, "aws:iam/rolePolicy:RolePolicy").find((r) => r.name.includes("read-express-api-pr-51"));
            assert.ok(read, "the instance role's read grant");
            assert.deepEqual(JSON.parse(String(inputsOf(read).policy)).Statement[0].Resource, `${staging.outputs.artifactBucketArn}/express-api/pr-51/*`);
        });

        it("serves HTTPS to the reviewers' CIDR blocks only, at pr-<n>.<previewDomain>, and outputs that URL", () => {
            const config = templateConfig();
            const cidrs = JSON.parse(config[`${PR_PROJECT}:reviewerCidrs`]) as string[];
            const ingress = of(pr51, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.name.startsWith("pr-51-alb-in-"));
            assert.deepEqual(ingress.map((r) => [inputsOf(r).fromPort, inputsOf(r).cidrIpv4]).sort(), [443, 80].flatMap((port) => cidrs.map((c) => [port, c])).sort());
            const https = of(pr51, "aws:lb/listener:Listener").find((r) => inputsOf(r).port === 443)!;
            assert.equal(inputsOf(https).certificateArn, config[`${PR_PROJECT}:certificateArn`]);
            const record = inputsOf(only(pr51, "aws:route53/record:Record"));
            assert.equal(record.name, "pr-51.preview.jobfleet.example.com");
            assert.equal(record.zoneId, config[`${PR_PROJECT}:hostedZoneId`]);
            assert.equal(pr51.outputs.previewUrl, "https://pr-51.preview.jobfleet.example.com");
            assert.match(pr52Output, /previewUrl: "https:\/\/pr-52\.preview\.jobfleet\.example\.com"/);
        });

        it("passes the policy gate for both pull requests (the CLI's verdict for pr-52, the gate directly for pr-51)", async () => {
            assert.match(pr52Output, /Policy gate passed: \d+ resources checked with policies\/config\/staging\.json/);
            const result = await runPolicyGate(pr51.resources as unknown as StackResource[], { stack: "pr-51", project: PR_PROJECT, configFile: packConfigFor("pr-environments", "pr-51"), analyzer });
            assert.equal(result.exitCode, 0, result.report);
        });

        it("re-checks the review stack's written export with --state under the review stacks' pack config, and refuses --project with --state", async () => {
            let out = "";
            const io = { out: (t: string) => (out += t), err: (t: string) => (out += t) };
            assert.equal(await runPreview(["--state", exportFile], io, { analyzer }), 0, out);
            assert.match(out, /Policy gate passed: \d+ resources checked with policies\/config\/staging\.json/);
            out = "";
            assert.equal(await runPreview(["--project", "pr-environments", "--state", exportFile], io, { analyzer }), 2);
            assert.match(out, /--project applies only when a program runs/);
        });

        it("stops when the shared stack is prod, or its bucket name and ARN disagree", async () => {
            const tampered = (outputs: Record<string, unknown>): CapturedPlan => ({ ...staging, outputs: { ...staging.outputs, ...outputs } });
            await assert.rejects(captureReviewStack({ stack: "pr-51", sharedPlan: tampered({ environment: "prod" }), env: CLEAN_ENV }), /StackReference jobfleet-org\/jobfleet\/staging: is a prod stack/);
            await assert.rejects(
                captureReviewStack({ stack: "pr-51", sharedPlan: tampered({ artifactBucketArn: "arn:aws:s3:::someone-elses-bucket" }), env: CLEAN_ENV }),
                /bucketArn arn:aws:s3:::someone-elses-bucket names the bucket someone-elses-bucket, but bucketName is /,
            );
            await assert.rejects(captureReviewStack({ stack: "pr-51", sharedPlan: tampered({ publicSubnetIds: [] }), env: CLEAN_ENV }), /output publicSubnetIds is \[\]; expected a non-empty list of subnet ids/);
        });

        it("fails before registering anything when the sources of the pull request disagree, and names an unknown shared stack", async () => {
            await assert.rejects(captureReviewStack({ stack: "pr-51", sharedPlan: staging, env: { ...CLEAN_ENV, PULUMI_PR_NUMBER: "52" } }), (err: unknown) => err instanceof PrConfigValidationError && /disagree/.test(err.message));
            await assert.rejects(
                captureReviewStack({ stack: "pr-51", sharedPlan: staging, env: CLEAN_ENV, configOverrides: { [`${PR_PROJECT}:stagingStack`]: "someone-else/jobfleet/staging" } }),
                // The runtime wraps the mock's UnknownStackReferenceError into the read's failure; its sentence is kept.
                (err: unknown) => /failed to read resource #someone-else\/jobfleet\/staging .*offline preview has no plan for/.test((err as Error).message),
            );
        });
    });

    describe("npm run preview -- --project", () => {
        const preview = async (args: string[]) => {
            let out = "";
            const code = await runPreview(args, { out: (t) => (out += t), err: (t) => (out += t) });
            return { code, out };
        };

        it("refuses an unknown project and the template stack, before planning anything", async () => {
            const unknown = await preview(["--project", "pr-environment", "--stack", "pr-51"]);
            assert.equal(unknown.code, 2);
            assert.match(unknown.out, /--project "pr-environment" is not a project of this repository; expected one of jobfleet, pr-environments/);
            const started = Date.now();
            const template = await preview(["--project", "pr-environments", "--stack", "pr"]);
            assert.equal(template.code, 2);
            assert.match(template.out, /pr is the review stack template[\s\S]*Nothing was registered/);
            assert.ok(Date.now() - started < 10_000, "the config is refused before the staging plan is made");
        });
    });

    /**
     * Against s3rver on loopback (child process, see artifactS3rver.ts). Retention and close rely on
     * ListObjectsV2 with a prefix and continuation tokens, and DeleteObjects: s3rver implements both
     * as S3 does, so no proxy is needed for them (it ignores If-None-Match and checksums, which these
     * plans never use).
     */
    describe("builds of one pull request against s3rver: keep 3 with the deployed one protected, and close", function () {
        const BUCKET = "jobfleet-pr-artifacts";
        let server: S3rverProcess;
        let s3: S3Client;
        const sha = (n: number) => n.toString(16).padStart(8, "0").repeat(5);
        const key = (env: string, n: number, time: string) => `express-api/${env}/${sha(n).slice(0, 8)}-${time}/express-api-deployment.tar.gz`;
        const pr51 = [1, 2, 3, 4, 5].map((n) => key("pr-51", n, `2025082${n}-120000`));
        const others = [
            key("pr-52", 6, "20250821-120000"),
            key("pr-52", 7, "20250822-120000"),
            key("pr-5", 8, "20250801-120000"),
            key("pr-510", 9, "20250801-120000"),
            key("staging", 10, "20250701-120000"),
            key("staging", 11, "20250702-120000"),
            "express-api/prod/0000000c-20250601-120000/express-api-deployment.tar.gz",
        ];

        async function keysUnder(prefix: string): Promise<string[]> {
            const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
            return (page.Contents ?? []).map((o) => o.Key!).sort();
        }

        async function put(keys: string[]): Promise<void> {
            for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: `build ${k}` }));
        }

        before(async function () {
            this.timeout(60_000);
            server = await startS3rver([BUCKET]);
            s3 = new S3Client({ region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
        });

        beforeEach(async () => {
            const all = await keysUnder("");
            for (const k of all) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: k }));
            await put([...pr51, ...others, "express-api/pr-51/express-api-deployment.tar.gz", "express-api/pr-51/README.txt"]);
        });

        after(async () => {
            s3?.destroy();
            await server?.stop();
        });

        it("after a deployment keeps the newest 3 builds of the pull request, counting the incoming one, and never the deployed one", async () => {
            const deployed = pr51[1]; // a rollback left the second-oldest build running
            const incoming = key("pr-51", 12, "20250830-120000");
            const plan = await planPullRequestRetention({ client: s3, bucket: BUCKET, app: "express-api", prNumber: 51, keep: 3, deployedKeys: [deployed], incomingKey: incoming });
            assert.ok(plan.keysToDelete.every((k) => k.startsWith("express-api/pr-51/")));
            await runCleanup({ client: s3, plan });
            await put([incoming]); // what `pulumi up` uploads next
            const left = await keysUnder("express-api/pr-51/");
            // Newest 3 = incoming, #5, #4; the deployed #2 stays until the next deployment replaces it; the README is not a build.
            assert.deepEqual(left, [incoming, pr51[4], pr51[3], deployed, "express-api/pr-51/README.txt"].sort());
            for (const k of others) assert.ok((await keysUnder(k)).includes(k), `${k} untouched`);
        });

        it("without an incoming build keeps 3 plus the deployed one, and refuses another pull request's key as deployed", async () => {
            const plan = await planPullRequestRetention({ client: s3, bucket: BUCKET, app: "express-api", prNumber: 51, keep: 3, deployedKeys: [pr51[0]] });
            assert.deepEqual(plan.deletions.map((a) => a.id).sort(), [pr51[1].replace(/express-api-deployment\.tar\.gz$/, ""), "express-api/pr-51/express-api-deployment.tar.gz"].sort());
            await assert.rejects(planPullRequestRetention({ client: s3, bucket: BUCKET, app: "express-api", prNumber: 51, keep: 3, deployedKeys: [others[0]] }), /is not a build of this pull request/);
            await assert.rejects(planPullRequestRetention({ client: s3, bucket: BUCKET, app: "express-api", prNumber: 51, keep: 0, deployedKeys: [] }), /keep must be .* at least 1/);
        });

        it("on close removes every build of that pull request and nothing else (pr-5 is not a prefix of pr-51)", async () => {
            await runCleanup({ client: s3, plan: await planPullRequestClose({ client: s3, bucket: BUCKET, app: "express-api", prNumber: 5 }) });
            assert.deepEqual(await keysUnder("express-api/pr-5/"), []);
            assert.equal((await keysUnder("express-api/pr-51/")).length, 7);
            assert.deepEqual(await keysUnder("express-api/pr-510/"), [others[3]]);

            const plan = await planPullRequestClose({ client: s3, bucket: BUCKET, app: "express-api", prNumber: 51 });
            assert.equal(plan.deletions.length, 6, "five versioned builds and the legacy key");
            assert.equal(plan.strayObjects, 1);
            await runCleanup({ client: s3, plan });
            assert.deepEqual(await keysUnder("express-api/pr-51/"), ["express-api/pr-51/README.txt"]);
            const everything = await keysUnder("");
            for (const k of others.filter((k) => !k.includes("/pr-5/"))) assert.ok(everything.includes(k), `${k} untouched by closing pull request 51`);
        });

        it("pre-run.sh, as Deployments runs it: update fixes the build and retains, destroy removes the pull request's builds", async function () {
            this.timeout(120_000);
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pr-prerun-"));
            try {
                const outputs = path.join(dir, "outputs.json");
                fs.writeFileSync(outputs, JSON.stringify({ pullRequestNumber: 51, artifactBucketName: BUCKET, artifactKey: pr51[0], artifactRetention: { app: "express-api", keep: 3 } }));
                // Stands in for the Pulumi CLI: answers the review stack's stagingStack config, its outputs, and staging's outputs
                // unless STAGING_UNREADABLE says the deployment's token may not read staging (Pulumi Cloud answers 404 then).
                const fakePulumi = path.join(dir, "pulumi");
                const review = "jobfleet-org/jobfleet-pr-environments/pr-jobfleet-org-jobfleet-51";
                fs.writeFileSync(
                    fakePulumi,
                    [
                        "#!/usr/bin/env bash",
                        `case "$*" in`,
                        `"config get stagingStack --stack ${review}") echo ${STAGING_REF} ;;`,
                        `"stack output --json --stack ${review}") cat ${JSON.stringify(outputs)} ;;`,
                        `"stack output --json --stack ${STAGING_REF}") [ -z "\${STAGING_UNREADABLE:-}" ] || { echo "error: [404] Not found: Stack '${STAGING_REF}' not found" >&2; exit 255; }; echo '{"environment":"staging"}' ;;`,
                        `*) echo "unexpected: $*" >&2; exit 9 ;;`,
                        "esac",
                        "",
                    ].join("\n"),
                    { mode: 0o755 },
                );
                const envFile = path.join(dir, "PULUMI_ENV");
                const run = (operation: string, extraEnv: Record<string, string> = {}) =>
                    spawnSync("bash", [path.join(PR_ROOT, "pre-run.sh")], {
                        encoding: "utf8",
                        env: {
                            ...process.env,
                            ...extraEnv,
                            PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
                            PULUMI_CI_OPERATION: operation,
                            PULUMI_CI_ORGANIZATION: "jobfleet-org",
                            PULUMI_CI_PROJECT: PR_PROJECT,
                            PULUMI_CI_STACK: "pr-jobfleet-org-jobfleet-51",
                            PULUMI_BIN: fakePulumi,
                            PULUMI_ENV_FILE: envFile,
                            JOBFLEET_BUILD_COMMAND: "true",
                            JOBFLEET_S3_ENDPOINT: server.endpoint,
                            AWS_ACCESS_KEY_ID: "S3RVER",
                            AWS_SECRET_ACCESS_KEY: "S3RVER",
                            AWS_REGION: "us-east-1",
                        },
                    });
                const denied = run("update", { STAGING_UNREADABLE: "1" });
                assert.equal(denied.status, 1, denied.stdout + denied.stderr);
                assert.match(denied.stderr, /cannot read the stack jobfleet-org\/jobfleet\/staging.*nothing was built or removed[\s\S]*reviewStacksAccessToken in the deployments\/ project.*or set the organization.s default stack permission to Read/);
                assert.equal(fs.existsSync(envFile), false, "no build was fixed");
                assert.equal((await keysUnder("express-api/pr-51/")).length, 7, "no build was removed");
                const update = run("update");
                assert.equal(update.status, 0, update.stdout + update.stderr);
                const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: PR_ROOT, encoding: "utf8" }).trim();
                assert.match(fs.readFileSync(envFile, "utf8"), new RegExp(`^GITHUB_SHA=${head}\nJOBFLEET_BUILD_TIME=\\d{8}-\\d{6}\n$`));
                assert.deepEqual(await keysUnder("express-api/pr-51/0"), [pr51[4], pr51[3], pr51[0]].sort(), update.stdout);
                const destroy = run("destroy");
                assert.equal(destroy.status, 0, destroy.stdout + destroy.stderr);
                assert.deepEqual(await keysUnder("express-api/pr-51/"), ["express-api/pr-51/README.txt"]);
                for (const k of others) assert.ok((await keysUnder(k)).includes(k), `${k} untouched`);
                assert.equal(run("preview").status, 0);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("the pre-run CLI retains and closes from the review stack's outputs, and refuses staging's outputs", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pr-artifacts-"));
            let out = "";
            const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (out += t), env: {} as Record<string, string | undefined>, makeClient: () => s3 };
            try {
                const outputs = path.join(dir, "outputs.json");
                fs.writeFileSync(outputs, JSON.stringify({ pullRequestNumber: 51, environment: "pr-51", artifactBucketName: BUCKET, artifactKey: pr51[0], artifactRetention: { app: "express-api", keep: 3 } }));
                assert.equal(await prArtifacts(["retain", "--stack-outputs", outputs, "--dry-run"], io), 0, out);
                assert.match(out, /delete express-api\/pr-51\/00000002-20250822-120000\//);
                assert.equal((await keysUnder("express-api/pr-51/")).length, 7, "a dry run deletes nothing");
                out = "";
                io.env = { GITHUB_SHA: sha(13), JOBFLEET_BUILD_TIME: "20250831-120000" };
                assert.equal(await prArtifacts(["retain", "--stack-outputs", outputs], io), 0, out);
                assert.deepEqual(await keysUnder("express-api/pr-51/0"), [pr51[4], pr51[3], pr51[0]].sort(), "2 newest + the deployed; the incoming build takes the third place");
                out = "";
                assert.equal(await prArtifacts(["close", "--stack-outputs", outputs], io), 0, out);
                assert.deepEqual(await keysUnder("express-api/pr-51/"), ["express-api/pr-51/README.txt"]);
                assert.equal((await keysUnder("express-api/pr-52/")).length, 2);

                const stagingOutputs = path.join(dir, "staging.json");
                fs.writeFileSync(stagingOutputs, JSON.stringify({ environment: "staging", artifactBucketName: BUCKET, artifactKey: others[4] }));
                out = "";
                assert.equal(await prArtifacts(["close", "--stack-outputs", stagingOutputs], io), 2);
                assert.match(out, /not a review stack's outputs/);
                out = "";
                assert.equal(await prArtifacts(["close", "--bucket", BUCKET, "--pr", "staging"], io), 2);
                assert.match(out, /pull request number must be a positive whole number/);
                out = "";
                io.env = {};
                assert.equal(await prArtifacts(["retain", "--bucket", BUCKET, "--pr", "52", "--commit", sha(1)], io), 2);
                assert.match(out, /needs both its commit .* and its build time/);
                assert.equal((await keysUnder("express-api/staging/")).length, 2);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
