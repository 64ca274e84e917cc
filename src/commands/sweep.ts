import fs from "node:fs";
import path from "node:path";
import type {CommandModule} from "yargs";
import {readDirectionsDir} from "../control-vector.js";
import {defaults} from "../defaults.js";
import {AbortError, type Model} from "../engine/index.js";
import {createJudge, type Judge, type JudgeMethodChoice} from "../judge.js";
import {readJsonlAll, writeFileAtomic} from "../jsonl.js";
import {checkLayerRange, parseLayerRanges, parseNumberList, recommendDefaults} from "../recommend.js";
import {ScoredRecord} from "../records.js";
import {formatSweepTable, runSweep, sweepDefaults, sweepPlotSvg} from "../sweep.js";
import {chatTemplateFor, finiteNumber, interruptSignal, openModel, positiveInteger, reporter, type CommonArgs, type ModelArgs, withCommonOptions, withModelOptions} from "./common.js";

interface SweepArgs extends ModelArgs, CommonArgs {
    directions: string;
    in: string;
    out: string;
    sample: string;
    gammaChosen: string;
    gammaRejected: string;
    layers?: string;
    judgeModel?: string;
    judgeChatTemplate?: string;
    judgeMethod: JudgeMethodChoice;
    winRate: string;
    maxTokens: string;
    temperature: string;
    topP: string;
    sequences: string;
}

export const sweepCommand: CommandModule = {
    command: "sweep",
    describe: "Choose γ⁺, γ⁻ and the controlled blocks: generate at each setting on a sample and let the model judge (paper Appendix J)",
    // Numbers are read as strings and parsed here, so "abc" is an error naming the flag instead of NaN.
    builder: (y) => withCommonOptions(withModelOptions(y))
        .option("directions", {alias: "d", type: "string", demandOption: true, describe: "directory of <criterion>.gguf control vectors (from `icon2 extract`)"})
        .option("in", {alias: "i", type: "string", demandOption: true, describe: "scored/kept JSONL (records with `instruction` and `criterion`)"})
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "directory for sweep.json and sweep.svg"})
        .option("sample", {type: "string", default: String(sweepDefaults.sample), describe: "instructions sampled (seeded) and generated at every setting"})
        .option("gamma-chosen", {type: "string", default: sweepDefaults.gammaChosen.join(","), describe: "γ⁺ values to try, comma-separated, each > 0"})
        .option("gamma-rejected", {type: "string", default: sweepDefaults.gammaRejected.join(","), describe: "γ⁻ values to try, each < 0 (write --gamma-rejected=-0.01,-0.05)"})
        .option("layers", {type: "string", describe: "controlled block ranges to try, e.g. 10-20,2-12 (0-based, inclusive; default: the middle third)"})
        .option("judge-model", {type: "string", describe: "judge with this GGUF instead of the model itself (path, hf:… or URL)"})
        .option("judge-chat-template", {type: "string", describe: "chat template FILE or builtin NAME for --judge-model (default: its own)"})
        .option("judge-method", {
            choices: ["auto", "compare", "likelihood"] as const, default: "auto",
            describe: "compare: the judge reads both responses and answers which is better (instruct models); likelihood: each response's mean log-likelihood (base models); auto: likelihood for the plain chat template, else compare"
        })
        .option("win-rate", {type: "string", default: String(recommendDefaults.winRateThreshold), describe: "smallest acceptable share of pairs where the judge prefers γ⁺ over γ⁻"})
        .option("max-tokens", {type: "string", default: String(sweepDefaults.maxTokens), describe: "most tokens per response"})
        .option("temperature", {type: "string", default: String(defaults.pairs.temperature), describe: "sampling temperature (the pairs stage's; 0 = greedy); one sampler seed per record across settings"})
        .option("top-p", {type: "string", default: String(defaults.pairs.topP), describe: "nucleus sampling threshold"})
        .option("sequences", {type: "string", default: String(sweepDefaults.sequences), describe: "parallel sequences while generating"}),
    handler: async (argv) => {
        const args = argv as unknown as SweepArgs;
        // Check every flag before a model loads: a typo should not cost a model load.
        const gammaChosen = parseNumberList(args.gammaChosen, {flag: "--gamma-chosen", sign: "positive"});
        const gammaRejected = parseNumberList(args.gammaRejected, {flag: "--gamma-rejected", sign: "negative"});
        const layerRanges = args.layers === undefined ? undefined : parseLayerRanges(args.layers);
        const sample = positiveInteger(args.sample, "--sample");
        const maxTokens = positiveInteger(args.maxTokens, "--max-tokens");
        const sequences = positiveInteger(args.sequences, "--sequences");
        const winRateThreshold = finiteNumber(args.winRate, "--win-rate");
        if (winRateThreshold < 0 || winRateThreshold > 1)
            throw new Error(`--win-rate must be between 0 and 1, got ${args.winRate}`);
        const temperature = finiteNumber(args.temperature, "--temperature");
        const topP = finiteNumber(args.topP, "--top-p");
        const seed = finiteNumber(args.seed, "--seed");
        const records = await readJsonlAll(args.in, {schema: ScoredRecord});
        const directions = await readDirectionsDir(args.directions);

        const progress = reporter(args);
        const model = await openModel(args, progress);
        let judgeModel: Model | undefined;
        let judge: Judge | undefined;
        const interrupt = interruptSignal();
        try {
            // before any generation: the ranges against this model's blocks, naming the flag
            for (const range of layerRanges ?? []) {
                try {
                    checkLayerRange(range, model.info.nLayer);
                } catch (err) {
                    throw new Error(`--layers: ${(err as Error).message}`);
                }
            }
            const template = chatTemplateFor(model, args.chatTemplate);
            if (args.judgeModel !== undefined) {
                judgeModel = await openModel({...args, model: args.judgeModel}, progress);
                judge = await createJudge(judgeModel, chatTemplateFor(judgeModel, args.judgeChatTemplate, "--judge-chat-template"), {threads: args.threads, method: args.judgeMethod});
            }
            let task: ReturnType<typeof progress.start> | undefined;
            let phase = "";
            const result = await runSweep(model, records, {
                directions, template, gammaChosen, gammaRejected, layerRanges, sample, seed, temperature, topP, maxTokens,
                winRateThreshold, judge, judgeMethod: args.judgeMethod, sequences, threads: args.threads, signal: interrupt.signal,
                onProgress: (p) => {
                    if (p.phase !== phase) {
                        task?.finish();
                        phase = p.phase;
                        task = progress.start(`sweep ${p.phase}`, p.total, p.phase === "generate" ? "responses" : "comparisons");
                    }
                    task!.update(p.done);
                }
            });
            task?.finish();
            fs.mkdirSync(args.out, {recursive: true});
            const jsonFile = path.join(args.out, "sweep.json");
            const svgFile = path.join(args.out, "sweep.svg");
            await writeFileAtomic(jsonFile, JSON.stringify({
                model: model.info.name || model.info.path, directions: args.directions, input: args.in, ...result
            }, null, 2) + "\n");
            await writeFileAtomic(svgFile, sweepPlotSvg(result, {winRateThreshold}));
            process.stdout.write(formatSweepTable(result) + "\n");
            process.stdout.write(`wrote ${jsonFile}, ${svgFile}\n`);
        } catch (err) {
            if (err instanceof AbortError)
                throw Object.assign(new Error("interrupted; the sweep wrote nothing — rerun it"), {exitCode: 130});
            throw err;
        } finally {
            interrupt.dispose();
            await judge?.dispose();
            await judgeModel?.dispose();
            await model.dispose();
        }
    }
};
