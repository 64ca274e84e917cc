import {describe, expect, test} from "vitest";
import {deriveSeed, SeededRandom, seededSample, seededShuffle} from "../../src/seed.js";

describe("deriveSeed", () => {
    test("pinned values: the hash must never change, or resumed runs would diverge", () => {
        // sha256("icon2\0<seed>\0<stage>\0<type>:<key>"), first 4 bytes big-endian, computed independently.
        expect(deriveSeed(0, "split", "a")).toBe(1372594808);
        expect(deriveSeed(42, "synthesize", 7)).toBe(3079445073);
    });

    test("is a uint32 and deterministic", () => {
        for (let i = 0; i < 100; i++) {
            const seed = deriveSeed(1234, "pairs", i);
            expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
            expect(deriveSeed(1234, "pairs", i)).toBe(seed);
        }
    });

    test("every part of the input matters", () => {
        const base = deriveSeed(1, "pairs", "id-1");
        expect(deriveSeed(2, "pairs", "id-1")).not.toBe(base);
        expect(deriveSeed(1, "synthesize", "id-1")).not.toBe(base);
        expect(deriveSeed(1, "pairs", "id-2")).not.toBe(base);
        // the key's type is part of the hash
        expect(deriveSeed(1, "pairs", 5)).not.toBe(deriveSeed(1, "pairs", "5"));
        // no ambiguity between stage and key boundaries
        expect(deriveSeed(1, "ab", "c")).not.toBe(deriveSeed(1, "a", "bc"));
    });

    test("spreads nearby keys", () => {
        const seeds = new Set<number>();
        for (let i = 0; i < 10_000; i++)
            seeds.add(deriveSeed(0, "synthesize", i));
        expect(seeds.size).toBeGreaterThan(9_990);
    });

    test("rejects bad input", () => {
        expect(() => deriveSeed(1.5, "x", 1)).toThrow(/integer/);
        expect(() => deriveSeed(Number.NaN, "x", 1)).toThrow(RangeError);
        expect(() => deriveSeed(1, "", 1)).toThrow(/stage/);
        expect(() => deriveSeed(1, "x", 0.5)).toThrow(/key/);
    });
});

describe("SeededRandom", () => {
    // The published mulberry32 reference implementation.
    function reference(seed: number): () => number {
        let a = seed >>> 0;
        return () => {
            a = (a + 0x6d2b79f5) | 0;
            let t = a;
            t = Math.imul(t ^ (t >>> 15), t | 1);
            t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
            return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
    }

    test("matches the mulberry32 reference", () => {
        for (const seed of [0, 1, 42, 0xffffffff]) {
            const ours = new SeededRandom(seed);
            const theirs = reference(seed);
            for (let i = 0; i < 50; i++)
                expect(ours.next()).toBe(theirs());
        }
    });

    test("nextInt stays in range and covers it", () => {
        const random = new SeededRandom(7);
        const counts = [0, 0, 0, 0, 0, 0];
        for (let i = 0; i < 6000; i++)
            counts[random.nextInt(6)]++;
        for (const count of counts)
            expect(count).toBeGreaterThan(800);
        expect(() => random.nextInt(0)).toThrow(RangeError);
        expect(() => random.nextInt(2.5)).toThrow(RangeError);
    });
});

describe("seededShuffle / seededSample", () => {
    const items = Array.from({length: 50}, (_, i) => i);

    test("shuffle is a deterministic permutation and leaves the input alone", () => {
        const a = seededShuffle(items, 99);
        expect(seededShuffle(items, 99)).toEqual(a);
        expect(a).not.toEqual(items);
        expect(a.slice().sort((x, y) => x - y)).toEqual(items);
        expect(items[0]).toBe(0);
        expect(seededShuffle(items, 100)).not.toEqual(a);
        expect(seededShuffle([], 1)).toEqual([]);
    });

    test("sample picks k distinct items in original order", () => {
        const sample = seededSample(items, 10, 5);
        expect(sample).toHaveLength(10);
        expect(new Set(sample).size).toBe(10);
        expect(sample).toEqual(sample.slice().sort((x, y) => x - y));
        expect(seededSample(items, 10, 5)).toEqual(sample);
        expect(seededSample(items, 100, 5)).toEqual(items);
        expect(() => seededSample(items, -1, 5)).toThrow(RangeError);
    });
});
