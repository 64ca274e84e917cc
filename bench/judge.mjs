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
// Second table: prompt sharing (`sharePrefixes`, on by default) on a sweep-shaped set: per
// instruction, 4 "steered" responses each compared with the same "unsteered" one, so prompts share
// the instruction and often the response shown first. Tokens decoded and comparisons/s, on vs off.
//
//   node bench/judge.mjs [--comparisons 16] [--sequences 8] [--instructions 4] [--model FILE.gguf]
import fs from "node:fs";
import path from "node:path";
import {ensureBenchModel} from "./make-bench-model.mjs";
import {benchThreads, fmt, importDist, intArg, now, parseArgs, printTable, projectRoot, ratio} from "./lib.mjs";

const args = parseArgs();
const count = intArg(args, "comparisons", 16);
const sequences = intArg(args, "sequences", 8);
const instructionCount = intArg(args, "instructions", 4);

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
if (texts.length < count * 3 + 20 * instructionCount)
    throw new Error(`${instructionsFile} has ${texts.length} instructions; --comparisons ${count} --instructions ${instructionCount} need ${count * 3 + 20 * instructionCount}`);
const comparisons = Array.from({length: count}, (_, i) => ({instruction: texts[i], first: texts[count + 2 * i], second: texts[count + 2 * i + 1]}));

const rows = [];
const results = {};
try {
    for (const [name, Judge] of [["compare", ComparisonJudge], ["likelihood", LikelihoodJudge]]) {
        let baseline;
        for (const width of [1, sequences]) {
            // prompt sharing off: this table measures batching alone (the next one measures sharing)
            const judge = await Judge.create(model, template, {sequences: width, threads: benchThreads, sharePrefixes: false});
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
} catch (err) {
    await model.dispose();
    throw err;
}
printTable(["judge", "sequences", "prompts", "tokens", "seconds", "comparisons/s", "tokens/s", "vs 1 sequence", "max |ΔP| vs 1 seq"], rows);
const speedup = ratio(results[`likelihood-${sequences}`].perSecond, results[`compare-${sequences}`].perSecond);
console.log(`\nlikelihood vs compare at ${sequences} sequences: ${fmt(speedup, 2)}× the comparisons/s`);

// --- prompt sharing on a sweep-shaped set
const response = (k) => `${texts[k]} ${texts[k + 1]} ${texts[k + 2]}`;   // ~60–100 tokens of real English
const sweepSet = [];
for (let i = 0; i < instructionCount; i++) {
    const unsteered = response(3 * count + 20 * i);
    for (let k = 0; k < 4; k++)
        sweepSet.push({instruction: texts[i], first: response(3 * count + 20 * i + 4 + 3 * k), second: unsteered});
}
const sharingRows = [];
try {
    for (const [name, Judge] of [["compare", ComparisonJudge], ["likelihood", LikelihoodJudge]]) {
        const measured = {};
        for (const sharePrefixes of [false, true]) {
            const judge = await Judge.create(model, template, {sequences, threads: benchThreads, sharePrefixes});
            try {
                await judge.compare(sweepSet.slice(0, 1));
                const before = judge.decodedTokens;
                const started = now();
                const p = await judge.compare(sweepSet);
                const seconds = now() - started;
                measured[sharePrefixes] = {p, seconds, tokens: judge.decodedTokens - before};
            } finally {
                await judge.dispose();
            }
        }
        const [off, on] = [measured[false], measured[true]];
        const drift = Math.max(...on.p.map((x, k) => Math.abs(x - off.p[k])));
        sharingRows.push([name, sweepSet.length, off.tokens, on.tokens, `${fmt(100 * (1 - on.tokens / off.tokens), 0)}%`,
            fmt(off.seconds, 1), fmt(on.seconds, 1), `${fmt(ratio(off.seconds, on.seconds), 2)}×`, drift.toExponential(1)]);
        console.error(`  ${name}: sharing off ${off.seconds.toFixed(1)} s, on ${on.seconds.toFixed(1)} s`);
    }
} finally {
    await model.dispose();
}
console.log(`\nPrompt sharing on a sweep-shaped set (${instructionCount} instructions × 4 responses vs one unsteered), ${sequences} sequences:`);
printTable(["judge", "comparisons", "tokens off", "tokens on", "saved", "seconds off", "seconds on", "speed-up", "max |ΔP|"], sharingRows);
