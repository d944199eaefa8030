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

import { currentTrace, isGradEnabled, withTrace, type AbstractValue, type Trace } from "../core/trace.js";
import type { Params, Prim } from "../ops/prims.js";
import { rules } from "../ops/rules.js";
import { Tensor } from "../tensor/tensor.js";
import { GraphBuilder, type Graph, type GradientLink, type Phase, type Update } from "./ir.js";
import { currentScope } from "./scope.js";
import { flatten, parameterNames, unflatten, type TreeDef } from "./tree.js";
import { Variable } from "./variable.js";

interface Payload {
  readonly trace: GraphTrace;
  readonly id: number;
}

export class GraphTrace implements Trace {
  readonly name = "graph";
  readonly builder = new GraphBuilder();
  private phase: Phase = "forward";
  private readonly constants = new Map<Tensor, number>();
  private readonly updates = new Map<number, number>(); // variable vertex -> value
  private readonly grads: GradientLink[] = [];
  /** Variables read or written, with their .grad before the trace (restored after). */
  readonly touched = new Map<Variable, Tensor | null>();
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
      if (!this.touched.has(t)) {
        // A compiled step starts from no gradient (as after zeroGrad); the eager .grad
        // comes back when the trace ends.
        this.touched.set(t, t.grad);
        t.grad = null;
      }
      return this.builder.add({ kind: "variable", name: t.name, ref: t, aval: { shape: t.shape, dtype: t.dtype }, scope: currentScope() });
    }
    let id = this.constants.get(t);
    if (id === undefined) {
      id = this.builder.add({ kind: "constant", aval: { shape: t.shape, dtype: t.dtype }, data: t.dataSync(), scope: currentScope() });
      this.constants.set(t, id);
    }
    return id;
  }

  /** An input vertex and the abstract tensor the traced function receives for it. */
  input(name: string, index: number, like: Tensor): Tensor {
    const id = this.builder.add({ kind: "input", name, index, aval: { shape: like.shape, dtype: like.dtype }, scope: [] });
    return Tensor._abstract(like.shape, like.dtype, { trace: this, id } satisfies Payload);
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

  finish(outputs: Tensor[]): Graph {
    const outs = outputs.map((t) => this.idOf(t));
    const updates: Update[] = [...this.updates].map(([variable, value]) => ({ variable, value }));
    // A gradient link is kept once per target (the last one: accumulated gradients).
    const links = new Map(this.grads.map((l) => [l.wrt, l]));
    return this.builder.build(outs, updates, [...links.values()]);
  }
}

/** The graph trace that is active, if any (optimizers and autodiff ask). */
export function activeGraphTrace(): GraphTrace | undefined {
  const t = currentTrace();
  return t instanceof GraphTrace ? t : undefined;
}

export interface Traced {
  graph: Graph;
  /** Structure of the function's result (its tensor leaves are the graph's outputs). */
  outDef: TreeDef;
  /** The concrete tensors passed for the graph's inputs, in input order. */
  inputs: Tensor[];
  /** Random blocks drawn per generator while tracing (compile.ts redraws them per run). */
  random: RandomUse[];
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
export function traceFunction(f: (...args: never[]) => unknown, args: unknown[]): Traced {
  const names = parameterNames(f);
  const flats = args.map((a, i) => flatten(a, names[i] || `arg${i}`));
  const trace = new GraphTrace();
  let index = 0;
  const abstractArgs = flats.map((flat) => {
    const leaves = flat.leaves.map((t, k) => trace.input(flat.paths[k]!, index++, t));
    return unflatten(flat.def, leaves);
  });
  try {
    const result = withTrace(trace, () => (f as (...a: unknown[]) => unknown)(...abstractArgs));
    if (result instanceof Promise) {
      throw new Error("fn: the traced function returned a Promise; traced functions must be synchronous");
    }
    const out = flatten(result, "result");
    const random = [...trace.random].map(([generator, [start, end]]) => ({ generator, start, end }));
    return { graph: trace.finish(out.leaves), outDef: out.def, inputs: flats.flatMap((flat) => flat.leaves), random };
  } finally {
    // backward() inside the trace stored abstract gradients on variables: put back theirs.
    for (const [v, g] of trace.touched) v.grad = g;
  }
}
