import * as crypto from "crypto";
import * as fs from "fs";
import Module from "module";
import { keepFile } from "../runtime/keptFiles";
import * as path from "path";

/**
 * `@pulumi/pulumi` loads its function serializer when it is imported (runtime/index.js re-exports
 * `serializeFunction` and `computeCodePaths`), and the serializer loads the TypeScript compiler:
 * about half a second in every process that imports the SDK, the program's and the policy pack's
 * alike. Only closures turned into code (e.g. `aws.lambda.CallbackFunction`) use it; neither the
 * program nor the pack does. The compiled gate therefore puts a stand-in for those two modules into
 * Node's module cache before the SDK is imported: the same exports, each loading the real module on
 * its first call. Nothing in node_modules is changed, and a program that does serialize a function
 * still gets the real serializer.
 *
 * The SDK's Automation API (`pulumi.automation`, which drives the CLI from code) is loaded at import
 * too, with its own closure of modules: about 40 ms and 80 modules per process. It is deferred the
 * same way, as a namespace that loads the real module when any of its members is first read.
 */
export const DEFERRED_MODULES: ReadonlyArray<{ module: string; exports: readonly string[] }> = [
    { module: "@pulumi/pulumi/runtime/closure/serializeClosure", exports: ["serializeFunction", "serializeFunctionAsync"] },
    { module: "@pulumi/pulumi/runtime/closure/codePaths", exports: ["computeCodePaths", "findWorkspaceRoot", "packageArchivePath"] },
];

/** Modules the SDK imports as a namespace (`exports.automation = __importStar(require("./automation"))`). */
export const DEFERRED_NAMESPACES: readonly string[] = ["@pulumi/pulumi/automation"];

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * The module `file`, loaded on the first `load()`: until then `standIn(exports)` answers for it in
 * require's cache, and is taken out of the cache before the real module loads.
 */
function deferredModule<T>(file: string): { load(): T; standIn(exports: unknown): void } {
    let real: T | undefined;
    let stub: Module | undefined;
    return {
        load: () => {
            if (!real) {
                if (require.cache[file] === stub) delete require.cache[file];
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                real = require(file) as T;
            }
            return real;
        },
        standIn: (exports) => {
            stub = new Module(file);
            stub.filename = file;
            stub.loaded = true;
            stub.exports = exports;
            require.cache[file] = stub;
        },
    };
}

/**
 * A namespace object standing in for the module `file`: `__esModule` is answered without loading,
 * since the SDK's `__importStar` reads it at import; every other read, key listing or property
 * check loads the real module and answers from it.
 */
function deferredNamespace(file: string): () => object {
    const { load, standIn } = deferredModule<object>(file);
    const namespace = new Proxy(Object.create(null) as object, {
        get: (_t, key) => (key === "__esModule" ? true : Reflect.get(load(), key)),
        has: (_t, key) => key === "__esModule" || Reflect.has(load(), key),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_t, key) => {
            const d = Reflect.getOwnPropertyDescriptor(load(), key);
            return d && { ...d, configurable: true };
        },
        set: (_t, key, value) => Reflect.set(load(), key, value),
        deleteProperty: (_t, key) => Reflect.deleteProperty(load(), key),
        getPrototypeOf: () => Reflect.getPrototypeOf(load()),
    });
    standIn(namespace);
    return load;
}

/** Installs the stand-ins (serializer and Automation API) for the copies of `@pulumi/pulumi` that modules in `fromDirs` resolve to. */
export function deferClosureSerializer(...fromDirs: string[]): void {
    for (const dir of fromDirs) {
        for (const deferred of DEFERRED_MODULES) {
            let file: string;
            try {
                file = require.resolve(deferred.module, { paths: [dir] });
            } catch {
                continue;
            }
            if (require.cache[file]) continue;
            const { load, standIn } = deferredModule<Record<string, AnyFunction>>(file);
            const exports: Record<string, unknown> = {};
            Object.defineProperty(exports, "__esModule", { value: true });
            for (const name of deferred.exports) exports[name] = (...args: unknown[]) => load()[name](...args);
            standIn(exports);
        }
        for (const module of DEFERRED_NAMESPACES) {
            let file: string;
            try {
                file = require.resolve(module, { paths: [dir] });
            } catch {
                continue;
            }
            if (!require.cache[file]) deferredNamespace(file);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// @pulumi/aws's service namespaces
// ---------------------------------------------------------------------------------------------

interface AwsService {
    name: string;
    /** Its index only defines exports and registers its resource modules (no mixins that patch classes). */
    deferrable: boolean;
    /** The resource modules it registers (`ec2/securityGroup`). */
    modules: string[];
}

/** The services of the @pulumi/aws at `root`, read from its index files. */
export function scanAwsServices(root: string): AwsService[] {
    const index = fs.readFileSync(path.join(root, "index.js"), "utf8");
    return [...index.matchAll(/const (\w+) = __importStar\(require\("\.\/\1"\)\);\s*exports\.\1 = \1;/g)].map(([, name]) => {
        const text = fs.readFileSync(path.join(root, name, "index.js"), "utf8");
        const modules = [...text.matchAll(/pulumi\.runtime\.registerResourceModule\("aws", "([^"]+)", _module\)/g)].map((m) => m[1]);
        // Every construct case must be `new exports.<last segment of the type>(name, undefined, { urn })`, as the stand-in builds it.
        const cases = [...text.matchAll(/case "([^"]+)":\s*return new exports\.(\w+)\(name, undefined, \{ urn \}\);/g)];
        const conventional = cases.every((c) => c[1].split(":").pop() === c[2]) && (text.match(/\bcase "/g) ?? []).length === cases.length;
        const lines = text.split("\n").filter((l) => l !== "" && !/^(\s|"use strict"|\/\/|}|const |var |exports\.|Object\.defineProperty|utilities\.lazyLoad|pulumi\.runtime\.registerResourceModule)/.test(l));
        const onlyExports = lines.every((l) => /^__exportStar\(require\("\.\.?\/(types\/enums\/)?[\w/]+"\), exports\);$/.test(l)) && !/Mixins"\)/.test(text);
        return { name, deferrable: conventional && onlyExports, modules };
    });
}

/** The services of the `@pulumi/aws` at `root`, kept by its directory and its package.json's bytes (`pkg`). */
function keptAwsServices(root: string, pkg: Buffer): AwsService[] {
    const key = crypto.createHash("sha256").update(root).update("\0").update(pkg).digest("hex").slice(0, 20);
    const file = path.join(__dirname, "..", "node_modules", ".cache", "jobfleet", `aws-services-${key}.json`);
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as AwsService[];
    } catch {
        // Read the index files this once.
    }
    const services = scanAwsServices(root);
    keepFile(file, JSON.stringify(services));
    return services;
}

/**
 * `@pulumi/aws` loads all of its 237 service namespaces when it is imported (a fifth of a second);
 * a program uses a dozen. Each service whose index only defines exports stands in as a namespace
 * that loads it on first use. What the index also does at load, register its resource modules so
 * that resource references in outputs come back as resources, the stand-in does at once: each
 * module's `construct` loads the service and builds the class exactly as the generated one does
 * (`new exports.<Type>(name, undefined, { urn })`, checked for every case when the index is read).
 * Services with mixins (lambda, s3, sqs, ...), which patch classes when loaded, load as usual.
 */
export function deferAwsServices(...fromDirs: string[]): void {
    for (const dir of fromDirs) {
        let root: string;
        try {
            root = path.dirname(require.resolve("@pulumi/aws/package.json", { paths: [dir] }));
        } catch {
            continue;
        }
        if (require.cache[path.join(root, "index.js")]) continue;
        const pkg = fs.readFileSync(path.join(root, "package.json"));
        const version = (JSON.parse(pkg.toString("utf8")) as { version: string }).version.replace(/^v/, "");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const pulumi = require(require.resolve("@pulumi/pulumi", { paths: [root] })) as { runtime: { registerResourceModule(pkg: string, mod: string, module: object): void } };
        for (const service of keptAwsServices(root, pkg)) {
            const file = path.join(root, service.name, "index.js");
            if (!service.deferrable || require.cache[file]) continue;
            const load = deferredNamespace(file);
            const module = {
                version,
                construct: (name: string, type: string, urn: string) => {
                    const real = load() as Record<string, unknown>;
                    type ResourceClass = (new (name: string, args: undefined, opts: { urn: string }) => unknown) & { __pulumiType?: string };
                    const Class = real[type.split(":").pop() ?? ""] as ResourceClass | undefined;
                    // As the generated switch: only the exact type of one of the service's resource classes.
                    if (typeof Class !== "function" || Class.__pulumiType !== type) throw new Error(`unknown resource type ${type}`);
                    return new Class(name, undefined, { urn });
                },
            };
            for (const m of service.modules) pulumi.runtime.registerResourceModule("aws", m, module);
        }
    }
}
