import * as fs from "fs";
import * as path from "path";

/**
 * The inputs @pulumi/aws's own resource constructors make secret before anything reaches the
 * engine (the generated SDK writes `resourceInputs["password"] = args?.password ?
 * pulumi.secret(args.password) : undefined` for every input its schema marks secret: an RDS
 * password, an SSM parameter's value, the provider's accessKey/secretKey...). A program that
 * passes a literal there still sends the engine a secret, so the wire form marks them too.
 *
 * Read from the installed SDK's own files, so the list follows the SDK version. A type's module is
 * where the SDK's code generator puts it (`aws:ec2/securityGroup:SecurityGroup` in
 * `ec2/securityGroup.js`), and is used only when it declares exactly that type; for any other type
 * of the package (about one in a hundred is named otherwise, e.g. `datasync/s3location.js`) every
 * module is read once. Reading every module (2,700 files) on each run took a tenth of a second.
 */

const AWS_PACKAGE = "@pulumi/aws";
const PROVIDER_TYPE = "pulumi:providers:aws";

let root: string | undefined;
const byType = new Map<string, string[]>();
let scanned = false;

function sdkRoot(): string {
    root ??= path.dirname(require.resolve(`${AWS_PACKAGE}/package.json`));
    return root;
}

/** The type token a module declares, and the inputs it makes secret. */
function readModule(file: string): { type: string; secretInputs: string[] } | undefined {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
    const token = /__pulumiType = '([^']+)'/.exec(text)?.[1];
    if (!token) return undefined;
    const type = token.includes(":") ? token : `pulumi:providers:${token}`;
    const secretInputs = text.includes("pulumi.secret(args") ? [...text.matchAll(/resourceInputs\["(\w+)"\] = args\?\.\w+ \? pulumi\.secret\(/g)].map((m) => m[1]) : [];
    return { type, secretInputs };
}

/** Where the code generator puts a type's module: `aws:<module>/<camelName>:<Name>` → `<module>/<camelName>.js`. */
export function conventionalModule(type: string): string | undefined {
    if (type === PROVIDER_TYPE) return "provider.js";
    const m = /^aws:([^/:]+)\/([^:]+):[^:]+$/.exec(type);
    if (!m) return undefined;
    return m[1] === "index" ? `${m[2]}.js` : path.join(m[1], `${m[2]}.js`);
}

/** Every module's type and secret inputs, read from all of the SDK's files. */
export function scanSdkSecretInputs(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const visit = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                if (entry.name !== "node_modules" && entry.name !== "types") visit(full);
                continue;
            }
            if (!entry.name.endsWith(".js")) continue;
            const found = readModule(full);
            if (found) out.set(found.type, found.secretInputs);
        }
    };
    visit(sdkRoot());
    return out;
}

/** A type's secret inputs from its conventional module alone; undefined when that module does not declare the type. */
export function secretInputsByConvention(type: string): string[] | undefined {
    const relative = conventionalModule(type);
    const found = relative === undefined ? undefined : readModule(path.join(sdkRoot(), relative));
    return found && found.type === type ? found.secretInputs : undefined;
}

/** The input names the SDK makes secret for a resource type (empty for most types, and for types of other packages). */
export function sdkSecretInputs(type: string): string[] {
    if (type !== PROVIDER_TYPE && !type.startsWith("aws:")) return [];
    const known = byType.get(type);
    if (known) return known;
    if (!scanned) {
        const byConvention = secretInputsByConvention(type);
        if (byConvention) {
            byType.set(type, byConvention);
            return byConvention;
        }
        for (const [t, inputs] of scanSdkSecretInputs()) byType.set(t, inputs);
        scanned = true;
    }
    return byType.get(type) ?? [];
}
