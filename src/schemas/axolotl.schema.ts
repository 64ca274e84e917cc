// JSON Schema (draft 2020-12) of one `axolotl` row: the `chatml.prompt_pairs` DPO dataset type
// (also `llama3.prompt_pairs` and `user_defined.default` with its default field names).
// Source: https://docs.axolotl.ai/docs/rlhf.html ("DPO" → "chatml.prompt_pairs":
// {"system": "..." (optional), "prompt": "...", "chosen": "...", "rejected": "..."}). The strings
// are raw text: axolotl's transform wraps them in the template itself
// (src/axolotl/prompt_strategies/dpo/chatml.py, `prompt_pairs`), so they must not carry
// template tokens.
export const axolotlSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "urn:icon2:schema:axolotl",
    title: "icon2 axolotl row (chatml.prompt_pairs)",
    type: "object",
    required: ["prompt", "chosen", "rejected"],
    additionalProperties: false,
    properties: {
        system: {type: "string"},
        prompt: {type: "string", minLength: 1},
        chosen: {type: "string", minLength: 1},
        rejected: {type: "string", minLength: 1}
    }
} as const;
