import fs from "node:fs";
import path from "node:path";
import type {CommandModule} from "yargs";
import {writeControlVector} from "../control-vector.js";
import {resolveCriteria} from "../criteria.js";
import {extractDirections} from "../directions.js";
import {defaults} from "../defaults.js";
import {formatReport, reportDirections} from "../inspect.js";
import {loadStimuli, sampleStimuli} from "../stimuli.js";
import {chatTemplateFor, openModel, reporter, withCommonOptions, withModelOptions} from "./common.js";

export const extractCommand: CommandModule = {
    command: "extract",
    describe: "Stage 1: extract a per-layer direction for each criterion (llama.cpp control-vector GGUF files)",
    builder: (y) => withCommonOptions(withModelOptions(y))
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "directory for <criterion>.gguf"})
        .option("criteria", {type: "string", describe: "comma-separated criteria (default: general,honesty,harmlessness,helpfulness, or those of --criteria-file)"})
        .option("criteria-file", {type: "string", describe: "JSON file [{name, positive, negative}] of your own criteria"})
        .option("stimuli", {type: "string", describe: "instructions to read the model with: JSONL with an `instruction` field, or one per line (default: the 300 shipped with icon2)"})
        .option("stimuli-count", {type: "number", describe: "use a seeded sample of this many stimuli"})
        .option("method", {type: "string", choices: ["pca", "mean"], default: defaults.extract.method, describe: "first principal component, or normalized mean difference"})
        .option("holdout", {type: "number", default: defaults.extract.holdout, describe: "share of stimuli held out to measure per-layer separation accuracy"})
        .option("batch", {type: "number", default: defaults.extract.sequences, describe: "prompts decoded in parallel"})
        .option("reuse-prefix", {type: "boolean", default: true, describe: "decode the shared system prompt once per criterion side"}),
    handler: async (argv) => {
        const args = argv as unknown as {out: string; criteria?: string; criteriaFile?: string; stimuli?: string; stimuliCount?: number; method: "pca" | "mean"; holdout: number; batch: number; reusePrefix: boolean; seed: number; progress: "auto"; model: string; gpu: string; threads?: number; chatTemplate?: string; gpuLayers?: number};
        const criteria = resolveCriteria({names: args.criteria, file: args.criteriaFile});
        const stimuli = sampleStimuli(loadStimuli(args.stimuli), args.stimuliCount, args.seed);
        const progress = reporter(args);
        const model = await openModel(args, progress);
        try {
            const template = chatTemplateFor(model, args.chatTemplate);
            const task = progress.start("extract", criteria.length * 2 * stimuli.length, "prompts");
            const sets = await extractDirections(model, {
                criteria, stimuli, template, method: args.method, holdout: args.holdout, seed: args.seed,
                sequences: args.batch, threads: args.threads, reusePrefix: args.reusePrefix,
                onProgress: (done) => task.update(done)
            });
            task.finish();
            fs.mkdirSync(args.out, {recursive: true});
            for (const set of sets)
                await writeControlVector(path.join(args.out, `${set.criterion}.gguf`), set);
            process.stdout.write(formatReport(reportDirections(new Map(sets.map((s) => [s.criterion, s])))) + "\n");
            process.stdout.write(`wrote ${sets.map((s) => path.join(args.out, `${s.criterion}.gguf`)).join(", ")}\n`);
        } finally {
            await model.dispose();
        }
    }
};
