// Stage 3 on stories260K (5 blocks, n_embd 64) with a happy-vs-sad direction and the builtin plain template.
import fs from "node:fs";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {builtinChatTemplate, type ChatTemplate} from "../../src/chat.js";
import {writeControlVector, type DirectionSet} from "../../src/control-vector.js";
import {Model} from "../../src/engine/index.js";
import {readJsonlAll} from "../../src/jsonl.js";
import {DroppedPairRecord, droppedFile, makePairs, nearIdentical, type PairsOptions} from "../../src/pairs.js";
import {PairRecord, type ScoredRecord} from "../../src/records.js";
import {deriveSeed} from "../../src/seed.js";
import {contrastDirections, happyOpenings, sadOpenings, tempDir} from "../helpers/contrast-directions.js";
import {runCli, runCliUntil} from "../helpers/cli.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";
import {tinyModel} from "../helpers/tiny-models.js";

const haveModel = fixtureExists(stories260K);

const instructions = [
    "Tell me a story about a dog.", "Write about a girl and her ball.", "What did Tom find in the park?",
    "Tell a story about the sun.", "Write about a cat who lost a toy.", "Tell me about Lily's birthday.",
    "What happened at the beach?", "Tell a story about a big red car.", "Write about two friends and a tree.",
    "Tell me about a bird in the sky.", "What did Mom bake?", "Tell a story about a little boat."
];
const records: ScoredRecord[] = instructions.map((instruction, i) => ({
    id: `r${i}`, instruction, scores: {happy: 1}, consistency: 1, criterion: "happy", ...(i % 4 === 3 ? {split: "validation" as const} : {})
}));

describe("nearIdentical (token edit similarity)", () => {
    it("finds distances within the band and nothing beyond", () => {
        const a = Array.from({length: 100}, (_, i) => i);
        expect(nearIdentical(a, a, 0.98)).toBe(true);
        const twoEdits = a.slice(); twoEdits[10] = -1; twoEdits.splice(50, 1);
        expect(nearIdentical(a, twoEdits, 0.98)).toBe(true);      // d = 2 ≤ 2
        const threeEdits = twoEdits.slice(); threeEdits[80] = -2;
        expect(nearIdentical(a, threeEdits, 0.98)).toBe(false);   // d = 3 > 2
        expect(nearIdentical([1, 2, 3], [1, 2, 4], 0.98)).toBe(false);  // short texts: only identical counts
        expect(nearIdentical([], [], 0.98)).toBe(true);
        expect(nearIdentical(a, a.slice(0, 97), 0.98)).toBe(false);
        expect(nearIdentical(a, a.slice(1), 0.98)).toBe(true);
    });
});

describe.skipIf(!haveModel)("pairs on stories260K", () => {
    let model: Model;
    let happy: DirectionSet;
    let template: ChatTemplate;
    let dir: string;
    let base: Omit<PairsOptions, "out">;

    beforeAll(async () => {
        model = await Model.load(stories260K);
        happy = await contrastDirections(model, "happy", happyOpenings, sadOpenings);
        template = builtinChatTemplate("plain", {bosToken: "<s>", eosToken: "</s>"});
        dir = tempDir("icon2-pairs-");
        // the tiny model needs a larger γ than the paper's to change its text within 32 tokens
        base = {directions: new Map([["happy", happy]]), template, seed: 7, gammaChosen: 0.3, gammaRejected: -0.3,
            layers: [2, 3], temperature: 0, maxTokens: 32, keepTruncated: true, sequences: 16, threads: 1};
    });
    afterAll(async () => {
        await model?.dispose();
        fs.rmSync(dir, {recursive: true, force: true});
    });

    const lines = (file: string) => fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";

    it("writes one valid record per instruction, in input order, and chosen ≠ rejected for most", async () => {
        const out = path.join(dir, "greedy.jsonl");
        const progress: number[] = [];
        const summary = await makePairs(model, records, {...base, out, onProgress: (p) => progress.push(p.done)});
        const pairs = await readJsonlAll(out, {schema: PairRecord});
        expect(pairs.map((p) => p.id)).toEqual(records.map((r) => r.id).filter((id) => pairs.some((p) => p.id === id)));
        expect(summary.written + summary.dropped.identical + summary.dropped.similar + summary.dropped.truncated).toBe(records.length);
        expect(summary.written).toBe(pairs.length);
        expect(pairs.length).toBeGreaterThanOrEqual(10);
        expect(pairs.filter((p) => p.chosen !== p.rejected).length).toBe(pairs.length);
        for (const p of pairs) {
            const rec = records.find((r) => r.id === p.id)!;
            expect(p).toMatchObject({instruction: rec.instruction, criterion: "happy", gamma_chosen: 0.3, gamma_rejected: -0.3,
                layers: [2, 3], seed: deriveSeed(7, "pairs", rec.id), model: model.info.name || path.basename(stories260K)});
            expect(p.split).toBe(rec.split);
            expect(p.tokens_chosen).toBeGreaterThan(0);
        }
        expect(progress.at(-1)).toBe(records.length);
        expect(summary.tokens).toBe(pairs.reduce((n, p) => n + p.tokens_chosen + p.tokens_rejected, 0) +
            (await readJsonlAll(droppedFile(out), {schema: DroppedPairRecord})).reduce((n, d) => n + d.tokens_chosen + d.tokens_rejected, 0));
    });

    it("a pair made in a batch of 8 instructions equals the same pair made alone (greedy and sampled)", async () => {
        for (const temperature of [0, 0.7]) {
            const batchOut = path.join(dir, `batch-${temperature}.jsonl`);
            await makePairs(model, records.slice(0, 8), {...base, temperature, keepSimilar: true, out: batchOut});
            const batched = await readJsonlAll(batchOut, {schema: PairRecord});
            for (const k of [0, 5]) {
                const aloneOut = path.join(dir, `alone-${temperature}-${k}.jsonl`);
                await makePairs(model, [records[k]], {...base, temperature, keepSimilar: true, sequences: 2, out: aloneOut});
                const [alone] = await readJsonlAll(aloneOut, {schema: PairRecord});
                expect(alone).toEqual(batched.find((p) => p.id === records[k].id));
            }
        }
    });

    it("γ = 0 on both sides gives identical texts, which are dropped and counted", async () => {
        const out = path.join(dir, "zero.jsonl");
        const summary = await makePairs(model, records.slice(0, 6), {...base, gammaChosen: 0, gammaRejected: 0, temperature: 0.7, out});
        expect(summary).toMatchObject({written: 0, dropped: {identical: 6, similar: 0, truncated: 0}, resumedFrom: 0});
        expect(lines(out)).toBe("");
        const dropped = await readJsonlAll(droppedFile(out), {schema: DroppedPairRecord});
        expect(dropped.map((d) => [d.id, d.reason])).toEqual(records.slice(0, 6).map((r) => [r.id, "identical"]));
        // a rerun finds them done: nothing is regenerated and the summary is the same
        const again = await makePairs(model, records.slice(0, 6), {...base, gammaChosen: 0, gammaRejected: 0, temperature: 0.7, out});
        expect(again).toMatchObject({written: 0, dropped: {identical: 6}, resumedFrom: 6, tokens: summary.tokens, tokensThisRun: 0});
    });

    it("drops truncated pairs unless kept", async () => {
        const out = path.join(dir, "trunc.jsonl");
        const summary = await makePairs(model, records.slice(0, 4), {...base, keepTruncated: false, maxTokens: 8, out});
        expect(summary.written).toBe(0);
        expect(summary.dropped.truncated + summary.dropped.identical).toBe(4);
        expect(summary.dropped.truncated).toBeGreaterThan(0);
    });

    it("resumes: a run cut short and continued writes the same files and summary as one run", async () => {
        const whole = path.join(dir, "whole.jsonl");
        const wholeSummary = await makePairs(model, records, {...base, temperature: 0.7, maxTokens: 24, keepTruncated: false, out: whole});
        expect(wholeSummary.dropped.truncated).toBeGreaterThan(0);  // the side file is exercised too

        const cut = path.join(dir, "cut.jsonl");
        const controller = new AbortController();
        await expect(makePairs(model, records, {...base, temperature: 0.7, maxTokens: 24, keepTruncated: false, sequences: 2, out: cut, signal: controller.signal,
            onProgress: (p) => { if (p.done >= 5) controller.abort(); }})).rejects.toThrow(/cancelled/);
        const partial = lines(cut).split("\n").filter(Boolean).length + lines(droppedFile(cut)).split("\n").filter(Boolean).length;
        expect(partial).toBeGreaterThanOrEqual(5);
        expect(partial).toBeLessThan(records.length);
        const resumed = await makePairs(model, records, {...base, temperature: 0.7, maxTokens: 24, keepTruncated: false, out: cut});
        expect(resumed.resumedFrom).toBe(partial);
        expect(lines(cut)).toBe(lines(whole));
        expect(lines(droppedFile(cut))).toBe(lines(droppedFile(whole)));
        expect({...resumed, resumedFrom: 0, tokensThisRun: 0}).toEqual({...wholeSummary, tokensThisRun: 0});

        // resuming with other settings is refused instead of mixing them in one file
        await expect(makePairs(model, records, {...base, temperature: 0.7, maxTokens: 24, gammaChosen: 0.2, out: cut})).rejects.toThrow(/γ⁺ 0.3 \(now 0.2\)/);
    });

    it("rejects bad input with messages that name it", async () => {
        const out = path.join(dir, "bad.jsonl");
        await expect(makePairs(model, [{...records[0], criterion: "honesty"}], {...base, out}))
            .rejects.toThrow(/record "r0" has criterion "honesty", which has no direction set; available: happy/);
        await expect(makePairs(model, records, {...base, criterion: "nope", out})).rejects.toThrow(/criterion "nope".*available: happy/);
        await expect(makePairs(model, records, {...base, layers: [2, 5], out})).rejects.toThrow(/outside this model's blocks.*\[0, 4\]/);
        await expect(makePairs(model, records, {...base, layers: [0, 2], out})).rejects.toThrow(/block 0/);
        await expect(makePairs(model, records, {...base, gammaChosen: Number.NaN, out})).rejects.toThrow(/gammaChosen must be a finite number/);
        const alien: DirectionSet = {...happy, model: {...happy.model, architecture: "qwen2", nLayer: 6}};
        await expect(makePairs(model, records, {...base, directions: new Map([["happy", alien]]), out}))
            .rejects.toThrow(/does not fit this model: architecture "qwen2" ≠ model's "llama"; n_layer 6 ≠ model's 5/);
        await expect(makePairs(model, [records[0], records[0]], {...base, out})).rejects.toThrow(/"r0" appears twice/);
        expect(fs.existsSync(out)).toBe(false);
    });

    it("steering along +u vs −u makes the chosen responses measurably happier than the rejected ones", async () => {
        // Marker words of the contrast the direction came from, counted in what makePairs generated:
        // score = #happy-words − #sad-words. With the sign of u or γ wrong, or steering not applied,
        // the chosen side would not win.
        const happyWords = /\b(happy|smiled?|smiling|laugh(ed|ing)?|fun|love[sd]?|great|excited|joy|glad|nice|good|best)\b/gi;
        const sadWords = /\b(sad|cr(y|ied|ying)|angry|scared|hurt|broke|broken|upset|sorry|mad|bad|lost|alone)\b/gi;
        const score = (text: string) => (text.match(happyWords) ?? []).length - (text.match(sadWords) ?? []).length;
        const many: ScoredRecord[] = [0, 1, 2, 3].flatMap((copy) => records.map((r) => ({...r, id: `${r.id}-${copy}`})));
        const out = path.join(dir, "effect.jsonl");
        await makePairs(model, many, {...base, gammaChosen: 0.3, gammaRejected: -0.3, temperature: 0.7, maxTokens: 48, keepSimilar: true, keepTruncated: true, out});
        const pairs = await readJsonlAll(out, {schema: PairRecord});
        expect(pairs).toHaveLength(many.length);
        const diffs = pairs.map((p) => score(p.chosen) - score(p.rejected));
        const wins = diffs.filter((d) => d > 0).length, losses = diffs.filter((d) => d < 0).length;
        const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
        // measured here: mean 0.56, 20 wins, 1 loss of 48 (the rest tie, mostly with no marker word)
        expect(mean).toBeGreaterThan(0.3);
        expect(wins).toBeGreaterThanOrEqual(4 * losses);
        expect(wins).toBeGreaterThanOrEqual(pairs.length / 4);
    });
});

describe.skipIf(!haveModel)("icon2 pairs CLI on stories260K", () => {
    let dir: string;
    let directionsDir: string;
    let scored: string;
    // enough records that the run outlasts the kill even on a busy machine (~5 s at one pair at a time)
    const many: ScoredRecord[] = Array.from({length: 12}, (_, copy) => records.map((r) => ({...r, id: `${r.id}-${copy}`}))).flat();
    /** the command line, with `overrides` replacing flags (yargs turns a repeated flag into an array) */
    const common = (overrides: Record<string, string> = {}) => ["pairs", ...Object.entries({
        "--model": stories260K, "--threads": "1", "--gpu": "cpu", "--chat-template": "plain", "--progress": "none",
        "--directions": directionsDir, "--in": scored, "--gamma-chosen": "0.3", "--gamma-rejected": "-0.3", "--layers": "2-3",
        "--max-tokens": "32", "--seed": "3", ...overrides
    }).flat()];
    const icon2Lines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("icon2:"));
    const lineCount = (file: string) => fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;

    beforeAll(async () => {
        dir = tempDir("icon2-pairs-cli-");
        directionsDir = path.join(dir, "directions");
        scored = path.join(dir, "scored.jsonl");
        fs.writeFileSync(scored, many.map((r) => JSON.stringify(r)).join("\n") + "\n");
        const model = await Model.load(stories260K);
        try {
            await writeControlVector(path.join(directionsDir, "happy.gguf"), await contrastDirections(model, "happy", happyOpenings, sadOpenings));
        } finally {
            await model.dispose();
        }
    });
    afterAll(() => {
        fs.rmSync(dir, {recursive: true, force: true});
    });

    it("a run killed with SIGKILL and rerun ends with the same files as an uninterrupted run", async () => {
        const whole = path.join(dir, "whole.jsonl");
        const first = runCli(common({"--out": whole}));
        expect(first.code, first.stderr).toBe(0);
        expect(lineCount(whole) + lineCount(droppedFile(whole))).toBe(many.length);
        expect(lineCount(droppedFile(whole))).toBeGreaterThan(0);

        const cut = path.join(dir, "cut.jsonl");
        // two sequences = one pair at a time, so the kill lands mid-run
        const {killed, code} = await runCliUntil(common({"--sequences": "2", "--out": cut}), () => lineCount(cut) + lineCount(droppedFile(cut)) >= 3);
        expect(killed, `the run ended by itself with code ${code} before it was killed`).toBe(true);
        const partial = lineCount(cut) + lineCount(droppedFile(cut));
        expect(partial).toBeLessThan(many.length);
        const resumed = runCli(common({"--out": cut}));
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(resumed.stdout).toContain(`${partial} were done before this run`);
        expect(fs.readFileSync(cut, "utf8")).toBe(fs.readFileSync(whole, "utf8"));
        expect(fs.readFileSync(droppedFile(cut), "utf8")).toBe(fs.readFileSync(droppedFile(whole), "utf8"));
        const counts = (stdout: string) => stdout.replace(/^\S+: /, "").replace(/\d+ were done before this run; /, "").replace(/listed in \S+/, "");
        expect(counts(resumed.stdout)).toBe(counts(first.stdout));
    });

    it("bad input exits non-zero with one line naming the problem", async () => {
        const qwenDir = path.join(dir, "qwen-directions");
        const qwen = await Model.load(await tinyModel("qwen2"));
        try {
            await writeControlVector(path.join(qwenDir, "happy.gguf"), await contrastDirections(qwen, "happy", happyOpenings, sadOpenings));
        } finally {
            await qwen.dispose();
        }
        const badCriterion = path.join(dir, "bad-criterion.jsonl");
        fs.writeFileSync(badCriterion, JSON.stringify({...records[0], criterion: "honesty"}) + "\n");
        const out = path.join(dir, "bad.jsonl");
        for (const [extra, message] of [
            [{"--directions": qwenDir}, /happy\.gguf \(criterion "happy", made for icon2-tiny-qwen2\) does not fit this model: architecture "qwen2" ≠ model's "llama"; n_layer 6 ≠ model's 5/],
            [{"--layers": "2-9"}, /layer range 2-9 is outside this model's blocks: the valid range is \[0, 4\]/],
            [{"--layers": "0-2"}, /includes block 0/],
            [{"--gamma-chosen": "abc"}, /--gamma-chosen must be a number, got "abc"/],
            [{"--max-tokens": "0"}, /--max-tokens must be a positive integer/],
            [{"--in": badCriterion}, /record "r0" has criterion "honesty", which has no direction set; available: happy/]
        ] as const) {
            const r = runCli(common({"--out": out, ...extra}));
            expect(r.code, r.stderr).not.toBe(0);
            const lines = icon2Lines(r.stderr);
            expect(lines, r.stderr).toHaveLength(1);
            expect(lines[0]).toMatch(message);
        }
        expect(fs.existsSync(out)).toBe(false);
    });
});
