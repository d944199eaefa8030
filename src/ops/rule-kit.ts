// The vocabulary rule records are written in: the Rule type, the kernel context an impl
// runs with, and the small helpers shared by rules.ts and rules-nn.ts (abstract-eval checks
// whose errors name the op, view arithmetic, and the kernel-rule constructor).

import type { Backend, DType, ScalarExpr, View } from "../backend/backend.js";
import type { Prim, Params } from "./prims.js";
import type { AbstractValue } from "../core/trace.js";
import type { Tensor } from "../tensor/tensor.js";
import { fmtShape, shapesEqual } from "../tensor/shape.js";

export type Grads = (Tensor | null)[];

export interface KernelCtx {
  readonly backend: Backend;
  /** A fresh contiguous view; freed automatically unless it is the returned view. */
  alloc(shape: readonly number[], dtype: DType): View;
  /** A fresh contiguous view filled with a constant. */
  full(shape: readonly number[], dtype: DType, value: number): View;
}

export type Impl<P extends Prim> =
  | { kind: "elementwise"; scalar(xs: ScalarExpr[], params: Params<P>, out: AbstractValue): ScalarExpr }
  | { kind: "kernel"; run(ctx: KernelCtx, xs: View[], params: Params<P>, out: AbstractValue): View };

export interface Rule<P extends Prim> {
  abstract(xs: readonly AbstractValue[], params: Params<P>): AbstractValue;
  /** `needed[i]` is false when input i's gradient will be dropped (it does not require
   *  grad); a rule may return null there instead of computing it (matmul and conv skip the
   *  product). Callers may omit it: then every gradient is needed. */
  vjp: ((g: Tensor, xs: Tensor[], out: Tensor, params: Params<P>, needed?: readonly boolean[]) => Grads) | null;
  impl: Impl<P>;
}

// ---------------------------------------------------------------------------------------
// Abstract-eval helpers

export const avalStr = (x: AbstractValue) => `${x.dtype}${fmtShape(x.shape)}`;

export function sameInputs(op: string, xs: readonly AbstractValue[], n: number): void {
  if (xs.length !== n) throw new Error(`${op}: expected ${n} inputs, got ${xs.length}`);
  for (const x of xs.slice(1)) {
    if (!shapesEqual(x.shape, xs[0].shape)) {
      throw new Error(`${op}: primitive inputs must have one shape, got ${xs.map(avalStr).join(" and ")} (ops broadcast before binding)`);
    }
    if (x.dtype !== xs[0].dtype) {
      throw new Error(`${op}: primitive inputs must have one dtype, got ${xs.map(avalStr).join(" and ")} (ops promote before binding)`);
    }
  }
}

export function needDtype(op: string, x: AbstractValue, allowed: readonly DType[]): void {
  if (!allowed.includes(x.dtype)) {
    throw new Error(`${op}: dtype ${x.dtype} is not supported (input ${avalStr(x)}; allowed: ${allowed.join(", ")})`);
  }
}

// ---------------------------------------------------------------------------------------
// Views

export function viewOf(x: View, shape: readonly number[], strides: readonly number[], offset = x.offset): View {
  return { buffer: x.buffer, dtype: x.dtype, shape: [...shape], strides: [...strides], offset };
}

export function copyTo(ctx: KernelCtx, x: View): View {
  const out = ctx.alloc(x.shape, x.dtype);
  ctx.backend.dispatch({ kind: "copy", input: x, out });
  return out;
}

export function kernel<P extends Prim>(
  abstract: Rule<P>["abstract"], vjp: Rule<P>["vjp"], run: (ctx: KernelCtx, xs: View[], params: Params<P>, out: AbstractValue) => View,
): Rule<P> {
  return { abstract, vjp, impl: { kind: "kernel", run } };
}

export const num: readonly DType[] = ["float32", "int32"];
export const all: readonly DType[] = ["float32", "int32", "bool"];
export const f32: readonly DType[] = ["float32"];
