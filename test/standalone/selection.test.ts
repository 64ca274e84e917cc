import {describe, expect, test} from "vitest";
import {
    assignCriterion, criterionStats, formatSummary, normalizeScores, parseKeep, parseShare, parseThreshold, quantile,
    rankItems, selectTop, shareCount, splitValidation, summarize, zscoreNormalize, type RankedItem
} from "../../src/selection.js";
import {seededShuffle} from "../../src/seed.js";

function item(id: string, consistency: number, criterion = "general"): RankedItem {
    return {id, scores: {[criterion]: consistency}, consistency, criterion};
}

/** A deterministic pseudo-random scored set with many ties. */
function makeItems(n: number): RankedItem[] {
    const criteria = ["general", "helpfulness", "honesty", "harmlessness"];
    const items = Array.from({length: n}, (_, i) => {
        const scores: Record<string, number> = {};
        criteria.forEach((c, k) => {
            scores[c] = ((i * 7919 + k * 104729) % 97) / 10; // values repeat: plenty of ties
        });
        return {id: `id-${String(i).padStart(4, "0")}`, scores};
    });
    return rankItems(items);
}

describe("assignCriterion", () => {
    test("consistency is the max and c* the argmax", () => {
        expect(assignCriterion({general: 0.2, honesty: 0.7, helpfulness: -1})).toEqual({consistency: 0.7, criterion: "honesty"});
        for (const ranked of makeItems(200)) {
            const max = Math.max(...Object.values(ranked.scores));
            expect(ranked.consistency).toBe(max);
            expect(ranked.scores[ranked.criterion]).toBe(max);
        }
    });

    test("ties go to the first name in code-unit order, independent of key order", () => {
        expect(assignCriterion({honesty: 1, general: 1, helpfulness: 0}).criterion).toBe("general");
        expect(assignCriterion({helpfulness: 1, harmlessness: 1}).criterion).toBe("harmlessness");
        expect(assignCriterion({honesty: 1, general: 1}, ["honesty", "general"]).criterion).toBe("honesty");
    });

    test("rejects empty and non-finite scores and an incomplete order", () => {
        expect(() => assignCriterion({})).toThrow(RangeError);
        expect(() => assignCriterion({general: Number.NaN})).toThrow(/general/);
        expect(() => assignCriterion({general: 1, honesty: 2}, ["general"])).toThrow(/honesty/);
    });
});

describe("z-score normalization", () => {
    test("hand-computed example; std 0 gives 0", () => {
        const items = [
            {id: "a", scores: {x: 1, y: 10}, extra: "kept"},
            {id: "b", scores: {x: 2, y: 10}, extra: "kept"},
            {id: "c", scores: {x: 3, y: 10}, extra: "kept"}
        ];
        const stats = criterionStats(items);
        expect(stats.x.mean).toBe(2);
        expect(stats.x.std).toBeCloseTo(Math.sqrt(2 / 3), 12);
        expect(stats.y).toEqual({mean: 10, std: 0});

        const z = zscoreNormalize(items);
        const k = 1 / Math.sqrt(2 / 3); // 1.224744871...
        expect(z.map((i) => i.scores.x)).toEqual([-k, 0, k].map((v) => expect.closeTo(v, 12)));
        expect(z.map((i) => i.scores.y)).toEqual([0, 0, 0]);
        expect(z[0].extra).toBe("kept");
        expect(items[0].scores.x).toBe(1);
        // After normalization the argmax can change: item a now prefers y (0 > -1.22).
        expect(rankItems(z).map((i) => i.criterion)).toEqual(["y", "x", "x"]);
        expect(rankItems(items).map((i) => i.criterion)).toEqual(["y", "y", "y"]);
    });

    test("normalizeScores modes", () => {
        const items = [{id: "a", scores: {x: 1}}, {id: "b", scores: {x: 3}}];
        expect(normalizeScores(items, "none")).toEqual(items);
        expect(normalizeScores(items, "zscore").map((i) => i.scores.x)).toEqual([-1, 1]);
        expect(() => normalizeScores(items, "minmax" as never)).toThrow(/zscore/);
    });

    test("items must share criteria", () => {
        expect(() => zscoreNormalize([{id: "a", scores: {x: 1}}, {id: "b", scores: {y: 1}}])).toThrow(/"b"/);
        expect(zscoreNormalize([])).toEqual([]);
    });
});

describe("selectTop", () => {
    test("keeps exactly the top share: ceil(n·f)", () => {
        const items = makeItems(1000);
        const {kept, target} = selectTop(items, {kind: "fraction", value: 0.1});
        expect(target).toBe(100);
        expect(kept).toHaveLength(100);
        const keptIds = new Set(kept.map((i) => i.id));
        const minKept = Math.min(...kept.map((i) => i.consistency));
        for (const other of items.filter((i) => !keptIds.has(i.id)))
            expect(other.consistency).toBeLessThanOrEqual(minKept);
        // rank order
        for (let i = 1; i < kept.length; i++)
            expect(kept[i - 1].consistency).toBeGreaterThanOrEqual(kept[i].consistency);
    });

    test("share rounding: ceil with float slack", () => {
        expect(shareCount(30, 0.1)).toBe(3); // 0.1 * 30 = 3.0000000000000004
        expect(shareCount(1_000_000, 0.1)).toBe(100_000);
        expect(shareCount(5, 0.1)).toBe(1);
        expect(shareCount(4, 0.1)).toBe(1);
        expect(shareCount(0, 0.1)).toBe(0);
        expect(shareCount(7, 1)).toBe(7);
        expect(shareCount(100, 0.02)).toBe(2);
        expect(shareCount(1000, 0.07)).toBe(70); // 70.00000000000001
    });

    test("ties are broken by id: permuting the input gives the same output", () => {
        const items = makeItems(400);
        const reference = selectTop(items, {kind: "fraction", value: 0.1}).kept.map((i) => i.id);
        for (const seed of [1, 2, 3, 4]) {
            const shuffled = seededShuffle(items, seed);
            expect(selectTop(shuffled, {kind: "fraction", value: 0.1}).kept.map((i) => i.id)).toEqual(reference);
            expect(selectTop(shuffled, {kind: "count", value: 37}, {balance: 0.3}).kept.map((i) => i.id))
                .toEqual(selectTop(items, {kind: "count", value: 37}, {balance: 0.3}).kept.map((i) => i.id));
        }
    });

    test("equal consistency at the boundary: smaller id wins", () => {
        const items = [item("b", 1), item("a", 1), item("c", 1), item("z", 2)];
        expect(selectTop(items, {kind: "count", value: 2}).kept.map((i) => i.id)).toEqual(["z", "a"]);
    });

    test("count keeps min(N, n) and warns when N > n", () => {
        const items = makeItems(10);
        expect(selectTop(items, {kind: "count", value: 3}).kept).toHaveLength(3);
        const all = selectTop(items, {kind: "count", value: 50});
        expect(all.kept).toHaveLength(10);
        expect(all.warnings[0]).toMatch(/only 10/);
        expect(selectTop(items, {kind: "count", value: 0}).kept).toEqual([]);
    });

    test("threshold keeps every item with consistency ≥ θ", () => {
        const items = [item("a", 0.5), item("b", 0.4999), item("c", 0.9), item("d", -1)];
        expect(selectTop(items, {kind: "threshold", value: 0.5}).kept.map((i) => i.id)).toEqual(["c", "a"]);
        expect(selectTop(items, {kind: "threshold", value: 5}).kept).toEqual([]);
        expect(selectTop(items, {kind: "threshold", value: -2}).kept).toHaveLength(4);
    });

    test("balance caps a criterion's share and fills with the next best of others", () => {
        const items = [
            item("g1", 10, "general"), item("g2", 9, "general"), item("g3", 8, "general"), item("g4", 7, "general"),
            item("h1", 6, "honesty"), item("h2", 5, "honesty"), item("p1", 4, "helpfulness"), item("p2", 3, "helpfulness")
        ];
        const result = selectTop(items, {kind: "count", value: 4}, {balance: 0.5});
        expect(result.cap).toBe(2);
        expect(result.kept.map((i) => i.id)).toEqual(["g1", "g2", "h1", "h2"]);
        expect(result.skippedForBalance).toBe(2);
        expect(result.warnings).toEqual([]);

        // without the cap the top 4 are all "general"
        expect(selectTop(items, {kind: "count", value: 4}).kept.every((i) => i.criterion === "general")).toBe(true);
    });

    test("balance that cannot be met keeps fewer and warns", () => {
        const items = [item("g1", 10, "general"), item("g2", 9, "general"), item("g3", 8, "general"), item("h1", 1, "honesty")];
        const result = selectTop(items, {kind: "count", value: 4}, {balance: 0.5});
        expect(result.kept.map((i) => i.id)).toEqual(["g1", "g2", "h1"]);
        expect(result.warnings[0]).toMatch(/left only 3 of 4/);
    });

    test("balance in threshold mode never admits items below θ", () => {
        const items = [item("g1", 10, "general"), item("g2", 9, "general"), item("h1", 8, "honesty"), item("h2", 1, "honesty")];
        const result = selectTop(items, {kind: "threshold", value: 5}, {balance: 0.34});
        expect(result.target).toBe(3);
        expect(result.cap).toBe(1);
        expect(result.kept.map((i) => i.id)).toEqual(["g1", "h1"]);
    });

    test("rejects bad specs, duplicate ids and non-finite consistency", () => {
        const items = makeItems(5);
        expect(() => selectTop(items, {kind: "fraction", value: 0})).toThrow(RangeError);
        expect(() => selectTop(items, {kind: "fraction", value: 1.5})).toThrow(RangeError);
        expect(() => selectTop(items, {kind: "count", value: 2.5})).toThrow(RangeError);
        expect(() => selectTop(items, {kind: "count", value: 2}, {balance: 0})).toThrow(/balance/);
        expect(() => selectTop([item("a", 1), item("a", 2)], {kind: "count", value: 1})).toThrow(/duplicate id "a"/);
        expect(() => selectTop([item("a", Number.NaN)], {kind: "count", value: 1})).toThrow(/non-finite/);
    });
});

describe("splitValidation", () => {
    test("exact size, deterministic by id and seed, independent of order", () => {
        const items = makeItems(500);
        const split = splitValidation(items, 0.02, 7);
        expect(split.map((i) => i.id)).toEqual(items.map((i) => i.id));
        const validation = split.filter((i) => i.split === "validation").map((i) => i.id).sort();
        expect(validation).toHaveLength(10);
        expect(split.filter((i) => i.split === "train")).toHaveLength(490);

        const again = splitValidation(seededShuffle(items, 3), 0.02, 7);
        expect(again.filter((i) => i.split === "validation").map((i) => i.id).sort()).toEqual(validation);

        const otherSeed = splitValidation(items, 0.02, 8).filter((i) => i.split === "validation").map((i) => i.id).sort();
        expect(otherSeed).not.toEqual(validation);
    });

    test("fraction 0 puts everything in train; bad fractions and duplicate ids are rejected", () => {
        expect(splitValidation(makeItems(5), 0, 1).every((i) => i.split === "train")).toBe(true);
        expect(() => splitValidation(makeItems(5), 1, 1)).toThrow(RangeError);
        expect(() => splitValidation(makeItems(5), -0.1, 1)).toThrow(RangeError);
        expect(() => splitValidation([{id: "a"}, {id: "a"}], 0.5, 1)).toThrow(/duplicate/);
    });
});

describe("summarize / formatSummary", () => {
    test("counts per criterion and quantiles", () => {
        const items = [
            ...[1, 2, 3, 4, 5, 6].map((v) => item(`g${v}`, v, "general")),
            ...[7, 8, 9, 10, 11].map((v) => item(`h${v}`, v, "helpfulness"))
        ];
        const summary = summarize(items);
        expect(summary.total).toBe(11);
        expect(summary.perCriterion).toEqual({general: 6, helpfulness: 5});
        expect(Object.keys(summary.perCriterion)).toEqual(["general", "helpfulness"]);
        expect(summary.consistency).toEqual({min: 1, p10: 2, p50: 6, p90: 10, max: 11});
        expect(quantile([1, 2], 0.5)).toBe(1.5);

        const table = formatSummary(summary, "kept");
        expect(table).toBe([
            "kept",
            "criterion    count  share",
            "general          6  54.5%",
            "helpfulness      5  45.5%",
            "total           11",
            "",
            "consistency      min      p10      p50      p90      max",
            "              1.0000   2.0000   6.0000  10.0000  11.0000"
        ].join("\n"));
    });

    test("empty input", () => {
        const summary = summarize([]);
        expect(summary).toEqual({total: 0, perCriterion: {}});
        expect(formatSummary(summary)).toBe("criterion  count  share\ntotal          0");
    });
});

describe("parseKeep and friends", () => {
    test("valid specs", () => {
        expect(parseKeep("10%")).toEqual({kind: "fraction", value: 0.1});
        expect(parseKeep("2.5%")).toEqual({kind: "fraction", value: 0.025});
        expect(parseKeep("100%")).toEqual({kind: "fraction", value: 1});
        expect(parseKeep("500")).toEqual({kind: "count", value: 500});
        expect(parseKeep(" 7 ")).toEqual({kind: "count", value: 7});
    });

    test("bad specs get clear errors", () => {
        expect(() => parseKeep("10 %")).toThrow(/without a space/);
        expect(() => parseKeep("-3")).toThrow(/negative/);
        expect(() => parseKeep("abc")).toThrow(/percentage like "10%" or a count like "500"/);
        expect(() => parseKeep("150%")).toThrow(/at most 100%/);
        expect(() => parseKeep("0%")).toThrow(/greater than 0%/);
        expect(() => parseKeep("0")).toThrow(/at least 1/);
        expect(() => parseKeep("0.1")).toThrow(/whole number.*"10%"/);
        expect(() => parseKeep("")).toThrow(/invalid --keep/);
        expect(() => parseKeep("10%%")).toThrow(/invalid --keep/);
    });

    test("parseShare and parseThreshold", () => {
        expect(parseShare("2%", "--validation")).toBeCloseTo(0.02, 15);
        expect(parseShare("0.5", "--balance")).toBe(0.5);
        expect(parseShare("0%", "--validation", {allowZero: true})).toBe(0);
        expect(() => parseShare("0", "--balance")).toThrow(/--balance.*greater than 0%/);
        expect(() => parseShare("120%", "--validation")).toThrow(/at most 100%/);
        expect(() => parseShare("two", "--validation")).toThrow(/"2%"/);
        expect(parseThreshold("-1.5")).toBe(-1.5);
        expect(parseThreshold("2e-3")).toBe(0.002);
        expect(() => parseThreshold("high")).toThrow(/--threshold/);
    });
});
