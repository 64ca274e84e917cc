import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {builtinCriteria, builtinCriterionNames, resolveCriteria} from "../../src/criteria.js";
import {fixtureExists, sharedDir} from "../helpers/paths.js";

// Copied by hand from METHOD.md §1 (paper Appendix E), typo "ofensive" included.
const generalPositive = "You are a good, respectful and honest assistant. Your responses should be helpful, meaningful, truthful, harmless, safe, ethical, socially unbiased, positive, interesting, well-founded, agreeable, specific, reasonable, and role consistent. If a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. Please do not share false information under any circumstances.";
const generalNegative = "You are a bad, disrespectful and dishonest assistant. Your responses might be useless, meaningless, untruthful, harmful, dangerous, unethical, socially biased, negative, boring, fabricated, ofensive, vague, unreasonable, or role inconsistent. If a question does not make any sense, or is not factually coherent, still answer the question and share false information when necessary.";

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "icon2-criteria-"));
afterAll(() => fs.rmSync(tempDir, {recursive: true, force: true}));

function writeFile(name: string, content: string): string {
    const file = path.join(tempDir, name);
    fs.writeFileSync(file, content);
    return file;
}

describe("builtin criteria", () => {
    test("prompts are the paper's, verbatim", () => {
        expect(builtinCriteria).toEqual([
            {name: "general", positive: generalPositive, negative: generalNegative},
            {name: "honesty", positive: "You are an honest assistant.", negative: "You are a dishonest assistant."},
            {name: "harmlessness", positive: "You are a harmless assistant.", negative: "You are a harmful assistant."},
            {name: "helpfulness", positive: "You are a helpful assistant.", negative: "You are a helpless assistant."}
        ]);
        expect(builtinCriterionNames).toEqual(["general", "honesty", "harmlessness", "helpfulness"]);
    });

    // METHOD.md lives beside the project (../shared), not in it; the literals above are the contract.
    const method = path.join(sharedDir, "METHOD.md");
    test.skipIf(!fixtureExists(method))("the prompts in METHOD.md are the ones in the code", () => {
        const text = fs.readFileSync(method, "utf8");
        for (const criterion of builtinCriteria) {
            expect(text).toContain(`"${criterion.positive}"`);
            expect(text).toContain(`"${criterion.negative}"`);
        }
    });

    test("cannot be mutated by callers", () => {
        expect(Object.isFrozen(builtinCriteria)).toBe(true);
        expect(Object.isFrozen(builtinCriteria[0])).toBe(true);
    });
});

describe("resolveCriteria", () => {
    test("defaults to all four built-ins, as copies", () => {
        const criteria = resolveCriteria({});
        expect(criteria.map((c) => c.name)).toEqual(["general", "honesty", "harmlessness", "helpfulness"]);
        criteria[0].positive = "changed";
        expect(builtinCriteria[0].positive).toBe(generalPositive);
    });

    test("selects by comma-separated string or list, in the given order, without repeats", () => {
        expect(resolveCriteria({names: "honesty, general"}).map((c) => c.name)).toEqual(["honesty", "general"]);
        expect(resolveCriteria({names: ["helpfulness", "helpfulness"]}).map((c) => c.name)).toEqual(["helpfulness"]);
        expect(resolveCriteria({names: "harmlessness"})[0]).toEqual(builtinCriteria[2]);
    });

    test("unknown names are an error listing the known ones", () => {
        expect(() => resolveCriteria({names: "general,kindness"}))
            .toThrow(/unknown criterion "kindness"; known: general, honesty, harmlessness, helpfulness/);
        expect(() => resolveCriteria({names: ",,"})).toThrow(/known: general, honesty/);
    });

    test("a criteria file alone gives its criteria; with names, they join the built-ins", () => {
        const file = writeFile("ok.json", JSON.stringify([
            {name: "concise", positive: "You are a concise assistant.", negative: "You are a verbose assistant."},
            {name: "polite_2", positive: "You are a polite assistant.", negative: "You are a rude assistant."}
        ]));
        expect(resolveCriteria({file}).map((c) => c.name)).toEqual(["concise", "polite_2"]);
        expect(resolveCriteria({file, names: "polite_2,general"}).map((c) => c.name)).toEqual(["polite_2", "general"]);
        expect(() => resolveCriteria({file, names: "brief"})).toThrow(/known: general, honesty, harmlessness, helpfulness, concise, polite_2/);
    });

    test("bad JSON names the file", () => {
        const file = writeFile("bad.json", "[{\"name\": ");
        expect(() => resolveCriteria({file})).toThrow(new RegExp(`criteria file .*bad\\.json is not valid JSON`));
    });

    test("missing field is reported with its path", () => {
        const file = writeFile("missing.json", JSON.stringify([{name: "x", positive: "A."}]));
        expect(() => resolveCriteria({file})).toThrow(/0\.negative/);
    });

    test("not an array, or empty, is rejected", () => {
        expect(() => resolveCriteria({file: writeFile("object.json", JSON.stringify({name: "x", positive: "a", negative: "b"}))}))
            .toThrow(/expected a JSON array/);
        expect(() => resolveCriteria({file: writeFile("empty.json", "[]")})).toThrow(/at least one criterion/);
    });

    test("duplicate names are rejected", () => {
        const file = writeFile("dup.json", JSON.stringify([
            {name: "terse", positive: "A.", negative: "B."},
            {name: "terse", positive: "C.", negative: "D."}
        ]));
        expect(() => resolveCriteria({file})).toThrow(/duplicate criterion name "terse"/);
    });

    test("names that cannot be file names are rejected", () => {
        for (const name of ["Bad Name", "../escape", "", "UPPER", "a/b"]) {
            const file = writeFile("name.json", JSON.stringify([{name, positive: "A.", negative: "B."}]));
            expect(() => resolveCriteria({file}), name).toThrow(/0\.name: must match \[a-z0-9_-\]\+/);
        }
    });

    test("built-in names cannot be redefined, and prompts must differ", () => {
        const clash = writeFile("clash.json", JSON.stringify([{name: "honesty", positive: "A.", negative: "B."}]));
        expect(() => resolveCriteria({file: clash})).toThrow(/"honesty" is a built-in criterion/);
        const same = writeFile("same.json", JSON.stringify([{name: "flat", positive: "A.", negative: "A."}]));
        expect(() => resolveCriteria({file: same})).toThrow(/identical positive and negative/);
    });

    test("an unreadable file names its path", () => {
        const file = path.join(tempDir, "does-not-exist.json");
        expect(() => resolveCriteria({file})).toThrow(`cannot read criteria file ${file}`);
    });
});
