import fs from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath} from "node:url";

/** icon2's version, from its package.json (one level above src/ and dist/). */
export const icon2Version: string = (JSON.parse(fs.readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as {version: string}).version;

/** The llama.cpp release pinned by the installed node-llama-cpp (its llama/llama.cpp.info.json), or "unknown". */
export function llamaCppVersion(): string {
    const require = createRequire(import.meta.url);
    for (const base of require.resolve.paths("node-llama-cpp") ?? []) {
        const file = path.join(base, "node-llama-cpp", "llama", "llama.cpp.info.json");
        if (fs.existsSync(file))
            return (JSON.parse(fs.readFileSync(file, "utf8")) as {tag: string}).tag;
    }
    return "unknown";
}
