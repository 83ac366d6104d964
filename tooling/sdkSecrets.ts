import * as fs from "fs";
import * as path from "path";

/**
 * The inputs @pulumi/aws's own resource constructors make secret before anything reaches the
 * engine (the generated SDK writes `resourceInputs["password"] = args?.password ?
 * pulumi.secret(args.password) : undefined` for every input its schema marks secret: an RDS
 * password, an SSM parameter's value, the provider's accessKey/secretKey...). A program that
 * passes a literal there still sends the engine a secret, so the wire form marks them too.
 *
 * Read from the installed SDK's own files, once, so the list follows the SDK version.
 */

let byType: Map<string, string[]> | undefined;

function scan(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const root = path.dirname(require.resolve("@pulumi/aws/package.json"));
    const visit = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                if (entry.name !== "node_modules" && entry.name !== "types") visit(full);
                continue;
            }
            if (!entry.name.endsWith(".js")) continue;
            const text = fs.readFileSync(full, "utf8");
            if (!text.includes("pulumi.secret(args")) continue;
            const token = /__pulumiType = '([^']+)'/.exec(text)?.[1];
            if (!token) continue;
            const type = token.includes(":") ? token : `pulumi:providers:${token}`;
            const keys = [...text.matchAll(/resourceInputs\["(\w+)"\] = args\?\.\w+ \? pulumi\.secret\(/g)].map((m) => m[1]);
            if (keys.length > 0) out.set(type, keys);
        }
    };
    visit(root);
    return out;
}

/** The input names the SDK makes secret for a resource type (empty for most types). */
export function sdkSecretInputs(type: string): string[] {
    byType ??= scan();
    return byType.get(type) ?? [];
}
