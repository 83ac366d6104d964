import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CapturedPlan, CapturedResource, toStackExport } from "../tooling/capture";
import { AcceptanceViolation, checkAwsAcceptance } from "../tooling/awsAcceptance";
import { runPreview } from "../scripts/preview";
import { PolicyAnalyzer } from "../tooling/policyAnalyzer";
import { useAnalyzer } from "./policies/helpers";
import { standardPlan } from "./support/plans";

/** A deep copy of the real plan's resources, so each test mutates its own. */
function copyOf(plan: CapturedPlan): CapturedResource[] {
    return structuredClone(plan.resources);
}

function find(resources: CapturedResource[], type: string, name?: string): CapturedResource {
    const found = resources.find((r) => r.type === type && (name === undefined || r.name === name));
    assert.ok(found, `the plan has a ${type}${name ? ` named ${name}` : ""}`);
    return found;
}

/** Exactly the violations of one rule; fails with the whole list when there is none. */
function violationsOf(violations: AcceptanceViolation[], rule: string): AcceptanceViolation[] {
    const matching = violations.filter((v) => v.rule === rule);
    assert.ok(matching.length > 0, `expected a ${rule} violation, got: ${JSON.stringify(violations, null, 2)}`);
    return matching;
}

function editJson<T>(resource: CapturedResource, property: string, edit: (doc: T) => void): void {
    const doc = JSON.parse(resource.inputs[property] as string) as T;
    edit(doc);
    resource.inputs[property] = JSON.stringify(doc);
}

type Statement = { Action: string | string[]; Resource?: string | string[]; Condition?: Record<string, Record<string, unknown>> };
type PolicyDoc = { Statement: Statement[] };
type Container = Record<string, unknown> & { portMappings?: Array<Record<string, unknown>> };

describe("AWS acceptance checks", () => {
    let staging: CapturedPlan;
    let prod: CapturedPlan;
    before(async () => {
        staging = await standardPlan("staging");
        prod = await standardPlan("prod");
    });

    for (const stack of ["staging", "prod"] as const) {
        it(`${stack}: every registered resource passes`, async () => {
            const plan = stack === "staging" ? staging : prod;
            assert.deepEqual(await checkAwsAcceptance(plan.resources), []);
        });
    }

    describe("names after autonaming", () => {
        it("a target group whose logical name leaves no room for <name>-<7 hex> in 32 characters fails as the provider fails", async () => {
            const resources = copyOf(staging);
            const tg = find(resources, "aws:lb/targetGroup:TargetGroup", "agent-runtime-rest");
            tg.urn = tg.urn.replace(/::agent-runtime-rest$/, "::agent-runtime-rest-healthz");
            const [v] = violationsOf(await checkAwsAcceptance(resources), "name-length");
            assert.equal(v.property, "name");
            assert.match(v.message, /"agent-runtime-rest-healthz-<7 hex>" is 34 characters; the provider autonames at most 32/);
            assert.match(v.source, /pulumi-aws.*autonaming/);
        });

        it("an explicit IAM role name over 64 characters fails with CreateRole as the source", async () => {
            const resources = copyOf(staging);
            find(resources, "aws:iam/role:Role", "ci-access-deploy").inputs.name = `jobfleet-staging-${"x".repeat(48)}`;
            const [v] = violationsOf(await checkAwsAcceptance(resources), "name-length");
            assert.match(v.message, /is 65 characters; AWS accepts 1 to 64/);
            assert.match(v.source, /API_CreateRole\.html \(RoleName\)/);
        });

        it("an S3 bucket named with capitals fails the bucket naming rules", async () => {
            const resources = copyOf(prod);
            find(resources, "aws:s3/bucket:Bucket", "artifacts").inputs.bucket = "Jobfleet-Artifacts";
            const [v] = violationsOf(await checkAwsAcceptance(resources), "name-charset");
            assert.match(v.source, /bucketnamingrules/);
        });
    });

    it("the mocks autoname as the provider does: <logical name>-<7 hex>, lowercased for buckets, never truncated", () => {
        const named = (type: string, name: string) => find(staging.resources, type, name).outputs;
        assert.match(String(named("aws:iam/role:Role", "agent-runtime-task").name), /^agent-runtime-task-[0-9a-f]{7}$/);
        assert.match(String(named("aws:lb/targetGroup:TargetGroup", "agent-runtime-rest").name), /^agent-runtime-rest-[0-9a-f]{7}$/);
        assert.match(String(named("aws:s3/bucket:Bucket", "artifacts").bucket), /^artifacts-[0-9a-f]{7}$/);
    });

    describe("free text", () => {
        it("a security group rule description with an apostrophe fails as EC2 fails it", async () => {
            const resources = copyOf(staging);
            find(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "agent-runtime-efs-from-tasks").inputs.description = "NFS from the runtime's tasks";
            const [v] = violationsOf(await checkAwsAcceptance(resources), "sg-rule-description-charset");
            assert.equal(v.property, "description");
            assert.match(v.message, /"'"/);
            assert.match(v.message, /\._-:\/\(\)#,@\[\]\+=&;\{\}!\$\*/);
            assert.match(v.source, /AWSEC2.*Invalid rule description/);
        });

        it("a security group description with a non-ASCII character fails too", async () => {
            const resources = copyOf(prod);
            find(resources, "aws:ec2/securityGroup:SecurityGroup", "preview-alb").inputs.description = "preview ALB – HTTPS";
            violationsOf(await checkAwsAcceptance(resources), "sg-description-charset");
        });
    });

    describe("container definitions against the ECS SDK shape", () => {
        const taskDefinition = (resources: CapturedResource[]) => find(resources, "aws:ecs/taskDefinition:TaskDefinition", "submission-runner");

        it("a mis-cased key fails naming the shape's member", async () => {
            const resources = copyOf(staging);
            editJson<Container[]>(taskDefinition(resources), "containerDefinitions", ([c]) => {
                c.readOnlyRootFilesystem = true;
            });
            const [v] = violationsOf(await checkAwsAcceptance(resources), "sdk-shape-miscased-key");
            assert.equal(v.property, "containerDefinitions[0].readOnlyRootFilesystem");
            assert.match(v.message, /ContainerDefinition has readonlyRootFilesystem/);
            assert.match(v.source, /AWS SDK v3 shape com\.amazonaws\.ecs#ContainerDefinition \(@aws-sdk\/client-ecs\)/);
        });

        it("an unknown key, a wrong type and a value outside the enum fail", async () => {
            const resources = copyOf(staging);
            editJson<Container[]>(taskDefinition(resources), "containerDefinitions", ([c]) => {
                c.memoryReservationMiB = 512;
                c.essential = "true";
                c.portMappings = [{ containerPort: 8080, protocol: "TCP" }];
            });
            const violations = await checkAwsAcceptance(resources);
            assert.equal(violationsOf(violations, "sdk-shape-unknown-key")[0].property, "containerDefinitions[0].memoryReservationMiB");
            assert.equal(violationsOf(violations, "sdk-shape-type")[0].property, "containerDefinitions[0].essential");
            const [enumViolation] = violationsOf(violations, "sdk-shape-enum");
            assert.match(enumViolation.message, /"TCP" is not a TransportProtocol \(values are case-sensitive: "tcp"\)/);
            assert.match(enumViolation.source, /com\.amazonaws\.ecs#PortMapping/);
        });
    });

    describe("IAM documents against the service reference", () => {
        it("an action that does not exist fails", async () => {
            const resources = copyOf(staging);
            editJson<PolicyDoc>(find(resources, "aws:iam/rolePolicy:RolePolicy", "submission-runner-task"), "policy", (doc) => {
                doc.Statement[0].Action = ["sqs:ReceiveMessages"];
            });
            const [v] = violationsOf(await checkAwsAcceptance(resources), "iam-action-unknown");
            assert.equal(v.property, "policy.Statement[0].Action[0]");
            assert.match(v.message, /"sqs:ReceiveMessages" names no IAM action/);
            assert.match(v.source, /service-authorization.*@cloud-copilot\/iam-data/);
        });

        it("a wildcard that matches no action fails; one that matches passes", async () => {
            const resources = copyOf(staging);
            const policy = find(resources, "aws:iam/rolePolicy:RolePolicy", "submission-runner-task");
            const original = policy.inputs.policy;
            editJson<PolicyDoc>(policy, "policy", (doc) => {
                doc.Statement[0].Action = "sqs:Recieve*";
            });
            violationsOf(await checkAwsAcceptance(resources), "iam-action-unknown");
            policy.inputs.policy = original;
            editJson<PolicyDoc>(policy, "policy", (doc) => {
                doc.Statement[0].Action = "sqs:Receive*";
            });
            assert.deepEqual((await checkAwsAcceptance(resources)).filter((v) => v.rule.startsWith("iam-")), []);
        });

        it("an action whose resource types fit none of the statement's ARNs fails", async () => {
            const resources = copyOf(staging);
            editJson<PolicyDoc>(find(resources, "aws:iam/rolePolicy:RolePolicy", "sandbox-broker-api-allocations"), "policy", (doc) => {
                doc.Statement[0].Action = [...[doc.Statement[0].Action].flat(), "s3:GetObject"];
            });
            const [v] = violationsOf(await checkAwsAcceptance(resources), "iam-resource-arn");
            assert.match(v.message, /s3:GetObject matches none of the statement's resources; its resource ARN formats: .*arn:\$\{Partition\}:s3:::\$\{BucketName\}\/\$\{ObjectName\}/);
        });

        it("an unknown condition key and an operator that does not fit the key's type fail", async () => {
            const resources = copyOf(staging);
            editJson<PolicyDoc>(find(resources, "aws:s3/bucketPolicy:BucketPolicy", "submission-runner"), "policy", (doc) => {
                doc.Statement[0].Condition = { NumericEquals: { "aws:SecureTransport": "0" }, StringEquals: { "aws:SourceAcount": "123456789012" } };
            });
            const violations = await checkAwsAcceptance(resources);
            assert.match(violationsOf(violations, "iam-condition-operator")[0].message, /NumericEquals compares Numeric values, but aws:SecureTransport is of type Bool/);
            assert.match(violationsOf(violations, "iam-condition-key")[0].message, /aws:SourceAcount exists neither as a global key nor in any service's reference/);
        });

        it("names each null the grammar check cannot read (operator, Principal, statement) and still checks the rest, with the reference read ahead for every document", async () => {
            const resources = copyOf(staging);
            const policy = find(resources, "aws:iam/rolePolicy:RolePolicy", "submission-runner-task");
            policy.inputs.policy = JSON.stringify({
                Version: "2012-10-17",
                Statement: [
                    "not a statement",
                    { Effect: "Allow", Action: 7, Resource: "*", Condition: { StringEquals: null } },
                    null,
                    { Effect: "Allow", Action: "sqs:SendMessage", Resource: "*", Principal: null, Condition: [{ StringEquals: { "aws:SourceAccount": "1" } }] },
                    { Effect: "Allow", Action: "sqs:SendMessage", Resource: "*", Condition: { StringEquals: "aws:SourceAccount" } },
                ],
            });
            editJson<PolicyDoc>(find(resources, "aws:iam/rolePolicy:RolePolicy", "sandbox-broker-api-allocations"), "policy", (doc) => {
                doc.Statement[0].Action = ["sqs:ReceiveMessages", "s3:GetObjekt"];
                doc.Statement[0].Condition = { StringEquals: { "aws:SourceAcount": "123456789012" } };
            });
            const violations = await checkAwsAcceptance(resources);
            const grammar = new Map(violationsOf(violations, "iam-policy-grammar").filter((v) => v.urn === policy.urn).map((v) => [v.property, v.message]));
            const at = (property: string) => {
                const message = grammar.get(property);
                assert.ok(message, `no grammar finding at ${property}: ${JSON.stringify([...grammar], null, 2)}`);
                return message;
            };
            assert.match(at("policy.Statement[1].Condition.StringEquals"), /must be an object of condition keys and values, not null/);
            assert.match(at("policy.Statement[2]"), /must be a statement object, not null/);
            assert.match(at("policy.Statement[3].Principal"), /must not be null/);
            // A string statement once, not once per character and per element it lacks.
            assert.match(at("policy.Statement[0]"), /must be a statement object, not string "not a statement"/);
            assert.deepEqual([...grammar.keys()].filter((p) => p.startsWith("policy.Statement[0]")), ["policy.Statement[0]"]);
            // What the validator reports itself, each at its own statement: a number as an action, a Condition that is a list, an operator holding a string.
            assert.ok([...grammar.keys()].some((p) => p.startsWith("policy.Statement[1].Action")));
            assert.ok([...grammar.keys()].some((p) => p.startsWith("policy.Statement[3].Condition")));
            assert.ok([...grammar.keys()].some((p) => p.startsWith("policy.Statement[4].Condition")));
            assert.ok(![...grammar.values()].some((m) => /stopped at/.test(m)), "no statement left unread");
            // The characters of a string are no condition keys, nor a list's indexes operators.
            const misread = violations.filter((v) => v.urn === policy.urn && (v.rule === "iam-condition-key" || v.rule === "iam-condition-operator"));
            assert.deepEqual(misread, []);
            assert.deepEqual(
                violationsOf(violations, "iam-action-unknown").map((v) => v.property),
                ["policy.Statement[0].Action[0]", "policy.Statement[0].Action[1]"],
            );
            assert.match(violationsOf(violations, "iam-condition-key")[0].message, /aws:SourceAcount exists neither/);
        });

        it("names a document or a Statement that is null instead of failing", async () => {
            for (const [text, property, message] of [
                ["null", "policy", /must be a JSON object with a Statement, not null/],
                [JSON.stringify({ Version: "2012-10-17", Statement: null }), "policy.Statement", /must be a statement or a list of statements, not null/],
            ] as const) {
                const resources = copyOf(staging);
                const policy = find(resources, "aws:iam/rolePolicy:RolePolicy", "submission-runner-task");
                policy.inputs.policy = text;
                const found = violationsOf(await checkAwsAcceptance(resources), "iam-policy-grammar").filter((v) => v.urn === policy.urn);
                assert.ok(found.some((v) => v.property === property && message.test(v.message)), JSON.stringify(found, null, 2));
            }
        });

        it("inline policies of one role over 10,240 characters together fail; a trust policy over 2,048 fails", async () => {
            const resources = copyOf(staging);
            const policies = resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.inputs.role === find(resources, "aws:iam/rolePolicy:RolePolicy", "submission-runner-task").inputs.role);
            const padding = Array.from({ length: 400 }, (_, i) => `arn:aws:sqs:us-east-1:123456789012:queue-${i}`);
            editJson<PolicyDoc>(policies[0], "policy", (doc) => {
                doc.Statement.push({ Action: "sqs:SendMessage", Resource: padding } as Statement & { Effect?: string });
                (doc.Statement[doc.Statement.length - 1] as Record<string, unknown>).Effect = "Allow";
            });
            const role = find(resources, "aws:iam/role:Role", "submission-runner-task");
            editJson<PolicyDoc & { Statement: Array<Record<string, unknown>> }>(role, "assumeRolePolicy", (doc) => {
                doc.Statement[0].Sid = "x".repeat(2000);
            });
            const sizes = violationsOf(await checkAwsAcceptance(resources), "iam-policy-size");
            assert.ok(sizes.some((v) => /inline policies of role .* add up to \d+ characters .* at most 10240 per role/.test(v.message)), JSON.stringify(sizes));
            assert.ok(sizes.some((v) => v.property === "assumeRolePolicy" && /AWS accepts at most 2048/.test(v.message)), JSON.stringify(sizes));
        });
    });

    describe("documented value ranges", () => {
        it("health checks, Fargate sizes and stop timeouts, log retention and queue limits outside AWS's ranges fail", async () => {
            const resources = copyOf(staging);
            const tg = find(resources, "aws:lb/targetGroup:TargetGroup", "sandbox-broker-api");
            tg.inputs.healthCheck = { ...(tg.inputs.healthCheck as object), interval: 400, timeout: 401 };
            const task = find(resources, "aws:ecs/taskDefinition:TaskDefinition", "sandbox-broker-api");
            task.inputs.cpu = "256";
            task.inputs.memory = "4096";
            editJson<Container[]>(task, "containerDefinitions", ([c]) => {
                c.stopTimeout = 150;
            });
            find(resources, "aws:cloudwatch/logGroup:LogGroup", "submission-runner").inputs.retentionInDays = 10;
            find(resources, "aws:sqs/queue:Queue", "submission-runner-submissions").inputs.visibilityTimeoutSeconds = 50000;
            const properties = violationsOf(await checkAwsAcceptance(resources), "value-range").map((v) => `${v.type} ${v.property}`);
            for (const expected of [
                "aws:lb/targetGroup:TargetGroup healthCheck.interval",
                "aws:lb/targetGroup:TargetGroup healthCheck.timeout",
                "aws:ecs/taskDefinition:TaskDefinition containerDefinitions[0].stopTimeout",
                "aws:cloudwatch/logGroup:LogGroup retentionInDays",
                "aws:sqs/queue:Queue visibilityTimeoutSeconds",
            ]) {
                assert.ok(properties.includes(expected), `${expected} in ${properties.join("; ")}`);
            }
            violationsOf(await checkAwsAcceptance(resources), "fargate-size");
        });

        it("documented cross-field rules: a reserved Lambda variable, awslogs without a stream prefix on Fargate, a grace period without load balancers", async () => {
            const resources = copyOf(prod);
            const fn = find(resources, "aws:lambda/function:Function", "jobfleet-prod-api");
            (fn.inputs.environment as { variables: Record<string, string> }).variables.AWS_REGION = "us-east-1";
            editJson<Container[]>(find(resources, "aws:ecs/taskDefinition:TaskDefinition", "submission-runner"), "containerDefinitions", ([c]) => {
                delete (c.logConfiguration as { options: Record<string, string> }).options["awslogs-stream-prefix"];
            });
            find(resources, "aws:ecs/service:Service", "submission-runner").inputs.healthCheckGracePeriodSeconds = 60;
            const messages = violationsOf(await checkAwsAcceptance(resources), "documented-constraint").map((v) => `${v.property}: ${v.message}`);
            assert.equal(messages.length, 3, messages.join("\n"));
            assert.ok(messages.some((m) => /^environment\.variables\.AWS_REGION: AWS_REGION is reserved by the Lambda runtime/.test(m)), messages.join("\n"));
            assert.ok(messages.some((m) => /^containerDefinitions\[0\]\.logConfiguration\.options: the awslogs driver on Fargate needs awslogs-stream-prefix$/.test(m)), messages.join("\n"));
            assert.ok(messages.some((m) => /^healthCheckGracePeriodSeconds: .*only for a service with load balancers/.test(m)), messages.join("\n"));
        });

        it("an ECR lifecycle rule with a mis-cased tagStatus fails against the documented policy format", async () => {
            const resources = copyOf(staging);
            editJson<{ rules: Array<{ selection: Record<string, unknown> }> }>(find(resources, "aws:ecr/lifecyclePolicy:LifecyclePolicy"), "policy", (doc) => {
                doc.rules[0].selection.tagStatus = "Untagged";
            });
            const [v] = violationsOf(await checkAwsAcceptance(resources), "ecr-lifecycle-policy");
            assert.equal(v.property, "policy.rules[0].selection.tagStatus");
            assert.match(v.source, /lifecycle_policy_parameters/);
        });
    });

    describe("npm run preview", () => {
        // The pack's analyzer child, shared with the policy tests, as test/policyGate.test.ts does.
        const shared = useAnalyzer();
        let analyzer: PolicyAnalyzer;
        before(() => {
            analyzer = shared.get();
        });
        it("prints the acceptance verdict for the program's plan", async () => {
            let out = "";
            const code = await runPreview(["--stack", "prod"], { out: (t) => (out += t), err: (t) => (out += t) }, { analyzer });
            assert.equal(code, 0, out);
            assert.match(out, /AWS acceptance: ✅ 224 resources checked/);
        });

        it("exits 2 and lists every violation, with its source, for a stack export AWS would refuse", async () => {
            const resources = copyOf(staging);
            find(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "agent-runtime-efs-from-tasks").inputs.description = "NFS from the runtime's tasks";
            find(resources, "aws:cloudwatch/logGroup:LogGroup", "submission-runner").inputs.retentionInDays = 10;
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobfleet-acceptance-"));
            const file = path.join(dir, "staging-export.json");
            fs.writeFileSync(file, JSON.stringify(toStackExport({ ...staging, resources })));
            let out = "";
            let err = "";
            try {
                const code = await runPreview(["--state", file], { out: (t) => (out += t), err: (t) => (err += t) }, { analyzer });
                assert.equal(code, 2, `${out}\n${err}`);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
            assert.match(err, /AWS acceptance: ❌ 2 value\(s\) AWS would refuse/);
            assert.match(err, /\[sg-rule-description-charset\].*agent-runtime-efs-from-tasks/);
            assert.match(err, /\[value-range\].*submission-runner {2}retentionInDays/);
            assert.match(err, /source: https:\/\/docs\.aws\.amazon\.com\/AmazonCloudWatchLogs\/latest\/APIReference\/API_PutRetentionPolicy\.html/);
            assert.match(out, /Policies:/, "the policy pack still runs, so one preview shows everything");
        });
    });
});
