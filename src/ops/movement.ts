// Movement and indexing ops: views without copies where the layout allows (reshape of a
// contiguous layout, permute, expand, slice with steps and negative indices, flip), and
// gather/scatter/concat/pad built on the index primitives.

import type { DType } from "../backend/backend.js";
import { bind } from "../core/trace.js";
import { Tensor } from "../tensor/tensor.js";
import { fmtShape, isContiguous, normAxes, normAxis, resolveReshape, shapesEqual, broadcastShapes, promoteTypes } from "../tensor/shape.js";
import { add, cast, eq, lt, where } from "./elementwise.js";
import { arange } from "./creation.js";

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const to = resolveReshape("reshape", x.shape, shape);
  return shapesEqual(to, x.shape) ? x : bind("reshape", [x], { shape: to });
}

export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (x.shape.length === 0) return reshape(x, [1]);
  const s = normAxis("flatten", startAxis, x.shape.length);
  const e = normAxis("flatten", endAxis, x.shape.length);
  if (e < s) throw new Error(`flatten: endAxis ${endAxis} comes before startAxis ${startAxis} for ${fmtShape(x.shape)}`);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

/** Removes size-1 axes (all of them, or the given ones, which must have size 1). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes = axis === undefined ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0) : normAxes("squeeze", axis, x.shape.length);
  for (const a of axes) {
    if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`);
  }
  return reshape(x, x.shape.filter((_d, i) => !axes.includes(i)));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis("unsqueeze", axis, x.shape.length + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis("permute", a, x.shape.length));
  return p.every((a, i) => a === i) && p.length === x.shape.length ? x : bind("permute", [x], { perm: p });
}

/** Swaps two axes; with no axes, reverses all of them (NumPy's transpose). */
export function transpose(x: Tensor, axis0?: number, axis1?: number): Tensor {
  const r = x.shape.length;
  if (axis0 === undefined || axis1 === undefined) return permute(x, x.shape.map((_d, i) => r - 1 - i));
  const a = normAxis("transpose", axis0, r);
  const b = normAxis("transpose", axis1, r);
  const perm = x.shape.map((_d, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/** Transpose of the last two axes (a view). */
export function mT(x: Tensor): Tensor {
  if (x.shape.length < 2) throw new Error(`mT: needs at least 2 axes, got ${fmtShape(x.shape)}`);
  return transpose(x, -2, -1);
}

/** Broadcast to a shape (a view with stride 0 on broadcast axes); -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.shape.length;
  const to = shape.map((d, i) => (d === -1 ? x.shape[i - lead] : d));
  return shapesEqual(to, x.shape) ? x : bind("expand", [x], { shape: to });
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return expand(x, shape);
}

export function contiguous(x: Tensor): Tensor {
  // A traced tensor has no layout until its graph is compiled: it is copied (rarely needed).
  return x._payload === undefined && x._isContiguous() ? x : bind("copy", [x], {});
}

// ---------------------------------------------------------------------------------------
// Slicing

/** One axis of a slice: an index (drops the axis), null (the whole axis), or
 *  [start?, stop?, step?] with Python semantics (negative values count from the end). */
export type SliceSpec = number | null | readonly [(number | null)?, (number | null)?, (number | null)?];

function sliceRange(n: number, spec: readonly [(number | null)?, (number | null)?, (number | null)?], axis: number): [number, number, number] {
  const step = spec[2] ?? 1;
  if (step === 0 || !Number.isInteger(step)) throw new Error(`slice: step must be a non-zero integer on axis ${axis}, got ${step}`);
  const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
  let start: number;
  let stop: number;
  if (step > 0) {
    start = spec[0] == null ? 0 : clampIdx(spec[0], 0, n);
    stop = spec[1] == null ? n : clampIdx(spec[1], 0, n);
  } else {
    start = spec[0] == null ? n - 1 : clampIdx(spec[0], -1, n - 1);
    stop = spec[1] == null ? -1 : clampIdx(spec[1], -1, n - 1);
  }
  const count = step > 0 ? Math.max(0, Math.ceil((stop - start) / step)) : Math.max(0, Math.ceil((start - stop) / -step));
  return [count > 0 ? start : 0, step, count];
}

/** x.slice([0, [1, null, -1], null]): per-axis specs; missing trailing axes are whole. */
export function slice(x: Tensor, specs: readonly SliceSpec[]): Tensor {
  const r = x.shape.length;
  if (specs.length > r) throw new Error(`slice: ${specs.length} specs for a tensor of rank ${r} ${fmtShape(x.shape)}`);
  const starts: number[] = [];
  const steps: number[] = [];
  const shape: number[] = [];
  const drop: number[] = [];
  x.shape.forEach((n, i) => {
    const s = specs[i];
    if (typeof s === "number") {
      if (!Number.isInteger(s) || s < -n || s >= n) throw new Error(`slice: index ${s} is out of range for axis ${i} of size ${n} in ${fmtShape(x.shape)}`);
      starts.push(s < 0 ? s + n : s);
      steps.push(1);
      shape.push(1);
      drop.push(i);
    } else if (s == null) {
      starts.push(0);
      steps.push(1);
      shape.push(n);
    } else {
      const [st, sp, c] = sliceRange(n, s, i);
      starts.push(st);
      steps.push(sp);
      shape.push(c);
    }
  });
  const y = sliceP(x, starts, steps, shape);
  return drop.length ? reshape(y, shape.filter((_d, i) => !drop.includes(i))) : y;
}

/** The slice primitive with normalised params (also the gradient of place). */
export function sliceP(x: Tensor, starts: readonly number[], steps: readonly number[], shape: readonly number[]): Tensor {
  const identity = starts.every((s) => s === 0) && steps.every((s) => s === 1) && shapesEqual(shape, x.shape);
  return identity ? x : bind("slice", [x], { starts: [...starts], steps: [...steps], shape: [...shape] });
}

/** full(shape, value) with x written at starts + i * steps (with value 0, the gradient of
 *  slice). Every element of x arrives unchanged, -0 and denormals included. */
export function place(x: Tensor, shape: readonly number[], starts: readonly number[], steps: readonly number[], value = 0): Tensor {
  const params = { shape: [...shape], starts: [...starts], steps: [...steps] };
  return bind("place", [x], Object.is(value, 0) ? params : { ...params, value });
}

/** `length` entries of axis starting at `start`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis("narrow", axis, x.shape.length);
  const spec: SliceSpec[] = x.shape.map(() => null);
  spec[a] = [start, start + length];
  return slice(x, spec);
}

export function flip(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes = normAxes("flip", axis, x.shape.length);
  const spec: SliceSpec[] = x.shape.map((_d, i) => (axes.includes(i) ? [null, null, -1] : null));
  return slice(x, spec);
}

// ---------------------------------------------------------------------------------------
// Indexing

function checkIndex(op: string, index: Tensor): Tensor {
  if (index.dtype === "bool" || index.dtype === "float32") {
    throw new Error(`${op}: index must be int32, got ${index.dtype}${fmtShape(index.shape)} (use .cast("int32"))`);
  }
  return index;
}

/** The gather primitive: out[i][j] = x[index[i][j]][j] for axis 0 (torch.gather). */
export function gatherP(x: Tensor, index: Tensor, axis: number): Tensor {
  return bind("gather", [x, checkIndex("gather", index)], { axis });
}

export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  return gatherP(x, index, normAxis("gather", axis, x.shape.length));
}

export function scatterAddP(base: Tensor, index: Tensor, src: Tensor, axis: number): Tensor {
  return bind("scatterAdd", [base, checkIndex("scatterAdd", index), cast(src, base.dtype)], { axis });
}

/** A copy of x with src added at index positions along axis (torch.scatter_add). */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  return scatterAddP(x, index, src, normAxis("scatterAdd", axis, x.shape.length));
}

/** Entries of axis picked by a 1-D int32 index (negative counts from the end). */
export function indexSelect(x: Tensor, axis: number, index: Tensor | readonly number[]): Tensor {
  const a = normAxis("indexSelect", axis, x.shape.length);
  let idx = index instanceof Tensor ? checkIndex("indexSelect", index) : Tensor._fromArray(Int32Array.from(index), [index.length], "int32");
  if (idx.shape.length !== 1) throw new Error(`indexSelect: index must be 1-D, got ${fmtShape(idx.shape)}`);
  idx = where(lt(idx, 0), add(idx, x.shape[a]), idx);
  const shape = [...x.shape];
  shape[a] = idx.shape[0];
  const view = reshape(idx, x.shape.map((_d, i) => (i === a ? idx.shape[0] : 1)));
  return gatherP(x, expand(view, shape), a);
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error("concat: needs at least one tensor");
  const dt: DType = promoteTypes(...xs.map((x) => x.dtype));
  const a = normAxis("concat", axis, xs[0].shape.length);
  if (xs.length === 1) return bind("copy", [xs[0]], {});
  return bind("concat", xs.map((x) => cast(x, dt)), { axis: a });
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error("stack: needs at least one tensor");
  for (const x of xs) {
    if (!shapesEqual(x.shape, xs[0].shape)) throw new Error(`stack: all tensors need one shape, got ${xs.map((t) => fmtShape(t.shape)).join(", ")}`);
  }
  const a = normAxis("stack", axis, xs[0].shape.length + 1);
  return concat(xs.map((x) => unsqueeze(x, a)), a);
}

/** Splits into pieces of `size` along axis (the last may be shorter), or into the given sizes. */
export function split(x: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis("split", axis, x.shape.length);
  const n = x.shape[a];
  let sizes: number[];
  if (typeof sizeOrSections === "number") {
    if (sizeOrSections <= 0) throw new Error(`split: size must be positive, got ${sizeOrSections}`);
    sizes = [];
    for (let at = 0; at < n; at += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - at));
  } else {
    sizes = [...sizeOrSections];
    if (sizes.reduce((s, v) => s + v, 0) !== n) throw new Error(`split: sizes [${sizes}] do not add up to axis ${a} of ${fmtShape(x.shape)}`);
  }
  let at = 0;
  return sizes.map((s) => {
    const piece = narrow(x, a, at, s);
    at += s;
    return piece;
  });
}

export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  const a = normAxis("chunk", axis, x.shape.length);
  return split(x, Math.max(1, Math.ceil(x.shape[a] / chunks)), a);
}

/** Constant padding. `padding` is PyTorch's F.pad form: (before, after) pairs starting at the
 *  last axis, e.g. [left, right, top, bottom]. Negative amounts crop. */
export function pad(x: Tensor, padding: readonly number[], options: { value?: number } = {}): Tensor {
  if (padding.length % 2 !== 0 || padding.length / 2 > x.shape.length) {
    throw new Error(`pad: padding [${padding}] must hold (before, after) pairs for at most ${x.shape.length} axes of ${fmtShape(x.shape)}`);
  }
  const r = x.shape.length;
  const before = new Array<number>(r).fill(0);
  const after = new Array<number>(r).fill(0);
  for (let k = 0; k < padding.length / 2; k++) {
    before[r - 1 - k] = padding[2 * k];
    after[r - 1 - k] = padding[2 * k + 1];
  }
  // Crop negative amounts first, then place into the padded shape.
  const spec: SliceSpec[] = x.shape.map((n, i) => [Math.max(0, -before[i]), n - Math.max(0, -after[i])]);
  const y = slice(x, spec);
  const starts = before.map((b) => Math.max(0, b));
  const shape = y.shape.map((n, i) => n + starts[i] + Math.max(0, after[i]));
  if (shapesEqual(shape, y.shape)) return y;
  // The fill in x's dtype, as PyTorch's fill_: int32 truncates toward zero, bool is v != 0.
  const v = options.value ?? 0;
  if (x.dtype === "int32" && !(Math.abs(v) < 2 ** 31)) throw new Error(`pad: value ${v} does not fit the int32 input ${fmtShape(x.shape)} (give a finite value within int32 range)`);
  const fill = x.dtype === "float32" ? Math.fround(v) : x.dtype === "int32" ? Math.trunc(v) : Number(v !== 0);
  return place(y, shape, starts, shape.map(() => 1), fill);
}

/** Tiles x: reps[i] copies along axis i (reps may be longer than the rank: new leading axes). */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  const r = Math.max(reps.length, x.shape.length);
  const rs = [...new Array<number>(r - reps.length).fill(1), ...reps];
  const xs = [...new Array<number>(r - x.shape.length).fill(1), ...x.shape];
  const inter: number[] = [];
  const big: number[] = [];
  rs.forEach((k, i) => {
    inter.push(1, xs[i]);
    big.push(k, xs[i]);
  });
  const e = expand(reshape(x, inter), big);
  return reshape(contiguous(e), rs.map((k, i) => k * xs[i]));
}

/** torch.Tensor.repeat: like tile, reps must cover every axis. */
export function repeat(x: Tensor, reps: readonly number[]): Tensor {
  if (reps.length < x.shape.length) throw new Error(`repeat: ${reps.length} repeats for ${x.shape.length} axes of ${fmtShape(x.shape)} (give one per axis)`);
  return tile(x, reps);
}

/** One-hot encoding of int32 class indices: [..., numClasses] int32. */
export function oneHot(index: Tensor, numClasses: number): Tensor {
  checkIndex("oneHot", index);
  const classes = arange(0, numClasses, 1, { dtype: "int32" });
  return cast(eq(unsqueeze(index, -1), classes), "int32");
}

export function broadcastTensors(...xs: Tensor[]): Tensor[] {
  const shape = broadcastShapes("broadcastTensors", ...xs.map((t) => t.shape));
  return xs.map((t) => expand(t, shape));
}

export { isContiguous };

/** A contiguous copy that shares nothing with x (records on the tape). */
export function copyOf(x: Tensor): Tensor {
  return bind("copy", [x], {});
}
