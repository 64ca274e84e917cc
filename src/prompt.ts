// Rendered chat text → tokens, with BOS exactly once.
import {splitLeadingBos, type ChatTemplate} from "./chat.js";
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
