import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {defaultStimuliPath, loadStimuli, sampleStimuli} from "../../src/stimuli.js";
import {projectRoot} from "../helpers/paths.js";

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-stimuli-"));
afterAll(() => fs.rmSync(tempDir, {recursive: true, force: true}));

function writeFile(name: string, content: string): string {
    const file = path.join(tempDir, name);
    fs.writeFileSync(file, content);
    return file;
}

const normalized = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();

describe("shipped stimuli", () => {
    test("default path is the package's data/stimuli.jsonl", () => {
        expect(defaultStimuliPath).toBe(path.join(projectRoot, "data", "stimuli.jsonl"));
    });

    test("at least 256 unique instructions, every line a valid record", () => {
        const lines = fs.readFileSync(defaultStimuliPath, "utf8").split("\n").filter((line) => line.length > 0);
        expect(lines.length).toBeGreaterThanOrEqual(256);
        const categories = new Set<string>();
        for (const line of lines) {
            const record = JSON.parse(line) as Record<string, unknown>;
            expect(Object.keys(record).sort()).toEqual(["category", "instruction"]);
            expect(typeof record.instruction).toBe("string");
            expect(record.category).toMatch(/^[a-z_]+$/);
            categories.add(record.category as string);
            const words = (record.instruction as string).split(/\s+/).filter(Boolean).length;
            expect(words, record.instruction as string).toBeGreaterThanOrEqual(5);
            expect(words, record.instruction as string).toBeLessThanOrEqual(60);
        }
        expect(categories.size).toBeGreaterThanOrEqual(10);

        const stimuli = loadStimuli();
        expect(stimuli.length).toBe(lines.length);
        expect(new Set(stimuli.map(normalized)).size).toBe(stimuli.length);
    });
});

describe("loadStimuli", () => {
    test("JSONL: instruction, optional input after a blank line, blank lines skipped, extra fields ignored", () => {
        const file = writeFile("a.jsonl", [
            JSON.stringify({instruction: "Say hi.", category: "x"}),
            "",
            JSON.stringify({instruction: "Summarize this.", input: "A long text."}),
            JSON.stringify({instruction: " Trim me. ", input: ""}),
            "   "
        ].join("\r\n"));
        expect(loadStimuli(file)).toEqual(["Say hi.", "Summarize this.\n\nA long text.", "Trim me."]);
    });

    test("plain text: one instruction per non-empty line", () => {
        const file = writeFile("a.txt", "\nWhat is two plus two?\n  Name a colour.  \n\n{not json here}\n");
        expect(loadStimuli(file)).toEqual(["What is two plus two?", "Name a colour.", "{not json here}"]);
    });

    test("a malformed JSONL line is an error naming file and line", () => {
        const file = writeFile("bad.jsonl", `${JSON.stringify({instruction: "ok"})}\n\n{"instruction": "oops"\n`);
        expect(() => loadStimuli(file)).toThrow(`${file}:3: not valid JSON`);
    });

    test("a record without a usable instruction is an error naming the line", () => {
        const missing = writeFile("missing.jsonl", `${JSON.stringify({instruction: "ok"})}\n${JSON.stringify({prompt: "no"})}\n`);
        expect(() => loadStimuli(missing)).toThrow(`${missing}:2: "instruction" must be a non-empty string`);
        const array = writeFile("array.jsonl", `${JSON.stringify({instruction: "ok"})}\n["x"]\n`);
        expect(() => loadStimuli(array)).toThrow(`${array}:2: expected a JSON object`);
        const input = writeFile("input.jsonl", `${JSON.stringify({instruction: "ok", input: 3})}\n`);
        expect(() => loadStimuli(input)).toThrow(`${input}:1: "input" must be a string`);
    });

    test("an empty file is an error", () => {
        const file = writeFile("empty.txt", "\n  \n");
        expect(() => loadStimuli(file)).toThrow(`stimuli file ${file} contains no instructions`);
    });

    test("an unreadable file is an error naming the path", () => {
        const file = path.join(tempDir, "nope.jsonl");
        expect(() => loadStimuli(file)).toThrow(`cannot read stimuli file ${file}`);
    });
});

describe("sampleStimuli", () => {
    const stimuli = Array.from({length: 100}, (_, i) => `instruction ${i}`);

    test("deterministic by seed, a subset in file order", () => {
        const a = sampleStimuli(stimuli, 20, 7);
        expect(a).toEqual(sampleStimuli(stimuli, 20, 7));
        expect(a).toHaveLength(20);
        expect(new Set(a).size).toBe(20);
        const positions = a.map((s) => stimuli.indexOf(s));
        expect(positions.every((p) => p >= 0)).toBe(true);
        expect(positions).toEqual([...positions].sort((x, y) => x - y));
        expect(sampleStimuli(stimuli, 20, 8)).not.toEqual(a);
    });

    test("count undefined or at least the length gives all, in file order", () => {
        expect(sampleStimuli(stimuli, undefined, 1)).toEqual(stimuli);
        expect(sampleStimuli(stimuli, 100, 1)).toEqual(stimuli);
        expect(sampleStimuli(stimuli, 1000, 1)).toEqual(stimuli);
    });

    test("invalid counts are rejected", () => {
        expect(() => sampleStimuli(stimuli, 0, 1)).toThrow(RangeError);
        expect(() => sampleStimuli(stimuli, 2.5, 1)).toThrow(RangeError);
    });

    test("the shipped file samples deterministically", () => {
        const all = loadStimuli();
        expect(sampleStimuli(all, 64, 42)).toEqual(sampleStimuli(all, 64, 42));
    });
});
