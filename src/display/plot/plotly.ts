// Renders the figure model as a plotly.js figure: the JSON front ends with a plotly
// renderer use (application/vnd.plotly.v1+json), and text/html that draws it with
// plotly.js where scripts run (Jupyter Notebook, nbconvert HTML, trusted JupyterLab).
//
// plotly.js comes from the npm package, never a CDN. In a kernel it is sent once per
// session as its own display_data output ahead of the first figure, and every later
// figure's HTML waits for window.Plotly; `standaloneHTML` inlines it for files.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { DisplayHost } from "../protocol.js";
import { colorway, formatNumber, type FigureSpec, type MatrixPanel, type Panel, type XYPanel } from "./model.js";
import { panelPng } from "./raster.js";

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config: Record<string, unknown>;
}

/** Domain [start, end] of cell `i` of `n` along one axis, `gap` (a fraction) between cells. */
function domain(i: number, n: number, gap: number): [number, number] {
  const size = (1 - gap * (n - 1)) / n;
  const start = i * (size + gap);
  return [round(start), round(start + size)];
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

export function toPlotly(spec: FigureSpec): PlotlyFigure {
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    width: spec.width,
    height: spec.height,
    showlegend: spec.showLegend,
    margin: { l: 60, r: 30, t: spec.title ? 60 : 30, b: 50 },
    colorway,
    annotations: [] as Record<string, unknown>[],
  };
  // A series name shown in several panels (training/validation) gets one legend entry.
  const legendNames = new Set<string>();
  if (spec.title) layout.title = { text: spec.title };
  spec.panels.forEach((panel, i) => {
    const row = Math.floor(i / spec.cols);
    const col = i % spec.cols;
    const suffix = i === 0 ? "" : String(i + 1);
    const xref = `x${suffix}`;
    const yref = `y${suffix}`;
    const xaxis: Record<string, unknown> = { domain: domain(col, spec.cols, spec.gap?.x ?? 0.08), anchor: yref };
    // Rows count from the top in the model and from the bottom in plotly's paper space.
    const yaxis: Record<string, unknown> = { domain: domain(spec.rows - 1 - row, spec.rows, spec.gap?.y ?? 0.08), anchor: xref };
    if (panel.xlabel) xaxis.title = { text: panel.xlabel };
    if (panel.ylabel) yaxis.title = { text: panel.ylabel };
    if (panel.kind === "xy") addXY(panel, xref, yref, yaxis, data, legendNames);
    else addMatrix(panel, xref, yref, xaxis, yaxis, data, layout.annotations as Record<string, unknown>[]);
    layout[`xaxis${suffix}`] = xaxis;
    layout[`yaxis${suffix}`] = yaxis;
    if (panel.title && spec.panels.length > 1) {
      (layout.annotations as Record<string, unknown>[]).push({
        text: panel.title, showarrow: false, xref: "paper", yref: "paper",
        x: (xaxis.domain as number[])[0]! + ((xaxis.domain as number[])[1]! - (xaxis.domain as number[])[0]!) / 2,
        y: (yaxis.domain as number[])[1], xanchor: "center", yanchor: "bottom", font: { size: 13 },
      });
    } else if (panel.title && !spec.title) {
      layout.title = { text: panel.title };
    }
  });
  return { data, layout, config: { responsive: false, displaylogo: false } };
}

function addXY(
  panel: XYPanel, xref: string, yref: string, yaxis: Record<string, unknown>,
  data: Record<string, unknown>[], legendNames: Set<string>,
): void {
  if (panel.logy) yaxis.type = "log";
  panel.series.forEach((s, k) => {
    const color = s.color ?? colorway[k % colorway.length];
    const trace: Record<string, unknown> = { x: s.x, y: s.y, xaxis: xref, yaxis: yref };
    if (s.name !== undefined) {
      Object.assign(trace, { name: s.name, legendgroup: s.name });
      if (legendNames.has(s.name)) trace.showlegend = false;
      legendNames.add(s.name);
    } else {
      trace.showlegend = false;
    }
    if (s.kind === "bar") Object.assign(trace, { type: "bar", marker: { color } });
    else if (s.kind === "scatter") Object.assign(trace, { type: "scatter", mode: "markers", marker: { color, size: 6 } });
    else Object.assign(trace, { type: "scatter", mode: "lines", line: { color, dash: s.dash ? "dash" : "solid" } });
    data.push(trace);
  });
}

function addMatrix(
  panel: MatrixPanel, xref: string, yref: string,
  xaxis: Record<string, unknown>, yaxis: Record<string, unknown>,
  data: Record<string, unknown>[], annotations: Record<string, unknown>[],
): void {
  yaxis.autorange = "reversed"; // row 0 at the top, as in a matrix or an image
  if (panel.kind === "image") {
    yaxis.scaleanchor = xref;
    for (const axis of [xaxis, yaxis]) Object.assign(axis, { showticklabels: false, ticks: "", showgrid: false, zeroline: false, showline: false });
    // One PNG per panel (plotly's image trace reads it): far smaller than a z matrix.
    data.push({ type: "image", source: panelPng(panel), xaxis: xref, yaxis: yref, hoverinfo: "skip" });
    return;
  }
  const z: number[][] = [];
  for (let r = 0; r < panel.rows; r++) z.push(panel.values.slice(r * panel.cols, (r + 1) * panel.cols));
  if (panel.xticks) Object.assign(xaxis, { tickmode: "array", tickvals: panel.xticks.map((_, i) => i), ticktext: panel.xticks });
  if (panel.yticks) Object.assign(yaxis, { tickmode: "array", tickvals: panel.yticks.map((_, i) => i), ticktext: panel.yticks });
  const trace: Record<string, unknown> = {
    type: "heatmap", z, xaxis: xref, yaxis: yref, colorscale: panel.colorscale,
    showscale: panel.showScale ?? false, hoverongaps: false,
  };
  if (panel.zmin !== undefined) trace.zmin = panel.zmin;
  if (panel.zmax !== undefined) trace.zmax = panel.zmax;
  data.push(trace);
  if (panel.annotate) {
    const [lo, hi] = [panel.zmin ?? Math.min(...panel.values), panel.zmax ?? Math.max(...panel.values)];
    for (let r = 0; r < panel.rows; r++) {
      for (let c = 0; c < panel.cols; c++) {
        const v = panel.values[r * panel.cols + c]!;
        const dark = hi > lo && (v - lo) / (hi - lo) > 0.5;
        annotations.push({
          x: c, y: r, xref, yref, text: formatNumber(v), showarrow: false,
          font: { color: dark ? "#ffffff" : "#000000", size: 11 },
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// HTML

let plotlySource: string | undefined;

/** The plotly.js bundle from the npm package (read once, lazily: it is ~5 MB). */
export function plotlyJs(): string {
  if (plotlySource === undefined) {
    const require = createRequire(import.meta.url);
    plotlySource = readFileSync(require.resolve("plotly.js-dist-min"), "utf8");
  }
  return plotlySource;
}

/** A script tag defining window.Plotly; `</script` inside the bundle is escaped. */
export function plotlyScriptTag(): string {
  return `<script type="text/javascript">${plotlyJs().replace(/<\/script/gi, "<\\/script")}</script>`;
}

const hostsWithPlotly = new WeakSet<DisplayHost>();

/** Sends plotly.js to the front end once per kernel session, as its own output. */
export function ensurePlotlyLoaded(host: DisplayHost): void {
  if (hostsWithPlotly.has(host)) return;
  hostsWithPlotly.add(host);
  host.display({ "text/html": plotlyScriptTag(), "text/plain": "plotly.js loaded" });
}

let divCounter = 0;

/**
 * HTML that draws the figure once window.Plotly exists. The div holds `fallback` (the static
 * SVG) until plotly.js replaces it, so views that do not run scripts still show the plot.
 * Element ids come from a counter so re-running a notebook in a fresh kernel gives
 * identical outputs.
 */
export function figureHTML(fig: PlotlyFigure, fallback = ""): string {
  const id = `tensorbook-plot-${++divCounter}`;
  const json = JSON.stringify(fig).replace(/</g, "\\u003c");
  const { width, height } = fig.layout as { width: number; height: number };
  return (
    `<div id="${id}" class="tensorbook-plot" style="width:${width}px;height:${height}px">${fallback}</div>` +
    `<script type="text/javascript">(function(){var f=${json};` +
    `function draw(){var d=document.getElementById("${id}");if(d){d.innerHTML="";window.Plotly.newPlot(d,f.data,f.layout,f.config);}}` +
    `if(window.Plotly){draw();}else{var n=0,t=setInterval(function(){if(window.Plotly||++n>200){clearInterval(t);if(window.Plotly)draw();}},50);}` +
    `})();</script>`
  );
}

/** A complete HTML page with plotly.js inlined: for saving a figure to a file. */
export function standaloneHTML(fig: PlotlyFigure, title = "figure"): string {
  const esc = title.replace(/[<&]/g, (c) => (c === "<" ? "&lt;" : "&amp;"));
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc}</title>${plotlyScriptTag()}</head><body>${figureHTML(fig)}</body></html>`;
}

export function describePanel(panel: Panel): string {
  if (panel.kind === "xy") {
    const points = panel.series.reduce((n, s) => n + s.x.length, 0);
    const kinds = [...new Set(panel.series.map((s) => s.kind))].join("/") || "no data yet";
    return `${kinds}: ${panel.series.length} series, ${points} points`;
  }
  return `${panel.kind} ${panel.rows}x${panel.cols}${panel.channels === 3 ? "x3" : ""}`;
}
