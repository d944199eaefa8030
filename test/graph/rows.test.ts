// Compiled normalisations: softmax, logSoftmax, layerNorm and crossEntropy over the last
// axis compile to one "rows" kernel (passes/rows.ts, backend kernel "rows"), agree with the
// primitive-by-primitive ops within float32 reordering tolerance, read strided inputs, and
// give identical bits on 1 and 2 threads. Eager calls of composites run compiled too
// (core/composite.ts) unless the tape must record them.

import { afterAll, describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Kernel } from "../../src/backend/backend.js";
import { expectTensorsClose } from "../helpers/close.js";

/** Runs fn with eager composites run primitive by primitive (checkNumerics disables their
 *  compiled path). */
function withPrimitives<T>(fn: () => T): T {
  tb.debug.checkNumerics(true);
  try {
    return fn();
  } finally {
    tb.debug.checkNumerics(false);
  }
}

/** Kinds of the kernels dispatched while fn runs. */
function kernelsOf(fn: () => unknown): string[] {
  const be = tb.getBackend();
  const dispatch = be.dispatch;
  const kinds: string[] = [];
  be.dispatch = (k: Kernel) => {
    kinds.push(k.kind);
    dispatch.call(be, k);
  };
  try {
    fn();
  } finally {
    be.dispatch = dispatch;
  }
  return kinds;
}

tb.seed(3);
const threads = tb.getThreads();
afterAll(() => tb.setThreads(threads));

describe("row kernels in compiled functions", () => {
  const x = tb.randn([64, 300]).mul(3);
  // Tensors a compiled function reads besides its arguments are variables.
  const w = tb.variable(tb.randn([300]), { requiresGrad: false });
  const b = tb.variable(tb.randn([300]), { requiresGrad: false });
  const labels = tb.randint(0, 300, [64]);

  const cases: [string, (x: tb.Tensor) => tb.Tensor, number][] = [
    ["softmax", (x) => tb.softmax(x, -1), 1],
    ["logSoftmax", (x) => tb.logSoftmax(x, -1), 1],
    ["layerNorm", (x) => tb.layerNorm(x, [300], { weight: w, bias: b }), 1],
    ["logsumexp with keepdims", (x) => tb.logsumexp(x, -1, { keepdims: true }).add(x), 1],
  ];
  for (const [name, f, kernels] of cases) {
    it(`${name} is ${kernels} kernel and matches eager`, () => {
      const c = tb.fn(f);
      expectTensorsClose(c(x), f(x), 1e-5, 1e-5);
      expect(c.stats(x).kernels).toBe(kernels);
    });
  }

  it("per-row results: logsumexp, variance and std over the last axis are one row kernel", () => {
    const cases: [string, (x: tb.Tensor) => tb.Tensor, string[]][] = [
      ["logsumexp", (x) => tb.logsumexp(x, -1), ["rows"]],
      ["var", (x) => x.var(-1), ["rows", "elementwise"]], // the division comes after the reshape
      ["std with keepdims", (x) => x.std(-1, { keepdims: true }), ["rows"]],
    ];
    for (const [name, f, kinds] of cases) {
      const c = tb.fn(f);
      expectTensorsClose(c(x), tb.noGrad(() => withPrimitives(() => f(x))), 1e-5, 1e-6);
      expect(kernelsOf(() => c(x)), name).toEqual(kinds);
    }
  });

  it("crossEntropy: the log-softmax rows are one kernel before the gather and the mean", () => {
    const f = (x: tb.Tensor, labels: tb.Tensor) => tb.crossEntropy(x, labels);
    const c = tb.fn(f);
    expectTensorsClose(c(x, labels), f(x, labels), 1e-5, 1e-6);
    // rows (log-softmax), the ignoreIndex mask and the safe index, gather, the masked sum of
    // the losses, the count of the targets not ignored, the division
    expect(c.stats(x, labels).kernels).toBeLessThanOrEqual(7);
  });

  it("strided rows (a transposed input) and a 3-d input", () => {
    const xt = tb.randn([300, 64]);
    const f = (x: tb.Tensor) => tb.softmax(x.transpose(), -1);
    expectTensorsClose(tb.fn(f)(xt), f(xt), 1e-5, 1e-7);
    const x3 = tb.randn([4, 5, 33]);
    const g = (x: tb.Tensor) => tb.logSoftmax(x, 2);
    expectTensorsClose(tb.fn(g)(x3), g(x3), 1e-5, 1e-6);
  });

  it("1 and 2 threads give identical bits", () => {
    const big = tb.randn([256, 1000]);
    const f = tb.fn((x: tb.Tensor) => tb.softmax(x, -1));
    tb.setThreads(1);
    const one = f(big).dataSync();
    tb.setThreads(2);
    f.clear();
    const two = f(big).dataSync();
    expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  });

  it("a training step through softmax rows matches eager gradients", () => {
    const f = (x: tb.Tensor, w: tb.Tensor) => tb.softmax(x.mul(w), -1).mul(tb.arange(300)).sum();
    const g = tb.grad(f, 1);
    const compiled = tb.fn((x: tb.Tensor, w: tb.Tensor) => tb.grad(f, 1)(x, w));
    expectTensorsClose(compiled(x, w), g(x, w), 1e-4, 1e-5);
  });

  it("eager composites run as one compiled kernel, taped ones too, with their own gradient", () => {
    const y = tb.randn([32, 100]);
    expect(kernelsOf(() => tb.softmax(y, -1))).toEqual(["rows"]);
    expect(kernelsOf(() => tb.layerNorm(y, 100))).toEqual(["rows"]);
    // softmax and logSoftmax bring their own gradient: one tape node, a compiled forward
    const p = y.clone().requiresGrad_();
    const g = tb.randn([32, 100]);
    const forward = kernelsOf(() => tb.softmax(p, -1));
    expect(forward).toEqual(["rows"]);
    expect(tb.softmax(p, -1).toString()).toContain("gradFn=<softmax>");
    // the gradients equal those of the same function written with primitives
    const bySoftmax = tb.grad((x: tb.Tensor) => tb.softmax(x, -1).mul(g).sum())(p);
    const byPrims = tb.grad((x: tb.Tensor) => {
      const e = x.sub(x.max(-1, { keepdims: true }).detach()).exp();
      return e.div(e.sum(-1, { keepdims: true })).mul(g).sum();
    })(p);
    expectTensorsClose(bySoftmax, byPrims, 1e-5, 1e-7);
    const byLog = tb.grad((x: tb.Tensor) => tb.logSoftmax(x, -1).mul(g).sum())(p);
    const byLogPrims = tb.grad((x: tb.Tensor) => x.sub(x.exp().sum(-1, { keepdims: true }).log()).mul(g).sum())(p);
    expectTensorsClose(byLog, byLogPrims, 1e-5, 1e-6);
    // and second derivatives
    const h = (f: (x: tb.Tensor) => tb.Tensor) => tb.grad((x: tb.Tensor) => tb.grad((z: tb.Tensor) => f(z).mul(g).sum())(x).square().sum())(p);
    expectTensorsClose(h((x) => tb.softmax(x, -1)), h((x) => {
      const e = x.sub(x.max(-1, { keepdims: true }).detach()).exp();
      return e.div(e.sum(-1, { keepdims: true }));
    }), 1e-4, 1e-6);
    expect(kernelsOf(() => tb.noGrad(() => tb.softmax(p, -1)))).toEqual(["rows"]);
  });

  it("a compiled training step fuses softmax forward and backward into row kernels", () => {
    const w = tb.variable(tb.randn([100, 100]).mul(0.1), { name: "w" });
    const step = tb.fn((x: tb.Tensor, t: tb.Tensor) => {
      const loss = tb.softmax(x.matmul(w), -1).mul(t).sum();
      const [gw] = tb.grad((w2: tb.Tensor) => tb.softmax(x.matmul(w2), -1).mul(t).sum(), [0])(w);
      return [loss, gw!];
    });
    const x = tb.randn([32, 100]), t = tb.randn([32, 100]);
    const [, gw] = step(x, t);
    const eager = tb.grad((w2: tb.Tensor) => tb.softmax(x.matmul(w2), -1).mul(t).sum())(w);
    expectTensorsClose(gw!, eager, 1e-4, 1e-6);
    // matmul; softmax rows (max, sum); the loss sum; the backward rows y * (g - sum(g * y));
    // the weight gradient's matmul (the two traced forwards merge into one)
    expect(kernelsOf(() => step(x, t))).toEqual(["matmul", "rows", "reduce", "rows", "matmul"]);
  });

  it("under checkNumerics composites run primitive by primitive and name the failing one", () => {
    tb.debug.checkNumerics(true);
    try {
      expect(() => tb.logSoftmax(tb.tensor([[1, Infinity]]), -1)).toThrow(/checkNumerics: max produced Inf/);
    } finally {
      tb.debug.checkNumerics(false);
    }
  });
});
