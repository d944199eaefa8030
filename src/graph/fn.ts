// tb.fn (also tb.jit) and tb.trace: graph mode's front door.
//
// tb.fn(f) returns a function that, on its first call for each input signature, traces f
// into a graph, optimizes and compiles it, caches the program, and runs it; later calls
// with the same signature only run the program. Updates recorded in f (Variable.assign,
// optimizer steps) are written into the variables after each run.
//
// A compiled function never serves a stale program. The cache key is the signature of
// the arguments (their structure, every tensor's shape and dtype, every other value) plus
// the global modes a trace reads (grad recording, the backend); each
// program also carries the guards its trace declared (module attributes such as
// `training`, optimizer hyperparameters, whether a variable's .grad was null), checked
// before each run: when one fails, f is traced again for the new state. Tensors captured
// from the enclosing scope are refused at trace time (graph/trace.ts says why).
//
// When a call needs gradients through f (grad recording on and an argument requires
// grad), f runs eagerly so the tape sees every op: tb.grad(tb.fn(f)) is correct, just not
// compiled. So it does while tb.debug.checkNumerics is on, so that every op is checked. tb.trace(f, ...args) returns the Graph without compiling or running it.

import { getBackend } from "../core/runtime.js";
import { isCheckingNumerics, isGradEnabled } from "../core/trace.js";
import type { Tensor } from "../tensor/tensor.js";
import { compile, type CompileStats, type Executable } from "./compile.js";
import type { Graph } from "./ir.js";
import { traceFunction, type GradWrite, type Guard } from "./trace.js";
import { flatten, signature, unflatten, type Flat, type TreeDef } from "./tree.js";

/** Programs kept per cache key (one per combination of guard outcomes seen); past this
 *  the oldest is dropped, as torch.compile bounds its recompilations. */
const MAX_VARIANTS = 8;

interface Entry {
  exe: Executable;
  outDef: TreeDef;
  /** How many graph outputs belong to the result (the rest are gradients, gradWrites). */
  results: number;
  guards: Guard[];
  implicit: (() => Tensor)[];
  gradWrites: GradWrite[];
}

export interface CompiledFunction<A extends unknown[], R> {
  (...args: A): R;
  /** The optimized graph compiled for these arguments' signature (traces if needed). */
  graph(...args: A): Graph;
  /** Compilation statistics for these arguments' signature (kernels, fusion, memory). */
  stats(...args: A): CompileStats;
  /** Number of programs compiled and kept so far (one per signature and guard outcome). */
  readonly cacheSize: number;
  /** Forgets every compiled program (to free memory). */
  clear(): void;
}

/**
 * Compiles f: traced once per input signature into a graph, optimized, fused into
 * WebAssembly kernels and cached; later calls with the same signature run the program.
 *
 * Rules (what makes a program valid, and when f is traced again):
 * - Tensors reach f as arguments (at any depth of arrays and plain objects) or as
 *   Variables (`tb.variable`, module parameters and buffers, optimizer state), which are
 *   read and written at every call. A plain tensor captured from the enclosing scope is
 *   an error at trace time: its value would be frozen into the program. Pass it as an
 *   argument or make it a `tb.variable`.
 * - Numbers, strings and booleans in the arguments are static: a new value traces anew.
 *   Non-tensor values captured from the enclosing scope are read once, when tracing.
 * - Grad mode and the backend are part of the cache key; module settings read while
 *   tracing (`training`, dropout `p`...) and optimizer hyperparameters are guards: change
 *   them and the next call traces again.
 * - `loss.backward()` inside f leaves each variable's gradient in its `.grad` after the
 *   call, as eagerly; a `.grad` that f reads before writing (gradient accumulation) is an
 *   input of the program.
 * - If grad recording is on and an argument requires grad, f runs eagerly (so that an
 *   outer tb.grad or backward sees its ops); so it does while `tb.debug.checkNumerics`
 *   is on (so that every op is checked).
 *
 * @example
 * const W = tb.variable(tb.randn([784, 10]), { name: "W" });
 * const opt = new tb.optim.SGD([W], { lr: 0.1 });
 * const step = tb.fn((x: tb.Tensor, y: tb.Tensor) => opt.minimize(tb.crossEntropy(x.matmul(W), y)));
 * const loss = step(xBatch, yBatch);   // traced and compiled once, then only run
 */
export function fn<A extends unknown[], R>(f: (...args: A) => R): CompiledFunction<A, R> {
  const cache = new Map<string, Entry[]>();
  let size = 0;
  let warned = false;
  const keyOf = (flat: Flat): string =>
    `${signature(flat)}|grad=${isGradEnabled()}|${getBackend().name}`;
  const entryFor = (args: unknown[], flat = flatten(args)): Entry => {
    const key = keyOf(flat);
    let entries = cache.get(key);
    let failed: Guard | undefined;
    const hit = entries?.find((e) => e.guards.every((g) => g.holds() || ((failed = g), false)));
    if (hit) return hit;
    const traced = traceFunction(f as (...a: never[]) => unknown, args);
    const entry: Entry = {
      exe: compile(traced.graph, getBackend(), { random: traced.random }),
      outDef: traced.outDef,
      results: traced.results,
      guards: traced.guards,
      implicit: traced.implicit,
      gradWrites: traced.gradWrites,
    };
    if (!entries) cache.set(key, (entries = []));
    entries.push(entry);
    size++;
    if (entries.length > MAX_VARIANTS) {
      entries.shift()!.exe.dispose();
      size--;
      if (!warned) {
        warned = true;
        console.warn(
          `tb.fn: ${f.name || "a function"} was traced more than ${MAX_VARIANTS} times for one signature, each time because ` +
            `state it read had changed (last: ${failed?.what}); every call now traces and compiles anew. Keep that state ` +
            `fixed, pass it as an argument, or hold it in a tb.variable.`,
        );
      }
    }
    return entry;
  };
  const call = (...args: A): R => {
    const flat = flatten(args);
    if (isCheckingNumerics() || (isGradEnabled() && flat.leaves.some((t) => t.requiresGrad))) return f(...args);
    const entry = entryFor(args, flat);
    const inputs = entry.implicit.length === 0 ? flat.leaves : [...flat.leaves, ...entry.implicit.map((read) => read())];
    const outs = entry.exe.run(inputs);
    for (const w of entry.gradWrites) w.variable.grad = w.output === null ? null : outs[w.output]!;
    return unflatten(entry.outDef, outs.length === entry.results ? outs : outs.slice(0, entry.results)) as R;
  };
  const compiled = Object.assign(call, {
    graph: (...args: A) => entryFor(args).exe.graph,
    stats: (...args: A) => entryFor(args).exe.stats,
    clear: () => {
      // Forget first: a clear stopped half-way by an interrupt must not leave a disposed
      // program in the cache (Executable.run refuses to run one).
      const all = [...cache.values()].flat();
      cache.clear();
      size = 0;
      for (const e of all) e.exe.dispose();
    },
  });
  Object.defineProperty(compiled, "cacheSize", { get: () => size });
  return compiled as CompiledFunction<A, R>;
}

/**
 * The graph of f on these example arguments: traced, not optimized, not run. Unlike tb.fn,
 * tensors captured from the enclosing scope are allowed here and drawn as constants.
 */
export function trace<A extends unknown[]>(f: (...args: A) => unknown, ...args: A): Graph {
  return traceFunction(f as (...a: never[]) => unknown, args, "constant").graph;
}
