// `icon2 synthesize`: argv → synthesizeInstructions options, progress and the closing summary.
import path from "node:path";
import type {Argv, CommandModule} from "yargs";
import {defaults} from "../defaults.js";
import {AbortError} from "../engine/index.js";
import {synthesizeInstructions, type SynthesizeSummary} from "../synthesize.js";
import type {ProgressTask} from "../progress.js";
import {chatTemplateFor, finiteNumber, interruptSignal, openModel, positiveInteger, reporter, type CommonArgs, type ModelArgs, withCommonOptions, withModelOptions} from "./common.js";

export interface SynthesizeArgs extends ModelArgs, CommonArgs {
    count: number;
    out: string;
    temperature: number;
    topP: number;
    maxTokens: number;
    minChars: number;
    maxChars: number;
    maxAttempts?: number;
    sequences: number;
    stop?: string[];
}

const d = defaults.synthesize;

function nonNegativeInteger(value: unknown, flag: string): number {
    const n = finiteNumber(value, flag);
    if (!Number.isSafeInteger(n) || n < 0)
        throw new Error(`${flag} must be an integer ≥ 0, got ${JSON.stringify(value)}`);
    return n;
}

/** `--stop` values with the escapes a shell passes through literally: \n, \t, \r and \\. */
export function unescapeStop(value: string): string {
    return value.replace(/\\([ntr\\])/g, (_, c: string) => ({n: "\n", t: "\t", r: "\r", "\\": "\\"})[c]!);
}

/** "too_short 3, duplicate_exact 1" (largest first), or "none". */
function formatRejected(rejected: SynthesizeSummary["rejected"]): string {
    const entries = Object.entries(rejected).filter(([, n]) => (n ?? 0) > 0).sort((a, b) => b[1]! - a[1]!);
    return entries.length === 0 ? "none" : entries.map(([reason, n]) => `${reason} ${n}`).join(", ");
}

export const synthesizeCommand: CommandModule<object, SynthesizeArgs> = {
    command: "synthesize",
    describe: "Stage 2a: the model writes its own instructions (Magpie) into an append-only JSONL file; rerun to resume",
    builder: (y) => withCommonOptions(withModelOptions(y))
        .option("count", {alias: "n", type: "number", demandOption: true, describe: "unique instructions wanted in the file"})
        .option("out", {alias: "o", type: "string", demandOption: true, describe: "output JSONL; rerunning with the same file continues where it stopped"})
        .option("temperature", {type: "number", default: d.temperature, describe: "sampling temperature (Magpie: 1)"})
        .option("top-p", {type: "number", default: d.topP, describe: "nucleus sampling (Magpie: 1 = off)"})
        .option("max-tokens", {type: "number", default: d.maxTokens, describe: "tokens per attempt; longer ones are dropped as truncated"})
        .option("min-chars", {type: "number", default: d.minChars, describe: "shortest kept instruction (characters)"})
        .option("max-chars", {type: "number", default: d.maxChars, describe: "longest kept instruction (characters)"})
        .option("max-attempts", {type: "number", describe: `give up after this many attempts in all (default: count × ${d.attemptsPerInstruction})`})
        .option("stop", {type: "string", array: true, describe: "also end an instruction at this text (repeatable; \\n, \\t understood), e.g. --stop '\\n' for one-line instructions"})
        .option("sequences", {type: "number", default: d.sequences, describe: "parallel sequences per decode (the output depends on it: resume with the same value)"}) as unknown as Argv<SynthesizeArgs>,
    handler: async (args) => {
        // Flags first: a typo should not cost a model load.
        const count = positiveInteger(args.count, "--count");
        if (typeof args.out !== "string" || args.out.trim() === "")
            throw new Error("--out must be a file path");
        const options = {
            count,
            out: args.out,
            seed: nonNegativeInteger(args.seed, "--seed"),
            temperature: finiteNumber(args.temperature, "--temperature"),
            topP: finiteNumber(args.topP, "--top-p"),
            maxTokens: positiveInteger(args.maxTokens, "--max-tokens"),
            minChars: nonNegativeInteger(args.minChars, "--min-chars"),
            maxChars: positiveInteger(args.maxChars, "--max-chars"),
            maxAttempts: args.maxAttempts === undefined ? undefined : positiveInteger(args.maxAttempts, "--max-attempts"),
            sequences: positiveInteger(args.sequences, "--sequences"),
            threads: args.threads === undefined ? undefined : positiveInteger(args.threads, "--threads"),
            stopStrings: (args.stop ?? []).map((stop) => unescapeStop(String(stop)))
        };
        if (options.stopStrings.includes(""))
            throw new Error("--stop must not be empty");
        if (options.temperature < 0)
            throw new Error(`--temperature must be ≥ 0, got ${options.temperature}`);
        if (options.topP <= 0 || options.topP > 1)
            throw new Error(`--top-p must be in (0, 1], got ${options.topP}`);
        if (options.maxChars < options.minChars)
            throw new Error(`--max-chars (${options.maxChars}) must be ≥ --min-chars (${options.minChars})`);

        const progress = reporter(args);
        const model = await openModel(args, progress);
        const interrupt = interruptSignal();
        let task: ProgressTask | undefined;
        let lastKept = 0;
        try {
            const template = chatTemplateFor(model, args.chatTemplate);
            const modelName = model.info.name || path.basename(model.info.path);
            progress.log(`synthesizing from the pre-query prefix of ${template.origin}`);
            let firstKept = 0;
            const started = Date.now();
            const summary = await synthesizeInstructions(model, {
                ...options, template, modelName, signal: interrupt.signal,
                onProgress: ({kept, attempts, target, tokens}) => {
                    lastKept = kept;
                    if (task === undefined) {
                        // The first report comes before any generation: the bar counts what this run adds.
                        firstKept = kept;
                        if (kept > 0)
                            progress.log(`resuming: ${kept} instructions already in ${options.out}, next attempt ${attempts}`);
                        task = progress.start("synthesize", Math.max(target - kept, 0), "instructions");
                    }
                    const seconds = (Date.now() - started) / 1000;
                    task.update(kept - firstKept, {attempts, "tok/s": seconds > 0 ? (tokens / seconds).toFixed(1) : "0"});
                }
            });
            const resumed = summary.resumedFrom > 0 ? `; resumed from ${summary.resumedFrom}` : "";
            task?.finish(`synthesize: ${summary.kept} unique instructions in ${options.out} (${summary.kept - summary.resumedFrom} new), ` +
                `${summary.attempts} attempts; rejected: ${formatRejected(summary.rejected)}${resumed}`);
            if (summary.exhausted) {
                // Still exit 0: the file is valid, only shorter than asked.
                const message = `only ${summary.kept} of ${count} unique instructions after ${summary.attempts} attempts; ` +
                    "raise --max-attempts or --temperature (rerun with the same --out to continue)";
                progress.warn(message);
            }
        } catch (error) {
            if (!(error instanceof AbortError))
                throw error;
            task?.finish();
            progress.log(`interrupted: ${lastKept} instructions are in ${options.out}; rerun the same command to continue`);
            process.exitCode = 130;
        } finally {
            interrupt.dispose();
            await model.dispose();
        }
    }
};
