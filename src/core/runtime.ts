// Runtime state of the library: the current backend, storage lifetimes and memory scopes.
//
// Storage is a refcounted backend buffer shared by a tensor and all of its views. A tensor
// holds one reference; it gives it back through dispose(), `using`, the end of a tb.scope,
// or a FinalizationRegistry when the tensor object is garbage collected.
//
// Backend memory is invisible to V8, so the library collects on allocation pressure: when
// the bytes allocated since the last pass exceed max(32 MB, bytes live after that pass) it
// runs a full GC and then the finalizers at once with FinalizationRegistry.prototype.cleanupSome. gc is the host's (the kernel runs
// node with --expose-gc) or, in plain Node, one obtained by setting the V8 flag at run
// time; cleanupSome comes from a registry built in a fresh context after enabling
// --harmony-weak-refs-with-cleanup-some the same way. So even a synchronous training loop
// that never disposes anything runs in flat memory. Where neither is possible, finalizers
// run whenever V8 collects and the loop yields to the event loop.
//
// Interrupts (core/interrupt.ts) can stop the thread between an allocation and the tensor
// that takes it over, or inside a tb.scope: fresh storages stay on a list until an owner
// takes them, and scopes running synchronously stay on a stack, so recovery frees the first
// and ends the second as if an exception had passed through.

import { AsyncLocalStorage } from "node:async_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Backend, Buffer } from "../backend/backend.js";
import { createWasmBackend } from "../backend/wasm/index.js";
import { onInterrupt } from "./interrupt.js";

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

/** Threads the current backend uses for large kernels (1 for the reference backend). */
export function getThreads(): number {
  return getBackend().threads ?? 1;
}

/**
 * A refcounted backend buffer. Invariant: an owner takes it (a tensor, through track, or a
 * holder that sets `owned`, such as a compiled program's arena) before control returns to
 * user code; until then it is on the `unowned` list, and recovery after an interrupt frees
 * it (the code that would have released it on an error never ran).
 */
export class Storage {
  refs = 1;
  owned = false;
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
      // Counts first: an interrupt at the backend call then loses a block of the backend's
      // heap, never the accuracy of memory().
      stats.bytes -= this.buffer.bytes;
      // what is freed is not garbage waiting for a collection
      stats.sinceCollect = Math.max(0, stats.sinceCollect - this.buffer.bytes);
      this.backend.free(this.buffer);
    }
  }
}

const stats = { tensors: 0, bytes: 0, sinceCollect: 0 };

/** Storages allocated and not yet owned, plus ones owned or freed since (dropped when the
 *  list reaches `compactAt`, so it holds about as many entries as are in flight). */
let unowned: Storage[] = [];
let compactAt = 64;

function noteUnowned(s: Storage): void {
  if (unowned.push(s) < compactAt) return;
  unowned = unowned.filter((x) => !x.owned && x.refs > 0);
  compactAt = Math.max(64, 2 * unowned.length);
}

/** Growth of allocated bytes since the last collection (allocations less frees, so code
 *  that disposes what it makes never pays for one) that triggers the next. Each pass is a
 *  full gc (several ms); at 32 MiB an eager MLP step (784-512-256-10, batch 128, Adam:
 *  ~40 MB of temporaries) paid one per step, ~25% of its time. 128 MiB keeps the wasm heap
 *  bounded (live bytes + 128 MiB of garbage) at a quarter of the collections. */
let collectThreshold = 128 * 2 ** 20;

let nextPass = collectThreshold;

export function setCollectThreshold(bytes: number): void {
  collectThreshold = bytes;
  nextPass = bytes;
}

type Held = { storage: Storage | null };
type Registry<T> = FinalizationRegistry<T> & { cleanupSome?: (cb?: (held: T) => void) => void };
type GcFn = (options?: { type?: "minor" | "major" }) => void;

/** Gives a tensor's reference back once: from dispose() or from its finalizer. */
function releaseHeld(held: Held): boolean {
  const s = held.storage;
  if (!s) return false;
  held.storage = null;
  stats.tensors--;
  s.release();
  return true;
}

function onFinalize(held: Held): void {
  releaseHeld(held);
}

/** A registry with cleanupSome when V8 allows it (built in a fresh context after enabling
 *  the flag), else a plain one. */
function makeRegistry<T>(onFinalize: (held: T) => void): Registry<T> {
  try {
    setFlagsFromString("--harmony-weak-refs-with-cleanup-some");
    const FR = runInNewContext("FinalizationRegistry") as typeof FinalizationRegistry;
    if (typeof (FR.prototype as Registry<T>).cleanupSome === "function") return new FR<T>(onFinalize) as Registry<T>;
  } catch {
    // fall through: finalizers then run when the event loop turns
  }
  return new FinalizationRegistry<T>(onFinalize) as Registry<T>;
}

const registry = makeRegistry<Held>(onFinalize);

/** Storages of holders collected without being disposed (see releaseWhenCollected). */
const holders = makeRegistry<readonly Storage[]>((storages) => {
  for (const s of storages) s.release();
});

/**
 * Releases `storages` when `holder` is garbage collected, in case it is dropped without
 * being disposed: a compiled program that a clear() stopped half-way by an interrupt
 * forgot but never freed. Each storage must be held by the holder alone, with one
 * reference, so that releasing one its dispose() already released does nothing.
 */
export function releaseWhenCollected(holder: object, storages: readonly Storage[]): void {
  holders.register(holder, storages);
}

let gcFn: GcFn | null | undefined;
/** The host's gc, else one enabled at run time; null when neither is possible. */
function findGc(): GcFn | null {
  const host = (globalThis as { gc?: GcFn }).gc;
  if (typeof host === "function") return host;
  if (gcFn !== undefined) return gcFn;
  try {
    setFlagsFromString("--expose-gc");
    const f = runInNewContext("gc") as unknown;
    gcFn = typeof f === "function" ? (f as GcFn) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Runs a full garbage collection and the pending finalizers now; false when no gc is
 *  reachable. (An explicit young-generation pass does not run finalizers in V8, so
 *  pressure-triggered passes are full ones; the threshold bounds how often they run.) */
export function collect(): boolean {
  stats.sinceCollect = 0;
  const gc = findGc();
  if (!gc) return false;
  gc();
  registry.cleanupSome?.();
  holders.cleanupSome?.();
  // Like a GC's heap-growth factor: the next pass waits for as many bytes as are live now
  // (at least the threshold), so collection costs stay proportional to allocation.
  nextPass = Math.max(collectThreshold, stats.bytes);
  return true;
}

/** A byte count for error messages: "512 bytes", "3.5 MiB", "9.3 GiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} bytes`;
  if (bytes < 2 ** 20) return `${bytes} bytes`;
  return bytes < 2 ** 30 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/**
 * Throws a RangeError when `bytes` is more than the backend can ever hold (Backend.maxBytes),
 * before anything is allocated: creation ops call it before they fill a host array, so a
 * shape that cannot fit fails at once instead of after gigabytes of host memory are filled.
 */
export function checkCapacity(backend: Backend, bytes: number, what: string | (() => string)): void {
  const max = backend.maxBytes;
  if (max === undefined || bytes <= max) return;
  throw new RangeError(
    `${typeof what === "string" ? what : what()}: needs ${formatBytes(bytes)}${bytes >= 2 ** 20 ? ` (${bytes} bytes)` : ""}, more than the ` +
      `${backend.name} backend can ever hold (${formatBytes(max)} in all). Use smaller shapes, or split the data into batches.`,
  );
}

/** Allocates a buffer; on failure collects garbage and retries once, then throws an
 *  out-of-memory error that says what was asked for and what is live. */
export function allocate(backend: Backend, bytes: number, what: string | (() => string)): Storage {
  checkCapacity(backend, bytes, what);
  stats.sinceCollect += bytes;
  if (stats.sinceCollect > nextPass) collect();
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
  const s = new Storage(backend, buf);
  noteUnowned(s);
  return s;
}

/** The handle a tensor keeps for its storage reference. */
export interface Lifetime {
  held: { storage: Storage | null };
}

export function track(owner: object, storage: Storage | null): Lifetime {
  const held = { storage };
  stats.tensors++;
  // No unregister token (V8 keeps a token table per registry); dispose() empties `held`
  // instead, and the finalizer then does nothing.
  registry.register(owner, held);
  if (storage) storage.owned = true;
  const frame = scopes.getStore();
  if (frame !== undefined && !frame.ended) frame.created.push(owner);
  return { held };
}

/** Releases a tensor's storage reference now; true if it was live. */
export function untrack(life: Lifetime): boolean {
  return releaseHeld(life.held);
}

export function memory(): { tensors: number; bytes: number } {
  return { tensors: stats.tensors, bytes: stats.bytes };
}

// ---------------------------------------------------------------------------------------
// Scopes: everything created inside is disposed at the end except what is returned (and
// what the returned tensors' autograd tape still needs).

interface Frame {
  created: object[];
  /** Set when the frame was finished by recovery after an interrupt; an async context the
   *  interrupt left pointing at it then records nothing more in it. */
  ended: boolean;
}

const scopes = new AsyncLocalStorage<Frame>();
/** Frames whose fn is running synchronously, innermost last (sync calls nest). */
const running: Frame[] = [];

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
  const frame: Frame = { created: [], ended: false };
  let result: T;
  running.push(frame);
  try {
    result = scopes.run(frame, fn);
  } catch (e) {
    running.pop();
    finish(frame, undefined);
    throw e;
  }
  running.pop();
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

// After an interrupt: storages nobody took are freed (a result being computed, a compiled
// program's buffers for the call); scopes the interrupt left running end as on an error,
// innermost first, disposing what they created.
onInterrupt(() => {
  for (const s of unowned) {
    if (!s.owned && s.refs > 0) {
      s.refs = 1;
      s.release();
    }
  }
  unowned = [];
  compactAt = 64;
  for (let frame = running.pop(); frame !== undefined; frame = running.pop()) {
    finish(frame, undefined);
    frame.ended = true;
  }
});
