// Bundles the shell executor's runner (runtime/shellJob/runnerMain.ts and everything it imports,
// zod included) into one CommonJS file, so the image carries node and this file and no
// node_modules: no dev dependency, no package manager, nothing to install at build or run time.
// Run by the Dockerfile's build stage and by test/shellExecutorImage.test.ts.
import * as path from "path";
import { build, Metafile } from "esbuild";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const RUNNER_ENTRY = path.join(REPO_ROOT, "runtime", "shellJob", "runnerMain.ts");
/** The node version the image's base runs; the bundle may use nothing newer. */
export const NODE_TARGET = "node24";

export interface RunnerBundle {
    outfile: string;
    /** Packages bundled in (from node_modules), by name. */
    packages: string[];
    bytes: number;
}

function packageOf(input: string): string | undefined {
    const parts = input.split("node_modules/").pop();
    if (parts === undefined || !input.includes("node_modules/")) return undefined;
    const segments = parts.split("/");
    return segments[0].startsWith("@") ? `${segments[0]}/${segments[1]}` : segments[0];
}

export async function bundleRunner(outfile: string): Promise<RunnerBundle> {
    const result = await build({
        entryPoints: [RUNNER_ENTRY],
        outfile,
        bundle: true,
        platform: "node",
        target: NODE_TARGET,
        format: "cjs",
        // Node's own modules stay require()s; every other import must be bundled or the build fails.
        packages: "bundle",
        sourcemap: false,
        minify: false,
        legalComments: "eof",
        metafile: true,
        logLevel: "silent",
    });
    const metafile: Metafile = result.metafile!;
    const packages = [...new Set(Object.keys(metafile.inputs).map(packageOf).filter((p): p is string => p !== undefined))].sort();
    const output = metafile.outputs[path.relative(process.cwd(), outfile).split(path.sep).join("/")] ?? Object.values(metafile.outputs)[0];
    return { outfile, packages, bytes: output.bytes };
}

if (require.main === module) {
    const outfile = process.argv[2];
    if (!outfile) {
        console.error("usage: bundle.ts <outfile>");
        process.exit(2);
    }
    bundleRunner(path.resolve(outfile)).then(
        (b) => console.log(`${path.relative(process.cwd(), b.outfile)}: ${b.bytes} bytes, bundled packages: ${b.packages.join(", ") || "none"}`),
        (err: Error) => {
            console.error(`error: ${err.message}`);
            process.exit(1);
        },
    );
}
