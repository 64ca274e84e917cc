import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, test} from "vitest";
import {
    assignSplit, datasetInfoFor, type DatasetCardInfo, exportFormats, type ExportFormat, exportPairs, parseSplitFraction,
    toFormatRow, validateRow
} from "../../src/formats.js";
import {PairRecord} from "../../src/records.js";

function makePair(i: number, overrides: Partial<PairRecord> = {}): PairRecord {
    return PairRecord.parse({
        id: `pair-${i}`,
        instruction: `Instruction ${i}: explain "quotes", newlines\nand unicode ✓ | pipes`,
        criterion: ["general", "helpfulness", "honesty", "harmlessness"][i % 4],
        chosen: `A careful answer ${i}.\n\n- with a list`,
        rejected: `a sloppy answer ${i}`,
        gamma_chosen: 0.1,
        gamma_rejected: -0.05,
        layers: [10, 20],
        seed: i,
        finish_reason_chosen: "eos",
        finish_reason_rejected: "eos",
        tokens_chosen: 12,
        tokens_rejected: 5,
        ...overrides
    });
}

const card: DatasetCardInfo = {
    model: "Qwen2-0.5B-Instruct-Q8_0.gguf",
    gammaChosen: 0.1,
    gammaRejected: -0.05,
    layers: [10, 20],
    counts: {synthesized: 10_000, selected: 1_000, pairs: 1_000},
    version: "0.1.0"
};

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
    const text = await fs.readFile(file, "utf8");
    return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Reads instruction/chosen/rejected back out of a row of any format. */
function textsOf(format: ExportFormat, row: any): {instruction: string; chosen: string; rejected: string} {
    switch (format) {
        case "trl":
            return {instruction: row.prompt[0].content, chosen: row.chosen[0].content, rejected: row.rejected[0].content};
        case "messages":
            expect(row.chosen[0].content).toBe(row.prompt);
            expect(row.rejected[0].content).toBe(row.prompt);
            return {instruction: row.prompt, chosen: row.chosen[1].content, rejected: row.rejected[1].content};
        case "alpaca":
            expect(row.input).toBe("");
            return {instruction: row.instruction, chosen: row.chosen, rejected: row.rejected};
        case "sharegpt":
            return {instruction: row.conversations[0].value, chosen: row.chosen.value, rejected: row.rejected.value};
        case "axolotl":
            return {instruction: row.prompt, chosen: row.chosen, rejected: row.rejected};
    }
}

let tmp: string;
beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "icon2-formats-"));
});
afterEach(async () => {
    await fs.rm(tmp, {recursive: true, force: true});
});

describe("rows", () => {
    test("exact documented shapes", () => {
        const pair = makePair(1);
        expect(toFormatRow("trl", pair)).toEqual({
            prompt: [{role: "user", content: pair.instruction}],
            chosen: [{role: "assistant", content: pair.chosen}],
            rejected: [{role: "assistant", content: pair.rejected}]
        });
        expect(toFormatRow("messages", pair)).toEqual({
            prompt: pair.instruction,
            chosen: [{role: "user", content: pair.instruction}, {role: "assistant", content: pair.chosen}],
            rejected: [{role: "user", content: pair.instruction}, {role: "assistant", content: pair.rejected}]
        });
        expect(toFormatRow("alpaca", pair)).toEqual({
            instruction: pair.instruction, input: "", chosen: pair.chosen, rejected: pair.rejected
        });
        expect(toFormatRow("sharegpt", pair)).toEqual({
            conversations: [{from: "human", value: pair.instruction}],
            chosen: {from: "gpt", value: pair.chosen},
            rejected: {from: "gpt", value: pair.rejected}
        });
        expect(toFormatRow("axolotl", pair)).toEqual({prompt: pair.instruction, chosen: pair.chosen, rejected: pair.rejected});
    });

    test.each(exportFormats)("%s rows validate against the schema", (format) => {
        for (let i = 0; i < 20; i++)
            expect(validateRow(format, toFormatRow(format, makePair(i)))).toEqual([]);
    });

    const broken: Record<ExportFormat, unknown[]> = {
        trl: [
            {prompt: "plain string", chosen: [{role: "assistant", content: "a"}], rejected: [{role: "assistant", content: "b"}]},
            {prompt: [{role: "user", content: "q"}], chosen: [{role: "user", content: "a"}], rejected: [{role: "assistant", content: "b"}]},
            {prompt: [{role: "user", content: "q"}], chosen: [{role: "assistant", content: "a"}]}
        ],
        messages: [
            {prompt: "q", chosen: [{role: "assistant", content: "a"}], rejected: [{role: "user", content: "q"}, {role: "assistant", content: "b"}]},
            {prompt: "q", chosen: "a", rejected: "b"}
        ],
        alpaca: [
            {instruction: "q", chosen: "a", rejected: "b"},
            {instruction: "q", input: "", output: ["a", "b"]},
            {instruction: "q", input: "", chosen: "a", rejected: "b", extra: 1}
        ],
        sharegpt: [
            {conversations: [{from: "gpt", value: "q"}], chosen: {from: "gpt", value: "a"}, rejected: {from: "gpt", value: "b"}},
            {conversations: [{from: "human", value: "q"}], chosen: "a", rejected: {from: "gpt", value: "b"}}
        ],
        axolotl: [
            {prompt: "q", chosen: "a"},
            {prompt: "q", chosen: ["a"], rejected: "b"},
            {prompt: "", chosen: "a", rejected: "b"}
        ]
    };
    test.each(exportFormats)("broken %s rows fail with a message", (format) => {
        for (const row of broken[format]) {
            const errors = validateRow(format, row);
            expect(errors.length, JSON.stringify(row)).toBeGreaterThan(0);
            expect(typeof errors[0]).toBe("string");
        }
    });
});

describe("split", () => {
    test("deterministic, close to the fraction, stable when records are added", () => {
        const ids = Array.from({length: 1000}, (_, i) => `pair-${i}`);
        const first = ids.map((id) => assignSplit(id, 0.1, 7));
        const again = ids.map((id) => assignSplit(id, 0.1, 7));
        expect(again).toEqual(first);
        const validation = first.filter((s) => s === "validation").length;
        // Binomial(1000, 0.1): sd ≈ 9.5, so ±40 is over 4 sd.
        expect(validation).toBeGreaterThan(60);
        expect(validation).toBeLessThan(140);
        // Adding records never moves existing ones.
        const more = [...ids, ...Array.from({length: 500}, (_, i) => `extra-${i}`)];
        expect(more.slice(0, 1000).map((id) => assignSplit(id, 0.1, 7))).toEqual(first);
        // Another seed gives another split; a larger fraction only moves records train → validation.
        expect(ids.map((id) => assignSplit(id, 0.1, 8))).not.toEqual(first);
        const larger = ids.map((id) => assignSplit(id, 0.2, 7));
        first.forEach((s, i) => {
            if (s === "validation")
                expect(larger[i]).toBe("validation");
        });
        expect(ids.every((id) => assignSplit(id, 0) === "train")).toBe(true);
    });

    test("parseSplitFraction", () => {
        expect(parseSplitFraction("2%")).toBeCloseTo(0.02);
        expect(parseSplitFraction("0.02")).toBe(0.02);
        expect(parseSplitFraction("0")).toBe(0);
        for (const bad of ["", "abc", "100%", "1", "-0.1", "150%"])
            expect(() => parseSplitFraction(bad), bad).toThrow(RangeError);
    });
});

describe("exportPairs", () => {
    test.each(exportFormats)("%s: round trip of the texts, schema-valid files", async (format) => {
        const pairs = Array.from({length: 50}, (_, i) => makePair(i));
        const out = path.join(tmp, format);
        const summary = await exportPairs(pairs, {format, out, split: 0.2, seed: 1, card});
        const train = await readJsonl(summary.files.train);
        const validation = summary.files.validation != null ? await readJsonl(summary.files.validation) : [];
        expect(train.length + validation.length).toBe(50);
        expect(summary.counts).toMatchObject({read: 50, exported: 50, train: train.length, validation: validation.length});
        for (const row of [...train, ...validation])
            expect(validateRow(format, row)).toEqual([]);
        // Rows come out in input order within a split, with exactly the input texts.
        const expected = pairs.map((p) => ({instruction: p.instruction, chosen: p.chosen, rejected: p.rejected}));
        const trainIds = pairs.filter((p) => assignSplit(p.id, 0.2, 1) === "train");
        expect(train.map((row) => textsOf(format, row)))
            .toEqual(trainIds.map((p) => expected[pairs.indexOf(p)]));
        expect([...train, ...validation].map((row) => textsOf(format, row)).sort((a, b) => a.instruction.localeCompare(b.instruction)))
            .toEqual([...expected].sort((a, b) => a.instruction.localeCompare(b.instruction)));
        // Nothing temporary is left behind.
        expect((await fs.readdir(out)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });

    test("async iterables, drops, and splits set upstream", async () => {
        async function* source(): AsyncGenerator<PairRecord> {
            yield makePair(0, {split: "validation"});
            yield makePair(1, {split: "validation"});
            yield makePair(2);
            yield makePair(2); // duplicate id
            yield makePair(3, {chosen: "   "});
            yield makePair(4, {chosen: "same", rejected: "same"});
            yield makePair(5, {finish_reason_rejected: "cancelled"});
            yield makePair(6, {finish_reason_chosen: "length"}); // truncated pairs are kept
        }
        const summary = await exportPairs(source(), {format: "trl", out: tmp, card});
        expect(summary.counts).toEqual({
            read: 8, exported: 4, train: 2, validation: 2,
            dropped: {duplicate_id: 1, empty_response: 1, identical_responses: 1, cancelled: 1}
        });
        const validation = await readJsonl(summary.files.validation!);
        expect(validation.map((row) => textsOf("trl", row).instruction)).toEqual([makePair(0).instruction, makePair(1).instruction]);
        expect(summary.criteria).toEqual({general: 1, helpfulness: 1, honesty: 2});
    });

    test("no split: train.jsonl only, and a stale validation.jsonl is removed", async () => {
        const pairs = Array.from({length: 30}, (_, i) => makePair(i));
        const first = await exportPairs(pairs, {format: "alpaca", out: tmp, split: 0.5, card});
        expect(first.files.validation).toBeDefined();
        const second = await exportPairs(pairs, {format: "alpaca", out: tmp, card});
        expect(second.files.validation).toBeUndefined();
        expect(second.counts.train).toBe(30);
        expect((await fs.readdir(tmp)).sort()).toEqual(["README.md", "dataset_info.json", "train.jsonl"]);
        const info = JSON.parse(await fs.readFile(path.join(tmp, "dataset_info.json"), "utf8"));
        expect(Object.keys(info)).toEqual(["icon2"]);
    });

    test("dataset_info.json for alpaca and sharegpt", async () => {
        const pairs = Array.from({length: 200}, (_, i) => makePair(i));
        const alpaca = await exportPairs(pairs, {format: "alpaca", out: path.join(tmp, "a"), name: "my_set", split: 0.1, card});
        expect(JSON.parse(await fs.readFile(alpaca.files.datasetInfo!, "utf8"))).toEqual({
            my_set: {
                file_name: "train.jsonl",
                ranking: true,
                columns: {prompt: "instruction", query: "input", chosen: "chosen", rejected: "rejected"}
            },
            my_set_validation: {
                file_name: "validation.jsonl",
                ranking: true,
                columns: {prompt: "instruction", query: "input", chosen: "chosen", rejected: "rejected"}
            }
        });
        const sharegpt = await exportPairs(pairs, {format: "sharegpt", out: path.join(tmp, "s"), name: "my_set", card});
        expect(JSON.parse(await fs.readFile(sharegpt.files.datasetInfo!, "utf8"))).toEqual({
            my_set: {
                file_name: "train.jsonl",
                formatting: "sharegpt",
                ranking: true,
                columns: {messages: "conversations", chosen: "chosen", rejected: "rejected"}
            }
        });
        expect(datasetInfoFor("sharegpt", "x", ["train", "validation"])).toHaveProperty("x_validation.file_name", "validation.jsonl");
        // The other formats have no LLaMA-Factory registration.
        const trl = await exportPairs(pairs, {format: "trl", out: path.join(tmp, "t"), card});
        expect(trl.files.datasetInfo).toBeUndefined();
        await expect(fs.access(path.join(tmp, "t", "dataset_info.json"))).rejects.toThrow();
    });

    test("README card: front matter, counts, loading example", async () => {
        const pairs = Array.from({length: 1000}, (_, i) => makePair(i));
        const summary = await exportPairs(pairs, {format: "trl", out: tmp, split: 0.02, card});
        const readme = await fs.readFile(summary.files.readme, "utf8");
        const frontMatter = /^---\n([\s\S]*?)\n---\n/.exec(readme)?.[1];
        expect(frontMatter).toBeDefined();
        expect(frontMatter).toContain("configs:\n- config_name: default\n  data_files:\n" +
            "  - split: train\n    path: \"train.jsonl\"\n  - split: validation\n    path: \"validation.jsonl\"");
        expect(frontMatter).toContain("task_categories:\n- text-generation");
        expect(frontMatter).toContain("tags:\n- dpo\n- preference\n- icon2\n- synthetic");
        expect(frontMatter).toContain("license: other");
        expect(frontMatter).toContain("size_categories:\n- 1K<n<10K");
        expect(readme).toContain("Qwen2-0.5B-Instruct-Q8_0.gguf");
        expect(readme).toContain("arxiv.org/abs/2509.05605");
        expect(readme).toContain("| γ⁺ (chosen) | 0.1 |");
        expect(readme).toContain("| γ⁻ (rejected) | -0.05 |");
        expect(readme).toContain("10–20 (0-based, inclusive)");
        expect(readme).toContain(`| pairs exported | 1000 |`);
        expect(readme).toContain(`| train | ${summary.counts.train} |`);
        expect(readme).toContain(`| validation | ${summary.counts.validation} |`);
        expect(readme).toContain("| instructions synthesized | 10000 |");
        expect(readme).toContain("| general | 250 | 25.0% |");
        expect(readme).toContain("load_dataset(\"json\", data_files={\"train\": \"train.jsonl\", \"validation\": \"validation.jsonl\"})");
        expect(readme).toContain("DPOTrainer(");
        expect(summary.counts.validation).toBeGreaterThan(5);
        expect(summary.counts.validation).toBeLessThan(40);

        const axolotl = await exportPairs(pairs.slice(0, 10), {format: "axolotl", out: path.join(tmp, "ax"), card});
        const axolotlCard = await fs.readFile(axolotl.files.readme, "utf8");
        expect(axolotlCard).toContain("rl: dpo");
        expect(axolotlCard).toContain("type: chatml.prompt_pairs");
        expect(axolotlCard).not.toContain("validation.jsonl");

        const lf = await exportPairs(pairs.slice(0, 10), {format: "sharegpt", out: path.join(tmp, "lf"), name: "mine", card});
        const lfCard = await fs.readFile(lf.files.readme, "utf8");
        expect(lfCard).toContain("stage: dpo");
        expect(lfCard).toContain("dataset: mine");
        expect(lfCard).toContain("dataset_info.json");
    });

    test("a failure mid-export leaves no final file and keeps the previous export", async () => {
        function* failing(): Generator<PairRecord> {
            for (let i = 0; i < 100; i++) {
                if (i === 60)
                    throw new Error("pairs.jsonl: unexpected end of input");
                yield makePair(i);
            }
        }
        const fresh = path.join(tmp, "fresh");
        await expect(exportPairs(failing(), {format: "sharegpt", out: fresh, split: 0.1, card}))
            .rejects.toThrow("unexpected end of input");
        expect(await fs.readdir(fresh)).toEqual([]);

        // Over an earlier complete export, the earlier files stay byte for byte.
        const previous = path.join(tmp, "previous");
        await exportPairs([makePair(1000), makePair(1001)], {format: "sharegpt", out: previous, split: 0.5, card});
        const before = new Map<string, string>();
        for (const file of await fs.readdir(previous))
            before.set(file, await fs.readFile(path.join(previous, file), "utf8"));
        await expect(exportPairs(failing(), {format: "sharegpt", out: previous, split: 0.1, card})).rejects.toThrow();
        const after = new Map<string, string>();
        for (const file of await fs.readdir(previous))
            after.set(file, await fs.readFile(path.join(previous, file), "utf8"));
        expect(after).toEqual(before);
    });

    test("an invalid row fails the export before anything is written", async () => {
        // An empty instruction cannot come through PairRecord, but a caller may skip parsing.
        const bad = {...makePair(1), instruction: ""} as PairRecord;
        await expect(exportPairs([makePair(0), bad], {format: "alpaca", out: tmp, card}))
            .rejects.toThrow(/pair "pair-1" does not make a valid alpaca row: \/instruction/);
        expect(await fs.readdir(tmp)).toEqual([]);
    });

    test("option errors say how to fix them", async () => {
        await expect(exportPairs([], {format: "csv" as ExportFormat, out: tmp, card})).rejects.toThrow(/use one of: trl, messages/);
        await expect(exportPairs([], {format: "trl", out: tmp, split: 2, card})).rejects.toThrow(/\[0, 1\)/);
        const empty = await exportPairs([], {format: "trl", out: tmp, card});
        expect(empty.counts.exported).toBe(0);
        expect(await fs.readFile(empty.files.train, "utf8")).toBe("");
    });
});
