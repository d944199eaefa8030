// The worker-thread pool: every worker instantiates the same kernel modules on the same
// shared memory and runs `run(desc, start, end, tid)` on a range of a kernel's work.
//
// Work is handed out through a control block at the bottom of the shared memory, not by
// postMessage per task (a dispatch then costs microseconds):
//   word GEN0 + 8*w : generation counter of worker w (bumped by the caller per task)
//   word SLOT0 + 8*w: [module id, desc, start, end, tid] of worker w's task
//   word DONE       : tasks finished in the current dispatch; ERR: a worker trapped
// A worker spins for SPIN_MS after its last task, then sleeps in Atomics.wait on its
// generation word: waking a sleeping thread costs tens of microseconds (more under a
// hypervisor), as much as a whole 1M-element kernel, and an eager or compiled program
// dispatches kernels back to back with only JS work between them. Like OpenMP's spin-wait
// policy, the cost is a core kept busy for SPIN_MS after the last kernel. The caller
// runs its own share (tid 0) and then waits on DONE. Compiled modules are posted once to
// each worker; a worker drains its port with receiveMessageOnPort when it meets a module
// id it has not instantiated. Workers are unref'd, so an idle pool never keeps the process
// alive.
//
// An abandoned dispatch: an interrupt (vm's breakOnSigint, which terminates the calling
// thread's JavaScript without running catch or finally blocks) can stop the calling thread
// inside run/runChunks while workers still run their tasks and write into the shared
// memory; the next dispatch would then reset DONE and NEXT under them, and the buffers of
// the interrupted call could be freed and reused while being written (seen: a matmul after
// an interrupted 2-thread matmul loop gave different bits in 3 of 5 trials). So a dispatch
// marks itself in flight before posting and clears the mark when waitDone returns, and
// every entry to the backend calls settleDispatch() first: one load and compare when no
// dispatch was abandoned; otherwise it stops chunked work from claiming more chunks and
// waits until each worker's FIN word equals its generation word (every task posted, per
// the control block itself, has finished), whatever the caller's JavaScript got to record.

import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import type { WasmMemory, WasmModule } from "./api.js";

const CTL_BASE = 64; // byte address of the control block (memory.ts reserves [64, 64 KiB))
const DONE = CTL_BASE / 4;
const ERR = DONE + 1;
/** Next chunk to claim in a dynamic dispatch (DONE + 2 is the workers' dummy sleep word). */
const NEXT = DONE + 3;
const GEN0 = DONE + 16;
const SLOT0 = GEN0 + 4;
/** Control words per worker: generation word, then the 6-word task slot
 *  [module, desc, start, end, tid, 0] or, for chunks claimed dynamically,
 *  [module, desc, units, chunk, tid, 1], then FIN: the generation of the last task the
 *  worker finished (equal to the generation word when the worker is idle). */
const STRIDE = 16;
/** Offset of FIN in a worker's task slot. */
const FIN = 6;
/** NEXT value that hands out no more chunks (far below 2^31, so the workers' last
 *  increments cannot wrap it). */
const STOP = 1 << 30;
const MAX_WORKERS = 255;
/** How long an idle worker spins before sleeping (see the header). */
const SPIN_MS = 2;

const workerSource = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { memory, port, w, gen0 } = workerData;
const ctl = new Int32Array(memory.buffer, 0, 16384);
const modules = new Map();
const runs = [];
const GEN = ${GEN0} + ${STRIDE} * w, SLOT = ${SLOT0} + ${STRIDE} * w;
const spinUntilChanged = (g) => {
  const deadline = performance.now() + ${SPIN_MS};
  for (let spin = 1; Atomics.load(ctl, GEN) === g; spin++) {
    if ((spin & 1023) === 0 && performance.now() > deadline) return;
  }
};
let gen = gen0; // the value when the caller created this worker: tasks may be posted before it starts
for (;;) {
  spinUntilChanged(gen);
  Atomics.wait(ctl, GEN, gen);
  const g = Atomics.load(ctl, GEN);
  if (g === gen) continue;
  gen = g;
  const id = ctl[SLOT];
  try {
    let run = runs[id];
    if (run === undefined) {
      while (!modules.has(id)) {
        const m = receiveMessageOnPort(port);
        if (m === undefined) { Atomics.wait(ctl, ${ERR + 1}, 0, 1); continue; }
        modules.set(m.message.id, m.message.module);
      }
      run = runs[id] = new WebAssembly.Instance(modules.get(id), { env: { memory } }).exports.run;
    }
    if (ctl[SLOT + 5] === 0) run(ctl[SLOT + 1], ctl[SLOT + 2], ctl[SLOT + 3], ctl[SLOT + 4]);
    else {
      const desc = ctl[SLOT + 1], units = ctl[SLOT + 2], chunk = ctl[SLOT + 3], tid = ctl[SLOT + 4];
      for (let s = Atomics.add(ctl, ${NEXT}, 1) * chunk; s < units; s = Atomics.add(ctl, ${NEXT}, 1) * chunk) {
        run(desc, s, Math.min(units, s + chunk), tid);
      }
    }
  } catch (e) {
    process._rawDebug("wasm backend worker " + w + ": " + (e && e.stack || e));
    Atomics.store(ctl, ${ERR}, 1);
  }
  Atomics.store(ctl, SLOT + ${FIN}, g);
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
`;

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
  sentModules: number;
}

/** A task for one thread: its kernel entry arguments. */
export interface Task {
  desc: number;
  start: number;
  end: number;
}

/** The pool whose last dispatch the calling thread left before its workers were done (see
 *  the header), else undefined. At most one: every dispatch settles the previous first. */
let inFlight: Pool | undefined;

/**
 * Waits for the workers of a dispatch the calling thread abandoned (an interrupt stopped it
 * inside run/runChunks), so that nothing else writes the shared memory. Call before any
 * access to a pool's memory; costs one load and compare when nothing was abandoned.
 */
export function settleDispatch(): void {
  if (inFlight !== undefined) inFlight.finishAbandoned();
}

export class Pool {
  private readonly workers: PoolWorker[] = [];
  private readonly modules: WasmModule[] = [];
  private ctl: Int32Array;

  constructor(private readonly memory: WasmMemory) {
    this.ctl = new Int32Array(memory.buffer, 0, 16384);
  }

  /** Registers a compiled module; returns its id for `run`. */
  register(module: WasmModule): number {
    this.modules.push(module);
    return this.modules.length - 1;
  }

  /** Runs tasks[0] on the calling thread and tasks[1..] on workers; returns when all are done.
   *  `local` is the calling thread's instance of the module. */
  run(moduleId: number, local: (desc: number, start: number, end: number, tid: number) => void, tasks: Task[]): void {
    const n = tasks.length - 1;
    if (n > MAX_WORKERS) throw new Error(`wasm backend: at most ${MAX_WORKERS + 1} threads`);
    if (n === 0) {
      local(tasks[0]!.desc, tasks[0]!.start, tasks[0]!.end, 0);
      return;
    }
    settleDispatch();
    this.ensureWorkers(n);
    const ctl = this.ctl;
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, ERR, 0);
    inFlight = this;
    for (let w = 0; w < n; w++) {
      const t = tasks[w + 1]!;
      this.post(w, moduleId, t.desc, t.start, t.end, 0);
    }
    let error: unknown;
    try {
      local(tasks[0]!.desc, tasks[0]!.start, tasks[0]!.end, 0);
    } catch (e) {
      error = e;
    }
    this.waitDone(n);
    inFlight = undefined;
    if (error !== undefined) throw error;
    if (Atomics.load(ctl, ERR) !== 0) throw new Error("wasm backend: a kernel trapped in a worker thread");
  }

  /** Runs units [0, units) in chunks of `chunk` that the calling thread and `workers`
   *  workers claim one at a time from a shared counter: a thread that starts late (woken
   *  from sleep, or descheduled on a busy machine) just takes fewer chunks. The chunks
   *  are fixed by (units, chunk), so results do not depend on which thread ran which. */
  runChunks(moduleId: number, local: (desc: number, start: number, end: number, tid: number) => void, desc: number, units: number, chunk: number, workers: number): void {
    if (workers > MAX_WORKERS) throw new Error(`wasm backend: at most ${MAX_WORKERS + 1} threads`);
    settleDispatch();
    this.ensureWorkers(workers);
    const ctl = this.ctl;
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, ERR, 0);
    Atomics.store(ctl, NEXT, 0);
    inFlight = this;
    for (let w = 0; w < workers; w++) this.post(w, moduleId, desc, units, chunk, 1);
    let error: unknown;
    try {
      for (let s = Atomics.add(ctl, NEXT, 1) * chunk; s < units; s = Atomics.add(ctl, NEXT, 1) * chunk) {
        local(desc, s, Math.min(units, s + chunk), 0);
      }
    } catch (e) {
      error = e;
      Atomics.store(ctl, NEXT, Math.ceil(units / chunk)); // let the workers stop early
    }
    this.waitDone(workers);
    inFlight = undefined;
    if (error !== undefined) throw error;
    if (Atomics.load(ctl, ERR) !== 0) throw new Error("wasm backend: a kernel trapped in a worker thread");
  }

  /** Fills worker w's slot (see STRIDE) and wakes it. */
  private post(w: number, moduleId: number, desc: number, a: number, b: number, mode: 0 | 1): void {
    this.sendModules(this.workers[w]!);
    const ctl = this.ctl;
    const s = SLOT0 + STRIDE * w;
    ctl[s] = moduleId;
    ctl[s + 1] = desc;
    ctl[s + 2] = a;
    ctl[s + 3] = b;
    ctl[s + 4] = w + 1;
    ctl[s + 5] = mode;
    Atomics.add(ctl, GEN0 + STRIDE * w, 1);
    Atomics.notify(ctl, GEN0 + STRIDE * w);
  }

  private waitDone(n: number): void {
    const ctl = this.ctl;
    for (let spin = 0; Atomics.load(ctl, DONE) < n; spin++) {
      if (spin > 4000) {
        const d = Atomics.load(ctl, DONE);
        if (d < n) Atomics.wait(ctl, DONE, d, 50);
      }
    }
  }

  /** Ends an abandoned dispatch: no more chunks are handed out, then each worker's FIN
   *  must reach its generation word. A worker holding a static task finishes it (at most
   *  one thread's share of one kernel). Idempotent; clears the in-flight mark last, so an
   *  interrupt of this wait leaves the dispatch marked and the next entry waits again. */
  finishAbandoned(): void {
    const ctl = this.ctl;
    Atomics.store(ctl, NEXT, STOP);
    for (let w = 0; w < this.workers.length; w++) {
      const gen = GEN0 + STRIDE * w, fin = SLOT0 + STRIDE * w + FIN;
      for (;;) {
        const done = Atomics.load(ctl, DONE);
        if (Atomics.load(ctl, fin) === Atomics.load(ctl, gen)) break;
        // workers bump DONE and notify after writing FIN: this wakes on any finish
        Atomics.wait(ctl, DONE, done, 20);
      }
    }
    if (inFlight === this) inFlight = undefined;
  }

  private sendModules(pw: PoolWorker): void {
    while (pw.sentModules < this.modules.length) {
      pw.port.postMessage({ id: pw.sentModules, module: this.modules[pw.sentModules] });
      pw.sentModules++;
    }
  }

  private ensureWorkers(n: number): void {
    while (this.workers.length < n) {
      const { port1, port2 } = new MessageChannel();
      const w = this.workers.length;
      const gen0 = Atomics.load(this.ctl, GEN0 + STRIDE * w);
      // a worker of this index stopped by terminate() may have left FIN behind its generation
      Atomics.store(this.ctl, SLOT0 + STRIDE * w + FIN, gen0);
      const worker = new Worker(workerSource, {
        eval: true,
        workerData: { memory: this.memory, port: port2, w, gen0 },
        transferList: [port2],
      });
      worker.unref();
      port1.unref();
      this.workers.push({ worker, port: port1, sentModules: 0 });
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Stops all workers (they are unref'd anyway; this is for tests that want a clean slate). */
  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
