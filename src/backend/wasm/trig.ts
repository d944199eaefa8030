// sin and cos of float32 lanes for generated kernels: within 2 ulp of the correctly rounded
// result for every finite float32 (test/wasm/trig.test.ts), NaN for infinities and NaN.
//
// Both reduce x to r = x - n pi/2 with |r| <= pi/4 (plus rounding) and evaluate Cephes'
// polynomials for sin and cos on r, picking by the quadrant n mod 4. The reduction is what
// needs care: near a multiple of pi/2 the result is about r, so r needs as many correct bits
// as the result even where it is 2^20 times smaller than x. Three paths, by |x|:
//   < 2^15    (the hot path) n = round(x 2/pi) by a magic constant; r by a four-part
//             Cody-Waite reduction in float32, pi/2 = C1 + C2 + C3 + C4 with 8, 10 and 10
//             significant bits in C1..C3: n Ck is exact for n < 2^14 (|x| < 25736) and
//             every subtraction but the last is exact where r is small (the operands
//             cancel on a fine enough grid). Up to 2^15 the few rounded products still
//             keep the bound: every float32 below 2^15 was checked (exhaustively, within
//             2 ulp); a numerical model of the same steps first errs beyond 2 ulp at 3.9e4.
//             A three-part reduction was off by hundreds of ulp near multiples of pi/2.
//   < 2^17    (a vector with a lane at or beyond 2^15, infinite or NaN: one branch per
//             vector, to a helper function holding the other paths and a copy of the
//             polynomials) r = (x - n H) - n L in float64, two lanes at a time, with
//             pi/2 = H + L + O(2^-89) and H of 36 bits: n H and x - n H are exact.
//   larger    per lane, `largeReduction`: Payne-Hanek in 64-bit integer arithmetic as in
//             glibc's sinf, |x| 2/pi mod 4 as a 2.62 fixed-point number from the 24-bit
//             significand times 96 bits of 2/pi (the table in reserved.ts). For float32
//             inputs it has at most 29 leading zeros after the point: r keeps 33 bits.
// The kernel's loop runs at a dozen cycles a vector, so every instruction and every
// constant held in a register shows: the hot path's tests and masks are shifts (no
// constants), the cold paths live in the helper, and with relaxed SIMD the reduction's
// steps are fused multiply-adds. Measured on 1M floats, one thread, against the old
// three-part reduction: 1.0-1.1x its time with relaxed SIMD, about 1.2x without.
// Signed zeros: sin(-0) = -0 (the sine polynomial's value takes the sign of r).

import { F32, Fn, horner, I32, I64, ModuleBuilder, O, S, V128 } from "./emit.js";
import { PI_BITS, PI_FIXED, TWO_OVER_PI_ADDR } from "./reserved.js";

/** Bits of 2^15, from which a vector leaves the hot path. */
const CW_LIMIT_BITS = 0x47000000;
/** Bits of 2^17: lanes with |x| at or above it (or not finite) take the large path. */
const FAST_LIMIT_BITS = 0x48000000;
/** 1.5 * 2^23: t = x + MAGIC holds round(x) in its low mantissa bits. */
const MAGIC = 12582912;
const TWO_OVER_PI = 0.636619772367581343;

/**
 * pi/2 split into parts: each of the first ones holds the next `bits` significant bits of
 * what is left (truncated), the last one the rest rounded by `round`.
 */
function splitHalfPi(bits: readonly number[], round: (x: number) => number): number[] {
  let rest = PI_FIXED >> 1n; // pi/2 * 2^PI_BITS
  const parts: number[] = [];
  for (const b of bits) {
    const shift = BigInt(rest.toString(2).length - b);
    const part = (rest >> shift) << shift;
    parts.push(Number(part) * 2 ** -PI_BITS);
    rest -= part;
  }
  parts.push(round(Number(rest) * 2 ** -PI_BITS));
  return parts;
}
/** pi/2 = C1 + C2 + C3 + C4 + O(2^-53) (the hot path's float32 parts). */
const [C1, C2, C3, C4] = splitHalfPi([8, 10, 10], Math.fround) as [number, number, number, number];
/** pi/2 = H + L + O(2^-89) (the float64 parts). */
const [H, L] = splitHalfPi([36], (x) => x) as [number, number];
/** r = D * PIO2_62 for D the reduced 2.62 fixed-point value (pi/2 * 2^-62). */
const PIO2_62 = (Math.PI / 2) * 2 ** -62;

const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1];
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2];

/** r = x - n pi/2 again for every lane of the vector in locals x, nf (n as a float), r and
 *  q (n in the low bits): float64 for |x| < 2^17, Payne-Hanek for larger and infinite lanes. */
function exactReduction(f: Fn, mod: ModuleBuilder, x: number, nf: number, r: number, q: number): void {
  // r = (x - n H) - n L in float64, lanes 0-1 then 2-3, packed back into four floats
  const half = (high: boolean) => {
    const xd = f.local(V128), nd = f.local(V128);
    for (const [src, dst] of [[x, xd], [nf, nd]] as const) {
      f.get(src);
      if (high) f.get(src).shuffle32([2, 3, 2, 3]);
      f.v(S.f64x2_promote_low_f32x4).set(dst);
    }
    f.get(xd).get(nd).f64x2(H).v(S.f64x2_mul).v(S.f64x2_sub);
    f.get(nd).f64x2(L).v(S.f64x2_mul).v(S.f64x2_sub);
    f.v(S.f32x4_demote_f64x2_zero);
  };
  half(false);
  half(true);
  f.shuffle32([0, 1, 4, 5]).set(r);
  // lanes the fast path cannot reduce: |x| >= 2^17, inf, NaN (by the bits, as signed ints)
  f.get(x).i32x4(0x7fffffff).v(S.and).i32x4(FAST_LIMIT_BITS - 1).v(S.i32x4_gt_s).v(S.i32x4_bitmask);
  f.if_();
  const large = mod.helper("trig.largeReduction", largeReduction);
  const ri = f.local(F32), qi = f.local(I32);
  for (let l = 0; l < 4; l++) {
    f.get(x).lane(S.i32x4_extract_lane, l).get(r).lane(S.f32x4_extract_lane, l).get(q).lane(S.i32x4_extract_lane, l);
    f.call(large).set(qi).set(ri);
    f.get(r).get(ri).lane(S.f32x4_replace_lane, l).set(r);
    f.get(q).get(qi).lane(S.i32x4_replace_lane, l).set(q);
  }
  f.end();
}

/** Pushes sin (or cos) of the f32x4 in local x. */
export function emitSinCos(f: Fn, mod: ModuleBuilder, x: number, cos: boolean, fma: boolean): void {
  const nf = f.local(V128), q = f.local(V128), r = f.local(V128);
  // n = round(x 2/pi) (exact for |x 2/pi| < 2^22); t's bits are MAGIC_BITS + n, so their
  // low two bits are n mod 4: t serves as the quadrant q
  f.get(x).f32x4(TWO_OVER_PI);
  if (fma) f.f32x4(MAGIC).v(S.f32x4_relaxed_madd);
  else f.v(S.f32x4_mul).f32x4(MAGIC).v(S.f32x4_add);
  f.tee(q).f32x4(MAGIC).v(S.f32x4_sub).set(nf);
  // r = x - n pi/2 by a four-part Cody-Waite reduction in float32 (see C1..C4); n Ck is
  // exact but for k = 4, so a fused multiply-add changes nothing else
  f.get(x);
  for (const ck of [C1, C2, C3, C4]) {
    if (fma) f.set(r).get(nf).f32x4(ck).get(r).v(S.f32x4_relaxed_nmadd);
    else f.get(nf).f32x4(ck).v(S.f32x4_mul).v(S.f32x4_sub);
  }
  f.set(r);
  // lanes beyond its range, rare in most data: |x| >= 2^15 and inf (NaN too, harmlessly).
  // Such a vector goes to a helper function that reduces it again exactly and evaluates
  // the polynomials there: a branch that wrote r and q back, or held the other paths'
  // code in the kernel, cost the hot loop a quarter of its speed. The test: the sign bit
  // of (bits(2^15) - 1) - bits(|x|) (no comparison, and no constant for the abs).
  f.i32x4(CW_LIMIT_BITS - 1).get(x).i32(1).v(S.i32x4_shl).i32(1).v(S.i32x4_shr_u).v(S.i32x4_sub).v(S.i32x4_bitmask);
  f.if_(V128);
  f.get(x).get(nf).get(q).call(mod.helper(`trig.exact.${cos ? "cos" : "sin"}.${fma}`, () => {
    const g = new Fn([V128, V128, V128], [V128]);
    const gx = 0, gnf = 1, gq = 2, gr = g.local(V128);
    exactReduction(g, mod, gx, gnf, gr, gq);
    polynomials(g, gr, gq, cos, fma);
    return g;
  }));
  f.else_();
  polynomials(f, r, q, cos, fma);
  f.end();
}

/** Pushes sin(r) (cos(r) for an odd quadrant, negated in quadrants 2 and 3) for the f32x4
 *  local r and quadrant n mod 4 in the low bits of the i32x4 local q; cos adds 1 to n. */
function polynomials(f: Fn, r: number, q: number, cos: boolean, fma: boolean): void {
  const z = f.local(V128), s = f.local(V128), c = f.local(V128), n = f.local(V128);
  f.get(q);
  if (cos) f.i32x4(1).v(S.i32x4_add); // cos(x) = sin(x + pi/2)
  f.set(n);
  f.get(r).get(r).v(S.f32x4_mul).set(z);
  // sin(r) = r + r^3 P(r^2), with r's sign also when the sum is a zero (r = -0)
  horner(f, z, SIN_P, fma);
  f.get(z).v(S.f32x4_mul).get(r).v(S.f32x4_mul).get(r).v(S.f32x4_add);
  f.get(r).i32(31).v(S.i32x4_shr_u).i32(31).v(S.i32x4_shl).v(S.or).set(s);
  // cos(r) = 1 - r^2 / 2 + r^4 Q(r^2)
  horner(f, z, COS_P, fma);
  f.get(z).v(S.f32x4_mul).get(z).v(S.f32x4_mul).get(z).f32x4(0.5).v(S.f32x4_mul).v(S.f32x4_sub);
  f.f32x4(1).v(S.f32x4_add).set(c);
  // odd quadrant: cos(r); quadrant 2 or 3: negate (masks by shifts: no constants)
  f.get(c).get(s).get(n).i32(31).v(S.i32x4_shl).i32(31).v(S.i32x4_shr_s).v(S.bitselect);
  f.get(n).i32(1).v(S.i32x4_shr_u).i32(31).v(S.i32x4_shl).v(S.xor);
}

/**
 * (bits of x, fast r, fast n) -> (r, n): the lane's own r and n when |x| < 2^17, NaN for
 * inf and NaN, else the Payne-Hanek reduction. With |x| = M 2^(E - 150) (M the 24-bit
 * significand, E the biased exponent) written as (M << (E & 7)) 2^(8 (E >> 3) - 150),
 *   Y = |x| 2/pi 2^62 mod 2^64 = (M' * [w0 w1 w2]) >> 32 mod 2^64
 * with w0, w1, w2 the table words E/8 - 16, E/8 - 12, E/8 - 8 (96 bits of 2/pi whose
 * place matches the exponent; higher bits of 2/pi only add multiples of 2^64, lower ones
 * less than one unit). n = round(Y / 2^62), r = (Y - n 2^62) pi/2 2^-62; for x < 0 both
 * change sign.
 */
function largeReduction(): Fn {
  const g = new Fn([I32, F32, I32], [F32, I32]);
  const bits = 0, rFast = 1, nFast = 2;
  const ax = g.local(I32), e = g.local(I32), m = g.local(I32), y = g.local(I64), n = g.local(I64);
  const r = g.local(F32), ni = g.local(I32);
  /** Pushes table word E/8 - 16 + 4k, widened to i64 (unsigned) when `wide`. */
  const word = (k: number, wide: boolean) => {
    g.get(e).i32(3).op(O.i32_shr_u).i32(2).op(O.i32_shl).mem(O.i32_load, 2, TWO_OVER_PI_ADDR - 64 + 16 * k);
    if (wide) g.op(O.i64_extend_i32_u);
  };
  g.get(bits).i32(0x7fffffff).op(O.i32_and).set(ax);
  g.get(ax).i32(FAST_LIMIT_BITS).op(O.i32_lt_s).if_().get(rFast).get(nFast).op(O.return).end();
  g.get(ax).i32(0x7f800000).op(O.i32_ge_s).if_().f32(NaN).i32(0).op(O.return).end();
  g.get(ax).i32(23).op(O.i32_shr_u).set(e);
  // M' = significand << (E & 7), at most 31 bits
  g.get(ax).i32(0x7fffff).op(O.i32_and).i32(0x800000).op(O.i32_or).get(e).i32(7).op(O.i32_and).op(O.i32_shl).set(m);
  // Y = ((M' w0 mod 2^32) << 32 | (M' w2) >> 32) + M' w1, all mod 2^64
  g.get(m);
  word(0, false);
  g.op(O.i32_mul).op(O.i64_extend_i32_u).i64(32n).op(O.i64_shl);
  g.get(m).op(O.i64_extend_i32_u);
  word(2, true);
  g.op(O.i64_mul).i64(32n).op(O.i64_shr_u).op(O.i64_or);
  g.get(m).op(O.i64_extend_i32_u);
  word(1, true);
  g.op(O.i64_mul).op(O.i64_add).set(y);
  // n = round(Y / 2^62) in 0..4; D = Y - n 2^62 as a signed 64-bit number in [-2^61, 2^61)
  g.get(y).i64(1n << 61n).op(O.i64_add).i64(62n).op(O.i64_shr_u).set(n);
  g.get(y).get(n).i64(62n).op(O.i64_shl).op(O.i64_sub).op(O.f64_convert_i64_s).f64(PIO2_62).op(O.f64_mul);
  g.op(O.f32_demote_f64).set(r);
  g.get(n).op(O.i32_wrap_i64).set(ni);
  // x < 0: sin(-x) = -sin(x), so r -> -r and n -> -n
  g.get(bits).i32(0).op(O.i32_lt_s).if_();
  g.get(r).op(O.f32_neg).set(r);
  g.i32(0).get(ni).op(O.i32_sub).set(ni);
  g.end();
  g.get(r).get(ni);
  return g;
}
