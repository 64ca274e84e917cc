// The records that flow between stages, one JSON object per JSONL line. Each stage reads the
// previous stage's records and appends fields; schemas validate input files with clear errors.
import {z} from "zod";

/** Stage 2a output (`instructions.jsonl`). */
export const InstructionRecord = z.object({
    id: z.string().min(1),
    instruction: z.string().min(1),
    seed: z.number().int().nonnegative().optional(),
    model: z.string().optional(),
    created: z.string().optional()
}).passthrough();
export type InstructionRecord = z.infer<typeof InstructionRecord>;

/** Stage 2b output (`scored.jsonl`): an instruction with its consistency per criterion. */
export const ScoredRecord = InstructionRecord.extend({
    scores: z.record(z.string(), z.number()),
    /** max over criteria of `scores` (after the chosen normalization) */
    consistency: z.number(),
    /** c*: the criterion whose direction steers this instruction's pair */
    criterion: z.string().min(1),
    split: z.enum(["train", "validation"]).optional()
}).passthrough();
export type ScoredRecord = z.infer<typeof ScoredRecord>;

export const FinishReason = z.enum(["eos", "stop", "length", "cancelled"]);
export type FinishReason = z.infer<typeof FinishReason>;

/** Stage 3 output (`pairs.jsonl`). */
export const PairRecord = z.object({
    id: z.string().min(1),
    instruction: z.string().min(1),
    criterion: z.string().min(1),
    chosen: z.string(),
    rejected: z.string(),
    gamma_chosen: z.number(),
    gamma_rejected: z.number(),
    /** controlled blocks, inclusive [first, last] */
    layers: z.tuple([z.number().int(), z.number().int()]),
    seed: z.number().int().nonnegative(),
    finish_reason_chosen: FinishReason,
    finish_reason_rejected: FinishReason,
    tokens_chosen: z.number().int().nonnegative(),
    tokens_rejected: z.number().int().nonnegative(),
    split: z.enum(["train", "validation"]).optional()
}).passthrough();
export type PairRecord = z.infer<typeof PairRecord>;
