/**
 * Set by the compiled gate's entry (`npm run preview`, tooling/build.ts) in the process it runs:
 * the program then runs from its compiled module and the pack starts compiled. Unset when the
 * preview runs from its sources (ts-node), which keeps starting the pack exactly as the Pulumi CLI.
 */
export interface CompiledGate {
    /** The compiled program module (index.ts bundled). */
    program: string;
}

let current: CompiledGate | undefined;

export function useCompiledGate(compiled: CompiledGate): void {
    current = compiled;
}

export function compiledGate(): CompiledGate | undefined {
    return current;
}
