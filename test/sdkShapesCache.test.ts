import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnumIndex, modelTypingsOf, parseEnumIndex } from "../tooling/awsAcceptance/sdkShapes";

/** The AWS acceptance check keeps the enum index it parses from an SDK client's typings; a kept one must be exactly the parsed one. */
describe("AWS acceptance: the SDK enum index kept between runs", () => {
    const CLIENT = "@aws-sdk/client-ecs";
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const client = require(CLIENT) as Record<string, unknown>;
    const files = modelTypingsOf(CLIENT);
    let dir: string;

    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdk-enums-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("writes the parsed index once and reads back the same index, LogDriver on logConfiguration included", () => {
        const parsed = parseEnumIndex(files, client);
        assert.deepEqual(parsed.get("LogConfiguration")?.get("logDriver")?.name, "LogDriver");
        const first = loadEnumIndex(CLIENT, client, dir);
        assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".json")).length, 1);
        const second = loadEnumIndex(CLIENT, client, dir);
        assert.deepEqual(first, parsed);
        assert.deepEqual(second, parsed);
    });

    it("parses again when the kept file is unreadable, and keys the file by the client's enum values too", () => {
        loadEnumIndex(CLIENT, client, dir);
        const [file] = fs.readdirSync(dir);
        fs.writeFileSync(path.join(dir, file), "{ not json");
        assert.deepEqual(loadEnumIndex(CLIENT, client, dir), parseEnumIndex(files, client));
        const changed = { ...client, LogDriver: { ...(client.LogDriver as object), NEW_DRIVER: "new-driver" } };
        loadEnumIndex(CLIENT, changed, dir);
        assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".json")).length, 2, "other enum values, another entry");
        assert.ok(loadEnumIndex(CLIENT, changed, dir).get("LogConfiguration")?.get("logDriver")?.values.includes("new-driver"));
    });
});
