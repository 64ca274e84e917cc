// Chat templates against the real templates llama.cpp ships (models/templates/*.jinja, from the pinned
// source) and the templates inside its vocab-only GGUF files; expected texts are written out literally.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {gguf} from "@huggingface/gguf";
import {afterAll, describe, expect, test} from "vitest";
import {llamaSourceDir} from "../../scripts/llama-source.mjs";
import {
    builtinChatTemplate,
    builtinTemplates,
    ggufTemplateOrigin,
    loadChatTemplate,
    preQueryPrefix,
    renderChat,
    requireChatTemplate,
    splitLeadingBos,
    supportsSystemRole,
    turnMarkers,
    type ChatMessage,
    type ChatTemplate
} from "../../src/chat.js";

const modelsDir = path.join(llamaSourceDir(), "models");

function realTemplate(name: string, bosToken: string, eosToken: string): ChatTemplate {
    const file = path.join(modelsDir, "templates", `${name}.jinja`);
    return {source: fs.readFileSync(file, "utf8"), origin: file, bosToken, eosToken};
}

async function ggufTemplate(file: string): Promise<ChatTemplate> {
    // The typed metadata union does not index by arbitrary keys; these are plain GGUF KVs.
    const metadata = (await gguf(path.join(modelsDir, file), {allowLocalFile: true})).metadata as Record<string, unknown>;
    const tokens = metadata["tokenizer.ggml.tokens"] as string[];
    const source = metadata["tokenizer.chat_template"];
    if (typeof source !== "string")
        throw new Error(`${file} carries no tokenizer.chat_template`);
    return {
        source,
        origin: ggufTemplateOrigin,
        bosToken: tokens[metadata["tokenizer.ggml.bos_token_id"] as number],
        eosToken: tokens[metadata["tokenizer.ggml.eos_token_id"] as number]
    };
}

const llama31 = realTemplate("meta-llama-Llama-3.1-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>");
const llama32 = realTemplate("meta-llama-Llama-3.2-3B-Instruct", "<|begin_of_text|>", "<|eot_id|>");
const qwen25 = realTemplate("Qwen-Qwen2.5-7B-Instruct", "", "<|im_end|>");
const mistralNemo = realTemplate("mistralai-Mistral-Nemo-Instruct-2407", "<s>", "</s>");
const gemma2 = realTemplate("google-gemma-2-2b-it", "<bos>", "<eos>");
const phi35 = realTemplate("microsoft-Phi-3.5-mini-instruct", "<s>", "<|endoftext|>");
const noTokens = {bosToken: "", eosToken: ""};

const systemAndUser: ChatMessage[] = [{role: "system", content: "Be kind."}, {role: "user", content: "Hi there"}];

// The Llama-3.x system block with the fixed render date.
const llamaSystemHeader =
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

describe("real templates from llama.cpp", () => {
    const cases: {template: ChatTemplate; prefix: string; markers: string[]; system: boolean}[] = [
        {
            template: llama31,
            prefix: llamaSystemHeader + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
            markers: ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
            system: true
        },
        {
            template: llama32,
            prefix: llamaSystemHeader + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
            markers: ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
            system: true
        },
        {
            template: qwen25,
            prefix: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
            markers: ["<|im_end|>", "<|im_start|>"],
            system: true
        },
        {template: mistralNemo, prefix: "<s>[INST]", markers: ["[/INST]", "</s>", "[INST]"], system: true},
        {template: gemma2, prefix: "<bos><start_of_turn>user\n", markers: ["<end_of_turn>", "<start_of_turn>"], system: false},
        {template: phi35, prefix: "<|user|>\n", markers: ["<|end|>", "<|user|>", "<|assistant|>"], system: true}
    ];
    for (const {template, prefix, markers, system} of cases) {
        const name = path.basename(template.origin);
        test(`${name}: pre-query prefix`, () => {
            expect(preQueryPrefix(template)).toBe(prefix);
        });
        test(`${name}: turn markers`, () => {
            expect(turnMarkers(template)).toEqual(markers);
        });
        test(`${name}: system role support`, () => {
            expect(supportsSystemRole(template)).toBe(system);
        });
        test(`${name}: rendering is deterministic and keeps the system prompt`, () => {
            const first = renderChat(template, systemAndUser, {addGenerationPrompt: true});
            expect(renderChat(template, systemAndUser, {addGenerationPrompt: true})).toBe(first);
            expect(first).toContain("Be kind.");
            expect(first).toContain("Hi there");
        });
    }

    test("Llama-3.1 renders system + user + generation prompt exactly", () => {
        expect(renderChat(llama31, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" +
                "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
                "Be kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
                "Hi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    });

    test("Llama-3.1 renders a finished exchange without generation prompt", () => {
        const messages: ChatMessage[] = [{role: "user", content: " Hi there \n"}, {role: "assistant", content: "Hello!"}];
        expect(renderChat(llama31, messages, {addGenerationPrompt: false})).toBe(
            llamaSystemHeader +
                "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
                "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        );
    });

    test("Llama-3.2 uses strftime_now, which renders the fixed date too", () => {
        expect(llama32.source).toContain("strftime_now");
        expect(renderChat(llama32, systemAndUser, {addGenerationPrompt: true})).toBe(
            renderChat(llama31, systemAndUser, {addGenerationPrompt: true})
        );
    });

    test("Qwen2.5 renders system + user + generation prompt exactly", () => {
        expect(renderChat(qwen25, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
        );
    });

    test("Qwen2.5 without a system message injects its default one", () => {
        expect(renderChat(qwen25, [{role: "user", content: "Hi there"}], {addGenerationPrompt: true})).toBe(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
                "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
        );
    });

    test("Mistral-Nemo puts the system text into the last user turn itself", () => {
        expect(renderChat(mistralNemo, systemAndUser, {addGenerationPrompt: true})).toBe("<s>[INST]Be kind.\n\nHi there[/INST]");
    });

    test("Phi-3.5 renders system + user + generation prompt exactly", () => {
        expect(renderChat(phi35, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<|system|>\nBe kind.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\n"
        );
    });

    test("Gemma 2 raises on a system role; renderChat merges it into the first user message", () => {
        expect(renderChat(gemma2, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<bos><start_of_turn>user\nBe kind.\n\nHi there<end_of_turn>\n<start_of_turn>model\n"
        );
        const exchange: ChatMessage[] = [...systemAndUser, {role: "assistant", content: "Hello!"}, {role: "user", content: "Bye"}];
        expect(renderChat(gemma2, exchange, {addGenerationPrompt: false})).toBe(
            "<bos><start_of_turn>user\nBe kind.\n\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n" +
                "<start_of_turn>user\nBye<end_of_turn>\n"
        );
    });

    test("Gemma 2 cannot keep a system message that is not first", () => {
        const messages: ChatMessage[] = [{role: "user", content: "Hi"}, {role: "system", content: "Be kind."}];
        expect(() => renderChat(gemma2, messages, {addGenerationPrompt: true})).toThrow(/has no system role/);
    });

    test("raise_exception surfaces with the template's origin", () => {
        const messages: ChatMessage[] = [{role: "user", content: "a"}, {role: "user", content: "b"}];
        let message = "";
        try {
            renderChat(gemma2, messages, {addGenerationPrompt: true});
        } catch (error) {
            message = (error as Error).message;
        }
        expect(message).toContain(gemma2.origin);
        expect(message).toContain("Conversation roles must alternate user/assistant/user/assistant/...");
    });
});

describe("reasoning-model templates", () => {
    test("DeepSeek-R1 distill: fullwidth-bar tokens are markers, <think> is not", () => {
        const template = realTemplate("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
        expect(preQueryPrefix(template)).toBe("<｜begin▁of▁sentence｜><｜User｜>");
        expect(turnMarkers(template)).toEqual(["<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"]);
        expect(renderChat(template, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<｜begin▁of▁sentence｜>Be kind.<｜User｜>Hi there<｜Assistant｜><think>\n</think>"
        );
    });

    test("Qwen3: markers skip the thinking tags of the generation prompt", () => {
        const template = realTemplate("Qwen-Qwen3-0.6B", "", "<|im_end|>");
        expect(preQueryPrefix(template)).toBe("<|im_start|>user\n");
        expect(turnMarkers(template)).toEqual(["<|im_end|>", "<|im_start|>"]);
    });
});

describe("templates inside llama.cpp's vocab GGUF files", () => {
    test("qwen2 vocab: ChatML with its own default system prompt", async () => {
        const template = await ggufTemplate("ggml-vocab-qwen2.gguf");
        expect(template.bosToken).toBe("<|endoftext|>");
        expect(preQueryPrefix(template)).toBe("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n");
        expect(renderChat(template, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
        );
        expect(turnMarkers(template)).toEqual(["<|im_end|>", "<|im_start|>"]);
        // Qwen's BOS text is <|endoftext|>, which the template never writes.
        expect(splitLeadingBos(preQueryPrefix(template), template).hasBos).toBe(false);
    });

    test("phi-3 vocab: the template silently skips system messages, so the system text is merged", async () => {
        const template = await ggufTemplate("ggml-vocab-phi-3.gguf");
        expect(supportsSystemRole(template)).toBe(false);
        expect(renderChat(template, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<s><|user|>\nBe kind.\n\nHi there<|end|>\n<|assistant|>\n"
        );
        expect(preQueryPrefix(template)).toBe("<s><|user|>\n");
        expect(turnMarkers(template)).toEqual(["<|end|>", "<|assistant|>", "<|user|>"]);
        expect(splitLeadingBos(preQueryPrefix(template), template)).toEqual({text: "<|user|>\n", hasBos: true});
    });
});

describe("builtin templates", () => {
    const tokens = {bosToken: "<s>", eosToken: "</s>"};

    test("plain: text-only turns for base models", () => {
        const plain = builtinChatTemplate("plain", tokens);
        expect(renderChat(plain, systemAndUser, {addGenerationPrompt: true})).toBe("System: Be kind.\nUser: Hi there\nAssistant:");
        expect(renderChat(plain, [{role: "user", content: "Hi"}, {role: "assistant", content: " Hello! "}], {addGenerationPrompt: false})).toBe(
            "User: Hi\nAssistant: Hello!\n"
        );
        expect(preQueryPrefix(plain)).toBe("User: ");
        expect(turnMarkers(plain)).toEqual(["User:", "Assistant:"]);
        expect(splitLeadingBos(preQueryPrefix(plain), plain).hasBos).toBe(false);
    });

    test("chatml", () => {
        const chatml = builtinChatTemplate("chatml", noTokens);
        expect(renderChat(chatml, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
        );
        expect(preQueryPrefix(chatml)).toBe("<|im_start|>user\n");
        expect(turnMarkers(chatml)).toEqual(["<|im_end|>", "<|im_start|>"]);
    });

    test("llama3 gives the Llama-3 pre-query template of METHOD.md §2", () => {
        const llama3 = builtinChatTemplate("llama3", {bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>"});
        expect(preQueryPrefix(llama3)).toBe("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n");
        expect(renderChat(llama3, systemAndUser, {addGenerationPrompt: true})).toBe(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|>" +
                "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    });

    test("mistral and gemma have no system role: merged", () => {
        expect(renderChat(builtinChatTemplate("mistral", tokens), systemAndUser, {addGenerationPrompt: true})).toBe(
            "<s>[INST] Be kind.\n\nHi there [/INST]"
        );
        expect(renderChat(builtinChatTemplate("gemma", {bosToken: "<bos>", eosToken: "<eos>"}), systemAndUser, {addGenerationPrompt: true})).toBe(
            renderChat(gemma2, systemAndUser, {addGenerationPrompt: true})
        );
    });

    test("phi3 matches the real Phi-3.5 template", () => {
        const phi3 = builtinChatTemplate("phi3", tokens);
        const exchange: ChatMessage[] = [...systemAndUser, {role: "assistant", content: "Hello!"}, {role: "user", content: "Bye"}];
        expect(renderChat(phi3, exchange, {addGenerationPrompt: true})).toBe(renderChat(phi35, exchange, {addGenerationPrompt: true}));
    });

    test("every builtin renders, has a prefix and markers", () => {
        expect(Object.keys(builtinTemplates)).toEqual(["chatml", "llama3", "mistral", "gemma", "phi3", "plain"]);
        for (const name of Object.keys(builtinTemplates)) {
            const template = builtinChatTemplate(name, tokens);
            expect(preQueryPrefix(template)).not.toContain("ICON2");
            expect(turnMarkers(template).length).toBeGreaterThan(0);
            expect(renderChat(template, systemAndUser, {addGenerationPrompt: true})).toContain("Be kind.");
        }
    });
});

describe("BOS", () => {
    test("a template that writes BOS: split it off, tokenize with addBos", () => {
        expect(splitLeadingBos(preQueryPrefix(llama31), llama31)).toEqual({
            text: llamaSystemHeader.slice("<|begin_of_text|>".length) + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
            hasBos: true
        });
        expect(splitLeadingBos(renderChat(gemma2, systemAndUser, {addGenerationPrompt: true}), gemma2).hasBos).toBe(true);
    });

    test("a template that writes none, or a model without BOS", () => {
        expect(splitLeadingBos(preQueryPrefix(qwen25), qwen25)).toEqual({text: preQueryPrefix(qwen25), hasBos: false});
        expect(splitLeadingBos(preQueryPrefix(phi35), phi35).hasBos).toBe(false);
        const noBos = {...llama31, bosToken: ""};
        expect(splitLeadingBos("<|begin_of_text|>x", noBos)).toEqual({text: "<|begin_of_text|>x", hasBos: false});
    });
});

describe("loading and errors", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-chat-"));
    afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

    test("a file path is read, with the path as origin", () => {
        const file = path.join(tmp, "chatml.jinja");
        fs.writeFileSync(file, builtinTemplates.chatml);
        const template = loadChatTemplate(file, noTokens);
        expect(template).toEqual({source: builtinTemplates.chatml, origin: file, bosToken: "", eosToken: ""});
    });

    test("a builtin name", () => {
        expect(loadChatTemplate("plain", {bosToken: "<s>", eosToken: "</s>"})).toEqual({
            source: builtinTemplates.plain,
            origin: 'builtin "plain"',
            bosToken: "<s>",
            eosToken: "</s>"
        });
    });

    test("an unknown name lists the builtins", () => {
        expect(() => loadChatTemplate("vicuna", noTokens)).toThrow(
            'unknown chat template "vicuna": not a readable file and not a builtin name (builtin: chatml, llama3, mistral, gemma, phi3, plain)'
        );
    });

    test("a missing file says so", () => {
        const file = path.join(tmp, "missing.jinja");
        expect(() => loadChatTemplate(file, noTokens)).toThrow(`chat template file not found: ${file}`);
    });

    test("an unreadable file says so", () => {
        expect(() => loadChatTemplate(tmp, noTokens)).toThrow(`cannot read chat template file ${tmp}`);
    });

    test("a Jinja syntax error names the file", () => {
        const file = path.join(tmp, "broken.jinja");
        fs.writeFileSync(file, "{% for message in messages %}{{ message['content'] }}");
        expect(() => loadChatTemplate(file, noTokens)).toThrow(`chat template (${file}): syntax error:`);
        const inline: ChatTemplate = {source: "{{ messages[0]['content'] ", origin: "inline test", bosToken: "", eosToken: ""};
        expect(() => preQueryPrefix(inline)).toThrow("chat template (inline test): syntax error:");
        expect(() => renderChat(inline, systemAndUser, {addGenerationPrompt: true})).toThrow("chat template (inline test): syntax error:");
    });

    test("requireChatTemplate: override wins, else the GGUF template, else a clear error", () => {
        expect(() => requireChatTemplate(null, undefined, "stories260K", noTokens)).toThrow(
            "model stories260K has no chat template; pass --chat-template FILE|NAME (builtin: chatml, llama3, mistral, gemma, phi3, plain)"
        );
        expect(() => requireChatTemplate("  ", undefined, "m", noTokens)).toThrow("model m has no chat template");
        expect(requireChatTemplate(null, "chatml", "m", noTokens).origin).toBe('builtin "chatml"');
        expect(requireChatTemplate(qwen25.source, "plain", "m", noTokens).origin).toBe('builtin "plain"');
        expect(requireChatTemplate(qwen25.source, undefined, "m", noTokens)).toEqual({
            source: qwen25.source,
            origin: "GGUF tokenizer.chat_template",
            bosToken: "",
            eosToken: ""
        });
        expect(() => requireChatTemplate("{% if %}", undefined, "m", noTokens)).toThrow("chat template (GGUF tokenizer.chat_template): syntax error:");
    });
});

describe("rendering rules", () => {
    const custom = (source: string): ChatTemplate => ({source, origin: "custom", bosToken: "", eosToken: ""});

    test("strftime_now and date_string give the fixed date", () => {
        expect(renderChat(custom("{{ strftime_now('%A %d %B %Y, %a %b %y %m') }}|{{ date_string }}|{{ messages[0].content }}"), [{role: "user", content: "u"}], {addGenerationPrompt: false})).toBe(
            "Friday 26 July 2024, Fri Jul 24 07|26 Jul 2024|u"
        );
    });

    test("a template that ignores system messages gets them merged into the first user message", () => {
        const userOnly = custom("{% for m in messages %}{% if m.role == 'user' %}[{{ m.content }}]{% endif %}{% endfor %}");
        expect(supportsSystemRole(userOnly)).toBe(false);
        expect(renderChat(userOnly, systemAndUser, {addGenerationPrompt: true})).toBe("[Be kind.\n\nHi there]");
        // An empty system prompt has nothing to keep.
        expect(renderChat(userOnly, [{role: "system", content: " "}, {role: "user", content: "u"}], {addGenerationPrompt: true})).toBe("[u]");
    });

    test("a template that loses the system text even after merging is an error", () => {
        const constant = custom("{{ 'nothing' }}");
        expect(() => renderChat(constant, systemAndUser, {addGenerationPrompt: true})).toThrow("chat template (custom) dropped the system message");
        expect(() => preQueryPrefix(constant)).toThrow("chat template (custom) does not render the user message");
    });

    test("a system message with nothing to merge into is an error", () => {
        expect(() => renderChat(gemma2, [{role: "system", content: "s"}], {addGenerationPrompt: true})).toThrow(/not followed by a user message/);
        expect(() => renderChat(gemma2, [], {addGenerationPrompt: true})).toThrow(/at least one message/);
    });

    test("loop controls, namespace, tojson, range and slicing work", () => {
        const source =
            "{%- set ns = namespace(n=0) %}{%- for i in range(3) %}{%- if i == 1 %}{% continue %}{% endif %}{%- set ns.n = ns.n + i %}{%- endfor %}" +
            "{{ ns.n }}|{{ messages[1:] | length }}|{{ messages[0] | tojson }}|{{ tools is defined }}";
        expect(renderChat(custom(source), [{role: "user", content: "a"}, {role: "assistant", content: "b"}], {addGenerationPrompt: false})).toBe(
            '2|1|{"role": "user", "content": "a"}|false'
        );
    });
});
