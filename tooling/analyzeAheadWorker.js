// The thread that carries PolicyAnalyzer.analyzeAhead's calls (tooling/policyAnalyzer.ts).
// The program under mocks registers its resources in one run of promise callbacks that gives the
// CLI's event loop no turn, so gRPC calls made from the CLI's thread reach the pack only when the
// program is done. This thread has its own event loop: it sends each request (already serialized)
// as it is posted and posts the pack's answer back, bytes in, bytes out.
//
// A `configure` message (Configure, then ConfigureStack) is sent first, each call after the one
// before has answered, and holds back every Analyze call posted after it until both have: so the
// CLI's thread can configure the pack without waiting for its answers, and no Analyze call it asks
// for ahead reaches the pack before the configuration it was made under.
"use strict";
const { parentPort, workerData } = require("worker_threads");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpc = require(workerData.grpcModule);

const client = new grpc.Client(`127.0.0.1:${workerData.port}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
});
const bytes = (b) => Buffer.from(b);

function call(method, request) {
    return new Promise((resolve, reject) => {
        client.makeUnaryRequest(method, bytes, bytes, Buffer.from(request), new grpc.Metadata(), { deadline: Date.now() + workerData.timeoutMs }, (err, response) =>
            err ? reject(new Error(err.details || err.message)) : resolve(response),
        );
    });
}

/** Resolves when the last configure message has been answered; rejects if it failed. */
let configured = Promise.resolve();

parentPort.on("message", (message) => {
    if (message === "close") {
        client.close();
        parentPort.close();
        return;
    }
    const { id } = message;
    if (message.configure) {
        const calls = message.configure;
        configured = configured
            .catch(() => undefined)
            .then(async () => {
                for (const c of calls) await call(c.method, c.request);
            });
        configured.then(
            () => parentPort.postMessage({ id, response: new Uint8Array(0) }),
            (err) => parentPort.postMessage({ id, error: `configuring the pack failed: ${err.message}` }),
        );
        return;
    }
    configured
        .then(() => call(workerData.method, message.request))
        .then(
            (response) => {
                // A copy of exactly the answer's bytes, handed over: the Buffer gRPC gives may be a view of a larger pool.
                const owned = new Uint8Array(response);
                parentPort.postMessage({ id, response: owned }, [owned.buffer]);
            },
            (err) => parentPort.postMessage({ id, error: err.message }),
        );
});
