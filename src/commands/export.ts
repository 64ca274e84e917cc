import fs from "node:fs";
import type {CommandModule} from "yargs";
import {exportFormats, exportPairs, parseSplitFraction, type DatasetCardInfo, type ExportFormat} from "../formats.js";
import {readJsonl} from "../jsonl.js";
import {droppedFile} from "../pairs.js";
import {PairRecord} from "../records.js";
import {finiteNumber, reporter} from "./common.js";

/** The most frequent value and whether any other occurred. */
function mostCommon(counts: Map<string, number>): {value: string | undefined; mixed: boolean} {
    let value: string | undefined, best = -1;
    for (const [key, n] of counts) {
        if (n > best) {
            value = key;
            best = n;
        }
    }
    return {value, mixed: counts.size > 1};
}

const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

/**
 * What the card says about how the pairs were made, read from the pair records themselves (one
 * pass before the export): the model, γ⁺, γ⁻ and layers; `warn` is told when records disagree (pairs
 * from several runs in one file), in which case the card shows the most common values.
 */
export async function cardInfoFromPairs(file: string, warn: (message: string) => void): Promise<DatasetCardInfo> {
    const models = new Map<string, number>(), gammas = new Map<string, number>(), layerRanges = new Map<string, number>();
    let pairs = 0;
    for await (const pair of readJsonl(file, {schema: PairRecord})) {
        pairs++;
        bump(models, typeof pair.model === "string" ? pair.model : "");
        bump(gammas, JSON.stringify([pair.gamma_chosen, pair.gamma_rejected]));
        bump(layerRanges, JSON.stringify(pair.layers));
    }
    if (pairs === 0)
        throw new Error(`${file} has no pair records; run icon2 pairs first`);
    const model = mostCommon(models), gamma = mostCommon(gammas), layers = mostCommon(layerRanges);
    for (const [what, m] of [["models", model], ["γ values", gamma], ["layer ranges", layers]] as const) {
        if (m.mixed)
            warn(`${file} mixes ${what}; the dataset card shows the most common (${m.value})`);
    }
    const [gammaChosen, gammaRejected] = JSON.parse(gamma.value!) as [number, number];
    // Pairs the pairs stage dropped (identical, near-identical, truncated) are listed beside the file.
    let dropped: number | undefined;
    const side = droppedFile(file);
    if (fs.existsSync(side)) {
        dropped = 0;
        for await (const _ of readJsonl(side))
            dropped++;
    }
    return {
        model: model.value || "(not recorded in the pair records)",
        gammaChosen, gammaRejected,
        layers: JSON.parse(layers.value!) as [number, number],
        counts: {pairs, ...(dropped !== undefined ? {dropped} : {})}
    };
}

interface ExportArgs {
    in: string;
    format: ExportFormat;
    out: string;
    split: string;
    name: string;
    seed: string;
    progress: "auto" | "plain" | "json" | "none";
}

export const exportCommand: CommandModule = {
    command: "export",
    describe: "Stage 4: write pairs.jsonl as a dataset a DPO trainer loads unchanged (TRL, messages, LLaMA-Factory alpaca/sharegpt, axolotl), with a dataset card",
    builder: (y) => y
        .option("in", {alias: "i", type: "string", demandOption: true, describe: "pairs.jsonl from icon2 pairs"})
        .option("format", {alias: "f", type: "string", demandOption: true, choices: exportFormats as ExportFormat[], describe: "row format"})
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "output directory: train.jsonl [validation.jsonl] README.md [dataset_info.json]"})
        .option("split", {type: "string", default: "0", describe: "validation share, e.g. 2% or 0.02 (records with a split from scoring keep it)"})
        .option("name", {type: "string", default: "icon2", describe: "dataset name (card title, LLaMA-Factory dataset_info key)"})
        .option("seed", {type: "string", default: "0", describe: "seed of the split hash"})
        .option("progress", {type: "string", default: "auto", choices: ["auto", "plain", "json", "none"], describe: "progress output"}),
    handler: async (argv) => {
        const args = argv as unknown as ExportArgs;
        const split = parseSplitFraction(args.split);
        const seed = finiteNumber(args.seed, "--seed");
        const progress = reporter(args);
        const card = await cardInfoFromPairs(args.in, (message) => progress.warn(message));
        const task = progress.start("export", card.counts.pairs ?? 0, "pairs");
        const summary = await exportPairs(readJsonl(args.in, {schema: PairRecord}), {
            format: args.format, out: args.out, name: args.name, split, seed, card,
            onProgress: (done) => task.update(done)
        });
        task.finish();
        const dropped = Object.entries(summary.counts.dropped).filter(([, n]) => n > 0).map(([why, n]) => `${why} ${n}`);
        process.stdout.write(`${summary.format}: ${summary.counts.train} train + ${summary.counts.validation} validation rows in ${args.out}` +
            `${dropped.length > 0 ? `; left out ${dropped.join(", ")}` : ""}\n`);
    }
};
