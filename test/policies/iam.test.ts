import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { ACCOUNT, doc, expectPass, expectViolation, of, res, SOURCE_ACCOUNT, trust, urnOf, useAnalyzer } from "./helpers";

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/executor-task`;
const TASK_DEF_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/shell-executor:*`;

describe("policy pack: least-privilege IAM", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");
    const analyze = (r: Parameters<ReturnType<typeof analyzer.get>["analyze"]>[0]) => analyzer.get().analyze(r);

    describe("iam-no-wildcard-resource", () => {
        it("blocks seed 004's execution role statement: log and image actions on Resource *", async () => {
            const r = await analyze(
                res(aws.iam.RolePolicy, "exec", {
                    role: "exec",
                    policy: doc({
                        Effect: "Allow",
                        Action: ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream", "logs:PutLogEvents"],
                        Resource: "*",
                    }),
                }),
            );
            const [v] = expectViolation(r, "iam-no-wildcard-resource", 'aws.iam.RolePolicy "exec"', 'Statement[0] Resource "*"', "logs:CreateLogStream", "ecr:BatchGetImage");
            assert.ok(!v.message.includes("ecr:GetAuthorizationToken,"), "the wildcard-only action is not listed as offending");
        });

        it("passes actions AWS only allows on *: ecr:GetAuthorizationToken, sts:GetCallerIdentity, and a wildcard that expands to them", async () => {
            const r = await analyze(
                res(aws.iam.Policy, "token", {
                    policy: doc({ Sid: "Token", Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "sts:GetCallerIdentity", "ecr:GetAuth*"], Resource: "*" }),
                }),
            );
            expectPass(r, "iam-no-wildcard-resource");
        });

        it("reads inline role policies and documents given as objects", async () => {
            const r = await analyze(
                res(aws.iam.Role, "worker", {
                    assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT),
                    inlinePolicies: [{ name: "queue", policy: doc({ Sid: "Queue", Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" }) }],
                }),
            );
            expectViolation(r, "iam-no-wildcard-resource", 'inlinePolicies[0] ("queue").policy Statement[0] (Sid "Queue")', "sqs:SendMessage");

            const objectDoc = res(aws.iam.Policy, "object-form", { policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }] } });
            expectViolation(await analyze(objectDoc), "iam-no-wildcard-resource", "s3:GetObject");
        });

        for (const wildcard of ["arn:aws:s3:::*", "arn:aws:s3:::*/*", "arn:aws:sqs:*:*:*", `arn:aws:sqs:us-east-1:${ACCOUNT}:*`, "arn:aws:iam::*:role/*"]) {
            it(`blocks a wildcard ARN that names no resource: ${wildcard}`, async () => {
                const r = await analyze(res(aws.iam.RolePolicy, "wild-arn", { role: "r", policy: doc({ Effect: "Allow", Action: ["s3:PutObject", "sqs:SendMessage", "iam:GetRole"], Resource: wildcard }) }));
                expectViolation(r, "iam-no-wildcard-resource", `Statement[0] Resource ${JSON.stringify(wildcard)}`, "s3:PutObject");
            });
        }

        it('reads an Allow spelt "allow" as an Allow, and a single Statement object', async () => {
            const r = await analyze(res(aws.iam.Policy, "lower", { policy: JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "allow", Action: "S3:PutObject", Resource: "*" } }) }));
            expectViolation(r, "iam-no-wildcard-resource", 'Statement[0] Resource "*"', "s3:PutObject");
        });

        it("passes ARNs that name a type and leave only the id open (creating ENIs, a bucket's objects)", async () => {
            const r = await analyze(
                res(aws.iam.RolePolicy, "typed", {
                    role: "r",
                    policy: doc(
                        { Effect: "Allow", Action: ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"], Resource: `arn:aws:ec2:us-east-1:${ACCOUNT}:network-interface/*` },
                        { Effect: "Allow", Action: "s3:PutObject", Resource: "arn:aws:s3:::jobs-bucket/*" },
                    ),
                }),
            );
            expectPass(r, "iam-no-wildcard-resource");
        });

        it("passes the same actions scoped to ARNs", async () => {
            const r = await analyze(res(aws.iam.RolePolicy, "scoped", { role: "r", policy: doc({ Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/ecs/app:*` }) }));
            expectPass(r, "iam-no-wildcard-resource");
        });
    });

    describe("iam-no-wildcard-actions", () => {
        for (const action of ["s3:*", "iam:*", "*", "logs:Put*"]) {
            it(`blocks ${action}`, async () => {
                const r = await analyze(res(aws.iam.RolePolicy, "wide", { role: "r", policy: doc({ Effect: "Allow", Action: ["s3:GetObject", action], Resource: "arn:aws:s3:::bucket/*" }) }));
                expectViolation(r, "iam-no-wildcard-actions", `Statement[0] Action "${action}"`, "write or permissions-management");
            });
        }

        it("passes wildcards that only reach Read or List access (s3:Get*, ecr:Describe*) and Deny statements", async () => {
            const r = await analyze(
                res(aws.iam.RolePolicy, "readers", {
                    role: "r",
                    policy: doc(
                        { Effect: "Allow", Action: ["s3:Get*", "ecr:Describe*"], Resource: "arn:aws:s3:::bucket/*" },
                        { Effect: "Deny", Action: "s3:*", Resource: "arn:aws:s3:::bucket/*" },
                    ),
                }),
            );
            expectPass(r, "iam-no-wildcard-actions");
        });

        it("blocks lambda:* in a Lambda permission and passes lambda:InvokeFunction", async () => {
            const bad = await analyze(res(aws.lambda.Permission, "invoke-all", { function: "fn", action: "lambda:*", principal: ACCOUNT }));
            expectViolation(bad, "iam-no-wildcard-actions", 'action "lambda:*"');
            const good = await analyze(res(aws.lambda.Permission, "invoke", { function: "fn", action: "lambda:InvokeFunction", principal: ACCOUNT }));
            expectPass(good, "iam-no-wildcard-actions");
        });
    });

    describe("iam-no-not-action-allow", () => {
        it("blocks NotAction and NotResource in Allow statements", async () => {
            const r = await analyze(
                res(aws.iam.Policy, "not", {
                    policy: doc({ Effect: "Allow", NotAction: "iam:*", Resource: "arn:aws:s3:::b/*" }, { Effect: "Allow", Action: "s3:GetObject", NotResource: "arn:aws:s3:::secret/*" }),
                }),
            );
            expectViolation(r, "iam-no-not-action-allow", "Statement[0] NotAction", "Statement[1] NotResource");
        });

        it("passes NotAction in a Deny statement", async () => {
            const r = await analyze(res(aws.iam.Policy, "guardrail", { policy: doc({ Effect: "Deny", NotAction: ["s3:GetObject"], Resource: "arn:aws:s3:::b/*" }) }));
            expectPass(r, "iam-no-not-action-allow");
        });
    });

    describe("iam-passrole-scoped", () => {
        it("blocks iam:PassRole on * without iam:PassedToService", async () => {
            const r = await analyze(res(aws.iam.RolePolicy, "pass", { role: "r", policy: doc({ Effect: "Allow", Action: "iam:PassRole", Resource: "*" }) }));
            expectViolation(r, "iam-passrole-scoped", "Statement[0] iam:PassRole Resource", "Statement[0] iam:PassRole Condition", "no iam:PassedToService");
        });

        it("blocks a role ARN with a wildcard, even with the condition", async () => {
            const r = await analyze(
                res(aws.iam.RolePolicy, "pass-wild", {
                    role: "r",
                    policy: doc({ Effect: "Allow", Action: "iam:PassRole", Resource: `arn:aws:iam::${ACCOUNT}:role/*`, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } }),
                }),
            );
            expectViolation(r, "iam-passrole-scoped", "iam:PassRole Resource", `role/*`);
        });

        it("passes named role ARNs with iam:PassedToService (issue 4's grantSubmit)", async () => {
            const r = await analyze(
                res(aws.iam.RolePolicy, "pass-ok", {
                    role: "r",
                    policy: doc({ Sid: "PassExecutorRoles", Effect: "Allow", Action: "iam:PassRole", Resource: [ROLE_ARN, `${ROLE_ARN}-execution`], Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } }),
                }),
            );
            expectPass(r, "iam-passrole-scoped");
        });
    });

    describe("iam-no-admin-managed-policies", () => {
        for (const name of ["AdministratorAccess", "PowerUserAccess", "AmazonS3FullAccess", "IAMFullAccess"]) {
            it(`blocks attaching ${name}`, async () => {
                const r = await analyze(res(aws.iam.RolePolicyAttachment, `attach-${name}`, { role: "r", policyArn: `arn:aws:iam::aws:policy/${name}` }));
                expectViolation(r, "iam-no-admin-managed-policies", `policyArn "arn:aws:iam::aws:policy/${name}"`);
            });
        }

        it("blocks PowerUserAccess in a role's managedPolicyArns", async () => {
            const r = await analyze(res(aws.iam.Role, "power", { assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT), managedPolicyArns: ["arn:aws:iam::aws:policy/PowerUserAccess"] }));
            expectViolation(r, "iam-no-admin-managed-policies", "managedPolicyArns[0]");
        });

        it("passes ReadOnlyAccess and service-role policies", async () => {
            for (const arn of ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]) {
                expectPass(await analyze(res(aws.iam.RolePolicyAttachment, "read-only", { role: "r", policyArn: arn })), "iam-no-admin-managed-policies");
            }
        });
    });

    describe("iam-trust-policy-principals", () => {
        it('blocks Principal "*" and {"AWS": "*"}', async () => {
            for (const principal of ["*", { AWS: "*" }] as const) {
                const r = await analyze(res(aws.iam.Role, "open", { assumeRolePolicy: doc({ Effect: "Allow", Principal: principal, Action: "sts:AssumeRole" }) }));
                expectViolation(r, "iam-trust-policy-principals", "assumeRolePolicy Statement[0] Principal", "any AWS principal");
            }
        });

        it("blocks a federated principal without a subject condition", async () => {
            const r = await analyze(
                res(aws.iam.Role, "ci", {
                    assumeRolePolicy: doc({
                        Effect: "Allow",
                        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } },
                    }),
                }),
            );
            expectViolation(r, "iam-trust-policy-principals", "Principal.Federated", "subject");
        });

        const GITHUB = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
        const github = (condition: Record<string, Record<string, string | string[]>>) =>
            res(aws.iam.Role, "gh", { assumeRolePolicy: doc({ Effect: "Allow", Principal: { Federated: GITHUB }, Action: "sts:AssumeRoleWithWebIdentity", Condition: condition }) });
        const cases: [string, Record<string, Record<string, string | string[]>>, string][] = [
            ["a subject of *", { StringLike: { "token.actions.githubusercontent.com:sub": "*" } }, 'StringLike token.actions.githubusercontent.com:sub "*"'],
            ["every repository of the owner", { StringLike: { "token.actions.githubusercontent.com:sub": "repo:jobfleet-org/*" } }, 'does not name one repository in token.actions.githubusercontent.com:sub ("repo:jobfleet-org/*")'],
            ["another provider's subject key", { StringLike: { "api.pulumi.com/oidc:sub": "pulumi:deploy:org:jobfleet-org:*" } }, "no condition on token.actions.githubusercontent.com:sub"],
            ["a negated subject condition", { StringNotLike: { "token.actions.githubusercontent.com:sub": "repo:evil/*" } }, "StringNotLike lets every subject not excluded"],
        ];
        for (const [what, condition, fragment] of cases) {
            it(`blocks a GitHub OIDC trust with ${what}`, async () => {
                expectViolation(await analyze(github(condition)), "iam-trust-policy-principals", `Principal.Federated "${GITHUB}"`, fragment);
            });
        }

        it("passes GitHub subjects that name the repository (any ref, a branch, ForAnyValue) and a Pulumi Deployments subject", async () => {
            const conditions: Record<string, Record<string, string | string[]>>[] = [
                { StringLike: { "token.actions.githubusercontent.com:sub": "repo:jobfleet-org/jobfleet:*" } },
                { StringEquals: { "token.actions.githubusercontent.com:sub": ["repo:jobfleet-org/jobfleet:ref:refs/heads/main", "repo:jobfleet-org/jobfleet:pull_request"] } },
                { "ForAnyValue:StringLike": { "token.actions.githubusercontent.com:sub": "repo:jobfleet-org/jobfleet:environment:*" } },
            ];
            for (const condition of conditions) {
                expectPass(await analyze(github(condition)), "iam-trust-policy-principals");
            }
            const pulumi = res(aws.iam.Role, "pulumi-deploy", {
                assumeRolePolicy: doc({
                    Effect: "Allow",
                    Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/api.pulumi.com/oidc` },
                    Action: "sts:AssumeRoleWithWebIdentity",
                    Condition: { StringEquals: { "api.pulumi.com/oidc:aud": "jobfleet-org" }, StringLike: { "api.pulumi.com/oidc:sub": "pulumi:deploy:org:jobfleet-org:project:jobfleet:stack:prod:operation:*:scope:write" } },
                }),
            });
            expectPass(await analyze(pulumi), "iam-trust-policy-principals");
        });

        it("passes a service principal, an account, and a federated principal restricted to one repository", async () => {
            const r = await analyze(
                res(aws.iam.Role, "trusted", {
                    assumeRolePolicy: doc(
                        { Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole", Condition: SOURCE_ACCOUNT },
                        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" },
                        {
                            Effect: "Allow",
                            Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
                            Action: "sts:AssumeRoleWithWebIdentity",
                            Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" }, StringLike: { "token.actions.githubusercontent.com:sub": "repo:jobfleet-org/jobfleet:*" } },
                        },
                    ),
                }),
            );
            expectPass(r, "iam-trust-policy-principals");
        });
    });

    describe("iam-trust-service-source-condition", () => {
        it("blocks trust in ecs-tasks.amazonaws.com without aws:SourceAccount", async () => {
            const r = await analyze(res(aws.iam.Role, "task", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com") }));
            expectViolation(r, "iam-trust-service-source-condition", 'Principal.Service "ecs-tasks.amazonaws.com"', "aws:SourceAccount");
        });

        it("passes with aws:SourceAccount, and EC2 instance roles (EC2 sends no source keys)", async () => {
            expectPass(await analyze(res(aws.iam.Role, "task-ok", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com", SOURCE_ACCOUNT) })), "iam-trust-service-source-condition");
            expectPass(await analyze(res(aws.iam.Role, "instance", { assumeRolePolicy: trust("ec2.amazonaws.com") })), "iam-trust-service-source-condition");
        });
    });

    describe("iam-resource-policy-principals", () => {
        it("blocks a bucket policy that lets anyone read", async () => {
            const r = await analyze(res(aws.s3.BucketPolicy, "public-read", { bucket: "artifacts", policy: doc({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::artifacts/*" }) }));
            expectViolation(r, "iam-resource-policy-principals", 'Principal "*"', "anyone");
        });

        it("blocks a queue policy granting a service without aws:SourceArn, passes it with one and passes the TLS Deny", async () => {
            const grant: aws.iam.PolicyStatement = { Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs` };
            expectViolation(await analyze(res(aws.sqs.QueuePolicy, "from-sns", { queueUrl: "q", policy: doc(grant) })), "iam-resource-policy-principals", 'Principal.Service "sns.amazonaws.com"');
            const ok = await analyze(
                res(aws.sqs.QueuePolicy, "from-my-topic", {
                    queueUrl: "q",
                    policy: doc(
                        { ...grant, Condition: { ArnEquals: { "aws:SourceArn": `arn:aws:sns:us-east-1:${ACCOUNT}:jobs` } } },
                        { Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`, Condition: { Bool: { "aws:SecureTransport": "false" } } },
                    ),
                }),
            );
            expectPass(ok, "iam-resource-policy-principals");
        });

        it("blocks an API Gateway Lambda permission without sourceArn and passes it with one", async () => {
            expectViolation(await analyze(res(aws.lambda.Permission, "apigw", { function: "api", action: "lambda:InvokeFunction", principal: "apigateway.amazonaws.com" })), "iam-resource-policy-principals", 'principal "apigateway.amazonaws.com"');
            const ok = await analyze(res(aws.lambda.Permission, "apigw-ok", { function: "api", action: "lambda:InvokeFunction", principal: "apigateway.amazonaws.com", sourceArn: `arn:aws:execute-api:us-east-1:${ACCOUNT}:abc123/*/*` }));
            expectPass(ok, "iam-resource-policy-principals");
        });
    });

    describe("iam-runtime-no-control-plane (stack)", () => {
        const taskRole = res(aws.iam.Role, "agent-task", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com", SOURCE_ACCOUNT), tags: { "jobfleet:role-kind": "task" } });
        const lambdaRole = (name: string, tags: Record<string, string> = {}) => res(aws.iam.Role, name, { name, assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT), tags: { "jobfleet:role-kind": "lambda", ...tags } });
        const rolePolicy = (name: string, role: string, ...statements: Parameters<typeof doc>) => res(aws.iam.RolePolicy, name, { role, policy: doc(...statements) }, { propertyDependencies: { role: [urnOf("aws:iam/role:Role", role)] } });

        it("blocks seed 002's forbidden services on an ECS task role, naming the action and statement", async () => {
            const r = await analyzer.get().analyzeStack([
                taskRole,
                rolePolicy(
                    "agent-task-policy",
                    "agent-task",
                    { Sid: "Packages", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::packages/packages/*" },
                    { Sid: "Scale", Effect: "Allow", Action: ["ecs:UpdateService", "elasticloadbalancing:RegisterTargets", "servicediscovery:RegisterInstance", "dynamodb:CreateTable", "iam:CreateRole"], Resource: "*" },
                ),
            ]);
            const found = expectViolation(r, "iam-runtime-no-control-plane", 'Statement[1] (Sid "Scale") Action "ecs:UpdateService"', 'runtime role "agent-task"');
            for (const action of ["elasticloadbalancing:RegisterTargets", "servicediscovery:RegisterInstance", "dynamodb:CreateTable", "iam:CreateRole"]) {
                assert.ok(found.some((d) => d.message.includes(`Action "${action}"`)), `expected ${action} to be reported`);
            }
            assert.ok(found.every((d) => d.urn === urnOf("aws:iam/rolePolicy:RolePolicy", "agent-task-policy")), "violations point at the RolePolicy");
            assert.ok(!found.some((d) => d.message.includes("s3:GetObject")), "the data-plane grant is not reported");
        });

        it("expands wildcards: elasticloadbalancing:* on a Lambda role is reported", async () => {
            const r = await analyzer.get().analyzeStack([lambdaRole("fn"), rolePolicy("fn-lb", "fn", { Effect: "Allow", Action: "elasticloadbalancing:*", Resource: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/y" })]);
            const [v] = expectViolation(r, "iam-runtime-no-control-plane", 'Action "elasticloadbalancing:*"', "control-plane actions (elasticloadbalancing:");
            assert.strictEqual(of(r, "iam-runtime-no-control-plane").length, 1, "one finding for the wildcard, not one per action");
            assert.match(v.message, /gives the runtime role "fn" \(assumed by lambda\.amazonaws\.com\) \d+ control-plane actions/);
        });

        it("passes DynamoDB item access on a table (the sandbox broker's allocations)", async () => {
            const r = await analyzer.get().analyzeStack([
                taskRole,
                rolePolicy("broker-table", "agent-task", { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], Resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/allocations` }),
            ]);
            assert.deepStrictEqual(of(r, "iam-runtime-no-control-plane"), []);
        });

        it("blocks ecs:RunTask and iam:PassRole on a Lambda role not tagged as a job submitter, with the hint", async () => {
            const r = await analyzer.get().analyzeStack([
                lambdaRole("api"),
                rolePolicy("api-submit", "api", { Effect: "Allow", Action: "ecs:RunTask", Resource: TASK_DEF_ARN }, { Effect: "Allow", Action: "iam:PassRole", Resource: ROLE_ARN, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } }),
            ]);
            expectViolation(r, "iam-runtime-no-control-plane", 'Action "ecs:RunTask"', 'Action "iam:PassRole"', "jobfleet:job-submitter=true");
        });

        it("passes a job submitter's grantSubmit: RunTask on the executor family, PassRole on its roles", async () => {
            const r = await analyzer.get().analyzeStack([
                lambdaRole("worker", { "jobfleet:job-submitter": "true" }),
                rolePolicy(
                    "worker-submit",
                    "worker",
                    { Sid: "RunExecutor", Effect: "Allow", Action: "ecs:RunTask", Resource: TASK_DEF_ARN },
                    { Sid: "PassExecutorRoles", Effect: "Allow", Action: "iam:PassRole", Resource: ROLE_ARN, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } },
                ),
            ]);
            assert.deepStrictEqual(of(r, "iam-runtime-no-control-plane").map((d) => d.message), []);
        });

        it("blocks a job submitter's RunTask on * and its other ECS actions", async () => {
            const r = await analyzer.get().analyzeStack([
                lambdaRole("worker", { "jobfleet:job-submitter": "true" }),
                rolePolicy("worker-submit", "worker", { Effect: "Allow", Action: ["ecs:RunTask", "ecs:StopTask"], Resource: "*" }),
            ]);
            expectViolation(r, "iam-runtime-no-control-plane", 'Action "ecs:RunTask" Resource', 'Action "ecs:StopTask"');
        });

        it("joins by value too: a customer-managed policy attached by ARN, and an unknown AWS-managed policy", async () => {
            const policy = res(aws.iam.Policy, "scaler", { policy: doc({ Effect: "Allow", Action: "application-autoscaling:RegisterScalableTarget", Resource: "*" }) }, { outputs: { arn: `arn:aws:iam::${ACCOUNT}:policy/scaler` } });
            const r = await analyzer.get().analyzeStack([
                lambdaRole("fn"),
                policy,
                res(aws.iam.RolePolicyAttachment, "fn-scaler", { role: "fn", policyArn: `arn:aws:iam::${ACCOUNT}:policy/scaler` }),
                res(aws.iam.RolePolicyAttachment, "fn-basic", { role: "fn", policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" }),
                res(aws.iam.RolePolicyAttachment, "fn-ddb", { role: "fn", policyArn: "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess" }),
            ]);
            const found = expectViolation(r, "iam-runtime-no-control-plane", 'Action "application-autoscaling:RegisterScalableTarget"');
            assert.ok(!found.some((d) => d.message.includes("AWSLambdaBasicExecutionRole")), "the allowed managed policy is not reported");
            // Judged by its document, not skipped as "cannot check": seed 002 forbids even reading DynamoDB table metadata.
            assert.ok(found.some((d) => d.message.includes('"arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess" (its AWS managed document)') && d.message.includes("dynamodb:Describe*")), found.map((d) => d.message).join("\n"));
        });

        it("judges an AWS managed policy by its document: AmazonDynamoDBFullAccess on a Lambda role gives it dynamodb:* table management", async () => {
            const r = await analyzer.get().analyzeStack([
                res(aws.iam.Role, "fn", { assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT) }),
                res(aws.iam.RolePolicyAttachment, "fn-ddb", { role: "fn", policyArn: "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess" }),
            ]);
            expectViolation(r, "iam-runtime-no-control-plane", '"arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess" (its AWS managed document)', "dynamodb:");
        });

        it("classifies roles by what uses them: an untagged role named in a task definition's executionRoleArn is held to the execution-role actions", async () => {
            const role = res(aws.iam.Role, "exec", { name: "exec", assumeRolePolicy: trust("ecs-tasks.amazonaws.com", SOURCE_ACCOUNT) }, { outputs: { arn: `arn:aws:iam::${ACCOUNT}:role/exec` } });
            const grant = res(aws.iam.RolePolicy, "exec-extra", { role: "exec", policy: doc({ Effect: "Allow", Action: "sqs:ReceiveMessage", Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs` }) });
            const td = res(aws.ecs.TaskDefinition, "td", { family: "td", containerDefinitions: "[]", executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/exec` });
            expectViolation(await analyzer.get().analyzeStack([role, grant, td]), "iam-execution-role-scope", 'execution role "exec"', "sqs:ReceiveMessage");
            assert.deepStrictEqual(of(await analyzer.get().analyzeStack([role, grant]), "iam-execution-role-scope"), [], "unused and untagged: not known to be an execution role");
        });

        it("classifies a role used as a Lambda's role as a runtime role, whatever its trust says", async () => {
            const role = res(aws.iam.Role, "odd", { name: "odd", assumeRolePolicy: trust("scheduler.amazonaws.com", SOURCE_ACCOUNT) });
            const grant = res(aws.iam.RolePolicy, "odd-ecs", { role: "odd", policy: doc({ Effect: "Allow", Action: "ecs:UpdateService", Resource: "*" }) });
            const fn = res(aws.lambda.Function, "fn", { role: `arn:aws:iam::${ACCOUNT}:role/odd`, packageType: "Image", imageUri: "x", timeout: 10 });
            expectViolation(await analyzer.get().analyzeStack([role, grant, fn]), "iam-runtime-no-control-plane", "ecs:UpdateService");
        });

        it("classifies a role in an instance profile as a workload role", async () => {
            const role = res(aws.iam.Role, "box", { name: "box", assumeRolePolicy: trust("ec2.amazonaws.com") });
            const grant = res(aws.iam.RolePolicy, "box-iam", { role: "box", policy: doc({ Effect: "Allow", Action: "iam:CreateUser", Resource: "*" }) });
            const profile = res(aws.iam.InstanceProfile, "box", { role: "box" });
            expectViolation(await analyzer.get().analyzeStack([role, grant, profile]), "iam-runtime-no-control-plane", "iam:CreateUser");
            assert.deepStrictEqual(of(await analyzer.get().analyzeStack([role, grant]), "iam-runtime-no-control-plane"), [], "a role no workload uses is left to the other rules");
        });

        it("leaves roles that no ECS task or Lambda assumes to the other rules (CI roles)", async () => {
            const ci = res(aws.iam.Role, "ci", {
                assumeRolePolicy: doc({ Effect: "Allow", Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` }, Action: "sts:AssumeRoleWithWebIdentity", Condition: { StringLike: { "token.actions.githubusercontent.com:sub": "repo:o/r:*" } } }),
            });
            const r = await analyzer.get().analyzeStack([ci, rolePolicy("ci-push", "ci", { Effect: "Allow", Action: "ecs:DescribeServices", Resource: "*" })]);
            assert.deepStrictEqual(of(r, "iam-runtime-no-control-plane"), []);
        });
    });

    describe("iam-execution-role-scope (stack)", () => {
        const exec = res(aws.iam.Role, "runner-execution", { name: "runner-execution", assumeRolePolicy: trust("ecs-tasks.amazonaws.com", SOURCE_ACCOUNT), tags: { "jobfleet:role-kind": "execution" } });

        it("blocks seed 004's execution role with SQS and S3 access", async () => {
            const r = await analyzer.get().analyzeStack([
                exec,
                res(aws.iam.RolePolicy, "runner-execution", {
                    role: "runner-execution",
                    policy: doc(
                        { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource: `arn:aws:sqs:eu-south-2:${ACCOUNT}:submissions-queue` },
                        { Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::uoc-tfm-eval-platform/*" },
                    ),
                }),
            ]);
            expectViolation(r, "iam-execution-role-scope", 'Statement[0] Action "sqs:ReceiveMessage"', 'Statement[1] Action "s3:PutObject"', 'execution role "runner-execution"');
        });

        it("reports a wildcard on the execution role once, with what it reaches", async () => {
            const r = await analyzer.get().analyzeStack([exec, res(aws.iam.RolePolicy, "runner-execution", { role: "runner-execution", policy: doc({ Effect: "Allow", Action: "sqs:*", Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:q` }) })]);
            const found = expectViolation(r, "iam-execution-role-scope", 'Statement[0] Action "sqs:*"');
            assert.strictEqual(found.length, 1);
            assert.match(found[0].message, /\d+ actions \(sqs:\w+, sqs:\w+/);
        });

        it("passes image pull, logs and the injected secret", async () => {
            const r = await analyzer.get().analyzeStack([
                exec,
                res(aws.iam.RolePolicy, "runner-execution", {
                    role: "runner-execution",
                    policy: doc(
                        { Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
                        { Effect: "Allow", Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], Resource: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/jobfleet/runner` },
                        { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/ecs/runner:*` },
                        { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db-AbCdEf` },
                    ),
                }),
            ]);
            assert.deepStrictEqual(of(r, "iam-execution-role-scope").map((d) => d.message), []);
        });
    });

    describe("documents IAM would refuse", () => {
        const refused = (r: Awaited<ReturnType<typeof analyze>>) => r.diagnostics.filter((d) => d.message.includes("IAM would refuse it"));

        it("names a null or a number among the actions and resources, and does not read them as an action or an ARN", async () => {
            // What JSON.stringify makes of a list holding an undefined Output value, and of a number where an ARN belongs.
            const r = await analyze(res(aws.iam.RolePolicy, "holes", { role: "r", policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:GetObject", null], Resource: ["arn:aws:s3:::jobfleet-artifacts/*", 5] }] }) }));
            const [v] = expectViolation(r, "iam-no-wildcard-actions", "policy: cannot be checked, and IAM would refuse it", "Statement[0] Action[1] is null, where IAM takes a string", "Statement[0] Resource[1] is the number 5, where IAM takes a string");
            assert.match(v.message, /Fix: give each statement as an object; Action, NotAction, Resource and NotResource as a string or a list of strings/);
            expectViolation(r, "iam-no-wildcard-resource", "Statement[0] Action[1] is null");
            for (const d of r.diagnostics) assert.ok(!/"null"|null \(not in the IAM reference\)/.test(d.message), `read as an action: ${d.message}`);
        });

        it("names a statement that is not an object, and a Principal entry that is not a string", async () => {
            const bucketPolicy = await analyze(res(aws.s3.BucketPolicy, "text-statement", { bucket: "jobfleet-artifacts", policy: JSON.stringify({ Version: "2012-10-17", Statement: ["Deny everything but TLS"] }) }));
            expectViolation(bucketPolicy, "iam-no-wildcard-actions", 'Statement[0] is string "Deny everything but TLS", where IAM takes an object');
            const role = await analyze(res(aws.iam.Role, "null-service", { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: ["ecs-tasks.amazonaws.com", null] }, Action: "sts:AssumeRole", Condition: SOURCE_ACCOUNT }] }) }));
            expectViolation(role, "iam-trust-policy-principals", "assumeRolePolicy: cannot be checked", "Statement[0] Principal.Service[1] is null");
        });

        it("counts such a document on a runtime role as actions the pack cannot bound, naming the entry", async () => {
            const taskRole = res(aws.iam.Role, "agent-task", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com", SOURCE_ACCOUNT), tags: { "jobfleet:role-kind": "task" } });
            const policy = res(
                aws.iam.RolePolicy,
                "agent-task-holes",
                { role: "agent-task", policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:GetObject", null], Resource: "arn:aws:s3:::packages/*" }] }) },
                { propertyDependencies: { role: [urnOf("aws:iam/role:Role", "agent-task")] } },
            );
            const r = await analyzer.get().analyzeStack([taskRole, policy]);
            expectViolation(r, "iam-runtime-no-control-plane", 'runtime role "agent-task"', "actions the pack cannot bound: IAM would refuse it: Statement[0] Action[1] is null");
        });

        it("reads no null as a condition value: a trust's aws:SourceAccount of [null] is no source condition, an iam:PassedToService of [null] no scope", async () => {
            // JSON.stringify([undefined]) is [null]: an Output that resolved to undefined.
            const role = await analyze(res(aws.iam.Role, "null-account", { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": [undefined] } } }] }) }));
            expectViolation(role, "iam-trust-service-source-condition", "Statement[0] Condition.StringEquals.aws:SourceAccount[0] is null, where IAM takes a string, number or boolean");
            const passRole = await analyze(res(aws.iam.RolePolicy, "null-service", { role: "r", policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "iam:PassRole", Resource: ROLE_ARN, Condition: { StringEquals: { "iam:PassedToService": [undefined] } } }] }) }));
            expectViolation(passRole, "iam-passrole-scoped", "Statement[0] Condition.StringEquals.iam:PassedToService[0] is null");
            const operator = await analyze(res(aws.iam.RolePolicy, "null-operator", { role: "r", policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "iam:PassRole", Resource: ROLE_ARN, Condition: { StringEquals: null } }] }) }));
            expectViolation(operator, "iam-passrole-scoped", "Statement[0] Condition.StringEquals is null, where IAM takes an object of condition keys");
        });

        it("names a Principal that is null: a trust that names nobody, and a bucket policy", async () => {
            const trustDoc = await analyze(res(aws.iam.Role, "null-principal", { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: null, Action: "sts:AssumeRole" }] }) }));
            expectViolation(trustDoc, "iam-trust-policy-principals", 'Statement[0] Principal is null, where IAM takes "*" or an object');
            const bucket = await analyze(res(aws.s3.BucketPolicy, "null-principal", { bucket: "jobfleet-artifacts", policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: null, Action: "s3:GetObject", Resource: "arn:aws:s3:::jobfleet-artifacts/*" }] }) }));
            expectViolation(bucket, "iam-resource-policy-principals", "Statement[0] Principal is null");
        });

        it("takes numbers and booleans in a Condition, as IAM does", async () => {
            const r = await analyze(
                res(aws.iam.Policy, "typed-condition", {
                    policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::jobfleet-artifacts", Condition: { Bool: { "aws:SecureTransport": true }, NumericLessThanEquals: { "s3:max-keys": 100 } } }] }),
                }),
            );
            assert.deepStrictEqual(refused(r), []);
            expectPass(r, "iam-no-wildcard-resource");
        });
    });
});
