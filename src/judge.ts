// A pairwise self-judge: the model (or a second judge model) reads an instruction and two responses
// and its next-token logits say which response it thinks is better. No sampling: the verdict is the
// probability mass on the two answer tokens, and both presentation orders are averaged so the
// well-known position bias of LLM judges cancels. The sweep (src/sweep.ts) uses it where the paper's
// Appendix J uses a reward model.
import {renderChat, type ChatTemplate} from "./chat.js";
import {AbortError, type Engine, type Model} from "./engine/index.js";
import {tokenizePrompt} from "./prompt.js";

/** One judgement: is `first` a better response to `instruction` than `second`? */
export interface Comparison {
    instruction: string;
    first: string;
    second: string;
}

export interface SelfJudgeOptions {
    /** Parallel sequences in the judge's engine. Defaults to 4. */
    sequences?: number;
    /**
     * KV cache size in tokens, shared by the parallel sequences; one judge prompt (instruction, both
     * responses and the fixed wording, about 60 tokens) must fit. Defaults to 4096.
     */
    contextSize?: number;
    /** CPU threads. Defaults to llama.cpp's choice; use 1 for tiny models. */
    threads?: number;
}

export const judgeDefaults = {sequences: 4, contextSize: 4096, batchSize: 512} as const;

export interface CompareOptions {
    signal?: AbortSignal;
    /** prompts judged so far of `total` (two per comparison with distinct responses) */
    onProgress?: (done: number, total: number) => void;
}

/** The two labels the prompt names the responses by, and the vocabulary tokens that answer with them. */
export interface VerdictTokens {
    /** label of the response shown first ("A" or "1") and second ("B" or "2") */
    labels: readonly [string, string];
    /** the token that answers with each label, right after the pre-filled verdict text */
    tokens: readonly [number, number];
    /** their texts, e.g. [" A", " B"] or ["1", "2"] */
    texts: readonly [string, string];
    /** the assistant-turn text that the verdict token continues, e.g. "The better response is" */
    prefill: string;
}

/**
 * Label pairs and answer forms tried in order. " A" after "The better response is" is what most
 * BPE/SentencePiece chat vocabularies have as one token; "A" after a trailing space covers
 * vocabularies that keep the space apart; digits cover tiny vocabularies with no single-token "B".
 */
const verdictCandidates: readonly {labels: [string, string]; space: boolean}[] = [
    {labels: ["A", "B"], space: true},
    {labels: ["A", "B"], space: false},
    {labels: ["1", "2"], space: true},
    {labels: ["1", "2"], space: false}
];

const verdictPrefill = "The better response is";

/**
 * The user turn of the comparison prompt. Fixed wording (changing it changes every judgement): the
 * criteria are the paper's general ones in short, and the last line names the answer format the
 * pre-filled assistant turn then completes.
 */
export function judgeQuestion(instruction: string, shownFirst: string, shownSecond: string, labels: readonly [string, string]): string {
    return "Compare two responses to the same instruction and decide which one is better: more helpful, " +
        "relevant, accurate, coherent and well written.\n\n" +
        `Instruction:\n${instruction}\n\n` +
        `Response ${labels[0]}:\n${shownFirst}\n\n` +
        `Response ${labels[1]}:\n${shownSecond}\n\n` +
        `Which response is better? Answer with ${labels[0]} or ${labels[1]}.`;
}

/**
 * The full judge prompt text: the question as a user turn, the template's generation prompt, and the
 * assistant turn pre-filled up to the verdict (so the next token is the answer). A space separates
 * the prefill from a generation prompt that ends in a visible character ("Assistant:").
 */
export function judgePromptText(template: ChatTemplate, question: string, prefill: string): string {
    const rendered = renderChat(template, [{role: "user", content: question}], {addGenerationPrompt: true});
    const joiner = rendered === "" || /\s$/.test(rendered) ? "" : " ";
    return rendered + joiner + prefill;
}

function sameTokens(a: Int32Array, b: Int32Array): boolean {
    return a.length === b.length && a.every((t, k) => t === b[k]);
}

/**
 * Finds answer tokens that are single tokens *in context*: the prompt followed by the answer text
 * must tokenize as the prompt's tokens plus exactly one token, for both labels, and the two tokens
 * must differ. Checking in context (not the bare text) matters because SentencePiece adds a leading
 * space and BPE merges across the boundary. Throws naming the model when no candidate works.
 */
export function findVerdictTokens(model: Model, template: ChatTemplate): VerdictTokens {
    const tried: string[] = [];
    for (const {labels, space} of verdictCandidates) {
        const prefill = space ? verdictPrefill : verdictPrefill + " ";
        const texts: [string, string] = space ? [` ${labels[0]}`, ` ${labels[1]}`] : [labels[0], labels[1]];
        // A probe with ordinary content: the verdict's tokenization depends only on the prompt's tail.
        const prompt = judgePromptText(template, judgeQuestion("Say hello.", "Hello!", "Hi there.", labels), prefill);
        const base = tokenizePrompt(model, template, prompt);
        const tokens: number[] = [];
        for (const text of texts) {
            const full = tokenizePrompt(model, template, prompt + text);
            if (full.length === base.length + 1 && sameTokens(full.subarray(0, base.length), base))
                tokens.push(full[base.length]);
        }
        if (tokens.length === 2 && tokens[0] !== tokens[1])
            return {labels, tokens: [tokens[0], tokens[1]], texts, prefill};
        tried.push(`${JSON.stringify(texts[0])}/${JSON.stringify(texts[1])}`);
    }
    throw new Error(
        `judge model ${model.info.name || model.info.path}: none of the answer pairs ${tried.join(", ")} is one token each ` +
        `after "${verdictPrefill}" with chat template ${template.origin}, so the verdict cannot be read from one next-token ` +
        "distribution; use another judge model (--judge-model) or chat template"
    );
}

/** σ(x) = 1/(1 + e^−x), written so that neither branch overflows. */
function sigmoid(x: number): number {
    if (x >= 0)
        return 1 / (1 + Math.exp(-x));
    const e = Math.exp(x);
    return e / (1 + e);
}

/**
 * The model as a pairwise judge. `compare` returns P(first is better) for each comparison:
 *
 *     p(X, Y) = σ(logit[label₀] − logit[label₁]) after the prompt showing X as label₀ and Y as label₁
 *             = softmax over the two answer tokens only (the rest of the vocabulary is ignored)
 *     judge(x, y) = (p(x, y) + 1 − p(y, x)) / 2
 *
 * so judge(x, y) = 1 − judge(y, x) by construction. To make that hold to the last bit rather than to
 * the engine's batch-dependent rounding, both orders are always evaluated as the pair (canonical
 * first, canonical second), the canonical order being the code-unit order of the two texts, and the
 * other direction is 1 minus it. Identical responses get exactly 0.5 without decoding.
 *
 * Owns its engine: dispose the judge (not the model) when done; the model must outlive it.
 */
export class SelfJudge {
    private disposed = false;

    private constructor(
        readonly model: Model,
        readonly template: ChatTemplate,
        readonly verdict: VerdictTokens,
        private readonly engine: Engine
    ) {}

    static async create(model: Model, template: ChatTemplate, options: SelfJudgeOptions = {}): Promise<SelfJudge> {
        const verdict = findVerdictTokens(model, template);
        const engine = await model.createEngine({
            sequences: options.sequences ?? judgeDefaults.sequences,
            contextSize: options.contextSize ?? judgeDefaults.contextSize,
            batchSize: judgeDefaults.batchSize,
            threads: options.threads
        });
        return new SelfJudge(model, template, verdict, engine);
    }

    /** The token sequence that shows `shownFirst` under label₀ and `shownSecond` under label₁. */
    promptTokens(instruction: string, shownFirst: string, shownSecond: string): Int32Array {
        const question = judgeQuestion(instruction, shownFirst, shownSecond, this.verdict.labels);
        return tokenizePrompt(this.model, this.template, judgePromptText(this.template, question, this.verdict.prefill));
    }

    /**
     * P(first is better) for each comparison, in input order, each in (0, 1). All prompts go to the
     * engine in one batched call. Throws naming the comparison when its prompt does not fit the
     * judge's context.
     */
    async compare(items: readonly Comparison[], options: CompareOptions = {}): Promise<number[]> {
        if (this.disposed)
            throw new Error("SelfJudge is disposed");
        const results = new Array<number>(items.length);
        const prompts: Int32Array[] = [];
        // per comparison: index of its canonical-order prompt pair, and whether first is canonical
        const pending: {index: number; prompt: number; firstIsCanonical: boolean}[] = [];
        const contextSize = this.engine.contextSize;
        items.forEach((item, index) => {
            for (const key of ["instruction", "first", "second"] as const) {
                if (typeof item[key] !== "string")
                    throw new TypeError(`comparison ${index}: ${key} must be a string, got ${typeof item[key]}`);
            }
            if (item.first === item.second) {
                results[index] = 0.5;
                return;
            }
            const firstIsCanonical = item.first < item.second;
            const [p, q] = firstIsCanonical ? [item.first, item.second] : [item.second, item.first];
            const pq = this.promptTokens(item.instruction, p, q);
            const qp = this.promptTokens(item.instruction, q, p);
            const longest = Math.max(pq.length, qp.length);
            if (longest > contextSize)
                throw new RangeError(
                    `comparison ${index}: the judge prompt has ${longest} tokens but the judge's context holds ${contextSize}; ` +
                    "raise the judge's contextSize or shorten the responses (--max-tokens)"
                );
            pending.push({index, prompt: prompts.length, firstIsCanonical});
            prompts.push(pq, qp);
        });
        if (prompts.length === 0)
            return results;
        if (options.signal?.aborted)
            throw new AbortError();

        const evaluations = await this.engine.evaluate(prompts.map((tokens) => ({tokens})), {
            logits: true, signal: options.signal, onProgress: options.onProgress
        });
        const [label0, label1] = this.verdict.tokens;
        const margin = (k: number): number => {
            const logits = evaluations[k].logits;
            if (logits === null)
                throw new Error("internal: the engine returned no logits for a judge prompt");
            return logits[label0] - logits[label1];
        };
        for (const {index, prompt, firstIsCanonical} of pending) {
            // canonical p shown first: σ(m_pq); p shown second: 1 − σ(m_qp) = σ(−m_qp)
            const preferCanonical = (sigmoid(margin(prompt)) + sigmoid(-margin(prompt + 1))) / 2;
            results[index] = firstIsCanonical ? preferCanonical : 1 - preferCanonical;
        }
        return results;
    }

    /** Frees the judge's engine (not the model). Idempotent. */
    async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        await this.engine.dispose();
    }

    async [Symbol.asyncDispose](): Promise<void> {
        await this.dispose();
    }
}
