import * as pulumi from "@pulumi/pulumi";

/**
 * StackReferences under Pulumi's mocks. The engine answers a `pulumi:pulumi:StackReference` read
 * with the referenced stack's outputs; offline, the outputs are those of that stack's own plan,
 * captured under the same mocks (the staging plan for a review stack). A reference to a stack the
 * offline preview has no plan for fails with its name instead of answering anything.
 */
export const STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference";

export interface ReferencedStack {
    /** Resolved stack outputs, as `CapturedPlan.outputs` holds them. */
    outputs: Record<string, unknown>;
    /** Outputs the referenced stack marks secret; StackReference keeps them secret in this program. */
    secretOutputNames?: string[];
}

export class UnknownStackReferenceError extends Error {
    constructor(name: string, known: string[]) {
        super(
            `The program references the stack ${JSON.stringify(name)}, which the offline preview has no plan for ` +
                `(it answers ${known.map((k) => JSON.stringify(k)).join(", ") || "no stack"}); check the stack name in the config (<organization>/<project>/<stack>).`,
        );
        this.name = "UnknownStackReferenceError";
    }
}

export class StackReferenceMocks implements pulumi.runtime.Mocks {
    /** Every stack name the program asked for, in order. */
    public readonly referenced: string[] = [];

    constructor(
        private readonly inner: pulumi.runtime.Mocks,
        private readonly stacks: Record<string, ReferencedStack>,
    ) {}

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } | Promise<{ id: string | undefined; state: Record<string, any> }> {
        if (args.type !== STACK_REFERENCE_TYPE) return this.inner.newResource(args);
        const name = String(args.inputs.name ?? args.id ?? args.name);
        this.referenced.push(name);
        const stack = this.stacks[name];
        if (!stack) throw new UnknownStackReferenceError(name, Object.keys(this.stacks));
        return { id: name, state: { name, outputs: stack.outputs, secretOutputNames: stack.secretOutputNames ?? [] } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> | Promise<Record<string, any>> {
        return this.inner.call(args);
    }
}
