// Judge benchmark (issue 7) on the Qwen2-0.5B-shaped random-weight bench model, CPU, `benchThreads`
// threads: comparisons/s of the two judges the sweep uses, one sequence at a time vs batched, on the
// same comparisons in the same run. Ratios are against the 1-sequence row of the same judge, and the
// likelihood judge is also compared with the comparison judge at the batched width.
//
// Comparisons: the first N instructions of ../shared/data/instructions-apache2.jsonl, each with two
// other instructions of the file as its "responses" (real English of similar length; random weights
// make the verdicts themselves meaningless, the work per verdict is what is measured). The comparison
// judge decodes two prompts per comparison (both orders); the likelihood judge one per distinct
// response and reads the log-probability of every response token. Also printed: how far the batched
// verdicts are from the one-sequence ones (the same up to float rounding of batch composition).
//
//   node bench/judge.mjs [--comparisons 16] [--sequences 8] [--model FILE.gguf]
import fs from "node:fs";
import path from "node:path";
import {ensureBenchModel} from "./make-bench-model.mjs";
import {benchThreads, fmt, importDist, intArg, now, parseArgs, printTable, projectRoot, ratio} from "./lib.mjs";

const args = parseArgs();
const count = intArg(args, "comparisons", 16);
const sequences = intArg(args, "sequences", 8);

const {Model} = await importDist("engine/index.js");
const {chatTemplateFor} = await importDist("commands/common.js");
const {ComparisonJudge, LikelihoodJudge} = await importDist("judge.js");

const modelPath = args.model ? path.resolve(String(args.model)) : await ensureBenchModel();
console.log(`# judge benchmark — ${modelPath}`);
console.log(`CPU, ${benchThreads} threads; ${count} comparisons. Absolute numbers drift on a shared machine; the ratios are measured in the same run.\n`);

const model = await Model.load(modelPath, {gpu: false});
const template = chatTemplateFor(model, undefined);
const instructionsFile = path.resolve(projectRoot, "..", "shared", "data", "instructions-apache2.jsonl");
const texts = fs.readFileSync(instructionsFile, "utf8").split("\n").filter(Boolean).map((line) => {
    const {instruction, input} = JSON.parse(line);
    return input ? `${instruction}\n\n${input}` : instruction;
});
if (texts.length < count * 3)
    throw new Error(`${instructionsFile} has ${texts.length} instructions; --comparisons ${count} needs ${count * 3}`);
const comparisons = Array.from({length: count}, (_, i) => ({instruction: texts[i], first: texts[count + 2 * i], second: texts[count + 2 * i + 1]}));

const rows = [];
const results = {};
try {
    for (const [name, Judge] of [["compare", ComparisonJudge], ["likelihood", LikelihoodJudge]]) {
        let baseline;
        for (const width of [1, sequences]) {
            const judge = await Judge.create(model, template, {sequences: width, threads: benchThreads});
            try {
                await judge.compare(comparisons.slice(0, 1)); // warm-up: pages the weights in
                let prompts = 0, tokens = 0;
                const started = now();
                const p = await judge.compare(comparisons, {onProgress: (_, total) => (prompts = total)});
                const seconds = now() - started;
                if (name === "compare")
                    tokens = comparisons.reduce((n, c) => n + judge.promptTokens(c.instruction, c.first, c.second).length + judge.promptTokens(c.instruction, c.second, c.first).length, 0);
                else
                    tokens = comparisons.reduce((n, c) => n + judge.scoredTokens(c.instruction, c.first).tokens.length + judge.scoredTokens(c.instruction, c.second).tokens.length, 0);
                const perSecond = count / seconds;
                baseline ??= perSecond;
                results[`${name}-${width}`] = {p, perSecond};
                const drift = width === 1 ? null : Math.max(...p.map((x, k) => Math.abs(x - results[`${name}-1`].p[k])));
                rows.push([name, width, prompts, tokens, fmt(seconds, 1), fmt(perSecond, 2), fmt(tokens / seconds, 0), `${fmt(ratio(perSecond, baseline), 2)}×`, drift === null ? "–" : drift.toExponential(1)]);
                console.error(`  ${name}, ${width} sequence(s): ${count} comparisons in ${seconds.toFixed(1)} s`);
            } finally {
                await judge.dispose();
            }
        }
    }
} finally {
    await model.dispose();
}
printTable(["judge", "sequences", "prompts", "tokens", "seconds", "comparisons/s", "tokens/s", "vs 1 sequence", "max |ΔP| vs 1 seq"], rows);
const speedup = ratio(results[`likelihood-${sequences}`].perSecond, results[`compare-${sequences}`].perSecond);
console.log(`\nlikelihood vs compare at ${sequences} sequences: ${fmt(speedup, 2)}× the comparisons/s`);
