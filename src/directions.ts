// Stage 1 (paper Sec 3.1, Alg. 1): per-layer contrast vectors → signed unit direction + scale.
// This part is pure maths over captured hidden states; capturing them from the engine lives beside it.
import {dot, meanRows, norm, principalComponent} from "./linalg.js";
import {seededShuffle} from "./seed.js";

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
