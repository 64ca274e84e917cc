// Stage 2b on stories260K: consistency scores, c*, selection and the CLI.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {loadChatTemplate} from "../../src/chat.js";
import {consistencyScore, scoreInstructions, selectInstructions} from "../../src/consistency.js";
import {writeControlVector, type DirectionSet} from "../../src/control-vector.js";
import {builtinCriteria} from "../../src/criteria.js";
import {extractDirections} from "../../src/directions.js";
import {Model} from "../../src/engine/index.js";
import {readJsonlAll} from "../../src/jsonl.js";
import {ScoredRecord, type InstructionRecord} from "../../src/records.js";
import {loadStimuli, sampleStimuli} from "../../src/stimuli.js";
import {runCli} from "../helpers/cli.js";
import {fixtureExists, sharedInstructions, stories260K} from "../helpers/paths.js";

const ready = fixtureExists(stories260K) && fixtureExists(sharedInstructions);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-score-"));

describe.skipIf(!ready)("scoring and selection on stories260K", () => {
    let model: Model;
    let directions: Map<string, DirectionSet>;
    let records: InstructionRecord[];
    const template = loadChatTemplate("plain", {bosToken: "<s>", eosToken: "</s>"});
    const dirPath = path.join(tmp, "directions");
    const inPath = path.join(tmp, "instructions.jsonl");

    beforeAll(async () => {
        model = await Model.load(stories260K);
        const sets = await extractDirections(model, {criteria: builtinCriteria, stimuli: sampleStimuli(loadStimuli(), 32, 1), template, seed: 1, threads: 1, sequences: 8});
        directions = new Map(sets.map((s) => [s.criterion, s]));
        fs.mkdirSync(dirPath, {recursive: true});
        for (const s of sets)
            await writeControlVector(path.join(dirPath, `${s.criterion}.gguf`), s);
        const lines = fs.readFileSync(sharedInstructions, "utf8").trim().split("\n").slice(0, 60);
        records = lines.map((l) => JSON.parse(l)).map((r: {id: string; instruction: string}) => ({id: r.id, instruction: r.instruction}));
        fs.writeFileSync(inPath, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("batched scores equal one-at-a-time scores", async () => {
        const subset = records.slice(0, 12);
        const batched = await scoreInstructions(model, subset, {directions, template, sequences: 8, threads: 1});
        const single = await scoreInstructions(model, subset, {directions, template, sequences: 1, threads: 1});
        for (let i = 0; i < subset.length; i++) {
            for (const c of directions.keys())
                expect(Math.abs(batched[i].scores[c] - single[i].scores[c])).toBeLessThan(1e-4);
        }
        // the score is the mean over blocks of h·u, checked against a direct capture
        const engine = await model.createEngine({sequences: 1, contextSize: 512, threads: 1});
        const prompt = model.tokenize(`User: ${subset[0].instruction}\nAssistant:`);
        const [hidden] = await engine.capture([prompt], [0, 1, 2, 3, 4]);
        await engine.dispose();
        expect(consistencyScore(hidden, directions.get("general")!)).toBeCloseTo(batched[0].scores.general, 4);
    });

    it("keeps exactly the top share; c* is the argmax; split is deterministic", async () => {
        const scores = await scoreInstructions(model, records, {directions, template, sequences: 8, threads: 1});
        const sel = selectInstructions(records, scores, {keep: {kind: "fraction", value: 0.1}, seed: 3, validation: 0.2});
        expect(sel.kept).toHaveLength(6);
        const byId = new Map(scores.map((s) => [s.id, s]));
        const all = scores.map((s) => Math.max(...Object.values(s.scores))).sort((a, b) => b - a);
        expect(sel.kept.map((r) => r.consistency)).toEqual(all.slice(0, 6));
        for (const r of sel.kept) {
            const s = byId.get(r.id)!.scores;
            expect(s[r.criterion]).toBe(Math.max(...Object.values(s)));
        }
        expect(sel.kept.filter((r) => r.split === "validation")).toHaveLength(2);
        const again = selectInstructions([...records].reverse(), [...scores].reverse(), {keep: {kind: "fraction", value: 0.1}, seed: 3, validation: 0.2});
        expect(again.kept).toEqual(sel.kept);
    });

    it("icon2 score writes ranked records, resumes from its scores file, and reports malformed lines", async () => {
        const out = path.join(tmp, "kept.jsonl");
        const args = ["score", "--model", stories260K, "--chat-template", "plain", "--threads", "1", "--gpu", "cpu", "--progress", "none", "--directions", dirPath, "--in", inPath, "--out", out, "--keep", "25%"];
        let r = runCli(args);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/kept 15/);
        const kept = await readJsonlAll(out, {schema: ScoredRecord});
        expect(kept).toHaveLength(15);
        const first = fs.readFileSync(out);
        // a rerun reuses the raw scores and writes the same selection
        r = runCli(args);
        expect(r.code).toBe(0);
        expect(fs.readFileSync(out).equals(first)).toBe(true);

        const bad = path.join(tmp, "bad.jsonl");
        fs.writeFileSync(bad, fs.readFileSync(inPath, "utf8").split("\n").map((l, i) => (i === 4 ? "{not json" : l)).join("\n"));
        r = runCli([...args.slice(0, -6), "--in", bad, "--out", path.join(tmp, "bad-out.jsonl"), "--keep", "25%"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/bad\.jsonl.*line 5|bad\.jsonl:5/);
        r = runCli([...args.slice(0, -6), "--in", bad, "--out", path.join(tmp, "bad-out.jsonl"), "--keep", "25%", "--skip-invalid"]);
        expect(r.code).toBe(0);
        r = runCli([...args.slice(0, -2), "--keep", "150%"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/--keep "150%"/);
    });
});
