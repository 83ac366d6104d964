// `npm run preview` (and `npm run build:gate`): runs the offline gate as compiled JavaScript. Plain
// JavaScript so that it starts without ts-node or TypeScript: it compiles tooling/build.ts itself
// with esbuild (cached by that file's content) and hands over to it; build.ts compiles and caches
// the preview CLI, the program and the policy pack.
"use strict";
// First, as `npm test` does: stop at once on a Node older than package.json's engines.
require("./requireNode.js");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

// Node's on-disk compile cache (module.enableCompileCache, Node >= 22.1): the gate loads about
// 40 MB of JavaScript in two processes, and compiling it was a tenth of a prod preview. Node checks
// each entry against the source's hash. The environment variable passes it on to the pack's process.
const compileCacheDir = path.join(__dirname, "..", "node_modules", ".cache", "jobfleet", "compile-cache");
const nodeModule = require("module");
if (typeof nodeModule.enableCompileCache === "function" && !process.env.NODE_DISABLE_COMPILE_CACHE) {
    process.env.NODE_COMPILE_CACHE ??= compileCacheDir;
    nodeModule.enableCompileCache(process.env.NODE_COMPILE_CACHE);
}

const source = path.join(__dirname, "build.ts");
const text = fs.readFileSync(source, "utf8");
const cacheDir = path.join(__dirname, "..", "node_modules", ".cache", "jobfleet");
const compiled = path.join(cacheDir, `build-${crypto.createHash("sha256").update(text).digest("hex").slice(0, 20)}.js`);
if (!fs.existsSync(compiled)) {
    const { transformSync } = require("esbuild");
    const { code } = transformSync(text, {
        loader: "ts",
        format: "cjs",
        platform: "node",
        target: "node22",
        sourcefile: source,
        define: { __dirname: JSON.stringify(__dirname), __filename: JSON.stringify(source) },
    });
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${compiled}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, compiled);
}

require(compiled)
    .main(process.argv.slice(2))
    .then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`error: ${(err && err.stack) || err}\n`);
            process.exit(3);
        },
    );
