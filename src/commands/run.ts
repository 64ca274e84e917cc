import fs from "node:fs";
import path from "node:path";
import type {CommandModule} from "yargs";
import {readDirectionsDir} from "../control-vector.js";
import {AbortError} from "../engine/index.js";
import {readJsonFile, readJsonlAll} from "../jsonl.js";
import {loadConfigFile, mergeConfig, runPaths, runPipeline, stageNames, type RunConfigInput, type StageName} from "../pipeline.js";
import {createProgress, progressModes, type ProgressMode, type ProgressTask} from "../progress.js";
import {PairRecord, ScoredRecord} from "../records.js";
import {renderReport} from "../report.js";
import type {SweepResult} from "../sweep.js";
import {llamaCppVersion} from "../version.js";
import {finiteNumber, interruptSignal, openModel, withModelOptions} from "./common.js";

interface RunArgs {
    model: string; gpu: string; gpuLayers?: number; threads?: number; chatTemplate?: string;
    out: string; config?: string; seed?: number; instructions?: number; keep?: string; criteria?: string; stimuliCount?: number;
    gammaChosen?: unknown; gammaRejected?: unknown; layers?: string; maxTokens?: number; formats?: string;
    forceRestart?: StageName; progress: ProgressMode; autoGamma?: boolean; judgeMethod?: "auto" | "compare" | "likelihood";
}

export const runCommand: CommandModule = {
    command: "run",
    describe: "The whole Icon² pipeline in one resumable command: extract → synthesize → score → [sweep, with --auto-gamma] → pairs → export",
    builder: (y) => withModelOptions(y)
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "run directory (created; rerun the same command to resume)"})
        .option("config", {type: "string", describe: "JSON file with any stage option (see README); flags override it"})
        .option("seed", {type: "number", describe: "run seed (default 0)"})
        .option("instructions", {type: "number", describe: "unique instructions to synthesize (default 1000)"})
        .option("keep", {type: "string", describe: "share or count of instructions to keep after scoring (default 10%)"})
        .option("criteria", {type: "string", describe: "comma-separated criteria (default: all four)"})
        .option("stimuli-count", {type: "number", describe: "stimuli used to extract directions (default: all 300 shipped)"})
        .option("gamma-chosen", {describe: "γ⁺ relative to the layer's hidden-state norm (default 0.1)"})
        .option("gamma-rejected", {describe: "γ⁻ (default −0.05)"})
        .option("layers", {type: "string", describe: "controlled blocks A-B, inclusive (default: the middle third)"})
        .option("max-tokens", {type: "number", describe: "longest response of a pair (default 512)"})
        .option("formats", {type: "string", describe: "export formats, comma-separated: trl, messages, alpaca, sharegpt, axolotl (default trl)"})
        .option("auto-gamma", {type: "boolean", describe: "pick γ⁺, γ⁻ and the layers with a small self-judged sweep before the pairs stage (config: sweep.*)"})
        .option("judge-method", {choices: ["auto", "compare", "likelihood"] as const, describe: "how the sweep's self-judge judges (default auto: likelihood for the plain template, else compare; see icon2 sweep --help)"})
        .option("force-restart", {type: "string", choices: stageNames as unknown as string[], describe: "redo this stage and every later one"})
        .option("progress", {type: "string", default: "auto", choices: progressModes as ProgressMode[], describe: "progress output: live bar, plain lines, JSON lines, or none"}),
    handler: async (argv) => {
        const args = argv as unknown as RunArgs;
        const fileConfig: RunConfigInput = args.config ? loadConfigFile(args.config) : {};
        const flagConfig: RunConfigInput = {
            seed: args.seed, chatTemplate: args.chatTemplate, threads: args.threads,
            extract: {criteria: args.criteria, stimuliCount: args.stimuliCount},
            synthesize: {count: args.instructions},
            score: {keep: args.keep},
            pairs: {
                gammaChosen: args.gammaChosen === undefined ? undefined : finiteNumber(args.gammaChosen, "--gamma-chosen"),
                gammaRejected: args.gammaRejected === undefined ? undefined : finiteNumber(args.gammaRejected, "--gamma-rejected"),
                layers: args.layers, maxTokens: args.maxTokens
            },
            sweep: {enabled: args.autoGamma, judgeMethod: args.judgeMethod},
            export: {formats: args.formats?.split(",").map((f) => f.trim()) as never}
        };
        const config = mergeConfig(fileConfig, flagConfig);
        const progress = createProgress(args.progress);
        const interrupt = interruptSignal((signal) => progress.log(`${signal}: finishing the current step and saving; resume with the same command`));
        const model = await openModel(args, progress);
        const tasks = new Map<StageName, ProgressTask>();
        try {
            const result = await runPipeline({
                model, modelSpec: args.model, out: args.out, config, forceRestart: args.forceRestart, signal: interrupt.signal,
                llamaCppVersion: llamaCppVersion(), log: (m) => progress.log(m), warn: (m) => progress.warn(m),
                onStageStart: (stage, total, unit) => tasks.set(stage, progress.start(stage, total, unit)),
                onStageProgress: (stage, done, _total, info) => tasks.get(stage)?.update(done, info),
                onStageEnd: (stage, summary) => {
                    const task = tasks.get(stage);
                    if (task)
                        task.finish(summary);
                    else
                        progress.log(summary);
                }
            });
            const paths = runPaths(args.out);
            const scores = fs.existsSync(paths.scores) ? await readJsonlAll<{scores: Record<string, number>}>(paths.scores) : [];
            fs.writeFileSync(paths.report, renderReport({
                manifest: result.manifest, summary: result.summary,
                directions: await readDirectionsDir(paths.directions),
                consistency: scores.map((s) => Math.max(...Object.values(s.scores))),
                kept: await readJsonlAll(paths.scored, {schema: ScoredRecord}),
                pairs: await readJsonlAll(paths.pairs, {schema: PairRecord}),
                sweep: result.manifest.stages.sweep?.recommendation === undefined ? undefined : {
                    // written by this run's sweep stage
                    result: readJsonFile(path.join(paths.sweep, "sweep.json"), "sweep result") as SweepResult,
                    svg: fs.readFileSync(path.join(paths.sweep, "sweep.svg"), "utf8")
                }
            }));
            process.stdout.write(result.summary + "\n");
            process.stdout.write(`wrote ${args.out}: run.json, pairs.jsonl, export/, report.html\n`);
        } catch (err) {
            if (err instanceof AbortError || interrupt.signal.aborted)
                throw Object.assign(new Error(`interrupted; resume with the same command (${args.out} keeps what is done)`), {exitCode: 130});
            throw err;
        } finally {
            interrupt.dispose();
            await model.dispose();
        }
    }
};
