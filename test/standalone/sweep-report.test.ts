// The sweep's pure parts: text statistics on fixed strings, the table, the SVG.
import {describe, expect, it} from "vitest";
import {recommend, type GammaMinusRow, type GammaPlusRow} from "../../src/recommend.js";
import {formatSweepTable, repetitionRate, settingWarnings, sweepPlotSvg, textStats, type SettingStats} from "../../src/sweep.js";

describe("textStats", () => {
    it("counts lengths, distinct-n, repetition and identical responses", () => {
        const texts = ["the cat sat on the mat", "A b a b a b a b"];
        const s = textStats(texts, [6, 8], ["the cat sat on the mat", "something else"]);
        expect(s.meanTokens).toBe(7);
        expect(s.meanChars).toBe((22 + 15) / 2);
        // unigrams: the cat sat on the mat | a b a b a b a b → 14 total; distinct: the cat sat on mat a b = 7
        expect(s.distinct1).toBeCloseTo(7 / 14, 12);
        // bigrams: 5 + 7 = 12; distinct: the·cat cat·sat sat·on on·the the·mat a·b b·a = 7
        expect(s.distinct2).toBeCloseTo(7 / 12, 12);
        // 4-grams: 3 (all new) + 5 (a b a b, b a b a, then 3 repeats) → 3 / 8
        expect(s.repetition).toBeCloseTo(3 / 8, 12);
        expect(s.identical).toBe(0.5);
    });

    it("gives zeros for empty input and null identical without references", () => {
        expect(textStats([], [])).toEqual({meanTokens: 0, meanChars: 0, distinct1: 0, distinct2: 0, repetition: 0, identical: null});
        expect(textStats([""], [0], [""]).identical).toBe(1);
        expect(repetitionRate(["one two three"])).toBe(0);
        expect(repetitionRate(["x x x x x x x x x x x"])).toBeCloseTo(7 / 8, 12);
    });

    it("rejects mismatched lengths naming them", () => {
        expect(() => textStats(["a"], [])).toThrow(/1 texts but 0 token counts/);
        expect(() => textStats(["a"], [1], [])).toThrow(/1 texts but 0 references/);
    });
});

const plus: GammaPlusRow[] = [
    {gamma: 0.05, layers: "2-3", meanPreference: 0.55, n: 4},
    {gamma: 0.1, layers: "2-3", meanPreference: 0.61, n: 4},
    {gamma: 0.05, layers: "1-2", meanPreference: 0.5, n: 4},
    {gamma: 0.1, layers: "1-2", meanPreference: 0.52, n: 4}
];
const minus: GammaMinusRow[] = [
    {gamma: -0.05, layers: "2-3", winRate: 0.75, meanGap: 0.1, n: 4},
    {gamma: -0.1, layers: "2-3", winRate: 1, meanGap: 0.3, n: 4},
    {gamma: -0.05, layers: "1-2", winRate: 0.5, meanGap: 0.02, n: 4},
    {gamma: -0.1, layers: "1-2", winRate: 0.75, meanGap: 0.05, n: 4}
];
const recommendation = recommend(plus, minus);
const stat = (layers: string | null, gamma: number): SettingStats => ({
    layers, gamma, reference: layers === null ? null : gamma > 0 ? "unsteered" : "best γ⁺", n: 4,
    meanTokens: 12.5, meanChars: 50, distinct1: 0.8, distinct2: 0.9, repetition: 0, identical: layers === null ? null : 0.25
});
const result = {
    plus, minus, recommendation, warnings: [...recommendation.warnings, "only 4 records"],
    judge: {method: "compare" as const, model: "Qwen2.5-0.5B-Instruct", labels: ["A", "B"] as const},
    layers: [
        {layers: "2-3", gammaChosen: 0.1, meanPreference: 0.61, gammaRejected: -0.1, winRate: 1, meanGap: 0.3, separationAccuracy: 0.85, warnings: []},
        {layers: "1-2", gammaChosen: 0.1, meanPreference: 0.52, gammaRejected: -0.1, winRate: 0.75, meanGap: 0.05, separationAccuracy: null, warnings: []}
    ],
    stats: [stat(null, 0), ...plus.map((r) => stat(r.layers, r.gamma)), ...minus.map((r) => stat(r.layers, r.gamma))]
};

describe("formatSweepTable", () => {
    it("prints the recommendation as flags, the per-range summary and one aligned row per setting", () => {
        const text = formatSweepTable(result);
        const lines = text.split("\n");
        expect(lines[0]).toBe("recommendation: --gamma-chosen 0.1 --gamma-rejected=-0.1 --layers 2-3");
        expect(lines[1]).toBe(recommendation.reason);
        expect(lines[2]).toBe("judge: compare on Qwen2.5-0.5B-Instruct, answers A/B");
        expect(formatSweepTable({...result, judge: {method: "likelihood", model: "stories260K"}}).split("\n")[2]).toBe("judge: likelihood on stories260K");
        expect(text).toContain("layers   γ⁺   pref    γ⁻    win    gap  sep acc");
        expect(text).toMatch(/\n {3}2-3 {2}0\.1 {2}0\.610 {2}-0\.1 {2}1\.000 {2}0\.300 {4}0\.850\n/);
        expect(text).toMatch(/\n {3}1-2 {2}0\.1 {2}0\.520 {2}-0\.1 {2}0\.750 {2}0\.050 {8}-\n/);
        expect(text).toMatch(/unsteered +0 +- +- +12\.5 +50 +0\.800 +0\.900 +0\.000 +-\n/);
        expect(text).toMatch(/2-3 +-0\.1 +win 1\.000 +0\.300 +12\.5/);
        expect(text).toMatch(/1-2 +0\.05 +pref 0\.500 +- +12\.5/);
        // the setting rows are aligned: every row of that table has the same width
        const settingRows = lines.filter((l) => /^\s*(unsteered|\d+-\d+)\s+-?[\d.]+\s+(-|pref|win)/.test(l));
        expect(settingRows).toHaveLength(9);
        expect(new Set(settingRows.map((l) => l.length)).size).toBe(1);
        expect(lines.at(-1)).toBe("warning: only 4 records");
    });
});

/** A minimal XML well-formedness check: one root, every tag closed in order, attributes quoted, entities known. */
function checkWellFormed(xml: string): void {
    const stack: string[] = [];
    let roots = 0;
    const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
    let last = 0;
    for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
        const between = xml.slice(last, m.index);
        expect(between, `stray markup before ${m[0]}`).not.toMatch(/[<>]/);
        expect(between.replace(/&(lt|gt|amp|quot|apos);/g, "")).not.toContain("&");
        last = tag.lastIndex;
        const [, closing, name, , selfClosing] = m;
        if (closing) {
            expect(stack.pop(), `</${name}> closes the wrong element`).toBe(name);
        } else {
            if (stack.length === 0)
                roots++;
            if (!selfClosing)
                stack.push(name);
        }
    }
    expect(xml.slice(last).trim()).toBe("");
    expect(stack).toEqual([]);
    expect(roots).toBe(1);
}

describe("sweepPlotSvg", () => {
    it("is well-formed SVG with a line per range and sign, and escapes labels", () => {
        const svg = sweepPlotSvg(result);
        expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
        checkWellFormed(svg);
        // two ranges × (γ⁺ line + γ⁻ line)
        expect(svg.match(/<polyline /g)).toHaveLength(4);
        expect(svg.match(/<circle /g)).toHaveLength(8);
        expect(svg).toContain("layers 2-3 (recommended)");
        expect(svg).not.toMatch(/NaN|undefined|Infinity/);
        const odd = sweepPlotSvg({...result, plus: plus.map((r) => ({...r, layers: r.layers === "2-3" ? "<a&b>" : r.layers})),
            minus: minus.map((r) => ({...r, layers: r.layers === "2-3" ? "<a&b>" : r.layers}))});
        checkWellFormed(odd);
        expect(odd).toContain("layers &lt;a&amp;b&gt;");
    });

    it("stays finite with a single γ on each side", () => {
        const svg = sweepPlotSvg({plus: [plus[0]], minus: [minus[0]], recommendation: recommend([plus[0]], [minus[0]])});
        checkWellFormed(svg);
        expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    });
});

describe("settingWarnings", () => {
    const stat = (layers: string | null, gamma: number, repetition: number, identical: number | null): SettingStats =>
        ({layers, gamma, reference: null, n: 10, meanTokens: 50, meanChars: 200, distinct1: 0.5, distinct2: 0.8, repetition, identical});
    const recommendation = {layers: "10-20", gammaChosen: 0.1, gammaRejected: -0.05};

    it("warns when the recommended γ⁺ loops more than unsteered, and when the recommended γ⁻ copies γ⁺", () => {
        const stats = [stat(null, 0, 0.05, null), stat("10-20", 0.1, 0.3, 0), stat("10-20", -0.05, 0.05, 0.6), stat("2-12", 0.1, 0.9, 0)];
        expect(settingWarnings(stats, recommendation)).toEqual([
            "at the recommended γ⁺ = 0.1 on layers 10-20, 30% of word 4-grams repeat (unsteered: 5%); a judge can prefer fluent loops, so read some responses or lower γ⁺",
            "at the recommended γ⁻ = -0.05 on layers 10-20, 60% of responses equal the γ⁺ ones; the pairs stage drops identical pairs"
        ]);
    });

    it("stays quiet within the margin and for settings that were not recommended", () => {
        const stats = [stat(null, 0, 0.05, null), stat("10-20", 0.1, 0.2, 0), stat("10-20", -0.05, 0.05, 0.5), stat("2-12", 0.1, 0.9, 1)];
        expect(settingWarnings(stats, recommendation)).toEqual([]);
    });
});
