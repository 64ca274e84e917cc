// Controlled-layer conventions (see README "Layers"): 0-based block indices, inclusive ranges.
import type {LayerIndex} from "./engine/index.js";

/**
 * The paper's [10, 20] for 28–32-block models, i.e. the middle third of the blocks for other
 * depths (Qwen2.5-3B/36 blocks used 12–24, 14B/48 blocks 16–32). Never block 0, which llama.cpp's
 * control-vector loader cannot steer.
 */
export function defaultLayerRange(nLayer: number): [LayerIndex, LayerIndex] {
    if (nLayer >= 28 && nLayer <= 32)
        return [10, 20];
    if (nLayer < 3)
        return [Math.min(1, nLayer - 1), nLayer - 1];
    const first = Math.max(1, Math.round(nLayer / 3));
    const last = Math.max(first, Math.round((2 * nLayer) / 3));
    return [first, Math.min(last, nLayer - 1)];
}

export function layersInRange([first, last]: readonly [LayerIndex, LayerIndex]): LayerIndex[] {
    return Array.from({length: last - first + 1}, (_, k) => first + k);
}
