import * as assert from "node:assert/strict";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { captureProgram } from "../tooling/capture";
import { engineProperties } from "../tooling/engineWire";
import { structBytes } from "../tooling/structWire";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { PolicyAnalyzer, StackResource } from "../tooling/policyAnalyzer";

/** The gate's own Struct encoder (tooling/structWire.ts) must write exactly google-protobuf's bytes. */
describe("wire form: Struct bytes written without google-protobuf's objects", function () {
    this.timeout(60_000);
    const reference = (v: Record<string, unknown>) => Buffer.from(Struct.fromJavaScript(v as Record<string, never>).serializeBinary());
    const same = (v: Record<string, unknown>, what = JSON.stringify(v)) => assert.deepEqual(Buffer.from(structBytes(v)), reference(v), what);

    it("writes every resource's properties of both stacks' plans, inputs and outputs, as google-protobuf does", async () => {
        for (const stack of ["staging", "prod"]) {
            const plan = await captureProgram({ stack });
            for (const r of plan.resources) {
                same(engineProperties(r.type, r.inputs), `${r.urn} inputs`);
                same(engineProperties(r.type, r.outputs, false), `${r.urn} outputs`);
            }
        }
    });

    it("writes the edge values as google-protobuf does: empty keys and strings, non-ASCII text, numbers at their limits, key order", () => {
        same({});
        same({ "": "", a: [], b: {}, c: [[], {}, [null]], d: null });
        same({ text: "ünïcødé ✓ 😀 \u0000 \n\t\"" , "ключ": "значение", "😀": 1 });
        same({ n: [0, -0, 1, -1, 0.1, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, 2 ** 64, NaN, Infinity, -Infinity] });
        same({ b: [true, false] });
        // Integer-like keys come first, in ascending order, in both: JavaScript's own key order.
        same({ b: 1, 10: 2, a: 3, 2: 4, "-1": 5 });
        same({ long: "x".repeat(70_000), many: Array.from({ length: 300 }, (_, i) => ({ i, s: `v${i}` })) });
    });

    it("matches google-protobuf on random JSON values", () => {
        let seed = 42;
        const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        const gen = (depth: number): unknown => {
            const k = Math.floor(rand() * (depth > 3 ? 4 : 6));
            if (k === 0) return null;
            if (k === 1) return rand() < 0.5;
            if (k === 2) return rand() < 0.3 ? Math.floor(rand() * 1e6) : (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
            if (k === 3) return String.fromCodePoint(...Array.from({ length: Math.floor(rand() * 12) }, () => Math.floor(rand() * (rand() < 0.8 ? 128 : 0x1ffff)) % 0xd7ff));
            if (k === 4) return Array.from({ length: Math.floor(rand() * 5) }, () => gen(depth + 1));
            return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, (_, i) => [`k${Math.floor(rand() * 100)}_${i}`, gen(depth + 1)]));
        };
        for (let i = 0; i < 500; i++) same({ v: gen(0), w: gen(1) });
    });

    it("leaves what is not plain JSON to google-protobuf: the same bytes, or the same error", () => {
        same({ lone: "a\ud800b" });
        same({ date: new Date(0) as unknown });
        same({ nested: { inner: Object.create({ inherited: 1 }) as unknown } });
        assert.throws(() => structBytes({ missing: undefined }), /Unexpected struct type/);
        assert.throws(() => reference({ missing: undefined }), /Unexpected struct type/);
        assert.throws(() => structBytes({ f: (() => 1) as unknown }), /Unexpected struct type/);
    });
});

describe("wire form: the gate's Analyze and AnalyzeStack requests", function () {
    this.timeout(60_000);
    type Requests = {
        analyzeRequest(r: StackResource, byUrn: ReadonlyMap<string, StackResource>): Uint8Array;
        analyzeStackRequest(rs: StackResource[]): Promise<Uint8Array>;
    };
    // The request builders need no pack.
    const requests = Object.create(PolicyAnalyzer.prototype) as Requests;

    it("are the bytes google-protobuf writes for the same messages, for every resource of the prod plan", async () => {
        const plan = await captureProgram({ stack: "prod" });
        // And with an explicit provider, as a stack export names one for every resource.
        const providerUrn = "urn:pulumi:prod::jobfleet::pulumi:providers:aws::default_7_0_0";
        const provider: StackResource = { urn: providerUrn, type: "pulumi:providers:aws", custom: true, inputs: { region: "eu-west-1", skipCredentialsValidation: true } };
        const resources = [provider, ...(plan.resources as StackResource[]).map((r, i) => (i % 2 ? { ...r, provider: `${providerUrn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9` } : r))];
        const byUrn = new Map(resources.map((r) => [r.urn, r]));
        const stack = pb.AnalyzeStackRequest.deserializeBinary(await requests.analyzeStackRequest(resources));
        assert.equal(stack.getResourcesList().length, resources.length);
        // Decoded and written again by google-protobuf, each message gives back exactly the gate's bytes.
        assert.deepEqual(Buffer.from(stack.serializeBinary()), Buffer.from(await requests.analyzeStackRequest(resources)));
        let withProvider = 0;
        resources.forEach((r, i) => {
            const bytes = Buffer.from(requests.analyzeRequest(r, byUrn));
            const decoded = pb.AnalyzeRequest.deserializeBinary(bytes);
            assert.equal(decoded.getUrn(), r.urn);
            assert.equal(decoded.getType(), r.type);
            assert.equal(decoded.getName(), r.urn.split("::").pop());
            assert.ok(decoded.getOptions(), `${r.urn} has its options`);
            // The same message with its properties set by google-protobuf's own builder is written as the same bytes.
            decoded.setProperties(Struct.fromJavaScript(engineProperties(r.type, r.inputs) as Record<string, never>));
            assert.deepEqual(Buffer.from(decoded.serializeBinary()), bytes, r.urn);
            const inStack = stack.getResourcesList()[i];
            const ownBytes = Buffer.from(inStack.serializeBinary());
            inStack.setProperties(Struct.fromJavaScript(engineProperties(r.type, r.outputs ?? r.inputs) as Record<string, never>));
            assert.deepEqual(Buffer.from(inStack.serializeBinary()), ownBytes, `${r.urn} in AnalyzeStack`);
            if (decoded.getProvider()) withProvider++;
        });
        assert.ok(withProvider > 100, `${withProvider} requests name their provider`);
    });
});
