// JSON Schema (draft 2020-12) of one `trl` row: TRL's conversational preference type with an
// explicit prompt, which `DPOTrainer` loads as is (it applies the model's chat template itself).
// Source: https://huggingface.co/docs/trl/dataset_formats ("Preference", conversational column:
// {"prompt": [{"role": "user", ...}], "chosen": [{"role": "assistant", ...}], "rejected": [...]}).
// icon2 rows are single-turn, so the schema is exactly that shape; extra columns are rejected because
// they are where trainers disagree (TRL passes them through to the collator, others drop them).
import {roleMessage} from "./message.js";

export const trlSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "urn:icon2:schema:trl",
    title: "icon2 trl row (TRL conversational preference, explicit prompt)",
    type: "object",
    required: ["prompt", "chosen", "rejected"],
    additionalProperties: false,
    properties: {
        prompt: {
            type: "array",
            prefixItems: [{$ref: "#/$defs/userMessage"}],
            items: false,
            minItems: 1
        },
        chosen: {$ref: "#/$defs/completion"},
        rejected: {$ref: "#/$defs/completion"}
    },
    $defs: {
        userMessage: roleMessage("user"),
        assistantMessage: roleMessage("assistant"),
        completion: {
            type: "array",
            prefixItems: [{$ref: "#/$defs/assistantMessage"}],
            items: false,
            minItems: 1
        }
    }
} as const;
