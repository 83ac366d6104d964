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
 */
export const DEFERRED_MODULES: ReadonlyArray<{ module: string; exports: readonly string[] }> = [
    { module: "@pulumi/pulumi/runtime/closure/serializeClosure", exports: ["serializeFunction", "serializeFunctionAsync"] },
    { module: "@pulumi/pulumi/runtime/closure/codePaths", exports: ["computeCodePaths", "findWorkspaceRoot", "packageArchivePath"] },
];

type AnyFunction = (...args: unknown[]) => unknown;

/** Installs the stand-ins for the copies of `@pulumi/pulumi` that modules in `fromDirs` resolve to. */
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
            const load = (): Record<string, AnyFunction> => {
                if (!real) {
                    if (require.cache[file] === stub) delete require.cache[file];
                    // eslint-disable-next-line @typescript-eslint/no-require-imports
                    real = require(file) as Record<string, AnyFunction>;
                }
                return real;
            };
            const stub = new Module(file);
            stub.filename = file;
            stub.loaded = true;
            const exports: Record<string, unknown> = {};
            Object.defineProperty(exports, "__esModule", { value: true });
            for (const name of deferred.exports) exports[name] = (...args: unknown[]) => load()[name](...args);
            stub.exports = exports;
            require.cache[file] = stub;
        }
    }
}
