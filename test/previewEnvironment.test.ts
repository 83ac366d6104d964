import * as assert from "node:assert/strict";
import * as path from "path";
import { CapturedPlan, CapturedResource, captureProgram, inputsOf } from "../tooling/capture";
import { digestFileSync, parseArtifactKey } from "../runtime/artifacts";
import { standardPlan } from "./support/plans";

const ARTIFACT = path.resolve(__dirname, "..", "artifacts", "express-api-deployment.tar.gz");
const EXPLICIT_SHA = "622d2103a1b2c3d4e5f60718293a4b5c6d7e8f90";

interface PolicyStatement {
    Sid: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: unknown;
    Principal?: unknown;
}

function list<T>(value: T | T[]): T[] {
    return Array.isArray(value) ? value : [value];
}

function one(plan: CapturedPlan, predicate: (r: CapturedResource) => boolean, what: string): CapturedResource {
    const found = plan.resources.filter(predicate);
    assert.equal(found.length, 1, `exactly one ${what} (found ${found.map((r) => r.name).join(", ") || "none"})`);
    return found[0];
}

/** The resources a component of the given type created directly. */
function childrenOf(plan: CapturedPlan, componentType: string): CapturedResource[] {
    const component = one(plan, (r) => r.type === componentType, componentType);
    return plan.resources.filter((r) => r.parent === component.urn);
}

function childOfType(plan: CapturedPlan, componentType: string, type: string, nameSuffix = ""): CapturedResource {
    return one(plan, (r) => r.type === type && r.name.endsWith(nameSuffix) && childrenOf(plan, componentType).includes(r), `${type} ${nameSuffix} under ${componentType}`);
}

/** The resources a component of the given type created, directly or through components of its own. */
function descendantsOf(plan: CapturedPlan, componentType: string): CapturedResource[] {
    const inside = new Set([one(plan, (r) => r.type === componentType, componentType).urn]);
    for (const r of plan.resources) if (r.parent && inside.has(r.parent)) inside.add(r.urn);
    return plan.resources.filter((r) => r.type !== componentType && inside.has(r.urn));
}

/** The store's bucket resources sit in its PrivateBucket component. */
function storeResourceOfType(plan: CapturedPlan, type: string): CapturedResource {
    return one(plan, (r) => r.type === type && descendantsOf(plan, STORE).includes(r), `${type} under ${STORE}`);
}

function userDataOf(launchTemplate: CapturedResource): string {
    return Buffer.from(String(inputsOf(launchTemplate).userData), "base64").toString("utf8");
}

const STORE = "jobfleet:artifacts:ArtifactStore";
const ARTIFACT_COMPONENT = "jobfleet:artifacts:VersionedArtifact";
const PREVIEW = "jobfleet:preview:PreviewEnvironment";

describe("preview environments and versioned artifacts (seed 003) under mocks", function () {
    this.timeout(60_000);
    let staging: CapturedPlan;
    let prod: CapturedPlan;
    let custom: CapturedPlan;
    const digest = digestFileSync(ARTIFACT);

    before(async function () {
        // Three captures of the whole program; generous for a loaded machine.
        this.timeout(180_000);
        staging = await standardPlan("staging");
        prod = await standardPlan("prod");
        custom = await captureProgram({
            stack: "staging",
            configOverrides: {
                "jobfleet:previewEnvironmentName": "pr-51",
                "jobfleet:previewCommitSha": EXPLICIT_SHA,
                "jobfleet:previewBuildTime": "20250820-124500",
                "jobfleet:previewBranch": "feature/preview",
                "jobfleet:previewWorkflowRunId": "9876543210",
                "jobfleet:previewAssociatePublicIp": "true",
                "jobfleet:previewInstanceType": "t4g.small",
            },
        });
    });

    describe("ArtifactStore: private, encrypted, TLS-only, versioned bucket", () => {
        it("blocks public access, disables ACLs, encrypts and versions", () => {
            const bucket = storeResourceOfType(staging, "aws:s3/bucket:Bucket");
            const byType = (type: string) => inputsOf(storeResourceOfType(staging, type));
            assert.deepEqual(
                { ...byType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), bucket: undefined },
                { bucket: undefined, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            );
            assert.equal(byType("aws:s3/bucketOwnershipControls:BucketOwnershipControls").rule.objectOwnership, "BucketOwnerEnforced");
            assert.equal(byType("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
            assert.equal(byType("aws:s3/bucketVersioning:BucketVersioning").versioningConfiguration.status, "Enabled");
            assert.equal(inputsOf(bucket).forceDestroy, false);
        });

        it("expires noncurrent versions after jobfleet:artifactNoncurrentVersionDays (s3rver has no lifecycle: checked here, on the rule)", () => {
            const lifecycle = inputsOf(storeResourceOfType(staging, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"));
            assert.equal(lifecycle.rules.length, 1);
            const [rule] = lifecycle.rules;
            assert.equal(rule.status, "Enabled");
            assert.deepEqual(rule.filter, {});
            assert.equal(rule.noncurrentVersionExpiration.noncurrentDays, staging.config.artifactNoncurrentVersionDays);
            assert.equal(rule.expiration.expiredObjectDeleteMarker, true);
            assert.equal(rule.expiration.days, undefined, "current versions (live artifacts) never expire by age: cleanup decides");
        });

        it("denies every request that is not over TLS, on the bucket and its objects", () => {
            const bucket = storeResourceOfType(staging, "aws:s3/bucket:Bucket");
            const policy = JSON.parse(inputsOf(storeResourceOfType(staging, "aws:s3/bucketPolicy:BucketPolicy")).policy) as { Statement: PolicyStatement[] };
            assert.deepEqual(policy.Statement, [
                {
                    Sid: "DenyInsecureTransport",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "s3:*",
                    Resource: [bucket.outputs.arn, `${bucket.outputs.arn}/*`],
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                },
            ]);
        });
    });

    describe("VersionedArtifact", () => {
        it("uploads the tarball under {app}/{env}/{sha8}-{time}/{file} with seed 003's metadata and both checksums", () => {
            const object = childOfType(staging, ARTIFACT_COMPONENT, "aws:s3/bucketObjectv2:BucketObjectv2");
            const inputs = inputsOf(object);
            const parsed = parseArtifactKey(inputs.key);
            assert.ok(parsed, `${inputs.key} is a versioned key`);
            assert.deepEqual([parsed.app, parsed.environment, parsed.file], ["express-api", "staging", "express-api-deployment.tar.gz"]);
            assert.equal(inputs.metadata["commit-sha"].slice(0, 8), parsed.sha8);
            assert.equal(inputs.metadata["build-time"], parsed.buildTime);
            assert.equal(inputs.metadata.sha256, digest.sha256Hex);
            assert.equal(inputs.checksumAlgorithm, "SHA256", "S3 stores its own SHA-256, which verify compares");
            assert.equal(inputs.bucket, storeResourceOfType(staging, "aws:s3/bucket:Bucket").id);
            assert.equal(staging.outputs.artifactKey, inputs.key);
            assert.equal(staging.outputs.artifactChecksum, digest.sha256Hex);
            assert.deepEqual(staging.outputs.artifactCleanupPolicy, { keep: staging.config.artifactKeepCount, days: staging.config.artifactMaxAgeDays });
        });

        it("takes commit and build time from the stack config, so the same config gives the same key", () => {
            const inputs = inputsOf(childOfType(custom, ARTIFACT_COMPONENT, "aws:s3/bucketObjectv2:BucketObjectv2"));
            assert.equal(inputs.key, "express-api/pr-51/622d2103-20250820-124500/express-api-deployment.tar.gz");
            assert.deepEqual(inputs.metadata, {
                "commit-sha": EXPLICIT_SHA,
                "build-time": "20250820-124500",
                sha256: digest.sha256Hex,
                branch: "feature/preview",
                "workflow-run-id": "9876543210",
                "pr-number": "51",
            });
        });

        it("is never updated in place: named after its version, retained on replacement, content changes ignored, uploaded after versioning is on", () => {
            const object = childOfType(staging, ARTIFACT_COMPONENT, "aws:s3/bucketObjectv2:BucketObjectv2");
            const version = parseArtifactKey(String(inputsOf(object).key))!.version;
            assert.equal(object.name, `preview-artifact-${version}`);
            assert.equal(object.options.retainOnDelete, true);
            assert.deepEqual([...object.options.ignoreChanges].sort(), ["checksumAlgorithm", "contentType", "metadata", "source"]);
            const versioning = storeResourceOfType(staging, "aws:s3/bucketVersioning:BucketVersioning");
            assert.ok(object.dependencies.includes(versioning.urn));
        });
    });

    describe("PreviewEnvironment", () => {
        it("launch template user data names exactly the artifact's key, version, size and checksum", () => {
            const object = childOfType(staging, ARTIFACT_COMPONENT, "aws:s3/bucketObjectv2:BucketObjectv2");
            const key = String(inputsOf(object).key);
            const script = userDataOf(childOfType(staging, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate"));
            assert.match(script, new RegExp(`^ARTIFACT_KEY='${key}'$`, "m"));
            assert.deepEqual([...new Set(script.match(/express-api\/[^'"\s]*/g))], [key], "no other key, no legacy fallback");
            assert.match(script, new RegExp(`^ARTIFACT_BUCKET='${inputsOf(object).bucket}'$`, "m"));
            assert.match(script, new RegExp(`^ARTIFACT_VERSION_ID='${object.outputs.versionId}'$`, "m"));
            assert.match(script, new RegExp(`^ARTIFACT_SIZE=${digest.size}$`, "m"));
            assert.match(script, new RegExp(`^ARTIFACT_SHA256='${digest.sha256Hex}'$`, "m"));
        });

        it("cannot exist before the upload: the user data depends on the artifact object, the template on the read grant", () => {
            const object = childOfType(staging, ARTIFACT_COMPONENT, "aws:s3/bucketObjectv2:BucketObjectv2");
            const launchTemplate = childOfType(staging, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate");
            assert.ok(launchTemplate.propertyDependencies.userData.includes(object.urn), "userData is built from the object's outputs");
            assert.ok(launchTemplate.dependencies.includes(object.urn));
            const readGrant = one(staging, (r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name.includes("-read-express-api-staging"), "read grant");
            assert.ok(launchTemplate.dependencies.includes(readGrant.urn));
        });

        it("requires IMDSv2, encrypts the gp3 root volume and gives no public IP", () => {
            const lt = inputsOf(childOfType(staging, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate"));
            assert.equal(lt.metadataOptions.httpTokens, "required");
            assert.ok(lt.metadataOptions.httpPutResponseHopLimit <= 2);
            assert.deepEqual(lt.blockDeviceMappings, [{ deviceName: "/dev/xvda", ebs: { volumeType: "gp3", volumeSize: 20, encrypted: "true", deleteOnTermination: "true" } }]);
            const instances = childOfType(staging, PREVIEW, "aws:ec2/securityGroup:SecurityGroup", "-instances");
            assert.deepEqual(lt.networkInterfaces, [{ deviceIndex: 0, associatePublicIpAddress: "false", securityGroups: [instances.id], deleteOnTermination: "true" }]);
            assert.equal(lt.instanceType, "t3.small");
            assert.match(lt.imageId, /^ami-0/);
            assert.equal(lt.keyName, undefined, "no SSH key pair: Session Manager instead");
        });

        it("runs an Auto Scaling group in private subnets that rolls new template versions out with an instance refresh", () => {
            const asg = inputsOf(childOfType(staging, PREVIEW, "aws:autoscaling/group:Group"));
            const lt = childOfType(staging, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate");
            assert.deepEqual(asg.vpcZoneIdentifiers, staging.outputs.privateSubnetIds);
            assert.deepEqual(asg.launchTemplate, { id: lt.id, version: String(lt.outputs.latestVersion) });
            assert.equal(asg.instanceRefresh.strategy, "Rolling");
            assert.equal(asg.instanceRefresh.preferences.autoRollback, true);
            assert.equal(asg.instanceRefresh.preferences.minHealthyPercentage, 100, "launch before terminate");
            assert.deepEqual([asg.minSize, asg.maxSize, asg.healthCheckType], [staging.config.previewMinSize, staging.config.previewMaxSize, "ELB"]);
            assert.deepEqual(asg.targetGroupArns, [childOfType(staging, PREVIEW, "aws:lb/targetGroup:TargetGroup").outputs.arn]);
            assert.ok(asg.tags.some((t: { key: string; value: string }) => t.key === "jobfleet:artifact-key" && t.value === staging.outputs.artifactKey));
        });

        it("gives the instance role read access to its own prefix only, plus Session Manager's minimum", () => {
            const role = childOfType(staging, PREVIEW, "aws:iam/role:Role");
            const trust = JSON.parse(inputsOf(role).assumeRolePolicy);
            assert.deepEqual(trust.Statement.map((s: { Principal: unknown }) => s.Principal), [{ Service: "ec2.amazonaws.com" }]);
            assert.equal(inputsOf(role).tags["jobfleet:role-kind"], "instance");

            const bucketArn = String(storeResourceOfType(staging, "aws:s3/bucket:Bucket").outputs.arn);
            const policies = staging.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && inputsOf(r).role === role.id);
            const statements = policies.flatMap((p) => (JSON.parse(inputsOf(p).policy) as { Statement: PolicyStatement[] }).Statement);
            const s3Statements = statements.filter((s) => list(s.Action).some((a) => a.startsWith("s3:")));
            assert.deepEqual(s3Statements, [{ Sid: "ReadArtifacts", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: `${bucketArn}/express-api/staging/*` }]);
            for (const s of statements) {
                assert.equal(s.Effect, "Allow");
                if (list(s.Resource).includes("*")) assert.ok(list(s.Action).every((a) => a.startsWith("ssmmessages:")), `${s.Sid}: only ssmmessages (no resource types) on *`);
            }
            assert.deepEqual(statements.map((s) => s.Sid).sort(), ["ReadArtifacts", "RegisterWithSsm", "SessionChannels"]);
            assert.equal(staging.resources.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && inputsOf(r).role === role.id).length, 0, "no managed policies");
            const profile = childOfType(staging, PREVIEW, "aws:iam/instanceProfile:InstanceProfile");
            assert.equal(inputsOf(profile).role, role.id);
        });

        it("serves HTTPS on an internet-facing ALB with the configured certificate, redirects HTTP and health-checks /health", () => {
            const alb = inputsOf(childOfType(staging, PREVIEW, "aws:lb/loadBalancer:LoadBalancer"));
            assert.deepEqual([alb.loadBalancerType, alb.internal, alb.dropInvalidHeaderFields, alb.enableDeletionProtection], ["application", false, true, false]);
            assert.deepEqual(alb.subnets, staging.outputs.publicSubnetIds);
            const listeners = childrenOf(staging, PREVIEW).filter((r) => r.type === "aws:lb/listener:Listener").map(inputsOf);
            const https = listeners.find((l) => l.port === 443)!;
            assert.equal(https.protocol, "HTTPS");
            assert.equal(https.certificateArn, staging.config.previewCertificateArn);
            assert.match(https.sslPolicy, /TLS13/);
            const http = listeners.find((l) => l.port === 80)!;
            assert.deepEqual(http.defaultActions, [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }]);
            const tg = inputsOf(childOfType(staging, PREVIEW, "aws:lb/targetGroup:TargetGroup"));
            assert.deepEqual([tg.port, tg.healthCheck.path, tg.healthCheck.matcher], [8080, "/health", "200"]);
            assert.match(String(staging.outputs.previewUrl), /^https:\/\//);
        });

        it("opens the ALB to the internet on 443 and 80 only, and the instances to the ALB only", () => {
            const alb = childOfType(staging, PREVIEW, "aws:ec2/securityGroup:SecurityGroup", "-alb");
            const instances = childOfType(staging, PREVIEW, "aws:ec2/securityGroup:SecurityGroup", "-instances");
            for (const sg of [alb, instances]) {
                assert.equal(inputsOf(sg).ingress, undefined, "no inline rules");
                assert.equal(inputsOf(sg).egress, undefined, "no inline rules");
            }
            const rules = childrenOf(staging, PREVIEW)
                .filter((r) => r.type.startsWith("aws:vpc/securityGroup"))
                .map((r) => {
                    const i = inputsOf(r);
                    const group = i.securityGroupId === alb.id ? "alb" : i.securityGroupId === instances.id ? "instances" : "?";
                    const peer = i.cidrIpv4 ?? (i.referencedSecurityGroupId === alb.id ? "alb" : i.referencedSecurityGroupId === instances.id ? "instances" : "?");
                    return `${group} ${r.type.endsWith("IngressRule") ? "in" : "out"} ${i.fromPort}-${i.toPort} ${peer}`;
                })
                .sort();
            assert.deepEqual(rules, ["alb in 443-443 0.0.0.0/0", "alb in 80-80 0.0.0.0/0", "alb out 8080-8080 instances", "instances in 8080-8080 alb", "instances out 443-443 0.0.0.0/0"]);
        });

        it("prod protects the load balancer and uses its own sizes", () => {
            assert.equal(inputsOf(childOfType(prod, PREVIEW, "aws:lb/loadBalancer:LoadBalancer")).enableDeletionProtection, true);
            assert.equal(inputsOf(childOfType(prod, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate")).instanceType, "t3.medium");
            const asg = inputsOf(childOfType(prod, PREVIEW, "aws:autoscaling/group:Group"));
            assert.deepEqual([asg.minSize, asg.maxSize], [2, 4]);
            assert.match(String(prod.outputs.artifactKey), /^express-api\/prod\/[0-9a-f]{8}-\d{8}-\d{6}\/express-api-deployment.tar.gz$/);
        });

        it("with jobfleet:previewAssociatePublicIp, moves instances to public subnets with a public IP; Graviton types get arm64 images", () => {
            const lt = inputsOf(childOfType(custom, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate"));
            assert.equal(lt.networkInterfaces[0].associatePublicIpAddress, "true");
            assert.deepEqual(inputsOf(childOfType(custom, PREVIEW, "aws:autoscaling/group:Group")).vpcZoneIdentifiers, custom.outputs.publicSubnetIds);
            assert.notEqual(lt.imageId, inputsOf(childOfType(staging, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate")).imageId, "arm64 and x86_64 images differ");
            assert.match(userDataOf(childOfType(custom, PREVIEW, "aws:ec2/launchTemplate:LaunchTemplate")), /^ARTIFACT_KEY='express-api\/pr-51\/622d2103-20250820-124500\/express-api-deployment.tar.gz'$/m);
            const readGrant = one(custom, (r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name.includes("-read-express-api-pr-51"), "read grant for pr-51");
            assert.match(JSON.parse(inputsOf(readGrant).policy).Statement[0].Resource, /\/express-api\/pr-51\/\*$/);
        });
    });
});
