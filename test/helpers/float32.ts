// Float32 inputs that reach every exponent, and errors in ulp of the correctly rounded
// result, for accuracy tests of elementwise functions against float64 references.

import { rng } from "../wasm/helpers.js";

/**
 * n float32s for a sweep: uniformly random bit patterns of finite numbers of either sign
 * (so every exponent, subnormals included, is about equally represented), the float32s
 * nearest to k pi/2 and their neighbours for k up to 2^24 (where a range reduction loses
 * the most bits), and the specials 0, -0, +-inf, NaN, the largest float32 and the
 * smallest subnormal.
 */
export function float32Sweep(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const bits = new Uint32Array(n);
  const f = new Float32Array(bits.buffer);
  const specials = [0, -0, Infinity, -Infinity, NaN, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45];
  specials.forEach((v, i) => (f[i] = v));
  let i = specials.length;
  // near multiples of pi/2: k spread over [1, 2^24] by a geometric walk, +-2 ulp around each
  for (let k = 1; i + 5 <= n / 4; k = Math.ceil(k * 1.01 + 1)) {
    f[i] = Math.fround((k * Math.PI) / 2);
    const b = bits[i]!;
    for (const d of [-2, -1, 1, 2]) bits[++i] = b + d;
    i++;
  }
  for (; i < n; i++) {
    let b: number;
    do b = Math.floor(r() * 0x7f800000); while (b >= 0x7f800000);
    bits[i] = r() < 0.5 ? b : (b | 0x80000000) >>> 0;
  }
  return f;
}

/** ulp of the float32 y (the subnormal spacing below 2^-126; Infinity for inf and NaN). */
export function ulpOf(y: number): number {
  const a = Math.abs(y);
  if (!Number.isFinite(a)) return Infinity;
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/**
 * The largest error of got[i] against ref(x[i]) rounded to float32, in ulp of that rounded
 * value; a NaN reference must be matched by NaN (else the error is Infinity). Returns the
 * error and the input where it occurs.
 */
export function maxUlpError(x: Float32Array, got: ArrayLike<number>, ref: (x: number) => number): { ulps: number; at: number } {
  let ulps = 0, at = NaN;
  for (let i = 0; i < x.length; i++) {
    const want = Math.fround(ref(x[i]!)), g = got[i]!;
    const e = Number.isNaN(want) ? (Number.isNaN(g) ? 0 : Infinity) : g === want ? 0 : Math.abs(g - want) / ulpOf(want);
    if (!(e <= ulps)) { ulps = e; at = x[i]!; }
  }
  return { ulps, at };
}
