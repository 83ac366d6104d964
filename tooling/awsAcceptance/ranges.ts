import { parseDocument } from "./documents";
import { AcceptanceResource, Report, valuesAt } from "./violation";

/**
 * Documented value ranges and cross-field constraints the AWS SDK shapes do not carry (their
 * static schemas keep no range traits): hand-kept, each with the page that states it.
 */
interface RangeRule {
    path: string;
    min?: number;
    max?: number;
    /** The only values AWS accepts. */
    oneOf?: number[];
    source: string;
}

const TG = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html";
const LAMBDA = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html";
const SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html";
const CONTAINER = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html";
const CONTAINER_HEALTH = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html";
/** CloudWatch Logs PutRetentionPolicy: the retention periods it accepts (the provider's 0 means never expire and sends none). */
const LOG_RETENTION_DAYS = [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const RANGES: Record<string, RangeRule[]> = {
    "aws:lb/targetGroup:TargetGroup": [
        { path: "healthCheck.interval", min: 5, max: 300, source: `${TG} (HealthCheckIntervalSeconds)` },
        { path: "healthCheck.timeout", min: 2, max: 120, source: `${TG} (HealthCheckTimeoutSeconds)` },
        { path: "healthCheck.healthyThreshold", min: 2, max: 10, source: `${TG} (HealthyThresholdCount)` },
        { path: "healthCheck.unhealthyThreshold", min: 2, max: 10, source: `${TG} (UnhealthyThresholdCount)` },
        { path: "port", min: 1, max: 65535, source: `${TG} (Port)` },
        { path: "deregistrationDelay", min: 0, max: 3600, source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupAttribute.html (deregistration_delay.timeout_seconds)" },
    ],
    "aws:lb/loadBalancer:LoadBalancer": [{ path: "idleTimeout", min: 1, max: 4000, source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html (idle_timeout.timeout_seconds)" }],
    "aws:lambda/function:Function": [
        { path: "timeout", min: 1, max: 900, source: `${LAMBDA} (Timeout)` },
        { path: "memorySize", min: 128, max: 10240, source: `${LAMBDA} (MemorySize)` },
        { path: "ephemeralStorage.size", min: 512, max: 10240, source: `${LAMBDA} (EphemeralStorage)` },
    ],
    "aws:cloudwatch/logGroup:LogGroup": [{ path: "retentionInDays", oneOf: LOG_RETENTION_DAYS, source: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html (retentionInDays)" }],
    "aws:sqs/queue:Queue": [
        { path: "visibilityTimeoutSeconds", min: 0, max: 43200, source: `${SQS} (VisibilityTimeout)` },
        { path: "messageRetentionSeconds", min: 60, max: 1209600, source: `${SQS} (MessageRetentionPeriod)` },
        { path: "maxMessageSize", min: 1024, max: 1048576, source: `${SQS} (MaximumMessageSize)` },
        { path: "delaySeconds", min: 0, max: 900, source: `${SQS} (DelaySeconds)` },
        { path: "receiveWaitTimeSeconds", min: 0, max: 20, source: `${SQS} (ReceiveMessageWaitTimeSeconds)` },
        { path: "kmsDataKeyReusePeriodSeconds", min: 60, max: 86400, source: `${SQS} (KmsDataKeyReusePeriodSeconds)` },
    ],
    "aws:secretsmanager/secret:Secret": [{ path: "recoveryWindowInDays", oneOf: [0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30], source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html (RecoveryWindowInDays 7-30; the provider's 0 forces deletion)" }],
    "aws:kms/key:Key": [{ path: "deletionWindowInDays", min: 7, max: 30, source: "https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html (PendingWindowInDays)" }],
    "aws:apigatewayv2/integration:Integration": [{ path: "timeoutMilliseconds", min: 50, max: 30000, source: "https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations.html (timeoutInMillis, HTTP APIs)" }],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [{ path: "evaluationPeriods", min: 1, source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (EvaluationPeriods)" }],
    "aws:rds/instance:Instance": [{ path: "backupRetentionPeriod", min: 0, max: 35, source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (BackupRetentionPeriod)" }],
    "aws:ec2/launchTemplate:LaunchTemplate": [{ path: "metadataOptions.httpPutResponseHopLimit", min: 1, max: 64, source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateInstanceMetadataOptionsRequest.html (HttpPutResponseHopLimit)" }],
    "aws:iam/role:Role": [{ path: "maxSessionDuration", min: 3600, max: 43200, source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (MaxSessionDuration)" }],
};

/** Fargate task sizes: cpu units → memory MiB it accepts. */
const FARGATE_SOURCE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size";
const stepped = (from: number, to: number, step: number) => Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
const FARGATE_SIZES: Record<number, number[]> = {
    256: [512, 1024, 2048],
    512: stepped(1024, 4096, 1024),
    1024: stepped(2048, 8192, 1024),
    2048: stepped(4096, 16384, 1024),
    4096: stepped(8192, 30720, 1024),
    8192: stepped(16384, 61440, 4096),
    16384: stepped(32768, 122880, 8192),
};

function checkRange(at: string, value: unknown, rule: RangeRule, report: Report): void {
    const n = typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    if (typeof n !== "number") return;
    if (rule.oneOf && !rule.oneOf.includes(n)) report(at, "value-range", `${at} is ${n}; AWS accepts only ${rule.oneOf.join(", ")}`, rule.source);
    if ((rule.min !== undefined && n < rule.min) || (rule.max !== undefined && n > rule.max)) {
        report(at, "value-range", `${at} is ${n}; AWS accepts ${rule.min ?? "-∞"} to ${rule.max ?? "∞"}`, rule.source);
    }
}

export function checkRanges(resource: AcceptanceResource, report: Report): void {
    for (const rule of RANGES[resource.type] ?? []) {
        for (const { path, value } of valuesAt(resource.inputs, rule.path)) checkRange(path, value, rule, report);
    }
    const inputs = resource.inputs as Record<string, any>;
    if (resource.type === "aws:lb/targetGroup:TargetGroup") {
        const { interval, timeout } = inputs.healthCheck ?? {};
        if (typeof interval === "number" && typeof timeout === "number" && timeout >= interval) {
            report("healthCheck.timeout", "value-range", `healthCheck.timeout ${timeout} must be less than healthCheck.interval ${interval}`, `${TG} (HealthCheckTimeoutSeconds)`);
        }
    }
    if (resource.type === "aws:cloudwatch/metricAlarm:MetricAlarm") {
        const { period, evaluationPeriods, datapointsToAlarm } = inputs;
        const source = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (Period, DatapointsToAlarm)";
        if (typeof period === "number" && ![10, 20, 30].includes(period) && period % 60 !== 0) report("period", "value-range", `period ${period} must be 10, 20, 30 or a multiple of 60`, source);
        if (typeof period === "number" && typeof evaluationPeriods === "number" && period * evaluationPeriods > 86400 * 7) report("period", "value-range", `period × evaluationPeriods is ${period * evaluationPeriods} s; at most 7 days`, source);
        if (typeof datapointsToAlarm === "number" && typeof evaluationPeriods === "number" && datapointsToAlarm > evaluationPeriods) report("datapointsToAlarm", "value-range", `datapointsToAlarm ${datapointsToAlarm} exceeds evaluationPeriods ${evaluationPeriods}`, source);
    }
    if (resource.type === "aws:lb/targetGroup:TargetGroup") {
        const health = inputs.healthCheck ?? {};
        if (["TCP", "TLS", "UDP", "TCP_UDP"].includes(health.protocol) && (health.path !== undefined || health.matcher !== undefined)) {
            report("healthCheck", "documented-constraint", `a ${health.protocol} health check takes no path or matcher (they apply to HTTP, HTTPS and gRPC checks)`, `${TG} (HealthCheckPath, Matcher)`);
        }
    }
    if (resource.type === "aws:ecs/service:Service") {
        const balanced = Array.isArray(inputs.loadBalancers) && inputs.loadBalancers.length > 0;
        if (inputs.healthCheckGracePeriodSeconds !== undefined && !balanced) {
            report("healthCheckGracePeriodSeconds", "documented-constraint", "healthCheckGracePeriodSeconds is valid only for a service with load balancers; ECS refuses it otherwise", "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html (healthCheckGracePeriodSeconds)");
        }
    }
    if (resource.type === "aws:lambda/function:Function") checkLambdaEnvironment(inputs.environment?.variables, report);
    if (resource.type === "aws:apigatewayv2/stage:Stage") {
        const format = inputs.accessLogSettings?.format;
        if (typeof format === "string" && !/\$context\.(requestId|extendedRequestId)\b/.test(format)) {
            report("accessLogSettings.format", "documented-constraint", "an access log format must include $context.requestId or $context.extendedRequestId", "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html");
        }
    }
    if (resource.type === "aws:ecs/taskDefinition:TaskDefinition") checkTaskDefinition(inputs, report);
}

const LAMBDA_ENV_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html";
/** Keys the Lambda runtime sets itself; CreateFunction refuses them. */
const LAMBDA_RESERVED_KEYS = ["_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"];

function checkLambdaEnvironment(variables: unknown, report: Report): void {
    if (!variables || typeof variables !== "object") return;
    const entries = Object.entries(variables as Record<string, unknown>);
    const size = entries.reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(typeof v === "string" ? v : JSON.stringify(v ?? "")), 0);
    if (size > 4096) report("environment.variables", "documented-constraint", `the environment variables take ${size} bytes; Lambda accepts at most 4 KB in all`, `${LAMBDA_ENV_SOURCE} (4 KB)`);
    for (const [key] of entries) {
        if (!/^[a-zA-Z][a-zA-Z0-9_]+$/.test(key)) report(`environment.variables.${key}`, "documented-constraint", `${key} is not a Lambda environment variable name (a letter, then letters, digits or _)`, LAMBDA_ENV_SOURCE);
        if (LAMBDA_RESERVED_KEYS.includes(key)) report(`environment.variables.${key}`, "documented-constraint", `${key} is reserved by the Lambda runtime; CreateFunction refuses it`, `${LAMBDA_ENV_SOURCE}#configuration-envvars-runtime`);
    }
}

function checkTaskDefinition(inputs: Record<string, any>, report: Report): void {
    const fargate = Array.isArray(inputs.requiresCompatibilities) && inputs.requiresCompatibilities.includes("FARGATE");
    if (fargate) {
        const cpu = Number(inputs.cpu);
        const memory = Number(inputs.memory);
        if (!(cpu in FARGATE_SIZES)) report("cpu", "fargate-size", `cpu ${inputs.cpu} is not a Fargate task size; allowed: ${Object.keys(FARGATE_SIZES).join(", ")}`, FARGATE_SOURCE);
        else if (!FARGATE_SIZES[cpu].includes(memory)) report("memory", "fargate-size", `memory ${inputs.memory} does not pair with cpu ${cpu} on Fargate; allowed: ${FARGATE_SIZES[cpu].join(", ")}`, FARGATE_SOURCE);
        if (inputs.networkMode !== undefined && inputs.networkMode !== "awsvpc") report("networkMode", "fargate-size", `Fargate tasks need networkMode awsvpc, not ${inputs.networkMode}`, FARGATE_SOURCE);
        checkRange("ephemeralStorage.sizeInGib", inputs.ephemeralStorage?.sizeInGib, { path: "", min: 21, max: 200, source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_EphemeralStorage.html" }, report);
    }
    const parsed = parseDocument(inputs.containerDefinitions);
    if (!parsed?.ok || !Array.isArray(parsed.document)) return;
    const size = Buffer.byteLength(JSON.stringify(parsed.document));
    if (size > 65536) report("containerDefinitions", "documented-constraint", `the container definitions take ${size} bytes; a task definition holds at most 64 KiB`, "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html (task definition size)");
    parsed.document.forEach((container: Record<string, any>, i: number) => {
        const at = `containerDefinitions[${i}]`;
        if (fargate) checkRange(`${at}.stopTimeout`, container?.stopTimeout, { path: "", min: 0, max: 120, source: `${CONTAINER} (stopTimeout: at most 120 seconds on Fargate)` }, report);
        checkRange(`${at}.startTimeout`, container?.startTimeout, { path: "", min: 2, max: 600, source: `${CONTAINER} (startTimeout)` }, report);
        const log = container?.logConfiguration;
        if (fargate && log?.logDriver === "awslogs") {
            const missing = ["awslogs-group", "awslogs-region", "awslogs-stream-prefix"].filter((option) => typeof log.options?.[option] !== "string");
            if (missing.length > 0) report(`${at}.logConfiguration.options`, "documented-constraint", `the awslogs driver on Fargate needs ${missing.join(", ")}`, "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LogConfiguration.html (awslogs options: Required on Fargate)");
        }
        const health = container?.healthCheck;
        if (health && typeof health === "object") {
            checkRange(`${at}.healthCheck.interval`, health.interval, { path: "", min: 5, max: 300, source: CONTAINER_HEALTH }, report);
            checkRange(`${at}.healthCheck.timeout`, health.timeout, { path: "", min: 2, max: 120, source: CONTAINER_HEALTH }, report);
            checkRange(`${at}.healthCheck.retries`, health.retries, { path: "", min: 1, max: 10, source: CONTAINER_HEALTH }, report);
            checkRange(`${at}.healthCheck.startPeriod`, health.startPeriod, { path: "", min: 0, max: 300, source: CONTAINER_HEALTH }, report);
        }
        for (const [j, mapping] of (Array.isArray(container?.portMappings) ? container.portMappings : []).entries()) {
            checkRange(`${at}.portMappings[${j}].containerPort`, mapping?.containerPort, { path: "", min: 1, max: 65535, source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PortMapping.html" }, report);
        }
    });
}
