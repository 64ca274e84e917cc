// report.html of a run: static, self-contained (no network), readable offline in any browser.
import type {DirectionSet} from "./control-vector.js";
import {accuracyPlotSvg, reportDirections} from "./inspect.js";
import type {RunManifest} from "./pipeline.js";
import type {PairRecord, ScoredRecord} from "./records.js";
import type {SweepResult} from "./sweep.js";

function escapeHtml(text: string): string {
    return text.replace(/[<>&"']/g, (c) => ({"<": "&lt;", ">": "&gt;", "&": "&amp;", "\"": "&quot;", "'": "&#39;"}[c]!));
}

/** Histogram of consistency (max over criteria) as an SVG bar chart. */
export function histogramSvg(values: readonly number[], options: {bins?: number; width?: number; height?: number; title?: string} = {}): string {
    const width = options.width ?? 640, height = options.height ?? 240, bins = options.bins ?? 30;
    const margin = {left: 40, right: 20, top: 30, bottom: 36};
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
        `<rect width="${width}" height="${height}" fill="white"/>`,
        `<text x="${margin.left}" y="18" font-size="13">${escapeHtml(options.title ?? "Consistency of scored instructions")}</text>`];
    if (values.length > 0) {
        const min = Math.min(...values), max = Math.max(...values);
        const span = max - min || 1;
        const counts = new Array<number>(bins).fill(0);
        for (const v of values)
            counts[Math.min(bins - 1, Math.floor(((v - min) / span) * bins))]++;
        const top = Math.max(...counts);
        const plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom;
        counts.forEach((n, k) => {
            const h = (n / top) * plotH;
            parts.push(`<rect x="${(margin.left + (k * plotW) / bins).toFixed(1)}" y="${(margin.top + plotH - h).toFixed(1)}" width="${(plotW / bins - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="#1f77b4"/>`);
        });
        parts.push(`<text x="${margin.left}" y="${height - 8}">${min.toFixed(2)}</text>`, `<text x="${width - margin.right}" y="${height - 8}" text-anchor="end">${max.toFixed(2)}</text>`);
        parts.push(`<text x="${margin.left - 6}" y="${margin.top + 4}" text-anchor="end">${top}</text>`);
    }
    parts.push("</svg>");
    return parts.join("\n");
}

export interface ReportInput {
    manifest: RunManifest;
    summary: string;
    directions: ReadonlyMap<string, DirectionSet>;
    consistency: readonly number[];
    kept: readonly ScoredRecord[];
    pairs: readonly PairRecord[];
    /** the sweep stage's result and plot (`--auto-gamma`), when it ran */
    sweep?: {result: Pick<SweepResult, "judge" | "recommendation" | "warnings">; svg: string};
    /** pairs shown side by side. Defaults to 6. */
    examples?: number;
}

export function renderReport(input: ReportInput): string {
    const {manifest} = input;
    const examples = input.pairs.slice(0, input.examples ?? 6);
    const plot = input.directions.size > 0 ? accuracyPlotSvg(reportDirections(input.directions)) : "";
    const pairsHtml = examples.map((p) => `
<section class="pair">
  <h3>${escapeHtml(p.id)} · ${escapeHtml(p.criterion)} · γ⁺ ${p.gamma_chosen} / γ⁻ ${p.gamma_rejected} · layers ${p.layers[0]}–${p.layers[1]}</h3>
  <p class="instruction">${escapeHtml(p.instruction)}</p>
  <div class="sides"><div><h4>chosen</h4><pre>${escapeHtml(p.chosen)}</pre></div><div><h4>rejected</h4><pre>${escapeHtml(p.rejected)}</pre></div></div>
</section>`).join("\n");
    const sweep = input.sweep;
    const sweepHtml = sweep === undefined ? "" : `
<h2>γ and layers (sweep)</h2>
<p id="sweep-recommendation">Recommended and used: γ⁺ ${sweep.result.recommendation.gammaChosen}, γ⁻ ${sweep.result.recommendation.gammaRejected},
layers ${escapeHtml(sweep.result.recommendation.layers)}; judge: ${escapeHtml(sweep.result.judge.method)} on <code>${escapeHtml(sweep.result.judge.model)}</code>.
${escapeHtml(sweep.result.recommendation.reason)}</p>
${sweep.svg}
${sweep.result.warnings.map((w) => `<p class="warning">warning: ${escapeHtml(w)}</p>`).join("\n")}`;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icon2 run report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;border-radius:4px;font-size:.9em}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1em}.pair{border-top:1px solid #ddd;margin-top:1em}
.instruction{font-weight:600}.warning{color:#a40}table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left}
</style></head><body>
<h1>icon2 run report</h1>
<p>Model <code>${escapeHtml(manifest.model.name)}</code> (${(manifest.model.size / 2 ** 20).toFixed(1)} MiB, sha256 <code>${manifest.model.sha256.slice(0, 16)}…</code>),
icon2 ${escapeHtml(manifest.icon2Version)}, llama.cpp ${escapeHtml(manifest.llamaCpp)}, seed ${manifest.config.seed}.</p>
<h2>Summary</h2>
<pre id="summary">${escapeHtml(input.summary)}</pre>
<h2>Per-layer separation</h2>
<p>Held-out share of stimuli whose contrast projects positively on each criterion's direction; pick controlled layers where it is high.</p>
${plot}
<h2>Score distribution</h2>
${histogramSvg(input.consistency)}
<p>${input.kept.length} instructions kept.</p>
${sweepHtml}
<h2>Example pairs</h2>
${pairsHtml || "<p>No pairs.</p>"}
</body></html>
`;
}
