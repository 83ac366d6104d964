import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as util from "node:util";
import { parse as parsePgConnectionString } from "pg-connection-string";
import { loadRunnerConfig, RunnerConfigError, RUNNER_ENV_DEFAULTS } from "../runtime/runnerConfig";

/** Seed 004's own database password: the `#` ends a URL's authority unless it is encoded. */
const SEED_PASSWORD = "TFMdb#SecureKey9";
const NASTY_PASSWORD = "p@ss:w#rd/with?all%20[the]&bits";

function goodEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
        AWS_REGION: "eu-south-2",
        AWS_S3_BUCKET: "jobfleet-submissions-1a2b3c4d",
        AWS_SQS_QUEUE_URL: "https://sqs.eu-south-2.amazonaws.com/451747690955/submissions-queue",
        DB_HOST: "tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com",
        DB_PORT: "5432",
        DB_NAME: "tfmdb",
        DB_USERNAME: "runner",
        DB_PASSWORD: SEED_PASSWORD,
        ...overrides,
    };
}

function loadError(env: Record<string, string | undefined>): RunnerConfigError {
    try {
        loadRunnerConfig(env);
    } catch (error) {
        assert.ok(error instanceof RunnerConfigError, `expected a RunnerConfigError, got ${String(error)}`);
        return error;
    }
    assert.fail("loadRunnerConfig accepted an invalid environment");
}

/** Every way an error could reach a log: message, stack, cause, inspection and JSON. */
function everythingPrintable(error: Error): string {
    return [error.message, error.stack ?? "", String(error.cause ?? ""), util.inspect(error, { depth: 10 }), JSON.stringify(error), String(error)].join("\n");
}

describe("runner config loader (runtime/runnerConfig.ts)", () => {
    describe("with a complete environment", () => {
        it("reads every variable and falls back to seed 004's defaults for the optional ones", () => {
            const config = loadRunnerConfig(goodEnv());
            assert.equal(config.region, "eu-south-2");
            assert.equal(config.bucket, "jobfleet-submissions-1a2b3c4d");
            assert.equal(config.queueUrl, "https://sqs.eu-south-2.amazonaws.com/451747690955/submissions-queue");
            assert.equal(config.pollIntervalMs, 20000);
            assert.equal(config.timeoutMs, 120000);
            assert.equal(config.maxLogBytes, 200000);
            assert.equal(config.jdkVersion, "17");
            assert.equal(config.buildTool, "maven");
            assert.equal(config.gracefulShutdownSeconds, 30);
            assert.equal(config.submissionsPrefix, "submissions/");
            assert.equal(config.logsPrefix, "logs/");
            assert.equal(config.workDir, "/tmp/runner");
            assert.deepEqual(
                { host: config.database.host, port: config.database.port, name: config.database.name, user: config.database.credentials().user, sslMode: config.database.sslMode },
                { host: "tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com", port: 5432, name: "tfmdb", user: "runner", sslMode: "verify-full" },
            );
        });

        it("takes explicit values over the defaults", () => {
            const config = loadRunnerConfig(
                goodEnv({ RUNNER_POLL_INTERVAL_MS: "5000", RUNNER_TIMEOUT_MS: "600000", RUNNER_MAX_LOG_BYTES: "1048576", JDK_VERSION: "21", BUILD_TOOL: "gradle", DB_PORT: "6543", DB_SSLMODE: "verify-ca", GRACEFUL_SHUTDOWN_TIMEOUT_SEC: "45" }),
            );
            assert.deepEqual(
                [config.pollIntervalMs, config.timeoutMs, config.maxLogBytes, config.jdkVersion, config.buildTool, config.database.port, config.database.sslMode, config.gracefulShutdownSeconds],
                [5000, 600000, 1048576, "21", "gradle", 6543, "verify-ca", 45],
            );
            assert.match(config.database.connectionString(), /@tfmdb\.cfeggi80y56w\.eu-south-2\.rds\.amazonaws\.com:6543\/tfmdb\?sslmode=verify-ca$/);
        });

        for (const password of [SEED_PASSWORD, NASTY_PASSWORD, "a@b:c#d"]) {
            it(`builds a connection string that PostgreSQL clients parse back to the password ${JSON.stringify(password)}`, () => {
                const config = loadRunnerConfig(goodEnv({ DB_USERNAME: "run@ner:x", DB_PASSWORD: password }));
                const connectionString = config.database.connectionString();
                assert.ok(!connectionString.includes(password), "the password must be URL-encoded, not pasted raw");

                const url = new URL(connectionString);
                assert.equal(url.protocol, "postgresql:");
                assert.equal(decodeURIComponent(url.username), "run@ner:x");
                assert.equal(decodeURIComponent(url.password), password);
                assert.equal(url.hostname, "tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com");
                assert.equal(url.port, "5432");
                assert.equal(url.pathname, "/tfmdb");
                assert.equal(url.hash, "", "a raw # would have cut the string into a fragment");

                // node-postgres' own parser, the one the runner's pg client uses.
                const pg = parsePgConnectionString(connectionString);
                assert.equal(pg.user, "run@ner:x");
                assert.equal(pg.password, password);
                assert.equal(pg.host, "tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com");
                assert.equal(pg.port, "5432");
                assert.equal(pg.database, "tfmdb");
                assert.ok(pg.ssl, "sslmode=verify-full must turn TLS on");
            });
        }

        it("passes a CA bundle path to the client as sslrootcert", () => {
            const caFile = path.join(__dirname, "..", "package.json");
            const config = loadRunnerConfig(goodEnv({ DB_SSL_ROOT_CERT: caFile }));
            assert.equal(config.database.sslRootCert, caFile);
            const pg = parsePgConnectionString(config.database.connectionString());
            assert.equal(pg.sslrootcert, caFile);
            // node-postgres reads the file named there as the CA to verify the server against.
            assert.equal((pg.ssl as { ca?: string }).ca, fs.readFileSync(caFile, "utf8"));
            assert.equal(loadRunnerConfig(goodEnv()).database.sslRootCert, undefined);
        });

        it("never prints a credential part, the database user included, when the config is logged, inspected, serialised or redacted", () => {
            const user = "jobfleet_runner_7q";
            const config = loadRunnerConfig(goodEnv({ DB_USERNAME: user, DB_PASSWORD: NASTY_PASSWORD }));
            const printed = [
                JSON.stringify(config),
                JSON.stringify(config.database),
                util.inspect(config, { depth: 10, showHidden: true }),
                util.inspect(config.database, { depth: 10, showHidden: true, getters: true }),
                String(config),
                `${config.database}`,
                config.database.redactedConnectionString(),
            ].join("\n");
            for (const form of [NASTY_PASSWORD, encodeURIComponent(NASTY_PASSWORD), user]) {
                assert.ok(!printed.includes(form), `the printed config contains ${form}:\n${printed}`);
            }
            assert.equal(config.database.redactedConnectionString(), "postgresql://****:****@tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com:5432/tfmdb?sslmode=verify-full");
            assert.deepEqual(config.database.credentials(), { user, password: NASTY_PASSWORD }, "the client still gets both");
        });
    });

    describe("with missing variables", () => {
        it("names every missing required variable at once, and none that has a default", () => {
            const error = loadError({});
            const named = error.problems.map((p) => p.variable).sort();
            assert.deepEqual(named, ["AWS_REGION", "AWS_S3_BUCKET", "AWS_SQS_QUEUE_URL", "DB_HOST", "DB_NAME", "DB_PASSWORD", "DB_USERNAME"]);
            for (const name of named) assert.match(error.message, new RegExp(`- ${name}: not set; expected `));
            for (const name of Object.keys(RUNNER_ENV_DEFAULTS)) assert.ok(!named.includes(name), `${name} has a default and must not be reported`);
        });

        it("treats an empty or blank value as missing", () => {
            const error = loadError(goodEnv({ DB_HOST: "  ", DB_PASSWORD: "" }));
            assert.deepEqual(error.problems.map((p) => p.variable).sort(), ["DB_HOST", "DB_PASSWORD"]);
            assert.match(error.message, /DB_PASSWORD: not set; expected the database password, injected by ECS from the RDS-managed secret's "password" key/);
        });
    });

    describe("with malformed variables", () => {
        const cases: Array<[string, string, RegExp]> = [
            ["RUNNER_TIMEOUT_MS", "2m", /RUNNER_TIMEOUT_MS: "2m" is not valid; expected a whole number of milliseconds/],
            ["RUNNER_TIMEOUT_MS", "50000000", /RUNNER_TIMEOUT_MS: "50000000" is not valid; expected .*below SQS's 12-hour visibility limit/],
            ["RUNNER_POLL_INTERVAL_MS", "-5", /RUNNER_POLL_INTERVAL_MS: "-5" is not valid/],
            ["RUNNER_MAX_LOG_BYTES", "1e6", /RUNNER_MAX_LOG_BYTES: "1e6" is not valid; expected a whole number of bytes/],
            ["BUILD_TOOL", "ant", /BUILD_TOOL: "ant" is not valid; expected one of maven, gradle/],
            ["JDK_VERSION", "17-ea", /JDK_VERSION: "17-ea" is not valid; expected a JDK major version like 17/],
            ["DB_PORT", "70000", /DB_PORT: "70000" is not valid; expected a TCP port from 1 to 65535/],
            ["DB_HOST", "db host", /DB_HOST: the value \(7 characters; contains whitespace; not shown, it may hold a secret\) is not valid; expected a host name/],
            ["DB_SSLMODE", "disable", /DB_SSLMODE: "disable" is not valid; expected one of require, verify-ca, verify-full/],
            ["AWS_SQS_QUEUE_URL", "http://sqs.eu-south-2.amazonaws.com/451747690955/q", /AWS_SQS_QUEUE_URL: .* is not valid; expected an SQS queue URL/],
            ["AWS_SQS_QUEUE_URL", "submissions-queue", /AWS_SQS_QUEUE_URL: the value \(17 characters; not shown, it may hold a secret\) is not valid/],
            ["AWS_SQS_QUEUE_URL", "https://AKIA:hunter2@sqs.eu-south-2.amazonaws.com/451747690955/q?X-Amz-Signature=s3cr3t", /AWS_SQS_QUEUE_URL: https:\/\/sqs.eu-south-2.amazonaws.com\/451747690955\/q \(query, fragment and credentials not shown\) is not valid/],
            ["AWS_S3_BUCKET", "Bad_Bucket", /AWS_S3_BUCKET: the value \(10 characters; contains upper-case letters; contains "_"; not shown, it may hold a secret\) is not valid; expected an S3 bucket name/],
            ["AWS_S3_LOGS_PREFIX", "logs", /AWS_S3_LOGS_PREFIX: the value \(4 characters; not shown, it may hold a secret\) is not valid; expected an S3 key prefix ending in \//],
            ["RUNNER_WORK_DIR", "tmp/runner", /RUNNER_WORK_DIR: the value \(10 characters; contains "\/"; not shown, it may hold a secret\) is not valid; expected an absolute directory path/],
            ["RUNNER_WORK_DIR", "/tmp/../etc", /RUNNER_WORK_DIR: the value .* is not valid/],
            ["DB_SSL_ROOT_CERT", "certs/rds.pem", /DB_SSL_ROOT_CERT: the value .* is not valid; expected an absolute path to the RDS CA bundle/],
            ["GRACEFUL_SHUTDOWN_TIMEOUT_SEC", "120", /GRACEFUL_SHUTDOWN_TIMEOUT_SEC: "120" is not valid; expected a whole number of seconds from 1 to 115/],
        ];
        for (const [name, value, message] of cases) {
            it(`rejects ${name}=${JSON.stringify(value)} and says what it expected`, () => {
                const error = loadError(goodEnv({ [name]: value }));
                assert.deepEqual(error.problems.map((p) => p.variable), [name]);
                assert.match(error.message, message);
            });
        }

        it("accepts a local http queue endpoint for development", () => {
            assert.equal(loadRunnerConfig(goodEnv({ AWS_SQS_QUEUE_URL: "http://localhost:9324/000000000000/submissions" })).queueUrl, "http://localhost:9324/000000000000/submissions");
        });

        it("keeps the message short for a very long malformed value", () => {
            const error = loadError(goodEnv({ DB_HOST: `${"x".repeat(300)} y` }));
            assert.ok(error.message.length < 400, `message is ${error.message.length} characters long`);
            assert.match(error.message, /DB_HOST: the value \(302 characters; contains whitespace; not shown/);
        });

        it("refuses the seed's DATABASE_URL without printing it", () => {
            const databaseUrl = `postgresql://postgres:${SEED_PASSWORD}@tfmdb.cfeggi80y56w.eu-south-2.rds.amazonaws.com:5432/tfmdb`;
            const error = loadError(goodEnv({ DATABASE_URL: databaseUrl }));
            assert.deepEqual(error.problems.map((p) => p.variable), ["DATABASE_URL"]);
            assert.match(error.message, /DATABASE_URL: is set \(value hidden\)/);
            const printed = everythingPrintable(error);
            assert.ok(!printed.includes(SEED_PASSWORD) && !printed.includes(databaseUrl));
        });
    });

    describe("never prints the password in an error", () => {
        const badEnvironments: Array<[string, Record<string, string | undefined>]> = [
            ["another variable is missing", { DB_HOST: undefined }],
            ["another variable is malformed", { RUNNER_TIMEOUT_MS: "soon", BUILD_TOOL: "make" }],
            ["the password itself is malformed (a line break)", { DB_PASSWORD: `${SEED_PASSWORD}\n` }],
            ["the user name is malformed", { DB_USERNAME: `runner\n${SEED_PASSWORD}` }],
            ["a DATABASE_URL also carries it", { DATABASE_URL: `postgresql://postgres:${SEED_PASSWORD}@db/tfmdb` }],
        ];
        for (const [situation, overrides] of badEnvironments) {
            it(`when ${situation}`, () => {
                const error = loadError(goodEnv(overrides));
                const printed = everythingPrintable(error);
                for (const form of [SEED_PASSWORD, encodeURIComponent(SEED_PASSWORD), "SecureKey9"]) {
                    assert.ok(!printed.includes(form), `the error shows the password as ${JSON.stringify(form)}:\n${printed}`);
                }
                assert.equal(error.cause, undefined, "no underlying error (which could hold the input) is attached");
            });
        }

        it("when a connection string or the password was pasted into another variable, even with DB_PASSWORD unset", () => {
            const pasted: Array<Record<string, string | undefined>> = [
                { DB_HOST: `postgresql://postgres:${SEED_PASSWORD}@tfmdb.example.com:5432/tfmdb`, DB_PASSWORD: undefined },
                { DB_NAME: SEED_PASSWORD },
                { BUILD_TOOL: SEED_PASSWORD },
                { BUILD_TOOL: "SecureKey9", DB_PASSWORD: "SecureKey9" },
                { RUNNER_WORK_DIR: SEED_PASSWORD },
                { AWS_SQS_QUEUE_URL: `https://runner:${SEED_PASSWORD}@sqs.eu-south-2.amazonaws.com/451747690955/q` },
                { DB_SSL_ROOT_CERT: `postgres://u:${SEED_PASSWORD}@h/db` },
            ];
            for (const overrides of pasted) {
                const printed = everythingPrintable(loadError(goodEnv(overrides)));
                for (const form of [SEED_PASSWORD, encodeURIComponent(SEED_PASSWORD), "SecureKey9"]) {
                    assert.ok(!printed.includes(form), `${Object.keys(overrides).join()}: the error shows ${JSON.stringify(form)}:\n${printed}`);
                }
            }
            assert.match(loadError(goodEnv({ BUILD_TOOL: "ant" })).message, /BUILD_TOOL: "ant" is not valid/, "a short word in a word-valued variable is still shown");
        });

        it("names a malformed password by variable only", () => {
            const error = loadError(goodEnv({ DB_PASSWORD: "line1\nline2" }));
            assert.deepEqual(error.problems, [
                { variable: "DB_PASSWORD", problem: `has a line break or NUL character (value hidden); expected the database password, injected by ECS from the RDS-managed secret's "password" key` },
            ]);
        });
    });
});
