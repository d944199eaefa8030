// One rule record per primitive, in a table the compiler checks for completeness.
//
// A rule has: `abstract` (output shape and dtype from input avals; errors name the op,
// the shapes or dtypes and the rule), `vjp` (gradient written with tensor ops, so it
// records on the tape and serves grad-of-grad and graph mode unchanged; null = not
// differentiable; a null entry in its result = no gradient for that input), and `impl`:
// either a ScalarExpr node builder (elementwise, fusable) or a kernel runner that maps
// input views to an output view with backend kernels (views may alias an input buffer).
// The NN kernel primitives' records live in rules-nn.ts and join this table.

import type { Backend, DType, View, BinaryScalarOp, UnaryScalarOp } from "../backend/backend.js";
import { itemSize } from "../backend/backend.js";
import type { Prim, Params, UnaryPrim, BinaryPrim, ComparePrim, ReducePrim } from "./prims.js";
import type { AbstractValue } from "../core/trace.js";
import type { Tensor } from "../tensor/tensor.js";
import { allocate, Storage } from "../core/runtime.js";
import { contiguousStrides, fmtShape, reshapeStrides, shapesEqual, sizeOf } from "../tensor/shape.js";
import * as o from "./api.js";
import { all, avalStr, copyTo, f32, kernel, needDtype, num, sameInputs, viewOf, type Grads, type KernelCtx, type Rule } from "./rule-kit.js";
import { nnRules } from "./rules-nn.js";

export type { Rule, KernelCtx, Impl } from "./rule-kit.js";

// ---------------------------------------------------------------------------------------
// Elementwise rules

const unaryScalar: Record<UnaryPrim, UnaryScalarOp> = {
  neg: "neg", abs: "abs", sign: "sign", exp: "exp", log: "log", log1p: "log1p", expm1: "expm1",
  sqrt: "sqrt", rsqrt: "rsqrt", reciprocal: "reciprocal", sin: "sin", cos: "cos", tanh: "tanh",
  sigmoid: "sigmoid", erf: "erf", floor: "floor", ceil: "ceil", round: "round",
};
const floatOnly = new Set<UnaryPrim>(["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tanh", "sigmoid", "erf"]);

function unary(p: UnaryPrim, vjp: Rule<UnaryPrim>["vjp"]): Rule<UnaryPrim> {
  return {
    abstract(xs) {
      sameInputs(p, xs, 1);
      needDtype(p, xs[0], floatOnly.has(p) ? ["float32"] : ["float32", "int32"]);
      return { shape: xs[0].shape, dtype: xs[0].dtype };
    },
    vjp,
    impl: { kind: "elementwise", scalar: (e, _p, out) => ({ op: unaryScalar[p], x: e[0], dtype: out.dtype }) },
  };
}

const binaryScalar: Record<BinaryPrim | ComparePrim | "and" | "or", BinaryScalarOp> = {
  add: "add", sub: "sub", mul: "mul", div: "div", pow: "pow", maximum: "max", minimum: "min",
  mod: "mod", floorDiv: "floordiv", atan2: "atan2", eq: "eq", ne: "ne", lt: "lt", le: "le", gt: "gt", ge: "ge",
  and: "and", or: "or",
};

function binary<P extends BinaryPrim | ComparePrim | "and" | "or">(
  p: P, allowed: readonly DType[], outDtype: DType | null, vjp: Rule<P>["vjp"],
): Rule<P> {
  return {
    abstract(xs) {
      sameInputs(p, xs, 2);
      needDtype(p, xs[0], allowed);
      return { shape: xs[0].shape, dtype: outDtype ?? xs[0].dtype };
    },
    vjp,
    impl: { kind: "elementwise", scalar: (e, _p, out) => ({ op: binaryScalar[p], a: e[0], b: e[1], dtype: out.dtype }) },
  };
}


// ---------------------------------------------------------------------------------------
// Reductions: the output keeps reduced axes with size 1 (ops reshape them away).

function reduce<P extends ReducePrim>(p: P, vjp: Rule<P>["vjp"]): Rule<P> {
  return {
    abstract(xs, params) {
      const { axes } = params as { axes: number[] };
      const x = xs[0];
      if (p === "any" || p === "all") needDtype(p, x, ["bool"]);
      else if (p === "sum" || p === "prod") needDtype(p, x, num);
      for (const a of axes) {
        if (a < 0 || a >= x.shape.length) throw new Error(`${p}: axis ${a} out of range for ${avalStr(x)}`);
        if ((p === "max" || p === "min" || p === "argmax" || p === "argmin") && x.shape[a] === 0) {
          throw new Error(`${p}: cannot reduce an empty axis ${a} of ${avalStr(x)} (the result has no identity)`);
        }
      }
      const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const dtype: DType = p === "argmax" || p === "argmin" ? "int32" : p === "any" || p === "all" ? "bool" : x.dtype;
      return { shape, dtype };
    },
    vjp,
    impl: {
      kind: "kernel",
      run(ctx, xs, params, out) {
        const v = ctx.alloc(out.shape, out.dtype);
        ctx.backend.dispatch({ kind: "reduce", op: p, axes: (params as { axes: number[] }).axes, inputs: [xs[0]], out: v });
        return v;
      },
    },
  };
}

/** max/min over axes: PyTorch's amax/amin backward, (g / count) * mask with mask = (x == y)
 *  and count its sum over the group. Ties share the gradient evenly; a NaN result equals no
 *  element, so count = 0 and the whole group gets (g / 0) * 0 = NaN, as amax's gradient. */
function maxMinVjp(g: Tensor, xs: Tensor[], out: Tensor, params: { axes: number[] }): Grads {
  const x = xs[0];
  const mask = o.cast(o.eq(x, o.expand(out, x.shape)), "float32");
  const count = o.sum(mask, params.axes, { keepdims: true });
  return [o.mul(o.expand(o.div(g, count), x.shape), mask)];
}

/** prod over axes: each element's gradient is the product of the other elements of its
 *  group (PyTorch's backward when the input holds a zero; its zero-free shortcut
 *  result / x gives NaN at an infinity), computed without dividing by special elements
 *  (0, +-inf, NaN). With xs = x at ordinary (finite, non-zero) elements and 1 at special
 *  ones, base_i = prod(xs) / xs_i is the product of the ordinary others; the special
 *  others, counted without i (z zeros, k infinities, m NaNs), multiply it:
 *    m > 0, or z > 0 and k > 0   NaN
 *    z = 0, k = 0                base_i
 *    z = 1, k = 0                base_i * (the other zero)
 *    z >= 2, k = 0               0
 *    z = 0, k > 0                base_i * inf, signed as the product of the other infinities
 *  The z = 1 line is 0 in value, but written as a product with the zero element it has the
 *  right derivative (d others_i / d x_m = base_i for the zero x_m), so grad of grad is exact
 *  too. One division per element, as the zero-free formula y / x. */
function prodVjp(g: Tensor, [x]: Tensor[], _y: Tensor, params: { axes: number[] }): Grads {
  const keep = { keepdims: true };
  const group = (op: typeof o.sum, v: Tensor) => o.expand(op(v, params.axes, keep), x.shape);
  /** How many of the other elements of i's group satisfy mask. */
  const othersCount = (mask: Tensor) => {
    const f = o.cast(mask, "float32");
    return o.sub(group(o.sum, f), f);
  };
  const z = o.eq(x, 0);
  const inf = o.isinf(x);
  const special = o.logicalNot(o.logicalAnd(o.isFiniteT(x), o.logicalNot(z)));
  const xs = o.where(special, 1, x);
  const base = o.div(group(o.prod, xs), xs);
  const zeros = othersCount(z);
  const infs = othersCount(inf);
  const zx = o.where(z, x, 0); // the zero elements (value 0, derivative 1)
  const zeroSumOthers = o.sub(group(o.sum, zx), zx);
  const finite = o.where(o.eq(zeros, 0), base, o.where(o.eq(zeros, 1), o.mul(base, zeroSumOthers), 0));
  // 1 without infinite others, so that where no infinity is involved the derivative of
  // `others` with respect to `finite` is 1 (a where between finite and base * inf would
  // send 0 * inf = NaN into second derivatives)
  const infSign = o.where(inf, o.sign(x), 1);
  const infFactor = o.where(o.eq(infs, 0), 1, o.mul(o.div(group(o.prod, infSign), infSign), Infinity));
  const undefinedProduct = o.logicalOr(o.gt(othersCount(o.isnan(x)), 0), o.logicalAnd(o.gt(zeros, 0), o.gt(infs, 0)));
  const others = o.where(undefinedProduct, NaN, o.mul(finite, infFactor));
  return [o.mul(o.expand(g, x.shape), others)];
}

/** maximum/minimum: the larger (smaller) operand takes the gradient; on a tie each takes
 *  half (PyTorch's convention); NaN passes it to both. wins(a, b): a alone is the result;
 *  loses(a, b): b alone is. */
function tieSplitVjp(wins: (a: Tensor, b: Tensor) => Tensor, loses: (a: Tensor, b: Tensor) => Tensor): Rule<"maximum">["vjp"] {
  return (g, [a, b], _y, _p, needed) => {
    const h = o.where(o.eq(a, b), o.mul(g, 0.5), g);
    return [
      needed?.[0] === false ? null : o.where(loses(a, b), 0, h),
      needed?.[1] === false ? null : o.where(wins(a, b), 0, h),
    ];
  };
}

// The table

export const rules: { [P in Prim]: Rule<P> } = {
  neg: unary("neg", (g) => [o.neg(g)]),
  abs: unary("abs", (g, [x]) => [o.mul(g, o.sign(x))]),
  sign: unary("sign", (_g) => [null]),
  exp: unary("exp", (g, _x, y) => [o.mul(g, y)]),
  log: unary("log", (g, [x]) => [o.div(g, x)]),
  log1p: unary("log1p", (g, [x]) => [o.div(g, o.add(x, 1))]),
  expm1: unary("expm1", (g, _x, y) => [o.mul(g, o.add(y, 1))]),
  sqrt: unary("sqrt", (g, _x, y) => [o.div(o.mul(g, 0.5), y)]),
  // PyTorch's -0.5 g y^3 (y / x has the wrong sign of infinity at x = -0)
  rsqrt: unary("rsqrt", (g, _x, y) => [o.mul(o.mul(g, -0.5), o.mul(o.mul(y, y), y))]),
  reciprocal: unary("reciprocal", (g, _x, y) => [o.neg(o.mul(g, o.mul(y, y)))]),
  sin: unary("sin", (g, [x]) => [o.mul(g, o.cos(x))]),
  cos: unary("cos", (g, [x]) => [o.neg(o.mul(g, o.sin(x)))]),
  tanh: unary("tanh", (g, _x, y) => [o.mul(g, o.sub(1, o.mul(y, y)))]),
  sigmoid: unary("sigmoid", (g, _x, y) => [o.mul(g, o.mul(y, o.sub(1, y)))]),
  erf: unary("erf", (g, [x]) => [o.mul(g, o.mul(2 / Math.sqrt(Math.PI), o.exp(o.neg(o.mul(x, x)))))]),
  floor: unary("floor", () => [null]),
  ceil: unary("ceil", () => [null]),
  round: unary("round", () => [null]),

  add: binary("add", num, null, (g) => [g, g]),
  sub: binary("sub", num, null, (g) => [g, o.neg(g)]),
  mul: binary("mul", num, null, (g, [a, b]) => [o.mul(g, b), o.mul(g, a)]),
  div: binary("div", f32, null, (g, [, b], y) => [o.div(g, b), o.neg(o.div(o.mul(g, y), b))]),
  // As PyTorch: d/da is 0 where b = 0 (not 0 * 0^-1 = NaN at a = 0); d/db is 0 where a = 0
  // and b >= 0, and NaN for a negative base (log a).
  pow: binary("pow", num, null, (g, [a, b], y, _p, needed) => [
    needed?.[0] === false ? null : o.where(o.eq(b, 0), 0, o.mul(g, o.mul(b, o.pow(a, o.sub(b, 1))))),
    needed?.[1] === false ? null : o.where(o.logicalAnd(o.eq(a, 0), o.ge(b, 0)), 0, o.mul(g, o.mul(y, o.log(a)))),
  ]),
  // (lambdas: the op modules are not initialised yet while this table is built)
  maximum: binary("maximum", num, null, tieSplitVjp((a, b) => o.gt(a, b), (a, b) => o.lt(a, b))),
  minimum: binary("minimum", num, null, tieSplitVjp((a, b) => o.lt(a, b), (a, b) => o.gt(a, b))),
  mod: binary("mod", num, null, (g, [a, b]) => [g, o.neg(o.mul(g, o.floorDiv(a, b)))]),
  floorDiv: binary("floorDiv", num, null, () => [null, null]),
  // PyTorch's g b / r and -g a / r with r = a^2 + b^2 and 1 / r taken as 0 where r is 0
  // (at the origin, and where both squares underflow), so the gradient there is +-0.
  atan2: binary("atan2", f32, null, (g, [a, b]) => {
    const r = o.add(o.mul(a, a), o.mul(b, b));
    const recip = o.where(o.eq(r, 0), 0, o.reciprocal(r));
    return [o.mul(o.mul(g, b), recip), o.mul(o.mul(g, o.neg(a)), recip)];
  }),
  eq: binary("eq", all, "bool", null),
  ne: binary("ne", all, "bool", null),
  lt: binary("lt", all, "bool", null),
  le: binary("le", all, "bool", null),
  gt: binary("gt", all, "bool", null),
  ge: binary("ge", all, "bool", null),
  and: binary("and", ["bool"], "bool", null),
  or: binary("or", ["bool"], "bool", null),
  not: {
    abstract(xs) {
      sameInputs("not", xs, 1);
      needDtype("not", xs[0], ["bool"]);
      return xs[0];
    },
    vjp: null,
    impl: { kind: "elementwise", scalar: (e) => ({ op: "not", x: e[0], dtype: "bool" }) },
  },
  where: {
    abstract(xs) {
      if (xs.length !== 3) throw new Error(`where: expected 3 inputs (cond, a, b), got ${xs.length}`);
      needDtype("where", xs[0], ["bool"]);
      sameInputs("where", xs.slice(1), 2);
      if (!shapesEqual(xs[0].shape, xs[1].shape)) throw new Error(`where: cond ${avalStr(xs[0])} and values ${avalStr(xs[1])} differ in shape`);
      return xs[1];
    },
    vjp: (g, [c]) => [null, o.where(c, g, 0), o.where(c, 0, g)],
    impl: { kind: "elementwise", scalar: (e, _p, out) => ({ op: "where", cond: e[0], a: e[1], b: e[2], dtype: out.dtype }) },
  },
  cast: {
    abstract: (xs, p) => ({ shape: xs[0].shape, dtype: p.dtype }),
    vjp: (g, [x], _y, p) => [x.dtype === "float32" && p.dtype === "float32" ? g : null],
    impl: { kind: "elementwise", scalar: (e, p) => ({ op: "cast", x: e[0], dtype: p.dtype }) },
  },

  sum: reduce("sum", (g, [x]) => [o.expand(g, x.shape)]),
  prod: reduce("prod", prodVjp),
  max: reduce("max", maxMinVjp),
  min: reduce("min", maxMinVjp),
  argmax: reduce("argmax", null),
  argmin: reduce("argmin", null),
  any: reduce("any", null),
  all: reduce("all", null),

  cumsum: kernel(
    (xs, p) => {
      needDtype("cumsum", xs[0], num);
      if (p.axis < 0 || p.axis >= xs[0].shape.length) throw new Error(`cumsum: axis ${p.axis} out of range for ${avalStr(xs[0])}`);
      return xs[0];
    },
    (g, _x, _y, p) => [o.flip(o.cumsum(o.flip(g, p.axis), p.axis), p.axis)],
    (ctx, [x], p, out) => {
      const v = ctx.alloc(out.shape, out.dtype);
      ctx.backend.dispatch({ kind: "cumsum", axis: p.axis, input: x, out: v });
      return v;
    },
  ),

  reshape: kernel(
    (xs, p) => {
      if (sizeOf(p.shape) !== sizeOf(xs[0].shape)) throw new Error(`reshape: cannot reshape ${avalStr(xs[0])} into ${fmtShape(p.shape)}`);
      return { shape: p.shape, dtype: xs[0].dtype };
    },
    (g, [x]) => [o.reshape(g, x.shape)],
    (ctx, [x], p) => {
      const st = reshapeStrides(x.shape, x.strides, p.shape);
      if (st) return viewOf(x, p.shape, st);
      const c = copyTo(ctx, x);
      return viewOf(c, p.shape, contiguousStrides(p.shape));
    },
  ),
  permute: kernel(
    (xs, p) => {
      const r = xs[0].shape.length;
      const ok = p.perm.length === r && [...p.perm].sort((a, b) => a - b).every((v, i) => v === i);
      if (!ok) throw new Error(`permute: [${p.perm.join(",")}] is not a permutation of the ${r} axes of ${avalStr(xs[0])}`);
      return { shape: p.perm.map((i) => xs[0].shape[i]), dtype: xs[0].dtype };
    },
    (g, _x, _y, p) => {
      const inv = new Array<number>(p.perm.length);
      p.perm.forEach((a, i) => (inv[a] = i));
      return [o.permute(g, inv)];
    },
    (_ctx, [x], p) => viewOf(x, p.perm.map((i) => x.shape[i]), p.perm.map((i) => x.strides[i])),
  ),
  expand: kernel(
    (xs, p) => {
      const s = xs[0].shape;
      const lead = p.shape.length - s.length;
      const ok = lead >= 0 && s.every((d, i) => d === p.shape[lead + i] || d === 1);
      if (!ok) throw new Error(`expand: cannot broadcast ${avalStr(xs[0])} to ${fmtShape(p.shape)} (sizes must match or be 1)`);
      return { shape: p.shape, dtype: xs[0].dtype };
    },
    (g, [x], _y, p) => {
      const lead = p.shape.length - x.shape.length;
      const axes = p.shape.map((_d, i) => i).filter((i) => i < lead || (x.shape[i - lead] === 1 && p.shape[i] !== 1));
      return [o.reshape(axes.length ? o.sum(g, axes, { keepdims: true }) : g, x.shape)];
    },
    (_ctx, [x], p) => {
      const lead = p.shape.length - x.shape.length;
      const strides = p.shape.map((d, i) => (i < lead ? 0 : x.shape[i - lead] === 1 && d !== 1 ? 0 : x.strides[i - lead]));
      return viewOf(x, p.shape, strides);
    },
  ),
  slice: kernel(
    (xs, p) => {
      const s = xs[0].shape;
      if (p.starts.length !== s.length) throw new Error(`slice: ${p.starts.length} axes given for ${avalStr(xs[0])}`);
      p.shape.forEach((n, i) => {
        const last = p.starts[i] + (n - 1) * p.steps[i];
        if (n > 0 && (p.starts[i] < 0 || p.starts[i] >= s[i] || last < 0 || last >= s[i])) {
          throw new Error(`slice: axis ${i} range start ${p.starts[i]} step ${p.steps[i]} count ${n} leaves ${avalStr(xs[0])}`);
        }
      });
      return { shape: p.shape, dtype: xs[0].dtype };
    },
    (g, [x], _y, p) => [o.place(g, x.shape, p.starts, p.steps)],
    (_ctx, [x], p) => {
      let off = x.offset;
      p.starts.forEach((s, i) => (off += (p.shape[i] > 0 ? s : 0) * x.strides[i]));
      return viewOf(x, p.shape, x.strides.map((st, i) => st * p.steps[i]), off);
    },
  ),
  copy: kernel((xs) => xs[0], (g) => [g], (ctx, [x]) => copyTo(ctx, x)),

  gather: kernel(
    (xs, p) => {
      const [x, idx] = xs;
      needDtype("gather", idx, ["int32"]);
      if (idx.shape.length !== x.shape.length) throw new Error(`gather: index ${avalStr(idx)} must have the rank of input ${avalStr(x)}`);
      return { shape: idx.shape, dtype: x.dtype };
    },
    (g, [x, idx], _y, p) => [o.scatterAddP(o.zeros(x.shape), idx, g, p.axis), null],
    (ctx, [x, idx], p, out) => {
      const v = ctx.alloc(out.shape, out.dtype);
      ctx.backend.dispatch({ kind: "gather", axis: p.axis, input: x, index: idx, out: v });
      return v;
    },
  ),
  scatterAdd: kernel(
    (xs, p) => {
      const [base, idx, src] = xs;
      needDtype("scatterAdd", idx, ["int32"]);
      if (!shapesEqual(idx.shape, src.shape)) throw new Error(`scatterAdd: index ${avalStr(idx)} and src ${avalStr(src)} must have one shape`);
      if (base.dtype !== src.dtype) throw new Error(`scatterAdd: base ${avalStr(base)} and src ${avalStr(src)} differ in dtype`);
      if (p.axis < 0 || p.axis >= base.shape.length) throw new Error(`scatterAdd: axis ${p.axis} out of range for ${avalStr(base)}`);
      return base;
    },
    (g, [, idx], _y, p) => [g, null, o.gatherP(g, idx, p.axis)],
    (ctx, [base, idx, src], p) => {
      const out = copyTo(ctx, base);
      ctx.backend.dispatch({ kind: "scatterAdd", axis: p.axis, index: idx, src, out });
      return out;
    },
  ),
  concat: kernel(
    (xs, p) => {
      if (xs.length === 0) throw new Error("concat: needs at least one tensor");
      const r = xs[0].shape.length;
      for (const x of xs) {
        const ok = x.dtype === xs[0].dtype && x.shape.length === r && x.shape.every((d, i) => i === p.axis || d === xs[0].shape[i]);
        if (!ok) throw new Error(`concat: inputs ${xs.map(avalStr).join(", ")} must match in dtype and in every axis but ${p.axis}`);
      }
      const shape = [...xs[0].shape];
      shape[p.axis] = xs.reduce((s, x) => s + x.shape[p.axis], 0);
      return { shape, dtype: xs[0].dtype };
    },
    (g, xs, _y, p) => {
      let at = 0;
      return xs.map((x) => {
        const n = x.shape[p.axis];
        const piece = o.narrow(g, p.axis, at, n);
        at += n;
        return piece;
      });
    },
    // Each input copied into its block of the output: every bit pattern (-0, NaN payloads,
    // denormals) arrives unchanged, and the pieces cover the output, so nothing is filled.
    (ctx, xs, p, out) => {
      const v = ctx.alloc(out.shape, out.dtype);
      let at = 0;
      for (const x of xs) {
        if (sizeOf(x.shape) > 0) ctx.backend.dispatch({ kind: "copy", input: x, out: viewOf(v, x.shape, v.strides, v.offset + at * v.strides[p.axis]) });
        at += x.shape[p.axis];
      }
      return v;
    },
  ),
  place: kernel(
    (xs, p) => {
      const x = xs[0];
      const ok = p.shape.length === x.shape.length && x.shape.every((n, a) =>
        n === 0 || (p.starts[a] >= 0 && p.starts[a] < p.shape[a] && p.starts[a] + (n - 1) * p.steps[a] >= 0 && p.starts[a] + (n - 1) * p.steps[a] < p.shape[a]));
      if (!ok) throw new Error(`place: ${avalStr(x)} at starts [${p.starts}] steps [${p.steps}] does not fit in ${fmtShape(p.shape)}`);
      return { shape: p.shape, dtype: x.dtype };
    },
    (g, [x], _y, p) => [o.sliceP(g, p.starts, p.steps, x.shape)],
    // The fill, then x copied into the strided block it occupies: exact for every value.
    (ctx, [x], p) => {
      const v = ctx.full(p.shape, x.dtype, p.value ?? 0);
      if (sizeOf(x.shape) > 0) {
        const off = p.starts.reduce((s, st, a) => s + st * v.strides[a], v.offset);
        ctx.backend.dispatch({ kind: "copy", input: x, out: viewOf(v, x.shape, v.strides.map((st, a) => st * p.steps[a]), off) });
      }
      return v;
    },
  ),

  ...nnRules,
};

// ---------------------------------------------------------------------------------------
// Running an impl on a backend (eager trace).

export function runImpl<P extends Prim>(
  prim: P, backend: Backend, xs: View[], inputs: Tensor[], params: Params<P>, out: AbstractValue,
): { view: View; storage: Storage } {
  const allocs: Storage[] = [];
  const ctx: KernelCtx = {
    backend,
    alloc(shape, dtype) {
      const s = allocate(backend, sizeOf(shape) * itemSize[dtype], () => `${prim} ${dtype}${fmtShape(shape)}`);
      allocs.push(s);
      return { buffer: s.buffer, dtype, shape: [...shape], strides: contiguousStrides(shape), offset: 0 };
    },
    full(shape, dtype, value) {
      const v = ctx.alloc(shape, dtype);
      if (sizeOf(shape) > 0) backend.dispatch({ kind: "elementwise", expr: { op: "const", value, dtype }, inputs: [], out: v });
      return v;
    },
  };
  const rule = rules[prim] as Rule<P>;
  let view: View;
  try {
    if (rule.impl.kind === "elementwise") {
      const expr = rule.impl.scalar(xs.map((x, i) => ({ op: "input", index: i, dtype: x.dtype })), params, out);
      view = ctx.alloc(out.shape, out.dtype);
      if (sizeOf(out.shape) > 0) backend.dispatch({ kind: "elementwise", expr, inputs: xs, out: view });
    } else {
      view = rule.impl.run(ctx, xs, params, out);
    }
  } catch (e) {
    for (const s of allocs) s.release();
    throw e;
  }
  let storage = allocs.find((s) => s.buffer === view.buffer);
  for (const s of allocs) if (s !== storage) s.release();
  if (!storage) {
    const i = xs.findIndex((x) => x.buffer === view.buffer);
    if (i < 0) throw new Error(`internal: ${prim} returned a view of an unknown buffer`);
    storage = inputs[i]._storage().retain();
  }
  return { view, storage };
}
