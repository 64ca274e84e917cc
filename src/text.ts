// Stage 2a text handling: turning a raw Magpie continuation into an instruction (or a reason it is
// not one), and recognizing duplicates. Pure functions; the synthesizer decides what to do with them.
import crypto from "node:crypto";

export interface CleanOptions {
    /** shortest accepted instruction, in Unicode code points (after cleaning) */
    minChars: number;
    /** longest accepted instruction, in Unicode code points (after cleaning) */
    maxChars: number;
    /** text that ends the instruction where it first occurs, e.g. role headers ("<|im_start|>", "\nUser:") */
    stopStrings: readonly string[];
    /** the generation stopped at its token limit rather than at end-of-turn; such text is cut mid-request
     * unless a stop string ended it earlier. Defaults to `false`. */
    hitTokenLimit?: boolean;
    /** drop texts that look like assistant answers (see {@link looksLikeAnswer}). Defaults to `true`. */
    rejectAnswerLike?: boolean;
}

/** Defaults for instruction cleaning, shared by the library and the CLI. */
export const defaultCleanOptions: Readonly<CleanOptions> = Object.freeze({
    minChars: 8,
    maxChars: 4000,
    stopStrings: Object.freeze([]) as readonly string[],
    hitTokenLimit: false,
    rejectAnswerLike: true
});

export type RejectReason =
    /** nothing left after cutting and trimming */
    | "empty"
    /** no letter or digit in any script (only punctuation, symbols, emoji) */
    | "no_text"
    | "too_short"
    | "too_long"
    /** hit the token limit without an end-of-turn or stop string */
    | "truncated"
    /** reads like an assistant answer rather than a user request */
    | "answer_like";

export type CleanResult =
    | {ok: true, text: string}
    /** `text` is what cleaning had produced when it gave up, for logs and statistics */
    | {ok: false, reason: RejectReason, text: string};

/**
 * Cleans one raw continuation of the pre-query prefix:
 * 1. normalize line endings, cut at the earliest stop string (a stop string at the very start leaves
 *    nothing: "empty"), trim;
 * 2. strip quotes that wrap the whole text (models sometimes quote the "user's" message);
 * 3. reject: empty → no letters/digits → truncated → too short → too long → answer-like.
 */
export function cleanInstruction(raw: string, options: CleanOptions): CleanResult {
    const {minChars, maxChars, stopStrings, hitTokenLimit = false, rejectAnswerLike = true} = options;
    if (!(minChars >= 0) || !(maxChars >= minChars))
        throw new RangeError(`need 0 ≤ minChars ≤ maxChars, got minChars=${minChars}, maxChars=${maxChars}`);

    let text = raw.replace(/\r\n?/g, "\n");
    let cut = false;
    let cutAt = text.length;
    for (const stop of stopStrings) {
        if (stop === "")
            continue;
        const index = text.indexOf(stop);
        if (index >= 0 && index < cutAt) {
            cutAt = index;
            cut = true;
        }
    }
    text = stripWrappingQuotes(text.slice(0, cutAt).trim());

    if (text === "")
        return {ok: false, reason: "empty", text};
    if (!/[\p{L}\p{N}]/u.test(text))
        return {ok: false, reason: "no_text", text};
    // A stop string means the model finished the request and went on; only an uncut text that ran
    // into the token limit is known to be incomplete.
    if (hitTokenLimit && !cut)
        return {ok: false, reason: "truncated", text};
    const length = countCodePoints(text);
    if (length < minChars)
        return {ok: false, reason: "too_short", text};
    if (length > maxChars)
        return {ok: false, reason: "too_long", text};
    if (rejectAnswerLike && looksLikeAnswer(text))
        return {ok: false, reason: "answer_like", text};
    return {ok: true, text};
}

const quotePairs: ReadonlyArray<readonly [string, string]> = [
    ["\"", "\""], ["'", "'"], ["\u201c", "\u201d"], ["\u2018", "\u2019"], ["\u00ab", "\u00bb"], ["\u300c", "\u300d"]
];

/**
 * Removes quotes around the whole text, repeatedly ("'x'" → x). Only when the quote characters do not
 * occur inside, so `"a" or "b"` stays as it is.
 */
export function stripWrappingQuotes(text: string): string {
    for (;;) {
        const pair = quotePairs.find(([open, close]) =>
            text.length >= open.length + close.length && text.startsWith(open) && text.endsWith(close));
        if (pair == null)
            return text;
        const [open, close] = pair;
        const inner = text.slice(open.length, text.length - close.length);
        if (inner.includes(open) || inner.includes(close))
            return text;
        text = inner.trim();
    }
}

/**
 * Answer-like heuristics, English only and deliberately conservative: a false "answer" costs a good
 * instruction, a missed one only costs a weaker pair. Each pattern is an opening (or closing) that a
 * user request practically never has:
 * - an acknowledgement followed by punctuation: "Sure!", "Certainly,", "Of course.", "Absolutely:",
 *   "Great question", "That's a great question";
 * - handing something over: "Here is your …", "Here's the requested …" ("Here is a paragraph: …"
 *   is left alone, users paste text that way);
 * - self-description and refusals: "As an AI", "As a (large) language model", "I'm sorry, but I
 *   can't", "I apologize, but", "I cannot help/assist/provide/fulfill/comply" (not "I can't help but …");
 * - assistant greetings and sign-offs anywhere: "How can I help/assist you", "I hope this helps".
 */
export function looksLikeAnswer(text: string): boolean {
    return answerOpenings.some((pattern) => pattern.test(text)) ||
        answerAnywhere.some((pattern) => pattern.test(text));
}

const answerOpenings: readonly RegExp[] = [
    /^(?:sure(?: thing)?|certainly|of course|absolutely|definitely)\s*[,!.:]/i,
    /^(?:that'?s |what )?(?:a )?(?:great|excellent) question\b/i,
    /^here(?:'s|’s| is| are) (?:your|the requested)\b/i,
    /^as an ai\b/i,
    /^as a (?:large )?language model\b/i,
    /^i(?:'m|’m| am) sorry,? but i\b/i,
    /^i apologi[sz]e,? but\b/i,
    /^i (?:can(?:'t|’t|not)|am unable to|(?:'m|’m) unable to|won(?:'t|’t)) (?:help|assist|provide|fulfill|comply)\b(?! but\b)/i
];

const answerAnywhere: readonly RegExp[] = [
    /\bhow (?:can|may) i (?:help|assist) you\b/i,
    /\bi hope (?:this|that) helps\b/i
];

function countCodePoints(text: string): number {
    let count = 0;
    for (const _ of text)
        count++;
    return count;
}

/**
 * The key under which two instructions count as the same: NFKC, lowercase, format characters
 * (zero-width spaces, BOM) and punctuation removed, whitespace collapsed to single spaces and trimmed.
 * Symbols (+, =, $, emoji) and accents are kept, so "2+2" and "2=2" stay different.
 */
export function normalizeForDedup(text: string): string {
    return text
        .normalize("NFKC")
        .toLowerCase()
        .replace(/[\p{Cf}\p{P}]/gu, "")
        .replace(/\s+/gu, " ")
        .trim();
}

export type DuplicateKind = "exact" | "normalized";

/**
 * Remembers instructions and recognizes repeats, exactly and after {@link normalizeForDedup}. Keys are
 * stored as 128-bit hashes, so a million instructions cost tens of MB rather than their full text.
 * A text whose normalized form is empty (only punctuation) is matched exactly only.
 */
export class Deduper {
    private readonly exact = new Set<string>();
    private readonly normalized = new Set<string>();

    constructor(texts: Iterable<string> = []) {
        for (const text of texts)
            this.add(text);
    }

    /** number of distinct texts added */
    get size(): number {
        return this.exact.size;
    }

    /** How `text` duplicates an earlier one, or `undefined` when it is new. */
    match(text: string): DuplicateKind | undefined {
        if (this.exact.has(hashKey(text)))
            return "exact";
        const key = normalizeForDedup(text);
        if (key !== "" && this.normalized.has(hashKey(key)))
            return "normalized";
        return undefined;
    }

    has(text: string): boolean {
        return this.match(text) !== undefined;
    }

    /** Adds `text`; returns `true` when it was new, `false` when it duplicates an earlier one (and is not added). */
    add(text: string): boolean {
        const exactKey = hashKey(text);
        if (this.exact.has(exactKey))
            return false;
        const normalized = normalizeForDedup(text);
        const normalizedKey = normalized === "" ? undefined : hashKey(normalized);
        if (normalizedKey !== undefined && this.normalized.has(normalizedKey))
            return false;
        this.exact.add(exactKey);
        if (normalizedKey !== undefined)
            this.normalized.add(normalizedKey);
        return true;
    }
}

function hashKey(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("base64").slice(0, 22);
}
