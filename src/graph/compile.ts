// Compiling a graph into a program of backend kernels (program.ts runs it).
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
//                 physical buffers, and hand them to an Executable (program.ts).

import type { Backend, Buffer, DType, Kernel, ScalarExpr, View } from "../backend/backend.js";
export { Executable, type CompileStats } from "./program.js";
import { itemSize } from "../backend/backend.js";
import { allocate, type Storage } from "../core/runtime.js";
import { bind, withGrad } from "../core/trace.js";
import type { Prim } from "../ops/prims.js";
import { rules, type KernelCtx, type Rule } from "../ops/rules.js";
import { contiguousStrides, sizeOf } from "../tensor/shape.js";
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
import { allViews, contiguous, Executable, isContiguousView, mapViews, mayRaise, written, type CompileStats } from "./program.js";
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
