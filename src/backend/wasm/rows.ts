// Row kernels: graph mode's fused normalisations (softmax, logSoftmax, layerNorm, ...).
//
// The "rows" kernel (backend.ts) runs, for each row along the last axis (length L), its
// reduction stages in order and then its final expression. One thread runs a whole row, so
// any split of rows between threads gives the same bits. A softmax row of 1000 floats stays
// in L1 across the three passes (max, exp and sum, scale), where separate kernels would
// stream the whole tensor through memory five times.
//
// Layout: the leading dims collapse as in elementwise.ts into R outer dims (the row index
// becomes operand offsets by R div/mod steps per row); along the row each operand is "c"
// (contiguous), "z" (stride 0: a per-row value, loaded once per row) or "s" (strided).
// Per row:
//   load the "z" operands; then per stage: hoist the expression's row-invariant subtrees
//   (what depends only on earlier row values), a loop of 16 elements over four vector
//   accumulators (two, alternating, when the expression calls exp, log...), steps of 4
//   into the first, a scalar tail; the row value folds them as ((a0 op a1) op (a2 op a3)),
//   then lanes (l0 op l1) op (l2 op l3), then op tail: a fixed order for a given expression
//   and L. max and min accumulate with pmax/pmin (one instruction; f32x4.max is about eight
//   on x64) and track NaNs on the side; since pmax can keep a -0 over a +0, a row whose
//   result is zero is redone with the exact ops;
//   the final pass: 4 elements per step, then the tail, written to out; or, for a per-row
//   result, the final expression once, into the row's one output element.
//
// Descriptor words: [0] L; per operand k (out first, then inputs): base byte address,
// inner stride (elements), R outer strides; the R outer sizes; then the parameter constants
// of each expression (stages in order, then final; see constWords in expr.ts).

import type { DType, Kernel, RowStage, ScalarExpr } from "../backend.js";
import { children, integerDivisions, itemSize } from "../backend.js";
import { F32, Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";
import { constWords, ExprGen, exprKey } from "./expr.js";
import { collapseLayout, emitRowOffsets, laneClass, loadOne, loadVec, type CollapsedLayout, type LaneClass } from "./elementwise.js";
import type { WasmBackendImpl } from "./index.js";
import type { CompiledKernel } from "./runtime.js";

export interface RowsSpec {
  stages: readonly RowStage[];
  stash: boolean;
  /** One output value per row (out is [..., 1]); see backend.ts. */
  perRow: boolean;
  final: ScalarExpr;
  /** Operand dtypes, out (float32) first. */
  dtypes: DType[];
  /** Class of each operand along the row; out's is "c". */
  classes: LaneClass[];
  /** Collapsed leading dims (at least 1). */
  outerRank: number;
  fma: boolean;
}

export function rowsKey(s: RowsSpec): string {
  const stages = s.stages.map((st) => `${st.op}:${exprKey(st.expr)}`).join(";");
  return `rows|${stages}|${s.stash}|${s.perRow}|${exprKey(s.final)}|${s.dtypes.join(",")}|${s.classes.join("")}|${s.outerRank}|${s.fma}`;
}

const VEC_OP = { sum: S.f32x4_add, prod: S.f32x4_mul, max: S.f32x4_max, min: S.f32x4_min } as const;
const SCALAR_OP = { sum: O.f32_add, prod: O.f32_mul, max: O.f32_max, min: O.f32_min } as const;
const IDENTITY = { sum: 0, prod: 1, max: -Infinity, min: Infinity } as const;
/** Independent vector accumulators of a stage over a cheap expression: one chain would
 *  bound a pass by the accumulate's latency; four keep it memory- or compute-bound. */
const ACCUMULATORS = 4;

const MATH_OPS = new Set(["exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "sigmoid", "erf", "pow", "atan2"]);

/** Whether an expression calls a vectorised math function (tens of instructions a vector). */
function heavy(e: ScalarExpr, seen = new Set<ScalarExpr>()): boolean {
  if (seen.has(e)) return false;
  seen.add(e);
  return MATH_OPS.has(e.op) || children(e).some((c) => heavy(c, seen));
}

/** Indices of the inputs an expression reads. */
function inputsOf(e: ScalarExpr, out = new Set<number>(), seen = new Set<ScalarExpr>()): Set<number> {
  if (seen.has(e)) return out;
  seen.add(e);
  if (e.op === "input") out.add(e.index);
  for (const c of children(e)) inputsOf(c, out, seen);
  return out;
}

/** Builds the module for one spec; exports `run(desc, rowStart, rowEnd, tid)`. */
export function buildRows(spec: RowsSpec, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const R = spec.outerRank;
  const nOps = spec.dtypes.length;
  const nIn = nOps - 1;
  const K = spec.stages.length;
  const f = new Fn([I32, I32, I32, I32]);
  f.hoistConstants = true;
  const desc = 0, start = 1, end = 2;
  const L = f.local(I32), row = f.local(I32), rem = f.local(I32), idx = f.local(I32), j = f.local(I32);
  const p = spec.dtypes.map(() => f.local(I32)); // row start per operand
  const q = spec.dtypes.map(() => f.local(I32)); // moving pointer per operand
  const sb = spec.dtypes.map(() => f.local(I32)); // bytes per element step
  const val = spec.dtypes.map(() => f.local(V128));
  const rv = spec.stages.map(() => f.local(V128));
  const stashVal = f.local(V128);
  const acc = Array.from({ length: ACCUMULATORS }, () => f.local(V128));
  const tail = f.local(F32), v = f.local(V128), nan = f.local(V128), r = f.local(F32);
  const opBase = (k: number) => 1 + k * (2 + R);
  const shapeBase = 1 + nOps * (2 + R);
  const size = (k: number) => itemSize[spec.dtypes[k]!];
  const inputLocal = (i: number) => (i < nIn ? val[i + 1]! : i < nIn + K ? rv[i - nIn]! : stashVal);
  const inputDtype = (i: number): DType => (i < nIn ? spec.dtypes[i + 1]! : "float32");
  const invariant = (i: number) => (i < nIn ? spec.classes[i + 1] === "z" : i < nIn + K);
  const exprs = [...spec.stages.map((s) => s.expr), spec.final];
  const gens = exprs.map((e) => new ExprGen(mod, f, inputLocal, inputDtype, e, spec.fma));
  let paramOffset = (shapeBase + R) * 4;
  for (const [i, g] of gens.entries()) {
    g.loadParams(desc, paramOffset);
    paramOffset += constWords(exprs[i]!).length * 4;
  }
  const streamed = [...spec.classes.keys()].filter((k) => k > 0 && spec.classes[k] !== "z");
  const usedBy = new Map(exprs.map((e) => [e, inputsOf(e)]));

  /** Loads the streamed inputs an expression reads, at q: 4 elements (vec) or one,
   *  splatted. (A wasm load may trap, so the engine keeps loads whose value is unused.) */
  const loadInputs = (vec: boolean, e: ScalarExpr) => {
    const used = usedBy.get(e)!;
    for (const k of streamed) {
      if (!used.has(k - 1)) continue;
      if (vec) {
        if (spec.classes[k] === "c" && spec.dtypes[k] === "bool") f.get(q[k]!);
        loadVec(f, spec.dtypes[k]!, spec.classes[k]!, q[k]!, sb[k]!);
      } else loadOne(f, spec.dtypes[k]!, q[k]!);
      f.set(val[k]!);
    }
  };
  /** Advances out's pointer and those of the streamed inputs an expression reads by n. */
  const advance = (n: number, e: ScalarExpr) => {
    const used = usedBy.get(e)!;
    for (const k of [0, ...streamed.filter((k) => used.has(k - 1))]) {
      f.get(q[k]!).get(sb[k]!).i32(n).op(O.i32_mul).op(O.i32_add).set(q[k]!);
    }
  };
  const resetPointers = () => {
    for (let k = 0; k < nOps; k++) f.get(p[k]!).set(q[k]!);
    f.i32(0).set(j);
  };
  /** while (j + n <= L) { body(); j += n } */
  const loopBy = (n: number, body: () => void, once = false) => {
    f.block().loop();
    f.get(j).i32(n).op(O.i32_add).get(L).op(O.i32_gt_s).brIf(1);
    body();
    f.get(j).i32(n).op(O.i32_add).set(j);
    if (!once) f.br(0);
    f.end().end();
  };

  f.get(desc).mem(O.i32_load, 2, 0).set(L);
  for (let k = 0; k < nOps; k++) f.get(desc).mem(O.i32_load, 2, (opBase(k) + 1) * 4).i32(size(k)).op(O.i32_mul).set(sb[k]!);
  f.get(start).set(row);
  f.block().loop();
  f.get(row).get(end).op(O.i32_ge_s).brIf(1);
  // p[k] = base[k] + sum_d idx_d * outerStride[k][d] * size
  emitRowOffsets(f, { desc, row, rem, idx }, p, R, shapeBase, opBase);
  for (let k = 0; k < nOps; k++) {
    f.get(desc).mem(O.i32_load, 2, opBase(k) * 4).get(p[k]!).i32(size(k)).op(O.i32_mul).op(O.i32_add).set(p[k]!);
    if (k > 0 && spec.classes[k] === "z") {
      loadOne(f, spec.dtypes[k]!, p[k]!);
      f.set(val[k]!);
    }
  }

  spec.stages.forEach((stage, s) => {
    const g = gens[s]!;
    const stash = spec.stash && s === K - 1;
    const ordered = stage.op === "max" || stage.op === "min";
    // chains that hide the accumulate's latency; an expensive expression hides it anyway,
    // and fewer live accumulators leave registers to its constants
    const chains = acc.slice(0, heavy(stage.expr) ? 2 : ACCUMULATORS);
    g.hoist(invariant);
    /** One pass over the row into r. `fast`: max/min by pmax/pmin (one instruction, where
     *  f32x4.max is ~8 on x64) with NaNs tracked on the side; a -0 where a +0 was also seen
     *  can then survive, so a zero result is redone exactly. */
    const pass = (fast: boolean) => {
      resetPointers();
      for (const a of chains) f.f32x4(IDENTITY[stage.op]).set(a);
      f.f32(IDENTITY[stage.op]).set(tail);
      if (fast) f.i32x4(0).set(nan);
      const step = (a: number) => {
        loadInputs(true, stage.expr);
        g.emit(stage.expr);
        f.set(v);
        if (stash) f.get(q[0]!).get(v).vmem(S.store, 0);
        if (fast) {
          f.get(a).get(v).v(stage.op === "max" ? S.f32x4_pmax : S.f32x4_pmin).set(a);
          f.get(nan).get(v).get(v).v(S.f32x4_ne).v(S.or).set(nan);
        } else f.get(a).get(v).v(VEC_OP[stage.op]).set(a);
        advance(4, stage.expr);
      };
      loopBy(16, () => [0, 1, 2, 3].forEach((i) => step(chains[i % chains.length]!)));
      loopBy(4, () => step(acc[0]!));
      loopBy(1, () => {
        loadInputs(false, stage.expr);
        g.emit(stage.expr);
        f.set(v);
        if (stash) f.get(q[0]!).get(v).vlane(S.store32_lane, 2, 0, 0);
        f.get(tail).get(v).lane(S.f32x4_extract_lane, 0).op(SCALAR_OP[stage.op]).set(tail);
        advance(1, stage.expr);
      });
      // fold: a = (acc0 op acc1) [op (acc2 op acc3)]; r = ((a0 op a1) op (a2 op a3)) op tail
      f.get(chains[0]!).get(chains[1]!).v(VEC_OP[stage.op]);
      if (chains.length === 4) f.get(chains[2]!).get(chains[3]!).v(VEC_OP[stage.op]).v(VEC_OP[stage.op]);
      f.set(v);
      f.get(v).lane(S.f32x4_extract_lane, 0).get(v).lane(S.f32x4_extract_lane, 1).op(SCALAR_OP[stage.op]);
      f.get(v).lane(S.f32x4_extract_lane, 2).get(v).lane(S.f32x4_extract_lane, 3).op(SCALAR_OP[stage.op]);
      f.op(SCALAR_OP[stage.op]).get(tail).op(SCALAR_OP[stage.op]).set(r);
      if (fast) f.f32(NaN).get(r).get(nan).v(S.any_true).op(O.select).set(r);
    };
    pass(ordered);
    if (ordered) {
      f.get(r).f32(0).op(O.f32_eq).if_();
      pass(false);
      f.end();
    }
    f.get(r).v(S.f32x4_splat).set(rv[s]!);
  });

  const gf = gens[K]!;
  /** The final pass: 4 elements a step, then the tail, written to out. */
  const emitFinalPass = () => {
    gf.hoist(invariant);
    resetPointers();
    loopBy(4, () => {
      loadInputs(true, spec.final);
      if (spec.stash) f.get(q[0]!).vmem(S.load, 0).set(stashVal);
      f.get(q[0]!);
      gf.emit(spec.final);
      f.vmem(S.store, 0);
      advance(4, spec.final);
    });
    loopBy(1, () => {
      loadInputs(false, spec.final);
      if (spec.stash) f.get(q[0]!).vmem(S.load32_splat, 2).set(stashVal);
      f.get(q[0]!);
      gf.emit(spec.final);
      f.vlane(S.store32_lane, 2, 0, 0);
      advance(1, spec.final);
    });
  };
  if (spec.perRow) {
    // the final value reads only row values and per-row inputs: once, into out's element
    f.get(p[0]!);
    gf.emit(spec.final);
    f.lane(S.f32x4_extract_lane, 0).mem(O.f32_store, 2);
  } else emitFinalPass();
  f.get(row).i32(1).op(O.i32_add).set(row);
  f.br(0).end().end();
  mod.add(f, "run");
  return mod;
}

/** Per backend and stages array: its final expression and stash (checked on use), the
 *  constant words of its expressions, and its kernels by layout. */
/** Per backend and stages array: the final expression and stash flag it was built for, the
 *  constant words, kernels by layout, and whether an expression divides integers. */
const rowsInfo = new WeakMap<WasmBackendImpl, WeakMap<readonly RowStage[], { final: ScalarExpr; stash: boolean; consts: number[]; kernels: Map<string, CompiledKernel>; faults: boolean }>>();

/** Descriptor words: L, per operand base/inner/outer strides, outer sizes, constants. */
export function rowsDescriptor(L: number, outer: CollapsedLayout, inner: number[], bases: number[], consts: readonly number[]): number[] {
  const R = outer.shape.length;
  const words: number[] = [L];
  bases.forEach((b, k) => {
    words.push(b, inner[k]!);
    for (let d = 0; d < R; d++) words.push(outer.strides[k]![d]!);
  });
  for (let d = 0; d < R; d++) words.push(outer.shape[d]!);
  for (const c of consts) words.push(c);
  return words;
}

/** Runs a "rows" kernel; rows split between threads (whole rows per thread). */
export function dispatchRows(be: WasmBackendImpl, k: Extract<Kernel, { kind: "rows" }>): void {
  const perRow = k.perRow ?? false;
  // the rows' shape: out's, or with perRow the inputs' (out is then [..., 1])
  const shape = perRow ? k.inputs[0]?.shape ?? [] : k.out.shape;
  const views = [k.out, ...k.inputs];
  for (const [i, v] of k.inputs.entries()) {
    if (v.shape.length !== shape.length || v.shape.some((d, j) => d !== shape[j])) {
      throw new Error(`wasm backend: rows input ${i} has shape [${v.shape}] but the rows have [${shape}]: broadcast inputs first`);
    }
  }
  if (perRow && (k.out.shape.length !== shape.length || k.out.shape.some((d, j) => d !== (j === shape.length - 1 ? 1 : shape[j])))) {
    throw new Error(`wasm backend: a per-row rows kernel over [${shape}] writes [${shape.slice(0, -1)},1], got out [${k.out.shape}]`);
  }
  if (k.out.dtype !== "float32") throw new Error(`wasm backend: rows writes float32, got out ${k.out.dtype}`);
  const rank = shape.length;
  const L = rank === 0 ? 1 : shape[rank - 1]!;
  const nRows = rank === 0 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (L === 0 || nRows === 0) return;
  const inner = views.map((v, i) => (rank === 0 || (perRow && i === 0) ? 1 : v.strides[rank - 1]!));
  if (inner[0] !== 1) {
    // out must be contiguous along the row: compute into a temp, then copy
    const t = be.temp("float32", shape);
    try {
      dispatchRows(be, { ...k, out: t });
      be.elementwise({ op: "input", index: 0, dtype: "float32" }, [t], k.out);
    } finally {
      be.free(t.buffer);
    }
    return;
  }
  const outer = collapseLayout(shape.slice(0, -1), views.map((v) => v.strides.slice(0, -1)));
  const classes = inner.map(laneClass);
  classes[0] = "c";
  // Compiled programs dispatch the same stages array every call: the kernel and the
  // constant words are looked up from it, not rebuilt from the expressions' text.
  let byStages = rowsInfo.get(be);
  if (!byStages) rowsInfo.set(be, (byStages = new WeakMap()));
  let info = byStages.get(k.stages);
  if (!info || info.final !== k.final || info.stash !== k.stash) {
    const exprs = [...k.stages.map((st) => st.expr), k.final];
    info = { final: k.final, stash: k.stash, consts: exprs.flatMap((e) => constWords(e)), kernels: new Map(), faults: exprs.some((e) => integerDivisions(e).length > 0) };
    byStages.set(k.stages, info);
  }
  const layout = `${views.map((v) => v.dtype).join(",")}|${classes.join("")}|${outer.shape.length}|${perRow}`;
  let kern = info.kernels.get(layout);
  if (!kern) {
    const spec: RowsSpec = {
      stages: k.stages, stash: k.stash, perRow, final: k.final,
      dtypes: views.map((v) => v.dtype), classes, outerRank: outer.shape.length, fma: be.rt.relaxed,
    };
    kern = be.rt.kernel(rowsKey(spec), () => buildRows(spec, be.rt.pages));
    info.kernels.set(layout, kern);
  }
  const desc = be.rt.descriptor(rowsDescriptor(L, outer, inner, views.map((v) => be.base(v)), info.consts));
  be.rt.run(kern, desc, nRows, { minPerThread: Math.ceil(ROWS_MIN_ELEMENTS_PER_THREAD / L), chunksPerThread: 4 });
  if (info.faults) be.raiseFaults();
}

/** Below this many elements per thread, one thread runs all rows (a dispatch costs ~µs). */
const ROWS_MIN_ELEMENTS_PER_THREAD = 1 << 14;
