// JSON Schema (draft 2020-12) of one `messages` row: `chosen` and `rejected` are whole
// conversations (user turn + assistant turn) and `prompt` keeps the instruction as a string, the
// layout of distilabel/Argilla preference sets such as HuggingFaceH4/ultrafeedback_binarized.
// Sources: https://huggingface.co/docs/trl/dataset_formats (conversational preference with implicit
// prompt: chosen/rejected hold the full conversation; TRL wants the string `prompt` column removed),
// https://docs.axolotl.ai/docs/rlhf.html (`chatml.argilla_chat` / `chat_template.argilla_chat`:
// "chosen": [{"role": "user", ...}, {"role": "assistant", ...}], "rejected": [...]) and
// https://huggingface.co/datasets/HuggingFaceH4/ultrafeedback_binarized (prompt string + lists).
// Single-turn, exactly as icon2 writes it; extra columns are rejected.
import {roleMessage} from "./message.js";

export const messagesSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "urn:icon2:schema:messages",
    title: "icon2 messages row (full conversations in chosen/rejected, prompt string)",
    type: "object",
    required: ["prompt", "chosen", "rejected"],
    additionalProperties: false,
    properties: {
        prompt: {type: "string", minLength: 1},
        chosen: {$ref: "#/$defs/conversation"},
        rejected: {$ref: "#/$defs/conversation"}
    },
    $defs: {
        userMessage: roleMessage("user"),
        assistantMessage: roleMessage("assistant"),
        conversation: {
            type: "array",
            prefixItems: [{$ref: "#/$defs/userMessage"}, {$ref: "#/$defs/assistantMessage"}],
            items: false,
            minItems: 2
        }
    }
} as const;
