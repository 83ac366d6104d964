import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigValidationError } from "../config";
import { CapturedPlan, captureProgram, inputsOf, resourcesOfType, toStackExport } from "../tooling/capture";
import { JobfleetMocks } from "../tooling/mocks";
import { loadStackConfig, PROJECT_ROOT } from "../tooling/stackConfig";
import { runPreview } from "../scripts/preview";
import { standardPlan } from "./support/plans";

function runCli(args: string[]) {
    let out = "";
    let err = "";
    return runPreview(args, { out: (t) => (out += t), err: (t) => (err += t) }).then((code) => ({ code, out, err }));
}

describe("the program under the mock runtime", () => {
    const plans: Partial<Record<"staging" | "prod", CapturedPlan>> = {};
    before(async () => {
        plans.staging = await standardPlan("staging");
        plans.prod = await standardPlan("prod");
    });

    for (const stack of ["staging", "prod"] as const) {
        it(`${stack}: produces a plan rooted in the stack, every resource parented`, () => {
            const plan = plans[stack]!;
            const root = plan.resources[0];
            assert.equal(root.type, "pulumi:pulumi:Stack");
            assert.equal(root.urn, `urn:pulumi:${stack}::jobfleet::pulumi:pulumi:Stack::jobfleet-${stack}`);
            const urns = new Set(plan.resources.map((r) => r.urn));
            assert.equal(urns.size, plan.resources.length, "URNs are unique");
            for (const r of plan.resources.slice(1)) {
                assert.ok(r.parent && urns.has(r.parent), `${r.urn} has a registered parent`);
                for (const dep of r.dependencies) assert.ok(urns.has(dep), `${r.urn} depends on registered ${dep}`);
            }
            for (const r of plan.resources.filter((x) => x.type.startsWith("jobfleet:"))) {
                assert.match(r.type, /^jobfleet:[a-z]+:[A-Z][A-Za-z]+$/, `component type token ${r.type}`);
            }
        });
    }

    it("spreads private subnets over the configured AZs with NAT per stack", () => {
        const vpc = (stack: "staging" | "prod") => inputsOf(resourcesOfType(plans[stack]!, "awsx:ec2:Vpc")[0]);
        assert.equal(vpc("staging").numberOfAvailabilityZones, 2);
        assert.deepEqual(vpc("staging").natGateways, { strategy: "Single" });
        assert.equal(vpc("prod").numberOfAvailabilityZones, 3);
        assert.deepEqual(vpc("prod").natGateways, { strategy: "OnePerAz" });
        for (const stack of ["staging", "prod"] as const) {
            const types = (vpc(stack).subnetSpecs as Array<{ type: string }>).map((s) => s.type).sort();
            assert.deepEqual(types, ["Isolated", "Private", "Public"]);
            assert.equal((plans[stack]!.outputs.privateSubnetIds as string[]).length, stack === "prod" ? 3 : 2);
        }
    });

    it("reaches S3, ECR, Logs, Secrets Manager and SQS through VPC endpoints", () => {
        for (const stack of ["staging", "prod"] as const) {
            const endpoints = resourcesOfType(plans[stack]!, "aws:ec2/vpcEndpoint:VpcEndpoint").map(inputsOf);
            const services = endpoints.map((e) => `${e.vpcEndpointType}:${String(e.serviceName).replace("com.amazonaws.us-east-1.", "")}`).sort();
            assert.deepEqual(services, ["Gateway:s3", "Interface:ecr.api", "Interface:ecr.dkr", "Interface:logs", "Interface:secretsmanager", "Interface:sqs"]);
            for (const e of endpoints.filter((x) => x.vpcEndpointType === "Interface")) {
                assert.equal(e.privateDnsEnabled, true);
                assert.deepEqual(e.subnetIds, plans[stack]!.outputs.privateSubnetIds);
            }
            const gateway = endpoints.find((e) => e.vpcEndpointType === "Gateway")!;
            assert.equal((gateway.routeTableIds as string[]).length, (plans[stack]!.outputs.privateSubnetIds as string[]).length * 2, "private and isolated route tables");
            const sg = inputsOf(resourcesOfType(plans[stack]!, "aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "network-endpoints")!);
            assert.deepEqual(sg.ingress.map((r: { fromPort: number; cidrBlocks: string[] }) => [r.fromPort, r.cidrBlocks]), [[443, [plans[stack]!.config.vpcCidr]]]);
            assert.equal(sg.egress, undefined, "the endpoint security group opens nothing outward");
        }
    });

    it("encrypts the alarm topic with its own KMS key that CloudWatch alarms of this account may use (alias/aws/sns would drop every notification)", () => {
        for (const stack of ["staging", "prod"] as const) {
            const plan = plans[stack]!;
            const topics = resourcesOfType(plan, "aws:sns/topic:Topic");
            assert.equal(topics.length, 1);
            const keys = resourcesOfType(plan, "aws:kms/key:Key").filter((k) => k.parent === topics[0].parent);
            assert.equal(keys.length, 1, "the alarm topic has its own customer managed key");
            const topic = inputsOf(topics[0]);
            assert.notEqual(topic.kmsMasterKeyId, "alias/aws/sns");
            assert.equal(topic.kmsMasterKeyId, keys[0].outputs.arn);
            assert.equal(plan.outputs.alarmTopicArn, topics[0].outputs.arn);
            const key = inputsOf(keys[0]);
            assert.equal(key.enableKeyRotation, true);
            const statements = JSON.parse(key.policy).Statement as Array<{ Sid: string; Principal: Record<string, string>; Action: string | string[]; Condition?: Record<string, Record<string, string>> }>;
            const accountId = String(topics[0].outputs.arn).split(":")[4];
            const cloudwatch = statements.find((s) => s.Principal.Service === "cloudwatch.amazonaws.com");
            assert.ok(cloudwatch, "the key policy names CloudWatch");
            assert.deepEqual(cloudwatch.Action, ["kms:Decrypt", "kms:GenerateDataKey*"]);
            assert.deepEqual(cloudwatch.Condition, { StringEquals: { "aws:SourceAccount": accountId } });
            const admin = statements.find((s) => s.Principal.AWS !== undefined)!;
            assert.equal(admin.Principal.AWS, `arn:aws:iam::${accountId}:root`, "only the account itself administers the key");
            assert.equal(statements.length, 2);
        }
    });

    it("exports what other stacks and operators need", () => {
        // What operators, CI and the artifacts CLI read: endpoints, names for runbooks, the roles CI assumes.
        const needed: Record<string, RegExp> = {
            environment: /^(staging|prod)$/,
            vpcId: /^vpc-/,
            alarmTopicArn: /^arn:aws:sns:us-east-1:\d{12}:/,
            apiUrl: /^https:\/\//,
            sandboxBrokerUrl: /^https:\/\//,
            agentRuntimeRestUrl: /^https:\/\//,
            previewUrl: /^https:\/\//,
            shellExecutorClusterArn: /^arn:aws:ecs:/,
            shellExecutorTaskDefinitionArn: /^arn:aws:ecs:.*:task-definition\//,
            shellJobBucketName: /\S/,
            jobWorkerFunctionName: /\S/,
            submissionQueueUrl: /^https:\/\/sqs\./,
            submissionRunnerRepositoryUrl: /\.dkr\.ecr\./,
            submissionDatabaseSecretArn: /^arn:aws:secretsmanager:/,
            artifactBucketName: /\S/,
            artifactKey: /^express-api\/(staging|prod)\/[0-9a-f]{8}-\d{8}-\d{6}\/express-api-deployment\.tar\.gz$/,
            ciPreviewRoleArn: /^arn:aws:iam::\d{12}:role\//,
            ciImagePushRoleArn: /^arn:aws:iam::\d{12}:role\//,
            deployRoleArn: /^arn:aws:iam::\d{12}:role\//,
        };
        for (const stack of ["staging", "prod"] as const) {
            const outputs = plans[stack]!.outputs;
            for (const key of ["privateSubnetIds", "publicSubnetIds", "isolatedSubnetIds"]) {
                assert.ok(Array.isArray(outputs[key]) && (outputs[key] as string[]).length >= 2, `${stack} exports ${key}`);
            }
            for (const [key, pattern] of Object.entries(needed)) {
                assert.match(String(outputs[key] ?? "(missing)"), pattern, `${stack} exports ${key}`);
            }
            assert.equal(outputs.environment, stack);
        }
    });

    it("writes the plan in the shape of a pulumi stack export", () => {
        const exported = toStackExport(plans.staging!);
        assert.equal(exported.version, 3);
        assert.equal(exported.deployment.resources.length, plans.staging!.resources.length);
        for (const r of exported.deployment.resources) {
            assert.equal(typeof r.urn, "string");
            assert.equal(typeof r.type, "string");
            assert.equal(typeof r.custom, "boolean");
            assert.equal(typeof r.inputs, "object");
            assert.ok(Array.isArray(r.dependencies));
            assert.equal(typeof r.propertyDependencies, "object");
        }
        const endpoint = exported.deployment.resources.find((r) => r.type === "aws:ec2/vpcEndpoint:VpcEndpoint")!;
        assert.ok(endpoint.parent?.endsWith("jobfleet:network:Network::network"));
        assert.ok(Object.values(endpoint.propertyDependencies).flat().length > 0, "property dependencies are recorded");
    });

    it("registers nothing, not even the stack, when config is invalid", async () => {
        // The harness validates before it starts the runtime...
        await assert.rejects(
            captureProgram({ stack: "prod", configOverrides: { "jobfleet:logRetentionDays": "13", "jobfleet:sandboxBrokerCorsAllowedOrigins": "[\"*\"]" } }),
            (err: unknown) => err instanceof ConfigValidationError && err.problems.map((p) => p.key).sort().join(",") === "jobfleet:logRetentionDays,jobfleet:sandboxBrokerCorsAllowedOrigins",
        );
        // ...and the program itself, as `pulumi up` runs it, throws before its first resource.
        const registered: string[] = [];
        const mocks = new JobfleetMocks({ accountId: "123456789012", region: "us-east-1" });
        await pulumi.runtime.setMocks(
            { newResource: (args) => (registered.push(args.type), mocks.newResource(args)), call: (args) => mocks.call(args) },
            "jobfleet",
            "prod",
            false,
        );
        pulumi.runtime.setAllConfig({ ...loadStackConfig("prod").config, "jobfleet:logRetentionDays": "13" }, []);
        const program = path.join(PROJECT_ROOT, "index.ts");
        delete require.cache[require.resolve(program)];
        assert.throws(() => require(program), ConfigValidationError);
        assert.deepEqual(registered, []);
    });
});

describe("npm run preview", () => {
    it("prints the tree of components and resources with a count per type", async () => {
        const { code, out } = await runCli(["--stack", "staging"]);
        assert.equal(code, 0);
        assert.match(out, /^ \+   pulumi:pulumi:Stack +jobfleet-staging +create$/m);
        assert.match(out, /^ \+   ├─ jobfleet:network:Network +network +create$/m);
        assert.match(out, /^ \+   │  ├─ awsx:ec2:Vpc +network-vpc +create/m);
        assert.match(out, /Resources:\n {4}\+ \d+ to create/);
        assert.match(out, /Resources by type:\n(\s+\d+ {2}\S+\n)+/);
        const plan = await standardPlan("staging");
        assert.match(out, new RegExp(`\\+ ${plan.resources.length} to create`));
        const vpcEndpoints = plan.resources.filter((r) => r.type === "aws:ec2/vpcEndpoint:VpcEndpoint").length;
        assert.match(out, new RegExp(`^ +${vpcEndpoints} {2}aws:ec2/vpcEndpoint:VpcEndpoint$`, "m"));
    });

    it("writes --json as a stack export and reads --config-file like pulumi preview", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-preview-"));
        try {
            const configFile = path.join(dir, "Pulumi.custom.yaml");
            fs.writeFileSync(configFile, fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8").replace("availabilityZoneCount: 3", "availabilityZoneCount: 4"));
            const jsonFile = path.join(dir, "plan.json");
            const { code } = await runCli(["--stack", "prod", "--config-file", configFile, "--json", jsonFile]);
            assert.equal(code, 0);
            const exported = JSON.parse(fs.readFileSync(jsonFile, "utf8"));
            assert.equal(exported.version, 3);
            const vpc = exported.deployment.resources.find((r: { type: string }) => r.type === "awsx:ec2:Vpc");
            assert.equal(vpc.inputs.numberOfAvailabilityZones, 4);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("fails with every validation message and exit code 2 on a bad config file", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-preview-"));
        try {
            const configFile = path.join(dir, "bad.yaml");
            const text = fs
                .readFileSync(path.join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8")
                .replace("logRetentionDays: 90", "logRetentionDays: 45")
                .replace("natStrategy: OnePerAz", "natStrategy: Single")
                .replace(/(submissionRunnerImage: \S+)@sha256:[0-9a-f]{64}/, "$1:v2");
            fs.writeFileSync(configFile, text);
            const { code, out, err } = await runCli(["--stack", "prod", "--config-file", configFile]);
            assert.equal(code, 2);
            assert.equal(out, "", "no plan is printed");
            assert.match(err, /jobfleet config has 3 problems/);
            assert.match(err, /jobfleet:logRetentionDays = "45"/);
            assert.match(err, /jobfleet:natStrategy = "Single": expected OnePerAz in prod/);
            assert.match(err, /jobfleet:submissionRunnerImage = ".*:v2": expected an image pinned by digest in prod/);
            assert.match(err, /Nothing was registered/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("rejects bad arguments with usage and exit code 2", async () => {
        assert.equal((await runCli([])).code, 2);
        assert.match((await runCli([])).err, /--stack is required/);
        assert.equal((await runCli(["--stack", "staging", "--bogus"])).code, 2);
        const missing = await runCli(["--stack", "nosuch"]);
        assert.equal(missing.code, 2);
        assert.match(missing.err, /Pulumi\.nosuch\.yaml: no such file/);
        const help = await runCli(["--help"]);
        assert.equal(help.code, 0);
        assert.match(help.out, /Usage: npm run preview/);
    });
});
