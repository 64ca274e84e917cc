// Capture hidden states and generate with per-sequence steering (run `npm run build:ts` first).
import {Model} from "../dist/engine/index.js";

const model = await Model.load("../shared/models/stories260K.gguf");
const engine = await model.createEngine({sequences: 4, contextSize: 1024, threads: 1});

// capture: last-token output of blocks 1 and 3 for two prompts, decoded in one batch
const prompts = ["Once upon a time", "The dog was sad"].map((t) => model.tokenize(t));
const [[happy1, happy3], [sad1]] = await engine.capture(prompts, [1, 3]);
console.log("n_embd", happy1.length, "‖h3‖", Math.hypot(...happy3).toFixed(3));

// a direction: block-wise difference of the two prompts' states (a toy contrast)
const [a, b] = await engine.capture(prompts, [1, 2, 3]);
const vectors = new Map([1, 2, 3].map((il, k) => [il, a[k].map((x, i) => x - b[k][i])]));

// steered generation: +γ and −γ on the same prompt, in the same batch, sharing the prompt prefill
const prompt = model.tokenize("Once upon a time");
const results = await engine.generate([0, 0.25, -0.25].map((gamma) => ({prompt, steering: {vectors, gamma}, sampling: {maxTokens: 24}})));
for (const [k, gamma] of [0, 0.25, -0.25].entries())
    console.log(`γ=${gamma}:`, JSON.stringify(results[k].text));
await model.dispose();
