// sin and cos of the wasm backend (trig.ts) for every kind of float32: within 2 ulp of the
// correctly rounded result (float64 Math.sin/Math.cos rounded to float32) over random bit
// patterns of all exponents, the float32s nearest to multiples of pi/2, and the specials
// (relaxed SIMD's fused polynomials: relaxed.test.ts); identical bits for 1 and 2 threads;
// and the table of 2/pi bits the large-argument reduction reads, against fdlibm's.

import { describe, expect, test } from "vitest";
import { createWasmBackend, type WasmBackend } from "../../src/backend/wasm/index.js";
import { twoOverPiWords } from "../../src/backend/wasm/reserved.js";
import { float32Sweep, maxUlpError } from "../helpers/float32.js";
import { applyUnary } from "./helpers.js";

const xs = float32Sweep(1 << 18, 2024);

const apply = (be: WasmBackend, op: "sin" | "cos", x: Float32Array): Float32Array => applyUnary(be, op, x);

describe("wasm sin and cos", () => {
  const be = createWasmBackend({ threads: 1 });
  for (const [op, ref] of [["sin", Math.sin], ["cos", Math.cos]] as const) {
    test(`${op} within 2 ulp for every exponent`, () => {
      const r = maxUlpError(xs, apply(be, op, xs), ref);
      expect(r.ulps, `worst at x = ${r.at}`).toBeLessThanOrEqual(2);
    });
  }

  test("specials: sin(-0) = -0, cos(+-0) = 1, inf and NaN give NaN; huge arguments", () => {
    const x = Float32Array.from([-0, 0, Infinity, -Infinity, NaN, 1e10, 3e38, -3e38]);
    const s = apply(be, "sin", x), c = apply(be, "cos", x);
    expect(Object.is(s[0], -0) && Object.is(s[1], 0)).toBe(true);
    expect([c[0], c[1]]).toEqual([1, 1]);
    for (let i = 2; i < 5; i++) expect([s[i], c[i]]).toEqual([NaN, NaN]);
    // float64 references: sin(1e10) = -0.48750602508751067, cos(3e38) from Math.cos
    expect(s[5]).toBe(Math.fround(-0.48750602508751067));
    expect(c[6]).toBe(Math.fround(Math.cos(Math.fround(3e38))));
    expect(c[7]).toBe(c[6]);
  });

  test("1 and 2 threads give the same bits", () => {
    const one = createWasmBackend({ threads: 1 }), two = createWasmBackend({ threads: 2 });
    // large enough for the pool to split it
    const big = new Float32Array(1 << 19);
    for (let i = 0; i < big.length; i++) big[i] = xs[i % xs.length]!;
    for (const op of ["sin", "cos"] as const) {
      const a = new Uint32Array(apply(one, op, big).buffer), b = new Uint32Array(apply(two, op, big).buffer);
      expect(a.every((v, i) => v === b[i])).toBe(true);
    }
    expect(two.workersStarted()).toBeGreaterThan(0);
    void two.terminate();
  });

  test("the 2/pi table matches fdlibm's two_over_pi (24-bit chunks)", () => {
    // fdlibm e_rem_pio2.c, two_over_pi[0..7]: 192 bits of 2/pi after the binary point
    const fdlibm = [0xa2f983, 0x6e4e44, 0x1529fc, 0x2757d1, 0xf534dd, 0xc0db62, 0x95993c, 0x439041];
    const bits = fdlibm.map((w) => w.toString(2).padStart(24, "0")).join("");
    // word i holds bits 8i - 23 .. 8i + 8 (1-based), so word 3 + k starts at bit 8k + 1
    const words = twoOverPiWords();
    for (let k = 0; 8 * k + 32 <= bits.length; k++) {
      expect(words[3 + k]!.toString(2).padStart(32, "0"), `word ${3 + k}`).toBe(bits.slice(8 * k, 8 * k + 32));
    }
    expect(words[0]).toBe(0xa2);
  });
});
