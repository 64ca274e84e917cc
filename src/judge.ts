// Pairwise judges for the sweep (src/sweep.ts), where the paper's Appendix J uses a reward model.
// Both answer "is the first response to this instruction better than the second?" with a
// probability, deterministically (no sampling), and order-symmetric by construction:
// - ComparisonJudge: an instruct model reads the instruction and both responses under a fixed
//   comparison prompt; its next-token logits over the two answer labels give the verdict, averaged
//   over both presentation orders so the well-known position bias of LLM judges cancels.
// - LikelihoodJudge: for base models, which cannot follow a comparison prompt (measured: stories260K
//   puts every verdict within 0.02 of 0.5, even for a story against shuffled tokens). Each response
//   is scored by its mean per-token log-likelihood after the instruction, and the two scores are
//   compared (Bradley–Terry).
import {builtinTemplates, renderChat, type ChatTemplate} from "./chat.js";
import {AbortError, sameTokens, type Engine, type Model} from "./engine/index.js";
import {tokenizePrompt, userTurnPrompt} from "./prompt.js";

/** One judgement: is `first` a better response to `instruction` than `second`? */
export interface Comparison {
    instruction: string;
    first: string;
    second: string;
}

export interface JudgeOptions {
    /** Parallel sequences in the judge's engine. Defaults to 4. */
    sequences?: number;
    /**
     * KV cache size in tokens, shared by the parallel sequences; one judge prompt (for comparisons:
     * instruction, both responses and about 60 tokens of fixed wording) must fit. Defaults to 4096.
     */
    contextSize?: number;
    /** CPU threads. Defaults to llama.cpp's choice; use 1 for tiny models. */
    threads?: number;
    /**
     * Decode what several judge prompts share (the instruction, a response shown first) once
     * (`EvaluateOptions.sharePrefixes`). Defaults to `true`.
     */
    sharePrefixes?: boolean;
}

/**
 * `scoredBatchSize` bounds the likelihood judge's decodes, whose every response token is an output
 * row: llama.cpp keeps vocabulary-wide logits for each (256 rows × 152K vocabulary ≈ 155 MB), and
 * on CPU 256-token decodes prefill as fast as 512-token ones (measured on the Qwen2-0.5B shape).
 */
export const judgeDefaults = {sequences: 4, contextSize: 4096, batchSize: 512, scoredBatchSize: 256} as const;

/** `compare`: the comparison prompt (instruct models); `likelihood`: mean log-likelihood (base models). */
export type JudgeMethod = "compare" | "likelihood";

/** What sweep.json records about the judge. */
export interface JudgeDescription {
    method: JudgeMethod;
    /** the judge model's name (or path) */
    model: string;
    /** the comparison prompt's answer labels (compare only) */
    labels?: readonly [string, string];
}

export interface CompareOptions {
    signal?: AbortSignal;
    /** judge prompts evaluated so far of `total` (compare: two per comparison with distinct responses; likelihood: one per distinct response) */
    onProgress?: (done: number, total: number) => void;
}

/** A pairwise judge: P(first is better) for each comparison, with judge(a, b) = 1 − judge(b, a) exactly. */
export interface Judge extends AsyncDisposable {
    readonly method: JudgeMethod;
    readonly model: Model;
    /** tokens the judge's engine has decoded so far (what prompt sharing saves) */
    readonly decodedTokens: number;
    describe(): JudgeDescription;
    /**
     * P(first is better) for each comparison, in input order, each in [0, 1] (the ends only for
     * overwhelming differences); exactly 0.5 for identical responses. All prompts go to the engine in one batched call.
     */
    compare(items: readonly Comparison[], options?: CompareOptions): Promise<number[]>;
    /** Frees the judge's engine (not the model). Idempotent. */
    dispose(): Promise<void>;
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

/** A comparison with distinct responses, in canonical order: is `p` better than `q`? */
interface CanonicalPair {
    /** the comparison's index in the caller's list, for error messages */
    index: number;
    instruction: string;
    p: string;
    q: string;
}

/**
 * What both judges share: the model, the engine they own, disposal, and the order-symmetry policy.
 * Every comparison is decided for its canonical order (the code-unit order of the two texts) and the
 * other direction is 1 minus that, so judge(a, b) = 1 − judge(b, a) to the last bit rather than to
 * the engine's batch-dependent rounding; identical responses are exactly 0.5 without decoding.
 * Subclasses only say how likely p is the better one.
 */
abstract class EngineJudge implements Judge {
    abstract readonly method: JudgeMethod;
    private disposed = false;

    protected constructor(readonly model: Model, protected readonly engine: Engine, protected readonly sharePrefixes: boolean) {}

    abstract describe(): JudgeDescription;

    /** Tokens the judge's engine has decoded so far (what prompt sharing saves). */
    get decodedTokens(): number {
        return this.engine.decodedTokens;
    }

    /** P(p is better than q) for each pair, in order; all pairs in one batched engine call. */
    protected abstract preferFirst(pairs: readonly CanonicalPair[], options: CompareOptions): Promise<number[]>;

    protected checkAlive(): void {
        if (this.disposed)
            throw new Error("judge is disposed");
    }

    async compare(items: readonly Comparison[], options: CompareOptions = {}): Promise<number[]> {
        this.checkAlive();
        const results = new Array<number>(items.length);
        const pairs: (CanonicalPair & {firstIsCanonical: boolean})[] = [];
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
            pairs.push({index, instruction: item.instruction, p, q, firstIsCanonical});
        });
        if (pairs.length === 0)
            return results;
        if (options.signal?.aborted)
            throw new AbortError();
        const prefer = await this.preferFirst(pairs, options);
        pairs.forEach(({index, firstIsCanonical}, k) => {
            results[index] = firstIsCanonical ? prefer[k] : 1 - prefer[k];
        });
        return results;
    }

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

async function createJudgeEngine(model: Model, options: JudgeOptions, batchSize: number): Promise<Engine> {
    return model.createEngine({
        sequences: options.sequences ?? judgeDefaults.sequences,
        contextSize: options.contextSize ?? judgeDefaults.contextSize,
        batchSize,
        threads: options.threads
    });
}

/**
 * The model as a pairwise judge through a comparison prompt. `compare` returns P(first is better):
 *
 *     p(X, Y) = σ(logit[label₀] − logit[label₁]) after the prompt showing X as label₀ and Y as label₁
 *             = softmax over the two answer tokens only (the rest of the vocabulary is ignored)
 *     judge(x, y) = (p(x, y) + 1 − p(y, x)) / 2
 *
 * Owns its engine: dispose the judge (not the model) when done; the model must outlive it.
 */
export class ComparisonJudge extends EngineJudge {
    readonly method = "compare";

    private constructor(model: Model, readonly template: ChatTemplate, readonly verdict: VerdictTokens, engine: Engine, sharePrefixes: boolean) {
        super(model, engine, sharePrefixes);
    }

    static async create(model: Model, template: ChatTemplate, options: JudgeOptions = {}): Promise<ComparisonJudge> {
        const verdict = findVerdictTokens(model, template);
        return new ComparisonJudge(model, template, verdict, await createJudgeEngine(model, options, judgeDefaults.batchSize), options.sharePrefixes ?? true);
    }

    describe(): JudgeDescription {
        return {method: this.method, model: this.model.info.name || this.model.info.path, labels: this.verdict.labels};
    }

    /** The token sequence that shows `shownFirst` under label₀ and `shownSecond` under label₁. */
    promptTokens(instruction: string, shownFirst: string, shownSecond: string): Int32Array {
        const question = judgeQuestion(instruction, shownFirst, shownSecond, this.verdict.labels);
        return tokenizePrompt(this.model, this.template, judgePromptText(this.template, question, this.verdict.prefill));
    }

    /** Two prompts per pair (both orders). Throws naming the comparison when its prompt does not fit the judge's context. */
    protected async preferFirst(pairs: readonly CanonicalPair[], options: CompareOptions): Promise<number[]> {
        const contextSize = this.engine.contextSize;
        const prompts = pairs.flatMap(({index, instruction, p, q}) => {
            const both = [this.promptTokens(instruction, p, q), this.promptTokens(instruction, q, p)];
            const longest = Math.max(both[0].length, both[1].length);
            if (longest > contextSize)
                throw new RangeError(
                    `comparison ${index}: the judge prompt has ${longest} tokens but the judge's context holds ${contextSize}; ` +
                    "raise the judge's contextSize or shorten the responses (--max-tokens)"
                );
            return both;
        });
        const evaluations = await this.engine.evaluate(prompts.map((tokens) => ({tokens})), {
            logits: true, sharePrefixes: this.sharePrefixes, signal: options.signal, onProgress: options.onProgress
        });
        const [label0, label1] = this.verdict.tokens;
        const margin = (k: number): number => {
            const logits = evaluations[k].logits;
            if (logits === null)
                throw new Error("internal: the engine returned no logits for a judge prompt");
            return logits[label0] - logits[label1];
        };
        // p shown first: σ(m_pq); p shown second: 1 − σ(m_qp) = σ(−m_qp)
        return pairs.map((_, k) => (sigmoid(margin(2 * k)) + sigmoid(-margin(2 * k + 1))) / 2);
    }
}

/**
 * The model's likelihood as a pairwise judge, for base models. Each response r to instruction x is
 * scored by its mean per-token log-likelihood under the judge, shown as the instruction's user turn
 * followed by r, the way the response was generated:
 *
 *     s(r) = (1/|r|) Σₖ log p(rₖ | x, r₍<k₎)        (an empty response scores its end token alone)
 *     judge(a, b) = σ(s(a) − s(b))                   (Bradley–Terry on per-token log-likelihood)
 *
 * It rates fluency and fit to the instruction under the judge model, not alignment: a model judging
 * its own outputs favours its unsteered text. Each distinct (instruction, response) is scored once
 * per call, however many comparisons it is in.
 *
 * Owns its engine: dispose the judge (not the model) when done; the model must outlive it.
 */
export class LikelihoodJudge extends EngineJudge {
    readonly method = "likelihood";

    private constructor(model: Model, readonly template: ChatTemplate, engine: Engine, sharePrefixes: boolean) {
        super(model, engine, sharePrefixes);
    }

    static async create(model: Model, template: ChatTemplate, options: JudgeOptions = {}): Promise<LikelihoodJudge> {
        return new LikelihoodJudge(model, template, await createJudgeEngine(model, options, judgeDefaults.scoredBatchSize), options.sharePrefixes ?? true);
    }

    describe(): JudgeDescription {
        return {method: this.method, model: this.model.info.name || this.model.info.path};
    }

    /**
     * The scored token sequence of `response` after `instruction`, and where the response starts.
     * The response is text, tokenized on its own without special tokens, as any judge model reads
     * it: for the model's own responses that is usually the generated tokens, but not always (on
     * stories260K 6 of 8 sampled responses round-trip exactly; the others differ in their first
     * tokens, where SentencePiece adds its space prefix or merges what sampling left split). An
     * empty response is the end-of-generation token. `prompt`: the instruction's tokens, when the
     * caller already has them.
     */
    scoredTokens(instruction: string, response: string, prompt = this.instructionTokens(instruction)): {tokens: Int32Array; scoreFrom: number} {
        let body = this.model.tokenize(response, {addBos: false, special: false});
        if (body.length === 0) {
            const {eos} = this.model.info;
            if (eos === null)
                throw new Error(`judge model ${this.model.info.name || this.model.info.path} has no end-of-generation token, so an empty response cannot be scored`);
            body = Int32Array.of(eos);
        }
        const tokens = new Int32Array(prompt.length + body.length);
        tokens.set(prompt);
        tokens.set(body, prompt.length);
        return {tokens, scoreFrom: prompt.length};
    }

    /** The instruction as the judge's user turn, generation prompt appended. */
    private instructionTokens(instruction: string): Int32Array {
        return tokenizePrompt(this.model, this.template, userTurnPrompt(this.template, instruction));
    }

    /** Mean per-token log-likelihood of each response after its instruction (nats per token), in input order. */
    async score(items: readonly {instruction: string; response: string}[], options: CompareOptions = {}): Promise<number[]> {
        this.checkAlive();
        if (items.length === 0)
            return [];
        const contextSize = this.engine.contextSize;
        // a sweep scores many responses per instruction: render and tokenize each instruction once
        const prompts = new Map<string, Int32Array>();
        const evaluateItems = items.map(({instruction, response}, index) => {
            let prompt = prompts.get(instruction);
            if (prompt === undefined) {
                prompt = this.instructionTokens(instruction);
                prompts.set(instruction, prompt);
            }
            const item = this.scoredTokens(instruction, response, prompt);
            if (item.tokens.length > contextSize)
                throw new RangeError(
                    `response ${index}: instruction and response have ${item.tokens.length} tokens but the judge's context holds ${contextSize}; ` +
                    "raise the judge's contextSize or shorten the responses (--max-tokens)"
                );
            return item;
        });
        const evaluations = await this.engine.evaluate(evaluateItems, {sharePrefixes: this.sharePrefixes, signal: options.signal, onProgress: options.onProgress});
        return evaluations.map((e) => {
            const logProbs = e.tokenLogProbs;
            if (logProbs === null || logProbs.length === 0)
                throw new Error("internal: the engine returned no token log-probabilities for a scored response");
            let sum = 0;
            for (const lp of logProbs)
                sum += lp;
            return sum / logProbs.length;
        });
    }

    /** One prompt per distinct (instruction, response) of the call. */
    protected async preferFirst(pairs: readonly CanonicalPair[], options: CompareOptions): Promise<number[]> {
        const distinct = new Map<string, number>();
        const toScore: {instruction: string; response: string}[] = [];
        const slot = (instruction: string, response: string): number => {
            // JSON keeps the key unambiguous whatever the texts contain
            const key = JSON.stringify([instruction, response]);
            let k = distinct.get(key);
            if (k === undefined) {
                k = toScore.length;
                distinct.set(key, k);
                toScore.push({instruction, response});
            }
            return k;
        };
        const slots = pairs.map(({instruction, p, q}) => [slot(instruction, p), slot(instruction, q)] as const);
        const scores = await this.score(toScore, options);
        return slots.map(([p, q]) => sigmoid(scores[p] - scores[q]));
    }
}

/** `auto` picks by the judge's chat template. */
export type JudgeMethodChoice = JudgeMethod | "auto";

/**
 * `auto`: the plain builtin template marks a base model (no chat format: stories260K, raw pretrained
 * checkpoints), which cannot follow a comparison prompt, so it judges by likelihood; any real chat
 * template means an instruct model, which judges by comparison.
 */
export function judgeMethodFor(template: ChatTemplate, choice: JudgeMethodChoice = "auto"): JudgeMethod {
    if (choice !== "auto")
        return choice;
    return template.source === builtinTemplates.plain ? "likelihood" : "compare";
}

/** A judge on `model` with `template` by `method` (default `auto`). */
export async function createJudge(model: Model, template: ChatTemplate, options: JudgeOptions & {method?: JudgeMethodChoice} = {}): Promise<Judge> {
    const method = judgeMethodFor(template, options.method);
    return method === "likelihood" ? LikelihoodJudge.create(model, template, options) : ComparisonJudge.create(model, template, options);
}
