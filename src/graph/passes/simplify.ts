// Algebraic simplification: rewrites that remove work without changing any value.
//
//   x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1, x ** 1   ->  x   (when x already has the
//                                                             result's shape and dtype)
//   neg(neg(x))                                         ->  x
//   permute(permute(x, p), q)                           ->  permute(x, p∘q), or x if identity
//   reshape(reshape(x)), reshape(x) to x's own shape    ->  one reshape, or x
//   expand(x) to x's own shape, cast(x) to x's dtype    ->  x
//   cast(cast(x: bool, int32 or float32), bool)         ->  x
//
// x * 0 is not simplified: it is NaN for infinite or NaN x. A constant operand may be a
// scalar constant seen through expand/reshape (how ops broadcast numbers).

import { rebuild, sameAval, type Graph, type GraphBuilder, type Node, type OpNode } from "../ir.js";

/** The single value of a constant (or a broadcast/reshape of one), else undefined. */
function uniformConstant(b: GraphBuilder, id: number): number | undefined {
  let n: Node = b.node(id);
  while (n.kind === "op" && (n.prim === "expand" || n.prim === "reshape")) n = b.node(n.inputs[0]!);
  if (n.kind !== "constant" || n.data.length === 0) return undefined;
  const v = n.data[0]!;
  for (const x of n.data) if (x !== v) return undefined;
  return v;
}

const identityRight: Partial<Record<string, number>> = { add: 0, sub: 0, mul: 1, div: 1, pow: 1 };
const identityLeft: Partial<Record<string, number>> = { add: 0, mul: 1 };

function simplifyOp(n: OpNode, inputs: number[], b: GraphBuilder): number | undefined {
  const same = (id: number) => sameAval(b.node(id).aval, n.aval);
  const [x, y] = inputs as [number, number];
  switch (n.prim) {
    case "add": case "sub": case "mul": case "div": case "pow": {
      if (identityRight[n.prim] !== undefined && uniformConstant(b, y) === identityRight[n.prim] && same(x)) return x;
      if (identityLeft[n.prim] !== undefined && uniformConstant(b, x) === identityLeft[n.prim] && same(y)) return y;
      return undefined;
    }
    case "neg": {
      const inner = b.node(x);
      return inner.kind === "op" && inner.prim === "neg" && same(inner.inputs[0]!) ? inner.inputs[0] : undefined;
    }
    case "expand": case "reshape":
      if (same(x)) return x;
      if (n.prim === "reshape") {
        const inner = b.node(x);
        if (inner.kind === "op" && inner.prim === "reshape") {
          const src = inner.inputs[0]!;
          if (same(src)) return src;
          return b.add({ ...n, inputs: [src] });
        }
      }
      return undefined;
    case "cast": {
      if (same(x)) return x;
      // bool -> (int32 | float32) -> bool returns the original: every bool survives the trip.
      const inner = b.node(x);
      if (inner.kind === "op" && inner.prim === "cast" && n.aval.dtype === "bool" && b.node(inner.inputs[0]!).aval.dtype === "bool") {
        return same(inner.inputs[0]!) ? inner.inputs[0] : undefined;
      }
      return undefined;
    }
    case "permute": {
      const perm = (n as OpNode<"permute">).params.perm;
      const inner = b.node(x);
      if (inner.kind === "op" && inner.prim === "permute") {
        // out[i] = mid[perm[i]] = src[innerPerm[perm[i]]]
        const innerPerm = (inner as OpNode<"permute">).params.perm;
        const composed = perm.map((p) => innerPerm[p]!);
        const src = inner.inputs[0]!;
        if (composed.every((p, i) => p === i)) return src;
        return b.add({ ...n, params: { perm: composed }, inputs: [src] });
      }
      return perm.every((p, i) => p === i) ? x : undefined;
    }
    default:
      return undefined;
  }
}

export function simplify(g: Graph): Graph {
  let changed = false;
  const { graph } = rebuild(g, (n, b, map) => {
    if (n.kind === "op") {
      const inputs = n.inputs.map((i) => map[i]!);
      const replacement = simplifyOp(n, inputs, b);
      if (replacement !== undefined) {
        changed = true;
        return replacement;
      }
    }
    return b.copy(n, map);
  });
  return changed ? graph : g;
}
