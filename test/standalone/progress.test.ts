// What each --progress mode writes: `none` silences progress and messages but never warnings.
import {describe, expect, it} from "vitest";
import {createProgress, type ProgressMode} from "../../src/progress.js";

function capture(mode: ProgressMode): {text: () => string; reporter: ReturnType<typeof createProgress>} {
    const chunks: string[] = [];
    const stream = {isTTY: false, write: (chunk: string) => chunks.push(chunk)} as unknown as NodeJS.WriteStream;
    return {text: () => chunks.join(""), reporter: createProgress(mode, stream)};
}

describe("createProgress", () => {
    it("none: only warnings", () => {
        const {text, reporter} = capture("none");
        reporter.log("resuming");
        const task = reporter.start("pairs", 2, "pairs");
        task.update(2);
        task.finish("pairs: 2 pairs");
        reporter.warn("only 3 of 8 instructions");
        expect(text()).toBe("icon2: warning: only 3 of 8 instructions\n");
    });

    it("plain: messages, summaries and warnings as lines", () => {
        const {text, reporter} = capture("plain");
        reporter.log("resuming");
        const task = reporter.start("pairs", 2, "pairs");
        task.update(2);
        task.update(2); // the same count again (a final report after the last step) prints no second line
        task.finish("pairs: 2 pairs");
        reporter.warn("short");
        expect(text().split("\n")).toEqual(["resuming", expect.stringMatching(/^pairs: 2\/2 pairs \(/), "pairs: 2 pairs", "icon2: warning: short", ""]);
    });

    it("json: one event per line, warnings as their own event", () => {
        const {text, reporter} = capture("json");
        reporter.warn("short");
        reporter.log("resuming");
        expect(text().trim().split("\n").map((line) => JSON.parse(line))).toEqual([
            {event: "warning", message: "short"}, {event: "log", message: "resuming"}
        ]);
    });
});
