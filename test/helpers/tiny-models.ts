// Tiny random-weight chat models with REAL tokenizers and chat templates, built from llama.cpp's
// vocab-only GGUFs (models/ggml-vocab-*.gguf in the pinned source) into the per-checkout cache.
// They decode in milliseconds at threads: 1, tokenize exactly like Qwen2 / Llama 3, and render real
// chat templates; the weights are noise, so their text is gibberish but deterministic.
//
// Tensors (ggml order, ne[0] first), per architecture — as llama.cpp's load_arch_tensors
// (src/models/qwen2.cpp, src/models/llama.cpp) expects them:
//   token_embd.weight      [n_embd, n_vocab]   F16
//   output_norm.weight     [n_embd]            F32, ones
//   output.weight          [n_embd, n_vocab]   F16
//   blk.<i>.attn_norm.weight [n_embd]          F32, ones
//   blk.<i>.attn_q.weight  [n_embd, n_embd]    F32
//   blk.<i>.attn_k.weight  [n_embd, n_kv]      F32   (n_kv = head_dim · n_head_kv)
//   blk.<i>.attn_v.weight  [n_embd, n_kv]      F32
//   blk.<i>.attn_q.bias    [n_embd]            F32   qwen2 only
//   blk.<i>.attn_k.bias    [n_kv]              F32   qwen2 only
//   blk.<i>.attn_v.bias    [n_kv]              F32   qwen2 only
//   blk.<i>.attn_output.weight [n_embd, n_embd] F32
//   blk.<i>.ffn_norm.weight [n_embd]           F32, ones
//   blk.<i>.ffn_gate.weight [n_embd, n_ff]     F32
//   blk.<i>.ffn_up.weight  [n_embd, n_ff]      F32
//   blk.<i>.ffn_down.weight [n_ff, n_embd]     F32
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {SeededRandom} from "../../src/seed.js";
import {kv, readGguf, writeGguf, type GgufTensorSpec, type GgufValue} from "../../src/gguf.js";
import {llamaSourceDir} from "../../scripts/llama-source.mjs";
import {cacheDir} from "./paths.js";

export type TinyModelKind = "qwen2" | "llama3";

export interface TinyModelSpec {
    readonly arch: "qwen2" | "llama";
    readonly name: string;
    /** vocab-only GGUF under <llama.cpp>/models */
    readonly vocab: string;
    /** chat template under <llama.cpp>/models/templates, used when the vocab has none */
    readonly template: string;
    readonly nLayer: number;
    readonly nEmbd: number;
    readonly nHead: number;
    readonly nHeadKv: number;
    readonly nFf: number;
    readonly nCtx: number;
    readonly ropeFreqBase: number;
    readonly rmsEps: number;
    readonly qkvBias: boolean;
    /** overrides of the vocab's special token ids (a real instruct GGUF's values) */
    readonly eosTokenId?: number;
    readonly seed: number;
}

/** Bump when the recipe changes in a way the spec does not show: the cache key includes it. */
const RECIPE_VERSION = 1;

export const tinyModelSpecs: Readonly<Record<TinyModelKind, TinyModelSpec>> = {
    qwen2: {
        arch: "qwen2", name: "icon2-tiny-qwen2", vocab: "ggml-vocab-qwen2.gguf", template: "Qwen-Qwen2.5-7B-Instruct.jinja",
        nLayer: 6, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 512, ropeFreqBase: 1_000_000, rmsEps: 1e-6,
        qkvBias: true, seed: 0x51e2
    },
    llama3: {
        arch: "llama", name: "icon2-tiny-llama3", vocab: "ggml-vocab-llama-bpe.gguf", template: "meta-llama-Llama-3.1-8B-Instruct.jinja",
        nLayer: 6, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 512, ropeFreqBase: 500_000, rmsEps: 1e-5,
        // Llama-3.1-Instruct GGUFs end a turn with <|eot_id|> (128009); the base vocab says <|end_of_text|>
        qkvBias: false, eosTokenId: 128009, seed: 0x11a3
    }
};

/** Standard deviations of the random weights: logits come out with σ ≈ √64 · 0.08 ≈ 0.6, so greedy picks vary by position. */
const SIGMA = {embedding: 0.5, matrix: 0.08, bias: 0.02} as const;

/** mulberry32 (src/seed.ts): small, fast, deterministic across platforms. */
function mulberry32(seed: number): () => number {
    const rng = new SeededRandom(seed);
    return () => rng.next();
}

/** Tensor seeds derive from (model seed, tensor name), so one tensor's values don't depend on the others' order. */
function tensorSeed(seed: number, name: string): number {
    return crypto.createHash("sha256").update(`${seed}:${name}`).digest().readUInt32LE(0);
}

/** Normal(0, σ) values via Box–Muller, yielded in chunks of up to 1 Mi values. */
export function* normalChunks(count: number, sigma: number, seed: number): Generator<Float32Array> {
    const rand = mulberry32(seed);
    const chunkSize = 1 << 20;
    for (let done = 0; done < count; done += chunkSize) {
        const out = new Float32Array(Math.min(chunkSize, count - done));
        for (let i = 0; i < out.length; i += 2) {
            const u = 1 - rand(); // (0, 1]: log is finite
            const r = sigma * Math.sqrt(-2 * Math.log(u));
            const theta = 2 * Math.PI * rand();
            out[i] = r * Math.cos(theta);
            if (i + 1 < out.length)
                out[i + 1] = r * Math.sin(theta);
        }
        yield out;
    }
}

function constant(count: number, value: number): () => Iterable<Float32Array> {
    return () => [new Float32Array(count).fill(value)];
}

/**
 * The tensor list llama.cpp loads for `spec.arch` (see the header comment). Embedding and output
 * matrices are F16 (they dominate the size: 151,936 × 64); block matrices stay F32 so steering
 * comparisons are not blurred by half precision.
 */
export function modelTensors(spec: TinyModelSpec, nVocab: number): GgufTensorSpec[] {
    const headDim = spec.nEmbd / spec.nHead;
    const nKv = headDim * spec.nHeadKv;
    const random = (name: string, shape: number[], sigma: number, type: "F32" | "F16" = "F32"): GgufTensorSpec => ({
        name, type, shape, data: () => normalChunks(shape.reduce((a, b) => a * b, 1), sigma, tensorSeed(spec.seed, name))
    });
    const ones = (name: string, n: number): GgufTensorSpec => ({name, type: "F32", shape: [n], data: constant(n, 1)});
    const tensors: GgufTensorSpec[] = [
        random("token_embd.weight", [spec.nEmbd, nVocab], SIGMA.embedding, "F16"),
        ones("output_norm.weight", spec.nEmbd),
        random("output.weight", [spec.nEmbd, nVocab], SIGMA.matrix, "F16")
    ];
    for (let i = 0; i < spec.nLayer; i++) {
        const blk = `blk.${i}`;
        tensors.push(
            ones(`${blk}.attn_norm.weight`, spec.nEmbd),
            random(`${blk}.attn_q.weight`, [spec.nEmbd, spec.nEmbd], SIGMA.matrix),
            random(`${blk}.attn_k.weight`, [spec.nEmbd, nKv], SIGMA.matrix),
            random(`${blk}.attn_v.weight`, [spec.nEmbd, nKv], SIGMA.matrix)
        );
        if (spec.qkvBias)
            tensors.push(
                random(`${blk}.attn_q.bias`, [spec.nEmbd], SIGMA.bias),
                random(`${blk}.attn_k.bias`, [nKv], SIGMA.bias),
                random(`${blk}.attn_v.bias`, [nKv], SIGMA.bias)
            );
        tensors.push(
            random(`${blk}.attn_output.weight`, [spec.nEmbd, spec.nEmbd], SIGMA.matrix),
            ones(`${blk}.ffn_norm.weight`, spec.nEmbd),
            random(`${blk}.ffn_gate.weight`, [spec.nEmbd, spec.nFf], SIGMA.matrix),
            random(`${blk}.ffn_up.weight`, [spec.nEmbd, spec.nFf], SIGMA.matrix),
            random(`${blk}.ffn_down.weight`, [spec.nFf, spec.nEmbd], SIGMA.matrix)
        );
    }
    return tensors;
}

/** Architecture hyperparameters (the keys llama.cpp's load_hparams reads) followed by the vocab's tokenizer.* keys. */
export async function modelMetadata(spec: TinyModelSpec, sourceDir: string): Promise<{metadata: Map<string, GgufValue>; nVocab: number}> {
    const vocabFile = path.join(sourceDir, "models", spec.vocab);
    const vocab = await readGguf(vocabFile);
    const tokens = vocab.metadata.get("tokenizer.ggml.tokens");
    if (tokens?.type !== "array")
        throw new Error(`${vocabFile} has no tokenizer.ggml.tokens; is the llama.cpp source complete?`);
    const nVocab = tokens.value.length;
    const a = spec.arch;
    const metadata = new Map<string, GgufValue>([
        ["general.architecture", kv.str(a)],
        ["general.name", kv.str(spec.name)],
        [`${a}.block_count`, kv.u32(spec.nLayer)],
        [`${a}.context_length`, kv.u32(spec.nCtx)],
        [`${a}.embedding_length`, kv.u32(spec.nEmbd)],
        [`${a}.feed_forward_length`, kv.u32(spec.nFf)],
        [`${a}.attention.head_count`, kv.u32(spec.nHead)],
        [`${a}.attention.head_count_kv`, kv.u32(spec.nHeadKv)],
        [`${a}.rope.freq_base`, kv.f32(spec.ropeFreqBase)],
        [`${a}.rope.dimension_count`, kv.u32(spec.nEmbd / spec.nHead)],
        [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(spec.rmsEps)],
        [`${a}.vocab_size`, kv.u32(nVocab)]
    ]);
    for (const [key, value] of vocab.metadata)
        if (key.startsWith("tokenizer."))
            metadata.set(key, value);
    if (spec.eosTokenId !== undefined)
        metadata.set("tokenizer.ggml.eos_token_id", kv.u32(spec.eosTokenId));
    if (!metadata.has("tokenizer.chat_template"))
        metadata.set("tokenizer.chat_template", kv.str(fs.readFileSync(path.join(sourceDir, "models", "templates", spec.template), "utf8")));
    return {metadata, nVocab};
}

/** Cache key: the recipe, the spec and the vocab file's identity. */
function cacheKey(spec: TinyModelSpec, sourceDir: string): string {
    const vocabStat = fs.statSync(path.join(sourceDir, "models", spec.vocab));
    return crypto.createHash("sha256")
        .update(JSON.stringify({RECIPE_VERSION, spec, SIGMA, vocabSize: vocabStat.size, source: path.basename(sourceDir)}))
        .digest("hex").slice(0, 12);
}

const building = new Map<TinyModelKind, Promise<string>>();

/**
 * Path of the tiny model, built once into node_modules/.cache/icon2/models/. Safe when several
 * vitest workers call it at once: each writes its own temp file and renames it (identical bytes,
 * the last rename wins), and calls within one process share one build.
 */
export function tinyModel(kind: TinyModelKind): Promise<string> {
    let p = building.get(kind);
    if (p === undefined) {
        p = buildTinyModel(kind);
        building.set(kind, p);
        p.catch(() => building.delete(kind));
    }
    return p;
}

async function buildTinyModel(kind: TinyModelKind): Promise<string> {
    const spec = tinyModelSpecs[kind];
    const sourceDir = llamaSourceDir();
    const file = path.join(cacheDir, "models", `tiny-${kind}-${cacheKey(spec, sourceDir)}.gguf`);
    if (fs.existsSync(file))
        return file;
    const {metadata, nVocab} = await modelMetadata(spec, sourceDir);
    await writeGguf(file, metadata, modelTensors(spec, nVocab));
    return file;
}
