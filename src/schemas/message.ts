// One chat message of a given role with non-empty text, in the two spellings trainers use:
// OpenAI-style {role, content} (TRL, distilabel) and ShareGPT-style {from, value} (LLaMA-Factory).
export function roleMessage<R extends string>(role: R) {
    return {
        type: "object",
        required: ["role", "content"],
        additionalProperties: false,
        properties: {role: {const: role}, content: {type: "string", minLength: 1}}
    } as const;
}

export function shareGptMessage<F extends string>(from: F) {
    return {
        type: "object",
        required: ["from", "value"],
        additionalProperties: false,
        properties: {from: {const: from}, value: {type: "string", minLength: 1}}
    } as const;
}
