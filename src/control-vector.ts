// One llama.cpp control-vector GGUF per criterion, readable by llama.cpp's own loader
// (`common_control_vector_load_one` in common/common.cpp) and by repeng, plus icon2's metadata.
//
// File layout (written in this order, so the same set always gives the same bytes):
//   general.architecture          "controlvector"
//   controlvector.model_hint      model architecture string ("qwen2", "llama", ...)
//   controlvector.layer_count     int32, n_layer - 1 (the number of direction tensors, as llama-cvector-generator writes it)
//   icon2.version, icon2.criterion, icon2.positive, icon2.negative, icon2.method ("pca" | "mean"),
//   icon2.model.name, icon2.model.architecture, icon2.model.n_embd (uint32), icon2.model.n_layer (uint32),
//   icon2.stimuli_count (uint32),
//   icon2.scale                   float32[n_layer], s^l, index = block il
//   icon2.accuracy                float32[n_layer], held-out separation accuracy, NaN when none
//   icon2.unit_direction.<il>     float32[n_embd] for il = 0..n_layer-1: the unit direction u^l, exactly
//   tensors direction.<il>        F32 [n_embd] for il = 1..n_layer-1, holding fround(s^l · u^l)
//
// Why unit directions are kept as metadata arrays, block 0 included: llama.cpp's loader rejects any
// tensor not named `direction.<il>` with il >= 1, so u^0 cannot be a tensor; and u^l cannot be
// recovered bit-exactly from s^l·u^l by division, so keeping all u^l makes the round trip exact.
// On reading, each direction.<il> must still equal fround(s^l·u^l); a file edited by another tool
// fails that check with a message instead of silently disagreeing with itself.
//
// Because direction.<il> = s^l·u^l, llama.cpp strength 1.0 (`--control-vector-scaled file:1.0`)
// adds the same vector as icon2 γ = 1.0.
import fs from "node:fs";
import path from "node:path";
import {kv, readGguf, readTensorF32, writeGguf, type GgufFile, type GgufTensorSpec, type GgufValue} from "./gguf.js";

export interface DirectionSet {            // one criterion
    criterion: string; positive: string; negative: string;
    method: "pca" | "mean";
    model: {name: string; architecture: string; nEmbd: number; nLayer: number};
    /** unit directions u^l, index = block il (0..nLayer-1) */
    directions: Float32Array[];
    /** s^l = mean ‖h^l‖ over stimuli, index = il */
    scales: Float32Array;
    /** held-out separation accuracy per il (NaN when no holdout) */
    accuracy: Float32Array;
    stimuliCount: number;
    icon2Version: string;
}

/** Tensor name for block il, as llama.cpp's loader parses it (`direction.<il>`, il >= 1). */
export function directionTensorName(il: number): string {
    return `direction.${il}`;
}

function checkSet(set: DirectionSet, file: string): void {
    const {nEmbd, nLayer} = set.model;
    const bad = (why: string) => new Error(`cannot write control vector ${file}: ${why}`);
    if (!Number.isInteger(nEmbd) || nEmbd < 1)
        throw bad(`model.nEmbd ${nEmbd} is not a positive integer`);
    if (!Number.isInteger(nLayer) || nLayer < 2)
        throw bad(`model.nLayer ${nLayer} must be at least 2 (block 0 cannot be steered by llama.cpp)`);
    if (set.method !== "pca" && set.method !== "mean")
        throw bad(`method "${String(set.method)}" is not "pca" or "mean"`);
    if (set.model.architecture === "")
        throw bad("model.architecture is empty; llama.cpp's model_hint needs it");
    if (!Number.isInteger(set.stimuliCount) || set.stimuliCount < 0)
        throw bad(`stimuliCount ${set.stimuliCount} is not a non-negative integer`);
    if (set.directions.length !== nLayer)
        throw bad(`${set.directions.length} directions for ${nLayer} blocks (need one per block il = 0..${nLayer - 1})`);
    if (set.scales.length !== nLayer || set.accuracy.length !== nLayer)
        throw bad(`scales (${set.scales.length}) and accuracy (${set.accuracy.length}) must have n_layer = ${nLayer} entries`);
    set.directions.forEach((u, il) => {
        if (u.length !== nEmbd)
            throw bad(`direction ${il} has ${u.length} values, n_embd is ${nEmbd}`);
        if (!u.every(Number.isFinite))
            throw bad(`direction ${il} has a non-finite value`);
    });
    if (!set.scales.every(s => Number.isFinite(s) && s >= 0))
        throw bad("scales must be finite and >= 0");
}

/** fround(s·u): the vector llama.cpp adds at strength 1.0. */
function scaledDirection(u: Float32Array, s: number): Float32Array {
    const out = new Float32Array(u.length);
    for (let k = 0; k < u.length; k++)
        out[k] = s * u[k];
    return out;
}

/** Writes `set` atomically (temp file + rename); same set → same bytes. */
export async function writeControlVector(file: string, set: DirectionSet): Promise<void> {
    checkSet(set, file);
    const {nEmbd, nLayer} = set.model;
    const metadata = new Map<string, GgufValue>([
        ["general.architecture", kv.str("controlvector")],
        ["controlvector.model_hint", kv.str(set.model.architecture)],
        ["controlvector.layer_count", kv.i32(nLayer - 1)],
        ["icon2.version", kv.str(set.icon2Version)],
        ["icon2.criterion", kv.str(set.criterion)],
        ["icon2.positive", kv.str(set.positive)],
        ["icon2.negative", kv.str(set.negative)],
        ["icon2.method", kv.str(set.method)],
        ["icon2.model.name", kv.str(set.model.name)],
        ["icon2.model.architecture", kv.str(set.model.architecture)],
        ["icon2.model.n_embd", kv.u32(nEmbd)],
        ["icon2.model.n_layer", kv.u32(nLayer)],
        ["icon2.stimuli_count", kv.u32(set.stimuliCount)],
        ["icon2.scale", kv.arr("float32", set.scales)],
        ["icon2.accuracy", kv.arr("float32", set.accuracy)]
    ]);
    for (let il = 0; il < nLayer; il++)
        metadata.set(`icon2.unit_direction.${il}`, kv.arr("float32", set.directions[il]));
    const tensors: GgufTensorSpec[] = [];
    for (let il = 1; il < nLayer; il++)
        tensors.push({
            name: directionTensorName(il), type: "F32", shape: [nEmbd],
            data: () => [scaledDirection(set.directions[il], set.scales[il])]
        });
    await writeGguf(file, metadata, tensors);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Index of a `direction.<il>` tensor, or undefined for any other name. */
function directionIndex(name: string): number | undefined {
    const m = /^direction\.(\d+)$/.exec(name);
    return m === null ? undefined : Number(m[1]);
}

/**
 * The checks of llama.cpp's `common_control_vector_load_one` (common/common.cpp), so a file that
 * reads here also loads there: every tensor is named `direction.<il>` with il >= 1, is F32 and 1-D,
 * and all have the same length (n_embd). Returns the tensors by il.
 */
function checkLoadable(g: GgufFile): Map<number, {readonly tensor: GgufFile["tensors"][number]}> {
    const fail = (why: string) => new Error(`${g.file} is not a loadable control vector: ${why}`);
    const arch = g.metadata.get("general.architecture");
    if (arch?.type !== "string" || arch.value !== "controlvector")
        throw new Error(`${g.file} is not a control vector: general.architecture is ${arch === undefined ? "missing" : `"${String(arch.value)}"`}, expected "controlvector" (pass a file written by icon2 or llama-cvector-generator)`);
    if (g.tensors.length === 0)
        throw fail("it has no direction tensors");
    const byLayer = new Map<number, {readonly tensor: GgufFile["tensors"][number]}>();
    let nEmbd: number | undefined;
    for (const t of g.tensors) {
        const il = directionIndex(t.name);
        if (il === undefined)
            throw fail(`tensor "${t.name}" is not named direction.<layer>`);
        if (il === 0)
            throw fail("it has direction.0 (llama.cpp cannot steer block 0 and rejects the file)");
        if (t.typeName !== "F32")
            throw fail(`tensor "${t.name}" is ${t.typeName}, llama.cpp needs F32`);
        if (t.shape.length !== 1)
            throw fail(`tensor "${t.name}" has shape [${t.shape.join(", ")}], llama.cpp needs 1-D`);
        if (nEmbd !== undefined && t.shape[0] !== nEmbd)
            throw fail(`tensor "${t.name}" has ${t.shape[0]} values, earlier ones have ${nEmbd}`);
        nEmbd = t.shape[0];
        byLayer.set(il, {tensor: t});
    }
    return byLayer;
}

function metaOf(g: GgufFile, key: string, type: GgufValue["type"]): GgufValue {
    const v = g.metadata.get(key);
    if (v === undefined)
        throw new Error(`${g.file}: icon2 metadata "${key}" is missing; the file is damaged, re-run the directions stage`);
    if (v.type !== type)
        throw new Error(`${g.file}: icon2 metadata "${key}" is ${v.type}, expected ${type}`);
    return v;
}
const str = (g: GgufFile, key: string) => metaOf(g, key, "string").value as string;
const u32 = (g: GgufFile, key: string) => metaOf(g, key, "uint32").value as number;
function f32Array(g: GgufFile, key: string, length: number): Float32Array {
    const v = metaOf(g, key, "array");
    if (v.type !== "array" || v.itemType !== "float32" || v.value.length !== length)
        throw new Error(`${g.file}: icon2 metadata "${key}" must be a float32 array of length ${length}`);
    return Float32Array.from(v.value as ArrayLike<number>);
}

async function readIcon2(g: GgufFile, byLayer: Map<number, {readonly tensor: GgufFile["tensors"][number]}>): Promise<DirectionSet> {
    const nEmbd = u32(g, "icon2.model.n_embd");
    const nLayer = u32(g, "icon2.model.n_layer");
    const method = str(g, "icon2.method");
    if (method !== "pca" && method !== "mean")
        throw new Error(`${g.file}: icon2.method "${method}" is not "pca" or "mean"`);
    const scales = f32Array(g, "icon2.scale", nLayer);
    const accuracy = f32Array(g, "icon2.accuracy", nLayer);
    const directions = Array.from({length: nLayer}, (_, il) => f32Array(g, `icon2.unit_direction.${il}`, nEmbd));
    // the tensors llama.cpp will use must be exactly what icon2 wrote from these unit directions
    for (let il = 1; il < nLayer; il++) {
        const entry = byLayer.get(il);
        if (entry === undefined)
            throw new Error(`${g.file}: tensor direction.${il} is missing (icon2 writes il = 1..${nLayer - 1})`);
        const stored = await readTensorF32(g.file, entry.tensor);
        const expected = scaledDirection(directions[il], scales[il]);
        if (stored.length !== nEmbd || stored.some((x, k) => x !== expected[k]))
            throw new Error(`${g.file}: tensor direction.${il} differs from icon2.scale[${il}] × icon2.unit_direction.${il}; the file was changed by another tool — delete its icon2.* keys to read it as a plain control vector, or re-run the directions stage`);
    }
    if (byLayer.size !== nLayer - 1)
        throw new Error(`${g.file}: ${byLayer.size} direction tensors but icon2.model.n_layer is ${nLayer}`);
    return {
        criterion: str(g, "icon2.criterion"),
        positive: str(g, "icon2.positive"),
        negative: str(g, "icon2.negative"),
        method,
        model: {name: str(g, "icon2.model.name"), architecture: str(g, "icon2.model.architecture"), nEmbd, nLayer},
        directions,
        scales,
        accuracy,
        stimuliCount: u32(g, "icon2.stimuli_count"),
        icon2Version: str(g, "icon2.version")
    };
}

/**
 * A control vector written by llama-cvector-generator, repeng or another tool: u^l = direction.<il>
 * normalized, s^l = its norm (so s^l·u^l reproduces it to float rounding), missing blocks (block 0
 * always) get a zero direction and scale 0. nLayer = controlvector.layer_count + 1 when present and
 * consistent, else highest il + 1. Method "pca" (cvector-generator's default), accuracy NaN,
 * stimuliCount 0, empty prompts and version, criterion = file name without ".gguf".
 */
async function readPlain(g: GgufFile, byLayer: Map<number, {readonly tensor: GgufFile["tensors"][number]}>): Promise<DirectionSet> {
    const maxIl = Math.max(...byLayer.keys());
    const nEmbd = byLayer.get(maxIl)!.tensor.shape[0];
    const layerCount = g.metadata.get("controlvector.layer_count");
    const declared = layerCount !== undefined && layerCount.type !== "array" && typeof layerCount.value !== "string" ? Number(layerCount.value) : NaN;
    const nLayer = Number.isInteger(declared) && declared >= maxIl ? declared + 1 : maxIl + 1;
    const hint = g.metadata.get("controlvector.model_hint");
    const architecture = hint?.type === "string" ? hint.value : "";
    const directions: Float32Array[] = [];
    const scales = new Float32Array(nLayer);
    for (let il = 0; il < nLayer; il++) {
        const entry = byLayer.get(il);
        if (entry === undefined) {
            directions.push(new Float32Array(nEmbd));
            continue;
        }
        const v = await readTensorF32(g.file, entry.tensor);
        let sum = 0;
        for (const x of v)
            sum += x * x;
        const norm = Math.sqrt(sum);
        scales[il] = norm;
        directions.push(norm === 0 ? new Float32Array(nEmbd) : v.map(x => x / norm));
    }
    return {
        criterion: path.basename(g.file).replace(/\.gguf$/i, ""),
        positive: "",
        negative: "",
        method: "pca",
        model: {name: "", architecture, nEmbd, nLayer},
        directions,
        scales,
        accuracy: new Float32Array(nLayer).fill(NaN),
        stimuliCount: 0,
        icon2Version: ""
    };
}

/** Reads an icon2 control vector exactly, or a plain llama.cpp one (see readPlain); rejects anything llama.cpp would not load. */
export async function readControlVector(file: string): Promise<DirectionSet> {
    const g = await readGguf(file);
    const byLayer = checkLoadable(g);
    return g.metadata.has("icon2.version") ? readIcon2(g, byLayer) : readPlain(g, byLayer);
}

/** throws an Error naming the file and exactly what does not match (architecture, n_embd, n_layer) */
export function checkFitsModel(set: DirectionSet, model: {architecture: string; nEmbd: number; nLayer: number}, file: string): void {
    const mismatches: string[] = [];
    if (set.model.architecture !== model.architecture)
        mismatches.push(`architecture "${set.model.architecture}" ≠ model's "${model.architecture}"`);
    if (set.model.nEmbd !== model.nEmbd)
        mismatches.push(`n_embd ${set.model.nEmbd} ≠ model's ${model.nEmbd}`);
    if (set.model.nLayer !== model.nLayer)
        mismatches.push(`n_layer ${set.model.nLayer} ≠ model's ${model.nLayer}`);
    if (mismatches.length > 0)
        throw new Error(`control vector ${file} (criterion "${set.criterion}"${set.model.name ? `, made for ${set.model.name}` : ""}) does not fit this model: ${mismatches.join("; ")}. Extract the directions again with this model.`);
}

/** All `*.gguf` control vectors in `dir`, keyed by criterion, in file-name order. */
export async function readDirectionsDir(dir: string): Promise<Map<string, DirectionSet>> {
    let names: string[];
    try {
        names = await fs.promises.readdir(dir);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
            throw new Error(`directions folder not found: ${dir} (run the directions stage first, or pass the folder that holds <criterion>.gguf files)`);
        throw err;
    }
    const files = names.filter(n => n.toLowerCase().endsWith(".gguf")).sort();
    if (files.length === 0)
        throw new Error(`no control vectors (*.gguf) in ${dir}; run the directions stage first, or pass the folder that holds <criterion>.gguf files`);
    const sets = new Map<string, DirectionSet>();
    const fileOf = new Map<string, string>();
    for (const name of files) {
        const file = path.join(dir, name);
        const set = await readControlVector(file);
        const earlier = fileOf.get(set.criterion);
        if (earlier !== undefined)
            throw new Error(`criterion "${set.criterion}" appears in both ${earlier} and ${file}; keep one`);
        fileOf.set(set.criterion, file);
        sets.set(set.criterion, set);
    }
    return sets;
}
