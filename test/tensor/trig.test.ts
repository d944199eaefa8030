// sin and cos of float32 tensors over every exponent, on the backend the tensor suite runs
// on: within 2 ulp of float64 Math.sin/Math.cos rounded to float32, eager and compiled by
// tb.fn (where the function fuses with the multiplication after it), for random bit
// patterns of all finite float32s, the float32s nearest to multiples of pi/2, and the
// specials (inf and NaN give NaN).

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { float32Sweep, maxUlpError } from "../helpers/float32.js";

await useTestBackend();

const xs = float32Sweep(1 << 16, 77);

describe("sin and cos over every exponent", () => {
  for (const [name, f, ref] of [["sin", tb.sin, Math.sin], ["cos", tb.cos, Math.cos]] as const) {
    it(`${name}: eager within 2 ulp`, () => {
      const r = maxUlpError(xs, f(tb.tensor(xs)).dataSync() as Float32Array, ref);
      expect(r.ulps, `worst at x = ${r.at}`).toBeLessThanOrEqual(2);
    });
    it(`${name}: compiled, fused with a multiplication by 2, within 2 ulp`, () => {
      const g = tb.fn((t: tb.Tensor) => f(t).mul(2));
      const twice = g(tb.tensor(xs)).dataSync() as Float32Array;
      // doubling and halving are exact for results in [-1, 1], subnormal ones included
      const r = maxUlpError(xs, twice.map((v) => v / 2), ref);
      expect(r.ulps, `worst at x = ${r.at}`).toBeLessThanOrEqual(2);
    });
  }
});
