import { CapturedPlan, CapturedResource } from "./capture";

/**
 * Renders a captured plan the way `pulumi preview` shows one: the resource tree with the
 * operation per resource, then the totals, then a count per resource type.
 */
export function renderPlan(plan: Pick<CapturedPlan, "stack" | "resources" | "outputs" | "configSource">): string {
    const children = new Map<string | undefined, CapturedResource[]>();
    const known = new Set(plan.resources.map((r) => r.urn));
    for (const r of plan.resources) {
        const parent = r.parent && known.has(r.parent) ? r.parent : undefined;
        const list = children.get(parent) ?? [];
        list.push(r);
        children.set(parent, list);
    }

    const rows: Array<{ prefix: string; type: string; name: string; note: string; op: string }> = [];
    const walk = (parent: string | undefined, indent: string) => {
        const list = children.get(parent) ?? [];
        list.forEach((r, i) => {
            const last = i === list.length - 1;
            const branch = parent === undefined ? "" : last ? "└─ " : "├─ ";
            const note = r.external ? `read ${r.id ?? ""}`.trim() : r.remote ? "create (children made by its provider plugin; not visible offline)" : "create";
            rows.push({ prefix: indent + branch, type: r.type, name: r.name, note, op: r.external ? ">" : "+" });
            walk(r.urn, parent === undefined ? indent : indent + (last ? "   " : "│  "));
        });
    };
    walk(undefined, "");

    const typeWidth = Math.max(4, ...rows.map((r) => r.prefix.length + r.type.length)) + 2;
    const nameWidth = Math.max(4, ...rows.map((r) => r.name.length)) + 2;
    const lines = [
        `Previewing update (${plan.stack}), offline under Pulumi's mock runtime:`,
        "",
        `     ${"Type".padEnd(typeWidth)}${"Name".padEnd(nameWidth)}Plan`,
        ...rows.map((r) => ` ${r.op}   ${(r.prefix + r.type).padEnd(typeWidth)}${r.name.padEnd(nameWidth)}${r.note}`),
        "",
        "Outputs:",
        ...Object.keys(plan.outputs)
            .sort()
            .map((k) => `    ${k}: ${formatOutput(plan.outputs[k])}`),
        "",
        "Resources:",
        `    + ${plan.resources.filter((r) => !r.external).length} to create`,
        ...(plan.resources.some((r) => r.external) ? [`    > ${plan.resources.filter((r) => r.external).length} to read`] : []),
        "",
        "Resources by type:",
        ...countByType(plan.resources).map(([type, n]) => `    ${String(n).padStart(4)}  ${type}`),
    ];
    if (plan.configSource.environments.length > 0) {
        lines.push("", `Note: the stack imports ESC environment(s) ${plan.configSource.environments.join(", ")}; their values (cloud credentials) are not needed offline.`);
    }
    return lines.join("\n") + "\n";
}

export function countByType(resources: CapturedResource[]): Array<[string, number]> {
    const counts = new Map<string, number>();
    for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function formatOutput(value: unknown): string {
    const text = JSON.stringify(value);
    return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}
