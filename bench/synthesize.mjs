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
import {benchThreads, importDist, intArg, parseArgs, printTable} from "./lib.mjs";

const args = parseArgs(process.argv.slice(2));
const count = intArg(args, "count", 16);
const maxTokens = intArg(args, "max-tokens", 32);
const threads = intArg(args, "threads", benchThreads);
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
const {modelChatTemplate} = await importDist("prompt.js");
const {synthesizeInstructions} = await importDist("synthesize.js");

let modelFile = args.model;
if (modelFile === undefined) {
    const {ensureBenchModel} = await import("./make-bench-model.mjs");
    modelFile = await ensureBenchModel();
}
const model = await Model.load(modelFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-bench-synthesize-"));
try {
    const template = modelChatTemplate(model, args["chat-template"]);
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
