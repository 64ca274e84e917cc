// The native engine on stories260K, a real trained model (5 blocks, n_embd 64).
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Model, type Engine, type Steering} from "../../src/engine/index.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";
import {maxAbsDiff, randomVectors} from "../helpers/vectors.js";

const haveModel = fixtureExists(stories260K);

describe.skipIf(!haveModel)("engine on stories260K", () => {
    let model: Model;
    let engine: Engine;

    beforeAll(async () => {
        model = await Model.load(stories260K);
        engine = await model.createEngine({sequences: 8, contextSize: 1024, batchSize: 256, threads: 1});
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("reads the model facts", () => {
        expect(model.info).toMatchObject({architecture: "llama", nLayer: 5, nEmbd: 64, nVocab: 512, bos: 1, eos: 2, chatTemplate: null});
        expect(Array.from(model.tokenize("Once upon a time"))).toHaveLength(5);
        expect(model.detokenize(model.tokenize("Once upon a time", {addBos: false}))).toBe("Once upon a time");
    });

    it("greedy generation reproduces llama.cpp's greedy continuation", async () => {
        const [result] = await engine.generate([{prompt: model.tokenize("Once upon a time"), sampling: {maxTokens: 16}}]);
        expect(result.text).toBe(", there was a little girl named Lily. She loved to play");
        expect(result.finishReason).toBe("length");
    });

    it("the same seed gives the same sampled text, another seed another", async () => {
        const prompt = model.tokenize("Once upon a time");
        const sampling = {temperature: 0.8, maxTokens: 40, seed: 42};
        const [a] = await engine.generate([{prompt, sampling}]);
        const [b] = await engine.generate([{prompt, sampling}]);
        const [c] = await engine.generate([{prompt, sampling: {...sampling, seed: 43}}]);
        expect(a.text).toBe(b.text);
        expect(c.text).not.toBe(a.text);
    });

    it("steering through the eval callback equals llama.cpp's control vectors (llama_set_adapter_cvec)", async () => {
        const {nLayer, nEmbd} = model.info;
        const vectors = randomVectors(nLayer, nEmbd, 7, 2.0);
        const [first, last] = [1, 3];
        const prompt = model.tokenize("One day, a little dog went to the park and");
        const steering: Steering = {vectors: new Map([...vectors].filter(([il]) => il >= first && il <= last)), gamma: 0.75, steerPrompt: true};

        const [plain] = await engine.evaluate([{tokens: prompt}], {logits: true});
        const [ours] = await engine.evaluate([{tokens: prompt, steering}], {logits: true});

        const data = new Float32Array((nLayer - 1) * nEmbd);
        for (let il = first; il <= last; il++)
            data.set(vectors.get(il)!.map((x) => Math.fround(0.75 * x)), (il - 1) * nEmbd);
        await engine.setNativeControlVector(data, first, last);
        try {
            const [native] = await engine.evaluate([{tokens: prompt}], {logits: true});
            expect(maxAbsDiff(ours.logits!, native.logits!)).toBeLessThanOrEqual(1e-4);
            // the control differs: steering did something
            expect(maxAbsDiff(plain.logits!, native.logits!)).toBeGreaterThan(0.1);
        } finally {
            await engine.setNativeControlVector(null);
        }
    });

    it("a batch of sequences equals the same sequences one at a time", async () => {
        const {nLayer, nEmbd} = model.info;
        const vectors = randomVectors(nLayer, nEmbd, 11, 1.5);
        const mid = new Map([...vectors].filter(([il]) => il >= 1 && il <= 3));
        const prompts = ["Once upon a time", "The cat sat on the mat", "Lily and Ben went", "Once upon a time"].map((t) => model.tokenize(t));
        const steerings: (Steering | undefined)[] = [{vectors: mid, gamma: 1}, undefined, {vectors: mid, gamma: 0.5}, {vectors: mid, gamma: -1}];
        const requests = prompts.map((prompt, i) => ({prompt, steering: steerings[i], sampling: {maxTokens: 24}}));

        const batched = await engine.generate(requests);
        const single = [];
        for (const r of requests)
            single.push((await engine.generate([r]))[0]);
        expect(batched.map((r) => r.text)).toEqual(single.map((r) => r.text));
        // +γ and −γ on the same prompt really differ
        expect(batched[0].text).not.toBe(batched[3].text);

        const items = prompts.map((tokens, i) => ({tokens, steering: steerings[i] && {...steerings[i]!, steerPrompt: true}}));
        const layers = [0, 2, 4];
        const evalBatched = await engine.evaluate(items, {layers, logits: true});
        for (let i = 0; i < items.length; i++) {
            const [alone] = await engine.evaluate([items[i]], {layers, logits: true});
            expect(maxAbsDiff(evalBatched[i].logits!, alone.logits!)).toBeLessThanOrEqual(1e-4);
            for (let k = 0; k < layers.length; k++)
                expect(maxAbsDiff(evalBatched[i].hidden[k], alone.hidden[k])).toBeLessThanOrEqual(1e-5);
        }
    });

    it("shared prefill gives the same outputs as separate prefill", async () => {
        const {nLayer, nEmbd} = model.info;
        const vectors = new Map([...randomVectors(nLayer, nEmbd, 5, 2)].filter(([il]) => il >= 1 && il <= 3));
        const prompt = model.tokenize("Tom had a big red ball. He");
        const requests = [1, -1, 0.5, -0.5].map((gamma) => ({prompt, steering: {vectors, gamma}, sampling: {maxTokens: 20}}));
        const shared = await engine.generate(requests, {sharePrefill: true});
        const separate = await engine.generate(requests, {sharePrefill: false});
        expect(shared.map((r) => r.text)).toEqual(separate.map((r) => r.text));
        expect(new Set(shared.map((r) => r.text)).size).toBeGreaterThan(1);
    });

    it("continuous batching: more requests than sequences all finish, in input order", async () => {
        const prompts = Array.from({length: 20}, (_, i) => model.tokenize(`Once upon a time there was a ${["cat", "dog", "bird", "fish"][i % 4]}`));
        const requests = prompts.map((prompt, i) => ({prompt, sampling: {maxTokens: 5 + (i % 7), temperature: 0.7, seed: i}}));
        let last = {tokens: 0, done: 0, total: 0};
        const finished: number[] = [];
        const batched = await engine.generate(requests, {onProgress: (p) => (last = p), onResult: (i) => void finished.push(i)});
        expect(last.done).toBe(20);
        expect(finished.sort((a, b) => a - b)).toEqual(Array.from({length: 20}, (_, i) => i));
        for (const i of [0, 13, 19]) {
            const [alone] = await engine.generate([requests[i]]);
            expect(batched[i].text).toBe(alone.text);
            expect(batched[i].tokens.length).toBeLessThanOrEqual(5 + (i % 7));
        }
    });

    it("prefix reuse in capture gives the same hidden states", async () => {
        const prompts = ["Once upon a time there was a cat", "Once upon a time there was a big dog", "Once upon a time a bird"].map((t) => model.tokenize(t));
        const layers = [0, 1, 2, 3, 4];
        const reused = await engine.capture(prompts, layers, {reusePrefix: true});
        const fresh = await engine.capture(prompts, layers, {reusePrefix: false});
        for (let i = 0; i < prompts.length; i++) {
            for (let k = 0; k < layers.length; k++)
                expect(maxAbsDiff(reused[i][k], fresh[i][k])).toBeLessThanOrEqual(1e-5);
        }
    });

    it("scoreFrom: token log-probabilities equal log-softmax of llama.cpp's logits at each prefix, batched and with a shared prefix", async () => {
        const texts = ["Once upon a time there was a cat named Tom.", "Once upon a time there was a big dog. He ran", "Once upon a time a bird sang"];
        const items = texts.map((t) => ({tokens: model.tokenize(t), scoreFrom: 5}));
        // reference: each prefix decoded alone, its last-token logits read back, log-softmax in double here
        const expected = await Promise.all(items.map(async ({tokens, scoreFrom}) => {
            const out: number[] = [];
            for (let k = scoreFrom; k < tokens.length; k++) {
                const [e] = await engine.evaluate([{tokens: tokens.subarray(0, k)}], {logits: true});
                const logits = e.logits!;
                const max = Math.max(...logits);
                const logSum = Math.log(logits.reduce((acc, x) => acc + Math.exp(x - max), 0));
                out.push(logits[tokens[k]] - max - logSum);
            }
            return out;
        }));
        for (const reusePrefix of [true, false]) {
            const scored = await engine.evaluate(items, {reusePrefix, layers: [2, 4], logits: true});
            scored.forEach((e, i) => {
                expect(e.tokenLogProbs).toHaveLength(items[i].tokens.length - 5);
                expect(maxAbsDiff(e.tokenLogProbs!, expected[i])).toBeLessThanOrEqual(1e-4);
                for (const lp of e.tokenLogProbs!)
                    expect(lp).toBeLessThan(0);
            });
            // the last token's outputs are unchanged by the extra output rows
            const plain = await engine.evaluate(items.map(({tokens}) => ({tokens})), {reusePrefix, layers: [2, 4], logits: true});
            scored.forEach((e, i) => {
                expect(maxAbsDiff(e.logits!, plain[i].logits!)).toBeLessThanOrEqual(1e-4);
                // a middle block and the last one (whose l_out holds only the output rows)
                expect(maxAbsDiff(e.hidden[0], plain[i].hidden[0])).toBeLessThanOrEqual(1e-5);
                expect(maxAbsDiff(e.hidden[1], plain[i].hidden[1])).toBeLessThanOrEqual(1e-5);
                expect(plain[i].tokenLogProbs).toBeNull();
            });
        }
        // the model's own greedy continuation is likelier than the same tokens reversed
        const prompt = model.tokenize("Once upon a time");
        const [greedy] = await engine.generate([{prompt, sampling: {maxTokens: 16}}]);
        const [own, reversed] = await engine.evaluate([greedy.tokens, [...greedy.tokens].reverse()].map((t) =>
            ({tokens: Int32Array.from([...prompt, ...t]), scoreFrom: prompt.length})));
        const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
        expect(mean(own.tokenLogProbs!)).toBeGreaterThan(mean(reversed.tokenLogProbs!) + 1);
        await expect(engine.evaluate([{tokens: prompt, scoreFrom: 0}])).rejects.toThrow(/scoreFrom must be an integer in \[1, 5\], got 0/);
        await expect(engine.evaluate([{tokens: prompt, scoreFrom: 6}])).rejects.toThrow(/scoreFrom must be an integer in \[1, 5\], got 6/);
    });

    it("sharePrefixes: what groups of items share is decoded once, with the same outputs up to F16 KV rounding", async () => {
        const stem = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her";
        const texts = [`${stem} dog.`, "Once upon a time a bird sang.", `${stem} friends and her mom.`, `${stem} ball every day.`, "Once upon a time a cat slept."];
        const items = texts.map((t) => ({tokens: model.tokenize(t)}));
        const lengths = items.map((it) => it.tokens.length);
        const common = (a: Int32Array, b: Int32Array) => {
            let k = 0;
            while (k < a.length && k < b.length && a[k] === b[k])
                k++;
            return k;
        };
        const global = Math.min(...items.map((it) => common(it.tokens, items[0].tokens)));
        const stemShared = Math.min(common(items[0].tokens, items[2].tokens), common(items[0].tokens, items[3].tokens));
        const birdCat = common(items[1].tokens, items[4].tokens);
        expect(stemShared - global).toBeGreaterThanOrEqual(16);
        expect(birdCat - global).toBeLessThan(16);   // too little to group: the two decode alone

        const before = engine.decodedTokens;
        const plain = await engine.evaluate(items, {layers: [2, 4], logits: true});
        const plainTokens = engine.decodedTokens - before;
        expect(plainTokens).toBe(global + lengths.reduce((n, l) => n + l - global, 0));
        const mid = engine.decodedTokens;
        const shared = await engine.evaluate(items, {layers: [2, 4], logits: true, sharePrefixes: true});
        // the stem is decoded once on a holder; each of its three items decodes only its own ending
        expect(engine.decodedTokens - mid).toBe(global + (stemShared - global) +
            [0, 2, 3].reduce((n, i) => n + lengths[i] - stemShared, 0) + [1, 4].reduce((n, i) => n + lengths[i] - global, 0));
        // equal here to the bit; the bounds allow an F16 KV value rounding the other way after the
        // prefix was computed in another batch (logits moved by up to 9e-3 in such cases)
        shared.forEach((e, i) => {
            expect(maxAbsDiff(e.hidden[0], plain[i].hidden[0])).toBeLessThanOrEqual(1e-4);
            expect(maxAbsDiff(e.hidden[1], plain[i].hidden[1])).toBeLessThanOrEqual(1e-3);
            expect(maxAbsDiff(e.logits!, plain[i].logits!)).toBeLessThanOrEqual(2e-2);
        });
        // the same call twice gives the same bits
        const again = await engine.evaluate(items, {layers: [2, 4], logits: true, sharePrefixes: true});
        again.forEach((e, i) => expect(e.logits).toEqual(shared[i].logits));
    });

    it("sharePrefixes: a KV cache that holds few items at a time, scored items and steered ones", async () => {
        const small = await model.createEngine({sequences: 4, contextSize: 96, batchSize: 96, threads: 1});
        try {
            const stem = "One day, Tom and his mom went to the big park to play with the ball and";
            const endings = [" ran.", " the dog barked at them.", " they had fun.", " it was sunny.", " Tom fell down.", " they ate cake."];
            const items = [
                ...endings.map((e) => {
                    const tokens = model.tokenize(stem + e);
                    return {tokens, scoreFrom: tokens.length - 2};
                }),
                {tokens: model.tokenize(stem + " a cat came."), steering: {vectors: new Map([[2, new Float32Array(64).fill(0.1)]]), gamma: 1}}
            ];
            const t0 = small.decodedTokens;
            const plain = await small.evaluate(items, {logits: true});
            const t1 = small.decodedTokens;
            const shared = await small.evaluate(items, {logits: true, sharePrefixes: true});
            // no global prefix (one item is steered): the six unsteered items share the stem instead
            expect(t1 - t0).toBe(items.reduce((n, it) => n + it.tokens.length, 0));
            expect(small.decodedTokens - t1).toBeLessThan((t1 - t0) / 2);
            shared.forEach((e, i) => {
                expect(maxAbsDiff(e.logits!, plain[i].logits!)).toBeLessThanOrEqual(2e-2);
                if (i < endings.length)
                    expect(maxAbsDiff(e.tokenLogProbs!, plain[i].tokenLogProbs!)).toBeLessThanOrEqual(1e-3);
            });
        } finally {
            await small.dispose();
        }
    });

    it("cancels with an AbortSignal", async () => {
        const controller = new AbortController();
        const requests = Array.from({length: 4}, () => ({prompt: model.tokenize("Once upon a time"), sampling: {maxTokens: 200}}));
        const run = engine.generate(requests, {onProgress: (p) => p.tokens > 10 && controller.abort(), signal: controller.signal});
        await expect(run).rejects.toThrow(/cancelled/);
        // the engine is usable afterwards
        const [after] = await engine.generate([{prompt: model.tokenize("Once upon a time"), sampling: {maxTokens: 4}}]);
        expect(after.tokens.length).toBe(4);
    });

    it("rejects bad input with clear messages", async () => {
        const prompt = model.tokenize("Once upon a time");
        const {nLayer} = model.info;
        await expect(engine.generate([{prompt, steering: {vectors: new Map([[1, new Float32Array(10)]]), gamma: 1}}])).rejects.toThrow(/10 values; the model's n_embd is 64/);
        await expect(engine.generate([{prompt, steering: {vectors: new Map([[nLayer, new Float32Array(64)]]), gamma: 1}}])).rejects.toThrow(/layer 5 is outside \[0, 4\]/);
        await expect(engine.generate([{prompt, steering: {vectors: new Map([[1, new Float32Array(64)]]), gamma: NaN}}])).rejects.toThrow(/gamma must be a finite number/);
        await expect(engine.evaluate([{tokens: prompt}], {layers: [-1]})).rejects.toThrow(/layer -1 is outside/);
        await expect(engine.generate([{prompt: new Int32Array(2000).fill(5)}])).rejects.toThrow(/exceed the context size \(1024\)/);
        await expect(engine.evaluate([{tokens: new Int32Array(2000).fill(5)}])).rejects.toThrow(/the context holds 1024/);
        await expect(engine.generate([{prompt: Int32Array.from([99999])}])).rejects.toThrow(/outside the vocabulary/);
    });
});

describe("model loading errors", () => {
    it("missing file, not a GGUF, truncated GGUF, directory", async () => {
        const fs = await import("node:fs");
        const os = await import("node:os");
        const path = await import("node:path");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-bad-"));
        await expect(Model.load(path.join(dir, "nope.gguf"))).rejects.toThrow(/nope\.gguf: file not found/);
        fs.writeFileSync(path.join(dir, "text.gguf"), "hello world, not a model");
        await expect(Model.load(path.join(dir, "text.gguf"))).rejects.toThrow(/text\.gguf: not a GGUF file/);
        await expect(Model.load(dir)).rejects.toThrow(/is a directory/);
        if (haveModel) {
            const bytes = fs.readFileSync(stories260K);
            fs.writeFileSync(path.join(dir, "cut.gguf"), bytes.subarray(0, Math.floor(bytes.length / 2)));
            await expect(Model.load(path.join(dir, "cut.gguf"))).rejects.toThrow(/cut\.gguf: llama\.cpp could not load the model: .*(truncated|data is not within|failed to read|size)/i);
        }
    });
});
