import * as fs from "fs";
import * as path from "path";
import { PROJECT } from "../config";
import { PR_PROJECT, PrConfigValidationError, validatePrConfig } from "../pr-environments/config";
import { pullRequestNumberOfStack, TEMPLATE_STACK } from "../pr-environments/pullRequest";
import { CapturedPlan, captureProgram, CapturedProjectPlan, captureProject } from "./capture";
import { loadStackConfig, PROJECT_ROOT, StackConfigFileError } from "./stackConfig";
import { StackReferenceMocks } from "./stackReferences";

/**
 * The Pulumi projects of this repository that `npm run preview -- --project <name>` plans offline:
 * `jobfleet` (the root program, the default) and `pr-environments` (one review stack per pull
 * request, reading the staging stack through a StackReference).
 */
export const PR_ENVIRONMENTS_ROOT = path.join(PROJECT_ROOT, "pr-environments");
export const PROJECT_NAMES = ["jobfleet", "pr-environments"] as const;
export type ProjectName = (typeof PROJECT_NAMES)[number];

/** The stack review stacks share, as the offline preview plans it. */
export const SHARED_STACK = "staging";

export class UnknownProjectError extends Error {
    constructor(name: string) {
        super(`--project ${JSON.stringify(name)} is not a project of this repository; expected one of ${PROJECT_NAMES.join(", ")}`);
        this.name = "UnknownProjectError";
    }
}

export function checkProjectName(name: string): ProjectName {
    if (!(PROJECT_NAMES as readonly string[]).includes(name)) throw new UnknownProjectError(name);
    return name as ProjectName;
}

/** True for a stack of pr-environments that belongs to a pull request (pr-51, pr-jobfleet-org-jobfleet-51). */
export function isReviewStack(stack: string): boolean {
    return pullRequestNumberOfStack(stack) !== undefined;
}

/**
 * The config file a review stack reads: its own `Pulumi.<stack>.yaml` when one exists, otherwise
 * the template's `Pulumi.pr.yaml`, which Pulumi Deployments copies into every review stack it creates.
 */
export function reviewStackConfigFile(stack: string, root = PR_ENVIRONMENTS_ROOT): string {
    const own = path.join(root, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(own)) return own;
    if (stack === TEMPLATE_STACK || isReviewStack(stack)) return path.join(root, `Pulumi.${TEMPLATE_STACK}.yaml`);
    throw new StackConfigFileError(own, `no such file, and ${stack} is not a review stack name (pr-<n> or pr-<organization>-<repository>-<n>) that would read Pulumi.${TEMPLATE_STACK}.yaml`);
}

/**
 * The policy pack config a stack is checked with when `--policy-pack-config` is not given: the
 * stack's own `policies/config/<stack>.json`, and for review stacks (which deploy into staging's
 * account and network) `policies/config/pr.json` when the pack has one, else staging's.
 */
export function packConfigFor(project: ProjectName, stack: string, packDir = path.join(PROJECT_ROOT, "policies")): string | undefined {
    const own = path.join(packDir, "config", `${stack}.json`);
    if (project === "jobfleet" || fs.existsSync(own)) return undefined;
    const template = path.join(packDir, "config", `${TEMPLATE_STACK}.json`);
    return fs.existsSync(template) ? template : path.join(packDir, "config", `${SHARED_STACK}.json`);
}

export interface ReviewStackCaptureOptions {
    stack: string;
    configFile?: string;
    configOverrides?: Record<string, string>;
    /**
     * Deployment environment the program sees while it runs (PULUMI_PR_NUMBER, GITHUB_SHA, ...),
     * applied over process.env and restored afterwards. A value of undefined removes the variable.
     */
    env?: Record<string, string | undefined>;
    /** The shared stack's plan; default the staging stack planned from Pulumi.staging.yaml. */
    sharedPlan?: CapturedPlan;
}

export interface ReviewStackPlan extends CapturedProjectPlan {
    /** `<organization>/jobfleet/staging` as the StackReference names it, and the plan that answered it. */
    sharedStack: { name: string; plan: CapturedPlan };
    stackReferences: string[];
}

/**
 * Plans a review stack offline: the staging plan is captured first, and the review stack's
 * StackReference to `<organization>/jobfleet/staging` is answered with its outputs. The config is
 * validated first, so a bad one throws `PrConfigValidationError` with nothing registered.
 */
export async function captureReviewStack(options: ReviewStackCaptureOptions): Promise<ReviewStackPlan> {
    const configFile = options.configFile ?? reviewStackConfigFile(options.stack);
    const source = loadStackConfig(options.stack, configFile, PR_ENVIRONMENTS_ROOT, PR_PROJECT);
    const raw = { ...source.config, ...(options.configOverrides ?? {}) };
    const saved = new Map<string, string | undefined>();
    for (const [key, value] of Object.entries(options.env ?? {})) {
        saved.set(key, process.env[key]);
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
    try {
        // Before the staging plan: a bad review stack config fails at once, with nothing registered.
        validatePrConfig(raw, options.stack, process.env);
        const sharedPlan = options.sharedPlan ?? (await captureProgram({ stack: SHARED_STACK }));
        const sharedName = `${sharedPlan.config.pulumiOrganization}/${PROJECT}/${sharedPlan.stack}`;
        let references: StackReferenceMocks | undefined;
        const plan = await captureProject({
            projectRoot: PR_ENVIRONMENTS_ROOT,
            project: PR_PROJECT,
            stack: options.stack,
            configFile,
            configOverrides: options.configOverrides,
            mocks: (aws) => (references = new StackReferenceMocks(aws, { [sharedName]: { outputs: sharedPlan.outputs } })),
        });
        return { ...plan, sharedStack: { name: sharedName, plan: sharedPlan }, stackReferences: references?.referenced ?? [] };
    } finally {
        for (const [key, value] of saved) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
    }
}

/** Whether an error means "the config is wrong" (exit 2, nothing registered) rather than "the program failed". */
export function isConfigError(err: unknown): boolean {
    return err instanceof PrConfigValidationError || err instanceof StackConfigFileError;
}
