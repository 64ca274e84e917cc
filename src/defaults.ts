// Every default of the method and the tool in one place, shared by the library and the CLI
// (in the spirit of llama.cpp's *_default_params()). Each value says why it is what it is.
export const defaults = {
    /** run seed; every random choice derives from (seed, stage, record) */
    seed: 0,
    extract: {
        /** paper: first principal component of the contrast vectors */
        method: "pca" as "pca" | "mean",
        /** share of stimuli held out to measure per-layer separation accuracy */
        holdout: 0.2,
        /** parallel sequences while capturing */
        sequences: 16
    },
    synthesize: {
        /** Magpie: sample the model's own prior over user turns unchanged */
        temperature: 1.0,
        topP: 1.0,
        maxTokens: 128,
        minChars: 8,
        maxChars: 2000,
        /** give up after count × this many generations */
        attemptsPerInstruction: 4,
        sequences: 16
    },
    score: {
        /** paper: 1M → 100K */
        keep: "10%",
        normalization: "none" as "none" | "zscore",
        /** paper: 98K train / 2K validation */
        validation: 0.02,
        sequences: 16
    },
    pairs: {
        /** paper (Sec 3.3 / Appendix J) */
        gammaChosen: 0.1,
        gammaRejected: -0.05,
        /**
         * Both halves of a pair use the same sampler seed, so their random draws are common and the
         * difference between chosen and rejected comes from steering; mild temperature and top-p
         * avoid greedy repetition loops while keeping the responses on-policy.
         */
        temperature: 0.7,
        topP: 0.9,
        /**
         * llama.cpp's default top-k, applied before top-p: it changes almost nothing in the nucleus
         * but spares sorting the whole vocabulary (152K entries for Qwen2) for every token of every
         * sequence, which otherwise dominated batched pair generation.
         */
        topK: 40,
        maxTokens: 512,
        /** 8 pairs decoded together */
        sequences: 16,
        /** drop pairs whose texts are this similar (normalized edit similarity) */
        maxSimilarity: 0.98
    }
} as const;
