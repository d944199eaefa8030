// Elementwise kernels: out[i] = expr(in0[i], in1[i], ...) over strided operands.
//
// Layout handling happens in TypeScript: `collapseLayout` drops size-1 dims and merges
// dims that are contiguous for every operand, so most calls become 1-D (R = 0 outer dims)
// or 2-D. The generated kernel `run(desc, start, end, tid)` processes flat output elements
// [start, end): it walks rows of the collapsed inner dim (length L), computing each row's
// operand addresses from the outer index (R div/mod steps per row, amortised over L).
// Within a row each operand is one of three classes fixed at compile time:
//   "c" contiguous (inner stride 1): v128 loads/stores
//   "z" broadcast (inner stride 0):  loaded once per row and splatted
//   "s" strided: four lane loads/stores
// then a tail of < 4 elements runs the same vector code on lane 0.
//
// Descriptor (i32 words at desc):
//   [0]                      L
//   per operand k (k = 0 is out, then inputs): base byte address, inner stride (elements),
//                            R outer strides (elements)          -> (2 + R) words each
//   then the R outer sizes, then the expression's run-time constants (one word each).

import type { DType, ScalarExpr, View } from "../backend.js";
import { itemSize } from "../backend.js";
import { Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";
import { constWords, ExprGen, exprKey } from "./expr.js";

export type LaneClass = "c" | "z" | "s";

export interface CollapsedLayout {
  /** Collapsed shape, at least one dim. */
  shape: number[];
  /** strides[k][d] for operand k (0 = out). */
  strides: number[][];
}

/** Merges dims that are contiguous for every operand and drops size-1 dims. */
export function collapseLayout(shape: readonly number[], strides: (readonly number[])[]): CollapsedLayout {
  const dims: number[] = [];
  for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) dims.push(d);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const d of dims) {
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * shape[d]!)) {
      outShape[last]! *= shape[d]!;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(shape[d]!);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(1));
  }
  return { shape: outShape, strides: outStrides };
}

export function laneClass(innerStride: number): LaneClass {
  return innerStride === 1 ? "c" : innerStride === 0 ? "z" : "s";
}

export interface ElementwiseSpec {
  expr: ScalarExpr;
  /** dtypes of operands, out first. */
  dtypes: DType[];
  classes: LaneClass[];
  outerRank: number;
  /** Use relaxed-SIMD fused multiply-add in polynomial evaluation. */
  fma: boolean;
}

export function elementwiseKey(s: ElementwiseSpec, exprText: string = exprKey(s.expr)): string {
  return `ew|${exprText}|${layoutKey(s)}|${s.fma}`;
}

/** The part of a kernel's key that is not the expression: operand dtypes, lane classes, rank. */
export function layoutKey(s: Pick<ElementwiseSpec, "dtypes" | "classes" | "outerRank">): string {
  return `${s.dtypes.join(",")}|${s.classes.join("")}|${s.outerRank}`;
}

/** Emits off[k] = sum_d idx_d * outerStride[k][d] for row index `row` over R outer dims,
 *  with the descriptor's outer sizes at word shapeBase and operand k's outer strides at
 *  words opBase(k) + 2 (its base address and inner stride come first). */
export function emitRowOffsets(
  f: Fn, l: { desc: number; row: number; rem: number; idx: number }, off: number[], R: number,
  shapeBase: number, opBase: (k: number) => number,
): void {
  for (const o of off) f.i32(0).set(o);
  if (R === 0) return;
  f.get(l.row).set(l.rem);
  for (let d = R - 1; d >= 0; d--) {
    f.get(l.rem).get(l.desc).mem(O.i32_load, 2, (shapeBase + d) * 4).op(O.i32_rem_u).set(l.idx);
    f.get(l.rem).get(l.desc).mem(O.i32_load, 2, (shapeBase + d) * 4).op(O.i32_div_u).set(l.rem);
    off.forEach((o, k) => {
      f.get(o).get(l.idx).get(l.desc).mem(O.i32_load, 2, (opBase(k) + 2 + d) * 4).op(O.i32_mul).op(O.i32_add).set(o);
    });
  }
}

/** Pushes a vector load of operand at pointer local p (class c or s). */
export function loadVec(f: Fn, dtype: DType, cls: LaneClass, p: number, sb: number): void {
  const bool = dtype === "bool";
  if (cls === "c") {
    if (bool) f.vmem(S.load32_zero, 0).v(S.i16x8_extend_low_i8x16_u).v(S.i32x4_extend_low_i16x8_u);
    else f.get(p).vmem(S.load, 0);
    return;
  }
  // strided: lane 0 by splat, then lanes 1..3 at p + l*sb
  if (bool) f.get(p).mem(O.i32_load8_u, 0).v(S.i32x4_splat);
  else f.get(p).vmem(S.load32_splat, 2);
  for (let l = 1; l < 4; l++) {
    if (bool) {
      f.get(p).get(sb).i32(l).op(O.i32_mul).op(O.i32_add).mem(O.i32_load8_u, 0);
      f.lane(S.i32x4_replace_lane, l);
    } else {
      // stack: vec; need (addr, vec) order for load_lane: addr first
      const tmp = f.local(V128);
      f.set(tmp);
      f.get(p).get(sb).i32(l).op(O.i32_mul).op(O.i32_add).get(tmp).vlane(S.load32_lane, 2, 0, l);
    }
  }
}

/** Pushes a one-element load (lane 0, splatted) of operand at pointer local p. */
export function loadOne(f: Fn, dtype: DType, p: number): void {
  if (dtype === "bool") f.get(p).mem(O.i32_load8_u, 0).v(S.i32x4_splat);
  else f.get(p).vmem(S.load32_splat, 2);
}

/** Builds the elementwise kernel module for one spec; exports `run(desc, start, end, tid)`. */
export function buildElementwise(spec: ElementwiseSpec, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const R = spec.outerRank;
  const nOps = spec.dtypes.length;
  const f = new Fn([I32, I32, I32, I32]);
  f.hoistConstants = true;
  const desc = 0, start = 1, end = 2;
  const L = f.local(I32), pos = f.local(I32), row = f.local(I32), col = f.local(I32), cnt = f.local(I32);
  const rem = f.local(I32), idx = f.local(I32), i = f.local(I32);
  const p = spec.dtypes.map(() => f.local(I32));
  const off = spec.dtypes.map(() => f.local(I32));
  const sb = spec.dtypes.map(() => f.local(I32));
  const val = spec.dtypes.map(() => f.local(V128));
  const word = (w: number) => f.get(desc).mem(O.i32_load, 2, w * 4);
  const opBase = (k: number) => 1 + k * (2 + R);
  const shapeBase = 1 + nOps * (2 + R);
  const size = (k: number) => itemSize[spec.dtypes[k]!];
  const outDtype = spec.dtypes[0]!;
  const gen = new ExprGen(mod, f, (ix) => val[ix + 1]!, (ix) => spec.dtypes[ix + 1]!, spec.expr, spec.fma);

  const store = (one: boolean) => {
    const v = f.local(V128);
    f.set(v);
    const cls = spec.classes[0]!;
    if (one) {
      if (outDtype === "bool") f.get(p[0]!).get(v).lane(S.i32x4_extract_lane, 0).mem(O.i32_store8, 0);
      else f.get(p[0]!).get(v).vlane(S.store32_lane, 2, 0, 0);
      return;
    }
    if (outDtype === "bool") {
      f.get(v).get(v).v(S.i16x8_narrow_i32x4_u).set(v);
      f.get(v).get(v).v(S.i8x16_narrow_i16x8_u).set(v);
    }
    if (cls === "c") {
      if (outDtype === "bool") f.get(p[0]!).get(v).vlane(S.store32_lane, 0, 0, 0);
      else f.get(p[0]!).get(v).vmem(S.store, 0);
      return;
    }
    for (let l = 0; l < 4; l++) {
      f.get(p[0]!).get(sb[0]!).i32(l).op(O.i32_mul).op(O.i32_add).get(v);
      if (outDtype === "bool") f.vlane(S.store8_lane, 0, 0, l);
      else f.vlane(S.store32_lane, 2, 0, l);
    }
  };

  word(0).set(L);
  gen.loadParams(desc, (shapeBase + R) * 4);
  f.get(start).set(pos);
  f.block().loop();
  f.get(pos).get(end).op(O.i32_ge_s).brIf(1);
  f.get(pos).get(L).op(O.i32_div_u).set(row);
  f.get(pos).get(row).get(L).op(O.i32_mul).op(O.i32_sub).set(col);
  // cnt = min(L - col, end - pos)
  f.get(L).get(col).op(O.i32_sub).get(end).get(pos).op(O.i32_sub);
  f.get(L).get(col).op(O.i32_sub).get(end).get(pos).op(O.i32_sub).op(O.i32_lt_s).op(O.select).set(cnt);
  emitRowOffsets(f, { desc, row, rem, idx }, off, R, shapeBase, opBase);
  for (let k = 0; k < nOps; k++) {
    // p = base + (off + col * inner) * size
    word(opBase(k));
    f.get(off[k]!).get(col);
    word(opBase(k) + 1);
    f.op(O.i32_mul).op(O.i32_add).i32(size(k)).op(O.i32_mul).op(O.i32_add).set(p[k]!);
    word(opBase(k) + 1);
    f.i32(size(k)).op(O.i32_mul).set(sb[k]!);
    if (k > 0 && spec.classes[k] === "z") {
      loadOne(f, spec.dtypes[k]!, p[k]!);
      f.set(val[k]!);
    }
  }
  // vector loop
  f.i32(0).set(i);
  f.block().loop();
  f.get(i).i32(4).op(O.i32_add).get(cnt).op(O.i32_gt_s).brIf(1);
  for (let k = 1; k < nOps; k++) {
    if (spec.classes[k] === "z") continue;
    if (spec.classes[k] === "c" && spec.dtypes[k] === "bool") f.get(p[k]!);
    loadVec(f, spec.dtypes[k]!, spec.classes[k]!, p[k]!, sb[k]!);
    f.set(val[k]!);
  }
  gen.emit(spec.expr);
  store(false);
  for (let k = 0; k < nOps; k++) {
    if (spec.classes[k] === "z") continue;
    f.get(p[k]!).get(sb[k]!).i32(4).op(O.i32_mul).op(O.i32_add).set(p[k]!);
  }
  f.get(i).i32(4).op(O.i32_add).set(i);
  f.br(0).end().end();
  // tail
  f.block().loop();
  f.get(i).get(cnt).op(O.i32_ge_s).brIf(1);
  for (let k = 1; k < nOps; k++) {
    if (spec.classes[k] === "z") continue;
    loadOne(f, spec.dtypes[k]!, p[k]!);
    f.set(val[k]!);
  }
  gen.emit(spec.expr);
  store(true);
  for (let k = 0; k < nOps; k++) {
    if (spec.classes[k] === "z") continue;
    f.get(p[k]!).get(sb[k]!).op(O.i32_add).set(p[k]!);
  }
  f.get(i).i32(1).op(O.i32_add).set(i);
  f.br(0).end().end();
  f.get(pos).get(cnt).op(O.i32_add).set(pos);
  f.br(0).end().end();
  mod.add(f, "run");
  return mod;
}

/** The descriptor words for a collapsed layout, followed by the expression's parameter
 *  consts (see constWords in expr.ts). */
export function elementwiseDescriptor(layout: CollapsedLayout, bases: number[], expr: ScalarExpr, consts: readonly number[] = constWords(expr)): number[] {
  const R = layout.shape.length - 1;
  const words: number[] = [layout.shape[R]!];
  layout.strides.forEach((s, k) => {
    words.push(bases[k]!, s[R]!);
    for (let d = 0; d < R; d++) words.push(s[d]!);
  });
  for (let d = 0; d < R; d++) words.push(layout.shape[d]!);
  for (const w of consts) words.push(w);
  return words;
}

/** Operand byte base addresses for views whose buffers start at the given addresses. */
export function viewBase(addr: number, v: View): number {
  return addr + v.offset * itemSize[v.dtype];
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

export function isContiguous(v: View): boolean {
  let acc = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== acc) return false;
    acc *= v.shape[d]!;
  }
  return true;
}
