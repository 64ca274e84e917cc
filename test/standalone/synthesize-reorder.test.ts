// The pieces of stage 2a that need no model: the reorder buffer that turns finishing order back into
// attempt order, record ids, and the CLI's --stop escapes.
import {describe, expect, it} from "vitest";
import {unescapeStop} from "../../src/commands/synthesize.js";
import {seededShuffle} from "../../src/seed.js";
import {ReorderBuffer, synthesisId} from "../../src/synthesize.js";

describe("ReorderBuffer", () => {
    it("releases consecutive runs from the first index on", () => {
        const buffer = new ReorderBuffer<string>(10);
        expect(buffer.put(12, "c")).toEqual([]);
        expect(buffer.put(11, "b")).toEqual([]);
        expect(buffer.pending).toBe(2);
        expect(buffer.put(10, "a")).toEqual([[10, "a"], [11, "b"], [12, "c"]]);
        expect(buffer.next).toBe(13);
        expect(buffer.pending).toBe(0);
        expect(buffer.put(13, "d")).toEqual([[13, "d"]]);
    });

    it("yields every item exactly once, in index order, for any arrival order", () => {
        for (let seed = 0; seed < 20; seed++) {
            const order = seededShuffle(Array.from({length: 50}, (_, i) => i), seed);
            const buffer = new ReorderBuffer<number>();
            const released: number[] = [];
            for (const index of order) {
                for (const [i, item] of buffer.put(index, index * 2)) {
                    expect(item).toBe(i * 2);
                    released.push(i);
                }
            }
            expect(released).toEqual(Array.from({length: 50}, (_, i) => i));
        }
    });

    it("rejects an index it already has or has released", () => {
        const buffer = new ReorderBuffer<number>();
        buffer.put(0, 0);
        buffer.put(2, 2);
        expect(() => buffer.put(0, 0)).toThrow(RangeError);
        expect(() => buffer.put(2, 2)).toThrow(/item 2 was already received/);
        expect(() => new ReorderBuffer(1.5)).toThrow(RangeError);
    });
});

describe("synthesis records", () => {
    it("ids follow the attempt and sort with it below a million", () => {
        expect(synthesisId(0)).toBe("syn-000000");
        expect(synthesisId(42)).toBe("syn-000042");
        expect(synthesisId(1_234_567)).toBe("syn-1234567");
        expect([synthesisId(9), synthesisId(10), synthesisId(100)].sort()).toEqual(["syn-000009", "syn-000010", "syn-000100"]);
    });

    it("--stop understands the escapes a shell passes through literally", () => {
        expect(unescapeStop("\\n")).toBe("\n");
        expect(unescapeStop("a\\tb\\r")).toBe("a\tb\r");
        expect(unescapeStop("\\\\n")).toBe("\\n");
        expect(unescapeStop("\n")).toBe("\n");
        expect(unescapeStop("###")).toBe("###");
    });
});
