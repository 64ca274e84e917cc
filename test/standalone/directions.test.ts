import {describe, expect, test} from "vitest";
import {directionForLayer, holdoutIndices, type LayerActivations} from "../../src/directions.js";
import {cosine, dot, firstPrincipalComponent, norm, principalComponent} from "../../src/linalg.js";
import {SeededRandom} from "../../src/seed.js";

function gaussian(random: SeededRandom): () => number {
    return () => {
        let u = 0;
        while (u === 0)
            u = random.next();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
    };
}

function unitVector(d: number, seed: number): Float64Array {
    const normal = gaussian(new SeededRandom(seed));
    const v = Float64Array.from({length: d}, () => normal());
    const length = norm(v);
    return v.map((x) => x / length);
}

/** h⁻_i = base state, h⁺_i = h⁻_i + a_i·u* + noise; a_i ∈ [aMin, aMax]. */
function planted(options: {n: number; d: number; seed: number; aMin: number; aMax: number; noise: number; star: Float64Array}): LayerActivations {
    const random = new SeededRandom(options.seed);
    const normal = gaussian(random);
    const positive: Float32Array[] = [];
    const negative: Float32Array[] = [];
    for (let i = 0; i < options.n; i++) {
        const a = options.aMin + (options.aMax - options.aMin) * random.next();
        const minus = Float32Array.from({length: options.d}, () => 3 * normal());
        const plus = Float32Array.from(minus, (x, k) => x + a * options.star[k] + options.noise * normal());
        positive.push(plus);
        negative.push(minus);
    }
    return {positive, negative};
}

const d = 256, n = 200;
const star = unitVector(d, 11);
const clean = planted({n, d, seed: 5, aMin: 1, aMax: 2, noise: 0.02, star});
const none = new Set<number>();

function bits(v: Float32Array): Uint8Array {
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

describe("directionForLayer", () => {
    test("PCA recovers a planted direction with the positive sign", () => {
        const result = directionForLayer(clean, {method: "pca", holdoutIndices: none});
        expect(cosine(result.direction, star)).toBeGreaterThan(0.999);
        expect(norm(result.direction)).toBeCloseTo(1, 6);
        expect(result.accuracy).toBeNaN();
    });

    test("swapping positive and negative flips the direction (sign follows the mean contrast)", () => {
        const swapped = {positive: clean.negative, negative: clean.positive};
        for (const method of ["pca", "mean"] as const) {
            const result = directionForLayer(swapped, {method, holdoutIndices: none});
            expect(cosine(result.direction, star), method).toBeLessThan(-0.999);
        }
    });

    test("mean method equals the normalized mean contrast exactly", () => {
        const holdout = holdoutIndices(n, 0.1, 3);
        const result = directionForLayer(clean, {method: "mean", holdoutIndices: holdout});
        const mean = new Float64Array(d);
        let count = 0;
        for (let i = 0; i < n; i++) {
            if (holdout.has(i))
                continue;
            count++;
            for (let k = 0; k < d; k++)
                mean[k] += clean.positive[i][k] - clean.negative[i][k];
        }
        for (let k = 0; k < d; k++)
            mean[k] /= count;
        const length = Math.sqrt(mean.reduce((sum, x) => sum + x * x, 0));
        expect(bits(result.direction)).toEqual(bits(Float32Array.from(mean, (x) => x / length)));
        expect(cosine(result.direction, star)).toBeGreaterThan(0.999);
    });

    test("identical inputs give identical bits", () => {
        const holdout = holdoutIndices(n, 0.2, 9);
        for (const method of ["pca", "mean"] as const) {
            const a = directionForLayer(clean, {method, holdoutIndices: holdout});
            const b = directionForLayer(clean, {method, holdoutIndices: new Set(holdout)});
            expect(bits(a.direction)).toEqual(bits(b.direction));
            expect(a.scale).toBe(b.scale);
            expect(a.accuracy).toBe(b.accuracy);
        }
    });

    test("held-out accuracy is 1 on a clean planted set", () => {
        const result = directionForLayer(clean, {method: "pca", holdoutIndices: holdoutIndices(n, 0.25, 1)});
        expect(result.accuracy).toBe(1);
    });

    test("held-out accuracy is about 0.5 on pure noise", () => {
        const noise = planted({n: 400, d: 64, seed: 17, aMin: 0, aMax: 0, noise: 1, star: unitVector(64, 2)});
        for (const method of ["pca", "mean"] as const) {
            const result = directionForLayer(noise, {method, holdoutIndices: holdoutIndices(400, 0.5, 4)});
            expect(result.accuracy, method).toBeGreaterThan(0.35);
            expect(result.accuracy, method).toBeLessThan(0.65);
        }
    });

    test("scale is the mean norm of the training rows, positive and negative", () => {
        const holdout = new Set([0, 1, 2]);
        const result = directionForLayer(clean, {method: "mean", holdoutIndices: holdout});
        let sum = 0;
        for (let i = 3; i < n; i++)
            sum += norm(clean.positive[i]) + norm(clean.negative[i]);
        expect(result.scale).toBeCloseTo(sum / (2 * (n - 3)), 10);
    });

    test("rejects mismatched, empty, fully held-out or out-of-range input", () => {
        expect(() => directionForLayer({positive: clean.positive, negative: clean.negative.slice(1)}, {method: "pca", holdoutIndices: none}))
            .toThrow(/differ in count/);
        expect(() => directionForLayer({positive: [], negative: []}, {method: "pca", holdoutIndices: none})).toThrow(/no activations/);
        const two = {positive: clean.positive.slice(0, 2), negative: clean.negative.slice(0, 2)};
        expect(() => directionForLayer(two, {method: "pca", holdoutIndices: new Set([0, 1])})).toThrow(/training row/);
        expect(() => directionForLayer(two, {method: "pca", holdoutIndices: new Set([2])})).toThrow(/outside 0\.\.1/);
        expect(() => directionForLayer(two, {method: "svd" as "pca", holdoutIndices: none})).toThrow(/unknown direction method/);
        const same = {positive: two.positive, negative: two.positive};
        expect(() => directionForLayer(same, {method: "mean", holdoutIndices: none})).toThrow(/identical states/);
    });
});

describe("firstPrincipalComponent", () => {
    test("uncentered PCA keeps a shared direction that centering removes", () => {
        // All contrasts have the same length along u*: the signal is the mean, the spread is noise.
        const same = planted({n, d, seed: 8, aMin: 1.5, aMax: 1.5, noise: 0.02, star});
        const contrasts = same.positive.map((plus, i) => Float32Array.from(plus, (x, k) => x - same.negative[i][k]));
        expect(Math.abs(cosine(firstPrincipalComponent(contrasts), star))).toBeGreaterThan(0.999);
        expect(Math.abs(cosine(firstPrincipalComponent(contrasts, {center: true}), star))).toBeLessThan(0.5);
    });

    test("finds the top eigenvector when the eigengap is small (Gram path)", () => {
        // Rows ±a·e0 and ±b·e1 alternate, so XᵀX = diag(n/2·a², n/2·b², 0, …) exactly; ratio 0.9025.
        const dim = 64, rows: Float32Array[] = [];
        for (let i = 0; i < 64; i++) {
            const row = new Float32Array(dim);
            row[i % 2] = (i % 4 < 2 ? 1 : -1) * (i % 2 === 0 ? 1 : 0.95);
            rows.push(row);
        }
        const result = principalComponent(rows);
        expect(result.path).toBe("gram");
        expect(result.converged).toBe(true);
        expect(Math.abs(result.vector[0])).toBeGreaterThan(1 - 1e-9);
        expect(result.eigenvalue).toBeCloseTo(0.5, 6);
        expect(result.explained).toBeCloseTo(1 / (1 + 0.95 ** 2), 6);
    });

    test("is an eigenvector of XᵀX on the direct path too", () => {
        const contrasts = clean.positive.map((plus, i) => Float32Array.from(plus, (x, k) => x - clean.negative[i][k]));
        const result = principalComponent(contrasts);
        expect(result.path).toBe("direct");
        expect(result.converged).toBe(true);
        const image = new Float64Array(d);
        for (const row of contrasts) {
            const projection = dot(row, result.vector);
            for (let k = 0; k < d; k++)
                image[k] += projection * row[k] / n;
        }
        for (let k = 0; k < d; k++)
            expect(image[k]).toBeCloseTo(result.eigenvalue * result.vector[k], 8);
    });

    test("rejects empty, ragged, non-finite and all-zero input", () => {
        expect(() => firstPrincipalComponent([])).toThrow(RangeError);
        expect(() => firstPrincipalComponent([new Float32Array(3), new Float32Array(2)])).toThrow(/length 2, expected 3/);
        expect(() => firstPrincipalComponent([Float32Array.of(1, Number.NaN)])).toThrow(/non-finite/);
        expect(() => firstPrincipalComponent([new Float32Array(4)])).toThrow(/all-zero/);
    });
});

describe("holdoutIndices", () => {
    test("deterministic, bounded, seed-dependent", () => {
        const a = holdoutIndices(100, 0.1, 42);
        expect([...a]).toEqual([...holdoutIndices(100, 0.1, 42)]);
        expect(a.size).toBe(10);
        for (const index of a)
            expect(Number.isInteger(index) && index >= 0 && index < 100).toBe(true);
        expect([...holdoutIndices(100, 0.1, 43)]).not.toEqual([...a]);
    });

    test("at least one held out when fraction > 0 and n ≥ 2; always one training row", () => {
        expect(holdoutIndices(2, 0.01, 1).size).toBe(1);
        expect(holdoutIndices(10, 0.99, 1).size).toBe(9);
        expect(holdoutIndices(1, 0.5, 1).size).toBe(0);
        expect(holdoutIndices(0, 0.5, 1).size).toBe(0);
        expect(holdoutIndices(50, 0, 1).size).toBe(0);
    });

    test("rejects fractions outside [0, 1) and bad counts", () => {
        expect(() => holdoutIndices(10, 1, 1)).toThrow(RangeError);
        expect(() => holdoutIndices(10, -0.1, 1)).toThrow(RangeError);
        expect(() => holdoutIndices(-1, 0.1, 1)).toThrow(RangeError);
    });
});
