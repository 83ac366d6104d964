import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { ACCOUNT, expectPass, expectViolation, goodContainer, of, res, taskDefinition, useAnalyzer } from "./helpers";

const POLICY = "no-plaintext-secrets";
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:jobfleet/prod/db-AbCdEf`;

describe("policy pack: no plaintext secrets", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");
    const analyze = (r: Parameters<ReturnType<typeof analyzer.get>["analyze"]>[0]) => analyzer.get().analyze(r);

    describe("ECS container environment", () => {
        it("blocks a connection string with a password, by value, naming container and variable", async () => {
            const r = await analyze(taskDefinition("api", [goodContainer({ name: "api", environment: [{ name: "PRIMARY_DB", value: "postgresql://app:S3cr3tPassw0rd@db.internal.example.com:5432/app" }] })]));
            const [v] = expectViolation(r, POLICY, 'container "api" environment "PRIMARY_DB"', "$[0].environment[0].value", "plaintext secret", "secrets list");
            assert.ok(!v.message.includes("S3cr3tPassw0rd"), "the message never repeats the secret");
        });

        it("blocks postgresql://user:password@host (credentials in the URL, whatever the variable is called)", async () => {
            const r = await analyze(taskDefinition("api", [goodContainer({ environment: [{ name: "UPSTREAM", value: "postgresql://user:password@host/db" }] })]));
            expectViolation(r, POLICY, 'environment "UPSTREAM"', "password in its user-info");
        });

        it("blocks a secret found by secretlint (a Slack webhook)", async () => {
            const r = await analyze(taskDefinition("notify", [goodContainer({ environment: [{ name: "NOTIFY", value: "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/abcdefghijklmnopqrstuvwx" }] })]));
            expectViolation(r, POLICY, 'environment "NOTIFY"', "secretlint slack");
        });

        it("blocks literals in variables named like secrets", async () => {
            const r = await analyze(
                taskDefinition("api", [
                    goodContainer({
                        environment: [
                            { name: "JWT_SECRET", value: "0f8a9c2e7d" },
                            { name: "DB_PASSWORD", value: "changeme" },
                            { name: "STRIPE_API_KEY", value: "not-a-real-key" },
                            { name: "dbPassword", value: "hunter2" },
                        ],
                    }),
                ]),
            );
            expectViolation(r, POLICY, 'environment "JWT_SECRET"', 'environment "DB_PASSWORD"', 'environment "STRIPE_API_KEY"', 'environment "dbPassword"', "the name");
        });

        it("passes near misses: numbers, booleans, ARNs, URLs without credentials, settings named after secrets", async () => {
            const r = await analyze(
                taskDefinition("api", [
                    goodContainer({
                        environment: [
                            { name: "TOKEN_TTL_SECONDS", value: "900" },
                            { name: "SECRET_ARN", value: SECRET_ARN },
                            { name: "DB_SECRET_ARN", value: SECRET_ARN },
                            { name: "DATABASE_URL", value: "postgresql://db.internal.example.com:5432/app" },
                            { name: "API_KEY_HEADER", value: "X-Api-Key" },
                            { name: "PASSWORD_MIN_LENGTH", value: "12" },
                            { name: "SECRETS_ENABLED", value: "true" },
                            { name: "TOKEN_ISSUER", value: "https://auth.example.com/" },
                            { name: "DB_PASSWORD_PARAMETER", value: "/jobfleet/prod/db-password" },
                            { name: "AWS_SQS_QUEUE_URL", value: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/submissions` },
                            { name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "30" },
                        ],
                        secrets: [{ name: "DB_PASSWORD", valueFrom: `${SECRET_ARN}:password::` }],
                    }),
                ]),
            );
            expectPass(r, POLICY);
        });

        it("does not report a value the engine sends as a secret (the program made it a Pulumi secret)", async () => {
            const td = taskDefinition("api", [goodContainer({ environment: [{ name: "DB_PASSWORD", value: "p4ssw0rd-in-clear" }] })]);
            // As `pulumi stack export --show-secrets` writes a secret output.
            td.inputs!.containerDefinitions = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(td.inputs!.containerDefinitions) };
            expectPass(await analyze(td), POLICY);
        });
    });

    describe("Lambda environment variables", () => {
        it("blocks a secret nested in a JSON-valued variable, naming the key path; passes references and settings in JSON", async () => {
            const config = (value: object) => res(aws.lambda.Function, "json-config", { role: "r", packageType: "Image", imageUri: "x", timeout: 10, environment: { variables: { APP_CONFIG: JSON.stringify(value) } } });
            const bad = await analyze(config({ db: { host: "db.internal", password: "Sup3rS3cretPw!" }, stage: "prod" }));
            const [v] = expectViolation(bad, POLICY, 'environment.variables.APP_CONFIG (JSON) $.db.password', "the name password");
            assert.ok(!v.message.includes("Sup3rS3cretPw!"), "the message never repeats the secret");
            expectPass(await analyze(config({ db: { host: "db.internal", passwordSecretArn: SECRET_ARN }, tokenTtlSeconds: "900", stage: "prod" })), POLICY);
        });

        it("blocks an API key and passes the secret's ARN", async () => {
            const bad = await analyze(res(aws.lambda.Function, "api", { role: "r", packageType: "Image", imageUri: "x", timeout: 10, environment: { variables: { PAYMENTS_API_KEY: "pk_9f8e7d6c5b4a", STAGE: "prod" } } }));
            expectViolation(bad, POLICY, 'environment.variables.PAYMENTS_API_KEY', "Secrets Manager");
            assert.strictEqual(of(bad, POLICY).length, 1, "STAGE is not reported");
            const good = await analyze(res(aws.lambda.Function, "api-ok", { role: "r", packageType: "Image", imageUri: "x", timeout: 10, environment: { variables: { PAYMENTS_API_KEY_SECRET_ARN: SECRET_ARN, STAGE: "prod" } } }));
            expectPass(good, POLICY);
        });
    });

    describe("EC2 user data", () => {
        const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

        it("blocks a password in a launch template's base64 user data, with the line", async () => {
            const script = "#!/bin/bash\nset -euo pipefail\nexport APP_ENV=prod\nexport DB_PASSWORD='Tr0ub4dor&3'\n/opt/app/start\n";
            const r = await analyze(res(aws.ec2.LaunchTemplate, "preview", { userData: b64(script) }));
            expectViolation(r, POLICY, 'userData (base64) line 4 "DB_PASSWORD"', "at boot");
        });

        it("reports the same user data in every resource that carries it, each under its own name and field (decoded texts are kept by text)", async () => {
            const script = "#!/bin/bash\nexport DB_PASSWORD='Tr0ub4dor&3'\n/opt/app/start\n";
            for (const name of ["blue", "green"]) {
                const [v] = expectViolation(await analyze(res(aws.ec2.LaunchTemplate, name, { userData: b64(script) })), POLICY, 'userData (base64) line 2 "DB_PASSWORD"');
                assert.match(v.message, new RegExp(`"${name}"`));
            }
            // The same script as plain text in another type: its decoded lines (kept from the base64 one's inner text) are reported under this field.
            const [v] = expectViolation(await analyze(res(aws.ec2.Instance, "legacy", { ami: "ami-123", instanceType: "t3.small", userData: script })), POLICY, 'userData line 2 "DB_PASSWORD"');
            assert.match(v.message, /"legacy"/);
            expectPass(await analyze(res(aws.ec2.LaunchTemplate, "clean", { userData: b64("#!/bin/bash\n/opt/app/start\n") })), POLICY);
        });

        it("blocks a credentials URL in an instance's plain user data", async () => {
            const r = await analyze(res(aws.ec2.Instance, "legacy", { ami: "ami-123", instanceType: "t3.small", userData: "#!/bin/sh\ncurl -fsS https://deploy:hunter22@artifacts.example.com/app.tgz | tar xz\n" }));
            expectViolation(r, POLICY, "userData line 2:", "user-info");
        });

        it("blocks a password in cloud-config and in a systemd Environment= line, and base64 given to an instance's userData", async () => {
            const cloudConfig = "#cloud-config\nwrite_files:\n  - path: /etc/app.yaml\n    content: |\n      password: Tr0ub4dor-and-3\n";
            expectViolation(await analyze(res(aws.ec2.LaunchTemplate, "cloud-config", { userData: b64(cloudConfig) })), POLICY, 'write_files[0] (/etc/app.yaml) line 1 "password"');
            const unit = "#!/bin/bash\ncat > /etc/systemd/system/app.service <<UNIT\n[Service]\nEnvironment=API_TOKEN=tok-7d1e0c9b8a\nUNIT\n";
            expectViolation(await analyze(res(aws.ec2.LaunchTemplate, "unit", { userData: b64(unit) })), POLICY, 'line 4 "API_TOKEN"');
            const script = "#!/bin/bash\nexport DB_PASSWORD=hunter2hunter2\n";
            expectViolation(await analyze(res(aws.ec2.Instance, "b64-in-user-data", { ami: "ami-123", instanceType: "t3.small", userData: b64(script) })), POLICY, 'userData (base64) line 2 "DB_PASSWORD"');
        });

        it("passes cloud-config settings named like secrets that hold no secret", async () => {
            const cloudConfig = "#cloud-config\nssh_pwauth: false\nchpasswd:\n  expire: true\npassword_file: /run/secrets/db\n";
            expectPass(await analyze(res(aws.ec2.LaunchTemplate, "cloud-config-ok", { userData: b64(cloudConfig) })), POLICY);
        });

        it("passes user data that fetches the secret at boot", async () => {
            const script = "#!/bin/bash\nDB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id jobfleet/prod/db --query SecretString --output text)\nexport DB_PASSWORD\nARTIFACT_KEY=express-api/prod/622d2103-20250820-124500/express-api-deployment.tar.gz\n";
            expectPass(await analyze(res(aws.ec2.LaunchTemplate, "preview-ok", { userData: b64(script) })), POLICY);
        });
    });

    describe("SSM parameters", () => {
        it("blocks a password stored as a String parameter", async () => {
            const r = await analyze(res(aws.ssm.Parameter, "db-password", { name: "/jobfleet/prod/db-password", type: "String", value: "Sup3rS3cret!" }));
            expectViolation(r, POLICY, 'value (type "String", parameter "/jobfleet/prod/db-password")', "SecureString");
        });

        it("passes the same parameter as SecureString, and a plain String setting", async () => {
            expectPass(await analyze(res(aws.ssm.Parameter, "db-password-ok", { name: "/jobfleet/prod/db-password", type: "SecureString", value: "Sup3rS3cret!" })), POLICY);
            expectPass(await analyze(res(aws.ssm.Parameter, "log-level", { name: "/jobfleet/prod/log-level", type: "String", value: "info" })), POLICY);
        });
    });

    describe("tags", () => {
        it("blocks a token in a tag and passes ordinary tags", async () => {
            const bad = await analyze(res(aws.s3.Bucket, "tagged", { tags: { Project: "jobfleet", ApiToken: "tok-7d1e0c9b" } }));
            expectViolation(bad, POLICY, 'tags.ApiToken', "tags are readable");
            const good = await analyze(res(aws.iam.Role, "tagged-role", { assumeRolePolicy: "{}", tags: { Project: "jobfleet", "jobfleet:role-kind": "task", "jobfleet:job-submitter": "true", CostCenter: "platform" } }));
            expectPass(good, POLICY);
        });
    });
});
