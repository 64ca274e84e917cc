// A Qwen2-0.5B-shaped model with random weights, for benchmarks that need realistic sizes but no
// download: qwen2 architecture, 24 blocks, n_embd 896, FFN 4864, 14 heads / 2 KV heads (head dim
// 64), q/k/v biases, tied embeddings (no output.weight, as in Qwen2/2.5-0.5B), the real Qwen2 vocab
// (151,936 tokens) and chat template from llama.cpp's ggml-vocab-qwen2.gguf, F16 matrices and F32
// norms/biases: about 0.99 GB, like the real Qwen2.5-0.5B-Instruct F16 GGUF. Speed does not depend
// on the values, so they are uniform noise (σ = 0.02), which is fast to generate.
//
// Built once into ~/.cache/icon2/bench/ (or $XDG_CACHE_HOME/icon2/bench/), outside the repository,
// streamed tensor by tensor (the writer never holds more than a 1 Mi-value chunk) and renamed into
// place only when complete. Uses the compiled writer: run `npm run build:ts` first.
//
//   node bench/make-bench-model.mjs        prints the path, building the file if needed
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";
import {mulberry32} from "./lib.mjs";
import {llamaSourceDir, projectRoot} from "../scripts/llama-source.mjs";

/** Bump when the recipe changes; a cached file with another value is rebuilt. */
const RECIPE = 1;

export const benchModelSpec = Object.freeze({
    arch: "qwen2", name: "icon2-bench-qwen2-0.5b-shape", nLayer: 24, nEmbd: 896, nFf: 4864, nHead: 14, nHeadKv: 2,
    nCtx: 32768, ropeFreqBase: 1_000_000, rmsEps: 1e-6, sigma: 0.02, seed: 0x0b5e
});

export function benchModelPath() {
    const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(cacheHome, "icon2", "bench", "qwen2-0.5b-shape-f16.gguf");
}

async function loadWriter() {
    const compiled = path.join(projectRoot, "dist", "gguf.js");
    if (!fs.existsSync(compiled))
        throw new Error(`${compiled} is missing; run \`npm run build:ts\` first (the bench model uses the compiled GGUF writer)`);
    return import(pathToFileURL(compiled).href);
}

/** Uniform noise with standard deviation `sigma`, in reused chunks of up to 1 Mi values. */
function* noise(count, sigma, seed) {
    const rand = mulberry32(seed);
    const half = sigma * Math.sqrt(3); // uniform on [-a, a] has σ = a/√3
    const chunk = new Float32Array(Math.min(count, 1 << 20));
    for (let done = 0; done < count; done += chunk.length) {
        const n = Math.min(chunk.length, count - done);
        for (let i = 0; i < n; i++)
            chunk[i] = (rand() * 2 - 1) * half;
        yield chunk.subarray(0, n);
    }
}

/** Tensors as llama.cpp's llama_model_qwen2::load_arch_tensors expects them (ggml order, ne[0] first). */
function benchTensors(spec, nVocab) {
    const nKv = (spec.nEmbd / spec.nHead) * spec.nHeadKv;
    let seed = spec.seed;
    const random = (name, shape, type) => {
        const s = seed++;
        return {name, type, shape, data: () => noise(shape.reduce((a, b) => a * b, 1), spec.sigma, s)};
    };
    const ones = (name, n) => ({name, type: "F32", shape: [n], data: () => [new Float32Array(n).fill(1)]});
    const tensors = [random("token_embd.weight", [spec.nEmbd, nVocab], "F16"), ones("output_norm.weight", spec.nEmbd)];
    for (let i = 0; i < spec.nLayer; i++) {
        const blk = `blk.${i}`;
        tensors.push(
            ones(`${blk}.attn_norm.weight`, spec.nEmbd),
            random(`${blk}.attn_q.weight`, [spec.nEmbd, spec.nEmbd], "F16"),
            random(`${blk}.attn_k.weight`, [spec.nEmbd, nKv], "F16"),
            random(`${blk}.attn_v.weight`, [spec.nEmbd, nKv], "F16"),
            random(`${blk}.attn_q.bias`, [spec.nEmbd], "F32"),
            random(`${blk}.attn_k.bias`, [nKv], "F32"),
            random(`${blk}.attn_v.bias`, [nKv], "F32"),
            random(`${blk}.attn_output.weight`, [spec.nEmbd, spec.nEmbd], "F16"),
            ones(`${blk}.ffn_norm.weight`, spec.nEmbd),
            random(`${blk}.ffn_gate.weight`, [spec.nEmbd, spec.nFf], "F16"),
            random(`${blk}.ffn_up.weight`, [spec.nEmbd, spec.nFf], "F16"),
            random(`${blk}.ffn_down.weight`, [spec.nFf, spec.nEmbd], "F16")
        );
    }
    return tensors;
}

async function benchMetadata(g, spec) {
    const vocabFile = path.join(llamaSourceDir(), "models", "ggml-vocab-qwen2.gguf");
    const vocab = await g.readGguf(vocabFile);
    const tokens = vocab.metadata.get("tokenizer.ggml.tokens");
    if (tokens?.type !== "array")
        throw new Error(`${vocabFile} has no tokenizer.ggml.tokens`);
    const {kv} = g;
    const a = spec.arch;
    const metadata = new Map([
        ["general.architecture", kv.str(a)],
        ["general.name", kv.str(spec.name)],
        ["general.file_type", kv.u32(1)], // LLAMA_FTYPE_MOSTLY_F16
        ["icon2.bench_recipe", kv.u32(RECIPE)],
        [`${a}.block_count`, kv.u32(spec.nLayer)],
        [`${a}.context_length`, kv.u32(spec.nCtx)],
        [`${a}.embedding_length`, kv.u32(spec.nEmbd)],
        [`${a}.feed_forward_length`, kv.u32(spec.nFf)],
        [`${a}.attention.head_count`, kv.u32(spec.nHead)],
        [`${a}.attention.head_count_kv`, kv.u32(spec.nHeadKv)],
        [`${a}.rope.freq_base`, kv.f32(spec.ropeFreqBase)],
        [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(spec.rmsEps)]
    ]);
    for (const [key, value] of vocab.metadata)
        if (key.startsWith("tokenizer."))
            metadata.set(key, value);
    if (!metadata.has("tokenizer.chat_template"))
        metadata.set("tokenizer.chat_template", kv.str(fs.readFileSync(path.join(llamaSourceDir(), "models", "templates", "Qwen-Qwen2.5-7B-Instruct.jinja"), "utf8")));
    return {metadata, nVocab: tokens.value.length};
}

/** True when `file` is a complete bench model of the current recipe (readGguf checks every tensor fits in the file). */
async function isCurrent(g, file) {
    if (!fs.existsSync(file))
        return false;
    try {
        const info = await g.readGguf(file);
        const recipe = info.metadata.get("icon2.bench_recipe");
        return recipe?.type === "uint32" && recipe.value === RECIPE;
    } catch {
        return false;
    }
}

/**
 * Path of the bench model, generated on first use (about half a minute to a few minutes, ~1 GB of
 * disk). `log` receives progress lines; pass `() => {}` to silence it.
 */
export async function ensureBenchModel({log = (line) => console.error(line)} = {}) {
    const g = await loadWriter();
    const file = benchModelPath();
    if (await isCurrent(g, file))
        return file;
    const spec = benchModelSpec;
    const {metadata, nVocab} = await benchMetadata(g, spec);
    const started = Date.now();
    let lastPercent = -1;
    log(`building bench model ${file} (qwen2, ${spec.nLayer} blocks, n_embd ${spec.nEmbd}, F16)`);
    await g.writeGguf(file, metadata, benchTensors(spec, nVocab), {
        onProgress(written, total) {
            const percent = Math.floor((written / total) * 100);
            if (percent >= lastPercent + 10 || written === total) {
                lastPercent = percent;
                log(`  ${percent}% (${(written / 2 ** 30).toFixed(2)} of ${(total / 2 ** 30).toFixed(2)} GiB, ${((Date.now() - started) / 1000).toFixed(0)} s)`);
            }
        }
    });
    return file;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
    console.log(await ensureBenchModel());
