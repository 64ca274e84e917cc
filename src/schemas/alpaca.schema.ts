// JSON Schema (draft 2020-12) of one `alpaca` row: LLaMA-Factory's alpaca-format preference
// dataset, registered in dataset_info.json with "ranking": true.
// Source: https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md ("Alpaca Format" →
// "Preference Dataset": instruction (required), input (optional), chosen (required), rejected
// (required)). icon2 always writes `input` as "" so the column mapping {"query": "input"} holds.
export const alpacaSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "urn:icon2:schema:alpaca",
    title: "icon2 alpaca row (LLaMA-Factory ranking, alpaca formatting)",
    type: "object",
    required: ["instruction", "input", "chosen", "rejected"],
    additionalProperties: false,
    properties: {
        instruction: {type: "string", minLength: 1},
        input: {type: "string"},
        chosen: {type: "string", minLength: 1},
        rejected: {type: "string", minLength: 1}
    }
} as const;
