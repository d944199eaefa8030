// Fusion planning: which ops run together as one kernel.
//
// Five kinds of group:
//   rows          normalisations over the last axis (softmax, layerNorm): see rows.ts,
//                 planned first
//   elementwise   a chain (or tree) of elementwise ops             -> one elementwise kernel
//   reduce        elementwise ops feeding sum/prod/max/min          -> reduce with a prologue
//   matmul        matmul followed by elementwise ops (bias, relu)   -> matmul with an epilogue
//   conv          conv2d followed by elementwise ops (bias, relu)   -> conv2d, then its
//                 epilogue as one in-place pass over the output (no intermediate buffers)
// A producer joins its consumer's group when the consumer is its only user, the two have
// the same shape (an elementwise consumer) or the producer is the reduction's input, and
// the producer's value is needed nowhere else (not an output, not an update). A matmul or
// conv group's epilogue may also take in elementwise chains that do not read the product
// (the gradient of tanh, 1 - y*y, joins a conv2d's group through the product's consumer):
// those members precede the anchor in graph order, so a group names its anchor rather than
// relying on position. Broadcasts
// reach fused kernels as strided views (expand is a view op, never in a group), so
// `x * expand(b)` fuses with b read through a zero-stride view.
//
// The plan is pure graph logic; compile.ts turns each group into one ScalarExpr and one
// kernel.

import { elementwisePrims, type Prim } from "../../ops/prims.js";
import { sameAval, type Graph } from "../ir.js";
import { planRows } from "./rows.js";

export type GroupKind = "elementwise" | "reduce" | "matmul" | "conv" | "rows";

export interface FusionGroup {
  kind: GroupKind;
  /** Member op ids in topological order; the last one is the root. */
  nodes: number[];
  /** matmul and conv groups: the product op, whose output is the epilogue's input 0. It need
   *  not be the first member (members that do not read it may come before it). */
  anchor?: number;
  /** rows groups: the reductions, in order (the kernel's stages), and whether the result
   *  has one value per row. */
  stages?: number[];
  perRow?: boolean;
}

/** Reductions whose backend kernel takes an elementwise prologue. */
const prologueReductions = new Set<Prim>(["sum", "prod", "max", "min"]);

export function planFusion(g: Graph): FusionGroup[] {
  const users = g.users();
  const pinned = new Set<number>([...g.outputs, ...g.updates.map((u) => u.value)]);
  const groupOf = new Map<number, FusionGroup>();
  const groups: FusionGroup[] = planRows(g).map((r) => ({ kind: "rows", nodes: r.nodes, stages: r.stages, perRow: r.perRow }));
  for (const gr of groups) for (const m of gr.nodes) groupOf.set(m, gr);

  /** p may disappear into its only consumer n. */
  const fusible = (p: number, n: number): boolean => {
    const node = g.nodes[p]!;
    const group = groupOf.get(p);
    return (
      node.kind === "op" && group !== undefined && group.nodes.at(-1) === p && !pinned.has(p) &&
      users[p]!.length > 0 && users[p]!.every((u) => u === n)
    );
  };

  for (const n of g.nodes) {
    if (n.kind !== "op" || groupOf.get(n.id)?.kind === "rows") continue;
    if (elementwisePrims.has(n.prim)) {
      let group: FusionGroup = { kind: "elementwise", nodes: [] };
      for (const p of new Set(n.inputs)) {
        if (!fusible(p, n.id) || !sameAval({ ...g.nodes[p]!.aval, dtype: n.aval.dtype }, n.aval)) continue;
        const pg = groupOf.get(p)!;
        if (pg.kind === "reduce" || pg.kind === "rows") continue; // not fused forwards
        const anchored = (k: GroupKind) => k === "matmul" || k === "conv";
        if (anchored(pg.kind) && anchored(group.kind)) continue; // one anchor per group
        if (anchored(pg.kind) && n.aval.dtype !== "float32") continue; // epilogues stay float32
        if (anchored(pg.kind)) group = { kind: pg.kind, nodes: [...pg.nodes, ...group.nodes], anchor: pg.anchor };
        else group.nodes.push(...pg.nodes);
        groups.splice(groups.indexOf(pg), 1);
      }
      group.nodes.sort((a, b) => a - b).push(n.id);
      for (const m of group.nodes) groupOf.set(m, group);
      groups.push(group);
    } else if (prologueReductions.has(n.prim)) {
      const group: FusionGroup = { kind: "reduce", nodes: [] };
      const p = n.inputs[0]!;
      if (fusible(p, n.id) && groupOf.get(p)!.kind === "elementwise") {
        const pg = groupOf.get(p)!;
        group.nodes.push(...pg.nodes);
        groups.splice(groups.indexOf(pg), 1);
      }
      group.nodes.push(n.id);
      for (const m of group.nodes) groupOf.set(m, group);
      groups.push(group);
    } else if (n.prim === "matmul" || n.prim === "conv2d") {
      const group: FusionGroup = { kind: n.prim === "matmul" ? "matmul" : "conv", nodes: [n.id], anchor: n.id };
      groupOf.set(n.id, group);
      groups.push(group);
    }
  }
  return groups.sort((a, b) => a.nodes.at(-1)! - b.nodes.at(-1)!);
}
