import type {CommandModule} from "yargs";
import {scoreInstructions, selectInstructions, writeSelection} from "../consistency.js";
import {checkFitsModel, readDirectionsDir} from "../control-vector.js";
import {defaults} from "../defaults.js";
import {readJsonlAll} from "../jsonl.js";
import {InstructionRecord} from "../records.js";
import {formatSummary, parseKeep, parseShare, parseThreshold, type KeepSpec} from "../selection.js";
import {chatTemplateFor, openModel, reporter, withCommonOptions, withModelOptions} from "./common.js";

export const scoreCommand: CommandModule = {
    command: "score",
    describe: "Stage 2b: score instructions by inherent consistency with each criterion and keep the best",
    builder: (y) => withCommonOptions(withModelOptions(y))
        .option("directions", {alias: "d", type: "string", demandOption: true, describe: "directory of <criterion>.gguf from icon2 extract"})
        .option("in", {alias: "i", type: "string", demandOption: true, describe: "instructions JSONL (from icon2 synthesize)"})
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "kept instructions JSONL, ranked, with scores, c* and split"})
        .option("keep", {type: "string", default: defaults.score.keep, describe: "share (\"10%\") or count (\"5000\") to keep"})
        .option("threshold", {type: "string", describe: "keep every instruction with consistency ≥ θ instead of --keep"})
        .option("balance", {type: "string", describe: "cap any one criterion's share of the kept set, e.g. 50%"})
        .option("validation", {type: "string", default: "2%", describe: "validation share of the kept set (paper: 2K of 100K)"})
        .option("score-normalization", {type: "string", choices: ["none", "zscore"], default: defaults.score.normalization, describe: "z-score each criterion over the input before the max (raw dot products differ in scale across criteria)"})
        .option("skip-invalid", {type: "boolean", default: false, describe: "skip malformed input lines instead of failing"})
        .option("batch", {type: "number", default: defaults.score.sequences, describe: "prompts decoded in parallel"}),
    handler: async (argv) => {
        const args = argv as unknown as {directions: string; in: string; out: string; keep: string; threshold?: string; balance?: string; validation: string; scoreNormalization: "none" | "zscore"; skipInvalid: boolean; batch: number; seed: number; progress: "auto"; model: string; gpu: string; threads?: number; chatTemplate?: string; gpuLayers?: number};
        const keep: KeepSpec = args.threshold !== undefined ? {kind: "threshold", value: parseThreshold(args.threshold)} : parseKeep(args.keep);
        const balance = args.balance !== undefined ? parseShare(args.balance, "--balance") : undefined;
        const validation = parseShare(args.validation, "--validation", {allowZero: true});
        const progress = reporter(args);
        let skipped = 0;
        const records = await readJsonlAll(args.in, {schema: InstructionRecord, skipInvalid: args.skipInvalid, onSkip: () => skipped++});
        if (skipped > 0)
            progress.log(`skipped ${skipped} invalid lines of ${args.in}`);
        if (records.length === 0)
            throw new Error(`${args.in} holds no instructions`);
        const directions = await readDirectionsDir(args.directions);
        const model = await openModel(args, progress);
        try {
            for (const [name, set] of directions)
                checkFitsModel(set, model.info, `${args.directions}/${name}.gguf`);
            const template = chatTemplateFor(model, args.chatTemplate);
            const task = progress.start("score", records.length, "instructions");
            const scores = await scoreInstructions(model, records, {
                directions, template, scoresFile: `${args.out}.scores.jsonl`, sequences: args.batch, threads: args.threads,
                onProgress: (done) => task.update(done)
            });
            task.finish();
            const selection = selectInstructions(records, scores, {keep, normalization: args.scoreNormalization, balance, validation, seed: args.seed});
            await writeSelection(args.out, selection.kept);
            for (const w of selection.warnings)
                progress.warn(w);
            process.stdout.write(formatSummary(selection.all, `scored ${records.length} instructions`) + "\n");
            process.stdout.write(formatSummary(selection.keptSummary, `kept ${selection.kept.length}`) + "\n");
            process.stdout.write(`wrote ${args.out}\n`);
        } finally {
            await model.dispose();
        }
    }
};
