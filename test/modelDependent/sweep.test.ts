// `icon2 sweep` end to end on stories260K with tiny settings, and its input errors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {beforeAll, describe, expect, it} from "vitest";
import {runCli} from "../helpers/cli.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";

const haveStories = fixtureExists(stories260K);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-sweep-"));
const common = ["--model", stories260K, "--chat-template", "plain", "--threads", "1", "--gpu", "cpu", "--progress", "none"];
const dirs = path.join(tmp, "dirs");
const kept = path.join(tmp, "kept.jsonl");

describe.skipIf(!haveStories)("icon2 sweep on stories260K", () => {
    beforeAll(() => {
        const r = runCli(["extract", ...common, "--out", dirs, "--stimuli-count", "64"]);
        expect(r.code, r.stderr).toBe(0);
        const criteria = ["general", "honesty", "harmlessness", "helpfulness"];
        const instructions = ["Tell me a story about a dog.", "Write about a girl named Lily.", "What did Tom find in the park?",
            "Describe a sunny day.", "Tell a story about a big red ball.", "Why was the cat sad?"];
        fs.writeFileSync(kept, instructions.map((instruction, k) =>
            JSON.stringify({id: `r${k}`, instruction, scores: {general: 0.1}, consistency: 0.1, criterion: criteria[k % 4]})).join("\n") + "\n");
    });

    const sweepArgs = (out: string) => ["sweep", ...common, "--directions", dirs, "--in", kept, "--out", out, "--sample", "4",
        "--gamma-chosen", "0.1,0.5", "--gamma-rejected=-0.1,-0.5", "--layers", "1-2,2-3", "--max-tokens", "16", "--sequences", "4"];

    it("writes sweep.json and sweep.svg and prints a recommendation", () => {
        const out = path.join(tmp, "out");
        const r = runCli(sweepArgs(out));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^recommendation: --gamma-chosen (0\.1|0\.5) --gamma-rejected=(-0\.1|-0\.5) --layers (1-2|2-3)\n/);
        expect(r.stdout).toContain(`wrote ${path.join(out, "sweep.json")}, ${path.join(out, "sweep.svg")}`);

        const json = JSON.parse(fs.readFileSync(path.join(out, "sweep.json"), "utf8"));
        expect(json.sample).toHaveLength(4);
        expect(json.settings).toMatchObject({gammaChosen: [0.1, 0.5], gammaRejected: [-0.1, -0.5], layers: ["1-2", "2-3"], maxTokens: 16});
        // stories260K has no chat template (plain): auto judges by likelihood, and says what that means
        expect(json.judge).toEqual({method: "likelihood", model: expect.any(String)});
        expect(json.warnings.some((w: string) => w.startsWith("the judge is the model's own likelihood"))).toBe(true);
        expect(json.plus).toHaveLength(4);
        expect(json.minus).toHaveLength(4);
        for (const row of json.plus) {
            expect(row.n).toBe(4);
            expect(row.meanPreference).toBeGreaterThan(0);
            expect(row.meanPreference).toBeLessThan(1);
        }
        for (const row of json.minus) {
            expect([0, 0.25, 0.5, 0.75, 1]).toContain(row.winRate);
            expect(Math.abs(row.meanGap)).toBeLessThan(1);
        }
        expect(json.layers.map((l: {layers: string}) => l.layers)).toEqual(["1-2", "2-3"]);
        for (const l of json.layers) {
            expect(l.separationAccuracy).toBeGreaterThan(0.5);
            expect(l.separationAccuracy).toBeLessThanOrEqual(1);
        }
        // unsteered + 2 ranges × 4 γ
        expect(json.stats).toHaveLength(9);
        for (const s of json.stats)
            expect(s.meanTokens).toBeGreaterThan(0);
        expect(json.recommendation.layers).toMatch(/^(1-2|2-3)$/);
        expect(json.warnings.length).toBeGreaterThanOrEqual(json.recommendation.warnings.length);

        const svg = fs.readFileSync(path.join(out, "sweep.svg"), "utf8");
        expect(svg.startsWith("<svg ")).toBe(true);
        expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
        expect(svg).not.toMatch(/NaN|undefined/);
    });

    it("is deterministic: the same seed gives the same scores", () => {
        const a = JSON.parse(fs.readFileSync(path.join(tmp, "out", "sweep.json"), "utf8"));
        const again = path.join(tmp, "again");
        expect(runCli(sweepArgs(again)).code).toBe(0);
        const b = JSON.parse(fs.readFileSync(path.join(again, "sweep.json"), "utf8"));
        expect(b.plus).toEqual(a.plus);
        expect(b.minus).toEqual(a.minus);
        expect(b.recommendation).toEqual(a.recommendation);
    });

    it("--judge-method compare judges through the comparison prompt", () => {
        const out = path.join(tmp, "compare");
        const r = runCli([...sweepArgs(out), "--judge-method", "compare"]);
        expect(r.code, r.stderr).toBe(0);
        const json = JSON.parse(fs.readFileSync(path.join(out, "sweep.json"), "utf8"));
        expect(json.judge).toMatchObject({method: "compare", labels: ["1", "2"]});
        const byLikelihood = JSON.parse(fs.readFileSync(path.join(tmp, "out", "sweep.json"), "utf8"));
        // same responses (same seed), other verdicts
        expect(json.stats).toEqual(byLikelihood.stats);
        expect(json.plus.map((r: {meanPreference: number}) => r.meanPreference)).not.toEqual(byLikelihood.plus.map((r: {meanPreference: number}) => r.meanPreference));
        expect(json.warnings.some((w: string) => w.startsWith("the judge is the model's own likelihood"))).toBe(false);
        const bad = runCli([...sweepArgs(path.join(tmp, "bad-method")), "--judge-method", "vibes"]);
        // a usage error stops before the handler: nothing loads, nothing else is reported
        expect(bad.code).toBe(2);
        expect(bad.stderr.trim().split("\n")).toEqual([
            "icon2: Invalid values:", '  Argument: judge-method, Given: "vibes", Choices: "auto", "compare", "likelihood"', "Run icon2 --help for usage."
        ]);
    });

    it("--judge-model: a second model judges (here a base model, so by likelihood); without a template it says which flag to pass", () => {
        const out = path.join(tmp, "judge-model");
        const missing = runCli([...sweepArgs(out), "--judge-model", stories260K]);
        expect(missing.code).toBe(1);
        expect(missing.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^icon2: error: model .* has no chat template; pass --judge-chat-template FILE\|NAME \(builtin: /)]);
        expect(fs.existsSync(out)).toBe(false);
        const r = runCli([...sweepArgs(out), "--judge-model", stories260K, "--judge-chat-template", "plain"]);
        expect(r.code, r.stderr).toBe(0);
        const json = JSON.parse(fs.readFileSync(path.join(out, "sweep.json"), "utf8"));
        expect(json.judge.method).toBe("likelihood");
        // the same file as judge: the same verdicts as the self-judge, and still flagged as judging itself
        const self = JSON.parse(fs.readFileSync(path.join(tmp, "out", "sweep.json"), "utf8"));
        expect(json.plus).toEqual(self.plus);
        expect(json.warnings.some((w: string) => w.startsWith("the judge is the model's own likelihood"))).toBe(true);
    });

    it("rejects a γ list that is not numbers, before loading the model, with one line", () => {
        const r = runCli(["sweep", ...common, "--directions", dirs, "--in", kept, "--out", path.join(tmp, "bad"), "--gamma-chosen", "abc"]);
        expect(r.code).not.toBe(0);
        expect(r.stderr.trim().split("\n")).toEqual(['icon2: error: invalid --gamma-chosen "abc": "abc" is not a number']);
        expect(fs.existsSync(path.join(tmp, "bad"))).toBe(false);
    });

    it("rejects layers outside the model's blocks with one line", () => {
        const r = runCli(["sweep", ...common, "--directions", dirs, "--in", kept, "--out", path.join(tmp, "bad2"), "--layers", "2-9"]);
        expect(r.code).not.toBe(0);
        expect(r.stderr.trim().split("\n")).toEqual(["icon2: error: --layers: layer range 2-9 is outside this model's blocks: the valid range is [0, 4] (the model has 5 blocks)"]);
        expect(fs.existsSync(path.join(tmp, "bad2"))).toBe(false);
    });
});
