import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";
import { EXTRA_SECRET_FORMATS } from "./secretFormats";

/**
 * The detectors that decide whether one string is a plaintext secret. Each is a small named unit:
 * - `secretlint`: the recommended preset, with the AWS rule's `enableIDScanRule` on (access key ids
 *   without a label) and its account-id report dropped (an account id is not a secret);
 * - `extraFormats`: the formats of secretFormats.ts;
 * - `urlCredentials`: a URL whose user-info carries a password;
 * - `secretName`: the name model, for a literal bound to a name that says "secret".
 * None of them ever returns the value: reasons name the rule or the name only.
 */

// secretlint's profiler marks every rule run and keeps every mark (O(marks²) in 11.x); the pack does not read it.
secretLintProfiler.setEnabled(false);

export interface Candidate {
    /** The name the value is bound to (variable, key, flag, parameter), if any. */
    name?: string;
    value: string;
    /** false: only the name model applies (the text is already scanned as part of a larger one). */
    byValue: boolean;
}

// ---------------------------------------------------------------------------------------------
// References and placeholders: never plaintext.
// ---------------------------------------------------------------------------------------------

const PLACEHOLDER = /^(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$\([^)]*\)|`[^`]*`|<[^<>]*>|\{\{[^{}]*\}\}|%[sd]|\*{3,}|x{3,}|X{3,}|\.{3,}|-+)$/;

/**
 * A value that points at a secret or is plainly not one: empty; an ARN; `{{resolve:...}}`; an SSM
 * parameter path or name with `ssm:`; a placeholder the runtime fills in; a number, boolean or
 * duration; a URL without credentials; an e-mail address.
 */
export function isReferenceValue(value: string): boolean {
    const v = value.trim();
    if (isInertValue(v)) return true;
    if (/^\/[\w./-]+$/.test(v)) return true;
    if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(v) && !hasUrlCredentials(v)) return true;
    if (/^[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(v)) return true;
    return false;
}

/** Values no detector needs to read: references by ARN or dynamic reference, placeholders, numbers, booleans, durations. */
export function isInertValue(value: string): boolean {
    const v = value.trim();
    if (v === "") return true;
    if (/^arn:aws[a-z-]*:/.test(v)) return true;
    if (/^\{\{resolve:(secretsmanager|ssm|ssm-secure):[^}]+\}\}$/.test(v)) return true;
    if (/^(ssm|secretsmanager|ssm-secure):/.test(v)) return true;
    if (PLACEHOLDER.test(v)) return true;
    if (/^(Bearer|Basic|Token)\s+/i.test(v) && PLACEHOLDER.test(v.replace(/^\S+\s+/, ""))) return true;
    if (/^-?\d+(\.\d+)?$/.test(v)) return true;
    if (/^\d+(\.\d+)?\s*(ms|s|sec|m|min|h|d|w|y|seconds?|minutes?|hours?|days?)$/i.test(v)) return true;
    if (/^(true|false|yes|no|on|off|enabled|disabled|none|null|nil|required|optional)$/i.test(v)) return true;
    return false;
}

// ---------------------------------------------------------------------------------------------
// URL credentials
// ---------------------------------------------------------------------------------------------

const CREDENTIAL_URL = /\b([a-z][a-z0-9+.-]*):\/\/([^\s:/?#@'"]*):([^\s/?@'"]+)@[^\s/?#'"]+/gi;

export function hasUrlCredentials(value: string): boolean {
    for (const m of value.matchAll(CREDENTIAL_URL)) {
        if (!PLACEHOLDER.test(decodeURIComponentSafe(m[3]))) return true;
    }
    return false;
}

function decodeURIComponentSafe(s: string): string {
    try {
        return decodeURIComponent(s);
    } catch {
        return s;
    }
}

// ---------------------------------------------------------------------------------------------
// The name model
// ---------------------------------------------------------------------------------------------

/** `dbPassword`, `db-password`, `DB_PASSWORD`, `--db.password` → `DB_PASSWORD`. */
export function normaliseName(name: string): string {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
        .replace(/[^A-Za-z0-9]+/g, "_")
        .replace(/^_+|_+$/g, "")
        .toUpperCase();
}

/** Words that on their own name a secret. */
const SECRET_WORDS = new Set(["AUTHORIZATION", "PASSWORD", "PASSWD", "PASSPHRASE", "PWD", "PASS", "SECRET", "SECRETS", "TOKEN", "APIKEY", "CREDENTIAL", "CREDENTIALS", "DSN", "CONNSTR", "PRIVATEKEY", "SECRETKEY", "ACCESSKEY"]);
/** `<word> KEY` is a secret for these words (`API_KEY`, `SIGNING_KEY`); `PUBLIC_KEY`, `KMS_KEY` are not. */
const SECRET_KEY_QUALIFIERS = new Set(["API", "ACCESS", "SECRET", "PRIVATE", "SIGNING", "ENCRYPTION", "MASTER", "CLIENT", "AUTH", "SERVICE", "LICENSE", "WEBHOOK", "HMAC", "JWT", "SESSION", "APP", "ADMIN", "SHARED", "ROOT", "ENCRYPT", "DECRYPT", "CIPHER", "BOT", "INGEST", "WRITE"]);
/** Compound names that hold a secret as a whole. */
const SECRET_PHRASES = [/(^|_)DATABASE_URL$/, /(^|_)DB_URL$/, /(^|_)CONNECTION_STRING$/, /(^|_)CONN_STRING$/, /(^|_)JDBC_URL$/, /(^|_)REDIS_URL$/, /(^|_)AMQP_URL$/, /(^|_)MONGO(DB)?_URI$/, /(^|_)AUTH_HEADER_VALUE$/, /(^|_)SECRET_KEY_BASE$/, /(^|_)BASIC_AUTH$/, /(^|_)HTPASSWD$/];
/** Trailing words that keep the meaning of a secret word before them: `SECRET_VALUE`, `PASSWORD_B64`. */
const VALUE_WORDS = new Set(["VALUE", "STRING", "STR", "TEXT", "PLAIN", "PLAINTEXT", "RAW", "B64", "BASE64", "HEX", "JSON", "DATA", "BODY", "LITERAL", "CLEAR", "CLEARTEXT"]);
/** Leading words that make a key public by design (`PUBLIC_KEY`, `STRIPE_PUBLISHABLE_KEY`, `NEXT_PUBLIC_API_KEY`). */
const PUBLIC_WORDS = new Set(["PUBLIC", "PUB", "PUBLISHABLE", "PGP", "GPG", "SSH_PUBLIC"]);

/**
 * Whether a name says its value is a secret. The last word decides, so a setting about a secret
 * is not one: `TOKEN_TTL`, `PASSWORD_MIN_LENGTH`, `API_KEY_PREFIX`, `API_KEY_HEADER`,
 * `TOKEN_AUDIENCE`, `SECRET_ARN`, `DB_PASSWORD_PARAMETER`, `JWT_PUBLIC_KEY` are not secrets;
 * `DB_PASSWORD`, `STRIPE_API_KEY`, `apiKey`, `SECRET_VALUE`, `DATABASE_URL` are.
 */
export function isSecretName(name: string): boolean {
    const n = normaliseName(name);
    if (n === "") return false;
    const words = n.split("_");
    if (words.some((w) => PUBLIC_WORDS.has(w))) return false;
    while (words.length > 1 && VALUE_WORDS.has(words[words.length - 1])) words.pop();
    const joined = words.join("_");
    if (SECRET_PHRASES.some((p) => p.test(joined))) return true;
    const last = words[words.length - 1];
    if (SECRET_WORDS.has(last)) return true;
    // Run-together names: `apitoken`, `adminpassword`, `clientsecret`.
    if (/^[A-Z]{2,}(TOKEN|PASSWORD|PASSWD|SECRET|APIKEY)$/.test(last)) return true;
    if (last === "KEY" && words.length >= 2 && SECRET_KEY_QUALIFIERS.has(words[words.length - 2])) return true;
    if (last === "KEY" && words.length === 1) return false;
    return false;
}

// ---------------------------------------------------------------------------------------------
// Value detectors
// ---------------------------------------------------------------------------------------------

function extraFormatReasons(value: string): string[] {
    return EXTRA_SECRET_FORMATS.filter((f) => f.pattern.test(value)).map((f) => `looks like ${f.description}`);
}

const DROPPED_SECRETLINT_MESSAGES = new Set(["AWSAccountID"]);

/** Runs secretlint once over many values; returns, per value index, the reasons it gave. */
async function secretlintReasons(values: string[]): Promise<Map<number, string[]>> {
    const found = new Map<number, string[]>();
    const offsets: number[] = [];
    const indexes: number[] = [];
    let content = "";
    values.forEach((v, i) => {
        if (v === "") return;
        offsets.push(content.length);
        indexes.push(i);
        content += v + "\n";
    });
    if (content === "") return found;
    const result = await lintSource({
        source: { content, filePath: "/jobfleet/policy-values.txt", contentType: "text" },
        options: {
            config: {
                rules: [
                    {
                        id: "@secretlint/secretlint-rule-preset-recommend",
                        rule: recommendedPreset,
                        rules: [{ id: "@secretlint/secretlint-rule-aws", options: { enableIDScanRule: true } }],
                    },
                ],
            },
            maskSecrets: true,
            noPhysicFilePath: true,
        },
    });
    for (const m of result.messages) {
        if (DROPPED_SECRETLINT_MESSAGES.has(m.messageId)) continue;
        const start = m.range[0];
        let lo = 0;
        let hi = offsets.length - 1;
        while (lo < hi) {
            const mid = (lo + hi + 1) >> 1;
            if (offsets[mid] <= start) lo = mid;
            else hi = mid - 1;
        }
        const index = indexes[lo];
        const list = found.get(index) ?? [];
        const reason = `secretlint ${m.ruleId.replace(/^@secretlint\/secretlint-rule-/, "")} found ${m.messageId}`;
        if (!list.includes(reason)) list.push(reason);
        found.set(index, list);
    }
    return found;
}

/** The reasons each candidate is a plaintext secret (empty: it is not). */
export async function detectSecrets(candidates: Candidate[]): Promise<string[][]> {
    const byValue = candidates.map((c) => (c.byValue && !isInertValue(c.value) ? c.value : ""));
    const linted = await secretlintReasons(byValue);
    return candidates.map((c, i) => {
        const reasons: string[] = [];
        if (byValue[i] !== "") {
            reasons.push(...(linted.get(i) ?? []));
            reasons.push(...extraFormatReasons(c.value));
            if (hasUrlCredentials(c.value)) reasons.push("a URL carries a password in its user-info");
        }
        if (reasons.length === 0 && c.name && isSecretName(c.name) && !isReferenceValue(c.value)) {
            reasons.push(`the name ${c.name} says it holds a secret and the value is a literal, not a reference`);
        }
        return reasons;
    });
}
