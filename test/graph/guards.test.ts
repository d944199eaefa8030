// tb.fn never serves a stale program: tensors captured from the enclosing scope are
// refused, module modes and settings, optimizer hyperparameters and grad mode changed after
// tracing trace anew, backward() inside a compiled function leaves real gradients in .grad
// (and accumulates into them as eagerly), and checkNumerics checks compiled functions too.
// Each compiled result is compared with the same code run eagerly.

import { describe, expect, it, vi } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectTensorsClose } from "../helpers/close.js";

const close = expectTensorsClose;

describe("captured tensors", () => {
  it("a plain tensor from the enclosing scope is refused, naming it and what to write", () => {
    const X = tb.randn([4, 3]);
    let w = tb.randn([3, 1]);
    const loss = tb.fn(() => X.matmul(w).square().mean());
    expect(() => loss()).toThrow(/float32\[4,3\] made outside it.*Pass it as an argument.*tb\.variable/s);
    // Passed as arguments, the reassigned w is read at each call: the loss follows eager's.
    const byArgs = tb.fn((X: Tensor, w: Tensor) => X.matmul(w).square().mean());
    for (let i = 0; i < 3; i++) {
      close(byArgs(X, w), X.matmul(w).square().mean());
      w = w.mul(0.5);
    }
    expect(byArgs.cacheSize).toBe(1);
  });

  it("a captured tensor that requires grad is refused with the variable advice", () => {
    const w = tb.randn([3], { requiresGrad: true });
    const step = tb.fn((x: Tensor) => {
      const l = x.mul(w).sum();
      l.backward();
      return l;
    });
    expect(() => step(tb.ones([3]))).toThrow(/requires grad.*tb\.variable/s);
    // The refused trace left nothing behind: eager autograd on w still works.
    tb.ones([3]).mul(w).sum().backward();
    close(w.grad!, tb.ones([3]));
  });

  it("tensors made inside the function are constants; tb.trace draws captured ones", () => {
    const f = tb.fn((x: Tensor) => x.add(tb.tensor([1, 2, 3])));
    close(f(tb.zeros([3])), tb.tensor([1, 2, 3]));
    const c = tb.tensor([5, 6, 7]);
    const g = tb.trace((x: Tensor) => x.add(c), tb.zeros([3]));
    expect(g.nodes.some((n) => n.kind === "constant")).toBe(true);
  });

  it("a variable is read at every call: assign between calls is seen", () => {
    const w = tb.variable(tb.tensor([1, 2, 3]), { requiresGrad: false });
    const f = tb.fn((x: Tensor) => x.mul(w));
    close(f(tb.ones([3])), tb.tensor([1, 2, 3]));
    w.assign(tb.tensor([4, 5, 6]));
    close(f(tb.ones([3])), tb.tensor([4, 5, 6]));
    expect(f.cacheSize).toBe(1);
  });
});

describe("modes and settings changed after tracing", () => {
  it("model.eval() after tracing in train mode: no dropout, BatchNorm running statistics untouched", () => {
    tb.seed(1);
    const model = new tb.nn.Sequential(new tb.nn.Linear(5, 8), new tb.nn.BatchNorm1d(8), new tb.nn.Dropout(0.5), new tb.nn.Linear(8, 2));
    const f = tb.fn((x: Tensor) => model(x));
    const x = tb.randn([16, 5]);
    tb.noGrad(() => f(x)); // traced in train mode: batch statistics, dropout, running stats updated
    const bn = model[1] as tb.nn.BatchNorm1d;
    const mean = bn.runningMean!.detach().clone();
    model.eval();
    const compiled = tb.noGrad(() => f(x));
    const eager = tb.noGrad(() => model(x));
    close(compiled, eager, 1e-5, 1e-6);
    close(bn.runningMean!, mean, 0, 0); // eval mode does not update them
    close(tb.noGrad(() => f(x)), eager, 1e-5, 1e-6); // deterministic: no dropout
    model.train();
    tb.noGrad(() => f(x));
    expect(f.cacheSize).toBe(2); // one program per mode, both kept
    expect(bn.runningMean!.sub(mean).abs().sum().item()).toBeGreaterThan(0);
  });

  it("a module option changed after tracing (dropout p) traces anew", () => {
    const drop = new tb.nn.Dropout(0.5);
    const f = tb.fn((x: Tensor) => drop(x));
    const x = tb.ones([1000]);
    expect(tb.noGrad(() => f(x)).eq(0).sum().item()).toBeGreaterThan(300);
    drop.p = 0;
    close(tb.noGrad(() => f(x)), x, 0, 0);
  });

  it("state that changes at every call retraces each time, correctly, and says so once", () => {
    class Counting extends tb.nn.Module {
      calls = 0;
      forward(x: Tensor): Tensor {
        this.calls++;
        return x.mul(this.calls);
      }
    }
    const m = new Counting();
    const f = tb.fn((x: Tensor) => m(x));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      for (let i = 1; i <= 12; i++) close(f(tb.ones([2])), tb.full([2], i));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/traced more than 8 times.*settings of Counting/s);
    } finally {
      warn.mockRestore();
    }
    expect(f.cacheSize).toBe(8);
  });

  it("grad mode is part of the cache key", () => {
    const W = tb.variable(tb.tensor([2, 3]), { name: "W" });
    const body = (x: Tensor) => {
      const y = x.mul(W);
      return y.requiresGrad ? y.sum() : y.mean();
    };
    const f = tb.fn(body);
    const x = tb.tensor([1, 1]);
    close(f(x), tb.tensor(5));
    close(tb.noGrad(() => f(x)), tb.tensor(2.5));
    close(f(x), tb.tensor(5));
    expect(f.cacheSize).toBe(2);
  });

  /** A linear model, an optimizer over it and its training step; the same each call. */
  const linearRun = <H extends { lr: number }>(makeOpt: (ps: tb.Tensor[]) => tb.optim.Optimizer<H>) => {
    tb.seed(4);
    const model = new tb.nn.Linear(3, 2);
    const opt = makeOpt(model.parameters());
    const step = (x: Tensor, y: Tensor) => opt.minimize(tb.mseLoss(model(x), y));
    return { model, opt, step };
  };
  const x = tb.randn([4, 3]);
  const y = tb.randn([4, 2]);

  it("an optimizer hyperparameter changed after tracing (weightDecay) is used by the next call", () => {
    const make = () => linearRun((ps) => new tb.optim.SGD(ps, { lr: 0.1, weightDecay: 0 }));
    const eager = make();
    const graph = make();
    const compiled = tb.fn(graph.step);
    for (let i = 0; i < 4; i++) {
      if (i === 2) {
        eager.opt.paramGroups[0]!.weightDecay = 0.5;
        graph.opt.paramGroups[0]!.weightDecay = 0.5;
      }
      close(compiled(x, y), eager.step(x, y), 1e-5, 1e-6);
    }
    graph.model.parameters().forEach((p, i) => close(p, eager.model.parameters()[i]!, 1e-5, 1e-6));
  });

  it("optimizer.loadStateDict after tracing: the next call uses the loaded state", () => {
    const make = () => linearRun((ps) => new tb.optim.Adam(ps, { lr: 0.05 }));
    const eager = make();
    const graph = make();
    const compiled = tb.fn(graph.step);
    for (let i = 0; i < 3; i++) close(compiled(x, y), eager.step(x, y), 1e-5, 1e-6);
    // Both load the model and optimizer state of another run (new state Variables).
    const other = make();
    other.step(x.mul(-1), y);
    const savedModel = other.model.stateDict();
    const savedOpt = other.opt.stateDict();
    eager.model.loadStateDict(savedModel);
    graph.model.loadStateDict(savedModel);
    eager.opt.loadStateDict(savedOpt);
    graph.opt.loadStateDict(savedOpt);
    for (let i = 0; i < 2; i++) close(compiled(x, y), eager.step(x, y), 1e-5, 1e-6);
    graph.model.parameters().forEach((p, i) => close(p, eager.model.parameters()[i]!, 1e-5, 1e-6));
  });

  it("with checkNumerics on, a compiled function checks every op", () => {
    const f = tb.fn((x: Tensor) => x.log().add(1));
    close(f(tb.tensor([1])), tb.tensor([1]));
    tb.debug.checkNumerics(true);
    try {
      expect(() => f(tb.tensor([-1]))).toThrow(/checkNumerics: log produced NaN/);
    } finally {
      tb.debug.checkNumerics(false);
    }
    expect(Number.isNaN(f(tb.tensor([-1])).item())).toBe(true);
  });
});

describe("backward() inside a compiled function", () => {
  const setup = () => {
    tb.seed(9);
    const W = tb.variable(tb.randn([3, 2]), { name: "W" });
    const b = tb.variable(tb.zeros([2]), { name: "b" });
    const loss = (x: Tensor, y: Tensor) => tb.mseLoss(x.matmul(W).add(b), y);
    return { W, b, loss };
  };
  const x = tb.randn([5, 3]);
  const y = tb.randn([5, 2]);

  it("leaves each variable's gradient in .grad, as eagerly", () => {
    const e = setup();
    const g = setup();
    const compiled = tb.fn((x: Tensor, y: Tensor) => {
      g.W.zeroGrad();
      g.b.zeroGrad();
      const l = g.loss(x, y);
      l.backward();
      return l;
    });
    for (let i = 0; i < 3; i++) {
      const lg = compiled(x, y);
      e.W.zeroGrad();
      e.b.zeroGrad();
      const le = e.loss(x, y);
      le.backward();
      close(lg, le);
      close(g.W.grad!, e.W.grad!, 1e-5, 1e-6);
      close(g.b.grad!, e.b.grad!, 1e-5, 1e-6);
      // real values, usable eagerly afterwards
      expect(g.W.grad!.sum().item()).toBeCloseTo(e.W.grad!.sum().item(), 5);
    }
    expect(compiled.cacheSize).toBe(1);
  });

  it("accumulates into .grad across calls without zeroGrad, as eagerly", () => {
    const e = setup();
    const g = setup();
    const compiled = tb.fn((x: Tensor, y: Tensor) => {
      const l = g.loss(x, y);
      l.backward();
      return l;
    });
    for (let i = 0; i < 3; i++) {
      compiled(x, y);
      e.loss(x, y).backward();
      close(g.W.grad!, e.W.grad!, 1e-5, 1e-6);
    }
    // a null .grad at entry and a tensor at entry are two programs
    expect(compiled.cacheSize).toBe(2);
    g.W.zeroGrad();
    g.b.zeroGrad();
    e.W.zeroGrad();
    e.b.zeroGrad();
    compiled(x, y);
    e.loss(x, y).backward();
    close(g.W.grad!, e.W.grad!, 1e-5, 1e-6);
    expect(compiled.cacheSize).toBe(2);
  });

  it("zeroGrad at the end of the function leaves .grad null", () => {
    const g = setup();
    const compiled = tb.fn((x: Tensor, y: Tensor) => {
      const l = g.loss(x, y);
      l.backward();
      const n = g.W.grad!.square().sum();
      g.W.zeroGrad();
      g.b.zeroGrad();
      return n;
    });
    g.W.grad = tb.ones([3, 2]);
    compiled(x, y);
    expect(g.W.grad).toBeNull();
    expect(g.b.grad).toBeNull();
  });
});
