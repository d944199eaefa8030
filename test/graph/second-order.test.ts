// Compiled gradients of gradients through products with epilogues: tb.fn of a function that
// takes tb.grad of a function of a first gradient, through conv2d (or matmul) then tanh.
// The second-order graph fuses elementwise chains that do not read the product (1 - y*y)
// into the product's epilogue; the compiled result must equal the eager one and central
// finite differences of the eager first gradient.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { fn } from "../../src/graph/fn.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectTensorsClose } from "../helpers/close.js";

/** d/dx of sum(R * f(x)) by central differences, evaluated in float64 from float32 outputs. */
function numericGrad(f: (x: Tensor) => Tensor, x: Tensor, R: Tensor, h = 1e-2): Float64Array {
  const base = x.dataSync() as Float32Array;
  const r = R.dataSync();
  const L = (data: Float32Array) => {
    const y = f(tb.tensor(data, { shape: x.shape })).dataSync();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
    return s;
  };
  const out = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i]! += h;
    minus[i]! -= h;
    out[i] = (L(plus) - L(minus)) / (plus[i]! - minus[i]!);
  }
  return out;
}

function expectCloseToNumeric(analytic: Tensor, numeric: Float64Array, rtol: number, atol: number): void {
  const a = analytic.dataSync();
  for (let i = 0; i < numeric.length; i++) {
    const err = Math.abs(a[i]! - numeric[i]!);
    if (!(err <= atol + rtol * Math.abs(numeric[i]!))) expect.fail(`element ${i}: analytic ${a[i]} vs numeric ${numeric[i]}`);
  }
}

describe("grad of grad, compiled", () => {
  // loss(x) = sum(tanh(conv2d(x, w))); its gradient g(x) = conv2dInputGrad((1 - y^2), w);
  // second order: d/dx sum(R * g(x)).
  const cases = {
    "conv2d then tanh": {
      inputs: () => [tb.randn([2, 2, 5, 5]), tb.randn([3, 2, 3, 3]).mul(0.3)],
      product: (x: Tensor, w: Tensor) => tb.conv2d(x, w, { padding: 1 }),
    },
    "matmul then tanh": {
      inputs: () => [tb.randn([4, 6]), tb.randn([6, 5]).mul(0.4)],
      product: (x: Tensor, w: Tensor) => tb.matmul(x, w),
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: compiled second-order gradient equals the eager one and finite differences`, () => {
      tb.seed(7);
      const [x, w] = c.inputs() as [Tensor, Tensor];
      const firstGrad = (x: Tensor, w: Tensor) =>
        tb.grad((v: Tensor) => tb.tanh(c.product(v, w)).sum())(x) as Tensor;
      const R = tb.randn(x.shape);
      // tensors reach the traced function as arguments (R, w), none from the enclosing scope
      const second = (x: Tensor, w: Tensor, R: Tensor) =>
        tb.grad((v: Tensor) => firstGrad(v, w).mul(R).sum())(x) as Tensor;
      const eager = second(x, w, R);
      const compiled = fn(second);
      const got = compiled(x, w, R);
      expectTensorsClose(got, eager, 1e-4, 1e-5);
      expectCloseToNumeric(got, numericGrad((v) => firstGrad(v, w), x, R), 2e-2, 2e-3);
      // the tanh gradient's chain joined the product's epilogue
      expect(compiled.stats(x, w, R).fusedKernels).toBeGreaterThan(0);
      // and the weight's second-order gradient compiles too
      const mixed = fn((x: Tensor, w: Tensor, R: Tensor) => tb.grad((u: Tensor) => firstGrad(x, u).mul(R).sum())(w) as Tensor);
      expectTensorsClose(mixed(x, w, R), tb.grad((u: Tensor) => firstGrad(x, u).mul(R).sum())(w) as Tensor, 1e-4, 1e-5);
    });
  }
});
