// Usage mistakes found by the argument parser stop before any command runs: exit code 2, the
// parser's message and a pointer to --help, nothing else (no second error from a handler that ran anyway).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {describe, expect, it} from "vitest";
import {runCli} from "../helpers/cli.js";

describe("icon2 usage errors", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-usage-"));
    const out = path.join(tmp, "out");
    const missing = path.join(tmp, "missing.jsonl");

    it.each([
        [["export", "--in", missing, "--out", out, "--format", "trl", "--bogus", "1"], ["icon2: Unknown argument: bogus"]],
        [["export", "--in", missing, "--out", out], ["icon2: Missing required argument: format"]],
        [["export", "--in", missing, "--out", out, "--format", "csv"], ["icon2: Invalid values:", /^ {2}Argument: format, Given: "csv", Choices: /]],
        [["frobnicate"], ["icon2: Unknown argument: frobnicate"]],
        [[], ["icon2: give a command; see icon2 --help"]]
    ] as [string[], (string | RegExp)[]][])("icon2 %j", (args, head) => {
        const r = runCli(args);
        expect(r.code).toBe(2);
        const lines = r.stderr.trim().split("\n");
        expect(lines).toHaveLength(head.length + 1);
        head.forEach((expected, k) => expect(lines[k]).toMatch(expected));
        expect(lines.at(-1)).toBe("Run icon2 --help for usage.");
        expect(fs.existsSync(out)).toBe(false);
    });
});
