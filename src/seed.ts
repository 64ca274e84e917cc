// Determinism: every random choice in a run derives from (run seed, stage, record key), never from
// a shared stream, so a resumed run makes the same choices as an uninterrupted one, and records can
// be processed in any order or batch size with the same result.
import crypto from "node:crypto";

/**
 * The seed for one random choice: the first 4 bytes (big-endian) of
 * sha256("icon2\0" + runSeed + "\0" + stage + "\0" + keyType + ":" + key), as a uint32.
 *
 * sha256 rather than a hand-rolled mix because it is stable across platforms and Node versions,
 * already in node:crypto, and well mixed for near-identical inputs ("id-1", "id-2"). The key's type
 * is part of the hash, so the record index `5` and the id `"5"` give different seeds; pass one kind
 * consistently per stage.
 *
 * @param runSeed the run's seed, a safe integer
 * @param stage a short stage name ("synthesize", "pairs", "split", ...), non-empty, without NUL
 * @param key the record's index (a safe integer) or id
 */
export function deriveSeed(runSeed: number, stage: string, key: string | number): number {
    if (!Number.isSafeInteger(runSeed))
        throw new RangeError(`run seed must be an integer, got ${runSeed}`);
    if (stage === "" || stage.includes("\0"))
        throw new RangeError(`stage name must be non-empty and contain no NUL, got ${JSON.stringify(stage)}`);
    if (typeof key === "number" && !Number.isSafeInteger(key))
        throw new RangeError(`numeric seed key must be an integer, got ${key}`);

    const digest = crypto.createHash("sha256")
        .update(`icon2\0${runSeed}\0${stage}\0${typeof key === "number" ? "n" : "s"}:${key}`, "utf8")
        .digest();
    return digest.readUInt32BE(0);
}

/**
 * A small seeded PRNG (mulberry32: 32-bit state, period 2^32) for shuffles and samples. Not for
 * cryptography. Sampling inside llama.cpp uses its own seeded samplers; this covers the choices
 * made in TypeScript.
 */
export class SeededRandom {
    private state: number;

    /** @param seed any number; it is reduced to a uint32 */
    constructor(seed: number) {
        if (!Number.isFinite(seed))
            throw new RangeError(`seed must be a finite number, got ${seed}`);
        this.state = seed >>> 0;
    }

    /** A uniformly distributed uint32. */
    nextUint32(): number {
        this.state = (this.state + 0x6d2b79f5) >>> 0;
        let t = this.state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return (t ^ (t >>> 14)) >>> 0;
    }

    /** A float in [0, 1). */
    next(): number {
        return this.nextUint32() / 0x1_0000_0000;
    }

    /** An integer in [0, n), unbiased (rejection sampling), for 1 ≤ n ≤ 2^32. */
    nextInt(n: number): number {
        if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000)
            throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${n}`);
        // Reject the top partial block of uint32 values so every residue is equally likely.
        const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
        let x = this.nextUint32();
        while (x >= limit)
            x = this.nextUint32();
        return x % n;
    }
}

/** Returns a shuffled copy of `array` (Fisher–Yates driven by {@link SeededRandom}); the input is not modified. */
export function seededShuffle<T>(array: readonly T[], seed: number): T[] {
    const out = array.slice();
    const random = new SeededRandom(seed);
    for (let i = out.length - 1; i > 0; i--) {
        const j = random.nextInt(i + 1);
        const tmp = out[i];
        out[i] = out[j];
        out[j] = tmp;
    }
    return out;
}

/**
 * Picks `count` items without replacement, in their original order, deterministically for `seed`
 * (e.g. the sweep's sample of instructions). Returns a copy of everything when `count` ≥ length.
 */
export function seededSample<T>(array: readonly T[], count: number, seed: number): T[] {
    if (!Number.isInteger(count) || count < 0)
        throw new RangeError(`sample size must be a non-negative integer, got ${count}`);
    if (count >= array.length)
        return array.slice();
    const indices = seededShuffle(array.map((_, i) => i), seed).slice(0, count).sort((a, b) => a - b);
    return indices.map((i) => array[i]);
}
