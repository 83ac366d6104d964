import type { IncomingMessage, Server, ServerResponse } from "http";
import type { Socket } from "net";

/**
 * Graceful shutdown of Node HTTP servers (seed 002, "Graceful Shutdown Implementation"), in the
 * seed's order:
 *
 * 1. mark the process not ready: `isReady` turns false and `respondToHealthCheck` answers 503;
 * 2. stop accepting connections (after `notReadyDelayMs`, 0 by default: behind an ECS service the
 *    load balancer has already deregistered the task when SIGTERM arrives);
 * 3. let in-flight requests finish: each response still to be written carries `Connection: close`;
 * 4. close at once every connection that has no request in flight: idle keep-alives, connections
 *    that never sent a complete request (a slowloris dripping its headers, a client that connected
 *    and went silent); every other connection is closed as soon as its last response is written.
 *    Only requests the application is answering can hold the shutdown, so it ends when they do;
 * 5. run the `onDrained` cleanup and exit 0, all within `GRACEFUL_SHUTDOWN_TIMEOUT_SEC`;
 *    when the deadline passes first, every remaining connection is destroyed and the process
 *    exits 1, so ECS's SIGKILL (stop timeout = shutdown + 5 s) never has to.
 */

export const GRACEFUL_SHUTDOWN_TIMEOUT_ENV = "GRACEFUL_SHUTDOWN_TIMEOUT_SEC";
export const DEFAULT_GRACEFUL_SHUTDOWN_SECONDS = 30;

/** The longest delay a Node timer holds (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Reads GRACEFUL_SHUTDOWN_TIMEOUT_SEC: unset or empty gives the default (30 s, seed 002). */
export function parseShutdownTimeoutSeconds(raw: string | undefined): number {
    if (raw === undefined || raw.trim() === "") return DEFAULT_GRACEFUL_SHUTDOWN_SECONDS;
    const value = Number(raw.trim());
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(value > 0)) {
        throw new Error(`${GRACEFUL_SHUTDOWN_TIMEOUT_ENV} is ${JSON.stringify(raw)}; expected a number of seconds above 0, like 30.`);
    }
    return checkTimerSeconds(value, GRACEFUL_SHUTDOWN_TIMEOUT_ENV);
}

/** Refuses a number of seconds a Node timer cannot hold: it would fire at once and force the shutdown immediately. */
function checkTimerSeconds(seconds: number, name: string): number {
    if (Math.round(seconds * 1000) > MAX_TIMER_MS) {
        throw new Error(`${name} is ${seconds} seconds; at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (2^31 - 1 ms, the longest a Node timer holds) are accepted, and a Fargate task is killed 120 s after SIGTERM anyway.`);
    }
    return seconds;
}

export interface GracefulShutdownOptions {
    /** Default: GRACEFUL_SHUTDOWN_TIMEOUT_SEC from the environment, else 30. */
    timeoutSeconds?: number;
    /** Keep accepting (and answering health checks with 503) this long before closing the listeners. Default 0. */
    notReadyDelayMs?: number;
    /** Signals that start the shutdown; default SIGTERM (what ECS sends) and SIGINT. Empty: call `shutdown()` yourself. */
    signals?: NodeJS.Signals[];
    /** Cleanup after the servers have drained (flush, close pools); it shares the deadline. */
    onDrained?: () => Promise<void> | void;
    /** Default process.env. */
    env?: NodeJS.ProcessEnv;
    /** Default process.exit; tests pass their own. */
    exit?: (code: number) => void;
    /** One JSON object per event; default: a JSON line on stdout. */
    log?: (event: Record<string, unknown>) => void;
}

export interface ShutdownResult {
    reason: string;
    /** True when every request finished, the servers closed and onDrained succeeded before the deadline. */
    drained: boolean;
    durationMs: number;
    inFlightAtStart: number;
    /** Requests that finished their response after the shutdown started. */
    completed: number;
    /** Requests still open at the deadline, whose connections were destroyed. */
    abortedAtDeadline: number;
    exitCode: number;
}

/** Tracks the requests of one or more HTTP servers and shuts them down gracefully. */
export class GracefulShutdown {
    public readonly timeoutMs: number;
    private readonly servers: Server[];
    private readonly options: GracefulShutdownOptions;
    private readonly active = new Set<ServerResponse>();
    /** Every open connection, with the number of its requests the application has not finished answering. */
    private readonly connections = new Map<Socket, number>();
    private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();
    private shuttingDown = false;
    private completedSinceStart = 0;
    private result?: Promise<ShutdownResult>;

    constructor(servers: Server | Server[], options: GracefulShutdownOptions = {}) {
        this.servers = Array.isArray(servers) ? servers : [servers];
        if (this.servers.length === 0) throw new Error("GracefulShutdown needs at least one HTTP server.");
        this.options = options;
        const timeoutSeconds = options.timeoutSeconds ?? parseShutdownTimeoutSeconds((options.env ?? process.env)[GRACEFUL_SHUTDOWN_TIMEOUT_ENV]);
        if (!(timeoutSeconds > 0) || !Number.isFinite(timeoutSeconds)) {
            throw new Error(`GracefulShutdown: timeoutSeconds is ${timeoutSeconds}; expected a number of seconds above 0.`);
        }
        checkTimerSeconds(timeoutSeconds, "GracefulShutdown: timeoutSeconds");
        this.timeoutMs = Math.round(timeoutSeconds * 1000);
        const delay = options.notReadyDelayMs ?? 0;
        if (!(delay >= 0) || delay >= this.timeoutMs) {
            throw new Error(`GracefulShutdown: notReadyDelayMs is ${delay}; expected 0 or more and below the ${this.timeoutMs} ms shutdown timeout.`);
        }
        for (const server of this.servers) {
            // Prepended so the tracking sees the request before any application handler answers it.
            server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => this.track(req, res));
            // For HTTPS the request's socket is the TLS socket, which "secureConnection" hands out.
            server.prependListener("addContext" in server ? "secureConnection" : "connection", (socket: Socket) => this.trackConnection(socket));
        }
        for (const signal of options.signals ?? (["SIGTERM", "SIGINT"] as NodeJS.Signals[])) {
            // Kept installed (process.on, not once): a second SIGTERM must not fall back to Node's default, an immediate kill.
            const handler = () => void this.shutdown(signal);
            this.signalHandlers.set(signal, handler);
            process.on(signal, handler);
        }
    }

    /** False from the moment the shutdown starts; health endpoints answer 503 from then on. */
    get isReady(): boolean {
        return !this.shuttingDown;
    }

    get inFlight(): number {
        return this.active.size;
    }

    /** Answers a health check: 200 {"status":"ready"} while serving, 503 {"status":"shutting_down"} once the shutdown started. */
    respondToHealthCheck(res: ServerResponse): void {
        const status = this.isReady ? 200 : 503;
        const body = JSON.stringify({ status: this.isReady ? "ready" : "shutting_down" });
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
        res.end(body);
    }

    /** Starts the shutdown (idempotent: later calls return the same result). */
    shutdown(reason = "requested"): Promise<ShutdownResult> {
        if (!this.result) this.result = this.run(reason);
        return this.result;
    }

    /** Removes the signal handlers (for tests and for servers that outlive their shutdown helper). */
    dispose(): void {
        for (const [signal, handler] of this.signalHandlers) process.removeListener(signal, handler);
        this.signalHandlers.clear();
    }

    private trackConnection(socket: Socket): void {
        // A connection accepted after the listeners closed cannot happen; one accepted during the
        // not-ready delay is tracked like any other.
        this.connections.set(socket, 0);
        socket.once("close", () => this.connections.delete(socket));
    }

    private track(req: IncomingMessage, res: ServerResponse): void {
        const socket = req.socket;
        this.active.add(res);
        // A connection opened before this helper was attached is tracked from its first request on.
        if (!this.connections.has(socket)) this.trackConnection(socket);
        this.connections.set(socket, (this.connections.get(socket) ?? 0) + 1);
        if (this.shuttingDown) res.setHeader("connection", "close");
        res.once("close", () => {
            this.active.delete(res);
            const left = (this.connections.get(socket) ?? 1) - 1;
            if (this.connections.has(socket)) this.connections.set(socket, left);
            if (!this.shuttingDown) return;
            if (res.writableFinished) this.completedSinceStart++;
            if (left === 0) this.closeConnection(socket);
        });
    }

    /**
     * Closes a connection that has no request in flight. Whatever it still has to write (the end
     * of a response just finished) is flushed first; a half-sent request on it is abandoned: the
     * client never finished it, so nothing was promised.
     */
    private closeConnection(socket: Socket): void {
        if (socket.destroyed) return;
        if (!socket.writable || socket.writableFinished) {
            socket.destroy();
            return;
        }
        // end() flushes what is buffered and sends FIN; the socket is released once that is done.
        socket.end(() => socket.destroy());
    }

    private closeConnectionsWithoutRequests(): void {
        for (const [socket, inFlight] of this.connections) if (inFlight === 0) this.closeConnection(socket);
    }

    private log(event: Record<string, unknown>): void {
        (this.options.log ?? ((e) => process.stdout.write(`${JSON.stringify(e)}\n`)))(event);
    }

    private async run(reason: string): Promise<ShutdownResult> {
        const startedAt = Date.now();
        this.shuttingDown = true;
        const inFlightAtStart = this.active.size;
        this.log({ level: "info", event: "shutdown_started", reason, in_flight: inFlightAtStart, timeout_ms: this.timeoutMs });

        let deadlineTimer: NodeJS.Timeout | undefined;
        const deadline = new Promise<"deadline">((resolve) => {
            deadlineTimer = setTimeout(() => resolve("deadline"), this.timeoutMs);
        });
        const drain = async (): Promise<"drained"> => {
            const delay = this.options.notReadyDelayMs ?? 0;
            if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
            // Responses not yet started will ask their clients to close the connection.
            for (const res of this.active) if (!res.headersSent) res.setHeader("connection", "close");
            const closed = this.servers.map(
                (server) =>
                    new Promise<void>((resolve) => {
                        // close() stops accepting; its callback runs once every connection has ended
                        // (an error only says the server was not listening, which is just as closed).
                        server.close(() => resolve());
                        // Node's own idle tracking, for connections opened before this helper was attached.
                        server.closeIdleConnections();
                    }),
            );
            this.closeConnectionsWithoutRequests();
            this.log({ level: "info", event: "listeners_closed", in_flight: this.active.size, after_ms: Date.now() - startedAt });
            await Promise.all(closed);
            if (this.options.onDrained) await this.options.onDrained();
            return "drained";
        };

        const drained = drain().catch((error: unknown): "failed" => {
            this.log({ level: "error", event: "shutdown_cleanup_failed", error: error instanceof Error ? error.message : String(error) });
            return "failed";
        });
        const outcome = await Promise.race([drained, deadline]);
        clearTimeout(deadlineTimer);
        let abortedAtDeadline = 0;
        if (outcome === "deadline") {
            abortedAtDeadline = this.active.size;
            for (const server of this.servers) server.closeAllConnections();
            for (const socket of this.connections.keys()) socket.destroy();
        }
        const exitCode = outcome === "drained" ? 0 : 1;
        const result: ShutdownResult = {
            reason,
            drained: outcome === "drained",
            durationMs: Date.now() - startedAt,
            inFlightAtStart,
            completed: this.completedSinceStart,
            abortedAtDeadline,
            exitCode,
        };
        this.log({
            level: outcome === "drained" ? "info" : "warn",
            event: { drained: "shutdown_drained", deadline: "shutdown_forced", failed: "shutdown_failed" }[outcome],
            duration_ms: result.durationMs,
            in_flight_at_start: inFlightAtStart,
            completed: result.completed,
            aborted_at_deadline: abortedAtDeadline,
        });
        this.dispose();
        (this.options.exit ?? process.exit)(exitCode);
        return result;
    }
}
