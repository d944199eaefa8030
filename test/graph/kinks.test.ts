// Gradients at kinks computed by compiled programs: every case of the PyTorch table in
// test/helpers/torch-kinks.ts, with tb.grad traced inside tb.fn, so the composites' own
// gradients (relu, clamp, hardtanh) and the primitives' rules at ties and zeros (maximum,
// max, prod, pow) go through graph optimization and fused kernels.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { kinkCases } from "../helpers/torch-kinks.js";

function expectValues(what: string, got: Tensor, want: unknown): void {
  const w = [want].flat(Infinity as 1) as number[];
  const g = Array.from(got.dataSync());
  expect(g.length, `${what}: size`).toBe(w.length);
  g.forEach((v, i) => {
    const e = w[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(v) : !Number.isFinite(e) ? v === e : Math.abs(v - e) <= 1e-6 + 1e-5 * Math.abs(e);
    if (!ok) expect.fail(`${what}: element ${i} is ${v}, PyTorch gives ${e}`);
  });
}

describe("gradients at kinks, compiled", () => {
  for (const c of kinkCases) {
    it(c.name, () => {
      const xs = c.inputs.map((v) => tb.tensor(v as number[]));
      const argnums = xs.map((_x, i) => i);
      const valueAndGrads = tb.fn((...a: Tensor[]) => [c.f(...a), ...(tb.grad((...u: Tensor[]) => c.f(...u).sum(), argnums)(...a) as Tensor[])]);
      const [value, ...gs] = valueAndGrads(...xs);
      if (c.value !== undefined) expectValues(`${c.name} value`, value!, c.value);
      c.grads.forEach((want, i) => expectValues(`${c.name} d/dx${i}`, gs[i]!, want));
    });
  }
});
