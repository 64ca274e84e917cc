export {Model, ModelLoadError, type ModelInfo, type LoadModelOptions} from "./model.js";
export {Engine, AbortError, engineDefaults, samplingDefaults, sameTokens} from "./engine.js";
export type {EngineOptions, Steering, SamplingOptions, GenerationRequest, GenerationResult, GenerationProgress, GenerateOptions,
    EvaluateItem, EvaluateOptions, Evaluation, FinishReason, LayerIndex} from "./engine.js";
export {loadBinding, type GpuChoice} from "./binding.js";
