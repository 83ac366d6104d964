import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { lambdaArgsProblems, lambdaLogStatement } from "./jobWorker";
import { grant, serviceRole } from "./iam";
import { jobSubmitterTags, ShellExecutor } from "./shellExecutor";
import type { ComponentAccess } from "./access";

/** API Gateway HTTP APIs stop waiting for an integration after 30 s; the function must answer first. */
export const API_MAX_TIMEOUT_SECONDS = 29;

const ORIGIN = /^https?:\/\/[^/\s*]+$/;

export interface ApiArgs {
    /** The shell executor the API submits jobs to; the API gets its grantSubmit and its coordinates. */
    executor: ShellExecutor;
    /** The API image in ECR; pinned by digest when requireDigest is set. */
    image: string;
    requireDigest: boolean;
    memoryMb: number;
    /** At most 29 s, so the function answers before API Gateway's 30 s integration timeout. */
    timeoutSeconds: number;
    /** Browser origins allowed by CORS; empty: no CORS headers at all. */
    corsAllowedOrigins: string[];
    /** config.isProd: refuse the wildcard origin. */
    requireExplicitOrigins: boolean;
    logRetentionDays: number;
    tags?: Record<string, string>;
}

/**
 * Seed 000's API: a Lambda function from a container image behind an API Gateway HTTP API ($default
 * route and stage, access logs in a log group with retention, CORS from config). It submits shell
 * jobs to the executor, which grants it exactly that; it starts jobs and returns (waiting for a
 * result would outlast the 29 s timeout), leaving the result to be collected later.
 *
 * The route has no authorizer: the function authenticates its callers itself.
 */
export class Api extends pulumi.ComponentResource {
    public readonly url: pulumi.Output<string>;
    public readonly apiId: pulumi.Output<string>;
    public readonly functionName: pulumi.Output<string>;
    public readonly functionArn: pulumi.Output<string>;
    public readonly role: aws.iam.Role;
    public readonly logGroupName: pulumi.Output<string>;
    public readonly accessLogGroupName: pulumi.Output<string>;

    constructor(name: string, args: ApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:shell:Api", name, {}, opts);
        const problems = lambdaArgsProblems("Api", name, args, API_MAX_TIMEOUT_SECONDS, "API Gateway HTTP APIs give up on an integration at 30 s, so the function must finish first");
        const origins = args.corsAllowedOrigins ?? [];
        if (!Array.isArray(origins)) {
            problems.push(`Api ${name}: corsAllowedOrigins is ${JSON.stringify(origins)}; expected a list of origins.`);
        } else {
            for (const origin of origins) {
                if (origin === "*") {
                    if (args.requireExplicitOrigins) problems.push(`Api ${name}: corsAllowedOrigins contains "*"; expected explicit origins because requireExplicitOrigins is set (prod): "*" lets any website call the API with its users' browsers.`);
                } else if (typeof origin !== "string" || !ORIGIN.test(origin)) {
                    problems.push(`Api ${name}: corsAllowedOrigins contains ${JSON.stringify(origin)}; expected an origin like https://app.example.com (scheme and host, no path).`);
                }
            }
        }
        if (!(args.executor instanceof ShellExecutor)) problems.push(`Api ${name}: executor must be the ShellExecutor component the API submits jobs to.`);
        if (problems.length > 0) throw new Error(problems.join("\n"));

        const tags = args.tags ?? {};
        const functionName = `${name}-api`;

        const logGroup = new aws.cloudwatch.LogGroup(`${functionName}-logs`, { name: `/aws/lambda/${functionName}`, retentionInDays: args.logRetentionDays, tags }, { parent: this });
        const accessLogGroup = new aws.cloudwatch.LogGroup(`${functionName}-access-logs`, { name: `/aws/apigateway/${functionName}-access`, retentionInDays: args.logRetentionDays, tags }, { parent: this });

        this.role = serviceRole(`${functionName}-role`, { kind: "lambda", description: `Lambda role of ${functionName}: logs, shell job submission`, tags: jobSubmitterTags(tags) }, { parent: this });
        const ownPolicy = grant(`${functionName}-runtime`, this.role, [lambdaLogStatement(logGroup)], { parent: this });
        const submitPolicy = args.executor.grantSubmit(this.role, functionName);

        const fn = new aws.lambda.Function(
            functionName,
            {
                name: functionName,
                description: "jobfleet API: starts shell jobs on the shell executor",
                packageType: "Image",
                imageUri: args.image,
                role: this.role.arn,
                timeout: args.timeoutSeconds,
                memorySize: args.memoryMb,
                environment: { variables: args.executor.callerEnvironment() },
                tags,
            },
            { parent: this, dependsOn: [logGroup, ownPolicy, submitPolicy] },
        );

        const api = new aws.apigatewayv2.Api(
            functionName,
            {
                protocolType: "HTTP",
                description: "jobfleet API (shell jobs)",
                ...(origins.length > 0
                    ? {
                          corsConfiguration: {
                              allowOrigins: origins,
                              allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                              allowHeaders: ["authorization", "content-type"],
                              maxAge: 300,
                          },
                      }
                    : {}),
                tags,
            },
            { parent: this },
        );
        const integration = new aws.apigatewayv2.Integration(
            `${functionName}-lambda`,
            { apiId: api.id, integrationType: "AWS_PROXY", integrationUri: fn.arn, integrationMethod: "POST", payloadFormatVersion: "2.0", timeoutMilliseconds: 30000 },
            { parent: this },
        );
        const route = new aws.apigatewayv2.Route(`${functionName}-default`, { apiId: api.id, routeKey: "$default", target: pulumi.interpolate`integrations/${integration.id}` }, { parent: this });
        const stage = new aws.apigatewayv2.Stage(
            `${functionName}-default`,
            {
                apiId: api.id,
                name: "$default",
                autoDeploy: true,
                accessLogSettings: {
                    destinationArn: accessLogGroup.arn,
                    format: JSON.stringify({
                        requestId: "$context.requestId",
                        sourceIp: "$context.identity.sourceIp",
                        requestTime: "$context.requestTime",
                        httpMethod: "$context.httpMethod",
                        path: "$context.path",
                        routeKey: "$context.routeKey",
                        status: "$context.status",
                        protocol: "$context.protocol",
                        responseLength: "$context.responseLength",
                        integrationStatus: "$context.integrationStatus",
                        integrationError: "$context.integrationErrorMessage",
                        latencyMs: "$context.responseLatency",
                    }),
                },
                tags,
            },
            { parent: this, dependsOn: [route] },
        );
        new aws.lambda.Permission(
            `${functionName}-invoke`,
            // Only this API (any stage, any route) may invoke the function.
            { action: "lambda:InvokeFunction", function: fn.name, principal: "apigateway.amazonaws.com", sourceArn: pulumi.interpolate`${api.executionArn}/*/*` },
            { parent: this },
        );

        this.url = stage.invokeUrl;
        this.apiId = api.id;
        this.functionName = fn.name;
        this.functionArn = fn.arn;
        this.logGroupName = logGroup.name;
        this.accessLogGroupName = accessLogGroup.name;
        this.registerOutputs({ url: this.url, apiId: this.apiId, functionName: this.functionName, functionArn: this.functionArn, logGroupName: this.logGroupName, accessLogGroupName: this.accessLogGroupName });
    }
}

/** Who runs what with the API's role (read by `npm run access`; docs/access.md). */
export const apiAccess: ComponentAccess = {
    component: "jobfleet:shell:Api",
    roles: [{ role: /-role$/, runs: ["runtime/shellJob/caller"], expected: (plan) => plan.lambdaServiceCalls() }],
};
