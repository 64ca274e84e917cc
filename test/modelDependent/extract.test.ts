// Stage 1 end to end on stories260K (plain chat template) and the tiny qwen2 model.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {chatTemplateFor} from "../../src/commands/common.js";
import {checkFitsModel, readControlVector, readDirectionsDir} from "../../src/control-vector.js";
import {builtinCriteria} from "../../src/criteria.js";
import {extractDirections} from "../../src/directions.js";
import {Model} from "../../src/engine/index.js";
import {loadStimuli, sampleStimuli} from "../../src/stimuli.js";
import {runCli} from "../helpers/cli.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";
import {tinyModel} from "../helpers/tiny-models.js";

const haveStories = fixtureExists(stories260K);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-extract-"));

describe.skipIf(!haveStories)("icon2 extract on stories260K", () => {
    const out = path.join(tmp, "stories");
    const common = ["--model", stories260K, "--chat-template", "plain", "--threads", "1", "--gpu", "cpu", "--stimuli-count", "96", "--progress", "none"];

    beforeAll(() => {
        const r = runCli(["extract", ...common, "--out", out]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
    });

    it("writes one control vector per criterion that reads back for the model", async () => {
        const sets = await readDirectionsDir(out);
        expect([...sets.keys()].sort()).toEqual(["general", "harmlessness", "helpfulness", "honesty"]);
        for (const [name, set] of sets) {
            expect(set.model).toMatchObject({architecture: "llama", nLayer: 5, nEmbd: 64});
            expect(set.stimuliCount).toBe(96);
            expect(set.positive).toBe(builtinCriteria.find((c) => c.name === name)!.positive);
            checkFitsModel(set, {architecture: "llama", nEmbd: 64, nLayer: 5}, name);
            for (const u of set.directions)
                expect(Math.hypot(...u)).toBeCloseTo(1, 5);
        }
    });

    it("is deterministic: a second run writes identical bytes", () => {
        const again = path.join(tmp, "stories-again");
        expect(runCli(["extract", ...common, "--out", again]).code).toBe(0);
        for (const f of fs.readdirSync(out))
            expect(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(out, f)))).toBe(true);
    });

    it("signs: for each criterion most held-out pairs project positively at most layers", async () => {
        for (const set of (await readDirectionsDir(out)).values()) {
            const goodLayers = [...set.accuracy].filter((a) => a > 0.5).length;
            expect(goodLayers, set.criterion).toBeGreaterThan(set.model.nLayer / 2);
        }
    });

    it("prints the per-layer report and inspect reads the directory", () => {
        const r = runCli(["inspect", out, "--json"]);
        expect(r.code).toBe(0);
        const report = JSON.parse(r.stdout);
        expect(report.layers).toHaveLength(5);
        expect(report.criteria).toContain("general");
        const svg = path.join(tmp, "acc.svg");
        expect(runCli(["inspect", out, "--plot", svg]).code).toBe(0);
        expect(fs.readFileSync(svg, "utf8")).toMatch(/^<svg[^]*polyline[^]*<\/svg>\n$/);
    });

    it("bad input: unknown criterion, unreadable stimuli, empty stimuli, no chat template, wrong model for the file", async () => {
        let r = runCli(["extract", ...common, "--out", path.join(tmp, "x"), "--criteria", "kindness"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/kindness.*general/);
        r = runCli(["extract", ...common, "--out", path.join(tmp, "x"), "--stimuli", path.join(tmp, "missing.jsonl")]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/missing\.jsonl/);
        fs.writeFileSync(path.join(tmp, "empty.txt"), "\n\n");
        r = runCli(["extract", ...common, "--out", path.join(tmp, "x"), "--stimuli", path.join(tmp, "empty.txt")]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/empty\.txt.*no instructions/);
        r = runCli(["extract", "--model", stories260K, "--threads", "1", "--gpu", "cpu", "--out", path.join(tmp, "x"), "--progress", "none"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/no chat template; pass --chat-template/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        const set = await readControlVector(path.join(out, "general.gguf"));
        expect(() => checkFitsModel(set, {architecture: "qwen2", nEmbd: 64, nLayer: 6}, "general.gguf")).toThrow(/general\.gguf.*(architecture|qwen2)/);
    });
});

describe("extractDirections on the tiny qwen2 model (real Qwen2 template)", () => {
    let model: Model;
    beforeAll(async () => {
        model = await Model.load(await tinyModel("qwen2"));
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("gives the same directions with and without system-prompt prefix reuse", async () => {
        const template = chatTemplateFor(model, undefined);
        const stimuli = sampleStimuli(loadStimuli(), 12, 3);
        const criteria = builtinCriteria.filter((c) => c.name === "honesty" || c.name === "general");
        const opts = {criteria, stimuli, template, seed: 1, threads: 1, sequences: 4};
        const reused = await extractDirections(model, {...opts, reusePrefix: true});
        const fresh = await extractDirections(model, {...opts, reusePrefix: false});
        for (let c = 0; c < criteria.length; c++) {
            for (let il = 0; il < model.info.nLayer; il++) {
                const a = reused[c].directions[il], b = fresh[c].directions[il];
                let dotAB = 0;
                for (let k = 0; k < a.length; k++)
                    dotAB += a[k] * b[k];
                expect(dotAB).toBeGreaterThan(0.99999);
                // the shared prefix is computed in a different batch, so float rounding may differ slightly
                expect(Math.abs(reused[c].scales[il] - fresh[c].scales[il]) / fresh[c].scales[il]).toBeLessThan(1e-4);
            }
        }
    });
});
