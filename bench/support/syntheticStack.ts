import type { StackExport, StackExportResource } from "../../tooling/capture";

/**
 * Synthetic stack exports for the scale benchmark: the prod plan's resources repeated `copies`
 * times in one stack. Copy 0 is the plan as it is; in copy k every URN (except the stack's own,
 * which all copies share as their root) gets `-c<k>` on its name, and every id and physical name
 * the plan's resources have (ids, ARNs-as-ids, names, buckets, task families) gets `-c<k>` wherever
 * it occurs in the copy's strings: in ARNs, policy documents, container definitions, secrets. So
 * each copy references its own roles, buckets, queues and task definitions exactly as the original
 * references its own, and what the pack concludes about one copy it concludes about every copy.
 */

const URN_PREFIX = "urn:pulumi:";

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Account-wide singletons every copy shares, as stacks in one account share them: an OIDC provider
 * exists once per issuer URL, and trust policies name the issuer in their condition keys.
 */
const SHARED_TYPES = new Set(["pulumi:pulumi:Stack", "aws:iam/openIdConnectProvider:OpenIdConnectProvider"]);

/**
 * The physical identifiers a copy renames: long enough and specific enough not to occur by chance,
 * and no host names (issuers, domains, service endpoints), which other strings name by convention.
 */
function identifiersOf(resources: StackExportResource[]): string[] {
    const found = new Set<string>();
    const add = (v: unknown) => {
        if (typeof v === "string" && v.length >= 8 && !v.startsWith("$") && !v.startsWith(URN_PREFIX) && !v.includes(".") && /[-/:]/.test(v)) found.add(v);
    };
    for (const r of resources) {
        if (SHARED_TYPES.has(r.type)) continue;
        add(r.id);
        for (const key of ["name", "bucket", "family", "functionName", "roleName"]) add(r.outputs?.[key]);
    }
    // Longest first, so an id that contains another (an ARN-shaped id, a name with a suffix) is renamed as a whole.
    return [...found].sort((a, b) => b.length - a.length || a.localeCompare(b));
}

export interface Replicator {
    /** Copy `k` of every resource but the stack (k ≥ 1), renamed consistently. */
    copy(k: number): StackExportResource[];
}

export function replicator(plan: StackExport): Replicator {
    const resources = plan.deployment.resources;
    const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
    const identifiers = identifiersOf(resources);
    const pattern = new RegExp(`(?<![A-Za-z0-9_.-])(?:${identifiers.map(escapeRegExp).join("|")})(?![A-Za-z0-9_])`, "g");
    const others = resources.filter((r) => r.urn !== stackUrn);

    const copy = (k: number): StackExportResource[] => {
        const suffix = `-c${k}`;
        const renameUrn = (urn: string): string => {
            if (urn === stackUrn) return urn;
            const parts = urn.split("::");
            return parts.length < 4 ? urn : `${urn}${suffix}`;
        };
        const renameString = (s: string): string => (s.startsWith(URN_PREFIX) ? renameUrn(s) : s.replace(pattern, (m) => `${m}${suffix}`));
        const renameValue = (v: unknown): unknown => {
            if (typeof v === "string") return renameString(v);
            if (Array.isArray(v)) return v.map(renameValue);
            if (v && typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([key, value]) => [key, renameValue(value)]));
            return v;
        };
        return others.map((r) => {
            const renamed: StackExportResource = {
                ...r,
                urn: renameUrn(r.urn),
                inputs: renameValue(r.inputs) as Record<string, unknown>,
                outputs: renameValue(r.outputs) as Record<string, unknown>,
                dependencies: r.dependencies.map(renameUrn),
                propertyDependencies: Object.fromEntries(Object.entries(r.propertyDependencies).map(([key, urns]) => [key, urns.map(renameUrn)])),
            };
            if (r.id !== undefined) renamed.id = renameString(r.id);
            if (r.parent !== undefined) renamed.parent = renameUrn(r.parent);
            if (r.provider !== undefined) {
                const i = r.provider.lastIndexOf("::");
                renamed.provider = `${renameUrn(r.provider.slice(0, i))}::${renameString(r.provider.slice(i + 2))}`;
            }
            return renamed;
        });
    };
    return { copy };
}

/** The plan repeated `copies` times (1: the plan itself), as one stack export. */
export function syntheticStack(plan: StackExport, copies: number): StackExport {
    const { copy } = replicator(plan);
    const resources = [...plan.deployment.resources];
    for (let k = 1; k < copies; k++) resources.push(...copy(k));
    return { version: 3, deployment: { ...plan.deployment, resources } };
}
