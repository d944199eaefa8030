// Renders the figure model as a static SVG: the image/svg+xml fallback that shows where
// plotly.js cannot run (GitHub, nbconvert HTML of outputs without scripts, front ends with
// no plotly renderer). It draws what plotly.js draws for our figures, with the same
// colours and ranges: axes with nice ticks, grid lines, line/scatter/bar series, a legend,
// heatmaps with colour scales and annotations, and image grids.
//
// Coordinates: the figure is width x height pixels; panels take cells of a rows x cols grid;
// each panel's plot area is its cell less margins for ticks and labels. The output has no
// element ids (several SVGs share one HTML page) and no randomness (outputs reproduce).

import { colorAt, colorway, extent, formatNumber, type FigureSpec, type MatrixPanel, type XYPanel } from "./model.js";
import { panelPng } from "./raster.js";

interface Box { x: number; y: number; w: number; h: number }

const FONT = `font-family="Helvetica, Arial, sans-serif"`;

export function toSVG(spec: FigureSpec): string {
  const parts: string[] = [];
  const top = spec.title ? 36 : 8;
  parts.push(`<rect x="0" y="0" width="${spec.width}" height="${spec.height}" fill="#ffffff"/>`);
  if (spec.title) parts.push(text(spec.width / 2, 24, spec.title, { size: 17, anchor: "middle" }));
  const cellW = spec.width / spec.cols;
  const cellH = (spec.height - top) / spec.rows;
  spec.panels.forEach((panel, i) => {
    const cell: Box = { x: (i % spec.cols) * cellW, y: top + Math.floor(i / spec.cols) * cellH, w: cellW, h: cellH };
    if (panel.kind === "xy") parts.push(renderXY(panel, cell, spec.showLegend));
    else parts.push(renderMatrix(panel, cell));
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="tensorbook-figure" width="${spec.width}" height="${spec.height}" ` +
    `viewBox="0 0 ${spec.width} ${spec.height}">${parts.join("")}</svg>`
  );
}

// ---------------------------------------------------------------------------------------
// x-y panels

function renderXY(panel: XYPanel, cell: Box, showLegend: boolean): string {
  const out: string[] = [];
  const titleH = panel.title ? 20 : 0;
  const area: Box = {
    x: cell.x + 58, y: cell.y + 8 + titleH,
    w: Math.max(10, cell.w - 58 - 16), h: Math.max(10, cell.h - 8 - titleH - (panel.xlabel ? 46 : 30)),
  };
  if (panel.title) out.push(text(area.x + area.w / 2, cell.y + 20, panel.title, { size: 13, anchor: "middle" }));
  const ty = (v: number) => (panel.logy ? (v > 0 ? Math.log10(v) : NaN) : v);
  const xs = panel.series.flatMap((s) => s.x);
  const ys = panel.series.flatMap((s) => s.y.map(ty));
  const hasBars = panel.series.some((s) => s.kind === "bar");
  let [x0, x1] = extent(xs);
  let [y0, y1] = extent(hasBars ? [...ys, 0] : ys);
  let barWidth = 0;
  if (hasBars) {
    const sorted = [...new Set(panel.series.filter((s) => s.kind === "bar").flatMap((s) => s.x))].sort((a, b) => a - b);
    barWidth = sorted.length > 1 ? Math.min(...sorted.slice(1).map((v, k) => v - sorted[k]!)) : 1;
    x0 -= barWidth / 2;
    x1 += barWidth / 2;
  }
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (panel.series.some((s) => s.kind === "scatter")) {
    // Markers on the edge of the range would be cut in half.
    const xpad = (x1 - x0) * 0.04;
    [x0, x1] = [x0 - xpad, x1 + xpad];
  }
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  if (!hasBars || y0 < 0) y0 -= pad;
  y1 += pad;
  const sx = (v: number) => area.x + ((v - x0) / (x1 - x0)) * area.w;
  const sy = (v: number) => area.y + area.h - ((v - y0) / (y1 - y0)) * area.h;

  // Grid, ticks and labels.
  out.push(`<rect x="${f(area.x)}" y="${f(area.y)}" width="${f(area.w)}" height="${f(area.h)}" fill="#fafafa" stroke="#d0d0d0"/>`);
  for (const t of niceTicks(x0, x1, Math.max(2, Math.floor(area.w / 80)))) {
    out.push(line(sx(t), area.y, sx(t), area.y + area.h, "#e6e6e6"));
    out.push(text(sx(t), area.y + area.h + 15, formatNumber(t), { size: 11, anchor: "middle" }));
  }
  for (const t of niceTicks(y0, y1, Math.max(2, Math.floor(area.h / 45)))) {
    out.push(line(area.x, sy(t), area.x + area.w, sy(t), "#e6e6e6"));
    out.push(text(area.x - 6, sy(t) + 4, panel.logy ? formatNumber(10 ** t) : formatNumber(t), { size: 11, anchor: "end" }));
  }
  if (panel.xlabel) out.push(text(area.x + area.w / 2, area.y + area.h + 36, panel.xlabel, { size: 12, anchor: "middle" }));
  if (panel.ylabel) {
    const cx = cell.x + 14;
    const cy = area.y + area.h / 2;
    out.push(`<text x="${f(cx)}" y="${f(cy)}" font-size="12" text-anchor="middle" ${FONT} transform="rotate(-90 ${f(cx)} ${f(cy)})">${esc(panel.ylabel)}</text>`);
  }

  // Series.
  panel.series.forEach((s, k) => {
    const color = s.color ?? colorway[k % colorway.length]!;
    const pts: [number, number][] = [];
    for (let i = 0; i < s.x.length; i++) {
      const y = ty(s.y[i]!);
      if (Number.isFinite(s.x[i]) && Number.isFinite(y)) pts.push([sx(s.x[i]!), sy(y)]);
    }
    if (s.kind === "line" && pts.length > 0) {
      const d = pts.map(([px, py], i) => `${i === 0 ? "M" : "L"}${f(px)},${f(py)}`).join("");
      out.push(`<path class="trace" d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dash ? ` stroke-dasharray="6,4"` : ""}/>`);
    } else if (s.kind === "scatter") {
      out.push(`<g class="trace" fill="${color}">${pts.map(([px, py]) => `<circle cx="${f(px)}" cy="${f(py)}" r="3"/>`).join("")}</g>`);
    } else if (s.kind === "bar") {
      const w = Math.max(1, (barWidth / (x1 - x0)) * area.w * 0.9);
      const base = sy(Math.max(y0, 0));
      const rects = pts.map(([px, py]) => `<rect x="${f(px - w / 2)}" y="${f(Math.min(py, base))}" width="${f(w)}" height="${f(Math.abs(base - py))}"/>`);
      out.push(`<g class="trace" fill="${color}">${rects.join("")}</g>`);
    }
  });

  // Legend: named series, top right inside the plot area.
  const named = panel.series.map((s, k) => ({ s, k })).filter(({ s }) => s.name !== undefined);
  if (showLegend && named.length > 0) {
    const w = 24 + Math.max(...named.map(({ s }) => s.name!.length)) * 6.5;
    const lx = area.x + area.w - w - 6;
    out.push(`<rect x="${f(lx)}" y="${f(area.y + 6)}" width="${f(w)}" height="${named.length * 16 + 6}" fill="#ffffff" fill-opacity="0.85" stroke="#d0d0d0"/>`);
    named.forEach(({ s, k }, row) => {
      const yy = area.y + 18 + row * 16;
      const color = s.color ?? colorway[k % colorway.length]!;
      if (s.kind === "line") out.push(line(lx + 4, yy - 4, lx + 18, yy - 4, color, 2, s.dash));
      else out.push(`<rect x="${f(lx + 7)}" y="${f(yy - 8)}" width="8" height="8" fill="${color}"/>`);
      out.push(text(lx + 22, yy, s.name!, { size: 11 }));
    });
  }
  return `<g class="panel">${out.join("")}</g>`;
}

// ---------------------------------------------------------------------------------------
// Heatmaps and images

function renderMatrix(panel: MatrixPanel, cell: Box): string {
  const out: string[] = [];
  const titleH = panel.title ? 18 : 0;
  const left = panel.yticks ? 70 : panel.kind === "image" ? 4 : 30;
  const bottom = panel.xticks ? 40 : panel.kind === "image" ? 4 : 20;
  let area: Box = { x: cell.x + left, y: cell.y + 4 + titleH, w: cell.w - left - 8, h: cell.h - 8 - titleH - bottom };
  if (panel.kind === "image" || panel.annotate) {
    // Square pixels: fit the matrix's aspect ratio inside the cell, centred.
    const scale = Math.max(0, Math.min(area.w / panel.cols, area.h / panel.rows));
    const w = scale * panel.cols;
    const h = scale * panel.rows;
    area = { x: area.x + (area.w - w) / 2, y: area.y, w, h };
  }
  if (panel.title) out.push(text(area.x + area.w / 2, cell.y + 15, panel.title, { size: 12, anchor: "middle" }));
  const cw = area.w / panel.cols;
  const ch = area.h / panel.rows;
  const gray = panel.channels === 1 ? panel.values : [];
  const [lo, hi] = panel.channels === 1 ? [panel.zmin ?? extent(gray)[0], panel.zmax ?? extent(gray)[1]] : [0, 255];
  if (panel.kind === "image") {
    // One embedded PNG, scaled without smoothing so pixels stay crisp.
    out.push(`<image class="trace" x="${f(area.x)}" y="${f(area.y)}" width="${f(area.w)}" height="${f(area.h)}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${panelPng(panel)}"/>`);
    return `<g class="panel">${out.join("")}</g>`;
  }
  const rects: string[] = [];
  for (let r = 0; r < panel.rows; r++) {
    for (let c = 0; c < panel.cols; c++) {
      const at = (r * panel.cols + c) * panel.channels;
      const color = panel.channels === 3
        ? "#" + [0, 1, 2].map((k) => clampByte(panel.values[at + k]!).toString(16).padStart(2, "0")).join("")
        : colorAt(panel.colorscale, hi > lo ? (panel.values[at]! - lo) / (hi - lo) : 0);
      // Cells overlap by a hair so no background seams show between them.
      rects.push(`<rect x="${f(area.x + c * cw)}" y="${f(area.y + r * ch)}" width="${f(cw + 0.3)}" height="${f(ch + 0.3)}" fill="${color}"/>`);
    }
  }
  out.push(`<g class="trace">${rects.join("")}</g>`);
  if (panel.annotate && panel.channels === 1) {
    for (let r = 0; r < panel.rows; r++) {
      for (let c = 0; c < panel.cols; c++) {
        const v = panel.values[r * panel.cols + c]!;
        const dark = hi > lo && (v - lo) / (hi - lo) > 0.5;
        out.push(text(area.x + (c + 0.5) * cw, area.y + (r + 0.5) * ch + 4, formatNumber(v), { size: 11, anchor: "middle", color: dark ? "#ffffff" : "#000000" }));
      }
    }
  }
  panel.xticks?.forEach((t, c) => out.push(text(area.x + (c + 0.5) * cw, area.y + area.h + 14, t, { size: 11, anchor: "middle" })));
  panel.yticks?.forEach((t, r) => out.push(text(area.x - 6, area.y + (r + 0.5) * ch + 4, t, { size: 11, anchor: "end" })));
  if (panel.xlabel) out.push(text(area.x + area.w / 2, area.y + area.h + 32, panel.xlabel, { size: 12, anchor: "middle" }));
  if (panel.ylabel) {
    const cx = cell.x + 12;
    const cy = area.y + area.h / 2;
    out.push(`<text x="${f(cx)}" y="${f(cy)}" font-size="12" text-anchor="middle" ${FONT} transform="rotate(-90 ${f(cx)} ${f(cy)})">${esc(panel.ylabel)}</text>`);
  }
  return `<g class="panel">${out.join("")}</g>`;
}

// ---------------------------------------------------------------------------------------
// Helpers

/** Ticks at 1, 2 or 5 times a power of ten, about `target` of them inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target: number): number[] {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [lo];
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  }
  return ticks;
}

function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

function f(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

function text(x: number, y: number, s: string, o: { size: number; anchor?: string; color?: string }): string {
  return `<text x="${f(x)}" y="${f(y)}" font-size="${o.size}"${o.anchor ? ` text-anchor="${o.anchor}"` : ""} fill="${o.color ?? "#222222"}" ${FONT}>${esc(s)}</text>`;
}

function line(x1: number, y1: number, x2: number, y2: number, color: string, width = 1, dash = false): string {
  return `<line x1="${f(x1)}" y1="${f(y1)}" x2="${f(x2)}" y2="${f(y2)}" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="6,4"` : ""}/>`;
}
