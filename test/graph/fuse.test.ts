// Fusion planning on hand-built graphs: elementwise chains with broadcasts, reductions with
// elementwise prologues, matmul epilogues, row groups (softmax-like normalisations over the
// last axis), and values that must stay materialized.

import { describe, expect, it } from "vitest";
import { GraphBuilder, type Aval } from "../../src/graph/ir.js";
import { planFusion } from "../../src/graph/passes/fuse.js";
import type { Params, Prim } from "../../src/ops/prims.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });

function builder() {
  const b = new GraphBuilder();
  return {
    b,
    input: (name: string, aval: Aval, index: number) => b.add({ kind: "input", name, index, aval, scope: [] }),
    scalar: (v: number) => b.add({ kind: "constant", aval: f32(), data: new Float32Array([v]), scope: [] }),
    op: <P extends Prim>(prim: P, inputs: number[], aval: Aval, params: Params<P> = {} as Params<P>) =>
      b.add({ kind: "op", prim, params, inputs, aval, phase: "forward", scope: [] } as never),
  };
}

const describeGroups = (groups: ReturnType<typeof planFusion>, prims: (id: number) => string) =>
  groups.map((gr) => `${gr.kind}: ${gr.nodes.map(prims).join(" ")}`);

describe("fusion planning", () => {
  it("sqrt(x*x + y*y) * 0.5 + 1 is one elementwise kernel with broadcast constants", () => {
    const t = builder();
    const x = t.input("x", f32(1000), 0);
    const y = t.input("y", f32(1000), 1);
    const xx = t.op("mul", [x, x], f32(1000));
    const yy = t.op("mul", [y, y], f32(1000));
    const s = t.op("sqrt", [t.op("add", [xx, yy], f32(1000))], f32(1000));
    const half = t.op("expand", [t.scalar(0.5)], f32(1000), { shape: [1000] });
    const one = t.op("expand", [t.scalar(1)], f32(1000), { shape: [1000] });
    const out = t.op("add", [t.op("mul", [s, half], f32(1000)), one], f32(1000));
    const g = t.b.build([out]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    expect(describeGroups(planFusion(g), prim)).toEqual(["elementwise: mul mul add sqrt mul add"]);
  });

  it("a value used twice, or returned, is materialized", () => {
    const t = builder();
    const x = t.input("x", f32(4), 0);
    const e = t.op("exp", [x], f32(4));
    const a = t.op("add", [e, e], f32(4)); // one consumer reading e twice: still fusible
    const n = t.op("neg", [a], f32(4));
    const m = t.op("mul", [a, n], f32(4)); // a has two users now
    const g = t.b.build([m, n]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    expect(describeGroups(planFusion(g), prim)).toEqual(["elementwise: exp add", "elementwise: neg", "elementwise: mul"]);
  });

  it("reductions take their elementwise input as a prologue; their output is not fused forwards", () => {
    const t = builder();
    const x = t.input("x", f32(8, 16), 0);
    const sq = t.op("mul", [x, x], f32(8, 16));
    const s = t.op("sum", [sq], f32(8, 1), { axes: [1] });
    const r = t.op("sqrt", [s], f32(8, 1));
    const g = t.b.build([r]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    expect(describeGroups(planFusion(g), prim)).toEqual(["reduce: mul sum", "elementwise: sqrt"]);
  });

  it("matmul + bias + relu is one matmul kernel with an epilogue", () => {
    const t = builder();
    const x = t.input("x", f32(8, 4), 0);
    const w = t.input("w", f32(4, 3), 1);
    const bias = t.input("b", f32(3), 2);
    const mm = t.op("matmul", [x, w], f32(8, 3));
    const z = t.op("add", [mm, t.op("expand", [bias], f32(8, 3), { shape: [8, 3] })], f32(8, 3));
    const zero = t.op("expand", [t.scalar(0)], f32(8, 3), { shape: [8, 3] });
    const h = t.op("maximum", [z, zero], f32(8, 3));
    const g = t.b.build([h]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    expect(describeGroups(planFusion(g), prim)).toEqual(["matmul: matmul add maximum"]);
  });

  it("an epilogue may take in a chain that does not read the product; the group names its anchor", () => {
    // (1 - y*y) * (x @ w), as tanh's gradient times a product in a second-order graph:
    // the chain 1 - y*y comes before the matmul in graph order but joins its epilogue.
    const t = builder();
    const x = t.input("x", f32(8, 4), 0);
    const w = t.input("w", f32(4, 3), 1);
    const y = t.input("y", f32(8, 3), 2);
    const one = t.op("expand", [t.scalar(1)], f32(8, 3), { shape: [8, 3] });
    const d = t.op("sub", [one, t.op("mul", [y, y], f32(8, 3))], f32(8, 3));
    const mm = t.op("matmul", [x, w], f32(8, 3));
    const out = t.op("mul", [t.op("neg", [mm], f32(8, 3)), d], f32(8, 3));
    const g = t.b.build([out]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    const groups = planFusion(g);
    expect(describeGroups(groups, prim)).toEqual(["matmul: mul sub matmul neg mul"]);
    expect(groups[0]!.anchor).toBe(mm);
  });

  /** softmax over the last axis of x [8, 16]: max, exp(x - max), sum, divide. */
  function softmaxGraph(extraOutput: "none" | "max" | "exp") {
    const t = builder();
    const x = t.input("x", f32(8, 16), 0);
    const m = t.op("max", [x], f32(8, 1), { axes: [1] });
    const d = t.op("sub", [x, t.op("expand", [m], f32(8, 16), { shape: [8, 16] })], f32(8, 16));
    const e = t.op("exp", [d], f32(8, 16));
    const s = t.op("sum", [e], f32(8, 1), { axes: [1] });
    const y = t.op("div", [e, t.op("expand", [s], f32(8, 16), { shape: [8, 16] })], f32(8, 16));
    const outputs = extraOutput === "max" ? [y, m] : extraOutput === "exp" ? [y, e] : [y];
    const g = t.b.build(outputs);
    return { g, prim: (id: number) => (g.nodes[id] as { prim: string }).prim };
  }

  it("softmax over the last axis is one row group with two stages", () => {
    const { g, prim } = softmaxGraph("none");
    const groups = planFusion(g);
    expect(describeGroups(groups, prim)).toEqual(["rows: max expand sub exp sum expand div"]);
    expect(groups[0]!.stages!.map(prim)).toEqual(["max", "sum"]);
  });

  it("a row value needed outside leaves the row group; a full-size one splits it", () => {
    const withMax = softmaxGraph("max");
    // the max is an output: computed by its own kernel and read by the row group
    expect(describeGroups(planFusion(withMax.g), withMax.prim)).toEqual(["reduce: max", "rows: sub exp sum expand div"]);
    const withExp = softmaxGraph("exp");
    // exp(x - max) is an output: it ends one row group and the next one reads it
    expect(describeGroups(planFusion(withExp.g), withExp.prim)).toEqual(["rows: max expand sub exp", "rows: sum expand div"]);
  });

  it("reductions over another axis are not row groups", () => {
    const t = builder();
    const x = t.input("x", f32(8, 16), 0);
    const s = t.op("sum", [x], f32(1, 16), { axes: [0] });
    const y = t.op("sub", [x, t.op("expand", [s], f32(8, 16), { shape: [8, 16] })], f32(8, 16));
    const g = t.b.build([y]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    expect(describeGroups(planFusion(g), prim)).toEqual(["reduce: sum", "elementwise: sub"]);
  });

  it("a per-row result from two reductions is a row group; from one, a reduce kernel", () => {
    // logsumexp over the last axis: max, sum(exp(x - max)), log(sum) + max, one value per row
    const t = builder();
    const x = t.input("x", f32(8, 16), 0);
    const m = t.op("max", [x], f32(8, 1), { axes: [1] });
    const e = t.op("exp", [t.op("sub", [x, t.op("expand", [m], f32(8, 16), { shape: [8, 16] })], f32(8, 16))], f32(8, 16));
    const s = t.op("sum", [e], f32(8, 1), { axes: [1] });
    const y = t.op("add", [t.op("log", [s], f32(8, 1)), m], f32(8, 1));
    const g = t.b.build([y]);
    const prim = (id: number) => (g.nodes[id] as { prim: string }).prim;
    const groups = planFusion(g);
    expect(describeGroups(groups, prim)).toEqual(["rows: max expand sub exp sum log add"]);
    expect(groups[0]!.perRow).toBe(true);
    // sum(x * x) * 2: one reduction, so the ordinary plan
    const t2 = builder();
    const x2 = t2.input("x", f32(8, 16), 0);
    const sq = t2.op("sum", [t2.op("mul", [x2, x2], f32(8, 16))], f32(8, 1), { axes: [1] });
    const two = t2.op("expand", [t2.scalar(2)], f32(8, 1), { shape: [8, 1] });
    const g2 = t2.b.build([t2.op("mul", [sq, two], f32(8, 1))]);
    const prim2 = (id: number) => (g2.nodes[id] as { prim: string }).prim;
    expect(describeGroups(planFusion(g2), prim2)).toEqual(["reduce: mul sum", "elementwise: mul"]);
  });
});
