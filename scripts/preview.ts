import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { ConfigValidationError } from "../config";
import { captureProgram, toStackExport } from "../tooling/capture";
import { checkAwsAcceptance, renderAcceptance } from "../tooling/awsAcceptance";
import { CompiledGate, useCompiledGate } from "../tooling/compiledGate";
import { renderPlan } from "../tooling/planReport";
import { PolicyAnalyzer, PolicyPackConfigError, PolicyPackStartError, StackResource } from "../tooling/policyAnalyzer";
import { PR_PROJECT } from "../pr-environments/config";
import { captureReviewStack, checkProjectName, isConfigError, packConfigFor, UnknownProjectError } from "../tooling/projects";
import { discardPrestartedPack, GateOptions, PolicyGateInputError, prestartPack, readStackExport, runPolicyGate } from "../tooling/policyGate";

const USAGE = `Usage: npm run preview -- --stack <staging|prod> [--config-file <path>] [--json <file>] [--policy-pack-config <file>]
       npm run preview -- --project pr-environments --stack pr-<n> [--json <file>] [--policy-pack-config <file>]
       npm run preview -- --state <stack-export.json> [--stack <name>] [--policy-pack-config <file>]

Runs the jobfleet program offline under Pulumi's mock runtime with the stack's config and prints
the plan: the tree of components and resources and a count per type. Then checks every resource
against the rules AWS and the AWS provider apply (names, free text, JSON documents, IAM, value
ranges), and runs the policy pack in policies/ over the plan, as
\`pulumi preview --policy-pack policies\` does, and prints its verdict.

  --stack <name>                stack whose Pulumi.<name>.yaml to read (staging or prod; pr-<n> with --project pr-environments)
  --project <name>              jobfleet (default) or pr-environments: a review stack, with staging's outputs from the staging plan
  --config-file <path>          read config from this file instead, like \`pulumi preview --config-file\`
  --json <file>                 also write the plan as a \`pulumi stack export\` file (version 3)
  --state <file>                check a \`pulumi stack export\` file with the pack instead of running the program
  --policy-pack-config <file>   the pack's config, like the CLI flag (default: policies/config/<stack>.json)
  -h, --help                    show this help

Exit codes: 0 plan printed, no mandatory policy violation; 1 mandatory policy violation(s);
2 bad arguments, unreadable config, state or pack config file, invalid config, or a value AWS
would refuse (the AWS acceptance checks, printed before the policies); 3 the program or the policy
pack failed to run.`;

export interface CliIO {
    out: (text: string) => void;
    err: (text: string) => void;
}

const defaultIO: CliIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** The CLI as a function, so tests drive exactly what `npm run preview` runs. Returns the exit code. */
export async function runPreview(argv: string[], io: CliIO = defaultIO, policy: { analyzer?: PolicyAnalyzer } = {}): Promise<number> {
    let values: { stack?: string; project?: string; "config-file"?: string; json?: string; state?: string; "policy-pack-config"?: string; help?: boolean };
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string", short: "s" },
                project: { type: "string" },
                "config-file": { type: "string" },
                json: { type: "string" },
                state: { type: "string" },
                "policy-pack-config": { type: "string" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (err) {
        io.err(`error: ${(err as Error).message}\n\n${USAGE}\n`);
        return 2;
    }
    if (values.help) {
        io.out(`${USAGE}\n`);
        return 0;
    }
    if (values.stack !== undefined && !/^[A-Za-z0-9_.-]+$/.test(values.stack)) {
        io.err(`error: --stack ${JSON.stringify(values.stack)} is not a stack name (letters, digits, _ . -)\n`);
        return 2;
    }
    if (values.state !== undefined) {
        if (values.project !== undefined) {
            io.err("error: --state checks a stack export as it is, and its project comes from the export; --project applies only when a program runs\n");
            return 2;
        }
        if (values["config-file"] !== undefined || values.json !== undefined) {
            io.err("error: --state checks a stack export as it is; --config-file and --json apply only when the program runs\n");
            return 2;
        }
        return checkStackExport(values.state, values.stack, values["policy-pack-config"], io, policy.analyzer);
    }
    if (!values.stack) {
        io.err(`error: --stack is required (staging or prod)\n\n${USAGE}\n`);
        return 2;
    }

    let project;
    try {
        project = checkProjectName(values.project ?? "jobfleet");
    } catch (err) {
        if (!(err instanceof UnknownProjectError)) throw err;
        io.err(`error: ${err.message}\n`);
        return 2;
    }
    let plan;
    try {
        plan = project === "pr-environments" ? await captureReviewStack({ stack: values.stack, configFile: values["config-file"] }) : await captureProgram({ stack: values.stack, configFile: values["config-file"] });
    } catch (err) {
        if (err instanceof ConfigValidationError || isConfigError(err)) {
            io.err(`error: ${(err as Error).message}\n\nNothing was registered.\n`);
            return 2;
        }
        throw err;
    }
    io.out(renderPlan(plan));
    if (values.json) {
        const file = path.resolve(values.json);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, JSON.stringify(toStackExport(plan), null, 2) + "\n");
        io.out(`\nWrote the plan as a stack export to ${path.relative(process.cwd(), file) || file}\n`);
    }
    io.out("\n");
    return policyGate(plan.resources, { stack: values.stack, project: plan.project, configFile: values["policy-pack-config"] ?? packConfigFor(project, values.stack), saveWarmUp: true }, io, policy.analyzer);
}

async function checkStackExport(file: string, stackFlag: string | undefined, configFile: string | undefined, io: CliIO, analyzer?: PolicyAnalyzer): Promise<number> {
    let contents;
    try {
        contents = readStackExport(file);
    } catch (err) {
        if (err instanceof PolicyGateInputError) {
            io.err(`error: ${err.message}\n`);
            return 2;
        }
        throw err;
    }
    const stack = stackFlag ?? (contents.stacks.length === 1 ? contents.stacks[0] : undefined);
    io.out(`Checking ${contents.resources.length} resources of stack ${contents.stacks.join(", ")} (project ${contents.projects.join(", ")}) from ${file} against the policy pack.\n`);
    if (contents.pendingDeletes > 0) io.out(`Skipped ${contents.pendingDeletes} resource(s) pending deletion, as the engine does.\n`);
    if (contents.encryptedSecrets > 0) {
        io.out(`Note: ${contents.encryptedSecrets} secret value(s) are encrypted in this export; the pack sees them as unknown. Export with --show-secrets to check them.\n`);
    }
    io.out("\n");
    // A review stack's export (pr-<...>) is checked with the review stacks' pack config, as its preview is.
    const reviewStack = contents.projects[0] === PR_PROJECT && stack !== undefined ? packConfigFor("pr-environments", stack) : undefined;
    return policyGate(contents.resources, { stack, project: contents.projects[0], configFile: configFile ?? reviewStack }, io, analyzer);
}

async function policyGate(resources: StackResource[], options: Pick<GateOptions, "stack" | "project" | "configFile" | "saveWarmUp">, io: CliIO, analyzer?: PolicyAnalyzer): Promise<number> {
    // The pack evaluates in its own process while this one checks AWS's rules; the output keeps its order.
    const gate = runPolicyGate(resources, { ...options, analyzer });
    gate.catch(() => undefined); // awaited below; keeps a failure during the AWS check from being unhandled
    const refusedByAws = await checkAwsAcceptance(resources);
    (refusedByAws.length > 0 ? io.err : io.out)(`${renderAcceptance(refusedByAws, resources.length)}\n`);
    try {
        const result = await gate;
        io.out(`${result.policies}\n`);
        (result.exitCode === 0 ? io.out : io.err)(result.verdict);
        return refusedByAws.length > 0 ? 2 : result.exitCode;
    } catch (err) {
        if (err instanceof PolicyGateInputError || err instanceof PolicyPackConfigError) {
            io.err(`error: ${err.message}\n`);
            return 2;
        }
        if (err instanceof PolicyPackStartError) {
            io.err(`error: the policy pack could not start: ${err.message}\n`);
            return 3;
        }
        throw err;
    }
}

/**
 * `npm run preview`: the CLI over the process's arguments; resolves to the exit code. The compiled
 * gate (tooling/build.ts) calls it with its compiled program.
 */
export async function main(argv: string[], compiled?: CompiledGate): Promise<number> {
    if (compiled) {
        useCompiledGate(compiled);
        if (!argv.some((a) => a === "-h" || a === "--help")) prestartPack();
    }
    try {
        return await runPreview(argv);
    } catch (err) {
        process.stderr.write(`error: the program failed under the mock runtime:\n${(err as Error).stack ?? err}\n`);
        return 3;
    } finally {
        await discardPrestartedPack();
    }
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => process.exit(code));
