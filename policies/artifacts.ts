import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { conditionValues, isPublicPrincipal, parsePolicyDocument, Statement } from "./lib/iamDocument";
import { resourcePolicy, stackPolicy } from "./lib/policy";
import { BUCKET_TYPES, bucketIdentifiers, containerLabel, parseContainerDefinitions, ResourceIndex, T } from "./lib/resources";

/**
 * Immutable artifacts: what runs is exactly what was built and reviewed. Images are pinned by
 * digest, ECR refuses to move a tag and scans what is pushed, and the buckets that hold artifacts
 * and job data are private, TLS-only and encrypted.
 */

export interface ImageReference {
    repository: string;
    tag?: string;
    digest?: string;
}

export function parseImageReference(ref: string): ImageReference {
    const at = ref.indexOf("@");
    const digest = at >= 0 ? ref.slice(at + 1) : undefined;
    const rest = at >= 0 ? ref.slice(0, at) : ref;
    const slash = rest.lastIndexOf("/");
    const colon = rest.indexOf(":", slash + 1);
    return colon >= 0 ? { repository: rest.slice(0, colon), tag: rest.slice(colon + 1), digest } : { repository: rest, digest };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const imagesPinnedByDigest: ResourceValidationPolicy = resourcePolicy<{ requireDigest: boolean }>({
    name: "images-pinned-by-digest",
    description: "Container images (ECS containers, Lambda image functions) are pinned by digest: never :latest or no tag, and no tag-only reference where the config requires digests (prod).",
    severity: "high",
    tags: ["supply-chain", "immutable-artifacts"],
    remediationSteps:
        "Reference the image as <registry>/<repository>@sha256:<64 hex digest> (the digest docker push or the CI build prints; the stack config holds it). A tag such as :latest or :v1 can be moved to another build after review, so tasks started later run different code than the one previewed (seed 004's force-new-deployment of :latest).",
    config: {
        requireDigest: { type: "boolean", default: true, description: "true: a tag without a digest is a violation; false: only :latest and untagged references are." },
    },
    types: [T.ecsTaskDefinition, T.lambdaFunction],
    validate: ({ props, args, config, report }) => {
        const images: { field: string; image: string }[] = [];
        if (args.type === T.ecsTaskDefinition) {
            const parsed = parseContainerDefinitions(props.containerDefinitions);
            if (!parsed.ok) {
                report({ field: "containerDefinitions", problem: `cannot be checked: ${parsed.error}`, fix: "give containerDefinitions as the JSON list of container definitions" });
                return;
            }
            parsed.containers.forEach((c, i) => {
                images.push({ field: `containerDefinitions ${containerLabel(c, i)} image`, image: typeof c.image === "string" ? c.image : "" });
            });
        } else if (typeof props.imageUri === "string" && props.imageUri !== "") {
            images.push({ field: "imageUri", image: props.imageUri });
        }
        for (const { field, image } of images) {
            if (image === "") {
                report({ field, problem: "is empty", fix: "set the image to <repository>@sha256:<digest>" });
                continue;
            }
            const ref = parseImageReference(image);
            if (ref.digest !== undefined) {
                if (!DIGEST.test(ref.digest)) report({ field: `${field} "${image}"`, problem: `has a malformed digest "${ref.digest}"`, fix: "use @sha256: followed by the 64 lower-case hex digits of the image digest" });
                continue;
            }
            if (ref.tag === undefined || ref.tag === "latest") {
                report({
                    field: `${field} "${image}"`,
                    problem: ref.tag === undefined ? "has no tag or digest, which means :latest, a tag every push moves" : "uses :latest, a tag every push moves",
                    fix: `pin it by digest: ${ref.repository}@sha256:<digest>`,
                });
            } else if (config.requireDigest !== false) {
                report({ field: `${field} "${image}"`, problem: `is pinned only by the tag :${ref.tag}, which can be pushed again with other content`, fix: `pin it by digest: ${ref.repository}@sha256:<digest> (a tag may stay in front: ${ref.repository}:${ref.tag}@sha256:<digest>)` });
            }
        }
    },
});

function wildcardMatches(filter: string, value: string): boolean {
    const re = new RegExp(`^${filter.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
    return re.test(value);
}

/**
 * Tags a deployment may use, for judging IMMUTABLE_WITH_EXCLUSION: the CI's commit SHAs (full and
 * short, bare or `sha-` prefixed), release versions (`v1.2.3`, `1.2.3`), the environment names and
 * `latest`. An exclusion filter that matches any of them lets a deployed tag be moved.
 */
const DEPLOYMENT_TAG_SAMPLES = ["latest", "a3f9c2e", "a3f9c2e1b4d5f60718293a4b5c6d7e8f90a1b2c3", "sha-a3f9c2e", "v1.2.3", "1.2.3", "v1.2.3-rc.1", "main", "prod", "production", "staging", "release-1.2.3"];

export const ecrImmutableTags: ResourceValidationPolicy = resourcePolicy({
    name: "ecr-immutable-tags",
    description:
        "ECR repositories have immutable tags, so a pushed tag always names the same image. IMMUTABLE_WITH_EXCLUSION passes only when no exclusion filter can match a deployment tag (a commit SHA, a release version, an environment name, latest). The provider's Check sends MUTABLE for a repository that does not set it.",
    severity: "high",
    tags: ["ecr", "supply-chain", "immutable-artifacts"],
    remediationSteps:
        'Set imageTagMutability: "IMMUTABLE" on the aws.ecr.Repository. CI then pushes a new tag (the commit SHA) per build instead of moving :latest. Where build caches need a movable tag, use "IMMUTABLE_WITH_EXCLUSION" with filters that only match those (e.g. "buildcache-*"), never "*", "latest*" or patterns a SHA or version matches.',
    types: [T.ecrRepository],
    validate: ({ props, report }) => {
        const mutability = String(props.imageTagMutability ?? "MUTABLE");
        if (mutability === "IMMUTABLE") return;
        if (mutability === "IMMUTABLE_WITH_EXCLUSION") {
            const filters = Array.isArray(props.imageTagMutabilityExclusionFilters) ? props.imageTagMutabilityExclusionFilters : [];
            filters.forEach((f: { filter?: unknown }, i: number) => {
                const filter = typeof f?.filter === "string" ? f.filter : "";
                const hit = DEPLOYMENT_TAG_SAMPLES.find((tag) => wildcardMatches(filter, tag));
                if (hit !== undefined) {
                    report({
                        field: `imageTagMutabilityExclusionFilters[${i}].filter "${filter}"`,
                        problem: `matches deployment tags such as "${hit}", so a deployed tag can be moved to another image`,
                        fix: 'narrow the filter to tags no deployment uses (for example "buildcache-*"), or set imageTagMutability to "IMMUTABLE"',
                    });
                }
            });
            return;
        }
        report({ field: `imageTagMutability "${mutability}"`, problem: "lets a push move an existing tag to a different image", fix: 'set imageTagMutability to "IMMUTABLE"' });
    },
});

const REGISTRY_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration";

/** Repository filters of the registry's scanning rules that scan on push or continuously. */
function registryScanFilters(resources: PolicyResource[]): string[] {
    const filters: string[] = [];
    for (const config of resources.filter((r) => r.type === REGISTRY_SCANNING)) {
        for (const rule of Array.isArray(config.props.rules) ? config.props.rules : []) {
            if (!["SCAN_ON_PUSH", "CONTINUOUS_SCAN"].includes(String(rule?.scanFrequency))) continue;
            for (const f of Array.isArray(rule.repositoryFilters) ? rule.repositoryFilters : []) if (typeof f?.filter === "string") filters.push(f.filter);
        }
    }
    return filters;
}

export const ecrScanOnPush: StackValidationPolicy = stackPolicy({
    name: "ecr-scan-on-push",
    description: "ECR repositories scan every image on push: the repository's scanOnPush, or a registry scanning rule (SCAN_ON_PUSH or CONTINUOUS_SCAN) whose filter matches the repository.",
    severity: "medium",
    tags: ["ecr", "supply-chain", "vulnerability-scanning"],
    remediationSteps:
        'Set imageScanningConfiguration: { scanOnPush: true } on the aws.ecr.Repository, or add an aws.ecr.RegistryScanningConfiguration with a rule { scanFrequency: "SCAN_ON_PUSH", repositoryFilters: [{ filter: "<repository name or prefix*>", filterType: "WILDCARD" }] }, so every pushed image gets a vulnerability report before it is deployed.',
    validate: ({ resources, report }) => {
        const filters = registryScanFilters(resources);
        for (const repo of resources.filter((r) => r.type === T.ecrRepository)) {
            if (repo.props.imageScanningConfiguration?.scanOnPush === true) continue;
            const name = typeof repo.props.name === "string" ? repo.props.name : repo.name;
            if (filters.some((f) => wildcardMatches(f, name))) continue;
            report(repo, {
                field: "imageScanningConfiguration.scanOnPush",
                problem: `is not true and no registry scanning rule matches "${name}", so pushed images are not scanned for vulnerabilities`,
                fix: "set imageScanningConfiguration: { scanOnPush: true }, or cover the repository with an aws.ecr.RegistryScanningConfiguration rule",
            });
        }
    },
});

// ---------------------------------------------------------------------------------------------
// Buckets: every bucket of the stack holds artifacts or job data (job requests and results,
// submissions and run logs, deployment artifacts, agent packages), so every bucket is checked.
// A bucket that must differ (none today) gets a reviewed exemption in the pack config.
// ---------------------------------------------------------------------------------------------

function buckets(resources: PolicyResource[]): PolicyResource[] {
    return resources.filter((r) => BUCKET_TYPES.includes(r.type));
}

/** The resources of `types` attached to each bucket (by their `bucket` property), in one pass through an identifier index. */
function attachmentsByBucket(resources: PolicyResource[], types: string[]): Map<PolicyResource, PolicyResource[]> {
    const all = buckets(resources);
    const index = new ResourceIndex(all);
    for (const b of all) for (const id of bucketIdentifiers(b)) index.add(id, b);
    const out = new Map<PolicyResource, PolicyResource[]>(all.map((b) => [b, []]));
    for (const r of resources) {
        if (!types.includes(r.type)) continue;
        for (const b of index.targets(r, "bucket")) out.get(b)!.push(r);
    }
    return out;
}

function attachedTo(bucket: PolicyResource, attachments: Map<PolicyResource, PolicyResource[]>): PolicyResource[] {
    return attachments.get(bucket) ?? [];
}

const PAB_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

export const s3BlockPublicAccess: StackValidationPolicy = stackPolicy({
    name: "s3-block-public-access",
    description: "Every S3 bucket (they hold artifacts and job data) has a public access block with all four settings on.",
    severity: "critical",
    tags: ["s3", "public-access", "immutable-artifacts"],
    remediationSteps:
        "Add an aws.s3.BucketPublicAccessBlock for the bucket (bucket: bucket.id) with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true, or an aws.s3.AccountPublicAccessBlock with all four true. Readers get presigned URLs or IAM grants, never public access.",
    validate: ({ resources, report }) => {
        const account = resources.find((r) => r.type === T.s3AccountPublicAccessBlock && PAB_FLAGS.every((f) => r.props[f] === true));
        if (account) return;
        const blocksByBucket = attachmentsByBucket(resources, [T.s3PublicAccessBlock]);
        for (const bucket of buckets(resources)) {
            const blocks = attachedTo(bucket, blocksByBucket);
            if (blocks.length === 0) {
                report(bucket, { field: "(no aws.s3.BucketPublicAccessBlock)", problem: "has no public access block, so an ACL or bucket policy can make it public", fix: `add aws.s3.BucketPublicAccessBlock with bucket set to this bucket and ${PAB_FLAGS.join(", ")} all true` });
                continue;
            }
            for (const block of blocks) {
                const off = PAB_FLAGS.filter((f) => block.props[f] !== true);
                if (off.length > 0) {
                    report(block, { field: off.join(", "), problem: `${off.length === 1 ? "is" : "are"} not true for bucket "${bucket.name}", so public access is still possible`, fix: `set ${off.join(", ")} to true` });
                }
            }
        }
    },
});

function deniesInsecureTransport(s: Statement): boolean {
    if (s.effect !== "Deny" || !isPublicPrincipal(s.principal)) return false;
    if (!s.actions.some((a) => a === "*" || a.toLowerCase() === "s3:*")) return false;
    const secure = conditionValues(s, "aws:SecureTransport").filter((c) => /^Bool(IfExists)?$/i.test(c.operator));
    if (!secure.some((c) => c.values.some((v) => String(v).toLowerCase() === "false"))) return false;
    // Every object (`<bucket ARN>/*`), not a prefix such as `<bucket ARN>/logs/*`, and the bucket itself.
    const objectLevel = s.resources.some((r) => r === "*" || /^arn:[^:]+:s3:::[^/]+\/\*$/.test(r));
    const bucketLevel = s.resources.some((r) => r === "*" || /^arn:[^:]+:s3:::[^/]+$/.test(r));
    return objectLevel && bucketLevel;
}

export const s3EnforceTls: StackValidationPolicy = stackPolicy({
    name: "s3-enforce-tls",
    description: "Every S3 bucket's policy denies requests that do not use TLS (aws:SecureTransport false) on the bucket and its objects.",
    severity: "high",
    tags: ["s3", "encryption-in-transit"],
    remediationSteps:
        'Add an aws.s3.BucketPolicy for the bucket with the statement {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [<bucket ARN>, "<bucket ARN>/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.',
    validate: ({ resources, report }) => {
        const policiesByBucket = attachmentsByBucket(resources, [T.s3BucketPolicy]);
        for (const bucket of buckets(resources)) {
            const policies = attachedTo(bucket, policiesByBucket).map((p) => ({ holder: p, doc: p.props.policy }));
            if (bucket.props.policy) policies.push({ holder: bucket, doc: bucket.props.policy });
            const ok = policies.some(({ doc }) => {
                const parsed = parsePolicyDocument(doc);
                // A document IAM would refuse enforces nothing, whatever one of its statements says.
                return parsed.ok && parsed.malformed.length === 0 && parsed.statements.some(deniesInsecureTransport);
            });
            if (ok) continue;
            report(bucket, {
                field: policies.length === 0 ? "(no aws.s3.BucketPolicy)" : `policy (${policies.map((p) => `"${p.holder.name}"`).join(", ")})`,
                problem: policies.length === 0 ? "has no bucket policy, so plain-HTTP requests are accepted" : "has no statement denying s3:* without TLS on the bucket and its objects",
                fix: 'add a Deny statement for Principal "*", Action "s3:*", Resource [bucket ARN, bucket ARN + "/*"] with Condition {"Bool": {"aws:SecureTransport": "false"}}',
            });
        }
    },
});

const SSE_ALGORITHMS = ["AES256", "aws:kms", "aws:kms:dsse"];

export const s3Encryption: StackValidationPolicy = stackPolicy({
    name: "s3-encryption",
    description: "Every S3 bucket has default server-side encryption configured explicitly (SSE-S3 or SSE-KMS).",
    severity: "high",
    tags: ["s3", "encryption-at-rest"],
    remediationSteps:
        'Add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket with rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" (or "AES256") }, bucketKeyEnabled: true }]. Configuring it explicitly keeps the choice (and a KMS key, where used) reviewed rather than implied.',
    validate: ({ resources, report }) => {
        const configsByBucket = attachmentsByBucket(resources, [T.s3Encryption, T.s3EncryptionV2]);
        for (const bucket of buckets(resources)) {
            const configs = attachedTo(bucket, configsByBucket);
            const algorithms: string[] = [];
            for (const c of configs) {
                for (const rule of Array.isArray(c.props.rules) ? c.props.rules : []) {
                    const alg = rule?.applyServerSideEncryptionByDefault?.sseAlgorithm;
                    if (typeof alg === "string") algorithms.push(alg);
                }
            }
            const inline = bucket.props.serverSideEncryptionConfiguration?.rule?.applyServerSideEncryptionByDefault?.sseAlgorithm;
            if (typeof inline === "string") algorithms.push(inline);
            if (algorithms.some((a) => SSE_ALGORITHMS.includes(a))) continue;
            report(bucket, {
                field: configs.length === 0 && inline === undefined ? "(no aws.s3.BucketServerSideEncryptionConfiguration)" : `sseAlgorithm ${JSON.stringify(algorithms)}`,
                problem: "has no explicit default encryption",
                fix: 'add aws.s3.BucketServerSideEncryptionConfiguration with applyServerSideEncryptionByDefault.sseAlgorithm "aws:kms" or "AES256"',
            });
        }
    },
});

export const artifactPolicies = [imagesPinnedByDigest, ecrImmutableTags, ecrScanOnPush, s3BlockPublicAccess, s3EnforceTls, s3Encryption];
