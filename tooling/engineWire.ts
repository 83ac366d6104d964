import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { sdkSecretInputs } from "./sdkSecrets";

/**
 * What the Pulumi engine sends a policy pack, reproduced for resources given in checkpoint form
 * (`pulumi stack export`, or a plan captured under mocks).
 *
 * Read from the engine (github.com/pulumi/pulumi):
 * - pkg/resource/deploy/step_generator.go: before Analyze, the goal's inputs go through the
 *   provider's Check (`inputs = resp.Properties`), so the pack sees *checked* inputs: the defaults
 *   the provider fills in are there, and nothing says they were not written by the program.
 *   AnalyzeStack gets each resource's final `Outputs`.
 * - pkg/resource/plugin/analyzer_plugin.go: Analyze and AnalyzeStack marshal properties with
 *   `MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipInternalKeys: true}`.
 * - pkg/resource/plugin/rpc.go: SkipInternalKeys drops top-level keys starting with `__`
 *   (`__defaults`, `__meta`, ...; only at the top level); KeepSecrets sends a secret as
 *   `{"4dabf181...": "1b470612...", "value": v}`; KeepUnknowns sends an unknown as a per-type
 *   sentinel string; nulls are kept (SkipNulls is false).
 * - Before any of this, @pulumi/aws's constructors make the inputs their schema marks secret into
 *   secrets (sdkSecrets.ts), so those arrive as secrets whatever the program passed.
 * - @pulumi/policy's deserialize.js then unwraps secrets into plain values (the policy cannot
 *   tell them apart) and proxy.js throws UnknownValueError on reading a sentinel.
 */

export const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** The engine's unknown sentinels (pkg/resource/plugin/rpc.go), one per type. */
export const UNKNOWN = {
    string: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    bool: "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    number: "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    array: "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    asset: "030794c1-ac77-496b-92df-f27374a8bd58",
    archive: "e48ece36-62e2-4504-bad9-02848725956a",
    object: "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
} as const;
/** What the engine sends for a string not known until the update. */
export const UNKNOWN_VALUE = UNKNOWN.string;

/**
 * Values the AWS provider's Check fills in when the program leaves a property out, for the
 * properties a policy reads. Source for each: the property's documentation in @pulumi/aws 7's own
 * type declarations (node_modules/@pulumi/aws/<module>/<resource>.d.ts), quoted in the comment.
 * Only Terraform schema `Default`s appear here: computed-only attributes (a Lambda's
 * `architectures`, an ECS service's `launchType`) stay absent at Check and arrive at the pack as
 * absent, as they do from the CLI.
 */
export const PROVIDER_CHECK_DEFAULTS: Record<string, Record<string, unknown>> = {
    // lambda/function.d.ts: "Amount of time your Lambda Function has to run in seconds. Defaults to 3."
    // "Amount of memory in MB ... Defaults to 128." "Lambda deployment package type ... Defaults to `Zip`."
    // "Whether to publish creation/change as new Lambda Function Version. Defaults to `false`."
    // "Amount of reserved concurrent executions ... Defaults to Unreserved Concurrency Limits `-1`."
    "aws:lambda/function:Function": { timeout: 3, memorySize: 128, packageType: "Zip", publish: false, reservedConcurrentExecutions: -1 },
    // ecr/repository.d.ts: "The tag mutability setting for the repository. ... Defaults to `MUTABLE`." forceDelete: "Defaults to `false`."
    "aws:ecr/repository:Repository": { imageTagMutability: "MUTABLE", forceDelete: false },
    // sqs/queue.d.ts: "Visibility timeout for the queue. ... The default for this attribute is 30." fifoQueue: "defaults to `false`".
    "aws:sqs/queue:Queue": { visibilityTimeoutSeconds: 30, fifoQueue: false },
    // s3/bucketPublicAccessBlock.d.ts: each of the four flags "Defaults to `false`."
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": { blockPublicAcls: false, blockPublicPolicy: false, ignorePublicAcls: false, restrictPublicBuckets: false },
    // lambda/eventSourceMapping.d.ts: "Whether the mapping is enabled. Defaults to `true`."
    "aws:lambda/eventSourceMapping:EventSourceMapping": { enabled: true },
    // ecs/service.d.ts: "Scheduling strategy to use for the service. ... Defaults to `REPLICA`."
    "aws:ecs/service:Service": { schedulingStrategy: "REPLICA" },
    // iam/role.d.ts: "Whether to force detaching any policies the role has before destroying it. Defaults to `false`."
    "aws:iam/role:Role": { forceDetachPolicies: false },
    // kms/key.d.ts: enableKeyRotation "Defaults to `false`.", isEnabled "Defaults to `true`.", keyUsage "Defaults to `ENCRYPT_DECRYPT`."
    "aws:kms/key:Key": { enableKeyRotation: false, isEnabled: true, keyUsage: "ENCRYPT_DECRYPT" },
};

/** A checkpoint value (secrets as `{sig, plaintext}` or `{sig, ciphertext}`) in the engine's wire form. */
export function toWireValue(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : toWireValue(v)));
    if (value === null || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    if (obj[SPECIAL_SIG_KEY] === SECRET_SIG) {
        if (typeof obj.plaintext === "string") return { [SPECIAL_SIG_KEY]: SECRET_SIG, value: toWireValue(JSON.parse(obj.plaintext)) };
        if ("value" in obj) return { [SPECIAL_SIG_KEY]: SECRET_SIG, value: toWireValue(obj.value) };
        // Ciphertext cannot be read here: it goes over as a value the engine does not know.
        return UNKNOWN_VALUE;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = toWireValue(v);
    return out;
}

/**
 * A resource's properties as the engine marshals them for a pack: provider Check defaults filled
 * in where the program left the property out (`checked`: Analyze sends checked inputs; outputs of
 * a created resource carry the same values), top-level `__` keys removed, secrets and unknowns kept.
 */
export function engineProperties(type: string, props: Record<string, unknown> | undefined, checked = true): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const defaults = checked ? (PROVIDER_CHECK_DEFAULTS[type] ?? {}) : {};
    for (const [key, value] of Object.entries(defaults)) out[key] = value;
    const sdkSecrets = new Set(sdkSecretInputs(type));
    for (const [key, value] of Object.entries(props ?? {})) {
        if (key.startsWith("__")) continue;
        if (value === undefined) continue;
        if (value === null && key in defaults) continue;
        const wire = toWireValue(value);
        // The SDK's constructor already made these secret (sdkSecrets.ts); a checkpoint records that, a hand-built resource may not.
        const isSecret = wire !== null && typeof wire === "object" && (wire as Record<string, unknown>)[SPECIAL_SIG_KEY] === SECRET_SIG;
        out[key] = sdkSecrets.has(key) && !isSecret && wire !== UNKNOWN_VALUE ? { [SPECIAL_SIG_KEY]: SECRET_SIG, value: wire } : wire;
    }
    return out;
}

/** The protobuf Struct the engine puts in AnalyzeRequest.properties / AnalyzerResource.properties. */
export function engineStruct(type: string, props: Record<string, unknown> | undefined, checked = true): Struct {
    return Struct.fromJavaScript(engineProperties(type, props, checked) as Record<string, never>);
}

/** The wire form with every secret's value replaced by `[secret]` (the marker kept): for what is written to disk. */
export function withoutSecretValues(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(withoutSecretValues);
    if (value === null || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    if (obj[SPECIAL_SIG_KEY] === SECRET_SIG) return { [SPECIAL_SIG_KEY]: SECRET_SIG, value: "[secret]" };
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, withoutSecretValues(v)]));
}

/** Wraps a value the way a checkpoint stores a secret, for tests and fixtures. */
export function checkpointSecret(value: unknown): Record<string, unknown> {
    return { [SPECIAL_SIG_KEY]: SECRET_SIG, plaintext: JSON.stringify(value) };
}
