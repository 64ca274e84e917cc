import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, test} from "vitest";
import {gguf, GGUFValueType} from "@huggingface/gguf";
import {
    alignTo, f16BitsToF32, f32ToF16Bits, float32ToF16Array, kv, layoutGguf, metaNumber, metaString, readGguf,
    readTensorF32, writeGguf, type GgufMetadata, type GgufTensorSpec
} from "../../src/gguf.js";
import {llamaSourceDir} from "../../scripts/llama-source.mjs";

let dir: string;
beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-gguf-"));
});
afterAll(() => {
    fs.rmSync(dir, {recursive: true, force: true});
});

/** Deterministic values so failures reproduce. */
function ramp(n: number, start = 0): Float32Array {
    return Float32Array.from({length: n}, (_, i) => Math.sin(start + i * 0.37) * 3);
}

function tensor(name: string, type: "F32" | "F16", shape: number[], values: Float32Array, chunk = values.length): GgufTensorSpec {
    return {
        name, type, shape,
        *data() {
            for (let i = 0; i < values.length; i += chunk)
                yield values.subarray(i, i + chunk);
        }
    };
}

const allTypes: GgufMetadata = new Map([
    ["general.architecture", kv.str("test")],
    ["t.u8", kv.u8(255)],
    ["t.i8", kv.i8(-128)],
    ["t.u16", kv.u16(65535)],
    ["t.i16", kv.i16(-32768)],
    ["t.u32", kv.u32(4294967295)],
    ["t.i32", kv.i32(-2147483648)],
    ["t.f32", kv.f32(0.1)],
    ["t.f64", kv.f64(0.1)],
    ["t.u64", kv.u64(18446744073709551615n)],
    ["t.i64", kv.i64(-9223372036854775808n)],
    ["t.bool.true", kv.bool(true)],
    ["t.bool.false", kv.bool(false)],
    ["t.str", kv.str("héllo <|im_start|> 🙂")],
    ["t.str.empty", kv.str("")],
    ["t.arr.u8", kv.arr("uint8", [0, 1, 255])],
    ["t.arr.i16", kv.arr("int16", [-1, 2, -32768])],
    ["t.arr.i32", kv.arr("int32", [1, -2, 3])],
    ["t.arr.u32", kv.arr("uint32", [7, 4294967295])],
    ["t.arr.f32", kv.arr("float32", new Float32Array([1.5, -0, NaN, Infinity]))],
    ["t.arr.f32.plain", kv.arr("float32", [0.25, -3])],
    ["t.arr.f64", kv.arr("float64", [Math.PI, -1e300])],
    ["t.arr.u64", kv.arr("uint64", [0n, 18446744073709551615n])],
    ["t.arr.i64", kv.arr("int64", [-5n, 9007199254740993n])],
    ["t.arr.bool", kv.arr("bool", [true, false, true])],
    ["t.arr.str", kv.arr("string", ["a", "", "ß∂", "<|endoftext|>"])],
    ["t.arr.empty", kv.arr("string", [])]
]);

describe("GGUF writer", () => {
    test("all metadata types parse back with @huggingface/gguf, with their types", async () => {
        const file = path.join(dir, "kv.gguf");
        await writeGguf(file, allTypes, []);
        const parsed = await gguf(file, {allowLocalFile: true, typedMetadata: true});
        const m = parsed.typedMetadata as Record<string, {value: unknown; type: GGUFValueType; subType?: GGUFValueType}>;
        expect(parsed.metadata.version).toBe(3);
        expect(parsed.metadata.kv_count).toBe(BigInt(allTypes.size));
        expect(parsed.metadata.tensor_count).toBe(0n);
        const expectKv = (key: string, type: GGUFValueType, value: unknown, subType?: GGUFValueType) => {
            expect(m[key].type, key).toBe(type);
            expect(m[key].value, key).toEqual(value);
            if (subType !== undefined)
                expect(m[key].subType, key).toBe(subType);
        };
        expectKv("t.u8", GGUFValueType.UINT8, 255);
        expectKv("t.i8", GGUFValueType.INT8, -128);
        expectKv("t.u16", GGUFValueType.UINT16, 65535);
        expectKv("t.i16", GGUFValueType.INT16, -32768);
        expectKv("t.u32", GGUFValueType.UINT32, 4294967295);
        expectKv("t.i32", GGUFValueType.INT32, -2147483648);
        expectKv("t.f32", GGUFValueType.FLOAT32, Math.fround(0.1));
        expectKv("t.f64", GGUFValueType.FLOAT64, 0.1);
        expectKv("t.u64", GGUFValueType.UINT64, 18446744073709551615n);
        expectKv("t.i64", GGUFValueType.INT64, -9223372036854775808n);
        expectKv("t.bool.true", GGUFValueType.BOOL, true);
        expectKv("t.bool.false", GGUFValueType.BOOL, false);
        expectKv("t.str", GGUFValueType.STRING, "héllo <|im_start|> 🙂");
        expectKv("t.str.empty", GGUFValueType.STRING, "");
        expectKv("t.arr.u8", GGUFValueType.ARRAY, [0, 1, 255], GGUFValueType.UINT8);
        expectKv("t.arr.i16", GGUFValueType.ARRAY, [-1, 2, -32768], GGUFValueType.INT16);
        expectKv("t.arr.i32", GGUFValueType.ARRAY, [1, -2, 3], GGUFValueType.INT32);
        expectKv("t.arr.u32", GGUFValueType.ARRAY, [7, 4294967295], GGUFValueType.UINT32);
        expectKv("t.arr.f32", GGUFValueType.ARRAY, [1.5, -0, NaN, Infinity], GGUFValueType.FLOAT32);
        expect(Object.is((m["t.arr.f32"].value as number[])[1], -0)).toBe(true);
        expectKv("t.arr.f32.plain", GGUFValueType.ARRAY, [0.25, -3], GGUFValueType.FLOAT32);
        expectKv("t.arr.f64", GGUFValueType.ARRAY, [Math.PI, -1e300], GGUFValueType.FLOAT64);
        expectKv("t.arr.u64", GGUFValueType.ARRAY, [0n, 18446744073709551615n], GGUFValueType.UINT64);
        expectKv("t.arr.i64", GGUFValueType.ARRAY, [-5n, 9007199254740993n], GGUFValueType.INT64);
        expectKv("t.arr.bool", GGUFValueType.ARRAY, [true, false, true], GGUFValueType.BOOL);
        expectKv("t.arr.str", GGUFValueType.ARRAY, ["a", "", "ß∂", "<|endoftext|>"], GGUFValueType.STRING);
        expectKv("t.arr.empty", GGUFValueType.ARRAY, [], GGUFValueType.STRING);
        // metadata order is the Map's order
        expect(Object.keys(m).slice(3)).toEqual([...allTypes.keys()]);
    });

    test("readGguf returns the same values, and rewriting them gives identical bytes", async () => {
        const file = path.join(dir, "kv2.gguf");
        await writeGguf(file, allTypes, []);
        const g = await readGguf(file);
        expect([...g.metadata.keys()]).toEqual([...allTypes.keys()]);
        for (const [key, value] of allTypes) {
            const back = g.metadata.get(key)!;
            expect(back.type, key).toBe(value.type);
            expect(Array.from(back.value as Iterable<unknown>), key).toEqual(Array.from(value.value as Iterable<unknown>));
        }
        expect(metaString(g, "t.str")).toBe("héllo <|im_start|> 🙂");
        expect(metaNumber(g, "t.u32")).toBe(4294967295);
        expect(metaNumber(g, "t.f32")).toBe(Math.fround(0.1));
        expect(() => metaNumber(g, "t.u64")).toThrow(/kv2\.gguf.*too large/);
        expect(() => metaString(g, "t.u8")).toThrow(/kv2\.gguf.*"t\.u8" is uint8, expected string/);
        expect(() => metaString(g, "missing.key")).toThrow(/"missing\.key" is missing/);
        const copy = path.join(dir, "kv3.gguf");
        await writeGguf(copy, g.metadata, []);
        expect(fs.readFileSync(copy).equals(fs.readFileSync(file))).toBe(true);
    });

    test("out-of-range and mistyped values are rejected before anything is written", async () => {
        const file = path.join(dir, "bad.gguf");
        await expect(writeGguf(file, new Map([["x", kv.u8(256)]]), [])).rejects.toThrow(/"x".*uint8/);
        await expect(writeGguf(file, new Map([["x", kv.i32(1.5)]]), [])).rejects.toThrow(/"x"/);
        await expect(writeGguf(file, new Map([["x", kv.arr("uint16", [1, -1])]]), [])).rejects.toThrow(/x\[1\]/);
        await expect(writeGguf(file, new Map([["general.alignment", kv.u64(32n)]]), [])).rejects.toThrow(/uint32/);
        expect(fs.existsSync(file)).toBe(false);
        expect(fs.readdirSync(dir).filter(f => f.startsWith("bad.gguf"))).toEqual([]);
    });

    for (const alignment of [32, 64, 1])
        test(`tensor offsets, padding and data with alignment ${alignment}`, async () => {
            const file = path.join(dir, `t-${alignment}.gguf`);
            const a = ramp(5);                 // 20 bytes: needs padding
            const b = ramp(3 * 7, 1);          // F16, 42 bytes, streamed in odd chunks
            const c = ramp(64, 2);             // 256 bytes: exactly aligned
            const tensors = [
                tensor("a", "F32", [5], a),
                tensor("blk.0.b", "F16", [7, 3], b, 4),
                tensor("c", "F32", [8, 2, 2, 2], c, 1)
            ];
            const meta: GgufMetadata = new Map([["general.architecture", kv.str("test")]]);
            await writeGguf(file, meta, tensors, {alignment});
            const layout = layoutGguf(meta, tensors, alignment);
            const bytes = fs.readFileSync(file);
            expect(bytes.length).toBe(layout.fileSize);
            expect(layout.header.length % alignment).toBe(0);

            const parsed = await gguf(file, {allowLocalFile: true});
            expect((parsed.metadata as Record<string, unknown>)["general.alignment"]).toBe(alignment === 32 ? undefined : alignment);
            expect(Number(parsed.tensorDataOffset)).toBe(layout.header.length);
            expect(parsed.tensorInfos.map(t => [t.name, t.n_dims, t.shape.map(Number), t.dtype, Number(t.offset)])).toEqual([
                ["a", 1, [5], 0, 0],
                ["blk.0.b", 2, [7, 3], 1, alignTo(20, alignment)],
                ["c", 4, [8, 2, 2, 2], 0, alignTo(20, alignment) + alignTo(42, alignment)]
            ]);
            // llama.cpp (gguf.cpp) requires each offset to equal the sum of the padded sizes before it,
            // and reads the padded size of the last tensor too
            expect(layout.fileSize).toBe(layout.header.length + alignTo(20, alignment) + alignTo(42, alignment) + alignTo(256, alignment));

            const g = await readGguf(file);
            expect(g.alignment).toBe(alignment);
            expect(await readTensorF32(file, g.tensors[0])).toEqual(a);
            expect(await readTensorF32(file, g.tensors[2])).toEqual(c);
            const bBack = await readTensorF32(file, g.tensors[1]);
            expect(Array.from(bBack)).toEqual(Array.from(b, x => f16BitsToF32(f32ToF16Bits(x))));
            // padding bytes are zeros
            const dataStart = g.dataOffset;
            expect(bytes.subarray(dataStart + 20, dataStart + alignTo(20, alignment)).every(x => x === 0)).toBe(true);
            expect(bytes.subarray(dataStart + alignTo(20, alignment) + 42, dataStart + alignTo(20, alignment) + alignTo(42, alignment)).every(x => x === 0)).toBe(true);
        });

    test("rewriting a real llama.cpp vocab GGUF reproduces its bytes (plus llama.cpp's data-section padding)", async () => {
        const original = path.join(llamaSourceDir(), "models", "ggml-vocab-qwen2.gguf");
        const g = await readGguf(original);
        const file = path.join(dir, "vocab-copy.gguf");
        await writeGguf(file, g.metadata, []);
        const a = fs.readFileSync(original);
        const b = fs.readFileSync(file);
        // gguf-py leaves out the padding when there are no tensors; ggml's gguf_write_out always pads.
        expect(b.length).toBe(alignTo(a.length, 32));
        expect(b.subarray(0, a.length).equals(a)).toBe(true);
        expect(b.subarray(a.length).every(x => x === 0)).toBe(true);
    });

    test("same input gives identical bytes", async () => {
        const f1 = path.join(dir, "det1.gguf");
        const f2 = path.join(dir, "det2.gguf");
        const t = () => [tensor("x", "F16", [10], ramp(10))];
        await writeGguf(f1, allTypes, t());
        await writeGguf(f2, allTypes, t());
        expect(fs.readFileSync(f1).equals(fs.readFileSync(f2))).toBe(true);
    });

    test("the final file appears only when complete; a failed write leaves neither it nor the temp file", async () => {
        const file = path.join(dir, "atomic.gguf");
        let sawTemp = false;
        const failing: GgufTensorSpec = {
            name: "w", type: "F32", shape: [4, 4],
            *data() {
                yield new Float32Array(8);
                expect(fs.existsSync(file)).toBe(false);
                sawTemp = fs.readdirSync(dir).some(f => f.startsWith(`atomic.gguf.tmp-${process.pid}-`));
                throw new Error("generator interrupted");
            }
        };
        await expect(writeGguf(file, new Map(), [failing])).rejects.toThrow(/atomic\.gguf.*generator interrupted/);
        expect(sawTemp).toBe(true);
        expect(fs.existsSync(file)).toBe(false);
        expect(fs.readdirSync(dir).filter(f => f.startsWith("atomic.gguf"))).toEqual([]);

        // too few / too many values are errors too
        await expect(writeGguf(file, new Map(), [tensor("w", "F32", [4, 4], new Float32Array(15))])).rejects.toThrow(/"w".*15.*16/);
        await expect(writeGguf(file, new Map(), [tensor("w", "F32", [4], new Float32Array(5))])).rejects.toThrow(/"w".*more than/);
        expect(fs.readdirSync(dir).filter(f => f.startsWith("atomic.gguf"))).toEqual([]);
    });

    test("a chunk buffer reused by the generator is written correctly", async () => {
        const file = path.join(dir, "reuse.gguf");
        const values = ramp(1000);
        const spec: GgufTensorSpec = {
            name: "r", type: "F32", shape: [1000],
            *data() {
                const buf = new Float32Array(7);
                for (let i = 0; i < 1000; i += 7) {
                    const n = Math.min(7, 1000 - i);
                    buf.set(values.subarray(i, i + n));
                    yield buf.subarray(0, n);
                }
            }
        };
        await writeGguf(file, new Map(), [spec]);
        const g = await readGguf(file);
        expect(await readTensorF32(file, g.tensors[0])).toEqual(values);
    });

    test("invalid tensor specs are rejected", () => {
        const meta = new Map();
        expect(() => layoutGguf(meta, [tensor("x".repeat(64), "F32", [1], new Float32Array(1))])).toThrow(/GGML_MAX_NAME/);
        expect(() => layoutGguf(meta, [tensor("x", "F32", [1, 1, 1, 1, 1], new Float32Array(1))])).toThrow(/dimensions/);
        expect(() => layoutGguf(meta, [tensor("x", "F32", [0], new Float32Array(0))])).toThrow(/positive/);
        expect(() => layoutGguf(meta, [tensor("x", "F32", [1], new Float32Array(1)), tensor("x", "F32", [1], new Float32Array(1))])).toThrow(/twice/);
        expect(() => layoutGguf(meta, [], 48)).toThrow(/power of 2/);
    });
});

describe("F16 conversion", () => {
    test("known values, round to nearest even", () => {
        const cases: [number, number][] = [
            [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800],
            [0.1, 0x2e66], [1 / 3, 0x3555], [65504, 0x7bff],
            [65519.99, 0x7bff],          // below the midpoint to inf
            [65520, 0x7c00],             // midpoint between 65504 (odd mantissa) and 2^16: ties to even → inf
            [1e6, 0x7c00], [-1e6, 0xfc00], [Infinity, 0x7c00], [-Infinity, 0xfc00],
            [2 ** -14, 0x0400],          // smallest normal
            [2 ** -24, 0x0001],          // smallest subnormal
            [2 ** -25, 0x0000],          // half of it: ties to even → 0
            [3 * 2 ** -26, 0x0001],      // above half → rounds up
            [3 * 2 ** -25, 0x0002],      // 1.5 units: ties to even → 2
            [5 * 2 ** -25, 0x0002],      // 2.5 units: ties to even → 2
            [1 + 2 ** -11, 0x3c00],      // midpoint 1 ↔ 1+2^-10: even is 1
            [1 + 3 * 2 ** -11, 0x3c02],  // midpoint 1+2^-10 ↔ 1+2^-9: even is 0x3c02
            [1 + 2 ** -11 + 2 ** -20, 0x3c01],
            [2 ** -14 - 2 ** -25, 0x0400] // largest-subnormal midpoint carries into the smallest normal
        ];
        for (const [x, h] of cases)
            expect(f32ToF16Bits(x).toString(16), `f16(${x})`).toBe(h.toString(16));
        expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
        expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
        expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    });

    test("every finite binary16 value converts to float32 and back unchanged", () => {
        for (let h = 0; h < 0x10000; h++) {
            if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0)
                continue; // NaN
            const x = f16BitsToF32(h);
            if (f32ToF16Bits(x) !== h)
                throw new Error(`0x${h.toString(16)} → ${x} → 0x${f32ToF16Bits(x).toString(16)}`);
        }
    });

    test("random float32 values round to the nearest binary16 (ties to even)", () => {
        let seed = 12345;
        const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
        const src = new Float32Array(20000);
        for (let i = 0; i < src.length; i++)
            src[i] = (rand() - 0.5) * 2 ** Math.floor(rand() * 44 - 28);
        const half = float32ToF16Array(src);
        for (let i = 0; i < src.length; i++) {
            const x = src[i];
            const h = half[i];
            expect(h).toBe(f32ToF16Bits(x));
            const err = Math.abs(f16BitsToF32(h) - x);
            for (const n of [h - 1, h + 1]) {
                if ((n & 0x7fff) > 0x7bff || (n & 0xffff) !== n || (n & 0x7fff) === 0x7fff)
                    continue;
                const nErr = Math.abs(f16BitsToF32(n) - x);
                // never farther than a neighbour; on a tie the chosen mantissa is even
                expect(err <= nErr || Number.isNaN(nErr), `x=${x} h=${h} n=${n}`).toBe(true);
                if (err === nErr && (h & 0x7fff) !== 0 && (n & 0x7fff) !== 0)
                    expect(h & 1).toBe(0);
            }
        }
    });
});

describe("GGUF reading errors name the file and the problem", () => {
    test("missing file", async () => {
        await expect(readGguf(path.join(dir, "nope.gguf"))).rejects.toThrow(/not found: .*nope\.gguf/);
    });

    test("not a GGUF file", async () => {
        const file = path.join(dir, "text.gguf");
        fs.writeFileSync(file, "hello, this is text");
        await expect(readGguf(file)).rejects.toThrow(/text\.gguf is not a GGUF file/);
        fs.writeFileSync(file, "");
        await expect(readGguf(file)).rejects.toThrow(/not a GGUF file/);
    });

    test("unsupported version", async () => {
        const file = path.join(dir, "v9.gguf");
        fs.writeFileSync(file, Buffer.from([0x47, 0x47, 0x55, 0x46, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        await expect(readGguf(file)).rejects.toThrow(/v9\.gguf has version 9/);
    });

    test("truncated in the header and in the tensor data", async () => {
        const file = path.join(dir, "full.gguf");
        await writeGguf(file, allTypes, [tensor("w", "F32", [100], ramp(100))]);
        const bytes = fs.readFileSync(file);
        const g = await readGguf(file);
        for (const cut of [6, 30, Math.floor(g.dataOffset / 2), g.dataOffset - 10, g.dataOffset + 200, bytes.length - 40]) {
            const cutFile = path.join(dir, `cut-${cut}.gguf`);
            fs.writeFileSync(cutFile, bytes.subarray(0, cut));
            await expect(readGguf(cutFile), `cut at ${cut}`).rejects.toThrow(new RegExp(`cut-${cut}\\.gguf.*truncated`));
        }
    });
});
