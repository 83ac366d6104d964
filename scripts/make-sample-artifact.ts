/**
 * Builds artifacts/express-api-deployment.tar.gz: a small stand-in for the express API's
 * deployment tarball, so the offline preview and the tests publish a real file. CI builds replace
 * it with the real build. Run: npx ts-node --transpile-only scripts/make-sample-artifact.ts [out]
 *
 * The output is byte-for-byte reproducible with the same Node.js (zlib) version: fixed file
 * modes, a fixed mtime, no owner names, and a gzip header without a timestamp.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";

export const SAMPLE_ARTIFACT_PATH = path.resolve(__dirname, "..", "artifacts", "express-api-deployment.tar.gz");
const FIXED_MTIME = new Date("2025-08-20T12:45:00Z");

const packageJson = {
    name: "express-api",
    version: "0.0.0-sample",
    private: true,
    description: "Sample deployment artifact for jobfleet preview environments (plain node:http, no dependencies); CI replaces it with the real express-api build.",
    main: "server.js",
    engines: { node: ">=20" },
    scripts: { start: "node server.js" },
};

const serverJs = `"use strict";
// Sample express-api build: answers the ALB health check and reports which artifact it runs.
const http = require("http");

const port = Number(process.env.PORT || 8080);
const artifact = { key: process.env.ARTIFACT_KEY || null, sha256: process.env.ARTIFACT_SHA256 || null };

const server = http.createServer((req, res) => {
    const body = req.url === "/health" ? { status: "ok", artifact } : { app: "express-api", artifact };
    res.writeHead(req.url === "/health" || req.url === "/" ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(req.url === "/health" || req.url === "/" ? body : { error: "not found" }));
});

server.listen(port, () => console.log(\`express-api listening on \${port}, artifact \${artifact.key}\`));

process.on("SIGTERM", () => {
    console.log("SIGTERM: closing the listener");
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 10000).unref();
});
`;

export async function makeSampleArtifact(outFile = SAMPLE_ARTIFACT_PATH): Promise<{ file: string; size: number; sha256: string }> {
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), "sample-artifact-"));
    try {
        const files: Record<string, string> = { "package.json": `${JSON.stringify(packageJson, null, 2)}\n`, "server.js": serverJs };
        for (const [name, content] of Object.entries(files)) {
            const file = path.join(staging, name);
            fs.writeFileSync(file, content);
            fs.chmodSync(file, 0o644);
        }
        fs.mkdirSync(path.dirname(outFile), { recursive: true });
        await tar.create({ file: outFile, cwd: staging, gzip: { level: 9 }, portable: true, mtime: FIXED_MTIME }, Object.keys(files).sort());
    } finally {
        fs.rmSync(staging, { recursive: true, force: true });
    }
    const bytes = fs.readFileSync(outFile);
    return { file: outFile, size: bytes.length, sha256: crypto.createHash("sha256").update(bytes).digest("hex") };
}

if (require.main === module) {
    makeSampleArtifact(process.argv[2] ? path.resolve(process.argv[2]) : undefined).then(
        (r) => console.log(`${path.relative(process.cwd(), r.file)}: ${r.size} bytes, sha256 ${r.sha256}`),
        (err) => {
            console.error(err instanceof Error ? err.message : err);
            process.exit(1);
        },
    );
}
