// Compiling a graph into a program of backend kernels, and running it.
//
// Stages, in order:
//   1. optimize   simplify, fold constants, merge common subexpressions, drop dead code,
//                 until nothing changes;
//   2. fuse       plan fusion groups (passes/fuse.ts): each group becomes one kernel whose
//                 body is the composition of its members' scalar expressions;
//   3. record     walk the graph once with a recording backend: every kernel the rules'
//                 impls (or the fused groups) dispatch is appended to the program, over
//                 symbolic buffers; view ops (reshape, permute, expand, slice) record
//                 nothing and alias their input's buffer;
//   4. plan       give temporary buffers slots of one arena (memory.ts);
//   5. bind       allocate the arena and constants once, rewrite every kernel onto
//                 physical buffers.
// Running a compiled graph reads each contiguous input tensor where it lies (the kernels
// that read its staging placeholder are rebound to the tensor's buffer for that call; other
// inputs are copied into a buffer drawn for the call), dispatches the bound kernels in order
// (an output that exactly covers a temporary is written by its kernel into a fresh buffer
// the returned tensor owns; other outputs are copied into fresh tensors), then writes the
// update values into the variables. Between calls a program holds only its arena and
// constants; per call it allocates its outputs and the copies of strided inputs.
// A kernel may raise (ZeroDivisionError: an int32 division by zero); the call then returns
// nothing and frees its outputs, its arena holds partial values the next call overwrites,
// and no variable has changed: a program with such a kernel writes no update in place.

import type { Backend, Buffer, DType, Kernel, ScalarExpr, View } from "../backend/backend.js";
import { integerDivisions, itemSize } from "../backend/backend.js";
import { allocate, releaseWhenCollected, type Storage } from "../core/runtime.js";
import { bind, withGrad } from "../core/trace.js";
import type { Prim } from "../ops/prims.js";
import { rules, type KernelCtx, type Rule } from "../ops/rules.js";
import { contiguousStrides, fmtShape, sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { bytesOfAval, type Graph, type Node, type OpNode } from "./ir.js";
import { planInPlaceUpdates } from "./inplace.js";
import { planMemory, type PlannedBuffer, type PlannedStep } from "./memory.js";
import { scheduleNodes } from "./schedule.js";
import { eliminateCommonSubexpressions } from "./passes/cse.js";
import { eliminateDeadCode } from "./passes/dce.js";
import { foldConstants } from "./passes/fold.js";
import { planFusion, type FusionGroup } from "./passes/fuse.js";
import { simplify } from "./passes/simplify.js";
import { containsExpr, mapInputs, replaceExpr } from "./scalar.js";
import type { RandomUse } from "./trace.js";
import type { Variable } from "./variable.js";

// ---------------------------------------------------------------------------------------
// 1. Optimization

/** Evaluates an op on constant inputs eagerly (constant folding). */
function evaluateEagerly(op: OpNode, inputs: { data: Float32Array | Int32Array | Uint8Array; aval: { shape: readonly number[]; dtype: DType } }[]) {
  return withGrad(false, () => {
    const xs = inputs.map((c) => Tensor._fromArray(c.data, [...c.aval.shape], c.aval.dtype));
    const out = bind(op.prim, xs, op.params);
    const data = out.dataSync();
    out.dispose();
    for (const x of xs) x.dispose();
    return data;
  });
}

export function optimize(g: Graph): Graph {
  for (let round = 0; round < 4; round++) {
    const next = eliminateDeadCode(eliminateCommonSubexpressions(foldConstants(simplify(g), evaluateEagerly)));
    if (next === g) break;
    g = next;
  }
  return g;
}

// ---------------------------------------------------------------------------------------
// 3. Recording

type BufferRole = "temp" | "staging" | "variable" | "constant";

interface SymBuffer extends Buffer {
  role: BufferRole;
  /** Data a kernel impl wrote at record time: such buffers become constants. */
  init?: { dtype: DType; offset: number; data: Float32Array | Int32Array | Uint8Array }[];
  /** The variable or graph constant this buffer stands for. */
  source?: Variable | Float32Array | Int32Array | Uint8Array;
}

class Recorder implements Backend {
  readonly name = "recorder";
  readonly program: Kernel[] = [];
  readonly buffers: SymBuffer[] = [];

  allocate(bytes: number, role: BufferRole = "temp"): SymBuffer {
    const b: SymBuffer = { id: this.buffers.length, bytes, role };
    this.buffers.push(b);
    return b;
  }
  free(): void {
    // Lifetimes come from the program (memory.ts), not from frees.
  }
  read(): never {
    throw new Error("internal: a kernel impl read data while a graph was being compiled");
  }
  write(buffer: Buffer, dtype: DType, offset: number, data: Float32Array | Int32Array | Uint8Array): void {
    const b = buffer as SymBuffer;
    b.role = "constant";
    (b.init ??= []).push({ dtype, offset, data: data.slice() });
  }
  dispatch(kernel: Kernel): void {
    this.program.push(kernel);
  }
  bytesInUse(): number {
    return 0;
  }
}

const contiguous = (buffer: Buffer, shape: readonly number[], dtype: DType): View =>
  ({ buffer, dtype, shape: [...shape], strides: contiguousStrides(shape), offset: 0 });

/** Row-major over its shape (size-1 axes may have any stride). */
function isContiguousView(v: View): boolean {
  const c = contiguousStrides(v.shape);
  return v.shape.every((d, i) => d === 1 || v.strides[i] === c[i]);
}

/** Calls fn on every view of a kernel (in place of it when fn returns a new view). */
function mapViews(k: Kernel, fn: (v: View) => View): Kernel {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(k)) {
    if (value && typeof value === "object" && "buffer" in value) out[key] = fn(value as View);
    else if (Array.isArray(value) && value.length > 0 && typeof value[0] === "object" && value[0] !== null && "buffer" in value[0]) out[key] = (value as View[]).map(fn);
    else out[key] = value;
  }
  return out as unknown as Kernel;
}

/** Whether a kernel can raise at run time: an integer division by a zero it only finds then. */
function mayRaise(k: Kernel): boolean {
  if (k.kind === "elementwise") return integerDivisions(k.expr).length > 0;
  if (k.kind === "reduce") return k.prologue !== undefined && integerDivisions(k.prologue).length > 0;
  if (k.kind === "rows") return [...k.stages.map((s) => s.expr), k.final].some((e) => integerDivisions(e).length > 0);
  if (k.kind === "matmul") return k.epilogue !== undefined && integerDivisions(k.epilogue).length > 0;
  return false;
}

/** Views a kernel writes: its out (and the indices of max pooling). */
function written(k: Kernel): View[] {
  return k.kind === "maxPool2d" ? [k.out, k.indices] : [k.out];
}

function allViews(k: Kernel): View[] {
  const views: View[] = [];
  mapViews(k, (v) => (views.push(v), v));
  return views;
}

export interface CompileStats {
  /** Op vertices before and after optimization. */
  opsBefore: number;
  opsAfter: number;
  kernels: number;
  /** Kernels that run more than one op (fused groups). */
  fusedKernels: number;
  /** Intermediate bytes with one buffer per value, and with the planned arena. */
  bytesBefore: number;
  bytesAfter: number;
  inPlaceSteps: number;
  /** Variable updates written by their kernel straight into the variable (no copy). */
  inPlaceUpdates: number;
}

export class Executable {
  readonly graph: Graph;
  readonly stats: CompileStats;
  private readonly backend: Backend;
  private readonly kernels: Kernel[];
  private readonly staging: View[];
  private readonly outputs: View[];
  private readonly updates: { variable: Variable; value: View }[];
  private readonly variableViews: { variable: Variable; buffer: Buffer }[];
  private readonly owned: Storage[];
  /** Random kernels: index in `kernels`, generator, and counter offset within the trace's draw. */
  private readonly random: { index: number; use: RandomUse; offset: number }[];
  private runs = 0;
  /** Whether dispose() ran: the program can no longer run. */
  disposed = false;
  /** Staging buffers, and per kernel whether it reads one (rebound when inputs alias). */
  /** Placeholders of output buffers allocated fresh per call (see compile, step 4). */
  private readonly perCall: Buffer[];
  private readonly rebound: Set<Buffer>;
  /** Per kernel: whether it touches a staging buffer or a per-call placeholder. */
  private readonly rebind: boolean[];

  constructor(parts: {
    graph: Graph; stats: CompileStats; backend: Backend; kernels: Kernel[]; staging: View[]; outputs: View[];
    updates: { variable: Variable; value: View }[]; variableViews: { variable: Variable; buffer: Buffer }[]; owned: Storage[];
    random: { index: number; use: RandomUse; offset: number }[]; perCall: Buffer[];
  }) {
    this.graph = parts.graph;
    this.stats = parts.stats;
    this.backend = parts.backend;
    this.kernels = parts.kernels;
    this.staging = parts.staging;
    this.outputs = parts.outputs;
    this.updates = parts.updates;
    this.variableViews = parts.variableViews;
    this.owned = parts.owned;
    this.random = parts.random;
    this.perCall = parts.perCall;
    this.rebound = new Set([...this.staging.map((v) => v.buffer), ...this.perCall]);
    this.rebind = this.kernels.map((k) => {
      let touches = false;
      mapViews(k, (v) => ((touches ||= this.rebound.has(v.buffer)), v));
      return touches;
    });
    // The arena and constants are freed with this program if a clear() that an interrupt
    // stopped forgets it without dispose(), and are its own from here on (runtime.ts:
    // Storage; an interrupt before this line leaves those not marked yet to recovery).
    releaseWhenCollected(this, this.owned);
    for (const st of this.owned) st.owned = true;
  }

  /** Runs the program on concrete inputs (in graph input order); returns the outputs. */
  run(inputs: readonly Tensor[]): Tensor[] {
    if (this.disposed) {
      // its kernels would write into freed buffers that other tensors may hold by now
      throw new Error("fn: this compiled program was disposed (its function's clear() ran); call the compiled function again to retrace");
    }
    for (const { variable, buffer } of this.variableViews) {
      if (variable.disposed || variable._view().buffer !== buffer) {
        throw new Error(`fn: variable "${variable.name}" was disposed or replaced after compiling; call the function's clear() to retrace`);
      }
    }
    const b = this.backend;
    // A contiguous input of the staged dtype is read in place, unless it is a variable's
    // storage (an in-place update could then change it while the program still reads it).
    // Other inputs are copied into a buffer drawn for this call.
    const alias = new Map<Buffer, View>();
    const variableBuffers = new Set(this.variableViews.map((v) => v.buffer));
    const copies: Storage[] = [];
    inputs.forEach((t, i) => {
      const dst = this.staging[i]!;
      const v = t._view();
      if (t.size > 0 && v.dtype === dst.dtype && isContiguousView(v) && !variableBuffers.has(v.buffer)) {
        alias.set(dst.buffer, v);
        return;
      }
      const st = allocate(b, Math.max(dst.buffer.bytes, 4), () => `fn input of ${dst.buffer.bytes} bytes`);
      copies.push(st);
      if (t.size > 0) b.dispatch({ kind: "copy", input: v, out: { ...dst, buffer: st.buffer } });
      alias.set(dst.buffer, { ...dst, buffer: st.buffer });
    });
    const fresh = new Map<Buffer, Storage>();
    for (const p of this.perCall) {
      fresh.set(p, allocate(b, p.bytes, () => `fn output of ${p.bytes} bytes`));
      alias.set(p, { buffer: fresh.get(p)!.buffer, dtype: "float32", shape: [], strides: [], offset: 0 });
    }
    // staging views and placeholders start at offset 0 of their buffer, so offsets just add
    const sub = (v: View): View => {
      const a = alias.get(v.buffer);
      return a ? { ...v, buffer: a.buffer, offset: v.offset + a.offset } : v;
    };
    // The first run uses the blocks drawn while tracing; later runs draw new ones, so a
    // compiled function gives the numbers the same calls would give eagerly.
    if (this.runs++ > 0) {
      const shift = new Map<RandomUse, number>();
      for (const r of this.random) {
        if (!shift.has(r.use)) {
          shift.set(r.use, r.use.generator.counter - r.use.start);
          r.use.generator.counter += r.use.end - r.use.start;
        }
        const k = this.kernels[r.index] as Extract<Kernel, { kind: "random" }>;
        this.kernels[r.index] = { ...k, counter: r.use.start + r.offset + shift.get(r.use)! };
      }
    }
    try {
      if (alias.size === 0) for (const k of this.kernels) b.dispatch(k);
      else this.kernels.forEach((k, i) => b.dispatch(this.rebind[i] ? mapViews(k, sub) : k));
    } catch (e) {
      for (const st of fresh.values()) st.release();
      throw e;
    } finally {
      for (const st of copies) st.release();
    }
    const results = this.outputs.map((v0) => {
      const own = fresh.get(v0.buffer);
      if (own) return Tensor._fromView(sub(v0), own, null);
      const v = sub(v0);
      const s = allocate(b, sizeOf(v.shape) * itemSize[v.dtype], `fn output ${v.dtype}${fmtShape(v.shape)}`);
      const out = contiguous(s.buffer, v.shape, v.dtype);
      if (sizeOf(v.shape) > 0) b.dispatch({ kind: "copy", input: v, out });
      return Tensor._fromView(out, s, null);
    });
    // Update values that are views of a variable are staged first, so that writing one
    // variable never changes another update's value.
    const varBuffers = new Set(this.variableViews.map((v) => v.buffer));
    const pending = this.updates
      .filter(({ variable, value }) => value.buffer !== variable._view().buffer) // others were written in place
      .map(({ variable, value }) => ({ variable, value: sub(value) }));
    const staged = pending.map(({ variable, value }) => {
      if (!varBuffers.has(value.buffer)) return { variable, value, tmp: undefined };
      const s = allocate(b, sizeOf(value.shape) * itemSize[value.dtype], "fn update");
      const tmp = contiguous(s.buffer, value.shape, value.dtype);
      b.dispatch({ kind: "copy", input: value, out: tmp });
      return { variable, value: tmp, tmp: s };
    });
    for (const { variable, value, tmp } of staged) {
      b.dispatch({ kind: "copy", input: value, out: variable._view() });
      tmp?.release();
    }
    return results;
  }

  /** Frees the arena and constants. */
  dispose(): void {
    this.disposed = true;
    for (const s of this.owned) s.release();
    this.owned.length = 0;
  }
}

export interface CompileOptions {
  optimize?: boolean;
  fuse?: boolean;
  /** Generators the traced function drew from: each run after the first draws anew. */
  random?: readonly RandomUse[];
}

export function compile(input: Graph, backend: Backend, options: CompileOptions = {}): Executable {
  const opsBefore = input.ops.length;
  const g = options.optimize === false ? input : optimize(input);
  const groups = options.fuse === false ? [] : planFusion(g);
  const groupOfRoot = new Map<number, FusionGroup>();
  const member = new Set<number>();
  for (const gr of groups) {
    if (gr.nodes.length === 1 && gr.kind !== "elementwise") continue;
    groupOfRoot.set(gr.nodes.at(-1)!, gr);
    for (const n of gr.nodes.slice(0, -1)) member.add(n);
  }

  const rec = new Recorder();
  const value: View[] = new Array(g.nodes.length);
  const staging: View[] = [];
  const variableViews: { variable: Variable; sym: SymBuffer }[] = [];
  const ctx: KernelCtx = {
    backend: rec,
    alloc: (shape, dtype) => contiguous(rec.allocate(Math.max(sizeOf(shape) * itemSize[dtype], 0)), shape, dtype),
    full(shape, dtype, v) {
      const view = ctx.alloc(shape, dtype);
      if (sizeOf(shape) > 0) rec.dispatch({ kind: "elementwise", expr: { op: "const", value: v, dtype }, inputs: [], out: view });
      return view;
    },
  };

  const rootOfNode = new Int32Array(g.nodes.length).map((_, i) => i);
  for (const [root, gr] of groupOfRoot) for (const m of gr.nodes) rootOfNode[m] = root;
  for (const id of scheduleNodes(g, (i) => rootOfNode[i]!)) {
    if (member.has(id)) continue;
    value[id] = emit(g.nodes[id]!);
  }

  function emit(n: Node): View {
    switch (n.kind) {
      case "input": {
        const v = contiguous(rec.allocate(bytesOfAval(n.aval), "staging"), n.aval.shape, n.aval.dtype);
        staging[n.index] = v;
        return v;
      }
      case "variable": {
        const variable = n.ref as Variable;
        const sym = rec.allocate(bytesOfAval(n.aval), "variable");
        sym.source = variable;
        variableViews.push({ variable, sym });
        const actual = variable._view();
        return { ...actual, buffer: sym };
      }
      case "constant": {
        const sym = rec.allocate(bytesOfAval(n.aval), "constant");
        sym.source = n.data;
        return contiguous(sym, n.aval.shape, n.aval.dtype);
      }
      case "op": {
        const group = groupOfRoot.get(n.id);
        if (group) return emitGroup(group);
        const rule = rules[n.prim] as Rule<Prim>;
        const xs = n.inputs.map((i) => value[i]!);
        if (rule.impl.kind === "elementwise") return emitGroup({ kind: "elementwise", nodes: [n.id] });
        return rule.impl.run(ctx, xs, n.params as never, n.aval);
      }
    }
  }

  /** The inputs of a fused kernel: `leaf(id)` gives a value computed outside the group its
   *  input index (from `first`, one per value however often it is read) and records its
   *  view, as `place` lays it out for the kernel. */
  function kernelInputs(first: number, place: (v: View) => View) {
    const externals: View[] = [];
    const index = new Map<number, number>();
    const leaf = (id: number): ScalarExpr => {
      let k = index.get(id);
      if (k === undefined) {
        k = first + externals.length;
        index.set(id, k);
        externals.push(place(value[id]!));
      }
      return { op: "input", index: k, dtype: g.nodes[id]!.aval.dtype };
    };
    return { externals, leaf };
  }

  /** One "rows" kernel for a row group (passes/rows.ts): stage k's row value is input
   *  -1 - k while expressions are built (the number of leaves is not known yet), and the
   *  stash -1 - K; they are renumbered after the leaves. */
  function emitRows(group: FusionGroup): View {
    const stages = group.stages!;
    const K = stages.length;
    const root = g.nodes[group.nodes.at(-1)!] as OpNode;
    // the rows' shape: the root's, or for a per-row result the reductions' input shape
    const S = group.perRow ? g.nodes[(g.nodes[stages[0]!] as OpNode).inputs[0]!]!.aval.shape : root.aval.shape;
    const inGroup = new Set(group.nodes);
    // [..., 1] values broadcast along the row (stride 0)
    const { externals, leaf } = kernelInputs(0, (v) =>
      v.shape[v.shape.length - 1] === S[S.length - 1] ? v : { ...v, shape: [...S], strides: [...v.strides.slice(0, -1), 0] });
    const exprOf = new Map<number, ScalarExpr>();
    const stageExprs: ScalarExpr[] = [];
    for (const id of group.nodes) {
      const n = g.nodes[id] as OpNode;
      const xs = n.inputs.map((i) => (inGroup.has(i) ? exprOf.get(i)! : leaf(i)));
      const k = stages.indexOf(id);
      if (k >= 0) {
        stageExprs.push(xs[0]!);
        exprOf.set(id, { op: "input", index: -1 - k, dtype: "float32" });
      } else if (n.prim === "expand") exprOf.set(id, xs[0]!);
      else {
        const rule = rules[n.prim] as Rule<Prim>;
        if (rule.impl.kind !== "elementwise") throw new Error(`internal: ${n.prim} in a row group`);
        exprOf.set(id, rule.impl.scalar(xs, n.params as never, n.aval));
      }
    }
    // The last stage's values are stored in out and read back when the final value uses them.
    const lastExpr = stageExprs[K - 1]!;
    let final = exprOf.get(root.id)!;
    const stash = lastExpr.op !== "input" && lastExpr.dtype === "float32" && containsExpr(final, lastExpr);
    if (stash) final = replaceExpr(final, lastExpr, { op: "input", index: -1 - K, dtype: "float32" });
    const n = externals.length;
    const renumber = (e: ScalarExpr) => mapInputs(e, (i) => (i < 0 ? n + (-1 - i) : i));
    const out = ctx.alloc(root.aval.shape, "float32");
    if (sizeOf(S) > 0) {
      rec.dispatch({
        kind: "rows", inputs: externals, out, stash, final: renumber(final), perRow: group.perRow ?? false,
        stages: stages.map((id, k) => ({ op: (g.nodes[id] as OpNode).prim as "sum", expr: renumber(stageExprs[k]!) })),
      });
    }
    return out;
  }

  /** One kernel for a fusion group: members' scalar rules composed into one expression. */
  function emitGroup(group: FusionGroup): View {
    if (group.kind === "rows") return emitRows(group);
    const inGroup = new Set(group.nodes);
    // epilogues: input 0 is the product
    const { externals, leaf } = kernelInputs(group.kind === "matmul" || group.kind === "conv" ? 1 : 0, (v) => v);
    const exprOf = new Map<number, ScalarExpr>();
    // the op the members are fused around: a reduction (the root), a product (matmul, conv)
    const anchor = group.kind === "reduce" ? group.nodes.at(-1)! : group.kind === "elementwise" ? -1 : group.anchor!;
    for (const id of group.nodes) {
      if (id === anchor) continue;
      const n = g.nodes[id] as OpNode;
      const rule = rules[n.prim] as Rule<Prim>;
      if (rule.impl.kind !== "elementwise") throw new Error(`internal: ${n.prim} in an elementwise fusion group`);
      const xs = n.inputs.map((i) =>
        i === anchor ? ({ op: "input", index: 0, dtype: "float32" } as ScalarExpr) : inGroup.has(i) ? exprOf.get(i)! : leaf(i));
      exprOf.set(id, rule.impl.scalar(xs, n.params as never, n.aval));
    }
    const root = g.nodes[group.nodes.at(-1)!] as OpNode;
    if (group.kind === "elementwise") {
      const out = ctx.alloc(root.aval.shape, root.aval.dtype);
      if (sizeOf(root.aval.shape) > 0) rec.dispatch({ kind: "elementwise", expr: exprOf.get(root.id)!, inputs: externals, out });
      return out;
    }
    if (group.kind === "reduce") {
      const input = g.nodes[root.inputs[0]!]!;
      const out = ctx.alloc(root.aval.shape, root.aval.dtype);
      const prologue = exprOf.get(input.id)!;
      rec.dispatch({ kind: "reduce", op: root.prim as "sum", axes: (root.params as { axes: number[] }).axes, inputs: externals, prologue, out });
      return out;
    }
    const mm = g.nodes[anchor] as OpNode;
    if (group.kind === "conv") {
      // The convolution writes its output, then one elementwise pass applies the epilogue
      // in place (input 0 is the convolution's own output).
      const conv = (rules.conv2d as Rule<"conv2d">).impl;
      if (conv.kind !== "kernel") throw new Error("internal: conv2d has no kernel impl");
      const y = conv.run(ctx, mm.inputs.map((i) => value[i]!), mm.params as never, mm.aval);
      if (sizeOf(root.aval.shape) > 0) rec.dispatch({ kind: "elementwise", expr: exprOf.get(root.id)!, inputs: [y, ...externals], out: y });
      return y;
    }
    const out = ctx.alloc(root.aval.shape, "float32");
    rec.dispatch({
      kind: "matmul", a: value[mm.inputs[0]!]!, b: value[mm.inputs[1]!]!, out,
      epilogue: exprOf.get(root.id)!, epilogueInputs: externals,
    });
    return out;
  }

  // Updates written in place: the kernel computing a variable's new value writes into it;
  // not when a kernel may raise, which must leave the variables as they were.
  const accessOf = (k: Kernel) => {
    const writes = written(k);
    return { writes, reads: allViews(k).filter((v) => !writes.includes(v)) };
  };
  const substitution = rec.program.some(mayRaise) ? new Map<Buffer, Buffer>() : planInPlaceUpdates(
    rec.program,
    g.updates.map((u) => ({ variable: value[u.variable]!, value: value[u.value]! })),
    (b) => (b as SymBuffer).role === "temp",
    accessOf,
    [...g.outputs.map((o) => value[o]!), ...g.updates.map((u) => value[u.value]!)],
  );
  const redirect = (v: View): View => (substitution.has(v.buffer) ? { ...v, buffer: substitution.get(v.buffer)! } : v);
  const program = rec.program.map((k) => mapViews(k, redirect));

  // 4. Plan temporaries (staging buffers included: they are written by the input copies).
  const outputViews = g.outputs.map((o) => redirect(value[o]!));
  const updateViews = g.updates.map((u) => redirect(value[u.value]!));
  const pinned = new Set<Buffer>([...outputViews, ...updateViews].map((v) => v.buffer));
  // A temporary that one output covers exactly (contiguous, whole buffer) is written by its
  // kernel straight into a fresh buffer per call, which the output tensor then owns: it gets
  // a placeholder at bind time instead of an arena slot, and no copy per call.
  const outputUses = new Map<Buffer, number>();
  for (const v of outputViews) outputUses.set(v.buffer, (outputUses.get(v.buffer) ?? 0) + 1);
  const perCall = new Set<Buffer>(outputViews
    .filter((v) => (v.buffer as SymBuffer).role === "temp" && outputUses.get(v.buffer) === 1 && v.offset === 0 &&
      isContiguousView(v) && sizeOf(v.shape) * itemSize[v.dtype] === v.buffer.bytes && sizeOf(v.shape) > 0)
    .map((v) => v.buffer));
  const stagingSteps: PlannedStep[] = staging.map((v) => ({ reads: [], writes: [v.buffer.id] }));
  const steps: PlannedStep[] = [
    ...stagingSteps,
    ...program.map((k) => {
      const { writes: outs, reads: ins } = accessOf(k);
      const step: PlannedStep = { reads: ins.map((v) => v.buffer.id), writes: outs.map((v) => v.buffer.id) };
      if (k.kind === "elementwise") {
        // In place only over an input read element for element like the output, and read
        // through no other view (x + x.T must not overwrite what it still reads).
        const full = (v: View) => v.offset === 0 && v.strides.every((s, i) => s === contiguousStrides(v.shape)[i]) && itemSize[v.dtype] === itemSize[k.out.dtype];
        const candidates = ins.filter((v) => ins.every((w) => w.buffer !== v.buffer || full(w)) && full(v));
        return { ...step, inPlace: candidates.map((v) => [v.buffer.id, k.out.buffer.id] as const) };
      }
      return step;
    }),
  ];
  // Temporaries that in-place updates replaced are referenced by nothing any more.
  const referenced = new Set(steps.flatMap((st) => [...st.reads, ...st.writes]));
  const planned: PlannedBuffer[] = rec.buffers
    .filter((b) => b.role === "temp" && !perCall.has(b) && (referenced.has(b.id) || pinned.has(b)))
    .map((b) => ({ id: b.id, bytes: b.bytes, liveToEnd: pinned.has(b) }));
  const plan = planMemory(planned, steps);

  // 5. Bind: allocate slots and constants, rewrite kernels onto physical buffers.
  const owned: Storage[] = [];
  const slots = plan.slotBytes.map((bytes) => {
    const s = allocate(backend, bytes, "fn arena");
    owned.push(s);
    return s.buffer;
  });
  const physical = new Map<Buffer, Buffer>();
  for (const b of rec.buffers) {
    if (b.role === "staging" || perCall.has(b)) {
      // placeholders: each run binds inputs and fresh outputs to them
      physical.set(b, { id: -1 - physical.size, bytes: b.bytes });
    } else if (b.role === "temp") {
      const slot = plan.slotOf.get(b.id);
      if (slot !== undefined) physical.set(b, slots[slot]!);
    }
    else if (b.role === "variable") physical.set(b, (b.source as Variable)._view().buffer);
    else {
      const s = allocate(backend, Math.max(b.bytes, 4), "fn constant");
      owned.push(s);
      if (b.source) backend.write(s.buffer, dtypeOfData(b.source as Float32Array), 0, b.source as Float32Array);
      for (const w of b.init ?? []) backend.write(s.buffer, w.dtype, w.offset, w.data);
      physical.set(b, s.buffer);
    }
  }
  const onPhysical = (v: View): View => ({ ...v, buffer: physical.get(v.buffer)! });
  const kernels = program.map((k) => mapViews(k, onPhysical));
  const fusedKernels = [...groupOfRoot.values()].filter((gr) => gr.nodes.length > 1).length;
  const random = kernels.flatMap((k, index) => {
    if (k.kind !== "random") return [];
    const use = (options.random ?? []).find((u) =>
      u.generator.key[0] === k.key[0] && u.generator.key[1] === k.key[1] && k.counter >= u.start && k.counter < u.end);
    return use ? [{ index, use, offset: k.counter - use.start }] : [];
  });
  return new Executable({
    graph: g,
    backend,
    kernels,
    staging: staging.map(onPhysical),
    outputs: outputViews.map(onPhysical),
    perCall: [...perCall].map((b) => physical.get(b)!),
    updates: g.updates.map((u, i) => ({ variable: (g.nodes[u.variable] as { ref: Variable }).ref, value: onPhysical(updateViews[i]!) })),
    variableViews: variableViews.map(({ variable, sym }) => ({ variable, buffer: physical.get(sym)! })),
    owned,
    random,
    stats: {
      opsBefore, opsAfter: g.ops.length, kernels: kernels.length, fusedKernels,
      bytesBefore: plan.bytesBefore, bytesAfter: plan.bytesAfter, inPlaceSteps: plan.inPlaceSteps,
      inPlaceUpdates: substitution.size,
    },
  });
}

function dtypeOfData(d: Float32Array | Int32Array | Uint8Array): DType {
  return d instanceof Float32Array ? "float32" : d instanceof Int32Array ? "int32" : "bool";
}
