// Reductions over any axes (negative allowed, undefined = all) with keepdims, plus cumsum.
//
// The reduce primitives keep reduced axes with size 1; these ops drop them with a reshape
// (a view) unless keepdims. mean, var, std and logsumexp are composites.

import { bind } from "../core/trace.js";
import type { Tensor } from "../tensor/tensor.js";
import { fmtShape, normAxes, normAxis } from "../tensor/shape.js";
import type { ReducePrim } from "./prims.js";
import { add, cast, div, eq, exp, log, mul, sqrt, sub, where, isFiniteT } from "./api.js";
import { expand, reshape } from "./movement.js";
import { composite } from "../core/composite.js";

export type Axis = number | readonly number[] | null | undefined;
export interface ReduceOptions {
  keepdims?: boolean;
}

function reduceOp(p: ReducePrim, x: Tensor, axis: Axis, options: ReduceOptions = {}): Tensor {
  const axes = normAxes(p, axis ?? undefined, x.shape.length);
  const y = bind(p, [x], { axes });
  if (options.keepdims) return y;
  return reshape(y, x.shape.filter((_d, i) => !axes.includes(i)));
}

export function sum(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  return reduceOp("sum", x.dtype === "bool" ? cast(x, "int32") : x, axis, options);
}
export function prod(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  return reduceOp("prod", x.dtype === "bool" ? cast(x, "int32") : x, axis, options);
}
/** Largest value over axes (all when undefined): PyTorch's amax for every axis choice,
 *  values only (argmax gives the index). A NaN in a group makes its result NaN. The
 *  gradient is amax's: split evenly among the elements equal to the result, and NaN for
 *  the whole group when the result is NaN (torch.max() over all elements instead sends it
 *  to the NaN elements). */
export function max(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  return reduceOp("max", x, axis, options);
}
/** Smallest value over axes: PyTorch's amin for every axis choice, gradient included (see max). */
export function min(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  return reduceOp("min", x, axis, options);
}
export function any(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  return reduceOp("any", cast(x, "bool"), axis, options);
}
export function all(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  return reduceOp("all", cast(x, "bool"), axis, options);
}

function argReduce(p: "argmax" | "argmin", x: Tensor, axis: number | null | undefined, options: ReduceOptions): Tensor {
  if (axis === undefined || axis === null) {
    const flat = reshape(x, [-1]);
    const y = bind(p, [flat], { axes: [0] });
    return reshape(y, options.keepdims ? x.shape.map(() => 1) : []);
  }
  return reduceOp(p, x, normAxis(p, axis, x.shape.length), options);
}

/** Index of the largest value (first on ties) along axis, or in the flattened tensor. */
export function argmax(x: Tensor, axis?: number | null, options: ReduceOptions = {}): Tensor {
  return argReduce("argmax", x, axis, options);
}
export function argmin(x: Tensor, axis?: number | null, options: ReduceOptions = {}): Tensor {
  return argReduce("argmin", x, axis, options);
}

function count(x: Tensor, axis: Axis): number {
  const axes = normAxes("mean", axis ?? undefined, x.shape.length);
  return axes.reduce((n, a) => n * x.shape[a], 1);
}

/** As PyTorch, integers and bools have no mean: the caller picks the float dtype. */
function needFloat(op: string, x: Tensor): void {
  if (x.dtype !== "float32") {
    throw new Error(`${op}: needs a float32 tensor, got ${x.dtype}${fmtShape(x.shape)}; cast it first (x.float().${op}()), as in PyTorch`);
  }
}

export function mean(x: Tensor, axis?: Axis, options?: ReduceOptions): Tensor {
  needFloat("mean", x);
  return div(sum(x, axis, options), count(x, axis));
}

export interface VarOptions extends ReduceOptions {
  /** Subtracted from the count in the divisor: 1 (default, unbiased, as PyTorch) or 0. */
  correction?: number;
}

/** g (the gradient of a reduction over `axes`) with the reduced axes restored as size 1,
 *  expanded to x's shape. */
function unreduce(g: Tensor, x: Tensor, axes: readonly number[], keepdims: boolean | undefined): Tensor {
  const kept = keepdims ? g : reshape(g, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return expand(kept, x.shape);
}

/** PyTorch's var backward: (2 / (n - correction)) g (x - mean(x)). It leaves out the
 *  gradient through the mean, which is zero in exact arithmetic but NaN for a group holding
 *  an infinity (x - mean is NaN there); PyTorch's formula gives the others -+inf. */
function varianceGradient(g: Tensor, x: Tensor, axis: Axis, options: VarOptions): Tensor {
  const axes = normAxes("var", axis ?? undefined, x.shape.length);
  const n = Math.max(count(x, axis) - (options.correction ?? 1), 0);
  return mul(mul(2 / n, unreduce(g, x, axes, options.keepdims)), sub(x, mean(x, axes, { keepdims: true })));
}

/** Variance over axes (all when undefined), divided by count - correction (PyTorch's
 *  torch.var; correction 1 by default). Computed in float32: squares of deviations below
 *  about 1e-19 underflow (PyTorch accumulates in float64), so denormal inputs give 0. The
 *  gradient is PyTorch's formula (see varianceGradient). */
export const variance = composite("variance", function variance(x: Tensor, axis?: Axis, options: VarOptions = {}): Tensor {
  needFloat("var", x);
  const mu = mean(x, axis, { keepdims: true });
  const d = sub(x, mu);
  const n = count(x, axis) - (options.correction ?? 1);
  return div(sum(mul(d, d), axis, options), Math.max(n, 0));
}, (g, _y, [x, axis, options = {}]) => varianceGradient(g, x, axis, options));

/** Standard deviation: the square root of the float32 variance (so it underflows and
 *  overflows where the variance does; PyTorch takes the root of a float64 variance). The
 *  gradient is PyTorch's: var's backward of g / (2 std), and 0 where std is 0. */
export const std = composite("std", function std(x: Tensor, axis?: Axis, options: VarOptions = {}): Tensor {
  needFloat("std", x);
  return sqrt(variance(x, axis, options));
}, (g, y, [x, axis, options = {}]) => varianceGradient(where(eq(y, 0), 0, div(g, mul(y, 2))), x, axis, options));

/** log(sum(exp(x))) computed stably: the max is subtracted first (and gets no gradient; an
 *  infinite max is not subtracted, so rows of -inf give -inf and +inf entries +inf, as
 *  PyTorch). Over an empty axis the sum has no terms: -inf, as PyTorch. */
export const logsumexp = composite("logsumexp", function logsumexp(x: Tensor, axis?: Axis, options: ReduceOptions = {}): Tensor {
  const axes = normAxes("logsumexp", axis ?? undefined, x.shape.length);
  const xf = cast(x, "float32");
  // log(0) = -inf; the empty sum keeps the result on x's tape (its gradient is empty)
  if (axes.some((a) => x.shape[a] === 0)) return sub(sum(xf, axes, options), Infinity);
  const m0 = max(xf, axes, { keepdims: true }).detach();
  const m = where(isFiniteT(m0), m0, 0);
  const s = log(sum(exp(sub(xf, m)), axes, { keepdims: true }));
  const y = add(s, m);
  return options.keepdims ? y : reshape(y, x.shape.filter((_d, i) => !axes.includes(i)));
});

/** Inclusive cumulative sum along axis. */
export function cumsum(x: Tensor, axis: number): Tensor {
  const xi = x.dtype === "bool" ? cast(x, "int32") : x;
  return bind("cumsum", [xi], { axis: normAxis("cumsum", axis, x.shape.length) });
}
