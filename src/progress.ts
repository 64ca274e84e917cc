// Progress for long stages. Stages report through callbacks; only the CLI turns them into output:
// a live bar on a terminal (auto), plain lines (plain, also auto without a TTY), JSON lines (json) or
// nothing but warnings (none).
import cliProgress from "cli-progress";

export type ProgressMode = "auto" | "plain" | "json" | "none";
export const progressModes: readonly ProgressMode[] = ["auto", "plain", "json", "none"];

export interface ProgressTask {
    /** `done` of `total` units; `info` is shown after the bar (e.g. "12.3 tok/s") */
    update(done: number, info?: Record<string, string | number>): void;
    /** ends the bar; `summary` is printed as a line */
    finish(summary?: string): void;
}

export interface ProgressReporter {
    start(stage: string, total: number, unit: string): ProgressTask;
    /** a message line that does not disturb the bar */
    log(message: string): void;
    /** "icon2: warning: message", in every mode: `none` silences progress, not what the user must know */
    warn(message: string): void;
}

function formatEta(seconds: number): string {
    if (!Number.isFinite(seconds) || seconds < 0)
        return "?";
    if (seconds < 60)
        return `${Math.round(seconds)}s`;
    if (seconds < 3600)
        return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
    return `${Math.floor(seconds / 3600)}h${String(Math.round((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

export function createProgress(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
    const live = mode === "auto" && stream.isTTY === true;
    const effective: ProgressMode = mode === "auto" ? (live ? "auto" : "plain") : mode;
    return {
        log(message) {
            if (effective === "json")
                stream.write(JSON.stringify({event: "log", message}) + "\n");
            else if (effective !== "none")
                stream.write(message + "\n");
        },
        warn(message) {
            if (effective === "json")
                stream.write(JSON.stringify({event: "warning", message}) + "\n");
            else
                stream.write(`icon2: warning: ${message}\n`);
        },
        start(stage, total, unit) {
            const started = Date.now();
            if (effective === "auto") {
                const bar = new cliProgress.SingleBar({
                    stream,
                    format: `${stage.padEnd(10)} {bar} {value}/{total} ${unit} | {rate}/s | ETA {eta_text} {info}`,
                    hideCursor: true,
                    clearOnComplete: false,
                    etaBuffer: 50
                }, cliProgress.Presets.shades_classic);
                bar.start(total, 0, {rate: "0", eta_text: "?", info: ""});
                return {
                    update(done, info) {
                        const elapsed = (Date.now() - started) / 1000;
                        const rate = elapsed > 0 ? done / elapsed : 0;
                        const infoText = info ? Object.entries(info).map(([k, v]) => `${k} ${v}`).join(" ") : "";
                        bar.update(done, {rate: rate.toFixed(2), eta_text: rate > 0 ? formatEta((total - done) / rate) : "?", info: infoText});
                    },
                    finish(summary) {
                        bar.stop();
                        if (summary)
                            stream.write(summary + "\n");
                    }
                };
            }
            let lastPrint = 0, lastPrinted = -1;
            return {
                update(done, info) {
                    const now = Date.now();
                    const elapsed = (now - started) / 1000;
                    const rate = elapsed > 0 ? done / elapsed : 0;
                    if (effective === "json") {
                        stream.write(JSON.stringify({event: "progress", stage, done, total, unit, rate: Number(rate.toFixed(3)), eta_s: rate > 0 ? Math.round((total - done) / rate) : null, ...info}) + "\n");
                    } else if (effective === "plain" && done !== lastPrinted && (now - lastPrint > 2000 || done === total)) {
                        lastPrint = now;
                        lastPrinted = done;
                        const infoText = info ? " " + Object.entries(info).map(([k, v]) => `${k} ${v}`).join(" ") : "";
                        stream.write(`${stage}: ${done}/${total} ${unit} (${rate.toFixed(2)}/s, ETA ${rate > 0 ? formatEta((total - done) / rate) : "?"})${infoText}\n`);
                    }
                },
                finish(summary) {
                    if (effective === "json")
                        stream.write(JSON.stringify({event: "done", stage, seconds: (Date.now() - started) / 1000, summary}) + "\n");
                    else if (effective !== "none" && summary)
                        stream.write(summary + "\n");
                }
            };
        }
    };
}
