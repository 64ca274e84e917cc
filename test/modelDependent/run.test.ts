// icon2 run end to end on stories260K: outputs, crash-resume (SIGKILL in each stage), refusals.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {beforeAll, describe, expect, it} from "vitest";
import {readJsonlAll} from "../../src/jsonl.js";
import {PairRecord} from "../../src/records.js";
import {runCli, runCliUntil} from "../helpers/cli.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";
import {tinyModel} from "../helpers/tiny-models.js";

const haveModel = fixtureExists(stories260K);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-run-"));
const configFile = path.join(tmp, "icon2.json");
// a story model never ends a user turn by itself: one-line instructions, and keep length-capped responses
const config = {
    chatTemplate: "plain", threads: 1,
    extract: {stimuliCount: 24, sequences: 8},
    synthesize: {count: 24, stopStrings: ["\n"], maxTokens: 40, sequences: 8},
    score: {keep: "50%", validation: "20%", sequences: 8},
    pairs: {maxTokens: 24, gammaChosen: 1, gammaRejected: -1, keepTruncated: true, sequences: 8},
    export: {formats: ["trl", "alpaca"]}
};
const args = (out: string, extra: string[] = []) => ["run", "--model", stories260K, "--gpu", "cpu", "--config", configFile, "--out", out, "--progress", "none", ...extra];

function outputs(dir: string): Record<string, Buffer> {
    // instructions.jsonl and scored.jsonl carry creation timestamps; pairs and exports must match byte for byte
    const files = ["pairs.jsonl", "export/trl/train.jsonl", "export/trl/validation.jsonl", "export/alpaca/train.jsonl", "export/trl/README.md"];
    return Object.fromEntries(files.filter((f) => fs.existsSync(path.join(dir, f))).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

function lines(file: string): number {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).length : 0;
}

describe.skipIf(!haveModel)("icon2 run on stories260K", () => {
    const reference = path.join(tmp, "reference");
    let referenceOutputs: Record<string, Buffer>;

    beforeAll(() => {
        fs.writeFileSync(configFile, JSON.stringify(config));
        const r = runCli(args(reference));
        // the only stderr: synthesis came up short (a story model repeats itself), shown even with --progress none
        expect(r.stderr).toMatch(/^icon2: warning: only \d+ of 24 unique instructions after \d+ attempts; continuing with those\n$/);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/stage\s+result\s+time/);
        referenceOutputs = outputs(reference);
    });

    it("produces every output", async () => {
        for (const f of ["run.json", "directions/general.gguf", "instructions.jsonl", "scored.jsonl", "pairs.jsonl", "export/trl/train.jsonl", "export/alpaca/dataset_info.json", "report.html"])
            expect(fs.existsSync(path.join(reference, f)), f).toBe(true);
        const manifest = JSON.parse(fs.readFileSync(path.join(reference, "run.json"), "utf8"));
        for (const stage of ["extract", "synthesize", "score", "pairs", "export"])
            expect(manifest.stages[stage].status, stage).toBe("complete");
        const pairs = await readJsonlAll(path.join(reference, "pairs.jsonl"), {schema: PairRecord});
        expect(pairs.length).toBeGreaterThan(0);
        expect(pairs.filter((p) => p.chosen !== p.rejected).length).toBe(pairs.length);
        expect(fs.readFileSync(path.join(reference, "report.html"), "utf8")).toMatch(/<svg[^]*<\/html>/);
        expect(fs.readFileSync(path.join(reference, "report.html"), "utf8")).not.toContain("(sweep)</h2>");
    });

    it("report.html opens in headless Chromium without errors", () => {
        const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((f) => fs.existsSync(f));
        if (!chromium) {
            // .ci/run installs Debian's chromium; elsewhere say plainly what was not checked
            if (process.env.CI === "true")
                throw new Error("chromium is not installed (.ci/run installs it with apt-get)");
            console.warn("chromium not installed: report.html not opened in a browser");
            return;
        }
        const profile = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-chromium-"));
        const screenshot = path.join(profile, "report.png");
        const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, "--enable-logging=stderr", "--v=0"];
        const url = `file://${path.join(reference, "report.html")}`;
        const dom = spawnSync(chromium, [...flags, "--dump-dom", url], {encoding: "utf8", timeout: 120_000});
        expect(dom.status).toBe(0);
        expect(dom.stdout).toMatch(/<h1>icon2 run report<\/h1>/);
        expect(dom.stdout).toMatch(/<svg[^>]*>[^]*polyline/);
        expect(dom.stdout).toMatch(/class="pair"/);
        // page errors and console messages are logged as CONSOLE / Uncaught lines
        expect(dom.stderr).not.toMatch(/Uncaught|:CONSOLE\(/);
        const shot = spawnSync(chromium, [...flags, `--screenshot=${screenshot}`, "--window-size=1100,1400", url], {encoding: "utf8", timeout: 120_000});
        expect(shot.status).toBe(0);
        expect(fs.statSync(screenshot).size).toBeGreaterThan(10_000);
    });

    it("a rerun of a finished run changes nothing", () => {
        const r = runCli(args(reference));
        expect(r.code).toBe(0);
        expect(outputs(reference)).toEqual(referenceOutputs);
    });

    const killPoints: [string, (dir: string) => boolean][] = [
        ["extract", (dir) => fs.existsSync(path.join(dir, "run.json"))],
        ["synthesize", (dir) => lines(path.join(dir, "instructions.jsonl")) >= 3],
        ["score", (dir) => fs.existsSync(path.join(dir, "scores.jsonl"))],
        ["pairs", (dir) => lines(path.join(dir, "pairs.jsonl")) + lines(path.join(dir, "pairs.dropped.jsonl")) >= 1]
    ];
    for (const [stage, when] of killPoints) {
        it(`resumes after SIGKILL in ${stage} to byte-identical outputs`, async () => {
            const dir = path.join(tmp, `killed-${stage}`);
            const {killed} = await runCliUntil(args(dir), () => when(dir), {pollMs: 5});
            if (killed)
                fs.rmSync(`${dir}.lock`, {recursive: true, force: true}); // a SIGKILLed process leaves its lock behind
            const r = runCli(args(dir));
            // a resumed synthesis comes up as short as the reference did, and says so; nothing else
            expect(r.stderr).toMatch(/^(icon2: warning: only \d+ of 24 unique instructions after \d+ attempts; continuing with those\n)?$/);
            expect(r.code).toBe(0);
            expect(outputs(dir)).toEqual(referenceOutputs);
            const ids = (await readJsonlAll(path.join(dir, "pairs.jsonl"), {schema: PairRecord})).map((p) => p.id);
            expect(new Set(ids).size).toBe(ids.length);
        });
    }

    it("--auto-gamma runs a self-judged sweep and the pairs use its recommendation", async () => {
        const dir = path.join(tmp, "auto-gamma");
        const sweepConfig = path.join(tmp, "sweep.json");
        fs.writeFileSync(sweepConfig, JSON.stringify({...config, sweep: {sample: 3, gammaChosen: [0.5, 1], gammaRejected: [-0.5, -1], layers: ["1-2", "2-3"], maxTokens: 12, sequences: 8}}));
        const r = runCli(["run", "--model", stories260K, "--gpu", "cpu", "--config", sweepConfig, "--out", dir, "--progress", "none", "--auto-gamma"]);
        const warnings = r.stderr.trim().split("\n");
        for (const line of warnings)
            expect(line).toMatch(/^icon2: warning: /);
        expect(warnings).toContain("icon2: warning: the judge is the model's own likelihood (a base model, or --judge-method likelihood): it rates fluency, not alignment, " +
            "and favours the unsteered text it generated itself, so γ⁺ leans to the smallest value; judge with an instruct model (--judge-model) to rate alignment");
        expect(r.code).toBe(0);
        const rec = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")).stages.sweep.recommendation;
        expect([0.5, 1]).toContain(rec.gammaChosen);
        expect([-0.5, -1]).toContain(rec.gammaRejected);
        expect(fs.existsSync(path.join(dir, "sweep", "sweep.svg"))).toBe(true);
        // stories260K has the plain template: the sweep judged by likelihood, and the report shows it
        expect(JSON.parse(fs.readFileSync(path.join(dir, "sweep", "sweep.json"), "utf8")).judge.method).toBe("likelihood");
        const report = fs.readFileSync(path.join(dir, "report.html"), "utf8");
        expect(report).toContain(`Recommended and used: γ⁺ ${rec.gammaChosen}, γ⁻ ${rec.gammaRejected},\nlayers ${rec.layers}; judge: likelihood`);
        expect(report).toMatch(/<h2>γ and layers \(sweep\)<\/h2>[^]*<svg[^]*Judge preference vs γ/);
        // --judge-method reaches the sweep's configuration: another method is another sweep
        const again = runCli(["run", "--model", stories260K, "--gpu", "cpu", "--config", sweepConfig, "--out", dir, "--progress", "none", "--auto-gamma", "--judge-method", "compare"]);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/stage "sweep" differs.*--force-restart sweep/);
        const pairs = await readJsonlAll(path.join(dir, "pairs.jsonl"), {schema: PairRecord});
        for (const p of pairs) {
            expect(p.gamma_chosen).toBe(rec.gammaChosen);
            expect(p.gamma_rejected).toBe(rec.gammaRejected);
            expect(p.layers.join("-")).toBe(rec.layers);
        }
    });

    it("refuses a changed configuration, and says how to go on", () => {
        const r = runCli(args(reference, ["--gamma-chosen", "0.5"]));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/stage "pairs" differs.*--force-restart pairs/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
    });

    it("corrupt run.json and bad flags get one clear line", () => {
        const dir = path.join(tmp, "corrupt");
        fs.mkdirSync(dir, {recursive: true});
        fs.writeFileSync(path.join(dir, "run.json"), "{\"stages\": ");
        let r = runCli(args(dir));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/run\.json is corrupt/);
        r = runCli(args(path.join(tmp, "x"), ["--gamma-chosen", "abc"]));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/--gamma-chosen must be a number/);
        fs.writeFileSync(path.join(tmp, "bad.json"), JSON.stringify({pairs: {gammaChosen: "high"}}));
        r = runCli(["run", "--model", stories260K, "--config", path.join(tmp, "bad.json"), "--out", path.join(tmp, "y")]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/bad\.json: pairs\.gammaChosen/);
    });
});

describe("icon2 run on the tiny qwen2 model (real Qwen2 tokenizer and chat template)", () => {
    it("produces every output with the model's own template", async () => {
        const model = await tinyModel("qwen2");
        const dir = path.join(tmp, "qwen2");
        const qwenConfig = path.join(tmp, "qwen2.json");
        // random weights rarely end a turn: cut instructions at sentence ends
        fs.writeFileSync(qwenConfig, JSON.stringify({
            threads: 1,
            extract: {stimuliCount: 16, sequences: 8},
            synthesize: {count: 12, stopStrings: ["\n", ".", "?", "!"], maxTokens: 24, minChars: 4, sequences: 8},
            score: {keep: "50%", validation: "20%", sequences: 8},
            pairs: {maxTokens: 16, keepTruncated: true, sequences: 8},
            export: {formats: ["trl", "sharegpt"]}
        }));
        const r = runCli(["run", "--model", model, "--gpu", "cpu", "--config", qwenConfig, "--out", dir, "--progress", "none"]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8"));
        expect(manifest.stages.pairs.status).toBe("complete");
        const pairs = await readJsonlAll(path.join(dir, "pairs.jsonl"), {schema: PairRecord});
        expect(pairs.length).toBeGreaterThan(0);
        // the qwen2 model has 6 blocks: the default controlled range is the middle third
        expect(pairs[0].layers).toEqual([2, 4]);
        for (const f of ["export/trl/train.jsonl", "export/sharegpt/dataset_info.json", "report.html", "directions/honesty.gguf"])
            expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    });
});
