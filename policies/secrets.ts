import { ResourceValidationPolicy, UnknownValueError } from "@pulumi/policy";
import { resourcePolicy } from "./lib/policy";
import { T } from "./lib/resources";
import { Candidate, detectSecrets } from "./lib/secretDetectors";
import { Leaf, walkProperties } from "./lib/walker";
import { isEngineSecret, plainProps } from "./lib/wire";

/**
 * No plaintext secret in any resource's inputs: one walker (lib/walker.ts) over every string of
 * every resource, decoders for the text that hides text (lib/decoders.ts), and detectors
 * (lib/secretDetectors.ts, lib/secretFormats.ts). Values the engine sends as secrets, references
 * and the properties that exist to hold a secret are never plaintext.
 */

/** Properties whose purpose is to receive a secret (stored encrypted by the service): not plaintext exposures. */
function isSecretDestination(type: string, property: string, props: Record<string, unknown>): boolean {
    if (type === "aws:secretsmanager/secretVersion:SecretVersion") return ["secretString", "secretBinary", "secretStringWo"].includes(property);
    if (type === T.ssmParameter) return String(props.type ?? "String") === "SecureString" && ["value", "valueWo"].includes(property);
    if (type === "aws:kms/ciphertext:Ciphertext") return property === "plaintext";
    return false;
}

/**
 * Inputs the SDK makes secret on its own (its schema says so) although the service stores them in
 * clear: a String/StringList SSM parameter's value. Being a Pulumi secret says nothing about the
 * program's intent there, so the value is checked anyway.
 */
function storedInClear(type: string, props: Record<string, unknown>, path: (string | number)[]): boolean {
    return type === T.ssmParameter && String(props.type ?? "String") !== "SecureString" && path[0] === "value";
}

/** What to do instead, by where the secret was found. */
function fixFor(type: string, property: string): string {
    if (type === T.ecsTaskDefinition && property === "containerDefinitions") {
        return "move it to the container's secrets list ({name, valueFrom: <Secrets Manager secret ARN or SSM SecureString parameter ARN>}) and let the execution role read that secret; keep only references (ARNs, hosts, ports) in environment, command and labels";
    }
    if (type === T.lambdaFunction) return "store it in Secrets Manager and pass the secret's ARN (for example DB_SECRET_ARN) so the function reads it at start with its role";
    if ((type === T.ec2LaunchTemplate || type === T.ec2Instance) && /^userData/.test(property)) {
        return "have the instance fetch it at boot from Secrets Manager or an SSM SecureString parameter with its instance role; never inline it in user data";
    }
    if (type === T.ssmParameter) return 'set type "SecureString" (encrypted with KMS) instead of "String"';
    if (property === "tags" || property === "tagsAll") return "remove it from the tag: tags are readable by anyone who can list or describe the resource";
    if (type.startsWith("pulumi:providers:")) return "remove static credentials from the provider: let it use the deployment's OIDC role (Pulumi ESC aws-login or the CI's role) from the environment";
    return "keep the secret in Secrets Manager and pass a reference (its ARN, a {{resolve:secretsmanager:...}} reference, or a pulumi secret read from it); rotate any secret that was ever deployed in plain text";
}

export const noPlaintextSecrets: ResourceValidationPolicy = resourcePolicy({
    name: "no-plaintext-secrets",
    description:
        "No plaintext secret in any string of any resource's inputs, including JSON in strings, user data (base64, gzip, MIME, cloud-config, shell), command lines, URLs and connection strings: found by value (secretlint, extra credential formats, URL user-info) and by name (a literal bound to a name that says secret).",
    severity: "critical",
    tags: ["secrets"],
    remediationSteps:
        "Keep the secret in Secrets Manager (RDS: manageMasterUserPassword) and pass a reference: ECS containers get it through secrets/valueFrom, Lambdas get the secret's ARN, SSM parameters are SecureString, instances fetch it at boot, values that must pass through the program are pulumi secrets. Rotate any secret that was ever deployed in plain text. A value that only looks like a secret (a number, a duration, an ARN, a URL without credentials, a public key) passes; a name whose last word is a setting (TOKEN_TTL, PASSWORD_MIN_LENGTH, API_KEY_HEADER, SECRET_ARN) is not a secret name.",
    validate: async ({ args, props, report }) => {
        const plain = plainProps(props);
        const ssmName = args.type === T.ssmParameter && typeof plain.name === "string" ? plain.name.split("/").filter((s) => s).pop() : undefined;
        const walked = walkProperties(plain, {
            isSecret: (path) => isEngineSecret(plain, path) && !storedInClear(args.type, plain, path),
            nameOf: (property) => (ssmName && (property === "value" || property === "insecureValue") ? ssmName : undefined),
        });
        const leaves: Leaf[] = walked.leaves.filter((l) => !isSecretDestination(args.type, l.property, plain));
        const candidates: Candidate[] = leaves.map((l) => ({ name: l.name, value: l.value, byValue: l.byValue }));
        const reasons = await detectSecrets(candidates);
        const reported = new Set<string>();
        leaves.forEach((leaf, i) => {
            if (reasons[i].length === 0 || reported.has(leaf.field)) return;
            reported.add(leaf.field);
            const field = args.type === T.ssmParameter && (leaf.property === "value" || leaf.property === "insecureValue") ? `${leaf.field} (type "${plain.type ?? "String"}"${typeof plain.name === "string" ? `, parameter "${plain.name}"` : ""})` : leaf.field;
            report({ field, problem: `holds a plaintext secret (${reasons[i].join("; ")})`, fix: fixFor(args.type, leaf.property) });
        });
        if (walked.unknown.length > 0) {
            // Every known value is checked above; what the engine does not know yet is reported the SDK's way (advisory).
            const err = new UnknownValueError("04da6b54-80e4-46f7-96ec-b56ff0331ba9", [walked.unknown[0]]);
            err.message = `${walked.unknown.length === 1 ? "1 value" : `${walked.unknown.length} values`} cannot be checked for plaintext secrets until they are known (${walked.unknown.slice(0, 5).join("; ")}${walked.unknown.length > 5 ? "; ..." : ""}); every known value was checked`;
            throw err;
        }
    },
});

export const secretPolicies = [noPlaintextSecrets];
