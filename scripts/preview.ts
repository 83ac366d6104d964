import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { ConfigValidationError } from "../config";
import { captureProgram, toStackExport } from "../tooling/capture";
import { renderPlan } from "../tooling/planReport";
import { StackConfigFileError } from "../tooling/stackConfig";

const USAGE = `Usage: npm run preview -- --stack <staging|prod> [--config-file <path>] [--json <file>]

Runs the jobfleet program offline under Pulumi's mock runtime with the stack's config and prints
the plan: the tree of components and resources and a count per type.

  --stack <name>         stack whose Pulumi.<name>.yaml to read (staging or prod)
  --config-file <path>   read config from this file instead, like \`pulumi preview --config-file\`
  --json <file>          also write the plan as a \`pulumi stack export\` file (version 3)
  -h, --help             show this help

Exit codes: 0 plan printed; 2 bad arguments, unreadable config file or invalid config.`;

export interface CliIO {
    out: (text: string) => void;
    err: (text: string) => void;
}

const defaultIO: CliIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** The CLI as a function, so tests drive exactly what `npm run preview` runs. Returns the exit code. */
export async function runPreview(argv: string[], io: CliIO = defaultIO): Promise<number> {
    let values: { stack?: string; "config-file"?: string; json?: string; help?: boolean };
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string", short: "s" },
                "config-file": { type: "string" },
                json: { type: "string" },
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
    if (!values.stack) {
        io.err(`error: --stack is required (staging or prod)\n\n${USAGE}\n`);
        return 2;
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(values.stack)) {
        io.err(`error: --stack ${JSON.stringify(values.stack)} is not a stack name (letters, digits, _ . -)\n`);
        return 2;
    }

    let plan;
    try {
        plan = await captureProgram({ stack: values.stack, configFile: values["config-file"] });
    } catch (err) {
        if (err instanceof ConfigValidationError || err instanceof StackConfigFileError) {
            io.err(`error: ${err.message}\n\nNothing was registered.\n`);
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
    return 0;
}

if (require.main === module) {
    runPreview(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`error: the program failed under the mock runtime:\n${(err as Error).stack ?? err}\n`);
            process.exit(3);
        },
    );
}
