// Choosing γ⁺, γ⁻ and the controlled blocks without a reward model (paper Appendix J, METHOD.md §3),
// with the model as its own pairwise judge (src/judge.ts). On a seeded sample of scored
// instructions: generate unsteered, at every γ⁺ and at every γ⁻ for each layer range; judge γ⁺
// against unsteered, pick the best γ⁺ per range, judge it against every γ⁻; then apply the paper's
// rule (src/recommend.ts). Also cheap text statistics per setting, which show degeneration (repetition,
// collapse of vocabulary) that a weak judge may miss.
import {turnMarkers, type ChatTemplate} from "./chat.js";
import {checkFitsModel, type DirectionSet} from "./control-vector.js";
import {defaults} from "./defaults.js";
import type {GenerationRequest, LayerIndex, Model, Steering} from "./engine/index.js";
import {createJudge, type Comparison, type Judge, type JudgeDescription, type JudgeMethodChoice} from "./judge.js";
import {defaultLayerRange, layersInRange} from "./layers.js";
import {tokenizePrompt, userTurnPrompt} from "./prompt.js";
import {checkLayerRange, formatLayerRange, recommend, recommendDefaults, type GammaMinusRow, type GammaPlusRow, type LayerRange, type Recommendation} from "./recommend.js";
import type {ScoredRecord} from "./records.js";
import {deriveSeed, seededSample} from "./seed.js";

/** Defaults of the sweep, shared by the library and the CLI (`icon2 sweep`). */
export const sweepDefaults = Object.freeze({
    /** instructions judged per setting; 100 keeps a win rate's standard error near 0.03 */
    sample: 100,
    gammaChosen: Object.freeze([0.01, 0.03, 0.05, 0.1, 0.3]),
    gammaRejected: Object.freeze([-0.01, -0.03, -0.05, -0.1, -0.3]),
    /** shorter than the pairs stage: the judge needs enough text to compare, not whole answers */
    maxTokens: 256,
    /** parallel sequences while generating */
    sequences: 16
});

/** How much more 4-gram repetition than unsteered the recommended γ⁺ may show before the sweep warns of loops. */
const loopWarningMargin = 0.2;

export interface SweepProgress {
    phase: "generate" | "judge";
    done: number;
    total: number;
}

export interface SweepOptions {
    /** criterion → direction set (from `readDirectionsDir`); every sampled record's `criterion` must be here */
    directions: ReadonlyMap<string, DirectionSet>;
    /** the target model's chat template, used to render each instruction for generation */
    template: ChatTemplate;
    /** γ⁺ values to try, each > 0. Defaults to `sweepDefaults.gammaChosen`. */
    gammaChosen?: readonly number[];
    /** γ⁻ values to try, each < 0. Defaults to `sweepDefaults.gammaRejected`. */
    gammaRejected?: readonly number[];
    /** inclusive 0-based block ranges to try. Defaults to `[defaultLayerRange(nLayer)]`. */
    layerRanges?: readonly LayerRange[];
    /** records sampled (`seededSample(records, sample, deriveSeed(seed, "sweep", "sample"))`). Defaults to 100. */
    sample?: number;
    /** run seed. Defaults to `defaults.seed` (0). */
    seed?: number;
    /**
     * Sampling of every response: the pairs stage's (`defaults.pairs` temperature 0.7, top-p 0.9) and
     * its per-record sampler seed `deriveSeed(seed, "pairs", id)`, the same for every setting. So the
     * sweep previews what the pairs stage would write with the same seed, and two settings of one
     * record differ only where steering changed a token. Pass temperature 0 for greedy.
     */
    temperature?: number;
    topP?: number;
    /** most tokens per response. Defaults to 256. */
    maxTokens?: number;
    /** the smallest acceptable win rate of γ⁺-best over γ⁻. Defaults to 0.9 (paper). */
    winRateThreshold?: number;
    /**
     * The judge. Defaults to a self-judge on `model` with `template` by `judgeMethod` (created and
     * disposed here). Pass one built on a second model (`createJudge(judgeModel, judgeTemplate)`) to
     * judge with it; the caller then disposes it.
     */
    judge?: Judge;
    /** How the default self-judge judges. Defaults to `auto` (`judgeMethodFor`: likelihood for the plain template, else compare). */
    judgeMethod?: JudgeMethodChoice;
    /** parallel sequences while generating. Defaults to 16. */
    sequences?: number;
    /** CPU threads for generation (and the default judge). Defaults to llama.cpp's choice. */
    threads?: number;
    signal?: AbortSignal;
    onProgress?: (progress: SweepProgress) => void;
}

/** Cheap statistics of one setting's responses. */
export interface TextStats {
    /** mean generated tokens per response */
    meanTokens: number;
    meanChars: number;
    /** distinct word unigrams / all word unigrams over the setting's responses (lower-cased) */
    distinct1: number;
    /** distinct word bigrams / all word bigrams, likewise */
    distinct2: number;
    /** share of word 4-grams that repeat an earlier 4-gram of the same response (0 = none, → 1 = a loop) */
    repetition: number;
    /** share of records whose response equals the reference response exactly (null when there is no reference) */
    identical: number | null;
}

/** One generation setting: unsteered (gamma 0, layers null) or a γ on a layer range. */
export interface SettingStats extends TextStats {
    layers: string | null;
    gamma: number;
    /** what `identical` compares with: the unsteered response (γ⁺), the γ⁺-best response of the range (γ⁻) */
    reference: "unsteered" | "best γ⁺" | null;
    n: number;
}

/** Per layer range: the paper's rule applied to that range alone, and the directions' separation there. */
export interface LayerRangeRow {
    layers: string;
    gammaChosen: number;
    meanPreference: number;
    gammaRejected: number;
    winRate: number;
    meanGap: number;
    /** mean held-out separation accuracy over the range's blocks, averaged over the sampled records' criteria; null when the files carry none */
    separationAccuracy: number | null;
    warnings: string[];
}

export interface SweepResult {
    /** ids of the sampled records, in input order */
    sample: string[];
    settings: {gammaChosen: number[]; gammaRejected: number[]; layers: string[]; maxTokens: number; temperature: number; topP: number; seed: number; winRateThreshold: number};
    judge: JudgeDescription;
    plus: GammaPlusRow[];
    minus: GammaMinusRow[];
    layers: LayerRangeRow[];
    stats: SettingStats[];
    recommendation: Recommendation;
    /** the recommendation's warnings plus the sweep's own */
    warnings: string[];
}

// ---------------------------------------------------------------------------------------------------
// text statistics (pure)

function words(text: string): string[] {
    return text.toLowerCase().split(/\s+/).filter((w) => w !== "");
}

function ngrams(tokens: readonly string[], n: number): string[] {
    const out: string[] = [];
    for (let k = 0; k + n <= tokens.length; k++)
        out.push(tokens.slice(k, k + n).join("\u0000"));
    return out;
}

function distinctShare(texts: readonly string[], n: number): number {
    let total = 0;
    const seen = new Set<string>();
    for (const text of texts) {
        const grams = ngrams(words(text), n);
        total += grams.length;
        for (const g of grams)
            seen.add(g);
    }
    return total === 0 ? 0 : seen.size / total;
}

/** Share of word 4-grams that already occurred earlier in the same text, over all texts. */
export function repetitionRate(texts: readonly string[]): number {
    let total = 0, repeated = 0;
    for (const text of texts) {
        const seen = new Set<string>();
        for (const g of ngrams(words(text), 4)) {
            total++;
            if (seen.has(g))
                repeated++;
            else
                seen.add(g);
        }
    }
    return total === 0 ? 0 : repeated / total;
}

/**
 * Statistics of one setting's responses. `tokenCounts[i]` is response i's generated token count;
 * `references[i]`, when given, is what response i is compared with for `identical`. Words are
 * whitespace-separated and lower-cased; an empty list gives zeros.
 */
export function textStats(texts: readonly string[], tokenCounts: readonly number[], references?: readonly string[]): TextStats {
    if (tokenCounts.length !== texts.length)
        throw new RangeError(`textStats: ${texts.length} texts but ${tokenCounts.length} token counts`);
    if (references !== undefined && references.length !== texts.length)
        throw new RangeError(`textStats: ${texts.length} texts but ${references.length} references`);
    const n = texts.length;
    const mean = (values: readonly number[]) => n === 0 ? 0 : values.reduce((a, b) => a + b, 0) / n;
    return {
        meanTokens: mean(tokenCounts),
        meanChars: mean(texts.map((t) => t.length)),
        distinct1: distinctShare(texts, 1),
        distinct2: distinctShare(texts, 2),
        repetition: repetitionRate(texts),
        identical: references === undefined ? null : n === 0 ? 0 : texts.filter((t, i) => t === references[i]).length / n
    };
}

// ---------------------------------------------------------------------------------------------------
// the sweep

function settingKey(layers: string | null, gamma: number): string {
    return `${layers ?? "none"}\u0000${gamma}`;
}

function steeringVectors(set: DirectionSet, range: LayerRange): Map<LayerIndex, Float32Array> {
    const vectors = new Map<LayerIndex, Float32Array>();
    for (const il of layersInRange(range)) {
        const u = set.directions[il], s = set.scales[il];
        // s^l·u^l rounded to float32, as the control-vector file stores it
        vectors.set(il, u.map((x) => s * x));
    }
    return vectors;
}

function mean(values: readonly number[]): number {
    return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function checkGammas(values: readonly number[], sign: "positive" | "negative", name: string): void {
    if (values.length === 0)
        throw new RangeError(`sweep: ${name} is empty; give at least one value`);
    for (const g of values) {
        if (!Number.isFinite(g) || (sign === "positive" ? !(g > 0) : !(g < 0)))
            throw new RangeError(`sweep: every ${name} value must be ${sign === "positive" ? "> 0" : "< 0"}, got ${g}`);
    }
    if (new Set(values).size !== values.length)
        throw new RangeError(`sweep: ${name} lists a value twice: ${values.join(", ")}`);
}

/**
 * Runs the sweep on `model` (the target model, which generates) over a seeded sample of `records`
 * and returns every score table and the recommendation. Validates all options before generating.
 * Work: sample × (1 + ranges × (|γ⁺| + |γ⁻|)) generations, then sample × ranges × (|γ⁺| + |γ⁻|)
 * comparisons (two judge prompts each, fewer when responses are identical).
 */
export async function runSweep(model: Model, records: readonly ScoredRecord[], options: SweepOptions): Promise<SweepResult> {
    const {nLayer} = model.info;
    const gammaChosen = [...(options.gammaChosen ?? sweepDefaults.gammaChosen)];
    const gammaRejected = [...(options.gammaRejected ?? sweepDefaults.gammaRejected)];
    checkGammas(gammaChosen, "positive", "γ⁺ (gammaChosen)");
    checkGammas(gammaRejected, "negative", "γ⁻ (gammaRejected)");
    const ranges = (options.layerRanges ?? [defaultLayerRange(nLayer)]).map((r) => [r[0], r[1]] as LayerRange);
    if (ranges.length === 0)
        throw new RangeError("sweep: layerRanges is empty; give at least one range");
    for (const range of ranges) {
        checkLayerRange(range, nLayer);
        if (range[0] < 1)
            throw new RangeError(`layer range ${formatLayerRange(range)} includes block 0, which llama.cpp's control vectors cannot steer; use blocks within [1, ${nLayer - 1}]`);
    }
    const layerNames = ranges.map(formatLayerRange);
    if (new Set(layerNames).size !== layerNames.length)
        throw new RangeError(`sweep: a layer range is listed twice: ${layerNames.join(", ")}`);
    const sampleSize = options.sample ?? sweepDefaults.sample;
    if (!Number.isInteger(sampleSize) || sampleSize < 1)
        throw new RangeError(`sweep: sample must be a positive integer, got ${sampleSize}`);
    const seed = options.seed ?? defaults.seed;
    if (!Number.isSafeInteger(seed))
        throw new RangeError(`sweep: seed must be an integer, got ${seed}`);
    const temperature = options.temperature ?? defaults.pairs.temperature;
    const topP = options.topP ?? defaults.pairs.topP;
    const maxTokens = options.maxTokens ?? sweepDefaults.maxTokens;
    const sequences = options.sequences ?? sweepDefaults.sequences;
    const winRateThreshold = options.winRateThreshold ?? recommendDefaults.winRateThreshold;
    if (!(temperature >= 0))
        throw new RangeError(`sweep: temperature must be ≥ 0, got ${temperature}`);
    if (!(topP > 0 && topP <= 1))
        throw new RangeError(`sweep: topP must be in (0, 1], got ${topP}`);
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
        throw new RangeError(`sweep: maxTokens must be a positive integer, got ${maxTokens}`);
    if (!Number.isInteger(sequences) || sequences < 1)
        throw new RangeError(`sweep: sequences must be a positive integer, got ${sequences}`);
    if (!(winRateThreshold >= 0 && winRateThreshold <= 1))
        throw new RangeError(`sweep: winRateThreshold must be in [0, 1], got ${winRateThreshold}`);
    if (records.length === 0)
        throw new RangeError("sweep: no records to sample from");
    for (const [criterion, set] of options.directions)
        checkFitsModel(set, model.info, `for criterion "${criterion}"`);
    const ids = new Set<string>();
    for (const record of records) {
        if (ids.has(record.id))
            throw new Error(`record id "${record.id}" appears twice in the input; ids must be unique`);
        ids.add(record.id);
    }

    const sample = seededSample(records, sampleSize, deriveSeed(seed, "sweep", "sample"));
    for (const record of sample) {
        if (!options.directions.has(record.criterion))
            throw new Error(`record "${record.id}" has criterion "${record.criterion}", which has no direction set; available: ${[...options.directions.keys()].join(", ")}`);
    }
    const warnings: string[] = [];
    if (sample.length < sampleSize)
        warnings.push(`only ${sample.length} records to sample from (asked for ${sampleSize}); win rates move in steps of ${(1 / sample.length).toFixed(3)}`);

    // --- generation: one request per (record, setting); the unsteered one is shared by all ranges
    const stopStrings = turnMarkers(options.template);
    const prompts = sample.map((r) => tokenizePrompt(model, options.template, userTurnPrompt(options.template, r.instruction)));
    interface Setting {layers: string | null; range: LayerRange | null; gamma: number}
    const settings: Setting[] = [{layers: null, range: null, gamma: 0}];
    ranges.forEach((range, k) => {
        for (const gamma of [...gammaChosen, ...gammaRejected])
            settings.push({layers: layerNames[k], range, gamma});
    });
    const vectorCache = new Map<string, Map<LayerIndex, Float32Array>>();
    const vectorsFor = (criterion: string, range: LayerRange) => {
        const key = `${criterion}\u0000${formatLayerRange(range)}`;
        let v = vectorCache.get(key);
        if (v === undefined) {
            v = steeringVectors(options.directions.get(criterion)!, range);
            vectorCache.set(key, v);
        }
        return v;
    };
    // record-major order: a record's settings are adjacent, so requests sharing a prompt share its prefill
    const requests: GenerationRequest[] = [];
    sample.forEach((record, i) => {
        const sampling = {temperature, topP, topK: defaults.pairs.topK, maxTokens, seed: deriveSeed(seed, "pairs", record.id), stopStrings};
        for (const s of settings) {
            const steering: Steering | undefined = s.range === null ? undefined : {vectors: vectorsFor(record.criterion, s.range), gamma: s.gamma};
            requests.push({prompt: prompts[i], steering, sampling});
        }
    });
    const longestPrompt = Math.max(...prompts.map((p) => p.length));
    const engine = await model.createEngine({
        sequences,
        // every sequence may hold a whole prompt plus a whole response at once
        contextSize: sequences * (longestPrompt + maxTokens + 1),
        threads: options.threads
    });
    let generated;
    try {
        options.onProgress?.({phase: "generate", done: 0, total: requests.length});
        generated = await engine.generate(requests, {
            signal: options.signal,
            onProgress: (p) => options.onProgress?.({phase: "generate", done: p.done, total: p.total})
        });
    } finally {
        await engine.dispose();
    }
    const response = (i: number, layers: string | null, gamma: number) => {
        const k = settings.findIndex((s) => s.layers === layers && s.gamma === gamma);
        return generated[i * settings.length + k];
    };

    // --- judging
    const ownJudge = options.judge === undefined;
    const judge = options.judge ?? await createJudge(model, options.template, {threads: options.threads, method: options.judgeMethod});
    if (judge.method === "likelihood") {
        // the same file loaded twice (--judge-model pointing at the model) is still the model judging itself
        const sameWeights = judge.model === model || judge.model.info.path === model.info.path;
        warnings.push(sameWeights
            ? "the judge is the model's own likelihood (a base model, or --judge-method likelihood): it rates fluency, not alignment, " +
              "and favours the unsteered text it generated itself, so γ⁺ leans to the smallest value; judge with an instruct model (--judge-model) to rate alignment"
            : "the judge is another model's likelihood (a base model, or --judge-method likelihood): it rates fluency, not alignment; " +
              "an instruct judge model with --judge-method compare rates alignment");
    }
    const n = sample.length;
    const plus: GammaPlusRow[] = [];
    const minus: GammaMinusRow[] = [];
    const bestPlus = new Map<string, number>();
    try {
        const judged = {done: 0, total: n * ranges.length * (gammaChosen.length + gammaRejected.length)};
        const compare = async (items: Comparison[]) => {
            const base = judged.done;
            const p = await judge.compare(items, {
                signal: options.signal,
                // the judge counts its own prompts (compare: two per comparison; likelihood: one per distinct response); report comparisons
                onProgress: (done, total) => options.onProgress?.({phase: "judge", done: base + Math.round(items.length * done / total), total: judged.total})
            });
            judged.done += items.length;
            options.onProgress?.({phase: "judge", done: judged.done, total: judged.total});
            return p;
        };

        // γ⁺ against the unsteered response
        const plusItems: Comparison[] = [];
        for (const layers of layerNames) {
            for (const gamma of gammaChosen) {
                for (let i = 0; i < n; i++)
                    plusItems.push({instruction: sample[i].instruction, first: response(i, layers, gamma).text, second: response(i, null, 0).text});
            }
        }
        const plusP = await compare(plusItems);
        let at = 0;
        for (const layers of layerNames) {
            for (const gamma of gammaChosen) {
                plus.push({gamma, layers, meanPreference: mean(plusP.slice(at, at + n)), n});
                at += n;
            }
            // the range's best γ⁺, by recommend()'s own tie rule (higher mean, then smaller |γ|, then smaller γ)
            const best = plus.filter((r) => r.layers === layers).sort((a, b) =>
                b.meanPreference - a.meanPreference || Math.abs(a.gamma) - Math.abs(b.gamma) || a.gamma - b.gamma)[0];
            bestPlus.set(layers, best.gamma);
        }

        // the range's best γ⁺ against each γ⁻
        const minusItems: Comparison[] = [];
        for (const layers of layerNames) {
            for (const gamma of gammaRejected) {
                for (let i = 0; i < n; i++)
                    minusItems.push({instruction: sample[i].instruction, first: response(i, layers, bestPlus.get(layers)!).text, second: response(i, layers, gamma).text});
            }
        }
        const minusP = await compare(minusItems);
        at = 0;
        for (const layers of layerNames) {
            for (const gamma of gammaRejected) {
                const ps = minusP.slice(at, at + n);
                at += n;
                // gap = P(γ⁺-best better) − P(γ⁻ better) = 2P − 1 (the judge's two probabilities sum to 1)
                minus.push({gamma, layers, winRate: ps.filter((p) => p > 0.5).length / n, meanGap: mean(ps.map((p) => 2 * p - 1)), n});
            }
        }
    } finally {
        if (ownJudge)
            await judge.dispose();
    }

    // --- per range and overall decisions
    const layerRows: LayerRangeRow[] = ranges.map((range, k) => {
        const layers = layerNames[k];
        const r = recommend(plus.filter((row) => row.layers === layers), minus.filter((row) => row.layers === layers), {winRateThreshold});
        const rejected = minus.find((row) => row.layers === layers && row.gamma === r.gammaRejected)!;
        const chosen = plus.find((row) => row.layers === layers && row.gamma === r.gammaChosen)!;
        const accuracies = sample.map((record) => mean(layersInRange(range).map((il) => options.directions.get(record.criterion)!.accuracy[il])));
        const accuracy = mean(accuracies);
        return {
            layers, gammaChosen: r.gammaChosen, meanPreference: chosen.meanPreference, gammaRejected: r.gammaRejected,
            winRate: rejected.winRate, meanGap: rejected.meanGap, separationAccuracy: Number.isFinite(accuracy) ? accuracy : null,
            warnings: r.warnings
        };
    });
    const recommendation = recommend(plus, minus, {winRateThreshold, layerOrder: layerNames});

    // --- text statistics per setting
    const stats: SettingStats[] = settings.map((s) => {
        const texts = sample.map((_, i) => response(i, s.layers, s.gamma));
        const reference = s.layers === null ? null : s.gamma > 0 ? "unsteered" : "best γ⁺";
        const refs = reference === null ? undefined :
            sample.map((_, i) => (reference === "unsteered" ? response(i, null, 0) : response(i, s.layers, bestPlus.get(s.layers!)!)).text);
        return {layers: s.layers, gamma: s.gamma, reference, n, ...textStats(texts.map((t) => t.text), texts.map((t) => t.tokens.length), refs)};
    });
    warnings.push(...settingWarnings(stats, recommendation));

    return {
        sample: sample.map((r) => r.id),
        settings: {gammaChosen, gammaRejected, layers: layerNames, maxTokens, temperature, topP, seed, winRateThreshold},
        judge: judge.describe(),
        plus, minus, layers: layerRows, stats, recommendation,
        warnings: [...recommendation.warnings, ...warnings]
    };
}

/**
 * What the text statistics say about the recommended settings: the recommended γ⁺ looping more than
 * unsteered (by `loopWarningMargin` of its word 4-grams; judges, a likelihood judge above all, can
 * prefer fluent loops), and the recommended γ⁻ mostly reproducing the γ⁺ responses.
 */
export function settingWarnings(stats: readonly SettingStats[], recommendation: Pick<Recommendation, "layers" | "gammaChosen" | "gammaRejected">): string[] {
    const warnings: string[] = [];
    const unsteered = stats.find((s) => s.layers === null);
    const at = (gamma: number) => stats.find((s) => s.layers === recommendation.layers && s.gamma === gamma);
    const chosen = at(recommendation.gammaChosen);
    if (unsteered && chosen && chosen.repetition > unsteered.repetition + loopWarningMargin)
        warnings.push(
            `at the recommended γ⁺ = ${chosen.gamma} on layers ${chosen.layers}, ${(chosen.repetition * 100).toFixed(0)}% of word 4-grams repeat ` +
            `(unsteered: ${(unsteered.repetition * 100).toFixed(0)}%); a judge can prefer fluent loops, so read some responses or lower γ⁺`
        );
    const rejected = at(recommendation.gammaRejected);
    if (rejected && rejected.identical !== null && rejected.identical > 0.5)
        warnings.push(`at the recommended γ⁻ = ${rejected.gamma} on layers ${rejected.layers}, ${(rejected.identical * 100).toFixed(0)}% of responses equal the γ⁺ ones; the pairs stage drops identical pairs`);
    return warnings;
}

// ---------------------------------------------------------------------------------------------------
// reporting (pure)

function fixed(value: number | null, digits = 3): string {
    return value === null || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

function table(head: string[], rows: string[][]): string[] {
    const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
    const line = (cells: string[]) => cells.map((c, k) => c.padStart(widths[k])).join("  ");
    return [line(head), ...rows.map(line)];
}

/** The recommendation, the per-range summary and one row per setting (scores and text statistics), as aligned text. */
export function formatSweepTable(result: Pick<SweepResult, "plus" | "minus" | "layers" | "stats" | "recommendation" | "warnings" | "judge">): string {
    const r = result.recommendation;
    const labels = result.judge.labels ? `, answers ${result.judge.labels.join("/")}` : "";
    const out: string[] = [
        `recommendation: --gamma-chosen ${r.gammaChosen} --gamma-rejected=${r.gammaRejected} --layers ${r.layers}`,
        r.reason,
        `judge: ${result.judge.method} on ${result.judge.model}${labels}`,
        ""
    ];
    out.push(...table(
        ["layers", "γ⁺", "pref", "γ⁻", "win", "gap", "sep acc"],
        result.layers.map((l) => [l.layers, String(l.gammaChosen), fixed(l.meanPreference), String(l.gammaRejected), fixed(l.winRate), fixed(l.meanGap), fixed(l.separationAccuracy)])
    ));
    out.push("");
    const score = (s: SettingStats): [string, string] => {
        if (s.layers === null)
            return ["-", "-"];
        if (s.gamma > 0) {
            const row = result.plus.find((p) => p.layers === s.layers && p.gamma === s.gamma);
            return [row ? `pref ${fixed(row.meanPreference)}` : "-", "-"];
        }
        const row = result.minus.find((m) => m.layers === s.layers && m.gamma === s.gamma);
        return row ? [`win ${fixed(row.winRate)}`, fixed(row.meanGap)] : ["-", "-"];
    };
    out.push(...table(
        ["layers", "γ", "judge", "gap", "tokens", "chars", "dist-1", "dist-2", "rep-4", "identical"],
        result.stats.map((s) => {
            const [judged, gap] = score(s);
            return [s.layers ?? "unsteered", String(s.gamma), judged, gap, fixed(s.meanTokens, 1), fixed(s.meanChars, 0),
                fixed(s.distinct1), fixed(s.distinct2), fixed(s.repetition), fixed(s.identical)];
        })
    ));
    for (const w of result.warnings)
        out.push(`warning: ${w}`);
    return out.join("\n");
}

const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

function escapeXml(text: string): string {
    return text.replace(/[<>&"]/g, (c) => ({"<": "&lt;", ">": "&gt;", "&": "&amp;", "\"": "&quot;"}[c]!));
}

/**
 * Preference vs γ per layer range (static SVG): for γ⁺ (right half) the mean preference over the
 * unsteered response, for γ⁻ (left half) the win rate of the range's best γ⁺; one color per range,
 * with the 0.5 line and the win-rate threshold. The γ axis is symmetric-log (|γ| from 0.01 to 1
 * spreads evenly), because sweeps space γ geometrically.
 */
export function sweepPlotSvg(result: Pick<SweepResult, "plus" | "minus" | "recommendation">, options: {width?: number; height?: number; winRateThreshold?: number} = {}): string {
    const width = options.width ?? 720, height = options.height ?? 380;
    const threshold = options.winRateThreshold ?? recommendDefaults.winRateThreshold;
    const margin = {left: 50, right: 190, top: 30, bottom: 44};
    const plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom;
    const gammas = [...result.plus, ...result.minus].map((r) => Math.abs(r.gamma)).filter((g) => g > 0);
    const lo = Math.log10(Math.min(...gammas, 0.01)), hi = Math.log10(Math.max(...gammas, 1));
    // symmetric log onto [−1, 1]: sign(γ) · (gap + (1 − gap) · (log10|γ| − lo) / (hi − lo)); the gap keeps
    // the smallest ±γ apart from each other and from the γ = 0 axis
    const gap = 0.08;
    const t = (g: number) => g === 0 ? 0 : Math.sign(g) * (gap + (1 - gap) * (hi === lo ? 1 : (Math.log10(Math.abs(g)) - lo) / (hi - lo)));
    const x = (g: number) => margin.left + ((t(g) + 1) / 2) * plotW;
    const y = (v: number) => margin.top + (1 - v) * plotH;
    const parts: string[] = [];
    parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
    parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
    parts.push(`<text x="${margin.left}" y="18" font-size="13">Judge preference vs γ: γ⁻ win rate (left), γ⁺ preference over unsteered (right)</text>`);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
        parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="${v === 0.5 ? "#999" : "#ddd"}"/>`);
        parts.push(`<text x="${margin.left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    }
    parts.push(`<line x1="${margin.left}" x2="${x(-(10 ** lo))}" y1="${y(threshold)}" y2="${y(threshold)}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    parts.push(`<line x1="${x(0)}" x2="${x(0)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#999"/>`);
    const ticks = [...new Set([...result.plus, ...result.minus].map((r) => r.gamma))].sort((a, b) => a - b);
    for (const g of ticks) {
        parts.push(`<line x1="${x(g).toFixed(1)}" x2="${x(g).toFixed(1)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#333"/>`);
        parts.push(`<text x="${x(g).toFixed(1)}" y="${margin.top + plotH + 16}" text-anchor="middle" font-size="9">${g}</text>`);
    }
    parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">γ (relative to the block's typical hidden-state norm; symmetric log scale)</text>`);
    const layers = [...new Set([...result.plus, ...result.minus].map((r) => r.layers))];
    layers.forEach((l, k) => {
        const color = palette[k % palette.length];
        const line = (points: {gamma: number; value: number}[]) => {
            const sorted = points.filter((p) => Number.isFinite(p.value)).sort((a, b) => a.gamma - b.gamma);
            if (sorted.length === 0)
                return;
            parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${sorted.map((p) => `${x(p.gamma).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ")}"/>`);
            for (const p of sorted)
                parts.push(`<circle cx="${x(p.gamma).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3" fill="${color}"/>`);
        };
        line(result.plus.filter((r) => r.layers === l).map((r) => ({gamma: r.gamma, value: r.meanPreference})));
        line(result.minus.filter((r) => r.layers === l).map((r) => ({gamma: r.gamma, value: r.winRate})));
        const chosen = l === result.recommendation.layers ? " (recommended)" : "";
        parts.push(`<rect x="${margin.left + plotW + 12}" y="${margin.top + k * 18}" width="12" height="3" fill="${color}"/>`);
        parts.push(`<text x="${margin.left + plotW + 30}" y="${margin.top + k * 18 + 5}">layers ${escapeXml(l)}${chosen}</text>`);
    });
    parts.push(`<text x="${margin.left + plotW + 12}" y="${margin.top + layers.length * 18 + 14}" fill="#d62728">--- win-rate threshold</text>`);
    parts.push("</svg>");
    return parts.join("\n") + "\n";
}
