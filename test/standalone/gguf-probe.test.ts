import {test} from "vitest";
import fs from "node:fs";
import {readGguf, writeGguf} from "../../src/gguf.js";
import {llamaSourceDir} from "../../scripts/llama-source.mjs";
test("probe", async () => {
  for (const n of ["ggml-vocab-qwen2.gguf", "ggml-vocab-llama-bpe.gguf"]) {
    const f = `${llamaSourceDir()}/models/${n}`;
    const g = await readGguf(f);
    await writeGguf(`/tmp/gt/${n}`, g.metadata, []);
    const a = fs.readFileSync(f), b = fs.readFileSync(`/tmp/gt/${n}`);
    console.log(n, a.length, b.length, a.equals(b));
  }
});
