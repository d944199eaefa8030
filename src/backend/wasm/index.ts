// The WebAssembly backend: implements the Backend contract (backend.ts) with tensors in one
// shared WebAssembly.Memory, kernels generated at run time as SIMD128 wasm (cached by their
// specialisation key) and a worker-thread pool for large kernels.
//
// This file owns buffers and routes each Kernel kind to its implementation: elementwise and
// copy (elementwise.ts), matmul (matmul.ts), reductions and cumsum (reduce.ts), conv2d and
// its gradients, pooling, gather and scatterAdd (nn.ts); random numbers come from the shared
// Philox generator (src/random/philox.ts).
//
// Each entry of the Backend contract (allocate, free, read, write, dispatch) first calls
// settleDispatch() (pool.ts): after an interrupt stopped the calling thread inside a
// parallel kernel, the workers of that kernel finish before anything else touches memory.
// A dispatch frees its temporaries (GEMM tables and packing scratch, transposed copies) in
// finally blocks, which an interrupt skips; so the dispatch in progress is marked, and
// recovery after an interrupt (recoverDispatch) frees what a terminated one left.

import type { AnyTypedArray, Backend, Buffer, DType, Kernel, ScalarExpr, View } from "../backend.js";
import { integerDivisions, itemSize, zeroDivisionError } from "../backend.js";
import {
  buildElementwise, collapseLayout, contiguousStrides, isContiguous, elementwiseDescriptor, elementwiseKey, laneClass, layoutKey,
  type ElementwiseSpec,
} from "./elementwise.js";
import { constWords, exprKey } from "./expr.js";
import type { CompiledKernel } from "./runtime.js";
import { buildGemm, gemmBlockDepth, gemmScratchBytes, NR, type GemmConfig } from "./matmul.js";
import { CONTROL_BYTES, OutOfMemoryError } from "./memory.js";
import { takeFault } from "./reserved.js";
import { buildTranspose, transposeDescriptor, TRANSPOSE_ROWS_PER_UNIT } from "./transpose.js";
import { philoxFill } from "../../random/philox.js";
import { Runtime } from "./runtime.js";
import { settleDispatch } from "./pool.js";
import { dispatchCumsum, dispatchReduce } from "./reduce.js";
import { dispatchRows } from "./rows.js";
import { dispatchNN } from "./nn.js";

export { OutOfMemoryError, contiguousStrides, isContiguous, settleDispatch };

/** The backend whose dispatch is in progress (still set afterwards only if an interrupt
 *  terminated it: the dispatch clears it in a finally block). */
let dispatching: WasmBackendImpl | undefined;

/**
 * Recovery after an interrupt that may have terminated the calling thread inside a
 * dispatch (core/interrupt.ts): waits for the pool's workers, then frees the temporaries
 * of the terminated dispatch. Call only when no backend call is in progress.
 */
export function recoverDispatch(): void {
  settleDispatch();
  const be = dispatching;
  dispatching = undefined;
  be?.freeAbandonedTemps();
}

export interface WasmBackendOptions {
  /** Threads for large kernels, including the calling thread (default: available cores). */
  threads?: number;
  /** Heap limit in bytes (default 2 GiB). */
  maximumBytes?: number;
  /** Force relaxed SIMD on or off (default: detected). */
  relaxedSimd?: boolean;
  /** GEMM tuning: register tile rows (MR) and rows per packed A block (MC, a multiple of MR). */
  gemm?: { mr: number; mc: number; nc?: number; unroll?: number };
}

export interface WasmBackend extends Backend {
  setThreads(n: number): void;
  readonly threads: number;
  /** Whether matmul uses f32x4.relaxed_madd. */
  readonly relaxedSimd: boolean;
  /** Distinct kernels compiled so far. */
  kernelCount(): number;
  /** Worker threads started so far (they start on the first parallel kernel). */
  workersStarted(): number;
  /** Stops worker threads (they never keep the process alive; this is for tidy tests). */
  terminate(): Promise<void>;
}

/** Elements per thread below which elementwise work stays on the calling thread. */
const EW_MIN_PER_THREAD = 1 << 15;
/** Elementwise work is cut into this many chunks per thread, claimed dynamically, so a
 *  thread that starts late (a worker waking up, a busy machine) does not hold up the call. */
const CHUNKS_PER_THREAD = 4;
/** Elements from which an elementwise input read through a transposed view is first copied
 *  by the blocked transpose kernel (transpose.ts) instead of being gathered lane by lane. */
const TRANSPOSE_MIN_ELEMENTS = 1 << 12;

class WasmBackendImpl implements WasmBackend {
  readonly name = "wasm";
  readonly rt: Runtime;
  private nextId = 1;
  private readonly addrs = new Map<number, number>();
  /** First buffer id the dispatch in progress may allocate (its temporaries). */
  private firstTempId = 1;
  private readonly gemmCfg: GemmConfig;
  /** Upper bound on columns per GEMM work unit (keeps the packed B block in L2). */
  private readonly maxNC: number;
  /** Per expression object: its key text, parameter const words, kernels by layoutKey, and
   *  whether it divides integers (then the fault word is checked after each run). */
  private readonly exprInfo = new WeakMap<ScalarExpr, { text: string; consts: number[]; kernels: Map<string, CompiledKernel>; faults: boolean }>();

  constructor(options: WasmBackendOptions) {
    this.rt = new Runtime(options);
    this.gemmCfg = { mr: options.gemm?.mr ?? 6, mc: options.gemm?.mc ?? 120, fma: this.rt.relaxed, unroll: options.gemm?.unroll ?? 1 };
    this.maxNC = options.gemm?.nc ?? 1 << 30;
  }

  get threads(): number { return this.rt.threads; }
  get relaxedSimd(): boolean { return this.rt.relaxed; }
  setThreads(n: number): void { this.rt.setThreads(n); }
  kernelCount(): number { return this.rt.kernelCount; }
  workersStarted(): number { return this.rt.workersStarted; }
  bytesInUse(): number { return this.rt.heap.bytesInUse(); }
  /** The WebAssembly memory's maximum less its control area (memory.ts). */
  get maxBytes(): number { return this.rt.heap.limit - CONTROL_BYTES; }
  terminate(): Promise<void> { return this.rt.terminate(); }

  allocate(bytes: number): Buffer {
    settleDispatch();
    const addr = this.rt.heap.alloc(bytes);
    const id = this.nextId++;
    this.addrs.set(id, addr);
    return { id, bytes };
  }

  free(buffer: Buffer): void {
    settleDispatch();
    const addr = this.addrs.get(buffer.id);
    if (addr === undefined) throw new Error(`wasm backend: free of unknown or already freed buffer ${buffer.id}`);
    // heap first: an interrupt between the two then leaves a stale id, not a lost block
    this.rt.heap.free(addr);
    this.addrs.delete(buffer.id);
  }

  /** Byte address of a buffer. */
  addr(buffer: Buffer): number {
    const a = this.addrs.get(buffer.id);
    if (a === undefined) throw new Error(`wasm backend: buffer ${buffer.id} was freed (use after dispose?)`);
    return a;
  }

  /** Byte address of a view's element [0, 0, ...]. */
  base(v: View): number {
    return this.addr(v.buffer) + v.offset * itemSize[v.dtype];
  }

  read(buffer: Buffer, dtype: DType, offset: number, count: number): AnyTypedArray {
    settleDispatch();
    const start = this.addr(buffer) + offset * itemSize[dtype];
    checkRange("read", buffer, start - this.addr(buffer), count * itemSize[dtype]);
    const mem = this.rt.heap.memory.buffer;
    if (dtype === "float32") return new Float32Array(mem, start, count).slice();
    if (dtype === "int32") return new Int32Array(mem, start, count).slice();
    return new Uint8Array(mem, start, count).slice();
  }

  write(buffer: Buffer, dtype: DType, offset: number, data: AnyTypedArray): void {
    settleDispatch();
    const start = this.addr(buffer) + offset * itemSize[dtype];
    checkRange("write", buffer, start - this.addr(buffer), data.length * itemSize[dtype]);
    const mem = this.rt.heap.memory.buffer;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    new Uint8Array(mem, start, bytes.length).set(bytes);
  }

  dispatch(k: Kernel): void {
    settleDispatch();
    dispatching = this;
    this.firstTempId = this.nextId;
    try {
      this.route(k);
    } finally {
      dispatching = undefined;
    }
  }

  /** Frees what a dispatch terminated by an interrupt allocated for itself: buffers from
   *  firstTempId on (nothing else allocates while a dispatch runs) and heap blocks that no
   *  buffer and not the descriptor scratch own (GEMM tables and scratch, reduce partials),
   *  and clears the fault word. */
  freeAbandonedTemps(): void {
    const heap = this.rt.heap;
    const lost = new Set<number>();
    for (const [id, addr] of this.addrs) {
      if (id < this.firstTempId) continue;
      this.addrs.delete(id);
      lost.add(addr);
    }
    const owned = new Set(this.addrs.values());
    owned.add(this.rt.descriptorBlock);
    for (const addr of heap.liveBlocks()) if (!owned.has(addr)) lost.add(addr);
    for (const addr of lost) if (heap.isLive(addr) && !owned.has(addr)) heap.free(addr);
    takeFault(heap.i32()); // a fault the terminated kernel noted is no later kernel's
  }

  private route(k: Kernel): void {
    switch (k.kind) {
      case "elementwise":
        this.elementwise(k.expr, k.inputs, k.out);
        return;
      case "copy":
        this.elementwise(castExpr({ op: "input", index: 0, dtype: k.input.dtype }, k.out.dtype), [k.input], k.out);
        return;
      case "matmul":
        this.matmul(k.a, k.b, k.out, k.epilogue, k.epilogueInputs ?? []);
        return;
      case "reduce":
        dispatchReduce(this, k);
        return;
      case "cumsum":
        dispatchCumsum(this, k);
        return;
      case "rows":
        dispatchRows(this, k);
        return;
      case "random":
        this.random(k.dist, k.key, k.counter, k.out);
        return;
      default:
        dispatchNN(this, k);
    }
  }

  /** out = expr(inputs...), all views of out.shape. */
  elementwise(expr: ScalarExpr, inputs: readonly View[], out: View): void {
    for (const [i, v] of inputs.entries()) {
      if (v.shape.length !== out.shape.length || v.shape.some((d, j) => d !== out.shape[j])) {
        throw new Error(
          `wasm backend: elementwise input ${i} has shape [${v.shape}] but out has [${out.shape}]: broadcast inputs to out.shape first`,
        );
      }
    }
    const n = out.shape.reduce((a, b) => a * b, 1);
    if (n === 0) return;
    const views = [out, ...inputs];
    const layout = collapseLayout(out.shape, views.map((v) => v.strides));
    const R = layout.shape.length - 1;
    if (R === 1 && n >= TRANSPOSE_MIN_ELEMENTS && this.untransposed(expr, inputs, out, layout.shape, layout.strides)) return;
    const spec: ElementwiseSpec = {
      expr,
      dtypes: views.map((v) => v.dtype),
      classes: layout.strides.map((s) => laneClass(s[R]!)),
      outerRank: R,
      fma: this.rt.relaxed,
    };
    // Expressions are immutable and graphs (and front-end rules) reuse the same objects, so
    // the expression's text key, its constant words and its kernels per layout are cached
    // on the object: a repeated dispatch builds no long key string.
    let info = this.exprInfo.get(expr);
    if (!info) {
      info = { text: exprKey(expr), consts: constWords(expr), kernels: new Map(), faults: integerDivisions(expr).length > 0 };
      this.exprInfo.set(expr, info);
    }
    const lk = layoutKey(spec);
    let kernel = info.kernels.get(lk);
    if (!kernel) {
      kernel = this.rt.kernel(elementwiseKey(spec, info.text), () => buildElementwise(spec, this.rt.pages));
      info.kernels.set(lk, kernel);
    }
    const desc = this.rt.descriptor(elementwiseDescriptor(layout, views.map((v) => this.base(v)), expr, info.consts));
    this.rt.run(kernel, desc, n, { minPerThread: EW_MIN_PER_THREAD, align: 16, chunksPerThread: CHUNKS_PER_THREAD });
    if (info.faults) this.raiseFaults();
  }

  /** Throws ZeroDivisionError if a kernel met an integer division by zero since the last
   *  check (reserved.ts: the fault word), clearing the word. */
  raiseFaults(): void {
    const ops = takeFault(this.rt.heap.i32());
    if (ops.length > 0) throw zeroDivisionError(ops);
  }

  /** For a 2-D collapsed layout [rows, cols] with out row-major and some 4-byte input
   *  column-major (strides [1, ld]): copies each such input through the blocked transpose
   *  kernel into a row-major temp (or straight into out for a plain copy) and runs the
   *  kernel on that. Returns false, doing nothing, when no input is transposed. */
  private untransposed(expr: ScalarExpr, inputs: readonly View[], out: View, shape: number[], strides: number[][]): boolean {
    const rows = shape[0]!, cols = shape[1]!;
    if (strides[0]![0] !== cols || strides[0]![1] !== 1) return false;
    const moved: number[] = [];
    inputs.forEach((v, i) => {
      const s = strides[i + 1]!;
      if (itemSize[v.dtype] === 4 && s[0] === 1 && s[1] !== 0 && s[1] !== 1) moved.push(i);
    });
    if (moved.length === 0) return false;
    const copy = expr.op === "input" && inputs.length === 1 && inputs[0]!.dtype === out.dtype && inputs[0]!.buffer.id !== out.buffer.id;
    if (copy) {
      this.transpose(this.base(inputs[0]!), this.base(out), rows, cols, strides[1]![1]!);
      return true;
    }
    const temps: Buffer[] = [];
    try {
      const replaced = inputs.slice();
      for (const i of moved) {
        const t = this.allocate(rows * cols * 4);
        temps.push(t);
        this.transpose(this.base(inputs[i]!), this.addr(t), rows, cols, strides[i + 1]![1]!);
        // out's strides address exactly rows * cols row-major elements (its layout collapsed to [cols, 1])
        replaced[i] = { buffer: t, dtype: inputs[i]!.dtype, shape: out.shape, strides: out.strides, offset: 0 };
      }
      this.elementwise(expr, replaced, out);
    } finally {
      for (const t of temps) this.free(t);
    }
    return true;
  }

  /** dst[r, c] = src[r + c * ld] for 4-byte elements, rows x cols row-major at dst. */
  private transpose(src: number, dst: number, rows: number, cols: number, ld: number): void {
    const kernel = this.rt.kernel("transpose", () => buildTranspose(this.rt.pages));
    const desc = this.rt.descriptor(transposeDescriptor(src, dst, rows, cols, ld));
    const units = Math.ceil(rows / TRANSPOSE_ROWS_PER_UNIT);
    this.rt.run(kernel, desc, units, { minPerThread: Math.ceil(EW_MIN_PER_THREAD / (TRANSPOSE_ROWS_PER_UNIT * cols)) });
  }

  /** Philox random numbers (src/random/philox.ts, shared with every backend so streams are
   *  identical across backends and thread counts), generated on the calling thread. */
  random(dist: "uniform" | "normal" | "bits", key: [number, number], counter: number, out: View): void {
    const n = out.shape.reduce((a, b) => a * b, 1);
    if (n === 0) return;
    const natural: DType = dist === "bits" ? "int32" : "float32";
    const data = dist === "bits" ? new Int32Array(n) : new Float32Array(n);
    philoxFill(dist, key, counter, 0, n, data);
    if (isContiguous(out) && out.dtype === natural) {
      this.write(out.buffer, out.dtype, out.offset, data);
      return;
    }
    // other layouts or dtypes: through a temp and a casting copy
    const t = this.temp(natural, out.shape);
    try {
      this.write(t.buffer, t.dtype, 0, data);
      this.elementwise({ op: "input", index: 0, dtype: t.dtype }, [t], out);
    } finally {
      this.free(t.buffer);
    }
  }

  /** Temporary contiguous buffer of `shape`; the caller frees it. */
  temp(dtype: DType, shape: readonly number[]): View {
    const n = shape.reduce((a, b) => a * b, 1);
    const buffer = this.allocate(n * itemSize[dtype]);
    return { buffer, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
  }

  matmul(a: View, b: View, out: View, epilogue: ScalarExpr | undefined, epilogueInputs: readonly View[]): void {
    const ra = a.shape.length, rb = b.shape.length, ro = out.shape.length;
    const where = `matmul: [${a.shape}] @ [${b.shape}] -> [${out.shape}]`;
    if (ra < 2 || rb < 2 || ro < 2) throw new Error(`${where}: operands must have rank >= 2 (the front end adds unit dims)`);
    if (a.dtype !== "float32" || b.dtype !== "float32" || out.dtype !== "float32") {
      throw new Error(`${where}: dtypes ${a.dtype} @ ${b.dtype} -> ${out.dtype}: the wasm matmul is float32 only; cast first`);
    }
    const M = a.shape[ra - 2]!, K = a.shape[ra - 1]!, N = b.shape[rb - 1]!;
    if (b.shape[rb - 2] !== K || out.shape[ro - 2] !== M || out.shape[ro - 1] !== N) {
      throw new Error(`${where}: inner dimensions differ or out has the wrong shape (${K} vs ${b.shape[rb - 2]})`);
    }
    const batchShape = out.shape.slice(0, ro - 2);
    const batch = batchShape.reduce((x, y) => x * y, 1);
    if (!isContiguous(out)) {
      const t = this.temp("float32", out.shape);
      try {
        this.matmul(a, b, t, epilogue, epilogueInputs);
        this.elementwise({ op: "input", index: 0, dtype: "float32" }, [t], out);
      } finally {
        this.free(t.buffer);
      }
      return;
    }
    if (batch === 0 || M === 0 || N === 0) return;
    if (K === 0) {
      this.elementwise({ op: "const", value: 0, dtype: "float32" }, [], out);
    } else {
      const heap = this.rt.heap;
      // batch tables: byte address of each batch's A and B (broadcast via batch strides)
      const tables = heap.alloc(batch * 8);
      const scratchThreads = this.rt.threads;
      let scratch = 0;
      try {
        const i32 = heap.i32();
        const aBase = this.base(a), bBase = this.base(b);
        const idx = new Array<number>(batchShape.length).fill(0);
        for (let p = 0; p < batch; p++) {
          let offA = 0, offB = 0;
          for (let d = 0; d < batchShape.length; d++) {
            const da = ra - 2 - (batchShape.length - d), db = rb - 2 - (batchShape.length - d);
            if (da >= 0 && a.shape[da] !== 1) offA += idx[d]! * a.strides[da]!;
            if (db >= 0 && b.shape[db] !== 1) offB += idx[d]! * b.strides[db]!;
          }
          i32[tables / 4 + p] = aBase + offA * 4;
          i32[tables / 4 + batch + p] = bBase + offB * 4;
          for (let d = batchShape.length - 1; d >= 0; d--) {
            if (++idx[d]! < batchShape[d]!) break;
            idx[d] = 0;
          }
        }
        // column blocks: enough units for every thread, NR-aligned
        const threads = this.rt.threadsFor(batch * Math.ceil(N / NR) * M * K, 1 << 16);
        const perBatch = batch >= threads ? 1 : Math.ceil(threads / batch);
        const NC = Math.min(Math.ceil(N / perBatch / NR) * NR, Math.ceil(N / NR) * NR, Math.ceil(this.maxNC / NR) * NR);
        const nJc = Math.ceil(N / NC);
        const per = Math.ceil(gemmScratchBytes(this.gemmCfg, NC) / 64) * 64;
        scratch = heap.alloc(per * scratchThreads);
        const cfg = this.gemmCfg;
        const kernel = this.rt.kernel(`gemm|${cfg.mr}|${cfg.mc}|${cfg.fma}|${cfg.unroll}`, () => buildGemm(cfg, this.rt.pages));
        const desc = this.rt.descriptor([
          M, N, K, a.strides[ra - 2]!, a.strides[ra - 1]!, b.strides[rb - 2]!, b.strides[rb - 1]!,
          this.base(out), N, nJc, NC, tables, tables + batch * 4, M * N * 4, scratch, per, gemmBlockDepth(K),
        ]);
        this.rt.run(kernel, desc, batch * nJc, { threads });
      } finally {
        heap.free(tables);
        if (scratch) heap.free(scratch);
      }
    }
    if (epilogue) this.elementwise(epilogue, [out, ...epilogueInputs], out);
  }
}

function castExpr(e: ScalarExpr, dtype: DType): ScalarExpr {
  return e.dtype === dtype ? e : { op: "cast", x: e, dtype };
}

function checkRange(op: string, buffer: Buffer, startByte: number, bytes: number): void {
  if (startByte < 0 || startByte + bytes > buffer.bytes) {
    throw new RangeError(
      `wasm backend: ${op} of bytes [${startByte}, ${startByte + bytes}) is outside buffer ${buffer.id} of ${buffer.bytes} bytes`,
    );
  }
}

export type { WasmBackendImpl };

/** Creates a wasm backend. Compiles kernels synchronously; worker threads start lazily. */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackendImpl(options);
}
