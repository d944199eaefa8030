// The graph IR: what `tb.trace` returns and what graph mode optimizes and compiles.
//
// The picture (DESIGN.md): data and functions are separate kinds of vertex. Data vertices
// are inputs (arguments of the traced function), variables (learned state: read by the
// graph, written by updates) and constants; function vertices are ops, one per primitive
// application. Every edge is an op's input and carries the source's shape and dtype.
// Backward ops (from autodiff) and update ops (from an optimizer) are ops too, tagged with
// their phase; an update writes an op's value into a variable: the edge into the variable.
//
// Invariants:
// - nodes are frozen and listed in topological order; node i has id i;
// - an op's inputs are ids of earlier nodes;
// - each variable appears once (one vertex per learned tensor), each update names a
//   variable vertex and a value of the same shape and dtype.
// Passes never mutate a graph: they build a new one with GraphBuilder.

import { displaySymbol, type MimeBundle } from "../display/protocol.js";
import type { Params, Prim } from "../ops/prims.js";
import { avalText, sameAval, type Aval } from "./aval.js";
import { Diagram, toDot, type DiagramOptions } from "./diagram.js";
import { printGraph } from "./print.js";

export type { Aval } from "./aval.js";
export { avalText, bytesOfAval, sameAval, sizeOfAval } from "./aval.js";

export type Phase = "forward" | "backward" | "update";

interface NodeBase {
  readonly id: number;
  readonly aval: Aval;
  /** Name scope path, outermost first: ["encoder", "layer1"]. */
  readonly scope: readonly string[];
}

export interface InputNode extends NodeBase {
  readonly kind: "input";
  readonly name: string;
  /** Position among the traced function's flattened tensor arguments. */
  readonly index: number;
}

/** A learned tensor. `ref` is the runtime object (a tb.Variable) the vertex stands for. */
export interface VariableNode extends NodeBase {
  readonly kind: "variable";
  readonly name: string;
  readonly ref: object;
}

export interface ConstantNode extends NodeBase {
  readonly kind: "constant";
  /** Row-major contents (length = product of shape). */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

export interface OpNode<P extends Prim = Prim> extends NodeBase {
  readonly kind: "op";
  readonly prim: P;
  readonly params: Params<P>;
  readonly inputs: readonly number[];
  readonly phase: Phase;
}

export type Node = InputNode | VariableNode | ConstantNode | OpNode;

/** The optimizer's write: after the graph runs, `variable` takes the value of `value`. */
export interface Update {
  readonly variable: number;
  readonly value: number;
}

/** Autodiff's record: `value` is the gradient of the differentiated output wrt `wrt`. */
export interface GradientLink {
  readonly wrt: number;
  readonly value: number;
}

export class Graph {
  readonly nodes: readonly Node[];
  readonly outputs: readonly number[];
  readonly updates: readonly Update[];
  /** Which values are gradients of which inputs or variables (drawn as reversed edges). */
  readonly grads: readonly GradientLink[];

  constructor(nodes: readonly Node[], outputs: readonly number[], updates: readonly Update[] = [], grads: readonly GradientLink[] = []) {
    this.nodes = Object.freeze([...nodes]);
    this.outputs = Object.freeze([...outputs]);
    this.updates = Object.freeze(updates.map((u) => Object.freeze({ ...u })));
    this.grads = Object.freeze(grads.map((l) => Object.freeze({ ...l })));
    validate(this);
    Object.freeze(this);
  }

  node(id: number): Node {
    const n = this.nodes[id];
    if (!n) throw new RangeError(`graph: no node ${id} (the graph has ${this.nodes.length})`);
    return n;
  }

  get inputs(): InputNode[] {
    return this.nodes.filter((n): n is InputNode => n.kind === "input").sort((a, b) => a.index - b.index);
  }

  get variables(): VariableNode[] {
    return this.nodes.filter((n): n is VariableNode => n.kind === "variable");
  }

  get ops(): OpNode[] {
    return this.nodes.filter((n): n is OpNode => n.kind === "op");
  }

  /** The printed IR (grammar in print.ts). */
  toString(): string {
    return printGraph(this);
  }

  toDot(options?: DiagramOptions): string {
    return toDot(this, options);
  }

  /** A diagram with options (collapsed scopes, layout); displays as SVG. */
  draw(options?: DiagramOptions): Diagram {
    return new Diagram(this, options);
  }

  /** Shown as the diagram, with the printed IR as its text form. */
  [displaySymbol](): Promise<MimeBundle> {
    return this.draw()[displaySymbol]();
  }

  /** For each node, the ids of the ops that read it. */
  users(): number[][] {
    const users: number[][] = this.nodes.map(() => []);
    for (const n of this.nodes) if (n.kind === "op") for (const i of n.inputs) users[i]!.push(n.id);
    return users;
  }
}

function validate(g: Graph): void {
  const seenVars = new Set<object>();
  g.nodes.forEach((n, i) => {
    if (n.id !== i) throw new Error(`graph: node at position ${i} has id ${n.id}; nodes must be numbered in order`);
    if (!Object.isFrozen(n)) throw new Error(`graph: node ${i} is not frozen; build nodes with GraphBuilder`);
    if (n.kind === "op") {
      for (const j of n.inputs) {
        if (!(j >= 0 && j < i)) throw new Error(`graph: op ${i} (${n.prim}) reads node ${j}, which does not come before it`);
      }
    }
    if (n.kind === "variable") {
      if (seenVars.has(n.ref)) throw new Error(`graph: variable "${n.name}" has two vertices`);
      seenVars.add(n.ref);
    }
  });
  for (const o of g.outputs) if (!g.nodes[o]) throw new Error(`graph: output ${o} is not a node`);
  for (const u of g.updates) {
    const v = g.nodes[u.variable];
    const x = g.nodes[u.value];
    if (!v || v.kind !== "variable") throw new Error(`graph: update target ${u.variable} is not a variable vertex`);
    if (!x) throw new Error(`graph: update of "${v.name}" reads missing node ${u.value}`);
    if (!sameAval(v.aval, x.aval)) {
      throw new Error(`graph: update of "${v.name}" ${avalText(v.aval)} gets a value of ${avalText(x.aval)}; shapes and dtypes must match`);
    }
  }
  for (const l of g.grads) {
    if (!g.nodes[l.wrt] || !g.nodes[l.value]) throw new Error(`graph: gradient link ${l.value} -> ${l.wrt} names a missing node`);
  }
}

// ---------------------------------------------------------------------------------------
// Building

type Unnumbered<N> = N extends Node ? Omit<N, "id"> : never;

/**
 * Appends frozen nodes in order. Rewriting passes copy a graph through a builder with an
 * old-id -> new-id map, substituting nodes as they go.
 */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly varIds = new Map<object, number>();

  add(node: Unnumbered<Node>): number {
    if (node.kind === "variable") {
      const existing = this.varIds.get(node.ref);
      if (existing !== undefined) return existing;
    }
    const id = this.nodes.length;
    const frozen = Object.freeze({
      ...node,
      id,
      aval: Object.freeze({ shape: Object.freeze([...node.aval.shape]), dtype: node.aval.dtype }),
      scope: Object.freeze([...node.scope]),
      ...(node.kind === "op" ? { inputs: Object.freeze([...node.inputs]) } : {}),
    }) as Node;
    this.nodes.push(frozen);
    if (node.kind === "variable") this.varIds.set(node.ref, id);
    return id;
  }

  /** Copies a node from another graph with its inputs renumbered through `map`. */
  copy(node: Node, map: ArrayLike<number>): number {
    if (node.kind !== "op") {
      const { id: _id, ...rest } = node;
      return this.add(rest as Unnumbered<Node>);
    }
    const { id: _id, ...rest } = node;
    return this.add({ ...rest, inputs: node.inputs.map((i) => map[i]!) });
  }

  node(id: number): Node {
    return this.nodes[id]!;
  }

  get size(): number {
    return this.nodes.length;
  }

  build(outputs: readonly number[], updates: readonly Update[] = [], grads: readonly GradientLink[] = []): Graph {
    return new Graph(this.nodes, outputs, updates, grads);
  }
}

/**
 * Rebuilds `g` node by node in order: `rewrite` adds each node's replacement to the builder
 * (through `map` for its inputs) and returns its new id, or an existing id to merge it, or
 * -1 to drop it (no kept node may read a dropped one). Returns the new graph and the
 * old -> new id map.
 */
export function rebuild(
  g: Graph,
  rewrite: (node: Node, b: GraphBuilder, map: Int32Array) => number,
): { graph: Graph; map: Int32Array } {
  const b = new GraphBuilder();
  const map = new Int32Array(g.nodes.length).fill(-1);
  for (const n of g.nodes) map[n.id] = rewrite(n, b, map);
  const outputs = g.outputs.map((o) => map[o]!);
  const updates = g.updates.map((u) => ({ variable: map[u.variable]!, value: map[u.value]! }));
  // A gradient whose value or target was dropped is no longer drawn.
  const grads = g.grads.map((l) => ({ wrt: map[l.wrt]!, value: map[l.value]! })).filter((l) => l.wrt >= 0 && l.value >= 0);
  return { graph: b.build(outputs, updates, grads), map };
}
