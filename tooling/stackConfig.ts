import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import type * as YAML from "yaml";
import { PROJECT } from "../config";
import { keepFile } from "../runtime/keptFiles";

export const PROJECT_ROOT = path.resolve(__dirname, "..");

export interface StackConfigSource {
    /** Flat config as the Pulumi CLI hands it to a program: `namespace:key` → string (objects as JSON). */
    config: Record<string, string>;
    /** Keys whose values are `secure:` ciphertext in the stack file. Offline they carry a placeholder. */
    secretKeys: string[];
    /** Pulumi ESC environments the stack file imports; offline their values are not available. */
    environments: string[];
    files: string[];
}

export class StackConfigFileError extends Error {
    constructor(file: string, problem: string) {
        super(`${path.relative(process.cwd(), file) || file}: ${problem}`);
        this.name = "StackConfigFileError";
    }
}

/** Parsed stack and project files, by content: the YAML parser's load and first parse were a tenth of a second of every preview. */
const PARSED_YAML_DIR = path.join(PROJECT_ROOT, "node_modules", ".cache", "jobfleet", "yaml");

function readYaml(file: string): unknown {
    if (!fs.existsSync(file)) throw new StackConfigFileError(file, "no such file");
    const text = fs.readFileSync(file, "utf8");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const yamlVersion = (require("yaml/package.json") as { version: string }).version;
    const kept = path.join(PARSED_YAML_DIR, `${crypto.createHash("sha256").update(`yaml ${yamlVersion}\0${text}`).digest("hex").slice(0, 32)}.json`);
    try {
        return (JSON.parse(fs.readFileSync(kept, "utf8")) as { value: unknown }).value;
    } catch {
        // Not parsed before (or unreadable): parse it now.
    }
    let value: unknown;
    let warned = false;
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const yaml = require("yaml") as typeof YAML;
        value = yaml.parse(text);
        // A file the parser warns about is parsed, and warned about, each time.
        warned = yaml.parseDocument(text).warnings.length > 0;
    } catch (err) {
        throw new StackConfigFileError(file, `not valid YAML (${(err as Error).message})`);
    }
    // Kept only when JSON gives back exactly the parsed value (no dates, non-finite numbers, undefined...).
    const json = JSON.stringify({ value });
    if (!warned && json !== undefined && isDeepStrictEqual((JSON.parse(json) as { value: unknown }).value, value)) {
        keepFile(kept, json);
    }
    return value;
}

function qualify(key: string, project: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

function asConfigString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Reads the config a `pulumi preview --stack <stack>` would hand the program: the defaults
 * declared in `Pulumi.yaml`, overlaid by `Pulumi.<stack>.yaml` (or `--config-file`). Another
 * project of the repository (deployments/) passes its root and name.
 */
export function loadStackConfig(stack: string, configFile?: string, projectRoot = PROJECT_ROOT, projectName = PROJECT): StackConfigSource {
    const projectFile = path.join(projectRoot, "Pulumi.yaml");
    const project = readYaml(projectFile) as { name?: string; config?: Record<string, unknown> } | null;
    if (!project || project.name !== projectName) {
        throw new StackConfigFileError(projectFile, `expected a Pulumi project named ${projectName}`);
    }
    const config: Record<string, string> = {};
    for (const [key, declaration] of Object.entries(project.config ?? {})) {
        if (declaration && typeof declaration === "object" && !Array.isArray(declaration)) {
            const d = declaration as { default?: unknown; value?: unknown };
            const value = d.value ?? d.default;
            if (value !== undefined) config[qualify(key, projectName)] = asConfigString(value);
        } else if (declaration !== undefined && declaration !== null) {
            config[qualify(key, projectName)] = asConfigString(declaration);
        }
    }

    const stackFile = configFile ? path.resolve(configFile) : path.join(projectRoot, `Pulumi.${stack}.yaml`);
    const stackDoc = readYaml(stackFile) as { config?: unknown; environment?: unknown } | null;
    if (stackDoc === null || typeof stackDoc !== "object") {
        throw new StackConfigFileError(stackFile, "expected a stack settings file with a `config:` map");
    }
    if (stackDoc.config !== undefined && (typeof stackDoc.config !== "object" || Array.isArray(stackDoc.config) || stackDoc.config === null)) {
        throw new StackConfigFileError(stackFile, "`config:` must be a map of key: value");
    }
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries((stackDoc.config ?? {}) as Record<string, unknown>)) {
        const fullKey = qualify(key, projectName);
        if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && "secure" in value) {
            secretKeys.push(fullKey);
            config[fullKey] = "[secret]";
        } else {
            config[fullKey] = asConfigString(value);
        }
    }
    const environments = Array.isArray(stackDoc.environment) ? stackDoc.environment.map(String) : stackDoc.environment ? [String(stackDoc.environment)] : [];
    return { config, secretKeys, environments, files: [projectFile, stackFile] };
}
