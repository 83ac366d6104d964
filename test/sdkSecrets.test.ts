import * as assert from "node:assert/strict";
import { conventionalModule, scanSdkSecretInputs, sdkSecretInputs, secretInputsByConvention } from "../tooling/sdkSecrets";

/**
 * The wire form marks the inputs @pulumi/aws makes secret itself. They are read from the type's own
 * module where the code generator puts it, and from every module otherwise; both ways must give
 * what reading all of the installed SDK's modules gives, for every type it declares.
 */
describe("wire form: the inputs the AWS SDK makes secret", () => {
    const scanned = scanSdkSecretInputs();

    it("reads the SDK's own modules: the RDS password, the SSM parameter's value, the provider's keys", () => {
        assert.ok(scanned.size > 1500, `only ${scanned.size} types found`);
        assert.ok(scanned.get("aws:rds/instance:Instance")?.includes("password"));
        assert.ok(scanned.get("aws:ssm/parameter:Parameter")?.includes("value"));
        assert.ok(scanned.get("pulumi:providers:aws")?.includes("secretKey"));
    });

    it("gives every type exactly the inputs of the full read, whether its module is where the generator puts it or not", () => {
        const unconventional: string[] = [];
        for (const [type, inputs] of scanned) {
            const byConvention = secretInputsByConvention(type);
            if (byConvention === undefined) unconventional.push(type);
            else assert.deepEqual(byConvention, inputs, type);
            assert.deepEqual(sdkSecretInputs(type), inputs, type);
        }
        // e.g. aws:datasync/s3Location:S3Location lives in datasync/s3location.js: found by the full read.
        assert.ok(unconventional.length > 0 && unconventional.length < scanned.size / 20, `${unconventional.length} types outside their conventional module`);
    });

    it("has none for other packages' types and for a type the SDK does not declare", () => {
        assert.deepEqual(sdkSecretInputs("random:index/randomPassword:RandomPassword"), []);
        assert.deepEqual(sdkSecretInputs("aws:s3/noSuchThing:NoSuchThing"), []);
        assert.equal(conventionalModule("aws:index/provider:Provider"), "provider.js");
        assert.equal(conventionalModule("aws:ec2/securityGroup:SecurityGroup"), "ec2/securityGroup.js");
    });
});
