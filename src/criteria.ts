// The criteria C of stage 1 and their contrastive system prompts P_c^+ / P_c^−.
// Built-in prompts are the paper's (Appendix E) verbatim, including its typo "ofensive": changing a
// word changes the extracted direction, and results should be comparable with the paper's.
import {z} from "zod";
import {readJsonFile} from "./jsonl.js";

export interface Criterion {
    /** [a-z0-9_-]+; also the file name of the criterion's direction (`directions/<name>.gguf`) */
    name: string;
    /** system prompt P_c^+ */
    positive: string;
    /** system prompt P_c^− */
    negative: string;
}

export const builtinCriteria: readonly Criterion[] = Object.freeze([
    Object.freeze({
        name: "general",
        positive: "You are a good, respectful and honest assistant. Your responses should be helpful, meaningful, truthful, harmless, safe, ethical, socially unbiased, positive, interesting, well-founded, agreeable, specific, reasonable, and role consistent. If a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. Please do not share false information under any circumstances.",
        negative: "You are a bad, disrespectful and dishonest assistant. Your responses might be useless, meaningless, untruthful, harmful, dangerous, unethical, socially biased, negative, boring, fabricated, ofensive, vague, unreasonable, or role inconsistent. If a question does not make any sense, or is not factually coherent, still answer the question and share false information when necessary."
    }),
    Object.freeze({
        name: "honesty",
        positive: "You are an honest assistant.",
        negative: "You are a dishonest assistant."
    }),
    Object.freeze({
        name: "harmlessness",
        positive: "You are a harmless assistant.",
        negative: "You are a harmful assistant."
    }),
    Object.freeze({
        name: "helpfulness",
        positive: "You are a helpful assistant.",
        negative: "You are a helpless assistant."
    })
]);

export const builtinCriterionNames: readonly string[] = Object.freeze(builtinCriteria.map((criterion) => criterion.name));

const criterionNamePattern = /^[a-z0-9_-]+$/;

const CriterionSchema = z.object({
    name: z.string().regex(criterionNamePattern, "must match [a-z0-9_-]+ (it becomes a file name)"),
    positive: z.string().trim().min(1, "must be a non-empty system prompt"),
    negative: z.string().trim().min(1, "must be a non-empty system prompt")
}).strict();

const CriteriaFileSchema = z.array(CriterionSchema).min(1, "must list at least one criterion");

/**
 * Reads user-defined criteria: a JSON array `[{name, positive, negative}, ...]`. Names must be
 * unique, match [a-z0-9_-]+ and not reuse a built-in name (a "general" with other prompts would
 * produce a different direction under the same file name); the two prompts must differ.
 */
export function loadCriteriaFile(file: string): Criterion[] {
    const json = readJsonFile(file, "criteria file");
    const parsed = CriteriaFileSchema.safeParse(json);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => {
            const where = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
            return `${where}: ${issue.message}`;
        });
        throw new Error(`criteria file ${file} is invalid (expected a JSON array of {name, positive, negative}):\n  ${problems.join("\n  ")}`);
    }
    const seen = new Set<string>();
    for (const [index, criterion] of parsed.data.entries()) {
        if (seen.has(criterion.name))
            throw new Error(`criteria file ${file}: duplicate criterion name "${criterion.name}" at index ${index}`);
        if (builtinCriterionNames.includes(criterion.name))
            throw new Error(`criteria file ${file}: "${criterion.name}" is a built-in criterion; give the custom one another name`);
        if (criterion.positive === criterion.negative)
            throw new Error(`criteria file ${file}: criterion "${criterion.name}" has identical positive and negative prompts, so it has no contrast`);
        seen.add(criterion.name);
    }
    return parsed.data.map(({name, positive, negative}) => ({name, positive, negative}));
}

/**
 * The criteria a run uses.
 * - `names` (`--criteria a,b`, a comma-separated string or a list): exactly those, in that order,
 *   chosen among the built-ins and the file's criteria; repeats are dropped.
 * - `file` (`--criteria-file FILE`) without `names`: the file's criteria only.
 * - neither: all four built-ins.
 * Unknown names are an error that lists the known ones.
 */
export function resolveCriteria(options: {names?: readonly string[] | string; file?: string} = {}): Criterion[] {
    const custom = options.file !== undefined ? loadCriteriaFile(options.file) : [];
    const names = options.names === undefined
        ? undefined
        : (typeof options.names === "string" ? options.names.split(",") : options.names)
            .map((name) => name.trim())
            .filter((name) => name.length > 0);

    if (names === undefined)
        return options.file !== undefined ? custom : builtinCriteria.map((criterion) => ({...criterion}));
    if (names.length === 0)
        throw new Error(`--criteria names no criterion; known: ${[...builtinCriterionNames, ...custom.map((c) => c.name)].join(", ")}`);

    const known = new Map<string, Criterion>();
    for (const criterion of [...builtinCriteria, ...custom])
        known.set(criterion.name, criterion);
    const unknown = names.filter((name) => !known.has(name));
    if (unknown.length > 0) {
        const list = [...known.keys()].join(", ");
        const plural = unknown.length > 1 ? "criteria" : "criterion";
        throw new Error(`unknown ${plural} ${unknown.map((name) => `"${name}"`).join(", ")}; known: ${list}` +
            (options.file === undefined ? " (define more with --criteria-file)" : ""));
    }
    return [...new Set(names)].map((name) => ({...known.get(name)!}));
}
