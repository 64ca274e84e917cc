// Stage 4: pair records (`pairs.jsonl`) → datasets that DPO trainers load unchanged.
//
// One row shape per trainer family, each pinned by a JSON Schema in `src/schemas/` written from the
// trainer's documentation (URLs there). `exportPairs` streams the pairs once, assigns a split per
// record id, writes every output under a temporary name and renames the files only after all of
// them are complete, so an interrupted export never leaves a dataset that looks finished.
//
// Layer indices in the card follow the project convention: 0-based transformer blocks, `l_out-il`,
// inclusive range [first, last], the same index llama.cpp uses for `direction.<il>`.
import {createHash, randomBytes} from "node:crypto";
import fs, {type FileHandle} from "node:fs/promises";
import path from "node:path";
import {Ajv2020, type ValidateFunction} from "ajv/dist/2020.js";
import type {PairRecord} from "./records.js";
import {formatSchemas} from "./schemas/index.js";

export type ExportFormat = "trl" | "messages" | "alpaca" | "sharegpt" | "axolotl";
export const exportFormats: readonly ExportFormat[] = Object.freeze(["trl", "messages", "alpaca", "sharegpt", "axolotl"]);

export type SplitName = "train" | "validation";

/** Why a pair record was left out of the export. */
export type DropReason =
    /** chosen or rejected is empty or whitespace: trainers would learn an empty answer */
    | "empty_response"
    /** chosen === rejected: the DPO loss has zero gradient on such a pair */
    | "identical_responses"
    /** a generation was cancelled midway, so the text is not what the model would have written */
    | "cancelled"
    /** the same id appeared earlier in the input (e.g. a resumed stage appended it twice) */
    | "duplicate_id";

export const exportDefaults = Object.freeze({
    name: "icon2",
    /** validation fraction; 0 writes train.jsonl only (records that carry `split` keep it) */
    split: 0,
    seed: 0,
    validate: true
});

/** What the dataset card says about how the pairs were made; the export adds its own counts. */
export interface DatasetCardInfo {
    /** the model that wrote instructions and responses (name, file or `hf:` URI) */
    model: string;
    /** pairs per criterion c*; defaults to the counts of the exported pairs */
    criteriaCounts?: Record<string, number>;
    /** γ⁺, relative to the per-layer residual norm s^l */
    gammaChosen: number;
    /** γ⁻, relative to the per-layer residual norm s^l */
    gammaRejected: number;
    /** controlled blocks, 0-based, inclusive [first, last] */
    layers: [number, number];
    /** counts from earlier stages; any may be left out */
    counts: DatasetCardCounts;
    /** icon2 version that made the data */
    version?: string;
    /** ISO date or timestamp of the run */
    created?: string;
    /** direction extraction method, e.g. "pca" or "mean" */
    directionMethod?: string;
    /** how instructions were kept, e.g. "top 10% by consistency" */
    selection?: string;
}

export interface DatasetCardCounts {
    /** instructions self-synthesized (D_raw) */
    synthesized?: number;
    /** instructions kept after consistency filtering */
    selected?: number;
    /** pair records produced by stage 3 */
    pairs?: number;
    /** records dropped before export (by earlier stages) */
    dropped?: number;
}

export interface ExportOptions {
    format: ExportFormat;
    /** output directory; created if missing; icon2's own files in it are replaced */
    out: string;
    /** dataset name: LLaMA-Factory dataset_info key and card title. Defaults to "icon2". */
    name?: string;
    /**
     * Validation fraction in [0, 1), e.g. 0.02. Records are assigned by a hash of (seed, id), so a
     * record keeps its split across runs and when others are added. Records whose `split` is
     * already set (by the scoring stage) keep it, also when this is 0. Defaults to 0.
     */
    split?: number;
    /** seed of the split hash. Defaults to 0. */
    seed?: number;
    card: DatasetCardInfo;
    /** check every row against the format's JSON Schema and fail the export on the first bad one. Defaults to `true`. */
    validate?: boolean;
    /** called after each input record with the number of records read so far */
    onProgress?(done: number): void;
}

export interface ExportSummary {
    format: ExportFormat;
    name: string;
    /** absolute paths of the files written */
    files: {train: string; validation?: string; readme: string; datasetInfo?: string};
    counts: {
        /** records read */
        read: number;
        /** rows written, all splits */
        exported: number;
        train: number;
        validation: number;
        dropped: Record<DropReason, number>;
    };
    /** exported pairs per criterion c* */
    criteria: Record<string, number>;
}

/** Turns one pair into one row of `format`. Pure; the texts are copied verbatim. */
export function toFormatRow(format: ExportFormat, pair: PairRecord): Record<string, unknown> {
    const {instruction, chosen, rejected} = pair;
    switch (format) {
        case "trl":
            return {
                prompt: [{role: "user", content: instruction}],
                chosen: [{role: "assistant", content: chosen}],
                rejected: [{role: "assistant", content: rejected}]
            };
        case "messages":
            return {
                prompt: instruction,
                chosen: [{role: "user", content: instruction}, {role: "assistant", content: chosen}],
                rejected: [{role: "user", content: instruction}, {role: "assistant", content: rejected}]
            };
        case "alpaca":
            return {instruction, input: "", chosen, rejected};
        case "sharegpt":
            return {
                conversations: [{from: "human", value: instruction}],
                chosen: {from: "gpt", value: chosen},
                rejected: {from: "gpt", value: rejected}
            };
        case "axolotl":
            return {prompt: instruction, chosen, rejected};
    }
    throw new RangeError(`unknown export format "${String(format)}"; use one of: ${exportFormats.join(", ")}`);
}

const validators = new Map<ExportFormat, ValidateFunction>();
let ajv: Ajv2020 | undefined;

function getValidator(format: ExportFormat): ValidateFunction {
    let validate = validators.get(format);
    if (validate == null) {
        const schema = formatSchemas[format];
        if (schema == null)
            throw new RangeError(`unknown export format "${String(format)}"; use one of: ${exportFormats.join(", ")}`);
        ajv ??= new Ajv2020({allErrors: true, strict: true});
        validate = ajv.compile(schema);
        validators.set(format, validate);
    }
    return validate;
}

/**
 * Checks one row against the format's JSON Schema. Returns one message per violation
 * ("/chosen/0/role must be equal to constant"); an empty array means the row is valid.
 */
export function validateRow(format: ExportFormat, row: unknown): string[] {
    const validate = getValidator(format);
    if (validate(row))
        return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? "is invalid"}`);
}

/**
 * Which split a record without a `split` field falls in: validation when u < fraction, where
 * u ∈ [0, 1) comes from sha256(seed, id). Depends on nothing but (seed, id, fraction), so a record
 * never moves between runs, and raising the fraction only moves records train → validation.
 */
export function assignSplit(id: string, fraction: number, seed: number = exportDefaults.seed): SplitName {
    if (fraction <= 0)
        return "train";
    const digest = createHash("sha256").update(`icon2-split\0${seed}\0${id}`).digest();
    // 48 bits are exact in a double and far finer than any useful fraction.
    const u = digest.readUIntBE(0, 6) / 2 ** 48;
    return u < fraction ? "validation" : "train";
}

/** Parses a CLI split value: "2%" → 0.02, "0.02" → 0.02, "0" → 0. Throws on anything outside [0, 1). */
export function parseSplitFraction(text: string): number {
    const trimmed = text.trim();
    const percent = trimmed.endsWith("%");
    const value = Number(percent ? trimmed.slice(0, -1) : trimmed);
    const fraction = percent ? value / 100 : value;
    if (trimmed === "" || !Number.isFinite(fraction) || fraction < 0 || fraction >= 1)
        throw new RangeError(`invalid split "${text}": give a validation fraction in [0, 1) such as 0.02 or 2%`);
    return fraction;
}

function dropReason(pair: PairRecord, seen: Set<string>): DropReason | undefined {
    if (seen.has(pair.id))
        return "duplicate_id";
    if (pair.finish_reason_chosen === "cancelled" || pair.finish_reason_rejected === "cancelled")
        return "cancelled";
    if (pair.chosen.trim() === "" || pair.rejected.trim() === "")
        return "empty_response";
    if (pair.chosen === pair.rejected)
        return "identical_responses";
    return undefined;
}

/** A file written under a temporary name in its final directory (so the rename is atomic). */
class PendingFile {
    readonly tmpPath: string;
    private handle: FileHandle | undefined;
    private buffer = "";
    lines = 0;

    private constructor(readonly finalPath: string, handle: FileHandle, tmpPath: string) {
        this.handle = handle;
        this.tmpPath = tmpPath;
    }

    static async create(finalPath: string): Promise<PendingFile> {
        const tmpPath = path.join(path.dirname(finalPath),
            `.${path.basename(finalPath)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
        return new PendingFile(finalPath, await fs.open(tmpPath, "wx"), tmpPath);
    }

    async writeLine(line: string): Promise<void> {
        this.buffer += line + "\n";
        this.lines++;
        // Batch small lines into ~1 MiB writes: one syscall per row is the slow part otherwise.
        if (this.buffer.length >= 1 << 20)
            await this.flush();
    }

    async write(text: string): Promise<void> {
        this.buffer += text;
        await this.flush();
    }

    private async flush(): Promise<void> {
        if (this.buffer.length === 0 || this.handle == null)
            return;
        const chunk = this.buffer;
        this.buffer = "";
        await this.handle.write(chunk, null, "utf8");
    }

    /** Flushes, fsyncs and closes; the data is durable under the temporary name afterwards. */
    async finish(): Promise<void> {
        await this.flush();
        const handle = this.handle;
        this.handle = undefined;
        if (handle != null) {
            await handle.sync();
            await handle.close();
        }
    }

    async commit(): Promise<void> {
        await fs.rename(this.tmpPath, this.finalPath);
    }

    /** Closes and deletes the temporary file; used on failure. */
    async discard(): Promise<void> {
        const handle = this.handle;
        this.handle = undefined;
        try {
            await handle?.close();
        } finally {
            await fs.rm(this.tmpPath, {force: true});
        }
    }
}

const splitFileNames: Record<SplitName, string> = {train: "train.jsonl", validation: "validation.jsonl"};

/**
 * Writes `train.jsonl` (and `validation.jsonl` when any record falls there), `README.md` (a Hub
 * dataset card) and, for `alpaca`/`sharegpt`, LLaMA-Factory's `dataset_info.json` into
 * `options.out`. Every file is written to a temporary name first; if reading the pairs or writing
 * fails, the temporary files are removed, the error is rethrown and the previous export (if any)
 * is left untouched.
 */
export async function exportPairs(
    pairs: AsyncIterable<PairRecord> | Iterable<PairRecord>,
    options: ExportOptions
): Promise<ExportSummary> {
    const {format, card} = options;
    if (!exportFormats.includes(format))
        throw new RangeError(`unknown export format "${String(format)}"; use one of: ${exportFormats.join(", ")}`);
    const name = options.name ?? exportDefaults.name;
    if (name.trim() === "")
        throw new RangeError("dataset name is empty; pass a name such as \"icon2\"");
    const fraction = options.split ?? exportDefaults.split;
    if (!Number.isFinite(fraction) || fraction < 0 || fraction >= 1)
        throw new RangeError(`split ${fraction} is outside [0, 1); give a validation fraction such as 0.02 (2%)`);
    const seed = options.seed ?? exportDefaults.seed;
    const validate = options.validate ?? exportDefaults.validate;

    const outDir = path.resolve(options.out);
    await fs.mkdir(outDir, {recursive: true});

    const pending: PendingFile[] = [];
    const files: Partial<Record<SplitName, PendingFile>> = {};
    const openSplit = async (split: SplitName): Promise<PendingFile> => {
        let file = files[split];
        if (file == null) {
            file = await PendingFile.create(path.join(outDir, splitFileNames[split]));
            pending.push(file);
            files[split] = file;
        }
        return file;
    };

    const dropped: Record<DropReason, number> = {
        empty_response: 0, identical_responses: 0, cancelled: 0, duplicate_id: 0
    };
    const criteria: Record<string, number> = {};
    const seen = new Set<string>();
    let read = 0;

    try {
        // train.jsonl always exists, even when empty, so every format's loader finds its file.
        await openSplit("train");
        for await (const pair of pairs) {
            read++;
            const reason = dropReason(pair, seen);
            seen.add(pair.id);
            if (reason != null) {
                dropped[reason]++;
            } else {
                const row = toFormatRow(format, pair);
                if (validate) {
                    const errors = validateRow(format, row);
                    if (errors.length > 0)
                        throw new Error(`pair "${pair.id}" does not make a valid ${format} row: ${errors.join("; ")}`);
                }
                const split = pair.split ?? assignSplit(pair.id, fraction, seed);
                await (await openSplit(split)).writeLine(JSON.stringify(row));
                criteria[pair.criterion] = (criteria[pair.criterion] ?? 0) + 1;
            }
            options.onProgress?.(read);
        }

        const counts: ExportSummary["counts"] = {
            read,
            exported: (files.train?.lines ?? 0) + (files.validation?.lines ?? 0),
            train: files.train?.lines ?? 0,
            validation: files.validation?.lines ?? 0,
            dropped
        };
        const splits: SplitName[] = counts.validation > 0 ? ["train", "validation"] : ["train"];

        let datasetInfoFile: PendingFile | undefined;
        if (format === "alpaca" || format === "sharegpt") {
            datasetInfoFile = await PendingFile.create(path.join(outDir, "dataset_info.json"));
            pending.push(datasetInfoFile);
            await datasetInfoFile.write(JSON.stringify(datasetInfoFor(format, name, splits), null, 2) + "\n");
        }
        // The card goes last, so a reader that sees a new README.md sees new data files too.
        const readmeFile = await PendingFile.create(path.join(outDir, "README.md"));
        pending.push(readmeFile);
        await readmeFile.write(renderDatasetCard({format, name, splits, counts, criteria, card}));

        for (const file of pending)
            await file.finish();
        for (const file of pending)
            await file.commit();
        // A validation.jsonl from an earlier export with a split would otherwise sit beside a card
        // and dataset_info.json that no longer mention it.
        if (files.validation == null)
            await fs.rm(path.join(outDir, splitFileNames.validation), {force: true});

        return {
            format,
            name,
            files: {
                train: path.join(outDir, splitFileNames.train),
                ...(files.validation != null ? {validation: path.join(outDir, splitFileNames.validation)} : {}),
                readme: readmeFile.finalPath,
                ...(datasetInfoFile != null ? {datasetInfo: datasetInfoFile.finalPath} : {})
            },
            counts,
            criteria
        };
    } catch (error) {
        // The caller needs the original error; a temporary file that cannot be removed is named
        // `.<file>.<pid>.<hex>.tmp` and never mistaken for output, so its removal failure is secondary.
        await Promise.allSettled(pending.map((file) => file.discard()));
        throw error;
    }
}

/**
 * LLaMA-Factory `dataset_info.json` entries for the exported files: `<name>` for train and
 * `<name>_validation` for validation (use it as `eval_dataset`). `file_name` is relative to the
 * export directory, which is meant to be LLaMA-Factory's `dataset_dir`.
 * Shapes: https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md ("Preference Dataset").
 */
export function datasetInfoFor(
    format: "alpaca" | "sharegpt",
    name: string,
    splits: readonly SplitName[] = ["train"]
): Record<string, Record<string, unknown>> {
    const entry = (fileName: string): Record<string, unknown> => format === "alpaca"
        ? {
            file_name: fileName,
            ranking: true,
            columns: {prompt: "instruction", query: "input", chosen: "chosen", rejected: "rejected"}
        }
        : {
            file_name: fileName,
            formatting: "sharegpt",
            ranking: true,
            columns: {messages: "conversations", chosen: "chosen", rejected: "rejected"}
        };
    const info: Record<string, Record<string, unknown>> = {};
    for (const split of splits)
        info[split === "train" ? name : `${name}_validation`] = entry(splitFileNames[split]);
    return info;
}

interface CardInput {
    format: ExportFormat;
    name: string;
    splits: readonly SplitName[];
    counts: ExportSummary["counts"];
    criteria: Record<string, number>;
    card: DatasetCardInfo;
}

/** Hub size bucket (the `size_categories` values the Hub filters on). */
function sizeCategory(n: number): string {
    if (n < 1_000) return "n<1K";
    if (n < 10_000) return "1K<n<10K";
    if (n < 100_000) return "10K<n<100K";
    if (n < 1_000_000) return "100K<n<1M";
    if (n < 10_000_000) return "1M<n<10M";
    return "10M<n<100M";
}

// JSON strings are valid YAML double-quoted scalars, so this quotes any text safely.
const yamlString = (text: string): string => JSON.stringify(text);
// Keeps user text from closing a Markdown code span or breaking a table row.
const inlineCode = (text: string): string => `\`${text.replace(/[`\r\n]/g, " ")}\``;
const tableCell = (text: string): string => text.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");

/** The dataset card: Hub YAML front matter plus a body describing the data and how to load it. */
export function renderDatasetCard(input: CardInput): string {
    const {format, name, splits, counts, card} = input;
    const criteria = card.criteriaCounts ?? input.criteria;
    const lines: string[] = [];

    // Front matter: https://huggingface.co/docs/hub/datasets-cards and
    // https://huggingface.co/docs/hub/datasets-manual-configuration (configs → data_files).
    lines.push(
        "---",
        "# The responses are generated by the model below: set the licence its terms allow.",
        "license: other",
        `pretty_name: ${yamlString(name)}`,
        "task_categories:",
        "- text-generation",
        "tags:",
        "- dpo",
        "- preference",
        "- icon2",
        "- synthetic",
        "size_categories:",
        `- ${sizeCategory(counts.exported)}`,
        "configs:",
        "- config_name: default",
        "  data_files:"
    );
    for (const split of splits)
        lines.push(`  - split: ${split}`, `    path: ${yamlString(splitFileNames[split])}`);
    lines.push("---", "");

    lines.push(
        `# ${name}`,
        "",
        `A DPO preference dataset (instruction, chosen, rejected) that ${inlineCode(card.model)} made from itself with ` +
        "[Icon²](https://arxiv.org/abs/2509.05605) (EMNLP 2025), exported in the " +
        `**${format}** format (${formatDescriptions[format]}).`,
        ""
    );

    lines.push("## How it was made", "",
        "1. **Directions.** For each criterion the model read contrastive system prompts (good vs. bad assistant) " +
        "with the same instructions; at each block, " +
        (card.directionMethod === "mean"
            ? "the normalized mean of the last-token hidden-state differences"
            : "the first principal component of the last-token hidden-state differences") +
        " is that block's steering direction (sign fixed so the mean difference points along it)" +
        (card.directionMethod != null ? `; method: ${inlineCode(card.directionMethod)}` : "") + ".",
        "2. **Self-synthesized instructions.** The model wrote the instructions itself from its chat template's " +
        "pre-query prefix (no seed data), and only those most consistent with a criterion direction were kept" +
        (card.selection != null ? ` (${card.selection})` : "") + ".",
        "3. **Steered decoding.** Each kept instruction was answered twice by the same model: chosen with γ⁺ along " +
        "the instruction's best criterion direction, rejected with γ⁻, at the controlled blocks only. No reward " +
        "model, judge or external data took part.",
        "");

    lines.push("## Settings", "",
        "| setting | value |", "|---|---|",
        `| model | ${tableCell(inlineCode(card.model))} |`,
        `| γ⁺ (chosen) | ${card.gammaChosen} |`,
        `| γ⁻ (rejected) | ${card.gammaRejected} |`,
        `| controlled blocks | ${card.layers[0]}–${card.layers[1]} (0-based, inclusive) |`);
    if (card.version != null)
        lines.push(`| icon2 version | ${tableCell(card.version)} |`);
    if (card.created != null)
        lines.push(`| created | ${tableCell(card.created)} |`);
    lines.push("",
        "γ is relative to each block's typical residual norm: steering adds γ·s^l·u^l, where s^l is the mean " +
        "hidden-state norm of block l, so γ = 0.1 adds a vector a tenth as long as a typical hidden state.", "");

    const criteriaTotal = Object.values(criteria).reduce((sum, n) => sum + n, 0);
    lines.push("## Criteria", "", "| criterion | pairs | share |", "|---|---:|---:|");
    for (const [criterion, n] of Object.entries(criteria).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])))
        lines.push(`| ${tableCell(criterion)} | ${n} | ${criteriaTotal > 0 ? (100 * n / criteriaTotal).toFixed(1) : "0.0"}% |`);
    lines.push("");

    const droppedTotal = Object.values(counts.dropped).reduce((sum, n) => sum + n, 0);
    lines.push("## Counts", "", "| | count |", "|---|---:|");
    if (card.counts.synthesized != null)
        lines.push(`| instructions synthesized | ${card.counts.synthesized} |`);
    if (card.counts.selected != null)
        lines.push(`| instructions selected | ${card.counts.selected} |`);
    if (card.counts.pairs != null)
        lines.push(`| pairs generated | ${card.counts.pairs} |`);
    if (card.counts.dropped != null)
        lines.push(`| dropped before export | ${card.counts.dropped} |`);
    lines.push(
        `| pairs exported | ${counts.exported} |`,
        `| train | ${counts.train} |`,
        `| validation | ${counts.validation} |`,
        `| dropped at export | ${droppedTotal} |`);
    for (const [reason, n] of Object.entries(counts.dropped))
        if (n > 0)
            lines.push(`| dropped: ${reason.replace(/_/g, " ")} | ${n} |`);
    lines.push("");

    lines.push("## Loading", "", ...loadingExample(format, name, splits), "");

    lines.push("## Citation", "",
        "Qiyuan Chen, Hongsen Huang et al. Icon²: Aligning Large Language Models Using Self-Synthetic Preference " +
        "Data via Inherent Regulation. EMNLP 2025. https://arxiv.org/abs/2509.05605", "");
    return lines.join("\n");
}

const formatDescriptions: Record<ExportFormat, string> = {
    trl: "TRL conversational preference rows with an explicit prompt",
    messages: "full user + assistant conversations in chosen/rejected and the prompt as a string",
    alpaca: "LLaMA-Factory alpaca-style ranking rows",
    sharegpt: "LLaMA-Factory sharegpt-style ranking rows",
    axolotl: "axolotl `chatml.prompt_pairs` rows"
};

function loadingExample(format: ExportFormat, name: string, splits: readonly SplitName[]): string[] {
    const hasValidation = splits.includes("validation");
    const dataFiles = hasValidation
        ? `{"train": "train.jsonl", "validation": "validation.jsonl"}`
        : `{"train": "train.jsonl"}`;
    // Paper setting: one epoch of offline DPO, β = 0.1, from an SFT checkpoint.
    switch (format) {
        case "trl":
        case "messages":
            return [
                "With [TRL](https://huggingface.co/docs/trl/dataset_formats) (one epoch, β = 0.1 as in the paper):", "",
                "```python",
                "from datasets import load_dataset",
                "from transformers import AutoModelForCausalLM, AutoTokenizer",
                "from trl import DPOConfig, DPOTrainer", "",
                `ds = load_dataset("json", data_files=${dataFiles})`,
                ...(format === "messages"
                    ? ["# chosen/rejected already hold the user turn: TRL wants the implicit-prompt layout",
                        "ds = ds.remove_columns(\"prompt\")"]
                    : []),
                "model = AutoModelForCausalLM.from_pretrained(\"<your SFT checkpoint>\")",
                "tokenizer = AutoTokenizer.from_pretrained(\"<your SFT checkpoint>\")",
                "trainer = DPOTrainer(",
                "    model=model,",
                "    args=DPOConfig(output_dir=\"dpo-icon2\", beta=0.1, num_train_epochs=1),",
                "    train_dataset=ds[\"train\"],",
                ...(hasValidation ? ["    eval_dataset=ds[\"validation\"],"] : []),
                "    processing_class=tokenizer,",
                ")",
                "trainer.train()",
                "```"
            ];
        case "alpaca":
        case "sharegpt":
            return [
                "With [LLaMA-Factory](https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md): " +
                "`dataset_info.json` in this folder registers the data (merge its entries into your own " +
                "`dataset_info.json` if you keep one), so point `dataset_dir` here:", "",
                "```yaml",
                "stage: dpo",
                "do_train: true",
                "model_name_or_path: <your SFT checkpoint>",
                "template: <the model's template>",
                "finetuning_type: lora",
                `dataset_dir: <path to this folder>`,
                `dataset: ${name}`,
                ...(hasValidation ? [`eval_dataset: ${name}_validation`] : []),
                "pref_beta: 0.1",
                "pref_loss: sigmoid",
                "num_train_epochs: 1.0",
                "output_dir: saves/dpo-icon2",
                "```"
            ];
        case "axolotl":
            return [
                "With [axolotl](https://docs.axolotl.ai/docs/rlhf.html). `chatml.prompt_pairs` wraps the texts in " +
                "ChatML; for a model with another template use the matching type (e.g. `llama3.prompt_pairs`) — " +
                "the rows are the same.", "",
                "```yaml",
                "base_model: <your SFT checkpoint>",
                "rl: dpo",
                "rl_beta: 0.1",
                "num_epochs: 1",
                "datasets:",
                "  - path: <path to this folder>/train.jsonl",
                "    ds_type: json",
                "    split: train",
                "    type: chatml.prompt_pairs",
                ...(hasValidation
                    ? [
                        "test_datasets:",
                        "  - path: <path to this folder>/validation.jsonl",
                        "    ds_type: json",
                        "    split: train",
                        "    type: chatml.prompt_pairs"
                    ]
                    : []),
                "```"
            ];
    }
}
