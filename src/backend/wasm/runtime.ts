// The wasm backend's runtime: the heap, the kernel cache and the thread pool, and the
// dispatch of one compiled kernel over tasks. Kernel files (elementwise, matmul, reduce,
// conv) build modules; this file compiles each distinct module once (keyed by its spec
// string), instantiates it on the shared memory and runs it on 1..threads threads.
//
// Every generated module exports `run(desc, start, end, tid)`: `desc` is the byte address
// of an i32 descriptor in the heap, [start, end) a range of the kernel's work units, and
// tid the thread index (0 = calling thread) for per-thread scratch.

import { availableParallelism } from "node:os";
import { wasmApi, type WasmModule } from "./api.js";
import { Fn, ModuleBuilder, S, V128 } from "./emit.js";
import { Heap } from "./memory.js";
import { Pool, type Task } from "./pool.js";
import { initReserved } from "./reserved.js";

export type RunFn = (desc: number, start: number, end: number, tid: number) => void;

export interface CompiledKernel {
  readonly id: number;
  readonly run: RunFn;
}

/** True when the runtime accepts f32x4.relaxed_madd (Node 20: --experimental-wasm-relaxed-simd). */
export function detectRelaxedSimd(): boolean {
  const mod = new ModuleBuilder({ initial: 0, maximum: 1 });
  const f = new Fn([V128, V128, V128], [V128]);
  f.get(0).get(1).get(2).v(S.f32x4_relaxed_madd);
  mod.add(f, "madd");
  try {
    return wasmApi.validate(mod.bytes());
  } catch {
    return false;
  }
}

export class Runtime {
  readonly heap: Heap;
  readonly relaxed: boolean;
  private readonly cache = new Map<string, CompiledKernel>();
  private pool: Pool | undefined;
  private nThreads: number;
  /** Descriptor scratch: words written per dispatch (the pool is idle between dispatches). */
  private descAddr = 0;
  private descWords = 0;

  constructor(options: { threads?: number; maximumBytes?: number; relaxedSimd?: boolean } = {}) {
    this.heap = new Heap({ maximumBytes: options.maximumBytes });
    initReserved(this.heap.i32());
    this.relaxed = options.relaxedSimd ?? detectRelaxedSimd();
    this.nThreads = options.threads ?? availableParallelism();
    this.setThreads(this.nThreads);
  }

  get threads(): number {
    return this.nThreads;
  }

  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > 256) {
      throw new RangeError(`wasm backend: setThreads(${n}): need an integer in [1, 256]`);
    }
    this.nThreads = n;
  }

  get pages(): { initial: number; maximum: number } {
    return { initial: 0, maximum: this.heap.maximumPages };
  }

  /** The kernel for `key`, compiling `build()` on first use. */
  kernel(key: string, build: () => ModuleBuilder): CompiledKernel {
    const have = this.cache.get(key);
    if (have) return have;
    const bytes = build().bytes();
    let module: WasmModule;
    try {
      module = new wasmApi.Module(bytes);
    } catch (e) {
      throw new Error(`wasm backend: generated kernel failed to compile (${key.slice(0, 200)}): ${String(e)}`);
    }
    const instance = new wasmApi.Instance(module, { env: { memory: this.heap.memory } });
    const id = this.poolOrCreate().register(module);
    const k: CompiledKernel = { id, run: instance.exports["run"] as RunFn };
    this.cache.set(key, k);
    return k;
  }

  get workersStarted(): number {
    return this.pool?.size ?? 0;
  }

  get kernelCount(): number {
    return this.cache.size;
  }

  private poolOrCreate(): Pool {
    if (!this.pool) this.pool = new Pool(this.heap.memory);
    return this.pool;
  }

  /** Writes a descriptor into heap scratch and returns its byte address. Valid until the
   *  next call (dispatches are sequential on the calling thread). */
  descriptor(words: ArrayLike<number>): number {
    if (words.length > this.descWords) {
      // new block first, fields next, old block last: an interrupt at any call here leaves
      // the fields describing a live block (at worst the old one is lost; see index.ts)
      const n = Math.max(256, words.length);
      const addr = this.heap.alloc(n * 4);
      const old = this.descAddr;
      this.descAddr = addr;
      this.descWords = n;
      if (old) this.heap.free(old);
    }
    this.heap.i32().set(words, this.descAddr / 4);
    return this.descAddr;
  }

  /** The heap block holding descriptors (0 before the first), which outlives dispatches. */
  get descriptorBlock(): number {
    return this.descAddr;
  }

  /** Runs `k` over work units [0, units), split into at most `threads` contiguous ranges
   *  (aligned to `align` units) when there are at least `minPerThread` units per thread;
   *  with `chunksPerThread`, into that many chunks per thread, claimed dynamically (for
   *  kernels whose calls need no per-call setup and whose units are independent). */
  run(k: CompiledKernel, desc: number, units: number, opts: { minPerThread?: number; align?: number; threads?: number; chunksPerThread?: number } = {}): void {
    if (units <= 0) return;
    const align = opts.align ?? 1;
    const minPer = opts.minPerThread ?? 1;
    const t = Math.max(1, Math.min(opts.threads ?? this.nThreads, Math.floor(units / minPer)));
    if (t === 1) {
      k.run(desc, 0, units, 0);
      return;
    }
    if (opts.chunksPerThread) {
      const chunk = Math.ceil(units / (t * opts.chunksPerThread) / align) * align;
      this.poolOrCreate().runChunks(k.id, k.run, desc, units, chunk, t - 1);
      return;
    }
    const tasks: Task[] = [];
    const chunk = Math.ceil(units / t / align) * align;
    for (let s = 0; s < units; s += chunk) tasks.push({ desc, start: s, end: Math.min(units, s + chunk) });
    this.poolOrCreate().run(k.id, k.run, tasks);
  }

  /** Number of threads `run` would use for `units` units at `minPerThread`. */
  threadsFor(units: number, minPerThread: number): number {
    return Math.max(1, Math.min(this.nThreads, Math.floor(units / minPerThread)));
  }

  async terminate(): Promise<void> {
    await this.pool?.terminate();
  }
}
