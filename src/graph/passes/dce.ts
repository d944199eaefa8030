// Dead code elimination: drops ops whose values reach no output and no update.
//
// Inputs stay (they are the function's signature, used or not); variables stay when an
// op reads them or an update writes them; constants stay when read. Gradient links only
// describe values that are live for another reason: they keep nothing alive.

import { rebuild, type Graph } from "../ir.js";

export function eliminateDeadCode(g: Graph): Graph {
  const live = new Uint8Array(g.nodes.length);
  const stack = [...g.outputs, ...g.updates.flatMap((u) => [u.value, u.variable])];
  while (stack.length) {
    const id = stack.pop()!;
    if (live[id]) continue;
    live[id] = 1;
    const n = g.nodes[id]!;
    if (n.kind === "op") stack.push(...n.inputs);
  }
  for (const n of g.nodes) if (n.kind === "input") live[n.id] = 1;
  if (live.every(Boolean)) return g;
  return rebuild(g, (n, b, map) => (live[n.id] ? b.copy(n, map) : -1)).graph;
}
