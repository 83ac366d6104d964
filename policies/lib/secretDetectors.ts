import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";
import { EXTRA_SECRET_FORMATS } from "./secretFormats";
import { BoundedCache } from "./boundedCache";

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

/** Verdicts by value: what secretlint, the extra formats and the URL check say about exactly this string. */
export const valueVerdicts = new BoundedCache<readonly string[]>(50_000, 16 * 2 ** 20);
/** Verdicts of the name model, by name. */
export const nameVerdicts = new BoundedCache<boolean>(20_000, 2 * 2 ** 20);

function isSecretNameCached(name: string): boolean {
    let verdict = nameVerdicts.get(name);
    if (verdict === undefined) {
        verdict = isSecretName(name);
        nameVerdicts.set(name, verdict);
    }
    return verdict;
}

/**
 * Runs secretlint once over many distinct values (one per line, as one text); returns, per value,
 * the reasons it gave, and whether some finding reached past the value's end into the next line or
 * came into it from the one before (verdicts that depend on a neighbour, so not kept in the cache).
 */
async function secretlintReasons(values: string[]): Promise<Array<{ reasons: string[]; spills: boolean }>> {
    const found = values.map(() => ({ reasons: [] as string[], spills: false }));
    const offsets: number[] = [];
    let content = "";
    for (const v of values) {
        offsets.push(content.length);
        content += v + "\n";
    }
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
        const entry = found[lo];
        const reason = `secretlint ${m.ruleId.replace(/^@secretlint\/secretlint-rule-/, "")} found ${m.messageId}`;
        if (!entry.reasons.includes(reason)) entry.reasons.push(reason);
        // A finding that runs on into the next values: each of their verdicts depends on its neighbours
        // (one may have lost its own finding to this one), so none of them is kept.
        if (m.range[1] > offsets[lo] + values[lo].length) {
            entry.spills = true;
            for (let next = lo + 1; next < offsets.length && offsets[next] < m.range[1]; next++) found[next].spills = true;
        }
    }
    return found;
}

/** The value detectors' reasons for each distinct value: from the cache, else judged now (one secretlint run for all new ones). */
async function valueReasons(values: string[]): Promise<Map<string, readonly string[]>> {
    const out = new Map<string, readonly string[]>();
    const fresh: string[] = [];
    for (const v of values) {
        if (v === "" || out.has(v)) continue;
        const cached = valueVerdicts.get(v);
        if (cached) {
            out.set(v, cached);
        } else {
            out.set(v, []);
            fresh.push(v);
        }
    }
    const linted = await secretlintReasons(fresh);
    fresh.forEach((v, i) => {
        const reasons = [...linted[i].reasons, ...extraFormatReasons(v)];
        if (hasUrlCredentials(v)) reasons.push("a URL carries a password in its user-info");
        out.set(v, reasons);
        if (!linted[i].spills) valueVerdicts.set(v, reasons);
    });
    return out;
}

/** The reasons each candidate is a plaintext secret (empty: it is not). */
export async function detectSecrets(candidates: Candidate[]): Promise<string[][]> {
    const byValue = candidates.map((c) => (c.byValue && !isInertValue(c.value) ? c.value : ""));
    const judged = await valueReasons(byValue);
    return candidates.map((c, i) => {
        const reasons: string[] = byValue[i] !== "" ? [...(judged.get(byValue[i]) ?? [])] : [];
        if (reasons.length === 0 && c.name && isSecretNameCached(c.name) && !isReferenceValue(c.value)) {
            reasons.push(`the name ${c.name} says it holds a secret and the value is a literal, not a reference`);
        }
        return reasons;
    });
}
