import * as assert from "assert";
import * as aws from "@pulumi/aws";
import { StackResource, UNKNOWN_VALUE } from "../../tooling/policyAnalyzer";
import { DIGEST, doc, expectPass, expectViolation, goodContainer, IMAGE, of, res, taskDefinition, urnOf, useAnalyzer } from "./helpers";

const REPO = "111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/app";

describe("policy pack: immutable artifacts", function () {
    const analyzer = useAnalyzer("policies/config/prod.json");
    const analyze = (r: StackResource) => analyzer.get().analyze(r);

    describe("images-pinned-by-digest", () => {
        const POLICY = "images-pinned-by-digest";
        const withImage = (image: string) => taskDefinition("app", [goodContainer({ name: "app", image })]);

        it("blocks :latest and an untagged image", async () => {
            expectViolation(await analyze(withImage(`${REPO}:latest`)), POLICY, `container "app" image "${REPO}:latest"`, "uses :latest", `${REPO}@sha256:<digest>`);
            expectViolation(await analyze(withImage(REPO)), POLICY, "no tag or digest");
        });

        it("blocks a tag-only reference in prod and a malformed digest", async () => {
            expectViolation(await analyze(withImage(`${REPO}:v1.4.2`)), POLICY, "only by the tag :v1.4.2");
            expectViolation(await analyze(withImage(`${REPO}@sha256:1234`)), POLICY, "malformed digest");
        });

        it("passes a digest, with or without a tag in front", async () => {
            expectPass(await analyze(withImage(IMAGE)), POLICY);
            expectPass(await analyze(withImage(`${REPO}:v1.4.2@${DIGEST}`)), POLICY);
        });

        it("checks Lambda image functions", async () => {
            const fn = (imageUri: string) => res(aws.lambda.Function, "worker", { role: "r", packageType: "Image", imageUri, timeout: 60 });
            expectViolation(await analyze(fn(`${REPO}:latest`)), POLICY, `imageUri "${REPO}:latest"`);
            expectPass(await analyze(fn(IMAGE)), POLICY);
        });

        it("with staging's config a tag passes but :latest still does not", async () => {
            await analyzer.get().configure("policies/config/staging.json");
            try {
                expectPass(await analyze(withImage(`${REPO}:v1.4.2`)), POLICY);
                const latest = expectViolation(await analyze(withImage(`${REPO}:latest`)), POLICY, "uses :latest");
                assert.strictEqual(latest[0].enforcementLevel, "mandatory");
            } finally {
                await analyzer.get().configure("policies/config/prod.json");
            }
        });
    });

    describe("ecr-immutable-tags and ecr-scan-on-push", () => {
        const registryScanning = (filter: string, scanFrequency = "SCAN_ON_PUSH") =>
            res(aws.ecr.RegistryScanningConfiguration, "registry-scanning", { scanType: "BASIC", rules: [{ scanFrequency, repositoryFilters: [{ filter, filterType: "WILDCARD" }] }] });

        it("block a repository with mutable tags and no scanning", async () => {
            const repo = res(aws.ecr.Repository, "runner", { name: "jobfleet/runner" });
            expectViolation(await analyze(repo), "ecr-immutable-tags", 'imageTagMutability "MUTABLE"');
            expectViolation(await analyzer.get().analyzeStack([repo]), "ecr-scan-on-push", "imageScanningConfiguration.scanOnPush", '"jobfleet/runner"');
            expectViolation(await analyze(res(aws.ecr.Repository, "runner", { imageTagMutability: "MUTABLE", imageScanningConfiguration: { scanOnPush: false } })), "ecr-immutable-tags", '"MUTABLE"');
        });

        it("pass an immutable, scanned repository", async () => {
            const repo = res(aws.ecr.Repository, "runner", { name: "jobfleet/runner", imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } });
            expectPass(await analyze(repo), "ecr-immutable-tags");
            expectPass(await analyzer.get().analyzeStack([repo]), "ecr-scan-on-push");
        });

        it("counts registry-level scanning whose filter matches the repository, and not one whose filter does not", async () => {
            const repo = res(aws.ecr.Repository, "runner", { name: "jobfleet/runner", imageTagMutability: "IMMUTABLE" });
            expectPass(await analyzer.get().analyzeStack([repo, registryScanning("jobfleet/*")]), "ecr-scan-on-push");
            expectPass(await analyzer.get().analyzeStack([repo, registryScanning("*", "CONTINUOUS_SCAN")]), "ecr-scan-on-push");
            expectViolation(await analyzer.get().analyzeStack([repo, registryScanning("other/*")]), "ecr-scan-on-push", "no registry scanning rule matches");
            expectViolation(await analyzer.get().analyzeStack([repo, registryScanning("jobfleet/*", "MANUAL")]), "ecr-scan-on-push", "no registry scanning rule matches");
        });
    });

    describe("buckets (stack): s3-block-public-access, s3-enforce-tls, s3-encryption", () => {
        const bucketUrn = urnOf("aws:s3/bucket:Bucket", "jobs");
        const bucketName = "jobs-4c4d47b6";
        const bucket = res(aws.s3.Bucket, "jobs", {}, { outputs: { bucket: bucketName, arn: `arn:aws:s3:::${bucketName}` } });
        const byDep = { propertyDependencies: { bucket: [bucketUrn] } };
        const pab = (flags: Partial<Record<"blockPublicAcls" | "blockPublicPolicy" | "ignorePublicAcls" | "restrictPublicBuckets", boolean>> = {}) =>
            res(aws.s3.BucketPublicAccessBlock, "jobs", { bucket: bucketName, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true, ...flags }, byDep);
        const tlsStatement = { Sid: "DenyInsecureTransport", Effect: "Deny" as const, Principal: "*" as const, Action: "s3:*", Resource: [`arn:aws:s3:::${bucketName}`, `arn:aws:s3:::${bucketName}/*`], Condition: { Bool: { "aws:SecureTransport": "false" } } };
        const policy = (statement: aws.iam.PolicyStatement = tlsStatement) => res(aws.s3.BucketPolicy, "jobs", { bucket: bucketName, policy: doc(statement) }, byDep);
        const sse = (sseAlgorithm = "aws:kms") => res(aws.s3.BucketServerSideEncryptionConfiguration, "jobs", { bucket: bucketName, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm }, bucketKeyEnabled: true }] }, byDep);
        const stack = (...rs: StackResource[]) => analyzer.get().analyzeStack(rs);

        it("block a bare bucket on all three counts, pointing at the bucket", async () => {
            const r = await stack(bucket);
            for (const p of ["s3-block-public-access", "s3-enforce-tls", "s3-encryption"]) {
                const [v] = expectViolation(r, p, 'aws.s3.Bucket "jobs"');
                assert.strictEqual(v.urn, bucketUrn);
            }
        });

        it("pass a private, TLS-only, encrypted bucket", async () => {
            const r = await stack(bucket, pab(), policy(), sse());
            for (const p of ["s3-block-public-access", "s3-enforce-tls", "s3-encryption"]) assert.deepStrictEqual(of(r, p).map((d) => d.message), [], p);
        });

        it("join helper resources by value when there is no property dependency (a live stack's export)", async () => {
            const plain = (r: StackResource): StackResource => ({ ...r, dependencies: [], propertyDependencies: {} });
            const r = await stack(bucket, plain(pab()), plain(policy()), plain(sse("AES256")));
            for (const p of ["s3-block-public-access", "s3-enforce-tls", "s3-encryption"]) assert.deepStrictEqual(of(r, p).map((d) => d.message), [], p);
        });

        it("join by property dependency during a preview, when the new bucket's name is still unknown", async () => {
            const unknownBucket = res(aws.s3.Bucket, "jobs", {}, { outputs: { bucket: UNKNOWN_VALUE, arn: UNKNOWN_VALUE, id: UNKNOWN_VALUE } });
            const preview = (r: StackResource): StackResource => ({ ...r, inputs: { ...r.inputs, bucket: UNKNOWN_VALUE } });
            const r = await stack(unknownBucket, preview(pab()), preview(res(aws.s3.BucketServerSideEncryptionConfiguration, "jobs", { bucket: "x", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, byDep)));
            assert.deepStrictEqual(of(r, "s3-block-public-access").map((d) => d.message), []);
            assert.deepStrictEqual(of(r, "s3-encryption").map((d) => d.message), []);
            expectViolation(r, "s3-enforce-tls", "no aws.s3.BucketPolicy");
            assert.ok(!r.diagnostics.some((d) => d.message.includes("can't run policy")), "no policy gave up on the unknown values");
        });

        it("do not count the TLS statement of a bucket policy IAM would refuse (a null among its resources)", async () => {
            const refused = res(aws.s3.BucketPolicy, "jobs", { bucket: bucketName, policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ ...tlsStatement, Resource: [`arn:aws:s3:::${bucketName}`, `arn:aws:s3:::${bucketName}/*`, null] }] }) }, byDep);
            expectViolation(await stack(bucket, pab(), refused, sse()), "s3-enforce-tls", "has no statement denying s3:* without TLS");
        });

        it("block a public access block with one setting off, naming the setting", async () => {
            const [v] = expectViolation(await stack(bucket, pab({ restrictPublicBuckets: false }), policy(), sse()), "s3-block-public-access", "restrictPublicBuckets", `bucket "jobs"`);
            assert.strictEqual(v.urn, urnOf("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "jobs"));
        });

        it("accept an account-wide public access block", async () => {
            const account = res(aws.s3.AccountPublicAccessBlock, "account", { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
            assert.deepStrictEqual(of(await stack(bucket, account, policy(), sse()), "s3-block-public-access"), []);
        });

        it("block a TLS statement that misses the objects, and one that allows instead of denies", async () => {
            expectViolation(await stack(bucket, pab(), policy({ ...tlsStatement, Resource: `arn:aws:s3:::${bucketName}` }), sse()), "s3-enforce-tls", "no statement denying");
            // Only a prefix of the objects: plain HTTP still reaches everything outside logs/.
            expectViolation(await stack(bucket, pab(), policy({ ...tlsStatement, Resource: [`arn:aws:s3:::${bucketName}`, `arn:aws:s3:::${bucketName}/logs/*`] }), sse()), "s3-enforce-tls", "no statement denying");
            expectViolation(await stack(bucket, pab(), policy({ ...tlsStatement, Effect: "Allow" }), sse()), "s3-enforce-tls", "no statement denying");
        });

        it("block an encryption configuration without an algorithm S3 accepts", async () => {
            expectViolation(await stack(bucket, pab(), policy(), sse("none")), "s3-encryption", 'sseAlgorithm ["none"]');
        });

        it("checks every bucket on its own: a second bare bucket is reported, the configured one is not", async () => {
            const other = res(aws.s3.Bucket, "logs", {}, { outputs: { bucket: "logs-1a2b3c4d" } });
            const found = expectViolation(await stack(bucket, pab(), policy(), sse(), other), "s3-encryption", 'aws.s3.Bucket "logs"');
            assert.deepStrictEqual(
                found.map((d) => d.urn),
                [urnOf("aws:s3/bucket:Bucket", "logs")],
            );
        });
    });
});
