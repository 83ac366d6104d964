// A fault-injecting HTTP proxy in front of s3rver, on loopback, for the runtime's S3 tests.
//
// s3rver answers real S3 HTTP and presigned URLs, but it ignores If-None-Match, checks no
// signature and no checksum, has no key-length limit and writes objects non-atomically (a GET
// during a PUT can read a half-written object). Tests that rely on those S3 behaviours go through
// this proxy, which adds them:
//
// - `If-None-Match: *` on PUT is answered 412 PreconditionFailed when the key exists, atomically per
//   key (writes to one key are serialised, the existence check and the write happen under one lock);
// - a PUT's `x-amz-checksum-sha256` is checked against the body (400 BadDigest), stored, and
//   returned on GET/HEAD with `x-amz-checksum-mode: ENABLED`, as S3 does for full-object checksums;
// - keys over 1,024 UTF-8 bytes are refused (400 KeyTooLongError);
// - requests with neither an Authorization header nor a presigned X-Amz-Signature are refused
//   (403 AccessDenied): S3 serves no anonymous access to a private bucket; and SigV4 signatures
//   (Authorization header and presigned query) are verified against the test credentials
//   (403 SignatureDoesNotMatch), so a made-up signature gets nowhere;
// - objects are served only once fully written: the proxy buffers a PUT's body and forwards it in
//   one piece, and a GET/HEAD of a key waits for a write to that key in flight.
//
// Faults are scripted per request (method, path, how many matching requests to let through first,
// how many to hit): 5xx answers (503 SlowDown, 500 InternalError), resets mid-request and
// mid-response, an early FIN, a short Content-Length (a complete-looking truncated answer), a
// dripped body, a black hole, a delay, and a lost answer (the request reaches s3rver and lands, the
// client's connection is then reset before it sees the answer).
import { S3Client } from "@aws-sdk/client-s3";
import { S3RequestPresigner } from "@aws-sdk/s3-request-presigner";
import { createHash } from "crypto";
import * as http from "http";
import type { AddressInfo, Socket } from "net";

export type Fault =
    /** Answer with an S3 error; the request is not forwarded. */
    | { kind: "status"; status: number; code?: string; message?: string }
    /** Read this much of the request body (default 0), then reset the connection; nothing forwarded. */
    | { kind: "reset-request"; afterBodyBytes?: number }
    /** Forward the request (it lands), then reset the connection instead of answering. */
    | { kind: "lose-answer" }
    /** Forward, send the headers and this many body bytes, then reset the connection (RST). */
    | { kind: "reset-response"; afterBytes: number }
    /** Forward, send the headers (full Content-Length) and this many body bytes, then close cleanly (FIN). */
    | { kind: "early-fin"; afterBytes: number }
    /** Forward, then answer with the body cut to this many bytes and a matching Content-Length: looks complete. */
    | { kind: "short-content-length"; bytes: number }
    /** Forward, then send the body in chunks of this size every intervalMs. */
    | { kind: "drip"; chunkBytes: number; intervalMs: number }
    /** Read the request and never answer; the connection stays open until the client gives up or the proxy closes. */
    | { kind: "black-hole" }
    /** Wait, then behave normally. */
    | { kind: "delay"; ms: number };

export interface FaultRule {
    method?: string;
    /** The request path without its query (`/bucket/key`): a substring, or a pattern. */
    path?: string | RegExp;
    /** Matching requests to let through before the fault applies. Default 0. */
    skip?: number;
    /** Matching requests the fault applies to after those. Default 1; Infinity for all. */
    times?: number;
    fault: Fault;
}

export interface ScriptedFault {
    readonly rule: FaultRule;
    /** Requests the fault was applied to. */
    readonly hits: number;
    /** Requests that matched, let through or not. */
    readonly matched: number;
}

export interface ProxiedRequest {
    method: string;
    path: string;
    /** The fault applied, or undefined. */
    fault?: Fault["kind"];
    /** The status the proxy answered (an S3 rule of its own or s3rver's), or undefined when the connection was cut. */
    status?: number;
    /** s3rver's status when the request was forwarded (a lost answer's write landed with 200). */
    upstreamStatus?: number;
    /** A header of the request, lower-case name. */
    headers: http.IncomingHttpHeaders;
}

export interface S3FaultProxy {
    /** http://127.0.0.1:<port>: give it to the S3 client as its endpoint (forcePathStyle). */
    endpoint: string;
    /** Adds a fault; faults are tried in the order added, the first that applies wins. */
    inject(rule: FaultRule): ScriptedFault;
    /** Removes every fault (not the S3 behaviours). */
    clearFaults(): void;
    /** Every request seen, in order. */
    readonly requests: ProxiedRequest[];
    /** Closes the proxy and every connection it holds (black holes included). */
    close(): Promise<void>;
}

const MAX_KEY_BYTES = 1024;

interface Rule extends ScriptedFault {
    rule: FaultRule;
    hits: number;
    matched: number;
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string, resource: string): void {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource><RequestId>fault-proxy</RequestId></Error>`;
    res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body), ...(code === "SlowDown" ? { "retry-after": "1" } : {}) });
    res.end(body);
}

function readBody(req: http.IncomingMessage, limit = Infinity): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const onData = (chunk: Buffer) => {
            chunks.push(chunk);
            size += chunk.length;
            if (size >= limit) {
                req.off("data", onData);
                req.pause();
                resolve(Buffer.concat(chunks));
            }
        };
        req.on("data", onData);
        req.once("end", () => resolve(Buffer.concat(chunks)));
        req.once("error", reject);
        req.once("aborted", () => reject(new Error("client aborted")));
    });
}

/** Path-style `/bucket/key...` → bucket and key (decoded), or undefined for bucket-level requests. */
function objectOf(pathname: string): { bucket: string; key: string } | undefined {
    const match = /^\/([^/]+)\/(.+)$/.exec(pathname);
    if (!match) return undefined;
    try {
        return { bucket: match[1], key: decodeURIComponent(match[2]) };
    } catch {
        return { bucket: match[1], key: match[2] };
    }
}

function amzDate(value: string): Date | undefined {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
    return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))) : undefined;
}

export interface S3FaultProxyOptions {
    /** s3rver's endpoint. */
    upstream: string;
    /** The credentials every client of the test signs with; default s3rver's S3RVER/S3RVER. */
    credentials?: { accessKeyId: string; secretAccessKey: string };
}

const signingClients = new Map<string, S3Client>();
/** One client per region and key: its config holds the SDK's own SigV4 signer and hash. */
function signingClient(region: string, credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
    const id = `${region}/${credentials.accessKeyId}/${credentials.secretAccessKey}`;
    let client = signingClients.get(id);
    if (!client) signingClients.set(id, (client = new S3Client({ region, credentials })));
    return client;
}

/** Verifies a request's SigV4 signature (presigned query or Authorization header) by signing it again with the SDK's own signer. */
async function signatureMatches(req: http.IncomingMessage, url: URL, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<boolean> {
    const [hostname, port] = (req.headers.host ?? "").split(":");
    const base = { method: (req.method ?? "GET").toUpperCase(), protocol: "http:", hostname, port: port ? Number(port) : undefined, path: url.pathname };
    const presignedSignature = url.searchParams.get("X-Amz-Signature");
    if (presignedSignature !== null) {
        const query: Record<string, string> = {};
        for (const [k, v] of url.searchParams) if (k !== "X-Amz-Signature") query[k] = v;
        const credential = (query["X-Amz-Credential"] ?? "").split("/");
        const signingDate = amzDate(query["X-Amz-Date"] ?? "");
        if (credential[0] !== credentials.accessKeyId || !signingDate || !credential[2]) return false;
        const s3 = signingClient(credential[2], credentials);
        const presigner = new S3RequestPresigner({ credentials, region: credential[2], sha256: s3.config.sha256 });
        const signed = await presigner.presign({ ...base, query, headers: { host: req.headers.host ?? "" } }, { signingDate, expiresIn: Number(query["X-Amz-Expires"]) });
        return signed.query?.["X-Amz-Signature"] === presignedSignature;
    }
    const authorization = req.headers.authorization ?? "";
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=[0-9a-f]{64}$/.exec(authorization);
    const signingDate = amzDate(String(req.headers["x-amz-date"] ?? ""));
    if (!m || m[1] !== credentials.accessKeyId || !signingDate) return false;
    const headers: Record<string, string> = {};
    for (const name of m[3].split(";")) headers[name] = String(req.headers[name] ?? "");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const s3 = signingClient(m[2], credentials);
    const signer = await s3.config.signer({ name: "sigv4", properties: {} } as never);
    const signed = (await signer.sign({ ...base, query, headers } as never, { signingDate, signingRegion: m[2], signingService: "s3" })) as { headers: Record<string, string> };
    return signed.headers.authorization === authorization;
}

export async function startS3FaultProxy(options: S3FaultProxyOptions): Promise<S3FaultProxy> {
    const upstream = new URL(options.upstream);
    const credentials = options.credentials ?? { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
    const rules: Rule[] = [];
    const requests: ProxiedRequest[] = [];
    const sockets = new Set<Socket>();
    /** The tail of the write queue per object: writes wait for it, reads wait for it too. */
    const writeQueues = new Map<string, Promise<void>>();
    /** x-amz-checksum-sha256 of the objects written through the proxy. */
    const checksums = new Map<string, string>();
    const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });

    const withWriteLock = async <T>(id: string, work: () => Promise<T>): Promise<T> => {
        const previous = writeQueues.get(id) ?? Promise.resolve();
        let release!: () => void;
        const mine = new Promise<void>((resolve) => (release = resolve));
        const tail = previous.then(() => mine);
        writeQueues.set(id, tail);
        await previous;
        try {
            return await work();
        } finally {
            release();
            if (writeQueues.get(id) === tail) writeQueues.delete(id);
        }
    };
    const afterWrites = (id: string): Promise<void> => writeQueues.get(id) ?? Promise.resolve();

    const pickFault = (method: string, pathname: string): Fault | undefined => {
        for (const rule of rules) {
            const { method: m, path: p } = rule.rule;
            if (m !== undefined && m.toUpperCase() !== method) continue;
            if (p !== undefined && !(typeof p === "string" ? pathname.includes(p) : p.test(pathname))) continue;
            rule.matched++;
            const skip = rule.rule.skip ?? 0;
            const times = rule.rule.times ?? 1;
            if (rule.matched <= skip || rule.hits >= times) continue;
            rule.hits++;
            return rule.rule.fault;
        }
        return undefined;
    };

    const forward = (req: http.IncomingMessage, body: Buffer | undefined, extraHeaders: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> => {
        const headers: http.OutgoingHttpHeaders = { ...req.headers, ...extraHeaders };
        delete headers["if-none-match"];
        if (body !== undefined) {
            delete headers["transfer-encoding"];
            headers["content-length"] = String(body.length);
        }
        return new Promise((resolve, reject) => {
            const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent: upstreamAgent }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.once("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
                res.once("error", reject);
            });
            out.once("error", reject);
            out.end(body);
        });
    };

    const plainHead = (pathname: string): Promise<number> =>
        new Promise((resolve, reject) => {
            const out = http.request({ host: upstream.hostname, port: upstream.port, method: "HEAD", path: pathname, agent: upstreamAgent }, (res) => {
                res.resume();
                res.once("end", () => resolve(res.statusCode ?? 502));
            });
            out.once("error", reject);
            out.end();
        });

    const handle = async (req: http.IncomingMessage, res: http.ServerResponse, record: ProxiedRequest): Promise<void> => {
        const url = new URL(req.url ?? "/", "http://proxy.invalid");
        const method = (req.method ?? "GET").toUpperCase();
        const pathname = url.pathname;
        const object = objectOf(pathname);
        const id = object ? `${object.bucket}/${object.key}` : pathname;
        const respond = (status: number, headers: http.IncomingHttpHeaders, body: Buffer) => {
            record.status = status;
            const out: http.OutgoingHttpHeaders = { ...headers };
            delete out["transfer-encoding"];
            delete out["connection"];
            delete out["keep-alive"];
            if (method !== "HEAD") out["content-length"] = String(body.length);
            res.writeHead(status, out);
            res.end(method === "HEAD" ? undefined : body);
        };
        const refuse = (status: number, code: string, message: string) => {
            record.status = status;
            s3Error(res, status, code, message, pathname);
        };

        let fault = pickFault(method, pathname);
        record.fault = fault?.kind;
        if (fault?.kind === "delay") {
            const { ms } = fault;
            await new Promise((resolve) => setTimeout(resolve, ms));
            fault = undefined;
        }
        if (fault?.kind === "reset-request") {
            await readBody(req, fault.afterBodyBytes ?? 0).catch(() => undefined);
            req.socket.resetAndDestroy();
            return;
        }
        if (fault?.kind === "black-hole") {
            req.resume();
            return;
        }
        if (fault?.kind === "status") {
            await readBody(req).catch(() => undefined);
            return refuse(fault.status, fault.code ?? (fault.status === 503 ? "SlowDown" : "InternalError"), fault.message ?? (fault.status === 503 ? "Please reduce your request rate." : "We encountered an internal error. Please try again."));
        }

        const authorised = req.headers.authorization !== undefined || url.searchParams.has("X-Amz-Signature");
        if (!authorised) {
            await readBody(req).catch(() => undefined);
            return refuse(403, "AccessDenied", "Access Denied");
        }
        if (!(await signatureMatches(req, url, credentials))) {
            await readBody(req).catch(() => undefined);
            return refuse(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
        }
        if (object && Buffer.byteLength(object.key, "utf8") > MAX_KEY_BYTES) {
            await readBody(req).catch(() => undefined);
            return refuse(400, "KeyTooLongError", "Your key is too long");
        }

        let answer: { status: number; headers: http.IncomingHttpHeaders; body: Buffer };
        const isWrite = object !== undefined && (method === "PUT" || method === "DELETE") && !url.searchParams.has("uploadId") && !url.searchParams.has("tagging") && !url.searchParams.has("acl");
        if (isWrite) {
            const body = await readBody(req);
            if (/aws-chunked/i.test(String(req.headers["content-encoding"] ?? ""))) {
                return refuse(501, "NotImplemented", "This test proxy does not decode aws-chunked bodies; send the checksum as a header");
            }
            const claimed = req.headers["x-amz-checksum-sha256"];
            const actual = createHash("sha256").update(body).digest("base64");
            if (method === "PUT" && typeof claimed === "string" && claimed !== actual) {
                return refuse(400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.");
            }
            const outcome = await withWriteLock(id, async () => {
                if (method === "PUT" && req.headers["if-none-match"] === "*") {
                    if ((await plainHead(pathname)) === 200) return "exists" as const;
                }
                const forwarded = await forward(req, body);
                record.upstreamStatus = forwarded.status;
                if (forwarded.status < 300) {
                    if (method === "DELETE") checksums.delete(id);
                    else checksums.set(id, actual);
                }
                return forwarded;
            });
            if (outcome === "exists") return refuse(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
            answer = outcome;
            if (method === "PUT" && answer.status < 300 && typeof claimed === "string") answer.headers["x-amz-checksum-sha256"] = actual;
        } else {
            const body = await readBody(req);
            if (object && (method === "GET" || method === "HEAD")) await afterWrites(id);
            answer = await forward(req, method === "GET" || method === "HEAD" ? undefined : body);
            record.upstreamStatus = answer.status;
            const stored = checksums.get(id);
            if (object && answer.status === 200 && stored && String(req.headers["x-amz-checksum-mode"] ?? "").toUpperCase() === "ENABLED" && req.headers.range === undefined) {
                answer.headers["x-amz-checksum-sha256"] = stored;
                answer.headers["x-amz-checksum-type"] = "FULL_OBJECT";
            }
        }

        if (fault === undefined) return respond(answer.status, answer.headers, answer.body);
        const headers: http.IncomingHttpHeaders = { ...answer.headers };
        delete headers["transfer-encoding"];
        delete headers["connection"];
        switch (fault.kind) {
            case "lose-answer":
                req.socket.resetAndDestroy();
                return;
            case "reset-response":
            case "early-fin": {
                headers["content-length"] = String(answer.body.length);
                res.writeHead(answer.status, headers);
                res.write(answer.body.subarray(0, Math.min(fault.afterBytes, Math.max(0, answer.body.length - 1))));
                const cut = fault.kind;
                setTimeout(() => (cut === "early-fin" ? req.socket.end() : req.socket.resetAndDestroy()), 20);
                return;
            }
            case "short-content-length": {
                const short = answer.body.subarray(0, fault.bytes);
                return respond(answer.status, headers, short);
            }
            case "drip": {
                record.status = answer.status;
                headers["content-length"] = String(answer.body.length);
                res.writeHead(answer.status, headers);
                let offset = 0;
                const { chunkBytes, intervalMs } = fault;
                const timer = setInterval(() => {
                    if (res.destroyed) return clearInterval(timer);
                    const next = answer.body.subarray(offset, offset + chunkBytes);
                    offset += next.length;
                    if (offset >= answer.body.length) {
                        clearInterval(timer);
                        res.end(next);
                    } else res.write(next);
                }, intervalMs);
                res.once("close", () => clearInterval(timer));
                return;
            }
        }
    };

    const server = http.createServer((req, res) => {
        const record: ProxiedRequest = { method: (req.method ?? "GET").toUpperCase(), path: new URL(req.url ?? "/", "http://proxy.invalid").pathname, headers: req.headers };
        requests.push(record);
        handle(req, res, record).catch((err: unknown) => {
            if (!res.headersSent && !res.destroyed) {
                record.status = 502;
                s3Error(res, 502, "ProxyError", `the fault proxy could not reach s3rver: ${err instanceof Error ? err.message : String(err)}`, record.path);
            } else res.destroy();
        });
    });
    server.on("connection", (socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;

    return {
        endpoint: `http://127.0.0.1:${port}`,
        requests,
        inject(rule: FaultRule): ScriptedFault {
            const entry: Rule = { rule, hits: 0, matched: 0 };
            rules.push(entry);
            return entry;
        },
        clearFaults() {
            rules.length = 0;
        },
        async close() {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const socket of sockets) socket.destroy();
            upstreamAgent.destroy();
            await closed;
        },
    };
}
