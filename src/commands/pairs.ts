import fs from "node:fs";
import path from "node:path";
import type {CommandModule} from "yargs";
import {checkFitsModel, readDirectionsDir} from "../control-vector.js";
import {defaults} from "../defaults.js";
import {AbortError} from "../engine/index.js";
import {readJsonlAll} from "../jsonl.js";
import {droppedFile, makePairs} from "../pairs.js";
import {parseLayerRange} from "../recommend.js";
import {ScoredRecord} from "../records.js";
import {chatTemplateFor, finiteNumber, interruptSignal, openModel, positiveInteger, reporter, type CommonArgs, type ModelArgs, withCommonOptions, withModelOptions} from "./common.js";

interface PairsArgs extends ModelArgs, CommonArgs {
    directions: string;
    in: string;
    out: string;
    gammaChosen: string;
    gammaRejected: string;
    layers?: string;
    criterion?: string;
    steerPrompt: boolean;
    temperature: string;
    topP: string;
    topK: string;
    maxTokens: string;
    keepSimilar: boolean;
    keepTruncated: boolean;
    sequences: string;
}

export const pairsCommand: CommandModule = {
    command: "pairs",
    describe: "Stage 3: generate chosen (+γ⁺) and rejected (γ⁻) responses for each scored instruction, steered along its criterion",
    // Numbers are read as strings and parsed here, so "abc" is an error naming the flag instead of NaN.
    builder: (y) => withCommonOptions(withModelOptions(y))
        .option("directions", {alias: "d", type: "string", demandOption: true, describe: "directory of <criterion>.gguf control vectors (from `icon2 extract`)"})
        .option("in", {alias: "i", type: "string", demandOption: true, describe: "scored.jsonl (every record gets a pair, validation split included)"})
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "pairs.jsonl: appended to and resumed from; dropped pairs are listed in <out>.dropped.jsonl"})
        .option("gamma-chosen", {type: "string", default: String(defaults.pairs.gammaChosen), describe: "γ⁺, relative to each block's typical hidden-state norm"})
        .option("gamma-rejected", {type: "string", default: String(defaults.pairs.gammaRejected), describe: "γ⁻, relative likewise (write --gamma-rejected=-0.05)"})
        .option("layers", {type: "string", describe: "controlled blocks A-B, 0-based, inclusive (default: the middle third; [10, 20] for 28–32 blocks)"})
        .option("criterion", {type: "string", describe: "steer every record with this criterion instead of its own c*"})
        .option("steer-prompt", {type: "boolean", default: false, describe: "also steer the prompt tokens (llama.cpp's convention; no shared prefill)"})
        .option("temperature", {type: "string", default: String(defaults.pairs.temperature), describe: "sampling temperature (0 = greedy); both halves share one sampler seed"})
        .option("top-p", {type: "string", default: String(defaults.pairs.topP), describe: "nucleus sampling threshold"})
        .option("top-k", {type: "string", default: String(defaults.pairs.topK), describe: "keep the k most likely tokens before top-p (0 = off)"})
        .option("max-tokens", {type: "string", default: String(defaults.pairs.maxTokens), describe: "most tokens per response; pairs that hit it are dropped unless --keep-truncated"})
        .option("keep-similar", {type: "boolean", default: false, describe: `keep pairs whose texts are near-identical (token edit similarity ≥ ${defaults.pairs.maxSimilarity}); identical ones are always dropped`})
        .option("keep-truncated", {type: "boolean", default: false, describe: "keep pairs where a response hit --max-tokens"})
        .option("sequences", {type: "string", default: String(defaults.pairs.sequences), describe: "parallel sequences (two per pair)"}),
    handler: async (argv) => {
        const args = argv as unknown as PairsArgs;
        // Check every flag before the model loads: a typo should not cost a model load.
        const gammaChosen = finiteNumber(args.gammaChosen, "--gamma-chosen");
        const gammaRejected = finiteNumber(args.gammaRejected, "--gamma-rejected");
        const temperature = finiteNumber(args.temperature, "--temperature");
        const topP = finiteNumber(args.topP, "--top-p");
        const topK = finiteNumber(args.topK, "--top-k");
        const maxTokens = positiveInteger(args.maxTokens, "--max-tokens");
        const sequences = positiveInteger(args.sequences, "--sequences");
        const layers = args.layers === undefined ? undefined : parseLayerRange(args.layers);
        const seed = finiteNumber(args.seed, "--seed");
        const records = await readJsonlAll(args.in, {schema: ScoredRecord});
        const directions = await readDirectionsDir(args.directions);

        const progress = reporter(args);
        const model = await openModel(args, progress);
        const interrupt = interruptSignal();
        try {
            // makePairs checks this too; here the message can name the file
            for (const [criterion, set] of directions) {
                const file = path.join(args.directions, `${criterion}.gguf`);
                checkFitsModel(set, model.info, fs.existsSync(file) ? file : `in ${args.directions}`);
            }
            const template = chatTemplateFor(model, args.chatTemplate);
            let task: ReturnType<typeof progress.start> | undefined;
            let resumed = 0;
            const started = Date.now();
            const summary = await makePairs(model, records, {
                directions, template, out: args.out, seed, gammaChosen, gammaRejected, layers, criterion: args.criterion,
                steerPrompt: args.steerPrompt, temperature, topP, topK, maxTokens, keepSimilar: args.keepSimilar,
                keepTruncated: args.keepTruncated, sequences, threads: args.threads, signal: interrupt.signal,
                onProgress: (p) => {
                    // The bar counts this run's pairs only, so its rate and ETA are not inflated by resumed ones.
                    if (task === undefined) {
                        resumed = p.done;
                        if (resumed > 0)
                            progress.log(`resuming ${args.out}: ${resumed} of ${p.total} records already done`);
                        task = progress.start("pairs", p.total - resumed, "pairs");
                    }
                    const seconds = (Date.now() - started) / 1000;
                    task.update(p.done - resumed, {"tok/s": seconds > 0 ? (p.tokens / seconds).toFixed(1) : "0", dropped: p.dropped});
                }
            });
            const {identical, similar, truncated} = summary.dropped;
            task?.finish();
            process.stdout.write(`${args.out}: ${summary.written} pairs written; dropped ${identical + similar + truncated} ` +
                `(identical ${identical}, similar ${similar}, truncated ${truncated}; listed in ${droppedFile(args.out)}); ` +
                `${summary.resumedFrom} were done before this run; ${summary.tokens} tokens\n`);
        } catch (err) {
            if (err instanceof AbortError)
                throw Object.assign(new Error(`interrupted; finished pairs are saved in ${args.out} — rerun the same command to resume`), {exitCode: 130});
            throw err;
        } finally {
            interrupt.dispose();
            await model.dispose();
        }
    }
};
