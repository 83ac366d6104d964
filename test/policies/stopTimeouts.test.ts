import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { ACCOUNT, expectPass, expectViolation, goodContainer, of, res, taskDefinition, urnOf, useAnalyzer } from "./helpers";

describe("policy pack: stop timeouts", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");
    const analyze = (r: Parameters<ReturnType<typeof analyzer.get>["analyze"]>[0]) => analyzer.get().analyze(r);

    describe("ecs-container-stop-timeout", () => {
        const POLICY = "ecs-container-stop-timeout";

        it("blocks a container without stopTimeout, naming it", async () => {
            const r = await analyze(taskDefinition("worker", [goodContainer({ name: "sidecar", stopTimeout: undefined, environment: [] })]));
            expectViolation(r, POLICY, 'container "sidecar" stopTimeout', "not set");
        });

        it("converts a shutdown budget in milliseconds or minutes: 45000 ms and 1 min need more than 35 s", async () => {
            const budget = (name: string, value: string) => taskDefinition("agent", [goodContainer({ stopTimeout: 35, environment: [{ name, value }] })]);
            expectViolation(await analyze(budget("GRACEFUL_SHUTDOWN_TIMEOUT_MS", "45000")), POLICY, 'GRACEFUL_SHUTDOWN_TIMEOUT_MS is 45000 (45 s)', "at least 50 s");
            expectViolation(await analyze(budget("SHUTDOWN_TIMEOUT_MIN", "1")), POLICY, "SHUTDOWN_TIMEOUT_MIN is 1 (60 s)");
            expectPass(await analyze(budget("GRACEFUL_SHUTDOWN_TIMEOUT_MS", "25000")), POLICY);
        });

        it("reads a shutdown budget given as a command-line flag, in any unit", async () => {
            const flagged = (command: string[]) => taskDefinition("api", [goodContainer({ stopTimeout: 35, environment: [], command })]);
            expectViolation(await analyze(flagged(["node", "server.js", "--graceful-shutdown-timeout=40s"])), POLICY, "--graceful-shutdown-timeout is 40s (40 s)");
            expectViolation(await analyze(flagged(["./server", "--shutdown-timeout", "2m"])), POLICY, "--shutdown-timeout is 2m (120 s)");
            expectPass(await analyze(flagged(["node", "server.js", "--graceful-shutdown-timeout=25000ms"])), POLICY);
        });

        it("passes seed 002's 35 s over a 30 s graceful shutdown", async () => {
            expectPass(await analyze(taskDefinition("agent", [goodContainer({ name: "agent-runtime", stopTimeout: 35, environment: [{ name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "30" }] })])), POLICY);
        });

        it("blocks a stop timeout less than 5 s above GRACEFUL_SHUTDOWN_TIMEOUT_SEC", async () => {
            for (const stop of [30, 34, 20]) {
                const r = await analyze(taskDefinition("agent", [goodContainer({ name: "agent-runtime", stopTimeout: stop })]));
                expectViolation(r, POLICY, `is ${stop} s but GRACEFUL_SHUTDOWN_TIMEOUT_SEC is 30 s`, "at least 35 s");
            }
        });

        it("blocks more than 120 s on Fargate, passes it on EC2", async () => {
            const fargate = await analyze(taskDefinition("long", [goodContainer({ stopTimeout: 150, environment: [] })]));
            expectViolation(fargate, POLICY, "is 150 s, above Fargate's limit of 120 s");
            const ec2 = await analyze(taskDefinition("long-ec2", [goodContainer({ stopTimeout: 150, environment: [] })], { requiresCompatibilities: ["EC2"], networkMode: "bridge" }));
            expectPass(ec2, POLICY);
        });

        it("blocks a stop timeout given as a string or a fraction (ECS registers only a JSON integer); the integer passes", async () => {
            for (const stop of ["35", 35.5] as const) {
                const r = await analyze(taskDefinition("agent", [goodContainer({ name: "agent-runtime", stopTimeout: stop as unknown as number })]));
                expectViolation(r, POLICY, 'container "agent-runtime" stopTimeout', `is ${JSON.stringify(stop)}, not a positive whole number of seconds`);
            }
            expectPass(await analyze(taskDefinition("agent", [goodContainer({ name: "agent-runtime", stopTimeout: 35 })])), POLICY);
        });

        it("blocks a graceful shutdown that is not a number", async () => {
            const r = await analyze(taskDefinition("agent", [goodContainer({ environment: [{ name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "thirty" }] })]));
            expectViolation(r, POLICY, 'environment "GRACEFUL_SHUTDOWN_TIMEOUT_SEC"', "not a duration");
        });
    });

    describe("ecs-service-circuit-breaker", () => {
        const POLICY = "ecs-service-circuit-breaker";
        const service = (name: string, extra: Partial<Parameters<typeof res<typeof aws.ecs.Service>>[2]>) => res(aws.ecs.Service, name, { cluster: "c", taskDefinition: "td", desiredCount: 1, launchType: "FARGATE", ...extra });

        it("blocks a service without the circuit breaker, and one without rollback", async () => {
            expectViolation(await analyze(service("api", {})), POLICY, "deploymentCircuitBreaker.enable");
            expectViolation(await analyze(service("api", { deploymentCircuitBreaker: { enable: true, rollback: false } })), POLICY, "deploymentCircuitBreaker.rollback");
        });

        it("passes enable and rollback", async () => {
            expectPass(await analyze(service("api", { deploymentCircuitBreaker: { enable: true, rollback: true } })), POLICY);
        });

        it("does not apply to services deployed by CodeDeploy", async () => {
            const r = await analyze(service("blue-green", { deploymentController: { type: "CODE_DEPLOY" } }));
            assert.deepStrictEqual(of(r, POLICY), []);
            assert.ok(r.notApplicable.some((n) => n.policyName === POLICY && /CODE_DEPLOY/.test(n.reason)));
        });
    });

    describe("lambda-explicit-timeout", () => {
        const POLICY = "lambda-explicit-timeout";
        const fn = (name: string, timeout?: number) => res(aws.lambda.Function, name, { role: "r", packageType: "Image", imageUri: "x", ...(timeout === undefined ? {} : { timeout }) });

        it("blocks a function without timeout, and one whose timeout the provider defaulted", async () => {
            expectViolation(await analyze(fn("api")), POLICY, "timeout", "3 s default");
            const defaulted = fn("api-defaulted", 3);
            defaulted.inputs!.__defaults = ["timeout"];
            expectViolation(await analyze(defaulted), POLICY, "timeout");
        });

        it("passes an explicit timeout", async () => {
            expectPass(await analyze(fn("api", 29)), POLICY);
        });
    });

    describe("sqs-visibility-exceeds-job-timeout (stack)", () => {
        const POLICY = "sqs-visibility-exceeds-job-timeout";
        const queueUrl = `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/submissions`;
        const queue = (visibilityTimeoutSeconds?: number) =>
            res(aws.sqs.Queue, "submissions", visibilityTimeoutSeconds === undefined ? {} : { visibilityTimeoutSeconds }, { outputs: { name: "submissions", url: queueUrl, arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:submissions` } });
        const runner = (timeoutMs: string, byDependency = false) =>
            taskDefinition(
                "runner",
                [goodContainer({ name: "runner", environment: [{ name: byDependency ? "QUEUE" : "AWS_SQS_QUEUE_URL", value: byDependency ? "resolved-later" : queueUrl }, { name: "RUNNER_TIMEOUT_MS", value: timeoutMs }] })],
                {},
                byDependency ? { propertyDependencies: { containerDefinitions: [urnOf("aws:sqs/queue:Queue", "submissions")] } } : {},
            );

        it("blocks seed 004's runner (RUNNER_TIMEOUT_MS=120000) on a queue with the default 30 s visibility", async () => {
            const r = await analyzer.get().analyzeStack([queue(), runner("120000")]);
            const [v] = expectViolation(r, POLICY, "visibilityTimeoutSeconds: is 30 s", 'task definition "runner" container "runner" (RUNNER_TIMEOUT_MS=120000, 120 s; reads the queue from AWS_SQS_QUEUE_URL)', "above 120 s");
            assert.strictEqual(v.urn, urnOf("aws:sqs/queue:Queue", "submissions"));
        });

        it("blocks a visibility equal to the job timeout, found through the task definition's dependency on the queue", async () => {
            expectViolation(await analyzer.get().analyzeStack([queue(120), runner("120000", true)]), POLICY, "is 120 s, not longer");
        });

        it("passes a visibility longer than the job timeout", async () => {
            const r = await analyzer.get().analyzeStack([queue(185), runner("120000")]);
            assert.deepStrictEqual(of(r, POLICY).map((d) => d.message), []);
        });

        it("follows a Lambda consumer reached through an alias", async () => {
            const fnArn = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:job-worker`;
            const fn = res(aws.lambda.Function, "job-worker", { role: "r", packageType: "Image", imageUri: "x", timeout: 600 }, { outputs: { name: "job-worker", arn: fnArn } });
            const alias = res(aws.lambda.Alias, "live", { functionName: fnArn, functionVersion: "7", name: "live" }, { outputs: { arn: `${fnArn}:live` } });
            const byAlias = res(aws.lambda.EventSourceMapping, "jobs-live", { eventSourceArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:submissions`, functionName: `${fnArn}:live` });
            expectViolation(await analyzer.get().analyzeStack([queue(300), fn, alias, byAlias]), POLICY, 'Lambda "job-worker" (timeout 600 s, through event source mapping "jobs-live" and alias "live")');
            const byVersion = res(aws.lambda.EventSourceMapping, "jobs-v7", { eventSourceArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:submissions`, functionName: `${fnArn}:7` });
            expectViolation(await analyzer.get().analyzeStack([queue(300), fn, byVersion]), POLICY, 'Lambda "job-worker" (timeout 600 s');
            assert.deepStrictEqual(of(await analyzer.get().analyzeStack([queue(900), fn, alias, byAlias]), POLICY), []);
        });

        it("checks Lambda consumers through their event source mapping", async () => {
            const fn = res(aws.lambda.Function, "job-worker", { role: "r", packageType: "Image", imageUri: "x", timeout: 600 }, { outputs: { name: "job-worker", arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:job-worker` } });
            const esm = res(aws.lambda.EventSourceMapping, "job-worker-jobs", { eventSourceArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:submissions`, functionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:job-worker` });
            expectViolation(await analyzer.get().analyzeStack([queue(300), fn, esm]), POLICY, 'Lambda "job-worker" (timeout 600 s, through event source mapping "job-worker-jobs")');
            assert.deepStrictEqual(of(await analyzer.get().analyzeStack([queue(3600), fn, esm]), POLICY), []);
        });
    });
});
