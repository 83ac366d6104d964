import assert from "node:assert/strict";
import * as path from "path";
import { ALLOCATION_TABLE_ACTIONS } from "../components/sandboxBroker";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf } from "../tooling/capture";
import { standardPlan } from "./support/plans";

const SERVICES_PROGRAM = path.join(__dirname, "fixtures", "servicesProgram.ts");

function captureBroker(stack: "staging" | "prod", overrides: Record<string, unknown>): Promise<CapturedPlan> {
    process.env.SERVICES_FIXTURE = JSON.stringify({ component: "broker", overrides });
    return captureProgram({ stack, program: SERVICES_PROGRAM }).finally(() => delete process.env.SERVICES_FIXTURE);
}

for (const stack of ["staging", "prod"] as const) {
    describe(`SandboxBroker (seed 001), ${stack}`, () => {
        let plan: CapturedPlan;
        before(async () => {
            plan = await standardPlan(stack);
        });
        const one = (type: string, name: string): CapturedResource => {
            const found = plan.resources.filter((r) => r.type === type && r.name === name);
            assert.equal(found.length, 1, `exactly one ${type} named ${name}`);
            return found[0];
        };
        const container = (name: string) => JSON.parse(inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", name)).containerDefinitions)[0];
        const env = (name: string) => Object.fromEntries(container(name).environment.map((e: { name: string; value: string }) => [e.name, e.value]));
        const rulesOf = (sg: CapturedResource): Record<string, any>[] => plan.resources.filter((r) => r.type.startsWith("aws:vpc/securityGroup") && inputsOf(r).securityGroupId === sg.id).map((r) => ({ kind: r.type.includes("Ingress") ? "in" : "out", ...inputsOf(r) }));
        const policiesOf = (roleName: string) => {
            const role = one("aws:iam/role:Role", roleName);
            return plan.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && inputsOf(r).role === role.id).map((r) => JSON.parse(inputsOf(r).policy));
        };

        it("runs in its own ECS cluster with Container Insights", () => {
            const cluster = one("aws:ecs/cluster:Cluster", "sandbox-broker");
            assert.deepEqual(inputsOf(cluster).settings, [{ name: "containerInsights", value: "enabled" }]);
            for (const svc of ["sandbox-broker-api", "sandbox-broker-worker"]) assert.equal(inputsOf(one("aws:ecs/service:Service", svc)).cluster, cluster.outputs.arn);
        });

        it(`API service: ${stack === "prod" ? 2 : 1} task(s) from config, 100/200 %, behind the target group on 8080; worker: 1 task, 0/100 % so jobs never run twice`, () => {
            const api = inputsOf(one("aws:ecs/service:Service", "sandbox-broker-api"));
            assert.equal(api.desiredCount, plan.config.sandboxBrokerApiDesiredCount);
            assert.equal(api.desiredCount, stack === "prod" ? 2 : 1);
            assert.equal(api.deploymentMinimumHealthyPercent, 100);
            assert.equal(api.deploymentMaximumPercent, 200);
            assert.deepEqual(api.loadBalancers, [{ targetGroupArn: one("aws:lb/targetGroup:TargetGroup", "sandbox-broker-api").outputs.arn, containerName: "sandbox-broker", containerPort: 8080 }]);
            const worker = inputsOf(one("aws:ecs/service:Service", "sandbox-broker-worker"));
            assert.equal(worker.desiredCount, 1);
            assert.equal(worker.deploymentMinimumHealthyPercent, 0);
            assert.equal(worker.deploymentMaximumPercent, 100);
            assert.deepEqual(worker.loadBalancers, []);
            for (const s of [api, worker]) {
                assert.deepEqual(s.deploymentCircuitBreaker, { enable: true, rollback: true });
                assert.equal(s.networkConfiguration.assignPublicIp, false);
                assert.deepEqual(s.networkConfiguration.subnets, plan.outputs.privateSubnetIds);
            }
        });

        it("both services run the same image with different commands, 35 s stop timeout over the 30 s shutdown, as a non-root user", () => {
            const api = container("sandbox-broker-api");
            const worker = container("sandbox-broker-worker");
            assert.equal(api.image, plan.config.sandboxBrokerImage);
            assert.equal(worker.image, plan.config.sandboxBrokerImage);
            assert.notDeepEqual(api.command, worker.command);
            assert.equal(env("sandbox-broker-api").RUN_BACKGROUND_JOBS, "false");
            assert.equal(env("sandbox-broker-worker").RUN_BACKGROUND_JOBS, "true");
            for (const c of [api, worker]) {
                assert.equal(c.stopTimeout, 35);
                assert.equal(c.user, "1001");
                assert.equal(c.readonlyRootFilesystem, true);
            }
            assert.equal(inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", "sandbox-broker-api")).cpu, String(plan.config.sandboxBrokerCpu));
            assert.deepEqual(api.healthCheck.command[0], "CMD-SHELL");
            assert.match(api.healthCheck.command[1], /127\.0\.0\.1:8080\/healthz/);
        });

        it("CORS origins, rate limit and table name as plain env; the CSP API token only as a secret ARN", () => {
            const apiEnv = env("sandbox-broker-api");
            assert.equal(apiEnv.CORS_ALLOWED_ORIGINS, plan.config.sandboxBrokerCorsAllowedOrigins.join(","));
            assert.ok(!apiEnv.CORS_ALLOWED_ORIGINS.split(",").includes("*"));
            assert.equal(apiEnv.RATE_LIMIT_PER_MINUTE, "60");
            assert.equal(apiEnv.RATE_LIMIT_HEADER, "X-Instruqt-Sandbox-ID");
            const table = one("aws:dynamodb/table:Table", "sandbox-broker-allocations");
            assert.equal(apiEnv.ALLOCATIONS_TABLE_NAME, table.outputs.name);
            assert.equal(env("sandbox-broker-worker").ALLOCATIONS_TABLE_NAME, table.outputs.name);

            const secrets = plan.resources.filter((r) => r.type === "aws:secretsmanager/secret:Secret" && r.name === "sandbox-broker-csp-api-token");
            const expectedArn = stack === "prod" ? plan.config.sandboxBrokerCspApiTokenSecretArn : secrets[0]?.outputs.arn;
            assert.equal(secrets.length, stack === "prod" ? 0 : 1, "a secret is created only when config names none");
            assert.equal(plan.resources.filter((r) => r.type === "aws:secretsmanager/secretVersion:SecretVersion" && r.urn.includes("sandbox-broker")).length, 0, "the stack never holds the token's value");
            for (const name of ["sandbox-broker-api", "sandbox-broker-worker"]) {
                assert.deepEqual(container(name).secrets, [{ name: "CSP_API_TOKEN", valueFrom: expectedArn }]);
                assert.ok(!container(name).environment.some((e: { name: string }) => /TOKEN/.test(e.name)));
                const read = policiesOf(`${name}-execution`)[0].Statement.find((s: { Sid: string }) => s.Sid === "ReadInjectedSecrets");
                assert.deepEqual(read.Resource, [expectedArn]);
            }
        });

        it("allocations table: on-demand, point-in-time recovery, encrypted; deletion protection in prod", () => {
            const t = inputsOf(one("aws:dynamodb/table:Table", "sandbox-broker-allocations"));
            assert.equal(t.billingMode, "PAY_PER_REQUEST");
            assert.deepEqual(t.pointInTimeRecovery, { enabled: true });
            assert.deepEqual(t.serverSideEncryption, { enabled: true });
            assert.equal(t.deletionProtectionEnabled, stack === "prod");
        });

        it("task roles hold only item-level access to the allocations table", () => {
            const tableArn = one("aws:dynamodb/table:Table", "sandbox-broker-allocations").outputs.arn;
            for (const name of ["sandbox-broker-api-task", "sandbox-broker-worker-task"]) {
                const docs = policiesOf(name);
                assert.equal(docs.length, 1, name);
                assert.deepEqual(docs[0].Statement, [{ Sid: "AllocationsTableItems", Effect: "Allow", Action: [...ALLOCATION_TABLE_ACTIONS], Resource: [tableArn, `${tableArn}/index/*`] }]);
                for (const action of docs[0].Statement[0].Action) assert.match(action, /^dynamodb:(Get|BatchGet|Query|Scan|Put|Update|Delete|BatchWrite|ConditionCheck)Item$|^dynamodb:(Query|Scan)$/);
            }
        });

        it("internet-facing ALB in the public subnets: HTTPS with the config certificate and a TLS 1.2+ policy, HTTP only redirects", () => {
            const lb = inputsOf(one("aws:lb/loadBalancer:LoadBalancer", "sandbox-broker-alb"));
            assert.equal(lb.loadBalancerType, "application");
            assert.equal(lb.internal, false);
            assert.deepEqual(lb.subnets, plan.outputs.publicSubnetIds);
            assert.equal(lb.dropInvalidHeaderFields, true);
            assert.equal(lb.enableDeletionProtection, stack === "prod");
            const https = inputsOf(one("aws:lb/listener:Listener", "sandbox-broker-alb-https"));
            assert.equal(https.port, 443);
            assert.equal(https.protocol, "HTTPS");
            assert.equal(https.certificateArn, plan.config.sandboxBrokerCertificateArn);
            assert.equal(https.sslPolicy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
            assert.deepEqual(https.defaultActions, [{ type: "forward", targetGroupArn: one("aws:lb/targetGroup:TargetGroup", "sandbox-broker-api").outputs.arn }]);
            const http = inputsOf(one("aws:lb/listener:Listener", "sandbox-broker-alb-http"));
            assert.equal(http.port, 80);
            assert.deepEqual(http.defaultActions, [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }]);
        });

        it("target group health check on /healthz", () => {
            const tg = inputsOf(one("aws:lb/targetGroup:TargetGroup", "sandbox-broker-api"));
            assert.equal(tg.targetType, "ip");
            assert.equal(tg.port, 8080);
            assert.equal(tg.protocol, "HTTP");
            assert.equal(tg.deregistrationDelay, 30);
            assert.deepEqual(tg.healthCheck, { enabled: true, protocol: "HTTP", path: "/healthz", matcher: "200", port: "traffic-port", interval: 30, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3 });
        });

        it("security groups: the internet reaches the ALB on 443/80, only the ALB reaches the API tasks (8080), nothing reaches the worker", () => {
            const albSg = one("aws:ec2/securityGroup:SecurityGroup", "sandbox-broker-alb");
            const apiSg = one("aws:ec2/securityGroup:SecurityGroup", "sandbox-broker-api");
            const workerSg = one("aws:ec2/securityGroup:SecurityGroup", "sandbox-broker-worker");
            const albRules = rulesOf(albSg);
            assert.deepEqual(
                albRules.filter((r) => r.kind === "in").map((r) => [r.fromPort, r.cidrIpv4]).sort(),
                [[443, "0.0.0.0/0"], [80, "0.0.0.0/0"]].sort(),
            );
            assert.deepEqual(albRules.filter((r) => r.kind === "out").map((r) => [r.fromPort, r.toPort, r.referencedSecurityGroupId]), [[8080, 8080, apiSg.id]]);
            const apiIngress = rulesOf(apiSg).filter((r) => r.kind === "in");
            assert.deepEqual(apiIngress.map((r) => [r.fromPort, r.toPort, r.referencedSecurityGroupId, r.cidrIpv4]), [[8080, 8080, albSg.id, undefined]]);
            assert.deepEqual(rulesOf(workerSg).filter((r) => r.kind === "in"), []);
            for (const sg of [albSg, apiSg, workerSg]) assert.equal(inputsOf(sg).ingress, undefined, "no inline rules");
        });

        it("CPU-high and memory-high alarms on both services, plus no healthy API target, all to the alarm topic", () => {
            for (const svc of ["sandbox-broker-api", "sandbox-broker-worker"]) {
                const serviceName = one("aws:ecs/service:Service", svc).outputs.name;
                for (const [suffix, metric, threshold] of [["cpu-high", "CPUUtilization", plan.config.alarmCpuHighPercent], ["memory-high", "MemoryUtilization", plan.config.alarmMemoryHighPercent]] as const) {
                    const a = inputsOf(one("aws:cloudwatch/metricAlarm:MetricAlarm", `${svc}-${suffix}`));
                    assert.equal(a.metricName, metric);
                    assert.equal(a.threshold, threshold);
                    assert.equal(a.evaluationPeriods, plan.config.alarmEvaluationMinutes);
                    assert.equal(a.dimensions.ServiceName, serviceName);
                    assert.deepEqual(a.alarmActions, [plan.outputs.alarmTopicArn]);
                }
            }
            const noHealthy = inputsOf(one("aws:cloudwatch/metricAlarm:MetricAlarm", "sandbox-broker-api-no-healthy-targets"));
            assert.equal(noHealthy.metricName, "HealthyHostCount");
            assert.equal(noHealthy.comparisonOperator, "LessThanThreshold");
            assert.equal(noHealthy.threshold, 1);
        });

        it("log groups keep the seed's names with the stack's retention", () => {
            for (const svc of ["api", "worker"]) {
                const lg = inputsOf(one("aws:cloudwatch/logGroup:LogGroup", `sandbox-broker-${svc}`));
                assert.equal(lg.name, `/ecs/sandbox-broker-${svc}`);
                assert.equal(lg.retentionInDays, plan.config.logRetentionDays);
            }
        });
    });
}

describe("SandboxBroker: argument checks", () => {
    it("checks its child components' arguments before it creates any resource", async () => {
        process.env.SERVICES_FIXTURE = JSON.stringify({ component: "broker", overrides: { certificateArn: "arn:aws:iam::123456789012:server-certificate/old" }, catchError: true });
        const plan = await captureProgram({ stack: "staging", program: SERVICES_PROGRAM }).finally(() => delete process.env.SERVICES_FIXTURE);
        assert.match(String(plan.outputs.constructionError), /HttpsLoadBalancer fixture-broker-alb: certificateArn is "arn:aws:iam::123456789012:server-certificate\/old"; expected an ACM certificate ARN/);
        const component = plan.resources.filter((r) => r.type === "jobfleet:services:SandboxBroker");
        assert.equal(component.length, 1);
        assert.deepEqual(plan.resources.filter((r) => r.urn.includes("fixture-broker")).map((r) => r.type), ["jobfleet:services:SandboxBroker"], "nothing but the component itself was registered");
    });

    it("refuses CORS origin * in prod even when handed past the config check", async () => {
        await assert.rejects(captureBroker("prod", { corsAllowedOrigins: ["https://play.instruqt.com", "*"] }), /SandboxBroker fixture-broker: corsAllowedOrigins is \[.*"\*"\]; expected explicit origins in prod/);
    });

    it("accepts * outside prod (the seed's staging compatibility), passing it through unchanged", async () => {
        const plan = await captureBroker("staging", { corsAllowedOrigins: ["*"] });
        const td = plan.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.name === "fixture-broker-api")!;
        const env = JSON.parse(inputsOf(td).containerDefinitions)[0].environment;
        assert.deepEqual(env.find((e: { name: string }) => e.name === "CORS_ALLOWED_ORIGINS"), { name: "CORS_ALLOWED_ORIGINS", value: "*" });
    });

    it("refuses a CSP token that is not a Secrets Manager ARN without echoing it, and two workers", async () => {
        await assert.rejects(captureBroker("staging", { cspApiTokenSecretArn: "tok_live_123" }), (e: Error) => /cspApiTokenSecretArn is "\(not an ARN; hidden\)"/.test(e.message) && !e.message.includes("tok_live_123"));
        await assert.rejects(captureBroker("staging", { workerDesiredCount: 2 }), /workerDesiredCount is 2; expected 0 or 1/);
    });
});
