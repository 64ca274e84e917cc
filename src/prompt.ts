// Rendered chat text → tokens, with BOS exactly once.
import {renderChat, requireChatTemplate, splitLeadingBos, type ChatTemplate} from "./chat.js";
import type {Model} from "./engine/index.js";

/**
 * Templates often write the BOS text themselves while llama.cpp's tokenizer may add BOS too; this
 * strips the written one and adds the token once when either the template or the vocabulary asks.
 */
export function tokenizePrompt(model: Model, template: ChatTemplate, text: string): Int32Array {
    const {text: rest, hasBos} = splitLeadingBos(text, template);
    const body = model.tokenize(rest, {addBos: false, special: true});
    const {bos, addBos} = model.info;
    if (bos === null || !(hasBos || addBos))
        return body;
    const out = new Int32Array(body.length + 1);
    out[0] = bos;
    out.set(body, 1);
    return out;
}

/** The model's chat template, or the `--chat-template` override; a clear error when it has neither. */
export function modelChatTemplate(model: Model, override: string | undefined, flag = "--chat-template"): ChatTemplate {
    const {bos, eos, chatTemplate, name, path} = model.info;
    const tokens = {bosToken: bos === null ? "" : model.tokenText(bos), eosToken: eos === null ? "" : model.tokenText(eos)};
    return requireChatTemplate(chatTemplate, override, name || path, tokens, flag);
}

/** An instruction as the only user turn, generation prompt appended: how stages 2b and 3 (and the judge's callers) show it to the model. */
export function userTurnPrompt(template: ChatTemplate, instruction: string): string {
    return renderChat(template, [{role: "user", content: instruction}], {addGenerationPrompt: true});
}
