// Pre-run command of the jobfleet stacks' Pulumi Deployments: picks the AWS role for the operation
// this deployment's OIDC token names and writes an AWS config profile that exchanges the token for it.
//
// Deployments' own AWS OIDC setting takes one role for every operation; the jobfleet stacks need two
// (read-only for previews, which run pull-request code; the deploy role for update, refresh,
// destroy and drift runs). The token itself is what IAM checks: the deploy role's trust admits
// only those operations' subjects, so a preview that rewrote this file still cannot assume it.
import * as fs from "fs";
import * as path from "path";
import { DEPLOY_OPERATIONS, DeploymentOperation, PREVIEW_OPERATIONS } from "../components/ciAccess";

/** Where Pulumi Deployments puts each deployment's OIDC token (also in PULUMI_OIDC_TOKEN). */
export const DEPLOYMENTS_TOKEN_FILE = "/mnt/pulumi/pulumi.oidc";
/** The AWS config file this command writes; DeploymentSettings point AWS_CONFIG_FILE at it. */
export const AWS_CONFIG_PATH = "/tmp/jobfleet-aws/config";

export interface DeploymentClaims {
    organization: string;
    project: string;
    stack: string;
    operation: DeploymentOperation;
}

export interface RoleChoice {
    operation: DeploymentOperation;
    roleArn: string;
    kind: "preview" | "deploy";
}

const SUBJECT = /^pulumi:deploy:org:([^:]+):project:([^:]+):stack:([^:]+):operation:([^:]+):scope:write$/;
const OPERATIONS: readonly string[] = [...DEPLOY_OPERATIONS, ...PREVIEW_OPERATIONS];

/** The claims of a Deployments token's subject. Not a signature check: AWS STS verifies the token. */
export function claimsOf(token: string): DeploymentClaims {
    const parts = token.trim().split(".");
    if (parts.length !== 3) throw new Error("the Deployments OIDC token is not a JWT (expected three dot-separated parts)");
    let payload: { sub?: unknown };
    try {
        payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    } catch (err) {
        throw new Error(`the Deployments OIDC token's payload is not JSON (${(err as Error).message})`);
    }
    const match = typeof payload.sub === "string" ? SUBJECT.exec(payload.sub) : null;
    if (!match) throw new Error(`the token's sub ${JSON.stringify(payload.sub)} is not a Pulumi Deployments subject (pulumi:deploy:org:<org>:project:<project>:stack:<stack>:operation:<operation>:scope:write)`);
    const [, organization, project, stack, operation] = match;
    if (!OPERATIONS.includes(operation)) throw new Error(`the token names the operation ${JSON.stringify(operation)}; expected one of ${OPERATIONS.join(", ")}`);
    return { organization, project, stack, operation: operation as DeploymentOperation };
}

/**
 * The role for the token's operation, after checking the token is for the stack these settings
 * belong to (a token of another stack would fail at STS anyway; this says why, before it).
 */
export function roleFor(claims: DeploymentClaims, expected: { organization: string; project: string; stack: string }, roles: { preview: string; deploy: string }, ciOperation?: string): RoleChoice {
    for (const key of ["organization", "project", "stack"] as const) {
        if (claims[key] !== expected[key]) throw new Error(`the Deployments token is for ${key} ${JSON.stringify(claims[key])}, but these settings belong to ${JSON.stringify(expected[key])}`);
    }
    if (ciOperation !== undefined && ciOperation !== "" && ciOperation !== claims.operation) {
        throw new Error(`PULUMI_CI_OPERATION is ${JSON.stringify(ciOperation)} but the token names ${JSON.stringify(claims.operation)}; refusing to guess`);
    }
    const deploys = (DEPLOY_OPERATIONS as readonly string[]).includes(claims.operation);
    return { operation: claims.operation, roleArn: deploys ? roles.deploy : roles.preview, kind: deploys ? "deploy" : "preview" };
}

/** An AWS shared config whose default profile assumes `roleArn` with the web identity token in `tokenFile`. */
export function awsConfigText(roleArn: string, tokenFile: string, sessionName: string, region: string): string {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/.test(roleArn)) throw new Error(`role ${JSON.stringify(roleArn)} is not an IAM role ARN`);
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw new Error(`session name ${JSON.stringify(sessionName)} must be 2-64 characters of letters, digits and +=,.@_-`);
    return ["[default]", `role_arn = ${roleArn}`, `web_identity_token_file = ${tokenFile}`, `role_session_name = ${sessionName}`, `region = ${region}`, ""].join("\n");
}

function argument(argv: string[], name: string): string {
    const i = argv.indexOf(`--${name}`);
    const value = i >= 0 ? argv[i + 1] : undefined;
    if (!value || value.startsWith("--")) throw new Error(`--${name} is required`);
    return value;
}

export function main(argv: string[], env: NodeJS.ProcessEnv): RoleChoice {
    const expected = { organization: argument(argv, "organization"), project: argument(argv, "project"), stack: argument(argv, "stack") };
    const roles = { preview: argument(argv, "preview-role"), deploy: argument(argv, "deploy-role") };
    const region = argument(argv, "region");
    const configPath = env.AWS_CONFIG_FILE || AWS_CONFIG_PATH;
    let tokenFile = env.JOBFLEET_OIDC_TOKEN_FILE || DEPLOYMENTS_TOKEN_FILE;
    if (!fs.existsSync(tokenFile)) {
        if (!env.PULUMI_OIDC_TOKEN) throw new Error(`no Deployments OIDC token: ${tokenFile} does not exist and PULUMI_OIDC_TOKEN is not set`);
        tokenFile = path.join(path.dirname(configPath), "pulumi.oidc");
        fs.mkdirSync(path.dirname(tokenFile), { recursive: true });
        fs.writeFileSync(tokenFile, env.PULUMI_OIDC_TOKEN, { mode: 0o600 });
    }
    const choice = roleFor(claimsOf(fs.readFileSync(tokenFile, "utf8")), expected, roles, env.PULUMI_CI_OPERATION);
    fs.mkdirSync(path.dirname(configPath), { recursive: true });
    fs.writeFileSync(configPath, awsConfigText(choice.roleArn, tokenFile, `${expected.project}-${expected.stack}-${choice.operation}`.slice(0, 64), region), { mode: 0o600 });
    return choice;
}

if (require.main === module) {
    try {
        const choice = main(process.argv.slice(2), process.env);
        console.log(`${choice.operation}: AWS through the ${choice.kind} role ${choice.roleArn}`);
    } catch (err) {
        console.error(`error: ${(err as Error).message}`);
        process.exit(2);
    }
}
