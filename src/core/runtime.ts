// Runtime state of the library: the current backend, storage lifetimes and memory scopes.
//
// Storage is a refcounted backend buffer shared by a tensor and all of its views. A tensor
// holds one reference; it gives it back through dispose(), `using`, the end of a tb.scope,
// or a FinalizationRegistry when the tensor object is garbage collected. Allocation
// pressure (bytes allocated since the last pass above a threshold) triggers a collection
// when the host exposes `gc` (the kernel runs node with --expose-gc); when the runtime also
// has FinalizationRegistry.prototype.cleanupSome (node --harmony-weak-refs-with-cleanup-some,
// which the kernel passes too) finalizers run synchronously, so even a synchronous
// training loop that never disposes anything runs in flat memory. Without cleanupSome the
// finalizers run when the loop yields to the event loop.

import { AsyncLocalStorage } from "node:async_hooks";
import type { Backend, Buffer } from "../backend/backend.js";
import { createWasmBackend } from "../backend/wasm/index.js";

let current: Backend | undefined;

/** The backend new tensors are created on: the WebAssembly SIMD backend unless set (tests
 *  also run everything on the plain TypeScript reference backend, the oracle). */
export function getBackend(): Backend {
  if (!current) current = createWasmBackend();
  return current;
}

export function setBackend(b: Backend): void {
  current = b;
}

/** Worker threads of the current backend (results are identical for any count); a no-op on
 *  backends without threads, such as the reference one. */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setThreads: expected a positive integer, got ${n}`);
  getBackend().setThreads?.(n);
}

export class Storage {
  refs = 1;
  constructor(readonly backend: Backend, readonly buffer: Buffer) {
    stats.bytes += buffer.bytes;
  }
  retain(): this {
    if (this.refs <= 0) throw new Error("internal: retain of a freed storage");
    this.refs++;
    return this;
  }
  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      this.backend.free(this.buffer);
      stats.bytes -= this.buffer.bytes;
    }
  }
}

const stats = { tensors: 0, bytes: 0, sinceCollect: 0 };

/** Bytes allocated since the last collection that trigger the next one. */
let collectThreshold = 64 * 2 ** 20;

export function setCollectThreshold(bytes: number): void {
  collectThreshold = bytes;
}

type Cleanup = { cleanupSome?: (cb?: (held: unknown) => void) => void };

const registry = new FinalizationRegistry<{ storage: Storage | null }>((held) => {
  stats.tensors--;
  held.storage?.release();
});

/** Runs a garbage collection (when exposed) and, when possible, the finalizers right away. */
export function collect(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  stats.sinceCollect = 0;
  if (typeof gc !== "function") return false;
  gc();
  const r = registry as unknown as Cleanup;
  if (typeof r.cleanupSome === "function") r.cleanupSome();
  return true;
}

/** Allocates a buffer; on failure collects garbage and retries once, then throws an
 *  out-of-memory error that says what was asked for and what is live. */
export function allocate(backend: Backend, bytes: number, what: string | (() => string)): Storage {
  stats.sinceCollect += bytes;
  if (stats.sinceCollect > collectThreshold) collect();
  let buf: Buffer;
  try {
    buf = backend.allocate(bytes);
  } catch (e1) {
    collect();
    try {
      buf = backend.allocate(bytes);
    } catch (e2) {
      const err = new RangeError(
        `${typeof what === "string" ? what : what()}: out of memory allocating ${bytes} bytes on the ${backend.name} backend ` +
          `(${stats.tensors} live tensors, ${stats.bytes} bytes in use). Dispose tensors you no longer need ` +
          `(x.dispose(), tb.scope) or use smaller shapes. Cause: ${(e2 as Error).message ?? e1}`,
      );
      throw err;
    }
  }
  return new Storage(backend, buf);
}

/** The handle a tensor keeps for its storage reference. */
export interface Lifetime {
  held: { storage: Storage | null };
}

export function track(owner: object, storage: Storage | null): Lifetime {
  const held = { storage };
  stats.tensors++;
  registry.register(owner, held, held);
  const frame = scopes.getStore();
  if (frame) frame.created.push(owner);
  return { held };
}

/** Releases a tensor's storage reference now; true if it was live. */
export function untrack(life: Lifetime): boolean {
  if (!registry.unregister(life.held)) return false;
  stats.tensors--;
  life.held.storage?.release();
  life.held.storage = null;
  return true;
}

export function memory(): { tensors: number; bytes: number } {
  return { tensors: stats.tensors, bytes: stats.bytes };
}

// ---------------------------------------------------------------------------------------
// Scopes: everything created inside is disposed at the end except what is returned (and
// what the returned tensors' autograd tape still needs).

interface Frame {
  created: object[];
}

const scopes = new AsyncLocalStorage<Frame>();

export interface ScopeHooks {
  /** Objects to keep: the tensors found in the result plus their tape ancestors. */
  keep(result: unknown): Set<object>;
  dispose(obj: object): void;
}

let hooks: ScopeHooks | undefined;
export function installScopeHooks(h: ScopeHooks): void {
  hooks = h;
}

function finish(frame: Frame, result: unknown): void {
  const keep = hooks!.keep(result);
  const parent = scopes.getStore();
  for (const t of frame.created) {
    if (keep.has(t)) parent?.created.push(t);
    else hooks!.dispose(t);
  }
}

export function scope<T>(fn: () => T): T {
  const frame: Frame = { created: [] };
  let result: T;
  try {
    result = scopes.run(frame, fn);
  } catch (e) {
    finish(frame, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        finish(frame, v);
        return v;
      },
      (e) => {
        finish(frame, undefined);
        throw e;
      },
    ) as T;
  }
  finish(frame, result);
  return result;
}
