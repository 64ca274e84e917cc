// JSON Schema (draft 2020-12) of one `sharegpt` row: LLaMA-Factory's sharegpt-format preference
// dataset ("formatting": "sharegpt", "ranking": true).
// Source: https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md ("Sharegpt Format" →
// "Preference Dataset": `conversations` ends with a human turn, `chosen`/`rejected` are single
// {"from": "gpt", "value": ...} objects). The default tags (role_tag "from", content_tag "value",
// user_tag "human", assistant_tag "gpt") are used, so dataset_info.json needs no "tags" block.
// icon2 rows are single-turn: exactly one human message.
import {shareGptMessage} from "./message.js";

export const sharegptSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "urn:icon2:schema:sharegpt",
    title: "icon2 sharegpt row (LLaMA-Factory ranking, sharegpt formatting)",
    type: "object",
    required: ["conversations", "chosen", "rejected"],
    additionalProperties: false,
    properties: {
        conversations: {
            type: "array",
            prefixItems: [{$ref: "#/$defs/humanMessage"}],
            items: false,
            minItems: 1
        },
        chosen: {$ref: "#/$defs/gptMessage"},
        rejected: {$ref: "#/$defs/gptMessage"}
    },
    $defs: {
        humanMessage: shareGptMessage("human"),
        gptMessage: shareGptMessage("gpt")
    }
} as const;
