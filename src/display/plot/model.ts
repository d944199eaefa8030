// The figure model shared by both renderers.
//
// A Figure is a grid of panels. Each panel is either an x-y panel (line, scatter and bar
// series on shared axes) or a matrix panel (a heatmap or an image). The model is plain
// data: `plotly.ts` turns it into a plotly.js figure (application/vnd.plotly.v1+json and the
// interactive text/html), `svg.ts` into a static SVG that shows wherever scripts do not run
// (nbconvert HTML without plotly, GitHub, terminals that save files). Both renderers read
// the same model, so the two views of a figure agree: same colours, ranges and labels.

/** Numbers a plot accepts: arrays, typed arrays, or anything tensor-like with dataSync(). */
export type Numeric = ArrayLike<number> | { dataSync(): ArrayLike<number>; readonly shape: readonly number[] };

export interface XYSeries {
  kind: "line" | "scatter" | "bar";
  name?: string;
  x: number[];
  y: number[];
  /** CSS colour; defaults to the colour way by series index within the panel. */
  color?: string;
  dash?: boolean;
}

export interface XYPanel {
  kind: "xy";
  title?: string;
  xlabel?: string;
  ylabel?: string;
  logy?: boolean;
  series: XYSeries[];
}

/** Row-major matrix [rows, cols] (or [rows, cols, 3] for RGB images with values 0..255). */
export interface MatrixPanel {
  kind: "heatmap" | "image";
  title?: string;
  xlabel?: string;
  ylabel?: string;
  rows: number;
  cols: number;
  channels: 1 | 3;
  values: number[];
  /** Category labels along x (columns) and y (rows), e.g. class names. */
  xticks?: string[];
  yticks?: string[];
  /** Write each cell's value in it (confusion matrices). */
  annotate?: boolean;
  /** Colour range; defaults to the data's min and max. */
  zmin?: number;
  zmax?: number;
  colorscale: ColorScale;
  showScale?: boolean;
}

export type Panel = XYPanel | MatrixPanel;

export interface FigureSpec {
  title?: string;
  width: number;
  height: number;
  /** Grid layout; panels fill it row by row. */
  rows: number;
  cols: number;
  panels: Panel[];
  showLegend: boolean;
  /** Space between grid cells as fractions of the plot area (default 0.08 each way). */
  gap?: { x: number; y: number };
}

/** A colour scale as [position 0..1, "#rrggbb"] stops, as plotly.js takes it. */
export type ColorScale = [number, string][];

/** plotly.js's default colour way (d3 category10): used by both renderers. */
export const colorway = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

export const viridis: ColorScale = [
  [0, "#440154"], [0.111, "#482878"], [0.222, "#3e4989"], [0.333, "#31688e"], [0.444, "#26828e"],
  [0.556, "#1f9e89"], [0.667, "#35b779"], [0.778, "#6ece58"], [0.889, "#b5de2b"], [1, "#fde725"],
];

/** Ink on paper: 0 is white, the maximum black (digits, Fashion-MNIST). */
export const greys: ColorScale = [[0, "#ffffff"], [1, "#000000"]];

export const blues: ColorScale = [[0, "#f7fbff"], [0.5, "#6baed6"], [1, "#08306b"]];

/** Flattens any Numeric into a plain number array (copies typed arrays and tensors). */
export function toNumbers(data: Numeric, what: string): number[] {
  const values = "dataSync" in data && typeof data.dataSync === "function" ? data.dataSync() : (data as ArrayLike<number>);
  const out = Array.from(values, Number);
  for (const v of out) {
    if (typeof v !== "number") throw new TypeError(`plot: ${what} must be numbers, got ${typeof v}`);
  }
  return out;
}

/** The shape of a Numeric: a tensor's shape, or [length] for flat arrays. */
export function shapeOf(data: Numeric): number[] {
  return "shape" in data && Array.isArray(data.shape) ? [...data.shape] : [(data as ArrayLike<number>).length];
}

/** Interpolates a colour scale at t in [0, 1] to "#rrggbb". */
export function colorAt(scale: ColorScale, t: number): string {
  const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  let i = 1;
  while (i < scale.length - 1 && scale[i]![0] < u) i++;
  const [p0, c0] = scale[i - 1]!;
  const [p1, c1] = scale[i]!;
  const f = p1 > p0 ? (u - p0) / (p1 - p0) : 0;
  const a = hex(c0);
  const b = hex(c1);
  const mix = (k: number) => Math.round(a[k]! + (b[k]! - a[k]!) * f);
  return "#" + [mix(0), mix(1), mix(2)].map((v) => v.toString(16).padStart(2, "0")).join("");
}

function hex(c: string): number[] {
  return [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16));
}

/** Finite min and max of values (0..1 when there is none). */
export function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** A short, stable rendering of a number for ticks, annotations and summaries. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}
