import assert from "node:assert/strict";
import * as path from "path";
import { ecrRepositoryArnOf } from "../components/ecrImage";
import { FargateServiceArgs, fargateServiceArgsProblems, secretArnOf } from "../components/fargateService";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf } from "../tooling/capture";

const PROGRAM = path.join(__dirname, "fixtures", "fargateServiceProgram.ts");
const DIGEST = "@sha256:" + "ab".repeat(32);
const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobfleet/app-token-AbCdEf";

/** Arguments that pass every check; each test breaks one thing. Outputs are not needed for the pure checks. */
function validArgs(): FargateServiceArgs {
    return {
        clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/c",
        clusterName: "c",
        vpcId: "vpc-1",
        subnetIds: ["subnet-1"],
        image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/jobfleet/app${DIGEST}`,
        requireDigest: true,
        cpu: 256,
        memory: 512,
        containerName: "app",
        portMappings: [{ containerPort: 8080 }],
        secrets: { APP_TOKEN: SECRET },
        gracefulShutdownSeconds: 30,
        logGroupName: "/ecs/app",
        logRetentionDays: 30,
        desiredCount: 1,
        alarms: { topicArn: "arn:aws:sns:us-east-1:123456789012:alarms", cpuHighPercent: 80, memoryHighPercent: 80, evaluationMinutes: 5 },
    };
}

function problemsWith(change: Partial<FargateServiceArgs>): string[] {
    return fargateServiceArgsProblems("svc", { ...validArgs(), ...change });
}

function withFixtureVariant<T>(variant: string, run: () => Promise<T>): Promise<T> {
    process.env.FARGATE_FIXTURE_VARIANT = variant;
    return run().finally(() => delete process.env.FARGATE_FIXTURE_VARIANT);
}

describe("FargateService: argument checks", () => {
    it("accepts the valid arguments", () => {
        assert.deepEqual(problemsWith({}), []);
    });

    it("rejects a task size Fargate does not offer, naming cpu/memory and the sizes it accepts", () => {
        const [problem] = problemsWith({ cpu: 256, memory: 4096 });
        assert.match(problem, /FargateService svc: cpu\/memory is "256\/4096"; expected a task size Fargate accepts \(Fargate does not accept 4096 MiB with 256 cpu units; with 256 it accepts 512, 1024, 2048 MiB\)/);
        assert.match(problemsWith({ cpu: 300, memory: 512 })[0], /Fargate cpu must be one of 256, 512, 1024/);
    });

    it("rejects a stop timeout at or below the graceful shutdown time", () => {
        assert.match(problemsWith({ stopTimeoutMarginSeconds: 0 })[0], /stopTimeoutMarginSeconds is 0; expected a whole number of at least 1, so the stop timeout \(30 \+ margin\) is above the 30 s graceful shutdown/);
        assert.match(problemsWith({ stopTimeoutMarginSeconds: -5 })[0], /stopTimeoutMarginSeconds is -5/);
        assert.match(problemsWith({ gracefulShutdownSeconds: 0 })[0], /gracefulShutdownSeconds is 0; expected a whole number of seconds of at least 1/);
    });

    it("rejects a stop timeout above Fargate's 120 s, and accepts exactly 120", () => {
        assert.match(problemsWith({ gracefulShutdownSeconds: 116 })[0], /gracefulShutdownSeconds \+ stopTimeoutMarginSeconds is 121; expected at most 120 seconds \(Fargate's stop timeout limit\)/);
        assert.match(problemsWith({ gracefulShutdownSeconds: 100, stopTimeoutMarginSeconds: 30 })[0], /is 130; expected at most 120/);
        assert.deepEqual(problemsWith({ gracefulShutdownSeconds: 115 }), []);
    });

    it("rejects an image without a digest when requireDigest is set (prod), and :latest always", () => {
        const tagged = "123456789012.dkr.ecr.us-east-1.amazonaws.com/jobfleet/app:v1.2.3";
        assert.match(problemsWith({ image: tagged })[0], /image is ".*app:v1\.2\.3"; expected an image pinned by digest \(repository@sha256:<64 hex>\) because requireDigest is set \(prod\)/);
        assert.deepEqual(problemsWith({ image: tagged, requireDigest: false }), []);
        assert.match(problemsWith({ image: "nginx:latest", requireDigest: false })[0], /image is "nginx:latest"; expected an image without the moving tag :latest/);
        assert.match(problemsWith({ image: `app@sha256:${"a".repeat(63)}` })[0], /expected an image pinned by digest/);
    });

    it("accepts secrets only as Secrets Manager ARNs and never echoes a plaintext value", () => {
        const [plain] = problemsWith({ secrets: { APP_TOKEN: "s3cr3t-value" } });
        assert.match(plain, /secrets\.APP_TOKEN is "\(a value that is not an ARN; hidden\)"; expected a Secrets Manager secret ARN/);
        assert.ok(!plain.includes("s3cr3t-value"));
        assert.match(problemsWith({ secrets: { APP_TOKEN: "arn:aws:ssm:us-east-1:123456789012:parameter/token" } })[0], /secrets\.APP_TOKEN is "arn:aws:ssm:/);
        assert.deepEqual(problemsWith({ secrets: { DB_PASSWORD: `${SECRET}:password::` } }), [], "a jsonKey suffix is allowed");
    });

    it("refuses secret-looking names with literal values in plain environment", () => {
        assert.match(problemsWith({ environment: { CSP_API_TOKEN: "abc123" } })[0], /environment\.CSP_API_TOKEN is "\(value hidden\)"; expected no secret in plain environment/);
        assert.deepEqual(problemsWith({ environment: { TOKEN_TTL_SECONDS: "900", CSP_API_TOKEN_SECRET_ARN: SECRET } }), []);
        assert.match(problemsWith({ environment: { APP_TOKEN: "x" } }).join("\n"), /either environment or secrets, not both/);
    });

    it("refuses root, checks health check ranges, ports and deployment percentages", () => {
        assert.match(problemsWith({ user: "0" })[0], /user is "0"; expected a non-root user/);
        assert.match(problemsWith({ user: "root:root" })[0], /user is "root:root"/);
        assert.match(
            problemsWith({ healthCheck: { command: ["curl", "x"], intervalSeconds: 30, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 60 } })[0],
            /healthCheck\.command is .*expected \["CMD", "executable", \.\.\.args\] or \["CMD-SHELL", "shell command"\]/,
        );
        assert.match(problemsWith({ healthCheck: { command: ["CMD", "x"], intervalSeconds: 30, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 301 } })[0], /healthCheck\.startPeriodSeconds is 301; expected a whole number from 0 to 300/);
        assert.match(problemsWith({ loadBalancers: [{ targetGroupArn: "arn:tg", containerPort: 9090 }] })[0], /loadBalancers\.containerPort is 9090; expected one of the container's portMappings \(8080\)/);
        assert.match(problemsWith({ minimumHealthyPercent: 100, maximumPercent: 100 })[0], /maximumPercent is 100; expected more than minimumHealthyPercent \(100\)/);
        assert.match(problemsWith({ logRetentionDays: 10 })[0], /logRetentionDays is 10; expected one of the retention periods CloudWatch accepts/);
        assert.match(problemsWith({ capacityProviderStrategies: [{ capacityProvider: "FARGATE", weight: 0 }] })[0], /at least one strategy with a weight above 0/);
    });

    it("reports every problem at once", () => {
        assert.equal(problemsWith({ cpu: 256, memory: 4096, user: "root", logRetentionDays: 2 }).length, 3);
    });

    it("derives the execution role's resources from the image and the secrets", () => {
        assert.equal(ecrRepositoryArnOf(`444455556666.dkr.ecr.eu-central-1.amazonaws.com/team/app${DIGEST}`), "arn:aws:ecr:eu-central-1:444455556666:repository/team/app");
        assert.equal(ecrRepositoryArnOf("444455556666.dkr.ecr.us-east-1.amazonaws.com/app:1.0"), "arn:aws:ecr:us-east-1:444455556666:repository/app");
        assert.equal(ecrRepositoryArnOf("public.ecr.aws/docker/library/busybox:1.36"), undefined);
        // The partition follows the region, or the pull is denied outside the commercial partition.
        assert.equal(ecrRepositoryArnOf(`444455556666.dkr.ecr.us-gov-west-1.amazonaws.com/app${DIGEST}`), "arn:aws-us-gov:ecr:us-gov-west-1:444455556666:repository/app");
        assert.equal(ecrRepositoryArnOf(`444455556666.dkr.ecr.cn-north-1.amazonaws.com.cn/app${DIGEST}`), "arn:aws-cn:ecr:cn-north-1:444455556666:repository/app");
        assert.equal(secretArnOf(`${SECRET}:password::`), SECRET);
        assert.equal(secretArnOf(SECRET), SECRET);
    });

    for (const [variant, message] of [
        ["bad-size", /FargateService bad-size: cpu\/memory is "256\/4096"/],
        ["tag-in-prod", /FargateService tag-in-prod: image is ".*:v1\.2\.3"; expected an image pinned by digest/],
        ["stop-timeout-too-small", /FargateService stop-timeout-too-small: stopTimeoutMarginSeconds is 0/],
        ["stop-timeout-too-large", /FargateService stop-timeout-too-large: gracefulShutdownSeconds \+ stopTimeoutMarginSeconds is 123; expected at most 120/],
        ["plain-secret", /FargateService plain-secret: secrets\.APP_TOKEN is "\(a value that is not an ARN; hidden\)"/],
    ] as const) {
        it(`the constructor throws the same sentence under the mock engine: ${variant}`, async () => {
            await assert.rejects(
                withFixtureVariant(variant, () => captureProgram({ stack: "staging", program: PROGRAM })),
                message,
            );
        });
    }
});

describe("FargateService: registered resources", () => {
    let plan: CapturedPlan;
    before(async () => {
        plan = await withFixtureVariant("valid", () => captureProgram({ stack: "staging", program: PROGRAM }));
    });
    const one = (type: string, name: string): CapturedResource => {
        const found = plan.resources.filter((r) => r.type === type && r.name === name);
        assert.equal(found.length, 1, `${type} ${name}`);
        return found[0];
    };
    const container = (name: string) => {
        const defs = JSON.parse(inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", name)).containerDefinitions);
        assert.equal(defs.length, 1);
        return defs[0];
    };
    const policiesOf = (roleName: string) => {
        const role = one("aws:iam/role:Role", roleName);
        return plan.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && inputsOf(r).role === role.id).map((r) => JSON.parse(inputsOf(r).policy));
    };

    it("task definition: Fargate size, awsvpc, separate execution and task roles", () => {
        const td = inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", "full"));
        assert.equal(td.cpu, "512");
        assert.equal(td.memory, "1024");
        assert.equal(td.networkMode, "awsvpc");
        assert.deepEqual(td.requiresCompatibilities, ["FARGATE"]);
        assert.equal(td.executionRoleArn, one("aws:iam/role:Role", "full-execution").outputs.arn);
        assert.equal(td.taskRoleArn, one("aws:iam/role:Role", "full-task").outputs.arn);
        assert.notEqual(td.executionRoleArn, td.taskRoleArn);
        assert.equal(JSON.parse(inputsOf(one("aws:iam/role:Role", "full-execution")).assumeRolePolicy).Statement[0].Principal.Service, "ecs-tasks.amazonaws.com");
        assert.equal(inputsOf(one("aws:iam/role:Role", "full-task")).tags["jobfleet:role-kind"], "task");
    });

    it("container: non-root, read-only root with a writable /tmp, stop timeout 35 over a 30 s shutdown, health check, logs, secrets by ARN", () => {
        const c = container("full");
        assert.equal(c.user, "1001");
        assert.equal(c.readonlyRootFilesystem, true);
        assert.equal(c.stopTimeout, 35);
        assert.deepEqual(c.linuxParameters, { initProcessEnabled: true });
        assert.deepEqual(c.healthCheck, { command: ["CMD", "/app/healthcheck"], interval: 30, timeout: 5, retries: 3, startPeriod: 60 });
        assert.deepEqual(c.portMappings, [{ containerPort: 8080, hostPort: 8080, protocol: "tcp", name: "http", appProtocol: "http" }]);
        assert.deepEqual(c.environment, [
            { name: "LOG_LEVEL", value: "info" },
            { name: "PORT", value: "8080" },
        ]);
        assert.deepEqual(c.secrets, [
            { name: "APP_TOKEN", valueFrom: SECRET },
            { name: "DB_PASSWORD", valueFrom: `${SECRET}:password::` },
        ]);
        assert.deepEqual(c.mountPoints, [
            { sourceVolume: "tmp", containerPath: "/tmp", readOnly: false },
            { sourceVolume: "cache", containerPath: "/cache", readOnly: false },
        ]);
        assert.deepEqual(c.logConfiguration, { logDriver: "awslogs", options: { "awslogs-group": "/ecs/fixture-app", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app" } });
        assert.equal(inputsOf(one("aws:cloudwatch/logGroup:LogGroup", "full")).retentionInDays, 30);
    });

    it("EFS volume: transit encryption and IAM authorization through the access point", () => {
        const volumes = inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", "full")).volumes;
        assert.deepEqual(volumes.find((v: { name: string }) => v.name === "tmp"), { name: "tmp" });
        const cache = volumes.find((v: { name: string }) => v.name === "cache");
        assert.deepEqual(cache.efsVolumeConfiguration, { fileSystemId: "fs-12345678", transitEncryption: "ENABLED", authorizationConfig: { accessPointId: "fsap-0123456789abcdef0", iam: "ENABLED" } });
    });

    it("execution role: ECR auth on * (its only form), pull on the image's repository, its own log group, exactly the injected secret", () => {
        const [doc] = policiesOf("full-execution");
        const logGroupArn = one("aws:cloudwatch/logGroup:LogGroup", "full").outputs.arn;
        assert.deepEqual(doc.Statement, [
            { Sid: "EcrAuthorizationToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
            { Sid: "EcrPullImage", Effect: "Allow", Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], Resource: "arn:aws:ecr:us-east-1:123456789012:repository/jobfleet/app" },
            { Sid: "WriteOwnLogGroup", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${logGroupArn}:log-stream:*` },
            { Sid: "ReadInjectedSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [SECRET] },
        ]);
        const [minimal] = policiesOf("minimal-execution");
        assert.deepEqual(minimal.Statement.map((s: { Sid: string }) => s.Sid), ["WriteOwnLogGroup"], "an image outside ECR and no secrets: logs only");
    });

    it("task role: nothing but the EFS client actions scoped to the access point; empty without volumes", () => {
        assert.deepEqual(policiesOf("full-task"), [
            {
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "MountEfsVolume0",
                        Effect: "Allow",
                        Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                        Resource: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-12345678",
                        Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0" } },
                    },
                ],
            },
        ]);
        assert.deepEqual(policiesOf("minimal-task"), []);
    });

    it("service: private subnets without public IP, circuit breaker with rollback, 100/200 %, the target group", () => {
        const s = inputsOf(one("aws:ecs/service:Service", "full"));
        assert.deepEqual(s.networkConfiguration, { assignPublicIp: false, subnets: ["subnet-private-a", "subnet-private-b"], securityGroups: [one("aws:ec2/securityGroup:SecurityGroup", "full").id] });
        assert.deepEqual(s.deploymentCircuitBreaker, { enable: true, rollback: true });
        assert.equal(s.deploymentMinimumHealthyPercent, 100);
        assert.equal(s.deploymentMaximumPercent, 200);
        assert.equal(s.launchType, "FARGATE");
        assert.equal(s.desiredCount, 2);
        assert.equal(s.enableExecuteCommand, false);
        assert.equal(s.healthCheckGracePeriodSeconds, 60);
        assert.deepEqual(s.loadBalancers, [{ targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/0123456789abcdef", containerName: "app", containerPort: 8080 }]);
    });

    it("service options: capacity providers instead of a launch type, 0/100 % for a singleton, desiredCount left to autoscaling", () => {
        const r = one("aws:ecs/service:Service", "minimal");
        const s = inputsOf(r);
        assert.equal(s.launchType, undefined);
        assert.deepEqual(s.capacityProviderStrategies, [
            { capacityProvider: "FARGATE", weight: 0, base: 1 },
            { capacityProvider: "FARGATE_SPOT", weight: 1 },
        ]);
        assert.equal(s.deploymentMinimumHealthyPercent, 0);
        assert.equal(s.deploymentMaximumPercent, 100);
        assert.deepEqual(r.options.ignoreChanges, ["desiredCount"]);
        assert.deepEqual(one("aws:ecs/service:Service", "full").options.ignoreChanges, []);
        assert.equal(container("minimal").readonlyRootFilesystem, false);
    });

    it("security group: no inline rules, no ingress, a single HTTPS egress rule", () => {
        const sg = one("aws:ec2/securityGroup:SecurityGroup", "full");
        assert.equal(inputsOf(sg).ingress, undefined);
        assert.equal(inputsOf(sg).egress, undefined);
        const rules = plan.resources.filter((r) => r.type.startsWith("aws:vpc/securityGroup") && inputsOf(r).securityGroupId === sg.id);
        assert.deepEqual(
            rules.map((r) => [r.type, inputsOf(r).ipProtocol, inputsOf(r).fromPort, inputsOf(r).toPort, inputsOf(r).cidrIpv4]),
            [["aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "tcp", 443, 443, "0.0.0.0/0"]],
        );
    });

    it("alarms: CPU and memory above the thresholds for the evaluation minutes, to the topic", () => {
        const topicArn = plan.resources.find((r) => r.type === "aws:sns/topic:Topic")!.outputs.arn;
        for (const [suffix, metric, threshold] of [["cpu-high", "CPUUtilization", 80], ["memory-high", "MemoryUtilization", 85]] as const) {
            const a = inputsOf(one("aws:cloudwatch/metricAlarm:MetricAlarm", `full-${suffix}`));
            assert.equal(a.namespace, "AWS/ECS");
            assert.equal(a.metricName, metric);
            assert.equal(a.threshold, threshold);
            assert.equal(a.comparisonOperator, "GreaterThanThreshold");
            assert.equal(a.period, 60);
            assert.equal(a.evaluationPeriods, 3);
            assert.equal(a.datapointsToAlarm, 3);
            assert.equal(a.dimensions.ServiceName, one("aws:ecs/service:Service", "full").outputs.name);
            assert.deepEqual(a.alarmActions, [topicArn]);
        }
    });

    it("every child is parented to its FargateService component", () => {
        const components = plan.resources.filter((r) => r.type === "jobfleet:compute:FargateService");
        assert.equal(components.length, 2);
        const urns = new Set(components.map((c) => c.urn));
        const children = plan.resources.filter((r) => r.type.startsWith("aws:") && !["aws:ecs/cluster:Cluster", "aws:sns/topic:Topic"].includes(r.type));
        assert.ok(children.length > 10);
        for (const child of children) assert.ok(urns.has(child.parent!), `${child.type} ${child.name} parent ${child.parent}`);
    });
});
