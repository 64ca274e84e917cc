// Deterministic test vectors and comparisons.
import {SeededRandom} from "../../src/seed.js";

export function mulberry32(seed: number): () => number {
    const rng = new SeededRandom(seed);
    return () => rng.next();
}

/** One random vector per block (uniform in [-scale, scale]), keyed by block index. */
export function randomVectors(nLayer: number, nEmbd: number, seed: number, scale: number): Map<number, Float32Array> {
    const rand = mulberry32(seed);
    const out = new Map<number, Float32Array>();
    for (let il = 0; il < nLayer; il++)
        out.set(il, Float32Array.from({length: nEmbd}, () => (rand() * 2 - 1) * scale));
    return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
    if (a.length !== b.length)
        throw new Error(`length ${a.length} != ${b.length}`);
    let m = 0;
    for (let i = 0; i < a.length; i++)
        m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
}
