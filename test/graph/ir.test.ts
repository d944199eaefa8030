// The graph IR without tracing: building, validation, the printed form (pinned by
// snapshots), each rewriting pass on hand-built graphs, and diagrams rendered by Graphviz.

import { describe, expect, it } from "vitest";
import { GraphBuilder, type Aval, type Graph, type Phase } from "../../src/graph/ir.js";
import { eliminateCommonSubexpressions } from "../../src/graph/passes/cse.js";
import { eliminateDeadCode } from "../../src/graph/passes/dce.js";
import { foldConstants } from "../../src/graph/passes/fold.js";
import { simplify } from "../../src/graph/passes/simplify.js";
import type { Params, Prim } from "../../src/ops/prims.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });

/** A small helper over GraphBuilder for hand-written graphs. */
function builder() {
  const b = new GraphBuilder();
  const scope: string[] = [];
  return {
    b,
    scope,
    input: (name: string, aval: Aval, index: number) => b.add({ kind: "input", name, index, aval, scope: [] }),
    variable: (name: string, aval: Aval) => b.add({ kind: "variable", name, ref: { name }, aval, scope: [...scope] }),
    scalar: (v: number) => b.add({ kind: "constant", aval: f32(), data: new Float32Array([v]), scope: [] }),
    op: <P extends Prim>(prim: P, inputs: number[], aval: Aval, params: Params<P>, phase: Phase = "forward") =>
      b.add({ kind: "op", prim, params, inputs, aval, phase, scope: [...scope] } as never),
  };
}

/** In scope "dense": z = x:[4,3] @ W:[3,2] + b:[2]. */
function dense(t: ReturnType<typeof builder>) {
  const x = t.input("x", f32(4, 3), 0);
  t.scope.push("dense");
  const W = t.variable("W", f32(3, 2));
  const bias = t.variable("b", f32(2));
  const mm = t.op("matmul", [x, W], f32(4, 2), {});
  const be = t.op("expand", [bias], f32(4, 2), { shape: [4, 2] });
  const z = t.op("add", [mm, be], f32(4, 2), {});
  t.scope.pop();
  return { x, W, bias, mm, be, z };
}

/** dense -> maximum(., 0) -> sum: a one-layer net with a loss. */
function mlp(): { g: Graph; ids: Record<string, number> } {
  const t = builder();
  const { x, W, bias, mm, be, z } = dense(t);
  const zero = t.op("expand", [t.scalar(0)], f32(4, 2), { shape: [4, 2] });
  const h = t.op("maximum", [z, zero], f32(4, 2), {});
  const loss = t.op("sum", [h], f32(), { axes: [0, 1] });
  return { g: t.b.build([loss]), ids: { x, W, bias, mm, be, z, h, loss } };
}

describe("graph IR", () => {
  it("prints as text with a written grammar", () => {
    expect(mlp().g.toString()).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,3] ; W:var f32[3,2] b:var f32[2] .
        let a:f32[4,2] = matmul x W  # dense
            c:f32[4,2] = expand[shape=[4,2]] b  # dense
            d:f32[4,2] = add a c  # dense
            e:f32[4,2] = expand[shape=[4,2]] 0.0:f32[]
            f:f32[4,2] = maximum d e
            g:f32[] = sum[axes=[0,1]] f
        in (g) }"
    `);
  });

  it("nodes are frozen; bad graphs are refused with the reason", () => {
    const { g } = mlp();
    expect(Object.isFrozen(g.nodes[3])).toBe(true);
    expect(() => ((g.nodes as unknown as unknown[])[0] = null)).toThrow();
    const t = builder();
    const v = t.variable("W", f32(2));
    const x = t.input("x", f32(3), 0);
    expect(() => t.b.build([x], [{ variable: v, value: x }])).toThrow('update of "W" f32[2] gets a value of f32[3]');
    expect(() => t.b.build([x], [{ variable: x, value: x }])).toThrow("update target 1 is not a variable vertex");
    // One vertex per variable, however often it is read.
    const ref = {};
    const a = t.b.add({ kind: "variable", name: "V", ref, aval: f32(1), scope: [] });
    expect(t.b.add({ kind: "variable", name: "V", ref, aval: f32(1), scope: [] })).toBe(a);
  });

  it("dead code elimination keeps outputs, updates and inputs", () => {
    const t = builder();
    const x = t.input("x", f32(2), 0);
    const unusedInput = t.input("y", f32(2), 1);
    const W = t.variable("W", f32(2));
    const dead = t.op("exp", [x], f32(2), {});
    t.op("neg", [dead], f32(2), {});
    const live = t.op("mul", [x, W], f32(2), {});
    const upd = t.op("sub", [W, live], f32(2), {}, "update");
    const g = eliminateDeadCode(t.b.build([live], [{ variable: W, value: upd }]));
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda x:f32[2] y:f32[2] ; W:var f32[2] .
        let a:f32[2] = mul x W
            b:f32[2] = sub W a
        in (a)
        update W <- b }"
    `);
    expect(unusedInput).toBe(1);
  });

  it("common subexpressions merge; different params do not", () => {
    const t = builder();
    const x = t.input("x", f32(2, 3), 0);
    const a1 = t.op("exp", [x], f32(2, 3), {});
    const a2 = t.op("exp", [x], f32(2, 3), {});
    const s0 = t.op("sum", [a1], f32(1, 3), { axes: [0] });
    const s1 = t.op("sum", [a2], f32(2, 1), { axes: [1] });
    const c1 = t.scalar(2);
    const c2 = t.scalar(2);
    const m = t.op("mul", [t.op("sum", [s0], f32(), { axes: [0, 1] }), c1], f32(), {});
    const n = t.op("mul", [t.op("sum", [s1], f32(), { axes: [0, 1] }), c2], f32(), {});
    const g = eliminateDeadCode(eliminateCommonSubexpressions(t.b.build([m, n])));
    expect(g.ops.map((o) => o.prim)).toEqual(["exp", "sum", "sum", "sum", "mul", "sum", "mul"]);
    expect(g.nodes.filter((k) => k.kind === "constant")).toHaveLength(1);
  });

  it("common subexpressions keep -0 apart from 0, and NaN apart from the infinities", () => {
    const t = builder();
    const x = t.input("x", f32(2), 0);
    const sums = [0, -0].map((v) => t.op("add", [x, t.op("expand", [t.scalar(v)], f32(2), { shape: [2] })], f32(2), {}));
    const pads = [NaN, Infinity, -Infinity, 0, -0].map((value) => t.op("place", [x], f32(4), { shape: [4], starts: [1], steps: [1], value }));
    const g = eliminateCommonSubexpressions(t.b.build([...sums, ...pads]));
    expect(g.nodes.filter((k) => k.kind === "constant")).toHaveLength(2);
    expect(g.ops.filter((o) => o.prim === "place")).toHaveLength(5);
  });

  it("algebraic simplification: x*1, x+0, double transposes, reshape chains, no-op and round-trip casts", () => {
    const t = builder();
    const x = t.input("x", f32(2, 3), 0);
    const one = t.op("expand", [t.scalar(1)], f32(2, 3), { shape: [2, 3] });
    const zero = t.op("expand", [t.scalar(0)], f32(2, 3), { shape: [2, 3] });
    const a = t.op("mul", [one, x], f32(2, 3), {});
    const b = t.op("add", [a, zero], f32(2, 3), {});
    const tt = t.op("permute", [t.op("permute", [b], f32(3, 2), { perm: [1, 0] })], f32(2, 3), { perm: [1, 0] });
    const r = t.op("reshape", [t.op("reshape", [tt], f32(6), { shape: [6] })], f32(3, 2), { shape: [3, 2] });
    const back = t.op("reshape", [t.op("reshape", [tt], f32(6), { shape: [6] })], f32(2, 3), { shape: [2, 3] });
    const c = t.op("cast", [back], f32(2, 3), { dtype: "float32" });
    const mask = t.op("gt", [x, x], { shape: [2, 3], dtype: "bool" }, {});
    const roundTrip = t.op("cast", [t.op("cast", [mask], f32(2, 3), { dtype: "float32" })], { shape: [2, 3], dtype: "bool" }, { dtype: "bool" });
    const nn = t.op("neg", [t.op("neg", [c], f32(2, 3), {})], f32(2, 3), {});
    // x * 0 is left alone: it is NaN where x is infinite.
    const z = t.op("mul", [nn, zero], f32(2, 3), {});
    const g = eliminateDeadCode(simplify(t.b.build([r, z, roundTrip])));
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda x:f32[2,3] ; .
        let a:f32[2,3] = expand[shape=[2,3]] 0.0:f32[]
            b:f32[3,2] = reshape[shape=[3,2]] x
            c:bool[2,3] = gt x x
            d:f32[2,3] = mul x a
        in (b, d, c) }"
    `);
  });

  it("constant folding evaluates ops on constants through the given evaluator", () => {
    const t = builder();
    const x = t.input("x", f32(), 0);
    const two = t.scalar(2);
    const three = t.scalar(3);
    const six = t.op("mul", [two, three], f32(), {});
    const e = t.op("exp", [six], f32(), {});
    const y = t.op("add", [x, e], f32(), {});
    const calls: string[] = [];
    const g = eliminateDeadCode(foldConstants(t.b.build([y]), (op, inputs) => {
      calls.push(op.prim);
      const v = inputs.map((c) => c.data[0]!);
      return new Float32Array([op.prim === "mul" ? v[0]! * v[1]! : Math.exp(v[0]!)]);
    }));
    expect(calls).toEqual(["mul", "exp"]);
    expect(g.toString()).toBe("{ lambda x:f32[] ; .\n  let a:f32[] = add x 403.4288:f32[]\n  in (a) }");
  });
});

describe("diagrams", () => {
  /** dense and a sum, with a hand-written backward pass and SGD updates. */
  function trainingGraph(): Graph {
    const t = builder();
    const { x, W, bias, z } = dense(t);
    const loss = t.op("sum", [z], f32(), { axes: [0, 1] });
    const seed = t.op("expand", [t.scalar(1)], f32(4, 2), { shape: [4, 2] }, "backward");
    const xt = t.op("permute", [x], f32(3, 4), { perm: [1, 0] }, "backward");
    const gW = t.op("matmul", [xt, seed], f32(3, 2), {}, "backward");
    const gb = t.op("sum", [seed], f32(2), { axes: [0] }, "backward");
    const lr = t.scalar(0.1);
    const sW = t.op("mul", [gW, t.op("expand", [lr], f32(3, 2), { shape: [3, 2] }, "update")], f32(3, 2), {}, "update");
    const nW = t.op("sub", [W, sW], f32(3, 2), {}, "update");
    const sb = t.op("mul", [gb, t.op("expand", [lr], f32(2), { shape: [2] }, "update")], f32(2), {}, "update");
    const nb = t.op("sub", [bias, sb], f32(2), {}, "update");
    return t.b.build([loss], [{ variable: W, value: nW }, { variable: bias, value: nb }], [{ wrt: W, value: gW }, { wrt: bias, value: gb }]);
  }

  it("variables are named vertices; each gets a reversed gradient edge and an update edge", async () => {
    const g = trainingGraph();
    const dot = g.toDot();
    expect(dot).toContain('n1 [label="W\\nvar f32[3,2]", shape="cylinder"');
    expect(dot).toContain('subgraph "cluster_dense"');
    const svg = await g.draw().toSVG();
    expect(svg.startsWith("<svg")).toBe(true);
    for (const name of ["W", "b"]) {
      expect(svg).toMatch(new RegExp(`<g id="node\\d+" class="node variable">[\\s\\S]*?<text[^>]*>${name}</text>`));
      expect(svg).toMatch(new RegExp(`<g id="edge\\d+" class="edge gradient">[\\s\\S]*?<text[^>]*>grad ${name}</text>`));
      expect(svg).toMatch(new RegExp(`<g id="edge\\d+" class="edge update">[\\s\\S]*?<text[^>]*>assign ${name}</text>`));
    }
    expect(svg).toMatch(/class="edge backward"/);
    const bundle = await (g as unknown as { [k: symbol]: () => Promise<Record<string, string>> })[Symbol.for("Jupyter.display")]();
    expect(bundle["text/plain"]).toBe(g.toString());
    expect(bundle["image/svg+xml"]).toContain("</svg>");
    expect(bundle["text/html"]).toBe(`<div class="tensorbook-graph" style="overflow-x:auto">${bundle["image/svg+xml"]}</div>`);
  });

  it("scopes collapse by depth or stay open when listed in expand", () => {
    const g = trainingGraph();
    const collapsed = g.toDot({ depth: 0 });
    expect(collapsed).toContain('scope_dense [label="dense\\n(3 ops)", shape="box3d"');
    expect(collapsed).not.toContain("cluster_dense");
    expect(g.toDot({ depth: 0, expand: ["dense"] })).toContain("cluster_dense");
  });

  it("a 500-node graph renders", async () => {
    const t = builder();
    let h = t.input("x", f32(8, 16), 0);
    for (let layer = 0; layer < 60; layer++) {
      t.scope.push(`block${Math.floor(layer / 10)}`, `layer${layer}`);
      const W = t.variable(`W${layer}`, f32(16, 16));
      const m = t.op("matmul", [h, W], f32(8, 16), {});
      const a = t.op("tanh", [m], f32(8, 16), {});
      const s = t.op("add", [a, h], f32(8, 16), {});
      const e = t.op("exp", [s], f32(8, 16), {});
      const d = t.op("div", [s, e], f32(8, 16), {});
      h = t.op("mul", [d, a], f32(8, 16), {});
      t.scope.length = 0;
    }
    const g = t.b.build([t.op("sum", [h], f32(), { axes: [0, 1] })]);
    expect(g.nodes.length).toBeGreaterThanOrEqual(420);
    const svg = await g.draw().toSVG();
    expect(svg.match(/class="node /g)!.length).toBe(g.nodes.length);
  });
});
