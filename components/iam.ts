import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/**
 * One way to write IAM across jobfleet, so the policy pack and reviewers meet the same shapes
 * everywhere: documents are JSON strings, statements carry a Sid, roles are tagged with what they
 * are for, and service trust carries `aws:SourceAccount` (the confused-deputy guard).
 */

/** What a role is for; the policy pack reads it from the `jobfleet:role-kind` tag. */
export type RoleKind =
    /** ECS task execution role: pulls the image, writes logs, reads the secrets it injects. */
    | "execution"
    /** ECS task role of a long-running or one-shot workload. */
    | "task"
    /** Lambda function role. */
    | "lambda"
    /** EC2 instance role. */
    | "instance"
    /** Assumed by CI or Pulumi Deployments through OIDC. */
    | "ci";

export const ROLE_KIND_TAG = "jobfleet:role-kind";

export interface PolicyStatement {
    Sid: string;
    Effect: "Allow" | "Deny";
    Action: string | string[];
    Resource: pulumi.Input<string> | pulumi.Input<string>[];
    Condition?: Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[]>>;
}

/** A policy document as the JSON string IAM stores, resolving any outputs inside it. */
export function policyDocument(statements: pulumi.Input<PolicyStatement>[]): pulumi.Output<string> {
    for (const s of statements) {
        if (pulumi.Output.isInstance(s)) continue;
        const st = s as PolicyStatement;
        if (!/^[A-Za-z0-9]+$/.test(st.Sid)) throw new Error(`IAM statement Sid ${JSON.stringify(st.Sid)} must be alphanumeric (IAM rejects other characters).`);
        if ((Array.isArray(st.Action) ? st.Action : [st.Action]).length === 0) throw new Error(`IAM statement ${st.Sid} has no actions.`);
    }
    return pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements });
}

const SERVICE_PRINCIPALS: Record<Exclude<RoleKind, "ci">, string> = {
    execution: "ecs-tasks.amazonaws.com",
    task: "ecs-tasks.amazonaws.com",
    lambda: "lambda.amazonaws.com",
    instance: "ec2.amazonaws.com",
};

export interface ServiceRoleArgs {
    kind: Exclude<RoleKind, "ci">;
    description: string;
    tags?: Record<string, string>;
    /** IAM path of the role (default `/`); see `DelegatedIam`. */
    path?: pulumi.Input<string>;
    /** Managed policy capping what the role's own policies can grant; see `DelegatedIam`. */
    permissionsBoundary?: pulumi.Input<string>;
}

/**
 * Where a stack deploying under delegated IAM (a review stack, whose every operation runs
 * pull-request code) may create roles: under one IAM path, each carrying one permissions boundary.
 * The role that deploys such a stack may create, change, pass and delete only roles that carry the
 * boundary (components/ciAccess.ts), so whatever policy a pull request writes, its roles can do no
 * more than the boundary allows.
 */
export interface DelegatedIam {
    /** IAM path like `/jobfleet-pr-environments/`: the roles' and instance profiles' ARNs start with it. */
    path: pulumi.Input<string>;
    /** ARN of the managed policy every role created there must carry as its permissions boundary. */
    permissionsBoundaryArn: pulumi.Input<string>;
}

/** IAM's own rule for a path other than `/`: `/` + printable ASCII + `/` (at most 512 characters in all). */
export const DELEGATED_IAM_PATH = /^\/[\x21-\x7e]+\/$/;

/**
 * Why a value cannot be the path of delegated IAM, or undefined when it can: an IAM path, and not
 * `/`, where every other role of the account lives.
 */
export function delegatedIamPathProblem(path: unknown): string | undefined {
    if (path === "/") return "must not be /, the path of every other role of the account";
    if (typeof path !== "string" || !DELEGATED_IAM_PATH.test(path) || path.length > 512) return "must be an IAM path like /<name>/ (printable ASCII between slashes, at most 512 characters)";
    return undefined;
}

/**
 * A role an AWS service assumes on the stack's behalf. ECS and Lambda trust is bound to this
 * account with `aws:SourceAccount`; EC2 does not send that key when it assumes an instance role,
 * so instance trust names the service alone.
 */
export function serviceRole(name: string, args: ServiceRoleArgs, opts: pulumi.CustomResourceOptions): aws.iam.Role {
    const principal = SERVICE_PRINCIPALS[args.kind];
    const accountId = aws.getCallerIdentityOutput({}, { parent: opts.parent }).accountId;
    const condition = args.kind === "instance" ? undefined : { StringEquals: { "aws:SourceAccount": accountId } };
    return new aws.iam.Role(
        name,
        {
            description: args.description,
            assumeRolePolicy: pulumi.jsonStringify({
                Version: "2012-10-17",
                Statement: [{ Sid: "TrustService", Effect: "Allow", Principal: { Service: principal }, Action: "sts:AssumeRole", ...(condition ? { Condition: condition } : {}) }],
            }),
            tags: { ...(args.tags ?? {}), [ROLE_KIND_TAG]: args.kind },
            ...(args.path !== undefined ? { path: args.path } : {}),
            ...(args.permissionsBoundary !== undefined ? { permissionsBoundary: args.permissionsBoundary } : {}),
        },
        opts,
    );
}

/** Adds an inline policy to a role; returns it so callers can depend on it. */
export function grant(name: string, role: aws.iam.Role, statements: pulumi.Input<PolicyStatement>[], opts: pulumi.CustomResourceOptions): aws.iam.RolePolicy {
    return new aws.iam.RolePolicy(name, { role: role.id, policy: policyDocument(statements) }, opts);
}

/** ARN of every object under a key prefix of a bucket. */
export function objectArn(bucketArn: pulumi.Input<string>, keyPattern: string): pulumi.Output<string> {
    if (keyPattern.startsWith("/")) throw new Error(`S3 key pattern ${JSON.stringify(keyPattern)} must not start with /.`);
    return pulumi.interpolate`${bucketArn}/${keyPattern}`;
}
