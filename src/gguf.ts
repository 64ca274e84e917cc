// GGUF v3 files: an exact streaming writer (metadata, tensor infos, aligned F32/F16 tensor data) and
// the reading helpers icon2 needs (metadata + tensor infos via @huggingface/gguf, tensor data by
// offset). Layout follows ggml/src/gguf.cpp: tensor data starts at the header end padded to
// `general.alignment`, and every tensor (the last one included) is padded to the alignment, because
// llama.cpp reads the data section as the sum of padded tensor sizes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {gguf, GGUFValueType, type MetadataValue} from "@huggingface/gguf";

// ---------------------------------------------------------------------------------------------
// Values

export type GgufNumberType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
export type GgufBigIntType = "uint64" | "int64";
export type GgufScalarType = GgufNumberType | GgufBigIntType | "bool" | "string";

/** One metadata value with its GGUF type. Arrays hold scalars only (nested arrays are not used by llama.cpp). */
export type GgufValue =
    | {readonly type: GgufNumberType; readonly value: number}
    | {readonly type: GgufBigIntType; readonly value: bigint}
    | {readonly type: "bool"; readonly value: boolean}
    | {readonly type: "string"; readonly value: string}
    | {readonly type: "array"; readonly itemType: GgufNumberType; readonly value: ArrayLike<number>}
    | {readonly type: "array"; readonly itemType: GgufBigIntType; readonly value: readonly bigint[]}
    | {readonly type: "array"; readonly itemType: "bool"; readonly value: readonly boolean[]}
    | {readonly type: "array"; readonly itemType: "string"; readonly value: readonly string[]};

/** Ordered metadata; a Map keeps insertion order, so the written bytes are deterministic. */
export type GgufMetadata = ReadonlyMap<string, GgufValue>;

/** Shorthand constructors: `kv.u32(6)`, `kv.str("qwen2")`, `kv.arr("float32", scales)`. */
export const kv = {
    u8: (value: number): GgufValue => ({type: "uint8", value}),
    i8: (value: number): GgufValue => ({type: "int8", value}),
    u16: (value: number): GgufValue => ({type: "uint16", value}),
    i16: (value: number): GgufValue => ({type: "int16", value}),
    u32: (value: number): GgufValue => ({type: "uint32", value}),
    i32: (value: number): GgufValue => ({type: "int32", value}),
    f32: (value: number): GgufValue => ({type: "float32", value}),
    f64: (value: number): GgufValue => ({type: "float64", value}),
    u64: (value: bigint): GgufValue => ({type: "uint64", value}),
    i64: (value: bigint): GgufValue => ({type: "int64", value}),
    bool: (value: boolean): GgufValue => ({type: "bool", value}),
    str: (value: string): GgufValue => ({type: "string", value}),
    arr: ((itemType: GgufScalarType, value: ArrayLike<unknown>): GgufValue =>
        ({type: "array", itemType, value}) as GgufValue) as {
        (itemType: GgufNumberType, value: ArrayLike<number>): GgufValue;
        (itemType: GgufBigIntType, value: readonly bigint[]): GgufValue;
        (itemType: "bool", value: readonly boolean[]): GgufValue;
        (itemType: "string", value: readonly string[]): GgufValue;
    }
};

/** GGUF wire type ids (gguf.h `enum gguf_type`). */
const TYPE_ID: Readonly<Record<GgufScalarType | "array", number>> = {
    uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8,
    array: 9, uint64: 10, int64: 11, float64: 12
};
const TYPE_NAME: readonly (GgufScalarType | "array")[] = Object.entries(TYPE_ID)
    .sort((a, b) => a[1] - b[1]).map(([name]) => name as GgufScalarType | "array");

const INT_RANGE: Readonly<Record<string, readonly [number, number]>> = {
    uint8: [0, 0xff], int8: [-0x80, 0x7f], uint16: [0, 0xffff], int16: [-0x8000, 0x7fff],
    uint32: [0, 0xffffffff], int32: [-0x80000000, 0x7fffffff]
};
const BIGINT_RANGE: Readonly<Record<GgufBigIntType, readonly [bigint, bigint]>> = {
    uint64: [0n, 0xffffffffffffffffn], int64: [-0x8000000000000000n, 0x7fffffffffffffffn]
};

// ---------------------------------------------------------------------------------------------
// Tensors

/** Tensor types the writer produces. */
export type GgufTensorType = "F32" | "F16";

/** ggml type ids and sizes (ggml.h `enum ggml_type`, ggml.c type_traits): [blockSize, bytesPerBlock]. */
const GGML_TYPES: ReadonlyMap<number, {readonly name: string; readonly block: number; readonly bytes: number}> = new Map([
    [0, {name: "F32", block: 1, bytes: 4}], [1, {name: "F16", block: 1, bytes: 2}],
    [2, {name: "Q4_0", block: 32, bytes: 18}], [3, {name: "Q4_1", block: 32, bytes: 20}],
    [6, {name: "Q5_0", block: 32, bytes: 22}], [7, {name: "Q5_1", block: 32, bytes: 24}],
    [8, {name: "Q8_0", block: 32, bytes: 34}], [9, {name: "Q8_1", block: 32, bytes: 36}],
    [10, {name: "Q2_K", block: 256, bytes: 84}], [11, {name: "Q3_K", block: 256, bytes: 110}],
    [12, {name: "Q4_K", block: 256, bytes: 144}], [13, {name: "Q5_K", block: 256, bytes: 176}],
    [14, {name: "Q6_K", block: 256, bytes: 210}], [15, {name: "Q8_K", block: 256, bytes: 292}],
    [24, {name: "I8", block: 1, bytes: 1}], [25, {name: "I16", block: 1, bytes: 2}],
    [26, {name: "I32", block: 1, bytes: 4}], [27, {name: "I64", block: 1, bytes: 8}],
    [28, {name: "F64", block: 1, bytes: 8}], [30, {name: "BF16", block: 1, bytes: 2}]
]);
const TENSOR_TYPE_ID: Readonly<Record<GgufTensorType, number>> = {F32: 0, F16: 1};

/** ggml's limits (ggml.h): tensor names hold 63 bytes plus NUL; at most 4 dimensions. */
const GGML_MAX_NAME = 64;
const GGML_MAX_DIMS = 4;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export interface GgufTensorSpec {
    readonly name: string;
    readonly type: GgufTensorType;
    /** ggml order: shape[0] = ne[0] is the innermost (contiguous) dimension, e.g. [n_embd, n_vocab]. */
    readonly shape: readonly number[];
    /**
     * Called once, when the writer reaches this tensor. Yields the values in memory order as
     * Float32Array chunks (any sizes, total = product of shape). A chunk may be reused after the
     * next one is requested: the writer has finished with it by then.
     */
    readonly data: () => Iterable<Float32Array> | AsyncIterable<Float32Array>;
}

export interface WriteGgufOptions {
    /** Tensor data alignment in bytes, a power of 2; written as `general.alignment` when not 32. Defaults to 32. */
    readonly alignment?: number;
    /** Called after each tensor with bytes written so far and the final file size. */
    readonly onProgress?: (bytesWritten: number, totalBytes: number) => void;
}

export function elementCount(shape: readonly number[]): number {
    return shape.reduce((a, b) => a * b, 1);
}

function tensorByteLength(type: GgufTensorType, shape: readonly number[]): number {
    return elementCount(shape) * (type === "F32" ? 4 : 2);
}

export function alignTo(offset: number, alignment: number): number {
    return Math.ceil(offset / alignment) * alignment;
}

// ---------------------------------------------------------------------------------------------
// F16 conversion (IEEE 754 binary16, round to nearest, ties to even)

/** binary16 bits of `x` rounded from float32, as ggml's `GGML_FP32_TO_FP16` (ties to even, overflow → ±inf, NaN kept). */
export function f32ToF16Bits(x: number): number {
    scratchF32[0] = x;
    return f32BitsToF16Bits(scratchU32[0]);
}
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32BitsToF16Bits(bits: number): number {
    const sign = (bits >>> 16) & 0x8000;
    const exp = (bits >>> 23) & 0xff;
    const mant = bits & 0x7fffff;
    if (exp === 0xff) // inf stays inf; NaN stays a (quiet) NaN with the top payload bits
        return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
    const e = exp - 112; // rebias 127 → 15
    if (e >= 0x1f)
        return sign | 0x7c00;
    if (e <= 0) {
        // binary16 subnormal: count units of 2^-24 in the full 24-bit significand
        const shift = 14 - e;
        if (shift > 24) // below half the smallest subnormal (or exactly half: ties to even → 0)
            return sign;
        const m = mant | 0x800000;
        let q = m >>> shift;
        const rem = m & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        if (rem > half || (rem === half && (q & 1) !== 0))
            q++; // may carry into the smallest normal, 0x0400, which is the right encoding
        return sign | q;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0))
        h++; // a carry into the exponent is correct, up to 0x7c00 = inf
    return sign | h;
}

/** float32 value of binary16 bits (exact). */
export function f16BitsToF32(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0)
        return sign * mant * 2 ** -24;
    if (exp === 0x1f)
        return mant !== 0 ? NaN : sign * Infinity;
    return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Converts a whole array to binary16 bits (round to nearest even). */
export function float32ToF16Array(src: Float32Array): Uint16Array {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const out = new Uint16Array(src.length);
    for (let i = 0; i < bits.length; i++)
        out[i] = f32BitsToF16Bits(bits[i]);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Header encoding

/** Growable little-endian byte sink for the header (a vocab's metadata is a few MB). */
class ByteSink {
    private buf = Buffer.alloc(1 << 16);
    length = 0;

    private reserve(n: number): void {
        if (this.length + n <= this.buf.length)
            return;
        const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
        this.buf.copy(next, 0, 0, this.length);
        this.buf = next;
    }

    u8(v: number): void { this.reserve(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
    i8(v: number): void { this.reserve(1); this.buf.writeInt8(v, this.length); this.length += 1; }
    u16(v: number): void { this.reserve(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
    i16(v: number): void { this.reserve(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
    u32(v: number): void { this.reserve(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
    i32(v: number): void { this.reserve(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
    f32(v: number): void { this.reserve(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
    f64(v: number): void { this.reserve(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
    u64(v: bigint): void { this.reserve(8); this.buf.writeBigUInt64LE(v, this.length); this.length += 8; }
    i64(v: bigint): void { this.reserve(8); this.buf.writeBigInt64LE(v, this.length); this.length += 8; }
    bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
    str(s: string): void {
        const b = Buffer.from(s, "utf8");
        this.u64(BigInt(b.length));
        this.bytes(b);
    }
    zeros(n: number): void { this.reserve(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
    result(): Buffer { return this.buf.subarray(0, this.length); }
}

function checkScalar(key: string, type: GgufScalarType, v: unknown): void {
    const bad = (why: string) => new Error(`GGUF metadata "${key}": ${why}`);
    if (type in INT_RANGE) {
        const [lo, hi] = INT_RANGE[type];
        if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi)
            throw bad(`${String(v)} is not a ${type} (integer in [${lo}, ${hi}])`);
    } else if (type === "float32" || type === "float64") {
        if (typeof v !== "number")
            throw bad(`${String(v)} is not a number`);
    } else if (type === "uint64" || type === "int64") {
        const [lo, hi] = BIGINT_RANGE[type];
        if (typeof v !== "bigint" || v < lo || v > hi)
            throw bad(`${String(v)} is not a ${type} (bigint in [${lo}, ${hi}])`);
    } else if (type === "bool") {
        if (typeof v !== "boolean")
            throw bad(`${String(v)} is not a boolean`);
    } else if (type === "string") {
        if (typeof v !== "string")
            throw bad(`${String(v)} is not a string`);
    } else {
        throw bad(`unknown type "${String(type)}"`);
    }
}

function writeScalar(sink: ByteSink, type: GgufScalarType, v: unknown): void {
    switch (type) {
        case "uint8": return sink.u8(v as number);
        case "int8": return sink.i8(v as number);
        case "uint16": return sink.u16(v as number);
        case "int16": return sink.i16(v as number);
        case "uint32": return sink.u32(v as number);
        case "int32": return sink.i32(v as number);
        case "float32": return sink.f32(v as number);
        case "float64": return sink.f64(v as number);
        case "uint64": return sink.u64(v as bigint);
        case "int64": return sink.i64(v as bigint);
        case "bool": return sink.u8(v ? 1 : 0);
        case "string": return sink.str(v as string);
    }
}

function writeValue(sink: ByteSink, key: string, value: GgufValue): void {
    if (value.type !== "array") {
        checkScalar(key, value.type, value.value);
        sink.u32(TYPE_ID[value.type]);
        writeScalar(sink, value.type, value.value);
        return;
    }
    const items = value.value as ArrayLike<unknown>;
    if (!(value.itemType in TYPE_ID) || value.itemType === ("array" as string))
        throw new Error(`GGUF metadata "${key}": array item type "${value.itemType}" is not supported (scalars only)`);
    sink.u32(TYPE_ID.array);
    sink.u32(TYPE_ID[value.itemType]);
    sink.u64(BigInt(items.length));
    if (items instanceof Float32Array && value.itemType === "float32") {
        // copy the bits verbatim so NaN payloads and -0 survive (host is little-endian, checked below)
        sink.bytes(new Uint8Array(items.buffer, items.byteOffset, items.byteLength));
        return;
    }
    for (let i = 0; i < items.length; i++) {
        checkScalar(`${key}[${i}]`, value.itemType, items[i]);
        writeScalar(sink, value.itemType, items[i]);
    }
}

function checkTensorSpec(t: GgufTensorSpec): void {
    const nameBytes = Buffer.byteLength(t.name, "utf8");
    if (nameBytes === 0 || nameBytes >= GGML_MAX_NAME)
        throw new Error(`GGUF tensor "${t.name}": name must be 1..${GGML_MAX_NAME - 1} bytes (ggml's GGML_MAX_NAME)`);
    if (!(t.type in TENSOR_TYPE_ID))
        throw new Error(`GGUF tensor "${t.name}": type "${t.type}" is not supported (F32 or F16)`);
    if (t.shape.length < 1 || t.shape.length > GGML_MAX_DIMS)
        throw new Error(`GGUF tensor "${t.name}": ${t.shape.length} dimensions; ggml allows 1..${GGML_MAX_DIMS}`);
    for (const ne of t.shape)
        if (!Number.isSafeInteger(ne) || ne < 1)
            throw new Error(`GGUF tensor "${t.name}": dimension ${ne} is not a positive integer`);
}

export interface GgufLayout {
    /** Header bytes: magic, counts, metadata, tensor infos, padding up to the data section. */
    readonly header: Buffer;
    /** Offset of each tensor relative to the data section (a multiple of the alignment). */
    readonly tensorOffsets: readonly number[];
    /** Total file size in bytes. */
    readonly fileSize: number;
    readonly alignment: number;
}

/** Encodes the header and places the tensors; pure, so tests can check offsets without writing data. */
export function layoutGguf(metadata: GgufMetadata, tensors: readonly GgufTensorSpec[], alignment = GGUF_DEFAULT_ALIGNMENT): GgufLayout {
    if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0 || alignment > 0xffffffff)
        throw new Error(`GGUF alignment ${alignment} is not a power of 2 (llama.cpp rejects it)`);
    const meta = new Map(metadata);
    const given = meta.get("general.alignment");
    if (given !== undefined && (given.type !== "uint32" || given.value !== alignment))
        throw new Error(`GGUF metadata "general.alignment" must be uint32 ${alignment} (llama.cpp requires uint32); pass the alignment option instead`);
    if (given === undefined && alignment !== GGUF_DEFAULT_ALIGNMENT)
        meta.set("general.alignment", kv.u32(alignment));

    const names = new Set<string>();
    for (const t of tensors) {
        checkTensorSpec(t);
        if (names.has(t.name))
            throw new Error(`GGUF tensor "${t.name}" appears twice (llama.cpp rejects duplicate names)`);
        names.add(t.name);
    }

    const sink = new ByteSink();
    sink.bytes(Buffer.from("GGUF", "latin1"));
    sink.u32(3);
    sink.u64(BigInt(tensors.length));
    sink.u64(BigInt(meta.size));
    for (const [key, value] of meta) {
        if (key.length === 0)
            throw new Error("GGUF metadata key must not be empty");
        sink.str(key);
        writeValue(sink, key, value);
    }
    const tensorOffsets: number[] = [];
    let offset = 0;
    for (const t of tensors) {
        sink.str(t.name);
        sink.u32(t.shape.length);
        for (const ne of t.shape)
            sink.u64(BigInt(ne));
        sink.u32(TENSOR_TYPE_ID[t.type]);
        sink.u64(BigInt(offset));
        tensorOffsets.push(offset);
        offset += alignTo(tensorByteLength(t.type, t.shape), alignment);
    }
    sink.zeros(alignTo(sink.length, alignment) - sink.length);
    const header = sink.result();
    return {header, tensorOffsets, fileSize: header.length + offset, alignment};
}

// ---------------------------------------------------------------------------------------------
// Streaming writer

let tmpCounter = 0;

/** Temporary name beside the target: `<file>.tmp-<pid>-<n>` (n keeps concurrent writes in one process apart). */
export function tempPathFor(file: string): string {
    return `${file}.tmp-${process.pid}-${tmpCounter++}`;
}

/** Batches small writes (norm vectors, short chunks) into larger ones. */
class FileSink {
    private pending: Buffer[] = [];
    private pendingBytes = 0;
    written = 0;

    constructor(private readonly fh: fs.promises.FileHandle) {}

    async write(bytes: Uint8Array): Promise<void> {
        this.written += bytes.length;
        if (bytes.length >= 1 << 20) {
            await this.flush();
            await writeAll(this.fh, bytes);
            return;
        }
        // copy: the caller may reuse its chunk buffer after this returns
        this.pending.push(Buffer.from(bytes));
        this.pendingBytes += bytes.length;
        if (this.pendingBytes >= 1 << 20)
            await this.flush();
    }

    async flush(): Promise<void> {
        if (this.pendingBytes === 0)
            return;
        const all = Buffer.concat(this.pending, this.pendingBytes);
        this.pending = [];
        this.pendingBytes = 0;
        await writeAll(this.fh, all);
    }
}

async function writeAll(fh: fs.promises.FileHandle, bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
        const {bytesWritten} = await fh.write(bytes, done, bytes.length - done);
        done += bytesWritten;
    }
}

function asBytes(chunk: Float32Array, type: GgufTensorType): Uint8Array {
    if (type === "F32")
        return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const half = float32ToF16Array(chunk);
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
}

/**
 * Writes a GGUF v3 file tensor by tensor, never holding more than one chunk of tensor data. The
 * file appears under its final name only when complete: data goes to `<file>.tmp-<pid>-<n>`, is
 * synced, then renamed; on any error the temporary file is removed and the error names `file`.
 */
export async function writeGguf(file: string, metadata: GgufMetadata, tensors: readonly GgufTensorSpec[], options: WriteGgufOptions = {}): Promise<void> {
    if (os.endianness() !== "LE")
        throw new Error("writing GGUF needs a little-endian host");
    const layout = layoutGguf(metadata, tensors, options.alignment);
    await fs.promises.mkdir(path.dirname(path.resolve(file)), {recursive: true});
    const tmp = tempPathFor(file);
    const fh = await fs.promises.open(tmp, "w");
    try {
        const sink = new FileSink(fh);
        await sink.write(layout.header);
        for (const t of tensors) {
            const expected = elementCount(t.shape);
            let count = 0;
            for await (const chunk of t.data()) {
                if (!(chunk instanceof Float32Array))
                    throw new Error(`tensor "${t.name}": data must yield Float32Array chunks`);
                count += chunk.length;
                if (count > expected)
                    break;
                await sink.write(asBytes(chunk, t.type));
            }
            if (count !== expected)
                throw new Error(`tensor "${t.name}": data supplied ${count > expected ? "more than" : count} values, shape [${t.shape.join(", ")}] needs ${expected}`);
            const bytes = tensorByteLength(t.type, t.shape);
            await sink.write(new Uint8Array(alignTo(bytes, layout.alignment) - bytes));
            options.onProgress?.(sink.written, layout.fileSize);
        }
        await sink.flush();
        if (sink.written !== layout.fileSize)
            throw new Error(`wrote ${sink.written} bytes but the layout needs ${layout.fileSize} (internal error)`);
        await fh.sync();
        await fh.close();
        await fs.promises.rename(tmp, file);
    } catch (err) {
        await fh.close().catch(() => undefined); // already closed when rename failed
        await fs.promises.rm(tmp, {force: true});
        throw new Error(`cannot write GGUF file ${file}: ${(err as Error).message}`, {cause: err});
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface GgufTensorInfo {
    readonly name: string;
    /** ggml type id (0 = F32, 1 = F16, ...). */
    readonly type: number;
    /** ggml type name ("F32", "Q4_K", ...) or "type<id>" when unknown here. */
    readonly typeName: string;
    /** ggml order, shape[0] innermost. */
    readonly shape: readonly number[];
    /** Absolute byte offset of the data in the file. */
    readonly offset: number;
    /** Bytes of data, or undefined for a type whose size this module does not know. */
    readonly byteLength: number | undefined;
}

export interface GgufFile {
    readonly file: string;
    readonly version: number;
    readonly metadata: GgufMetadata;
    readonly tensors: readonly GgufTensorInfo[];
    readonly alignment: number;
    /** Absolute offset of the tensor data section. */
    readonly dataOffset: number;
    readonly fileSize: number;
}

function fromParsedValue(key: string, type: GGUFValueType, subType: GGUFValueType | undefined, value: MetadataValue): GgufValue {
    const name = TYPE_NAME[type];
    if (name === undefined)
        throw new Error(`metadata "${key}" has unknown GGUF type ${type}`);
    if (name !== "array")
        return {type: name, value} as GgufValue;
    const itemType = subType === undefined ? undefined : TYPE_NAME[subType];
    if (itemType === undefined || itemType === "array")
        throw new Error(`metadata "${key}" is an array of ${itemType ?? "unknown type"}, which icon2 does not read`);
    return {type: "array", itemType, value} as GgufValue;
}

async function readPrefix(file: string, n: number): Promise<Buffer> {
    const fh = await fs.promises.open(file, "r");
    try {
        const buf = Buffer.alloc(n);
        const {bytesRead} = await fh.read(buf, 0, n, 0);
        return buf.subarray(0, bytesRead);
    } finally {
        await fh.close();
    }
}

async function fileSizeOf(file: string): Promise<number> {
    try {
        const st = await fs.promises.stat(file);
        if (!st.isFile())
            throw new Error(`${file} is not a regular file`);
        return st.size;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
            throw new Error(`GGUF file not found: ${file}`);
        throw err;
    }
}

/**
 * Reads metadata and tensor infos (not tensor data). Errors name the file and say what is wrong:
 * missing, "not a GGUF file", unsupported version, unparsable header, or "truncated" when the header
 * or any tensor's data extends past the end of the file.
 */
export async function readGguf(file: string): Promise<GgufFile> {
    const fileSize = await fileSizeOf(file);
    const head = await readPrefix(file, 8);
    if (head.length < 4 || head.toString("latin1", 0, 4) !== "GGUF")
        throw new Error(`${file} is not a GGUF file (it does not start with the bytes "GGUF")`);
    if (head.length < 8)
        throw new Error(`GGUF file ${file} is truncated (${fileSize} bytes, not even a header)`);
    const version = head.readUInt32LE(4);
    if (version !== 2 && version !== 3)
        throw new Error(`GGUF file ${file} has version ${version}; only versions 2 and 3 are supported`);

    let parsed;
    try {
        parsed = await gguf(file, {allowLocalFile: true, typedMetadata: true});
    } catch (err) {
        throw new Error(`GGUF file ${file} cannot be parsed (${(err as Error).message}); it is truncated or corrupt`, {cause: err});
    }
    // @huggingface/gguf zero-fills reads past the end of a local file, so truncation shows up as a
    // header that ends beyond the file rather than as an error.
    const headerEnd = parsed.tensorInfoByteRange[1];
    if (headerEnd > fileSize)
        throw new Error(`GGUF file ${file} is truncated: its header needs ${headerEnd} bytes but the file has ${fileSize}`);

    const metadata = new Map<string, GgufValue>();
    const entries = Object.entries(parsed.typedMetadata) as [string, {value: MetadataValue; type: GGUFValueType; subType?: GGUFValueType}][];
    for (const [key, entry] of entries) {
        if (key === "version" || key === "tensor_count" || key === "kv_count")
            continue; // header fields the parser mixes into the metadata
        metadata.set(key, fromParsedValue(key, entry.type, entry.subType, entry.value));
    }
    const alignmentValue = metadata.get("general.alignment");
    const alignment = alignmentValue === undefined ? GGUF_DEFAULT_ALIGNMENT : Number(alignmentValue.value);
    const dataOffset = Number(parsed.tensorDataOffset);
    const tensors = parsed.tensorInfos.map((t): GgufTensorInfo => {
        const shape = t.shape.map(Number);
        const info = GGML_TYPES.get(t.dtype);
        const n = elementCount(shape);
        return {
            name: t.name,
            type: t.dtype,
            typeName: info?.name ?? `type${t.dtype}`,
            shape,
            offset: dataOffset + Number(t.offset),
            byteLength: info === undefined ? undefined : (n / info.block) * info.bytes
        };
    });
    for (const t of tensors) {
        const end = t.offset + (t.byteLength ?? 0);
        if (end > fileSize)
            throw new Error(`GGUF file ${file} is truncated: tensor "${t.name}" ends at byte ${end} but the file has ${fileSize} bytes; regenerate or re-download it`);
    }
    return {file, version, metadata, tensors, alignment, dataOffset, fileSize};
}

/** Reads one F32 or F16 tensor's values as float32 (F16 converted exactly). */
export async function readTensorF32(file: string, tensor: GgufTensorInfo): Promise<Float32Array> {
    if (tensor.type !== 0 && tensor.type !== 1)
        throw new Error(`${file}: tensor "${tensor.name}" has type ${tensor.typeName}; only F32 and F16 tensors can be read as floats`);
    const n = elementCount(tensor.shape);
    const bytes = n * (tensor.type === 0 ? 4 : 2);
    const buf = new Uint8Array(bytes);
    const fh = await fs.promises.open(file, "r");
    try {
        let done = 0;
        while (done < bytes) {
            const {bytesRead} = await fh.read(buf, done, bytes - done, tensor.offset + done);
            if (bytesRead === 0)
                throw new Error(`GGUF file ${file} is truncated: tensor "${tensor.name}" needs ${bytes} bytes at offset ${tensor.offset}`);
            done += bytesRead;
        }
    } finally {
        await fh.close();
    }
    if (tensor.type === 0)
        return new Float32Array(buf.buffer, 0, n);
    const half = new Uint16Array(buf.buffer, 0, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++)
        out[i] = f16BitsToF32(half[i]);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Typed metadata access

/** The value of `key` when it is a string; throws naming the file otherwise. */
export function metaString(g: GgufFile, key: string): string {
    const v = g.metadata.get(key);
    if (v?.type !== "string")
        throw new Error(`${g.file}: metadata "${key}" ${v === undefined ? "is missing" : `is ${v.type}, expected string`}`);
    return v.value;
}

/** The value of `key` when it is an integer or float scalar (64-bit integers must be safe). */
export function metaNumber(g: GgufFile, key: string): number {
    const v = g.metadata.get(key);
    if (v === undefined || v.type === "array" || v.type === "string" || v.type === "bool")
        throw new Error(`${g.file}: metadata "${key}" ${v === undefined ? "is missing" : `is ${v.type}, expected a number`}`);
    const n = Number(v.value);
    if (typeof v.value === "bigint" && !Number.isSafeInteger(n))
        throw new Error(`${g.file}: metadata "${key}" = ${v.value} is too large`);
    return n;
}
