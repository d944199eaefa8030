// pow(a, b) of float32 lanes for generated kernels, as C's powf and PyTorch compute it: the
// magnitude within 1 ulp of |a|^b (nearly always correctly rounded), and C99's special
// cases exactly.
//
// Magnitude: 2^(b log2|a|) in float64, two lanes at a time. A float32 exp(b log|a|) loses
// |b log a| * 2^-24 to the rounding of its product (40 ulp at pow(2.5, 88.75), and
// pow(3.4e38, 1) overflowed to inf); in float64 the product errs by 2^-42 relative.
//   log2|a| = e + log2(m) with |a| = m 2^e, m in [sqrt(1/2), sqrt(2)) found from the bits
//             (subnormals scaled by 2^23 first); log2(m) = 2 atanh(s) / ln 2 with
//             s = (m - 1) / (m + 1), |s| <= 0.172, as s P(s^2), P of degree 4.
//   2^y       y clamped to [-200, 200] (beyond, float32 over- or underflows either way);
//             y = n + f with n = round(y), |f| <= 1/2; 2^f by a polynomial of degree 7;
//             2^n added to the exponent field. Demoting the float64 result to float32
//             rounds once, subnormal results included.
// Both polynomials err by less than 2^-34 relative, so y errs by 2^-34 |y| <= 2^-26 and
// the result by a hundredth of an ulp before its rounding.
// Special cases (C99 F.9.4.4), in float32 lane masks afterwards:
//   b = +-0 or a = 1: 1 (even for NaN); a = -1 and b = +-inf: 1; else NaN in: NaN;
//   a = +-0: b < 0 -> inf, b > 0 -> 0; |a| = inf: b < 0 -> 0, b > 0 -> inf;
//   a < 0 (sign bit set, so -0 and -inf too): an odd integer b negates the result; a
//   finite negative a with a finite non-integer b gives NaN. Integers of 2^24 and more are
//   even; infinite b counts as an even integer.

import { Fn, S, V128 } from "./emit.js";

/** log2(m) = s P(s^2) for |s| <= (sqrt 2 - 1) / (sqrt 2 + 1): P highest degree first, a
 *  least-squares fit of the relative error in float64 (Chebyshev nodes, iteratively
 *  reweighted), within 2^-37.8 of 2 atanh(s) / (s ln 2). */
const LOG2_P = [0.3407280033205874, 0.4116728275761527, 0.5770835832499319, 0.9617966733502159, 2.885390081790083];
/** 2^f for |f| <= 1/2, fitted the same way: within 2^-34.5 relative. */
const EXP2_P = [
  1.5201894172863634e-5, 1.5469290965616257e-4, 1.3333922684336114e-3, 9.618027254375341e-3,
  5.550410353296435e-2, 0.24022651198150535, 0.6931471807284948, 0.9999999999616865,
];
/** 1.5 * 2^52: y + MAGIC64 holds round(y) in its low mantissa bits. */
const MAGIC64 = 6755399441055744;
const SIGN = 0x80000000 | 0;

/** Horner's rule on f64x2 local z, by fused multiply-adds when `fma` (relaxed SIMD). */
function horner64(f: Fn, z: number, coeffs: readonly number[], fma: boolean): void {
  f.f64x2(coeffs[0]!);
  for (let i = 1; i < coeffs.length; i++) {
    if (fma) f.get(z).f64x2(coeffs[i]!).v(S.f64x2_relaxed_madd);
    else f.get(z).v(S.f64x2_mul).f64x2(coeffs[i]!).v(S.f64x2_add);
  }
}

/** Pushes pow(a, b) of the f32x4 locals a and b. */
export function emitPow(f: Fn, a: number, b: number, fma: boolean): void {
  const x = f.local(V128), e = f.local(V128), m = f.local(V128), mask = f.local(V128), res = f.local(V128);
  // |a| = m 2^e with m in [sqrt(1/2), sqrt(2)), exactly; subnormals scaled by 2^23 first
  f.get(a).v(S.f32x4_abs).f32x4(1.17549435e-38).v(S.f32x4_lt).set(mask);
  f.get(a).v(S.f32x4_abs).f32x4(8388608).v(S.f32x4_mul).get(a).v(S.f32x4_abs).get(mask).v(S.bitselect).set(x);
  f.get(x).i32(23).v(S.i32x4_shr_u).i32x4(126).v(S.i32x4_sub);
  f.get(mask).i32x4(-23).v(S.and).v(S.i32x4_add).set(e);
  f.get(x).i32x4(0x807fffff | 0).v(S.and).i32x4(0x3f000000).v(S.or).set(m); // [0.5, 1)
  f.get(m).f32x4(Math.SQRT1_2).v(S.f32x4_lt).set(mask);
  f.get(e).get(mask).v(S.i32x4_add).set(e);
  f.get(m).get(m).v(S.f32x4_add).get(m).get(mask).v(S.bitselect).set(m);
  // |a|^b in float64, lanes 0-1 then 2-3
  const half = (high: boolean) => {
    const md = f.local(V128), s = f.local(V128), z = f.local(V128), y = f.local(V128), t = f.local(V128), fr = f.local(V128);
    const low = (v: number) => {
      f.get(v);
      if (high) f.get(v).shuffle32([2, 3, 2, 3]);
    };
    low(m);
    f.v(S.f64x2_promote_low_f32x4).set(md);
    f.get(md).f64x2(1).v(S.f64x2_sub).get(md).f64x2(1).v(S.f64x2_add).v(S.f64x2_div).set(s);
    f.get(s).get(s).v(S.f64x2_mul).set(z);
    horner64(f, z, LOG2_P, fma);
    f.get(s).v(S.f64x2_mul);
    low(e);
    f.v(S.f64x2_convert_low_i32x4_s).v(S.f64x2_add); // log2|a|
    low(b);
    f.v(S.f64x2_promote_low_f32x4).v(S.f64x2_mul);
    f.f64x2(-200).v(S.f64x2_pmax).f64x2(200).v(S.f64x2_pmin).set(y); // NaN passes through
    f.get(y).f64x2(MAGIC64).v(S.f64x2_add).set(t);
    f.get(y).get(t).f64x2(MAGIC64).v(S.f64x2_sub).v(S.f64x2_sub).set(fr);
    horner64(f, fr, EXP2_P, fma);
    // * 2^n: the low bits of t hold n; shifted into the exponent field they add n to it
    f.get(t).i32(52).v(S.i64x2_shl).v(S.i64x2_add);
    f.v(S.f32x4_demote_f64x2_zero);
  };
  half(false);
  half(true);
  f.shuffle32([0, 1, 4, 5]).set(res);
  // zero and infinite |a| (their m and e above are not meaningful)
  const bNeg = f.local(V128);
  f.get(b).f32x4(0).v(S.f32x4_lt).set(bNeg);
  f.f32x4(Infinity).f32x4(0).get(bNeg).v(S.bitselect).get(res).get(a).f32x4(0).v(S.f32x4_eq).v(S.bitselect).set(res);
  f.f32x4(0).f32x4(Infinity).get(bNeg).v(S.bitselect).get(res).get(a).v(S.f32x4_abs).f32x4(Infinity).v(S.f32x4_eq).v(S.bitselect).set(res);
  // a's sign bit set and b an odd integer below 2^24: negate
  const int = f.local(V128);
  f.get(b).v(S.f32x4_trunc).get(b).v(S.f32x4_eq).set(int);
  f.get(b).v(S.i32x4_trunc_sat_f32x4_s).i32(31).v(S.i32x4_shl).get(int).v(S.and);
  f.get(b).v(S.f32x4_abs).f32x4(16777216).v(S.f32x4_lt).v(S.and);
  f.get(a).v(S.and).i32x4(SIGN).v(S.and).get(res).v(S.xor).set(res);
  // NaN: a NaN operand, or a finite a < 0 with a non-integer b
  f.get(a).get(a).v(S.f32x4_ne).get(b).get(b).v(S.f32x4_ne).v(S.or);
  f.get(a).f32x4(0).v(S.f32x4_lt).get(a).f32x4(-Infinity).v(S.f32x4_gt).v(S.and).get(int).v(S.andnot).v(S.or);
  f.set(mask);
  f.f32x4(NaN).get(res).get(mask).v(S.bitselect).set(res);
  // 1: b = +-0, a = 1, a = -1 with b = +-inf
  f.f32x4(1).get(res);
  f.get(b).f32x4(0).v(S.f32x4_eq).get(a).f32x4(1).v(S.f32x4_eq).v(S.or);
  f.get(a).f32x4(-1).v(S.f32x4_eq).get(b).v(S.f32x4_abs).f32x4(Infinity).v(S.f32x4_eq).v(S.and).v(S.or);
  f.v(S.bitselect);
}
