import * as assert from "assert";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkpointSecret, UNKNOWN_VALUE } from "../../tooling/engineWire";
import { AnalyzeResult, Diagnostic, PolicyAnalyzer, PolicyPackConfigFile, StackResource } from "../../tooling/policyAnalyzer";

/**
 * Test fixtures for the policy pack, exercised through its analyzer protocol: resources are built
 * from the real @pulumi/aws argument types (so a misspelt property fails to compile) and sent over
 * gRPC to the pack running in its own process in the engine's wire form (tooling/engineWire.ts:
 * provider Check defaults filled in, `__` keys removed, secrets as secret values, unknowns as the
 * engine's sentinels). `secret()` and `UNKNOWN` build the two special values.
 */

type ResourceClass = (new (name: string, args: any, opts?: any) => pulumi.CustomResource) & { __pulumiType?: string };
type ArgsOf<C> = C extends new (name: string, args: infer A, ...rest: any[]) => any ? A : never;

export const PROJECT = "jobfleet";
export const STACK = "test";

export function urnOf(type: string, name: string, parentType?: string): string {
    return `urn:pulumi:${STACK}::${PROJECT}::${parentType ? `${parentType}$` : ""}${type}::${name}`;
}

export function typeOf(cls: ResourceClass): string {
    const token = (cls as unknown as { __pulumiType: string }).__pulumiType;
    assert.ok(token, `no Pulumi type token on ${cls.name}`);
    return token;
}

export interface Extra {
    outputs?: Record<string, unknown>;
    parent?: string;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
}

/** A resource of `cls` with `args` as its inputs, in `pulumi stack export` shape. */
export function res<C extends ResourceClass>(cls: C, name: string, args: pulumi.Unwrap<NonNullable<ArgsOf<C>>>, extra: Extra = {}): StackResource {
    const type = typeOf(cls);
    const inputs = JSON.parse(JSON.stringify(args)) as Record<string, unknown>;
    return {
        urn: urnOf(type, name),
        type,
        custom: true,
        inputs,
        ...(extra.outputs ? { outputs: { ...inputs, ...extra.outputs } } : {}),
        ...(extra.parent ? { parent: extra.parent } : {}),
        dependencies: extra.dependencies ?? Object.values(extra.propertyDependencies ?? {}).flat(),
        propertyDependencies: extra.propertyDependencies ?? {},
    };
}

export type Container = aws.ecs.ContainerDefinition;
export type Document = aws.iam.PolicyDocument;

/** A Fargate task definition whose containerDefinitions is the JSON string the provider takes. */
export function taskDefinition(name: string, containers: Container[], extra: Partial<pulumi.Unwrap<aws.ecs.TaskDefinitionArgs>> = {}, more: Extra = {}): StackResource {
    return res(aws.ecs.TaskDefinition, name, { family: name, requiresCompatibilities: ["FARGATE"], networkMode: "awsvpc", cpu: "256", memory: "512", ...extra, containerDefinitions: JSON.stringify(containers) }, more);
}

export const DIGEST = "sha256:" + "ab".repeat(32);
export const IMAGE = `111122223333.dkr.ecr.us-east-1.amazonaws.com/jobfleet/app@${DIGEST}`;

/** A container that passes every container rule; tests change one thing at a time. */
export function goodContainer(overrides: Partial<Container> = {}): Container {
    return { name: "app", image: IMAGE, essential: true, stopTimeout: 35, environment: [{ name: "GRACEFUL_SHUTDOWN_TIMEOUT_SEC", value: "30" }], ...overrides };
}

export function doc(...statements: aws.iam.PolicyStatement[]): string {
    const document: Document = { Version: "2012-10-17", Statement: statements };
    return JSON.stringify(document);
}

export function trust(service: string, condition?: Record<string, Record<string, string>>): string {
    return doc({ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole", ...(condition ? { Condition: condition } : {}) });
}

export const ACCOUNT = "123456789012";
export const SOURCE_ACCOUNT = { StringEquals: { "aws:SourceAccount": ACCOUNT } };

/**
 * The pack's analyzer for a test file: started in `before` (the first file that needs it starts the
 * child, later files reuse it) and configured with the file's config; `after` releases it, and the
 * child is stopped once no file has claimed it for a second (at the end of the run).
 */
let shared: { analyzer: Promise<PolicyAnalyzer>; users: number; closeTimer?: NodeJS.Timeout } | undefined;

export function useAnalyzer(config: PolicyPackConfigFile | string = {}): { get(): PolicyAnalyzer } {
    let analyzer: PolicyAnalyzer | undefined;
    before(async function () {
        this.timeout(60_000);
        shared ??= { analyzer: PolicyAnalyzer.start({ typeCheck: false }), users: 0 };
        clearTimeout(shared.closeTimer);
        shared.users++;
        analyzer = await shared.analyzer;
        await analyzer.configure(config);
    });
    after(() => {
        const s = shared;
        if (!s) return;
        s.users--;
        if (s.users > 0) return;
        s.closeTimer = setTimeout(() => {
            if (shared === s && s.users === 0) {
                shared = undefined;
                void s.analyzer.then((a) => a.close()).catch(() => undefined);
            }
        }, 1000);
    });
    return {
        get() {
            assert.ok(analyzer, "analyzer not started");
            return analyzer;
        },
    };
}

export function of(result: AnalyzeResult, policy: string): Diagnostic[] {
    return result.diagnostics.filter((d) => d.policyName === policy);
}

/** Asserts `policy` reported at least one violation whose message contains every fragment; returns them. */
export function expectViolation(result: AnalyzeResult, policy: string, ...fragments: string[]): Diagnostic[] {
    const found = of(result, policy);
    assert.ok(found.length > 0, `expected ${policy} to report a violation; got ${JSON.stringify(result.diagnostics.map((d) => [d.policyName, d.message]), null, 2)}`);
    for (const f of fragments) {
        assert.ok(
            found.some((d) => d.message.includes(f)),
            `expected a ${policy} violation mentioning ${JSON.stringify(f)}; got:\n${found.map((d) => d.message).join("\n---\n")}`,
        );
    }
    return found;
}

/**
 * Asserts `policy` looked at the resource (it is not in the not-applicable list) and found
 * nothing, so a near-miss passes for the right reason rather than because the rule skipped it.
 */
export function expectPass(result: AnalyzeResult, policy: string): void {
    const found = of(result, policy);
    assert.deepStrictEqual(found.map((d) => d.message), [], `expected ${policy} to pass`);
    const skipped = result.notApplicable.find((n) => n.policyName === policy);
    assert.ok(!skipped, `${policy} did not evaluate the resource (${skipped?.reason})`);
}

/** A value the program made a Pulumi secret, as a checkpoint stores it (the analyzer sends it as the engine's secret value). */
export function secret<T>(value: T): T {
    return checkpointSecret(value) as unknown as T;
}

/** A value the engine does not know during preview (the string sentinel it sends). */
export const UNKNOWN = UNKNOWN_VALUE;
