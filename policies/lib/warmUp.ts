import * as fs from "fs";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

/**
 * The offline gate's warm-up (tooling/build.ts starts the pack a second before the program registers
 * its first resource). A pack's first requests are several times slower than later ones: V8 compiles
 * and optimizes the SDK's and the policies' code as they first run, and the policies load the IAM
 * service data and managed-policy documents they first need. So while it waits, the pack runs
 * Analyze requests the gate saved from its last run (one per resource type) through the SDK's own
 * Analyze handler, the one its server serves, and discards the answers.
 *
 * Verdicts cannot change: the answers are dropped, and what stays behind is compiled code and
 * caches keyed by exact content (documents by name, verdicts by string). Without a file, or with one
 * that does not parse, the pack simply starts cold.
 */

export interface WarmUpFile {
    /** `jobfleet-pack-warm-up/1`. */
    format: string;
    /** Base64 of serialized `pulumirpc.AnalyzeRequest` messages. */
    analyze: string[];
}

export const WARM_UP_FORMAT = "jobfleet-pack-warm-up/1";

type Callback = (err: unknown, response?: unknown) => void;
type AnalyzeHandler = (call: { request: unknown }, callback: Callback) => Promise<void>;

interface ServerModule {
    makeAnalyzeRpcFun(name: string, version: string, enforcementLevel: string, policies: Array<ResourceValidationPolicy | StackValidationPolicy>): AnalyzeHandler;
}
interface AnalyzerProto {
    AnalyzeRequest: { deserializeBinary(bytes: Uint8Array): unknown };
}

/** The requests in `file`, or none when it is missing or not a warm-up file of this format. */
export function readWarmUpRequests(file: string): Uint8Array[] {
    let parsed: Partial<WarmUpFile>;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<WarmUpFile>;
    } catch {
        return [];
    }
    if (parsed.format !== WARM_UP_FORMAT || !Array.isArray(parsed.analyze)) return [];
    return parsed.analyze.filter((r): r is string => typeof r === "string").map((r) => Buffer.from(r, "base64"));
}

/**
 * Runs each request through an Analyze handler made by the SDK exactly as its server makes the one it
 * serves, one request per turn of the event loop so that a real request is never kept waiting
 * behind more than one. Resolves to the number of requests that ran without an error.
 */
export async function warmUp(requests: Uint8Array[], pack: { name: string; enforcementLevel: string; policies: Array<ResourceValidationPolicy | StackValidationPolicy> }): Promise<number> {
    if (requests.length === 0) return 0;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const server = require("@pulumi/policy/server") as Partial<ServerModule>;
    if (typeof server.makeAnalyzeRpcFun !== "function") return 0;
    // The message classes of the @pulumi/pulumi copy the SDK's server uses.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const proto = require(require.resolve("@pulumi/pulumi/proto/analyzer_pb", { paths: [require.resolve("@pulumi/policy/server")] })) as AnalyzerProto;
    const analyze = server.makeAnalyzeRpcFun(pack.name, "warm-up", pack.enforcementLevel, pack.policies);
    let ran = 0;
    for (const bytes of requests) {
        await new Promise((resolve) => setImmediate(resolve));
        let request: unknown;
        try {
            request = proto.AnalyzeRequest.deserializeBinary(bytes);
        } catch {
            continue;
        }
        const failed = await new Promise<boolean>((resolve) => {
            analyze({ request }, (err) => resolve(Boolean(err))).catch(() => resolve(true));
        });
        if (!failed) ran++;
    }
    return ran;
}
