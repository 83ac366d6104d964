import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { formatEvaluation, resourcesFromStackExport } from "../../tooling/policyAnalyzer";
import { doc, expectViolation, res, trust, urnOf, useAnalyzer } from "./helpers";

const PACK_VERSION = (require("../../policies/package.json") as { version: string }).version;

/**
 * The seeds' own mistakes, as the seeds write them, must be blocked: seed 004's task definition
 * (plaintext DATABASE_URL, :latest, no stop timeout), its service (no circuit breaker), its roles
 * and CI keys; seed 002's control-plane grants and stop timeout.
 */

/** Seed 004, "ECS Task Definition / Container Configuration", verbatim. */
const SEED_004_TASK_DEFINITION = {
    family: "uoc-tfm-runner",
    networkMode: "awsvpc",
    requiresCompatibilities: ["FARGATE"],
    cpu: "1024",
    memory: "2048",
    containerDefinitions: [
        {
            name: "runner",
            image: "451747690955.dkr.ecr.eu-south-2.amazonaws.com/uoc-tfm/runner:latest",
            essential: true,
            environment: [
                { name: "AWS_REGION", value: "eu-south-2" },
                { name: "AWS_S3_BUCKET", value: "uoc-tfm-eval-platform" },
                { name: "AWS_SQS_QUEUE_URL", value: "https://sqs.eu-south-2.amazonaws.com/451747690955/submissions-queue" },
                { name: "DATABASE_URL", value: "postgresql://postgres:TFMdb#SecureKey9@tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com:5432/tfmdb" },
                { name: "RUNNER_POLL_INTERVAL_MS", value: "20000" },
                { name: "RUNNER_TIMEOUT_MS", value: "120000" },
                { name: "RUNNER_MAX_LOG_BYTES", value: "200000" },
                { name: "JDK_VERSION", value: "17" },
                { name: "BUILD_TOOL", value: "maven" },
            ],
            logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/ecs/uoc-tfm-runner", "awslogs-region": "eu-south-2", "awslogs-stream-prefix": "runner" } },
            healthCheck: { command: ["CMD-SHELL", "ps aux | grep 'node.*main.js' || exit 1"], interval: 30, timeout: 5, retries: 3, startPeriod: 10 },
        },
    ],
    taskRoleArn: "arn:aws:iam::451747690955:role/ecsTaskRole",
    executionRoleArn: "arn:aws:iam::451747690955:role/ecsTaskExecutionRole",
};

function seed004TaskDefinition() {
    const { containerDefinitions, ...rest } = SEED_004_TASK_DEFINITION;
    return res(aws.ecs.TaskDefinition, "uoc-tfm-runner", { ...rest, containerDefinitions: JSON.stringify(containerDefinitions) });
}

describe("policy pack: the seeds' mistakes are blocked", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");

    describe("seed 004", () => {
        it("blocks its task definition as written, naming DATABASE_URL, the :latest image and the missing stop timeout", async () => {
            const r = await analyzer.get().analyze(seed004TaskDefinition());
            const [secret] = expectViolation(r, "no-plaintext-secrets", 'container "runner" environment "DATABASE_URL"', "PostgreSQL");
            assert.strictEqual(secret.enforcementLevel, "mandatory");
            assert.ok(!secret.message.includes("TFMdb#SecureKey9"), "the password is not echoed");
            assert.strictEqual(r.diagnostics.filter((d) => d.policyName === "no-plaintext-secrets").length, 1, "only DATABASE_URL is a secret among its variables");
            expectViolation(r, "images-pinned-by-digest", "uoc-tfm/runner:latest");
            expectViolation(r, "ecs-container-stop-timeout", 'container "runner" stopTimeout');
        });

        it("blocks its service: no deployment circuit breaker", async () => {
            const r = await analyzer.get().analyze(
                res(aws.ecs.Service, "uoc-tfm-worker-service", {
                    name: "uoc-tfm-worker-service",
                    cluster: "your-cluster-name",
                    taskDefinition: "uoc-tfm-runner:latest",
                    desiredCount: 1,
                    launchType: "FARGATE",
                    networkConfiguration: { subnets: ["subnet-xxx", "subnet-yyy"], securityGroups: ["sg-xxx"], assignPublicIp: true },
                }),
            );
            expectViolation(r, "ecs-service-circuit-breaker", "deploymentCircuitBreaker.enable");
        });

        it("blocks its execution role policy: Resource * for actions that support resource-level permissions", async () => {
            const r = await analyzer.get().analyze(
                res(aws.iam.RolePolicy, "ecsTaskExecutionRole", {
                    role: "ecsTaskExecutionRole",
                    policy: doc({ Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream", "logs:PutLogEvents"], Resource: "*" }),
                }),
            );
            expectViolation(r, "iam-no-wildcard-resource", "logs:PutLogEvents");
        });

        it("blocks static AWS keys handed to a container (its CI secrets pattern)", async () => {
            const td = res(aws.ecs.TaskDefinition, "deployer", {
                family: "deployer",
                requiresCompatibilities: ["FARGATE"],
                containerDefinitions: JSON.stringify([
                    { name: "deploy", image: "x@sha256:" + "0".repeat(64), stopTimeout: 10, environment: [{ name: "AWS_ACCESS_KEY_ID", value: "AKIA4XQ3SLVNJ5W2PD7Q" }, { name: "AWS_SECRET_ACCESS_KEY", value: "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" }] },
                ]),
            });
            expectViolation(await analyzer.get().analyze(td), "no-plaintext-secrets", 'environment "AWS_SECRET_ACCESS_KEY"');
        });

        it("blocks its task definition in a hand-made stack export, through the whole evaluation", async () => {
            const td = seed004TaskDefinition();
            const stackExport = { version: 3, deployment: { manifest: { time: "2025-10-05T00:00:00Z", magic: "", version: "v3" }, resources: [{ urn: `urn:pulumi:prod::uoc-tfm::pulumi:pulumi:Stack::uoc-tfm-prod`, type: "pulumi:pulumi:Stack", custom: false }, { ...td, id: "uoc-tfm-runner", outputs: td.inputs }] } };
            const evaluation = await analyzer.get().evaluate(resourcesFromStackExport(JSON.parse(JSON.stringify(stackExport))), { config: "policies/config/prod.json" });
            assert.strictEqual(evaluation.passed, false);
            const names = evaluation.policyPacks[0].violations.map((v) => v.policyName).sort();
            assert.deepStrictEqual(names, ["ecs-container-stop-timeout", "images-pinned-by-digest", "no-plaintext-secrets"]);
            const printed = formatEvaluation(evaluation);
            assert.ok(printed.includes(`❌ jobfleet-guardrails@v${PACK_VERSION}`), printed);
            assert.match(printed, /\[mandatory\] \[severity: critical\]  no-plaintext-secrets {2}\(aws:ecs\/taskDefinition:TaskDefinition: uoc-tfm-runner\)/);
            assert.match(printed, /environment "DATABASE_URL"/);
        });
    });

    describe("seed 002", () => {
        it("passes its stop timeout (35 s over GRACEFUL_SHUTDOWN_TIMEOUT_SEC=30) and blocks the same container at 30 s", async () => {
            const container = { name: "agent-runtime", image: "x@sha256:" + "1".repeat(64), environment: [{ name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "30" }] };
            const ok = await analyzer.get().analyze(res(aws.ecs.TaskDefinition, "par", { family: "par", requiresCompatibilities: ["FARGATE"], containerDefinitions: JSON.stringify([{ ...container, stopTimeout: 35 }]) }));
            assert.deepStrictEqual(ok.diagnostics.filter((d) => d.policyName === "ecs-container-stop-timeout"), []);
            const bad = await analyzer.get().analyze(res(aws.ecs.TaskDefinition, "par", { family: "par", requiresCompatibilities: ["FARGATE"], containerDefinitions: JSON.stringify([{ ...container, stopTimeout: 30 }]) }));
            expectViolation(bad, "ecs-container-stop-timeout", "SIGKILL before its graceful shutdown ends");
        });

        it("blocks a runtime task role holding any of its forbidden control-plane services", async () => {
            const role = res(aws.iam.Role, "pixell-agent-runtime-task-role", { name: "pixell-agent-runtime-task-role", assumeRolePolicy: trust("ecs-tasks.amazonaws.com", { StringEquals: { "aws:SourceAccount": "123456789012" } }) });
            const forbidden = ["ecs:DescribeServices", "elasticloadbalancing:DescribeTargetHealth", "servicediscovery:DiscoverInstances", "dynamodb:ListTables", "iam:GetRole"];
            const r = await analyzer.get().analyzeStack([
                role,
                res(
                    aws.iam.RolePolicy,
                    "task-policy",
                    { role: "pixell-agent-runtime-task-role", policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::packages/*" }, { Effect: "Allow", Action: forbidden, Resource: "*" }) },
                    { propertyDependencies: { role: [urnOf("aws:iam/role:Role", "pixell-agent-runtime-task-role")] } },
                ),
            ]);
            const found = expectViolation(r, "iam-runtime-no-control-plane");
            assert.deepStrictEqual(found.map((d) => /Action "([^"]+)"/.exec(d.message)?.[1]).sort(), [...forbidden].sort());
        });
    });
});
