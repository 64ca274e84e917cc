// Hand-written types of the native module (native/*.cpp). Internal: use Model and Engine.

export interface AddonModelInfo {
    architecture: string;
    name: string;
    description: string;
    nLayer: number;
    nEmbd: number;
    nCtxTrain: number;
    nVocab: number;
    sizeBytes: number;
    nParams: number;
    bos: number | null;
    eos: number | null;
    eot: number | null;
    addBos: boolean;
    addEos: boolean;
    chatTemplate: string | null;
}

export interface AddonModel {
    load(): Promise<void>;
    info(): AddonModelInfo;
    tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
    detokenize(tokens: Int32Array, special: boolean): string;
    tokenPiece(token: number): string;
    isEog(token: number): boolean;
    metaString(key: string): string | null;
    dispose(): void;
}

export interface AddonSamplerParams {
    temperature: number;
    topK: number;
    topP: number;
    minP: number;
    repeatPenalty: number;
    repeatLastN: number;
    seed: number;
}

export interface AddonDecodeResult {
    /** [n_outputs][captureLayers.length][n_embd] */
    captured: Float32Array | null;
    /** per output: sampled token, or -1 */
    sampled: Int32Array;
}

export interface AddonContext {
    /** flags per token: bit 0 output, bit 1 steer */
    decode(tokens: Int32Array, positions: Int32Array, seqIds: Int32Array, flags: Uint8Array,
        captureLayers: Int32Array | null, sampleSeqs: Int32Array | null): Promise<AddonDecodeResult>;
    getLogits(batchRow: number): Float32Array;
    /** log-softmax of each listed output row of the last decode, read at the paired token */
    tokenLogProbs(batchRows: Int32Array, tokens: Int32Array): Float64Array;
    setSteering(seqId: number, il: number, vector: Float32Array, scale: number): void;
    clearSteering(seqId: number): void;
    setSampler(seqId: number, params: AddonSamplerParams): void;
    samplerAccept(seqId: number, tokens: Int32Array): void;
    clearSampler(seqId: number): void;
    memorySeqRm(seqId: number, p0: number, p1: number): boolean;
    memorySeqCp(src: number, dst: number, p0: number, p1: number): void;
    memoryClear(): void;
    setAdapterCvec(data: Float32Array | null, ilStart: number, ilEnd: number): void;
    abort(flag: boolean): void;
    dispose(): void;
}

export interface AddonBinding {
    init(binsDir: string | undefined, logLevel: number): void;
    setLogLevel(level: number): void;
    devices(): {name: string; description: string; type: string; memoryTotal: number; memoryFree: number}[];
    systemInfo(): string;
    AddonModel: new (path: string, options: {gpuLayers?: number; useMmap?: boolean; vocabOnly?: boolean}) => AddonModel;
    AddonContext: new (model: AddonModel, options: {contextSize: number; batchSize: number; sequences: number; threads?: number; threadsBatch?: number}) => AddonContext;
}
