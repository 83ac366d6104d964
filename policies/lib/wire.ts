/**
 * The engine's wire form as the pack sees it (docs/policies.md, "What reaches a policy").
 *
 * @pulumi/policy hands a policy its properties behind a proxy that throws UnknownValueError on the
 * first unknown value it meets, and with secrets already unwrapped. Two things the pack needs are
 * lost that way, so this module recovers them:
 * - the plain properties behind the proxy, so one unknown value does not stop the checks on every
 *   known one (`plainProps`, `isUnknown`);
 * - which values the engine sent as secrets (`isEngineSecret`): the SDK's deserializer is wrapped
 *   once, at load, to note the secret paths of each property map it returns. A value the program
 *   made a Pulumi secret is handled as one (encrypted in state, masked in output) and is never
 *   reported as plaintext.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const deserialize = require("@pulumi/policy/deserialize") as { deserializeProperties: (s: unknown, proxySecrets: boolean) => Record<string, unknown> };

const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const PROXY_TARGET = "__getSpecialProxyTarget";

/** The engine's unknown sentinels, one per type (pkg/resource/plugin/rpc.go). */
const UNKNOWN_SENTINELS = new Set([
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58",
    "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

export type Path = (string | number)[];

export function isUnknown(value: unknown): boolean {
    return typeof value === "string" && UNKNOWN_SENTINELS.has(value);
}

const secretPathsOf = new WeakMap<object, Set<string>>();

function collectSecretPaths(value: unknown, path: Path, out: Set<string>): void {
    if (Array.isArray(value)) {
        value.forEach((v, i) => collectSecretPaths(v, [...path, i], out));
        return;
    }
    if (!value || typeof value !== "object") return;
    const obj = value as Record<string, unknown>;
    if (obj[SPECIAL_SIG_KEY] === SECRET_SIG) {
        out.add(JSON.stringify(path));
        collectSecretPaths(obj.value, path, out);
        return;
    }
    for (const [k, v] of Object.entries(obj)) collectSecretPaths(v, [...path, k], out);
}

/**
 * The SDK deserializes a request's properties once per policy (`Struct.toJavaScript` each time) and
 * this module reads the same struct for its secret paths: both are computed once per struct (a
 * request's message keeps returning the same one) and each policy still gets its own fresh copy,
 * since the SDK's deserializer only reads the tree it is given and builds new objects.
 */
const structTrees = new WeakMap<object, { tree: unknown; secretPaths: Set<string> }>();

function treeOf(struct: { toJavaScript(): unknown }): { tree: unknown; secretPaths: Set<string> } {
    let known = structTrees.get(struct);
    if (!known) {
        const tree = struct.toJavaScript();
        const secretPaths = new Set<string>();
        collectSecretPaths(tree, [], secretPaths);
        known = { tree, secretPaths };
        structTrees.set(struct, known);
    }
    return known;
}

const original = deserialize.deserializeProperties;
if (!(original as { jobfleetSecretPaths?: boolean }).jobfleetSecretPaths) {
    const wrapped = (struct: { toJavaScript(): unknown }, proxySecrets: boolean) => {
        if (!struct || typeof struct !== "object") return original(struct, proxySecrets);
        const { tree, secretPaths } = treeOf(struct);
        const result = original({ toJavaScript: () => tree }, proxySecrets);
        if (secretPaths.size > 0 && result && typeof result === "object") secretPathsOf.set(result, secretPaths);
        return result;
    };
    (wrapped as { jobfleetSecretPaths?: boolean }).jobfleetSecretPaths = true;
    deserialize.deserializeProperties = wrapped as typeof original;
}

/** The plain properties behind the SDK's unknown-checking proxy (reading them never throws). */
export function plainProps(props: Record<string, any>): Record<string, unknown> {
    const target = (props as Record<string, unknown>)[PROXY_TARGET];
    return (target && typeof target === "object" ? target : props) as Record<string, unknown>;
}

/** True when the engine sent the value at `path` (or a value containing it) as a secret. */
export function isEngineSecret(props: Record<string, unknown>, path: Path): boolean {
    const paths = secretPathsOf.get(plainProps(props));
    if (!paths) return false;
    for (let i = path.length; i >= 1; i--) if (paths.has(JSON.stringify(path.slice(0, i)))) return true;
    return false;
}

/** `environment.variables.DB_PASSWORD`, `containerDefinitions[0]`, `tags["team:owner"]`. */
export function pathText(path: Path): string {
    let out = "";
    for (const p of path) {
        if (typeof p === "number") out += `[${p}]`;
        else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out === "" ? p : `.${p}`;
        else out += `[${JSON.stringify(p)}]`;
    }
    return out;
}
