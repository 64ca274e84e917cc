// Stage 1 (paper Sec 3.1, Alg. 1): per-layer contrast vectors → signed unit direction + scale.
// This part is pure maths over captured hidden states; capturing them from the engine lives beside it.
import {dot, meanRows, norm, principalComponent} from "./linalg.js";
import {seededShuffle} from "./seed.js";
import {renderChat, type ChatTemplate} from "./chat.js";
import type {DirectionSet} from "./control-vector.js";
import type {Criterion} from "./criteria.js";
import type {Model} from "./engine/index.js";
import {tokenizePrompt} from "./prompt.js";
import {icon2Version} from "./version.js";

/** `pca`: first principal component of the contrast vectors; `mean`: their normalized mean. */
export type DirectionMethod = "pca" | "mean";

export interface LayerActivations {
    /** rows: one per stimulus, h^{l,+} and h^{l,-} for one layer, length n_embd */
    positive: readonly Float32Array[];
    negative: readonly Float32Array[];
}

export interface LayerDirection {
    /** unit vector u^l, sign fixed so that the mean training contrast points along +u^l */
    direction: Float32Array;
    /**
     * s^l = mean ‖h^l‖ over every positive and every negative row of the training split (2·n_train
     * rows). γ is relative to it: steering adds γ·s^l·u^l. Both prompts' states count because the
     * steered model sees states of either kind, and the held-out rows stay out so the validation
     * numbers do not depend on them.
     */
    scale: number;
    /** held-out separation: fraction of held-out pairs with (h⁺−h⁻)·u > 0; NaN if no holdout */
    accuracy: number;
}

/**
 * v_i = h⁺_i − h⁻_i over the training rows (those not in `holdoutIndices`); u = first principal
 * component of the v_i (`pca`) or their normalized mean (`mean`); sign fixed so mean(v)·u > 0.
 *
 * PCA here is **uncentered**: the top eigenvector of Σ v_i v_iᵀ, not of the covariance of the v_i.
 * The contrast vectors of one criterion mostly point the same way; that shared offset *is* the
 * direction we want. Centering (textbook PCA; repeng's default `pca_diff`, which hands the
 * differences to sklearn's PCA) subtracts exactly that mean and returns the axis along which the
 * contrasts vary most between stimuli — when all v_i ≈ a_i·u + noise that is the spread of a_i at
 * best and noise at worst. llama.cpp's cvector-generator (`pca.hpp`: power iteration on the square
 * of the raw difference matrix) and repeng's `pca_center` (PCA of ±v_i/2, whose mean is zero) both
 * compute the uncentered component.
 */
export function directionForLayer(acts: LayerActivations, options: {method: DirectionMethod; holdoutIndices: ReadonlySet<number>}): LayerDirection {
    const {positive, negative} = acts;
    if (positive.length !== negative.length)
        throw new RangeError(`positive and negative activations differ in count (${positive.length} vs ${negative.length})`);
    const n = positive.length;
    if (n === 0)
        throw new RangeError("no activations to extract a direction from");
    const d = positive[0].length;
    for (let i = 0; i < n; i++) {
        if (positive[i].length !== d || negative[i].length !== d)
            throw new RangeError(`activation row ${i} has length ${positive[i].length}/${negative[i].length}, expected ${d}`);
    }
    for (const index of options.holdoutIndices) {
        if (!Number.isInteger(index) || index < 0 || index >= n)
            throw new RangeError(`held-out index ${index} is outside 0..${n - 1}`);
    }

    const training: Float64Array[] = [];
    const heldOut: Float64Array[] = [];
    let normSum = 0;
    for (let i = 0; i < n; i++) {
        // The difference of two float32 values is exact in double; keep it there.
        const contrast = new Float64Array(d);
        const plus = positive[i], minus = negative[i];
        for (let k = 0; k < d; k++)
            contrast[k] = plus[k] - minus[k];
        if (options.holdoutIndices.has(i)) {
            heldOut.push(contrast);
        } else {
            training.push(contrast);
            normSum += norm(plus) + norm(minus);
        }
    }
    if (training.length === 0)
        throw new RangeError("every row is held out; at least one training row is needed");

    const mean = meanRows(training);
    let direction: Float64Array;
    if (options.method === "mean") {
        const length = norm(mean);
        if (!(length > 0))
            throw new RangeError("the mean contrast vector is zero: the two prompts produce identical states");
        direction = new Float64Array(d);
        for (let k = 0; k < d; k++)
            direction[k] = mean[k] / length;
    } else if (options.method === "pca") {
        direction = principalComponent(training, {center: false}).vector;
        // PCA is sign-ambiguous; orient along the mean contrast (cvector-generator skips this).
        if (dot(mean, direction) < 0)
            for (let k = 0; k < d; k++)
                direction[k] = -direction[k];
    } else {
        throw new RangeError(`unknown direction method ${JSON.stringify(options.method)} (known: pca, mean)`);
    }

    const unit = Float32Array.from(direction);
    let separated = 0;
    for (const contrast of heldOut) {
        if (dot(contrast, unit) > 0)
            separated++;
    }
    return {
        direction: unit,
        scale: normSum / (2 * training.length),
        accuracy: heldOut.length > 0 ? separated / heldOut.length : Number.NaN
    };
}

/**
 * Deterministic held-out row indices for n stimuli: round(fraction·n) of a seeded permutation,
 * at least one when fraction > 0 and n ≥ 2, and never all n (one training row always remains).
 */
export function holdoutIndices(n: number, fraction: number, seed: number): Set<number> {
    if (!Number.isInteger(n) || n < 0)
        throw new RangeError(`holdoutIndices: n must be a non-negative integer, got ${n}`);
    if (!(fraction >= 0 && fraction < 1))
        throw new RangeError(`holdout fraction must be in [0, 1), got ${fraction}`);
    if (fraction === 0 || n < 2)
        return new Set();
    const count = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    return new Set(seededShuffle(Array.from({length: n}, (_, i) => i), seed).slice(0, count));
}

// ---------------------------------------------------------------------------------------------
// Extraction from a model: render the contrastive chats, capture the last token at every block,
// and reduce each block's contrasts to a direction.


export interface ExtractOptions {
    criteria: readonly Criterion[];
    /** user messages d_i (paper: 1,024 Alpaca instructions; a few hundred diverse ones suffice) */
    stimuli: readonly string[];
    template: ChatTemplate;
    /** Defaults to "pca". */
    method?: DirectionMethod;
    /** share of stimuli held out for the separation accuracy. Defaults to 0.2. */
    holdout?: number;
    seed: number;
    /** parallel sequences while capturing. Defaults to 16. */
    sequences?: number;
    threads?: number;
    /**
     * Decode the tokens all prompts of one side share (the system prompt) once and copy its KV
     * cache to every sequence. Defaults to `true`; the directions are the same either way.
     */
    reusePrefix?: boolean;
    signal?: AbortSignal;
    /** `done` of `total` prompts captured (2 per stimulus per criterion) */
    onProgress?: (done: number, total: number) => void;
}

/** The chat a criterion side is read from: system = the criterion's prompt, user = the stimulus, assistant header appended. */
export function contrastPrompt(template: ChatTemplate, system: string, stimulus: string): string {
    return renderChat(template, [{role: "system", content: system}, {role: "user", content: stimulus}], {addGenerationPrompt: true});
}

/** Stage 1: one DirectionSet per criterion, every block. */
export async function extractDirections(model: Model, options: ExtractOptions): Promise<DirectionSet[]> {
    const {nLayer, nEmbd, architecture, name} = model.info;
    const method = options.method ?? "pca";
    const stimuli = options.stimuli;
    if (stimuli.length < 2)
        throw new RangeError(`need at least 2 stimuli to extract directions, got ${stimuli.length}`);
    if (options.criteria.length === 0)
        throw new RangeError("no criteria to extract");
    const heldOut = holdoutIndices(stimuli.length, options.holdout ?? 0.2, options.seed);
    const layers = Array.from({length: nLayer}, (_, il) => il);

    const sides = options.criteria.flatMap((c) => [c.positive, c.negative]);
    const tokenized = sides.map((system) => stimuli.map((d) => tokenizePrompt(model, options.template, contrastPrompt(options.template, system, d))));
    const longest = Math.max(...tokenized.flat().map((t) => t.length));
    const sequences = options.sequences ?? 16;
    const engine = await model.createEngine({
        sequences,
        // every running sequence holds its whole prompt; the shared system prefix is counted once per sequence, conservatively
        contextSize: Math.max(512, sequences * longest + longest),
        batchSize: Math.max(512, longest),
        threads: options.threads
    });
    const total = sides.length * stimuli.length;
    let done = 0;
    try {
        const sets: DirectionSet[] = [];
        for (const [k, criterion] of options.criteria.entries()) {
            const capture = async (prompts: Int32Array[]) => engine.capture(prompts, layers, {
                reusePrefix: options.reusePrefix ?? true,
                signal: options.signal,
                onProgress: (n) => options.onProgress?.(done + n, total)
            }).then((rows) => {
                done += prompts.length;
                return rows;
            });
            const positive = await capture(tokenized[2 * k]);
            const negative = await capture(tokenized[2 * k + 1]);
            const directions: Float32Array[] = [];
            const scales = new Float32Array(nLayer);
            const accuracy = new Float32Array(nLayer);
            for (const il of layers) {
                const layer = directionForLayer(
                    {positive: positive.map((rows) => rows[il]), negative: negative.map((rows) => rows[il])},
                    {method, holdoutIndices: heldOut});
                directions.push(layer.direction);
                scales[il] = layer.scale;
                accuracy[il] = layer.accuracy;
            }
            sets.push({
                criterion: criterion.name, positive: criterion.positive, negative: criterion.negative, method,
                model: {name, architecture, nEmbd, nLayer},
                directions, scales, accuracy,
                stimuliCount: stimuli.length,
                icon2Version
            });
        }
        return sets;
    } finally {
        await engine.dispose();
    }
}
