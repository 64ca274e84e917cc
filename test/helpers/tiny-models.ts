// Tiny random-weight chat models with REAL tokenizers and chat templates (src/random-model.ts),
// built from llama.cpp's vocab-only GGUFs (models/ggml-vocab-*.gguf in the pinned source) into the
// per-checkout cache. They decode in milliseconds at threads: 1. Block matrices stay F32 so steering
// comparisons are not blurred by half precision; embeddings are F16 (151,936 × 64 dominates the size).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {writeRandomModel, type RandomModelSpec} from "../../src/random-model.js";
import {llamaSourceDir} from "../../scripts/llama-source.mjs";
import {cacheDir} from "./paths.js";

export type TinyModelKind = "qwen2" | "llama3";

/** Bump when the recipe changes in a way the spec does not show: the cache key includes it. */
const RECIPE_VERSION = 2;

/** Logits come out with σ ≈ √64 · 0.08 ≈ 0.6, so greedy picks vary by position. */
const sigma = {embedding: 0.5, matrix: 0.08, bias: 0.02} as const;

type TinySpec = Omit<RandomModelSpec, "vocabFile" | "templateFile"> & {vocab: string; template: string};

export const tinyModelSpecs: Readonly<Record<TinyModelKind, TinySpec>> = {
    qwen2: {
        arch: "qwen2", name: "icon2-tiny-qwen2", vocab: "ggml-vocab-qwen2.gguf", template: "Qwen-Qwen2.5-7B-Instruct.jinja",
        nLayer: 6, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 512, ropeFreqBase: 1_000_000, rmsEps: 1e-6,
        qkvBias: true, sigma, embeddingType: "F16", matrixType: "F32", seed: 0x51e2
    },
    llama3: {
        arch: "llama", name: "icon2-tiny-llama3", vocab: "ggml-vocab-llama-bpe.gguf", template: "meta-llama-Llama-3.1-8B-Instruct.jinja",
        nLayer: 6, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 512, ropeFreqBase: 500_000, rmsEps: 1e-5,
        // Llama-3.1-Instruct GGUFs end a turn with <|eot_id|> (128009); the base vocab says <|end_of_text|>
        qkvBias: false, eosTokenId: 128009, sigma, embeddingType: "F16", matrixType: "F32", seed: 0x11a3
    }
};

function randomModelSpec(kind: TinyModelKind, sourceDir: string): RandomModelSpec {
    const {vocab, template, ...rest} = tinyModelSpecs[kind];
    return {...rest, vocabFile: path.join(sourceDir, "models", vocab), templateFile: path.join(sourceDir, "models", "templates", template)};
}

/** Cache key: the recipe, the spec and the vocab file's identity. */
function cacheKey(kind: TinyModelKind, sourceDir: string): string {
    const spec = tinyModelSpecs[kind];
    const vocabStat = fs.statSync(path.join(sourceDir, "models", spec.vocab));
    return crypto.createHash("sha256")
        .update(JSON.stringify({RECIPE_VERSION, spec, vocabSize: vocabStat.size, source: path.basename(sourceDir)}))
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
    const sourceDir = llamaSourceDir();
    const file = path.join(cacheDir, "models", `tiny-${kind}-${cacheKey(kind, sourceDir)}.gguf`);
    if (!fs.existsSync(file))
        await writeRandomModel(file, randomModelSpec(kind, sourceDir));
    return file;
}
