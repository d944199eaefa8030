// The run-time program of a compiled graph (compile.ts builds it): the bound kernels, the
// arena and constants it owns, and run(), which binds the call's inputs and fresh outputs,
// dispatches the kernels in order and writes the variables' updates. Also the kernel-view
// helpers that compiling and running share.
//
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

import type { Backend, Buffer, DType, Kernel, View } from "../backend/backend.js";
import { integerDivisions, itemSize } from "../backend/backend.js";
import { allocate, releaseWhenCollected, type Storage } from "../core/runtime.js";
import { contiguousStrides, fmtShape, sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import type { Graph } from "./ir.js";
import type { RandomUse } from "./trace.js";
import type { Variable } from "./variable.js";

/** A contiguous view of a whole buffer. */
export const contiguous = (buffer: Buffer, shape: readonly number[], dtype: DType): View =>
  ({ buffer, dtype, shape: [...shape], strides: contiguousStrides(shape), offset: 0 });

/** Row-major over its shape (size-1 axes may have any stride). */
export function isContiguousView(v: View): boolean {
  const c = contiguousStrides(v.shape);
  return v.shape.every((d, i) => d === 1 || v.strides[i] === c[i]);
}

/** Calls fn on every view of a kernel (in place of it when fn returns a new view). */
export function mapViews(k: Kernel, fn: (v: View) => View): Kernel {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(k)) {
    if (value && typeof value === "object" && "buffer" in value) out[key] = fn(value as View);
    else if (Array.isArray(value) && value.length > 0 && typeof value[0] === "object" && value[0] !== null && "buffer" in value[0]) out[key] = (value as View[]).map(fn);
    else out[key] = value;
  }
  return out as unknown as Kernel;
}

/** Whether a kernel can raise at run time: an integer division by a zero it only finds then. */
export function mayRaise(k: Kernel): boolean {
  if (k.kind === "elementwise") return integerDivisions(k.expr).length > 0;
  if (k.kind === "reduce") return k.prologue !== undefined && integerDivisions(k.prologue).length > 0;
  if (k.kind === "rows") return [...k.stages.map((s) => s.expr), k.final].some((e) => integerDivisions(e).length > 0);
  if (k.kind === "matmul") return k.epilogue !== undefined && integerDivisions(k.epilogue).length > 0;
  return false;
}

/** Views a kernel writes: its out (and the indices of max pooling). */
export function written(k: Kernel): View[] {
  return k.kind === "maxPool2d" ? [k.out, k.indices] : [k.out];
}

/** Every view a kernel reads or writes. */
export function allViews(k: Kernel): View[] {
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
