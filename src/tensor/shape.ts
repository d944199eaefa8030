// Shape arithmetic shared by the front end, the rules and the reference backend.
//
// Shapes are plain number[] (row-major). Strides are in elements. Every function here is
// pure; errors name the op that asked so that a user sees `add: cannot broadcast ...`.

import type { DType } from "../backend/backend.js";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) strides of a contiguous array with this shape. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** True when a view with these strides walks its elements in row-major order without gaps.
 *  Size-1 axes may carry any stride. */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting: align trailing axes; each pair must be equal or contain a 1. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else if (out[o] !== d) {
        throw new Error(
          `${op}: cannot broadcast shapes ${shapes.map(fmtShape).join(" and ")}: ` +
            `axis ${o - rank} has sizes ${out[o]} and ${d} (sizes must be equal or one of them 1)`,
        );
      }
    }
  }
  return out;
}

/** Normalise one axis (negative counts from the end) against a rank. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank} (valid: ${-rank}..${Math.max(rank - 1, 0)})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise axes (undefined = all), sorted and unique. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out = list.map((a) => normAxis(op, a, rank));
  const uniq = [...new Set(out)].sort((a, b) => a - b);
  if (uniq.length !== out.length) throw new Error(`${op}: repeated axis in [${list.join(",")}]`);
  return uniq;
}

/** Resolve one -1 in a reshape target against the number of elements. */
export function resolveReshape(op: string, from: Shape, to: readonly number[]): number[] {
  const n = sizeOf(from);
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`${op}: at most one -1 is allowed in the target shape ${fmtShape(to)}`);
  for (const d of to) {
    if (!Number.isInteger(d) || d < -1) throw new Error(`${op}: invalid size ${d} in target shape ${fmtShape(to)}`);
  }
  if (unknown === 1) {
    const known = to.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || n % known !== 0) {
      throw new Error(`${op}: cannot reshape ${fmtShape(from)} (${n} elements) into ${fmtShape(to)}`);
    }
    return to.map((d) => (d === -1 ? n / known : d));
  }
  if (sizeOf(to) !== n) {
    throw new Error(`${op}: cannot reshape ${fmtShape(from)} (${n} elements) into ${fmtShape(to)} (${sizeOf(to)} elements)`);
  }
  return [...to];
}

/** Strides for viewing a strided array under a new shape without copying, or null when the
 *  layout does not allow it (then the caller copies first). Works axis group by axis group,
 *  as NumPy's _attempt_nocopy_reshape does. */
export function reshapeStrides(shape: Shape, strides: readonly number[], to: Shape): number[] | null {
  const oldDims: number[] = [];
  const oldStr: number[] = [];
  shape.forEach((d, i) => {
    if (d !== 1) {
      oldDims.push(d);
      oldStr.push(strides[i]);
    }
  });
  const out = new Array<number>(to.length).fill(0);
  if (sizeOf(shape) === 0) return contiguousStrides(to);
  let oi = 0;
  let ni = 0;
  while (ni < to.length && oi < oldDims.length) {
    if (to[ni] === 1) {
      out[ni] = 0;
      ni++;
      continue;
    }
    let np = to[ni];
    let op = oldDims[oi];
    let nj = ni + 1;
    let oj = oi + 1;
    while (np !== op) {
      if (np < op) np *= to[nj++];
      else op *= oldDims[oj++];
    }
    for (let k = oi; k < oj - 1; k++) if (oldStr[k] !== oldStr[k + 1] * oldDims[k + 1]) return null;
    out[nj - 1] = oldStr[oj - 1];
    for (let k = nj - 1; k > ni; k--) out[k - 1] = out[k] * to[k];
    ni = nj;
    oi = oj;
  }
  for (; ni < to.length; ni++) out[ni] = 0;
  return out;
}

/** Type promotion: bool < int32 < float32. */
const rank: Record<DType, number> = { bool: 0, int32: 1, float32: 2 };
export function promoteTypes(...dtypes: DType[]): DType {
  let best: DType = "bool";
  for (const d of dtypes) if (rank[d] > rank[best]) best = d;
  return best;
}

export function isFloat(d: DType): boolean {
  return d === "float32";
}
