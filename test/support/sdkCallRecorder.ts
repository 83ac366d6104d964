import type { AttributedCall } from "../../tooling/access/report";

/**
 * Records every AWS SDK v3 call a client makes, as IAM will see it: the service, the operation,
 * the input that names its resource, and whether it went over TLS. A call the SDK presigns
 * (`getSignedUrl` runs the client's middleware stack with a presigning step instead of sending) is
 * recorded as a call of the client's principal with the URL's lifetime: whoever later sends that
 * URL acts on this principal's authority. Failed calls are recorded too: AWS authorized them.
 */

/** The part of an SDK v3 client the recorder needs (S3Client, ECSClient, ...). */
export interface MiddlewareClient {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    middlewareStack: { add(middleware: any, options: any): void };
}

interface HandlerContext {
    clientName?: string;
    commandName?: string;
    [key: string]: unknown;
}

interface PresignedRequest {
    protocol?: string;
    query?: Record<string, string | string[] | null>;
}

const PROTOCOL_KEY = "jobfleetAccessProtocol";

/** The SDK service id of a client class name: S3Client → s3, ECSClient → ecs. */
function serviceOf(clientName: string | undefined): string {
    if (!clientName) throw new Error("The SDK did not name the client of a recorded call (context.clientName is missing).");
    return clientName.replace(/Client$/, "").toLowerCase();
}

export class SdkCallRecorder {
    readonly calls: AttributedCall[] = [];

    /** Records the calls `client` makes as calls of `role` (a role's logical name in the plan), made by `source`. */
    attach<T extends MiddlewareClient>(client: T, role: string, source: string): T {
        client.middlewareStack.add(
            (next: (args: { request?: { protocol?: string } }) => Promise<unknown>, context: HandlerContext) => async (args: { request?: { protocol?: string } }) => {
                context[PROTOCOL_KEY] = args.request?.protocol;
                return next(args);
            },
            { step: "build", name: "jobfleetAccessProtocol", override: true },
        );
        client.middlewareStack.add(
            (next: (args: { input: Record<string, unknown> }) => Promise<{ output?: { presigned?: PresignedRequest } }>, context: HandlerContext) =>
                async (args: { input: Record<string, unknown> }) => {
                    const record = (presigned?: PresignedRequest) => {
                        const protocol = (presigned?.protocol ?? context[PROTOCOL_KEY]) as string | undefined;
                        const expires = presigned?.query?.["X-Amz-Expires"];
                        this.calls.push({
                            role,
                            source,
                            service: serviceOf(context.clientName),
                            operation: String(context.commandName ?? "").replace(/Command$/, ""),
                            input: { ...args.input, Body: undefined },
                            secureTransport: protocol === "https:",
                            ...(presigned ? { presignedForSeconds: Number(Array.isArray(expires) ? expires[0] : expires) } : {}),
                        });
                    };
                    try {
                        const result = await next(args);
                        record(result.output?.presigned);
                        return result;
                    } catch (err) {
                        record();
                        throw err;
                    }
                },
            { step: "initialize", name: "jobfleetAccessRecorder", override: true },
        );
        return client;
    }

    /**
     * Records the requests code sends with presigned URLs through `fetch` (the shell job runner holds
     * no credentials): each is a call of `role` on the authority of the principal whose access key
     * signed the URL, looked up in `signers` (access key id → role).
     */
    wrapFetch(original: typeof fetch, role: string, source: string, signers: Map<string, string>): typeof fetch {
        return async (input, init) => {
            const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
            const method = (init?.method ?? (typeof input === "object" && "method" in input ? input.method : "GET")).toUpperCase();
            const credential = url.searchParams.get("X-Amz-Credential");
            if (credential) {
                const accessKey = credential.split("/")[0];
                const signer = signers.get(accessKey);
                if (!signer) throw new Error(`A presigned URL was signed with access key ${accessKey}, which belongs to no recorded role.`);
                // Path-style URL (the tests' endpoint): /bucket/key.
                const [, bucket, ...key] = decodeURIComponent(url.pathname).split("/");
                const operation = method === "PUT" ? "PutObject" : method === "DELETE" ? "DeleteObject" : method === "HEAD" ? "HeadObject" : "GetObject";
                this.calls.push({
                    role,
                    source,
                    service: "s3",
                    operation,
                    input: { Bucket: bucket, Key: key.join("/") },
                    secureTransport: url.protocol === "https:",
                    presignedForSeconds: Number(url.searchParams.get("X-Amz-Expires")),
                    presignedBy: signer,
                });
            }
            return original(input, init);
        };
    }
}
