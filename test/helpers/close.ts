// Elementwise closeness of two tensors (same shape; |a - b| <= atol + rtol * |b|), with the
// first failing element named in the error.

import { expect } from "vitest";
import type { Tensor } from "../../src/tensor/tensor.js";

export function expectTensorsClose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-6): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const tol = atol + rtol * Math.abs(y[i]!);
    if (!(Math.abs(x[i]! - y[i]!) <= tol)) throw new Error(`element ${i}: ${x[i]} vs ${y[i]} (tolerance ${tol})`);
  }
}
