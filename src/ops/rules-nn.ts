// Rule records of the linear-algebra and NN kernel primitives: matmul, the three conv2d
// kernels (each one's gradient is written with the other two, so grad of grad works),
// max pooling and its indices, and random. Letters: N batch, C/O channels, H/W spatial.

import type { Params } from "./prims.js";
import type { Tensor } from "../tensor/tensor.js";
import type { AbstractValue } from "../core/trace.js";
import { fmtShape, shapesEqual } from "../tensor/shape.js";
import { avalStr, f32, kernel, needDtype, type Rule } from "./rule-kit.js";
import * as o from "./api.js";

export type NnPrim = "matmul" | "conv2d" | "conv2dInputGrad" | "conv2dWeightGrad" | "maxPool2d" | "maxPool2dIndices" | "random";

/** True when t was recorded as a permute that swaps only its last two axes (mT). */
function swapsLastTwo(t: Tensor): boolean {
  const n = t._node;
  if (!n || n.prim !== "permute") return false;
  const perm = (n.params as Params<"permute">).perm;
  const r = perm.length;
  return perm.every((p, i) => p === (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
}

export const nnRules: { [P in NnPrim]: Rule<P> } = {
  matmul: kernel(
    (xs) => {
      const [a, b] = xs;
      needDtype("matmul", a, f32);
      needDtype("matmul", b, f32);
      const r = a.shape.length;
      if (r < 2 || b.shape.length !== r || !shapesEqual(a.shape.slice(0, r - 2), b.shape.slice(0, r - 2))) {
        throw new Error(`matmul: primitive operands need one rank >= 2 and equal batch dims, got ${avalStr(a)} and ${avalStr(b)}`);
      }
      if (a.shape[r - 1] !== b.shape[r - 2]) {
        throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${a.shape[r - 1]} != ${b.shape[r - 2]})`);
      }
      return { shape: [...a.shape.slice(0, r - 1), b.shape[r - 1]], dtype: "float32" };
    },
    (g, [a, b], _y, _p, needed) => [
      needed?.[0] === false ? null : o.matmul(g, o.mT(b)),
      // b = mT(w) (a linear layer's weight): compute (g^T a)^T, the same sums in the same
      // order, so that w's gradient (the transpose's vjp undoes the mT) is row-major and the
      // optimizer's elementwise updates read it contiguously.
      needed?.[1] === false ? null : swapsLastTwo(b) ? o.mT(o.matmul(o.mT(g), a)) : o.matmul(o.mT(a), g),
    ],
    (ctx, [a, b], _p, out) => {
      const v = ctx.alloc(out.shape, "float32");
      ctx.backend.dispatch({ kind: "matmul", a, b, out: v });
      return v;
    },
  ),
  conv2d: kernel(
    (xs, p) => convShape(xs[0], xs[1], p),
    (g, [x, w], _y, p, needed) => [
      needed?.[0] === false ? null : o.conv2dInputGrad(g, w, p, x.shape),
      needed?.[1] === false ? null : o.conv2dWeightGrad(x, g, p, w.shape),
    ],
    (ctx, [x, w], p, out) => {
      const v = ctx.alloc(out.shape, "float32");
      ctx.backend.dispatch({ kind: "conv2d", x, w, out: v, params: p });
      return v;
    },
  ),
  conv2dInputGrad: kernel(
    (xs, p) => {
      const y = convShape({ shape: p.inputShape, dtype: "float32" }, xs[1], p);
      if (!shapesEqual(y.shape, xs[0].shape)) throw new Error(`conv2dInputGrad: dy ${avalStr(xs[0])} does not match the conv output ${fmtShape(y.shape)} of input ${fmtShape(p.inputShape)}`);
      return { shape: p.inputShape, dtype: "float32" };
    },
    (g, [dy, w], _y, p) => [o.conv2dP(g, w, p), o.conv2dWeightGrad(g, dy, p, w.shape)],
    (ctx, [dy, w], p, out) => {
      const v = ctx.alloc(out.shape, "float32");
      ctx.backend.dispatch({ kind: "conv2dInputGrad", dy, w, out: v, params: p });
      return v;
    },
  ),
  conv2dWeightGrad: kernel(
    (xs, p) => {
      const y = convShape(xs[0], { shape: p.weightShape, dtype: "float32" }, p);
      if (!shapesEqual(y.shape, xs[1].shape)) throw new Error(`conv2dWeightGrad: dy ${avalStr(xs[1])} does not match the conv output ${fmtShape(y.shape)}`);
      return { shape: p.weightShape, dtype: "float32" };
    },
    (g, [x, dy], _y, p) => [o.conv2dInputGrad(dy, g, p, x.shape), o.conv2dP(x, g, p)],
    (ctx, [x, dy], p, out) => {
      const v = ctx.alloc(out.shape, "float32");
      ctx.backend.dispatch({ kind: "conv2dWeightGrad", x, dy, out: v, params: p });
      return v;
    },
  ),
  maxPool2d: kernel(
    (xs, p) => poolShape("maxPool2d", xs[0], p),
    (g, [x], _y, p) => {
      const [N, C, H, W] = x.shape;
      const idx = o.reshape(o.maxPool2dIndices(x, p), [N, C, -1]);
      const dx = o.scatterAddP(o.zeros([N, C, H * W]), idx, o.reshape(g, [N, C, -1]), 2);
      return [o.reshape(dx, x.shape)];
    },
    (ctx, [x], p, out) => {
      const v = ctx.alloc(out.shape, "float32");
      const indices = ctx.alloc(out.shape, "int32");
      ctx.backend.dispatch({ kind: "maxPool2d", x, out: v, indices, params: p });
      return v;
    },
  ),
  maxPool2dIndices: kernel(
    (xs, p) => ({ ...poolShape("maxPool2dIndices", xs[0], p), dtype: "int32" }),
    null,
    (ctx, [x], p, out) => {
      const v = ctx.alloc(out.shape, "float32");
      const indices = ctx.alloc(out.shape, "int32");
      ctx.backend.dispatch({ kind: "maxPool2d", x, out: v, indices, params: p });
      return indices;
    },
  ),
  random: kernel(
    (_xs, p) => ({ shape: p.shape, dtype: p.dist === "bits" ? "int32" : "float32" }),
    null,
    (ctx, _xs, p, out) => {
      const v = ctx.alloc(out.shape, out.dtype);
      ctx.backend.dispatch({ kind: "random", dist: p.dist, key: p.key, counter: p.counter, out: v });
      return v;
    },
  ),
};

function convShape(x: AbstractValue, w: AbstractValue, p: Params<"conv2d">): AbstractValue {
  if (x.shape.length !== 4 || w.shape.length !== 4) {
    throw new Error(`conv2d: expected input [N,C,H,W] and weight [O,C/groups,KH,KW], got ${avalStr(x)} and ${avalStr(w)}`);
  }
  needDtype("conv2d", x, f32);
  needDtype("conv2d", w, f32);
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  if (C % p.groups !== 0 || O % p.groups !== 0 || Cg * p.groups !== C) {
    throw new Error(`conv2d: input channels ${C} and weight ${fmtShape(w.shape)} do not fit groups=${p.groups} (need C = groups * weight.shape[1] and O divisible by groups)`);
  }
  const OH = Math.floor((H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
  const OW = Math.floor((W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
  if (OH <= 0 || OW <= 0) throw new Error(`conv2d: kernel ${KH}x${KW} (dilation ${p.dilation}) is larger than the padded input ${fmtShape(x.shape)}`);
  return { shape: [N, O, OH, OW], dtype: "float32" };
}

function poolShape(op: string, x: AbstractValue, p: Params<"maxPool2d">): AbstractValue {
  if (x.shape.length !== 4) throw new Error(`${op}: expected input [N,C,H,W], got ${avalStr(x)}`);
  needDtype(op, x, f32);
  const [N, C, H, W] = x.shape;
  if (p.padding[0] * 2 > p.kernelSize[0] || p.padding[1] * 2 > p.kernelSize[1]) {
    throw new Error(`${op}: padding ${p.padding} must be at most half the kernel size ${p.kernelSize}`);
  }
  const OH = Math.floor((H + 2 * p.padding[0] - p.kernelSize[0]) / p.stride[0]) + 1;
  const OW = Math.floor((W + 2 * p.padding[1] - p.kernelSize[1]) / p.stride[1]) + 1;
  if (OH <= 0 || OW <= 0) throw new Error(`${op}: kernel ${p.kernelSize} is larger than the padded input ${fmtShape(x.shape)}`);
  return { shape: [N, C, OH, OW], dtype: "float32" };
}
