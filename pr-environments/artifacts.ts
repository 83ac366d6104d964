/**
 * npx ts-node --transpile-only pr-environments/artifacts.ts retain|close [options]
 *
 * The builds of one pull request over its review stack's life (seed 003), run by the review
 * stack's Pulumi Deployments pre-run commands (docs/artifacts.md, "One preview environment per
 * pull request"):
 *
 *   retain  before `pulumi up`: keep the newest N builds of the pull request, counting the build
 *           this deployment uploads, and never the deployed one (--pr 51 --keep 3)
 *   close   before `pulumi destroy`: remove every build of the pull request from the bucket
 *
 * Both read the review stack's own outputs (`pulumi stack output --json`): bucket, pull request,
 * deployed key, app and keep. Arguments are checked before the first S3 request; bad ones exit 2,
 * S3 failures exit 1 with how far the run got.
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { S3Client } from "@aws-sdk/client-s3";
import { ArtifactArgumentError, artifactKey, checkBuildTime, checkCommitSha, defaultArtifactFileName, environmentForPullRequest } from "../runtime/artifacts/keys";
import { CleanupError, CleanupPlan, runCleanup } from "../runtime/artifacts/cleanup";
import { createArtifactS3Client } from "../runtime/artifacts/client";
import { planPullRequestClose, planPullRequestRetention } from "../runtime/artifacts/pullRequests";

export interface PrArtifactsIo {
    stdout: (text: string) => void;
    stderr: (text: string) => void;
    env: Record<string, string | undefined>;
    makeClient?: (options: { region?: string; endpoint?: string }) => S3Client;
    now?: () => Date;
}

const USAGE = `Usage: pr-environments/artifacts.ts retain|close --stack-outputs <file> [options]
       pr-environments/artifacts.ts retain|close --bucket <name> --pr <n> [options]

  --stack-outputs <file>  the review stack's \`pulumi stack output --json\` (bucket, pull request, deployed key, app, keep)
  --bucket <name>         artifacts bucket, when there are no stack outputs (the stack was never deployed)
  --pr <n>                pull request number, with --bucket
  --app <name>            application (default: the outputs' artifactRetention.app, else express-api)
  --keep <n>              retain: builds kept, counting the incoming one (default: the outputs' artifactRetention.keep, else 3)
  --commit <sha>          retain: commit of the build this deployment uploads (default: $GITHUB_SHA)
  --build-time <time>     retain: its build time YYYYMMDD-HHMMSS (default: $JOBFLEET_BUILD_TIME)
  --region <region>       AWS region (default: $AWS_REGION, then us-east-1)
  --endpoint <url>        S3-compatible endpoint (s3rver, MinIO)
  --dry-run               print the decisions, delete nothing
  --json                  print the plan and result as JSON
  -h, --help              this help

Exit codes: 0 done (or nothing to do); 1 S3 failed (the message says what was deleted); 2 bad arguments.`;

class UsageError extends Error {}

interface ReviewStackOutputs {
    bucket?: string;
    prNumber?: string;
    deployedKey?: string;
    app?: string;
    keep?: number;
}

function readOutputs(file: string): ReviewStackOutputs {
    let value: unknown;
    try {
        value = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new UsageError(`--stack-outputs ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not JSON (${(err as Error).message})`}; expected \`pulumi stack output --json\` of the review stack`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`--stack-outputs ${file}: expected a JSON object of stack outputs`);
    const o = value as Record<string, unknown>;
    if (o.pullRequestNumber === undefined) {
        throw new UsageError(`--stack-outputs ${file} has no pullRequestNumber output: these are not a review stack's outputs (staging and prod builds are never retained or closed here)`);
    }
    const retention = (o.artifactRetention ?? {}) as { app?: unknown; keep?: unknown };
    return {
        bucket: typeof o.artifactBucketName === "string" ? o.artifactBucketName : undefined,
        prNumber: String(o.pullRequestNumber),
        deployedKey: typeof o.artifactKey === "string" ? o.artifactKey : undefined,
        app: typeof retention.app === "string" ? retention.app : undefined,
        keep: typeof retention.keep === "number" ? retention.keep : undefined,
    };
}

function describe(plan: CleanupPlan, dryRun: boolean): string {
    const lines = [`${plan.environment} in s3://${plan.bucket}/${plan.app}/${plan.environment}/: ${plan.decisions.length} build(s), ${plan.deletions.length} to delete (${plan.keysToDelete.length} objects, ${plan.bytesToReclaim} bytes)${dryRun ? " [dry run]" : ""}`];
    for (const d of plan.decisions) lines.push(`  ${d.delete ? "delete" : "keep  "} ${d.artifact.id}  ${d.reasons.join("; ")}`);
    if (plan.strayObjects > 0) lines.push(`  left ${plan.strayObjects} object(s) under the prefix that are not builds`);
    return lines.join("\n") + "\n";
}

/** One invocation; returns the exit code so tests run exactly what the pre-run command runs. */
export async function main(argv: string[], io: PrArtifactsIo): Promise<number> {
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
        ({ values, positionals } = parseArgs({
            args: argv,
            options: {
                "stack-outputs": { type: "string" },
                bucket: { type: "string" },
                pr: { type: "string" },
                app: { type: "string" },
                keep: { type: "string" },
                commit: { type: "string" },
                "build-time": { type: "string" },
                region: { type: "string" },
                endpoint: { type: "string" },
                "dry-run": { type: "boolean" },
                json: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
            allowPositionals: true,
            strict: true,
        }));
    } catch (err) {
        io.stderr(`error: ${(err as Error).message}\n\n${USAGE}\n`);
        return 2;
    }
    if (values.help) {
        io.stdout(`${USAGE}\n`);
        return 0;
    }
    const command = positionals[0];
    let plan: CleanupPlan;
    let client: S3Client;
    try {
        if (positionals.length !== 1 || (command !== "retain" && command !== "close")) throw new UsageError(`expected one command, retain or close (got ${JSON.stringify(positionals)})`);
        const outputsFile = values["stack-outputs"] as string | undefined;
        const outputs = outputsFile ? readOutputs(outputsFile) : {};
        const bucket = (values.bucket as string | undefined) ?? outputs.bucket;
        const prNumber = (values.pr as string | undefined) ?? outputs.prNumber;
        if (!bucket) throw new UsageError("the bucket is unknown: pass --stack-outputs of the review stack, or --bucket");
        if (!prNumber) throw new UsageError("the pull request is unknown: pass --stack-outputs of the review stack, or --pr");
        if (values.pr !== undefined && outputs.prNumber !== undefined && values.pr !== outputs.prNumber) {
            throw new UsageError(`--pr ${values.pr} disagrees with the stack outputs (pull request ${outputs.prNumber})`);
        }
        const environment = environmentForPullRequest(prNumber);
        const app = (values.app as string | undefined) ?? outputs.app ?? "express-api";
        client = (io.makeClient ?? createArtifactS3Client)({ region: (values.region as string | undefined) ?? io.env.AWS_REGION, endpoint: values.endpoint as string | undefined });
        const now = io.now?.() ?? new Date();
        if (command === "close") {
            plan = await planPullRequestClose({ client, bucket, app, prNumber, now });
        } else {
            const keepText = values.keep as string | undefined;
            if (keepText !== undefined && !/^\d+$/.test(keepText)) throw new UsageError(`--keep must be a whole number of builds, at least 1 (got ${JSON.stringify(keepText)})`);
            const keep = keepText !== undefined ? Number(keepText) : (outputs.keep ?? 3);
            const commit = ((values.commit as string | undefined) ?? io.env.GITHUB_SHA ?? "").trim();
            const buildTime = ((values["build-time"] as string | undefined) ?? io.env.JOBFLEET_BUILD_TIME ?? "").trim();
            if ((commit === "") !== (buildTime === "")) throw new UsageError(`the incoming build needs both its commit (--commit or GITHUB_SHA) and its build time (--build-time or JOBFLEET_BUILD_TIME); got only the ${commit ? "commit" : "build time"}`);
            const incomingKey = commit ? artifactKey({ app, environment, commitSha: checkCommitSha(commit, "--commit"), buildTime: checkBuildTime(buildTime, "--build-time"), fileName: defaultArtifactFileName(app) }) : undefined;
            plan = await planPullRequestRetention({ client, bucket, app, prNumber, keep, deployedKeys: outputs.deployedKey ? [outputs.deployedKey] : [], incomingKey, now });
        }
    } catch (err) {
        if (err instanceof UsageError || err instanceof ArtifactArgumentError) {
            io.stderr(`error: ${err.message}\n`);
            return 2;
        }
        io.stderr(`error: listing the pull request's builds failed, nothing was deleted: ${(err as Error).message}\n`);
        return 1;
    }
    const dryRun = values["dry-run"] === true;
    if (!values.json) io.stdout(describe(plan, dryRun));
    try {
        const result = await runCleanup({ client, plan, dryRun });
        if (values.json) io.stdout(JSON.stringify({ command, plan: { ...plan, decisions: plan.decisions.map((d) => ({ id: d.artifact.id, delete: d.delete, reasons: d.reasons })), deletions: undefined }, result }, null, 2) + "\n");
        else io.stdout(`${dryRun ? "Would delete" : "Deleted"} ${plan.deletions.length} build(s) of ${plan.environment}; the other environments were not listed.\n`);
        return 0;
    } catch (err) {
        if (err instanceof CleanupError) {
            io.stderr(`error: ${err.message}\n`);
            return 1;
        }
        throw err;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env }).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
            process.exit(1);
        },
    );
}
