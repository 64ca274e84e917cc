// Resolving `--model`: a local GGUF path, or an `hf:` URI / URL downloaded (once, cached) through
// node-llama-cpp's resolver. Plus the file identity recorded in run manifests.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface ModelSourceOptions {
    /** where downloaded models are cached; defaults to node-llama-cpp's (~/.node-llama-cpp/models) */
    directory?: string;
    /** show node-llama-cpp's download progress. Defaults to `true`. */
    progress?: boolean;
    /** allow downloading. Defaults to `true`. */
    download?: boolean;
}

const remotePattern = /^(hf:|huggingface:|https?:\/\/)/i;

export function isRemoteModel(spec: string): boolean {
    return remotePattern.test(spec);
}

/** Returns a local path to the model file, downloading a remote one first. */
export async function resolveModelSource(spec: string, options: ModelSourceOptions = {}): Promise<string> {
    if (!spec)
        throw new Error("no model given: pass --model PATH.gguf or --model hf:<user>/<repo>:<quant>");
    if (!isRemoteModel(spec)) {
        const file = path.resolve(spec);
        if (!fs.existsSync(file))
            throw new Error(`model file not found: ${spec} (pass a local .gguf path, or an hf:<user>/<repo>:<quant> URI or URL to download)`);
        return file;
    }
    // loaded only for remote models: node-llama-cpp's index is large and does nothing else for us
    const {resolveModelFile} = await import("node-llama-cpp");
    try {
        return await resolveModelFile(spec, {
            directory: options.directory,
            download: options.download === false ? false : "auto",
            cli: options.progress ?? true
        });
    } catch (err) {
        throw new Error(`cannot resolve model ${spec}: ${(err as Error).message}`);
    }
}

export interface FileIdentity {
    name: string;
    size: number;
    sha256: string;
    /** modification time when hashed; lets a resume skip rehashing an unchanged file */
    mtimeMs?: number;
}

/**
 * Name, size and sha256 of a file (streamed; a few seconds per GB). When `known` describes the same
 * file (name, size and modification time), its hash is reused instead of reading gigabytes again.
 */
export async function fileIdentity(file: string, known?: FileIdentity): Promise<FileIdentity> {
    const stat = fs.statSync(file);
    if (known && known.name === path.basename(file) && known.size === stat.size && known.mtimeMs === stat.mtimeMs)
        return known;
    const hash = crypto.createHash("sha256");
    const stream = fs.createReadStream(file);
    for await (const chunk of stream)
        hash.update(chunk as Buffer);
    return {name: path.basename(file), size: stat.size, sha256: hash.digest("hex"), mtimeMs: stat.mtimeMs};
}
