import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { resourcePolicy, stackPolicy, stringList } from "./lib/policy";
import { asNumber, ContainerDefinition, containerLabel, environmentOf, isFargate, knownOrUndefined, parseContainerDefinitions, ResourceIndex, T } from "./lib/resources";

/**
 * Timeouts that keep work from being cut off or run twice: container stop timeouts longer than the
 * graceful shutdown they must allow, deployments that roll back on their own, Lambda timeouts
 * chosen rather than defaulted, and queue visibility longer than the job that holds a message.
 */

/** Seconds in a duration: `30`, `30s`, `30000ms`, `2m`, `1.5min`; a bare number takes the unit of the name's suffix (_MS, _MIN, else seconds). */
export function durationSeconds(name: string, value: string): number | undefined {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|msec|millis|milliseconds|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$/i.exec(value);
    if (!m) return undefined;
    const n = Number(m[1]);
    const unit = (m[2] ?? "").toLowerCase();
    if (/^(ms|msec|millis|milliseconds)$/.test(unit)) return n / 1000;
    if (/^(m|min|mins|minutes?)$/.test(unit)) return n * 60;
    if (/^(h|hours?)$/.test(unit)) return n * 3600;
    if (unit !== "") return n;
    return unitSeconds(name, n);
}

const SHUTDOWN_FLAG = /^--?((?:graceful[-_])?shutdown[-_](?:timeout|grace[-_]period|delay)(?:[-_](?:ms|sec|seconds|s|min))?|grace(?:ful)?[-_]period(?:[-_](?:ms|sec|seconds|s))?|drain[-_]timeout(?:[-_](?:ms|sec|s))?)(?:=(.*))?$/i;

/** A shutdown budget given on the command line: `--graceful-shutdown-timeout=30s`, `--shutdown-timeout 30000ms`, `--drain-timeout-ms 20000`. */
function shutdownFlags(c: ContainerDefinition): { name: string; value: string; seconds: number | undefined }[] {
    const args = [...(Array.isArray(c.entryPoint) ? c.entryPoint : []), ...(Array.isArray(c.command) ? c.command : [])].flatMap((a) => (typeof a === "string" ? a.split(/\s+/) : []));
    const out: { name: string; value: string; seconds: number | undefined }[] = [];
    args.forEach((arg, i) => {
        const m = SHUTDOWN_FLAG.exec(arg);
        if (!m) return;
        const value = m[2] ?? args[i + 1] ?? "";
        const name = `--${m[1]}`;
        out.push({ name, value, seconds: durationSeconds(name.replace(/-/g, "_").toUpperCase(), value) });
    });
    return out;
}

export const ecsContainerStopTimeout: ResourceValidationPolicy = resourcePolicy<{ maxFargateStopTimeoutSeconds: number; gracefulShutdownVariables: string[]; minMarginSeconds: number }>({
    name: "ecs-container-stop-timeout",
    description:
        "Every ECS container definition sets stopTimeout; on Fargate it is at most 120 s; where the container declares GRACEFUL_SHUTDOWN_TIMEOUT_SEC the stop timeout exceeds it by at least 5 s.",
    severity: "high",
    tags: ["ecs", "availability", "graceful-shutdown"],
    remediationSteps:
        "Set stopTimeout on every container definition to the service's graceful shutdown seconds plus a margin of at least 5 s (seed 002: GRACEFUL_SHUTDOWN_TIMEOUT_SEC=30 with stopTimeout 35), and never above Fargate's 120 s limit. Without it ECS sends SIGKILL 30 s after SIGTERM regardless of what the process still has in flight.",
    config: {
        maxFargateStopTimeoutSeconds: { type: "integer", default: 120, description: "Fargate's upper limit for stopTimeout." },
        gracefulShutdownVariables: {
            type: "array",
            items: { type: "string" },
            default: ["GRACEFUL_SHUTDOWN_TIMEOUT_SEC", "GRACEFUL_SHUTDOWN_TIMEOUT_SECONDS", "GRACEFUL_SHUTDOWN_TIMEOUT_MS", "GRACEFUL_SHUTDOWN_TIMEOUT_MIN", "SHUTDOWN_TIMEOUT_SEC", "SHUTDOWN_TIMEOUT_SECONDS", "SHUTDOWN_TIMEOUT_MS", "SHUTDOWN_TIMEOUT_MIN", "SHUTDOWN_GRACE_PERIOD_SEC", "SHUTDOWN_GRACE_PERIOD_MS", "DRAIN_TIMEOUT_SEC", "DRAIN_TIMEOUT_MS"],
            description: "Environment variables that declare how long a container drains on SIGTERM; the unit is the name's suffix (_MS milliseconds, _MIN minutes, otherwise seconds).",
        },
        minMarginSeconds: { type: "integer", default: 5, description: "How much longer than the graceful shutdown the stop timeout must be." },
    },
    types: [T.ecsTaskDefinition],
    validate: ({ props, config, report }) => {
        const parsed = parseContainerDefinitions(props.containerDefinitions);
        if (!parsed.ok) {
            report({ field: "containerDefinitions", problem: `cannot be checked: ${parsed.error}`, fix: "give containerDefinitions as the JSON list of container definitions" });
            return;
        }
        const fargate = isFargate(props);
        const max = Number(config.maxFargateStopTimeoutSeconds);
        const margin = Number(config.minMarginSeconds);
        const gracefulNames = new Set(stringList(config.gracefulShutdownVariables));
        parsed.containers.forEach((c: ContainerDefinition, i) => {
            const where = `containerDefinitions ${containerLabel(c, i)}`;
            const stop = typeof c.stopTimeout === "number" && Number.isInteger(c.stopTimeout) ? c.stopTimeout : undefined;
            if (c.stopTimeout === undefined || c.stopTimeout === null) {
                report({ field: `${where} stopTimeout`, problem: "is not set, so ECS kills the container 30 s after SIGTERM whatever it is doing", fix: `set stopTimeout to the graceful shutdown time plus at least ${margin} s${fargate ? ` (at most ${max} on Fargate)` : ""}` });
                return;
            }
            if (stop === undefined || stop <= 0) {
                report({
                    field: `${where} stopTimeout`,
                    problem: `is ${JSON.stringify(c.stopTimeout)}, not a positive whole number of seconds (the container definition takes a JSON integer; ECS does not register ${typeof c.stopTimeout === "string" ? "a string" : "anything else"})`,
                    fix: `set stopTimeout to a whole number of seconds, e.g. ${typeof c.stopTimeout === "string" && asNumber(c.stopTimeout) !== undefined ? Math.ceil(asNumber(c.stopTimeout)!) : 35}, not a string`,
                });
                return;
            }
            if (fargate && stop > max) {
                report({ field: `${where} stopTimeout`, problem: `is ${stop} s, above Fargate's limit of ${max} s (registration fails)`, fix: `lower stopTimeout to at most ${max} s and the graceful shutdown to at most ${max - margin} s` });
            }
            const budgets = [...environmentOf(c).filter((e) => gracefulNames.has(e.name)).map((e) => ({ name: e.name, value: e.value, seconds: durationSeconds(e.name, e.value) })), ...shutdownFlags(c)];
            for (const e of budgets) {
                const graceful = e.seconds;
                if (graceful === undefined) {
                    report({ field: `${where} ${e.name.startsWith("--") ? "flag" : "environment"} "${e.name}"`, problem: `is ${JSON.stringify(e.value)}, not a duration, so the stop timeout cannot be checked against it`, fix: `set ${e.name} to the drain time as a number in the unit its name says` });
                } else if (stop - graceful < margin) {
                    report({
                        field: `${where} stopTimeout`,
                        problem: `is ${stop} s but ${e.name} is ${e.value}${String(e.value) === String(graceful) ? " s" : ` (${graceful} s)`}: the container gets SIGKILL ${stop > graceful ? `only ${stop - graceful} s after` : "before"} its graceful shutdown ends`,
                        fix: `set stopTimeout to at least ${Math.ceil(graceful + margin)} s (${e.name} + ${margin})${graceful + margin > max && fargate ? `, which needs ${e.name} at most ${max - margin} on Fargate` : ""}`,
                    });
                }
            }
        });
    },
});

export const ecsServiceCircuitBreaker: ResourceValidationPolicy = resourcePolicy({
    name: "ecs-service-circuit-breaker",
    description: "Every ECS service has the deployment circuit breaker enabled with rollback.",
    severity: "high",
    tags: ["ecs", "availability", "deployment"],
    remediationSteps:
        "Set deploymentCircuitBreaker: { enable: true, rollback: true } on the aws.ecs.Service. A deployment whose tasks fail to start or stay unhealthy then stops and returns to the last working task definition (seed 001's rollback) instead of replacing healthy tasks with failing ones.",
    types: [T.ecsService],
    validate: ({ props, args, report }) => {
        const controller = String(props.deploymentController?.type ?? "ECS").toUpperCase();
        if (controller !== "ECS") args.notApplicable(`the ${controller} deployment controller has no ECS circuit breaker`);
        const cb = props.deploymentCircuitBreaker;
        if (!cb || cb.enable !== true) {
            report({ field: "deploymentCircuitBreaker.enable", problem: "is not true, so a failing deployment keeps replacing healthy tasks", fix: "set deploymentCircuitBreaker: { enable: true, rollback: true }" });
        } else if (cb.rollback !== true) {
            report({ field: "deploymentCircuitBreaker.rollback", problem: "is not true, so a failed deployment stops without returning to the last working task definition", fix: "set deploymentCircuitBreaker.rollback to true" });
        }
    },
});

/** What the AWS provider's Check fills in for a Lambda without `timeout` (@pulumi/aws lambda/function.d.ts: "Defaults to 3"). */
export const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;

export const lambdaExplicitTimeout: ResourceValidationPolicy = resourcePolicy({
    name: "lambda-explicit-timeout",
    description:
        "Every Lambda function has a chosen timeout, not the provider's 3 s default. The engine sends a pack the provider-checked inputs, so a function without timeout arrives as timeout 3: a timeout of 3 s is read as the default and blocked.",
    severity: "medium",
    tags: ["lambda", "availability"],
    remediationSteps:
        "Set timeout (seconds) on the aws.lambda.Function from stack config: long enough for the work (the job worker waits for the shell executor), short enough for its caller (API Gateway HTTP APIs give up at 30 s), and shorter than the visibility timeout of any queue it consumes. A function that really needs 3 s sets 2 or 4: the pack cannot tell 3 written by the program from the default.",
    types: [T.lambdaFunction],
    validate: ({ props, report }) => {
        const timeout = asNumber(props.timeout);
        if (timeout === undefined || timeout === LAMBDA_DEFAULT_TIMEOUT_SECONDS) {
            report({
                field: `timeout${timeout === undefined ? " (absent)" : ` ${timeout}`}`,
                problem: `is ${timeout === undefined ? "not set" : `${timeout} s`}, the provider's default for a function without timeout, so the function is cut off after 3 s whatever it does`,
                fix: "set timeout explicitly, in seconds, from the stack config (any value but 3, which is indistinguishable from the default)",
            });
        }
    },
});

interface Consumer {
    resource: PolicyResource;
    description: string;
    timeoutSeconds: number;
}

/**
 * Every queue's consumers, in one pass over the stack through identifier indexes (linear in the
 * stack's size): Lambdas behind an event source mapping on the queue (directly, through a
 * qualified ARN or through an alias), and ECS containers that reference the queue and declare a
 * job timeout.
 */
function consumersByQueue(resources: PolicyResource[], jobTimeoutVariables: Set<string>): Map<PolicyResource, Consumer[]> {
    const queues = resources.filter((r) => r.type === T.sqsQueue);
    const queueIndex = new ResourceIndex(queues);
    const functionIndex = new ResourceIndex(resources.filter((r) => r.type === T.lambdaFunction), ["invokeArn"]);
    const aliasIndex = new ResourceIndex(resources.filter((r) => r.type === "aws:lambda/alias:Alias"));
    const out = new Map<PolicyResource, Consumer[]>(queues.map((q) => [q, []]));
    for (const r of resources) {
        if (r.type === T.lambdaEventSourceMapping) {
            const targets = queueIndex.targets(r, "eventSourceArn");
            if (targets.length === 0) continue;
            const found = new Map<PolicyResource, PolicyResource | undefined>();
            for (const fn of functionIndex.targets(r, "functionName")) found.set(fn, undefined);
            for (const alias of aliasIndex.targets(r, "functionName")) for (const fn of functionIndex.targets(alias, "functionName")) found.set(fn, alias);
            for (const [fn, alias] of found) {
                const timeout = asNumber(fn.props.timeout) ?? 3;
                const consumer = { resource: fn, description: `Lambda "${fn.name}" (timeout ${timeout} s, through event source mapping "${r.name}"${alias ? ` and alias "${alias.name}"` : ""})`, timeoutSeconds: timeout };
                for (const q of targets) out.get(q)!.push(consumer);
            }
        } else if (r.type === T.ecsTaskDefinition) {
            const parsed = parseContainerDefinitions(knownOrUndefined(() => r.props.containerDefinitions));
            if (!parsed.ok) continue;
            const dependedOn = queueIndex.targets({ ...r, props: {} } as PolicyResource, "containerDefinitions");
            parsed.containers.forEach((c, i) => {
                const env = environmentOf(c);
                const referenced = new Map<PolicyResource, string | undefined>(dependedOn.map((q) => [q, undefined]));
                for (const e of env) for (const q of queueIndex.lookup(e.value)) referenced.set(q, e.name);
                if (referenced.size === 0) return;
                for (const e of env) {
                    if (!jobTimeoutVariables.has(e.name)) continue;
                    const n = asNumber(e.value);
                    if (n === undefined) continue;
                    const seconds = unitSeconds(e.name, n);
                    for (const [q, via] of referenced) {
                        out.get(q)!.push({
                            resource: r,
                            description: `task definition "${r.name}" ${containerLabel(c, i)} (${e.name}=${e.value}, ${seconds} s${via ? `; reads the queue from ${via}` : ""})`,
                            timeoutSeconds: seconds,
                        });
                    }
                }
            });
        }
    }
    return out;
}

function unitSeconds(name: string, value: number): number {
    if (/_MS$|MILLIS(ECONDS)?$/i.test(name)) return value / 1000;
    if (/_MIN(S|UTES)?$/i.test(name)) return value * 60;
    return value;
}

export const sqsVisibilityExceedsJobTimeout: StackValidationPolicy = stackPolicy<{ jobTimeoutVariables: string[] }>({
    name: "sqs-visibility-exceeds-job-timeout",
    description:
        "An SQS queue consumed by a worker (a Lambda through an event source mapping, or an ECS container that references the queue and declares a job timeout) has a visibility timeout longer than that worker's job timeout.",
    severity: "high",
    tags: ["sqs", "availability", "exactly-once"],
    remediationSteps:
        "Compute the queue's visibilityTimeoutSeconds from the worker's timeout plus a margin (seed 004: RUNNER_TIMEOUT_MS=120000 needs more than 120 s). Otherwise the message becomes visible again while the first worker still runs it and a second worker runs the same job.",
    config: {
        jobTimeoutVariables: {
            type: "array",
            items: { type: "string" },
            default: ["RUNNER_TIMEOUT_MS", "JOB_TIMEOUT_MS", "JOB_TIMEOUT_SECONDS", "JOB_TIMEOUT_SEC", "JOB_TIMEOUT_MIN", "WORKER_TIMEOUT_MS", "WORKER_TIMEOUT_SEC"],
            description: "Container environment variables that state a worker's job timeout; names ending in _MS are milliseconds, others seconds.",
        },
    },
    validate: ({ resources, config, report }) => {
        const vars = new Set(stringList(config.jobTimeoutVariables));
        for (const [queue, consumers] of consumersByQueue(resources, vars)) {
            const visibility = asNumber(queue.props.visibilityTimeoutSeconds) ?? 30;
            for (const consumer of consumers) {
                if (visibility > consumer.timeoutSeconds) continue;
                report(queue, {
                    field: "visibilityTimeoutSeconds",
                    problem: `is ${visibility} s, not longer than the job timeout of its consumer ${consumer.description}, so a message can reappear and run twice`,
                    fix: `set visibilityTimeoutSeconds above ${consumer.timeoutSeconds} s (the job timeout plus a margin)`,
                });
            }
        }
    },
});

export const stopTimeoutPolicies = [ecsContainerStopTimeout, ecsServiceCircuitBreaker, lambdaExplicitTimeout, sqsVisibilityExceedsJobTimeout];
