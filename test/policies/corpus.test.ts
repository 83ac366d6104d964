import * as assert from "assert";
import * as zlib from "zlib";
import * as aws from "@pulumi/aws";
import { StackResource } from "../../tooling/policyAnalyzer";
import { ACCOUNT, doc, expectPass, expectViolation, goodContainer, res, secret, SOURCE_ACCOUNT, taskDefinition, trust, urnOf, useAnalyzer } from "./helpers";

/**
 * The adversarial corpus: unsafe changes written the way real Pulumi AWS programs write them, each
 * with a near-miss legitimate twin that must pass. Everything goes to the pack in the engine's
 * wire form (provider Check defaults present, secrets and unknowns as the engine sends them).
 */

const SECRETS = "no-plaintext-secrets";
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:jobfleet/prod/db-AbCdEf`;
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const gzipB64 = (s: string) => zlib.gzipSync(Buffer.from(s, "utf8")).toString("base64");
const lambda = (name: string, variables: Record<string, string>, extra: Partial<aws.lambda.FunctionArgs> = {}) =>
    res(aws.lambda.Function, name, { role: `arn:aws:iam::${ACCOUNT}:role/${name}`, packageType: "Image", imageUri: "x", timeout: 10, environment: { variables }, ...(extra as object) });
const launchTemplate = (name: string, userData: string) => res(aws.ec2.LaunchTemplate, name, { userData });

interface Case {
    title: string;
    unsafe: () => StackResource;
    /** Fragments the violation message must contain (the field path). */
    where: string[];
    twin: () => StackResource;
}

const SECRET_CASES: Case[] = [
    {
        title: "container command with --db-password=",
        unsafe: () => taskDefinition("cmd", [goodContainer({ command: ["node", "server.js", "--db-password=Sup3rS3cret!"] })]),
        where: ["$[0].command", "db-password"],
        twin: () => taskDefinition("cmd", [goodContainer({ command: ["node", "server.js", "--db-password-file=/run/secrets/db"] })]),
    },
    {
        title: "container entryPoint shell with mysql -p",
        unsafe: () => taskDefinition("ep", [goodContainer({ entryPoint: ["sh", "-c", "mysql -h db.internal -u app -pS3cretPw1 app < /seed.sql"] })]),
        where: ["$[0].entryPoint[2]", "password"],
        twin: () => taskDefinition("ep", [goodContainer({ entryPoint: ["sh", "-c", "mysql -h db.internal -u app -p\"$DB_PASSWORD\" app < /seed.sql"] })]),
    },
    {
        title: "docker label carrying an API token",
        unsafe: () => taskDefinition("labels", [goodContainer({ dockerLabels: { "traefik.http.middlewares.auth.apitoken": "tk_live_8c1f0e9d7b6a" } })]),
        where: ["dockerLabels"],
        twin: () => taskDefinition("labels", [goodContainer({ dockerLabels: { "traefik.http.routers.api.rule": "Host(`api.example.com`)", "com.datadoghq.tags.version": "1.4.2" } })]),
    },
    {
        title: "log driver options with a Splunk token",
        unsafe: () => taskDefinition("splunk", [goodContainer({ logConfiguration: { logDriver: "splunk", options: { "splunk-url": "https://splunk.example.com:8088", "splunk-token": "8f14e45f-ceea-467f-a0e6-0d3c5b3e2a11" } } })]),
        where: ["logConfiguration.options", "splunk-token"],
        twin: () => taskDefinition("splunk", [goodContainer({ logConfiguration: { logDriver: "splunk", options: { "splunk-url": "https://splunk.example.com:8088" }, secretOptions: [{ name: "splunk-token", valueFrom: SECRET_ARN }] } })]),
    },
    {
        title: "GitHub token in a container environment by value, whatever its name",
        unsafe: () => taskDefinition("gh", [goodContainer({ environment: [{ name: "UPSTREAM", value: "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" }] })]),
        where: ['environment "UPSTREAM"', "secretlint github"],
        twin: () => taskDefinition("gh", [goodContainer({ environment: [{ name: "UPSTREAM", value: "https://github.com/example/repo" }] })]),
    },
    {
        title: "AWS access key id without a label (secretlint enableIDScanRule)",
        unsafe: () => lambda("awskey", { UPLOADER: "AKIA" + "Q3EGRIUSNWMVXP7Z" }),
        where: ["environment.variables.UPLOADER", "AWSAccessKeyID"],
        twin: () => lambda("awskey", { UPLOADER_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/uploader`, AWS_ACCOUNT_ID: ACCOUNT }),
    },
    {
        title: "Pulumi access token (a format the recommended preset lacks)",
        unsafe: () => lambda("pul", { DEPLOYER: "pul-" + "0123456789abcdef0123456789abcdef01234567" }),
        where: ["environment.variables.DEPLOYER", "Pulumi access token"],
        twin: () => lambda("pul", { DEPLOYER: "pulumi-deployments", PULUMI_ORG: "example" }),
    },
    {
        title: "signed JWT in a variable",
        unsafe: () => lambda("jwt", { SERVICE_AUTH: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZXJ2aWNlIiwiaWF0IjoxNzAwMDAwMDAwfQ.q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6" }),
        where: ["SERVICE_AUTH", "JSON Web Token"],
        twin: () => lambda("jwt", { SERVICE_AUTH_ISSUER: "https://auth.example.com/", TOKEN_AUDIENCE: "sts.amazonaws.com", JWT_TTL: "15m" }),
    },
    {
        title: "query-string credential in a URL",
        unsafe: () => lambda("qs", { WEBHOOK: "https://hooks.example.com/notify?channel=ops&api_key=9d8c7b6a5f4e3d2c" }),
        where: ["WEBHOOK", "parameter api_key"],
        twin: () => lambda("qs", { WEBHOOK: "https://hooks.example.com/notify?channel=ops&format=json" }),
    },
    {
        title: "JDBC URL with ;password=",
        unsafe: () => lambda("jdbc", { REPORTING_DB: "jdbc:sqlserver://sql.internal:1433;databaseName=reports;user=sa;password=Pa55word!" }),
        where: ["REPORTING_DB", "parameter password"],
        twin: () => lambda("jdbc", { REPORTING_DB: "jdbc:sqlserver://sql.internal:1433;databaseName=reports;integratedSecurity=true" }),
    },
    {
        title: "ODBC/ADO.NET connection string",
        unsafe: () => lambda("odbc", { LEGACY: "Server=sql.internal;Database=app;Uid=app;Pwd=Wint3r2024!;" }),
        where: ["LEGACY", "parameter Pwd"],
        twin: () => lambda("odbc", { LEGACY: "Server=sql.internal;Database=app;Trusted_Connection=yes;" }),
    },
    {
        title: "libpq key=value connection string",
        unsafe: () => lambda("libpq", { PG: "host=db.internal port=5432 dbname=app user=app password=s3cr3tpw" }),
        where: ["PG", "parameter password"],
        twin: () => lambda("libpq", { PG: "host=db.internal port=5432 dbname=app user=app sslmode=require" }),
    },
    {
        title: "camelCase secret name in a JSON config blob",
        unsafe: () => lambda("blob", { SETTINGS: JSON.stringify({ stripe: { secretKey: "sk_test_abc123def456" }, region: "us-east-1" }) }),
        where: ["(JSON) $.stripe.secretKey"],
        twin: () => lambda("blob", { SETTINGS: JSON.stringify({ stripe: { publishableKey: "pk_test_abc123def456", secretKeyArn: SECRET_ARN }, region: "us-east-1" }) }),
    },
    {
        title: "user data as gzip + base64",
        unsafe: () => launchTemplate("gz", gzipB64("#!/bin/bash\nexport REDIS_PASSWORD=hunter2hunter2\n")),
        where: ["(base64, gzip) line 2", "REDIS_PASSWORD"],
        twin: () => launchTemplate("gz", gzipB64("#!/bin/bash\nexport REDIS_PASSWORD=$(aws ssm get-parameter --name /app/redis --with-decryption --query Parameter.Value --output text)\n")),
    },
    {
        title: "user data as MIME multipart with a base64 part",
        unsafe: () =>
            launchTemplate(
                "mime",
                b64(
                    'Content-Type: multipart/mixed; boundary="==B=="\nMIME-Version: 1.0\n\n--==B==\nContent-Type: text/x-shellscript; charset="us-ascii"\nContent-Transfer-Encoding: base64\n\n' +
                        b64("#!/bin/bash\necho 'API_TOKEN=tok-91b2c3d4e5' >> /etc/environment\n") +
                        "\n--==B==--\n",
                ),
            ),
        where: ["MIME part 1 (text/x-shellscript) line 2", "API_TOKEN"],
        twin: () =>
            launchTemplate(
                "mime",
                b64('Content-Type: multipart/mixed; boundary="==B=="\nMIME-Version: 1.0\n\n--==B==\nContent-Type: text/x-shellscript\n\n#!/bin/bash\necho "APP_ENV=prod" >> /etc/environment\n\n--==B==--\n'),
            ),
    },
    {
        title: "cloud-config runcmd with a CLI password flag",
        unsafe: () => launchTemplate("runcmd", b64("#cloud-config\nruncmd:\n  - [ sh, -c, 'docker login -u ci -p Dock3rHubPw registry.example.com' ]\n")),
        where: ["runcmd[0]", "password"],
        twin: () => launchTemplate("runcmd", b64("#cloud-config\nruncmd:\n  - [ sh, -c, 'aws ecr get-login-password | docker login -u AWS --password-stdin registry.example.com' ]\n")),
    },
    {
        title: "cloud-config write_files with b64 encoding",
        unsafe: () => launchTemplate("wf", b64(`#cloud-config\nwrite_files:\n  - path: /etc/app/.env\n    encoding: b64\n    content: ${b64("DB_PASSWORD=Tr0ub4dor3\n")}\n`)),
        where: ["write_files[0] (/etc/app/.env)", "DB_PASSWORD"],
        twin: () => launchTemplate("wf", b64(`#cloud-config\nwrite_files:\n  - path: /etc/app/.env\n    encoding: b64\n    content: ${b64("DB_PASSWORD_SECRET_ARN=" + SECRET_ARN + "\n")}\n`)),
    },
    {
        title: "heredoc JSON config in a shell script",
        unsafe: () => launchTemplate("heredoc", b64('#!/bin/bash\ncat <<EOF > /etc/app.json\n{"db": {"user": "app", "password": "Kettle-Blue-42"}}\nEOF\n')),
        where: ["heredoc at line 3", "$.db.password"],
        twin: () => launchTemplate("heredoc", b64('#!/bin/bash\ncat <<EOF > /etc/app.json\n{"db": {"user": "app", "passwordSecretId": "jobfleet/prod/db"}}\nEOF\n')),
    },
    {
        title: "aws configure set with a secret access key",
        unsafe: () => launchTemplate("configure", b64("#!/bin/bash\naws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\n")),
        where: ["line 2", "aws_secret_access_key"],
        twin: () => launchTemplate("configure", b64("#!/bin/bash\naws configure set region us-east-1\n")),
    },
    {
        title: "curl -u user:password in user data",
        unsafe: () => res(aws.ec2.Instance, "curl", { ami: "ami-123", instanceType: "t3.micro", userData: "#!/bin/sh\ncurl -fsS -u deploy:Art1factPw https://artifacts.example.com/app.tgz -o /tmp/app.tgz\n" }),
        where: ["userData line 2", "password"],
        twin: () => res(aws.ec2.Instance, "curl", { ami: "ami-123", instanceType: "t3.micro", userData: "#!/bin/sh\ncurl -fsS https://artifacts.example.com/app.tgz -o /tmp/app.tgz\n" }),
    },
    {
        title: "Batch job definition container properties",
        unsafe: () => res(aws.batch.JobDefinition, "batch", { type: "container", containerProperties: JSON.stringify({ image: "x", environment: [{ name: "SMTP_PASSWORD", value: "mailpass123" }] }) }),
        where: ["containerProperties (JSON) $.environment[0].value", 'environment "SMTP_PASSWORD"'],
        twin: () => res(aws.batch.JobDefinition, "batch", { type: "container", containerProperties: JSON.stringify({ image: "x", secrets: [{ name: "SMTP_PASSWORD", valueFrom: SECRET_ARN }] }) }),
    },
    {
        title: "CodeBuild PLAINTEXT environment variable",
        unsafe: () =>
            res(aws.codebuild.Project, "build", {
                serviceRole: "arn:aws:iam::123456789012:role/build",
                artifacts: { type: "NO_ARTIFACTS" },
                source: { type: "NO_SOURCE", buildspec: "version: 0.2" },
                environment: { computeType: "BUILD_GENERAL1_SMALL", image: "aws/codebuild/standard:7.0", type: "LINUX_CONTAINER", environmentVariables: [{ name: "NPM_TOKEN", value: "npm_tok_8a7b6c5d4e", type: "PLAINTEXT" }] },
            }),
        where: ["environment.environmentVariables[0].value", "NPM_TOKEN"],
        twin: () =>
            res(aws.codebuild.Project, "build", {
                serviceRole: "arn:aws:iam::123456789012:role/build",
                artifacts: { type: "NO_ARTIFACTS" },
                source: { type: "NO_SOURCE", buildspec: "version: 0.2" },
                environment: { computeType: "BUILD_GENERAL1_SMALL", image: "aws/codebuild/standard:7.0", type: "LINUX_CONTAINER", environmentVariables: [{ name: "NPM_TOKEN", value: "/ci/npm-token", type: "PARAMETER_STORE" }] },
            }),
    },
    {
        title: "API Gateway stage variables",
        unsafe: () => res(aws.apigateway.Stage, "stage", { restApi: "api", deployment: "d", stageName: "prod", variables: { backendApiKey: "bk_3f2e1d0c9b8a" } }),
        where: ["variables.backendApiKey"],
        twin: () => res(aws.apigateway.Stage, "stage", { restApi: "api", deployment: "d", stageName: "prod", variables: { backendHost: "backend.internal", apiKeyRequired: "true" } }),
    },
    {
        title: "Amazon MQ broker user password as a literal (not a schema secret: it arrives in clear)",
        unsafe: () => res(aws.mq.Broker, "mq", { brokerName: "jobs", engineType: "RabbitMQ", engineVersion: "3.13", hostInstanceType: "mq.t3.micro", users: [{ username: "app", password: "RabbitPassw0rd!" }] }),
        where: ["users[0].password"],
        twin: () => res(aws.mq.Broker, "mq", { brokerName: "jobs", engineType: "RabbitMQ", engineVersion: "3.13", hostInstanceType: "mq.t3.micro", users: [{ username: "app", password: secret("from-secrets-manager") }] }),
    },
    {
        title: "SSM String parameter named like a secret",
        unsafe: () => res(aws.ssm.Parameter, "api-key", { name: "/jobfleet/prod/api-key", type: "String", value: "k-2b7e151628aed2a6" }),
        where: ['parameter "/jobfleet/prod/api-key"'],
        twin: () => res(aws.ssm.Parameter, "api-key", { name: "/jobfleet/prod/api-key", type: "SecureString", value: "k-2b7e151628aed2a6" }),
    },
    {
        title: "secret in an unusual resource type (Step Functions definition)",
        unsafe: () => res(aws.sfn.StateMachine, "flow", { roleArn: "r", definition: JSON.stringify({ StartAt: "Call", States: { Call: { Type: "Task", Resource: "arn:aws:states:::http:invoke", Parameters: { Headers: { Authorization: "Bearer 7f3a9c2e1b4d5f60718293a4" } }, End: true } } }) }),
        where: ["definition (JSON) $.States.Call.Parameters.Headers.Authorization"],
        twin: () => res(aws.sfn.StateMachine, "flow", { roleArn: "r", definition: JSON.stringify({ StartAt: "Call", States: { Call: { Type: "Task", Resource: "arn:aws:states:::http:invoke", Parameters: { Authentication: { ConnectionArn: `arn:aws:events:us-east-1:${ACCOUNT}:connection/api/abc` } }, End: true } } }) }),
    },
    {
        title: "{{resolve:secretsmanager}} and valueFrom are references, a Slack webhook is not",
        unsafe: () => lambda("refs", { ALERTS: "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/abcdefghijklmnopqrstuvwx" }),
        where: ["ALERTS", "secretlint slack"],
        twin: () => lambda("refs", { DB_PASSWORD: "{{resolve:secretsmanager:jobfleet/prod/db:SecretString:password}}", API_KEY_PARAM: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/jobfleet/api-key` }),
    },
    {
        title: "public keys, audiences, TTLs, lengths and prefixes are not secrets",
        unsafe: () => lambda("names", { SIGNING_KEY: "d2VsbC10aGlzLWlzLWEtc2lnbmluZy1rZXk" }),
        where: ["SIGNING_KEY"],
        twin: () =>
            lambda("names", {
                JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE-----END PUBLIC KEY-----",
                OIDC_AUDIENCE: "sts.amazonaws.com",
                TOKEN_TTL: "1h",
                PASSWORD_MIN_LENGTH: "12",
                API_KEY_PREFIX: "jf_",
                API_KEY_HEADER: "X-Api-Key",
                SECRET_NAME: "jobfleet/prod/db",
                STRIPE_PUBLISHABLE_KEY: "pk_live_51H8abcdEFGH",
                KMS_KEY_ID: "alias/jobfleet",
                SSH_KEY_NAME: "ops-2024",
            }),
    },
];

interface PolicyCase extends Case {
    policy: string;
}

const rolePolicy = (name: string, ...statements: aws.iam.PolicyStatement[]) => res(aws.iam.RolePolicy, name, { role: "app", policy: doc(...statements) });
const bucketPolicy = (statement: aws.iam.PolicyStatement) => res(aws.s3.BucketPolicy, "bp", { bucket: "jobs", policy: doc(statement) });
const githubTrust = (sub: string) =>
    res(aws.iam.Role, "ci", {
        assumeRolePolicy: doc({
            Effect: "Allow",
            Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" }, StringLike: { "token.actions.githubusercontent.com:sub": sub } },
        }),
    });

const IAM_CASES: PolicyCase[] = [
    {
        title: "s3:GetObject on arn:aws:s3:::* (every bucket)",
        policy: "iam-no-wildcard-resource",
        unsafe: () => rolePolicy("read", { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::*" }),
        where: ['Resource "arn:aws:s3:::*"'],
        twin: () => rolePolicy("read", { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::jobfleet-jobs/*" }),
    },
    {
        title: "sqs:* on the queue",
        policy: "iam-no-wildcard-actions",
        unsafe: () => rolePolicy("q", { Effect: "Allow", Action: "sqs:*", Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs` }),
        where: ['Action "sqs:*"'],
        twin: () => rolePolicy("q", { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs` }),
    },
    {
        title: "iam:* in a role's inlinePolicies",
        policy: "iam-no-wildcard-actions",
        unsafe: () => res(aws.iam.Role, "inline", { assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT), inlinePolicies: [{ name: "admin-ish", policy: doc({ Effect: "Allow", Action: "iam:*", Resource: `arn:aws:iam::${ACCOUNT}:role/app-*` }) }] }),
        where: ['inlinePolicies[0] ("admin-ish").policy', 'Action "iam:*"'],
        twin: () => res(aws.iam.Role, "inline", { assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT), inlinePolicies: [{ name: "read", policy: doc({ Effect: "Allow", Action: "iam:Get*", Resource: `arn:aws:iam::${ACCOUNT}:role/app-*` }) }] }),
    },
    {
        title: "Allow with NotAction",
        policy: "iam-no-not-action-allow",
        unsafe: () => rolePolicy("not", { Effect: "Allow", NotAction: "iam:*", Resource: "*" }),
        where: ["NotAction"],
        twin: () => rolePolicy("not", { Effect: "Deny", NotAction: ["s3:GetObject", "s3:PutObject"], Resource: "*" }),
    },
    {
        title: "public bucket policy whose aws:PrincipalOrgID is StringLike *",
        policy: "iam-resource-policy-principals",
        unsafe: () => bucketPolicy({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::jobs/*", Condition: { StringLike: { "aws:PrincipalOrgID": "*" } } }),
        where: ["grants to anyone"],
        twin: () => bucketPolicy({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::jobs/*", Condition: { StringEquals: { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } } }),
    },
    {
        title: "SNS topic policy for S3 with aws:SourceArn arn:aws:s3:::*",
        policy: "iam-resource-policy-principals",
        unsafe: () => res(aws.sns.TopicPolicy, "tp", { arn: "t", policy: doc({ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sns:Publish", Resource: "*", Condition: { ArnLike: { "aws:SourceArn": "arn:aws:s3:::*" } } }) }),
        where: ['Principal.Service "s3.amazonaws.com"'],
        twin: () => res(aws.sns.TopicPolicy, "tp", { arn: "t", policy: doc({ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sns:Publish", Resource: "*", Condition: { ArnLike: { "aws:SourceArn": "arn:aws:s3:::jobfleet-uploads" } } }) }),
    },
    {
        title: "source condition only IfExists in a queue policy",
        policy: "iam-resource-policy-principals",
        unsafe: () => res(aws.sqs.QueuePolicy, "qp", { queueUrl: "q", policy: doc({ Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: "*", Condition: { ArnEqualsIfExists: { "aws:SourceArn": `arn:aws:sns:us-east-1:${ACCOUNT}:jobs` } } }) }),
        where: ['Principal.Service "sns.amazonaws.com"'],
        twin: () => res(aws.sqs.QueuePolicy, "qp", { queueUrl: "q", policy: doc({ Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: "*", Condition: { ArnEquals: { "aws:SourceArn": `arn:aws:sns:us-east-1:${ACCOUNT}:jobs` } } }) }),
    },
    {
        title: "Lambda permission for API Gateway without sourceArn",
        policy: "iam-resource-policy-principals",
        unsafe: () => res(aws.lambda.Permission, "invoke", { action: "lambda:InvokeFunction", function: "fn", principal: "apigateway.amazonaws.com" }),
        where: ['principal "apigateway.amazonaws.com"'],
        twin: () => res(aws.lambda.Permission, "invoke", { action: "lambda:InvokeFunction", function: "fn", principal: "apigateway.amazonaws.com", sourceArn: `arn:aws:execute-api:us-east-1:${ACCOUNT}:abc123/*/*` }),
    },
    {
        title: "Lambda function URL without authorization",
        policy: "iam-resource-policy-principals",
        unsafe: () => res(aws.lambda.FunctionUrl, "url", { functionName: "fn", authorizationType: "NONE" }),
        where: ['authorizationType "NONE"'],
        twin: () => res(aws.lambda.FunctionUrl, "url", { functionName: "fn", authorizationType: "AWS_IAM" }),
    },
    {
        title: "GitHub OIDC trust for every repository of the owner",
        policy: "iam-trust-policy-principals",
        unsafe: () => githubTrust("repo:example/*"),
        where: ["does not name one repository"],
        twin: () => githubTrust("repo:example/jobfleet:ref:refs/heads/main"),
    },
    {
        title: "trust in ECS tasks with a ForAllValues source condition",
        policy: "iam-trust-service-source-condition",
        unsafe: () => res(aws.iam.Role, "task", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com", { "ForAllValues:StringEquals": { "aws:SourceAccount": ACCOUNT } }) }),
        where: ['Principal.Service "ecs-tasks.amazonaws.com"'],
        twin: () => res(aws.iam.Role, "task", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com", { ArnLike: { "aws:SourceArn": `arn:aws:ecs:us-east-1:${ACCOUNT}:*` } }) }),
    },
    {
        title: "iam:PassRole on role/* with a limiting condition",
        policy: "iam-passrole-scoped",
        unsafe: () => rolePolicy("pass", { Effect: "Allow", Action: "iam:PassRole", Resource: `arn:aws:iam::${ACCOUNT}:role/*`, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } }),
        where: ["iam:PassRole Resource"],
        twin: () => rolePolicy("pass", { Effect: "Allow", Action: "iam:PassRole", Resource: `arn:aws:iam::${ACCOUNT}:role/jobfleet-task`, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } }),
    },
    {
        title: "AdministratorAccess in a role's managedPolicyArns",
        policy: "iam-no-admin-managed-policies",
        unsafe: () => res(aws.iam.Role, "ops", { assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT), managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] }),
        where: ['managedPolicyArns[0] "arn:aws:iam::aws:policy/AdministratorAccess"'],
        twin: () => res(aws.iam.Role, "ops", { assumeRolePolicy: trust("ec2.amazonaws.com"), managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"] }),
    },
    {
        title: "AmazonEC2FullAccess through a user policy attachment",
        policy: "iam-no-admin-managed-policies",
        unsafe: () => res(aws.iam.UserPolicyAttachment, "u", { user: "ops", policyArn: "arn:aws:iam::aws:policy/AmazonEC2FullAccess" }),
        where: ["AmazonEC2FullAccess"],
        twin: () => res(aws.iam.UserPolicyAttachment, "u", { user: "ops", policyArn: "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess" }),
    },
    {
        title: "static keys in the provider",
        policy: "iam-no-static-credentials",
        unsafe: () => ({ urn: urnOf("pulumi:providers:aws", "keys"), type: "pulumi:providers:aws", custom: true, inputs: { region: "us-east-1", accessKey: "AKIA" + "Q3EGRIUSNWMVXP7Z", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY" } }),
        where: ["accessKey", "static AWS credential"],
        twin: () => ({ urn: urnOf("pulumi:providers:aws", "keys"), type: "pulumi:providers:aws", custom: true, inputs: { region: "us-east-1", profile: "jobfleet-ci" } }),
    },
];

const DIGEST_IMAGE = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/jobfleet/app@sha256:${"ab".repeat(32)}`;
const service = (extra: Partial<aws.ecs.ServiceArgs>) => res(aws.ecs.Service, "svc", { cluster: "c", taskDefinition: "td", desiredCount: 2, launchType: "FARGATE", ...(extra as object) });

const RUNTIME_CASES: PolicyCase[] = [
    {
        title: "stopTimeout above Fargate's 120 s",
        policy: "ecs-container-stop-timeout",
        unsafe: () => taskDefinition("long", [goodContainer({ stopTimeout: 150 })]),
        where: ["stopTimeout", "120"],
        twin: () => taskDefinition("long", [goodContainer({ stopTimeout: 120, environment: [{ name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "100" }] })]),
    },
    {
        title: "ECS service whose circuit breaker does not roll back",
        policy: "ecs-service-circuit-breaker",
        unsafe: () => service({ deploymentCircuitBreaker: { enable: true, rollback: false } }),
        where: ["deploymentCircuitBreaker.rollback"],
        twin: () => service({ deploymentCircuitBreaker: { enable: true, rollback: true } }),
    },
    {
        title: "Lambda image by tag in prod",
        policy: "images-pinned-by-digest",
        unsafe: () => res(aws.lambda.Function, "img", { role: "r", packageType: "Image", imageUri: `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/jobfleet/app:v1.4.2`, timeout: 30 }),
        where: ["imageUri"],
        twin: () => res(aws.lambda.Function, "img", { role: "r", packageType: "Image", imageUri: DIGEST_IMAGE, timeout: 30 }),
    },
    {
        title: "Lambda that leaves timeout out (arrives as the provider's 3 s)",
        policy: "lambda-explicit-timeout",
        unsafe: () => res(aws.lambda.Function, "short", { role: "r", packageType: "Image", imageUri: DIGEST_IMAGE }),
        where: ["timeout 3"],
        twin: () => res(aws.lambda.Function, "short", { role: "r", packageType: "Image", imageUri: DIGEST_IMAGE, timeout: 30 }),
    },
    {
        title: "ECR repository with tag mutability left out",
        policy: "ecr-immutable-tags",
        unsafe: () => res(aws.ecr.Repository, "r", { name: "jobfleet/app", imageScanningConfiguration: { scanOnPush: true } }),
        where: ['"MUTABLE"'],
        twin: () => res(aws.ecr.Repository, "r", { name: "jobfleet/app", imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } }),
    },
];

describe("policy pack: adversarial corpus (wire form, unsafe change and near-miss twin)", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");
    const analyze = (r: StackResource) => analyzer.get().analyze(r);

    describe("plaintext secrets anywhere", () => {
        for (const c of SECRET_CASES) {
            it(`blocks: ${c.title}`, async () => {
                const found = expectViolation(await analyze(c.unsafe()), SECRETS, ...c.where);
                const value = JSON.stringify(c.unsafe().inputs);
                for (const d of found) assert.ok(!/Sup3rS3cret|hunter2hunter2|Kettle-Blue-42|Wint3r2024|Pa55word|Art1factPw|Dock3rHubPw/.test(d.message), `the message repeats the value: ${d.message} (${value.length})`);
            });
            it(`passes the twin: ${c.title}`, async () => {
                expectPass(await analyze(c.twin()), SECRETS);
            });
        }
    });

    describe("every rule, one unsafe change and its twin each", () => {
        for (const c of [...IAM_CASES, ...RUNTIME_CASES]) {
            it(`${c.policy} blocks: ${c.title}`, async () => {
                expectViolation(await analyze(c.unsafe()), c.policy, ...c.where);
            });
            it(`${c.policy} passes the twin: ${c.title}`, async () => {
                expectPass(await analyze(c.twin()), c.policy);
            });
        }
    });

    describe("IAM by what documents allow", () => {
        const role = (name: string, args: Partial<aws.iam.RoleArgs> = {}) => res(aws.iam.Role, name, { assumeRolePolicy: trust("lambda.amazonaws.com", SOURCE_ACCOUNT), ...(args as object) });

        it("blocks an AWS managed policy by its document (AmazonS3FullAccess), passes AWSLambdaBasicExecutionRole", async () => {
            expectViolation(await analyze(res(aws.iam.RolePolicyAttachment, "s3-full", { role: "r", policyArn: "arn:aws:iam::aws:policy/AmazonS3FullAccess" })), "iam-no-admin-managed-policies", 's3:*', "on every resource");
            expectPass(await analyze(res(aws.iam.RolePolicyAttachment, "basic", { role: "r", policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" })), "iam-no-admin-managed-policies");
        });

        it("blocks PowerUserAccess through the exclusive attachment resource, passes ReadOnlyAccess", async () => {
            expectViolation(
                await analyze(res(aws.iam.RolePolicyAttachmentsExclusive, "exclusive", { roleName: "r", policyArns: ["arn:aws:iam::aws:policy/PowerUserAccess"] })),
                "iam-no-admin-managed-policies",
                "policyArns[0]",
                "every action except",
            );
            expectPass(await analyze(res(aws.iam.RolePolicyAttachmentsExclusive, "exclusive", { roleName: "r", policyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"] })), "iam-no-admin-managed-policies");
        });

        it("blocks iam:PassRole under StringLike \"*\" on iam:PassedToService, passes StringEquals ecs-tasks", async () => {
            const pass = (cond: Record<string, Record<string, string>>) =>
                res(aws.iam.RolePolicy, "pass", { role: "r", policy: doc({ Effect: "Allow", Action: "iam:PassRole", Resource: `arn:aws:iam::${ACCOUNT}:role/task`, Condition: cond }) });
            expectViolation(await analyze(pass({ StringLike: { "iam:PassedToService": "*.amazonaws.com" } })), "iam-passrole-scoped", "does not limit the service");
            expectPass(await analyze(pass({ StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } })), "iam-passrole-scoped");
        });

        it("blocks a queue policy whose aws:SourceArn is a wildcard ARN, passes one naming the rule", async () => {
            const q = (arn: string) =>
                res(aws.sqs.QueuePolicy, "qp", { queueUrl: "q", policy: doc({ Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage", Resource: "*", Condition: { ArnLike: { "aws:SourceArn": arn } } }) });
            expectViolation(await analyze(q("arn:aws:events:*:*:rule/*")), "iam-resource-policy-principals", "without aws:SourceArn");
            expectPass(await analyze(q(`arn:aws:events:us-east-1:${ACCOUNT}:rule/nightly`)), "iam-resource-policy-principals");
        });

        it("blocks a negated source condition in a trust policy, passes StringEquals", async () => {
            const t = (cond: Record<string, Record<string, string>>) => role("neg", { assumeRolePolicy: trust("ecs-tasks.amazonaws.com", cond) });
            expectViolation(await analyze(t({ StringNotEquals: { "aws:SourceAccount": "999999999999" } })), "iam-trust-service-source-condition");
            expectPass(await analyze(t(SOURCE_ACCOUNT)), "iam-trust-service-source-condition");
        });

        it("blocks a KMS key policy open to everyone, passes AWS's default root statement", async () => {
            const key = (statement: aws.iam.PolicyStatement) => res(aws.kms.Key, "key", { policy: doc(statement) });
            expectViolation(await analyze(key({ Effect: "Allow", Principal: "*", Action: "kms:Decrypt", Resource: "*" })), "iam-resource-policy-principals", "grants to anyone");
            const rootKey = await analyze(key({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" }));
            expectPass(rootKey, "iam-resource-policy-principals");
            expectPass(rootKey, "iam-no-wildcard-actions");
        });

        it("blocks a secret's own policy that grants to *, passes one granting a role", async () => {
            const s = (principal: aws.iam.PolicyStatement["Principal"]) => res(aws.secretsmanager.Secret, "s", { policy: doc({ Effect: "Allow", Principal: principal, Action: "secretsmanager:GetSecretValue", Resource: "*" }) });
            expectViolation(await analyze(s("*")), "iam-resource-policy-principals", "grants to anyone");
            expectPass(await analyze(s({ AWS: `arn:aws:iam::${ACCOUNT}:role/app` })), "iam-resource-policy-principals");
        });

        it("blocks aws.iam.AccessKey and a user's login profile", async () => {
            expectViolation(await analyze(res(aws.iam.AccessKey, "ci-key", { user: "ci" })), "iam-no-static-credentials", "long-lived access key");
            expectViolation(await analyze(res(aws.iam.UserLoginProfile, "console", { user: "ops" })), "iam-no-static-credentials", "console password");
        });

        it("blocks Pulumi Cloud OIDC trust scoped to the organization only, passes organization + project + stack", async () => {
            const pulumiTrust = (sub: string) =>
                role("deploy", {
                    assumeRolePolicy: doc({
                        Effect: "Allow",
                        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/api.pulumi.com/oidc` },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: { StringEquals: { "api.pulumi.com/oidc:aud": "example" }, StringLike: { "api.pulumi.com/oidc:sub": sub } },
                    }),
                });
            expectViolation(await analyze(pulumiTrust("pulumi:deploy:org:example:project:*:stack:*:operation:*:scope:write")), "iam-trust-policy-principals", "one organization and one project and stack");
            expectPass(await analyze(pulumiTrust("pulumi:deploy:org:example:project:jobfleet:stack:prod:operation:*:scope:write")), "iam-trust-policy-principals");
        });

        it("blocks review-stack trust open to every stack of the project, passes one stack-name prefix (pr-*), with the Pulumi subject form in the fix", async () => {
            const pulumiTrust = (sub: string) =>
                role("review-stacks", {
                    assumeRolePolicy: doc({
                        Effect: "Allow",
                        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/api.pulumi.com/oidc` },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: { StringEquals: { "api.pulumi.com/oidc:aud": "example" }, StringLike: { "api.pulumi.com/oidc:sub": sub } },
                    }),
                });
            const open = await analyze(pulumiTrust("pulumi:deploy:org:example:project:jobfleet-pr-environments:stack:*:operation:*:scope:write"));
            expectViolation(open, "iam-trust-policy-principals", "one organization and one project and stack");
            expectViolation(open, "iam-trust-policy-principals", "pulumi:deploy:org:<org>:project:<project>:stack:<stack>");
            expectViolation(await analyze(pulumiTrust("pulumi:deploy:org:example:project:jobfleet-pr-environments:stack:*-prod:operation:*:scope:write")), "iam-trust-policy-principals", "one organization and one project and stack");
            expectPass(await analyze(pulumiTrust("pulumi:deploy:org:example:project:jobfleet-pr-environments:stack:pr-*:operation:*:scope:write")), "iam-trust-policy-principals");
        });

        it("ec2:Describe* on * is not an over-grant; ec2:TerminateInstances on * is", async () => {
            const p = (action: string) => res(aws.iam.RolePolicy, "ec2", { role: "r", policy: doc({ Effect: "Allow", Action: action, Resource: "*" }) });
            expectPass(await analyze(p("ec2:Describe*")), "iam-no-wildcard-resource");
            expectViolation(await analyze(p("ec2:TerminateInstances")), "iam-no-wildcard-resource", "ec2:TerminateInstances");
        });
    });

    describe("artifacts", () => {
        it("blocks IMMUTABLE_WITH_EXCLUSION whose filter matches release tags, passes a build-cache filter", async () => {
            const repo = (filter: string) => res(aws.ecr.Repository, "repo", { name: "app", imageTagMutability: "IMMUTABLE_WITH_EXCLUSION", imageTagMutabilityExclusionFilters: [{ filter, filterType: "WILDCARD" }], imageScanningConfiguration: { scanOnPush: true } });
            expectViolation(await analyze(repo("v*")), "ecr-immutable-tags", 'filter "v*"', "v1.2.3");
            expectPass(await analyze(repo("buildcache-*")), "ecr-immutable-tags");
        });

        it("blocks a repository that does not set imageTagMutability: it arrives as MUTABLE", async () => {
            expectViolation(await analyze(res(aws.ecr.Repository, "plain", { name: "plain" })), "ecr-immutable-tags", 'imageTagMutability "MUTABLE"');
        });
    });
});
