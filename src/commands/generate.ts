import type {CommandModule} from "yargs";
import {turnMarkers, type ChatTemplate} from "../chat.js";
import {checkFitsModel, readControlVector, type DirectionSet} from "../control-vector.js";
import {defaults} from "../defaults.js";
import type {GenerationResult, Model, Steering} from "../engine/index.js";
import {defaultLayerRange} from "../layers.js";
import {steeringVectors} from "../pairs.js";
import {tokenizePrompt, userTurnPrompt} from "../prompt.js";
import {checkLayerRange, formatLayerRange, parseLayerRange} from "../recommend.js";
import {chatTemplateFor, finiteNumber, openModel, positiveInteger, reporter, withModelOptions, type ModelArgs} from "./common.js";

export interface GenerateOnceOptions {
    prompt: string;
    /** render `prompt` as one user turn with this template (plus the generation prompt); raw text otherwise */
    chat?: ChatTemplate;
    /** the control vector to steer with, and where it came from (for messages) */
    vector?: {set: DirectionSet; file: string};
    /** strength: adds gamma · direction.il (= γ·s^l·u^l) to block il's output. Defaults to `defaults.pairs.gammaChosen`. */
    gamma?: number;
    /** controlled blocks, inclusive, within [1, nLayer − 1]. Defaults to `defaultLayerRange(nLayer)`, as `icon2 pairs` uses. */
    layers?: [number, number];
    /** also steer the prompt tokens, as llama.cpp's `--control-vector-scaled` does. Defaults to `false`. */
    steerPrompt?: boolean;
    /** Defaults to 128. */
    maxTokens?: number;
    /** 0 = greedy. Defaults to 0. */
    temperature?: number;
    /** Defaults to 1 (off). */
    topP?: number;
    /** sampler seed. Defaults to 0. */
    seed?: number;
    threads?: number;
}

export const generateDefaults = {maxTokens: 128, temperature: 0, topP: 1, seed: 0} as const;

/**
 * One generation, for a person to look at a vector's effect. Without `chat` the prompt is tokenized
 * the way llama-completion does it (the vocabulary's BOS, special tokens parsed), so with
 * `steerPrompt` and greedy sampling the text equals
 * `llama-completion -p PROMPT --temp 0 --control-vector-scaled FILE:G --control-vector-layer-range A B`.
 */
export async function generateOnce(model: Model, options: GenerateOnceOptions): Promise<GenerationResult & {layers: [number, number] | null}> {
    const {nLayer} = model.info;
    let steering: Steering | undefined;
    let layers: [number, number] | null = null;
    if (options.vector !== undefined) {
        checkFitsModel(options.vector.set, model.info, options.vector.file);
        layers = options.layers ?? defaultLayerRange(nLayer);
        checkLayerRange(layers, nLayer);
        if (layers[0] < 1)
            throw new RangeError(`layer range ${formatLayerRange(layers)} includes block 0, which llama.cpp's control vectors cannot steer; use blocks within [1, ${nLayer - 1}]`);
        const gamma = options.gamma ?? defaults.pairs.gammaChosen;
        if (!Number.isFinite(gamma))
            throw new RangeError(`gamma must be a finite number, got ${gamma}`);
        steering = {vectors: steeringVectors(options.vector.set, layers), gamma, steerPrompt: options.steerPrompt ?? false};
    }
    let prompt: Int32Array;
    let stopStrings: string[] = [];
    if (options.chat !== undefined) {
        prompt = tokenizePrompt(model, options.chat, userTurnPrompt(options.chat, options.prompt));
        stopStrings = turnMarkers(options.chat);
    } else {
        if (options.prompt === "")
            throw new Error("--prompt is empty; give some text to continue");
        prompt = model.tokenize(options.prompt, {addBos: true, special: true});
    }
    const maxTokens = options.maxTokens ?? generateDefaults.maxTokens;
    const engine = await model.createEngine({sequences: 1, contextSize: prompt.length + maxTokens, ...(options.threads !== undefined ? {threads: options.threads} : {})});
    try {
        const [result] = await engine.generate([{
            prompt, steering,
            sampling: {
                temperature: options.temperature ?? generateDefaults.temperature, topP: options.topP ?? generateDefaults.topP,
                seed: options.seed ?? generateDefaults.seed, maxTokens, stopStrings
            }
        }]);
        return {...result, layers};
    } finally {
        await engine.dispose();
    }
}

interface GenerateArgs extends ModelArgs {
    prompt: string;
    vector?: string;
    gamma?: string;
    layers?: string;
    steerPrompt: boolean;
    chat: boolean;
    maxTokens: string;
    temperature: string;
    topP: string;
    seed: string;
}

export const generateCommand: CommandModule = {
    command: "generate",
    describe: "One (steered) generation printed to stdout: the way to try a vector. Greedy by default",
    builder: (y) => withModelOptions(y)
        .option("prompt", {alias: "p", type: "string", demandOption: true, describe: "text to continue, or with --chat the user message"})
        .option("chat", {type: "boolean", default: false, describe: "render the prompt as a user turn with the chat template"})
        .option("vector", {type: "string", describe: "control vector GGUF (icon2's <criterion>.gguf or llama.cpp's)"})
        .option("gamma", {type: "string", describe: `strength relative to the hidden-state norm; llama.cpp's --control-vector-scaled FILE:G (default ${defaults.pairs.gammaChosen})`})
        .option("layers", {type: "string", describe: "steered blocks A-B, inclusive, like --control-vector-layer-range A B (default: the middle third, as icon2 pairs)"})
        .option("steer-prompt", {type: "boolean", default: false, describe: "also steer the prompt tokens, as llama-completion does"})
        .option("max-tokens", {alias: "n", type: "string", default: String(generateDefaults.maxTokens), describe: "most tokens to generate"})
        .option("temperature", {type: "string", default: String(generateDefaults.temperature), describe: "0 = greedy"})
        .option("top-p", {type: "string", default: String(generateDefaults.topP), describe: "nucleus sampling threshold (1 = off)"})
        .option("seed", {type: "string", default: String(generateDefaults.seed), describe: "sampler seed (when temperature > 0)"}),
    handler: async (argv) => {
        const args = argv as unknown as GenerateArgs;
        if (args.vector === undefined && (args.gamma !== undefined || args.layers !== undefined))
            throw new Error("--gamma and --layers steer a vector: pass --vector FILE too");
        const gamma = args.gamma === undefined ? undefined : finiteNumber(args.gamma, "--gamma");
        const layers = args.layers === undefined ? undefined : parseLayerRange(args.layers);
        const maxTokens = positiveInteger(args.maxTokens, "--max-tokens");
        const temperature = finiteNumber(args.temperature, "--temperature");
        const topP = finiteNumber(args.topP, "--top-p");
        const seed = finiteNumber(args.seed, "--seed");
        const vector = args.vector === undefined ? undefined : {set: await readControlVector(args.vector), file: args.vector};

        // Progress goes to stderr only when asked; stdout carries the text alone.
        const model = await openModel(args, reporter({progress: "none"}));
        try {
            const chat = args.chat ? chatTemplateFor(model, args.chatTemplate) : undefined;
            const result = await generateOnce(model, {
                prompt: args.prompt, chat, vector, gamma, layers, steerPrompt: args.steerPrompt,
                maxTokens, temperature, topP, seed, threads: args.threads
            });
            if (result.layers !== null)
                process.stderr.write(`steered blocks ${formatLayerRange(result.layers)} with γ ${gamma ?? defaults.pairs.gammaChosen}${args.steerPrompt ? ", prompt included" : ""}\n`);
            process.stdout.write(result.text + "\n");
        } finally {
            await model.dispose();
        }
    }
};
