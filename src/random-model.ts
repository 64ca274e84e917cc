// Random-weight chat models with REAL tokenizers and chat templates, for tests and benchmarks that
// must not download anything: the vocabulary (and template) come from a vocab-only GGUF such as
// llama.cpp's models/ggml-vocab-qwen2.gguf, the weights are seeded noise. They tokenize and render
// templates exactly like the real model family; their text is gibberish but deterministic.
//
// Tensors (ggml order, ne[0] first), as llama.cpp's load_arch_tensors (src/models/qwen2.cpp,
// src/models/llama.cpp) expects them:
//   token_embd.weight          [n_embd, n_vocab]
//   output_norm.weight         [n_embd]            F32, ones
//   output.weight              [n_embd, n_vocab]   absent when the embeddings are tied
//   blk.<i>.attn_norm.weight   [n_embd]            F32, ones
//   blk.<i>.attn_q.weight      [n_embd, n_embd]
//   blk.<i>.attn_k.weight      [n_embd, n_kv]      (n_kv = head_dim · n_head_kv)
//   blk.<i>.attn_v.weight      [n_embd, n_kv]
//   blk.<i>.attn_q/k/v.bias    [n_embd] / [n_kv]   F32, qwen2 only
//   blk.<i>.attn_output.weight [n_embd, n_embd]
//   blk.<i>.ffn_norm.weight    [n_embd]            F32, ones
//   blk.<i>.ffn_gate.weight    [n_embd, n_ff]
//   blk.<i>.ffn_up.weight      [n_embd, n_ff]
//   blk.<i>.ffn_down.weight    [n_ff, n_embd]
import crypto from "node:crypto";
import fs from "node:fs";
import {kv, readGguf, writeGguf, type GgufTensorSpec, type GgufTensorType, type GgufValue} from "./gguf.js";
import {SeededRandom} from "./seed.js";

export interface RandomModelSpec {
    readonly arch: "qwen2" | "llama";
    readonly name: string;
    /** vocab-only GGUF whose tokenizer.* keys the model carries */
    readonly vocabFile: string;
    /** Jinja chat template used when the vocab file has none */
    readonly templateFile?: string;
    readonly nLayer: number;
    readonly nEmbd: number;
    readonly nHead: number;
    readonly nHeadKv: number;
    readonly nFf: number;
    readonly nCtx: number;
    readonly ropeFreqBase: number;
    readonly rmsEps: number;
    readonly qkvBias: boolean;
    /** no output.weight: the output projection reuses token_embd (Qwen2/2.5-0.5B do this) */
    readonly tiedEmbeddings?: boolean;
    /** overrides the vocab's EOS id (e.g. Llama-3.1-Instruct ends turns with <|eot_id|>) */
    readonly eosTokenId?: number;
    /** standard deviations of the normal weights */
    readonly sigma: {readonly embedding: number; readonly matrix: number; readonly bias: number};
    /** type of the embedding and output matrices (they dominate the size) */
    readonly embeddingType: GgufTensorType;
    /** type of the block matrices */
    readonly matrixType: GgufTensorType;
    readonly seed: number;
}

/** Tensor seeds derive from (model seed, tensor name), so one tensor's values don't depend on the others' order. */
function tensorSeed(seed: number, name: string): number {
    return crypto.createHash("sha256").update(`${seed}:${name}`).digest().readUInt32LE(0);
}

/** Normal(0, σ) values via Box–Muller, yielded in chunks of up to 1 Mi values. */
export function* normalChunks(count: number, sigma: number, seed: number): Generator<Float32Array> {
    const rng = new SeededRandom(seed);
    const chunkSize = 1 << 20;
    for (let done = 0; done < count; done += chunkSize) {
        const out = new Float32Array(Math.min(chunkSize, count - done));
        for (let i = 0; i < out.length; i += 2) {
            const u = 1 - rng.next(); // (0, 1]: log is finite
            const r = sigma * Math.sqrt(-2 * Math.log(u));
            const theta = 2 * Math.PI * rng.next();
            out[i] = r * Math.cos(theta);
            if (i + 1 < out.length)
                out[i + 1] = r * Math.sin(theta);
        }
        yield out;
    }
}

/** The tensor list llama.cpp loads for `spec.arch` (see the header comment). */
export function randomModelTensors(spec: RandomModelSpec, nVocab: number): GgufTensorSpec[] {
    const nKv = (spec.nEmbd / spec.nHead) * spec.nHeadKv;
    const random = (name: string, shape: number[], sigma: number, type: GgufTensorType): GgufTensorSpec => ({
        name, type, shape, data: () => normalChunks(shape.reduce((a, b) => a * b, 1), sigma, tensorSeed(spec.seed, name))
    });
    const ones = (name: string, n: number): GgufTensorSpec => ({name, type: "F32", shape: [n], data: () => [new Float32Array(n).fill(1)]});
    const matrix = (name: string, shape: number[]) => random(name, shape, spec.sigma.matrix, spec.matrixType);
    const tensors: GgufTensorSpec[] = [
        random("token_embd.weight", [spec.nEmbd, nVocab], spec.sigma.embedding, spec.embeddingType),
        ones("output_norm.weight", spec.nEmbd)
    ];
    if (!spec.tiedEmbeddings)
        tensors.push(random("output.weight", [spec.nEmbd, nVocab], spec.sigma.matrix, spec.embeddingType));
    for (let i = 0; i < spec.nLayer; i++) {
        const blk = `blk.${i}`;
        tensors.push(
            ones(`${blk}.attn_norm.weight`, spec.nEmbd),
            matrix(`${blk}.attn_q.weight`, [spec.nEmbd, spec.nEmbd]),
            matrix(`${blk}.attn_k.weight`, [spec.nEmbd, nKv]),
            matrix(`${blk}.attn_v.weight`, [spec.nEmbd, nKv])
        );
        if (spec.qkvBias)
            tensors.push(
                random(`${blk}.attn_q.bias`, [spec.nEmbd], spec.sigma.bias, "F32"),
                random(`${blk}.attn_k.bias`, [nKv], spec.sigma.bias, "F32"),
                random(`${blk}.attn_v.bias`, [nKv], spec.sigma.bias, "F32")
            );
        tensors.push(
            matrix(`${blk}.attn_output.weight`, [spec.nEmbd, spec.nEmbd]),
            ones(`${blk}.ffn_norm.weight`, spec.nEmbd),
            matrix(`${blk}.ffn_gate.weight`, [spec.nEmbd, spec.nFf]),
            matrix(`${blk}.ffn_up.weight`, [spec.nEmbd, spec.nFf]),
            matrix(`${blk}.ffn_down.weight`, [spec.nFf, spec.nEmbd])
        );
    }
    return tensors;
}

/** Architecture hyperparameters (the keys llama.cpp's load_hparams reads), then the vocab's tokenizer.* keys. */
export async function randomModelMetadata(spec: RandomModelSpec, extra: ReadonlyMap<string, GgufValue> = new Map()): Promise<{metadata: Map<string, GgufValue>; nVocab: number}> {
    const vocab = await readGguf(spec.vocabFile);
    const tokens = vocab.metadata.get("tokenizer.ggml.tokens");
    if (tokens?.type !== "array")
        throw new Error(`${spec.vocabFile} has no tokenizer.ggml.tokens; is it a vocab GGUF?`);
    const nVocab = tokens.value.length;
    const a = spec.arch;
    const metadata = new Map<string, GgufValue>([
        ["general.architecture", kv.str(a)],
        ["general.name", kv.str(spec.name)],
        ...extra,
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
    if (!metadata.has("tokenizer.chat_template") && spec.templateFile)
        metadata.set("tokenizer.chat_template", kv.str(fs.readFileSync(spec.templateFile, "utf8")));
    return {metadata, nVocab};
}

/** Writes the model (streamed tensor by tensor; the file appears only when complete). */
export async function writeRandomModel(file: string, spec: RandomModelSpec, options: {extraMetadata?: ReadonlyMap<string, GgufValue>; onProgress?: (written: number, total: number) => void} = {}): Promise<void> {
    const {metadata, nVocab} = await randomModelMetadata(spec, options.extraMetadata);
    await writeGguf(file, metadata, randomModelTensors(spec, nVocab), {onProgress: options.onProgress});
}
