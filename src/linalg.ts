// Small dense linear algebra over Float32Array/Float64Array rows, plus the first principal component
// used by stage 1. Every sum is accumulated in a JS number (IEEE double) in a fixed order, and JS has
// no fused multiply-add contraction, so every function here returns identical bits for identical
// inputs on every platform.
import {SeededRandom} from "./seed.js";

export type Vector = Float32Array | Float64Array;

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
    if (a.length !== b.length)
        throw new RangeError(`${what}: length mismatch (${a.length} vs ${b.length})`);
}

/** a·b, accumulated in double precision. */
export function dot(a: Vector, b: Vector): number {
    assertSameLength(a, b, "dot");
    let sum = 0;
    for (let k = 0; k < a.length; k++)
        sum += a[k] * b[k];
    return sum;
}

/** Euclidean norm ‖a‖, accumulated in double precision. */
export function norm(a: Vector): number {
    let sum = 0;
    for (let k = 0; k < a.length; k++)
        sum += a[k] * a[k];
    return Math.sqrt(sum);
}

/** a / ‖a‖ as a new Float64Array. Throws on a zero (or non-finite) vector: it has no direction. */
export function normalize(a: Vector): Float64Array {
    const length = norm(a);
    if (!(length > 0) || !Number.isFinite(length))
        throw new RangeError(`normalize: vector has no direction (norm ${length})`);
    const out = new Float64Array(a.length);
    for (let k = 0; k < a.length; k++)
        out[k] = a[k] / length;
    return out;
}

/** y ← y + alpha·x, in place; returns y. */
export function axpy<T extends Vector>(alpha: number, x: Vector, y: T): T {
    assertSameLength(x, y, "axpy");
    for (let k = 0; k < x.length; k++)
        y[k] += alpha * x[k];
    return y;
}

/** a − b as a new Float64Array. */
export function subtract(a: Vector, b: Vector): Float64Array {
    assertSameLength(a, b, "subtract");
    const out = new Float64Array(a.length);
    for (let k = 0; k < a.length; k++)
        out[k] = a[k] - b[k];
    return out;
}

/** Cosine similarity; NaN when either vector is zero. */
export function cosine(a: Vector, b: Vector): number {
    const denominator = norm(a) * norm(b);
    return denominator > 0 ? dot(a, b) / denominator : Number.NaN;
}

/** Mean of n rows of length d (Float64, summed in row order, then divided by n). */
export function meanRows(rows: readonly Vector[]): Float64Array {
    if (rows.length === 0)
        throw new RangeError("meanRows: no rows");
    const d = rows[0].length;
    const sum = new Float64Array(d);
    for (const row of rows) {
        assertSameLength(row, sum, "meanRows");
        for (let k = 0; k < d; k++)
            sum[k] += row[k];
    }
    for (let k = 0; k < d; k++)
        sum[k] /= rows.length;
    return sum;
}

export interface PrincipalComponentOptions {
    /**
     * Subtract the mean row before the decomposition (textbook PCA, sklearn's default, hence repeng's
     * `pca_diff`). Defaults to `false`: the top eigenvector of the second-moment matrix Σ xᵢxᵢᵀ, which
     * is what llama.cpp's cvector-generator computes (`pca.hpp` squares the raw difference matrix) and
     * what repeng's `pca_center` amounts to (it feeds ±vᵢ/2, whose mean is zero). See directions.ts.
     */
    center?: boolean;
    /** Iteration cap for the power iteration. Defaults to 1000. */
    maxIterations?: number;
    /** Stop when the unit iterate moves less than this (Euclidean) in one step. Defaults to 1e-9. */
    tolerance?: number;
}

export interface PrincipalComponent {
    /** unit vector, length d; its sign is whatever the iteration produced (callers fix it) */
    vector: Float64Array;
    /** top eigenvalue of XᵀX / n (the variance, or second moment when uncentered, along `vector`) */
    eigenvalue: number;
    /** fraction of the total (centered or uncentered) second moment that `vector` explains */
    explained: number;
    iterations: number;
    converged: boolean;
    /** "direct" iterates u ← Xᵀ(Xu) on the rows; "gram" finished on the n×n Gram matrix */
    path: "direct" | "gram";
}

export const principalComponentDefaults = {center: false, maxIterations: 1000, tolerance: 1e-9} as const;

/**
 * First principal component of n rows of length d. Returns a unit Float32Array (sign arbitrary).
 *
 * Algorithm (exact up to `tolerance`, deterministic): power iteration for the top eigenvector of
 * XᵀX, where X is the n×d row matrix (centered if asked), copied once into Float64.
 * - Direct phase: u ← Xᵀ(X u), one fused pass over X per step (2·n·d multiply-adds). Our contrast
 *   vectors share a dominant direction, so this converges in tens of steps.
 * - If it has not converged after about n/8 steps (a small eigengap), the remaining iterations are
 *   cheaper on the Gram matrix G = XXᵀ (n×n, built once for n²·d/2 multiply-adds, then n² per step),
 *   and the result is mapped back to d-space as Xᵀα. The switch point is where the Gram build costs
 *   about as much as the direct steps it replaces (measured at n = 1024, d = 4096 on one core:
 *   ~11 ms per direct step, ~1.0 s for the blocked Gram build, ~1 ms per Gram step).
 * - Start vector: the mean row plus a small fixed pseudo-random vector, so that a top eigenvector
 *   orthogonal to the mean is still reachable; identical for identical inputs.
 */
export function firstPrincipalComponent(rows: readonly Float32Array[], options: PrincipalComponentOptions = {}): Float32Array {
    return Float32Array.from(principalComponent(rows, options).vector);
}

/** As {@link firstPrincipalComponent}, with the eigenvalue and convergence details. */
export function principalComponent(rows: readonly Vector[], options: PrincipalComponentOptions = {}): PrincipalComponent {
    const center = options.center ?? principalComponentDefaults.center;
    const maxIterations = options.maxIterations ?? principalComponentDefaults.maxIterations;
    const tolerance = options.tolerance ?? principalComponentDefaults.tolerance;
    if (!Number.isInteger(maxIterations) || maxIterations < 1)
        throw new RangeError(`maxIterations must be a positive integer, got ${maxIterations}`);
    if (!(tolerance > 0))
        throw new RangeError(`tolerance must be positive, got ${tolerance}`);
    const n = rows.length;
    if (n === 0)
        throw new RangeError("principal component of no rows");
    const d = rows[0].length;
    if (d === 0)
        throw new RangeError("principal component of zero-length rows");

    // X: n×d row-major Float64, centered if asked. One copy; every later pass reads it contiguously.
    const x = new Float64Array(n * d);
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) {
        const row = rows[i];
        if (row.length !== d)
            throw new RangeError(`row ${i} has length ${row.length}, expected ${d}`);
        const offset = i * d;
        for (let k = 0; k < d; k++) {
            const value = row[k];
            if (!Number.isFinite(value))
                throw new RangeError(`row ${i} has a non-finite value at ${k}`);
            x[offset + k] = value;
            mean[k] += value;
        }
    }
    for (let k = 0; k < d; k++)
        mean[k] /= n;
    if (center) {
        for (let i = 0; i < n; i++) {
            const offset = i * d;
            for (let k = 0; k < d; k++)
                x[offset + k] -= mean[k];
        }
    }
    let total = 0;
    for (let j = 0; j < x.length; j++)
        total += x[j] * x[j];
    if (!(total > 0))
        throw new RangeError("principal component of all-zero rows is undefined");

    // Start: the (uncentered) mean direction plus 1e-3 of a fixed pseudo-random unit vector.
    let u = new Float64Array(d);
    const random = new SeededRandom(0x1c0e2);
    const noise = new Float64Array(d);
    for (let k = 0; k < d; k++)
        noise[k] = random.next() - 0.5;
    const noiseNorm = norm(noise);
    const meanNorm = norm(mean);
    for (let k = 0; k < d; k++)
        u[k] = (meanNorm > 0 ? mean[k] / meanNorm : 0) + 1e-3 * noise[k] / noiseNorm;
    u = unit(u);

    const directLimit = Math.min(maxIterations, Math.max(8, Math.ceil(n / 8)));
    let iterations = 0;
    let converged = false;
    let eigenvalue = 0;
    const next = new Float64Array(d);
    while (iterations < directLimit) {
        // next = Xᵀ(X u), fused: one pass over X.
        next.fill(0);
        for (let i = 0; i < n; i++) {
            const offset = i * d;
            let projection = 0;
            for (let k = 0; k < d; k++)
                projection += x[offset + k] * u[k];
            if (projection !== 0)
                for (let k = 0; k < d; k++)
                    next[k] += projection * x[offset + k];
        }
        iterations++;
        const length = norm(next);
        if (!(length > 0))
            break; // u ⟂ every row; cannot happen with the mean + noise start unless X is ~0
        eigenvalue = length / n; // ‖XᵀXu‖ with ‖u‖ = 1 → λ₁ at convergence
        let change = 0;
        for (let k = 0; k < d; k++) {
            const value = next[k] / length;
            change += (value - u[k]) * (value - u[k]);
            u[k] = value;
        }
        if (Math.sqrt(change) < tolerance) {
            converged = true;
            break;
        }
    }
    if (converged || iterations >= maxIterations)
        return {vector: u, eigenvalue, explained: eigenvalue * n / total, iterations, converged, path: "direct"};

    // Gram phase. α lives in n-space with u ∝ Xᵀα; start from α = X u so the direct work carries over.
    const gram = gramMatrix(x, n, d);
    let alpha = new Float64Array(n);
    for (let i = 0; i < n; i++) {
        const offset = i * d;
        let projection = 0;
        for (let k = 0; k < d; k++)
            projection += x[offset + k] * u[k];
        alpha[i] = projection;
    }
    alpha = unit(alpha);
    const nextAlpha = new Float64Array(n);
    while (iterations < maxIterations) {
        for (let i = 0; i < n; i++) {
            const offset = i * n;
            let sum = 0;
            for (let j = 0; j < n; j++)
                sum += gram[offset + j] * alpha[j];
            nextAlpha[i] = sum;
        }
        iterations++;
        const length = norm(nextAlpha);
        if (!(length > 0))
            break;
        eigenvalue = length / n; // G and XᵀX share their nonzero eigenvalues
        let change = 0;
        for (let i = 0; i < n; i++) {
            const value = nextAlpha[i] / length;
            change += (value - alpha[i]) * (value - alpha[i]);
            alpha[i] = value;
        }
        // Xᵀ maps G's top eigenvector onto XᵀX's, so converging in n-space converges in d-space.
        if (Math.sqrt(change) < tolerance) {
            converged = true;
            break;
        }
    }
    const mapped = new Float64Array(d);
    for (let i = 0; i < n; i++) {
        const offset = i * d;
        const weight = alpha[i];
        for (let k = 0; k < d; k++)
            mapped[k] += weight * x[offset + k];
    }
    return {vector: unit(mapped), eigenvalue, explained: eigenvalue * n / total, iterations, converged, path: "gram"};
}

/** G = XXᵀ for row-major X (n×d). Four rows per pass over row i (row i is read once per four dot
 * products, which halved the time in V8); each entry is still one in-order sum, so the bits equal
 * the naive loop's. */
function gramMatrix(x: Float64Array, n: number, d: number): Float64Array {
    const gram = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
        const oi = i * d;
        let j = i;
        for (; j + 3 < n; j += 4) {
            const o0 = j * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (let k = 0; k < d; k++) {
                const value = x[oi + k];
                s0 += value * x[o0 + k];
                s1 += value * x[o1 + k];
                s2 += value * x[o2 + k];
                s3 += value * x[o3 + k];
            }
            gram[i * n + j] = s0;
            gram[j * n + i] = s0;
            gram[i * n + j + 1] = s1;
            gram[(j + 1) * n + i] = s1;
            gram[i * n + j + 2] = s2;
            gram[(j + 2) * n + i] = s2;
            gram[i * n + j + 3] = s3;
            gram[(j + 3) * n + i] = s3;
        }
        for (; j < n; j++) {
            const oj = j * d;
            let sum = 0;
            for (let k = 0; k < d; k++)
                sum += x[oi + k] * x[oj + k];
            gram[i * n + j] = sum;
            gram[j * n + i] = sum;
        }
    }
    return gram;
}

function unit<T extends Float64Array>(a: T): T {
    const length = norm(a);
    if (!(length > 0))
        throw new RangeError("principal component iteration collapsed to zero");
    for (let k = 0; k < a.length; k++)
        a[k] /= length;
    return a;
}
