import {describe, expect, test} from "vitest";
import {
    checkLayerRange, formatLayerRange, parseLayerRange, parseLayerRanges, parseNumberList, recommend,
    type GammaMinusRow, type GammaPlusRow
} from "../../src/recommend.js";

function plusRow(gamma: number, layers: string, meanPreference: number, n = 100): GammaPlusRow {
    return {gamma, layers, meanPreference, n};
}
function minusRow(gamma: number, layers: string, winRate: number, n = 100): GammaMinusRow {
    return {gamma, layers, winRate, meanGap: winRate - 0.5, n};
}

describe("recommend", () => {
    const plus = [
        plusRow(0.01, "10-20", 0.52), plusRow(0.03, "10-20", 0.58), plusRow(0.1, "10-20", 0.66), plusRow(0.3, "10-20", 0.41),
        plusRow(0.01, "2-12", 0.50), plusRow(0.1, "2-12", 0.61)
    ];

    test("best γ⁺ by mean preference; γ⁻ closest to 0 that reaches the threshold", () => {
        const minus = [
            minusRow(-0.01, "10-20", 0.62), minusRow(-0.03, "10-20", 0.88), minusRow(-0.05, "10-20", 0.91),
            minusRow(-0.1, "10-20", 0.97), minusRow(-0.3, "10-20", 0.99),
            minusRow(-0.01, "2-12", 0.95) // other layers must not count
        ];
        const result = recommend(plus, minus);
        expect(result).toMatchObject({gammaChosen: 0.1, gammaRejected: -0.05, layers: "10-20", warnings: []});
        expect(result.reason).toContain("γ⁻ = -0.05");
        // order of rows does not matter
        expect(recommend(plus.slice().reverse(), minus.slice().reverse())).toMatchObject({gammaChosen: 0.1, gammaRejected: -0.05});
    });

    test("the threshold is inclusive and configurable", () => {
        const minus = [minusRow(-0.03, "10-20", 0.9), minusRow(-0.05, "10-20", 0.95)];
        expect(recommend(plus, minus).gammaRejected).toBe(-0.03);
        expect(recommend(plus, minus, {winRateThreshold: 0.92}).gammaRejected).toBe(-0.05);
        expect(() => recommend(plus, minus, {winRateThreshold: 1.5})).toThrow(RangeError);
    });

    test("ties in mean preference: smaller |γ| first, then layer order", () => {
        const tied = [plusRow(0.1, "10-20", 0.7), plusRow(0.05, "10-20", 0.7), plusRow(0.05, "2-12", 0.7)];
        const minus = [minusRow(-0.05, "10-20", 0.95), minusRow(-0.05, "2-12", 0.95)];
        expect(recommend(tied, minus)).toMatchObject({gammaChosen: 0.05, layers: "10-20"});
        // layer order defaults to first appearance in the γ⁺ table...
        expect(recommend(tied.slice().reverse(), minus)).toMatchObject({gammaChosen: 0.05, layers: "2-12"});
        // ...and can be given explicitly, which makes row order irrelevant
        expect(recommend(tied.slice().reverse(), minus, {layerOrder: ["10-20", "2-12"]}))
            .toMatchObject({gammaChosen: 0.05, layers: "10-20"});
    });

    test("ties among passing γ⁻ of equal |γ| go to the higher win rate", () => {
        const minus = [minusRow(0.05, "10-20", 0.92), minusRow(-0.05, "10-20", 0.96), minusRow(-0.1, "10-20", 0.99)];
        expect(recommend(plus, minus).gammaRejected).toBe(-0.05);
    });

    test("no γ⁻ reaches the threshold: most separated, with a warning", () => {
        const minus = [
            minusRow(-0.01, "10-20", 0.55), minusRow(-0.05, "10-20", 0.82), minusRow(-0.1, "10-20", 0.82),
            minusRow(-0.3, "10-20", 0.7)
        ];
        const result = recommend(plus, minus);
        // highest win rate 0.82 is shared by -0.05 and -0.1: the one closer to 0 wins
        expect(result.gammaRejected).toBe(-0.05);
        expect(result.warnings).toHaveLength(1);
        expect(result.warnings[0]).toMatch(/no γ⁻ on layers 10-20 reaches a win rate of 0\.900/);
        expect(result.warnings[0]).toContain("most separated");
        expect(result.reason).toContain("no γ⁻ reaches");
    });

    test("warns when steering is not preferred and ignores rows without samples", () => {
        const weak = [plusRow(0.1, "10-20", 0.45), plusRow(0.3, "10-20", 0.99, 0)];
        const result = recommend(weak, [minusRow(-0.05, "10-20", 0.95), minusRow(-0.01, "10-20", 0.99, 0)]);
        expect(result).toMatchObject({gammaChosen: 0.1, gammaRejected: -0.05});
        expect(result.warnings.some((w) => /not preferred over the unsteered/.test(w))).toBe(true);
        expect(result.warnings.some((w) => /n = 0/.test(w))).toBe(true);
    });

    test("clear errors for unusable tables", () => {
        expect(() => recommend([], [minusRow(-0.05, "10-20", 0.9)])).toThrow(/γ⁺ table is empty/);
        expect(() => recommend(plus, [])).toThrow(/γ⁻ table is empty/);
        expect(() => recommend(plus, [minusRow(-0.05, "2-12", 0.9)])).toThrow(/no γ⁻ results .* layers 10-20/);
        expect(() => recommend([plusRow(0.1, "10-20", 0.6), plusRow(0.1, "10-20", 0.7)], [minusRow(-0.05, "10-20", 0.9)]))
            .toThrow(/two rows for γ = 0.1/);
        expect(() => recommend([plusRow(0.1, "10-20", 1.7)], [minusRow(-0.05, "10-20", 0.9)])).toThrow(/meanPreference/);
        expect(() => recommend([plusRow(0.1, "10-20", 0.6, 0)], [minusRow(-0.05, "10-20", 0.9)])).toThrow(/no evidence/);
    });
});

describe("parsers", () => {
    test("parseNumberList", () => {
        expect(parseNumberList("0.01,0.03")).toEqual([0.01, 0.03]);
        expect(parseNumberList("-0.01, -0.3 ,-1.5e-2", {flag: "--gamma-rejected", sign: "negative"}))
            .toEqual([-0.01, -0.3, -0.015]);
        expect(() => parseNumberList("")).toThrow(/comma-separated/);
        expect(() => parseNumberList("0.01,,0.03", {flag: "--gamma-chosen"})).toThrow(/--gamma-chosen.*item 2 is empty/);
        expect(() => parseNumberList("0.01,abc")).toThrow(/"abc" is not a number/);
        expect(() => parseNumberList("0x10")).toThrow(/not a number/);
        expect(() => parseNumberList("0.1,0.10")).toThrow(/listed twice/);
        expect(() => parseNumberList("0.1,-0.1", {sign: "positive"})).toThrow(/"-0.1" must be greater than 0/);
        expect(() => parseNumberList("0", {sign: "negative"})).toThrow(/less than 0/);
        expect(() => parseNumberList("1e999")).toThrow(/out of range/);
    });

    test("parseLayerRange", () => {
        expect(parseLayerRange("10-20")).toEqual([10, 20]);
        expect(parseLayerRange(" 3 - 3 ")).toEqual([3, 3]);
        expect(parseLayerRange("15")).toEqual([15, 15]);
        expect(() => parseLayerRange("20-10")).toThrow(/start 20 is after end 10.*"10-20"/);
        expect(() => parseLayerRange("-1-5")).toThrow(/negative/);
        expect(() => parseLayerRange("1.5-4")).toThrow(/whole numbers/);
        expect(() => parseLayerRange("10:20")).toThrow(/expected "A-B"/);
        expect(() => parseLayerRange("")).toThrow(/expected "A-B"/);
    });

    test("parseLayerRanges", () => {
        expect(parseLayerRanges("10-20,2-12")).toEqual([[10, 20], [2, 12]]);
        expect(() => parseLayerRanges("10-20,,2-12")).toThrow(/item 2 is empty/);
        expect(() => parseLayerRanges("10-20, 10-20")).toThrow(/10-20 is listed twice/);
        expect(() => parseLayerRanges("10-20,x")).toThrow(/"x"/);
    });

    test("checkLayerRange names the valid range", () => {
        expect(() => checkLayerRange([10, 20], 32)).not.toThrow();
        expect(() => checkLayerRange([0, 31], 32)).not.toThrow();
        expect(() => checkLayerRange([10, 32], 32)).toThrow("layer range 10-32 is outside this model's blocks: the valid range is [0, 31]");
        expect(() => checkLayerRange([-1, 3], 32)).toThrow(/\[0, 31\]/);
        expect(() => checkLayerRange([5, 3], 32)).toThrow(/start ≤ end/);
        expect(() => checkLayerRange([1, 2], 0)).toThrow(/block count/);
        expect(formatLayerRange([10, 20])).toBe("10-20");
    });
});
