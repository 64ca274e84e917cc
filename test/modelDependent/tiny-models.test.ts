// The tiny random-weight models load and run in node-llama-cpp (its prebuilt llama.cpp, CPU,
// threads: 1), tokenize with their real vocabularies and render their real chat templates.
import {afterAll, beforeAll, describe, expect, test} from "vitest";
import {Template} from "@huggingface/jinja";
import {getLlama, type Llama, type LlamaModel} from "node-llama-cpp";
import {readGguf, readTensorF32, metaString} from "../../src/gguf.js";
import {tinyModel, tinyModelSpecs, type TinyModelKind} from "../helpers/tiny-models.js";

let llama: Llama;
beforeAll(async () => {
    llama = await getLlama({gpu: false, build: "never", logLevel: "error" as never, maxThreads: 1});
});
afterAll(async () => {
    await llama?.dispose();
});

interface Expectations {
    readonly arch: string;
    readonly nVocab: number;
    readonly nTensors: number;
    /** special token that must come out as one token, and its id */
    readonly special: readonly [string, number];
    readonly messagesRendered: RegExp;
    readonly eos: number;
    readonly eogExtra: number;
}

const expectations: Record<TinyModelKind, Expectations> = {
    qwen2: {
        arch: "qwen2", nVocab: 151936, nTensors: 3 + 6 * 12, special: ["<|im_start|>", 151644],
        messagesRendered: /^<\|im_start\|>system\n.*<\|im_end\|>\n<\|im_start\|>user\nHi there<\|im_end\|>\n<\|im_start\|>assistant\n$/s,
        eos: 151643, eogExtra: 151645 // <|im_end|>
    },
    llama3: {
        arch: "llama", nVocab: 128256, nTensors: 3 + 6 * 9, special: ["<|start_header_id|>", 128006],
        messagesRendered: /^<\|begin_of_text\|><\|start_header_id\|>system<\|end_header_id\|>\n\n.*<\|eot_id\|><\|start_header_id\|>user<\|end_header_id\|>\n\nHi there<\|eot_id\|><\|start_header_id\|>assistant<\|end_header_id\|>\n\n$/s,
        eos: 128009, eogExtra: 128001 // <|end_of_text|>
    }
};

for (const kind of ["qwen2", "llama3"] as const)
    describe(`tiny ${kind} model`, () => {
        const want = expectations[kind];
        const spec = tinyModelSpecs[kind];
        let file: string;
        let model: LlamaModel;
        beforeAll(async () => {
            file = await tinyModel(kind);
            model = await llama.loadModel({modelPath: file, gpuLayers: 0});
        });
        afterAll(async () => {
            await model?.dispose();
        });

        test("the file has the architecture, sizes and tensors llama.cpp expects", async () => {
            const g = await readGguf(file);
            expect(metaString(g, "general.architecture")).toBe(want.arch);
            expect(g.tensors).toHaveLength(want.nTensors);
            const t = new Map(g.tensors.map(x => [x.name, x]));
            expect(t.get("token_embd.weight")).toMatchObject({typeName: "F16", shape: [64, want.nVocab]});
            expect(t.get("output.weight")).toMatchObject({typeName: "F16", shape: [64, want.nVocab]});
            expect(t.get("blk.5.attn_k.weight")).toMatchObject({typeName: "F32", shape: [64, 32]});
            expect(t.get("blk.5.ffn_down.weight")).toMatchObject({typeName: "F32", shape: [128, 64]});
            expect(t.has("blk.0.attn_q.bias")).toBe(spec.qkvBias);
            expect(Array.from(await readTensorF32(file, t.get("blk.2.ffn_norm.weight")!))).toEqual(new Array(64).fill(1));
            // building again is a cache hit on the same file
            expect(await tinyModel(kind)).toBe(file);
        });

        test("node-llama-cpp loads it with the expected shape", () => {
            expect(model.fileInfo.metadata.general.architecture).toBe(want.arch);
            expect(model.trainContextSize).toBe(512);
            expect(model.fileInsights.totalLayers).toBe(spec.nLayer + 1);
            expect(model.tokens.eos).toBe(want.eos);
            expect(model.isEogToken(want.eos as never)).toBe(true);
            expect(model.isEogToken(want.eogExtra as never)).toBe(true);
        });

        test("the real chat template renders and its special tokens are single tokens", () => {
            const template = model.fileInfo.metadata.tokenizer.chat_template;
            expect(typeof template).toBe("string");
            const rendered = new Template(template as string).render({
                messages: [{role: "system", content: "You are helpful."}, {role: "user", content: "Hi there"}],
                add_generation_prompt: true,
                bos_token: model.detokenize([model.tokens.bos!], true),
                eos_token: model.detokenize([model.tokens.eos!], true)
            });
            expect(rendered).toMatch(want.messagesRendered);
            const [special, id] = want.special;
            expect(model.tokenize(special, true)).toEqual([id]);
            const tokens = model.tokenize(rendered, true);
            expect(tokens.filter(x => x === id).length).toBe(rendered.split(special).length - 1);
            expect(model.detokenize(tokens, true)).toBe(rendered);
            // without special-token parsing the same text is many ordinary tokens
            expect(model.tokenize(special, false).length).toBeGreaterThan(1);
            // ordinary text uses the real BPE merges
            expect(model.tokenize(" hello world", false)).toHaveLength(2);
        });

        test("generates tokens greedily, deterministically, with threads: 1", async () => {
            const prompt = model.tokenize(kind === "qwen2"
                ? "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
                : "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", true);
            const run = async () => {
                const context = await model.createContext({contextSize: 256, threads: 1});
                try {
                    const out: number[] = [];
                    for await (const token of context.getSequence().evaluate(prompt, {temperature: 0})) {
                        out.push(token);
                        if (out.length === 8)
                            break;
                    }
                    return out;
                } finally {
                    await context.dispose();
                }
            };
            const a = await run();
            expect(a).toHaveLength(8);
            expect(a.every(t => t >= 0 && t < want.nVocab)).toBe(true);
            expect(await run()).toEqual(a);
            expect(new Set(a).size).toBeGreaterThan(1); // random weights still give varied tokens
        });
    });
