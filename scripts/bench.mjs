// `npm run bench [-- name ...]`: builds dist/ and runs bench/<name>.mjs (default: every benchmark).
// Each benchmark prints ratios against a baseline measured in the same run; absolute times on
// shared 2-core machines mean little.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {projectRoot} from "./llama-source.mjs";

const all = ["engine", "extract", "synthesize", "pairs"].filter((n) => fs.existsSync(path.join(projectRoot, "bench", `${n}.mjs`)));
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all;
const tsc = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], {cwd: projectRoot, stdio: "inherit"});
if (tsc.status !== 0)
    process.exit(tsc.status ?? 1);
let failed = 0;
for (const name of names) {
    const file = path.join(projectRoot, "bench", `${name}.mjs`);
    if (!fs.existsSync(file)) {
        console.error(`no benchmark ${name} (have: ${all.join(", ")})`);
        failed++;
        continue;
    }
    console.log(`\n== bench/${name}.mjs ==`);
    const r = spawnSync(process.execPath, [file], {cwd: projectRoot, stdio: "inherit"});
    if (r.status !== 0)
        failed++;
}
process.exit(failed > 0 ? 1 : 0);
