import * as assert from "node:assert/strict";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CapturedPlan, CapturedResource, inputsOf } from "../tooling/capture";
import { captureReviewStack, ReviewStackPlan } from "../tooling/projects";
import { DeploymentContext, deploymentRequests, DeploymentOperation } from "../tooling/access/deploymentCalls";
import { accessRequestsFor, AccessRequest } from "../tooling/access/operations";
import { AccessPlan, PlannedRole, readAccessPlan } from "../tooling/access/plan";
import { simulateRequest, SimulatedRequest } from "../tooling/access/simulate";
import { ciRoleNames, reviewIamPath, REVIEW_STACKS_PROJECT } from "../components/ciAccess";
import { PROJECT } from "../config";
import { delegatedIamPathProblem } from "../components/iam";
import { runCleanup } from "../runtime/artifacts/cleanup";
import { planPullRequestClose, planPullRequestRetention } from "../runtime/artifacts/pullRequests";
import { withHttpsS3rver } from "./support/accessScenarios";
import { standardPlan } from "./support/plans";
import { SdkCallRecorder } from "./support/sdkCallRecorder";

/**
 * A review stack's first `pulumi up` runs as staging's review-stacks role (Pulumi Deployments'
 * OIDC, docs/deployments.md). Every IAM request the AWS provider makes to create, update and
 * destroy the pull request's plan, and every S3 call the pre-run commands make, is simulated with
 * @cloud-copilot/iam-simulate against that role's policies in the staging plan (PowerUserAccess by
 * its published document, the inline allows and denies), as AWS would evaluate them. The review
 * stack's instance role is simulated with its permissions boundary. Probes show what the role and
 * the instances must never do, and a plan without the boundary shows the check can fail.
 */

const CLEAN_ENV = { PULUMI_PR_NUMBER: undefined, GITHUB_SHA: undefined, JOBFLEET_BUILD_TIME: undefined };
const OPERATIONS: DeploymentOperation[] = ["create", "update", "delete"];

function clone<T>(value: T): T {
    return JSON.parse(JSON.stringify(value)) as T;
}

function only(plan: { resources: CapturedResource[] }, type: string, name?: RegExp): CapturedResource {
    const found = plan.resources.filter((r) => r.type === type && (!name || name.test(r.name)));
    assert.equal(found.length, 1, `exactly one ${type} ${name ?? ""} (found ${found.map((r) => r.name).join(", ") || "none"})`);
    return found[0];
}

function describeResult(r: SimulatedRequest): string {
    return `${r.request.action} on ${r.request.resource} (${r.request.source}): ${r.decision}${r.deniedBy.length ? ` by ${r.deniedBy.join(", ")}` : ""}`;
}

describe("review stacks deploy with staging's review-stacks role (issue 14)", function () {
    this.timeout(300_000);
    let staging: CapturedPlan;
    let stagingAccess: AccessPlan;
    let reviewRole: PlannedRole;
    let pr51: ReviewStackPlan;
    let boundaryArn: string;
    let bucket: string;

    // The review stack's resources carry Pulumi.pr.yaml's default tags; staging's VPC and subnets, Pulumi.staging.yaml's.
    const where = (): DeploymentContext => ({ region: staging.config.region, accountId: stagingAccess.accountId, ownTags: { Project: "jobfleet", Environment: "review" }, sharedTags: { Project: "jobfleet", Environment: "staging" } });
    const asReviewRole = (request: AccessRequest) => simulateRequest(stagingAccess, reviewRole, request, { viaEndpoints: false });

    async function assertAllAllowed(requests: AccessRequest[]): Promise<void> {
        const results = await Promise.all(requests.map(asReviewRole));
        const denied = results.filter((r) => r.decision !== "Allowed");
        assert.deepEqual(denied.map(describeResult), [], "every call of the deployment is allowed");
    }

    async function assertDenied(request: AccessRequest, why: string): Promise<SimulatedRequest> {
        const result = await asReviewRole(request);
        assert.notEqual(result.decision, "Allowed", `${why}: ${describeResult(result)}`);
        return result;
    }

    before(async () => {
        staging = await standardPlan("staging");
        stagingAccess = readAccessPlan(staging);
        const found = stagingAccess.roles.find((r) => r.name === ciRoleNames(PROJECT, "staging").reviewStacks);
        assert.ok(found, "staging has the review-stacks role");
        reviewRole = found;
        pr51 = await captureReviewStack({ stack: "pr-51", sharedPlan: staging, env: CLEAN_ENV });
        boundaryArn = String(staging.outputs.reviewInstanceBoundaryArn);
        bucket = String(staging.outputs.artifactBucketName);
    });

    it("takes only an IAM path other than / for delegated roles, as IAM and the role's Resource expect", () => {
        assert.equal(delegatedIamPathProblem(reviewIamPath(REVIEW_STACKS_PROJECT)), undefined);
        assert.match(delegatedIamPathProblem("/") ?? "", /must not be \/, the path of every other role/);
        for (const bad of ["jobfleet-pr-environments", "/jobfleet-pr-environments", "/a b/", `/${"a".repeat(511)}/`, 42]) {
            assert.match(delegatedIamPathProblem(bad) ?? "", /must be an IAM path like \/<name>\//, String(bad));
        }
    });

    it("the pull request's instance role is created under the review path with staging's boundary", () => {
        const role = only(pr51, "aws:iam/role:Role");
        assert.equal(inputsOf(role).path, reviewIamPath(REVIEW_STACKS_PROJECT));
        assert.equal(inputsOf(role).permissionsBoundary, boundaryArn);
        assert.match(boundaryArn, /^arn:aws:iam::\d{12}:policy\/jobfleet-staging-review-instance-boundary$/);
        assert.match(String(only(pr51, "aws:iam/instanceProfile:InstanceProfile").outputs.arn), /:instance-profile\/jobfleet-pr-environments\//);
    });

    for (const operation of OPERATIONS) {
        it(`allows every IAM and upload call of pulumi ${operation === "delete" ? "destroy" : `up (${operation})`} of pull request 51's plan`, async () => {
            const requests = await deploymentRequests(pr51 as unknown as CapturedPlan, operation, where());
            const actions = new Set(requests.map((r) => r.action));
            if (operation === "create") {
                for (const a of ["iam:CreateRole", "iam:TagRole", "iam:PutRolePolicy", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:PassRole", "s3:PutObject", "ec2:CreateSecurityGroup", "ec2:RunInstances", "elasticloadbalancing:CreateLoadBalancer", "autoscaling:CreateAutoScalingGroup", "route53:ChangeResourceRecordSets"]) assert.ok(actions.has(a), `the create makes ${a}`);
                assert.ok(requests.some((r) => r.action === "ec2:RunInstances" && r.context["aws:ResourceTag/Environment"] === "staging"), "instances launch into staging's subnets");
                const group = requests.find((r) => r.action === "autoscaling:CreateAutoScalingGroup")!;
                assert.match(String(group.context["autoscaling:TargetGroupARNs"]), /:targetgroup\/pr-51-tg-/, "the group joins its own target group, which the role lets it");
                assert.ok(requests.some((r) => r.action === "ec2:RunInstances" && r.context["ec2:InstanceType"] === "t3.small"));
                const create = requests.find((r) => r.action === "iam:CreateRole")!;
                assert.equal(create.context["iam:PermissionsBoundary"], boundaryArn);
            }
            if (operation === "delete") for (const a of ["iam:DeleteRolePolicy", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile", "iam:DeleteRole", "ec2:DeleteSecurityGroup", "elasticloadbalancing:DeleteLoadBalancer", "autoscaling:DeleteAutoScalingGroup"]) assert.ok(actions.has(a), `the destroy makes ${a}`);
            await assertAllAllowed(requests);
        });
    }

    it("allows the pre-run commands' retention and close of pull request 51 (S3 calls recorded against s3rver), and they touch only its builds", async () => {
        const pair = { accessKeyId: "AKIAREVIEWSTACK", secretAccessKey: "secret-of-the-review-stack" };
        const seedPair = { accessKeyId: "AKIASEEDOBJECTS", secretAccessKey: "secret-of-the-seeding-client" };
        const recorder = new SdkCallRecorder();
        const build = (env: string, n: number) => `express-api/${env}/${String(n).padStart(8, "0")}-2025082${n}-120000/express-api-deployment.tar.gz`;
        await withHttpsS3rver([bucket], [pair, seedPair], async (endpoint) => {
            const seed = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: seedPair });
            for (const key of [1, 2, 3, 4, 5].map((n) => build("pr-51", n)).concat(build("pr-52", 6), build("staging", 7))) {
                await seed.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
            }
            seed.destroy();
            const client = recorder.attach(new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: pair }), "review-stack", "pr-environments/pre-run.sh");
            await runCleanup({ client, plan: await planPullRequestRetention({ client, bucket, app: "express-api", prNumber: 51, keep: 3, deployedKeys: [build("pr-51", 2)] }) });
            await runCleanup({ client, plan: await planPullRequestClose({ client, bucket, app: "express-api", prNumber: 51 }) });
            client.destroy();
        });
        const requests = (await Promise.all(recorder.calls.map((c) => accessRequestsFor(c, stagingAccess)))).flat();
        assert.ok(requests.some((r) => r.action === "s3:DeleteObject" || r.action === "s3:DeleteObjectVersion"), `the close deletes builds; got ${[...new Set(requests.map((r) => r.action))].join(", ")}`);
        assert.ok(requests.every((r) => r.action === "s3:ListBucket" || r.action === "s3:ListBucketVersions" || r.resource.startsWith(`arn:aws:s3:::${bucket}/express-api/pr-51/`)), "object calls only on pr-51's builds");
        await assertAllAllowed(requests);
    });

    it("cannot create, change or pass a role without the boundary, outside the review path, or to another service", async () => {
        const path = reviewIamPath(REVIEW_STACKS_PROJECT);
        const account = stagingAccess.accountId;
        const reviewRoleArn = `arn:aws:iam::${account}:role${path}pr-52-preview-instance-1234567`;
        const base = { "aws:SecureTransport": "true", "aws:RequestedRegion": staging.config.region };
        const probe = (action: string, resource: string, context: Record<string, string | string[]> = {}): AccessRequest => ({ action, resource, context: { ...base, ...context }, source: "probe" });
        const stagingInstanceRole = stagingAccess.roles.find((r) => r.servicePrincipals.includes("ec2.amazonaws.com"))!;
        const deployRole = stagingAccess.roles.find((r) => r.name === ciRoleNames(PROJECT, "staging").deploy)!;
        assert.ok(stagingInstanceRole && deployRole);
        await assertDenied(probe("iam:CreateRole", reviewRoleArn), "a role without a boundary");
        await assertDenied(probe("iam:CreateRole", reviewRoleArn, { "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess" }), "a role with another boundary");
        await assertDenied(probe("iam:CreateRole", `arn:aws:iam::${account}:role/pr-52-admin`, { "iam:PermissionsBoundary": boundaryArn }), "a role outside the review path");
        for (const action of ["iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:TagRole", "iam:AttachRolePolicy"]) {
            await assertDenied(probe(action, stagingInstanceRole.arn), `${action} on staging's own instance role`);
        }
        await assertDenied(probe("iam:DeleteRolePermissionsBoundary", reviewRoleArn, { "iam:PermissionsBoundary": boundaryArn }), "removing the boundary");
        await assertDenied(probe("iam:AttachRolePolicy", reviewRoleArn, { "iam:PermissionsBoundary": boundaryArn, "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" }), "attaching a managed policy");
        await assertDenied(probe("iam:CreatePolicyVersion", boundaryArn), "rewriting the boundary");
        await assertDenied(probe("iam:PassRole", reviewRoleArn, { "iam:PassedToService": "lambda.amazonaws.com" }), "passing a review role to Lambda");
        await assertDenied(probe("iam:PassRole", deployRole.arn, { "iam:PassedToService": "ec2.amazonaws.com" }), "passing staging's deploy role to EC2");
        await assertDenied(probe("iam:CreateUser", `arn:aws:iam::${account}:user${path}pr-52`), "an IAM user");
    });

    it("cannot read, overwrite or delete an object outside pull-request builds, nor change the bucket", async () => {
        const base = { "aws:SecureTransport": "true", "aws:RequestedRegion": staging.config.region };
        const probe = (action: string, resource: string): AccessRequest => ({ action, resource, context: { ...base }, source: "probe" });
        const objectOf = (key: string) => `arn:aws:s3:::${bucket}/${key}`;
        const shellJobs = String(staging.outputs.shellJobBucketName);
        await assertDenied(probe("s3:PutObject", objectOf("express-api/staging/00000007-20250827-120000/express-api-deployment.tar.gz")), "overwriting a staging build");
        await assertDenied(probe("s3:DeleteObjectVersion", objectOf("express-api/prod/0000000c-20250601-120000/express-api-deployment.tar.gz")), "deleting a prod build");
        await assertDenied(probe("s3:GetObject", `arn:aws:s3:::${shellJobs}/shell-jobs/job-1.json`), "reading a shell job's result");
        for (const action of ["s3:PutBucketPolicy", "s3:PutLifecycleConfiguration", "s3:DeleteBucket", "s3:PutBucketVersioning"]) {
            await assertDenied(probe(action, `arn:aws:s3:::${bucket}`), `${action} on the artifact bucket`);
        }
    });

    it("cannot use the services staging keeps its data and workloads in, nor change a resource tagged staging or prod", async () => {
        const account = stagingAccess.accountId;
        const region = staging.config.region;
        const base = { "aws:SecureTransport": "true", "aws:RequestedRegion": region };
        const probe = (action: string, resource: string, context: Record<string, string> = {}): AccessRequest => ({ action, resource, context: { ...base, ...context }, source: "probe" });
        const arnOf = (type: string, name: RegExp) => String(only(staging, type, name).outputs.arn);
        const stagingTag = { "aws:ResourceTag/Environment": "staging" };
        for (const request of [
            probe("rds:DeleteDBInstance", arnOf("aws:rds/instance:Instance", /./)),
            probe("rds:ModifyDBInstance", arnOf("aws:rds/instance:Instance", /./)),
            probe("dynamodb:DeleteTable", arnOf("aws:dynamodb/table:Table", /allocations/)),
            probe("lambda:UpdateFunctionCode", `arn:aws:lambda:${region}:${account}:function:jobfleet-staging-job-processor`),
            probe("ecs:UpdateService", `arn:aws:ecs:${region}:${account}:service/jobfleet-staging/sandbox-broker`),
            probe("sqs:PurgeQueue", `arn:aws:sqs:${region}:${account}:submissions`),
            probe("kms:ScheduleKeyDeletion", `arn:aws:kms:${region}:${account}:key/0c5d6a5e-0000-4000-8000-000000000000`),
            probe("secretsmanager:DeleteSecret", `arn:aws:secretsmanager:${region}:${account}:secret:db-AbCdEf`),
            probe("cloudtrail:DeleteTrail", `arn:aws:cloudtrail:${region}:${account}:trail/org`),
            probe("ec2:DeleteSecurityGroup", `arn:aws:ec2:${region}:${account}:security-group/sg-0123456789abcdef0`, stagingTag),
            probe("ec2:AuthorizeSecurityGroupIngress", `arn:aws:ec2:${region}:${account}:security-group/sg-0123456789abcdef0`, stagingTag),
            probe("ec2:TerminateInstances", `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`, stagingTag),
            probe("ec2:CreateTags", `arn:aws:ec2:${region}:${account}:vpc/vpc-0123456789abcdef0`, stagingTag),
            probe("ec2:DeleteVpcEndpoints", `arn:aws:ec2:${region}:${account}:vpc-endpoint/vpce-0123456789abcdef0`, stagingTag),
            probe("elasticloadbalancing:DeleteLoadBalancer", arnOf("aws:lb/loadBalancer:LoadBalancer", /sandbox-broker/), stagingTag),
            probe("elasticloadbalancing:ModifyListener", `arn:aws:elasticloadbalancing:${region}:${account}:listener/app/sandbox-broker/0123456789abcdef/0123456789abcdef`, stagingTag),
            { ...probe("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"), context: { ...base, "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["api.preview.jobfleet.example.com"], "route53:ChangeResourceRecordSetsActions": ["UPSERT"] } },
            { ...probe("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"), context: { ...base, "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["pr-52.preview.jobfleet.example.com", "staging.jobfleet.example.com"], "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"] } },
            probe("autoscaling:DeleteAutoScalingGroup", `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/preview-asg`, stagingTag),
            // Creates that touch a staging resource: a listener rule hijacking staging's HTTPS traffic, a new template version staging's group would roll out, ...
            probe("elasticloadbalancing:CreateRule", `arn:aws:elasticloadbalancing:${region}:${account}:listener/app/sandbox-broker/0123456789abcdef/0123456789abcdef`, stagingTag),
            probe("elasticloadbalancing:CreateListener", arnOf("aws:lb/loadBalancer:LoadBalancer", /sandbox-broker/), stagingTag),
            probe("ec2:CreateLaunchTemplateVersion", `arn:aws:ec2:${region}:${account}:launch-template/lt-0123456789abcdef0`, stagingTag),
            probe("ec2:RunInstances", `arn:aws:ec2:${region}:${account}:security-group/sg-0123456789abcdef0`, stagingTag),
            probe("ec2:CreateSnapshot", `arn:aws:ec2:${region}:${account}:volume/vol-0123456789abcdef0`, stagingTag),
            probe("ec2:CreateTags", `arn:aws:ec2:${region}:${account}:subnet/subnet-0123456789abcdef0`, stagingTag),
            probe("ec2:CreateSubnet", `arn:aws:ec2:${region}:${account}:vpc/vpc-0123456789abcdef0`, stagingTag),
            // ... and untagged resources AWS made with the VPC: its main route table, default network ACL and default security group.
            probe("ec2:CreateRoute", `arn:aws:ec2:${region}:${account}:route-table/rtb-0123456789abcdef0`),
            probe("ec2:CreateNetworkAclEntry", `arn:aws:ec2:${region}:${account}:network-acl/acl-0123456789abcdef0`),
            probe("ec2:AuthorizeSecurityGroupIngress", `arn:aws:ec2:${region}:${account}:security-group/sg-0default000000000`),
            probe("ec2:RunInstances", `arn:aws:ec2:${region}:${account}:instance/*`, { "ec2:InstanceType": "p5.48xlarge" }),
            probe("ec2:PurchaseReservedInstancesOffering", "*"),
            { ...probe("autoscaling:CreateAutoScalingGroup", `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/pr-52-asg`), context: { ...base, "autoscaling:TargetGroupARNs": [arnOf("aws:lb/targetGroup:TargetGroup", /^preview-tg$/)] } },
            probe("s3:PutBucketPolicy", `arn:aws:s3:::${String(staging.outputs.shellJobBucketName)}`),
            probe("s3:PutBucketPublicAccessBlock", `arn:aws:s3:::${String(staging.outputs.submissionBucketName)}`),
            probe("s3:PutAccountPublicAccessBlock", "*"),
            probe("s3:ListBucket", `arn:aws:s3:::${String(staging.outputs.shellJobBucketName)}`),
            probe("sts:AssumeRole", `arn:aws:iam::${account}:role/OrganizationAccountAccessRole`),
            probe("route53:CreateHostedZone", "*"),
            probe("route53:AssociateVPCWithHostedZone", "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"),
            probe("iam:DeleteServiceLinkedRole", `arn:aws:iam::${account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing`),
            { ...probe("iam:CreateServiceLinkedRole", `arn:aws:iam::${account}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS`), context: { ...base, "iam:AWSServiceName": "rds.amazonaws.com" } },
        ]) {
            await assertDenied(request, `${request.action} on staging's ${request.resource}`);
        }
        const linkedRole = await asReviewRole({ ...probe("iam:CreateServiceLinkedRole", `arn:aws:iam::${account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing`), context: { ...base, "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } });
        assert.equal(linkedRole.decision, "Allowed", "a first load balancer in the account may have its service-linked role created");
    });

    describe("the instance role a pull request creates, with its boundary", () => {
        let prAccess: AccessPlan;
        let instanceRole: PlannedRole;
        let ownKey: string;

        before(() => {
            prAccess = readAccessPlan(pr51 as unknown as CapturedPlan, { sharedPlans: [staging] });
            instanceRole = prAccess.roles.find((r) => r.servicePrincipals.includes("ec2.amazonaws.com"))!;
            ownKey = String(inputsOf(only(pr51, "aws:s3/bucketObjectv2:BucketObjectv2")).key);
        });

        const onInstance = { "aws:SecureTransport": "true", "ec2:SourceInstanceARN": "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0" };
        const read = (key: string): AccessRequest => ({ action: "s3:GetObjectVersion", resource: `arn:aws:s3:::${bucket}/${key}`, context: onInstance, source: "the instance's boot download" });

        it("reads its own build, and no staging build even when a pull request widens its own policy to s3:*", async () => {
            assert.equal(instanceRole.permissionsBoundary?.name, boundaryArn);
            assert.equal((await simulateRequest(prAccess, instanceRole, read(ownKey))).decision, "Allowed");
            const widened: PlannedRole = clone(instanceRole);
            widened.identityPolicies.push({ name: "inline:pull-request-wrote-this", document: { Version: "2012-10-17", Statement: [{ Sid: "Everything", Effect: "Allow", Action: ["s3:*", "iam:*"], Resource: "*" }] } });
            const staged = await simulateRequest(prAccess, widened, read("express-api/staging/00000007-20250827-120000/express-api-deployment.tar.gz"));
            assert.notEqual(staged.decision, "Allowed");
            assert.ok(staged.deniedBy.some((d) => d.includes("permissions boundary")), staged.deniedBy.join(", "));
            const escalate = await simulateRequest(prAccess, widened, { action: "iam:CreateUser", resource: `arn:aws:iam::${prAccess.accountId}:user/x`, context: onInstance, source: "probe" });
            assert.notEqual(escalate.decision, "Allowed");
        });

        it("gives its credentials nothing off the instance (a trust policy a pull request opened to another account)", async () => {
            const elsewhere = { ...read(ownKey), context: { "aws:SecureTransport": "true" } };
            const result = await simulateRequest(prAccess, instanceRole, elsewhere);
            assert.notEqual(result.decision, "Allowed");
            assert.ok(result.deniedBy.some((d) => d.includes("permissions boundary")), result.deniedBy.join(", "));
        });
    });

    it("fails when the pull request's role is created without the boundary (as before this change)", async () => {
        const copy = clone(pr51) as unknown as CapturedPlan;
        const role = only(copy, "aws:iam/role:Role");
        delete (role.inputs as Record<string, unknown>).permissionsBoundary;
        const requests = await deploymentRequests(copy, "create", where());
        const results = await Promise.all(requests.map(asReviewRole));
        const denied = results.filter((r) => r.decision !== "Allowed").map((r) => r.request.action);
        assert.ok(denied.includes("iam:CreateRole") && denied.includes("iam:PutRolePolicy"), `CreateRole and PutRolePolicy are denied; denied: ${denied.join(", ")}`);
    });
});
