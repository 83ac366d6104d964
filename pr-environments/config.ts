import { z } from "zod";
import { cidrProblem } from "../components/previewEnvironment";
import { PullRequest, PullRequestUnknownError, resolvePullRequest } from "./pullRequest";

/**
 * The settings of a review stack (project jobfleet-pr-environments), declared once and validated
 * before anything is registered. `Pulumi.yaml` declares the same keys with the same defaults (a
 * test keeps them in step); `Pulumi.pr.yaml`, the review stack template, sets the rest.
 */
export const PR_PROJECT = "jobfleet-pr-environments";

type Kind = "string" | "integer" | "array";

interface KeySpec<T> {
    kind: Kind;
    description: string;
    default?: T;
    schema: z.ZodType<T>;
}

function spec<T>(kind: Kind, description: string, schema: z.ZodType<T>, defaultValue?: T): KeySpec<T> {
    return { kind, description, schema, default: defaultValue };
}

const STACK_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export const PR_CONFIG_KEYS = {
    stagingStack: spec(
        "string",
        "The stack whose network and artifact bucket review stacks share, fully qualified: <organization>/jobfleet/staging.",
        z.string().regex(STACK_REFERENCE, "a fully qualified stack name <organization>/<project>/<stack>, like jobfleet-org/jobfleet/staging").refine((v) => !/\/prod$/.test(v), "a staging stack: review stacks must never share prod's network and bucket"),
    ),
    app: spec("string", "Application name, the first part of every artifact key (seed 003: express-api).", z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"), "express-api"),
    artifactPath: spec("string", "The deployment tarball this build uploads, relative to pr-environments/ (the pre-run commands build it there, or CI hands it in).", z.string().trim().min(1, "a file path"), "../artifacts/express-api-deployment.tar.gz"),
    commitSha: spec("string", "Commit the build is from; empty: GITHUB_SHA (the pre-run commands write it to PULUMI_ENV), then git.", z.string(), ""),
    buildTime: spec("string", "UTC build time YYYYMMDD-HHMMSS of the build; empty: JOBFLEET_BUILD_TIME, then git.", z.string(), ""),
    certificateArn: spec("string", "ACM certificate of the HTTPS listener: a wildcard certificate of previewDomain (*.preview.example.com) serves every pull request.", z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, "an ACM certificate ARN like arn:aws:acm:us-east-1:123456789012:certificate/<id>")),
    previewDomain: spec("string", "Wildcard domain of the review environments: pull request 51 is served at pr-51.<previewDomain>; empty: at the load balancer's own name.", z.union([z.literal(""), z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a lower-case DNS domain like preview.jobfleet.example.com")]), ""),
    hostedZoneId: spec("string", "Route 53 hosted zone of previewDomain, where each review stack adds its pr-<n> alias record.", z.union([z.literal(""), z.string().regex(/^Z[A-Z0-9]{1,31}$/, "a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ")]), ""),
    reviewerCidrs: spec(
        "array",
        "CIDR blocks reviewers connect from (office, VPN); only they reach the environment's load balancer.",
        z
            .array(z.string().superRefine((v, ctx) => {
                const problem = cidrProblem(v);
                if (problem) ctx.addIssue({ code: "custom", message: `a CIDR block like 203.0.113.0/24 (${JSON.stringify(v)} ${problem})` });
            }))
            .min(1, "at least one CIDR block reviewers connect from"),
    ),
    instanceType: spec("string", "EC2 instance type of the review environment.", z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type like t3.small"), "t3.small"),
    minSize: spec("integer", "Minimum instances.", z.number().int().min(0), 1),
    maxSize: spec("integer", "Maximum instances.", z.number().int().min(1).max(4, "at most 4 for a review environment"), 1),
    keepBuilds: spec("integer", "Builds of this pull request kept after each deployment, the deployed one included (seed 003: --pr <n> --keep 3).", z.number().int().min(1, "at least 1: the deployed build").max(20), 3),
    pullRequestNumber: spec("string", "The pull request, when neither the stack name nor PULUMI_PR_NUMBER says it (a stack made by hand); empty otherwise.", z.string(), ""),
} as const;

export type PrConfigKey = keyof typeof PR_CONFIG_KEYS;
type Settings = { [K in PrConfigKey]: (typeof PR_CONFIG_KEYS)[K] extends KeySpec<infer T> ? T : never };

export interface PrEnvironmentConfig extends Settings {
    stack: string;
    region: string;
    pullRequest: PullRequest;
    /** Where the pull request is served: pr-<n>.<previewDomain>, when a domain is configured. */
    domain?: { name: string; hostedZoneId: string };
    tags: Record<string, string>;
}

export interface PrConfigProblem {
    key: string;
    value?: string;
    expected: string;
}

export class PrConfigValidationError extends Error {
    constructor(public readonly problems: PrConfigProblem[]) {
        super(
            `${PR_PROJECT} config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
                problems.map((p) => `  - ${p.key} = ${p.value === undefined ? "(not set)" : JSON.stringify(p.value)}: expected ${p.expected}`).join("\n"),
        );
        this.name = "PrConfigValidationError";
    }
}

function coerce(kind: Kind, raw: string): unknown {
    if (kind === "integer") return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (kind === "array") {
        try {
            return JSON.parse(raw);
        } catch {
            return raw;
        }
    }
    return raw;
}

/**
 * Validates a review stack's config (`jobfleet-pr-environments:<key>` → string, as the CLI hands it
 * over) and works out its pull request; reports every problem at once and throws before anything exists.
 */
export function validatePrConfig(raw: Record<string, string>, stack: string, env: Record<string, string | undefined>): PrEnvironmentConfig {
    const problems: PrConfigProblem[] = [];
    const k = (key: string) => `${PR_PROJECT}:${key}`;
    const settings: Partial<Record<PrConfigKey, unknown>> = {};
    for (const [key, keySpec] of Object.entries(PR_CONFIG_KEYS) as Array<[PrConfigKey, KeySpec<unknown>]>) {
        const given = raw[k(key)];
        if (given === undefined) {
            if (keySpec.default === undefined) problems.push({ key: k(key), expected: keySpec.description });
            else settings[key] = keySpec.default;
            continue;
        }
        const parsed = keySpec.schema.safeParse(coerce(keySpec.kind, given));
        if (parsed.success) settings[key] = parsed.data;
        else problems.push({ key: k(key), value: given, expected: parsed.error.issues.map((i) => i.message).join("; ") });
    }
    for (const key of Object.keys(raw)) {
        if (key.startsWith(`${PR_PROJECT}:`) && !(key.slice(PR_PROJECT.length + 1) in PR_CONFIG_KEYS)) {
            problems.push({ key, value: raw[key], expected: `a key ${PR_PROJECT} reads (known: ${Object.keys(PR_CONFIG_KEYS).join(", ")})` });
        }
    }
    const region = raw["aws:region"];
    if (!region || !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) problems.push({ key: "aws:region", value: region, expected: "an AWS region name like us-east-1" });
    const s = settings as Settings;
    if (s.minSize !== undefined && s.maxSize !== undefined && s.minSize > s.maxSize) problems.push({ key: k("minSize"), value: String(s.minSize), expected: `at most ${k("maxSize")} (${s.maxSize})` });
    if ((s.previewDomain === "") !== (s.hostedZoneId === "") && s.previewDomain !== undefined && s.hostedZoneId !== undefined) {
        const missing = s.previewDomain === "" ? "previewDomain" : "hostedZoneId";
        problems.push({ key: k(missing), value: "", expected: `set together with ${k(missing === "previewDomain" ? "hostedZoneId" : "previewDomain")}: the pr-<n> record goes into that zone` });
    }
    if (s.reviewerCidrs?.includes("0.0.0.0/0") || s.reviewerCidrs?.includes("::/0")) {
        problems.push({ key: k("reviewerCidrs"), value: JSON.stringify(s.reviewerCidrs), expected: "the reviewers' networks, not the whole internet: an unreleased build must not be public" });
    }
    let pullRequest: PullRequest | undefined;
    try {
        pullRequest = resolvePullRequest({ stack, env, configured: typeof raw[k("pullRequestNumber")] === "string" ? raw[k("pullRequestNumber")] : "", configKey: k("pullRequestNumber") });
    } catch (err) {
        if (!(err instanceof PullRequestUnknownError)) throw err;
        problems.push({ key: "pull request", value: stack, expected: err.message });
    }
    if (problems.length > 0) throw new PrConfigValidationError(problems);
    const pr = pullRequest!;
    return {
        ...s,
        stack,
        region: region!,
        pullRequest: pr,
        domain: s.previewDomain ? { name: `${pr.environment}.${s.previewDomain}`, hostedZoneId: s.hostedZoneId } : undefined,
        tags: { PullRequest: String(pr.number), ReviewStack: stack },
    };
}
