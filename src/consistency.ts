// Stage 2b (paper Sec 3.2, Alg. 2): inherent-consistency scores and selection.
// consistency_{i,c} = mean over all blocks l of h^l_i · u^l_c, with h^l_i the last token's output of
// block l for instruction d_i rendered as a user turn (generation prompt appended);
// consistency_i = max_c, c*_i = argmax (it picks the steering vector of stage 3).
import fs from "node:fs";
import type {ChatTemplate} from "./chat.js";
import type {DirectionSet} from "./control-vector.js";
import {checkFitsModel} from "./control-vector.js";
import type {Model} from "./engine/index.js";
import {JsonlAppender, readJsonl, writeJsonlAtomic} from "./jsonl.js";
import {tokenizePrompt, userTurnPrompt} from "./prompt.js";
import type {InstructionRecord, ScoredRecord} from "./records.js";
import {normalizeScores, rankItems, selectTop, splitValidation, summarize, type KeepSpec, type ScoreNormalization, type SelectionSummary} from "./selection.js";

export interface ScoreOptions {
    directions: ReadonlyMap<string, DirectionSet>;
    template: ChatTemplate;
    /**
     * Append-only file of raw scores (`{id, scores}` per line). Scoring resumes from it: instructions
     * already scored there are not decoded again. Optional.
     */
    scoresFile?: string;
    /** instructions decoded per engine call (and per resume checkpoint). Defaults to 256. */
    chunk?: number;
    /** parallel sequences. Defaults to 16. */
    sequences?: number;
    threads?: number;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
}

export interface RawScore {
    id: string;
    scores: Record<string, number>;
}

/** Mean over blocks of h^l · u^l for one criterion; `hidden[l]` is block l's last-token output. */
export function consistencyScore(hidden: readonly Float32Array[], set: DirectionSet): number {
    let sum = 0;
    for (let il = 0; il < hidden.length; il++) {
        const h = hidden[il], u = set.directions[il];
        let dot = 0;
        for (let k = 0; k < h.length; k++)
            dot += h[k] * u[k];
        sum += dot;
    }
    return sum / hidden.length;
}

/** Raw consistency scores of every record, in input order (resuming from `scoresFile`). */
export async function scoreInstructions(model: Model, records: readonly InstructionRecord[], options: ScoreOptions): Promise<RawScore[]> {
    const {nLayer} = model.info;
    if (options.directions.size === 0)
        throw new Error("no direction sets to score with");
    for (const [name, set] of options.directions)
        checkFitsModel(set, model.info, `directions for "${name}"`);
    const criteria = [...options.directions.keys()];
    const done = new Map<string, RawScore>();
    if (options.scoresFile && fs.existsSync(options.scoresFile)) {
        for await (const row of readJsonl<RawScore>(options.scoresFile, {allowTornTail: true}))
            done.set(row.id, row);
    }
    const todo = records.filter((r) => !done.has(r.id));
    const layers = Array.from({length: nLayer}, (_, il) => il);
    const sequences = options.sequences ?? 16;
    const chunk = options.chunk ?? 256;
    const prompts = (batch: readonly InstructionRecord[]) => batch.map((r) => tokenizePrompt(model, options.template, userTurnPrompt(options.template, r.instruction)));
    const appender = options.scoresFile ? await JsonlAppender.open<RawScore>(options.scoresFile) : undefined;
    let engine: Awaited<ReturnType<Model["createEngine"]>> | undefined;
    try {
        let finished = records.length - todo.length;
        options.onProgress?.(finished, records.length);
        for (let start = 0; start < todo.length; start += chunk) {
            const batch = todo.slice(start, start + chunk);
            const tokens = prompts(batch);
            const longest = Math.max(...tokens.map((t) => t.length));
            if (!engine || engine.contextSize < sequences * longest) {
                await engine?.dispose();
                engine = await model.createEngine({sequences, contextSize: Math.max(1024, sequences * longest * 2), batchSize: Math.max(512, longest), threads: options.threads});
            }
            const hidden = await engine.capture(tokens, layers, {
                signal: options.signal,
                onProgress: (n) => options.onProgress?.(finished + n, records.length)
            });
            const rows = batch.map((r, i) => ({id: r.id, scores: Object.fromEntries(criteria.map((c) => [c, consistencyScore(hidden[i], options.directions.get(c)!)]))}));
            for (const row of rows)
                done.set(row.id, row);
            if (appender) {
                await appender.appendMany(rows);
                await appender.flush();
            }
            finished += batch.length;
        }
    } finally {
        await engine?.dispose();
        await appender?.close();
    }
    return records.map((r) => done.get(r.id)!);
}

export interface SelectOptions {
    keep: KeepSpec;
    normalization?: ScoreNormalization;
    /** largest share of the kept set any one criterion may take */
    balance?: number;
    /** validation share of the kept set. Defaults to 0 (no split). */
    validation?: number;
    seed: number;
}

export interface Selection {
    /** kept records in rank order, with scores, consistency, c* and split */
    kept: ScoredRecord[];
    all: SelectionSummary;
    keptSummary: SelectionSummary;
    warnings: string[];
}

/** Normalization → c* → top share (with the optional balance cap) → train/validation split. */
export function selectInstructions(records: readonly InstructionRecord[], scores: readonly RawScore[], options: SelectOptions): Selection {
    const byId = new Map(records.map((r) => [r.id, r]));
    const normalized = normalizeScores(scores, options.normalization ?? "none");
    const ranked = rankItems(normalized);
    const result = selectTop(ranked, options.keep, {balance: options.balance});
    const split = splitValidation(result.kept, options.validation ?? 0, options.seed);
    const kept = split.map((item) => ({...byId.get(item.id)!, scores: item.scores, consistency: item.consistency, criterion: item.criterion, split: item.split}) as ScoredRecord);
    return {kept, all: summarize(ranked), keptSummary: summarize(result.kept), warnings: result.warnings};
}

/** Writes the kept records atomically: a reader never sees a half-written selection. */
export async function writeSelection(file: string, kept: readonly ScoredRecord[]): Promise<void> {
    await writeJsonlAtomic(file, kept);
}
