// icon2 generate on stories260K: with --steer-prompt it must equal llama.cpp's own control-vector path
// (llama_set_adapter_cvec, what llama-completion --control-vector-scaled FILE:G
// --control-vector-layer-range A B uses) under greedy sampling.
import fs from "node:fs";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {builtinChatTemplate} from "../../src/chat.js";
import {readControlVector, writeControlVector, type DirectionSet} from "../../src/control-vector.js";
import {generateOnce} from "../../src/commands/generate.js";
import {Model} from "../../src/engine/index.js";
import {runCli} from "../helpers/cli.js";
import {contrastDirections, happyOpenings, sadOpenings, tempDir} from "../helpers/contrast-directions.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";

const haveModel = fixtureExists(stories260K);

/** icon2's own stderr lines (llama.cpp's load-time log lines are left out). */
const icon2Lines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("icon2:"));

describe.skipIf(!haveModel)("generate on stories260K", () => {
    let model: Model;
    let dir: string;
    let file: string;
    let set: DirectionSet;

    beforeAll(async () => {
        model = await Model.load(stories260K);
        dir = tempDir("icon2-generate-");
        file = path.join(dir, "happy.gguf");
        await writeControlVector(file, await contrastDirections(model, "happy", happyOpenings, sadOpenings));
        set = await readControlVector(file);
    });
    afterAll(async () => {
        await model?.dispose();
        fs.rmSync(dir, {recursive: true, force: true});
    });

    /** llama-completion's path: data = G × direction.il for every il in the file, applied on [A, B], to all tokens. */
    async function nativeGreedy(prompt: string, gamma: number, range: [number, number] | null, maxTokens: number): Promise<string> {
        const {nLayer, nEmbd} = model.info;
        const engine = await model.createEngine({sequences: 1, contextSize: 512, threads: 1});
        try {
            if (range !== null) {
                const data = new Float32Array((nLayer - 1) * nEmbd);
                for (let il = 1; il < nLayer; il++) {
                    for (let k = 0; k < nEmbd; k++)
                        data[(il - 1) * nEmbd + k] = gamma * Math.fround(set.scales[il] * set.directions[il][k]);
                }
                await engine.setNativeControlVector(data, range[0], range[1]);
            }
            const [result] = await engine.generate([{prompt: model.tokenize(prompt), sampling: {maxTokens}}]);
            return result.text;
        } finally {
            await engine.dispose();
        }
    }

    const cases: {prompt: string; gamma: number; layers: [number, number]}[] = [
        {prompt: "Once upon a time", gamma: 0.3, layers: [1, 3]},
        {prompt: "Tom had a toy car.", gamma: -0.4, layers: [2, 4]},
        {prompt: "The sun was shining and", gamma: 0.5, layers: [3, 3]}
    ];

    it("--steer-prompt equals llama.cpp's control-vector path, greedy", async () => {
        for (const c of cases) {
            const ours = await generateOnce(model, {prompt: c.prompt, vector: {set, file}, gamma: c.gamma, layers: c.layers, steerPrompt: true, maxTokens: 48, threads: 1});
            const native = await nativeGreedy(c.prompt, c.gamma, c.layers, 48);
            expect(ours.text).toBe(native);
            expect(ours.layers).toEqual(c.layers);
            // and steering changed the text, so the comparison means something
            expect(native).not.toBe(await nativeGreedy(c.prompt, 0, null, 48));
        }
    });

    it("γ = 0 and no vector give the plain greedy continuation", async () => {
        const plain = await nativeGreedy("Once upon a time", 0, null, 16);
        expect(plain).toBe(", there was a little girl named Lily. She loved to play");
        expect((await generateOnce(model, {prompt: "Once upon a time", maxTokens: 16, threads: 1})).text).toBe(plain);
        expect((await generateOnce(model, {prompt: "Once upon a time", vector: {set, file}, gamma: 0, maxTokens: 16, threads: 1})).text).toBe(plain);
    });

    it("--chat renders the prompt as a user turn", async () => {
        const template = builtinChatTemplate("plain", {bosToken: "<s>", eosToken: "</s>"});
        const chat = await generateOnce(model, {prompt: "Tell me a story.", chat: template, maxTokens: 24, threads: 1});
        const raw = await nativeGreedy("User: Tell me a story.\nAssistant:", 0, null, 24);
        // the turn markers stop the chat generation where the raw one may run on
        expect(raw.startsWith(chat.text)).toBe(true);
        expect(chat.text.length).toBeGreaterThan(0);
    });

    it("the CLI prints the text (and nothing else) to stdout", async () => {
        const c = cases[1];
        const r = runCli(["generate", "--model", stories260K, "--threads", "1", "--gpu", "cpu", "--vector", file, "--gamma", String(c.gamma),
            "--layers", `${c.layers[0]}-${c.layers[1]}`, "--steer-prompt", "--prompt", c.prompt, "--max-tokens", "48"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(await nativeGreedy(c.prompt, c.gamma, c.layers, 48) + "\n");
        expect(r.stderr).toContain("steered blocks 2-4 with γ -0.4, prompt included");
    });

    it("the CLI rejects bad input with one line", async () => {
        const common = ["generate", "--model", stories260K, "--threads", "1", "--gpu", "cpu", "--prompt", "Hi"];
        for (const [args, message] of [
            [["--vector", file, "--gamma", "abc"], /--gamma must be a number, got "abc"/],
            [["--vector", file, "--layers", "2-7"], /layer range 2-7 is outside this model's blocks: the valid range is \[0, 4\]/],
            [["--gamma", "0.2"], /pass --vector FILE too/],
            [["--vector", path.join(dir, "missing.gguf")], /missing\.gguf/]
        ] as const) {
            const r = runCli([...common, ...args]);
            expect(r.code).not.toBe(0);
            const lines = icon2Lines(r.stderr);
            expect(lines).toHaveLength(1);
            expect(lines[0]).toMatch(message);
        }
    });
});
