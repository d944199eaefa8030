// Row fusion planning: normalisations over the last axis as one "rows" kernel.
//
// softmax, logSoftmax, logsumexp and layerNorm trace into reductions over the last axis
// whose results (shape [..., 1]) broadcast back over the rows they came from:
//
//   a = max x ; d = exp(x - expand a) ; s = sum d ; y = d / expand s
//
// Ordinary fusion (fuse.ts) gives each reduction and each elementwise chain its own kernel
// and materialises d, a full-size intermediate. A row group instead runs per row: every
// reduction becomes a stage of the rows kernel (backend.ts), the per-row arithmetic on the
// reduced values ([..., 1]-shaped ops: log, rsqrt, 1/s) hoists out of the element loops,
// and only the final value is written.
//
// A group grows backwards from a candidate final op (elementwise, float32, of shape
// S = [..., L]; or of shape [..., 1], elementwise or a reduction, computed from reductions of
// rows of shape S: then the kernel writes one value per row, as logsumexp or a variance
// needs) over producers that are elementwise ops of shape S or [..., 1], last-axis
// reductions sum/prod/max/min of float32 values of shape S, and expands from [..., 1] to S.
// A member whose value is needed outside the group (another user, a graph output, an
// update) leaves it, and so, in turn, do members it reads; what leaves is computed by
// ordinary kernels and read by the row kernel as an input. A group needs a reduction, and a
// per-row group two (with one, the ordinary reduce-with-prologue kernel does the same).

import { elementwisePrims, type Prim } from "../../ops/prims.js";
import type { Graph, Node } from "../ir.js";

export interface RowGroup {
  /** Member op ids in topological order; the last one is the final value. */
  nodes: number[];
  /** The reductions, in topological order: the kernel's stages. */
  stages: number[];
  /** The final value has one element per row ([..., 1]: logsumexp, a variance). */
  perRow: boolean;
}

const rowReductions = new Set<Prim>(["sum", "prod", "max", "min"]);

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** For a [..., 1]-shaped value, the shape S = [..., L] of the rows it was reduced from: the
 *  input of a last-axis reduction reached through [..., 1]-shaped elementwise ops. */
function rowSpaceAbove(g: Graph, f: number): readonly number[] | undefined {
  const R = g.nodes[f]!.aval.shape;
  const seen = new Set<number>();
  const stack = [f];
  while (stack.length > 0) {
    const n = g.nodes[stack.pop()!]!;
    if (n.kind !== "op" || seen.has(n.id) || !sameShape(n.aval.shape, R)) continue;
    seen.add(n.id);
    if (rowReductions.has(n.prim)) {
      const S = g.nodes[n.inputs[0]!]!.aval.shape;
      const axes = (n.params as { axes: number[] }).axes;
      if (S.length === R.length && axes.length === 1 && axes[0] === S.length - 1) return S;
    } else if (elementwisePrims.has(n.prim)) stack.push(...n.inputs);
  }
  return undefined;
}

export function planRows(g: Graph): RowGroup[] {
  const users = g.users();
  const pinned = new Set<number>([...g.outputs, ...g.updates.map((u) => u.value)]);
  const claimed = new Set<number>();
  const groups: RowGroup[] = [];

  for (let f = g.nodes.length - 1; f >= 0; f--) {
    const fin = g.nodes[f]!;
    if (claimed.has(f) || fin.kind !== "op" || fin.aval.dtype !== "float32") continue;
    if (!elementwisePrims.has(fin.prim) && !rowReductions.has(fin.prim)) continue; // a reduction ends a per-row group
    const S = fin.aval.shape.at(-1) === 1 ? rowSpaceAbove(g, f) : fin.aval.shape;
    if (!S || S.length === 0 || S[S.length - 1]! < 2) continue;
    const perRow = S !== fin.aval.shape;
    if (!perRow && !elementwisePrims.has(fin.prim)) continue;
    const rowShape = [...S.slice(0, -1), 1];
    const last = S.length - 1;
    const admissible = (n: Node): boolean => {
      if (n.kind !== "op" || claimed.has(n.id)) return false;
      const shape = n.aval.shape;
      if (elementwisePrims.has(n.prim)) return sameShape(shape, S) || sameShape(shape, rowShape);
      if (rowReductions.has(n.prim)) {
        const input = g.nodes[n.inputs[0]!]!;
        const axes = (n.params as { axes: number[] }).axes;
        return axes.length === 1 && axes[0] === last && sameShape(input.aval.shape, S) && sameShape(shape, rowShape) &&
          n.aval.dtype === "float32" && input.aval.dtype === "float32";
      }
      if (n.prim === "expand") return sameShape(shape, S) && sameShape(g.nodes[n.inputs[0]!]!.aval.shape, rowShape);
      return false;
    };
    // The cone of admissible producers above f.
    const members = new Set<number>([f]);
    const stack = [f];
    while (stack.length > 0) {
      const n = g.nodes[stack.pop()!] as Extract<Node, { kind: "op" }>;
      for (const p of n.inputs) {
        if (members.has(p) || !admissible(g.nodes[p]!)) continue;
        members.add(p);
        stack.push(p);
      }
    }
    // Members needed outside leave, until every remaining member's users are members.
    for (let changed = true; changed; ) {
      changed = false;
      for (const m of members) {
        if (m === f) continue;
        if (pinned.has(m) || users[m]!.some((u) => !members.has(u))) {
          members.delete(m);
          changed = true;
        }
      }
    }
    // An expand whose input left would read a row value the kernel does not compute.
    for (let changed = true; changed; ) {
      changed = false;
      for (const m of members) {
        const n = g.nodes[m] as Extract<Node, { kind: "op" }>;
        if (n.prim === "expand" && !members.has(n.inputs[0]!)) {
          members.delete(m);
          changed = true;
        }
      }
    }
    const nodes = [...members].sort((a, b) => a - b);
    const stages = nodes.filter((m) => rowReductions.has((g.nodes[m] as Extract<Node, { kind: "op" }>).prim));
    // A per-row result from one reduction is the ordinary reduce-with-prologue kernel.
    if (stages.length < (perRow ? 2 : 1)) continue;
    for (const m of nodes) claimed.add(m);
    groups.push({ nodes, stages, perRow });
  }
  return groups.reverse();
}
