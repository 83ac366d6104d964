import { environmentForPullRequest } from "../runtime/artifacts/keys";

/**
 * Which pull request a review stack belongs to. Pulumi Deployments creates one stack per pull
 * request from the template stack `pr` and tells it in two ways (see docs/artifacts.md, "One
 * preview environment per pull request", for the sources):
 *
 * - the stack name: review stacks are named `pr-{organization}-{repository}-{number}`, so the
 *   number is the name's last dash-separated part; the offline preview and a hand-made stack use
 *   the short form `pr-{number}`;
 * - the environment of the deployment: `PULUMI_PR_NUMBER`, set for pull-request deployments.
 *
 * A config value (`pullRequestNumber`) may name it too, for a stack created by hand. Every source
 * that is present must agree: a template config copied into the wrong stack must fail, not deploy
 * one pull request's environment under another's name.
 */
export interface PullRequestSources {
    stack: string;
    /** The deployment's environment variables (process.env). */
    env: Record<string, string | undefined>;
    /** `jobfleet-pr-environments:pullRequestNumber`; "" when not set. */
    configured: string;
    /** How the config key is called in messages. */
    configKey: string;
}

export interface PullRequest {
    number: number;
    /** `pr-<n>`: the environment name, the second part of every artifact key of this pull request. */
    environment: string;
    /** Which sources named it, e.g. ["stack name pr-jobfleet-org-jobfleet-51", "PULUMI_PR_NUMBER"]. */
    sources: string[];
}

export class PullRequestUnknownError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PullRequestUnknownError";
    }
}

/** The template stack itself: Deployments copies its config into each review stack, it is never deployed. */
export const TEMPLATE_STACK = "pr";

const REVIEW_STACK_NAME = /^pr-(?:[A-Za-z0-9_.-]+-)?([1-9]\d{0,8})$/;
const NUMBER = /^[1-9]\d{0,8}$/;

/** The pull request number a stack name carries, or undefined. */
export function pullRequestNumberOfStack(stack: string): number | undefined {
    const m = REVIEW_STACK_NAME.exec(stack);
    return m ? Number(m[1]) : undefined;
}

export function resolvePullRequest(sources: PullRequestSources): PullRequest {
    const found: Array<{ source: string; value: number }> = [];
    const fromStack = pullRequestNumberOfStack(sources.stack);
    if (fromStack !== undefined) found.push({ source: `stack name ${sources.stack}`, value: fromStack });
    const fromEnv = sources.env.PULUMI_PR_NUMBER?.trim();
    if (fromEnv) {
        if (!NUMBER.test(fromEnv)) throw new PullRequestUnknownError(`PULUMI_PR_NUMBER is ${JSON.stringify(fromEnv)}; expected a pull request number like 51.`);
        found.push({ source: "PULUMI_PR_NUMBER", value: Number(fromEnv) });
    }
    const fromConfig = sources.configured.trim();
    if (fromConfig) {
        if (!NUMBER.test(fromConfig)) throw new PullRequestUnknownError(`${sources.configKey} is ${JSON.stringify(fromConfig)}; expected a pull request number like 51, or empty.`);
        found.push({ source: sources.configKey, value: Number(fromConfig) });
    }
    if (found.length === 0) {
        const why =
            sources.stack === TEMPLATE_STACK
                ? `${TEMPLATE_STACK} is the review stack template: Pulumi Deployments copies its config into one stack per pull request and deploys those, never ${TEMPLATE_STACK} itself.`
                : `the stack name ${JSON.stringify(sources.stack)} does not end in a pull request number (pr-<n> or pr-<organization>-<repository>-<n>).`;
        throw new PullRequestUnknownError(`This stack belongs to no pull request: ${why} Preview one with --stack pr-51, or set PULUMI_PR_NUMBER or ${sources.configKey}.`);
    }
    const distinct = [...new Set(found.map((f) => f.value))];
    if (distinct.length > 1) {
        throw new PullRequestUnknownError(
            `The sources of the pull request number disagree: ${found.map((f) => `${f.source} says ${f.value}`).join(", ")}. A stack deploys exactly one pull request; fix the stack name or the setting.`,
        );
    }
    return { number: distinct[0], environment: environmentForPullRequest(distinct[0]), sources: found.map((f) => f.source) };
}
