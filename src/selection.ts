// Stage 2b selection (paper Sec 3.2, Alg. 2): from per-criterion consistency scores to c*, the
// ranking, the kept share and the train/validation split. Pure functions over plain records; every
// tie is broken by a documented key, so the result never depends on input order.
import {deriveSeed} from "./seed.js";

/** An instruction with its consistency per criterion (mean over blocks of h^l·u^l_c). */
export interface ScoredItem {
    id: string;
    scores: Readonly<Record<string, number>>;
}

/** A scored item with its consistency (max over criteria) and c* (the argmax). */
export interface RankedItem extends ScoredItem {
    consistency: number;
    criterion: string;
}

export type ScoreNormalization = "none" | "zscore";

export interface CriterionStats {
    mean: number;
    /** population standard deviation (divides by n) */
    std: number;
}

/** Mean and population standard deviation of each criterion's score over `items`. */
export function criterionStats(items: readonly ScoredItem[]): Record<string, CriterionStats> {
    const criteria = commonCriteria(items);
    const stats: Record<string, CriterionStats> = {};
    for (const criterion of criteria) {
        let sum = 0;
        for (const item of items)
            sum += item.scores[criterion];
        const mean = sum / items.length;
        // Two passes: the one-pass formula loses precision when the mean is large relative to the spread.
        let squares = 0;
        for (const item of items) {
            const d = item.scores[criterion] - mean;
            squares += d * d;
        }
        stats[criterion] = {mean, std: Math.sqrt(squares / items.length)};
    }
    return stats;
}

/**
 * Z-scores each criterion over the input: (x − mean) / std, with the population std. A criterion
 * with std 0 gets 0 for every item. Raw dot products differ in scale across criteria, so without
 * this the max over criteria favours whichever direction has the largest projections.
 * Returns new items (other fields kept); the input is not modified.
 */
export function zscoreNormalize<T extends ScoredItem>(items: readonly T[]): T[] {
    const stats = criterionStats(items);
    return items.map((item) => {
        const scores: Record<string, number> = {};
        for (const [criterion, {mean, std}] of Object.entries(stats))
            scores[criterion] = std === 0 ? 0 : (item.scores[criterion] - mean) / std;
        return {...item, scores};
    });
}

/** Applies `--score-normalization`: `none` returns the items unchanged (the paper's choice). */
export function normalizeScores<T extends ScoredItem>(items: readonly T[], mode: ScoreNormalization): T[] {
    if (mode === "none")
        return items.slice();
    if (mode === "zscore")
        return zscoreNormalize(items);
    throw new RangeError(`unknown score normalization "${mode as string}"; expected "none" or "zscore"`);
}

/**
 * consistency = max over criteria, criterion (c*) = argmax. Ties go to the criterion that comes first
 * in `order` (default: names sorted by UTF-16 code units, e.g. general < harmlessness < helpfulness <
 * honesty), so the choice never depends on key order in the JSON.
 */
export function assignCriterion(
    scores: Readonly<Record<string, number>>, order?: readonly string[]
): {consistency: number, criterion: string} {
    const names = Object.keys(scores);
    if (names.length === 0)
        throw new RangeError("cannot pick a criterion from empty scores");
    const ranked = order == null ? names.sort(compareCodeUnits) : orderCriteria(names, order);
    let best = ranked[0];
    for (const name of ranked) {
        const value = scores[name];
        if (!Number.isFinite(value))
            throw new RangeError(`score for criterion "${name}" is not a finite number: ${value}`);
        if (value > scores[best])
            best = name;
    }
    return {consistency: scores[best], criterion: best};
}

function orderCriteria(names: string[], order: readonly string[]): string[] {
    const missing = names.filter((name) => !order.includes(name));
    if (missing.length > 0)
        throw new RangeError(`criteria ${missing.map((m) => `"${m}"`).join(", ")} are missing from the tie-break order`);
    return order.filter((name) => names.includes(name));
}

/** Adds consistency and c* to each item (see {@link assignCriterion}). */
export function rankItems<T extends ScoredItem>(items: readonly T[], order?: readonly string[]): Array<T & RankedItem> {
    return items.map((item) => ({...item, ...assignCriterion(item.scores, order)}));
}

export type KeepSpec =
    /** the top share, 0 < value ≤ 1 */
    | {kind: "fraction", value: number}
    /** the top N, a non-negative integer */
    | {kind: "count", value: number}
    /** every item with consistency ≥ value */
    | {kind: "threshold", value: number};

export interface SelectOptions {
    /** the largest share of the target count any one criterion may take, 0 < balance ≤ 1 */
    balance?: number;
}

export interface SelectionResult<T> {
    /** the kept items in rank order (consistency descending, then id ascending) */
    kept: T[];
    /** how many the keep rule asked for (before any balance cap) */
    target: number;
    /** the per-criterion cap, when `balance` was given */
    cap?: number;
    /** items that ranked inside the target but were passed over because their criterion was full */
    skippedForBalance: number;
    warnings: string[];
}

/**
 * How many items a share keeps: ceil(n · fraction), so any positive share of a non-empty input
 * keeps at least one and "10%" of 1,000,000 keeps exactly 100,000. A relative 1e-9 slack absorbs
 * floating-point error (0.1 · 30 = 3.0000000000000004 must keep 3, not 4).
 */
export function shareCount(n: number, fraction: number): number {
    const exact = n * fraction;
    // max(0, …) also turns ceil's -0 (for n = 0) into 0
    return Math.min(n, Math.max(0, Math.ceil(exact - 1e-9 * Math.max(1, exact))));
}

/** Rank order: consistency descending, then id ascending (UTF-16 code units, locale-independent). */
export function compareRanked(a: RankedItem, b: RankedItem): number {
    if (a.consistency !== b.consistency)
        return b.consistency - a.consistency;
    return compareCodeUnits(a.id, b.id);
}

/**
 * Keeps the top of the ranking. `fraction` keeps {@link shareCount} items, `count` keeps min(N, n),
 * `threshold` keeps every item with consistency ≥ θ. Ties in consistency are broken by id, so
 * permuting the input gives the same result.
 *
 * With `balance` b, each criterion may fill at most cap = max(1, floor(b · target)) places; the
 * ranking is walked in order and an item whose criterion is full is passed over, so its place goes to
 * the next best item of another criterion. In threshold mode that never admits items below θ. When the
 * other criteria run out, fewer than `target` are kept and a warning says so.
 */
export function selectTop<T extends RankedItem>(
    items: readonly T[], keep: KeepSpec, options: SelectOptions = {}
): SelectionResult<T> {
    checkKeepSpec(keep);
    checkUniqueIds(items);
    for (const item of items) {
        if (!Number.isFinite(item.consistency))
            throw new RangeError(`item "${item.id}" has a non-finite consistency: ${item.consistency}`);
    }

    const ranked = items.slice().sort(compareRanked);
    let eligible: T[];
    let target: number;
    if (keep.kind === "threshold") {
        const cut = ranked.findIndex((item) => item.consistency < keep.value);
        eligible = cut < 0 ? ranked : ranked.slice(0, cut);
        target = eligible.length;
    } else {
        eligible = ranked;
        target = keep.kind === "fraction" ? shareCount(ranked.length, keep.value) : Math.min(keep.value, ranked.length);
    }

    const warnings: string[] = [];
    if (keep.kind === "count" && keep.value > ranked.length)
        warnings.push(`asked to keep ${keep.value} but the input has only ${ranked.length}; keeping all`);

    if (options.balance == null)
        return {kept: eligible.slice(0, target), target, skippedForBalance: 0, warnings};

    const balance = options.balance;
    if (!(balance > 0 && balance <= 1))
        throw new RangeError(`balance must be a share in (0, 1], got ${balance}`);
    const cap = Math.max(1, Math.floor(balance * target + 1e-9));
    const counts = new Map<string, number>();
    const kept: T[] = [];
    let skippedForBalance = 0;
    for (const item of eligible) {
        if (kept.length >= target)
            break;
        const count = counts.get(item.criterion) ?? 0;
        if (count >= cap) {
            skippedForBalance++;
            continue;
        }
        counts.set(item.criterion, count + 1);
        kept.push(item);
    }
    if (kept.length < target)
        warnings.push(
            `the balance cap (${formatPercent(balance)} of ${target} = at most ${cap} per criterion) left only ` +
            `${kept.length} of ${target}: the other criteria have too few items; raise --balance or keep fewer`
        );
    return {kept, target, cap, skippedForBalance, warnings};
}

function checkKeepSpec(keep: KeepSpec): void {
    if (keep.kind === "fraction") {
        if (!(keep.value > 0 && keep.value <= 1))
            throw new RangeError(`keep fraction must be in (0, 1], got ${keep.value}`);
    } else if (keep.kind === "count") {
        if (!Number.isSafeInteger(keep.value) || keep.value < 0)
            throw new RangeError(`keep count must be a non-negative integer, got ${keep.value}`);
    } else if (keep.kind === "threshold") {
        if (!Number.isFinite(keep.value))
            throw new RangeError(`threshold must be a finite number, got ${keep.value}`);
    } else
        throw new RangeError(`unknown keep rule ${JSON.stringify(keep)}`);
}

export type Split = "train" | "validation";

/**
 * Marks ceil(n · fraction) items (see {@link shareCount}; 0 for fraction 0) as validation and the rest
 * as train. Which ones depends only on the ids and the seed: items are ordered by
 * deriveSeed(seed, "split", id) (then id) and the first ones go to validation, so the split is
 * exact-sized and independent of input order. The output keeps the input order.
 */
export function splitValidation<T extends {id: string}>(
    items: readonly T[], fraction: number, seed: number
): Array<T & {split: Split}> {
    if (!(fraction >= 0 && fraction < 1))
        throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
    checkUniqueIds(items);
    const count = fraction === 0 ? 0 : shareCount(items.length, fraction);
    const order = items
        .map((item) => ({id: item.id, hash: deriveSeed(seed, "split", item.id)}))
        .sort((a, b) => a.hash - b.hash || compareCodeUnits(a.id, b.id));
    const validation = new Set(order.slice(0, count).map((entry) => entry.id));
    return items.map((item) => ({...item, split: validation.has(item.id) ? "validation" : "train"}));
}

export interface Quantiles {
    min: number;
    p10: number;
    p50: number;
    p90: number;
    max: number;
}

export interface SelectionSummary {
    total: number;
    /** items per c*, criteria sorted by name */
    perCriterion: Record<string, number>;
    /** quantiles of consistency; undefined for an empty input */
    consistency?: Quantiles;
}

/** Counts per c* and quantiles of consistency (linear interpolation between order statistics, as numpy's default). */
export function summarize(items: readonly RankedItem[]): SelectionSummary {
    const counts = new Map<string, number>();
    for (const item of items)
        counts.set(item.criterion, (counts.get(item.criterion) ?? 0) + 1);
    const perCriterion: Record<string, number> = {};
    for (const name of [...counts.keys()].sort(compareCodeUnits))
        perCriterion[name] = counts.get(name)!;
    if (items.length === 0)
        return {total: 0, perCriterion};
    const values = items.map((item) => item.consistency).sort((a, b) => a - b);
    return {
        total: items.length,
        perCriterion,
        consistency: {
            min: values[0],
            p10: quantile(values, 0.1),
            p50: quantile(values, 0.5),
            p90: quantile(values, 0.9),
            max: values[values.length - 1]
        }
    };
}

/** The q-quantile of ascending `sorted` values, interpolating linearly. */
export function quantile(sorted: readonly number[], q: number): number {
    if (sorted.length === 0)
        throw new RangeError("quantile of an empty list");
    const position = (sorted.length - 1) * q;
    const lower = Math.floor(position);
    const upper = Math.ceil(position);
    return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

/**
 * A small aligned text table of a summary, for the CLI:
 * ```
 * criterion     count  share
 * general           6  60.0%
 * helpfulness       4  40.0%
 * total            10
 *
 * consistency     min     p10     p50     p90     max
 *              0.1000  0.2000  ...
 * ```
 */
export function formatSummary(summary: SelectionSummary, title?: string): string {
    const lines: string[] = [];
    if (title != null)
        lines.push(title);

    const names = Object.keys(summary.perCriterion);
    const nameWidth = Math.max("criterion".length, "total".length, ...names.map((name) => name.length));
    const countWidth = Math.max("count".length, String(summary.total).length);
    lines.push(`${"criterion".padEnd(nameWidth)}  ${"count".padStart(countWidth)}  share`);
    for (const name of names) {
        const count = summary.perCriterion[name];
        const share = formatPercent(summary.total === 0 ? 0 : count / summary.total);
        lines.push(`${name.padEnd(nameWidth)}  ${String(count).padStart(countWidth)}  ${share.padStart(5)}`);
    }
    lines.push(`${"total".padEnd(nameWidth)}  ${String(summary.total).padStart(countWidth)}`);

    if (summary.consistency != null) {
        const {min, p10, p50, p90, max} = summary.consistency;
        const cells = [min, p10, p50, p90, max].map(formatScore);
        const width = Math.max(...cells.map((cell) => cell.length), 3);
        const label = "consistency";
        lines.push("");
        lines.push(`${label}  ${["min", "p10", "p50", "p90", "max"].map((h) => h.padStart(width)).join("  ")}`);
        lines.push(`${"".padEnd(label.length)}  ${cells.map((cell) => cell.padStart(width)).join("  ")}`);
    }
    return lines.join("\n");
}

/** Four decimals for ordinary magnitudes; exponent form where fixed notation would hide the value. */
function formatScore(value: number): string {
    const magnitude = Math.abs(value);
    if (value !== 0 && (magnitude < 1e-3 || magnitude >= 1e6))
        return value.toExponential(3);
    return value.toFixed(4);
}

function formatPercent(share: number): string {
    return `${(share * 100).toFixed(1)}%`;
}

const keepHelp = 'expected a percentage like "10%" or a count like "500"';

/**
 * Parses `--keep`: "10%" → {kind: "fraction", value: 0.1}; "500" → {kind: "count", value: 500}.
 * Percentages must be in (0%, 100%]; counts are positive integers. A threshold comes from its own flag
 * (see {@link parseThreshold}).
 */
export function parseKeep(spec: string): KeepSpec {
    const text = spec.trim();
    const percent = /^(\d+(?:\.\d+)?|\.\d+)%$/.exec(text);
    if (percent != null) {
        const value = Number(percent[1]);
        if (!(value > 0 && value <= 100))
            throw new RangeError(`invalid --keep "${spec}": a percentage must be greater than 0% and at most 100%`);
        // Dividing the decimal text by 100 gives the nearest double to the intended share (10% → 0.1).
        return {kind: "fraction", value: value / 100};
    }
    if (/^\d+$/.test(text)) {
        const value = Number(text);
        if (value < 1 || !Number.isSafeInteger(value))
            throw new RangeError(`invalid --keep "${spec}": a count must be a whole number of at least 1`);
        return {kind: "count", value};
    }
    if (/^\s*-/.test(text))
        throw new RangeError(`invalid --keep "${spec}": it cannot be negative; ${keepHelp}`);
    if (/^\d+(?:\.\d+)?\s+%$/.test(text))
        throw new RangeError(`invalid --keep "${spec}": write the percentage without a space, e.g. "10%"`);
    if (/^\d*\.\d+$/.test(text))
        throw new RangeError(`invalid --keep "${spec}": a count must be a whole number; for a share write a percentage, e.g. "10%"`);
    throw new RangeError(`invalid --keep "${spec}": ${keepHelp}`);
}

/**
 * Parses a share flag such as `--validation 2%` or `--balance 50%`: "2%" or a decimal "0.02".
 * `allowZero` admits 0 ("0", "0%": no validation split).
 */
export function parseShare(spec: string, flag: string, options: {allowZero?: boolean} = {}): number {
    const text = spec.trim();
    const match = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(text);
    if (match == null)
        throw new RangeError(`invalid ${flag} "${spec}": expected a percentage like "2%" or a decimal like "0.02"`);
    const value = match[2] === "%" ? Number(match[1]) / 100 : Number(match[1]);
    const low = options.allowZero === true ? value >= 0 : value > 0;
    if (!low || value > 1)
        throw new RangeError(`invalid ${flag} "${spec}": must be ${options.allowZero === true ? "between 0%" : "greater than 0%"} and at most 100%`);
    return value;
}

/** Parses `--threshold θ`: any finite decimal number (consistency scores can be negative). */
export function parseThreshold(spec: string): number {
    const text = spec.trim();
    if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(text))
        throw new RangeError(`invalid --threshold "${spec}": expected a number like "0.5" or "-1.2"`);
    return Number(text);
}

function commonCriteria(items: readonly ScoredItem[]): string[] {
    if (items.length === 0)
        return [];
    const criteria = Object.keys(items[0].scores).sort(compareCodeUnits);
    for (const item of items) {
        const names = Object.keys(item.scores);
        if (names.length !== criteria.length || criteria.some((name) => !(name in item.scores)))
            throw new RangeError(
                `item "${item.id}" has criteria [${names.sort(compareCodeUnits).join(", ")}] but the first item has ` +
                `[${criteria.join(", ")}]; every item must be scored on the same criteria`
            );
        for (const name of criteria)
            if (!Number.isFinite(item.scores[name]))
                throw new RangeError(`item "${item.id}" has a non-finite score for "${name}": ${item.scores[name]}`);
    }
    return criteria;
}

/** Ids are the tie-break of last resort; a duplicate would make the order depend on the input. */
function checkUniqueIds(items: readonly {id: string}[]): void {
    const ids = new Set<string>();
    for (const item of items) {
        if (ids.has(item.id))
            throw new RangeError(`duplicate id "${item.id}": ids must be unique for a deterministic order`);
        ids.add(item.id);
    }
}

function compareCodeUnits(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}
