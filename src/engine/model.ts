import fs from "node:fs";
import path from "node:path";
import type {AddonBinding, AddonModel, AddonModelInfo} from "./addon-types.js";
import {loadBinding, type GpuChoice} from "./binding.js";
import {Engine, type EngineOptions} from "./engine.js";

/** Facts about a loaded model, read from its GGUF. */
export interface ModelInfo extends AddonModelInfo {
    /** absolute path of the GGUF file */
    path: string;
    /** which llama.cpp build runs it, e.g. "linux-x64" or "linux-x64-cuda" */
    backend: string;
}

export interface LoadModelOptions {
    /** Backend: "auto" picks CUDA/Metal/Vulkan when present, else CPU. Defaults to `false` (CPU). */
    gpu?: GpuChoice;
    /** Blocks to offload to the GPU; "max" = all. Defaults to "max" with a GPU backend, 0 on CPU. */
    gpuLayers?: number | "max";
    /** Memory-map the file. Defaults to `true`. */
    useMmap?: boolean;
}

export class ModelLoadError extends Error {
    constructor(readonly file: string, reason: string) {
        super(`cannot load model ${file}: ${reason}`);
        this.name = "ModelLoadError";
    }
}

/** Checks what can be checked before llama.cpp sees the file, so the common mistakes get plain messages. */
function checkModelFile(file: string): void {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(file);
    } catch {
        throw new ModelLoadError(file, "file not found");
    }
    if (stat.isDirectory())
        throw new ModelLoadError(file, "it is a directory, not a GGUF file");
    const header = Buffer.alloc(4);
    let fd: number | undefined;
    try {
        fd = fs.openSync(file, "r");
        fs.readSync(fd, header, 0, 4, 0);
    } catch (err) {
        throw new ModelLoadError(file, `cannot read it (${(err as Error).message})`);
    } finally {
        if (fd !== undefined)
            fs.closeSync(fd);
    }
    if (header.toString("latin1") !== "GGUF")
        throw new ModelLoadError(file, "not a GGUF file (the first bytes are not \"GGUF\")");
}

/** A loaded GGUF model. Dispose it (or use `await using`) to free its memory. */
export class Model {
    readonly info: ModelInfo;
    private disposed = false;
    private readonly engines = new Set<Engine>();

    private constructor(readonly binding: AddonBinding, private readonly native: AddonModel, info: ModelInfo) {
        this.info = info;
    }

    static async load(file: string, options: LoadModelOptions = {}): Promise<Model> {
        const absolute = path.resolve(file);
        checkModelFile(absolute);
        const gpu = options.gpu ?? false;
        const {binding, build} = loadBinding(gpu);
        const gpuLayers = build.gpu === false ? 0 : options.gpuLayers === undefined || options.gpuLayers === "max" ? -1 : options.gpuLayers;
        const native = new binding.AddonModel(absolute, {gpuLayers, useMmap: options.useMmap ?? true});
        try {
            await native.load();
        } catch (err) {
            throw new ModelLoadError(absolute, (err as Error).message);
        }
        return new Model(binding, native, {...native.info(), path: absolute, backend: build.variant});
    }

    /**
     * Text → tokens. `addBos`: prepend BOS when the vocabulary asks for it (default true); pass false
     * when the text already starts with the BOS text. `special`: parse special-token texts such as
     * "<|im_start|>" into their tokens (default true: chat templates rely on it).
     */
    tokenize(text: string, options: {addBos?: boolean; special?: boolean} = {}): Int32Array {
        this.checkAlive();
        return this.native.tokenize(text, options.addBos ?? true, options.special ?? true);
    }

    /** Tokens → text; `special` renders special tokens as their text (default false). */
    detokenize(tokens: Int32Array | readonly number[], options: {special?: boolean} = {}): string {
        this.checkAlive();
        return this.native.detokenize(tokens instanceof Int32Array ? tokens : Int32Array.from(tokens), options.special ?? false);
    }

    /** The text of one token, special tokens included. */
    tokenText(token: number): string {
        this.checkAlive();
        return this.native.tokenPiece(token);
    }

    /** End of generation: EOS, EOT and the other end tokens the vocabulary declares. */
    isEndOfGeneration(token: number): boolean {
        this.checkAlive();
        return this.native.isEog(token);
    }

    /** A GGUF metadata value as a string, or null when absent. */
    metadata(key: string): string | null {
        this.checkAlive();
        return this.native.metaString(key);
    }

    async createEngine(options: EngineOptions = {}): Promise<Engine> {
        this.checkAlive();
        const engine = Engine.create(this, this.native, options, () => this.engines.delete(engine));
        this.engines.add(engine);
        return engine;
    }

    /** Frees the model and its engines. Idempotent. */
    async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        for (const engine of [...this.engines])
            await engine.dispose();
        this.native.dispose();
    }

    async [Symbol.asyncDispose](): Promise<void> {
        await this.dispose();
    }

    private checkAlive(): void {
        if (this.disposed)
            throw new Error("Model is disposed");
    }
}
