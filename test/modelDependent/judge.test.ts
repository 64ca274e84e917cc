// The pairwise judges: order symmetry by construction, determinism, batched = single, and whether a
// model prefers a good response over a broken one.
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {builtinChatTemplate, loadChatTemplate, type ChatTemplate} from "../../src/chat.js";
import {Model} from "../../src/engine/index.js";
import {ComparisonJudge, createJudge, findVerdictTokens, judgeMethodFor, LikelihoodJudge, type Comparison, type Judge, type JudgeOptions} from "../../src/judge.js";
import {seededShuffle} from "../../src/seed.js";
import {contrastDirections, happyOpenings, sadOpenings} from "../helpers/contrast-directions.js";
import {fixtureExists, stories260K} from "../helpers/paths.js";

const haveModel = fixtureExists(stories260K);

const starts = ["Once upon a time", "One day", "Tom and Sue", "The little dog", "Lily wanted", "There was a big tree",
    "Ben had a red ball", "Mom said", "The sun was", "A cat named Tim", "In the park", "Sara liked", "The bird",
    "Max was sad", "It was a rainy day", "Anna found a box", "The boy ran", "A little fish", "Grandpa told", "The car was"];

/**
 * 20 comparisons of a good story (the model's own continuation) against a broken one of three kinds,
 * by k mod 4: 0 the same story's tokens shuffled, 1 a degenerate repetition ("the the the …") of the
 * same word count, 2 and 3 the same start sampled with the same seed but steered at a huge γ (5× the
 * block's typical norm along the model's own happy − sad direction, blocks 1–3), which collapses into
 * a token loop. Half of them show the good story second, so a judge that always says "first" scores 50%.
 */
async function goodVsBroken(model: Model): Promise<{items: Comparison[]; goodIsFirst: boolean[]}> {
    const direction = await contrastDirections(model, "happy", happyOpenings, sadOpenings);
    const vectors = new Map([1, 2, 3].map((il) => [il, direction.directions[il].map((x) => x * direction.scales[il])] as const));
    const engine = await model.createEngine({sequences: 8, contextSize: 2048, threads: 1});
    try {
        const request = (s: string, k: number, gamma: number) => ({
            prompt: model.tokenize(s), sampling: {maxTokens: 40, temperature: 0.8, seed: k}, steering: gamma === 0 ? undefined : {vectors, gamma}
        });
        const stories = await engine.generate(starts.map((s, k) => request(s, k, 0)));
        const steered = await engine.generate(starts.map((s, k) => request(s, k, 5)));
        const items: Comparison[] = [];
        const goodIsFirst: boolean[] = [];
        stories.forEach((g, k) => {
            const good = starts[k] + g.text;
            const broken = k % 4 === 0 ? model.detokenize(seededShuffle(Array.from(model.tokenize(good, {addBos: false})), k))
                : k % 4 === 1 ? Array(good.split(/\s+/).length).fill("the").join(" ")
                : starts[k] + steered[k].text;
            const first = k % 8 < 4;
            items.push({instruction: "Write a short story.", first: first ? good : broken, second: first ? broken : good});
            goodIsFirst.push(first);
        });
        return {items, goodIsFirst};
    } finally {
        await engine.dispose();
    }
}

/** ordinary comparisons for the mechanics tests: clear, close, and a short-vs-long one */
const items: Comparison[] = [
    {instruction: "Write a story.", first: "Once upon a time, there was a little girl named Lily.", second: "the the the the the the"},
    {instruction: "Tell me about a dog.", first: "ball ran the Tom big", second: "The dog was happy and played in the sun."},
    {instruction: "What is the sun?", first: "The sun is big and hot.", second: "The sun is hot."},
    {instruction: "Say hi.", first: "Hi!", second: "Hello there, friend."}
];

/** A judge of the kind under test on the test's model, with these options. */
type CreateJudge = (options: JudgeOptions) => Promise<Judge>;

/** judge(a, b) = 1 − judge(b, a) to the bit, each in (0, 1), identical responses exactly 0.5. */
async function expectOrderSymmetric(judge: Judge): Promise<void> {
    const forward = await judge.compare(items);
    const backward = await judge.compare(items.map((c) => ({...c, first: c.second, second: c.first})));
    forward.forEach((p, k) => {
        expect(p).toBeGreaterThan(0);
        expect(p).toBeLessThan(1);
        expect(Math.abs(p - (1 - backward[k]))).toBeLessThanOrEqual(1e-12);
    });
    expect(await judge.compare([{instruction: "x", first: "same", second: "same"}])).toEqual([0.5]);
}

/**
 * The same verdicts again to the bit; one comparison at a time, and from a second judge with one
 * sequence, to 1e-6. Checked with prompt sharing off (`plain`): sharing decodes a group's prefix in
 * another batch layout, and the F16 KV cache can then round a stored value the other way, which
 * `expectSharingSaves` bounds separately. (The global-prefix path has that effect in other
 * layouts too: logits moved by up to 8e-3 at 8 sequences on stories260K, measured.)
 */
async function expectDeterministicAndBatchInvariant(judge: Judge, create: CreateJudge): Promise<void> {
    expect(await judge.compare(items)).toEqual(await judge.compare(items));
    const plain = await create({sequences: 4, threads: 1, sharePrefixes: false});
    const narrow = await create({sequences: 1, threads: 1});
    try {
        const batched = await plain.compare(items);
        expect(await plain.compare(items)).toEqual(batched);
        for (let k = 0; k < items.length; k++) {
            const [single] = await plain.compare([items[k]]);
            expect(Math.abs(single - batched[k])).toBeLessThanOrEqual(1e-6);
        }
        const again = await narrow.compare(items);
        again.forEach((p, k) => expect(Math.abs(p - batched[k])).toBeLessThanOrEqual(1e-6));
    } finally {
        await plain.dispose();
        await narrow.dispose();
    }
}

/** Comparisons shaped like a sweep's: per instruction, several responses each against the same unsteered one. */
function sweepLike(): Comparison[] {
    const unsteered = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    const steered = ["One day, a big dog ran to the park and played with a red ball.", "Tom had a toy car. He liked to drive it around the house.",
        "The sun was hot and the birds sang in the tall green trees.", "Mom made a cake for Sue. It was sweet and soft and yummy."];
    return ["Write a short story about a girl and her friends.", "Tell me a happy story about a sunny day in the park."].flatMap((instruction) =>
        steered.map((s) => ({instruction, first: s, second: unsteered})));
}

/**
 * Sharing prompt prefixes decodes fewer tokens and moves no verdict by more than F16 KV rounding:
 * 2e-3 in P, a margin over the 1.3e-4 measured here (logits moved by up to 1.5e-2 in other layouts).
 */
async function expectSharingSaves(create: CreateJudge): Promise<void> {
    const cases = sweepLike();
    const [shared, alone] = [await create({sequences: 4, threads: 1}), await create({sequences: 4, threads: 1, sharePrefixes: false})];
    try {
        const [p, q] = [await shared.compare(cases), await alone.compare(cases)];
        p.forEach((x, k) => expect(Math.abs(x - q[k])).toBeLessThanOrEqual(2e-3));
        const [a, b] = [shared.decodedTokens, alone.decodedTokens];
        expect(a).toBeLessThan(b * 0.9);
    } finally {
        await shared.dispose();
        await alone.dispose();
    }
}

function goodWins(p: readonly number[], goodIsFirst: readonly boolean[]): number {
    return p.filter((x, k) => (goodIsFirst[k] ? x > 0.5 : x < 0.5)).length;
}

describe.skipIf(!haveModel)("comparison judge on stories260K", () => {
    let model: Model;
    let template: ChatTemplate;
    let judge: ComparisonJudge;

    beforeAll(async () => {
        model = await Model.load(stories260K);
        template = builtinChatTemplate("plain", {bosToken: model.tokenText(model.info.bos!), eosToken: model.tokenText(model.info.eos!)});
        judge = await ComparisonJudge.create(model, template, {sequences: 4, threads: 1});
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
        await expectOrderSymmetric(judge);
    });

    it("is deterministic, and batched equals one at a time", async () => {
        await expectDeterministicAndBatchInvariant(judge, (options) => ComparisonJudge.create(model, template, options));
    });

    it("decodes what its prompts share once: the instruction, and a response shown first", async () => {
        await expectSharingSaves((options) => ComparisonJudge.create(model, template, options));
    });

    it("reports progress and stops on an aborted signal", async () => {
        const seen: number[] = [];
        await judge.compare(items, {onProgress: (done) => seen.push(done)});
        expect(seen.at(-1)).toBe(items.length * 2);
        const controller = new AbortController();
        controller.abort();
        await expect(judge.compare(items, {signal: controller.signal})).rejects.toThrow(/cancelled/);
    });

    // Measured: a 260K-parameter TinyStories model cannot follow a comparison prompt. On these 20 the
    // good story gets P between 0.495 and 0.514 (15 of 20 above 0.5, as a coin gives); with 20 pairs of
    // only shuffled and "the the …" stories it was 12 of 20 and every |P − 0.5| below 0.008, for every
    // wording tried ("Story 1: … The better story is", "1. … 2. … The good one is number", a bare prompt).
    // This is the evidence for `auto` judging base models by likelihood (next block: every verdict
    // beyond 0.9 on the same pairs). A capable model is checked through ICON2_JUDGE_MODEL (below).
    it("carries almost no signal on a base model: story vs garbage stays within 0.02 of 0.5 (why auto uses likelihood here)", async () => {
        const {items: cases} = await goodVsBroken(model);
        const p = await judge.compare(cases);
        for (const x of p)
            expect(Math.abs(x - 0.5)).toBeLessThan(0.02);
    });
});

describe.skipIf(!haveModel)("likelihood judge on stories260K", () => {
    let model: Model;
    let template: ChatTemplate;
    let judge: LikelihoodJudge;

    beforeAll(async () => {
        model = await Model.load(stories260K);
        template = builtinChatTemplate("plain", {bosToken: model.tokenText(model.info.bos!), eosToken: model.tokenText(model.info.eos!)});
        judge = await LikelihoodJudge.create(model, template, {sequences: 4, threads: 1});
    });
    afterAll(async () => {
        await judge?.dispose();
        await model?.dispose();
    });

    it("auto picks likelihood for the plain template (a base model) and compare for a chat template", async () => {
        const tokens = {bosToken: "<s>", eosToken: "</s>"};
        expect(judgeMethodFor(template)).toBe("likelihood");
        expect(judgeMethodFor(builtinChatTemplate("chatml", tokens))).toBe("compare");
        expect(judgeMethodFor(template, "compare")).toBe("compare");
        expect(judgeMethodFor(builtinChatTemplate("llama3", tokens), "likelihood")).toBe("likelihood");
        const auto = await createJudge(model, template, {threads: 1});
        const forced = await createJudge(model, template, {threads: 1, method: "compare"});
        try {
            expect(auto).toBeInstanceOf(LikelihoodJudge);
            expect(auto.describe()).toEqual({method: "likelihood", model: model.info.name || model.info.path});
            expect(forced).toBeInstanceOf(ComparisonJudge);
            expect(forced.describe()).toMatchObject({method: "compare", labels: ["1", "2"]});
        } finally {
            await auto.dispose();
            await forced.dispose();
        }
    });

    it("is order-symmetric: judge(a, b) = 1 − judge(b, a) exactly, each in (0, 1)", async () => {
        await expectOrderSymmetric(judge);
    });

    it("is deterministic, and batched equals one at a time", async () => {
        await expectDeterministicAndBatchInvariant(judge, (options) => LikelihoodJudge.create(model, template, options));
    });

    it("decodes what its prompts share once: the instruction", async () => {
        await expectSharingSaves((options) => LikelihoodJudge.create(model, template, options));
    });

    it("is σ of the difference of mean token log-likelihoods, scoring each distinct response once", async () => {
        const [a, b] = ["Once upon a time, there was a little girl named Lily.", "Lily girl a named time there upon, was little Once."];
        const [sa, sb] = await judge.score([{instruction: "Write a story.", response: a}, {instruction: "Write a story.", response: b}]);
        expect(sa).toBeLessThan(0);
        expect(sa).toBeGreaterThan(sb);
        const [p] = await judge.compare([{instruction: "Write a story.", first: a, second: b}]);
        expect(Math.abs(p - 1 / (1 + Math.exp(-(sa - sb))))).toBeLessThanOrEqual(1e-9);
        // the instruction is part of the condition: the same response scores differently under another one
        const [other] = await judge.score([{instruction: "What is the capital of France?", response: a}]);
        expect(other).not.toBe(sa);
        // a response shared by three comparisons is scored once: 4 distinct responses, 4 judge prompts
        let total = 0;
        await judge.compare([
            {instruction: "Write a story.", first: a, second: b},
            {instruction: "Write a story.", first: a, second: "The end."},
            {instruction: "Write a story.", first: "Tom ran.", second: a}
        ], {onProgress: (_, t) => total = t});
        expect(total).toBe(4);
        // a disposed judge says so
        const gone = await LikelihoodJudge.create(model, template, {threads: 1});
        await gone.dispose();
        await expect(gone.score([{instruction: "x", response: "y"}])).rejects.toThrow(/judge is disposed/);
        await expect(gone.compare(items)).rejects.toThrow(/judge is disposed/);
        // an empty response is the end token right after the prompt: finite, and worse than a story
        const [empty] = await judge.score([{instruction: "Write a story.", response: ""}]);
        expect(Number.isFinite(empty)).toBe(true);
        expect(empty).toBeLessThan(sa);
    });

    it("reports progress and stops on an aborted signal", async () => {
        const controller = new AbortController();
        controller.abort();
        await expect(judge.compare(items, {signal: controller.signal})).rejects.toThrow(/cancelled/);
        await expect(judge.compare([{instruction: "x", first: 1 as unknown as string, second: "y"}])).rejects.toThrow(/comparison 0: first must be a string, got number/);
    });

    // Measured: 20 of 20 here, P(good) between 0.977 and 0.9998. Mean log-likelihood per token is about −1.9
    // for the model's stories, −9 for the shuffled ones, −6.3 for "the the …" and −7 to −9 for the
    // steered token loops. Its blind spot is a loop of fluent text ("She saw a big ball. She saw a big
    // ball. …" scores −1.8); the sweep's rep-4 column and warning cover that.
    it("prefers a good story over a broken one (shuffled, 'the the …', steered into a loop) in ≥ 18 of 20", async () => {
        const {items: cases, goodIsFirst} = await goodVsBroken(model);
        const p = await judge.compare(cases);
        expect(goodWins(p, goodIsFirst)).toBeGreaterThanOrEqual(18);
        // a judge with the verdicts inverted would fail the same check
        expect(goodWins(p.map((x) => 1 - x), goodIsFirst)).toBeLessThan(18);
    });
});

// A capable judge (e.g. any ≥ 0.5B instruct GGUF): ICON2_JUDGE_MODEL=path [ICON2_JUDGE_TEMPLATE=file|name]
// [ICON2_JUDGE_METHOD=auto|compare|likelihood].
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
            const method = (process.env.ICON2_JUDGE_METHOD ?? "auto") as "auto" | "compare" | "likelihood";
            const judge = await createJudge(judgeModel, template, {threads: 1, method});
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
