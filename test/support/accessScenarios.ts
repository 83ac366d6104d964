import { execFileSync } from "child_process";
import * as fs from "fs";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import * as tls from "tls";
import { ECSClient, RunTaskCommand } from "@aws-sdk/client-ecs";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { inputsOf } from "../../tooling/capture";
import { ComponentAccess, RuntimeCode } from "../../components/access";
import { AccessPlan, isRuntimeRole, PlannedRole } from "../../tooling/access/plan";
import { AttributedCall, declarationsFor } from "../../tooling/access/report";
import { createShellJobS3Client, shellExecutorTargetFromEnv, submitShellJob } from "../../runtime/shellJob/caller";
import { LocalRunTask } from "../../runtime/shellJob/localRunTask";
import { RUNNER_ENV } from "../../runtime/shellJob/contract";
import { verifyArtifact } from "../../runtime/artifacts/verify";
import { SdkCallRecorder } from "./sdkCallRecorder";

/**
 * Runs the runtime code each role is declared to run, configured from the plan (the caller reads
 * the environment its Lambda function gets; verify reads the coordinates its launch template
 * names), against s3rver on loopback, and records every AWS call with the SDK recorder.
 *
 * s3rver serves over TLS here with a certificate made for the run (the buckets' policies deny
 * requests without TLS, so a plain-HTTP run would record calls AWS refuses). Each role signs with
 * its own key pair, registered with s3rver, which checks SigV4 signatures and presigned URLs'
 * expiry; the signer of a presigned URL is told by the access key id in it, as CloudTrail does.
 * RunTask goes through a real ECSClient (serialization, signing, parsing) whose HTTP handler
 * hands the request to LocalRunTask, which runs the shell executor's runner in this process.
 */

interface S3rverServer {
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverServer;
/** s3rver's one account: it checks SigV4 signatures against the key pairs registered here. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const s3rverAccount = (require("s3rver/lib/models/account") as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void; revokeAccessKey(id: string): void } }).DUMMY_ACCOUNT;

export interface RecordedRun {
    calls: AttributedCall[];
    /** Runtime code that ran, per role logical name. */
    ran: Map<string, RuntimeCode[]>;
}

function accessKeyOf(role: PlannedRole): string {
    return `AKIA${role.logicalName.replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`.slice(0, 40);
}

function selfSignedCertificate(dir: string): { key: string; cert: string } {
    const key = path.join(dir, "key.pem");
    const cert = path.join(dir, "cert.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
    return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8") };
}

/** An ECSClient whose HTTP transport is LocalRunTask: the request is serialized and signed as for ECS, then run here. */
function localEcsClient(region: string, credentials: { accessKeyId: string; secretAccessKey: string }, launcher: LocalRunTask): ECSClient {
    return new ECSClient({
        region,
        credentials,
        requestHandler: {
            async handle(request: { body?: unknown; headers: Record<string, string> }) {
                const target = request.headers["x-amz-target"];
                if (target !== "AmazonEC2ContainerServiceV20141113.RunTask") throw new Error(`LocalRunTask answers RunTask only, not ${target}.`);
                const output = await launcher.send(new RunTaskCommand(JSON.parse(typeof request.body === "string" ? request.body : new TextDecoder().decode(request.body as Uint8Array))));
                const { $metadata: _metadata, ...body } = output;
                return { response: { statusCode: 200, headers: { "content-type": "application/x-amz-json-1.1" }, body: Readable.from([Buffer.from(JSON.stringify(body))]) } };
            },
        } as never,
    });
}

export async function recordRuntimeCalls(access: AccessPlan, declarations: ComponentAccess[]): Promise<RecordedRun> {
    const recorder = new SdkCallRecorder();
    const ran = new Map<string, RuntimeCode[]>();
    const runtimeRoles = access.roles.filter(isRuntimeRole);
    const runsOf = (role: PlannedRole) => [...new Set(declarationsFor(access, role, declarations).flatMap((d) => d.runs ?? []))];
    const signers = new Map(runtimeRoles.map((r) => [accessKeyOf(r), r.logicalName]));
    const credentialsOf = (role: PlannedRole) => ({ accessKeyId: accessKeyOf(role), secretAccessKey: `secret-of-${role.logicalName}` });
    const roleByArn = new Map(access.roles.map((r) => [r.arn, r]));

    const buckets = access.plan.resources.filter((r) => r.type === "aws:s3/bucket:Bucket" || r.type === "aws:s3/bucketV2:BucketV2").map((r) => String(r.outputs.bucket));
    const uploaderCredentials = { accessKeyId: "AKIAPULUMIUPLOAD", secretAccessKey: "secret-of-the-deployment" };
    const keyPairs = [...runtimeRoles.map(credentialsOf), uploaderCredentials];
    return withHttpsS3rver(buckets, keyPairs, async (endpoint) => {
        const originalFetch = globalThis.fetch;
        try {
            for (const role of runtimeRoles) {
                const runs = runsOf(role);
                ran.set(role.logicalName, []);
                if (runs.includes("runtime/shellJob/caller")) {
                    const functions = access.plan.resources.filter((r) => r.type === "aws:lambda/function:Function" && inputsOf(r).role === role.arn);
                    for (const fn of functions) {
                        const target = shellExecutorTargetFromEnv(inputsOf(fn).environment?.variables ?? {});
                        const definition = access.plan.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && String(r.outputs.arn) === target.taskDefinition);
                        const runnerRole = definition ? roleByArn.get(String(inputsOf(definition).taskRoleArn)) : undefined;
                        if (!runnerRole) throw new Error(`${fn.name} submits to ${target.taskDefinition}, whose task role is not in the plan.`);
                        const s3 = recorder.attach(createShellJobS3Client({ region: access.region, endpoint, forcePathStyle: true, credentials: credentialsOf(role) }), role.logicalName, "runtime/shellJob/caller");
                        const launcher = new LocalRunTask({ containerName: target.containerName, mode: "in-process", waitForRunner: true, taskEnvironment: { [RUNNER_ENV.commandTimeoutSeconds]: "30", [RUNNER_ENV.maxOutputBytes]: "65536" } });
                        const ecs = recorder.attach(localEcsClient(access.region, credentialsOf(role), launcher), role.logicalName, "runtime/shellJob/caller");
                        const runnerRuns = runsOf(runnerRole).includes("runtime/shellJob/runner");
                        globalThis.fetch = runnerRuns ? recorder.wrapFetch(originalFetch, runnerRole.logicalName, "runtime/shellJob/runner", signers) : originalFetch;
                        try {
                            const { result } = await submitShellJob({ s3, ecs, target: { ...target, bucket: target.bucket }, warn: () => undefined }, { jobId: `access-${fn.name}`, commands: [{ run: "echo recorded" }] }, { initialPollMs: 50, maxPollMs: 200 });
                            if (result.status !== "succeeded") throw new Error(`The shell job of ${fn.name} ${result.status}: ${JSON.stringify(result.error ?? result.commands)}`);
                        } finally {
                            globalThis.fetch = originalFetch;
                            launcher.stopAll();
                        }
                        ran.get(role.logicalName)!.push("runtime/shellJob/caller");
                        if (runnerRuns) ran.set(runnerRole.logicalName, [...new Set([...(ran.get(runnerRole.logicalName) ?? []), "runtime/shellJob/runner" as const])]);
                    }
                }
                if (runs.includes("runtime/artifacts/verify")) {
                    // What the instance boots: the object Pulumi uploaded, at the key its launch template names.
                    const objects = access.plan.resources.filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2");
                    for (const object of objects) {
                        const i = inputsOf(object);
                        const uploader = new S3Client({ region: access.region, endpoint, forcePathStyle: true, credentials: uploaderCredentials });
                        await uploader.send(new PutObjectCommand({ Bucket: i.bucket, Key: i.key, Body: fs.readFileSync(i.source.path), Metadata: i.metadata, ContentType: i.contentType }));
                        const client = recorder.attach(new S3Client({ region: access.region, endpoint, forcePathStyle: true, credentials: credentialsOf(role) }), role.logicalName, "runtime/artifacts/verify");
                        await verifyArtifact({ client, bucket: i.bucket, key: i.key, expected: { sha256Hex: i.metadata?.sha256 }, download: "always" });
                    }
                    ran.get(role.logicalName)!.push("runtime/artifacts/verify");
                }
            }
        } finally {
            globalThis.fetch = originalFetch;
        }
        return { calls: recorder.calls, ran };
    });
}

/**
 * s3rver over TLS on loopback for the length of `work`, with `buckets` and the key pairs it will
 * accept (it checks SigV4 signatures against them). This process trusts the run's certificate
 * meanwhile (SDK clients and fetch alike), and no longer afterwards.
 */
export async function withHttpsS3rver<T>(buckets: string[], keyPairs: { accessKeyId: string; secretAccessKey: string }[], work: (endpoint: string) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "access-s3rver-"));
    const certificate = selfSignedCertificate(dir);
    const defaultCas = tls.getCACertificates("default");
    for (const pair of keyPairs) s3rverAccount.createKeyPair(pair.accessKeyId, pair.secretAccessKey);
    tls.setDefaultCACertificates([...defaultCas, certificate.cert]);
    const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: path.join(dir, "store"), key: certificate.key, cert: certificate.cert, configureBuckets: buckets.map((name) => ({ name })) });
    try {
        const endpoint = `https://127.0.0.1:${(await server.run()).port}`;
        return await work(endpoint);
    } finally {
        await server.close().catch(() => undefined);
        tls.setDefaultCACertificates(defaultCas);
        for (const pair of keyPairs) s3rverAccount.revokeAccessKey(pair.accessKeyId);
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
