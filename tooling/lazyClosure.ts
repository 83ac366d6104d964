import Module from "module";

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

function cachedStub(file: string, exports: unknown): Module {
    const stub = new Module(file);
    stub.filename = file;
    stub.loaded = true;
    stub.exports = exports;
    require.cache[file] = stub;
    return stub;
}

/**
 * A namespace object standing in for the module `file`: `__esModule` is answered without loading,
 * since the SDK's `__importStar` reads it at import; every other read, key listing or property
 * check loads the real module and answers from it.
 */
function deferredNamespace(file: string): void {
    let real: object | undefined;
    let stub: Module | undefined;
    const load = (): object => {
        if (!real) {
            if (require.cache[file] === stub) delete require.cache[file];
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            real = require(file) as object;
        }
        return real;
    };
    const namespace = new Proxy(Object.create(null) as object, {
        get: (_t, key) => (key === "__esModule" ? true : Reflect.get(load(), key)),
        has: (_t, key) => key === "__esModule" || Reflect.has(load(), key),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_t, key) => {
            const d = Reflect.getOwnPropertyDescriptor(load(), key);
            return d && { ...d, configurable: true };
        },
        set: (_t, key, value) => Reflect.set(load(), key, value),
    });
    stub = cachedStub(file, namespace);
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
            let real: Record<string, AnyFunction> | undefined;
            let stub: Module | undefined;
            const load = (): Record<string, AnyFunction> => {
                if (!real) {
                    if (require.cache[file] === stub) delete require.cache[file];
                    // eslint-disable-next-line @typescript-eslint/no-require-imports
                    real = require(file) as Record<string, AnyFunction>;
                }
                return real;
            };
            const exports: Record<string, unknown> = {};
            Object.defineProperty(exports, "__esModule", { value: true });
            for (const name of deferred.exports) exports[name] = (...args: unknown[]) => load()[name](...args);
            stub = cachedStub(file, exports);
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
