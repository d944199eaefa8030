// Reductions (sum, prod, max, min, argmax, argmin, any, all over any axes, with an optional
// elementwise prologue) and cumsum.
//
// Plan: permute the input so kept axes come first and reduced axes last; the reduction is
// then over rows of a (O, Rn) matrix (O = kept elements, Rn = reduced elements). If the
// permuted input is not already a contiguous (O, Rn) block, or a prologue/cast is needed,
// the elementwise kernel materialises it first. The row kernel then:
//   mode 0: work unit u = (row, block) with fixed blocks of BLOCK elements: reduces its
//           block with four f32x4/i32x4 accumulators (16-element steps), folds the
//           accumulators and lanes in a fixed tree, then the tail in order -> partial[u]
//   mode 1: work unit = row: folds the row's block partials in order -> out[row]
// Block boundaries and folding order depend only on Rn, never on the thread count, so sums
// are bit-identical for any number of threads. argmax/argmin scan each row in order
// (first index wins ties; NaN counts as the extreme value, as in NumPy).
//
// Row descriptor (i32 words): 0 mode, 1 src, 2 Rn, 3 blocks per row, 4 partials, 5 out.

import type { DType, Kernel, ReduceOp, ScalarExpr, View } from "../backend.js";
import { F32, Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";
import type { WasmBackendImpl } from "./index.js";
import { contiguousStrides, isContiguous } from "./elementwise.js";

export const BLOCK = 4096;

type Acc = "float32" | "int32";

interface Combine {
  init: number;
  vec: (f: Fn) => void;
  scalar: (f: Fn, a: number, b: number) => void;
}

function combine(op: ReduceOp, acc: Acc): Combine {
  const fl = acc === "float32";
  const pick = (cmp: number) => (f: Fn, a: number, b: number) => {
    f.get(a).get(b).get(a).get(b).op(cmp).op(O.select);
  };
  switch (op) {
    case "sum":
      return { init: 0, vec: (f) => f.v(fl ? S.f32x4_add : S.i32x4_add), scalar: (f, a, b) => f.get(a).get(b).op(fl ? O.f32_add : O.i32_add) };
    case "prod":
      return { init: 1, vec: (f) => f.v(fl ? S.f32x4_mul : S.i32x4_mul), scalar: (f, a, b) => f.get(a).get(b).op(fl ? O.f32_mul : O.i32_mul) };
    case "max": case "any":
      return {
        init: op === "any" ? 0 : fl ? -Infinity : -2147483648,
        vec: (f) => f.v(fl ? S.f32x4_max : S.i32x4_max_s),
        scalar: fl ? (f, a, b) => f.get(a).get(b).op(O.f32_max) : pick(O.i32_gt_s),
      };
    case "min": case "all":
      return {
        init: op === "all" ? 1 : fl ? Infinity : 2147483647,
        vec: (f) => f.v(fl ? S.f32x4_min : S.i32x4_min_s),
        scalar: fl ? (f, a, b) => f.get(a).get(b).op(O.f32_min) : pick(O.i32_lt_s),
      };
    default:
      throw new Error(`wasm backend: reduce op ${op} has no combine rule`);
  }
}

/** Row reduction module for sum/prod/max/min/any/all over src dtype (bool read as bytes). */
function buildRowReduce(op: ReduceOp, src: DType, out: DType, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const acc: Acc = src === "float32" ? "float32" : "int32";
  const c = combine(op, acc);
  const fl = acc === "float32";
  const size = src === "bool" ? 1 : 4;
  const T = fl ? F32 : I32;
  const f = new Fn([I32, I32, I32, I32]);
  const desc = 0, start = 1, end = 2;
  const mode = f.local(I32), srcP = f.local(I32), Rn = f.local(I32), nb = f.local(I32), part = f.local(I32), outP = f.local(I32);
  const u = f.local(I32), row = f.local(I32), blk = f.local(I32), p = f.local(I32), len = f.local(I32), i = f.local(I32);
  const a = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const s = f.local(T), t = f.local(T), l = [f.local(T), f.local(T), f.local(T), f.local(T)];
  [mode, srcP, Rn, nb, part, outP].forEach((x, w) => f.get(desc).mem(O.i32_load, 2, w * 4).set(x));
  const splatInit = () => (fl ? f.f32x4(c.init) : f.i32x4(c.init));
  const scalarInit = () => (fl ? f.f32(c.init) : f.i32(c.init));
  const loadVec = () => {
    if (src === "bool") f.get(p).vmem(S.load32_zero, 0).v(S.i16x8_extend_low_i8x16_u).v(S.i32x4_extend_low_i16x8_u);
    else f.get(p).vmem(S.load, 0);
  };
  const fold = (x: number, y: number) => {
    c.scalar(f, x, y);
  };
  // float max/min: pmax/pmin (one instruction each; f32x4.max is a NaN-aware sequence in V8)
  // with NaN lanes tracked separately, so NaN still wins.
  const nanTrack = fl && (op === "max" || op === "min");
  const vv = f.local(V128), nan = f.local(V128);
  const accumulateTracked = (j: number) => {
    f.get(a[j]!).get(vv).v(op === "max" ? S.f32x4_pmax : S.f32x4_pmin).set(a[j]!);
    f.get(nan).get(vv).get(vv).v(S.f32x4_ne).v(S.or).set(nan);
  };
  f.get(mode).op(O.i32_eqz).if_();
  f.forRange(u, () => f.get(start), () => f.get(end), 1, () => {
    f.get(u).get(nb).op(O.i32_div_u).set(row);
    f.get(u).get(row).get(nb).op(O.i32_mul).op(O.i32_sub).set(blk);
    // p = src + (row * Rn + blk * BLOCK) * size; len = min(BLOCK, Rn - blk * BLOCK)
    f.get(srcP).get(row).get(Rn).op(O.i32_mul).get(blk).i32(BLOCK).op(O.i32_mul).op(O.i32_add).i32(size).op(O.i32_mul).op(O.i32_add).set(p);
    f.get(Rn).get(blk).i32(BLOCK).op(O.i32_mul).op(O.i32_sub).set(len);
    f.i32(BLOCK).get(len).get(len).i32(BLOCK).op(O.i32_gt_s).op(O.select).set(len);
    for (const x of a) splatInit().set(x);
    if (nanTrack) f.i32x4(0).set(nan);
    f.i32(0).set(i);
    if (src !== "bool") {
      f.block().loop();
      f.get(i).i32(16).op(O.i32_add).get(len).op(O.i32_gt_s).brIf(1);
      for (let j = 0; j < 4; j++) {
        if (nanTrack) {
          f.get(p).vmem(S.load, 0, 16 * j).set(vv);
          accumulateTracked(j);
        } else {
          f.get(a[j]!).get(p).vmem(S.load, 0, 16 * j);
          c.vec(f);
          f.set(a[j]!);
        }
      }
      f.get(p).i32(64).op(O.i32_add).set(p);
      f.get(i).i32(16).op(O.i32_add).set(i);
      f.br(0).end().end();
    }
    f.block().loop();
    f.get(i).i32(4).op(O.i32_add).get(len).op(O.i32_gt_s).brIf(1);
    if (nanTrack) {
      loadVec();
      f.set(vv);
      accumulateTracked(0);
    } else {
      f.get(a[0]!);
      loadVec();
      c.vec(f);
      f.set(a[0]!);
    }
    f.get(p).i32(4 * size).op(O.i32_add).set(p);
    f.get(i).i32(4).op(O.i32_add).set(i);
    f.br(0).end().end();
    f.get(a[0]!).get(a[1]!);
    c.vec(f);
    f.get(a[2]!).get(a[3]!);
    c.vec(f);
    c.vec(f);
    f.set(a[0]!);
    for (let j = 0; j < 4; j++) f.get(a[0]!).lane(fl ? S.f32x4_extract_lane : S.i32x4_extract_lane, j).set(l[j]!);
    fold(l[0]!, l[1]!);
    f.set(s);
    fold(l[2]!, l[3]!);
    f.set(t);
    fold(s, t);
    f.set(s);
    if (nanTrack) f.f32(NaN).get(s).get(nan).v(S.any_true).op(O.select).set(s);
    f.block().loop();
    f.get(i).get(len).op(O.i32_ge_s).brIf(1);
    f.get(p).mem(src === "bool" ? O.i32_load8_u : fl ? O.f32_load : O.i32_load, src === "bool" ? 0 : 2).set(t);
    fold(s, t);
    f.set(s);
    f.get(p).i32(size).op(O.i32_add).set(p);
    f.get(i).i32(1).op(O.i32_add).set(i);
    f.br(0).end().end();
    f.get(part).get(u).i32(4).op(O.i32_mul).op(O.i32_add).get(s).mem(fl ? O.f32_store : O.i32_store, 2);
  });
  f.else_();
  // mode 1: fold partials per row, in order
  f.forRange(row, () => f.get(start), () => f.get(end), 1, () => {
    scalarInit().set(s);
    f.forRange(blk, () => f.i32(0), () => f.get(nb), 1, () => {
      f.get(part).get(row).get(nb).op(O.i32_mul).get(blk).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add);
      f.mem(fl ? O.f32_load : O.i32_load, 2).set(t);
      fold(s, t);
      f.set(s);
    });
    if (out === "bool") f.get(outP).get(row).op(O.i32_add).get(s).i32(0).op(O.i32_ne).mem(O.i32_store8, 0);
    else f.get(outP).get(row).i32(4).op(O.i32_mul).op(O.i32_add).get(s).mem(fl ? O.f32_store : O.i32_store, 2);
  });
  f.end();
  mod.add(f, "run");
  return mod;
}

/** argmax/argmin over rows of a contiguous (O, Rn) float32/int32 matrix -> int32 out. */
function buildArgReduce(op: "argmax" | "argmin", src: Acc, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const fl = src === "float32";
  const T = fl ? F32 : I32;
  const f = new Fn([I32, I32, I32, I32]);
  const desc = 0, start = 1, end = 2;
  const srcP = f.local(I32), Rn = f.local(I32), outP = f.local(I32), row = f.local(I32), i = f.local(I32), p = f.local(I32);
  const best = f.local(T), bi = f.local(I32), v = f.local(T);
  f.get(desc).mem(O.i32_load, 2, 4).set(srcP);
  f.get(desc).mem(O.i32_load, 2, 8).set(Rn);
  f.get(desc).mem(O.i32_load, 2, 20).set(outP);
  const ld = fl ? O.f32_load : O.i32_load;
  f.forRange(row, () => f.get(start), () => f.get(end), 1, () => {
    f.get(srcP).get(row).get(Rn).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(p);
    f.get(p).mem(ld, 2).set(best);
    f.i32(0).set(bi);
    f.forRange(i, () => f.i32(1), () => f.get(Rn), 1, () => {
      f.get(p).get(i).i32(4).op(O.i32_mul).op(O.i32_add).mem(ld, 2).set(v);
      if (fl) {
        // better = v beyond best, or v is the first NaN
        f.get(v).get(best).op(op === "argmax" ? O.f32_gt : O.f32_lt);
        f.get(v).get(v).op(O.f32_ne).get(best).get(best).op(O.f32_eq).op(O.i32_and).op(O.i32_or);
      } else f.get(v).get(best).op(op === "argmax" ? O.i32_gt_s : O.i32_lt_s);
      f.if_().get(v).set(best).get(i).set(bi).end();
    });
    f.get(outP).get(row).i32(4).op(O.i32_mul).op(O.i32_add).get(bi).mem(O.i32_store, 2);
  });
  mod.add(f, "run");
  return mod;
}

/** Sequential inclusive prefix sums over rows of a contiguous (O, L) matrix, in place. */
function buildCumsumRows(acc: Acc, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const fl = acc === "float32";
  const T = fl ? F32 : I32;
  const f = new Fn([I32, I32, I32, I32]);
  const desc = 0, start = 1, end = 2;
  const buf = f.local(I32), L = f.local(I32), row = f.local(I32), i = f.local(I32), p = f.local(I32), s = f.local(T);
  f.get(desc).mem(O.i32_load, 2, 0).set(buf);
  f.get(desc).mem(O.i32_load, 2, 4).set(L);
  f.forRange(row, () => f.get(start), () => f.get(end), 1, () => {
    f.get(buf).get(row).get(L).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(p);
    (fl ? f.f32(0) : f.i32(0)).set(s);
    f.forRange(i, () => f.i32(0), () => f.get(L), 1, () => {
      f.get(p).get(s).get(p).mem(fl ? O.f32_load : O.i32_load, 2).op(fl ? O.f32_add : O.i32_add).tee(s);
      f.mem(fl ? O.f32_store : O.i32_store, 2);
      f.get(p).i32(4).op(O.i32_add).set(p);
    });
  });
  mod.add(f, "run");
  return mod;
}

function permuted(v: View, perm: readonly number[]): View {
  return { ...v, shape: perm.map((d) => v.shape[d]!), strides: perm.map((d) => v.strides[d]!) };
}

function castTo(e: ScalarExpr, dtype: DType): ScalarExpr {
  return e.dtype === dtype ? e : { op: "cast", x: e, dtype };
}

/** Materialises expr over the permuted inputs as a contiguous (permuted-shape) temp, unless the
 *  single permuted input is already contiguous with the wanted dtype. Returns [view, owned]. */
function rows(be: WasmBackendImpl, inputs: readonly View[], expr: ScalarExpr | undefined, perm: number[], dtype: DType): [View, boolean] {
  const p = inputs.map((v) => permuted(v, perm));
  if (!expr && p[0]!.dtype === dtype && isContiguous(p[0]!)) return [p[0]!, false];
  const t = be.temp(dtype, p[0]!.shape);
  try {
    be.elementwise(castTo(expr ?? { op: "input", index: 0, dtype: p[0]!.dtype }, dtype), p, t);
  } catch (e) {
    be.free(t.buffer);
    throw e;
  }
  return [t, true];
}

export function dispatchReduce(be: WasmBackendImpl, k: Extract<Kernel, { kind: "reduce" }>): void {
  const input = k.inputs[0];
  if (!input) throw new Error(`wasm backend: reduce ${k.op} needs at least one input`);
  const n = input.shape.length;
  const axes = [...new Set(k.axes.map((a) => (a < 0 ? a + n : a)))].sort((x, y) => x - y);
  if (axes.some((a) => a < 0 || a >= n)) {
    throw new Error(`wasm backend: reduce ${k.op}: axes [${k.axes}] out of range for shape [${input.shape}]`);
  }
  const kept = [...Array(n).keys()].filter((d) => !axes.includes(d));
  const O_ = kept.reduce((a, d) => a * input.shape[d]!, 1);
  const Rn = axes.reduce((a, d) => a * input.shape[d]!, 1);
  if (O_ === 0) return;
  const exprDtype = (k.prologue ?? input).dtype;
  const arg = k.op === "argmax" || k.op === "argmin";
  const logical = k.op === "any" || k.op === "all";
  const src: DType = logical ? "bool" : arg ? (exprDtype === "float32" ? "float32" : "int32") : k.out.dtype === "bool" ? "int32" : k.out.dtype;
  if (Rn === 0) {
    if (arg || k.op === "max" || k.op === "min") {
      throw new Error(`wasm backend: reduce ${k.op} over an empty axis of shape [${input.shape}] has no identity`);
    }
    const v = k.op === "prod" || k.op === "all" ? 1 : 0;
    be.elementwise({ op: "const", value: v, dtype: k.out.dtype }, [], k.out);
    return;
  }
  const outView = k.out;
  const outTmp = isContiguous(outView) ? undefined : be.temp(outView.dtype, outView.shape);
  const dst = outTmp ?? outView;
  const [m, owned] = rows(be, k.inputs, k.prologue, [...kept, ...axes], src);
  try {
    const rt = be.rt;
    if (arg) {
      const kern = rt.kernel(`arg|${k.op}|${src}`, () => buildArgReduce(k.op as "argmax" | "argmin", src as Acc, rt.pages));
      const desc = rt.descriptor([0, be.base(m), Rn, 0, 0, be.base(dst)]);
      rt.run(kern, desc, O_, { minPerThread: Math.ceil((1 << 15) / Rn) });
    } else {
      const kern = rt.kernel(`red|${k.op}|${src}|${dst.dtype}`, () => buildRowReduce(k.op, src, dst.dtype, rt.pages));
      const nb = Math.ceil(Rn / BLOCK);
      const part = be.rt.heap.alloc(O_ * nb * 4);
      try {
        rt.run(kern, rt.descriptor([0, be.base(m), Rn, nb, part, be.base(dst)]), O_ * nb, {
          minPerThread: Math.ceil((1 << 15) / Math.min(Rn, BLOCK)),
        });
        rt.run(kern, rt.descriptor([1, be.base(m), Rn, nb, part, be.base(dst)]), O_, { threads: 1 });
      } finally {
        be.rt.heap.free(part);
      }
    }
    if (outTmp) be.elementwise({ op: "input", index: 0, dtype: outTmp.dtype }, [outTmp], outView);
  } finally {
    if (owned) be.free(m.buffer);
    if (outTmp) be.free(outTmp.buffer);
  }
}

export function dispatchCumsum(be: WasmBackendImpl, k: Extract<Kernel, { kind: "cumsum" }>): void {
  const n = k.input.shape.length;
  const axis = k.axis < 0 ? k.axis + n : k.axis;
  if (axis < 0 || axis >= n) throw new Error(`wasm backend: cumsum axis ${k.axis} out of range for shape [${k.input.shape}]`);
  const total = k.input.shape.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const acc: Acc = k.out.dtype === "float32" ? "float32" : "int32";
  const perm = [...[...Array(n).keys()].filter((d) => d !== axis), axis];
  const L = k.input.shape[axis]!;
  const t = be.temp(acc, perm.map((d) => k.input.shape[d]!));
  try {
    be.elementwise(castTo({ op: "input", index: 0, dtype: k.input.dtype }, acc), [permuted(k.input, perm)], t);
    const rt = be.rt;
    const kern = rt.kernel(`cumsum|${acc}`, () => buildCumsumRows(acc, rt.pages));
    rt.run(kern, rt.descriptor([be.base(t), L]), total / L, { minPerThread: Math.ceil((1 << 15) / L) });
    // view the temp in the original axis order and copy into out
    const ts = contiguousStrides(t.shape);
    const strides = new Array<number>(n);
    perm.forEach((d, i) => (strides[d] = ts[i]!));
    const back: View = { ...t, shape: k.input.shape, strides };
    be.elementwise(castTo({ op: "input", index: 0, dtype: acc }, k.out.dtype), [back], k.out);
  } finally {
    be.free(t.buffer);
  }
}
