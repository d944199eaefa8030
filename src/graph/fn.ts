// tb.fn (also tb.jit) and tb.trace: graph mode's front door.
//
// tb.fn(f) returns a function that, on its first call for each input signature (the
// structure of its arguments, every tensor's shape and dtype, every other value), traces f
// into a graph, optimizes and compiles it, caches the program, and runs it; later calls
// with the same signature only run the program. Updates recorded in f (Variable.assign,
// optimizer steps) are written into the variables after each run.
//
// When a call needs gradients through f (grad recording on and an argument requires
// grad), f runs eagerly so the tape sees every op: tb.grad(tb.fn(f)) is correct, just not
// compiled. tb.trace(f, ...args) returns the Graph without compiling or running it.

import { getBackend } from "../core/runtime.js";
import { isGradEnabled } from "../core/trace.js";
import { compile, type CompileStats, type Executable } from "./compile.js";
import type { Graph } from "./ir.js";
import { traceFunction } from "./trace.js";
import { flatten, signature, unflatten, type TreeDef } from "./tree.js";

interface Entry {
  exe: Executable;
  outDef: TreeDef;
}

export interface CompiledFunction<A extends unknown[], R> {
  (...args: A): R;
  /** The optimized graph compiled for these arguments' signature (traces if needed). */
  graph(...args: A): Graph;
  /** Compilation statistics for these arguments' signature (kernels, fusion, memory). */
  stats(...args: A): CompileStats;
  /** Number of distinct signatures compiled so far. */
  readonly cacheSize: number;
  /** Forgets every compiled program (variables replaced, or to free memory). */
  clear(): void;
}

export function fn<A extends unknown[], R>(f: (...args: A) => R): CompiledFunction<A, R> {
  const cache = new Map<string, Entry>();
  const entryFor = (args: unknown[], flat = flatten(args)): Entry => {
    const key = signature(flat);
    let entry = cache.get(key);
    if (!entry) {
      const traced = traceFunction(f as (...a: never[]) => unknown, args);
      entry = { exe: compile(traced.graph, getBackend(), { random: traced.random }), outDef: traced.outDef };
      cache.set(key, entry);
    }
    return entry;
  };
  const call = (...args: A): R => {
    const flat = flatten(args);
    if (isGradEnabled() && flat.leaves.some((t) => t.requiresGrad)) return f(...args);
    const entry = entryFor(args, flat);
    return unflatten(entry.outDef, entry.exe.run(flat.leaves)) as R;
  };
  const compiled = Object.assign(call, {
    graph: (...args: A) => entryFor(args).exe.graph,
    stats: (...args: A) => entryFor(args).exe.stats,
    clear: () => {
      for (const e of cache.values()) e.exe.dispose();
      cache.clear();
    },
  });
  Object.defineProperty(compiled, "cacheSize", { get: () => cache.size });
  return compiled as CompiledFunction<A, R>;
}

/** The graph of f on these example arguments: traced, not optimized, not run. */
export function trace<A extends unknown[]>(f: (...args: A) => unknown, ...args: A): Graph {
  return traceFunction(f as (...a: never[]) => unknown, args).graph;
}
