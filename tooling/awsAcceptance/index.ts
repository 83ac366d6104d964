import { revealSecrets } from "../capture";
import { checkDocuments } from "./documents";
import { checkFreeText } from "./freeText";
import { checkIamDocuments, iamDocumentsOf, prefetchIamData } from "./iamDocuments";
import { checkNames } from "./names";
import { checkRanges } from "./ranges";
import { AcceptanceResource, AcceptanceViolation, logicalName } from "./violation";

export type { AcceptanceResource, AcceptanceViolation } from "./violation";

/**
 * What AWS (or the AWS provider, before it calls AWS) would refuse in a plan: physical names after
 * autonaming, restricted free text, JSON documents against the AWS SDK v3 shapes, IAM documents
 * against the IAM service reference, and documented value ranges. Every resource is checked; the
 * answer lists every violation, each with the source of its rule.
 */
export async function checkAwsAcceptance(resources: ReadonlyArray<Omit<AcceptanceResource, "inputs"> & { inputs?: Record<string, unknown> }>): Promise<AcceptanceViolation[]> {
    const plain = resources
        .filter((r) => r.type.startsWith("aws:"))
        .map((r) => ({ urn: r.urn, type: r.type, inputs: revealSecrets(r.inputs ?? {}) as Record<string, unknown> }));
    const iamDocuments = iamDocumentsOf(plain);
    prefetchIamData(iamDocuments);
    const violations: AcceptanceViolation[] = [];
    for (const [i, resource] of plain.entries()) {
        // A turn of the event loop now and then: the policy gate's calls to the pack, started
        // before this check, proceed meanwhile (scripts/preview.ts runs both at once).
        if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
        const report = (property: string, rule: string, message: string, source: string) => violations.push({ urn: resource.urn, type: resource.type, property, rule, message, source });
        checkNames(resource, report);
        checkFreeText(resource, report);
        checkDocuments(resource, report);
        checkRanges(resource, report);
    }
    violations.push(...(await checkIamDocuments(iamDocuments)));
    return violations;
}

/** The violations as the preview prints them: one block per violation, the rule's source below it. */
export function renderAcceptance(violations: ReadonlyArray<AcceptanceViolation>, resourceCount: number): string {
    if (violations.length === 0) return `AWS acceptance: ✅ ${resourceCount} resources checked against AWS's and the AWS provider's rules.\n`;
    const lines = [`AWS acceptance: ❌ ${violations.length} value(s) AWS would refuse or silently drop:`];
    for (const v of violations) {
        lines.push(`    - [${v.rule}]  ${v.type}: ${logicalName(v.urn)}  ${v.property}`, `      ${v.message}`, `      source: ${v.source}`);
    }
    return `${lines.join("\n")}\n`;
}
