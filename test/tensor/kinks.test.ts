// Gradients at kinks and edge cases of composite ops, against values PyTorch 2.13 gives
// (the table in test/helpers/torch-kinks.ts); prod's gradient with zeros, to second order
// against finite differences and PyTorch; logsumexp over an empty axis.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { useTestBackend } from "../helpers/backend.js";
import { kinkCases } from "../helpers/torch-kinks.js";

await useTestBackend();

/** Equal as numbers, NaN to NaN and inf to inf, else within rtol (float32 rounding). */
function expectValues(what: string, got: Tensor, want: unknown, rtol = 1e-5, atol = 1e-6): void {
  const w = [want].flat(Infinity as 1) as number[];
  const g = Array.from(got.dataSync());
  expect(g.length, `${what}: size`).toBe(w.length);
  g.forEach((v, i) => {
    const e = w[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(v) : !Number.isFinite(e) ? v === e : Math.abs(v - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`${what}: element ${i} is ${v}, PyTorch gives ${e}`);
  });
}

describe("gradients at kinks, as PyTorch", () => {
  for (const c of kinkCases) {
    it(c.name, () => {
      const xs = c.inputs.map((v) => tb.tensor(v as number[]));
      if (c.value !== undefined) expectValues(`${c.name} value`, c.f(...xs), c.value);
      const argnums = xs.map((_x, i) => i);
      const gs = tb.grad((...a: Tensor[]) => c.f(...a).sum(), argnums)(...xs) as Tensor[];
      c.grads.forEach((want, i) => expectValues(`${c.name} d/dx${i}`, gs[i]!, want));
    });
  }
});

describe("prod with zeros: second order", () => {
  /** The Hessian of sum(prod(x, axis)) row by row: the gradient of each first-derivative element. */
  function hessian(x: Tensor, axis: number | undefined): number[][] {
    const first = (v: Tensor) => tb.grad((u: Tensor) => tb.prod(u, axis).sum())(v) as Tensor;
    const n = x.size;
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) {
      const pick = tb.oneHot(tb.tensor([i], { dtype: "int32" }), n).reshape(x.shape).cast("float32");
      rows.push(Array.from((tb.grad((v: Tensor) => first(v).mul(pick).sum())(x) as Tensor).dataSync()));
    }
    return rows;
  }

  it("matches PyTorch's Hessians with one and two zeros, over all and along an axis", () => {
    // torch.autograd.grad(gx[i], x) of gx = grad(x.prod(), create_graph=True), PyTorch 2.13
    expect(hessian(tb.tensor([2, 0, 3]), undefined)).toEqual([[0, 3, 0], [3, 0, 2], [0, 2, 0]]);
    expect(hessian(tb.tensor([2, 0, 0]), undefined)).toEqual([[0, 0, 0], [0, 0, 2], [0, 2, 0]]);
    expect(hessian(tb.tensor([2, 0, 0]), 0)).toEqual([[0, 0, 0], [0, 0, 2], [0, 2, 0]]);
    const noZero = hessian(tb.tensor([2, 5, 3]), undefined); // torch: [[0,3,5],[3,0,2],[5,2,~0]]
    noZero.flat().forEach((v, i) => expect(v).toBeCloseTo([0, 3, 5, 3, 0, 2, 5, 2, 0][i]!, 5));
  });

  it("second derivatives agree with finite differences of the first (rows with 0, 1, 2 zeros)", () => {
    const x = tb.tensor([[1.5, -2, 0.5, 3], [0, 2, -1, 1.25], [0, 1.5, 0, 2]]);
    const R = tb.tensor([[0.3, -1.2, 0.7, 0.4], [1.1, 0.2, -0.5, 0.9], [-0.6, 0.8, 1.3, -0.2]]);
    const first = (v: Tensor) => tb.grad((u: Tensor) => tb.prod(u, 1).sum())(v) as Tensor;
    const analytic = (tb.grad((v: Tensor) => first(v).mul(R).sum())(x) as Tensor).dataSync();
    const base = x.dataSync() as Float32Array;
    const h = 1e-2;
    const L = (d: Float32Array) => first(tb.tensor(d, { shape: x.shape })).mul(R).sum().item() as number;
    for (let i = 0; i < base.length; i++) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i]! += h;
      minus[i]! -= h;
      // sum(R * first(x)) is linear in each element, so central differences are exact up
      // to rounding
      const numeric = (L(plus) - L(minus)) / (plus[i]! - minus[i]!);
      expect(Math.abs(analytic[i]! - numeric), `element ${i}: ${analytic[i]} vs ${numeric}`).toBeLessThan(1e-3 + 1e-3 * Math.abs(numeric));
    }
  });
});

describe("logsumexp over an empty axis", () => {
  it("is -inf, as torch.logsumexp of an empty dim, with an empty gradient", () => {
    expectValues("lse [2,0] axis 1", tb.logsumexp(tb.zeros([2, 0]), 1), [-Infinity, -Infinity]);
    expectValues("lse [2,0] all", tb.logsumexp(tb.zeros([2, 0])), [-Infinity]);
    const k = tb.logsumexp(tb.zeros([3, 0]), 1, { keepdims: true });
    expect(k.shape).toEqual([3, 1]);
    expect(tb.logsumexp(tb.zeros([0, 4]), 1).shape).toEqual([0]);
    const g = tb.grad((x: Tensor) => tb.logsumexp(x, 1).sum())(tb.zeros([2, 0])) as Tensor;
    expect(g.shape).toEqual([2, 0]);
  });
});
