// `icon2 run`: extract → synthesize → score → pairs → export in one process, one model load, one
// run directory. Every stage's output is resumable or atomic, and run.json records which stages
// finished under which configuration, so re-running the same command continues where it stopped
// and a changed configuration is refused instead of silently mixing two runs.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import {z} from "zod";
import {scoreInstructions, selectInstructions, writeSelection} from "./consistency.js";
import {readDirectionsDir, writeControlVector} from "./control-vector.js";
import {resolveCriteria} from "./criteria.js";
import {defaults} from "./defaults.js";
import {extractDirections} from "./directions.js";
import type {Model} from "./engine/index.js";
import {exportFormats, exportPairs, type ExportFormat, type ExportSummary} from "./formats.js";
import {readJsonFile, readJsonl, readJsonlAll, writeFileAtomic} from "./jsonl.js";
import {defaultLayerRange} from "./layers.js";
import {fileIdentity, type FileIdentity} from "./model-source.js";
import {droppedFile, makePairs} from "./pairs.js";
import {parseLayerRange, type Recommendation} from "./recommend.js";
import {PairRecord, ScoredRecord} from "./records.js";
import {parseKeep, parseShare, parseThreshold, type KeepSpec} from "./selection.js";
import {loadStimuli, sampleStimuli} from "./stimuli.js";
import {runSweep, sweepDefaults, sweepPlotSvg} from "./sweep.js";
import {SynthesizedRecord, synthesizeInstructions} from "./synthesize.js";
import {modelChatTemplate} from "./prompt.js";
import {icon2Version} from "./version.js";

/** Everything `icon2 run` can be told, from a config file (`--config icon2.json`) and/or flags. */
export const RunConfig = z.object({
    seed: z.number().int().min(0).max(0xffffffff).default(defaults.seed),
    chatTemplate: z.string().optional(),
    threads: z.number().int().positive().optional(),
    extract: z.object({
        criteria: z.union([z.string(), z.array(z.string())]).optional(),
        criteriaFile: z.string().optional(),
        stimuli: z.string().optional(),
        stimuliCount: z.number().int().positive().optional(),
        method: z.enum(["pca", "mean"]).default(defaults.extract.method),
        holdout: z.number().min(0).lt(1).default(defaults.extract.holdout),
        sequences: z.number().int().positive().default(defaults.extract.sequences)
    }).strict().default({} as never),
    synthesize: z.object({
        count: z.number().int().positive().default(1000),
        temperature: z.number().nonnegative().default(defaults.synthesize.temperature),
        topP: z.number().gt(0).max(1).default(defaults.synthesize.topP),
        maxTokens: z.number().int().positive().default(defaults.synthesize.maxTokens),
        minChars: z.number().int().nonnegative().default(defaults.synthesize.minChars),
        maxChars: z.number().int().positive().default(defaults.synthesize.maxChars),
        maxAttempts: z.number().int().positive().optional(),
        stopStrings: z.array(z.string()).optional(),
        sequences: z.number().int().positive().default(defaults.synthesize.sequences)
    }).strict().default({} as never),
    score: z.object({
        keep: z.string().default(defaults.score.keep),
        threshold: z.string().optional(),
        balance: z.string().optional(),
        validation: z.string().default("2%"),
        normalization: z.enum(["none", "zscore"]).default(defaults.score.normalization),
        sequences: z.number().int().positive().default(defaults.score.sequences)
    }).strict().default({} as never),
    pairs: z.object({
        gammaChosen: z.number().finite().default(defaults.pairs.gammaChosen),
        gammaRejected: z.number().finite().default(defaults.pairs.gammaRejected),
        layers: z.string().optional(),
        criterion: z.string().optional(),
        steerPrompt: z.boolean().default(false),
        temperature: z.number().nonnegative().default(defaults.pairs.temperature),
        topP: z.number().gt(0).max(1).default(defaults.pairs.topP),
        topK: z.number().int().nonnegative().default(defaults.pairs.topK),
        maxTokens: z.number().int().positive().default(defaults.pairs.maxTokens),
        keepSimilar: z.boolean().default(false),
        keepTruncated: z.boolean().default(false),
        sequences: z.number().int().positive().default(defaults.pairs.sequences)
    }).strict().default({} as never),
    /** `--auto-gamma`: a small self-judged sweep before the pairs stage picks γ⁺, γ⁻ and the layers (paper Appendix J) */
    sweep: z.object({
        enabled: z.boolean().default(false),
        sample: z.number().int().positive().default(50),
        gammaChosen: z.array(z.number().positive()).min(1).default([...sweepDefaults.gammaChosen]),
        gammaRejected: z.array(z.number().negative()).min(1).default([...sweepDefaults.gammaRejected]),
        /** layer ranges "A-B"; default: the model's default range */
        layers: z.array(z.string()).optional(),
        maxTokens: z.number().int().positive().default(128),
        winRate: z.number().min(0).max(1).default(0.9),
        /** how the model judges itself: see `judgeMethodFor` (auto: likelihood for the plain template, else compare) */
        judgeMethod: z.enum(["auto", "compare", "likelihood"]).default("auto"),
        sequences: z.number().int().positive().default(sweepDefaults.sequences)
    }).strict().default({} as never),
    export: z.object({
        formats: z.array(z.enum(exportFormats as unknown as [ExportFormat, ...ExportFormat[]])).min(1).default(["trl"]),
        name: z.string().min(1).default("icon2")
    }).strict().default({} as never)
}).strict();
export type RunConfig = z.infer<typeof RunConfig>;
export type RunConfigInput = z.input<typeof RunConfig>;

export const stageNames = ["extract", "synthesize", "score", "sweep", "pairs", "export"] as const;
export type StageName = (typeof stageNames)[number];

export interface StageState {
    status: "running" | "complete";
    /** hash of this stage's configuration and of every stage before it */
    configHash: string;
    seconds?: number;
    counts?: Record<string, number | Record<string, number>>;
    completedAt?: string;
    /** the sweep stage's recommendation, used by the pairs stage */
    recommendation?: Recommendation;
}

export interface RunManifest {
    icon2Version: string;
    llamaCpp: string;
    created: string;
    model: FileIdentity;
    config: RunConfig;
    stages: Partial<Record<StageName, StageState>>;
}

const Manifest = z.object({
    icon2Version: z.string(),
    llamaCpp: z.string(),
    created: z.string(),
    model: z.object({name: z.string(), size: z.number(), sha256: z.string()}),
    config: z.unknown(),
    stages: z.record(z.string(), z.object({status: z.enum(["running", "complete"]), configHash: z.string()}).passthrough())
}).passthrough();

export function runPaths(dir: string) {
    return {
        manifest: path.join(dir, "run.json"),
        directions: path.join(dir, "directions"),
        instructions: path.join(dir, "instructions.jsonl"),
        scores: path.join(dir, "scores.jsonl"),
        scored: path.join(dir, "scored.jsonl"),
        sweep: path.join(dir, "sweep"),
        pairs: path.join(dir, "pairs.jsonl"),
        export: path.join(dir, "export"),
        report: path.join(dir, "report.html")
    };
}

/** Reads a config file with the same schema errors as flags get. */
export function loadConfigFile(file: string): RunConfigInput {
    const json = readJsonFile(file, "config file");
    const parsed = RunConfig.safeParse(json);
    if (!parsed.success)
        throw new Error(`config file ${file}: ${formatZodError(parsed.error)}`);
    return json as RunConfigInput;
}

export function formatZodError(error: z.ZodError): string {
    return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Deep merge of config layers (later wins); arrays are replaced, not merged. */
export function mergeConfig(...layers: readonly RunConfigInput[]): RunConfig {
    const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
        const out: Record<string, unknown> = {...a};
        for (const [k, v] of Object.entries(b)) {
            if (v === undefined)
                continue;
            out[k] = v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object" ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
        }
        return out;
    };
    const merged = layers.reduce<Record<string, unknown>>((acc, layer) => merge(acc, layer as Record<string, unknown>), {});
    const parsed = RunConfig.safeParse(merged);
    if (!parsed.success)
        throw new Error(`invalid run configuration: ${formatZodError(parsed.error)}`);
    return parsed.data;
}

function stageConfig(config: RunConfig, stage: StageName): unknown {
    const shared = {seed: config.seed, chatTemplate: config.chatTemplate ?? null};
    switch (stage) {
    case "extract": return {...shared, ...config.extract, sequences: undefined};
    case "synthesize": return {...shared, ...config.synthesize, sequences: undefined};
    case "score": return {...shared, ...config.score, sequences: undefined};
    case "sweep": return {...shared, ...config.sweep, sequences: undefined};
    case "pairs": return {...shared, ...config.pairs, sequences: undefined};
    case "export": return {...shared, ...config.export};
    }
}

/** Each stage's hash covers its own configuration, the model and every stage before it. */
export function stageHashes(config: RunConfig, model: FileIdentity): Record<StageName, string> {
    let previous = model.sha256;
    const out = {} as Record<StageName, string>;
    for (const stage of stageNames) {
        previous = crypto.createHash("sha256").update(previous).update(stage).update(JSON.stringify(stageConfig(config, stage))).digest("hex").slice(0, 16);
        out[stage] = previous;
    }
    return out;
}

export function readManifest(file: string): RunManifest | undefined {
    if (!fs.existsSync(file))
        return undefined;
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`${file} is corrupt (${(err as Error).message}); move it away to start this run directory over`);
    }
    const parsed = Manifest.safeParse(json);
    if (!parsed.success)
        throw new Error(`${file} is corrupt (${formatZodError(parsed.error)}); move it away to start this run directory over`);
    return json as RunManifest;
}

export interface RunOptions {
    model: Model;
    modelSpec: string;
    out: string;
    config: RunConfig;
    /** stages to redo even though they completed (later stages are redone too) */
    forceRestart?: StageName;
    signal?: AbortSignal;
    llamaCppVersion: string;
    log?: (message: string) => void;
    /** things the user should know (a short sample, a judge's limits); defaults to `log` with a "warning: " prefix */
    warn?: (message: string) => void;
    onStageProgress?: (stage: StageName, done: number, total: number, info?: Record<string, string | number>) => void;
    onStageStart?: (stage: StageName, total: number, unit: string) => void;
    onStageEnd?: (stage: StageName, summary: string) => void;
}

export interface RunResult {
    manifest: RunManifest;
    exports: ExportSummary[];
    summary: string;
}

export async function runPipeline(options: RunOptions): Promise<RunResult> {
    const {model, config, out} = options;
    const log = options.log ?? (() => undefined);
    const warn = options.warn ?? ((message: string) => log(`warning: ${message}`));
    const paths = runPaths(out);
    fs.mkdirSync(out, {recursive: true});
    let release: () => Promise<void>;
    try {
        release = await lockfile.lock(out, {retries: 0, realpath: false});
    } catch {
        throw new Error(`another icon2 run is using ${out} (lock ${out}.lock); wait for it or remove the stale lock`);
    }
    try {
        const existing = readManifest(paths.manifest);
        const identity = await fileIdentity(model.info.path, existing?.model);
        const hashes = stageHashes(config, identity);
        if (existing && (existing.model.sha256 !== identity.sha256))
            throw new Error(`${out} was made with model ${existing.model.name} (sha256 ${existing.model.sha256.slice(0, 12)}…), not ${identity.name}; use another --out`);
        const manifest: RunManifest = existing ?? {icon2Version, llamaCpp: options.llamaCppVersion, created: new Date().toISOString(), model: identity, config, stages: {}};
        manifest.config = config;
        const forceFrom = options.forceRestart ? stageNames.indexOf(options.forceRestart) : stageNames.length;
        for (const [k, stage] of stageNames.entries()) {
            const state = manifest.stages[stage];
            if (!state)
                continue;
            if (k >= forceFrom) {
                delete manifest.stages[stage];
                removeStageOutputs(stage, paths);
                continue;
            }
            if (state.configHash !== hashes[stage])
                throw new Error(`the configuration of stage "${stage}" differs from the one ${out} was started with; ` +
                    `rerun with the original settings, use another --out, or pass --force-restart ${stage} to redo it and every later stage`);
        }
        const save = async () => writeFileAtomic(paths.manifest, JSON.stringify(manifest, null, 2) + "\n");
        await save();

        const template = modelChatTemplate(model, config.chatTemplate);
        const {nLayer} = model.info;
        let layers: [number, number] = config.pairs.layers ? parseLayerRange(config.pairs.layers) : defaultLayerRange(nLayer);
        let {gammaChosen, gammaRejected} = config.pairs;
        const keep: KeepSpec = config.score.threshold !== undefined ? {kind: "threshold", value: parseThreshold(config.score.threshold)} : parseKeep(config.score.keep);
        const validation = parseShare(config.score.validation, "score.validation", {allowZero: true});
        const balance = config.score.balance ? parseShare(config.score.balance, "score.balance") : undefined;
        const exports: ExportSummary[] = [];

        const runStage = async (stage: StageName, body: () => Promise<StageState["counts"]>, extra?: () => Partial<StageState>) => {
            if (manifest.stages[stage]?.status === "complete") {
                log(`${stage}: done earlier, skipped`);
                return;
            }
            const started = Date.now();
            manifest.stages[stage] = {status: "running", configHash: hashes[stage]};
            await save();
            const counts = await body();
            manifest.stages[stage] = {status: "complete", configHash: hashes[stage], seconds: (Date.now() - started) / 1000, counts, completedAt: new Date().toISOString(), ...extra?.()};
            await save();
        };

        await runStage("extract", async () => {
            const criteria = resolveCriteria({names: config.extract.criteria, file: config.extract.criteriaFile});
            const stimuli = sampleStimuli(loadStimuli(config.extract.stimuli), config.extract.stimuliCount, config.seed);
            options.onStageStart?.("extract", criteria.length * 2 * stimuli.length, "prompts");
            const sets = await extractDirections(model, {
                criteria, stimuli, template, method: config.extract.method, holdout: config.extract.holdout, seed: config.seed,
                sequences: config.extract.sequences, threads: config.threads, signal: options.signal,
                onProgress: (done, total) => options.onStageProgress?.("extract", done, total)
            });
            fs.mkdirSync(paths.directions, {recursive: true});
            for (const set of sets)
                await writeControlVector(path.join(paths.directions, `${set.criterion}.gguf`), set);
            options.onStageEnd?.("extract", `extract: ${sets.length} criteria × ${nLayer} layers from ${stimuli.length} stimuli`);
            return {criteria: sets.length, stimuli: stimuli.length};
        });

        await runStage("synthesize", async () => {
            options.onStageStart?.("synthesize", config.synthesize.count, "instructions");
            const summary = await synthesizeInstructions(model, {
                ...config.synthesize, out: paths.instructions, template, seed: config.seed, threads: config.threads,
                modelName: model.info.name || identity.name, signal: options.signal,
                onProgress: (p) => options.onStageProgress?.("synthesize", p.kept, p.target, {attempts: p.attempts})
            });
            if (summary.exhausted)
                warn(`only ${summary.kept} of ${config.synthesize.count} unique instructions after ${summary.attempts} attempts; continuing with those`);
            options.onStageEnd?.("synthesize", `synthesize: ${summary.kept} unique instructions from ${summary.attempts} attempts`);
            return {instructions: summary.kept, attempts: summary.attempts};
        });

        const directions = await readDirectionsDir(paths.directions);

        await runStage("score", async () => {
            const records = await readJsonlAll(paths.instructions, {schema: SynthesizedRecord});
            if (records.length === 0)
                throw new Error(`${paths.instructions} holds no instructions; the model wrote none that passed cleaning`);
            options.onStageStart?.("score", records.length, "instructions");
            const scores = await scoreInstructions(model, records, {
                directions, template, scoresFile: paths.scores, sequences: config.score.sequences, threads: config.threads, signal: options.signal,
                onProgress: (done, total) => options.onStageProgress?.("score", done, total)
            });
            const selection = selectInstructions(records, scores, {keep, normalization: config.score.normalization, balance, validation, seed: config.seed});
            for (const w of selection.warnings)
                warn(w);
            await writeSelection(paths.scored, selection.kept);
            options.onStageEnd?.("score", `score: kept ${selection.kept.length} of ${records.length} (${Object.entries(selection.keptSummary.perCriterion).map(([c, n]) => `${c} ${n}`).join(", ")})`);
            return {scored: records.length, kept: selection.kept.length, perCriterion: selection.keptSummary.perCriterion};
        });

        let recommendation: Recommendation | undefined;
        await runStage("sweep", async () => {
            if (!config.sweep.enabled)
                return {enabled: 0, sample: 0};
            const kept = await readJsonlAll(paths.scored, {schema: ScoredRecord});
            const train = kept.filter((r) => r.split !== "validation");
            const layerRanges = config.sweep.layers?.map((spec) => parseLayerRange(spec));
            options.onStageStart?.("sweep", 1, "phases");
            const result = await runSweep(model, train, {
                directions, template, gammaChosen: config.sweep.gammaChosen, gammaRejected: config.sweep.gammaRejected, layerRanges,
                sample: config.sweep.sample, seed: config.seed, maxTokens: config.sweep.maxTokens, winRateThreshold: config.sweep.winRate, judgeMethod: config.sweep.judgeMethod,
                temperature: config.pairs.temperature, topP: config.pairs.topP, sequences: config.sweep.sequences, threads: config.threads, signal: options.signal,
                onProgress: (p) => options.onStageProgress?.("sweep", p.done, p.total, {phase: p.phase})
            });
            fs.mkdirSync(paths.sweep, {recursive: true});
            await writeFileAtomic(path.join(paths.sweep, "sweep.json"), JSON.stringify(result, null, 2) + "\n");
            await writeFileAtomic(path.join(paths.sweep, "sweep.svg"), sweepPlotSvg(result, {winRateThreshold: config.sweep.winRate}));
            recommendation = result.recommendation;
            for (const w of result.warnings)
                warn(w);
            options.onStageEnd?.("sweep", `sweep: γ⁺ ${recommendation.gammaChosen}, γ⁻ ${recommendation.gammaRejected}, layers ${recommendation.layers} (${recommendation.reason})`);
            return {enabled: 1, sample: result.sample.length};
        }, () => (recommendation ? {recommendation} : {}));
        const chosen = manifest.stages.sweep?.recommendation;
        if (chosen) {
            gammaChosen = chosen.gammaChosen;
            gammaRejected = chosen.gammaRejected;
            layers = parseLayerRange(chosen.layers);
        }

        await runStage("pairs", async () => {
            const kept = await readJsonlAll(paths.scored, {schema: ScoredRecord});
            options.onStageStart?.("pairs", kept.length, "pairs");
            const summary = await makePairs(model, kept, {
                ...config.pairs, gammaChosen, gammaRejected, layers, directions, template, out: paths.pairs, seed: config.seed, threads: config.threads, signal: options.signal,
                onProgress: (p) => options.onStageProgress?.("pairs", p.done, p.total, {dropped: p.dropped})
            });
            options.onStageEnd?.("pairs", `pairs: ${summary.written} written, dropped ${Object.entries(summary.dropped).map(([r, n]) => `${r} ${n}`).join(", ")}`);
            return {pairs: summary.written, tokens: summary.tokens, dropped: summary.dropped};
        });

        await runStage("export", async () => {
            const counts: Record<string, number> = {};
            for (const format of config.export.formats) {
                const summary = await exportPairs(readJsonl(paths.pairs, {schema: PairRecord}) as AsyncIterable<PairRecord>, {
                    format, out: path.join(paths.export, format), name: config.export.name, seed: config.seed,
                    card: {
                        model: options.modelSpec, gammaChosen, gammaRejected, layers,
                        counts: {
                            synthesized: numberOf(manifest.stages.synthesize?.counts?.instructions),
                            selected: numberOf(manifest.stages.score?.counts?.kept),
                            pairs: numberOf(manifest.stages.pairs?.counts?.pairs),
                            dropped: sumOf(manifest.stages.pairs?.counts?.dropped)
                        },
                        version: icon2Version
                    }
                });
                exports.push(summary);
                counts[format] = summary.counts.exported;
            }
            options.onStageEnd?.("export", `export: ${Object.entries(counts).map(([f, n]) => `${f} ${n} rows`).join(", ")} in ${paths.export}`);
            return counts;
        });

        return {manifest, exports, summary: formatRunSummary(manifest)};
    } finally {
        await release();
    }
}

function numberOf(v: unknown): number | undefined {
    return typeof v === "number" ? v : undefined;
}

function sumOf(v: unknown): number | undefined {
    return v && typeof v === "object" ? Object.values(v as Record<string, number>).reduce((a, b) => a + b, 0) : undefined;
}

function removeStageOutputs(stage: StageName, paths: ReturnType<typeof runPaths>): void {
    const files: Record<StageName, string[]> = {
        extract: [paths.directions],
        synthesize: [paths.instructions],
        score: [paths.scores, paths.scored],
        sweep: [paths.sweep],
        pairs: [paths.pairs, droppedFile(paths.pairs)],
        export: [paths.export, paths.report]
    };
    for (const f of files[stage])
        fs.rmSync(f, {recursive: true, force: true});
}

/** The table printed at the end of a run. */
export function formatRunSummary(manifest: RunManifest): string {
    const rows: string[][] = [["stage", "result", "time"]];
    const c = (stage: StageName) => manifest.stages[stage]?.counts ?? {};
    const t = (stage: StageName) => {
        const s = manifest.stages[stage]?.seconds;
        return s === undefined ? "-" : s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
    };
    rows.push(["extract", `${c("extract").criteria ?? "-"} criteria, ${c("extract").stimuli ?? "-"} stimuli`, t("extract")]);
    rows.push(["synthesize", `${c("synthesize").instructions ?? "-"} instructions (${c("synthesize").attempts ?? "-"} attempts)`, t("synthesize")]);
    const per = c("score").perCriterion as Record<string, number> | undefined;
    rows.push(["score", `kept ${c("score").kept ?? "-"} of ${c("score").scored ?? "-"}${per ? ` (${Object.entries(per).map(([k, v]) => `${k} ${v}`).join(", ")})` : ""}`, t("score")]);
    const rec = manifest.stages.sweep?.recommendation;
    rows.push(["sweep", rec ? `γ⁺ ${rec.gammaChosen}, γ⁻ ${rec.gammaRejected}, layers ${rec.layers}` : "off (γ and layers from the configuration)", t("sweep")]);
    const dropped = c("pairs").dropped as Record<string, number> | undefined;
    rows.push(["pairs", `${c("pairs").pairs ?? "-"} pairs, ${c("pairs").tokens ?? "-"} tokens${dropped ? `, dropped ${Object.entries(dropped).map(([k, v]) => `${k} ${v}`).join(" ")}` : ""}`, t("pairs")]);
    rows.push(["export", Object.entries(c("export")).map(([f, n]) => `${f}: ${n} rows`).join(", ") || "-", t("export")]);
    const widths = [0, 1, 2].map((k) => Math.max(...rows.map((r) => r[k].length)));
    return rows.map((r) => r.map((cell, k) => cell.padEnd(widths[k])).join("  ").trimEnd()).join("\n");
}
