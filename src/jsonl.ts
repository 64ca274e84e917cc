// Append-only JSONL that survives crashes: the file format every stage reads and writes.
//
// Contract shared by the reader and the appender: a record is one JSON value on one line ending in
// "\n". A crash can only leave the *last* line incomplete (the appender writes each batch of whole
// lines with one write call), so a final line that has no trailing newline *and* does not parse is a
// "torn tail": the reader can skip it (`allowTornTail`) and the appender cuts it off before
// appending. A final line without a newline that does parse is a complete record (hand-written files
// often lack the last newline) and is kept. Anything malformed elsewhere is an error naming the file
// and 1-based line number.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import crypto from "node:crypto";
import type {ZodType} from "zod";

/** An error in a JSONL file. `line` is 1-based; 0 means the file as a whole (e.g. it cannot be opened). */
export class JsonlError extends Error {
    readonly file: string;
    readonly line: number;

    constructor(file: string, line: number, message: string, options?: {cause?: unknown}) {
        super(line > 0 ? `${file}:${line}: ${message}` : `${file}: ${message}`, options);
        this.name = "JsonlError";
        this.file = file;
        this.line = line;
    }
}

export interface ReadJsonlOptions<T> {
    /** Validates every record; an invalid record is an error naming the line and the failing field. */
    schema?: ZodType<T>;
    /** Skip malformed or invalid lines instead of throwing; each one is reported to `onSkip`. Defaults to `false`. */
    skipInvalid?: boolean;
    /** A torn last line (no trailing newline and unparsable) is reported to `onTornTail` and skipped
     * instead of throwing. Defaults to `false`. */
    allowTornTail?: boolean;
    /** Called for every line skipped because of `skipInvalid`. */
    onSkip?: (line: number, reason: string) => void;
    /** Called once when a torn tail is skipped because of `allowTornTail`. */
    onTornTail?: (line: number, text: string) => void;
}

/** What a completed read saw; the return value of the `readJsonl` generator. */
export interface JsonlReadSummary {
    /** records yielded */
    records: number;
    /** lines skipped because of `skipInvalid` */
    skipped: number;
    /** whether a torn last line was skipped because of `allowTornTail` */
    tornTail: boolean;
    /** physical lines seen, blank ones included */
    lines: number;
}

/**
 * Streams the records of a JSONL file (readline; memory stays flat for 100K+ lines). Blank lines are
 * ignored; a UTF-8 BOM on the first line is dropped. The generator's return value is a
 * {@link JsonlReadSummary}.
 */
export async function* readJsonl<T = unknown>(
    file: string, options: ReadJsonlOptions<T> = {}
): AsyncGenerator<T, JsonlReadSummary, undefined> {
    const {schema, skipInvalid = false, allowTornTail = false, onSkip, onTornTail} = options;
    const endsWithNewline = await fileEndsWithNewline(file);

    const stream = fs.createReadStream(file, {encoding: "utf8"});
    const lines = readline.createInterface({input: stream, crlfDelay: Infinity});
    const summary: JsonlReadSummary = {records: 0, skipped: 0, tornTail: false, lines: 0};

    // One line of lookahead: only when the next line arrives (or the stream ends) do we know whether
    // the held line is the file's last one, which is the only one allowed to be torn.
    let held: {text: string, line: number} | undefined;
    const handle = (text: string, line: number, isLast: boolean): {value: T} | undefined => {
        if (line === 1 && text.charCodeAt(0) === 0xfeff)
            text = text.slice(1);
        if (text.trim() === "")
            return undefined;

        let value: unknown;
        try {
            value = JSON.parse(text);
        } catch (err) {
            if (isLast && !endsWithNewline && allowTornTail) {
                summary.tornTail = true;
                onTornTail?.(line, text);
                return undefined;
            }
            const reason = isLast && !endsWithNewline
                ? `torn last line (no trailing newline, not valid JSON: ${(err as Error).message}); ` +
                    "an interrupted write leaves this — resume with the stage's own command, which repairs it"
                : `malformed JSON: ${(err as Error).message}`;
            return skipOrThrow(line, reason, err);
        }

        if (schema != null) {
            const parsed = schema.safeParse(value);
            if (!parsed.success)
                return skipOrThrow(line, describeZodIssues(parsed.error.issues), parsed.error);
            value = parsed.data;
        }
        summary.records++;
        return {value: value as T};
    };
    const skipOrThrow = (line: number, reason: string, cause: unknown): undefined => {
        if (!skipInvalid)
            throw new JsonlError(file, line, reason + " (use --skip-invalid to skip such lines)", {cause});
        summary.skipped++;
        onSkip?.(line, reason);
        return undefined;
    };

    try {
        for await (const text of lines) {
            summary.lines++;
            if (held != null) {
                const result = handle(held.text, held.line, false);
                if (result != null)
                    yield result.value;
            }
            held = {text, line: summary.lines};
        }
        if (held != null) {
            const result = handle(held.text, held.line, true);
            if (result != null)
                yield result.value;
        }
    } catch (err) {
        if (err instanceof JsonlError)
            throw err;
        throw new JsonlError(file, 0, `cannot read: ${(err as Error).message}`, {cause: err});
    } finally {
        lines.close();
        stream.destroy();
    }
    return summary;
}

/** Reads a whole JSONL file into memory; same options as {@link readJsonl}. */
export async function readJsonlAll<T = unknown>(file: string, options: ReadJsonlOptions<T> = {}): Promise<T[]> {
    const records: T[] = [];
    for await (const record of readJsonl(file, options))
        records.push(record);
    return records;
}

/** Turns zod issues into "field `a.b[2]`: message" text, so a user can find the bad field in the line. */
function describeZodIssues(issues: ReadonlyArray<{path: ReadonlyArray<PropertyKey>, message: string}>): string {
    const parts = issues.slice(0, 3).map((issue) => {
        const field = formatPath(issue.path);
        return field === "" ? `invalid record: ${issue.message}` : `field \`${field}\`: ${issue.message}`;
    });
    if (issues.length > 3)
        parts.push(`and ${issues.length - 3} more`);
    return parts.join("; ");
}

function formatPath(segments: ReadonlyArray<PropertyKey>): string {
    let out = "";
    for (const segment of segments) {
        if (typeof segment === "number")
            out += `[${segment}]`;
        else
            out += (out === "" ? "" : ".") + String(segment);
    }
    return out;
}

async function fileEndsWithNewline(file: string): Promise<boolean> {
    let handle: fsp.FileHandle;
    try {
        handle = await fsp.open(file, "r");
    } catch (err) {
        throw new JsonlError(file, 0, `cannot open: ${(err as Error).message}`, {cause: err});
    }
    try {
        const {size} = await handle.stat();
        if (size === 0)
            return true;
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, size - 1);
        return byte[0] === 0x0a;
    } finally {
        await handle.close();
    }
}

/** What {@link JsonlAppender.open} did to an existing file's tail before appending. */
export type TailRepair =
    | {kind: "none"}
    /** a torn (unparsable, newline-less) last line was cut off */
    | {kind: "truncated", bytes: number, text: string}
    /** a complete last record lacked its newline; one was added */
    | {kind: "newline-added"};

/**
 * Appends records to a JSONL file, one whole line per record. Opening repairs a torn tail first, so
 * a resumed run never glues a new record onto half a line. Appends are serialized in call order;
 * `flush()` fsyncs. Not safe for several processes appending to one file (take a lock for that).
 */
export class JsonlAppender<T = unknown> {
    readonly file: string;
    /** what opening did to the existing tail */
    readonly repair: TailRepair;
    private handle: fsp.FileHandle | undefined;
    /** serializes writes: libuv may reorder concurrent writes to one fd */
    private queue: Promise<void> = Promise.resolve();

    private constructor(file: string, handle: fsp.FileHandle, repair: TailRepair) {
        this.file = file;
        this.handle = handle;
        this.repair = repair;
    }

    /** Opens `file` for appending (created with its parent folders if missing), repairing a torn tail first. */
    static async open<T = unknown>(file: string): Promise<JsonlAppender<T>> {
        await fsp.mkdir(path.dirname(path.resolve(file)), {recursive: true});
        const repair = await repairTail(file);
        const handle = await fsp.open(file, "a");
        return new JsonlAppender<T>(file, handle, repair);
    }

    /** Appends one record as one line. */
    async append(record: T): Promise<void> {
        // async so a record JSON cannot represent rejects instead of throwing; the write is still
        // queued synchronously, so call order is write order.
        return this.write(serializeLine(this.file, record));
    }

    /** Appends several records with a single write, so a crash keeps a prefix of whole lines. */
    async appendMany(records: Iterable<T>): Promise<void> {
        let text = "";
        for (const record of records)
            text += serializeLine(this.file, record);
        return text === "" ? this.queue : this.write(text);
    }

    /** Waits for pending appends and fsyncs the file. */
    flush(): Promise<void> {
        return this.enqueue(async (handle) => {
            await handle.sync();
        });
    }

    /** Flushes and closes; idempotent. */
    async close(): Promise<void> {
        if (this.handle == null)
            return;
        await this.flush();
        const handle = this.handle;
        this.handle = undefined;
        if (handle != null)
            await handle.close();
    }

    async [Symbol.asyncDispose](): Promise<void> {
        await this.close();
    }

    private write(text: string): Promise<void> {
        const data = Buffer.from(text, "utf8");
        return this.enqueue(async (handle) => {
            let offset = 0;
            while (offset < data.length) {
                const {bytesWritten} = await handle.write(data, offset, data.length - offset);
                offset += bytesWritten;
            }
        });
    }

    private enqueue(task: (handle: fsp.FileHandle) => Promise<void>): Promise<void> {
        const handle = this.handle;
        if (handle == null)
            return Promise.reject(new JsonlError(this.file, 0, "appender is closed"));
        // A failed write must fail its own caller but not poison later writes' ordering.
        const next = this.queue.then(() => task(handle));
        this.queue = next.catch(() => undefined);
        return next;
    }
}

function serializeLine(file: string, record: unknown): string {
    const text = JSON.stringify(record);
    if (text === undefined)
        throw new JsonlError(file, 0, `cannot append ${typeof record}: not representable as JSON`);
    // JSON.stringify escapes "\n" inside strings, so `text` is always exactly one line.
    return text + "\n";
}

/** Cuts a torn last line off `file` (or completes a whole record's missing newline). */
async function repairTail(file: string): Promise<TailRepair> {
    let handle: fsp.FileHandle;
    try {
        handle = await fsp.open(file, "r+");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
            return {kind: "none"};
        throw new JsonlError(file, 0, `cannot open for append: ${(err as Error).message}`, {cause: err});
    }
    try {
        const {size} = await handle.stat();
        if (size === 0)
            return {kind: "none"};

        // Scan backwards in chunks for the last newline; only the bytes after it can be torn.
        const chunkSize = 64 * 1024;
        const chunks: Buffer[] = [];
        let position = size;
        let newlineAt = -1;
        while (position > 0 && newlineAt < 0) {
            const length = Math.min(chunkSize, position);
            position -= length;
            const chunk = Buffer.alloc(length);
            await handle.read(chunk, 0, length, position);
            const index = chunk.lastIndexOf(0x0a);
            if (index >= 0) {
                newlineAt = position + index;
                chunks.unshift(chunk.subarray(index + 1));
            } else
                chunks.unshift(chunk);
        }
        const tail = Buffer.concat(chunks);
        if (tail.length === 0)
            return {kind: "none"};

        const text = tail.toString("utf8");
        if (text.trim() !== "" && parsesAsJson(text)) {
            await handle.write("\n", size);
            await handle.sync();
            return {kind: "newline-added"};
        }
        await handle.truncate(newlineAt + 1);
        await handle.sync();
        return {kind: "truncated", bytes: tail.length, text};
    } finally {
        await handle.close();
    }
}

function parsesAsJson(text: string): boolean {
    try {
        JSON.parse(text);
        return true;
    } catch {
        return false;
    }
}

export type AtomicData = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

/**
 * Writes a whole file atomically: a temporary file beside it, fsync, rename over the target, fsync of
 * the folder. Readers see the old content or the new, never a mix; if writing fails (including an
 * iterable that throws), the target is untouched and the temporary file is removed.
 */
export async function writeFileAtomic(file: string, data: AtomicData, options: {mode?: number} = {}): Promise<void> {
    const target = path.resolve(file);
    const dir = path.dirname(target);
    await fsp.mkdir(dir, {recursive: true});
    const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`);

    let handle: fsp.FileHandle | undefined;
    try {
        handle = await fsp.open(tmp, "wx", options.mode);
        if (typeof data === "string" || data instanceof Uint8Array)
            await handle.writeFile(data);
        else {
            for await (const piece of data)
                await handle.write(typeof piece === "string" ? Buffer.from(piece, "utf8") : piece);
        }
        await handle.sync();
        await handle.close();
        handle = undefined;
        await fsp.rename(tmp, target);
    } catch (err) {
        if (handle != null)
            await handle.close().catch(() => undefined);
        await fsp.rm(tmp, {force: true});
        throw err;
    }
    await syncDirectory(dir);
}

/** Writes records as a JSONL file atomically (see {@link writeFileAtomic}). */
export async function writeJsonlAtomic<T>(file: string, records: Iterable<T> | AsyncIterable<T>): Promise<void> {
    async function* lines(): AsyncGenerator<string> {
        // Batch lines into ~1 MiB writes: one syscall per record is slow for 100K records.
        let buffer = "";
        for await (const record of records) {
            buffer += serializeLine(file, record);
            if (buffer.length >= 1 << 20) {
                yield buffer;
                buffer = "";
            }
        }
        if (buffer !== "")
            yield buffer;
    }
    await writeFileAtomic(file, lines());
}

/** Makes a rename durable. Some platforms (Windows) cannot open folders; there the rename stands alone. */
async function syncDirectory(dir: string): Promise<void> {
    let handle: fsp.FileHandle | undefined;
    try {
        handle = await fsp.open(dir, "r");
        await handle.sync();
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF")
            throw err;
    } finally {
        await handle?.close();
    }
}

/** Reads and parses one JSON file; errors say which file and what (`what`: "config file", "criteria file"). */
export function readJsonFile(file: string, what: string): unknown {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
    }
    try {
        return JSON.parse(text);
    } catch (err) {
        throw new Error(`${what} ${file} is not valid JSON: ${(err as Error).message}`);
    }
}
