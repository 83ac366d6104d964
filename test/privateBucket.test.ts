import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ABORT_INCOMPLETE_UPLOADS_RULE, PrivateBucket, PrivateBucketArgs, privateBucketArgsProblems } from "../components/privateBucket";
import { CapturedPlan, CapturedResource, inputsOf, resourcesOfType } from "../tooling/capture";
import { DEFAULT_MOCK_ACCOUNT_ID, JobfleetMocks } from "../tooling/mocks";
import { standardPlan } from "./support/plans";

const COMPONENT = "jobfleet:storage:PrivateBucket";
const T = {
    bucket: "aws:s3/bucket:Bucket",
    publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    ownershipControls: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    policy: "aws:s3/bucketPolicy:BucketPolicy",
} as const;
type Kind = keyof typeof T;

/**
 * The four buckets of the program, with the logical names their children had before they moved
 * into PrivateBucket (a live stack holds these names; the aliases only cover a parent change), and
 * the settings each owner chose.
 */
function expectedBuckets(stack: "staging" | "prod"): Record<string, { versioned: boolean; forceDestroy: boolean; names: Partial<Record<Kind, string>> }> {
    const same = (n: string, kinds: Kind[]) => Object.fromEntries(kinds.map((k) => [k, n]));
    const shell = `jobfleet-${stack}-shell-executor-jobs`;
    return {
        "agent-runtime-packages": { versioned: true, forceDestroy: stack !== "prod", names: same("agent-runtime-packages", ["publicAccessBlock", "ownershipControls", "encryption", "versioning", "lifecycle", "policy"]) },
        "submission-runner": { versioned: false, forceDestroy: false, names: same("submission-runner", ["publicAccessBlock", "ownershipControls", "encryption", "lifecycle", "policy"]) },
        artifacts: {
            versioned: true,
            forceDestroy: false,
            names: { publicAccessBlock: "artifacts-public-access", ownershipControls: "artifacts-ownership", encryption: "artifacts-encryption", versioning: "artifacts-versioning", lifecycle: "artifacts-lifecycle", policy: "artifacts-policy" },
        },
        [shell]: {
            versioned: false,
            forceDestroy: true,
            names: { publicAccessBlock: `${shell}-public-access`, ownershipControls: `${shell}-ownership`, encryption: `${shell}-encryption`, lifecycle: `${shell}-lifecycle`, policy: `${shell}-tls-only` },
        },
    };
}

for (const stack of ["staging", "prod"] as const) {
    describe(`PrivateBucket in the ${stack} program`, () => {
        let plan: CapturedPlan;
        before(async () => {
            plan = await standardPlan(stack);
        });
        const attached = (type: string, bucket: CapturedResource) => resourcesOfType(plan, type).filter((r) => inputsOf(r).bucket === bucket.id);

        it("builds every bucket of the program, and only those four, with PrivateBucket, keeping each child's logical name", () => {
            const expected = expectedBuckets(stack);
            const buckets = resourcesOfType(plan, T.bucket);
            assert.deepEqual(buckets.map((b) => b.name).sort(), Object.keys(expected).sort());
            for (const bucket of buckets) {
                const component = plan.resources.find((r) => r.urn === bucket.parent);
                assert.ok(component, `${bucket.name} has a registered parent`);
                assert.equal(component.type, COMPONENT, `${bucket.name} sits in a PrivateBucket`);
                assert.equal(component.name, bucket.name);
                const children = plan.resources.filter((r) => r.parent === component.urn);
                const names = Object.fromEntries(children.filter((c) => c !== bucket).map((c) => [Object.entries(T).find(([, t]) => t === c.type)![0], c.name]));
                assert.deepEqual(names, expected[bucket.name].names, `${bucket.name}: the children keep their names`);
                assert.equal(inputsOf(bucket).forceDestroy, expected[bucket.name].forceDestroy, `${bucket.name}: forceDestroy`);
                assert.equal(attached(T.versioning, bucket).length, expected[bucket.name].versioned ? 1 : 0, `${bucket.name}: versioning`);
            }
        });

        it("gives each bucket exactly one public access block (all four on), ownership enforced, SSE-S3 and the TLS-only policy", () => {
            for (const bucket of resourcesOfType(plan, T.bucket)) {
                const exactlyOne = (type: string) => {
                    const found = attached(type, bucket);
                    assert.equal(found.length, 1, `${bucket.name}: exactly one ${type}`);
                    return found[0];
                };
                const block = exactlyOne(T.publicAccessBlock);
                assert.deepEqual(
                    ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].map((k) => inputsOf(block)[k]),
                    [true, true, true, true],
                    `${bucket.name}: public access block`,
                );
                assert.deepEqual(inputsOf(exactlyOne(T.ownershipControls)).rule, { objectOwnership: "BucketOwnerEnforced" });
                assert.deepEqual(inputsOf(exactlyOne(T.encryption)).rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }]);
                const policy = exactlyOne(T.policy);
                assert.deepEqual(JSON.parse(inputsOf(policy).policy), {
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            Action: "s3:*",
                            Resource: [bucket.outputs.arn, `${bucket.outputs.arn}/*`],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                    ],
                });
                assert.ok(policy.dependencies.includes(block.urn), `${bucket.name}: the policy waits for the public access block`);
            }
        });

        it("applies lifecycle rules after versioning, and aborts incomplete multipart uploads in every bucket", () => {
            for (const bucket of resourcesOfType(plan, T.bucket)) {
                const [lifecycle] = attached(T.lifecycle, bucket);
                assert.ok(lifecycle, `${bucket.name} has lifecycle rules`);
                const [versioning] = attached(T.versioning, bucket);
                if (versioning) assert.ok(lifecycle.dependencies.includes(versioning.urn), `${bucket.name}: lifecycle after versioning`);
                const rules = inputsOf(lifecycle).rules as Array<Record<string, any>>;
                assert.ok(rules.some((r) => r.status === "Enabled" && r.abortIncompleteMultipartUpload?.daysAfterInitiation === 1), `${bucket.name}: incomplete uploads are aborted`);
            }
        });
    });
}

interface Registered {
    urn: string;
    type: string;
    name: string;
    parent?: string;
    aliases: { name: string; type: string; parentUrn: string; noParent: boolean }[];
}

interface AliasProto {
    hasSpec(): boolean;
    getSpec(): { getName(): string; getType(): string; getParenturn(): string; getNoparent(): boolean };
}

interface MonitorLike {
    registerResource(req: { getType(): string; getName(): string; getParent(): string; getAliasesList(): AliasProto[] }, callback: (err: Error | null, res?: { getUrn(): string }) => void): void;
}

/** Runs a few resources under the mock runtime and records what each registered, with its alias specs (captureProgram keeps alias URNs only). */
async function runUnderMocks(program: () => void): Promise<Registered[]> {
    await pulumi.runtime.setMocks(new JobfleetMocks({ accountId: DEFAULT_MOCK_ACCOUNT_ID, region: "us-east-1" }), "jobfleet", "private-bucket-test", false);
    const registered: Registered[] = [];
    const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) =>
        register(req, (err, res) => {
            if (!err && res) {
                const aliases = req
                    .getAliasesList()
                    .filter((a) => a.hasSpec())
                    .map((a) => ({ name: a.getSpec().getName(), type: a.getSpec().getType(), parentUrn: a.getSpec().getParenturn(), noParent: a.getSpec().getNoparent() }));
                registered.push({ urn: res.getUrn(), type: req.getType(), name: req.getName(), parent: req.getParent() || undefined, aliases });
            }
            callback(err, res);
        });
    await pulumi.runtime.runInPulumiStack(async () => program());
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    return registered;
}

class Owner extends pulumi.ComponentResource {
    constructor(name: string, build: (owner: Owner) => void) {
        super("jobfleet:test:Owner", name, {});
        build(this);
        this.registerOutputs({});
    }
}

describe("PrivateBucket on its own", () => {
    it("names its children after the bucket with a suffix by default, or as the owner asks", async () => {
        const registered = await runUnderMocks(() => {
            new Owner("owner", (owner) => {
                new PrivateBucket("plain", {}, { parent: owner });
                new PrivateBucket("full", { versioned: true, lifecycleRules: [ABORT_INCOMPLETE_UPLOADS_RULE] }, { parent: owner });
                new PrivateBucket("same", { lifecycleRules: [ABORT_INCOMPLETE_UPLOADS_RULE], childNames: "bucket-name" }, { parent: owner });
                new PrivateBucket("mixed", { childNames: { policy: "mixed-policy" } }, { parent: owner });
            });
        });
        const childrenOf = (name: string) => {
            const component = registered.find((r) => r.type === COMPONENT && r.name === name)!;
            return registered.filter((r) => r.parent === component.urn).map((r) => r.name);
        };
        assert.deepEqual(childrenOf("plain").sort(), ["plain", "plain-encryption", "plain-ownership", "plain-public-access", "plain-tls-only"]);
        assert.deepEqual(childrenOf("full").sort(), ["full", "full-encryption", "full-lifecycle", "full-ownership", "full-public-access", "full-tls-only", "full-versioning"]);
        assert.deepEqual(childrenOf("same"), ["same", "same", "same", "same", "same", "same"]);
        assert.deepEqual(childrenOf("mixed").sort(), ["mixed", "mixed-encryption", "mixed-ownership", "mixed-policy", "mixed-public-access"]);
    });

    it("aliases every child to the owner that created it before (same name and type), so a live stack keeps the bucket", async () => {
        const registered = await runUnderMocks(() => {
            new Owner("owner", (owner) => {
                new PrivateBucket("moved", { versioned: true, lifecycleRules: [ABORT_INCOMPLETE_UPLOADS_RULE], movedFrom: owner }, { parent: owner });
                new PrivateBucket("fresh", {}, { parent: owner });
            });
        });
        const owner = registered.find((r) => r.type === "jobfleet:test:Owner")!;
        const inside = (name: string) => registered.filter((r) => r.parent === registered.find((c) => c.type === COMPONENT && c.name === name)!.urn);
        // The AWS provider adds aliases of its own (from the Bucket's former V2 type names): only ours have no type.
        const ours = (r: Registered) => r.aliases.filter((a) => a.type === "" && a.name === "");
        const moved = inside("moved");
        assert.equal(moved.length, 7);
        for (const child of moved) {
            assert.deepEqual(ours(child), [{ name: "", type: "", parentUrn: owner.urn, noParent: false }], `${child.type} ${child.name}`);
        }
        for (const child of inside("fresh")) assert.deepEqual(ours(child), [], `${child.type} ${child.name} has no alias`);
    });

    it("checks its arguments first, naming the argument, the value and what it expected", async () => {
        assert.deepEqual(privateBucketArgsProblems("jobs", { versioned: true, lifecycleRules: [ABORT_INCOMPLETE_UPLOADS_RULE], forceDestroy: true, tags: { Team: "jobfleet" } }), []);
        const problems = privateBucketArgsProblems("Jobs_Bucket", {
            versioned: "yes",
            forceDestroy: 1,
            tags: { Team: 7 },
            lifecycleRules: [
                { id: "expire", status: "On", expiration: { days: 1 } },
                { id: "expire", status: "Enabled", filter: {} },
                { id: "", status: "Enabled", noncurrentVersionExpiration: { noncurrentDays: 30 } },
            ],
            childNames: { bucketPolicy: "x", encryption: "" },
        } as unknown as PrivateBucketArgs).join("\n");
        for (const pattern of [
            /^PrivateBucket "Jobs_Bucket": the name must be 1 to 55 lower-case letters, digits or hyphens/m,
            /versioned is "yes"; expected true or false\./,
            /forceDestroy is 1; expected true or false\./,
            /tags\.Team is 7; expected a string\./,
            /lifecycleRules\[0\]\.status is "On"; expected "Enabled" or "Disabled"\./,
            /lifecycleRules\[1\]\.id "expire" is used by an earlier rule/,
            /lifecycleRules\[1\] has no action/,
            /lifecycleRules\[2\]\.id is ""; expected a non-empty string\./,
            /childNames\.bucketPolicy is not a child of a PrivateBucket/,
            /childNames\.encryption is ""; expected a non-empty string\./,
        ]) {
            assert.match(problems, pattern);
        }
        assert.doesNotMatch(problems, /lifecycleRules\[2\] acts on noncurrent versions/, "versioned was given, if not as a boolean: reported once, above");
        assert.match(privateBucketArgsProblems("logs", { lifecycleRules: [{ id: "old", status: "Enabled", noncurrentVersionExpiration: { noncurrentDays: 30 } }] }).join("\n"), /lifecycleRules\[0\] acts on noncurrent versions, but versioned is undefined; set versioned: true/);
        assert.match(privateBucketArgsProblems("logs", { lifecycleRules: [] }).join("\n"), /lifecycleRules is \[\]; expected at least one rule, or leave it out/);
        assert.match(privateBucketArgsProblems("x".repeat(56), {}).join("\n"), /the name must be 1 to 55/);

        let error: Error | undefined;
        await runUnderMocks(() => {
            try {
                new PrivateBucket("logs", { lifecycleRules: [] });
            } catch (e) {
                error = e as Error;
            }
        });
        assert.match(String(error?.message), /^PrivateBucket "logs": lifecycleRules is \[\]/);
    });
});
