// `npm run bench`: runs the benchmarks in bench/, each printing ratios against baselines measured in
// the same run (llama.cpp's own tools built from the pinned source, or our own code with a feature
// off), because absolute numbers on a small shared machine drift more than the ratios do.
//
//   npm run bench                         engine, extract, synthesize, pairs, judge (those present)
//   npm run bench -- engine               one benchmark (or several: `-- engine extract`)
//   npm run bench -- extract --stimuli 32 flags after the names go to every selected benchmark
//
// Before running: compiles the TypeScript when dist/ is older than src/ (the benchmarks import the
// compiled library), and builds the bench model (a Qwen2-0.5B-shaped random-weight GGUF, ~1 GB,
// once, cached in ~/.cache/icon2/bench). The native addon must already be built (`npm install`).
// The llama.cpp tools the benchmarks compare with are built on first use into
// ~/.cache/icon2/bench/llama-build (several minutes on 2 cores; cached afterwards).
// Each benchmark runs in its own process, so one's memory and threads cannot disturb the next and
// one failure does not stop the others; the exit code is non-zero if any failed.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {projectRoot} from "./llama-source.mjs";

const known = ["engine", "extract", "synthesize", "pairs", "judge"];

const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith("--"));
const names = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : argv.slice(firstFlag);
for (const name of names) {
    if (!fs.existsSync(path.join(projectRoot, "bench", `${name}.mjs`)))
        throw new Error(`no benchmark bench/${name}.mjs (known: ${known.join(", ")})`);
}
const selected = names.length > 0 ? names : known.filter((name) => fs.existsSync(path.join(projectRoot, "bench", `${name}.mjs`)));

/** Newest modification time of the .ts files under a folder. */
function newestSource(dir) {
    let newest = 0;
    for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory())
            newest = Math.max(newest, newestSource(full));
        else if (entry.name.endsWith(".ts"))
            newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
    return newest;
}

const distMarker = path.join(projectRoot, "dist", "index.js");
const distTime = fs.existsSync(distMarker) ? Math.min(...["index.js", "engine/index.js"].map((f) => {
    const file = path.join(projectRoot, "dist", f);
    return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
})) : 0;
if (distTime < newestSource(path.join(projectRoot, "src"))) {
    console.error("bench: dist/ is older than src/; compiling (tsc -p tsconfig.json)");
    const tsc = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], {cwd: projectRoot, stdio: "inherit"});
    if (tsc.status !== 0) {
        // tsc still emits on type errors; carry on with what it wrote if the library is there
        if (!fs.existsSync(distMarker))
            process.exit(tsc.status ?? 1);
        console.error("bench: tsc reported errors; running the benchmarks on the JavaScript it emitted");
    }
}

// build the bench model once, up front, so no benchmark's timing includes it
const {ensureBenchModel} = await import(new URL("../bench/make-bench-model.mjs", import.meta.url).href);
await ensureBenchModel();

const failed = [];
for (const name of selected) {
    console.log(`\n=== bench/${name}.mjs ${flags.join(" ")}`.trimEnd() + "\n");
    const started = Date.now();
    const run = spawnSync(process.execPath, [path.join(projectRoot, "bench", `${name}.mjs`), ...flags], {cwd: projectRoot, stdio: "inherit"});
    console.log(`\n(bench/${name}.mjs: ${((Date.now() - started) / 1000).toFixed(0)} s, exit ${run.status ?? run.signal})`);
    if (run.status !== 0)
        failed.push(name);
}
if (failed.length > 0) {
    console.error(`bench: failed: ${failed.join(", ")}`);
    process.exit(1);
}
