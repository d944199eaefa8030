// Eager optimizer steps run each parameter's update as a compiled program: changing a plain
// hyperparameter (weight decay, eps) between steps must take effect (the program retraces),
// and a scheduled one (lr) is read from its Variable. Oracle: Adam's equations in float64.
// The programs' buffers are freed once the optimizer is garbage.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { optim } from "../../src/index.js";
import { Variable } from "../../src/graph/variable.js";
import { collect, memory } from "../../src/core/runtime.js";

/** Adam (PyTorch's form, L2 weight decay added to the gradient) on float64 arrays. */
function adamRef(p: number[], g: number[], m: number[], v: number[], t: number, h: { lr: number; b1: number; b2: number; eps: number; wd: number }): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]! + h.wd * p[i]!;
    m[i] = h.b1 * m[i]! + (1 - h.b1) * gi;
    v[i] = h.b2 * v[i]! + (1 - h.b2) * gi * gi;
    const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - h.b2 ** t) + h.eps;
    p[i] = p[i]! - (h.lr / (1 - h.b1 ** t)) * (m[i]! / denom);
  }
}

describe("eager optimizer updates (compiled per parameter)", () => {
  it("follow changes of weight decay, eps and lr between steps", () => {
    const c = [0.5, -1, 2];
    const w = new Variable(tb.tensor([1, 2, 3]), { name: "w" });
    const opt = new optim.Adam([w], { lr: 0.1 });
    const ref = { p: [1, 2, 3], m: [0, 0, 0], v: [0, 0, 0] };
    const h = { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0 };
    for (let t = 1; t <= 6; t++) {
      if (t === 3) (opt.paramGroups[0]!.weightDecay = 0.5), (h.wd = 0.5);
      if (t === 4) (opt.paramGroups[0]!.eps = 0.1), (h.eps = 0.1);
      if (t === 5) (opt.paramGroups[0]!.lr = 0.01), (h.lr = 0.01);
      opt.minimize(w.mul(tb.tensor(c)).sum());
      adamRef(ref.p, c, ref.m, ref.v, t, h);
      const got = w.tolist() as number[];
      got.forEach((x, i) => expect(Math.abs(x - ref.p[i]!), `step ${t}, element ${i}`).toBeLessThan(1e-5));
    }
  });

  it("frees the programs' buffers when the optimizer is collected", async () => {
    const w = new Variable(tb.zeros([64, 64]), { name: "w" });
    const x = tb.ones([64, 64]);
    const before = memory().bytes;
    let opt: optim.Adam | undefined = new optim.Adam([w], { lr: 0.1 });
    opt.minimize(w.mul(x).sum());
    const during = memory().bytes;
    expect(during).toBeGreaterThan(before); // moments and the compiled update's buffers
    w.grad = null;
    opt = undefined;
    for (let i = 0; i < 20 && memory().bytes > before; i++) {
      collect();
      await new Promise((r) => setTimeout(r, 10));
      collect();
    }
    expect(memory().bytes).toBeLessThanOrEqual(before);
  });
});
