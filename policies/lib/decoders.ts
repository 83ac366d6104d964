import { gunzipSync } from "zlib";
import { parse as parseYaml } from "yaml";
import { BoundedCache } from "./boundedCache";

/**
 * Decoders for text that hides other text: each recognises one form and returns its pieces, which
 * the walker (walker.ts) checks and decodes again. To read a new form, add a decoder to DECODERS.
 *
 * A piece is text (checked by value and, with a name, by the name model), or a structured value
 * (parsed JSON or YAML) that the walker walks like resource properties.
 */

export interface Piece {
    /** Appended to the field path: `$.db.password`, `(base64)`, `line 4`, `MIME part 2`. */
    label: string;
    /** The name the text is bound to here (variable, key, flag). */
    name?: string;
    value?: string;
    structured?: unknown;
    /** false: check the name only (the text is already checked as part of a line). */
    byValue?: boolean;
}

export interface Decoded {
    pieces: Piece[];
    /** true: the pieces hold all of the text, so the text itself need not be checked again. */
    covers: boolean;
}

export interface Decoder {
    name: string;
    decode(text: string): Decoded | undefined;
}

// ---------------------------------------------------------------------------------------------

function bytesToText(bytes: Buffer): string | undefined {
    let data = bytes;
    if (data.length > 2 && data[0] === 0x1f && data[1] === 0x8b) {
        try {
            data = gunzipSync(data);
        } catch {
            return undefined;
        }
    }
    const text = data.toString("utf8");
    if (text.includes("\ufffd")) return undefined;
    const control = text.replace(/[\x20-\x7e\t\r\n\u00a0-\uffff]/g, "");
    return control.length === 0 ? text : undefined;
}

/** Base64 of text (gzip-compressed or not): EC2 user data, cloud-config `encoding: b64`, MIME parts. */
export function decodeBase64Text(value: string): { text: string; gzip: boolean } | undefined {
    const compact = value.replace(/\s+/g, "");
    if (compact.length < 16 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
    const bytes = Buffer.from(compact, "base64");
    const gzip = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
    const text = bytesToText(bytes);
    if (text === undefined) return undefined;
    // Random key material can decode to printable bytes; text that hides a script or config has structure.
    if (!gzip && !/[\n{}=:#]|\s\S+\s/.test(text)) return undefined;
    return { text, gzip };
}

const base64Decoder: Decoder = {
    name: "base64",
    decode(text) {
        const d = decodeBase64Text(text);
        return d ? { pieces: [{ label: d.gzip ? "(base64, gzip)" : "(base64)", value: d.text }], covers: true } : undefined;
    },
};

const jsonDecoder: Decoder = {
    name: "json",
    decode(text) {
        const t = text.trim();
        if (!/^[[{]/.test(t)) return undefined;
        try {
            return { pieces: [{ label: "(JSON) $", structured: JSON.parse(t) }], covers: true };
        } catch {
            return undefined;
        }
    },
};

const mimeDecoder: Decoder = {
    name: "mime-multipart",
    decode(text) {
        const header = /Content-Type:\s*multipart\/[\w-]+;[^\n]*boundary="?([^"\r\n;]+)"?/i.exec(text);
        if (!header) return undefined;
        const parts = text.split(`--${header[1]}`).slice(1);
        const pieces: Piece[] = [];
        parts.forEach((part, i) => {
            if (part.startsWith("--")) return;
            const split = /\r?\n\r?\n/.exec(part);
            if (!split) return;
            const headers = part.slice(0, split.index);
            let body = part.slice(split.index + split[0].length);
            const type = /Content-Type:\s*([^;\r\n]+)/i.exec(headers)?.[1]?.trim() ?? "text/plain";
            if (/Content-Transfer-Encoding:\s*base64/i.test(headers)) {
                const bytes = Buffer.from(body.replace(/\s+/g, ""), "base64");
                body = bytesToText(bytes) ?? "";
            }
            pieces.push({ label: `MIME part ${i + 1} (${type})`, value: body });
        });
        return { pieces, covers: true };
    },
};

/** cloud-config `write_files` content in any of its encodings. */
function writeFileContent(file: Record<string, unknown>): string | undefined {
    if (typeof file.content !== "string") return undefined;
    const encoding = String(file.encoding ?? "text").toLowerCase();
    if (encoding === "text" || encoding === "") return file.content;
    const bytes = Buffer.from(file.content.replace(/\s+/g, ""), "base64");
    return bytesToText(bytes);
}

const cloudConfigDecoder: Decoder = {
    name: "cloud-config",
    decode(text) {
        if (!/^\s*#cloud-config\b/.test(text)) return undefined;
        let doc: unknown;
        try {
            doc = parseYaml(text);
        } catch {
            return undefined;
        }
        if (!doc || typeof doc !== "object") return { pieces: [], covers: true };
        const pieces: Piece[] = [];
        const config = { ...(doc as Record<string, unknown>) };
        // write_files and runcmd/bootcmd are read as what they are (files, shell commands); the rest as YAML.
        const files = Array.isArray(config.write_files) ? (config.write_files as Record<string, unknown>[]) : [];
        delete config.write_files;
        files.forEach((f, i) => {
            const content = f && typeof f === "object" ? writeFileContent(f) : undefined;
            const where = typeof f?.path === "string" ? ` (${f.path})` : "";
            if (content !== undefined) pieces.push({ label: `write_files[${i}]${where}`, value: content });
        });
        for (const key of ["runcmd", "bootcmd"]) {
            const commands = Array.isArray(config[key]) ? (config[key] as unknown[]) : [];
            delete config[key];
            commands.forEach((c, i) => {
                const line = Array.isArray(c) ? c.map(String).join(" ") : typeof c === "string" ? c : undefined;
                if (line !== undefined) pieces.push({ label: `${key}[${i}]`, value: line });
            });
        }
        pieces.push({ label: "(cloud-config)", structured: config });
        return { pieces, covers: true };
    },
};

// ---------------------------------------------------------------------------------------------
// Shell scripts and command lines
// ---------------------------------------------------------------------------------------------

function unquote(value: string): string {
    const v = value.trim();
    const m = /^(['"])(.*)\1;?$/.exec(v);
    return m ? m[2] : v.replace(/;$/, "");
}

/** Values computed at boot (command substitution, other variables) are references, not literals. */
function literalOrComputed(value: string): string {
    return /\$\(|`|\$\{?[A-Za-z_]/.test(value) ? "${computed}" : value;
}

/**
 * Named values on one line: `NAME=value`, `export NAME="value"`, systemd's `Environment=NAME=value`,
 * `key: value` (YAML, properties), `echo "NAME=value" >> file`, `aws configure set name value`.
 */
export function lineAssignments(line: string): { name: string; value: string }[] {
    const out: { name: string; value: string }[] = [];
    const text = line.trim();
    if (text === "" || text.startsWith("#")) return out;
    const echo = /^(?:sudo\s+)?(?:echo|printf)\s+(?:-[a-z]+\s+)?(['"]?)(.*?)\1\s*(?:>>?|\|\s*(?:sudo\s+)?tee)/.exec(text);
    if (echo) return lineAssignments(echo[2]);
    const configure = /^aws\s+configure\s+set\s+([\w.]+)\s+(\S+)/.exec(text);
    if (configure) return [{ name: configure[1], value: literalOrComputed(unquote(configure[2])) }];
    const assign = /^(?:export\s+|declare\s+(?:-\w+\s+)?|local\s+|readonly\s+|set\s+|Environment=["']?)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(text);
    if (assign && !/^(if|then|for|while)\b/.test(text)) {
        out.push({ name: assign[1], value: literalOrComputed(unquote(assign[2])) });
        return out;
    }
    const yaml = /^(?:-\s+)?["']?([A-Za-z_][\w.-]*)["']?\s*:\s+(?![|>{[&*!#])(\S.*)$/.exec(text);
    if (yaml) out.push({ name: yaml[1], value: literalOrComputed(unquote(yaml[2])) });
    return out;
}

const VALUE_FLAG = /(?:^|\s)--?([A-Za-z][\w.-]*)(?:=|\s+)(?!-)("[^"]*"|'[^']*'|\S+)/g;

/** `--password=x`, `--db-password x`, `--token "x"`, mysql's `-pSECRET`, `docker login -p x`, `curl -u user:pass`. */
export function commandFlags(line: string): { name: string; value: string }[] {
    const out: { name: string; value: string }[] = [];
    for (const m of line.matchAll(VALUE_FLAG)) {
        const flag = m[1];
        const value = literalOrComputed(unquote(m[2]));
        if (flag.length > 1 || m[0].includes("--")) out.push({ name: flag, value });
    }
    if (/\b(mysql|mysqldump|mariadb|mysqladmin)\b/.test(line)) {
        const attached = /(?:^|\s)-p(?!\s)([^\s'"]+|'[^']*'|"[^"]*")/.exec(line);
        if (attached) out.push({ name: "password", value: literalOrComputed(unquote(attached[1])) });
    }
    if (/\b(docker|podman|helm|nerdctl)\b[^\n]*\blogin\b/.test(line)) {
        const p = /(?:^|\s)-p\s+("[^"]*"|'[^']*'|\S+)/.exec(line);
        if (p) out.push({ name: "password", value: literalOrComputed(unquote(p[1])) });
    }
    const user = /\bcurl\b.*?(?:\s-u\s*|\s--user[=\s])("[^"]*"|'[^']*'|\S+)/.exec(line);
    if (user) {
        const pair = unquote(user[1]);
        const colon = pair.indexOf(":");
        if (colon > 0) out.push({ name: "password", value: literalOrComputed(pair.slice(colon + 1)) });
    }
    return out;
}

/** Heredoc bodies (`cat <<EOF > /etc/app.json ... EOF`), which may be JSON or YAML of their own. */
function heredocs(lines: string[]): { start: number; body: string }[] {
    const out: { start: number; body: string }[] = [];
    for (let i = 0; i < lines.length; i++) {
        const m = /<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?/.exec(lines[i]);
        if (!m) continue;
        const end = lines.findIndex((l, j) => j > i && l.trim() === m[1]);
        if (end < 0) continue;
        out.push({ start: i + 2, body: lines.slice(i + 1, end).join("\n") });
        i = end;
    }
    return out;
}

const shellDecoder: Decoder = {
    name: "script",
    decode(text) {
        if (!text.includes("\n")) return undefined;
        const lines = text.split(/\r?\n/);
        const pieces: Piece[] = [];
        lines.forEach((line, i) => {
            if (line.trim() === "") return;
            pieces.push({ label: `line ${i + 1}`, value: line });
        });
        for (const doc of heredocs(lines)) {
            if (/^\s*[[{]/.test(doc.body)) pieces.push({ label: `heredoc at line ${doc.start}`, value: doc.body, byValue: false });
        }
        return { pieces, covers: true };
    },
};

/** One line: its assignments and command-line flags, checked by name (the line itself is checked by value). */
const lineDecoder: Decoder = {
    name: "line",
    decode(text) {
        if (text.includes("\n")) return undefined;
        const pieces: Piece[] = [];
        for (const a of lineAssignments(text)) pieces.push({ label: `"${a.name}"`, name: a.name, value: a.value, byValue: false });
        for (const f of commandFlags(text)) pieces.push({ label: `flag ${f.name}`, name: f.name, value: f.value, byValue: false });
        for (const p of connectionParameters(text)) pieces.push({ label: `parameter ${p.name}`, name: p.name, value: p.value, byValue: false });
        return pieces.length > 0 ? { pieces, covers: false } : undefined;
    },
};

// ---------------------------------------------------------------------------------------------
// URLs and connection strings
// ---------------------------------------------------------------------------------------------

/**
 * Named parameters of URLs (`?password=...&api_key=...`, JDBC's `;password=...`) and of
 * key=value connection strings (ODBC/ADO.NET `Server=..;Uid=..;Pwd=..;`, libpq `host=.. password=..`).
 */
export function connectionParameters(text: string): { name: string; value: string }[] {
    const out: { name: string; value: string }[] = [];
    for (const url of text.matchAll(/\b[a-z][a-z0-9+.:-]*:\/\/[^\s'"]+/gi)) {
        const u = url[0];
        const q = u.indexOf("?");
        if (q >= 0) {
            for (const pair of u.slice(q + 1).split("&")) {
                const eq = pair.indexOf("=");
                if (eq > 0) out.push({ name: decodeURIComponentSafe(pair.slice(0, eq)), value: decodeURIComponentSafe(pair.slice(eq + 1)) });
            }
        }
        for (const pair of u.split(";").slice(1)) {
            const eq = pair.indexOf("=");
            if (eq > 0) out.push({ name: pair.slice(0, eq), value: pair.slice(eq + 1) });
        }
    }
    if (out.length === 0 && /^[^=\s;]+=[^;]*(;[^=\s;]+=[^;]*)+;?$/.test(text.trim())) {
        for (const pair of text.trim().split(";")) {
            const eq = pair.indexOf("=");
            if (eq > 0) out.push({ name: pair.slice(0, eq).trim(), value: unquote(pair.slice(eq + 1)) });
        }
    }
    if (out.length === 0 && /^(\s*[a-z_]+=\S+){2,}\s*$/.test(text) && /\b(host|dbname|user)=/.test(text)) {
        for (const m of text.matchAll(/([a-z_]+)=('[^']*'|\S+)/g)) out.push({ name: m[1], value: unquote(m[2]) });
    }
    return out;
}

function decodeURIComponentSafe(s: string): string {
    try {
        return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
        return s;
    }
}

/** In the order they are tried; the first that recognises the text decodes it. */
export const DECODERS: Decoder[] = [mimeDecoder, cloudConfigDecoder, jsonDecoder, base64Decoder, shellDecoder, lineDecoder];

/** What `decodeText` has worked out, by text: a stack's texts repeat (copies of a component, one user data in many launch templates). */
const decodedTexts = new BoundedCache<{ decoder: Decoder; decoded: Decoded } | null>(20_000, 16 * 2 ** 20);

/**
 * The first decoder that recognises `text`, and what it made of it; undefined when none does.
 * Decoding is a function of the text alone (the walker adds the field, the name and the depth),
 * so the answer is kept by text: the same user data, command or connection string in many
 * resources is decoded once. Callers share the pieces and must not change them.
 */
export function decodeText(text: string): { decoder: Decoder; decoded: Decoded } | undefined {
    const known = decodedTexts.get(text);
    if (known !== undefined) return known ?? undefined;
    let found: { decoder: Decoder; decoded: Decoded } | null = null;
    for (const decoder of DECODERS) {
        const decoded = decoder.decode(text);
        if (decoded) {
            found = { decoder, decoded };
            break;
        }
    }
    decodedTexts.set(text, found);
    return found ?? undefined;
}
