import * as assert from "assert";
import { awsManagedPolicyDocument } from "../../policies/lib/managedPolicies";
import { notApplicable } from "../../policies/lib/policy";
import { BoundedCache } from "../../policies/lib/boundedCache";
import { detectSecrets, nameVerdicts, valueVerdicts } from "../../policies/lib/secretDetectors";

/**
 * The pack's caches and shortcuts for speed (issue 11): each must give exactly the verdict the
 * uncached code gives, for every string, whatever was judged before it.
 */
describe("policy pack: verdict caches", () => {
    beforeEach(() => {
        valueVerdicts.clear();
        nameVerdicts.clear();
    });

    // Real-looking secrets built at run time, so no scanner flags this file.
    const awsKeyId = ["AKIA", "QYLPMN5HFIQR7XYZ"].join("");
    const slackToken = ["xoxb", "123456789012", "1234567890123", "abcdefghijklmnopqrstuvwx"].join("-");

    it("a cached verdict never leaks to another string: a secret judged first does not make its neighbours secret, nor the reverse", async () => {
        const harmless = ["jobfleet-prod-runner", "us-east-1", "public.ecr.aws/docker/library/node:24"];
        const first = await detectSecrets([{ value: awsKeyId, byValue: true }, ...harmless.map((value) => ({ value, byValue: true }))]);
        assert.ok(first[0].length > 0, "the access key id is found");
        for (const reasons of first.slice(1)) assert.deepStrictEqual(reasons, []);
        // Judged again, now from the cache, in another order and next to other strings.
        const again = await detectSecrets([...harmless.map((value) => ({ value, byValue: true })), { value: slackToken, byValue: true }, { value: awsKeyId, byValue: true }]);
        for (const reasons of again.slice(0, harmless.length)) assert.deepStrictEqual(reasons, []);
        assert.ok(again[harmless.length].length > 0, "the Slack token is found although its neighbours came from the cache");
        assert.deepStrictEqual(again[harmless.length + 1], first[0]);
        // A string that differs by one character is judged on its own.
        const changed = await detectSecrets([{ value: `${awsKeyId.slice(0, -1)}`, byValue: true }, { value: `${harmless[0]}x`, byValue: true }]);
        assert.deepStrictEqual(changed[1], []);
    });

    it("gives the same reasons cached and uncached, for values and for names", async () => {
        const candidates = [
            { value: awsKeyId, byValue: true },
            { value: "postgresql://app:s3cr3t-Pa55@db.internal:5432/app", byValue: true },
            { name: "DB_PASSWORD", value: "hunter2-but-longer", byValue: true },
            { name: "TOKEN_TTL", value: "3600", byValue: true },
            { name: "API_KEY", value: "${API_KEY}", byValue: true },
            { value: slackToken, byValue: false },
        ];
        const cold = await detectSecrets(candidates);
        assert.ok(valueVerdicts.size > 0 && nameVerdicts.size > 0, "the verdicts were kept");
        const warm = await detectSecrets(candidates);
        assert.deepStrictEqual(warm, cold);
        valueVerdicts.clear();
        nameVerdicts.clear();
        assert.deepStrictEqual(await detectSecrets([...candidates].reverse()), [...cold].reverse());
        assert.ok(cold[0].length > 0 && cold[1].length > 0 && cold[2].length > 0);
        assert.deepStrictEqual(cold[3], []);
        assert.deepStrictEqual(cold[4], []);
        assert.deepStrictEqual(cold[5], [], "a value only checked by its name is not linted");
    });

    it("a finding that runs from one value into the next is kept for none of them: each is judged again alone", async () => {
        // A private key split over three values (three environment variables, say): the values are
        // linted in one text, one per line, so secretlint's PEM rule matches across all three and
        // reports it on the first. Alone, none of them is a key.
        const begin = ["-----BEGIN", "RSA PRIVATE KEY-----"].join(" ");
        const end = ["-----END", "RSA PRIVATE KEY-----"].join(" ");
        const body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x";
        const together = await detectSecrets([begin, body, end].map((value) => ({ value, byValue: true })));
        assert.match(together[0].join(), /privatekey/);
        for (const v of [begin, body, end]) assert.equal(valueVerdicts.get(v), undefined, "a value the finding ran into is not cached");
        for (const v of [begin, body, end]) assert.deepStrictEqual(await detectSecrets([{ value: v, byValue: true }]), [[]], `judged alone: ${v.slice(0, 20)}`);
    });

    it("a returned list is the caller's: changing it does not change the cached verdict", async () => {
        const [reasons] = await detectSecrets([{ value: awsKeyId, byValue: true }]);
        const before = [...reasons];
        reasons.push("changed by the caller");
        const [again] = await detectSecrets([{ value: awsKeyId, byValue: true }]);
        assert.deepStrictEqual(again, before);
    });

    it("the cache is bounded by entries and by characters, and forgets the oldest first", () => {
        const cache = new BoundedCache<number>(3, 20);
        for (const [i, key] of ["a", "b", "c", "d"].entries()) cache.set(key, i);
        assert.strictEqual(cache.size, 3);
        assert.strictEqual(cache.get("a"), undefined, "the oldest entry went first");
        assert.strictEqual(cache.get("d"), 3);
        cache.set("x".repeat(19), 9);
        assert.ok(cache.keyChars <= 20, `keys hold ${cache.keyChars} characters`);
        assert.strictEqual(cache.get("x".repeat(19)), 9);
        assert.strictEqual(cache.get("b"), undefined);
        cache.set("y".repeat(21), 1);
        assert.strictEqual(cache.get("y".repeat(21)), undefined, "a key longer than the whole budget is not kept");
        cache.set("d", 4);
        assert.strictEqual(cache.get("d"), 4, "setting a key again replaces its value");
        assert.ok(cache.size <= 3 && cache.keyChars <= 20);
    });

    it("the pack's value cache stays within its bounds over many distinct strings", async () => {
        const values = Array.from({ length: 3000 }, (_, i) => ({ value: `service-${i}-${"z".repeat(i % 50)}`, byValue: true }));
        await detectSecrets(values);
        assert.ok(valueVerdicts.size <= valueVerdicts.maxEntries && valueVerdicts.keyChars <= valueVerdicts.maxChars);
        assert.strictEqual(valueVerdicts.size, 3000);
    });

    it("notApplicable throws the SDK's error with the reason, without a stack, and puts Error.stackTraceLimit back", () => {
        const limit = Error.stackTraceLimit;
        class NotApplicable extends Error {}
        const args = {
            notApplicable(reason?: string): never {
                throw new NotApplicable(reason);
            },
        };
        assert.throws(
            () => notApplicable(args, "applies to aws:s3/bucketV2:BucketV2"),
            (err: Error) => err instanceof NotApplicable && err.message === "applies to aws:s3/bucketV2:BucketV2" && !/\n\s+at /.test(err.stack ?? ""),
        );
        assert.strictEqual(Error.stackTraceLimit, limit);
    });

    it("AWS managed policies: the latest version's document, also for a policy whose history is megabytes (ReadOnlyAccess)", () => {
        const admin = awsManagedPolicyDocument("arn:aws:iam::aws:policy/AdministratorAccess") as { Statement: unknown[] };
        assert.deepStrictEqual(admin.Statement, [{ Effect: "Allow", Action: "*", Resource: "*" }]);
        const readOnly = awsManagedPolicyDocument("arn:aws:iam::aws:policy/ReadOnlyAccess") as { Version: string; Statement: Array<{ Action: string[] }> };
        assert.strictEqual(readOnly.Version, "2012-10-17");
        assert.ok(readOnly.Statement.some((s) => Array.isArray(s.Action) && s.Action.includes("s3:Get*")), "ReadOnlyAccess grants s3:Get*");
        assert.strictEqual(awsManagedPolicyDocument("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy") !== undefined, true);
        assert.strictEqual(awsManagedPolicyDocument("arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"), undefined);
        assert.strictEqual(awsManagedPolicyDocument("arn:aws:iam::123456789012:policy/Mine"), undefined);
    });
});
