// Stage 2a throughput: instructions/s of synthesizeInstructions with 1 sequence vs 8 and 16 parallel
// sequences, on the same model, in the same run, with the same run seed (so every configuration judges
// the same attempts and the ratios compare equal work). Ratios are against the 1-sequence row of this run.
//
// The default model is the Qwen2-0.5B-shaped random-weight bench model (bench/make-bench-model.mjs,
// built once into ~/.cache/icon2/bench). Random weights never close a turn (their next token is
// close to uniform over 151,936), so an instruction ends at the first newline or full stop instead:
// about 6% of Qwen2 tokens contain one, so most attempts end within --max-tokens, and those that do
// not are dropped as truncated, the same attempts in every row.
//
//   npm run build:ts && node bench/synthesize.mjs [--model FILE.gguf] [--count 16] [--max-tokens 32]
//       [--sequences 1,8,16] [--threads 2] [--seed 0]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function importDist(relative) {
    const file = path.join(projectRoot, "dist", relative);
    if (!fs.existsSync(file))
        throw new Error(`${file} is missing; run \`npm run build:ts\` first`);
    return import(pathToFileURL(file).href);
}

/** `--name value` / `--name=value` → {name: value} */
function parseArgs(argv) {
    const args = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith("--"))
            throw new Error(`unexpected argument ${a}`);
        const eq = a.indexOf("=");
        if (eq > 0)
            args[a.slice(2, eq)] = a.slice(eq + 1);
        else if (i + 1 < argv.length && !argv[i + 1].startsWith("--"))
            args[a.slice(2)] = argv[++i];
        else
            throw new Error(`--${a.slice(2)} needs a value`);
    }
    return args;
}

function positive(args, name, fallback) {
    const value = args[name] ?? fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
        throw new Error(`--${name} must be a positive integer, got ${value}`);
    return n;
}

function printTable(header, rows) {
    const cells = [header, ...rows].map((r) => r.map(String));
    const widths = header.map((_, k) => Math.max(...cells.map((r) => r[k].length)));
    const line = (r) => "| " + r.map((c, k) => (k === 0 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join(" | ") + " |";
    console.log(line(cells[0]));
    console.log("|" + widths.map((w, k) => "-".repeat(w + 1) + (k === 0 ? "-" : ":")).join("|") + "|");
    for (const r of cells.slice(1))
        console.log(line(r));
}

const args = parseArgs(process.argv.slice(2));
const count = positive(args, "count", 16);
const maxTokens = positive(args, "max-tokens", 32);
const threads = positive(args, "threads", process.env.ICON2_BENCH_THREADS || 2);
const seed = Number(args.seed ?? 0);
const sequenceList = String(args.sequences ?? "1,8,16").split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1)
        throw new Error(`--sequences must be a comma-separated list of positive integers, got ${args.sequences}`);
    return n;
});
if (sequenceList[0] !== 1)
    sequenceList.unshift(1); // the baseline every ratio is taken against

const {Model} = await importDist("engine/index.js");
const {chatTemplateFor} = await importDist("commands/common.js");
const {synthesizeInstructions} = await importDist("synthesize.js");

let modelFile = args.model;
if (modelFile === undefined) {
    const {ensureBenchModel} = await import("./make-bench-model.mjs");
    modelFile = await ensureBenchModel();
}
const model = await Model.load(modelFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-bench-synthesize-"));
try {
    const template = chatTemplateFor(model, args["chat-template"]);
    const base = {template, seed, modelName: model.info.name, maxTokens, stopStrings: ["\n", "."], threads, maxAttempts: count * 16};
    console.error(`model ${modelFile} (${model.info.nLayer} blocks, n_embd ${model.info.nEmbd}); ${count} instructions, max ${maxTokens} tokens, ${threads} threads`);
    // Warm-up: pages the mmapped weights in so the first measured row does not pay for it.
    await synthesizeInstructions(model, {...base, count: 1, maxTokens: 4, maxAttempts: 1, sequences: 1, out: path.join(tmp, "warmup.jsonl")});

    const rows = [];
    let baseline;
    for (const sequences of sequenceList) {
        let tokens = 0;
        const started = performance.now();
        const summary = await synthesizeInstructions(model, {
            ...base, count, sequences, out: path.join(tmp, `s${sequences}.jsonl`),
            onProgress: (p) => (tokens = p.tokens)
        });
        const seconds = (performance.now() - started) / 1000;
        const perSecond = summary.kept / seconds;
        baseline ??= perSecond;
        rows.push([sequences, summary.kept, summary.attempts, tokens, seconds.toFixed(1), perSecond.toFixed(2), (tokens / seconds).toFixed(1), `${(perSecond / baseline).toFixed(2)}×`]);
        console.error(`  sequences ${sequences}: ${summary.kept} kept of ${summary.attempts} attempts in ${seconds.toFixed(1)} s`);
    }
    printTable(["sequences", "kept", "attempts", "tokens", "seconds", "instructions/s", "tokens/s", "vs 1 sequence"], rows);
} finally {
    fs.rmSync(tmp, {recursive: true, force: true});
    await model.dispose();
}
