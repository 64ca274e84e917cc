// Batched decoding over one llama.cpp context: hidden-state capture and steered generation with
// continuous batching. The addon only decodes the batches built here and adds each sequence's
// vectors to its own rows; which rows, which vectors and when is decided in this file.
import type {AddonContext, AddonModel} from "./addon-types.js";
import type {Model} from "./model.js";

/** 0-based transformer block; "layer il" is the output of block il (llama.cpp tensor `l_out-il`). */
export type LayerIndex = number;

export interface EngineOptions {
    /** Parallel sequences in one decode (llama.cpp n_seq_max). Defaults to 8. */
    sequences?: number;
    /** KV cache size in tokens, shared by all parallel sequences. Defaults to 4096. */
    contextSize?: number;
    /** Most tokens in one llama_decode. Defaults to 512. */
    batchSize?: number;
    /** CPU threads. Defaults to llama.cpp's choice; use 1 for tiny models. */
    threads?: number;
}

export const engineDefaults = {sequences: 8, contextSize: 4096, batchSize: 512} as const;

/**
 * Steering of one sequence: at each listed block il, `gamma · vectors.get(il)` is added to the
 * output row of every steered token. icon2 stores s^l·u^l in `vectors`, so gamma is relative to
 * the typical hidden-state norm of the block.
 */
export interface Steering {
    vectors: ReadonlyMap<LayerIndex, Float32Array>;
    gamma: number;
    /**
     * Also steer the prompt tokens (llama.cpp `--control-vector` and repeng do). Defaults to
     * `false`: only the forward passes that produce generated tokens are steered — the last
     * prompt token and every generated token — so two requests with the same prompt share one
     * prefill of the rest of the prompt.
     */
    steerPrompt?: boolean;
}

export interface SamplingOptions {
    /** 0 = greedy. Defaults to 0. */
    temperature?: number;
    /** 0 = off. Defaults to 0. */
    topK?: number;
    /** 1 = off. Defaults to 1. */
    topP?: number;
    /** 0 = off. Defaults to 0. */
    minP?: number;
    /** 1 = off. Defaults to 1. */
    repeatPenalty?: number;
    /** Tokens the repetition penalty looks back over. Defaults to 64. */
    repeatLastN?: number;
    /** Seed of this request's sampler; the same seed gives the same text. Defaults to 0. */
    seed?: number;
    /** Defaults to 256. */
    maxTokens?: number;
    /** Tokens that end the generation (besides the vocabulary's end-of-generation tokens); not included in the text. */
    stopTokens?: readonly number[];
    /** Texts that end the generation; the text is cut before them. */
    stopStrings?: readonly string[];
}

export const samplingDefaults = {
    temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 0, maxTokens: 256
} as const;

export interface GenerationRequest {
    prompt: Int32Array;
    steering?: Steering;
    sampling?: SamplingOptions;
}

export type FinishReason = "eos" | "stop" | "length";

export interface GenerationResult {
    /** generated tokens, without the end or stop token */
    tokens: Int32Array;
    text: string;
    finishReason: FinishReason;
}

export interface GenerationProgress {
    /** tokens generated so far, all requests */
    tokens: number;
    /** requests finished */
    done: number;
    total: number;
}

export interface GenerateOptions {
    signal?: AbortSignal;
    onProgress?: (progress: GenerationProgress) => void;
    /** Called as each request finishes (in finishing order), before the next decode. */
    onResult?: (index: number, result: GenerationResult) => void | Promise<void>;
    /** Prefill a prompt once for all queued requests that share it (unsteered prompt part). Defaults to `true`. */
    sharePrefill?: boolean;
}

export interface EvaluateItem {
    tokens: Int32Array;
    /** steers every token of the item */
    steering?: Steering;
    /**
     * Also score the item's own text: return log p(tokens[k] | tokens[0..k)) for every k from this
     * index on (1 ≤ scoreFrom ≤ tokens.length; tokens.length scores nothing).
     */
    scoreFrom?: number;
}

export interface EvaluateOptions {
    /** blocks whose last-token output to return */
    layers?: readonly LayerIndex[];
    /** also return the last token's logits. Defaults to `false`. */
    logits?: boolean;
    /** Decode the tokens all items start with once and copy its KV cache (`llama_memory_seq_cp`). Defaults to `true`. */
    reusePrefix?: boolean;
    /**
     * Also decode once what groups of items share beyond that (items taken in token order; a
     * group's prefix is decoded on a holder sequence and copied into each member). Saves the
     * repeated instruction and response of judge prompts; results can move within the float
     * rounding of the F16 KV cache, as with `reusePrefix`. Defaults to `false`.
     */
    sharePrefixes?: boolean;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
}

export interface Evaluation {
    /** last-token output of each requested block, in `layers` order; each of length n_embd */
    hidden: Float32Array[];
    logits: Float32Array | null;
    /** with `scoreFrom`: log-probability of each token from `scoreFrom` on, in nats; otherwise null */
    tokenLogProbs: Float64Array | null;
}

export class AbortError extends Error {
    constructor() {
        super("cancelled");
        this.name = "AbortError";
    }
}

const FLAG_OUTPUT = 1;
const FLAG_STEER = 2;

interface BatchToken {
    token: number;
    pos: number;
    seq: number;
    flags: number;
}

function checkSteering(steering: Steering | undefined, nLayer: number, nEmbd: number): void {
    if (!steering)
        return;
    if (typeof steering.gamma !== "number" || !Number.isFinite(steering.gamma))
        throw new RangeError(`steering gamma must be a finite number, got ${steering.gamma}`);
    for (const [il, v] of steering.vectors) {
        if (!Number.isInteger(il) || il < 0 || il >= nLayer)
            throw new RangeError(`steering layer ${il} is outside [0, ${nLayer - 1}]`);
        if (v.length !== nEmbd)
            throw new RangeError(`steering vector for layer ${il} has ${v.length} values; the model's n_embd is ${nEmbd}`);
    }
}

function resolveSampling(s: SamplingOptions | undefined): Required<Omit<SamplingOptions, "stopTokens" | "stopStrings">> & {stopTokens: readonly number[]; stopStrings: readonly string[]} {
    const r = {...samplingDefaults, stopTokens: [] as readonly number[], stopStrings: [] as readonly string[], ...s};
    for (const key of ["temperature", "topK", "topP", "minP", "repeatPenalty", "repeatLastN", "seed", "maxTokens"] as const) {
        if (typeof r[key] !== "number" || !Number.isFinite(r[key]))
            throw new RangeError(`sampling ${key} must be a finite number, got ${r[key]}`);
    }
    if (r.maxTokens < 1 || !Number.isInteger(r.maxTokens))
        throw new RangeError(`maxTokens must be a positive integer, got ${r.maxTokens}`);
    if (r.seed < 0 || r.seed > 0xffffffff || !Number.isInteger(r.seed))
        throw new RangeError(`seed must be an integer in [0, 2^32), got ${r.seed}`);
    return r;
}

/** Lexicographic order of token sequences (a prefix sorts first). */
function compareTokens(a: Int32Array, b: Int32Array): number {
    const n = Math.min(a.length, b.length);
    for (let k = 0; k < n; k++) {
        if (a[k] !== b[k])
            return a[k] - b[k];
    }
    return a.length - b.length;
}

/** Consecutive items (in token order) whose shared prefix is decoded once; see `prefixGroups`. */
interface PrefixGroup {
    /** position of the first member in the evaluation order */
    first: number;
    size: number;
    /** tokens the members share and take from the holder */
    prefix: number;
    /** the sequence that decodes the prefix, -1 before it starts */
    holder: number;
    ready: boolean;
    admitted: number;
    finished: number;
}

/** Tokens a group must share beyond the global prefix before a holder sequence pays for itself. */
const minGroupShare = 16;
/** Most members one group spans (bounds the partition search to O(items × this)). */
const maxGroupSize = 256;

/**
 * Splits items sorted by tokens into consecutive groups that share a prefix beyond the global one,
 * choosing the split that saves the most decoded tokens, Σ (members − 1) × (prefix − global), by
 * dynamic programming: four prompts that share a long response then form their own group instead
 * of joining a larger one that shares only the instruction. A member's last token and its scored
 * tokens are never part of the prefix (they need outputs); steered items stay alone.
 */
function prefixGroups(sorted: readonly EvaluateItem[], globalPrefix: number): PrefixGroup[] {
    const n = sorted.length;
    const limit = sorted.map((it) => it.steering ? -1 : Math.min(it.tokens.length - 1, it.scoreFrom === undefined ? Infinity : it.scoreFrom - 1));
    // shared[k]: tokens items k − 1 and k both have and may share (k ≥ 1)
    const shared = sorted.map((it, k) => {
        if (k === 0)
            return -1;
        return commonPrefixLength(sorted[k - 1].tokens, it.tokens, Math.min(limit[k - 1], limit[k]));
    });
    // best[j]: most tokens saved over the first j items; from[j]: where the last group starts (j − 1 when item j − 1 is alone)
    const best = new Float64Array(n + 1), from = new Int32Array(n + 1);
    for (let j = 1; j <= n; j++) {
        best[j] = best[j - 1];
        from[j] = j - 1;
        let prefix = Infinity;
        for (let i = j - 2; i >= 0 && j - i <= maxGroupSize; i--) {
            prefix = Math.min(prefix, shared[i + 1]);
            if (prefix - globalPrefix < minGroupShare)
                break;
            const saved = best[i] + (j - i - 1) * (prefix - globalPrefix);
            if (saved > best[j]) {
                best[j] = saved;
                from[j] = i;
            }
        }
    }
    const groups: PrefixGroup[] = [];
    for (let j = n; j > 0; j = from[j]) {
        const first = from[j];
        if (j - first >= 2) {
            let prefix = Infinity;
            for (let k = first + 1; k < j; k++)
                prefix = Math.min(prefix, shared[k]);
            groups.push({first, size: j - first, prefix, holder: -1, ready: false, admitted: 0, finished: 0});
        }
    }
    return groups.reverse();
}

/** Serializes operations on one context: the native side must never see two at once. */
class Lock {
    private tail: Promise<unknown> = Promise.resolve();
    run<T>(fn: () => Promise<T>): Promise<T> {
        const result = this.tail.then(fn, fn);
        this.tail = result.catch(() => undefined);
        return result;
    }
}

export class Engine {
    readonly sequences: number;
    readonly contextSize: number;
    readonly batchSize: number;
    private readonly lock = new Lock();
    private disposed = false;
    private decoded = 0;

    private constructor(readonly model: Model, private readonly native: AddonContext, options: Required<Omit<EngineOptions, "threads">>, private readonly onDispose: () => void) {
        this.sequences = options.sequences;
        this.contextSize = options.contextSize;
        this.batchSize = options.batchSize;
    }

    /** @internal use Model.createEngine */
    static create(model: Model, nativeModel: AddonModel, options: EngineOptions, onDispose: () => void): Engine {
        const resolved = {...engineDefaults, ...options};
        for (const key of ["sequences", "contextSize", "batchSize"] as const) {
            if (!Number.isInteger(resolved[key]) || resolved[key] < 1)
                throw new RangeError(`engine ${key} must be a positive integer, got ${resolved[key]}`);
        }
        const native = new model.binding.AddonContext(nativeModel, {
            contextSize: resolved.contextSize, batchSize: resolved.batchSize, sequences: resolved.sequences,
            ...(options.threads !== undefined ? {threads: options.threads, threadsBatch: options.threads} : {})
        });
        return new Engine(model, native, {sequences: resolved.sequences, contextSize: resolved.contextSize, batchSize: resolved.batchSize}, onDispose);
    }

    /**
     * Decodes each item and returns its last token's output at the requested blocks (and logits).
     * Many items share each llama_decode; results are in input order.
     */
    evaluate(items: readonly EvaluateItem[], options: EvaluateOptions = {}): Promise<Evaluation[]> {
        return this.lock.run(() => this.runEvaluate(items, options));
    }

    /** Last-token hidden states at `layers` for each token sequence: `result[i][k]` is block `layers[k]`. */
    async capture(prompts: readonly Int32Array[], layers: readonly LayerIndex[], options: Omit<EvaluateOptions, "layers" | "logits"> = {}): Promise<Float32Array[][]> {
        const results = await this.evaluate(prompts.map((tokens) => ({tokens})), {...options, layers});
        return results.map((r) => r.hidden);
    }

    /** Generates all requests with continuous batching; results are in input order. */
    generate(requests: readonly GenerationRequest[], options: GenerateOptions = {}): Promise<GenerationResult[]> {
        return this.lock.run(() => this.runGenerate(requests, options));
    }

    /**
     * llama.cpp's own control-vector path (`llama_set_adapter_cvec`): applies to every token of every
     * sequence. `data` is [n_layer - 1][n_embd] starting at block 1; range inclusive. For
     * reference checks; icon2 itself steers per sequence.
     */
    setNativeControlVector(data: Float32Array | null, firstLayer = -1, lastLayer = -1): Promise<void> {
        return this.lock.run(async () => {
            this.checkAlive();
            this.native.setAdapterCvec(data, firstLayer, lastLayer);
        });
    }

    /** Tokens this engine has sent through `llama_decode` so far: the work that prefix sharing saves. */
    get decodedTokens(): number {
        return this.decoded;
    }

    /** Frees the context. Waits for the running operation. Idempotent. */
    async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        await this.lock.run(async () => {
            this.native.dispose();
        });
        this.onDispose();
    }

    async [Symbol.asyncDispose](): Promise<void> {
        await this.dispose();
    }

    private checkAlive(): void {
        if (this.disposed)
            throw new Error("Engine is disposed");
    }

    private async decode(batch: BatchToken[], captureLayers: Int32Array | null, sampleSeqs: Int32Array | null) {
        const n = batch.length;
        this.decoded += n;
        const tokens = new Int32Array(n), positions = new Int32Array(n), seqs = new Int32Array(n), flags = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
            tokens[i] = batch[i].token;
            positions[i] = batch[i].pos;
            seqs[i] = batch[i].seq;
            flags[i] = batch[i].flags;
        }
        try {
            return await this.native.decode(tokens, positions, seqs, flags, captureLayers, sampleSeqs);
        } catch (err) {
            if ((err as {code?: number}).code === 2)
                throw new AbortError();
            throw err;
        }
    }

    private watchAbort(signal: AbortSignal | undefined): () => void {
        this.native.abort(false);
        if (!signal)
            return () => undefined;
        if (signal.aborted)
            throw new AbortError();
        const onAbort = () => this.native.abort(true);
        signal.addEventListener("abort", onAbort);
        return () => signal.removeEventListener("abort", onAbort);
    }

    private applySteering(seq: number, steering: Steering | undefined): boolean {
        this.native.clearSteering(seq);
        if (!steering || steering.vectors.size === 0)
            return false;
        for (const [il, v] of steering.vectors)
            this.native.setSteering(seq, il, v, steering.gamma);
        return true;
    }

    private async runEvaluate(items: readonly EvaluateItem[], options: EvaluateOptions): Promise<Evaluation[]> {
        this.checkAlive();
        const {nLayer, nEmbd} = this.model.info;
        const layers = Int32Array.from(options.layers ?? []);
        for (const il of layers) {
            if (!Number.isInteger(il) || il < 0 || il >= nLayer)
                throw new RangeError(`layer ${il} is outside [0, ${nLayer - 1}] (the model has ${nLayer} blocks)`);
        }
        if (new Set(layers).size !== layers.length)
            throw new RangeError("layers must not repeat");
        items.forEach((item, i) => {
            if (item.tokens.length === 0)
                throw new RangeError(`item ${i} has no tokens`);
            if (item.tokens.length > this.contextSize)
                throw new RangeError(`item ${i} has ${item.tokens.length} tokens; the context holds ${this.contextSize}: raise contextSize`);
            checkSteering(item.steering, nLayer, nEmbd);
            if (item.scoreFrom !== undefined && (!Number.isInteger(item.scoreFrom) || item.scoreFrom < 1 || item.scoreFrom > item.tokens.length))
                throw new RangeError(`item ${i}: scoreFrom must be an integer in [1, ${item.tokens.length}], got ${item.scoreFrom}`);
        });
        const results: Evaluation[] = new Array(items.length);
        if (items.length === 0)
            return results;
        const unwatch = this.watchAbort(options.signal);
        const captureLayers = layers.length > 0 ? layers : null;

        const reusePrefix = options.reusePrefix ?? true;
        // Tokens every item starts with, decoded once on sequence 0 and shared by copy.
        let prefixLength = 0;
        if (reusePrefix && items.length > 1 && this.sequences > 1 && items.every((it) => !it.steering)) {
            prefixLength = Math.min(...items.map((it) => it.tokens.length)) - 1;
            for (const item of items)
                prefixLength = commonPrefixLength(item.tokens, items[0].tokens, prefixLength);
            // the shared prefix is decoded without outputs, so it must end before the first scored prediction
            for (const item of items) {
                if (item.scoreFrom !== undefined)
                    prefixLength = Math.min(prefixLength, item.scoreFrom - 1);
            }
        }
        const prefixSeq = prefixLength > 0 ? 0 : -1;
        const freeSeqs: number[] = [];
        for (let s = this.sequences - 1; s > prefixSeq; s--)
            freeSeqs.push(s);

        // Items in token order when groups share prefixes, so that the members of a group follow each other.
        const order = items.map((_, i) => i);
        const groupAt: (PrefixGroup | null)[] = new Array(items.length).fill(null);
        if (reusePrefix && options.sharePrefixes && this.sequences > 2) {
            order.sort((a, b) => compareTokens(items[a].tokens, items[b].tokens) || a - b);
            for (const group of prefixGroups(order.map((i) => items[i]), prefixLength)) {
                for (let k = group.first; k < group.first + group.size; k++)
                    groupAt[k] = group;
            }
        }

        interface Active {index: number; seq: number; offset: number; steered: boolean; logProbs: Float64Array | null; group: PrefixGroup | null}
        const active: Active[] = [];
        // holder sequences decoding a group's prefix (no outputs, never steered)
        const filling: {group: PrefixGroup; tokens: Int32Array; offset: number}[] = [];
        let next = 0, done = 0, kvUsed = prefixLength;
        try {
            for (let offset = 0; offset < prefixLength; offset += this.batchSize) {
                const batch: BatchToken[] = [];
                for (let k = offset; k < Math.min(prefixLength, offset + this.batchSize); k++)
                    batch.push({token: items[0].tokens[k], pos: k, seq: prefixSeq, flags: 0});
                await this.decode(batch, null, null);
            }
            while (done < items.length) {
                if (options.signal?.aborted)
                    throw new AbortError();
                // admit items while sequences and KV cells last
                while (next < items.length && freeSeqs.length > 0) {
                    const inFlight = active.length + filling.length > 0;
                    const group = groupAt[next];
                    if (group !== null && group.holder < 0) {
                        // the group's first member: decode its prefix on a holder sequence first
                        if (inFlight && kvUsed + group.prefix - prefixLength > this.contextSize)
                            break;
                        group.holder = freeSeqs.pop()!;
                        if (prefixLength > 0)
                            this.native.memorySeqCp(prefixSeq, group.holder, 0, prefixLength);
                        filling.push({group, tokens: items[order[next]].tokens, offset: prefixLength});
                        kvUsed += group.prefix - prefixLength;
                        continue;
                    }
                    if (group !== null && !group.ready)
                        break;
                    const index = order[next];
                    const item = items[index];
                    const start = group?.prefix ?? prefixLength;
                    const need = item.tokens.length - start;
                    if (inFlight && kvUsed + need > this.contextSize)
                        break;
                    const seq = freeSeqs.pop()!;
                    if (group !== null)
                        this.native.memorySeqCp(group.holder, seq, 0, group.prefix);
                    else if (prefixLength > 0)
                        this.native.memorySeqCp(prefixSeq, seq, 0, prefixLength);
                    const steered = this.applySteering(seq, item.steering);
                    const logProbs = item.scoreFrom === undefined ? null : new Float64Array(item.tokens.length - item.scoreFrom);
                    active.push({index, seq, offset: start, steered, logProbs, group});
                    kvUsed += need;
                    next++;
                    if (group !== null && ++group.admitted === group.size) {
                        // every member holds the prefix now; its cells stay until the last member ends
                        this.native.memorySeqRm(group.holder, -1, -1);
                        freeSeqs.push(group.holder);
                    }
                }
                const batch: BatchToken[] = [];
                // rows ending an item (with their ordinal among output rows, which indexes `captured`)
                const lastRows: {a: Active; row: number; ordinal: number}[] = [];
                // rows whose logits score the item's next token
                const scoreRows: number[] = [], scoreTokens: number[] = [], scoreSlots: {a: Active; k: number}[] = [];
                let outputCount = 0;
                for (const f of filling) {
                    const take = Math.min(f.group.prefix - f.offset, this.batchSize - batch.length);
                    for (let k = 0; k < take; k++)
                        batch.push({token: f.tokens[f.offset + k], pos: f.offset + k, seq: f.group.holder, flags: 0});
                    f.offset += take;
                    if (batch.length === this.batchSize)
                        break;
                }
                for (const a of active) {
                    if (batch.length === this.batchSize)
                        break;
                    const {tokens, scoreFrom} = items[a.index];
                    const take = Math.min(tokens.length - a.offset, this.batchSize - batch.length);
                    for (let k = 0; k < take; k++) {
                        const pos = a.offset + k;
                        const last = pos === tokens.length - 1;
                        const scored = scoreFrom !== undefined && !last && pos >= scoreFrom - 1;
                        const row = batch.length;
                        batch.push({token: tokens[pos], pos, seq: a.seq, flags: (last || scored ? FLAG_OUTPUT : 0) | (a.steered ? FLAG_STEER : 0)});
                        if (scored) {
                            scoreRows.push(row);
                            scoreTokens.push(tokens[pos + 1]);
                            scoreSlots.push({a, k: pos + 1 - scoreFrom});
                        }
                        if (last)
                            lastRows.push({a, row, ordinal: outputCount});
                        if (last || scored)
                            outputCount++;
                    }
                    a.offset += take;
                    if (batch.length === this.batchSize)
                        break;
                }
                const result = await this.decode(batch, captureLayers, null);
                for (let k = filling.length - 1; k >= 0; k--) {
                    if (filling[k].offset === filling[k].group.prefix) {
                        filling[k].group.ready = true;
                        filling.splice(k, 1);
                    }
                }
                if (scoreRows.length > 0) {
                    const logProbs = this.native.tokenLogProbs(Int32Array.from(scoreRows), Int32Array.from(scoreTokens));
                    scoreSlots.forEach(({a, k}, j) => {
                        a.logProbs![k] = logProbs[j];
                    });
                }
                for (const {a, row, ordinal} of lastRows) {
                    const hidden: Float32Array[] = [];
                    if (result.captured) {
                        for (let k = 0; k < layers.length; k++)
                            hidden.push(result.captured.subarray((ordinal * layers.length + k) * nEmbd, (ordinal * layers.length + k + 1) * nEmbd));
                    }
                    results[a.index] = {hidden, logits: options.logits ? this.native.getLogits(row) : null, tokenLogProbs: a.logProbs};
                    this.native.memorySeqRm(a.seq, -1, -1);
                    this.native.clearSteering(a.seq);
                    kvUsed -= items[a.index].tokens.length - (a.group?.prefix ?? prefixLength);
                    if (a.group !== null && ++a.group.finished === a.group.size)
                        kvUsed -= a.group.prefix - prefixLength;
                    freeSeqs.push(a.seq);
                    active.splice(active.indexOf(a), 1);
                    done++;
                }
                options.onProgress?.(done, items.length);
            }
        } finally {
            unwatch();
            this.native.memoryClear();
            for (let s = 0; s < this.sequences; s++)
                this.native.clearSteering(s);
        }
        return results;
    }

    private async runGenerate(requests: readonly GenerationRequest[], options: GenerateOptions): Promise<GenerationResult[]> {
        this.checkAlive();
        const {nLayer, nEmbd} = this.model.info;
        const resolved = requests.map((r, i) => {
            if (r.prompt.length === 0)
                throw new RangeError(`request ${i} has an empty prompt`);
            checkSteering(r.steering, nLayer, nEmbd);
            const sampling = resolveSampling(r.sampling);
            const need = r.prompt.length + sampling.maxTokens;
            if (need > this.contextSize)
                throw new RangeError(`request ${i}: prompt (${r.prompt.length} tokens) + maxTokens (${sampling.maxTokens}) exceed the context size (${this.contextSize}); raise contextSize or lower maxTokens`);
            return {sampling, need, steered: !!r.steering && r.steering.vectors.size > 0, steerPrompt: !!r.steering?.steerPrompt};
        });
        const results: GenerationResult[] = new Array(requests.length);
        if (requests.length === 0)
            return results;
        const share = options.sharePrefill ?? true;
        const unwatch = this.watchAbort(options.signal);

        interface Active {
            index: number;
            seq: number;
            nPast: number;
            /** tokens still to feed, with their steer flags; the last one is sampled after when `sampleAfter` */
            pending: number[];
            pendingSteer: boolean[];
            sampleAfter: boolean;
            /** followers wait for this leader's shared prefill */
            followers: Active[];
            waiting: boolean;
            generated: number[];
        }
        const freeSeqs: number[] = [];
        for (let s = this.sequences - 1; s >= 0; s--)
            freeSeqs.push(s);
        const active: Active[] = [];
        let next = 0, done = 0, generatedTokens = 0, kvReserved = 0;
        const model = this.model;

        const admit = (index: number): Active => {
            const seq = freeSeqs.pop()!;
            const req = requests[index];
            const {sampling} = resolved[index];
            this.applySteering(seq, req.steering);
            this.native.setSampler(seq, sampling);
            if (sampling.repeatPenalty !== 1)
                this.native.samplerAccept(seq, req.prompt);
            kvReserved += resolved[index].need;
            const a: Active = {index, seq, nPast: 0, pending: [], pendingSteer: [], sampleAfter: true, followers: [], waiting: false, generated: []};
            active.push(a);
            return a;
        };
        const feedWholePrompt = (a: Active) => {
            const prompt = requests[a.index].prompt;
            const {steered, steerPrompt} = resolved[a.index];
            a.pending = Array.from(prompt);
            a.pendingSteer = a.pending.map((_, k) => steered && (steerPrompt || k === prompt.length - 1));
            a.sampleAfter = true;
        };
        const feedLastPromptToken = (a: Active) => {
            const prompt = requests[a.index].prompt;
            a.pending = [prompt[prompt.length - 1]];
            a.pendingSteer = [resolved[a.index].steered];
            a.sampleAfter = true;
        };
        const finish = async (a: Active, reason: FinishReason, textOverride?: string) => {
            const tokens = Int32Array.from(a.generated);
            const result: GenerationResult = {tokens, text: textOverride ?? model.detokenize(tokens), finishReason: reason};
            results[a.index] = result;
            this.native.memorySeqRm(a.seq, -1, -1);
            this.native.clearSteering(a.seq);
            this.native.clearSampler(a.seq);
            kvReserved -= resolved[a.index].need;
            freeSeqs.push(a.seq);
            active.splice(active.indexOf(a), 1);
            done++;
            await options.onResult?.(a.index, result);
        };

        try {
            while (done < requests.length) {
                if (options.signal?.aborted)
                    throw new AbortError();
                // admit queued requests; a run of requests with the same unsteered prompt shares one prefill
                while (next < requests.length && freeSeqs.length > 0 && (active.length === 0 || kvReserved + resolved[next].need <= this.contextSize)) {
                    const leader = admit(next);
                    const prompt = requests[next].prompt;
                    next++;
                    if (!share || resolved[leader.index].steerPrompt || prompt.length < 2) {
                        feedWholePrompt(leader);
                        continue;
                    }
                    while (next < requests.length && freeSeqs.length > 0 && !resolved[next].steerPrompt &&
                        kvReserved + resolved[next].need <= this.contextSize && sameTokens(requests[next].prompt, prompt)) {
                        const follower = admit(next++);
                        follower.waiting = true;
                        leader.followers.push(follower);
                    }
                    if (leader.followers.length === 0) {
                        feedWholePrompt(leader);
                    } else {
                        leader.pending = Array.from(prompt.subarray(0, prompt.length - 1));
                        leader.pendingSteer = leader.pending.map(() => false);
                        leader.sampleAfter = false;
                    }
                }

                const batch: BatchToken[] = [];
                const sampled: Active[] = [];
                const sharedDone: Active[] = [];
                // generating sequences first (one token each), then prompt chunks
                const order = [...active].sort((x, y) => Number(x.pending.length > 1) - Number(y.pending.length > 1));
                for (const a of order) {
                    if (a.waiting || a.pending.length === 0)
                        continue;
                    const take = Math.min(a.pending.length, this.batchSize - batch.length);
                    if (take === 0)
                        break;
                    for (let k = 0; k < take; k++) {
                        const last = k === a.pending.length - 1;
                        const output = last && a.sampleAfter;
                        batch.push({token: a.pending[k], pos: a.nPast + k, seq: a.seq, flags: (output ? FLAG_OUTPUT : 0) | (a.pendingSteer[k] ? FLAG_STEER : 0)});
                    }
                    a.nPast += take;
                    const fed = take === a.pending.length;
                    a.pending = a.pending.slice(take);
                    a.pendingSteer = a.pendingSteer.slice(take);
                    if (fed && a.sampleAfter)
                        sampled.push(a);
                    else if (fed)
                        sharedDone.push(a);
                }
                if (batch.length === 0)
                    throw new Error("internal: nothing to decode");
                const sampleSeqs = new Int32Array(sampled.length);
                // outputs come in batch order; `sampled` was filled in batch order too
                sampled.forEach((a, o) => (sampleSeqs[o] = a.seq));
                const result = await this.decode(batch, null, sampleSeqs);

                for (const leader of sharedDone) {
                    for (const f of leader.followers) {
                        this.native.memorySeqCp(leader.seq, f.seq, 0, leader.nPast);
                        f.nPast = leader.nPast;
                        f.waiting = false;
                        feedLastPromptToken(f);
                    }
                    leader.followers = [];
                    feedLastPromptToken(leader);
                }
                for (let o = 0; o < sampled.length; o++) {
                    const a = sampled[o];
                    const token = result.sampled[o];
                    const {sampling, steered} = resolved[a.index];
                    if (model.isEndOfGeneration(token)) {
                        await finish(a, "eos");
                        continue;
                    }
                    if (sampling.stopTokens.includes(token)) {
                        await finish(a, "stop");
                        continue;
                    }
                    a.generated.push(token);
                    generatedTokens++;
                    if (sampling.stopStrings.length > 0) {
                        // Earlier steps found no stop, so a new one ends in the newest token: looking at a
                        // tail of (longest stop + margin) tokens is enough, and keeps this step O(1).
                        const window = Math.max(...sampling.stopStrings.map((stop) => stop.length)) + 4;
                        const tail = model.detokenize(Int32Array.from(a.generated.slice(-window)));
                        if (firstStop(tail, sampling.stopStrings) >= 0) {
                            const text = model.detokenize(Int32Array.from(a.generated));
                            const cut = firstStop(text, sampling.stopStrings);
                            // a tail cut inside a multi-byte character can read differently from the whole text
                            if (cut >= 0) {
                                await finish(a, "stop", text.slice(0, cut));
                                continue;
                            }
                        }
                    }
                    if (a.generated.length >= sampling.maxTokens) {
                        await finish(a, "length");
                        continue;
                    }
                    a.pending = [token];
                    a.pendingSteer = [steered];
                    a.sampleAfter = true;
                }
                options.onProgress?.({tokens: generatedTokens, done, total: requests.length});
            }
        } finally {
            unwatch();
            this.native.memoryClear();
            for (let s = 0; s < this.sequences; s++) {
                this.native.clearSteering(s);
                this.native.clearSampler(s);
            }
        }
        return results;
    }
}

/** How many leading tokens `a` and `b` share, at most `max`. */
function commonPrefixLength(a: Int32Array, b: Int32Array, max: number): number {
    const n = Math.min(a.length, b.length, max);
    let k = 0;
    while (k < n && a[k] === b[k])
        k++;
    return k;
}

export function sameTokens(a: Int32Array, b: Int32Array): boolean {
    return a.length === b.length && commonPrefixLength(a, b, a.length) === a.length;
}

function firstStop(text: string, stops: readonly string[]): number {
    let best = -1;
    for (const s of stops) {
        const i = text.indexOf(s);
        if (i >= 0 && (best < 0 || i < best))
            best = i;
    }
    return best;
}
