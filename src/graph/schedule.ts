// The order in which a compiled graph's nodes become kernels.
//
// Any topological order computes the same values; this one also lets updates be written in
// place (inplace.ts): every op that reads a variable's old value runs before the op that
// computes the variable's new value. A training step reads each weight in the forward pass
// and again in the backward pass (the input gradient of a matmul), so plain graph order
// would often compute a weight's update before its last reader.
//
// Method: Kahn's algorithm over the graph's edges plus one extra edge per (reader of the old
// value -> root of the update value), where readers see the variable directly or through
// view ops (reshape, permute, expand, slice alias its storage). Ready nodes are taken in
// their original order, so the schedule stays close to the trace. An extra edge that would
// close a cycle (a reader that needs the new value) is dropped, and if the extra edges of
// several updates together do, the graph's own order is kept: such updates are then simply
// not written in place.

import type { Graph } from "./ir.js";

const viewPrims = new Set(["reshape", "permute", "expand", "slice"]);

/**
 * @param rootOf maps a node to the node whose kernel computes it (a fusion group's root,
 *               or itself), so edges attach to the kernels that run.
 */
export function scheduleNodes(g: Graph, rootOf: (id: number) => number): number[] {
  const n = g.nodes.length;
  const succ: number[][] = g.nodes.map(() => []);
  const indeg = new Int32Array(n);
  const addEdge = (a: number, b: number) => {
    if (a === b) return;
    succ[a]!.push(b);
    indeg[b]!++;
  };
  for (const node of g.nodes) if (node.kind === "op") for (const i of node.inputs) addEdge(i, node.id);

  // Readers of each updated variable's storage: ops reading it or a view of it.
  const aliasOf = new Int32Array(n).fill(-1); // node -> variable whose storage it views
  for (const node of g.nodes) {
    if (node.kind === "variable") aliasOf[node.id] = node.id;
    else if (node.kind === "op" && viewPrims.has(node.prim) && aliasOf[node.inputs[0]!]! >= 0) aliasOf[node.id] = aliasOf[node.inputs[0]!]!;
  }
  const ancestorsOf = (id: number): Set<number> => {
    const seen = new Set<number>();
    const stack = [id];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      const node = g.nodes[x]!;
      if (node.kind === "op") stack.push(...node.inputs);
    }
    return seen;
  };
  for (const u of g.updates) {
    const root = rootOf(u.value);
    const needed = ancestorsOf(root); // a reader the update needs cannot run after it
    for (const node of g.nodes) {
      if (node.kind !== "op" || viewPrims.has(node.prim)) continue;
      if (!node.inputs.some((i) => aliasOf[i] === u.variable)) continue;
      const reader = rootOf(node.id);
      if (reader === root || needed.has(reader)) continue;
      // The reader must not depend on the update's value either (that would be a cycle).
      if (ancestorsOf(reader).has(root)) continue;
      addEdge(reader, root);
    }
  }

  // Kahn's algorithm, ready nodes by original position (a binary heap would do for huge
  // graphs; a sorted insert keeps this short and graphs here have hundreds of nodes).
  const ready: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) ready.push(i);
  const order: number[] = [];
  while (ready.length) {
    const x = ready.shift()!;
    order.push(x);
    for (const y of succ[x]!) {
      if (--indeg[y]! === 0) {
        let k = ready.findIndex((r) => r > y);
        if (k < 0) k = ready.length;
        ready.splice(k, 0, y);
      }
    }
  }
  // Extra edges of several updates can close a cycle between them: keep the graph's order.
  return order.length === n ? order : g.nodes.map((node) => node.id);
}
