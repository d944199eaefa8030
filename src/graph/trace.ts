// The graph trace: the second interpreter of primitives (the first runs them eagerly).
//
// While a function is traced, bind() hands each primitive to a GraphTrace, which adds an op
// vertex and returns an abstract tensor (shape and dtype, no data) standing for its value.
// Tensors reaching an op from outside become vertices too: a Variable becomes a variable
// vertex (one per variable), any other concrete tensor a constant. Tape nodes are
// recorded exactly as the eager trace records them, so backward(), tb.grad and optimizers
// run unchanged inside a traced function: their vjp rules bind primitives, which become
// backward ops of the same graph (the edges turned around). Variable.assign records an
// update instead of writing.
//
// Plain JS control flow on non-tensor values unrolls during the trace; reading a tensor's
// value (item, dataSync, tolist...) inside throws, since values exist only at run time.
//
// What a traced program depends on besides its arguments, so that tb.fn never serves a
// stale program:
//   - Variables are vertices, read and written at every run.
//   - A variable's .grad is watched while tracing (Tensor's grad observer): if the
//     function reads it before writing it, a non-null gradient becomes an implicit input
//     (read again at every call) and its nullness a guard. The .grad the function leaves
//     behind is an extra output that each run stores into the variable, so after a
//     compiled step `p.grad` holds that step's gradient, as it would eagerly.
//   - Other state read while tracing declares guards (core/trace.ts `guard`): module
//     attributes such as `training`, optimizer hyperparameters.
//   - Any other tensor made before the trace began (captured from the enclosing scope)
//     is an error under tb.fn, since the program would keep its first value; tb.trace,
//     which only draws, shows it as a constant. Tensors made while tracing are constants.

import { currentTrace, isGradEnabled, withTrace, type AbstractValue, type Trace } from "../core/trace.js";
import type { Params, Prim } from "../ops/prims.js";
import { rules } from "../ops/rules.js";
import { observeGradAccess, Tensor, tensorsCreated } from "../tensor/tensor.js";
import { fmtShape, shapesEqual } from "../tensor/shape.js";
import { GraphBuilder, type Graph, type GradientLink, type Phase, type Update } from "./ir.js";
import { currentScope } from "./scope.js";
import { flatten, parameterNames, unflatten, type TreeDef } from "./tree.js";
import { Variable } from "./variable.js";

interface Payload {
  readonly trace: GraphTrace;
  readonly id: number;
}

/** How a trace treats a tensor made before it began that is neither an argument nor a
 *  Variable: tb.fn refuses it (its value would be frozen), tb.trace draws it as a constant. */
export type CapturedTensors = "refuse" | "constant";

/** A fact outside the arguments that a traced program depends on. */
export interface Guard {
  readonly what: string;
  readonly holds: () => boolean;
}

/** After each run: store output `output` (or null) into variable.grad. */
export interface GradWrite {
  readonly variable: Variable;
  readonly output: number | null;
}

export class GraphTrace implements Trace {
  readonly name = "graph";
  readonly builder = new GraphBuilder();
  private phase: Phase = "forward";
  private readonly constants = new Map<Tensor, number>();
  private readonly updates = new Map<number, number>(); // variable vertex -> value
  private readonly grads: GradientLink[] = [];
  /** Tensors made from here on were made while tracing (see tensorsCreated). */
  private readonly start = tensorsCreated();
  private inputs = 0;
  /** Variables read or written, with their .grad before the trace (restored after). */
  readonly touched = new Map<Variable, Tensor | null>();
  /** What the function did first with each touched variable's .grad (absent: nothing). */
  private readonly gradUse = new Map<Variable, "read" | "written">();
  /** The abstract tensor standing for each variable's entry .grad, once read. */
  private readonly entryGrads = new Map<Variable, Tensor>();
  readonly guards: Guard[] = [];
  private readonly guardKeys = new Set<object>();
  /** Implicit inputs (after the arguments' inputs): how to read each at a call. */
  readonly implicit: (() => Tensor)[] = [];

  constructor(private readonly captured: CapturedTensors = "refuse") {}
  /** Blocks each generator handed out during the trace: [first, end). */
  readonly random = new Map<{ counter: number; readonly key: readonly number[] }, [number, number]>();

  process<P extends Prim>(prim: P, inputs: Tensor[], params: Params<P>, out: AbstractValue): Tensor {
    const ids = inputs.map((t) => this.idOf(t));
    const id = this.builder.add({ kind: "op", prim, params, inputs: ids, aval: out, phase: this.phase, scope: currentScope() } as never);
    const record = isGradEnabled() && rules[prim].vjp !== null && inputs.some((t) => t.requiresGrad);
    return Tensor._abstract(out.shape, out.dtype, { trace: this, id } satisfies Payload, record ? { prim, params, inputs } : null);
  }

  /** The vertex of a tensor: its own op, a variable vertex, or a captured constant. */
  idOf(t: Tensor): number {
    const p = t._payload as Payload | undefined;
    if (p !== undefined) {
      if (p.trace === this) return p.id;
      throw new Error(
        `fn: a tensor traced by another function (${t.dtype}[${t.shape}]) was used here; ` +
          `pass it as an argument instead of capturing it`,
      );
    }
    if (t instanceof Variable) {
      this.touch(t);
      return this.builder.add({ kind: "variable", name: t.name, ref: t, aval: { shape: t.shape, dtype: t.dtype }, scope: currentScope() });
    }
    if (this.captured === "refuse" && t._serial < this.start) throw capturedTensorError(t);
    let id = this.constants.get(t);
    if (id === undefined) {
      id = this.builder.add({ kind: "constant", aval: { shape: t.shape, dtype: t.dtype }, data: t.dataSync(), scope: currentScope() });
      this.constants.set(t, id);
    }
    return id;
  }

  /** An input vertex and the abstract tensor the traced function receives for it.
   *  Inputs are numbered in the order they are made: the arguments first. */
  input(name: string, like: Tensor): Tensor {
    const id = this.builder.add({ kind: "input", name, index: this.inputs++, aval: { shape: like.shape, dtype: like.dtype }, scope: [] });
    return Tensor._abstract(like.shape, like.dtype, { trace: this, id } satisfies Payload);
  }

  addGuard(what: string, holds: () => boolean, key?: object): void {
    if (key !== undefined) {
      if (this.guardKeys.has(key)) return;
      this.guardKeys.add(key);
    }
    this.guards.push({ what, holds });
  }

  /** First use of a variable: its entry .grad is set aside (see the header); the eager
   *  .grad comes back when the trace ends. */
  private touch(v: Variable): void {
    if (this.touched.has(v)) return;
    this.touched.set(v, v._grad);
    v._grad = null;
  }

  /** The grad observer while this trace runs the function. */
  readonly gradAccess = (t: Tensor, write: boolean): void => {
    if (!(t instanceof Variable)) return;
    this.touch(t);
    if (this.gradUse.has(t)) return;
    this.gradUse.set(t, write ? "written" : "read");
    if (!write) this.readEntryGrad(t, this.touched.get(t)!);
  };

  /** The traced function read variable.grad before writing it: depend on its entry value. */
  private readEntryGrad(v: Variable, entry: Tensor | null): void {
    if (entry === null) {
      this.addGuard(`${v.name}.grad is null`, () => v.grad === null);
      return;
    }
    const { dtype, shape } = entry;
    this.addGuard(`${v.name}.grad is a ${dtype}${fmtShape(shape)} tensor`, () => {
      const g = v.grad;
      return g !== null && g.dtype === dtype && shapesEqual(g.shape, shape);
    });
    this.implicit.push(() => v.grad!);
    const g = this.input(`${v.name}.grad`, entry);
    this.entryGrads.set(v, g);
    v._grad = g;
  }

  /** Variable.assign under this trace: the graph writes `value` into the variable. */
  assignVariable(variable: Variable, value: Tensor): void {
    const target = this.idOf(variable);
    this.updates.set(target, this.idOf(value));
  }

  /** Runs fn with new ops tagged `phase` (autodiff tags backward ops, optimizers updates). */
  withPhase<T>(phase: Phase, fn: () => T): T {
    const prev = this.phase;
    this.phase = phase;
    try {
      return fn();
    } finally {
      this.phase = prev;
    }
  }

  noteRandom(generator: { counter: number; readonly key: readonly number[] }, counter: number, blocks: number): void {
    const r = this.random.get(generator);
    this.random.set(generator, r ? [Math.min(r[0], counter), Math.max(r[1], counter + blocks)] : [counter, counter + blocks]);
  }

  /** Autodiff reports the gradient of each leaf it reached (drawn as reversed edges). */
  recordGradient(wrt: Tensor, grad: Tensor): void {
    const p = grad._payload as Payload | undefined;
    if (p?.trace !== this) return;
    this.grads.push({ wrt: this.idOf(wrt), value: p.id });
  }

  /** The graph, whose outputs are `outputs` followed by the gradients of `gradWrites`. */
  finish(outputs: Tensor[]): { graph: Graph; gradWrites: GradWrite[] } {
    const outs = outputs.map((t) => this.idOf(t));
    const gradWrites: GradWrite[] = [];
    for (const v of this.touched.keys()) {
      if (!this.gradUse.has(v)) continue; // .grad neither read nor written
      const g = v._grad;
      if (g === this.entryGrads.get(v)) continue; // read, left as it was
      gradWrites.push({ variable: v, output: g === null ? null : outs.push(this.idOf(g)) - 1 });
    }
    const updates: Update[] = [...this.updates].map(([variable, value]) => ({ variable, value }));
    // A gradient link is kept once per target (the last one: accumulated gradients).
    const links = new Map(this.grads.map((l) => [l.wrt, l]));
    return { graph: this.builder.build(outs, updates, [...links.values()]), gradWrites };
  }

  /** Puts back what the trace changed on concrete objects (the variables' .grad), and
   *  stops observing .grad (also when an interrupt abandoned the trace mid-way). */
  restore(): void {
    const observer = observeGradAccess(null);
    if (observer !== this.gradAccess) observeGradAccess(observer);
    for (const [v, g] of this.touched) v._grad = g;
  }
}

/** The graph trace that is active, if any (optimizers and autodiff ask). */
export function activeGraphTrace(): GraphTrace | undefined {
  const t = currentTrace();
  return t instanceof GraphTrace ? t : undefined;
}

export interface Traced {
  graph: Graph;
  /** Structure of the function's result (its tensor leaves are the graph's first outputs). */
  outDef: TreeDef;
  /** The concrete tensors passed for the graph's inputs, in input order. */
  inputs: Tensor[];
  /** Random blocks drawn per generator while tracing (compile.ts redraws them per run). */
  random: RandomUse[];
  /** Facts besides the arguments' signature that the graph depends on. */
  guards: Guard[];
  /** Readers of the implicit inputs, which follow the arguments' inputs. */
  implicit: (() => Tensor)[];
  /** How many graph outputs are the result's tensor leaves (the gradients follow). */
  results: number;
  /** Gradients the function leaves in variables: graph outputs after the result's. */
  gradWrites: GradWrite[];
}

export interface RandomUse {
  generator: { counter: number; readonly key: readonly number[] };
  start: number;
  end: number;
}

/**
 * Traces f on example arguments: tensors (at any depth of arrays and plain objects) become
 * input vertices named after f's parameters; everything else is static.
 */
export function traceFunction(f: (...args: never[]) => unknown, args: unknown[], captured: CapturedTensors = "refuse"): Traced {
  const names = parameterNames(f);
  const flats = args.map((a, i) => flatten(a, names[i] || `arg${i}`));
  const trace = new GraphTrace(captured);
  const abstractArgs = flats.map((flat) => {
    const leaves = flat.leaves.map((t, k) => trace.input(flat.paths[k]!, t));
    return unflatten(flat.def, leaves);
  });
  try {
    const observer = observeGradAccess(trace.gradAccess);
    let result: unknown;
    try {
      result = withTrace(trace, () => (f as (...a: unknown[]) => unknown)(...abstractArgs));
    } finally {
      observeGradAccess(observer);
    }
    if (result instanceof Promise) {
      throw new Error("fn: the traced function returned a Promise; traced functions must be synchronous");
    }
    const out = flatten(result, "result");
    const random = [...trace.random].map(([generator, [start, end]]) => ({ generator, start, end }));
    const { graph, gradWrites } = trace.finish(out.leaves);
    return {
      graph, outDef: out.def, inputs: flats.flatMap((flat) => flat.leaves), random,
      guards: trace.guards, implicit: trace.implicit, results: out.leaves.length, gradWrites,
    };
  } finally {
    // backward() inside the trace stored abstract gradients on variables: put back theirs.
    trace.restore();
  }
}

/** The error for a tensor captured by a function traced with tb.fn. */
function capturedTensorError(t: Tensor): Error {
  const what = `${t.dtype}${fmtShape(t.shape)}${t.requiresGrad ? " that requires grad" : ""}`;
  return new Error(
    `fn: the traced function uses a tensor ${what} made outside it (captured from the enclosing ` +
      `scope, not passed as an argument). A compiled function would keep the value it had at the first ` +
      `call. Pass it as an argument of the function, or make it a tb.variable(...) (learned state, read ` +
      `at every call; backward() inside the function then fills its .grad).`,
  );
}
