// Constant folding: an op whose inputs are all constants is evaluated once, at compile
// time, and becomes a constant.
//
// The evaluation is passed in (compile.ts runs the primitive eagerly on the backend), so
// this pass is plain graph logic. Not folded: random ops (their values are data, not
// arithmetic on constants, and stay visible in the graph), movement ops that only change
// a view (expand would turn a scalar into a large buffer), and results larger than
// MAX_FOLD_ELEMENTS that are also larger than every input.

import { rebuild, sizeOfAval, type ConstantNode, type Graph, type OpNode } from "../ir.js";

export const MAX_FOLD_ELEMENTS = 4096;

export type Evaluate = (op: OpNode, inputs: ConstantNode[]) => ConstantNode["data"];

const neverFold = new Set(["random", "expand", "reshape", "permute", "slice"]);

export function foldConstants(g: Graph, evaluate: Evaluate): Graph {
  let changed = false;
  const { graph } = rebuild(g, (n, b, map) => {
    if (n.kind === "op" && !neverFold.has(n.prim)) {
      const inputs = n.inputs.map((i) => b.node(map[i]!));
      if (inputs.length > 0 && inputs.every((x) => x.kind === "constant")) {
        const size = sizeOfAval(n.aval);
        const largestInput = Math.max(...inputs.map((x) => sizeOfAval(x.aval)));
        if (size <= MAX_FOLD_ELEMENTS || size <= largestInput) {
          changed = true;
          return b.add({ kind: "constant", aval: n.aval, scope: n.scope, data: evaluate(n, inputs as ConstantNode[]) });
        }
      }
    }
    return b.copy(n, map);
  });
  return changed ? graph : g;
}
