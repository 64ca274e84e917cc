import {execFileSync} from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, test} from "vitest";
import {checkFitsModel, readControlVector, readDirectionsDir, writeControlVector, type DirectionSet} from "../../src/control-vector.js";
import {kv, readGguf, writeGguf, type GgufTensorSpec, type GgufValue} from "../../src/gguf.js";
import {llamaSourceDir, packageDir} from "../../scripts/llama-source.mjs";
import {cacheDir, projectRoot} from "../helpers/paths.js";

let dir: string;
beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-cvec-"));
});
afterAll(() => {
    fs.rmSync(dir, {recursive: true, force: true});
});

/** Seeded pseudo-random set, unit directions, one NaN accuracy (no holdout at block 0). */
function makeSet(seed: number, nEmbd = 16, nLayer = 5, criterion = "helpfulness"): DirectionSet {
    let s = seed >>> 0;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
    const directions = Array.from({length: nLayer}, () => {
        const v = Float32Array.from({length: nEmbd}, rand);
        const n = Math.hypot(...v);
        return v.map(x => x / n);
    });
    return {
        criterion, positive: "Be as helpful as possible.", negative: "Be unhelpful. «ünïcode»",
        method: "pca",
        model: {name: "tiny qwen2", architecture: "qwen2", nEmbd, nLayer},
        directions,
        scales: Float32Array.from({length: nLayer}, (_, il) => 10 + il * 3.3 + rand()),
        accuracy: Float32Array.from({length: nLayer}, (_, il) => il === 0 ? NaN : 0.5 + rand() / 2),
        stimuliCount: 1024,
        icon2Version: "0.1.0"
    };
}

function bits(a: Float32Array): number[] {
    return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

function expectSameSet(a: DirectionSet, b: DirectionSet): void {
    expect({...a, directions: a.directions.map(bits), scales: bits(a.scales), accuracy: bits(a.accuracy)})
        .toEqual({...b, directions: b.directions.map(bits), scales: bits(b.scales), accuracy: bits(b.accuracy)});
}

/** What llama.cpp adds at strength 1 for block il: fround(s^l · u^l). */
function scaled(set: DirectionSet, il: number): Float32Array {
    return set.directions[il].map(x => x * set.scales[il]);
}

/** A control vector as llama-cvector-generator writes it (tools/cvector-generator/cvector-generator.cpp export_gguf). */
async function writePlain(file: string, vectors: Map<number, Float32Array>, extra: {meta?: [string, GgufValue][]; tensors?: GgufTensorSpec[]} = {}): Promise<void> {
    const meta = new Map<string, GgufValue>([
        ["general.architecture", kv.str("controlvector")],
        ["controlvector.model_hint", kv.str("llama")],
        ["controlvector.layer_count", kv.i32(vectors.size)],
        ...(extra.meta ?? [])
    ]);
    const tensors: GgufTensorSpec[] = [...vectors].map(([il, v]) => ({name: `direction.${il}`, type: "F32", shape: [v.length], data: () => [v]}));
    await writeGguf(file, meta, [...tensors, ...(extra.tensors ?? [])]);
}

describe("icon2 control vectors", () => {
    test("round trip is exact, block 0 and NaN accuracy included", async () => {
        const set = makeSet(1);
        const file = path.join(dir, "rt.gguf");
        await writeControlVector(file, set);
        expectSameSet(await readControlVector(file), set);
    });

    test("the file holds what llama.cpp expects: controlvector arch, model_hint, layer_count, F32 direction.1..n-1 = s·u", async () => {
        const set = makeSet(2);
        const file = path.join(dir, "layout.gguf");
        await writeControlVector(file, set);
        const g = await readGguf(file);
        expect(g.metadata.get("general.architecture")).toEqual(kv.str("controlvector"));
        expect(g.metadata.get("controlvector.model_hint")).toEqual(kv.str("qwen2"));
        expect(g.metadata.get("controlvector.layer_count")).toEqual(kv.i32(4));
        expect(g.tensors.map(t => [t.name, t.typeName, t.shape])).toEqual([1, 2, 3, 4].map(il => [`direction.${il}`, "F32", [16]]));
        const {readTensorF32} = await import("../../src/gguf.js");
        for (const t of g.tensors)
            expect(bits(await readTensorF32(file, t))).toEqual(bits(scaled(set, Number(t.name.split(".")[1]))));
    });

    test("writing is deterministic: the same set gives identical bytes", async () => {
        const a = path.join(dir, "det-a.gguf");
        const b = path.join(dir, "det-b.gguf");
        await writeControlVector(a, makeSet(3));
        await writeControlVector(b, makeSet(3));
        expect(crypto.createHash("sha256").update(fs.readFileSync(a)).digest("hex"))
            .toBe(crypto.createHash("sha256").update(fs.readFileSync(b)).digest("hex"));
    });

    test("invalid sets are refused with the reason", async () => {
        const file = path.join(dir, "invalid.gguf");
        await expect(writeControlVector(file, {...makeSet(4), directions: makeSet(4).directions.slice(1)})).rejects.toThrow(/invalid\.gguf.*4 directions for 5 blocks/);
        await expect(writeControlVector(file, {...makeSet(4), scales: new Float32Array(3)})).rejects.toThrow(/scales/);
        const nan = makeSet(4);
        nan.directions[2][0] = NaN;
        await expect(writeControlVector(file, nan)).rejects.toThrow(/direction 2 has a non-finite/);
        expect(fs.existsSync(file)).toBe(false);
    });

    test("a direction tensor edited by another tool is detected", async () => {
        const set = makeSet(5);
        const file = path.join(dir, "edited.gguf");
        await writeControlVector(file, set);
        const g = await readGguf(file);
        const t = g.tensors.find(x => x.name === "direction.3")!;
        const fd = fs.openSync(file, "r+");
        fs.writeSync(fd, Buffer.from(new Float32Array([123]).buffer), 0, 4, t.offset);
        fs.closeSync(fd);
        await expect(readControlVector(file)).rejects.toThrow(/edited\.gguf: tensor direction\.3 differs/);
    });
});

describe("plain llama.cpp control vectors", () => {
    test("read as unit directions × norms, criterion from the file name", async () => {
        const v1 = Float32Array.from([3, 4, 0, 0]);
        const v3 = Float32Array.from([0, -2, 0, 0]);
        const file = path.join(dir, "honesty.gguf");
        await writePlain(file, new Map([[1, v1], [2, new Float32Array(4)], [3, v3]]));
        const set = await readControlVector(file);
        expect(set.criterion).toBe("honesty");
        expect(set.model).toEqual({name: "", architecture: "llama", nEmbd: 4, nLayer: 4});
        expect(set.method).toBe("pca");
        expect(Array.from(set.scales)).toEqual([0, 5, 0, 2]);
        expect(set.directions.map(d => Array.from(d))).toEqual([[0, 0, 0, 0], [0.6, 0.8, 0, 0].map(Math.fround), [0, 0, 0, 0], [0, -1, 0, 0]]);
        expect(Array.from(set.accuracy).every(Number.isNaN)).toBe(true);
        expect(set.stimuliCount).toBe(0);
    });

    test("nLayer comes from controlvector.layer_count when later blocks have no tensor", async () => {
        const file = path.join(dir, "partial.gguf");
        await writePlain(file, new Map([[2, Float32Array.from([1, 0])]]), {meta: [["controlvector.layer_count", kv.i32(5)]]});
        const set = await readControlVector(file);
        expect(set.model.nLayer).toBe(6);
        expect(set.directions).toHaveLength(6);
        expect(Array.from(set.scales)).toEqual([0, 0, 1, 0, 0, 0]);
    });
});

describe("errors name the file and the problem", () => {
    test("wrong model: each mismatch is named", () => {
        const set = makeSet(6);
        expect(() => checkFitsModel(set, {architecture: "qwen2", nEmbd: 16, nLayer: 5}, "x.gguf")).not.toThrow();
        expect(() => checkFitsModel(set, {architecture: "llama", nEmbd: 16, nLayer: 5}, "/runs/a/directions/helpfulness.gguf"))
            .toThrow(/\/runs\/a\/directions\/helpfulness\.gguf.*architecture "qwen2" ≠ model's "llama"/);
        expect(() => checkFitsModel(set, {architecture: "qwen2", nEmbd: 896, nLayer: 5}, "h.gguf")).toThrow(/h\.gguf.*n_embd 16 ≠ model's 896/);
        expect(() => checkFitsModel(set, {architecture: "qwen2", nEmbd: 16, nLayer: 24}, "h.gguf")).toThrow(/n_layer 5 ≠ model's 24/);
        let message = "";
        try {
            checkFitsModel(set, {architecture: "llama", nEmbd: 32, nLayer: 6}, "h.gguf");
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).toMatch(/architecture.*n_embd.*n_layer/);
    });

    test("a GGUF that is not a control vector", async () => {
        const file = path.join(dir, "model.gguf");
        await writeGguf(file, new Map([["general.architecture", kv.str("qwen2")]]), [{name: "token_embd.weight", type: "F32", shape: [4, 2], data: () => [new Float32Array(8)]}]);
        await expect(readControlVector(file)).rejects.toThrow(/model\.gguf is not a control vector: general\.architecture is "qwen2"/);
        const noArch = path.join(dir, "noarch.gguf");
        await writeGguf(noArch, new Map(), []);
        await expect(readControlVector(noArch)).rejects.toThrow(/noarch\.gguf is not a control vector: general\.architecture is missing/);
    });

    test("truncated, missing and non-GGUF files", async () => {
        const file = path.join(dir, "trunc.gguf");
        await writeControlVector(file, makeSet(7));
        const bytes = fs.readFileSync(file);
        fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
        await expect(readControlVector(file)).rejects.toThrow(/trunc\.gguf is truncated/);
        fs.writeFileSync(file, bytes.subarray(0, 200));
        await expect(readControlVector(file)).rejects.toThrow(/trunc\.gguf.*truncated/);
        await expect(readControlVector(path.join(dir, "missing.gguf"))).rejects.toThrow(/not found: .*missing\.gguf/);
        const text = path.join(dir, "text.gguf");
        fs.writeFileSync(text, "{\"not\": \"gguf\"}");
        await expect(readControlVector(text)).rejects.toThrow(/text\.gguf is not a GGUF file/);
    });

    test("files llama.cpp's loader rejects are rejected here too", async () => {
        for (const [name, why] of await rejectedByLlamaCpp())
            await expect(readControlVector(path.join(dir, name)), name).rejects.toThrow(why);
    });
});

/** Files that break one check of common_control_vector_load_one each, with our expected message. */
async function rejectedByLlamaCpp(): Promise<[string, RegExp][]> {
    const v = Float32Array.from([1, 2, 3]);
    await writePlain(path.join(dir, "bad-zero.gguf"), new Map([[0, v], [1, v]]));
    await writePlain(path.join(dir, "bad-name.gguf"), new Map([[1, v]]), {tensors: [{name: "icon2.direction0", type: "F32", shape: [3], data: () => [v]}]});
    await writePlain(path.join(dir, "bad-f16.gguf"), new Map(), {tensors: [{name: "direction.1", type: "F16", shape: [3], data: () => [v]}]});
    await writePlain(path.join(dir, "bad-2d.gguf"), new Map(), {tensors: [{name: "direction.1", type: "F32", shape: [1, 3], data: () => [v]}]});
    await writePlain(path.join(dir, "bad-dims.gguf"), new Map([[1, v], [2, Float32Array.from([1, 2])]]));
    await writePlain(path.join(dir, "bad-empty.gguf"), new Map());
    return [
        ["bad-zero.gguf", /bad-zero\.gguf.*direction\.0/],
        ["bad-name.gguf", /bad-name\.gguf.*"icon2\.direction0" is not named direction/],
        ["bad-f16.gguf", /bad-f16\.gguf.*F16, llama\.cpp needs F32/],
        ["bad-2d.gguf", /bad-2d\.gguf.*needs 1-D/],
        ["bad-dims.gguf", /bad-dims\.gguf.*"direction\.2" has 2 values, earlier ones have 3/],
        ["bad-empty.gguf", /bad-empty\.gguf.*no direction tensors/]
    ];
}

// ---------------------------------------------------------------------------------------------
// llama.cpp's own loader, from the prebuilt libllama-common that node-llama-cpp ships

const binsDir = (() => {
    try {
        return path.join(packageDir("@node-llama-cpp/linux-x64"), "bins", "linux-x64");
    } catch {
        return undefined;
    }
})();
const canBuildLoader = process.platform === "linux" && process.arch === "x64" && binsDir !== undefined &&
    fs.existsSync(path.join(binsDir, "libllama-common.so")) && hasGxx();

function hasGxx(): boolean {
    try {
        execFileSync("g++", ["--version"], {stdio: "ignore"});
        return true;
    } catch {
        return false;
    }
}

/** Builds test/native/cvec-load.cpp once per source+library version into the cache; concurrent builds rename atomically. */
function buildLoader(): string {
    const source = path.join(projectRoot, "test", "native", "cvec-load.cpp");
    const libs = fs.readdirSync(binsDir!).filter(f => f.startsWith("libllama") || f.startsWith("libggml.") || f === "libggml-base.so");
    const key = crypto.createHash("sha256").update(fs.readFileSync(source)).update(libs.sort().join(",")).update(llamaSourceDir()).digest("hex").slice(0, 12);
    const exe = path.join(cacheDir, "native", `cvec-load-${key}`);
    if (fs.existsSync(exe))
        return exe;
    fs.mkdirSync(path.dirname(exe), {recursive: true});
    const src = llamaSourceDir();
    const llamaLib = libs.find(f => /^libllama\.v.*\.so$/.test(f)) ?? "libllama.so";
    const ggmlLib = libs.find(f => /^libggml\.v.*\.so$/.test(f)) ?? "libggml.so";
    const tmp = `${exe}.tmp-${process.pid}`;
    execFileSync("g++", [
        "-std=c++17", "-O1", `-I${src}/include`, `-I${src}/ggml/include`, `-I${src}/common`, source, "-o", tmp,
        `-L${binsDir}`, "-l:libllama-common.so", `-l:${llamaLib}`, `-l:${ggmlLib}`, "-l:libggml-base.so", `-Wl,-rpath,${binsDir}`
    ], {stdio: ["ignore", "ignore", "pipe"]});
    fs.renameSync(tmp, exe);
    return exe;
}

interface LoaderResult {nEmbd: number; data: number[]}

/** Runs common_control_vector_load on (file, strength) pairs; data as float32 bit patterns. */
function llamaLoad(exe: string, ...args: (string | number)[]): LoaderResult {
    const out = execFileSync(exe, args.map(String), {encoding: "utf8", stdio: ["ignore", "pipe", "pipe"]});
    const [nEmbd, count, ...rest] = out.trim().split("\n");
    expect(rest).toHaveLength(Number(count));
    return {nEmbd: Number(nEmbd), data: rest.map(h => parseInt(h, 16))};
}

function f32(bitsValue: number): number {
    return new Float32Array(new Uint32Array([bitsValue]).buffer)[0];
}

describe.skipIf(!canBuildLoader)("llama.cpp's common_control_vector_load (prebuilt libllama-common.so)", () => {
    let exe: string;
    beforeAll(() => {
        exe = buildLoader();
    }, 120_000);

    test("loads our file: n_embd, and data[(il-1)·n_embd + k] = s^l·u^l bit-exactly", async () => {
        const set = makeSet(8, 24, 6);
        const file = path.join(dir, "native.gguf");
        await writeControlVector(file, set);
        const r = llamaLoad(exe, file, 1);
        expect(r.nEmbd).toBe(24);
        const expected = Array.from({length: 5}, (_, i) => bits(scaled(set, i + 1))).flat();
        expect(r.data).toEqual(expected);
        // and what we read back reproduces it
        const back = await readControlVector(file);
        expect(Array.from({length: 5}, (_, i) => bits(scaled(back, i + 1))).flat()).toEqual(r.data);
    });

    test("strength scales and several files add, as icon2's γ would", async () => {
        const a = makeSet(9, 8, 4, "a");
        const b = makeSet(10, 8, 4, "b");
        const fa = path.join(dir, "native-a.gguf");
        const fb = path.join(dir, "native-b.gguf");
        await writeControlVector(fa, a);
        await writeControlVector(fb, b);
        const r = llamaLoad(exe, fa, 0.5, fb, -2);
        expect(r.nEmbd).toBe(8);
        const expected: number[] = [];
        for (let il = 1; il < 4; il++) {
            const sa = scaled(a, il);
            const sb = scaled(b, il);
            for (let k = 0; k < 8; k++)
                expected.push(Math.fround(Math.fround(0 + Math.fround(sa[k] * 0.5)) + Math.fround(sb[k] * -2)));
        }
        expect(r.data.map(f32)).toEqual(expected);
    });

    test("a plain control vector reads the same in both", async () => {
        const file = path.join(dir, "native-plain.gguf");
        const v1 = Float32Array.from([0.5, -1, 2]);
        const v2 = Float32Array.from([3, 0, -4]);
        await writePlain(file, new Map([[1, v1], [2, v2]]));
        const r = llamaLoad(exe, file, 1);
        expect(r).toEqual({nEmbd: 3, data: [...bits(v1), ...bits(v2)]});
        const set = await readControlVector(file);
        expect(Array.from(scaled(set, 2))).toEqual(Array.from(v2));
    });

    test("every file our reader rejects for a loader check is rejected by llama.cpp too", async () => {
        for (const [name] of await rejectedByLlamaCpp()) {
            const r = llamaLoad(exe, path.join(dir, name), 1);
            if (name === "bad-empty.gguf")
                expect(r, name).toEqual({nEmbd: -1, data: []}); // "no direction tensors" → nothing valid
            else
                expect(r.nEmbd, name).toBe(-1);
        }
    });
});

test("readDirectionsDir reads all *.gguf by criterion and says when there are none", async () => {
    const d = path.join(dir, "directions");
    fs.mkdirSync(d);
    await expect(readDirectionsDir(d)).rejects.toThrow(/no control vectors \(\*\.gguf\) in .*directions/);
    await expect(readDirectionsDir(path.join(dir, "nowhere"))).rejects.toThrow(/directions folder not found: .*nowhere/);
    await writeControlVector(path.join(d, "helpfulness.gguf"), makeSet(11, 8, 3, "helpfulness"));
    await writeControlVector(path.join(d, "honesty.gguf"), makeSet(12, 8, 3, "honesty"));
    fs.writeFileSync(path.join(d, "notes.txt"), "ignored");
    const sets = await readDirectionsDir(d);
    expect([...sets.keys()]).toEqual(["helpfulness", "honesty"]);
    expectSameSet(sets.get("honesty")!, makeSet(12, 8, 3, "honesty"));
    await writeControlVector(path.join(d, "zz-copy.gguf"), makeSet(13, 8, 3, "honesty"));
    await expect(readDirectionsDir(d)).rejects.toThrow(/"honesty" appears in both .*honesty\.gguf and .*zz-copy\.gguf/);
});
