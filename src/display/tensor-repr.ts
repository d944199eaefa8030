// How tensors show themselves: PyTorch-style text and a compact HTML summary.
//
// Text follows torch's printer: floats print with 4 decimals (or "1." when every value is
// integral, or scientific when the range is wide), columns share one width, rows wrap at
// 80 characters, tensors over 1000 elements show 3 edge items per axis around "...", and
// non-default dtypes get a suffix. HTML adds shape, dtype and summary statistics.

import type { Tensor } from "../tensor/tensor.js";
import { fmtShape } from "../tensor/shape.js";

const THRESHOLD = 1000;
const EDGE = 3;
const LINE = 80;

type Fmt = (v: number) => string;

function floatFormatter(values: number[]): Fmt {
  const finite = values.filter((v) => Number.isFinite(v));
  const special = (v: number) => (Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf");
  if (finite.length === 0) return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
  const absv = finite.map(Math.abs);
  const maxA = Math.max(...absv);
  const nz = absv.filter((v) => v !== 0);
  const minA = nz.length ? Math.min(...nz) : 0;
  const integral = finite.every((v) => Number.isInteger(v));
  let body: Fmt;
  if (integral) {
    body = maxA > 1e8 ? (v) => v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2") : (v) => `${v.toFixed(0)}.`;
  } else if (maxA / Math.max(minA, 1e-300) > 1000 || maxA > 1e8 || (minA > 0 && minA < 1e-4)) {
    body = (v) => v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
  } else body = (v) => v.toFixed(4);
  return (v) => (Number.isFinite(v) ? (Object.is(v, -0) ? `-${body(0)}` : body(v)) : special(v));
}

/** Values shown (after summarisation) in row-major order, for picking one format. */
function shownValues(data: ArrayLike<number>, shape: number[], summarise: boolean): number[] {
  const out: number[] = [];
  const walk = (axis: number, off: number, stride: number) => {
    if (axis === shape.length) {
      out.push(data[off]);
      return;
    }
    const n = shape[axis];
    const inner = stride / (n || 1);
    const idx = summarise && n > 2 * EDGE ? [...Array(EDGE).keys(), ...Array.from({ length: EDGE }, (_v, i) => n - EDGE + i)] : [...Array(n).keys()];
    for (const i of idx) walk(axis + 1, off + i * inner, inner);
  };
  walk(0, 0, shape.reduce((a, b) => a * b, 1));
  return out;
}

export function formatTensor(t: Tensor, prefix = "tensor("): string {
  const suffixes: string[] = [];
  if (t.dtype !== "float32") suffixes.push(`dtype=${t.dtype}`);
  if (t._node) suffixes.push(`gradFn=<${t._node.prim}>`);
  else if (t.requiresGrad) suffixes.push("requiresGrad=true");
  let body: string;
  if (t._payload !== undefined) body = `<traced ${t.dtype}${fmtShape(t.shape)}>`;
  else if (t.disposed) body = "<disposed>";
  else {
    const data = t.dataSync();
    const shape = t.shape;
    const summarise = t.size > THRESHOLD;
    let fmt: Fmt;
    if (t.dtype === "bool") fmt = (v) => (v ? "True" : "False");
    else if (t.dtype === "int32") fmt = (v) => String(v);
    else fmt = floatFormatter(shownValues(data, shape, summarise));
    const shown = shownValues(data, shape, summarise);
    // As torch: the column width comes from finite values; nan/inf are not padded.
    const width = Math.max(0, ...shown.filter((v) => Number.isFinite(v)).map((v) => fmt(v).length));
    const cell = (v: number) => fmt(v).padStart(width);
    if (t.size === 0) {
      body = "[]";
      if (shape.length !== 1) suffixes.unshift(`size=(${shape.join(", ")}${shape.length === 1 ? "," : ""})`);
    } else body = render(data, shape, 0, 0, t.size, prefix.length, cell, width, summarise);
  }
  return `${prefix}${[body, ...suffixes].join(", ")})`;
}

function render(
  data: ArrayLike<number>, shape: number[], axis: number, off: number, stride: number,
  indent: number, cell: (v: number) => string, width: number, summarise: boolean,
): string {
  if (shape.length === 0) return cell(data[0]).trim();
  const n = shape[axis];
  const inner = stride / n;
  const cut = summarise && n > 2 * EDGE;
  const idx = cut ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_v, i) => n - EDGE + i)] : [...Array(n).keys()];
  if (axis === shape.length - 1) {
    const items = idx.map((i) => (i < 0 ? " ..." : cell(data[off + i * inner])));
    const perLine = Math.max(1, Math.floor((LINE - indent) / (width + 2)));
    const lines: string[] = [];
    for (let k = 0; k < items.length; k += perLine) lines.push(items.slice(k, k + perLine).join(", "));
    return `[${lines.join(",\n" + " ".repeat(indent + 1))}]`;
  }
  const sep = ",\n".padEnd(2 + shape.length - axis - 2, "\n") + " ".repeat(indent + 1);
  const parts = idx.map((i) => (i < 0 ? "..." : render(data, shape, axis + 1, off + i * inner, inner, indent + 1, cell, width, summarise)));
  return `[${parts.join(sep)}]`;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A compact HTML card: shape, dtype, statistics and the (summarised) values. */
export function htmlTensor(t: Tensor): string {
  const rows: [string, string][] = [["shape", fmtShape(t.shape)], ["dtype", t.dtype]];
  if (t._payload === undefined && !t.disposed && t.size > 0 && t.dtype !== "bool") {
    const d = t.dataSync();
    let min = Infinity, max = -Infinity, sum = 0, nan = 0;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (Number.isNaN(v)) { nan++; continue; }
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    const n = d.length - nan;
    const mean = n ? sum / n : NaN;
    let ss = 0;
    for (let i = 0; i < d.length; i++) if (!Number.isNaN(d[i])) ss += (d[i] - mean) ** 2;
    const g = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(5)).toString() : String(v));
    rows.push(["min", g(min)], ["max", g(max)], ["mean", g(mean)], ["std", g(Math.sqrt(ss / Math.max(n, 1)))]);
    if (nan) rows.push(["NaN", String(nan)]);
  }
  const table = rows.map(([k, v]) => `<tr><th style="text-align:left;padding:0 8px 0 0">${k}</th><td style="text-align:left">${esc(v)}</td></tr>`).join("");
  return `<div class="tensorbook-tensor"><table style="font-size:12px">${table}</table><pre style="margin:4px 0 0 0">${esc(formatTensor(t))}</pre></div>`;
}
