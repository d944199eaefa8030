// The plotting functions of `tb.plot`: line, scatter, hist, heatmap, images and
// confusionMatrix. Each takes tensors, typed arrays or plain arrays, validates shapes with
// errors that name the function and the shapes, and returns a Figure.

import { Figure } from "./figure.js";
import {
  blues, greys, shapeOf, toNumbers, viridis,
  type ColorScale, type FigureSpec, type MatrixPanel, type Numeric, type Panel, type XYSeries,
} from "./model.js";

export interface FigureOptions {
  title?: string;
  xlabel?: string;
  ylabel?: string;
  width?: number;
  height?: number;
  /** Show a legend for named series (default: when there are two or more). */
  legend?: boolean;
}

/** One series, or several by name: `{ train: losses, validation: valLosses }`. */
export type SeriesInput = Numeric | Record<string, Numeric>;

function isNumeric(v: unknown): v is Numeric {
  return ArrayBuffer.isView(v) || Array.isArray(v) || (typeof v === "object" && v !== null && "dataSync" in v);
}

function namedSeries(y: SeriesInput): [string | undefined, Numeric][] {
  return isNumeric(y) ? [[undefined, y]] : Object.entries(y);
}

function figure(panels: Panel[], o: FigureOptions, grid?: { rows: number; cols: number }, size?: { width: number; height: number }): Figure {
  const named = panels.flatMap((p) => (p.kind === "xy" ? p.series.filter((s) => s.name !== undefined) : []));
  const spec: FigureSpec = {
    width: o.width ?? size?.width ?? 640,
    height: o.height ?? size?.height ?? 400,
    rows: grid?.rows ?? 1,
    cols: grid?.cols ?? 1,
    panels,
    showLegend: o.legend ?? named.length >= 2,
  };
  if (o.title !== undefined) spec.title = o.title;
  return new Figure(spec);
}

function xySeries(fn: string, kind: XYSeries["kind"], x: Numeric | undefined, y: SeriesInput): XYSeries[] {
  return namedSeries(y).map(([name, ys]) => {
    const yv = toNumbers(ys, `${fn} y`);
    const xv = x === undefined ? yv.map((_, i) => i) : toNumbers(x, `${fn} x`);
    if (xv.length !== yv.length) {
      throw new RangeError(`plot.${fn}: x and y differ in length (${xv.length} != ${yv.length}${name ? ` for series "${name}"` : ""})`);
    }
    const s: XYSeries = { kind, x: xv, y: yv };
    if (name !== undefined) s.name = name;
    return s;
  });
}

function labels(o: FigureOptions) {
  const p: { title?: string; xlabel?: string; ylabel?: string } = {};
  if (o.xlabel !== undefined) p.xlabel = o.xlabel;
  if (o.ylabel !== undefined) p.ylabel = o.ylabel;
  return p;
}

/** Line plot: `line(y)`, `line(x, y)`, or several named series `line({ a: ya, b: yb })`. */
export function line(y: SeriesInput, options?: FigureOptions & { logy?: boolean }): Figure;
export function line(x: Numeric, y: SeriesInput, options?: FigureOptions & { logy?: boolean }): Figure;
export function line(a: SeriesInput, b?: SeriesInput | (FigureOptions & { logy?: boolean }), c?: FigureOptions & { logy?: boolean }): Figure {
  const [x, y, o] = b !== undefined && isNumeric(a) && (isNumeric(b) || isSeriesRecord(b)) ? [a, b as SeriesInput, c ?? {}] : [undefined, a, (b ?? {}) as FigureOptions & { logy?: boolean }];
  const panel: Panel = { kind: "xy", series: xySeries("line", "line", x, y), ...labels(o) };
  if (o.logy) panel.logy = true;
  return figure([panel], o);
}

function isSeriesRecord(v: unknown): v is Record<string, Numeric> {
  return typeof v === "object" && v !== null && !isNumeric(v) && Object.values(v).length > 0 && Object.values(v).every(isNumeric);
}

/**
 * Scatter plot of points (x[i], y[i]). `color` gives each point a class id; points are then
 * drawn as one series per class, named by `classNames` when given.
 */
export function scatter(x: Numeric, y: Numeric, options: FigureOptions & { color?: Numeric; classNames?: string[] } = {}): Figure {
  const [s] = xySeries("scatter", "scatter", x, y);
  let series: XYSeries[] = [s!];
  if (options.color !== undefined) {
    const ids = toNumbers(options.color, "scatter color");
    if (ids.length !== s!.x.length) throw new RangeError(`plot.scatter: color has ${ids.length} entries for ${s!.x.length} points`);
    const classes = [...new Set(ids)].sort((p, q) => p - q);
    series = classes.map((k) => {
      const keep = ids.map((v, i) => (v === k ? i : -1)).filter((i) => i >= 0);
      return { kind: "scatter", name: options.classNames?.[k] ?? String(k), x: keep.map((i) => s!.x[i]!), y: keep.map((i) => s!.y[i]!) };
    });
  }
  return figure([{ kind: "xy", series, ...labels(options) }], options);
}

/** Histogram of values in `bins` equal bins over `range` (default: the data's extent). */
export function hist(values: Numeric, options: FigureOptions & { bins?: number; range?: [number, number] } = {}): Figure {
  const v = toNumbers(values, "hist values").filter(Number.isFinite);
  const bins = options.bins ?? 30;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`plot.hist: bins must be a positive integer, got ${bins}`);
  let [lo, hi] = options.range ?? [Math.min(...v), Math.max(...v)];
  if (v.length === 0 && !options.range) [lo, hi] = [0, 1];
  if (hi === lo) hi = lo + 1;
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const x of v) {
    if (x < lo || x > hi) continue;
    counts[Math.min(bins - 1, Math.floor((x - lo) / width))]!++;
  }
  const centers = counts.map((_, i) => lo + (i + 0.5) * width);
  return figure([{ kind: "xy", series: [{ kind: "bar", x: centers, y: counts }], ...labels(options), ylabel: options.ylabel ?? "count" }], options);
}

/** A 2-D matrix as rows x cols from a tensor/array with a 2-D shape or nested arrays. */
function matrix(fn: string, z: Numeric | number[][]): { rows: number; cols: number; values: number[] } {
  if (Array.isArray(z) && z.length > 0 && Array.isArray(z[0])) {
    const rows = z as number[][];
    const cols = rows[0]!.length;
    if (rows.some((r) => r.length !== cols)) throw new RangeError(`plot.${fn}: rows differ in length`);
    return { rows: rows.length, cols, values: rows.flat() };
  }
  const shape = shapeOf(z as Numeric);
  if (shape.length !== 2) throw new RangeError(`plot.${fn}: expected a 2-D matrix, got shape [${shape}]`);
  return { rows: shape[0]!, cols: shape[1]!, values: toNumbers(z as Numeric, `${fn} values`) };
}

export interface HeatmapOptions extends FigureOptions {
  xticks?: string[];
  yticks?: string[];
  colorscale?: "viridis" | "greys" | "blues" | ColorScale;
  annotate?: boolean;
  zmin?: number;
  zmax?: number;
}

function scale(s: HeatmapOptions["colorscale"]): ColorScale {
  if (Array.isArray(s)) return s;
  return s === "greys" ? greys : s === "blues" ? blues : viridis;
}

export function heatmap(z: Numeric | number[][], options: HeatmapOptions = {}): Figure {
  const m = matrix("heatmap", z);
  const panel: MatrixPanel = { kind: "heatmap", ...m, channels: 1, colorscale: scale(options.colorscale), showScale: !options.annotate, ...labels(options) };
  if (options.xticks) panel.xticks = options.xticks;
  if (options.yticks) panel.yticks = options.yticks;
  if (options.annotate) panel.annotate = true;
  if (options.zmin !== undefined) panel.zmin = options.zmin;
  if (options.zmax !== undefined) panel.zmax = options.zmax;
  return figure([panel], options);
}

/**
 * A grid of images from a batch: [N, H, W] or [N, 1, H, W] greyscale (ink on paper), or
 * [N, 3, H, W] RGB with values in 0..1 or 0..255. `titles` labels each image.
 */
export function images(batch: Numeric, options: FigureOptions & { cols?: number; titles?: string[]; size?: number } = {}): Figure {
  const shape = shapeOf(batch);
  const rgb = shape.length === 4 && shape[1] === 3;
  if (!(shape.length === 3 || (shape.length === 4 && (shape[1] === 1 || rgb)))) {
    throw new RangeError(`plot.images: expected [N, H, W], [N, 1, H, W] or [N, 3, H, W], got shape [${shape}]`);
  }
  const [n, h, w] = [shape[0]!, shape.at(-2)!, shape.at(-1)!];
  const all = toNumbers(batch, "images values");
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const to255 = rgb && hi <= 1 ? 255 : 1;
  const cols = options.cols ?? Math.min(n, 8);
  const rows = Math.max(1, Math.ceil(n / cols));
  const panels: Panel[] = [];
  for (let i = 0; i < n; i++) {
    let values: number[];
    if (rgb) {
      // [3, H, W] planes -> interleaved [H, W, 3]
      values = new Array(h * w * 3);
      for (let p = 0; p < h * w; p++) for (let c = 0; c < 3; c++) values[p * 3 + c] = all[i * 3 * h * w + c * h * w + p]! * to255;
    } else {
      values = all.slice(i * h * w, (i + 1) * h * w);
    }
    const panel: MatrixPanel = { kind: "image", rows: h, cols: w, channels: rgb ? 3 : 1, values, colorscale: greys, zmin: lo, zmax: hi };
    const title = options.titles?.[i];
    if (title !== undefined) panel.title = title;
    panels.push(panel);
  }
  const size = options.size ?? 90;
  const titleRow = options.titles ? 20 : 0;
  const fig = figure(panels, options, { rows, cols }, { width: cols * size + 20, height: rows * (size + titleRow) + (options.title ? 40 : 10) });
  // Leave room between rows for each image's title.
  fig.spec.gap = { x: 6 / fig.spec.width, y: (titleRow + 6) / fig.spec.height };
  return fig;
}

/** Counts of (true class, predicted class) pairs, drawn with the counts written in. */
export function confusionMatrix(
  yTrue: Numeric, yPred: Numeric,
  options: FigureOptions & { labels?: string[]; numClasses?: number; normalize?: boolean } = {},
): Figure {
  const t = toNumbers(yTrue, "confusionMatrix yTrue");
  const p = toNumbers(yPred, "confusionMatrix yPred");
  if (t.length !== p.length) throw new RangeError(`plot.confusionMatrix: yTrue and yPred differ in length (${t.length} != ${p.length})`);
  const k = options.numClasses ?? options.labels?.length ?? Math.max(0, ...t, ...p) + 1;
  const counts = new Array<number>(k * k).fill(0);
  t.forEach((c, i) => {
    const q = p[i]!;
    if (!Number.isInteger(c) || !Number.isInteger(q) || c < 0 || q < 0 || c >= k || q >= k) {
      throw new RangeError(`plot.confusionMatrix: labels must be integers in [0, ${k}), got true ${c}, predicted ${q} at ${i}`);
    }
    counts[c * k + q]!++;
  });
  let values = counts;
  if (options.normalize) {
    values = counts.map((v, i) => {
      const rowSum = counts.slice(Math.floor(i / k) * k, Math.floor(i / k) * k + k).reduce((a, b) => a + b, 0);
      return rowSum ? Math.round((v / rowSum) * 100) / 100 : 0;
    });
  }
  const names = options.labels ?? Array.from({ length: k }, (_, i) => String(i));
  const panel: MatrixPanel = {
    kind: "heatmap", rows: k, cols: k, channels: 1, values, colorscale: blues, annotate: true, showScale: false,
    xticks: names, yticks: names, xlabel: options.xlabel ?? "predicted", ylabel: options.ylabel ?? "true",
  };
  const side = Math.max(320, Math.min(720, 60 * k + 140));
  return figure([panel], options, undefined, { width: side, height: side });
}
