import assert from "node:assert/strict";
import * as path from "path";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf } from "../tooling/capture";
import { standardPlan } from "./support/plans";

const SERVICES_PROGRAM = path.join(__dirname, "fixtures", "servicesProgram.ts");

function captureAgent(stack: "staging" | "prod", overrides: Record<string, unknown>): Promise<CapturedPlan> {
    process.env.SERVICES_FIXTURE = JSON.stringify({ component: "agent", overrides });
    return captureProgram({ stack, program: SERVICES_PROGRAM }).finally(() => delete process.env.SERVICES_FIXTURE);
}

/** Control-plane services seed 002 forbids to the runtime. */
const FORBIDDEN_SERVICES = ["ecs", "elasticloadbalancing", "servicediscovery", "dynamodb", "iam"];

for (const stack of ["staging", "prod"] as const) {
    describe(`AgentRuntime (seed 002), ${stack}`, () => {
        let plan: CapturedPlan;
        before(async () => {
            plan = await standardPlan(stack);
        });
        const one = (type: string, name: string): CapturedResource => {
            const found = plan.resources.filter((r) => r.type === type && r.name === name);
            assert.equal(found.length, 1, `exactly one ${type} named ${name}`);
            return found[0];
        };
        const container = () => JSON.parse(inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", "agent-runtime")).containerDefinitions)[0];
        const tg = (suffix: string) => one("aws:lb/targetGroup:TargetGroup", `agent-runtime-${suffix}`);
        const rulesOf = (sg: CapturedResource): Record<string, any>[] => plan.resources.filter((r) => r.type.startsWith("aws:vpc/securityGroup") && inputsOf(r).securityGroupId === sg.id).map((r) => ({ kind: r.type.includes("Ingress") ? "in" : "out", ...inputsOf(r) }));
        const policiesOf = (roleName: string) => {
            const role = one("aws:iam/role:Role", roleName);
            return plan.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && inputsOf(r).role === role.id).map((r) => JSON.parse(inputsOf(r).policy));
        };

        it("task size 256 CPU / 512 MB by default, three port mappings, stop timeout 35 over GRACEFUL_SHUTDOWN_TIMEOUT_SEC=30", () => {
            const td = inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", "agent-runtime"));
            assert.equal(td.cpu, "256");
            assert.equal(td.memory, "512");
            const c = container();
            assert.deepEqual(
                c.portMappings.map((p: { containerPort: number; appProtocol: string }) => [p.containerPort, p.appProtocol]),
                [[8080, "http"], [50051, "grpc"], [3000, "http"]],
            );
            assert.equal(c.stopTimeout, 35);
            const env = Object.fromEntries(c.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
            assert.equal(env.GRACEFUL_SHUTDOWN_TIMEOUT_SEC, "30");
            assert.equal(env.AGENT_APP_ID, plan.config.agentRuntimeAppId);
            assert.equal(env.PACKAGE_PREFIX, "packages/");
            assert.equal(env.PACKAGE_BUCKET, one("aws:s3/bucket:Bucket", "agent-runtime-packages").outputs.bucket);
            assert.equal(env.WHEELHOUSE_DIR, "/wheelhouse");
            assert.deepEqual(c.secrets, []);
            assert.equal(c.user, "1001");
        });

        it("container health check on /health with a 60 s start period", () => {
            const hc = container().healthCheck;
            assert.deepEqual(hc.command, ["CMD-SHELL", "curl -fsS http://127.0.0.1:8080/health || exit 1"]);
            assert.equal(hc.startPeriod, 60);
            assert.equal(hc.interval, 30);
            assert.equal(hc.timeout, 5);
            assert.equal(hc.retries, 3);
        });

        it("REST target group: HTTP 8080, /health every 30 s, timeout 5 s, healthy 2, unhealthy 3", () => {
            const t = inputsOf(tg("rest"));
            assert.equal(t.port, 8080);
            assert.equal(t.protocol, "HTTP");
            assert.equal(t.targetType, "ip");
            assert.deepEqual(t.healthCheck, { enabled: true, protocol: "HTTP", path: "/health", matcher: "200", port: "traffic-port", interval: 30, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3 });
        });

        it("A2A target group: TCP 50051 with a TCP health check every 30 s, timeout 10 s, healthy 2, unhealthy 3", () => {
            const t = inputsOf(tg("a2a"));
            assert.equal(t.port, 50051);
            assert.equal(t.protocol, "TCP");
            assert.deepEqual(t.healthCheck, { enabled: true, protocol: "TCP", port: "traffic-port", interval: 30, timeout: 10, healthyThreshold: 2, unhealthyThreshold: 3 });
        });

        it("UI target group: HTTP 3000, readiness from the runtime's /health on 8080, reached through a /ui listener rule", () => {
            const t = inputsOf(tg("ui"));
            assert.equal(t.port, 3000);
            assert.deepEqual(t.healthCheck, { enabled: true, protocol: "HTTP", path: "/health", matcher: "200", port: "8080", interval: 30, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3 });
            const rule = inputsOf(one("aws:lb/listenerRule:ListenerRule", "agent-runtime-ui"));
            assert.equal(rule.listenerArn, one("aws:lb/listener:Listener", "agent-runtime-alb-https").outputs.arn);
            assert.deepEqual(rule.conditions, [{ pathPattern: { values: ["/ui", "/ui/*"] } }]);
            assert.deepEqual(rule.actions, [{ type: "forward", targetGroupArn: tg("ui").outputs.arn }]);
        });

        it("ALB: internet-facing HTTPS with the config certificate, default to REST, HTTP redirects; NLB: internal TCP 50051", () => {
            const alb = inputsOf(one("aws:lb/loadBalancer:LoadBalancer", "agent-runtime-alb"));
            assert.equal(alb.internal, false);
            assert.deepEqual(alb.subnets, plan.outputs.publicSubnetIds);
            const https = inputsOf(one("aws:lb/listener:Listener", "agent-runtime-alb-https"));
            assert.equal(https.certificateArn, plan.config.agentRuntimeCertificateArn);
            assert.equal(https.sslPolicy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
            assert.deepEqual(https.defaultActions, [{ type: "forward", targetGroupArn: tg("rest").outputs.arn }]);
            assert.equal(inputsOf(one("aws:lb/listener:Listener", "agent-runtime-alb-http")).defaultActions[0].type, "redirect");
            const nlb = inputsOf(one("aws:lb/loadBalancer:LoadBalancer", "agent-runtime-nlb"));
            assert.equal(nlb.loadBalancerType, "network");
            assert.equal(nlb.internal, true);
            const listener = inputsOf(one("aws:lb/listener:Listener", "agent-runtime-a2a"));
            assert.equal(listener.port, 50051);
            assert.equal(listener.protocol, "TCP");
            assert.deepEqual(listener.defaultActions, [{ type: "forward", targetGroupArn: tg("a2a").outputs.arn }]);
        });

        it("service: all three target groups, private subnets without public IP, circuit breaker with rollback, 60 s grace", () => {
            const s = inputsOf(one("aws:ecs/service:Service", "agent-runtime"));
            assert.deepEqual(
                s.loadBalancers.map((l: { targetGroupArn: string; containerPort: number }) => [l.targetGroupArn, l.containerPort]),
                [[tg("rest").outputs.arn, 8080], [tg("a2a").outputs.arn, 50051], [tg("ui").outputs.arn, 3000]],
            );
            assert.equal(s.networkConfiguration.assignPublicIp, false);
            assert.deepEqual(s.networkConfiguration.subnets, plan.outputs.privateSubnetIds);
            assert.deepEqual(s.deploymentCircuitBreaker, { enable: true, rollback: true });
            assert.equal(s.healthCheckGracePeriodSeconds, 60);
            assert.equal(s.desiredCount, plan.config.agentRuntimeDesiredCount);
        });

        it("task role: s3:GetObject on the package prefix, the EFS client mount through the access point, nothing else", () => {
            const bucketArn = one("aws:s3/bucket:Bucket", "agent-runtime-packages").outputs.arn;
            const statements = policiesOf("agent-runtime-task").flatMap((d) => d.Statement);
            assert.deepEqual(statements.map((s: { Sid: string }) => s.Sid).sort(), ["MountEfsVolume0", "ReadAgentPackages"]);
            const read = statements.find((s: { Sid: string }) => s.Sid === "ReadAgentPackages");
            assert.deepEqual(read, { Sid: "ReadAgentPackages", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn}/packages/*` });
            const efs = statements.find((s: { Sid: string }) => s.Sid === "MountEfsVolume0");
            assert.deepEqual(efs.Action, ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]);
            assert.equal(efs.Resource, one("aws:efs/fileSystem:FileSystem", "agent-runtime-wheelhouse").outputs.arn);
            assert.equal(efs.Condition.StringEquals["elasticfilesystem:AccessPointArn"], one("aws:efs/accessPoint:AccessPoint", "agent-runtime-wheelhouse").outputs.arn);
            const actions = statements.flatMap((s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
            for (const action of actions) assert.ok(!FORBIDDEN_SERVICES.includes(action.split(":")[0]), `control-plane action ${action}`);
            assert.ok(!actions.some((a: string) => a.includes("*")), "no wildcard actions");
        });

        it("package bucket: private, encrypted, versioned, TLS-only", () => {
            const bucket = one("aws:s3/bucket:Bucket", "agent-runtime-packages");
            const of = (type: string) => inputsOf(one(type, "agent-runtime-packages"));
            assert.deepEqual(
                { ...of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), bucket: undefined },
                { bucket: undefined, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            );
            assert.equal(of("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
            assert.equal(of("aws:s3/bucketVersioning:BucketVersioning").versioningConfiguration.status, "Enabled");
            const policy = JSON.parse(of("aws:s3/bucketPolicy:BucketPolicy").policy);
            assert.deepEqual(policy.Statement[0].Condition, { Bool: { "aws:SecureTransport": "false" } });
            assert.equal(policy.Statement[0].Effect, "Deny");
            assert.deepEqual(policy.Statement[0].Resource, [bucket.outputs.arn, `${bucket.outputs.arn}/*`]);
            assert.equal(inputsOf(bucket).forceDestroy, stack !== "prod");
        });

        it("wheelhouse EFS: encrypted, TLS-only policy, access point as uid 1001, mounted with transit encryption and IAM", () => {
            const fs = one("aws:efs/fileSystem:FileSystem", "agent-runtime-wheelhouse");
            assert.equal(inputsOf(fs).encrypted, true);
            const fsPolicy = JSON.parse(inputsOf(one("aws:efs/fileSystemPolicy:FileSystemPolicy", "agent-runtime-wheelhouse")).policy);
            assert.deepEqual(fsPolicy.Statement[0].Condition, { Bool: { "aws:SecureTransport": "false" } });
            const ap = inputsOf(one("aws:efs/accessPoint:AccessPoint", "agent-runtime-wheelhouse"));
            assert.deepEqual(ap.posixUser, { uid: 1001, gid: 1001 });
            assert.equal(ap.rootDirectory.path, "/wheelhouse");
            const mounts = plan.resources.filter((r) => r.type === "aws:efs/mountTarget:MountTarget" && r.name.startsWith("agent-runtime-wheelhouse-"));
            assert.equal(mounts.length, plan.config.availabilityZoneCount);
            assert.deepEqual(mounts.map((m) => inputsOf(m).subnetId).sort(), [...(plan.outputs.privateSubnetIds as string[])].sort());
            const volume = inputsOf(one("aws:ecs/taskDefinition:TaskDefinition", "agent-runtime")).volumes.find((v: { name: string }) => v.name === "wheelhouse");
            assert.deepEqual(volume.efsVolumeConfiguration, { fileSystemId: fs.id, transitEncryption: "ENABLED", authorizationConfig: { accessPointId: one("aws:efs/accessPoint:AccessPoint", "agent-runtime-wheelhouse").id, iam: "ENABLED" } });
            assert.deepEqual(container().mountPoints.find((m: { sourceVolume: string }) => m.sourceVolume === "wheelhouse"), { sourceVolume: "wheelhouse", containerPath: "/wheelhouse", readOnly: false });
        });

        it("security groups: the ALB alone reaches 8080 and 3000, the internal NLB alone reaches 50051, NFS only between tasks and mount targets", () => {
            const taskSg = one("aws:ec2/securityGroup:SecurityGroup", "agent-runtime");
            const albSg = one("aws:ec2/securityGroup:SecurityGroup", "agent-runtime-alb");
            const nlbSg = one("aws:ec2/securityGroup:SecurityGroup", "agent-runtime-nlb");
            const efsSg = one("aws:ec2/securityGroup:SecurityGroup", "agent-runtime-efs");
            const ingress = rulesOf(taskSg).filter((r) => r.kind === "in").map((r) => [r.fromPort, r.referencedSecurityGroupId, r.cidrIpv4]);
            assert.deepEqual(ingress.sort(), [[3000, albSg.id, undefined], [50051, nlbSg.id, undefined], [8080, albSg.id, undefined]].sort());
            const egress = rulesOf(taskSg).filter((r) => r.kind === "out").map((r) => [r.fromPort, r.referencedSecurityGroupId ?? r.cidrIpv4]);
            assert.deepEqual(egress.sort(), [[2049, efsSg.id], [443, "0.0.0.0/0"]].sort());
            assert.deepEqual(rulesOf(nlbSg).filter((r) => r.kind === "in").map((r) => [r.fromPort, r.cidrIpv4]), [[50051, plan.config.vpcCidr]]);
            assert.deepEqual(rulesOf(efsSg).map((r) => [r.kind, r.fromPort, r.referencedSecurityGroupId]), [["in", 2049, taskSg.id]]);
        });

        it("alarms: no healthy targets for 2 minutes on each target group, memory above 80 %, unhealthy targets over 5 in 5 minutes", () => {
            const alarm = (name: string) => inputsOf(one("aws:cloudwatch/metricAlarm:MetricAlarm", name));
            for (const [surface, namespace, lbName] of [["rest", "AWS/ApplicationELB", "agent-runtime-alb"], ["ui", "AWS/ApplicationELB", "agent-runtime-alb"], ["a2a", "AWS/NetworkELB", "agent-runtime-nlb"]] as const) {
                const a = alarm(`agent-runtime-${surface}-no-healthy-targets`);
                assert.equal(a.namespace, namespace);
                assert.equal(a.metricName, "HealthyHostCount");
                assert.equal(a.statistic, "Minimum");
                assert.equal(a.period, 60);
                assert.equal(a.evaluationPeriods, 2);
                assert.equal(a.datapointsToAlarm, 2);
                assert.equal(a.threshold, 1);
                assert.equal(a.comparisonOperator, "LessThanThreshold");
                assert.deepEqual(a.dimensions, { TargetGroup: tg(surface).outputs.arnSuffix, LoadBalancer: one("aws:lb/loadBalancer:LoadBalancer", lbName).outputs.arnSuffix });
                assert.deepEqual(a.alarmActions, [plan.outputs.alarmTopicArn]);
            }
            for (const surface of ["rest", "a2a"]) {
                const a = alarm(`agent-runtime-${surface}-unhealthy-targets`);
                assert.equal(a.metricName, "UnHealthyHostCount");
                assert.equal(a.statistic, "Sum");
                assert.equal(a.period, 300);
                assert.equal(a.evaluationPeriods, 1);
                assert.equal(a.threshold, 5);
                assert.equal(a.comparisonOperator, "GreaterThanThreshold");
            }
            const memory = alarm("agent-runtime-memory-high");
            assert.equal(memory.metricName, "MemoryUtilization");
            assert.equal(memory.threshold, 80);
            assert.equal(memory.comparisonOperator, "GreaterThanThreshold");
        });
    });
}

describe("AgentRuntime: argument checks", () => {
    it("checks its child components' arguments before it creates any resource", async () => {
        process.env.SERVICES_FIXTURE = JSON.stringify({ component: "agent", overrides: { gracefulShutdownSeconds: 118 }, catchError: true });
        const plan = await captureProgram({ stack: "staging", program: SERVICES_PROGRAM }).finally(() => delete process.env.SERVICES_FIXTURE);
        assert.match(String(plan.outputs.constructionError), /gracefulShutdownSeconds \+ stopTimeoutMarginSeconds is 123/);
        const component = plan.resources.filter((r) => r.type === "jobfleet:services:AgentRuntime");
        assert.equal(component.length, 1);
        assert.deepEqual(plan.resources.filter((r) => r.urn.includes("fixture-agent")).map((r) => r.type), ["jobfleet:services:AgentRuntime"], "nothing but the component itself was registered");
    });

    it("refuses a package prefix that does not end in /, or whose * would widen the read grant", async () => {
        await assert.rejects(captureAgent("staging", { packagePrefix: "packages" }), /AgentRuntime fixture-agent: packagePrefix is "packages"; expected an S3 key prefix ending in \//);
        await assert.rejects(captureAgent("staging", { packagePrefix: "*/" }), /AgentRuntime fixture-agent: packagePrefix is "\*\/"; expected .*without \*/);
    });

    it("refuses a graceful shutdown whose stop timeout would pass Fargate's 120 s", async () => {
        await assert.rejects(captureAgent("staging", { gracefulShutdownSeconds: 118 }), /FargateService fixture-agent: gracefulShutdownSeconds \+ stopTimeoutMarginSeconds is 123; expected at most 120/);
    });

    it("refuses a tagged image in prod", async () => {
        await assert.rejects(captureAgent("prod", { image: "444455556666.dkr.ecr.us-east-1.amazonaws.com/jobfleet/agent-runtime:1.4.0" }), /image is ".*agent-runtime:1\.4\.0"; expected an image pinned by digest/);
    });

    it("follows a different shutdown budget: stop timeout and deregistration delay move with it", async () => {
        const plan = await captureAgent("staging", { gracefulShutdownSeconds: 60 });
        const td = plan.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.name === "fixture-agent")!;
        const c = JSON.parse(inputsOf(td).containerDefinitions)[0];
        assert.equal(c.stopTimeout, 65);
        assert.deepEqual(c.environment.find((e: { name: string }) => e.name === "GRACEFUL_SHUTDOWN_TIMEOUT_SEC"), { name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "60" });
        for (const r of plan.resources.filter((x) => x.type === "aws:lb/targetGroup:TargetGroup")) assert.equal(inputsOf(r).deregistrationDelay, 60);
    });
});
