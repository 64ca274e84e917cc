// Extraction benchmark (issue 3) on the Qwen2-0.5B-shaped random-weight bench model, CPU,
// `benchThreads` threads (2: the reference machine has 2 cores).
//
// Measures the wall time to extract all four built-in criteria with --method mean:
//   - icon2 (model load + extractDirections; 16 sequences per decode, each criterion side's system
//     prompt decoded once and its KV cache copied to the sequences), with prefix reuse on and off
//     — the directions must be the same either way (max |cos − 1| over criteria × blocks is printed);
//   - llama.cpp's own llama-cvector-generator, in two builds: compiled against the addon's own
//     node-llama-cpp prebuilt libraries (like for like: same kernels as icon2) and a GGML_NATIVE
//     build of the pinned source (~2× faster batched matmuls than the prebuilt CPU variant on the
//     reference machine, which has nothing to do with icon2), on the same rendered prompt pairs: per criterion, a positive and a negative file with one prompt per line
//     (it reads them with std::getline and string_process_escapes, so backslashes and newlines are
//     written as \\ and \n), --method mean, same threads, -c 4096 (its default would be the model's
//     32k training context: a larger KV cache for nothing). One run per criterion, because the tool
//     turns one pair of files into one vector; the per-run model load is part of using it. Goal:
//     icon2 ≥ 2× faster.
// Both sides see the same tokens: the tool prints its token total, which is checked against ours.
// (It decodes every prompt alone and keeps every token's hidden state; icon2 keeps the last token.)
//
//   node bench/extract.mjs [--stimuli 256] [--compare 64] [--no-llama]
//
// --stimuli N: icon2's headline extraction (prefix reuse on) over N stimuli (default 256, as in the
// issue). --compare M (default min(N, 64)): the comparison with cvector-generator and the reuse-off
// run, both sides at the same M: cvector-generator at 256 stimuli × 4 criteria takes many minutes on
// 2 cores (15 s for 32 honesty pairs here), so by default the comparison runs smaller and says so.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {ensureBenchModel} from "./make-bench-model.mjs";
import {benchThreads, fmt, importDist, intArg, llamaTool, loadedCpuVariant, now, parseArgs, prebuiltTool, printTable, ratio, runCommand} from "./lib.mjs";

const args = parseArgs();
const nStimuli = intArg(args, "stimuli", 256);
const nCompare = Math.min(nStimuli, intArg(args, "compare", Math.min(nStimuli, 64)));
const SEED = 1;
const SEQUENCES = 16;

const {Model} = await importDist("engine/index.js");
const {chatTemplateFor} = await importDist("commands/common.js");
const {contrastPrompt, extractDirections} = await importDist("directions.js");
const {tokenizePrompt} = await importDist("prompt.js");
const {loadStimuli, sampleStimuli} = await importDist("stimuli.js");
const {builtinCriteria} = await importDist("criteria.js");

const modelPath = await ensureBenchModel();
const startLoad = os.loadavg()[0];
console.log(`# extract benchmark — ${modelPath}`);
console.log(`CPU, ${benchThreads} threads (this machine: 2 shared cores), --method mean, all ${builtinCriteria.length} criteria. Absolute times are noisy on a shared machine; compare the ratios.\n`);

const allStimuli = loadStimuli();
if (allStimuli.length < nStimuli)
    console.log(`note: only ${allStimuli.length} default stimuli; using all of them`);

/** icon2 extraction over `n` stimuli; times model load and extraction separately. */
async function icon2Extract(n, reusePrefix) {
    const t0 = now();
    const model = await Model.load(modelPath, {gpu: false});
    const t1 = now();
    try {
        const template = chatTemplateFor(model, undefined);
        const stimuli = sampleStimuli(allStimuli, n, SEED);
        const sets = await extractDirections(model, {
            criteria: builtinCriteria, stimuli, template, method: "mean", seed: SEED,
            sequences: SEQUENCES, threads: benchThreads, reusePrefix
        });
        const t2 = now();
        console.error(`  icon2 ${n} stimuli, prefix reuse ${reusePrefix ? "on" : "off"}: ${(t2 - t0).toFixed(1)} s`);
        return {sets, load: t1 - t0, extract: t2 - t1, total: t2 - t0};
    } finally {
        await model.dispose();
    }
}

function maxCosDeviation(a, b) {
    let worst = 0;
    for (let c = 0; c < a.length; c++) {
        for (let il = 0; il < a[c].directions.length; il++) {
            const u = a[c].directions[il], v = b[c].directions[il];
            let dot = 0, nu = 0, nv = 0;
            for (let k = 0; k < u.length; k++) {
                dot += u[k] * v[k];
                nu += u[k] * u[k];
                nv += v[k] * v[k];
            }
            worst = Math.max(worst, Math.abs(dot / Math.sqrt(nu * nv) - 1));
        }
    }
    return worst;
}

/** cvector-generator's prompt-file line: it unescapes \n, \r, \\ (and a few more) after reading a line. */
const escapeLine = (s) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r");

async function cvectorExtract({binary: tool, cwd}, n) {
    // the prompts, and the token total the tool should report, from the same template and tokenizer as icon2's
    const model = await Model.load(modelPath, {gpu: false});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-bench-cvector-"));
    const jobs = [];
    try {
        const template = chatTemplateFor(model, undefined);
        const stimuli = sampleStimuli(allStimuli, n, SEED);
        for (const c of builtinCriteria) {
            const pos = stimuli.map((d) => contrastPrompt(template, c.positive, d));
            const neg = stimuli.map((d) => contrastPrompt(template, c.negative, d));
            // the tool pads each pair to the longer prompt and decodes both: 2·max tokens per pair
            const expectedTokens = pos.reduce((s, p, i) => s + 2 * Math.max(tokenizePrompt(model, template, p).length, tokenizePrompt(model, template, neg[i]).length), 0);
            const positiveFile = path.join(dir, `${c.name}.positive.txt`), negativeFile = path.join(dir, `${c.name}.negative.txt`);
            fs.writeFileSync(positiveFile, pos.map(escapeLine).join("\n") + "\n");
            fs.writeFileSync(negativeFile, neg.map(escapeLine).join("\n") + "\n");
            jobs.push({criterion: c.name, positiveFile, negativeFile, out: path.join(dir, `${c.name}.gguf`), expectedTokens});
        }
    } finally {
        await model.dispose();
    }
    try {
        let total = 0;
        const mismatches = [];
        for (const job of jobs) {
            const run = await runCommand(tool, ["-m", modelPath, "--positive-file", job.positiveFile, "--negative-file", job.negativeFile,
                "--method", "mean", "-t", String(benchThreads), "-tb", String(benchThreads), "-c", "4096", "-o", job.out], {cwd, timeoutS: 3600});
            if (run.code !== 0 || !fs.existsSync(job.out))
                throw new Error(`llama-cvector-generator failed on ${job.criterion} (${run.timedOut ? "timeout" : `exit ${run.code}`}): ${(run.stderr || run.stdout).slice(-400)}`);
            const m = /n_total_tokens:\s*(\d+)/.exec(run.stdout + run.stderr);
            if (!m || Number(m[1]) !== job.expectedTokens)
                mismatches.push(`${job.criterion}: tool ${m?.[1] ?? "?"} vs ours ${job.expectedTokens}`);
            console.error(`  llama-cvector-generator ${job.criterion}, ${n} pairs: ${run.seconds.toFixed(1)} s`);
            total += run.seconds;
        }
        return {total, tokens: jobs.reduce((s, j) => s + j.expectedTokens, 0), mismatches};
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
}

// ---- measurements ----------------------------------------------------------------------------
// warm the page cache so neither side pays for reading the 1 GB file from disk
await (await Model.load(modelPath, {gpu: false})).dispose();

const onCompare = await icon2Extract(nCompare, true);
const offCompare = await icon2Extract(nCompare, false);
const deviation = maxCosDeviation(onCompare.sets, offCompare.sets);
let scaleDiff = 0;
for (let c = 0; c < onCompare.sets.length; c++) {
    onCompare.sets[c].scales.forEach((s, il) => (scaleDiff = Math.max(scaleDiff, Math.abs(s - offCompare.sets[c].scales[il]) / s)));
}

// Two builds of the tool, like bench/engine.mjs: against the addon's own prebuilt libraries (like for
// like) and a GGML_NATIVE build of the pinned source (what llama.cpp reaches compiled for this CPU).
const cvectors = [];
const notes = [];
if (!args["no-llama"]) {
    const probe = await Model.load(modelPath, {gpu: false});
    const cpuVariant = loadedCpuVariant();
    await probe.dispose();
    const builds = [
        ["llama-cvector-generator, same prebuilt libs", () => prebuiltTool("cvector-generator", {cpuVariant})],
        ["llama-cvector-generator, GGML_NATIVE build", async () => ({binary: await llamaTool("llama-cvector-generator"), cwd: undefined})]
    ];
    for (const [label, make] of builds) {
        try {
            const run = await cvectorExtract(await make(), nCompare);
            cvectors.push({label, ...run});
        } catch (err) {
            notes.push(`${label} unavailable: ${err.message}`);
        }
    }
} else {
    notes.push("--no-llama: llama-cvector-generator skipped");
}
const headline = nStimuli !== nCompare ? await icon2Extract(nStimuli, true) : onCompare;

// ---- report ----------------------------------------------------------------------------------
const pairs = nCompare * builtinCriteria.length;
console.log(`## Extraction wall time, 4 criteria × ${nCompare} stimuli (${pairs} prompt pairs), --method mean\n`);
if (nCompare !== nStimuli)
    console.log(`(compared at ${nCompare} stimuli, not ${nStimuli}: llama-cvector-generator decodes every prompt alone and would take many minutes here at ${nStimuli}; both sides use the same ${nCompare}. --compare N changes it.)\n`);
const speedups = (t) => cvectors.map((c) => fmt(ratio(c.total, t), 2));
const rows = [
    [`icon2, prefix reuse on (${SEQUENCES} seq)`, fmt(onCompare.total), fmt(onCompare.load), fmt(onCompare.extract), fmt(pairs / onCompare.total, 2), ...speedups(onCompare.total)],
    [`icon2, prefix reuse off (${SEQUENCES} seq)`, fmt(offCompare.total), fmt(offCompare.load), fmt(offCompare.extract), fmt(pairs / offCompare.total, 2), ...speedups(offCompare.total)]
];
for (const c of cvectors)
    rows.push([`${c.label} (4 runs)`, fmt(c.total), "incl.", "", fmt(pairs / c.total, 2), ...speedups(c.total)]);
printTable(["", "wall s", "load s", "extract s", "pairs/s", ...cvectors.map((c) => `× vs ${c.label.replace("llama-cvector-generator, ", "")}`)], rows);
console.log("");
for (const c of cvectors) {
    console.log(`icon2 (prefix reuse on) speed-up over ${c.label}: ${fmt(ratio(c.total, onCompare.total), 2)}× (goal ≥ 2×)`);
    if (c.mismatches.length > 0)
        console.log(`WARNING: token totals differ (${c.mismatches.join("; ")}): the prompt files may not round-trip`);
}
if (cvectors.length > 0 && cvectors.every((c) => c.mismatches.length === 0))
    console.log(`same prompts on both sides: llama-cvector-generator reported the ${cvectors[0].tokens} tokens we expected (pairs padded to the longer prompt)`);
for (const note of notes)
    console.log(note);
console.log(`prefix reuse on vs off: max |cos − 1| over ${builtinCriteria.length} criteria × ${onCompare.sets[0].directions.length} blocks = ${deviation.toExponential(2)}, max relative scale difference ${scaleDiff.toExponential(2)} (goal: identical up to float rounding)`);
if (headline !== onCompare)
    console.log(`\nicon2 at ${nStimuli} stimuli (prefix reuse on): ${fmt(headline.total)} s wall (${fmt(headline.load)} s load + ${fmt(headline.extract)} s extract), ${fmt((nStimuli * builtinCriteria.length) / headline.total, 2)} pairs/s`);
console.log(`\nload average (1 min) at the end: ${os.loadavg()[0].toFixed(2)} on ${os.availableParallelism()} CPUs; at the start: ${startLoad.toFixed(2)}`);
