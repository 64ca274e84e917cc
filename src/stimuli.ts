// Stage-1 stimuli: the instructions rendered under P_c^+ and P_c^− to read contrast vectors.
// The paper samples 1,024 Alpaca instructions but finds the directions almost independent of the
// source, so icon2 ships its own few hundred (data/stimuli.jsonl, MIT) and accepts any file.
import fs from "node:fs";
import {fileURLToPath} from "node:url";
import {seededSample} from "./seed.js";

/** data/stimuli.jsonl of this package. src/ and dist/ both sit one level below the package root. */
export const defaultStimuliPath: string = fileURLToPath(new URL("../data/stimuli.jsonl", import.meta.url));

/**
 * Reads stimuli from `file` (default: the shipped set).
 * - JSONL when the first non-empty line starts with `{`: each non-empty line an object with a
 *   non-empty string `instruction` and optionally a string `input`, which is appended after a blank
 *   line (Alpaca layout). Other fields are ignored.
 * - Otherwise plain text: each non-empty line (trimmed) is one instruction.
 * Errors name the file and, for malformed lines, the 1-based line number. No stimuli → error.
 */
export function loadStimuli(file: string = defaultStimuliPath): string[] {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (error) {
        throw new Error(`cannot read stimuli file ${file}: ${(error as Error).message}`);
    }
    const lines = text.split(/\r?\n/);
    const firstContent = lines.find((line) => line.trim().length > 0);
    const stimuli: string[] = [];
    if (firstContent !== undefined && firstContent.trimStart().startsWith("{")) {
        for (const [index, line] of lines.entries()) {
            if (line.trim().length === 0)
                continue;
            const where = `${file}:${index + 1}`;
            let record: unknown;
            try {
                record = JSON.parse(line);
            } catch (error) {
                throw new Error(`${where}: not valid JSON (${(error as Error).message}); expected one {"instruction": ...} object per line`);
            }
            if (record === null || typeof record !== "object" || Array.isArray(record))
                throw new Error(`${where}: expected a JSON object with an "instruction" field`);
            const {instruction, input} = record as {instruction?: unknown; input?: unknown};
            if (typeof instruction !== "string" || instruction.trim().length === 0)
                throw new Error(`${where}: "instruction" must be a non-empty string`);
            if (input !== undefined && input !== null && typeof input !== "string")
                throw new Error(`${where}: "input" must be a string when present`);
            const extra = typeof input === "string" ? input.trim() : "";
            stimuli.push(extra.length > 0 ? `${instruction.trim()}\n\n${extra}` : instruction.trim());
        }
    } else {
        for (const line of lines) {
            const instruction = line.trim();
            if (instruction.length > 0)
                stimuli.push(instruction);
        }
    }
    if (stimuli.length === 0)
        throw new Error(`stimuli file ${file} contains no instructions`);
    return stimuli;
}

/**
 * `count` stimuli chosen by a seeded shuffle, returned in file order; the same (stimuli, count,
 * seed) always gives the same subset. `count` undefined or ≥ the number of stimuli → all of them,
 * in file order.
 */
export function sampleStimuli(stimuli: readonly string[], count: number | undefined, seed: number): string[] {
    if (count !== undefined && (!Number.isInteger(count) || count < 1))
        throw new RangeError(`stimulus count must be a positive integer, got ${count}`);
    if (count === undefined || count >= stimuli.length)
        return [...stimuli];
    return seededSample(stimuli, count, seed);
}
