// Deterministic test vectors and comparisons.
export function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
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
