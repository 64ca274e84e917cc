// The model's own chat template: rendering conversations, and deriving the Magpie pre-query prefix
// (METHOD.md §2) and the turn markers used as stop strings, all from the template itself rather than
// from a hard-coded table. Plain functions over plain data: callers pass the Jinja source and the
// special-token texts they read from the GGUF; no engine is needed here.
import fs from "node:fs";
import {Environment, Interpreter, Template} from "@huggingface/jinja";

export interface ChatTemplate {
    /** Jinja source */
    source: string;
    /** where it came from, for messages: "GGUF tokenizer.chat_template", a file path, or `builtin "name"` */
    origin: string;
    /** text of the BOS token ("" if the model has none); exposed to the template as `bos_token` */
    bosToken: string;
    /** text of the EOS token; exposed to the template as `eos_token` */
    eosToken: string;
}

export type ChatMessage = {role: "system" | "user" | "assistant"; content: string};

/** Special-token texts a template needs, as read from the model (`tokenizer.ggml.bos_token_id` etc.). */
export interface SpecialTokenTexts {
    bosToken: string;
    eosToken: string;
}

export const ggufTemplateOrigin = "GGUF tokenizer.chat_template";

/**
 * The date every render sees (26 Jul 2024, the default the Llama-3.1 template itself falls back to),
 * both as `date_string` and through `strftime_now`. Fixed so the same inputs always render the same
 * text: a dataset built today and rebuilt tomorrow must not differ in its prompts.
 */
export const templateDate = {year: 2024, month: 7, day: 26} as const;

/** Separator placed between a system prompt and the first user message when the template has no system role. */
export const systemMergeSeparator = "\n\n";

/**
 * Templates shipped with icon2, for models whose GGUF carries no template (`--chat-template NAME`).
 * Each follows the published format of its family:
 * - `chatml`: `<|im_start|>role\n...<|im_end|>\n` (Qwen, many fine-tunes), no default system prompt.
 * - `llama3`: Llama-3 Instruct (`<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>`), BOS first.
 * - `mistral`: `[INST] ... [/INST]` turns, BOS first, EOS after each answer; no system role (icon2 merges it
 *   into the first user message).
 * - `gemma`: `<start_of_turn>user|model\n...<end_of_turn>\n`, BOS first; no system role (merged likewise).
 * - `phi3`: `<|system|>`, `<|user|>`, `<|assistant|>` headers, each turn closed by `<|end|>\n`.
 * - `plain`: text only, no special tokens, for base models such as stories260K:
 *   `System: ...\nUser: ...\nAssistant: ...\n`, with `Assistant:` as the generation prompt (no trailing
 *   space, so the model's own first token carries the space, as SentencePiece vocabularies expect).
 */
export const builtinTemplates: Readonly<Record<string, string>> = Object.freeze({
    chatml:
        "{%- for message in messages %}" +
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}" +
        "{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
    llama3:
        "{{- bos_token }}" +
        "{%- for message in messages %}" +
        "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
        "{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
    mistral:
        "{{- bos_token }}" +
        "{%- for message in messages %}" +
        "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
        "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}" +
        "{%- endif %}" +
        "{%- if message['role'] == 'user' %}{{- '[INST] ' + message['content'] | trim + ' [/INST]' }}" +
        "{%- else %}{{- ' ' + message['content'] | trim + eos_token }}{%- endif %}" +
        "{%- endfor %}",
    gemma:
        "{{- bos_token }}" +
        "{%- if messages[0]['role'] == 'system' %}{{- raise_exception('System role not supported') }}{%- endif %}" +
        "{%- for message in messages %}" +
        "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
        "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}" +
        "{%- endif %}" +
        "{%- if message['role'] == 'assistant' %}{%- set role = 'model' %}{%- else %}{%- set role = message['role'] %}{%- endif %}" +
        "{{- '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}" +
        "{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}",
    phi3:
        "{%- for message in messages %}" +
        "{{- '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}" +
        "{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}",
    plain:
        "{%- for message in messages %}" +
        "{%- if message['role'] == 'system' %}{{- 'System: ' + message['content'] | trim + '\\n' }}" +
        "{%- elif message['role'] == 'user' %}{{- 'User: ' + message['content'] | trim + '\\n' }}" +
        "{%- else %}{{- 'Assistant: ' + message['content'] | trim + '\\n' }}{%- endif %}" +
        "{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- 'Assistant:' }}{%- endif %}"
});

function builtinNames(): string {
    return Object.keys(builtinTemplates).join(", ");
}

/** A ChatTemplate for a builtin name; throws listing the names when unknown. */
export function builtinChatTemplate(name: string, tokens: SpecialTokenTexts): ChatTemplate {
    if (!Object.hasOwn(builtinTemplates, name))
        throw new Error(`unknown chat template "${name}": not a readable file and not a builtin name (builtin: ${builtinNames()})`);
    return {source: builtinTemplates[name], origin: `builtin "${name}"`, bosToken: tokens.bosToken, eosToken: tokens.eosToken};
}

/**
 * Resolves `--chat-template FILE|NAME`. An existing path is read as Jinja source (its origin is the
 * path); anything else must be a builtin name. The template is parsed right away so a syntax error is
 * reported at load time, naming the file.
 */
export function loadChatTemplate(spec: string, tokens: SpecialTokenTexts): ChatTemplate {
    if (spec === "")
        throw new Error(`--chat-template is empty; pass a Jinja file or a builtin name (builtin: ${builtinNames()})`);
    if (fs.existsSync(spec)) {
        let source: string;
        try {
            source = fs.readFileSync(spec, "utf8");
        } catch (error) {
            throw new Error(`cannot read chat template file ${spec}: ${(error as Error).message}`, {cause: error});
        }
        const template: ChatTemplate = {source, origin: spec, bosToken: tokens.bosToken, eosToken: tokens.eosToken};
        parseTemplate(template);
        return template;
    }
    if (Object.hasOwn(builtinTemplates, spec))
        return builtinChatTemplate(spec, tokens);
    // A spec that looks like a path was most likely meant as one: say the file is missing.
    if (/[/\\]|\.jinja2?$|\.j2$|\.txt$/.test(spec))
        throw new Error(`chat template file not found: ${spec} (or pass a builtin name: ${builtinNames()})`);
    return builtinChatTemplate(spec, tokens);
}

/**
 * The template to use for a model: `override` (`--chat-template FILE|NAME`) wins, else the GGUF's
 * `tokenizer.chat_template`; a model with neither is an error that says what to pass.
 */
export function requireChatTemplate(
    ggufTemplate: string | null,
    override: string | undefined,
    modelName: string,
    tokens: SpecialTokenTexts,
    /** the flag that sets `override`, named in the error */
    flag = "--chat-template"
): ChatTemplate {
    if (override !== undefined)
        return loadChatTemplate(override, tokens);
    if (ggufTemplate === null || ggufTemplate.trim() === "")
        throw new Error(`model ${modelName} has no chat template; pass ${flag} FILE|NAME (builtin: ${builtinNames()})`);
    const template: ChatTemplate = {source: ggufTemplate, origin: ggufTemplateOrigin, bosToken: tokens.bosToken, eosToken: tokens.eosToken};
    parseTemplate(template);
    return template;
}

// ---------------------------------------------------------------------------------------------------
// rendering

// Parsed once per source: stages render one template thousands of times (every stimulus, every instruction).
const parsedTemplates = new Map<string, Template>();

function templateError(template: ChatTemplate, action: string, error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    return new Error(`chat template (${template.origin}): ${action}: ${message}`, {cause: error});
}

function parseTemplate(template: ChatTemplate): Template {
    let parsed = parsedTemplates.get(template.source);
    if (parsed === undefined) {
        try {
            parsed = new Template(template.source);
        } catch (error) {
            throw templateError(template, "syntax error", error);
        }
        parsedTemplates.set(template.source, parsed);
    }
    return parsed;
}

const monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** strftime over `templateDate` at 00:00:00, English names, independent of the host's locale and clock. */
function fixedStrftime(format: unknown): string {
    const {year, month, day} = templateDate;
    const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
    const pad2 = (n: number) => String(n).padStart(2, "0");
    return String(format).replace(/%[a-zA-Z%]/g, (token) => {
        switch (token) {
            case "%Y": return String(year);
            case "%y": return pad2(year % 100);
            case "%m": return pad2(month);
            case "%d": return pad2(day);
            case "%e": return String(day).padStart(2, " ");
            case "%b": return monthNames[month - 1].slice(0, 3);
            case "%B": return monthNames[month - 1];
            case "%a": return dayNames[weekday].slice(0, 3);
            case "%A": return dayNames[weekday];
            case "%H": case "%M": case "%S": return "00";
            case "%%": return "%";
            default: return token;
        }
    });
}

/** Python's range(start, stop, step) / range(stop), as Jinja templates use it in loops. */
function jinjaRange(start: number, stop?: number, step = 1): number[] {
    if (stop === undefined)
        [start, stop] = [0, start];
    if (step === 0)
        throw new Error("range() step must not be zero");
    const result: number[] = [];
    for (let i = start; step > 0 ? i < stop : i > stop; i += step)
        result.push(i);
    return result;
}

/**
 * Renders exactly what the template emits for these messages; no system fallback here. Variables
 * follow the transformers convention: `messages`, `add_generation_prompt`, `bos_token`, `eos_token`;
 * `tools` and friends stay undefined (icon2 never uses tools); `date_string` and `strftime_now` give
 * the fixed `templateDate`; `raise_exception` comes from the engine and throws.
 */
function renderRaw(template: ChatTemplate, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    const parsed = parseTemplate(template);
    try {
        // Template.render() would declare the engine's clock-reading strftime_now and refuse a
        // replacement, so the same globals are declared here (engine 0.5.x setupGlobals) with a fixed one.
        const env = new Environment();
        const globals: Record<string, unknown> = {
            false: false, true: true, none: null, False: false, True: true, None: null,
            raise_exception: (message: unknown) => {
                throw new Error(String(message));
            },
            range: jinjaRange,
            strftime_now: fixedStrftime,
            messages: messages.map((message) => ({role: message.role, content: message.content})),
            add_generation_prompt: addGenerationPrompt,
            bos_token: template.bosToken,
            eos_token: template.eosToken,
            date_string: fixedStrftime("%d %b %Y")
        };
        for (const [name, value] of Object.entries(globals))
            env.set(name, value);
        const result = new Interpreter(env).run(parsed.parsed).value;
        if (typeof result !== "string")
            throw new Error(`rendered to ${typeof result}, not text`);
        return result;
    } catch (error) {
        throw templateError(template, "render failed", error);
    }
}

// Probe texts: letters and digits only, so no template's `trim`, escaping or whitespace control can
// change them, and none is a substring of another.
const systemSentinel = "ICON2PROBESYSTEMX";
const userSentinel = "ICON2PROBEUSERX";
const assistantSentinel = "ICON2PROBEASSISTANTX";
const secondUserSentinel = "ICON2PROBEFOLLOWUPX";

function cacheKey(template: ChatTemplate): string {
    return JSON.stringify([template.source, template.bosToken, template.eosToken]);
}

const systemSupport = new Map<string, boolean>();

/**
 * Whether the template has a usable system role: rendering [system, user] neither raises nor loses
 * the system text. False for Gemma (raises "System role not supported") and for templates that
 * silently skip system messages (e.g. the phi-3 template in llama.cpp's vocab GGUF).
 */
export function supportsSystemRole(template: ChatTemplate): boolean {
    const key = cacheKey(template);
    let supported = systemSupport.get(key);
    if (supported === undefined) {
        parseTemplate(template); // a syntax error is the template's fault, not a missing system role
        try {
            const text = renderRaw(template, [{role: "system", content: systemSentinel}, {role: "user", content: userSentinel}], true);
            supported = text.includes(systemSentinel);
        } catch {
            supported = false;
        }
        systemSupport.set(key, supported);
    }
    return supported;
}

/**
 * Renders a conversation with the model's template.
 *
 * System prompts are never dropped. A leading system message is passed as a system role when the
 * template supports one (`supportsSystemRole`); otherwise its text is prepended to the first user
 * message, joined by `systemMergeSeparator` (what llama.cpp and the model cards do for Gemma/Mistral).
 * In both cases the output is checked to contain the trimmed system text, and a template that still
 * loses it is an error. A system message anywhere but first requires the system role.
 *
 * The text may start with the BOS text (many templates emit `{{ bos_token }}`); pass it through
 * `splitLeadingBos` before tokenizing so BOS ends up in the tokens exactly once.
 * Errors (Jinja syntax, `raise_exception`) name the template's origin.
 */
export function renderChat(template: ChatTemplate, messages: readonly ChatMessage[], options: {addGenerationPrompt: boolean}): string {
    if (messages.length === 0)
        throw new Error(`chat template (${template.origin}): renderChat needs at least one message`);
    const systemMessages = messages.filter((message) => message.role === "system");
    let toRender = messages;
    if (systemMessages.length > 0 && !supportsSystemRole(template)) {
        if (messages.findIndex((message, index) => message.role === "system" && index > 0) >= 0)
            throw new Error(`chat template (${template.origin}) has no system role, so only a leading system message can be kept (merged into the first user message)`);
        const system = messages[0];
        const rest = messages.slice(1);
        if (rest.length === 0 || rest[0].role !== "user")
            throw new Error(`chat template (${template.origin}) has no system role and the system message is not followed by a user message to merge it into`);
        toRender = system.content.trim() === ""
            ? rest
            : [{role: "user", content: system.content + systemMergeSeparator + rest[0].content}, ...rest.slice(1)];
    }
    const text = renderRaw(template, toRender, options.addGenerationPrompt);
    for (const system of systemMessages) {
        if (!text.includes(system.content.trim()))
            throw new Error(`chat template (${template.origin}) dropped the system message from the rendered text`);
    }
    return text;
}

/**
 * Splits a leading BOS text off rendered text. Tokenize the returned `text` with
 * `addBos = hasBos || llama_vocab_get_add_bos(vocab)`: a BOS the template wrote becomes the BOS token
 * exactly once (never a second one from the tokenizer, never the BOS text parsed as a special token
 * next to an added one), and a template that writes none gets the vocabulary's default.
 */
export function splitLeadingBos(text: string, template: ChatTemplate): {text: string; hasBos: boolean} {
    if (template.bosToken !== "" && text.startsWith(template.bosToken))
        return {text: text.slice(template.bosToken.length), hasBos: true};
    return {text, hasBos: false};
}

/**
 * The Magpie pre-query template (METHOD.md §2): everything the template emits before the text of a
 * first user message, with no system message (so a template's default system block, e.g. Qwen2.5's
 * "You are Qwen..." or Llama-3.1's "Cutting Knowledge Date" block, is included, as the model saw it in
 * training). Derived by rendering one user message holding a sentinel and cutting at it. Includes the
 * BOS text when the template writes one; see `splitLeadingBos`.
 */
export function preQueryPrefix(template: ChatTemplate): string {
    const text = renderRaw(template, [{role: "user", content: userSentinel}], true);
    const at = text.indexOf(userSentinel);
    if (at < 0)
        throw new Error(`chat template (${template.origin}) does not render the user message, so no pre-query prefix can be derived`);
    if (text.indexOf(userSentinel, at + 1) >= 0)
        throw new Error(`chat template (${template.origin}) renders the user message more than once, so the pre-query prefix is ambiguous`);
    return text.slice(0, at);
}

// Units that look like special tokens: <|eot_id|>, <｜User｜> (DeepSeek's fullwidth bar), <|turn>, <turn|>,
// <start_of_turn>, </s>, [INST], [/INST].
const specialTokenPattern = /<[|｜]?\/?[^<>\s|｜]+[|｜]?>|\[\/?[A-Z][A-Z_]*\]/g;
// Reasoning tags sit inside the assistant's turn, not between turns; as stop strings they would cut a
// reasoning model's answer short.
const reasoningTagPattern = /think|thought|channel/i;

/**
 * Text markers that show the model ended its turn or started a new one, for use as stop strings while
 * it writes a user query (synthesis) or an answer. Derived from the scaffolding the template puts
 * between message texts in [system?, user, assistant, user] + generation prompt: every special-token-
 * like unit there (`<|eot_id|>`, `<|im_start|>`, `[INST]`), except reasoning tags (`<think>`); a
 * template with no such units (the plain builtin) gives its non-blank scaffolding lines that are more
 * than a bare role word (`User:`). Markers that contain a shorter marker are dropped, since the shorter
 * one always matches first. Text before the first message (BOS, default system prompts such as
 * Llama-3.1's date block) is not scaffolding between turns and is not used. Returns [] for a template
 * that puts nothing visible between turns.
 */
export function turnMarkers(template: ChatTemplate): string[] {
    const withSystem = supportsSystemRole(template);
    const probe: ChatMessage[] = [
        ...(withSystem ? [{role: "system" as const, content: systemSentinel}] : []),
        {role: "user", content: userSentinel},
        {role: "assistant", content: assistantSentinel},
        {role: "user", content: secondUserSentinel}
    ];
    let text: string;
    let sentinels: string[];
    try {
        text = renderRaw(template, probe, true);
        sentinels = probe.map((message) => message.content);
    } catch {
        // Some templates reject multi-turn history; one user turn still shows the end-of-user and
        // assistant-header scaffolding.
        text = renderRaw(template, [{role: "user", content: userSentinel}], true);
        sentinels = [userSentinel];
    }
    // Templates may reorder messages (Mistral puts the system text in the last user turn), so cut at
    // sentinel positions sorted by where they occur.
    const spans = sentinels
        .map((sentinel) => ({start: text.indexOf(sentinel), end: text.indexOf(sentinel) + sentinel.length}))
        .filter((span) => span.start >= 0)
        .sort((a, b) => a.start - b.start);
    const segments: string[] = [];
    for (let i = 0; i < spans.length; i++)
        segments.push(text.slice(spans[i].end, i + 1 < spans.length ? spans[i + 1].start : text.length));

    const candidates = new Set<string>();
    for (const segment of segments) {
        for (const match of segment.matchAll(specialTokenPattern)) {
            if (!reasoningTagPattern.test(match[0]))
                candidates.add(match[0]);
        }
    }
    // Only text-only templates fall back to lines: in the others, scaffolding lines are default
    // system text ("Reasoning: high") rather than turn boundaries.
    if (candidates.size === 0) {
        for (const segment of segments) {
            for (const line of segment.split("\n")) {
                const trimmed = line.trim();
                if (trimmed !== "" && !/^[A-Za-z]+$/.test(trimmed) && !reasoningTagPattern.test(trimmed))
                    candidates.add(trimmed);
            }
        }
    }
    const all = [...candidates];
    return all.filter((marker) => !all.some((other) => other !== marker && marker.includes(other)));
}
