// Graph mode end to end: tracing and its cache, errors inside traced functions, printed
// graphs of real functions, graph autodiff against eager gradients, a compiled training
// step against the same steps run eagerly, fusion and memory planning statistics, random
// numbers across runs, and diagrams of a traced training step.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { fn, trace } from "../../src/graph/fn.js";
import { nameScope } from "../../src/graph/scope.js";
import { variable, type Variable } from "../../src/graph/variable.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectTensorsClose } from "../helpers/close.js";

const close = expectTensorsClose;

/** A two-layer perceptron on variables, with name scopes like nn modules open. */
function mlp(seed: number) {
  tb.seed(seed);
  const W1 = variable(tb.randn([6, 8]).mul(0.3), { name: "W1" });
  const b1 = variable(tb.zeros([8]), { name: "b1" });
  const W2 = variable(tb.randn([8, 3]).mul(0.3), { name: "W2" });
  const b2 = variable(tb.zeros([3]), { name: "b2" });
  const params: Variable[] = [W1, b1, W2, b2];
  const forward = (x: Tensor) => {
    const h = nameScope("layer1", () => tb.relu(x.matmul(W1).add(b1)));
    return nameScope("layer2", () => h.matmul(W2).add(b2));
  };
  const loss = (x: Tensor, y: Tensor) => tb.crossEntropy(forward(x), y);
  return { params, forward, loss };
}

describe("tracing", () => {
  it("traces once per signature and runs the cached program after", () => {
    let traces = 0;
    const f = fn((x: Tensor, scale: number) => {
      traces++;
      return x.mul(scale).sum();
    });
    const x = tb.ones([2, 3]);
    expect(f(x, 2).item()).toBe(12);
    expect(f(x, 2).item()).toBe(12);
    expect(f(tb.full([2, 3], 3), 2).item()).toBe(36);
    expect(traces).toBe(1);
    f(tb.ones([4]), 2); // new shape
    f(x, 3); // new static value
    f(tb.ones([2, 3], { dtype: "int32" }), 2); // new dtype
    expect(traces).toBe(4);
    expect(f.cacheSize).toBe(4);
    const g = fn((p: { a: Tensor; b: Tensor[] }) => p.a.add(p.b[0]!).add(p.b[1]!));
    expect(g({ a: tb.ones([2]), b: [tb.ones([2]), tb.ones([2])] }).tolist()).toEqual([3, 3]);
  });

  it("returns nested results with the function's structure", () => {
    const f = fn((x: Tensor) => ({ total: x.sum(), parts: [x.mul(2), x.neg()], label: "ok" }));
    const r = f(tb.tensor([1, 2]));
    expect(r.total.item()).toBe(3);
    expect(r.parts[0]!.tolist()).toEqual([2, 4]);
    expect(r.parts[1]!.tolist()).toEqual([-1, -2]);
    expect(r.label).toBe("ok");
  });

  it("reading a tensor's value inside a traced function is a clear error", () => {
    const f = fn((x: Tensor) => (Number(x.sum().item()) > 0 ? x : x.neg()));
    expect(() => f(tb.ones([2]))).toThrow("cannot read a traced tensor float32[]");
    expect(() => f(tb.ones([2]))).toThrow("its value exists only when the compiled function runs");
  });

  it("plain JS loops unroll and name scopes label the vertices", () => {
    const g = trace((x: Tensor) => {
      let h = x;
      for (let i = 0; i < 3; i++) h = nameScope(`block${i}`, () => h.mul(2).add(1));
      return h;
    }, tb.ones([2]));
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda x:f32[2] ; .
        let a:f32[2] = expand[shape=[2]] 2.0:f32[]  # block0
            b:f32[2] = mul x a  # block0
            c:f32[2] = expand[shape=[2]] 1.0:f32[]  # block0
            d:f32[2] = add b c  # block0
            e:f32[2] = expand[shape=[2]] 2.0:f32[]  # block1
            f:f32[2] = mul d e  # block1
            g:f32[2] = expand[shape=[2]] 1.0:f32[]  # block1
            h:f32[2] = add f g  # block1
            i:f32[2] = expand[shape=[2]] 2.0:f32[]  # block2
            j:f32[2] = mul h i  # block2
            k:f32[2] = expand[shape=[2]] 1.0:f32[]  # block2
            l:f32[2] = add j k  # block2
        in (l) }"
    `);
  });

  it("prints the graph of a two-layer perceptron", () => {
    const { loss } = mlp(0);
    const g = trace(loss, tb.randn([4, 6]), tb.tensor([0, 2, 1, 0], { dtype: "int32" }));
    expect(g.variables.map((v) => v.name)).toEqual(["W1", "b1", "W2", "b2"]);
    expect(g.inputs.map((v) => v.name)).toEqual(["x", "y"]);
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda x:f32[4,6] y:i32[4] ; W1:var f32[6,8] b1:var f32[8] W2:var f32[8,3] b2:var f32[3] .
        let a:f32[4,8] = matmul x W1  # layer1
            b:f32[4,8] = expand[shape=[4,8]] b1  # layer1
            c:f32[4,8] = add a b  # layer1
            d:f32[4,8] = expand[shape=[4,8]] 0.0:f32[]  # layer1
            e:f32[4,8] = maximum c d  # layer1
            f:f32[4,3] = matmul e W2  # layer2
            g:f32[4,3] = expand[shape=[4,3]] b2  # layer2
            h:f32[4,3] = add f g  # layer2
            i:f32[4,1] = max[axes=[1]] h
            j:f32[4,3] = expand[shape=[4,3]] i
            k:f32[4,3] = sub h j
            l:f32[4,3] = exp k
            m:f32[4,1] = sum[axes=[1]] l
            n:f32[4,1] = log m
            o:f32[4,3] = expand[shape=[4,3]] n
            p:f32[4,3] = sub k o
            q:i32[4] = expand[shape=[4]] -100:i32[]
            r:bool[4] = ne y q
            s:i32[4] = expand[shape=[4]] 0:i32[]
            t:i32[4] = where r y s
            u:i32[4,1] = reshape[shape=[4,1]] t
            v:f32[4,1] = gather[axis=1] p u
            w:f32[4] = reshape[shape=[4]] v
            z:f32[4] = neg w
            ba:f32[4] = expand[shape=[4]] 0.0:f32[]
            bb:f32[4] = where r z ba
            bc:f32[1] = sum[axes=[0]] bb
            bd:f32[] = reshape[shape=[]] bc
            be:f32[4] = cast[dtype="float32"] r
            bf:f32[1] = sum[axes=[0]] be
            bg:f32[] = reshape[shape=[]] bf
            bh:f32[] = div bd bg
        in (bh) }"
    `);
  });
});

describe("graph autodiff and training", () => {
  it("tb.grad inside a traced function matches eager gradients", () => {
    // The perceptron's parameters as plain tensors, passed in and differentiated.
    const values = mlp(1).params.map((p) => p.detach());
    const x = tb.randn([5, 6]);
    const y = tb.tensor([0, 1, 2, 1, 0], { dtype: "int32" });
    const lossOf = ([W1, b1, W2, b2]: Tensor[], x: Tensor, y: Tensor) =>
      tb.crossEntropy(tb.relu(x.matmul(W1!).add(b1!)).matmul(W2!).add(b2!), y);
    const gradOf = (ps: Tensor[], x: Tensor, y: Tensor) => tb.grad((qs: Tensor[]) => lossOf(qs, x, y))(ps) as Tensor[];
    const eager = gradOf(values, x, y);
    expect(eager).toHaveLength(4);
    // every gradient has nonzero entries, so the comparison below cannot pass on zeros
    for (const g of eager) expect(g.abs().max().item()).toBeGreaterThan(1e-4);
    const compiled = fn(gradOf)(values, x, y);
    compiled.forEach((g, i) => close(g, eager[i]!));
    const g = trace(gradOf, values, x, y);
    expect(g.ops.some((o) => o.phase === "backward")).toBe(true);
  });

  it("a whole SGD step compiles into one graph and matches eager steps", () => {
    const make = (seed: number) => {
      const m = mlp(seed);
      const step = (x: Tensor, y: Tensor) => {
        const l = m.loss(x, y);
        l.backward();
        for (const p of m.params) p.assign(p.sub(p.grad!.mul(0.5)));
        return l;
      };
      return { ...m, step };
    };
    tb.seed(5);
    const x = tb.randn([8, 6]);
    const y = tb.randint(0, 3, [8]);
    const eager = make(3);
    const graph = make(3);
    const compiled = fn(graph.step);
    for (let i = 0; i < 5; i++) {
      for (const p of eager.params) p.zeroGrad();
      for (const p of graph.params) p.zeroGrad();
      const le = eager.step(x, y);
      const lg = compiled(x, y);
      close(lg, le, 1e-4, 1e-5);
    }
    graph.params.forEach((p, i) => close(p, eager.params[i]!, 1e-4, 1e-5));
    // backward() inside the compiled step left each variable's gradient in .grad, as eagerly.
    graph.params.forEach((p, i) => close(p.grad!, eager.params[i]!.grad!, 1e-4, 1e-5));
    expect(compiled.cacheSize).toBe(1);
    const g = compiled.graph(x, y);
    expect(g.updates).toHaveLength(4);
    expect(new Set(g.ops.map((o) => o.phase))).toEqual(new Set(["forward", "backward"]));
    const stats = compiled.stats(x, y);
    expect(stats.opsAfter).toBeLessThan(stats.opsBefore);
    expect(stats.fusedKernels).toBeGreaterThan(0);
    expect(stats.bytesAfter).toBeLessThan(stats.bytesBefore);
    // Every update is written in place: the gradients are outputs (they land in .grad), so
    // each update is an elementwise kernel over its variable, not a matmul epilogue.
    expect(stats.inPlaceUpdates).toBe(4);
  });

  it("updates are written in place, yet reads of a variable see its value from before the step", () => {
    const a = variable(tb.tensor([1, 2]), { name: "a" });
    const b = variable(tb.tensor([10, 20]), { name: "b" });
    const swapAndBump = fn(() => {
      const oldA = a.mul(1);
      a.assign(b); // swap: each side reads the other's old value
      b.assign(oldA);
      return a; // the old value of a, as eagerly
    });
    expect(swapAndBump().tolist()).toEqual([1, 2]);
    expect([a.tolist(), b.tolist()]).toEqual([[10, 20], [1, 2]]);
    expect(swapAndBump().tolist()).toEqual([10, 20]);
    expect([a.tolist(), b.tolist()]).toEqual([[1, 2], [10, 20]]);

    const w = variable(tb.tensor([1, 2, 3]), { name: "w" });
    const sgd = fn((g: Tensor) => {
      w.assign(w.sub(g.mul(0.5)));
      return w.sum(); // read before the update: the old value
    });
    expect(sgd(tb.tensor([2, 2, 2])).item()).toBe(6);
    expect(w.tolist()).toEqual([0, 1, 2]);
    expect(sgd.stats(tb.tensor([2, 2, 2])).inPlaceUpdates).toBe(1);
  });

  it("tb.grad of a compiled function differentiates it (eagerly)", () => {
    const f = fn((x: Tensor) => x.mul(x).sum());
    const g = tb.grad(f)(tb.tensor([1, 2, 3])) as Tensor;
    expect(g.tolist()).toEqual([2, 4, 6]);
  });
});

describe("compilation", () => {
  it("sqrt(x*x + y*y) * 0.5 + 1 is one fused kernel", () => {
    const f = fn((x: Tensor, y: Tensor) => x.mul(x).add(y.mul(y)).sqrt().mul(0.5).add(1));
    const x = tb.randn([1000]);
    const y = tb.randn([1000]);
    const expected = x.mul(x).add(y.mul(y)).sqrt().mul(0.5).add(1);
    close(f(x, y), expected);
    expect(f.stats(x, y).kernels).toBe(1);
  });

  it("conv2d + bias + relu: the epilogue runs over the convolution's output, no extra buffers", () => {
    tb.seed(3);
    const x = tb.randn([2, 3, 8, 8]);
    const w = tb.randn([4, 3, 3, 3]);
    const b = tb.randn([4]);
    const f = (x: Tensor, w: Tensor, b: Tensor) => tb.relu(tb.conv2d(x, w, { padding: 1 }).add(b.reshape([1, 4, 1, 1])));
    const compiled = fn(f);
    close(compiled(x, w, b), f(x, w, b));
    const stats = compiled.stats(x, w, b);
    expect(stats.fusedKernels).toBe(1);
  });

  it("random numbers: each run draws new ones, the same as eager calls would", () => {
    const f = fn(() => tb.rand([5]));
    tb.seed(11);
    const graphRuns = [f(), f(), f()].map((t) => t.tolist());
    tb.seed(11);
    const eagerRuns = [tb.rand([5]), tb.rand([5]), tb.rand([5])].map((t) => t.tolist());
    // The first call traced (drawing once) and ran: later calls follow on from there.
    expect(graphRuns[0]).toEqual(eagerRuns[0]);
    expect(graphRuns[1]).toEqual(eagerRuns[1]);
    expect(graphRuns[2]).toEqual(eagerRuns[2]);
  });
});

describe("diagrams of traced graphs", () => {
  it("a training step shows named variable vertices, a reversed gradient edge and an update for each", async () => {
    const { params, loss } = mlp(2);
    const step = (x: Tensor, y: Tensor) => {
      const l = loss(x, y);
      l.backward();
      for (const p of params) p.assign(p.sub(p.grad!.mul(0.1)));
      return l;
    };
    const g = trace(step, tb.randn([4, 6]), tb.tensor([0, 1, 2, 0], { dtype: "int32" }));
    expect(g.grads).toHaveLength(4);
    const svg = await g.draw().toSVG();
    for (const name of ["W1", "b1", "W2", "b2"]) {
      expect(svg).toMatch(new RegExp(`class="node variable">[\\s\\S]*?<text[^>]*>${name}</text>`));
      expect(svg).toMatch(new RegExp(`class="edge gradient">[\\s\\S]*?<text[^>]*>grad ${name}</text>`));
      expect(svg).toMatch(new RegExp(`class="edge update">[\\s\\S]*?<text[^>]*>assign ${name}</text>`));
    }
    expect(svg).toContain('class="cluster scope"');
  });
});
