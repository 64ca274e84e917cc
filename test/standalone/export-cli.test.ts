// icon2 export end to end (built CLI, no model): every format, split, card facts from the pair records, round trip.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {exportFormats, type ExportFormat} from "../../src/formats.js";
import {droppedFile} from "../../src/pairs.js";
import {PairRecord} from "../../src/records.js";
import {runCli} from "../helpers/cli.js";

const criteria = ["general", "helpfulness", "honesty", "harmlessness"];
const pairs: PairRecord[] = Array.from({length: 40}, (_, i) => PairRecord.parse({
    id: `p${i}`,
    instruction: `Instruction ${i}: "quoted", a newline\nand ✓ | pipes`,
    criterion: criteria[i % 4],
    chosen: `Chosen answer ${i}.\n\n- a list`,
    rejected: `rejected ${i}`,
    gamma_chosen: 0.1, gamma_rejected: -0.05, layers: [10, 20], seed: 1000 + i,
    finish_reason_chosen: "eos", finish_reason_rejected: "stop", tokens_chosen: 9, tokens_rejected: 3,
    ...(i % 10 === 0 ? {split: "validation"} : {}),
    model: "Qwen2.5-0.5B-Instruct-Q8_0"
}));

/** instruction/chosen/rejected read back out of a row of any format */
function textsOf(format: ExportFormat, row: any): {instruction: string; chosen: string; rejected: string} {
    switch (format) {
        case "trl": return {instruction: row.prompt[0].content, chosen: row.chosen[0].content, rejected: row.rejected[0].content};
        case "messages": return {instruction: row.prompt, chosen: row.chosen[1].content, rejected: row.rejected[1].content};
        case "alpaca": return {instruction: row.instruction, chosen: row.chosen, rejected: row.rejected};
        case "sharegpt": return {instruction: row.conversations[0].value, chosen: row.chosen.value, rejected: row.rejected.value};
        case "axolotl": return {instruction: row.prompt, chosen: row.chosen, rejected: row.rejected};
    }
}

const rows = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));

describe("icon2 export", () => {
    let dir: string;
    let input: string;

    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-export-cli-"));
        input = path.join(dir, "pairs.jsonl");
        fs.writeFileSync(input, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
        // what icon2 pairs dropped, counted on the card
        fs.writeFileSync(droppedFile(input), [1, 2, 3].map((i) => JSON.stringify({id: `d${i}`, reason: "truncated"})).join("\n") + "\n");
    });
    afterAll(() => {
        fs.rmSync(dir, {recursive: true, force: true});
    });

    it.each(exportFormats)("%s: train/validation files, card and LLaMA-Factory entry; texts round-trip", (format) => {
        const out = path.join(dir, format);
        const r = runCli(["export", "--in", input, "--format", format, "--out", out, "--split", "25%", "--name", "mydata", "--progress", "none"]);
        expect(r.code, r.stderr).toBe(0);
        const train = rows(path.join(out, "train.jsonl")), validation = rows(path.join(out, "validation.jsonl"));
        expect(train.length + validation.length).toBe(pairs.length);
        expect(validation.length).toBeGreaterThanOrEqual(4);  // the 4 records marked validation, plus ~25% of the rest
        expect(r.stdout).toBe(`${format}: ${train.length} train + ${validation.length} validation rows in ${out}\n`);
        // every exported row carries exactly a pair's texts, each pair once
        const back = [...train, ...validation].map((row) => textsOf(format, row)).sort((a, b) => a.instruction.localeCompare(b.instruction));
        const expected = pairs.map(({instruction, chosen, rejected}) => ({instruction, chosen, rejected})).sort((a, b) => a.instruction.localeCompare(b.instruction));
        expect(back).toEqual(expected);

        const card = fs.readFileSync(path.join(out, "README.md"), "utf8");
        expect(card).toContain("`Qwen2.5-0.5B-Instruct-Q8_0`");
        expect(card).toContain("| γ⁺ (chosen) | 0.1 |");
        expect(card).toContain("| γ⁻ (rejected) | -0.05 |");
        expect(card).toContain("| controlled blocks | 10–20 (0-based, inclusive) |");
        expect(card).toContain("| dropped before export | 3 |");
        for (const c of criteria)
            expect(card).toContain(c);
        if (format === "alpaca" || format === "sharegpt") {
            const info = JSON.parse(fs.readFileSync(path.join(out, "dataset_info.json"), "utf8"));
            expect(Object.keys(info).sort()).toEqual(["mydata", "mydata_validation"]);
        } else {
            expect(fs.existsSync(path.join(out, "dataset_info.json"))).toBe(false);
        }
    });

    it("bad input exits non-zero with one line", () => {
        const cases: [Record<string, string>, RegExp][] = [
            [{"--split": "abc"}, /^icon2: error: invalid split "abc"/],
            [{"--format": "csv"}, /^icon2: Invalid values:/],
            [{"--in": path.join(dir, "missing.jsonl")}, /^icon2: error: .*missing\.jsonl/]
        ];
        for (const [overrides, message] of cases) {
            const args = {"--in": input, "--format": "trl", "--out": path.join(dir, "bad"), "--progress": "none", ...overrides};
            const r = runCli(["export", ...Object.entries(args).flat()]);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(message);
        }
        expect(fs.existsSync(path.join(dir, "bad", "train.jsonl"))).toBe(false);
    });
});
