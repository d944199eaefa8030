// Vectorised float32 transcendental functions for generated kernels: each is emitted once
// per module as a helper `(v128) -> v128` (or `(v128, v128) -> v128`) over four f32 lanes.
//
// Methods (accuracy is measured in test/wasm/math.test.ts against Math.* in float64):
//   exp    Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2; a degree-6 polynomial;
//          2^n applied in two halves so results reaching the subnormal range round once
//          (vectors with every |x| <= 87 branch to a path with one scale and no clamp).
//   log    frexp by bit operations, mantissa folded to [sqrt(1/2), sqrt(2)); Cephes
//          polynomial; subnormal inputs pre-scaled by 2^23.
//   log1p  log(u) * x / (u - 1) with u = 1 + x (exact correction of the rounding of u).
//   expm1  exp's reduction; 2^n * expm1(r) + (2^n - 1), exact for n = 0 (small |x|).
//   tanh   odd polynomial for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1) with x's sign.
//   erf    x * P(x^2) for |x| < 1; 1 - exp(-x^2) * Q(1/x) for 1 <= |x| <= 4 (least-squares
//          fits to erf/erfc in float64); erf = +-1 beyond 4 (erfc(4) < 2^-25).
//   sin/cos  trig.ts: an exact reduction by pi/2 (four-part Cody-Waite in float32 below
//          2^15, float64 below 2^17, Payne-Hanek above),
//          Cephes polynomials on |r| <= pi/4, quadrant select.
//   atan2  atan on [0, 1] (Cephes reduction at tan(pi/8)) and quadrant fix-up, C99's
//          signed zeros and infinities.
//   pow    pow.ts: 2^(b log2|a|) in float64 and C99's special cases.

import { Fn, horner, type ModuleBuilder, S, V128 } from "./emit.js";
import { emitPow } from "./pow.js";
import { emitSinCos } from "./trig.js";

type Helper = "exp" | "log" | "log1p" | "expm1" | "tanh" | "sigmoid" | "erf" | "sin" | "cos" | "atan2" | "pow";

/** ORs the sign bit of local x into the value on the stack, without a constant: for
 *  functions whose result has x's sign, so that a -0 input gives -0. */
function orSignOf(f: Fn, x: number): void {
  f.get(x).i32(31).v(S.i32x4_shr_u).i32(31).v(S.i32x4_shl).v(S.or);
}

/** Pushes 2^n for an i32x4 n in [-126, 127] as f32x4. */
function pow2i(f: Fn, n: number): void {
  f.get(n).i32x4(127).v(S.i32x4_add).i32(23).v(S.i32x4_shl);
}

const LOG2E = 1.44269504088896341;
/** 1.5 * 2^23 and its bit pattern: x + MAGIC rounds x to an integer held in the low bits. */
const MAGIC = 12582912;
const MAGIC_BITS = 0x4b400000;
/** The bits of 87.0f. */
const F32_87_BITS = 0x42ae0000;
/** Degree-6 polynomial for exp on [-ln2/2, ln2/2], highest degree first: a near-minimax fit
 *  of the relative error (Chebyshev nodes, iteratively reweighted least squares in float64)
 *  rounded to float32; evaluated with fused multiply-adds it stays within 0.72 ulp of exp on
 *  the reduced range, as Cephes' degree-7 polynomial does, with one step fewer. */
const EXP_POLY = [1.3751493534073234e-3, 8.36895126849413e-3, 4.1669536381959915e-2, 1.66665181517601e-1, 4.9999988079071045e-1, 1, 1];
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const LOG_P = [
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
const TANH_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];
const ERF_SMALL = [7.933351181e-5, -8.034809377e-4, 5.191214843e-3, -2.685539799e-2, 1.12836257e-1, -3.761262988e-1, 1.128379167];
const ERFC_LARGE = [
  -0.03516599754, 0.2458134262, -0.7592916955, 1.343036181, -1.442142193, 0.8440410691, -0.04386603283,
  -0.292957371, 0.004533485934, 0.5635483219, 3.438122148e-5,
];
const ATAN_P = [8.05374449538e-2, -1.38776856032e-1, 1.99777106478e-1, -3.33329491539e-1];

/** Emits the functions inline into the kernel body: V8 does not inline wasm calls, and a
 *  call would spill every live vector register. Operands are taken from the stack into
 *  fresh locals and the result is left on the stack. */
export class MathLib {
  /** With relaxed SIMD, polynomials use f32x4.relaxed_madd (fused on x86 with FMA3): fewer
   *  instructions and no worse accuracy. Results then differ in the last bit from runtimes
   *  without relaxed SIMD, but never between thread counts. */
  constructor(private readonly fma: boolean, private readonly mod: ModuleBuilder) {}

  inline(f: Fn, h: Helper): void {
    const binary = h === "atan2" || h === "pow";
    const args = binary ? [f.local(V128), f.local(V128)] : [f.local(V128)];
    for (let i = args.length - 1; i >= 0; i--) f.set(args[i]!);
    this[h](f, args);
  }

  /** Reduction shared by exp and expm1: for x (clamped by the caller when it may be out of
   *  range) sets t, whose bits are MAGIC_BITS + n for n = round(x log2 e), and
   *  r = x - n ln2 (Cody-Waite: n * 0.693359375 is exact, so with or without a fused
   *  multiply-add the first step is exact). */
  private reduce(f: Fn, x: number, t: number, r: number): void {
    const nf = f.local(V128);
    // round by adding 1.5 * 2^23: the integer lands in the low mantissa bits
    f.get(x);
    this.madd(f, LOG2E, () => f.f32x4(MAGIC));
    f.tee(t).f32x4(MAGIC).v(S.f32x4_sub).set(nf);
    f.get(nf);
    this.madd(f, -0.693359375, () => f.get(x));
    f.set(r).get(nf);
    this.madd(f, 2.12194440e-4, () => f.get(r));
    f.set(r);
  }

  /** a * c + b for a on the stack and b pushed by `b` (fused when relaxed SIMD is on). */
  private madd(f: Fn, c: number, b: () => void): void {
    f.f32x4(c);
    if (this.fma) {
      b();
      f.v(S.f32x4_relaxed_madd);
    } else {
      f.v(S.f32x4_mul);
      b();
      f.v(S.f32x4_add);
    }
  }

  /** exp(r) for |r| <= ln2/2 (plus rounding), left on the stack: 1 + r + r^2 Q(r) with Q
   *  of degree 4, as one Horner chain (six multiply-adds). */
  private expPoly(f: Fn, r: number): void {
    horner(f, r, EXP_POLY, this.fma);
  }

  /** exp: when every lane has |x| <= 87, 2^n is one normal power of two and
   *  the clamp is moot, so the common case skips both; other vectors take the full path.
   *  In-range lanes get the same bits on either path (both scalings are exact). */
  private exp(f: Fn, args: number[]): void {
    const x = args[0]!;
    // |x| > 87 or NaN, by the bits: (x & 0x7fffffff) > bits(87) as signed integers (two
    // instructions with the constants in registers; f32x4.abs rebuilds its mask each time)
    f.get(x).i32x4(0x7fffffff).v(S.and).i32x4(F32_87_BITS).v(S.i32x4_gt_s).v(S.i32x4_bitmask);
    f.if_(V128);
    this.expFull(f, x);
    f.else_();
    this.expInRange(f, x);
    f.end();
  }

  private expInRange(f: Fn, x: number): void {
    const t = f.local(V128), r = f.local(V128);
    this.reduce(f, x, t, r);
    this.expPoly(f, r);
    // * 2^n by adding n to the exponent field, an integer add instead of a multiply (the
    // multiply-add units are the bottleneck): t << 23 is n << 23, the magic's own bits
    // shifting out. Exact as the multiply would be: for |x| <= 87 the result is normal.
    f.get(t).i32(23).v(S.i32x4_shl).v(S.i32x4_add);
  }

  private expFull(f: Fn, x0: number): void {
    const x = f.local(V128), t = f.local(V128), r = f.local(V128), n = f.local(V128), n1 = f.local(V128);
    // clamp with pmax/pmin (single instructions; NaN passes through as x)
    f.get(x0).f32x4(-104).v(S.f32x4_pmax).f32x4(89).v(S.f32x4_pmin).set(x);
    this.reduce(f, x, t, r);
    this.expPoly(f, r);
    // * 2^(n>>1) * 2^(n - n>>1): each half stays a normal number, so results reaching the
    // subnormal range round once
    f.get(t).i32x4(MAGIC_BITS).v(S.i32x4_sub).set(n);
    f.get(n).i32(1).v(S.i32x4_shr_s).set(n1);
    pow2i(f, n1);
    f.v(S.f32x4_mul);
    f.get(n).get(n1).v(S.i32x4_sub).set(n);
    pow2i(f, n);
    f.v(S.f32x4_mul);
  }

  private expm1(f: Fn, args: number[]): void {
    const x = f.local(V128), t = f.local(V128), n = f.local(V128), r = f.local(V128), n1 = f.local(V128), s = f.local(V128);
    f.get(args[0]!).f32x4(-104).v(S.f32x4_pmax).f32x4(89).v(S.f32x4_pmin).set(x);
    this.reduce(f, x, t, r);
    f.get(t).i32x4(MAGIC_BITS).v(S.i32x4_sub).set(n);
    f.get(n).i32(1).v(S.i32x4_shr_s).set(n1);
    pow2i(f, n1);
    f.get(n).get(n1).v(S.i32x4_sub).set(n);
    pow2i(f, n);
    f.v(S.f32x4_mul).set(s);
    // s * (r + r^2 P(r)) + (s - 1)
    horner(f, r, EXP_P, this.fma);
    f.get(r).get(r).v(S.f32x4_mul).v(S.f32x4_mul).get(r).v(S.f32x4_add);
    f.get(s).v(S.f32x4_mul).get(s).f32x4(1).v(S.f32x4_sub).v(S.f32x4_add);
    orSignOf(f, args[0]!); // expm1(-0) = -0 (the sum above gives +0)
  }

  private log(f: Fn, args: number[]): void {
    const x0 = args[0]!, x = f.local(V128), e = f.local(V128), m = f.local(V128), mask = f.local(V128);
    const z = f.local(V128), y = f.local(V128), ef = f.local(V128);
    // Subnormals: scale by 2^23 and remember -23 in the exponent.
    f.get(x0).f32x4(1.17549435e-38).v(S.f32x4_lt).set(mask);
    f.get(x0).f32x4(8388608).v(S.f32x4_mul).get(x0).get(mask).v(S.bitselect).set(x);
    f.get(x).i32(23).v(S.i32x4_shr_u).i32x4(0xff).v(S.and).i32x4(126).v(S.i32x4_sub);
    f.get(mask).i32x4(-23).v(S.and).v(S.i32x4_add).set(e);
    f.get(x).i32x4(0x807fffff | 0).v(S.and).i32x4(0x3f000000).v(S.or).set(m); // m in [0.5, 1)
    // if m < sqrt(1/2): e -= 1, m = 2m - 1 else m = m - 1
    f.get(m).f32x4(0.707106781186547524).v(S.f32x4_lt).set(mask);
    f.get(e).get(mask).v(S.i32x4_add).set(e);
    f.get(m).f32x4(1).v(S.f32x4_sub).get(m).get(mask).v(S.and).v(S.f32x4_add).set(m);
    f.get(e).v(S.f32x4_convert_i32x4_s).set(ef);
    f.get(m).get(m).v(S.f32x4_mul).set(z);
    horner(f, m, LOG_P, this.fma);
    f.get(m).v(S.f32x4_mul).get(z).v(S.f32x4_mul).set(y);
    f.get(y).get(ef).f32x4(-2.12194440e-4).v(S.f32x4_mul).v(S.f32x4_add);
    f.get(z).f32x4(0.5).v(S.f32x4_mul).v(S.f32x4_sub);
    f.get(m).v(S.f32x4_add);
    f.get(ef).f32x4(0.693359375).v(S.f32x4_mul).v(S.f32x4_add).set(y);
    // Special values: log(0) = -inf, log(inf) = inf, log(x < 0 or NaN) = NaN.
    f.f32x4(-Infinity).get(y).get(x0).f32x4(0).v(S.f32x4_eq).v(S.bitselect).set(y);
    f.f32x4(Infinity).get(y).get(x0).f32x4(Infinity).v(S.f32x4_eq).v(S.bitselect).set(y);
    f.f32x4(NaN).get(y);
    f.get(x0).f32x4(0).v(S.f32x4_lt).get(x0).get(x0).v(S.f32x4_ne).v(S.or);
    f.v(S.bitselect);
  }

  private log1p(f: Fn, args: number[]): void {
    const x = args[0]!, u = f.local(V128), d = f.local(V128);
    f.get(x).f32x4(1).v(S.f32x4_add).tee(u).f32x4(1).v(S.f32x4_sub).set(d);
    f.get(u);
    this.inline(f, "log");
    f.get(x).get(d).v(S.f32x4_div).v(S.f32x4_mul);
    // u == 1 (|x| tiny): log1p(x) = x; x == inf: inf.
    f.set(u);
    f.get(x).get(u).get(d).f32x4(0).v(S.f32x4_eq).v(S.bitselect);
    f.set(u);
    f.f32x4(Infinity).get(u).get(x).f32x4(Infinity).v(S.f32x4_eq).v(S.bitselect);
  }

  private tanh(f: Fn, args: number[]): void {
    const x = args[0]!, a = f.local(V128), z = f.local(V128), small = f.local(V128), big = f.local(V128);
    f.get(x).v(S.f32x4_abs).set(a);
    f.get(x).get(x).v(S.f32x4_mul).set(z);
    horner(f, z, TANH_P, this.fma);
    f.get(z).v(S.f32x4_mul).get(x).v(S.f32x4_mul).get(x).v(S.f32x4_add).set(small);
    f.f32x4(1).f32x4(2);
    f.get(a).get(a).v(S.f32x4_add);
    this.inline(f, "exp");
    f.f32x4(1).v(S.f32x4_add);
    f.v(S.f32x4_div).v(S.f32x4_sub);
    // copy x's sign bit
    f.get(x).i32x4(0x80000000 | 0).v(S.and).v(S.or).set(big);
    f.get(small).get(big).get(a).f32x4(0.625).v(S.f32x4_lt).v(S.bitselect);
    orSignOf(f, x); // tanh(-0) = -0 (the polynomial's sum gives +0)
  }

  private sigmoid(f: Fn, args: number[]): void {
    f.f32x4(1).f32x4(1).get(args[0]!).v(S.f32x4_neg);
    this.inline(f, "exp");
    f.v(S.f32x4_add).v(S.f32x4_div);
  }

  private erf(f: Fn, args: number[]): void {
    const x = args[0]!, a = f.local(V128), z = f.local(V128), small = f.local(V128), big = f.local(V128), t = f.local(V128);
    f.get(x).v(S.f32x4_abs).f32x4(4).v(S.f32x4_min).set(a);
    f.get(a).get(a).v(S.f32x4_mul).set(z);
    horner(f, z, ERF_SMALL, this.fma);
    f.get(a).v(S.f32x4_mul).set(small);
    f.f32x4(1).get(a).v(S.f32x4_div).set(t);
    f.f32x4(1);
    f.get(z).v(S.f32x4_neg);
    this.inline(f, "exp");
    horner(f, t, ERFC_LARGE, this.fma);
    f.v(S.f32x4_mul).v(S.f32x4_sub).set(big);
    f.get(small).get(big).get(a).f32x4(1).v(S.f32x4_lt).v(S.bitselect);
    // restore sign (NaN stays NaN through min/abs ops)
    f.get(x).i32x4(0x80000000 | 0).v(S.and).v(S.or);
  }

  private sin(f: Fn, args: number[]): void { emitSinCos(f, this.mod, args[0]!, false, this.fma); }
  private cos(f: Fn, args: number[]): void { emitSinCos(f, this.mod, args[0]!, true, this.fma); }

  /** atan2(y, x) with C99's special cases: atan2(+-0, -0) = +-pi, atan2(+-0, +0) = +-0,
   *  atan2(+-inf, +-inf) = +-pi/4 or +-3pi/4 (the quadrant by x's sign bit, y's sign kept). */
  private atan2(f: Fn, args: number[]): void {
    const y = args[0]!, x = args[1]!, ay = f.local(V128), ax = f.local(V128), t = f.local(V128), big = f.local(V128);
    const z = f.local(V128), r = f.local(V128), swap = f.local(V128), mn = f.local(V128), mx = f.local(V128);
    f.get(y).v(S.f32x4_abs).set(ay);
    f.get(x).v(S.f32x4_abs).set(ax);
    f.get(ay).get(ax).v(S.f32x4_gt).set(swap);
    // t = min / max in [0, 1]; 0/0 -> 0, inf/inf -> 1
    f.get(ay).get(ax).v(S.f32x4_min).set(mn);
    f.get(ay).get(ax).v(S.f32x4_max).set(mx);
    f.get(mn).get(mx).v(S.f32x4_div).set(t);
    f.f32x4(0).get(t).get(mx).f32x4(0).v(S.f32x4_eq).v(S.bitselect).set(t);
    f.f32x4(1).get(t).get(mn).f32x4(Infinity).v(S.f32x4_eq).v(S.bitselect).set(t);
    // t > tan(pi/8): atan(t) = pi/4 + atan((t-1)/(t+1))
    f.get(t).f32x4(0.4142135623730950).v(S.f32x4_gt).set(big);
    f.get(t).f32x4(1).v(S.f32x4_sub).get(t).f32x4(1).v(S.f32x4_add).v(S.f32x4_div).get(t).get(big).v(S.bitselect).set(t);
    f.get(t).get(t).v(S.f32x4_mul).set(z);
    horner(f, z, ATAN_P, this.fma);
    f.get(z).v(S.f32x4_mul).get(t).v(S.f32x4_mul).get(t).v(S.f32x4_add);
    f.get(big).f32x4(Math.PI / 4).v(S.and).v(S.f32x4_add).set(r);
    f.f32x4(Math.PI / 2).get(r).v(S.f32x4_sub).get(r).get(swap).v(S.bitselect).set(r);
    // x's sign bit set (-0 included): pi - r
    f.f32x4(Math.PI).get(r).v(S.f32x4_sub).get(r).get(x).i32x4(0).v(S.i32x4_lt_s).v(S.bitselect);
    f.get(y).i32x4(0x80000000 | 0).v(S.and).v(S.xor);
  }

  /** pow(a, b): pow.ts. */
  private pow(f: Fn, args: number[]): void {
    emitPow(f, args[0]!, args[1]!, this.fma);
  }
}
