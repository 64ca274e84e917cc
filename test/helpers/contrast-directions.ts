// Direction sets built straight from captured hidden states (engine.capture + directionForLayer), so
// the pairs and generate tests do not depend on the directions stage's own driver.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {DirectionSet} from "../../src/control-vector.js";
import {directionForLayer} from "../../src/directions.js";
import type {Model} from "../../src/engine/index.js";

const names = ["Lily", "Tom", "Ben", "Sue", "Max", "Anna", "Tim", "Mia", "Sam", "Lucy"];
/** A clear contrast for a story model: the same opening, happy vs sad. */
export const happyOpenings = names.map((n) => `${n} was very happy. ${n} smiled and laughed and`);
export const sadOpenings = names.map((n) => `${n} was very sad. ${n} cried and cried and`);

/** Unit directions (PCA of the contrasts, sign: toward `positive`) and scales at every block of `model`. */
export async function contrastDirections(model: Model, criterion: string, positive: readonly string[], negative: readonly string[]): Promise<DirectionSet> {
    const {nLayer, nEmbd, architecture, name} = model.info;
    const layers = Array.from({length: nLayer}, (_, il) => il);
    const engine = await model.createEngine({sequences: 8, contextSize: 1024, threads: 1});
    try {
        const hp = await engine.capture(positive.map((t) => model.tokenize(t)), layers);
        const hn = await engine.capture(negative.map((t) => model.tokenize(t)), layers);
        const perLayer = layers.map((il) => directionForLayer(
            {positive: hp.map((h) => h[il]), negative: hn.map((h) => h[il])},
            {method: "pca", holdoutIndices: new Set()}));
        return {
            criterion, positive: positive[0], negative: negative[0], method: "pca",
            model: {name, architecture, nEmbd, nLayer},
            directions: perLayer.map((d) => d.direction),
            scales: Float32Array.from(perLayer.map((d) => d.scale)),
            accuracy: new Float32Array(nLayer).fill(NaN),
            stimuliCount: positive.length,
            icon2Version: "test"
        };
    } finally {
        await engine.dispose();
    }
}

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
