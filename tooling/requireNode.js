// Stops `npm test` / `npm run preview` at once on a Node older than package.json's engines, with the
// requirement in the message (npm ci already refuses through .npmrc's engine-strict). Plain
// JavaScript so it runs on any Node.
"use strict";
const { engines } = require("../package.json");
const required = Number(/>=\s*(\d+)/.exec(engines.node)[1]);
const actual = Number(process.versions.node.split(".")[0]);
if (actual < required) {
    console.error(
        `jobfleet needs Node ${engines.node} (package.json engines; developed and tested on Node 24 LTS), ` +
            `but this is Node ${process.versions.node}. Install Node 24, or run \`bash .ci/run\`, which installs it.`,
    );
    process.exit(1);
}
