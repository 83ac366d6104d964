import * as assert from "assert";
import { secretLintProfiler } from "@secretlint/profiler";
import { commandFlags, connectionParameters, decodeBase64Text, lineAssignments } from "../../policies/lib/decoders";
import { detectSecrets, isReferenceValue, isSecretName } from "../../policies/lib/secretDetectors";
import { walkProperties } from "../../policies/lib/walker";

/**
 * The secret detectors and decoders as units (in process, no analyzer): the name model, the
 * reference values, the command-line and connection-string readers, and the walker's paths.
 */
describe("policy pack: secret detectors and decoders", () => {
    it("turns secretlint's profiler off (it kept every mark, O(marks²) in 11.x)", () => {
        assert.strictEqual(secretLintProfiler.isEnabled, false);
    });

    it("name model: the last word decides", () => {
        for (const name of ["DB_PASSWORD", "dbPassword", "STRIPE_API_KEY", "apiKey", "SECRET_VALUE", "DATABASE_URL", "client_secret", "x-api-key", "apitoken", "AUTH_TOKEN", "SECRET_KEY_BASE", "private_key", "masterUserPassword"]) {
            assert.ok(isSecretName(name), `${name} is a secret name`);
        }
        for (const name of ["TOKEN_TTL", "PASSWORD_MIN_LENGTH", "API_KEY_PREFIX", "API_KEY_HEADER", "TOKEN_AUDIENCE", "SECRET_ARN", "DB_PASSWORD_PARAMETER", "JWT_PUBLIC_KEY", "STRIPE_PUBLISHABLE_KEY", "KMS_KEY_ID", "keyName", "secretId", "AWS_ACCESS_KEY_ID", "password_file", "tokenValidityUnits", "ssh_pwauth"]) {
            assert.ok(!isSecretName(name), `${name} is not a secret name`);
        }
    });

    it("references and placeholders are never plaintext", () => {
        for (const v of ["arn:aws:secretsmanager:us-east-1:123456789012:secret:x", "{{resolve:secretsmanager:db:SecretString:password}}", "${DB_PASSWORD}", "$(cat /run/secrets/x)", "<password>", "****", "15m", "900", "true", "/jobfleet/prod/db", "https://example.com/x", "Bearer ${TOKEN}"]) {
            assert.ok(isReferenceValue(v), v);
        }
        for (const v of ["hunter2", "postgresql://u:p4ss@h/db", "Bearer 7f3a9c2e1b4d"]) assert.ok(!isReferenceValue(v), v);
    });

    it("reads command-line flags, assignments and connection strings", () => {
        assert.deepStrictEqual(commandFlags("mysql -h db -u app -pS3cret app").filter((f) => f.name === "password"), [{ name: "password", value: "S3cret" }]);
        assert.deepStrictEqual(commandFlags("curl -fsS -u deploy:Pw1 https://x").filter((f) => f.name === "password"), [{ name: "password", value: "Pw1" }]);
        assert.deepStrictEqual(commandFlags("app --db-password=x1 --token 'y2'"), [{ name: "db-password", value: "x1" }, { name: "token", value: "y2" }]);
        assert.deepStrictEqual(lineAssignments(`echo "API_TOKEN=t0k" >> /etc/environment`), [{ name: "API_TOKEN", value: "t0k" }]);
        assert.deepStrictEqual(lineAssignments("export DB_PASSWORD=$(aws ssm get-parameter)"), [{ name: "DB_PASSWORD", value: "${computed}" }]);
        assert.deepStrictEqual(connectionParameters("Server=s;Uid=u;Pwd=p;"), [{ name: "Server", value: "s" }, { name: "Uid", value: "u" }, { name: "Pwd", value: "p" }]);
        assert.deepStrictEqual(connectionParameters("https://h/x?a=1&api_key=k"), [{ name: "a", value: "1" }, { name: "api_key", value: "k" }]);
    });

    it("decodes base64 text but leaves random key material alone", () => {
        assert.strictEqual(decodeBase64Text(Buffer.from("#!/bin/bash\necho hi\n").toString("base64"))?.text, "#!/bin/bash\necho hi\n");
        assert.strictEqual(decodeBase64Text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"), undefined);
    });

    it("the walker gives exact paths and the names of {name, value} pairs", () => {
        const walked = walkProperties({ containerDefinitions: JSON.stringify([{ name: "api", environment: [{ name: "DB_URL", value: "x" }] }]), tags: { Team: "ops" } });
        const leaf = walked.leaves.find((l) => l.value === "x")!;
        assert.strictEqual(leaf.field, 'containerDefinitions (JSON) $[0].environment[0].value, container "api" environment "DB_URL"');
        assert.strictEqual(leaf.name, "DB_URL");
        assert.ok(walked.leaves.some((l) => l.field === "tags.Team" && l.name === "Team"));
    });

    it("detectors never return the value", async () => {
        const [reasons] = await detectSecrets([{ name: "UPSTREAM", value: "postgresql://app:Sup3rS3cret@db.example.com/app", byValue: true }]);
        assert.ok(reasons.length > 0);
        assert.ok(!reasons.join(" ").includes("Sup3rS3cret"));
    });
});
