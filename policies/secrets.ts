import { ResourceValidationPolicy } from "@pulumi/policy";
import { resourcePolicy, stringList } from "./lib/policy";
import { containerLabel, environmentOf, parseContainerDefinitions, T, tagsOf } from "./lib/resources";
import { decodeUserData, jsonAssignments, NamedValue, scanValues, SECRET_SCAN_DEFAULTS, scriptAssignments } from "./lib/secretScan";

/**
 * No plaintext secrets where AWS stores and shows values in the clear: ECS container environment,
 * Lambda environment variables, EC2 user data, SSM String parameters and resource tags.
 */

type Location = "ecs" | "lambda" | "userData" | "ssm" | "tags";

const FIXES: Record<Location, string> = {
    ecs: "move it to the container's secrets list ({name, valueFrom: <Secrets Manager secret ARN or SSM SecureString parameter ARN>}) and let the execution role read that secret; keep only references (ARNs, hosts, ports) in environment",
    lambda: "store it in Secrets Manager and pass the secret's ARN (for example DB_SECRET_ARN) so the function reads it at start with its role",
    userData: "have the instance fetch it at boot from Secrets Manager or an SSM SecureString parameter with its instance role; never inline it in user data",
    ssm: 'set type "SecureString" (encrypted with KMS) instead of "String"',
    tags: "remove it from the tag: tags are readable by anyone who can list or describe the resource",
};

function collect(type: string, props: Record<string, any>, out: { location: Location; item: NamedValue }[], problems: { field: string; problem: string }[]): void {
    const add = (location: Location, item: NamedValue) => {
        out.push({ location, item });
        // A JSON-valued variable: its keys are names too (the whole value is already scanned by value).
        if (item.byValue === false) return;
        for (const a of jsonAssignments(item.value)) add(location, { field: `${item.field} key "${a.path}"`, name: a.name, value: a.value, byValue: false });
    };
    if (type === T.ecsTaskDefinition && props.containerDefinitions !== undefined) {
        const parsed = parseContainerDefinitions(props.containerDefinitions);
        if (!parsed.ok) {
            problems.push({ field: "containerDefinitions", problem: `cannot be checked for secrets: ${parsed.error}` });
        } else {
            parsed.containers.forEach((c, i) => {
                for (const e of environmentOf(c)) {
                    add("ecs", { field: `containerDefinitions ${containerLabel(c, i)} environment "${e.name}"`, name: e.name, value: e.value });
                }
            });
        }
    }
    if (type === T.lambdaFunction) {
        const vars = props.environment?.variables;
        if (vars && typeof vars === "object") {
            for (const [k, v] of Object.entries(vars)) add("lambda", { field: `environment.variables "${k}"`, name: k, value: v === null || v === undefined ? "" : String(v) });
        }
    }
    if (type === T.ec2LaunchTemplate || type === T.ec2Instance) {
        for (const key of ["userData", "userDataBase64"]) {
            const raw = props[key];
            if (typeof raw !== "string" || raw === "") continue;
            // Instance.userData takes the script itself, but base64 put there reaches the instance all the same: decode either.
            const script = decodeUserData(raw);
            const shown = script === raw ? key : `${key} (base64-decoded)`;
            add("userData", { field: shown, value: script });
            for (const a of scriptAssignments(script)) add("userData", { field: `${shown} line ${a.line} "${a.name}"`, name: a.name, value: a.value, byValue: false });
        }
    }
    if (type === T.ssmParameter && String(props.type ?? "String") !== "SecureString") {
        const name = typeof props.name === "string" ? props.name : undefined;
        for (const key of ["value", "insecureValue"]) {
            if (typeof props[key] === "string") add("ssm", { field: `${key} (type "${props.type ?? "String"}"${name ? `, parameter "${name}"` : ""})`, name, value: props[key] });
        }
    }
    for (const [k, v] of Object.entries(tagsOf(props))) add("tags", { field: `tags "${k}"`, name: k, value: v });
}

export const noPlaintextSecrets: ResourceValidationPolicy = resourcePolicy<{ secretNamePatterns: string[]; referenceNameSuffixes: string[] }>({
    name: "no-plaintext-secrets",
    description:
        "No plaintext secret in ECS container environment, Lambda environment variables, EC2 user data, SSM String parameters or tags: found by value (secretlint's recommended rules, URLs with passwords) and by name (PASSWORD, SECRET, TOKEN, API_KEY, PRIVATE_KEY, DATABASE_URL... holding a literal).",
    severity: "critical",
    tags: ["secrets"],
    remediationSteps:
        "Keep the secret in Secrets Manager (RDS: manageMasterUserPassword) and pass a reference: ECS containers get it through secrets/valueFrom, Lambdas get the secret's ARN, SSM parameters are SecureString, instances fetch it at boot. Rotate any secret that was ever deployed in plain text. A value that only looks like a secret (a number, an ARN, a URL without credentials) passes; a variable whose name ends in _ARN, _NAME, _SECONDS... is treated as a reference.",
    config: {
        secretNamePatterns: {
            type: "array",
            items: { type: "string" },
            description: "Regular expressions matched against the upper-snake-case variable, key or tag name.",
            default: SECRET_SCAN_DEFAULTS.secretNamePatterns,
        },
        referenceNameSuffixes: {
            type: "array",
            items: { type: "string" },
            description: "Last name segments that mark a reference or a setting rather than a secret (SECRET_ARN, TOKEN_TTL_SECONDS).",
            default: SECRET_SCAN_DEFAULTS.referenceNameSuffixes,
        },
    },
    validate: async ({ args, props, config, report }) => {
        const items: { location: Location; item: NamedValue }[] = [];
        const problems: { field: string; problem: string }[] = [];
        collect(args.type, props, items, problems);
        for (const p of problems) report({ field: p.field, problem: p.problem, fix: "give containerDefinitions as the JSON list of container definitions" });
        if (items.length === 0) return;
        const findings = await scanValues(
            items.map((i) => i.item),
            { secretNamePatterns: stringList(config.secretNamePatterns), referenceNameSuffixes: stringList(config.referenceNameSuffixes) },
        );
        for (const f of findings) {
            const location = items.find((i) => i.item.field === f.field)?.location ?? "tags";
            report({ field: f.field, problem: `holds a plaintext secret (${f.reasons.join("; ")})`, fix: FIXES[location] });
        }
    },
});

export const secretPolicies = [noPlaintextSecrets];
