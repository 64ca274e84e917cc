// The pairwise self-judge: order symmetry by construction, determinism, batched = single, and
// whether a model prefers a good response over a broken one.
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {builtinChatTemplate, loadChatTemplate, type ChatTemplate} from "../../src/chat.js";
import {Model} from "../../src/engine/index.js";
import {findVerdictTokens, SelfJudge, type Comparison} from "../../src/judge.js";
import {seededShuffle} from "../../src/seed.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";

const haveModel = fixtureExists(stories260K);

const starts = ["Once upon a time", "One day", "Tom and Sue", "The little dog", "Lily wanted", "There was a big tree",
    "Ben had a red ball", "Mom said", "The sun was", "A cat named Tim", "In the park", "Sara liked", "The bird",
    "Max was sad", "It was a rainy day", "Anna found a box", "The boy ran", "A little fish", "Grandpa told", "The car was"];

/**
 * 20 comparisons of a good story (the model's own continuation) against a broken one: for even k the
 * same story's tokens shuffled, for odd k a degenerate repetition ("the the the …") of the same
 * word count. Half of them show the good story second, so a judge that always says "first" scores 50%.
 */
async function goodVsBroken(model: Model): Promise<{items: Comparison[]; goodIsFirst: boolean[]}> {
    const engine = await model.createEngine({sequences: 8, contextSize: 2048, threads: 1});
    try {
        const stories = await engine.generate(starts.map((s, k) => ({prompt: model.tokenize(s), sampling: {maxTokens: 40, temperature: 0.8, seed: k}})));
        const items: Comparison[] = [];
        const goodIsFirst: boolean[] = [];
        stories.forEach((g, k) => {
            const good = starts[k] + g.text;
            const broken = k % 2 === 0
                ? model.detokenize(seededShuffle(Array.from(model.tokenize(good, {addBos: false})), k))
                : Array(good.split(/\s+/).length).fill("the").join(" ");
            const first = k % 4 < 2;
            items.push({instruction: "Write a short story.", first: first ? good : broken, second: first ? broken : good});
            goodIsFirst.push(first);
        });
        return {items, goodIsFirst};
    } finally {
        await engine.dispose();
    }
}

function goodWins(p: readonly number[], goodIsFirst: readonly boolean[]): number {
    return p.filter((x, k) => (goodIsFirst[k] ? x > 0.5 : x < 0.5)).length;
}

describe.skipIf(!haveModel)("self-judge on stories260K", () => {
    let model: Model;
    let template: ChatTemplate;
    let judge: SelfJudge;
    const items: Comparison[] = [
        {instruction: "Write a story.", first: "Once upon a time, there was a little girl named Lily.", second: "the the the the the the"},
        {instruction: "Tell me about a dog.", first: "ball ran the Tom big", second: "The dog was happy and played in the sun."},
        {instruction: "What is the sun?", first: "The sun is big and hot.", second: "The sun is hot."},
        {instruction: "Say hi.", first: "Hi!", second: "Hello there, friend."}
    ];

    beforeAll(async () => {
        model = await Model.load(stories260K);
        template = builtinChatTemplate("plain", {bosToken: model.tokenText(model.info.bos!), eosToken: model.tokenText(model.info.eos!)});
        judge = await SelfJudge.create(model, template, {sequences: 4, threads: 1});
    });
    afterAll(async () => {
        await judge?.dispose();
        await model?.dispose();
    });

    it("finds single-token answers in context (stories260K has no single ' A' token, so digits)", () => {
        const v = findVerdictTokens(model, template);
        expect(v.labels).toEqual(["1", "2"]);
        expect(v.texts).toEqual(["1", "2"]);
        expect(v.prefill).toBe("The better response is ");
        expect(v.tokens.map((t) => model.tokenText(t))).toEqual(["1", "2"]);
        // the prompt ends right before the verdict
        const prompt = judge.promptTokens("Say hi.", "Hi!", "Hello.");
        expect(model.detokenize(prompt)).toMatch(/Which response is better\? Answer with 1 or 2\.\nAssistant: The better response is ?$/);
    });

    it("is order-symmetric: judge(a, b) = 1 − judge(b, a) exactly, each in (0, 1)", async () => {
        const forward = await judge.compare(items);
        const backward = await judge.compare(items.map((c) => ({...c, first: c.second, second: c.first})));
        forward.forEach((p, k) => {
            expect(p).toBeGreaterThan(0);
            expect(p).toBeLessThan(1);
            expect(Math.abs(p - (1 - backward[k]))).toBeLessThanOrEqual(1e-12);
        });
        // identical responses: exactly a tie
        expect(await judge.compare([{instruction: "x", first: "same", second: "same"}])).toEqual([0.5]);
    });

    it("is deterministic, and batched equals one at a time", async () => {
        const batched = await judge.compare(items);
        expect(await judge.compare(items)).toEqual(batched);
        for (let k = 0; k < items.length; k++) {
            const [single] = await judge.compare([items[k]]);
            expect(Math.abs(single - batched[k])).toBeLessThanOrEqual(1e-6);
        }
        // a fresh judge with another batch width agrees too
        const narrow = await SelfJudge.create(model, template, {sequences: 1, threads: 1});
        try {
            const again = await narrow.compare(items);
            again.forEach((p, k) => expect(Math.abs(p - batched[k])).toBeLessThanOrEqual(1e-6));
        } finally {
            await narrow.dispose();
        }
    });

    it("reports progress and stops on an aborted signal", async () => {
        const seen: number[] = [];
        await judge.compare(items, {onProgress: (done) => seen.push(done)});
        expect(seen.at(-1)).toBe(items.length * 2);
        const controller = new AbortController();
        controller.abort();
        await expect(judge.compare(items, {signal: controller.signal})).rejects.toThrow(/cancelled/);
    });

    // KNOWN LIMITATION, measured: a 260K-parameter TinyStories model cannot judge. With this prompt
    // the good story wins 12 of these 20 (shuffled: 10/20, mean P 0.4997; "the the …": 14/20, mean
    // 0.5018 over 20 each), and every |P − 0.5| is below 0.008; other wordings tried ("Story 1: … The
    // better story is", "1. … 2. … The good one is number", a bare prompt without the chat template)
    // gave 6–15 of 20. So the ≥ 70% assertion fails here, and `it.fails` keeps it live: if this ever
    // passes, the judge changed and this should become a plain `it`. The same check runs as a plain
    // test on a capable model through ICON2_JUDGE_MODEL (below).
    it.fails("prefers a good story over a broken one in ≥ 70% of 20 comparisons (fails: the model is too small)", async () => {
        const {items: cases, goodIsFirst} = await goodVsBroken(model);
        const p = await judge.compare(cases);
        expect(goodWins(p, goodIsFirst)).toBeGreaterThanOrEqual(14);
    });
});

// A capable judge (e.g. any ≥ 0.5B instruct GGUF): ICON2_JUDGE_MODEL=path [ICON2_JUDGE_TEMPLATE=file|name].
// The broken stories come from stories260K; the judge reads them with its own chat template.
const judgeModelPath = process.env.ICON2_JUDGE_MODEL;
describe.skipIf(!haveModel || judgeModelPath === undefined)("self-judge on ICON2_JUDGE_MODEL", () => {
    it("prefers a good story over a broken one in ≥ 70% of 20, and an inverted judge would fail that", async () => {
        const stories = await Model.load(stories260K);
        const judgeModel = await Model.load(judgeModelPath!, {gpu: "auto"});
        try {
            const {items: cases, goodIsFirst} = await goodVsBroken(stories);
            const {bos, eos, chatTemplate} = judgeModel.info;
            const tokens = {bosToken: bos === null ? "" : judgeModel.tokenText(bos), eosToken: eos === null ? "" : judgeModel.tokenText(eos)};
            const template: ChatTemplate = process.env.ICON2_JUDGE_TEMPLATE !== undefined
                ? loadChatTemplate(process.env.ICON2_JUDGE_TEMPLATE, tokens)
                : {source: chatTemplate ?? "", origin: "GGUF", ...tokens};
            const judge = await SelfJudge.create(judgeModel, template, {threads: 1});
            try {
                const p = await judge.compare(cases);
                expect(goodWins(p, goodIsFirst)).toBeGreaterThanOrEqual(14);
                expect(goodWins(p.map((x) => 1 - x), goodIsFirst)).toBeLessThan(14);
            } finally {
                await judge.dispose();
            }
        } finally {
            await judgeModel.dispose();
            await stories.dispose();
        }
    });
});
