// What users look at to choose controlled layers: per block, each criterion's scale and held-out
// separation accuracy, and how alike the criteria's directions are.
import {readControlVector, readDirectionsDir, type DirectionSet} from "./control-vector.js";
import {cosine} from "./linalg.js";
import fs from "node:fs";

export interface LayerReport {
    layer: number;
    /** per criterion: s^l and held-out accuracy (null when not measured) */
    criteria: Record<string, {scale: number; accuracy: number | null}>;
    /** "a|b" → cosine of u^l_a and u^l_b */
    cosines: Record<string, number>;
}

export interface DirectionsReport {
    model: DirectionSet["model"];
    criteria: string[];
    method: string;
    stimuliCount: number;
    layers: LayerReport[];
}

export async function loadDirections(fileOrDir: string): Promise<Map<string, DirectionSet>> {
    if (!fs.existsSync(fileOrDir))
        throw new Error(`not found: ${fileOrDir}`);
    if (fs.statSync(fileOrDir).isDirectory())
        return readDirectionsDir(fileOrDir);
    const set = await readControlVector(fileOrDir);
    return new Map([[set.criterion, set]]);
}

export function reportDirections(sets: ReadonlyMap<string, DirectionSet>): DirectionsReport {
    const list = [...sets.values()];
    if (list.length === 0)
        throw new Error("no direction sets to report");
    const first = list[0];
    for (const s of list) {
        if (s.model.nLayer !== first.model.nLayer || s.model.nEmbd !== first.model.nEmbd)
            throw new Error(`direction sets are for different models: ${first.criterion} (${first.model.nLayer} blocks, n_embd ${first.model.nEmbd}) vs ${s.criterion} (${s.model.nLayer}, ${s.model.nEmbd})`);
    }
    const layers: LayerReport[] = [];
    for (let il = 0; il < first.model.nLayer; il++) {
        const criteria: LayerReport["criteria"] = {};
        const cosines: Record<string, number> = {};
        for (const s of list) {
            const acc = s.accuracy[il];
            criteria[s.criterion] = {scale: s.scales[il], accuracy: Number.isNaN(acc) ? null : acc};
        }
        for (let a = 0; a < list.length; a++) {
            for (let b = a + 1; b < list.length; b++)
                cosines[`${list[a].criterion}|${list[b].criterion}`] = cosine(list[a].directions[il], list[b].directions[il]);
        }
        layers.push({layer: il, criteria, cosines});
    }
    return {model: first.model, criteria: list.map((s) => s.criterion), method: first.method, stimuliCount: first.stimuliCount, layers};
}

export function formatReport(report: DirectionsReport): string {
    const head = ["layer", ...report.criteria.flatMap((c) => [`${c} acc`, `${c} scale`])];
    const pairs = report.layers[0] ? Object.keys(report.layers[0].cosines) : [];
    head.push(...pairs.map((p) => `cos ${p.replace("|", "·")}`));
    const rows = report.layers.map((l) => [
        String(l.layer),
        ...report.criteria.flatMap((c) => [l.criteria[c].accuracy === null ? "-" : l.criteria[c].accuracy!.toFixed(2), l.criteria[c].scale.toFixed(2)]),
        ...pairs.map((p) => l.cosines[p].toFixed(2))
    ]);
    const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
    const line = (cells: string[]) => cells.map((c, k) => c.padStart(widths[k])).join("  ");
    const title = `${report.model.name || report.model.architecture}: ${report.model.nLayer} blocks, n_embd ${report.model.nEmbd}, method ${report.method}, ${report.stimuliCount} stimuli`;
    return [title, line(head), ...rows.map(line)].join("\n");
}

const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

function escapeXml(text: string): string {
    return text.replace(/[<>&"]/g, (c) => ({"<": "&lt;", ">": "&gt;", "&": "&amp;", "\"": "&quot;"}[c]!));
}

/** Line chart of held-out separation accuracy per block, one line per criterion (static SVG). */
export function accuracyPlotSvg(report: DirectionsReport, options: {width?: number; height?: number} = {}): string {
    const width = options.width ?? 640, height = options.height ?? 360;
    const margin = {left: 50, right: 130, top: 30, bottom: 40};
    const plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom;
    const n = report.layers.length;
    const x = (il: number) => margin.left + (n <= 1 ? 0 : (il / (n - 1)) * plotW);
    const y = (acc: number) => margin.top + (1 - acc) * plotH;
    const parts: string[] = [];
    parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
    parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
    parts.push(`<text x="${margin.left}" y="18" font-size="13">Held-out separation accuracy per layer (${escapeXml(report.model.name || report.model.architecture)})</text>`);
    for (const acc of [0, 0.25, 0.5, 0.75, 1]) {
        parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(acc)}" y2="${y(acc)}" stroke="#ddd"/>`);
        parts.push(`<text x="${margin.left - 6}" y="${y(acc) + 4}" text-anchor="end">${acc.toFixed(2)}</text>`);
    }
    const step = Math.max(1, Math.ceil(n / 16));
    for (let il = 0; il < n; il += step)
        parts.push(`<text x="${x(il)}" y="${margin.top + plotH + 16}" text-anchor="middle">${il}</text>`);
    parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">layer (block index)</text>`);
    report.criteria.forEach((c, k) => {
        const color = palette[k % palette.length];
        const points = report.layers.filter((l) => l.criteria[c].accuracy !== null).map((l) => `${x(l.layer).toFixed(1)},${y(l.criteria[c].accuracy!).toFixed(1)}`);
        if (points.length > 0)
            parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(" ")}"/>`);
        parts.push(`<rect x="${margin.left + plotW + 12}" y="${margin.top + k * 18}" width="12" height="3" fill="${color}"/>`);
        parts.push(`<text x="${margin.left + plotW + 30}" y="${margin.top + k * 18 + 5}">${escapeXml(c)}</text>`);
    });
    parts.push("</svg>");
    return parts.join("\n") + "\n";
}
