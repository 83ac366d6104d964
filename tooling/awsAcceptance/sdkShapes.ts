import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type * as TypeScript from "typescript";
import { NormalizedSchema } from "@smithy/core/schema";
import { keepFile } from "../../runtime/keptFiles";

/**
 * Validation of JSON documents against the shape schemas AWS SDK v3 clients ship: each client
 * exports its Smithy model's structures as static schemas (`ContainerDefinition$` in
 * `@aws-sdk/client-ecs`), read here through `@smithy/core/schema`'s `NormalizedSchema`. Those carry
 * member names, types, list/map structure and required members; enums live apart, as exported
 * constant objects (`LogDriver`) that the client's model typings (`models/*.d.ts`) name as a member's
 * type, so they are joined here from the typings.
 */
export interface ShapeIssue {
    path: string;
    rule: "sdk-shape-unknown-key" | "sdk-shape-miscased-key" | "sdk-shape-type" | "sdk-shape-enum" | "sdk-shape-required";
    message: string;
    /** The shape that carries the rule, e.g. `com.amazonaws.ecs#PortMapping`. */
    shape: string;
}

type EnumIndex = Map<string, Map<string, { name: string; values: string[] }>>;

const enumIndexes = new Map<string, EnumIndex>();

/** Where parsed enum indexes are kept between runs, keyed by the typings they were read from. */
const ENUM_CACHE_DIR = path.join(__dirname, "..", "..", "node_modules", ".cache", "jobfleet", "sdk-enums");

/**
 * The enum index of a client, parsed from its typings once per content: the key is the SHA-256 of
 * every models file and of the client's exported enum values, so another SDK version (or an edited
 * file) is parsed again. Parsing them takes TypeScript's parser about half a second per run.
 */
function enumIndex(clientPackage: string, client: Record<string, unknown>): EnumIndex {
    const cached = enumIndexes.get(clientPackage);
    if (cached) return cached;
    const index = loadEnumIndex(clientPackage, client, ENUM_CACHE_DIR);
    enumIndexes.set(clientPackage, index);
    return index;
}

/** The client's model typings (`dist-types/models/models_<n>.d.ts`), in name order. */
export function modelTypingsOf(clientPackage: string): { name: string; text: string }[] {
    const modelsDir = path.join(path.dirname(require.resolve(`${clientPackage}/package.json`)), "dist-types", "models");
    return fs
        .readdirSync(modelsDir)
        .filter((f) => /^models_\d+\.d\.ts$/.test(f))
        .sort()
        .map((f) => ({ name: f, text: fs.readFileSync(path.join(modelsDir, f), "utf8") }));
}

/** The enum index from `cacheDir` when it holds one for exactly these typings, else parsed and stored there. */
export function loadEnumIndex(clientPackage: string, client: Record<string, unknown>, cacheDir: string): EnumIndex {
    const files = modelTypingsOf(clientPackage);
    const hash = crypto.createHash("sha256").update(clientPackage);
    for (const file of files) hash.update(`\0${file.name}\0${file.text}`);
    hash.update(JSON.stringify(Object.entries(client).filter(([, v]) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string"))));
    const cacheFile = path.join(cacheDir, `${hash.digest("hex").slice(0, 32)}.json`);
    let index: EnumIndex | undefined;
    try {
        const stored = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as [string, [string, { name: string; values: string[] }][]][];
        index = new Map(stored.map(([shape, members]) => [shape, new Map(members)]));
    } catch {
        index = parseEnumIndex(files, client);
        keepFile(cacheFile, JSON.stringify([...index].map(([shape, members]) => [shape, [...members]])));
    }
    return index;
}

/** Structure member → enum, from the client's model typings (`logDriver: LogDriver | undefined`). */
export function parseEnumIndex(files: { name: string; text: string }[], client: Record<string, unknown>): EnumIndex {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require("typescript") as typeof TypeScript;
    const index: EnumIndex = new Map();
    const enumValues = (name: string): string[] | undefined => {
        const exported = client[name];
        if (!exported || typeof exported !== "object" || Array.isArray(exported)) return undefined;
        const values = Object.values(exported as Record<string, unknown>);
        return values.length > 0 && values.every((v) => typeof v === "string") ? (values as string[]) : undefined;
    };
    const enumOf = (type: TypeScript.TypeNode | undefined): string | undefined => {
        if (!type) return undefined;
        if (ts.isUnionTypeNode(type)) return type.types.map(enumOf).find((n) => n !== undefined);
        if (ts.isArrayTypeNode(type)) return enumOf(type.elementType);
        if (ts.isParenthesizedTypeNode(type)) return enumOf(type.type);
        if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName)) return enumValues(type.typeName.text) ? type.typeName.text : undefined;
        return undefined;
    };
    for (const file of files) {
        const source = ts.createSourceFile(file.name, file.text, ts.ScriptTarget.ES2022, false);
        for (const statement of source.statements) {
            if (!ts.isInterfaceDeclaration(statement)) continue;
            const members = new Map<string, { name: string; values: string[] }>();
            for (const member of statement.members) {
                if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
                const name = enumOf(member.type);
                if (name) members.set(member.name.text, { name, values: enumValues(name)! });
            }
            if (members.size > 0) index.set(statement.name.text, members);
        }
    }
    return index;
}

export interface ShapeRef {
    /** `@aws-sdk/client-ecs` */
    clientPackage: string;
    /** The exported static schema of the document (of its elements, for a list): `ContainerDefinition$`. */
    schemaExport: string;
    /** The document is a list of that shape. */
    list?: boolean;
}

export function shapeName(ref: ShapeRef): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const client = require(ref.clientPackage) as Record<string, unknown>;
    return NormalizedSchema.of(client[ref.schemaExport] as never).getName(true) ?? ref.schemaExport;
}

/** Every way `value` departs from the shape: unknown and mis-cased keys, wrong types, enum values, missing required members. */
export function validateAgainstShape(value: unknown, ref: ShapeRef, basePath: string): ShapeIssue[] {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const client = require(ref.clientPackage) as Record<string, unknown>;
    const schema = client[ref.schemaExport];
    if (!schema) throw new Error(`${ref.clientPackage} exports no shape schema ${ref.schemaExport}; the SDK version may have renamed it`);
    const enums = enumIndex(ref.clientPackage, client);
    const issues: ShapeIssue[] = [];
    const root = NormalizedSchema.of(schema as never);
    if (ref.list) {
        if (!Array.isArray(value)) issues.push({ path: basePath, rule: "sdk-shape-type", message: `${basePath} must be a JSON list of ${root.getName()}`, shape: root.getName(true) ?? ref.schemaExport });
        else value.forEach((item, i) => walk(item, root, `${basePath}[${i}]`, enums, issues, root.getName(true) ?? ref.schemaExport));
    } else {
        walk(value, root, basePath, enums, issues, root.getName(true) ?? ref.schemaExport);
    }
    return issues;
}

function describe(value: unknown): string {
    return Array.isArray(value) ? "a list" : value === null ? "null" : typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

/** `owner` is the structure that holds a scalar, list or map member: the shape named in the issue. */
function walk(value: unknown, schema: NormalizedSchema, at: string, enums: EnumIndex, issues: ShapeIssue[], owner: string, enumValues?: { name: string; values: string[] }): void {
    const shape = schema.isStructSchema() ? (schema.getName(true) ?? owner) : owner;
    const fail = (rule: ShapeIssue["rule"], message: string, where = at) => issues.push({ path: where, rule, message, shape });
    if (value === undefined) return;
    if (schema.isStructSchema()) {
        if (value === null || typeof value !== "object" || Array.isArray(value)) return void fail("sdk-shape-type", `${at} must be an object (${schema.getName()}), found ${describe(value)}`);
        const members = new Map<string, NormalizedSchema>(schema.structIterator());
        const memberNames = [...members.keys()];
        const structEnums = enums.get(schema.getName() ?? "");
        const requiredCount = (schema.getSchema() as unknown as unknown[])[6];
        for (const required of memberNames.slice(0, typeof requiredCount === "number" ? requiredCount : 0)) {
            if ((value as Record<string, unknown>)[required] === undefined) fail("sdk-shape-required", `${at} lacks ${required}, a required member of ${schema.getName()}`);
        }
        for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
            const member = members.get(key);
            if (!member) {
                const sameLetters = memberNames.find((m) => m.toLowerCase() === key.toLowerCase());
                if (sameLetters) fail("sdk-shape-miscased-key", `${at}.${key} is mis-cased: ${schema.getName()} has ${sameLetters}; only the provider's Go JSON decoder matches keys regardless of case, the AWS CLI and CloudFormation refuse it: write it as the API spells it`, `${at}.${key}`);
                else fail("sdk-shape-unknown-key", `${at}.${key} is not a member of ${schema.getName()} (members: ${memberNames.join(", ")}); the provider's JSON decoder drops it without a word`, `${at}.${key}`);
                continue;
            }
            walk(child, member, `${at}.${key}`, enums, issues, shape, structEnums?.get(key));
        }
        return;
    }
    if (schema.isListSchema()) {
        if (!Array.isArray(value)) return void fail("sdk-shape-type", `${at} must be a list, found ${describe(value)}`);
        const item = schema.getValueSchema();
        value.forEach((v, i) => walk(v, item, `${at}[${i}]`, enums, issues, shape, enumValues));
        return;
    }
    if (schema.isMapSchema()) {
        if (value === null || typeof value !== "object" || Array.isArray(value)) return void fail("sdk-shape-type", `${at} must be an object of string keys, found ${describe(value)}`);
        const item = schema.getValueSchema();
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, item, `${at}.${k}`, enums, issues, shape);
        return;
    }
    if (schema.isStringSchema()) {
        if (typeof value !== "string") return void fail("sdk-shape-type", `${at} must be a string, found ${describe(value)}`);
        if (enumValues && !enumValues.values.includes(value)) {
            const sameLetters = enumValues.values.find((v) => v.toLowerCase() === value.toLowerCase());
            fail("sdk-shape-enum", `${at} ${JSON.stringify(value)} is not a ${enumValues.name}${sameLetters ? ` (values are case-sensitive: ${JSON.stringify(sameLetters)})` : ""}; allowed: ${enumValues.values.join(", ")}`);
        }
        return;
    }
    if (schema.isNumericSchema()) {
        if (typeof value !== "number" || !Number.isFinite(value)) fail("sdk-shape-type", `${at} must be a number, found ${describe(value)}`);
        return;
    }
    if (schema.isBooleanSchema()) {
        if (typeof value !== "boolean") fail("sdk-shape-type", `${at} must be true or false, found ${describe(value)}`);
    }
}
