// The thread that carries PolicyAnalyzer.analyzeAhead's Analyze calls (tooling/policyAnalyzer.ts).
// The program under mocks registers its resources in one run of promise callbacks that gives the
// CLI's event loop no turn, so gRPC calls made from the CLI's thread reach the pack only when the
// program is done. This thread has its own event loop: it sends each request (already serialized)
// as it is posted and posts the pack's answer back, bytes in, bytes out.
"use strict";
const { parentPort, workerData } = require("worker_threads");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpc = require(workerData.grpcModule);

const client = new grpc.Client(`127.0.0.1:${workerData.port}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
});
const bytes = (b) => Buffer.from(b);

parentPort.on("message", (message) => {
    if (message === "close") {
        client.close();
        parentPort.close();
        return;
    }
    const { id, request } = message;
    client.makeUnaryRequest(workerData.method, bytes, bytes, Buffer.from(request), new grpc.Metadata(), { deadline: Date.now() + workerData.timeoutMs }, (err, response) => {
        parentPort.postMessage(err ? { id, error: err.details || err.message } : { id, response });
    });
});
