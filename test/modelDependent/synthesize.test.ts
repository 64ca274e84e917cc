// Stage 2a on real vocabularies: stories260K (a trained base model, `plain` template) and the tiny
// random-weight Qwen2 / Llama-3 models (real tokenizers and chat templates). Checks structure,
// determinism and resumability, not the quality of the text.
//
// stories260K never ends a `plain` user turn (it writes stories and emits no EOS within its context),
// and the random-weight models hit an end-of-turn token about once in 50,000 tokens; so runs that
// must keep instructions add `--stop "\n"` (one-line instructions), and the plain template without it
// is the natural test of `maxAttempts` exhaustion.
//
// The CLI cases run dist/cli.js: `npm test` compiles it first (`npx tsc -p tsconfig.json`).
import {execFile, spawn} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {promisify} from "node:util";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {chatTemplateFor} from "../../src/commands/common.js";
import {AbortError, Model} from "../../src/engine/index.js";
import {InstructionRecord} from "../../src/records.js";
import {deriveSeed} from "../../src/seed.js";
import {preQueryTokens, synthesisStops, synthesizeInstructions, SynthesizedRecord, type SynthesizeOptions} from "../../src/synthesize.js";
import {normalizeForDedup} from "../../src/text.js";
import {fixtureExists, projectRoot, stories260K} from "../helpers/paths.js";
import {tinyModel} from "../helpers/tiny-models.js";

const cli = path.join(projectRoot, "dist", "cli.js");
const run = promisify(execFile);

let tmp: string;
beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-synthesize-"));
});
afterAll(() => {
    fs.rmSync(tmp, {recursive: true, force: true});
});
let fileCounter = 0;
const tmpFile = () => path.join(tmp, `out-${fileCounter++}.jsonl`);

function readRecords(file: string): SynthesizedRecord[] {
    return fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** Records without their wall-clock `created`, the one field two identical runs may differ in. */
function comparable(records: SynthesizedRecord[]): Omit<SynthesizedRecord, "created">[] {
    return records.map(({created: _created, ...rest}) => rest);
}

function countLines(file: string): number {
    try {
        return fs.readFileSync(file, "utf8").split("\n").length - 1;
    } catch {
        return 0;
    }
}

/** Checks what every synthesized file must satisfy, for the run seed that wrote it. */
function expectValidFile(records: SynthesizedRecord[], runSeed: number, modelName: string): void {
    for (const record of records) {
        expect(InstructionRecord.safeParse(record).success).toBe(true);
        expect(SynthesizedRecord.safeParse(record).success).toBe(true);
        expect(record.instruction).toBe(record.instruction.trim());
        expect(record.instruction.length).toBeGreaterThan(0);
        expect(record.seed).toBe(deriveSeed(runSeed, "synthesize", record.attempt));
        expect(record.model).toBe(modelName);
        expect(Number.isNaN(Date.parse(record.created!))).toBe(false);
    }
    const attempts = records.map((r) => r.attempt);
    expect(attempts).toEqual([...attempts].sort((a, b) => a - b));
    expect(new Set(attempts).size).toBe(records.length);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    expect(new Set(records.map((r) => r.instruction)).size).toBe(records.length);
    expect(new Set(records.map((r) => normalizeForDedup(r.instruction))).size).toBe(records.length);
}

describe.skipIf(!fixtureExists(stories260K))("synthesize on stories260K (plain template)", () => {
    let model: Model;
    let base: Omit<SynthesizeOptions, "count" | "out">;

    beforeAll(async () => {
        model = await Model.load(stories260K);
        base = {
            template: chatTemplateFor(model, "plain"), seed: 7, modelName: "stories260K",
            maxTokens: 96, stopStrings: ["\n"], sequences: 4, threads: 1
        };
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("writes exactly `count` valid, unique records in attempt order", async () => {
        const out = tmpFile();
        const summary = await synthesizeInstructions(model, {...base, count: 30, out});
        const records = readRecords(out);
        expect(records).toHaveLength(30);
        expectValidFile(records, 7, "stories260K");
        expect(records[0].id).toBe(`syn-${String(records[0].attempt).padStart(6, "0")}`);
        expect(summary).toMatchObject({kept: 30, resumedFrom: 0, exhausted: false});
        // the run stops at the attempt that completed the count
        expect(summary.attempts).toBe(records[29].attempt + 1);
        const rejected = Object.values(summary.rejected).reduce((a, b) => a + (b ?? 0), 0);
        expect(30 + rejected).toBe(summary.attempts);
    });

    it("is deterministic for a seed, whatever order the batch finishes in; another seed differs", async () => {
        const [a, b, c] = [tmpFile(), tmpFile(), tmpFile()];
        await synthesizeInstructions(model, {...base, count: 20, out: a});
        await synthesizeInstructions(model, {...base, count: 20, out: b});
        await synthesizeInstructions(model, {...base, seed: 8, count: 20, out: c});
        expect(comparable(readRecords(b))).toEqual(comparable(readRecords(a)));
        expect(readRecords(c).map((r) => r.instruction)).not.toEqual(readRecords(a).map((r) => r.instruction));
    });

    it("resumes: a larger count continues the file exactly as one run would have written it", async () => {
        const [whole, parts] = [tmpFile(), tmpFile()];
        await synthesizeInstructions(model, {...base, count: 40, out: whole});
        await synthesizeInstructions(model, {...base, count: 13, out: parts});
        const summary = await synthesizeInstructions(model, {...base, count: 40, out: parts});
        expect(summary.resumedFrom).toBe(13);
        expect(comparable(readRecords(parts))).toEqual(comparable(readRecords(whole)));

        // a file that already holds enough is left alone
        const again = await synthesizeInstructions(model, {...base, count: 40, out: parts});
        expect(again).toMatchObject({kept: 40, resumedFrom: 40, exhausted: false, rejected: {}});
        expect(readRecords(parts)).toHaveLength(40);
    });

    it("on abort keeps what was judged, throws AbortError, and resumes to the uninterrupted file", async () => {
        const [whole, cut] = [tmpFile(), tmpFile()];
        await synthesizeInstructions(model, {...base, count: 40, out: whole});
        const controller = new AbortController();
        await expect(synthesizeInstructions(model, {
            ...base, count: 40, out: cut, signal: controller.signal,
            onProgress: ({kept}) => {
                if (kept >= 9)
                    controller.abort();
            }
        })).rejects.toBeInstanceOf(AbortError);
        const partial = readRecords(cut);
        expect(partial.length).toBeGreaterThanOrEqual(9);
        expect(partial.length).toBeLessThan(40);
        await synthesizeInstructions(model, {...base, count: 40, out: cut});
        expect(comparable(readRecords(cut))).toEqual(comparable(readRecords(whole)));
    });

    it("refuses to extend a file written with another seed or model", async () => {
        const out = tmpFile();
        await synthesizeInstructions(model, {...base, count: 3, out});
        await expect(synthesizeInstructions(model, {...base, seed: 9, count: 6, out})).rejects.toThrow(/another run seed than --seed 9/);
        await expect(synthesizeInstructions(model, {...base, modelName: "other", count: 6, out})).rejects.toThrow(/written by model "stories260K", not "other"/);
        expect(readRecords(out)).toHaveLength(3);
    });

    it("reports exhaustion when every attempt runs into the token limit", async () => {
        const out = tmpFile();
        const summary = await synthesizeInstructions(model, {...base, stopStrings: [], maxTokens: 16, count: 5, maxAttempts: 7, out});
        expect(summary).toEqual({kept: 0, attempts: 7, rejected: {truncated: 7}, resumedFrom: 0, exhausted: true});
        expect(countLines(out)).toBe(0);
    });

    it("rejects bad options naming them", async () => {
        const out = tmpFile();
        await expect(synthesizeInstructions(model, {...base, count: 0, out})).rejects.toThrow(/count must be a positive integer, got 0/);
        await expect(synthesizeInstructions(model, {...base, count: 2, topP: 0, out})).rejects.toThrow(/topP/);
        await expect(synthesizeInstructions(model, {...base, count: 2, stopStrings: [""], out})).rejects.toThrow(/stopStrings/);
    });
});

describe.skipIf(!fixtureExists(stories260K))("icon2 synthesize (CLI)", () => {
    const common = ["--model", stories260K, "--chat-template", "plain", "--threads", "1", "--seed", "3", "--progress", "plain"];

    it("survives SIGKILL mid-run: rerunning gives the uninterrupted run's file", async () => {
        const args = [...common, "--count", "250", "--max-tokens", "96", "--stop", "\\n", "--sequences", "4"];
        const whole = tmpFile();
        await run(process.execPath, [cli, "synthesize", ...args, "--out", whole]);

        const killed = tmpFile();
        const linesAtKill = await new Promise<number>((resolve, reject) => {
            const child = spawn(process.execPath, [cli, "synthesize", ...args, "--out", killed], {stdio: "ignore"});
            let lines = -1;
            const timer = setInterval(() => {
                if (lines < 0 && countLines(killed) >= 30) {
                    lines = countLines(killed);
                    child.kill("SIGKILL");
                }
            }, 10);
            child.on("error", reject);
            child.on("exit", () => {
                clearInterval(timer);
                resolve(lines);
            });
        });
        expect(linesAtKill).toBeGreaterThanOrEqual(30); // it was killed, not finished
        expect(countLines(killed)).toBeLessThan(250);

        const {stderr} = await run(process.execPath, [cli, "synthesize", ...args, "--out", killed]);
        expect(stderr).toMatch(/resuming: \d+ instructions already in/);
        expect(stderr).toMatch(/synthesize: 250 unique instructions in .* \d+ attempts; rejected: .*; resumed from \d+/);
        expect(comparable(readRecords(killed))).toEqual(comparable(readRecords(whole)));
    });

    it("says when --max-attempts ran out, and exits 0", async () => {
        const out = tmpFile();
        const {stderr} = await run(process.execPath, [cli, "synthesize", ...common, "--count", "3", "--max-attempts", "8", "--max-tokens", "16", "--out", out]);
        expect(stderr).toContain("only 0 of 3 unique instructions after 8 attempts; raise --max-attempts or --temperature");
        expect(stderr).toMatch(/rejected: truncated 8/);
    });

    it.each([
        ["a missing model", ["--model", path.join(os.tmpdir(), "no-such-model.gguf"), "--count", "2"], /model file not found: .*no-such-model\.gguf/],
        ["count 0", ["--model", stories260K, "--chat-template", "plain", "--count", "0"], /--count must be a positive integer, got 0/],
        ["an unknown template name", ["--model", stories260K, "--chat-template", "nosuch", "--count", "2"], /unknown chat template "nosuch"/],
        ["a model without a template", ["--model", stories260K, "--count", "2"], /has no chat template; pass --chat-template/]
    ])("fails on %s with one line naming it", async (_name, args, message) => {
        const out = tmpFile();
        const error = await run(process.execPath, [cli, "synthesize", ...args, "--threads", "1", "--progress", "none", "--out", out]).then(() => undefined, (e) => e);
        expect(error).toBeDefined();
        expect(error.code).not.toBe(0);
        const lines = (error.stderr as string).trim().split("\n");
        expect(lines, error.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(message);
        expect(fs.existsSync(out)).toBe(false);
    });
});

describe("synthesize with real chat templates (tiny random-weight models)", () => {
    it("qwen2: the prompt is the Qwen2 pre-query prefix, and records are valid and unique", async () => {
        const model = await Model.load(await tinyModel("qwen2"));
        try {
            const template = chatTemplateFor(model, undefined);
            const prefix = "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n";
            const prompt = preQueryTokens(model, template);
            // Qwen2 has no BOS to add, so the prompt is exactly the prefix's tokens
            expect(Array.from(prompt)).toEqual(Array.from(model.tokenize(prefix, {addBos: false, special: true})));
            expect(prompt[0]).toBe(151644); // <|im_start|>
            // <|im_start|> detokenizes to nothing, so it must stop the generation as a token
            expect(synthesisStops(model, template).stopTokens).toContain(151644);

            const out = tmpFile();
            const options = {template, seed: 11, modelName: model.info.name, count: 6, out, maxTokens: 64, stopStrings: ["\n"], sequences: 4, threads: 1};
            const summary = await synthesizeInstructions(model, options);
            expect(summary).toMatchObject({kept: 6, exhausted: false});
            const records = readRecords(out);
            expect(records).toHaveLength(6);
            expectValidFile(records, 11, "icon2-tiny-qwen2");
            for (const record of records)
                expect(record.instruction).not.toMatch(/<\|im_(start|end)\|>|\n/);

            const again = tmpFile();
            await synthesizeInstructions(model, {...options, out: again});
            expect(comparable(readRecords(again))).toEqual(comparable(records));
        } finally {
            await model.dispose();
        }
    });

    it("llama3: BOS exactly once, from the template's own bos_token", async () => {
        const model = await Model.load(await tinyModel("llama3"));
        try {
            const prompt = preQueryTokens(model, chatTemplateFor(model, undefined));
            expect(prompt[0]).toBe(128000); // <|begin_of_text|>
            expect(Array.from(prompt).filter((t) => t === 128000)).toHaveLength(1);
            expect(Array.from(prompt.slice(-4))).toEqual(Array.from(model.tokenize("<|start_header_id|>user<|end_header_id|>\n\n", {addBos: false, special: true})));
        } finally {
            await model.dispose();
        }
    });
});
