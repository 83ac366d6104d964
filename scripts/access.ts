import * as fs from "fs";
import { parseArgs } from "util";
import { ConfigValidationError } from "../config";
import { captureProgram } from "../tooling/capture";
import { StackConfigFileError } from "../tooling/stackConfig";
import { COMPONENT_ACCESS } from "../tooling/access/components";
import { readAccessPlan } from "../tooling/access/plan";
import { accessProblems, analyzeAccess, formatAccessReport } from "../tooling/access/report";
import { recordRuntimeCalls } from "../test/support/accessScenarios";

const USAGE = `Usage: npm run access -- --stack <staging|prod> [--json <report.json>]

Captures the stack's plan offline, runs the runtime code each role is declared to run against
s3rver on loopback (the same recorded scenarios as test/access.test.ts) and records its AWS calls,
adds the calls components declare for code that lives elsewhere, and evaluates each with
@cloud-copilot/iam-simulate against the plan's identity, resource and VPC endpoint policies.
Prints per runtime role its calls with their decisions, the grants no call uses (with the reason
its component gives for keeping them), and the probes of calls it must never make.

  --stack <name>    stack whose Pulumi.<name>.yaml to read (staging or prod)
  --json <file>     also write the report as JSON ({ stack, roles: [{ role, principal, calls, unused, probes }] })
  -h, --help        show this help

Exit codes: 0 every call allowed, every unused grant explained, every probe denied; 1 otherwise
(each problem is printed); 2 bad arguments or an invalid stack config; 3 the check failed to run.
See docs/access.md.`;

async function main(argv: string[]): Promise<number> {
    let values: { stack?: string; json?: string; help?: boolean };
    try {
        ({ values } = parseArgs({ args: argv, options: { stack: { type: "string", short: "s" }, json: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }));
    } catch (err) {
        process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}\n`);
        return 2;
    }
    if (values.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    if (!values.stack) {
        process.stderr.write(`error: --stack is required (staging or prod).\n\n${USAGE}\n`);
        return 2;
    }
    let plan;
    try {
        plan = await captureProgram({ stack: values.stack });
    } catch (err) {
        if (err instanceof ConfigValidationError || err instanceof StackConfigFileError) {
            process.stderr.write(`error: ${(err as Error).message}\n`);
            return 2;
        }
        throw err;
    }
    const access = readAccessPlan(plan);
    const { calls } = await recordRuntimeCalls(access, COMPONENT_ACCESS);
    const analysis = await analyzeAccess(access, COMPONENT_ACCESS, calls);
    process.stdout.write(`${formatAccessReport(analysis)}\n`);
    if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(analysis.report, null, 2)}\n`);
    const problems = accessProblems(analysis);
    if (problems.length > 0) {
        process.stdout.write(`\n${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
        return 1;
    }
    process.stdout.write(`\nOK: ${analysis.report.roles.length} runtime roles; every call allowed, every unused grant explained, every probe denied.\n`);
    return 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`access check failed to run: ${(err as Error).stack ?? err}\n`);
        process.exit(3);
    },
);
