// Common subexpression elimination: ops with the same primitive, params and inputs, and
// constants with the same contents, become one node.
//
// Random primitives merge too: they are counter-based, so equal params mean equal values.

import { rebuild, type Graph, type Node } from "../ir.js";

/** Constants up to this many elements are compared by contents. */
const MAX_CONSTANT_KEY = 256;

/** A number as key text that tells apart what String and JSON merge: -0 from 0, and (in
 *  JSON) NaN and the infinities from null and from each other. */
const numKey = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));
const paramKey = (_k: string, v: unknown): unknown => (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0)) ? `#${numKey(v)}` : v);

function key(n: Node, map: Int32Array): string | undefined {
  if (n.kind === "op") return `op ${n.prim} ${JSON.stringify(n.params, paramKey)} ${n.inputs.map((i) => map[i]).join(",")} ${n.phase}`;
  if (n.kind === "constant" && n.data.length <= MAX_CONSTANT_KEY) {
    return `const ${n.aval.dtype} [${n.aval.shape}] ${Array.from(n.data, numKey).join(",")}`;
  }
  return undefined;
}

export function eliminateCommonSubexpressions(g: Graph): Graph {
  const seen = new Map<string, number>();
  let merged = 0;
  const { graph } = rebuild(g, (n, b, map) => {
    const k = key(n, map);
    if (k !== undefined) {
      const prev = seen.get(k);
      if (prev !== undefined) {
        merged++;
        return prev;
      }
    }
    const id = b.copy(n, map);
    if (k !== undefined) seen.set(k, id);
    return id;
  });
  return merged > 0 ? graph : g;
}
