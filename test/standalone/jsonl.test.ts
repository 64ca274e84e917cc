import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, test} from "vitest";
import {z} from "zod";
import {JsonlAppender, JsonlError, readJsonl, readJsonlAll, writeFileAtomic, writeJsonlAtomic} from "../../src/jsonl.js";
import {InstructionRecord} from "../../src/records.js";

let dir: string;
beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), "icon2-jsonl-"));
});
afterEach(async () => {
    await fsp.rm(dir, {recursive: true, force: true});
});

async function expectJsonlError(promise: Promise<unknown>): Promise<JsonlError> {
    try {
        await promise;
    } catch (err) {
        expect(err).toBeInstanceOf(JsonlError);
        return err as JsonlError;
    }
    throw new Error("expected a JsonlError");
}

describe("readJsonl", () => {
    test("reads records, ignoring blank lines, CRLF and a BOM", async () => {
        const file = path.join(dir, "a.jsonl");
        await fsp.writeFile(file, "\ufeff{\"a\":1}\r\n\n{\"a\":2}\n   \n{\"a\":3}\n");
        expect(await readJsonlAll(file)).toEqual([{a: 1}, {a: 2}, {a: 3}]);
    });

    test("a complete last record without trailing newline is kept", async () => {
        const file = path.join(dir, "a.jsonl");
        await fsp.writeFile(file, "{\"a\":1}\n{\"a\":2}");
        expect(await readJsonlAll(file)).toEqual([{a: 1}, {a: 2}]);
    });

    test("a torn tail is an error by default and skipped with allowTornTail", async () => {
        const file = path.join(dir, "torn.jsonl");
        await fsp.writeFile(file, "{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"b\":\"hal");
        const err = await expectJsonlError(readJsonlAll(file));
        expect(err.line).toBe(3);
        expect(err.message).toContain(`${file}:3`);
        expect(err.message).toContain("torn");

        const torn: Array<[number, string]> = [];
        const records = await readJsonlAll(file, {allowTornTail: true, onTornTail: (line, text) => torn.push([line, text])});
        expect(records).toEqual([{a: 1}, {a: 2}]);
        expect(torn).toEqual([[3, "{\"a\":3,\"b\":\"hal"]]);
    });

    test("the generator returns a summary", async () => {
        const file = path.join(dir, "s.jsonl");
        await fsp.writeFile(file, "{\"a\":1}\nnope\n{\"a\":2}\n{\"a\"");
        const generator = readJsonl(file, {skipInvalid: true, allowTornTail: true});
        const seen: unknown[] = [];
        let step = await generator.next();
        while (step.done !== true) {
            seen.push(step.value);
            step = await generator.next();
        }
        expect(seen).toEqual([{a: 1}, {a: 2}]);
        expect(step.value).toEqual({records: 2, skipped: 1, tornTail: true, lines: 4});
    });

    test("an unparsable last line that does end in a newline is malformed, not torn", async () => {
        const file = path.join(dir, "bad-end.jsonl");
        await fsp.writeFile(file, "{\"a\":1}\n{oops\n");
        const err = await expectJsonlError(readJsonlAll(file, {allowTornTail: true}));
        expect(err.line).toBe(2);
        expect(err.message).toContain("malformed JSON");
    });

    test("a malformed middle line names file and 1-based line number", async () => {
        const file = path.join(dir, "bad.jsonl");
        await fsp.writeFile(file, "{\"a\":1}\n\n{\"a\":2,}\n{\"a\":3}\n");
        const err = await expectJsonlError(readJsonlAll(file, {allowTornTail: true}));
        expect(err.file).toBe(file);
        expect(err.line).toBe(3);
        expect(err.message).toMatch(/bad\.jsonl:3: malformed JSON/);
        expect(err.message).toContain("--skip-invalid");
    });

    test("skipInvalid counts and reports skipped lines", async () => {
        const file = path.join(dir, "skip.jsonl");
        await fsp.writeFile(file, [
            JSON.stringify({id: "a", instruction: "x"}),
            "not json",
            JSON.stringify({id: "b", instruction: 5}),
            JSON.stringify({id: "c", instruction: "z"})
        ].join("\n") + "\n");
        const skipped: Array<[number, string]> = [];
        const records = await readJsonlAll(file, {
            schema: InstructionRecord, skipInvalid: true, onSkip: (line, reason) => skipped.push([line, reason])
        });
        expect(records.map((r) => r.id)).toEqual(["a", "c"]);
        expect(skipped.map(([line]) => line)).toEqual([2, 3]);
        expect(skipped[1][1]).toContain("`instruction`");
    });

    test("a schema error names the line and the failing field", async () => {
        const file = path.join(dir, "schema.jsonl");
        const schema = z.object({id: z.string(), scores: z.record(z.string(), z.number())});
        await fsp.writeFile(file, [
            JSON.stringify({id: "a", scores: {general: 1}}),
            JSON.stringify({id: "b", scores: {general: "high"}})
        ].join("\n") + "\n");
        const err = await expectJsonlError(readJsonlAll(file, {schema}));
        expect(err.line).toBe(2);
        expect(err.message).toContain("`scores.general`");
    });

    test("schema output (defaults, passthrough) is what is yielded", async () => {
        const file = path.join(dir, "defaults.jsonl");
        const schema = z.object({id: z.string(), n: z.number().default(7)});
        await fsp.writeFile(file, "{\"id\":\"a\"}\n");
        expect(await readJsonlAll(file, {schema})).toEqual([{id: "a", n: 7}]);
    });

    test("a missing file is a JsonlError with line 0", async () => {
        const err = await expectJsonlError(readJsonlAll(path.join(dir, "missing.jsonl")));
        expect(err.line).toBe(0);
        expect(err.message).toContain("cannot open");
    });

    test("streams a large file in order", async () => {
        const file = path.join(dir, "large.jsonl");
        const n = 120_000;
        await writeJsonlAtomic(file, (function* () {
            for (let i = 0; i < n; i++)
                yield {id: `r${i}`, i, text: "x".repeat(i % 50)};
        })());
        let count = 0;
        let ordered = true;
        for await (const record of readJsonl<{i: number}>(file)) {
            if (record.i !== count)
                ordered = false;
            count++;
        }
        expect(count).toBe(n);
        expect(ordered).toBe(true);
    });

    test("stopping early releases the file", async () => {
        const file = path.join(dir, "early.jsonl");
        await fsp.writeFile(file, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
        for await (const record of readJsonl(file)) {
            expect(record).toEqual({a: 1});
            break;
        }
        await fsp.rm(file);
    });
});

describe("JsonlAppender", () => {
    test("creates the file and its folder, appends whole lines in order", async () => {
        const file = path.join(dir, "sub", "out.jsonl");
        const appender = await JsonlAppender.open<{i: number, s?: string}>(file);
        expect(appender.repair).toEqual({kind: "none"});
        await Promise.all([appender.append({i: 1, s: "line\nbreak"}), appender.append({i: 2})]);
        await appender.appendMany([{i: 3}, {i: 4}]);
        await appender.appendMany([]);
        await appender.close();
        await appender.close();
        expect(await fsp.readFile(file, "utf8")).toBe("{\"i\":1,\"s\":\"line\\nbreak\"}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n");
        await expect(appender.append({i: 5})).rejects.toThrow(/closed/);
    });

    test("truncates a torn tail on open, so resume never leaves half a line", async () => {
        const file = path.join(dir, "resume.jsonl");
        await fsp.writeFile(file, "{\"i\":1}\n{\"i\":2}\n{\"i\":3,\"tex");
        const appender = await JsonlAppender.open<{i: number}>(file);
        expect(appender.repair).toEqual({kind: "truncated", bytes: 11, text: "{\"i\":3,\"tex"});
        await appender.append({i: 3});
        await appender.flush();
        await appender.close();
        expect(await fsp.readFile(file, "utf8")).toBe("{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n");
        expect(await readJsonlAll(file)).toEqual([{i: 1}, {i: 2}, {i: 3}]);
    });

    test("a file that is only a torn line is emptied", async () => {
        const file = path.join(dir, "only-torn.jsonl");
        await fsp.writeFile(file, "{\"i\":");
        const appender = await JsonlAppender.open(file);
        await appender.close();
        expect(await fsp.readFile(file, "utf8")).toBe("");
    });

    test("a complete last record missing its newline gets one", async () => {
        const file = path.join(dir, "no-newline.jsonl");
        await fsp.writeFile(file, "{\"i\":1}\n{\"i\":2}");
        const appender = await JsonlAppender.open(file);
        expect(appender.repair).toEqual({kind: "newline-added"});
        await appender.append({i: 3});
        await appender.close();
        expect(await fsp.readFile(file, "utf8")).toBe("{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n");
    });

    test("a torn tail longer than the scan chunk is found", async () => {
        const file = path.join(dir, "long-torn.jsonl");
        const torn = "{\"text\":\"" + "y".repeat(200_000);
        await fsp.writeFile(file, "{\"i\":1}\n" + torn);
        const appender = await JsonlAppender.open(file);
        expect(appender.repair.kind).toBe("truncated");
        await appender.close();
        expect(await fsp.readFile(file, "utf8")).toBe("{\"i\":1}\n");
    });

    test("an intact file is left as it is", async () => {
        const file = path.join(dir, "intact.jsonl");
        await fsp.writeFile(file, "{\"i\":1}\n");
        const appender = await JsonlAppender.open(file);
        expect(appender.repair).toEqual({kind: "none"});
        await appender.close();
        expect(await fsp.readFile(file, "utf8")).toBe("{\"i\":1}\n");
    });

    test("a value JSON cannot represent is rejected", async () => {
        const appender = await JsonlAppender.open<unknown>(path.join(dir, "u.jsonl"));
        await expect(appender.append(undefined)).rejects.toThrow(JsonlError);
        await appender.close();
    });
});

describe("writeFileAtomic", () => {
    test("writes strings, bytes and iterables, replacing the old content", async () => {
        const file = path.join(dir, "deep", "f.txt");
        await writeFileAtomic(file, "one");
        expect(await fsp.readFile(file, "utf8")).toBe("one");
        await writeFileAtomic(file, new TextEncoder().encode("two"));
        expect(await fsp.readFile(file, "utf8")).toBe("two");
        await writeFileAtomic(file, ["th", new TextEncoder().encode("ree")]);
        expect(await fsp.readFile(file, "utf8")).toBe("three");
        expect(fs.readdirSync(path.dirname(file))).toEqual(["f.txt"]);
    });

    test("a failure leaves no file and no temporary file", async () => {
        const file = path.join(dir, "fail.jsonl");
        async function* failing(): AsyncGenerator<string> {
            yield "{\"a\":1}\n";
            throw new Error("generator broke");
        }
        await expect(writeFileAtomic(file, failing())).rejects.toThrow("generator broke");
        expect(fs.readdirSync(dir)).toEqual([]);
    });

    test("a failure keeps the previous content", async () => {
        const file = path.join(dir, "keep.jsonl");
        await writeJsonlAtomic(file, [{a: 1}]);
        await expect(writeJsonlAtomic(file, (function* () {
            yield {a: 2};
            throw new Error("stop");
        })())).rejects.toThrow("stop");
        expect(await fsp.readFile(file, "utf8")).toBe("{\"a\":1}\n");
        expect(fs.readdirSync(dir)).toEqual(["keep.jsonl"]);
    });
});
