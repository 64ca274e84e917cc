// A Qwen2-0.5B-shaped model with random weights, for benchmarks that need realistic sizes but no
// download: qwen2 architecture, 24 blocks, n_embd 896, FFN 4864, 14 heads / 2 KV heads (head dim
// 64), q/k/v biases, tied embeddings (no output.weight, as in Qwen2/2.5-0.5B), the real Qwen2 vocab
// (151,936 tokens) and chat template from llama.cpp's ggml-vocab-qwen2.gguf, F16 matrices and F32
// norms/biases: about 0.99 GB, like the real Qwen2.5-0.5B-Instruct F16 GGUF. Speed does not depend
// on the values: they are normal noise (σ = 0.02) from src/random-model.ts, the recipe the tests use.
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
import {llamaSourceDir, projectRoot} from "../scripts/llama-source.mjs";

/** Bump when the recipe changes; a cached file with another value is rebuilt. */
const RECIPE = 2;

export const benchModelSpec = Object.freeze({
    arch: "qwen2", name: "icon2-bench-qwen2-0.5b-shape", nLayer: 24, nEmbd: 896, nFf: 4864, nHead: 14, nHeadKv: 2,
    nCtx: 32768, ropeFreqBase: 1_000_000, rmsEps: 1e-6, qkvBias: true, tiedEmbeddings: true,
    sigma: Object.freeze({embedding: 0.02, matrix: 0.02, bias: 0.02}), embeddingType: "F16", matrixType: "F16", seed: 0x0b5e
});

export function benchModelPath() {
    const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(cacheHome, "icon2", "bench", "qwen2-0.5b-shape-f16.gguf");
}

/** The compiled modules (dist/) this script uses: the GGUF reader and the random-model recipe. */
async function loadCompiled() {
    const load = async (name) => {
        const compiled = path.join(projectRoot, "dist", name);
        if (!fs.existsSync(compiled))
            throw new Error(`${compiled} is missing; run \`npm run build:ts\` first (the bench model uses the compiled GGUF writer)`);
        return import(pathToFileURL(compiled).href);
    };
    return {gguf: await load("gguf.js"), randomModel: await load("random-model.js")};
}

/** True when `file` is a complete bench model of the current recipe (readGguf checks every tensor fits in the file). */
async function isCurrent(gguf, file) {
    if (!fs.existsSync(file))
        return false;
    try {
        const info = await gguf.readGguf(file);
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
    const {gguf, randomModel} = await loadCompiled();
    const file = benchModelPath();
    if (await isCurrent(gguf, file))
        return file;
    const spec = {
        ...benchModelSpec,
        vocabFile: path.join(llamaSourceDir(), "models", "ggml-vocab-qwen2.gguf"),
        templateFile: path.join(llamaSourceDir(), "models", "templates", "Qwen-Qwen2.5-7B-Instruct.jinja")
    };
    const started = Date.now();
    let lastPercent = -1;
    log(`building bench model ${file} (qwen2, ${spec.nLayer} blocks, n_embd ${spec.nEmbd}, F16)`);
    await randomModel.writeRandomModel(file, spec, {
        extraMetadata: new Map([
            ["general.file_type", gguf.kv.u32(1)], // LLAMA_FTYPE_MOSTLY_F16
            ["icon2.bench_recipe", gguf.kv.u32(RECIPE)]
        ]),
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
