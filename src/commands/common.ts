// Options and plumbing shared by the CLI commands. Commands only turn argv into stage options.
import type {Argv} from "yargs";
import {modelChatTemplate} from "../prompt.js";
import {Model, type GpuChoice} from "../engine/index.js";
import {resolveModelSource} from "../model-source.js";
import {createProgress, progressModes, type ProgressMode, type ProgressReporter} from "../progress.js";

export interface ModelArgs {
    model: string;
    gpu: string;
    gpuLayers?: number;
    threads?: number;
    chatTemplate?: string;
}

export interface CommonArgs {
    seed: number;
    progress: ProgressMode;
}

export function withModelOptions<T>(y: Argv<T>) {
    return y
        .option("model", {alias: "m", type: "string", demandOption: true, describe: "GGUF model: local path, hf:<user>/<repo>:<quant> or URL (downloaded once, cached)"})
        .option("gpu", {type: "string", default: "auto", choices: ["auto", "cuda", "vulkan", "metal", "cpu"], describe: "llama.cpp backend"})
        .option("gpu-layers", {type: "number", describe: "blocks to offload to the GPU (default: all)"})
        .option("threads", {type: "number", describe: "CPU threads (default: llama.cpp's choice)"})
        .option("chat-template", {type: "string", describe: "chat template FILE (Jinja) or builtin NAME (chatml, llama3, mistral, gemma, phi3, plain); default: the model's own"});
}

export function withCommonOptions<T>(y: Argv<T>) {
    return y
        .option("seed", {type: "number", default: 0, describe: "run seed; every random choice derives from it"})
        .option("progress", {type: "string", default: "auto", choices: progressModes as ProgressMode[], describe: "progress output: live bar, plain lines, JSON lines, or none"});
}

export function gpuChoice(value: string): GpuChoice {
    return value === "cpu" ? false : (value as GpuChoice);
}

export async function openModel(args: ModelArgs, progress?: ProgressReporter): Promise<Model> {
    const file = await resolveModelSource(args.model, {progress: true});
    progress?.log(`loading ${file}`);
    return Model.load(file, {gpu: gpuChoice(args.gpu), gpuLayers: args.gpuLayers});
}

/** The model's chat template, or the --chat-template override (see prompt.ts). */
export const chatTemplateFor = modelChatTemplate;

export function reporter(args: {progress: ProgressMode}): ProgressReporter {
    return createProgress(args.progress);
}

/** Parses a finite number flag with a message naming the flag. */
export function finiteNumber(value: unknown, flag: string): number {
    const n = typeof value === "number" ? value : Number(value);
    if (typeof value === "boolean" || value === "" || value === undefined || !Number.isFinite(n))
        throw new Error(`${flag} must be a number, got ${JSON.stringify(value)}`);
    return n;
}

/** Parses a positive whole-number flag with a message naming the flag. */
export function positiveInteger(value: unknown, flag: string): number {
    const n = finiteNumber(value, flag);
    if (!Number.isSafeInteger(n) || n < 1)
        throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
}

/**
 * SIGINT/SIGTERM abort the returned signal once (stages then finish the running step and save);
 * `dispose` removes the handlers again.
 */
export function interruptSignal(onInterrupt?: (signal: NodeJS.Signals) => void): {signal: AbortSignal; dispose(): void} {
    const controller = new AbortController();
    const handler = (signal: NodeJS.Signals) => {
        if (controller.signal.aborted)
            return;
        onInterrupt?.(signal);
        controller.abort();
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return {
        signal: controller.signal,
        dispose() {
            process.off("SIGINT", handler);
            process.off("SIGTERM", handler);
        }
    };
}
