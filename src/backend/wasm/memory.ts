// The wasm backend's heap: one shared WebAssembly.Memory holding every tensor, and the
// allocator that hands out 64-byte aligned blocks of it.
//
// Layout of the memory (byte addresses):
//   [0, 64)                 null page: address 0 is never a valid buffer
//   [64, KERNEL_WORDS)      thread-pool control block (see pool.ts)
//   [KERNEL_WORDS, CONTROL_BYTES)  words generated kernels share (see reserved.ts)
//   [CONTROL_BYTES, top)    blocks handed out by the allocator, bump-allocated
// Freed blocks go on a free list keyed by their size class and are reused exactly; the
// top only moves up. Size classes: multiples of 64 bytes up to 4 KiB, then 8 classes per
// power of two (at most 12.5% slack), so a training loop that frees and re-allocates the
// same shapes reuses the same blocks and runs in flat memory.

import { wasmApi, type WasmMemory } from "./api.js";

export const PAGE = 65536;
export const ALIGN = 64;
/** Bytes reserved at the bottom of memory for the null page and the pool control block. */
export const CONTROL_BYTES = 64 * 1024;
/** Byte address of the last KiB of the control area, which kernels share (reserved.ts). */
export const KERNEL_WORDS = CONTROL_BYTES - 1024;

export class OutOfMemoryError extends Error {
  override name = "OutOfMemoryError";
}

/** Rounds a request up to its size class (always a multiple of ALIGN, at least ALIGN). */
export function sizeClass(bytes: number): number {
  if (bytes <= 4096) return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 8;
  return Math.ceil(bytes / step) * step;
}

export class Heap {
  readonly memory: WasmMemory;
  /** Hard limit in bytes (the memory's maximum, or a smaller configured limit). */
  readonly limit: number;
  private top = CONTROL_BYTES;
  private inUse = 0;
  private readonly freeLists = new Map<number, number[]>();
  /** Live blocks: address -> class size. */
  private readonly live = new Map<number, number>();

  constructor(options: { initialBytes?: number; maximumBytes?: number } = {}) {
    const maxPages = Math.ceil((options.maximumBytes ?? 2 ** 31) / PAGE);
    const initialPages = Math.min(maxPages, Math.ceil((options.initialBytes ?? 16 << 20) / PAGE));
    this.memory = new wasmApi.Memory({ initial: initialPages, maximum: maxPages, shared: true });
    this.limit = maxPages * PAGE;
  }

  get maximumPages(): number {
    return this.limit / PAGE;
  }

  /** Returns the byte address of a fresh block of at least `bytes` bytes. */
  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new RangeError(`wasm backend: cannot allocate ${bytes} bytes (need a size >= 0)`);
    }
    const size = sizeClass(bytes);
    const list = this.freeLists.get(size);
    let addr = list?.pop();
    if (addr === undefined) {
      if (this.top + size > this.limit) throw this.oom(bytes);
      addr = this.top;
      try {
        this.ensure(addr + size);
      } catch {
        // the runtime could not commit more pages (system memory): same advice
        throw this.oom(bytes);
      }
      this.top += size;
    }
    this.live.set(addr, size);
    this.inUse += size;
    return addr;
  }

  private oom(bytes: number): OutOfMemoryError {
    return new OutOfMemoryError(
      `wasm backend: out of memory allocating ${bytes} bytes (${this.inUse} in use, limit ${this.limit}): ` +
        "free tensors with dispose()/tb.scope or use smaller batches",
    );
  }

  free(addr: number): void {
    const size = this.live.get(addr);
    if (size === undefined) throw new Error(`wasm backend: free of unknown or already freed address ${addr}`);
    this.live.delete(addr);
    this.inUse -= size;
    let list = this.freeLists.get(size);
    if (!list) this.freeLists.set(size, (list = []));
    list.push(addr);
  }

  /** Addresses of the live blocks. */
  liveBlocks(): number[] {
    return [...this.live.keys()];
  }

  /** Whether `addr` is a live block. */
  isLive(addr: number): boolean {
    return this.live.has(addr);
  }

  /** Bytes held by live blocks (class sizes, so what the heap really spends on them). */
  bytesInUse(): number {
    return this.inUse;
  }

  /** High-water mark of the heap in bytes. */
  bytesReserved(): number {
    return this.top;
  }

  /** Grows the memory so that byte `end` is addressable. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow at least geometrically (1/4) so repeated small growths stay cheap.
    const want = Math.max(end, Math.min(this.limit, have + have / 4));
    this.memory.grow(Math.ceil((want - have) / PAGE));
    this.f32v = this.i32v = this.u8v = undefined;
  }

  // Views over the whole memory, made once per size (only ensure() grows it): a dispatch
  // writes its descriptor through them, and a fresh view per call was garbage per kernel.
  private f32v: Float32Array | undefined;
  private i32v: Int32Array | undefined;
  private u8v: Uint8Array | undefined;
  f32(): Float32Array { return (this.f32v ??= new Float32Array(this.memory.buffer)); }
  i32(): Int32Array { return (this.i32v ??= new Int32Array(this.memory.buffer)); }
  u8(): Uint8Array { return (this.u8v ??= new Uint8Array(this.memory.buffer)); }
}
