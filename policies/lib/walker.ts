import { DECODERS, decodeText } from "./decoders";
import { isUnknown, Path, pathText } from "./wire";

/**
 * The one walker over every string of a resource's properties, whatever the resource type: it
 * descends objects and lists, and decodes strings that hide text (decoders.ts: JSON, base64,
 * gzip, MIME multipart, cloud-config, scripts, command lines, connection strings) so every piece
 * of text reaches the detectors with the exact place it came from and the name it is bound to.
 */

export interface Leaf {
    /** The exact place, e.g. `containerDefinitions (JSON) $[0].environment[3].value (container "api", environment "DB_URL")`. */
    field: string;
    /** The top-level property the text sits in. */
    property: string;
    /** The name the text is bound to: key, variable, flag, `{name, value}` pair name. */
    name?: string;
    value: string;
    /** false: only the name model applies (the text is already checked as part of a larger one). */
    byValue: boolean;
}

export interface Walked {
    leaves: Leaf[];
    /** Places whose value the engine does not know yet (preview): not checkable. */
    unknown: string[];
}

export interface WalkOptions {
    /** true when the engine sent the property at this path as a secret: the walker does not enter it. */
    isSecret?: (path: Path) => boolean;
    /** The name a top-level property's text is bound to when not its own key (an SSM parameter's `value` → its parameter name). */
    nameOf?: (property: string) => string | undefined;
}

const MAX_DEPTH = 12;
const PAIR_NAME_KEYS = ["name", "Name", "key", "Key"];
const PAIR_VALUE_KEYS = ["value", "Value"];

interface At {
    field: string;
    property: string;
    name?: string;
    byValue: boolean;
    hints: string[];
    depth: number;
    /** Property path while still in the structured properties (undefined once inside decoded text). */
    path?: Path;
    /** The key that holds a list, to name its elements (`environment "X"`). */
    listKey?: string;
}

function render(at: At): string {
    return at.hints.length > 0 ? `${at.field}, ${at.hints.join(" ")}` : at.field;
}

function keySegment(key: string): string {
    return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function elementHint(listKey: string | undefined, element: unknown): string | undefined {
    if (!element || typeof element !== "object" || Array.isArray(element)) return undefined;
    const e = element as Record<string, unknown>;
    const id = PAIR_NAME_KEYS.map((k) => e[k]).find((v) => typeof v === "string") as string | undefined;
    if (!id) return undefined;
    const kind = listKey === undefined || listKey === "containerDefinitions" ? "container" : listKey;
    return `${kind} "${id}"`;
}

export function walkProperties(props: Record<string, unknown>, options: WalkOptions = {}): Walked {
    const out: Walked = { leaves: [], unknown: [] };

    const text = (value: string, at: At): void => {
        if (isUnknown(value)) {
            out.unknown.push(render(at));
            return;
        }
        const leaf: Leaf = { field: render(at), property: at.property, name: at.name, value, byValue: at.byValue };
        out.leaves.push(leaf);
        if (at.depth >= MAX_DEPTH) return;
        const found = decodeText(value);
        if (found) {
            const { decoder, decoded } = found;
            if (decoded.covers) leaf.byValue = false;
            for (const piece of decoded.pieces) {
                const next: At = {
                    field: `${at.field} ${piece.label}`,
                    property: at.property,
                    name: piece.name ?? (decoder.name === "base64" ? at.name : undefined),
                    byValue: at.byValue && piece.byValue !== false,
                    hints: at.hints,
                    depth: at.depth + 1,
                    listKey: at.property,
                };
                if (piece.structured !== undefined) structured(piece.structured, next);
                else if (piece.value !== undefined) text(piece.value, next);
            }
        }
    };

    const structured = (value: unknown, at: At): void => {
        if (at.path && options.isSecret?.(at.path)) return;
        if (typeof value === "string") return text(value, at);
        if (value === null || typeof value !== "object" || at.depth >= MAX_DEPTH) return;
        if (Array.isArray(value)) {
            value.forEach((element, i) => {
                const hint = elementHint(at.listKey, element);
                structured(element, { ...at, field: `${at.field}[${i}]`, hints: hint ? [...at.hints, hint] : at.hints, depth: at.depth + 1, path: at.path && [...at.path, i] });
            });
            // An argument list (command, entryPoint, runcmd entries) read as one command line for its flags.
            if (value.length >= 2 && value.every((v) => typeof v === "string" && !isUnknown(v))) {
                const joined = (value as string[]).map((v) => (/\s/.test(v) && !v.includes("'") ? `'${v}'` : v)).join(" ");
                const decoded = DECODERS.find((d) => d.name === "line")?.decode(joined);
                for (const piece of decoded?.pieces ?? []) {
                    if (piece.value !== undefined) out.leaves.push({ field: `${render(at)} ${piece.label}`, property: at.property, name: piece.name, value: piece.value, byValue: false });
                }
            }
            return;
        }
        const obj = value as Record<string, unknown>;
        const pairName = PAIR_NAME_KEYS.map((k) => obj[k]).find((v) => typeof v === "string") as string | undefined;
        for (const [key, child] of Object.entries(obj)) {
            const isPairValue = pairName !== undefined && PAIR_VALUE_KEYS.includes(key);
            structured(child, {
                ...at,
                field: `${at.field}${keySegment(key)}`,
                name: isPairValue ? pairName : key,
                depth: at.depth + 1,
                path: at.path && [...at.path, key],
                listKey: key,
            });
        }
    };

    for (const [key, value] of Object.entries(props)) {
        if (value === undefined) continue;
        structured(value, { field: key, property: key, name: options.nameOf?.(key) ?? key, byValue: true, hints: [], depth: 0, path: [key], listKey: key });
    }
    return out;
}

export { pathText };
