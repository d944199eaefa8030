// Gradient checks against central finite differences.
//
// For f: tensors -> tensor, the scalar L(x) = sum(f(x) * R) with a fixed random R tests
// every output element at once. Analytic dL/dx comes from tb.grad; numeric from
// (L(x + h e_i) - L(x - h e_i)) / 2h per element, with L evaluated in float64 from the
// float32 outputs. h and the tolerances suit float32 on well-scaled inputs.

import { expect } from "vitest";
import * as tb from "../../src/index.js";

export interface GradCheckOptions {
  h?: number;
  rtol?: number;
  atol?: number;
  /** Only these argument indices are checked (default: all float32 inputs). */
  argnums?: number[];
}

export function gradCheck(f: (...xs: tb.Tensor[]) => tb.Tensor, inputs: tb.Tensor[], options: GradCheckOptions = {}, what = ""): void {
  const h = options.h ?? 1e-2;
  const rtol = options.rtol ?? 2e-2;
  const atol = options.atol ?? 2e-3;
  const argnums = options.argnums ?? inputs.map((x, i) => (x.dtype === "float32" ? i : -1)).filter((i) => i >= 0);
  const y0 = tb.noGrad(() => f(...inputs));
  const gen = new tb.Generator(1234);
  const R = tb.randn(y0.shape, { generator: gen });
  const Rd = Float64Array.from(R.dataSync());
  const L = (xs: tb.Tensor[]): number => {
    const y = tb.noGrad(() => f(...xs)).dataSync();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * Rd[i];
    return s;
  };
  const analytic = tb.grad((...xs: tb.Tensor[]) => f(...xs).mul(R).sum(), argnums)(...inputs) as tb.Tensor[];
  argnums.forEach((k, j) => {
    const base = inputs[k].dataSync() as Float32Array;
    const ga = analytic[j].dataSync();
    expect(analytic[j].shape, `${what} grad shape of input ${k}`).toEqual(inputs[k].shape);
    for (let i = 0; i < base.length; i++) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i] += h;
      minus[i] -= h;
      const xs1 = inputs.map((x, m) => (m === k ? tb.tensor(plus, { shape: x.shape }) : x));
      const xs2 = inputs.map((x, m) => (m === k ? tb.tensor(minus, { shape: x.shape }) : x));
      const num = (L(xs1) - L(xs2)) / (Float32Array.from([base[i] + h])[0] - Float32Array.from([base[i] - h])[0]);
      const err = Math.abs(ga[i] - num);
      if (!(err <= atol + rtol * Math.abs(num))) {
        expect.fail(`${what}: d/dx${k}[${i}] analytic ${ga[i]} vs numeric ${num} (|diff| ${err})`);
      }
    }
  });
}
