// The README's examples run as written: examples/*.mjs and the stories260K quickstart command, so
// they cannot rot while the code under them changes.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {describe, expect, it} from "vitest";
import {runCli} from "../helpers/cli.js";
import {fixtureExists, projectRoot, stories260K} from "../helpers/paths.js";

function runExample(file: string): {code: number | null; stdout: string} {
    const r = spawnSync(process.execPath, [path.join("examples", file)], {cwd: projectRoot, encoding: "utf8", timeout: 120_000});
    return {code: r.status, stdout: r.stdout};
}

describe.skipIf(!fixtureExists(stories260K))("README examples", () => {
    it("examples/steer.mjs: unsteered greedy text is llama.cpp's, ±γ change it", () => {
        const r = runExample("steer.mjs");
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split("\n");
        expect(lines[0]).toMatch(/^n_embd 64 ‖h3‖ \d+\.\d{3}$/);
        expect(lines[1]).toBe('γ=0: ", there was a little girl named Lily. She loved to play outside in the p"');
        expect(lines[2]).toMatch(/^γ=0.25: "/);
        expect(lines[3]).toMatch(/^γ=-0.25: "/);
        expect(new Set(lines.slice(1).map((l) => l.replace(/^γ=[^:]+: /, ""))).size).toBe(3);
    });

    it("examples/judge.mjs: the likelihood judge prefers the story, symmetrically", () => {
        const r = runExample("judge.mjs");
        expect(r.code).toBe(0);
        const [verdicts, scores] = r.stdout.trim().split("\n");
        const [forward, backward] = verdicts.replace("likelihood P(first better): ", "").split(", ").map(Number);
        expect(forward).toBeGreaterThan(0.9);
        expect(forward + backward).toBeCloseTo(1, 4);
        const [story, shuffled] = scores.replace("mean log-likelihood per token: ", "").split(" ").map(Number);
        expect(story).toBeGreaterThan(shuffled);
    });

    it("the quickstart: icon2 run with examples/stories260K.json, a sweep choosing γ", () => {
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "icon2-quickstart-")), "stories");
        const r = runCli(["run", "--model", stories260K, "--gpu", "cpu", "--config", "examples/stories260K.json", "--out", out, "--progress", "none"]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split("\n").map((l) => l.split(/\s+/)[0])).toEqual(["stage", "extract", "synthesize", "score", "sweep", "pairs", "export", "wrote", ""]);
        const rec = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")).stages.sweep.recommendation;
        expect(r.stdout).toContain(`sweep       γ⁺ ${rec.gammaChosen}, γ⁻ ${rec.gammaRejected}, layers ${rec.layers}`);
        const rows = fs.readFileSync(path.join(out, "export", "trl", "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
        expect(rows.length).toBeGreaterThan(0);
        for (const row of rows)
            expect(Object.keys(row)).toEqual(["prompt", "chosen", "rejected"]);
    });
});
