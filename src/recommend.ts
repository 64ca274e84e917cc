// The sweep's decision rule (paper Appendix J, with the model as its own judge instead of a reward
// model), and the parsers for the γ and layer lists it sweeps. Pure logic over score tables; the
// sweep command produces the tables.

/** One γ⁺ setting: P(the γ⁺ response is better than the unsteered one), averaged over the sample. */
export interface GammaPlusRow {
    gamma: number;
    /** the controlled blocks, as written on the command line ("10-20") */
    layers: string;
    meanPreference: number;
    /** sample size behind the mean; rows with n = 0 carry no evidence and are ignored */
    n: number;
}

/** One γ⁻ setting: how often the judge prefers the γ⁺-best response over the γ⁻ one. */
export interface GammaMinusRow {
    gamma: number;
    layers: string;
    /** share of pairs where the judge prefers the γ⁺-best response over the γ⁻ response */
    winRate: number;
    /** mean of P(γ⁺-best better) − P(γ⁻ better) over the pairs */
    meanGap: number;
    n: number;
}

export interface RecommendOptions {
    /** the smallest acceptable win rate of chosen over rejected. Defaults to `0.9` (the paper's "proportion > 0.9"). */
    winRateThreshold?: number;
    /** preference order of layer ranges for breaking ties; defaults to the order of first appearance in
     * the γ⁺ table (i.e. the order given to `--layers`) */
    layerOrder?: readonly string[];
}

export interface Recommendation {
    gammaChosen: number;
    gammaRejected: number;
    layers: string;
    warnings: string[];
    /** one or two sentences explaining the choice, for the CLI and run.json */
    reason: string;
}

/** Defaults of the sweep's decision rule, shared by the library and the CLI. */
export const recommendDefaults = Object.freeze({winRateThreshold: 0.9});

/**
 * Applies the paper's rule:
 * - γ⁺ and layers: the row with the highest mean preference; ties → smaller |γ|, then the layer
 *   order (see {@link RecommendOptions.layerOrder}), then the smaller γ.
 * - γ⁻ (for those layers): the value closest to 0 whose win rate is ≥ the threshold — tiny gaps make
 *   trivial pairs, huge ones invite reward hacking; ties in |γ| → higher win rate, then smaller γ.
 * - When no γ⁻ reaches the threshold: the most separated one (highest win rate; ties → closer to 0,
 *   then smaller γ), with a warning.
 * Throws when a table is empty, has duplicate (γ, layers) rows, or has no γ⁻ rows for the chosen layers.
 */
export function recommend(
    plus: readonly GammaPlusRow[], minus: readonly GammaMinusRow[], options: RecommendOptions = {}
): Recommendation {
    const threshold = options.winRateThreshold ?? recommendDefaults.winRateThreshold;
    if (!(threshold >= 0 && threshold <= 1))
        throw new RangeError(`win-rate threshold must be in [0, 1], got ${threshold}`);
    checkRows(plus, "γ⁺", (row) => row.meanPreference, "meanPreference");
    checkRows(minus, "γ⁻", (row) => row.winRate, "winRate");

    const warnings: string[] = [];
    const usablePlus = plus.filter((row) => row.n > 0);
    if (usablePlus.length < plus.length)
        warnings.push(`ignored ${plus.length - usablePlus.length} γ⁺ setting(s) with no judged samples (n = 0)`);
    if (usablePlus.length === 0)
        throw new RangeError("no γ⁺ setting has judged samples (all n = 0); the sweep produced no evidence");

    const layerOrder = options.layerOrder ?? firstAppearance(plus.map((row) => row.layers));
    const layerRank = (layers: string): number => {
        const index = layerOrder.indexOf(layers);
        return index < 0 ? layerOrder.length : index;
    };

    const best = usablePlus.slice().sort((a, b) =>
        b.meanPreference - a.meanPreference ||
        Math.abs(a.gamma) - Math.abs(b.gamma) ||
        layerRank(a.layers) - layerRank(b.layers) ||
        compareCodeUnits(a.layers, b.layers) ||
        a.gamma - b.gamma
    )[0];
    if (best.meanPreference <= 0.5)
        warnings.push(
            `the best γ⁺ (${best.gamma} on layers ${best.layers}) is not preferred over the unsteered response ` +
            `(mean preference ${formatShare(best.meanPreference)}); steering may not help this model at these settings`
        );

    const candidates = minus.filter((row) => row.layers === best.layers && row.n > 0);
    if (candidates.length === 0)
        throw new RangeError(
            `no γ⁻ results with judged samples for layers ${best.layers} (the layers of the best γ⁺); ` +
            "the sweep must score γ⁻ on every layer range it scores γ⁺ on"
        );

    const passing = candidates.filter((row) => row.winRate >= threshold);
    let rejected: GammaMinusRow;
    let reason: string;
    const chosenText = `γ⁺ = ${best.gamma} on layers ${best.layers} has the highest mean preference over the ` +
        `unsteered response (${formatShare(best.meanPreference)}, n = ${best.n})`;
    if (passing.length > 0) {
        rejected = passing.slice().sort((a, b) =>
            Math.abs(a.gamma) - Math.abs(b.gamma) || b.winRate - a.winRate || a.gamma - b.gamma
        )[0];
        reason = `${chosenText}; γ⁻ = ${rejected.gamma} is the value closest to 0 whose win rate ` +
            `${formatShare(rejected.winRate)} (n = ${rejected.n}) reaches ${formatShare(threshold)}.`;
    } else {
        rejected = candidates.slice().sort((a, b) =>
            b.winRate - a.winRate || Math.abs(a.gamma) - Math.abs(b.gamma) || a.gamma - b.gamma
        )[0];
        reason = `${chosenText}; no γ⁻ reaches a win rate of ${formatShare(threshold)}, so γ⁻ = ${rejected.gamma} ` +
            `was taken as the most separated (win rate ${formatShare(rejected.winRate)}, n = ${rejected.n}).`;
        warnings.push(
            `no γ⁻ on layers ${best.layers} reaches a win rate of ${formatShare(threshold)}; using the most separated, ` +
            `γ⁻ = ${rejected.gamma} (${formatShare(rejected.winRate)}). Pairs will be noisier: try larger |γ⁻| values ` +
            "or a lower win-rate threshold"
        );
    }
    return {gammaChosen: best.gamma, gammaRejected: rejected.gamma, layers: best.layers, warnings, reason};
}

function checkRows<R extends {gamma: number, layers: string, n: number}>(
    rows: readonly R[], label: string, value: (row: R) => number, field: string
): void {
    if (rows.length === 0)
        throw new RangeError(`the ${label} table is empty`);
    const seen = new Set<string>();
    for (const row of rows) {
        if (!Number.isFinite(row.gamma))
            throw new RangeError(`${label} row has a non-finite γ: ${row.gamma}`);
        if (!Number.isInteger(row.n) || row.n < 0)
            throw new RangeError(`${label} row γ = ${row.gamma}, layers ${row.layers}: n must be a non-negative integer, got ${row.n}`);
        const v = value(row);
        if (row.n > 0 && !(v >= 0 && v <= 1))
            throw new RangeError(`${label} row γ = ${row.gamma}, layers ${row.layers}: ${field} must be in [0, 1], got ${v}`);
        const key = `${row.gamma}\0${row.layers}`;
        if (seen.has(key))
            throw new RangeError(`${label} table has two rows for γ = ${row.gamma} on layers ${row.layers}`);
        seen.add(key);
    }
}

function firstAppearance(values: readonly string[]): string[] {
    return [...new Set(values)];
}

function formatShare(value: number): string {
    return value.toFixed(3);
}

function compareCodeUnits(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

const numberPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Parses a comma-separated list of numbers ("0.01,0.03", spaces around commas allowed). Rejects empty
 * items, non-numbers and duplicates; `sign` additionally requires every value to be > 0 or < 0.
 */
export function parseNumberList(
    spec: string, options: {flag?: string, sign?: "positive" | "negative"} = {}
): number[] {
    const flag = options.flag ?? "list";
    const items = spec.split(",").map((item) => item.trim());
    if (items.length === 1 && items[0] === "")
        throw new RangeError(`invalid ${flag} "${spec}": expected comma-separated numbers like "0.01,0.03"`);
    const values: number[] = [];
    items.forEach((item, index) => {
        if (item === "")
            throw new RangeError(`invalid ${flag} "${spec}": item ${index + 1} is empty`);
        if (!numberPattern.test(item))
            throw new RangeError(`invalid ${flag} "${spec}": "${item}" is not a number`);
        const value = Number(item);
        if (!Number.isFinite(value))
            throw new RangeError(`invalid ${flag} "${spec}": "${item}" is out of range`);
        if (options.sign === "positive" && !(value > 0))
            throw new RangeError(`invalid ${flag} "${spec}": "${item}" must be greater than 0`);
        if (options.sign === "negative" && !(value < 0))
            throw new RangeError(`invalid ${flag} "${spec}": "${item}" must be less than 0`);
        if (values.includes(value))
            throw new RangeError(`invalid ${flag} "${spec}": ${item} is listed twice`);
        values.push(value);
    });
    return values;
}

/** An inclusive range of 0-based blocks [first, last] (the `l_out-il` index). */
export type LayerRange = [number, number];

/**
 * Parses "A-B" into the inclusive block range [A, B] (0-based; A ≤ B, both whole numbers). A single
 * number "A" means [A, A]. Whether the model has those blocks is {@link checkLayerRange}'s job.
 */
export function parseLayerRange(spec: string): LayerRange {
    const text = spec.trim();
    const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(text);
    if (match == null) {
        if (/^-/.test(text) || /-\s*-/.test(text))
            throw new RangeError(`invalid layer range "${spec}": block indices cannot be negative (blocks are numbered from 0)`);
        throw new RangeError(`invalid layer range "${spec}": expected "A-B" with whole numbers A ≤ B, e.g. "10-20"`);
    }
    const first = Number(match[1]);
    const last = match[2] == null ? first : Number(match[2]);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last))
        throw new RangeError(`invalid layer range "${spec}": block index too large`);
    if (first > last)
        throw new RangeError(`invalid layer range "${spec}": start ${first} is after end ${last} (write "${last}-${first}")`);
    return [first, last];
}

/** Parses a comma-separated list of layer ranges ("10-20,2-12"); rejects empty items and duplicates. */
export function parseLayerRanges(spec: string): LayerRange[] {
    const items = spec.split(",").map((item) => item.trim());
    const ranges: LayerRange[] = [];
    items.forEach((item, index) => {
        if (item === "")
            throw new RangeError(`invalid layer ranges "${spec}": item ${index + 1} is empty (expected e.g. "10-20,2-12")`);
        const range = parseLayerRange(item);
        if (ranges.some(([a, b]) => a === range[0] && b === range[1]))
            throw new RangeError(`invalid layer ranges "${spec}": ${formatLayerRange(range)} is listed twice`);
        ranges.push(range);
    });
    return ranges;
}

/** Throws unless the model's blocks [0, nLayer − 1] contain the whole range. */
export function checkLayerRange(range: readonly [number, number], nLayer: number): void {
    if (!Number.isInteger(nLayer) || nLayer < 1)
        throw new RangeError(`the model's block count must be a positive integer, got ${nLayer}`);
    const [first, last] = range;
    if (!Number.isInteger(first) || !Number.isInteger(last) || first > last)
        throw new RangeError(`invalid layer range [${first}, ${last}]: expected whole numbers with start ≤ end`);
    if (first < 0 || last > nLayer - 1)
        throw new RangeError(
            `layer range ${formatLayerRange([first, last])} is outside this model's blocks: ` +
            `the valid range is [0, ${nLayer - 1}] (the model has ${nLayer} blocks)`
        );
}

/** "A-B", the form used on the command line and as the `layers` key of sweep rows. */
export function formatLayerRange(range: readonly [number, number]): string {
    return `${range[0]}-${range[1]}`;
}
