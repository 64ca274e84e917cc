import {describe, expect, test} from "vitest";
import {cleanInstruction, Deduper, defaultCleanOptions, looksLikeAnswer, normalizeForDedup, stripWrappingQuotes} from "../../src/text.js";

const options = {minChars: 8, maxChars: 200, stopStrings: ["<|im_start|>", "<|im_end|>", "\nUser:", "\nAssistant:"]};

describe("cleanInstruction", () => {
    test("trims and keeps a normal request", () => {
        expect(cleanInstruction("  How do I bake sourdough bread at home?\n\n", options))
            .toEqual({ok: true, text: "How do I bake sourdough bread at home?"});
    });

    test("cuts at the earliest stop string", () => {
        const raw = "Write a haiku about autumn.<|im_end|>\n<|im_start|>assistant\nLeaves fall";
        expect(cleanInstruction(raw, options)).toEqual({ok: true, text: "Write a haiku about autumn."});
        expect(cleanInstruction("Explain recursion simply.\nAssistant: Recursion is", options))
            .toEqual({ok: true, text: "Explain recursion simply."});
        expect(cleanInstruction("Explain X in detail\r\nUser: and Y", options))
            .toEqual({ok: true, text: "Explain X in detail"});
    });

    test("a stop string at the start leaves nothing", () => {
        expect(cleanInstruction("<|im_start|>assistant\nHi", options)).toMatchObject({ok: false, reason: "empty"});
        expect(cleanInstruction("   \n ", options)).toMatchObject({ok: false, reason: "empty"});
    });

    test("strips wrapping quotes", () => {
        expect(cleanInstruction("\"Summarize the plot of Hamlet.\"", options))
            .toEqual({ok: true, text: "Summarize the plot of Hamlet."});
        expect(cleanInstruction("\u201c 'Translate hello into French.' \u201d", options))
            .toEqual({ok: true, text: "Translate hello into French."});
    });

    test("rejects text without letters or digits", () => {
        expect(cleanInstruction("?!?!?! ... 🙂🙂", options)).toMatchObject({ok: false, reason: "no_text"});
    });

    test("length bounds count code points", () => {
        expect(cleanInstruction("Hi there", {...options, minChars: 9})).toMatchObject({ok: false, reason: "too_short"});
        expect(cleanInstruction("Hi there", {...options, minChars: 8})).toMatchObject({ok: true});
        expect(cleanInstruction("x".repeat(201), options)).toMatchObject({ok: false, reason: "too_long"});
        // 8 CJK characters are 8 code points; 4 astral emoji plus letters count once each
        expect(cleanInstruction("请解释量子力学原理", options)).toMatchObject({ok: true});
        expect(cleanInstruction("ab😀😀😀😀cd", {...options, maxChars: 8})).toMatchObject({ok: true});
    });

    test("a generation that hit the token limit is truncated unless a stop string ended it", () => {
        expect(cleanInstruction("Write a long essay about the history of", {...options, hitTokenLimit: true}))
            .toMatchObject({ok: false, reason: "truncated"});
        expect(cleanInstruction("Write an essay on tea.\nUser: more more more", {...options, hitTokenLimit: true}))
            .toEqual({ok: true, text: "Write an essay on tea."});
    });

    test("rejects answer-like text and keeps similar requests", () => {
        const answers = [
            "Sure! Here is a poem about the sea.",
            "Certainly, I can help with that.",
            "Of course. The capital of France is Paris.",
            "Here is your summary of the article.",
            "As an AI language model, I do not have opinions.",
            "I'm sorry, but I can't help with that request.",
            "I apologize, but that is not possible.",
            "I cannot assist with this request.",
            "Hello! How can I help you today?",
            "Great question! Photosynthesis is how plants make food.",
            "The answer is 42. I hope this helps!"
        ];
        for (const text of answers) {
            expect(looksLikeAnswer(text), text).toBe(true);
            expect(cleanInstruction(text, options), text).toMatchObject({ok: false, reason: "answer_like"});
        }
        const requests = [
            "Here is a paragraph: The cat sat. Please summarize it.",
            "Surely there is a faster way to sort a list in Python?",
            "I can't help but wonder why the sky is blue. Can you explain?",
            "I'm sorry to bother you, but how do I reset my router?",
            "Of course-grained versus fine-grained locking: which is faster?",
            "Can you help me write a cover letter?",
            "As an aside, what is the tallest mountain in Europe?"
        ];
        for (const text of requests) {
            expect(looksLikeAnswer(text), text).toBe(false);
            expect(cleanInstruction(text, options), text).toMatchObject({ok: true});
        }
        expect(cleanInstruction("Sure! Tell me a joke.", {...options, rejectAnswerLike: false})).toMatchObject({ok: true});
    });

    test("rejects inconsistent bounds", () => {
        expect(() => cleanInstruction("x", {...options, minChars: 10, maxChars: 5})).toThrow(RangeError);
    });

    test("defaults are usable as options", () => {
        expect(cleanInstruction("What is the boiling point of water?", defaultCleanOptions)).toMatchObject({ok: true});
    });
});

describe("stripWrappingQuotes", () => {
    test("leaves quotes that are not wrapping the whole text", () => {
        expect(stripWrappingQuotes("\"a\" or \"b\"")).toBe("\"a\" or \"b\"");
        expect(stripWrappingQuotes("\"unbalanced")).toBe("\"unbalanced");
        expect(stripWrappingQuotes("'")).toBe("'");
        expect(stripWrappingQuotes("«Bonjour»")).toBe("Bonjour");
    });
});

describe("normalizeForDedup / Deduper", () => {
    test("normalizes case, whitespace, punctuation, width and zero-width characters", () => {
        expect(normalizeForDedup("  What IS  the\tcapital,\nof France?! ")).toBe("what is the capital of france");
        expect(normalizeForDedup("ＡＢＣ\u200b def")).toBe("abc def");
        expect(normalizeForDedup("2+2=4")).toBe("2+2=4");
        expect(normalizeForDedup("café")).toBe("café");
        expect(normalizeForDedup("cafe\u0301")).toBe("café");
    });

    test("finds exact and normalized duplicates", () => {
        const dedup = new Deduper();
        expect(dedup.add("What is the capital of France?")).toBe(true);
        expect(dedup.match("What is the capital of France?")).toBe("exact");
        expect(dedup.match("what is the capital of france")).toBe("normalized");
        expect(dedup.has("WHAT is the capital of   France!")).toBe(true);
        expect(dedup.add("what is the capital of france")).toBe(false);
        expect(dedup.add("What is the capital of Spain?")).toBe(true);
        expect(dedup.size).toBe(2);
    });

    test("punctuation-only texts are matched exactly only", () => {
        const dedup = new Deduper(["???"]);
        expect(dedup.has("???")).toBe(true);
        expect(dedup.has("!!!")).toBe(false);
        expect(dedup.add("!!!")).toBe(true);
    });

    test("can be seeded with earlier texts (resume)", () => {
        const dedup = new Deduper(["Tell me a joke.", "Tell me a joke!"]);
        expect(dedup.size).toBe(1);
        expect(dedup.add("tell me a joke")).toBe(false);
    });
});
