// The engine's exactness contracts on a qwen2-architecture model (q/k/v biases, GQA, the real
// Qwen2 vocabulary of 151,936 tokens; random weights).
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Model, type Engine, type Steering} from "../../src/engine/index.js";
import {tinyModel} from "../helpers/tiny-models.js";
import {maxAbsDiff, randomVectors} from "../helpers/vectors.js";

describe("engine on the tiny qwen2 model", () => {
    let model: Model;
    let engine: Engine;

    beforeAll(async () => {
        model = await Model.load(await tinyModel("qwen2"));
        engine = await model.createEngine({sequences: 6, contextSize: 1024, batchSize: 256, threads: 1});
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("steering through the eval callback equals llama_set_adapter_cvec", async () => {
        const {nLayer, nEmbd} = model.info;
        expect(model.info.architecture).toBe("qwen2");
        const vectors = randomVectors(nLayer, nEmbd, 21, 1.0);
        const [first, last] = [2, 4];
        const prompt = model.tokenize("<|im_start|>user\nWrite a haiku about rain.<|im_end|>\n<|im_start|>assistant\n");
        const steering: Steering = {vectors: new Map([...vectors].filter(([il]) => il >= first && il <= last)), gamma: -1.25, steerPrompt: true};
        const [plain] = await engine.evaluate([{tokens: prompt}], {logits: true});
        const [ours] = await engine.evaluate([{tokens: prompt, steering}], {logits: true});
        const data = new Float32Array((nLayer - 1) * nEmbd);
        for (let il = first; il <= last; il++)
            data.set(vectors.get(il)!.map((x) => Math.fround(-1.25 * x)), (il - 1) * nEmbd);
        await engine.setNativeControlVector(data, first, last);
        try {
            const [native] = await engine.evaluate([{tokens: prompt}], {logits: true});
            expect(maxAbsDiff(ours.logits!, native.logits!)).toBeLessThanOrEqual(1e-4);
            expect(maxAbsDiff(plain.logits!, native.logits!)).toBeGreaterThan(0.01);
        } finally {
            await engine.setNativeControlVector(null);
        }
    });

    it("a batch of differently steered sequences equals single runs (hidden states, logits, greedy text)", async () => {
        const {nLayer, nEmbd} = model.info;
        const mid = new Map([...randomVectors(nLayer, nEmbd, 8, 1.0)].filter(([il]) => il >= 2 && il <= 4));
        const prompts = ["Hello there", "Why is the sky blue?", "List three fruits.", "Hello there", "Hello there"].map((t) => model.tokenize(t));
        const steerings: (Steering | undefined)[] = [{vectors: mid, gamma: 1}, undefined, {vectors: mid, gamma: 0.5}, {vectors: mid, gamma: -1}, undefined];
        const requests = prompts.map((prompt, i) => ({prompt, steering: steerings[i], sampling: {maxTokens: 12}}));
        const batched = await engine.generate(requests);
        for (let i = 0; i < requests.length; i++)
            expect(batched[i].text, `request ${i}`).toBe((await engine.generate([requests[i]]))[0].text);
        expect(batched[0].text).not.toBe(batched[3].text);

        const items = prompts.map((tokens, i) => ({tokens, steering: steerings[i] && {...steerings[i]!, steerPrompt: true}}));
        const layers = [0, 3, 5];
        const together = await engine.evaluate(items, {layers, logits: true});
        for (let i = 0; i < items.length; i++) {
            const [alone] = await engine.evaluate([items[i]], {layers, logits: true});
            expect(maxAbsDiff(together[i].logits!, alone.logits!)).toBeLessThanOrEqual(1e-4);
            for (let k = 0; k < layers.length; k++)
                expect(maxAbsDiff(together[i].hidden[k], alone.hidden[k])).toBeLessThanOrEqual(1e-5);
        }
    });
});
