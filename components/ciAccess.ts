import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ecrRepositoryArnOf } from "./ecrImage";
import { grant, policyDocument, ROLE_KIND_TAG } from "./iam";
import { sessionManagerStatements } from "./previewEnvironment";
import { S3_BUCKET_ARN } from "../runtime/s3Names";

/**
 * Who may act on the stack's AWS account without a stored key (seed 004 kept static keys in
 * GitHub secrets; this replaces them):
 *
 * - GitHub Actions, through the account's `token.actions.githubusercontent.com` OIDC provider:
 *   a read-only preview role for pull requests of this repository, and an image-push role for
 *   pushes to its main branch, limited to the project's ECR repositories;
 * - Pulumi Deployments, through the `api.pulumi.com/oidc` provider, by the operation its token
 *   names: a `preview` of the stack gets the same read-only preview role; only `update`,
 *   `refresh`, `destroy` and the drift runs of exactly this organization, project and stack get
 *   the deploy role. A pull request's code runs in previews only, so it never holds the deploy role;
 * - optionally the review stacks of another project (pull-request environments): their own role,
 *   without data reads, since every operation of a review stack runs pull-request code, and with
 *   IAM only for the roles a review stack creates: under the review project's IAM path and carrying
 *   the review-instance permissions boundary, which allows no more than a preview instance needs.
 */

export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";
export const PULUMI_OIDC_HOST = "api.pulumi.com/oidc";
/** The project of the pull-request environments (pr-environments/), whose review stacks deploy into staging's account. */
export const REVIEW_STACKS_PROJECT = "jobfleet-pr-environments";

/**
 * Operations of a Pulumi Deployments token (`operation` claim and subject part; the CLI's
 * `pulumi deployment run` accepts the same six). Only these may assume the deploy role: they run
 * the stack's configured branch. `preview` is what pull requests run, and it gets the read-only role.
 */
export const DEPLOY_OPERATIONS = ["update", "refresh", "destroy", "detect-drift", "remediate-drift"] as const;
export const PREVIEW_OPERATIONS = ["preview"] as const;
export type DeploymentOperation = (typeof DEPLOY_OPERATIONS)[number] | (typeof PREVIEW_OPERATIONS)[number];

/**
 * AWS managed policies the preview role holds. ReadOnlyAccess lets `pulumi preview` (and
 * `--refresh`) read every resource type the stack has, including the ones other engineers add
 * later, without a hand-kept list that silently falls behind; its data reads are taken back by
 * DATA_PLANE_READS below, so a pull request can diff the infrastructure but not read its data.
 */
export const PREVIEW_MANAGED_POLICY_ARNS = ["arn:aws:iam::aws:policy/ReadOnlyAccess"] as const;

/**
 * Reads that return data rather than configuration: objects, secrets, messages, items, log lines,
 * image layers, instance passwords. A preview never needs them, and a pull request's workflow is
 * code anyone with write access to a branch can change. They are denied whether or not today's
 * ReadOnlyAccess grants each of them: AWS keeps extending that policy.
 */
export const DATA_PLANE_READS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTorrent",
    "s3:GetObjectVersionTorrent",
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "kms:Decrypt",
    "sqs:ReceiveMessage",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PartiQLSelect",
    "dynamodb:GetRecords",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StartLiveTail",
    "logs:GetLogRecord",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "ec2:GetPasswordData",
    "ec2:GetConsoleOutput",
    "ec2:GetConsoleScreenshot",
    "rds-db:connect",
] as const;

/**
 * What pushing an image to ECR needs on the repositories (docker push and buildx checks which
 * layers and tags exist first); the registry login, ecr:GetAuthorizationToken, is account-wide.
 */
export const IMAGE_PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:DescribeImages",
] as const;

/**
 * The deploy role creates and replaces every resource of the stack, IAM roles included, so it
 * holds AdministratorAccess (Pulumi documents it as what Deployments need); what bounds it is its
 * trust (one organization, project and stack) and DEPLOY_GUARDRAILS. The policy pack's ban on
 * admin managed policies is waived for this one role in policies/config/<stack>.json.
 */
export const DEPLOY_MANAGED_POLICY_ARNS = ["arn:aws:iam::aws:policy/AdministratorAccess"] as const;

/**
 * Explicit denies on the deploy role (an explicit deny beats its AdministratorAccess allow): no
 * long-lived credentials (IAM users, access keys, console passwords), no account or organization
 * changes, no SAML identity providers, no turning off the audit trail. Guardrails against mistakes
 * and casual misuse, not a security boundary: an administrator can still create a role without
 * them, or edit this policy; the trust, review and the policy pack are what bound the role.
 */
export const DEPLOY_GUARDRAILS = [
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:UploadSSHPublicKey",
    "iam:CreateSAMLProvider",
    "iam:UpdateSAMLProvider",
    "organizations:LeaveOrganization",
    "account:CloseAccount",
    "account:PutAlternateContact",
    "account:DeleteAlternateContact",
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
] as const;

export interface CiAccessArgs {
    /** `owner/name` of the GitHub repository whose workflows may assume the CI roles. */
    githubRepository: string;
    /**
     * Start of GitHub's `sub` claim for this repository, before `:pull_request` or `:ref:...`.
     * Empty or unset: the name form `repo:<owner>/<name>`. Repositories created, renamed or
     * transferred since GitHub's immutable subject claims (default from 2026-07-15) get
     * `repo:<owner>@<owner id>/<name>@<repository id>` instead; set that form here for them.
     */
    githubSubjectPrefix?: string;
    /**
     * Another Pulumi project of this organization whose review stacks (one per pull request) deploy
     * into this account; gets its own role. Unset: no review stacks here.
     */
    reviewStacksProject?: string;
    /**
     * The artifact bucket review stacks upload their pull requests' builds to (this stack's); required
     * with `reviewStacksProject`. Review stacks write only `*\/pr-*\/*` of it, and their instances read only that.
     */
    reviewArtifactBucketArn?: pulumi.Input<string>;
    /** Branch whose pushes may push images; the default is main. */
    mainBranch?: string;
    /** An existing `token.actions.githubusercontent.com` provider of the account; empty or unset: created here. */
    githubOidcProviderArn?: string;
    /** An existing `api.pulumi.com/oidc` provider of the account; empty or unset: created here. */
    pulumiOidcProviderArn?: string;
    /** Pulumi Cloud organization whose Deployments may assume the preview, deploy and review-stack roles. */
    pulumiOrganization: string;
    /** Pulumi project of the stack (jobfleet). */
    pulumiProject: string;
    /** The stack whose update, refresh, destroy and drift runs the deploy role serves. */
    stack: string;
    /** The project's ECR repositories, the only ones the image-push role may push to. */
    imageRepositoryArns: pulumi.Input<string>[];
    tags?: Record<string, string>;
}

const REPOSITORY = /^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/;
const BRANCH = /^[A-Za-z0-9._\/-]+$/;
const ORGANIZATION = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ECR_REPOSITORY_ARN = /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9][a-z0-9._\/-]*$/;

/** The distinct ECR repositories of a list of image references (images from other registries are skipped). */
export function ecrRepositoryArnsOf(images: readonly string[]): string[] {
    return [...new Set(images.map(ecrRepositoryArnOf).filter((arn): arn is string => arn !== undefined))].sort();
}

/** IAM role names, fixed so workflows and the deployments/ project can name the roles before they exist. */
export function ciRoleNames(project: string, stack: string): { preview: string; imagePush: string; deploy: string; reviewStacks: string } {
    return {
        preview: `${project}-${stack}-gha-preview`,
        imagePush: `${project}-${stack}-gha-image-push`,
        deploy: `${project}-${stack}-pulumi-deploy`,
        reviewStacks: `${project}-${stack}-review-stacks`,
    };
}

const GITHUB_NAME_PREFIX = /^repo:([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/;
const GITHUB_IMMUTABLE_PREFIX = /^repo:([A-Za-z0-9-]+)@(\d+)\/([A-Za-z0-9._-]+)@(\d+)$/;

/**
 * The subject prefix the trust pins: the name form by default, or the immutable-id form, which
 * must name the same owner and repository as `repository` (GitHub compares names case-insensitively).
 * Returns a problem sentence instead of throwing, for the caller to attach to its argument name.
 */
export function githubSubjectPrefixProblem(repository: string, prefix: string): string | undefined {
    const [owner, name] = repository.split("/");
    const named = GITHUB_NAME_PREFIX.exec(prefix);
    const immutable = GITHUB_IMMUTABLE_PREFIX.exec(prefix);
    const parts = named ? [named[1], named[2]] : immutable ? [immutable[1], immutable[3]] : undefined;
    if (!parts) return `repo:${repository} (name form) or repo:${owner}@<owner id>/${name}@<repository id> (GitHub's immutable form, digits only)`;
    if (parts[0].toLowerCase() !== owner?.toLowerCase() || parts[1].toLowerCase() !== name?.toLowerCase()) {
        return `a prefix for the repository ${repository} (it names ${parts[0]}/${parts[1]})`;
    }
    return undefined;
}

export function githubSubjectPrefixOf(repository: string, prefix?: string): string {
    return prefix ? prefix : `repo:${repository}`;
}

/** `sub` of GitHub's token for a workflow run on a push to `branch`. */
export function githubBranchSubject(subjectPrefix: string, branch: string): string {
    return `${subjectPrefix}:ref:refs/heads/${branch}`;
}

/** `sub` of GitHub's token for a workflow run triggered by a pull request. */
export function githubPullRequestSubject(subjectPrefix: string): string {
    return `${subjectPrefix}:pull_request`;
}

/** IAM path of the roles and instance profiles a review stack creates; the review-stacks role may create IAM only there. */
export function reviewIamPath(reviewStacksProject: string): string {
    return `/${reviewStacksProject}/`;
}

/** Name of the managed policy every role a review stack creates must carry as its permissions boundary. */
export function reviewInstanceBoundaryName(project: string, stack: string): string {
    return `${project}-${stack}-review-instance-boundary`;
}

/** Keys of pull-request builds (express-api/pr-51/...): the only objects review stacks write, and their instances read. */
export const PULL_REQUEST_BUILD_KEYS = "*/pr-*/*";

/**
 * IAM calls a review stack makes for the roles it creates (PreviewEnvironment's instance role, its
 * inline policies and its instance profile), allowed only on roles that carry the boundary: the
 * iam:PermissionsBoundary condition key is in the request context of each of these (IAM service
 * reference), so a role without the boundary, or with another one, can be neither created nor changed.
 */
export const REVIEW_BOUNDED_ROLE_ACTIONS = [
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRole",
] as const;

/** Reads and tags of the review roles, which take no boundary condition: allowed on the review path only. */
export const REVIEW_ROLE_READ_AND_TAG_ACTIONS = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRoleTags", "iam:TagRole", "iam:UntagRole"] as const;

/** The instance profiles of review instances, on the review path only. */
export const REVIEW_INSTANCE_PROFILE_ACTIONS = [
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:GetInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
    "iam:ListInstanceProfileTags",
] as const;

/**
 * Object operations a review stack may do only on pull-request builds of the artifact bucket, and
 * on no other object anywhere: it writes its build and removes its old ones (pre-run.sh), and never
 * reads, overwrites or deletes staging's or prod's builds, shell-job results or submissions.
 */
export const REVIEW_OBJECT_ACTIONS = ["s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject"] as const;

/**
 * The actions a review stack uses: its preview environment (EC2, load balancing, Auto Scaling, the
 * records of Route 53), its build's objects (S3), its bounded roles (IAM), the provider's identity
 * check (STS) and the listener's certificate (ACM reads). Every other action of PowerUserAccess is
 * denied, so pull-request code cannot touch staging's databases, queues, functions, clusters, keys,
 * secrets or bucket settings, assume other roles, or create hosted zones.
 */
export const REVIEW_STACK_ACTIONS = [
    "ec2:*",
    "elasticloadbalancing:*",
    "autoscaling:*",
    "route53:ChangeResourceRecordSets",
    "route53:Get*",
    "route53:List*",
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:ListBucket*",
    "s3:GetBucketLocation",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "iam:*",
    "sts:GetCallerIdentity",
    "acm:DescribeCertificate",
    "acm:ListCertificates",
] as const;

/** Within the services review stacks use, the resources of another stack they may create into: staging's VPC and subnets. */
export const REVIEW_SHARED_NETWORK_RESOURCES = ["arn:aws:ec2:*:*:vpc/*", "arn:aws:ec2:*:*:subnet/*"] as const;

/** What a review stack does to staging's VPC and subnets: launch instances and create its security groups in them, nothing else. */
export const REVIEW_SHARED_NETWORK_ACTIONS = ["ec2:RunInstances", "ec2:CreateSecurityGroup", "ec2:CreateNetworkInterface", "ec2:Describe*"] as const;

/**
 * Network plumbing a review stack never changes, denied on every resource, tagged or not (the VPC's
 * default network ACL and main route table carry no tags): routes, network ACLs, peering, gateways,
 * endpoints, flow logs.
 */
export const REVIEW_DENIED_NETWORK_ACTIONS = [
    "ec2:CreateNetworkAcl*",
    "ec2:DeleteNetworkAcl*",
    "ec2:ReplaceNetworkAcl*",
    "ec2:CreateRoute*",
    "ec2:DeleteRoute*",
    "ec2:ReplaceRoute*",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AcceptVpcPeeringConnection",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:CreateVpcEndpoint*",
    "ec2:ModifyVpc*",
    "ec2:AssociateVpcCidrBlock",
    "ec2:CreateSubnet*",
    "ec2:CreateFlowLogs",
    "ec2:DeleteFlowLogs",
] as const;

/** Rule changes on security groups; allowed only on the review stack's own groups (tagged review), never on the untagged default group. */
export const REVIEW_SECURITY_GROUP_CHANGES = ["ec2:AuthorizeSecurityGroup*", "ec2:RevokeSecurityGroup*", "ec2:ModifySecurityGroupRules", "ec2:UpdateSecurityGroupRuleDescriptions*", "ec2:DeleteSecurityGroup"] as const;

/** Purchases and capacity a pull request must never commit the account to. */
export const REVIEW_DENIED_PURCHASES = ["ec2:Purchase*", "ec2:AllocateHosts", "ec2:CreateCapacityReservation*", "ec2:ModifyReservedInstances", "ec2:CreateReservedInstancesListing", "ec2:AcceptReservedInstancesExchangeQuote"] as const;

/** Instance types a review environment may launch (burstable; seed 003 runs t3.small). */
export const REVIEW_INSTANCE_TYPES = ["t3.*", "t3a.*", "t4g.*"] as const;

/**
 * Target groups a review stack's Auto Scaling group may register its instances in: its own, whose
 * names start with the pull request's environment (`pr-<n>-tg-...`), never staging's.
 */
export const REVIEW_TARGET_GROUPS = "arn:aws:elasticloadbalancing:*:*:targetgroup/pr-*";

/** Service-linked roles a review stack's load balancer and group may need created; none may be deleted. */
export const REVIEW_SERVICE_LINKED_ROLES = ["elasticloadbalancing.amazonaws.com", "autoscaling.amazonaws.com"] as const;

/** DNS names a review stack may create, change or delete records for (pr-51.preview.example.com). */
export const REVIEW_DNS_NAMES = "pr-*";

/** The `Environment` tag values of the stacks review stacks share an account with, whose resources they must leave alone. */
export const REVIEW_STACK_PROTECTED_ENVIRONMENTS = ["staging", "prod"] as const;

/** The `Environment` tag of a review stack's resources (pr-environments/Pulumi.pr.yaml's aws:defaultTags). */
export const REVIEW_ENVIRONMENT_TAG = "review";

/**
 * Review stacks are created by Pulumi Deployments as `pr-<organization>-<repository>-<number>` (and
 * by hand as `pr-<number>`): their role trusts that prefix only, never every stack of the project.
 */
export const REVIEW_STACK_PATTERN = "pr-*";

/** `sub` of a Pulumi Deployments token for one operation on one stack (`*` only where a caller means it). */
export function pulumiDeploymentSubject(organization: string, project: string, stack: string, operation: DeploymentOperation | "*"): string {
    return `pulumi:deploy:org:${organization}:project:${project}:stack:${stack}:operation:${operation}:scope:write`;
}

/** Throws, naming the argument, the value and what was expected, before anything is registered. */
export function checkCiAccessArgs(name: string, args: CiAccessArgs): void {
    const fail = (field: string, value: unknown, expected: string) => {
        throw new Error(`CiAccess ${name}: ${field} must be ${expected} (got ${JSON.stringify(value)}).`);
    };
    if (!REPOSITORY.test(args.githubRepository ?? "")) fail("githubRepository", args.githubRepository, "a GitHub repository written owner/name, like jobfleet-org/jobfleet");
    if (args.githubSubjectPrefix) {
        const problem = REPOSITORY.test(args.githubRepository) ? githubSubjectPrefixProblem(args.githubRepository, args.githubSubjectPrefix) : undefined;
        if (problem) fail("githubSubjectPrefix", args.githubSubjectPrefix, `empty or ${problem}`);
    }
    if (args.reviewStacksProject !== undefined && (!NAME.test(args.reviewStacksProject) || args.reviewStacksProject === args.pulumiProject)) {
        fail("reviewStacksProject", args.reviewStacksProject, `unset or the name of another Pulumi project than ${args.pulumiProject} (letters, digits, _ . -)`);
    }
    if (args.reviewStacksProject !== undefined && !args.reviewArtifactBucketArn) {
        fail("reviewArtifactBucketArn", args.reviewArtifactBucketArn, `the ARN of the artifact bucket the ${args.reviewStacksProject} review stacks upload to (arn:aws:s3:::<bucket>), since their role and instances may touch only pull-request builds in it`);
    }
    if (typeof args.reviewArtifactBucketArn === "string" && !S3_BUCKET_ARN.test(args.reviewArtifactBucketArn)) {
        fail("reviewArtifactBucketArn", args.reviewArtifactBucketArn, "an S3 bucket ARN like arn:aws:s3:::jobfleet-staging-artifacts");
    }
    if (args.mainBranch !== undefined && (!BRANCH.test(args.mainBranch) || args.mainBranch.includes("*"))) {
        fail("mainBranch", args.mainBranch, "a branch name without wildcards, like main");
    }
    if (!ORGANIZATION.test(args.pulumiOrganization ?? "")) fail("pulumiOrganization", args.pulumiOrganization, "a Pulumi organization name (letters, digits, _ . -)");
    if (!NAME.test(args.pulumiProject ?? "")) fail("pulumiProject", args.pulumiProject, "a Pulumi project name (letters, digits, _ . -)");
    if (!NAME.test(args.stack ?? "")) fail("stack", args.stack, "a stack name (letters, digits, _ . -)");
    if (args.githubOidcProviderArn && !new RegExp(`^arn:aws[a-z-]*:iam::\\d{12}:oidc-provider/${GITHUB_OIDC_HOST.replace(/\./g, "\\.")}$`).test(args.githubOidcProviderArn)) {
        fail("githubOidcProviderArn", args.githubOidcProviderArn, `empty or the ARN of an IAM OIDC provider for ${GITHUB_OIDC_HOST} (arn:aws:iam::<account>:oidc-provider/${GITHUB_OIDC_HOST})`);
    }
    if (args.pulumiOidcProviderArn && !new RegExp(`^arn:aws[a-z-]*:iam::\\d{12}:oidc-provider/${PULUMI_OIDC_HOST.replace(/\./g, "\\.")}$`).test(args.pulumiOidcProviderArn)) {
        fail("pulumiOidcProviderArn", args.pulumiOidcProviderArn, `empty or the ARN of an IAM OIDC provider for ${PULUMI_OIDC_HOST} (arn:aws:iam::<account>:oidc-provider/${PULUMI_OIDC_HOST})`);
    }
    if (!Array.isArray(args.imageRepositoryArns) || args.imageRepositoryArns.length === 0) {
        fail("imageRepositoryArns", args.imageRepositoryArns, "a non-empty list of ECR repository ARNs (the image-push role may push nowhere else)");
    }
    for (const arn of args.imageRepositoryArns) {
        if (typeof arn === "string" && !ECR_REPOSITORY_ARN.test(arn)) {
            fail("imageRepositoryArns", arn, "ECR repository ARNs like arn:aws:ecr:us-east-1:123456789012:repository/jobfleet/runner, without wildcards");
        }
    }
}

/**
 * Reads a review stack may not do even though its role may create and change EC2, load balancing
 * and S3 objects: secret values, parameters, database logins, queue messages, table items, logs.
 * Every operation of a review stack runs pull-request code.
 */
export const REVIEW_STACK_DENIED_READS = [
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "rds-db:connect",
    "sqs:ReceiveMessage",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "ec2:GetPasswordData",
] as const;

/** PowerUserAccess allows everything but IAM, Organizations and Account; review stacks get IAM only for their bounded roles (REVIEW_BOUNDED_ROLE_ACTIONS). */
export const REVIEW_STACK_MANAGED_POLICY_ARNS = ["arn:aws:iam::aws:policy/PowerUserAccess"] as const;

export class CiAccess extends pulumi.ComponentResource {
    public readonly githubOidcProviderArn: pulumi.Output<string>;
    public readonly pulumiOidcProviderArn: pulumi.Output<string>;
    /** Assumed by pull-request workflows and by Pulumi Deployments previews of the stack. */
    public readonly previewRoleArn: pulumi.Output<string>;
    /** Assumed by main-branch workflows to push images. */
    public readonly imagePushRoleArn: pulumi.Output<string>;
    /** Assumed by Pulumi Deployments update, refresh, destroy and drift runs of the stack, and nothing else. */
    public readonly deployRoleArn: pulumi.Output<string>;
    /** Assumed by every operation of the review stacks of `reviewStacksProject`; undefined without it. */
    public readonly reviewStacksRoleArn?: pulumi.Output<string>;
    /** Where review stacks create their roles: the IAM path and the permissions boundary each must carry; undefined without review stacks. */
    public readonly reviewStackIam?: { path: string; permissionsBoundaryArn: pulumi.Output<string> };

    constructor(name: string, args: CiAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        checkCiAccessArgs(name, args);
        super("jobfleet:ci:CiAccess", name, {}, opts);
        const tags = { ...(args.tags ?? {}), [ROLE_KIND_TAG]: "ci" };
        const repository = args.githubRepository;
        const subjectPrefix = githubSubjectPrefixOf(repository, args.githubSubjectPrefix);
        const mainBranch = args.mainBranch ?? "main";
        const org = args.pulumiOrganization;
        const roleNames = ciRoleNames(args.pulumiProject, args.stack);

        this.githubOidcProviderArn = args.githubOidcProviderArn
            ? pulumi.output(args.githubOidcProviderArn)
            : new aws.iam.OpenIdConnectProvider(
                  `${name}-github`,
                  // No thumbprint: IAM trusts GitHub's certificate through its own CA library.
                  { url: `https://${GITHUB_OIDC_HOST}`, clientIdLists: [GITHUB_OIDC_AUDIENCE], tags: args.tags },
                  { parent: this },
              ).arn;
        this.pulumiOidcProviderArn = args.pulumiOidcProviderArn
            ? pulumi.output(args.pulumiOidcProviderArn)
            : new aws.iam.OpenIdConnectProvider(
                  `${name}-pulumi`,
                  // Deployments tokens carry aud=<org>.
                  { url: `https://${PULUMI_OIDC_HOST}`, clientIdLists: [org], tags: args.tags },
                  { parent: this },
              ).arn;

        const githubStatement = (subject: string) => ({
            Sid: "GitHubActionsOidc",
            Effect: "Allow",
            Principal: { Federated: this.githubOidcProviderArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: { StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE, [`${GITHUB_OIDC_HOST}:sub`]: subject } },
        });
        // StringEquals with a list: the token's subject is one of these exact strings; no wildcard.
        const deploymentsStatement = (sid: string, project: string, stack: string, operations: readonly DeploymentOperation[]) => ({
            Sid: sid,
            Effect: "Allow",
            Principal: { Federated: this.pulumiOidcProviderArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
                StringEquals: {
                    [`${PULUMI_OIDC_HOST}:aud`]: org,
                    [`${PULUMI_OIDC_HOST}:sub`]: operations.map((operation) => pulumiDeploymentSubject(org, project, stack, operation)),
                },
            },
        });

        const previewRole = new aws.iam.Role(
            `${name}-preview`,
            {
                name: roleNames.preview,
                description: `Read-only: pulumi preview of ${args.pulumiProject}/${args.stack} from pull requests of ${repository} and Pulumi Deployments previews`,
                assumeRolePolicy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [githubStatement(githubPullRequestSubject(subjectPrefix)), deploymentsStatement("PulumiDeploymentsPreview", args.pulumiProject, args.stack, PREVIEW_OPERATIONS)],
                }),
                maxSessionDuration: 3600,
                tags,
            },
            { parent: this },
        );
        PREVIEW_MANAGED_POLICY_ARNS.forEach((policyArn, i) => {
            new aws.iam.RolePolicyAttachment(`${name}-preview-readonly-${i}`, { role: previewRole.name, policyArn }, { parent: this });
        });
        grant(`${name}-preview-no-data`, previewRole, [{ Sid: "DenyDataPlaneReads", Effect: "Deny", Action: [...DATA_PLANE_READS], Resource: "*" }], { parent: this });

        const imagePushRole = new aws.iam.Role(
            `${name}-image-push`,
            {
                name: roleNames.imagePush,
                description: `Pushes images to the ${args.pulumiProject} ECR repositories from ${repository}@${mainBranch}`,
                assumeRolePolicy: pulumi.jsonStringify({ Version: "2012-10-17", Statement: [githubStatement(githubBranchSubject(subjectPrefix, mainBranch))] }),
                maxSessionDuration: 3600,
                tags,
            },
            { parent: this },
        );
        grant(
            `${name}-image-push`,
            imagePushRole,
            [
                // ECR only accepts * here: the login token is for the whole registry.
                { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
                // The same repository may come from an image setting and from the component that creates it.
                pulumi.all(args.imageRepositoryArns).apply((arns) => ({
                    Sid: "EcrPushProjectRepositories",
                    Effect: "Allow" as const,
                    Action: [...IMAGE_PUSH_ACTIONS],
                    Resource: [...new Set(arns)].sort(),
                })),
            ],
            { parent: this },
        );

        const deployRole = new aws.iam.Role(
            `${name}-deploy`,
            {
                name: roleNames.deploy,
                description: `pulumi up/refresh/destroy and drift runs of ${org}/${args.pulumiProject}/${args.stack} by Pulumi Deployments; never previews`,
                assumeRolePolicy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [deploymentsStatement("PulumiDeploymentsDeploy", args.pulumiProject, args.stack, DEPLOY_OPERATIONS)],
                }),
                maxSessionDuration: 3600,
                tags,
            },
            { parent: this },
        );
        DEPLOY_MANAGED_POLICY_ARNS.forEach((policyArn, i) => {
            new aws.iam.RolePolicyAttachment(`${name}-deploy-admin-${i}`, { role: deployRole.name, policyArn }, { parent: this });
        });
        grant(`${name}-deploy-guardrails`, deployRole, [{ Sid: "DenyLongLivedCredentialsAndAccountChanges", Effect: "Deny", Action: [...DEPLOY_GUARDRAILS], Resource: "*" }], { parent: this });

        if (args.reviewStacksProject) {
            const reviewProject = args.reviewStacksProject;
            const bucketArn = pulumi.output(args.reviewArtifactBucketArn!);
            const iamPath = reviewIamPath(reviewProject);
            const partition = aws.getPartitionOutput({}, { parent: this }).partition;
            const region = aws.getRegionOutput({}, { parent: this }).name;
            const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
            const pullRequestBuilds = pulumi.interpolate`${bucketArn}/${PULL_REQUEST_BUILD_KEYS}`;

            // The most any role of a review stack can do, whatever policy the pull request writes into it.
            const boundary = new aws.iam.Policy(
                `${name}-review-instance-boundary`,
                {
                    name: reviewInstanceBoundaryName(args.pulumiProject, args.stack),
                    description: `Permissions boundary of every role the ${reviewProject} review stacks create: read pull-request builds, Session Manager`,
                    // Only on an instance: credentials of these roles taken elsewhere (a trust policy a pull request
                    // opened to another account) carry no ec2:SourceInstanceARN and get nothing.
                    policy: policyDocument(
                        [
                            { Sid: "ReadPullRequestBuilds", Effect: "Allow" as const, Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: pullRequestBuilds },
                            ...sessionManagerStatements(partition, region, accountId),
                        ].map((statement) => ({ ...statement, Condition: { Null: { "ec2:SourceInstanceARN": "false" } } })),
                    ),
                    tags: args.tags,
                },
                { parent: this },
            );
            const reviewRole = new aws.iam.Role(
                `${name}-review-stacks`,
                {
                    name: roleNames.reviewStacks,
                    description: `Every operation of the ${org}/${reviewProject} review stacks (pull-request code): IAM only for bounded roles under ${iamPath}, no secret or data reads`,
                    assumeRolePolicy: pulumi.jsonStringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Sid: "PulumiDeploymentsReviewStacks",
                                Effect: "Allow",
                                Principal: { Federated: this.pulumiOidcProviderArn },
                                Action: "sts:AssumeRoleWithWebIdentity",
                                Condition: {
                                    StringEquals: { [`${PULUMI_OIDC_HOST}:aud`]: org },
                                    StringLike: { [`${PULUMI_OIDC_HOST}:sub`]: pulumiDeploymentSubject(org, reviewProject, REVIEW_STACK_PATTERN, "*") },
                                },
                            },
                        ],
                    }),
                    maxSessionDuration: 3600,
                    tags,
                },
                { parent: this },
            );
            REVIEW_STACK_MANAGED_POLICY_ARNS.forEach((policyArn, i) => {
                new aws.iam.RolePolicyAttachment(`${name}-review-stacks-poweruser-${i}`, { role: reviewRole.name, policyArn }, { parent: this });
            });
            grant(
                `${name}-review-stacks-no-data`,
                reviewRole,
                [
                    { Sid: "DenySecretAndDataReads", Effect: "Deny", Action: [...REVIEW_STACK_DENIED_READS], Resource: "*" },
                    { Sid: "DenyLongLivedCredentialsAndAccountChanges", Effect: "Deny", Action: [...DEPLOY_GUARDRAILS], Resource: "*" },
                ],
                { parent: this },
            );
            // NotResource and NotAction have no place in PolicyStatement (one shape everywhere): these denies are written out.
            new aws.iam.RolePolicy(
                `${name}-review-stacks-scope`,
                {
                    role: reviewRole.id,
                    policy: pulumi.jsonStringify({
                        Version: "2012-10-17",
                        Statement: [
                            { Sid: "DenyActionsReviewStacksDoNotUse", Effect: "Deny", NotAction: [...REVIEW_STACK_ACTIONS], Resource: "*" },
                            { Sid: "DenyObjectsOutsidePullRequestBuilds", Effect: "Deny", Action: [...REVIEW_OBJECT_ACTIONS], NotResource: [pullRequestBuilds] },
                            { Sid: "DenyListingOtherBuckets", Effect: "Deny", Action: ["s3:ListBucket*"], NotResource: [bucketArn] },
                            // Everything on a resource of another environment, but for staging's VPC and subnets, which the next statement covers.
                            {
                                Sid: "DenyResourcesOfOtherEnvironments",
                                Effect: "Deny",
                                Action: ["ec2:*", "elasticloadbalancing:*", "autoscaling:*"],
                                NotResource: [...REVIEW_SHARED_NETWORK_RESOURCES],
                                Condition: { StringEquals: { "aws:ResourceTag/Environment": [...REVIEW_STACK_PROTECTED_ENVIRONMENTS] } },
                            },
                            {
                                Sid: "DenySharedNetworkChanges",
                                Effect: "Deny",
                                NotAction: [...REVIEW_SHARED_NETWORK_ACTIONS],
                                Resource: [...REVIEW_SHARED_NETWORK_RESOURCES],
                                Condition: { StringEquals: { "aws:ResourceTag/Environment": [...REVIEW_STACK_PROTECTED_ENVIRONMENTS] } },
                            },
                            { Sid: "DenyNetworkPlumbing", Effect: "Deny", Action: [...REVIEW_DENIED_NETWORK_ACTIONS], Resource: "*" },
                            {
                                Sid: "DenyOtherSecurityGroups",
                                Effect: "Deny",
                                Action: [...REVIEW_SECURITY_GROUP_CHANGES],
                                Resource: "arn:aws:ec2:*:*:security-group/*",
                                Condition: { StringNotEquals: { "aws:ResourceTag/Environment": REVIEW_ENVIRONMENT_TAG } },
                            },
                            { Sid: "DenyPurchases", Effect: "Deny", Action: [...REVIEW_DENIED_PURCHASES], Resource: "*" },
                            {
                                Sid: "DenyLargeInstances",
                                Effect: "Deny",
                                Action: "ec2:RunInstances",
                                Resource: "arn:aws:ec2:*:*:instance/*",
                                Condition: { StringNotLike: { "ec2:InstanceType": [...REVIEW_INSTANCE_TYPES] } },
                            },
                            {
                                Sid: "DenyOtherTargetGroups",
                                Effect: "Deny",
                                Action: ["autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:AttachLoadBalancerTargetGroups"],
                                Resource: "*",
                                Condition: { "ForAnyValue:ArnNotLike": { "autoscaling:TargetGroupARNs": [REVIEW_TARGET_GROUPS] } },
                            },
                            {
                                Sid: "DenyOtherTrafficSources",
                                Effect: "Deny",
                                Action: ["autoscaling:CreateAutoScalingGroup", "autoscaling:AttachTrafficSources"],
                                Resource: "*",
                                Condition: { "ForAnyValue:StringNotLike": { "autoscaling:TrafficSourceIdentifiers": [REVIEW_TARGET_GROUPS] } },
                            },
                            { Sid: "DenyServiceLinkedRoleDeletion", Effect: "Deny", Action: ["iam:DeleteServiceLinkedRole"], Resource: "*" },
                            {
                                Sid: "DenyOtherServiceLinkedRoles",
                                Effect: "Deny",
                                Action: "iam:CreateServiceLinkedRole",
                                Resource: "*",
                                Condition: { StringNotEquals: { "iam:AWSServiceName": [...REVIEW_SERVICE_LINKED_ROLES] } },
                            },
                            // A review stack's only record is pr-<n>.<preview domain>; other names in the account's zones stay staging's.
                            {
                                Sid: "DenyDnsNamesOtherThanPullRequests",
                                Effect: "Deny",
                                Action: "route53:ChangeResourceRecordSets",
                                Resource: "*",
                                Condition: { "ForAnyValue:StringNotLike": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": [REVIEW_DNS_NAMES] } },
                            },
                        ],
                    }),
                },
                { parent: this },
            );
            const reviewRoles = pulumi.interpolate`arn:${partition}:iam::${accountId}:role${iamPath}*`;
            grant(
                `${name}-review-stacks-iam`,
                reviewRole,
                [
                    { Sid: "BoundedReviewRoles", Effect: "Allow", Action: [...REVIEW_BOUNDED_ROLE_ACTIONS], Resource: reviewRoles, Condition: { StringEquals: { "iam:PermissionsBoundary": boundary.arn } } },
                    { Sid: "ReadAndTagReviewRoles", Effect: "Allow", Action: [...REVIEW_ROLE_READ_AND_TAG_ACTIONS], Resource: reviewRoles },
                    { Sid: "ReviewInstanceProfiles", Effect: "Allow", Action: [...REVIEW_INSTANCE_PROFILE_ACTIONS], Resource: pulumi.interpolate`arn:${partition}:iam::${accountId}:instance-profile${iamPath}*` },
                    // Every role on the path carries the boundary (it cannot be created or changed without it).
                    // IfExists: AddRoleToInstanceProfile is documented to check PassRole, not that it names the service.
                    { Sid: "PassReviewRolesToEc2", Effect: "Allow", Action: "iam:PassRole", Resource: reviewRoles, Condition: { StringEqualsIfExists: { "iam:PassedToService": "ec2.amazonaws.com" } } },
                ],
                { parent: this },
            );
            this.reviewStacksRoleArn = reviewRole.arn;
            this.reviewStackIam = { path: iamPath, permissionsBoundaryArn: boundary.arn };
        }

        this.previewRoleArn = previewRole.arn;
        this.imagePushRoleArn = imagePushRole.arn;
        this.deployRoleArn = deployRole.arn;
        this.registerOutputs({
            githubOidcProviderArn: this.githubOidcProviderArn,
            pulumiOidcProviderArn: this.pulumiOidcProviderArn,
            previewRoleArn: this.previewRoleArn,
            imagePushRoleArn: this.imagePushRoleArn,
            deployRoleArn: this.deployRoleArn,
            reviewStacksRoleArn: this.reviewStacksRoleArn,
            reviewStackIam: this.reviewStackIam,
        });
    }
}
