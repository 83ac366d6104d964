import { lintSource } from "@secretlint/core";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";

/**
 * Finds secrets in plain values two ways: by value, with secretlint's recommended rules (cloud
 * keys, tokens, private keys, connection strings with passwords...) plus URLs that carry a
 * password; and by name, where a variable called like a secret holds a literal rather than a
 * reference. No finding ever repeats the value.
 */

export interface NamedValue {
    /** Where the value sits, e.g. `environment "DATABASE_URL"`. */
    field: string;
    /** The variable/key/tag name the value is bound to, if any. */
    name?: string;
    value: string;
    /** false: check the name only (the value is already scanned as part of a larger text). */
    byValue?: boolean;
}

export interface SecretFinding {
    field: string;
    name?: string;
    reasons: string[];
}

export interface SecretScanConfig {
    secretNamePatterns: string[];
    referenceNameSuffixes: string[];
}

export const SECRET_SCAN_DEFAULTS: SecretScanConfig = {
    secretNamePatterns: [
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "(^|_)PASS($|_)",
        "(^|_)PWD($|_)",
        "SECRET",
        "TOKEN",
        "API_?KEY",
        "PRIVATE_?KEY",
        "ACCESS_?KEY",
        "SIGNING_?KEY",
        "ENCRYPTION_?KEY",
        "CREDENTIALS?",
        "(^|_)DSN($|_)",
        "DATABASE_URL",
        "(^|_)DB_URL($|_)",
        "CONNECTION_STRING",
    ],
    referenceNameSuffixes: [
        "ARN",
        "ARNS",
        "ID",
        "IDS",
        "NAME",
        "NAMES",
        "PATH",
        "PARAM",
        "PARAMETER",
        "HEADER",
        "FILE",
        "TTL",
        "SECONDS",
        "SEC",
        "MS",
        "MINUTES",
        "HOURS",
        "DAYS",
        "COUNT",
        "LENGTH",
        "SIZE",
        "BYTES",
        "REGION",
        "ENABLED",
        "VERSION",
        "TYPE",
        "MODE",
    ],
};

/** `dbPassword`, `db-password`, `DB_PASSWORD` → `DB_PASSWORD`. */
export function normaliseName(name: string): string {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/[^A-Za-z0-9]+/g, "_")
        .replace(/^_+|_+$/g, "")
        .toUpperCase();
}

const CREDENTIAL_URL = /\b([a-z][a-z0-9+.-]*):\/\/([^\s:/?#@]*):([^\s/?#@]+)@[^\s/?#]+/i;

/** A URL whose user-info carries a password that is not a placeholder (`${DB_PASSWORD}`, `****`). */
export function hasUrlCredentials(value: string): boolean {
    const m = CREDENTIAL_URL.exec(value);
    if (!m) return false;
    const password = m[3];
    return !/^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\*+|x+|<[^>]*>|\{\{.*\}\})$/i.test(password);
}

/**
 * A value that points at a secret or is plainly not one: empty, an ARN, a number or boolean, a
 * URL without credentials, an SSM parameter path, or a placeholder the runtime fills in.
 */
export function isReferenceValue(value: string): boolean {
    const v = value.trim();
    if (v === "") return true;
    if (/^arn:aws[a-z-]*:/.test(v)) return true;
    if (/^-?\d+(\.\d+)?$/.test(v)) return true;
    if (/^(true|false|yes|no|on|off|enabled|disabled|none|null)$/i.test(v)) return true;
    if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(v) && !hasUrlCredentials(v)) return true;
    if (/^\/[\w./-]+$/.test(v)) return true;
    if (/^\$\{[^}]+\}$|^\$[A-Za-z_][A-Za-z0-9_]*$|^\{\{resolve:[^}]+\}\}$/.test(v)) return true;
    return false;
}

export function looksLikeSecretName(name: string, config: SecretScanConfig): boolean {
    const n = normaliseName(name);
    const last = n.split("_").pop() ?? "";
    if (config.referenceNameSuffixes.map((s) => s.toUpperCase()).includes(last)) return false;
    return config.secretNamePatterns.some((p) => new RegExp(p).test(n));
}

/** Runs secretlint once over many values and returns, per value index, the rules that fired. */
async function secretlintFindings(values: string[]): Promise<Map<number, string[]>> {
    const found = new Map<number, string[]>();
    if (values.length === 0) return found;
    const offsets: number[] = [];
    let content = "";
    for (const v of values) {
        offsets.push(content.length);
        content += v + "\n";
    }
    const result = await lintSource({
        source: { content, filePath: "/jobfleet/policy-values.txt", contentType: "text" },
        options: { config: { rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommendedPreset }] }, maskSecrets: true, noPhysicFilePath: true },
    });
    for (const m of result.messages) {
        const start = m.range[0];
        let index = offsets.length - 1;
        while (index > 0 && offsets[index] > start) index--;
        const list = found.get(index) ?? [];
        const rule = m.ruleId.replace(/^@secretlint\/secretlint-rule-/, "");
        const reason = `secretlint ${rule} found ${m.messageId}`;
        if (!list.includes(reason)) list.push(reason);
        found.set(index, list);
    }
    return found;
}

export async function scanValues(items: NamedValue[], config: SecretScanConfig): Promise<SecretFinding[]> {
    const scanned = items.map((i) => (i.byValue === false ? "" : i.value));
    const byValue = await secretlintFindings(scanned);
    const findings: SecretFinding[] = [];
    items.forEach((item, index) => {
        const reasons = [...(byValue.get(index) ?? [])];
        if (item.byValue !== false && hasUrlCredentials(item.value)) reasons.push("the URL carries a password in its user-info");
        if (item.name && !isReferenceValue(item.value) && looksLikeSecretName(item.name, config) && reasons.length === 0) {
            reasons.push(`the name ${item.name} says it holds a secret and the value is a literal, not a reference`);
        }
        if (reasons.length > 0) findings.push({ field: item.field, name: item.name, reasons });
    });
    return findings;
}

/** Base64 user data decoded when it is base64 of text; anything else is returned as given. */
export function decodeUserData(value: string): string {
    const compact = value.replace(/\s+/g, "");
    if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return value;
    const decoded = Buffer.from(compact, "base64").toString("utf8");
    const printable = decoded.replace(/[\x20-\x7e\t\r\n\u00a0-\uffff]/g, "");
    return printable.length === 0 && !decoded.includes("\ufffd") ? decoded : value;
}

/**
 * `NAME=value` and `export NAME="value"` lines of a script, systemd's `Environment=NAME=value`, and
 * cloud-config's `key: value` lines, with their 1-based line numbers.
 */
export function scriptAssignments(script: string): { line: number; name: string; value: string }[] {
    const out: { line: number; name: string; value: string }[] = [];
    script.split(/\r?\n/).forEach((text, i) => {
        const yaml = /^\s*(?:-\s+)?([A-Za-z_][\w.-]*):\s+(?![|>{[&*!#])(\S.*)$/.exec(text);
        const m = /^\s*(?:export\s+|declare\s+(?:-\w+\s+)?|local\s+|readonly\s+|Environment=["']?)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(text) ?? yaml;
        if (!m) return;
        let value = m[2].trim();
        const quoted = /^(['"])(.*)\1$/.exec(value);
        if (quoted) value = quoted[2];
        // Values computed at boot (command substitution, other variables) are references, not literals.
        if (/\$\(|`|\$\{?[A-Za-z_]/.test(value)) value = "${computed}";
        out.push({ line: i + 1, name: m[1], value });
    });
    return out;
}

/**
 * The string leaves of a value that is a JSON object or list (`{"db": {"password": "..."}}`), each
 * with its key path and key, so a secret nested in a JSON-valued variable is found by its key name
 * as well. Anything that is not a JSON object or list gives nothing.
 */
export function jsonAssignments(value: string): { path: string; name: string; value: string }[] {
    const text = value.trim();
    if (!/^[[{]/.test(text)) return [];
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        return [];
    }
    const out: { path: string; name: string; value: string }[] = [];
    const visit = (v: unknown, path: string, name: string, depth: number): void => {
        if (depth > 20) return;
        if (Array.isArray(v)) v.forEach((item, i) => visit(item, `${path}[${i}]`, name, depth + 1));
        else if (v && typeof v === "object") for (const [k, item] of Object.entries(v as Record<string, unknown>)) visit(item, path ? `${path}.${k}` : k, k, depth + 1);
        else if (typeof v === "string" && name !== "") out.push({ path, name, value: v });
    };
    visit(parsed, "", "", 0);
    return out;
}
