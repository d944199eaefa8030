// Division-like ops of generated kernels, with PyTorch's semantics (float32 and int32).
//
// float32 (four lanes):
//   fmod(a, b)       exact, as C's fmodf: in float64, a - trunc(a / b) b is exact while
//                    |a / b| < 2^26 (the product has at most 50 bits and the quotient of two
//                    24-bit significands is never within 2^-53 of an integer it is not);
//                    larger quotients first take a -= trunc(a / B) B with B = b 2^k scaled
//                    so that a / B < 2^26, 25 bits of quotient per round (at most 11 rounds,
//                    in a helper function that only vectors with such a lane call). The
//                    result has a's sign; fmod(a, +-inf) = a; fmod(inf, b), fmod(a, 0) = NaN.
//   remainder        torch.remainder: r = fmod(a, b), plus b when r != 0 and r's sign
//                    differs from b's (a float32 add, as PyTorch does it).
//   floor division   torch.floor_divide (c10's div_floor_floating): b = 0 gives a / b;
//                    else with m = fmod(a, b), d = (a - m) / b, minus 1 when m != 0 and m's
//                    sign differs from b's; then floor(d), plus 1 when d - floor(d) > 1/2;
//                    a zero quotient takes the sign of a / b. So 7 // 0.1 = 69 as in PyTorch
//                    (0.1f is a little above 0.1), where floor(7 / 0.1) would give 70.
// int32 (lane by lane through scalar helpers, emitted once per module):
//   floordiv, mod    Python's floor semantics (the remainder has the divisor's sign)
//   div              truncating division (C, torch.div(..., rounding_mode="trunc"))
//   ipow             exponentiation by squaring, wrapping; b < 0 gives 0 except for a = +-1
// A zero divisor sets the op's bit in the fault word (reserved.ts) and gives 0; the host
// turns the bit into ZeroDivisionError after the dispatch (PyTorch raises for integer
// division by zero). The check costs nothing on the path of nonzero divisors, which
// already branches per lane. INT_MIN / -1 wraps to INT_MIN instead of trapping.

import { Fn, I32, type ModuleBuilder, O, S, V128 } from "./emit.js";
import { FAULT_ADDR, FAULT_BITS } from "./reserved.js";

/** 2^26 as the bound on |a / b| of one exact fmod step. */
const STEP_LIMIT = 67108864;

/** Pushes fmod(a, b) of the f32x4 locals a and b: one exact step in float64 when every
 *  lane's quotient is below 2^26, else the helper `fmodLoop` (off the kernel's hot loop). */
export function emitFmod(f: Fn, mod: ModuleBuilder, a: number, b: number): void {
  const ad = [f.local(V128), f.local(V128)], bd = [f.local(V128), f.local(V128)], q = [f.local(V128), f.local(V128)];
  promoteHalves(f, a, ad);
  promoteHalves(f, b, bd);
  for (let h = 0; h < 2; h++) f.get(ad[h]!).get(bd[h]!).v(S.f64x2_div).set(q[h]!);
  f.get(q[0]!).v(S.f64x2_abs).f64x2(STEP_LIMIT).v(S.f64x2_ge);
  f.get(q[1]!).v(S.f64x2_abs).f64x2(STEP_LIMIT).v(S.f64x2_ge).v(S.or).v(S.any_true);
  f.if_(V128);
  f.get(a).get(b).call(mod.helper("divmod.fmodLoop", fmodLoop));
  f.else_();
  for (let h = 0; h < 2; h++) {
    f.get(ad[h]!).get(q[h]!).v(S.f64x2_trunc).get(bd[h]!).v(S.f64x2_mul).v(S.f64x2_sub).v(S.f32x4_demote_f64x2_zero);
  }
  f.shuffle32([0, 1, 4, 5]);
  f.end();
  fmodFixups(f, a, b);
}

/** Promotes lanes 0-1 and 2-3 of the f32x4 local v into the f64x2 locals out[0], out[1]. */
function promoteHalves(f: Fn, v: number, out: number[]): void {
  f.get(v).v(S.f64x2_promote_low_f32x4).set(out[0]!);
  f.get(v).get(v).shuffle32([2, 3, 2, 3]).v(S.f64x2_promote_low_f32x4).set(out[1]!);
}

/** (a, b) -> fmod(a, b) before fmodFixups, for quotients of any size: rounds of
 *  a -= trunc(a / B) B with B = b 2^k scaled so that a / B < 2^26, until every lane's
 *  quotient is below 2^26; the last round (k = 0 everywhere) is the exact step. */
function fmodLoop(): Fn {
  const g = new Fn([V128, V128], [V128]);
  const ad = [g.local(V128), g.local(V128)], bd = [g.local(V128), g.local(V128)], big = [g.local(V128), g.local(V128)];
  promoteHalves(g, 0, ad);
  promoteHalves(g, 1, bd);
  g.block().loop();
  for (let h = 0; h < 2; h++) {
    const A = ad[h]!, B = bd[h]!, q = g.local(V128), sb = g.local(V128);
    g.get(A).get(B).v(S.f64x2_div).set(q);
    g.get(q).v(S.f64x2_abs).f64x2(STEP_LIMIT).v(S.f64x2_ge).set(big[h]!);
    // scaled divisor: b 2^(e(q) - 25) where |q| >= 2^26, else b (bits of +inf are the
    // exponent mask, bits of 2^-998 are 25 << 52)
    g.get(q).f64x2(Infinity).v(S.and).f64x2(2 ** -998).v(S.i64x2_sub);
    g.f64x2(1).get(big[h]!).v(S.bitselect).get(B).v(S.f64x2_mul).set(sb);
    g.get(A).get(A).get(sb).v(S.f64x2_div).v(S.f64x2_trunc).get(sb).v(S.f64x2_mul).v(S.f64x2_sub).set(A);
  }
  g.get(big[0]!).get(big[1]!).v(S.or).v(S.any_true).brIf(0);
  g.end().end();
  g.get(ad[0]!).v(S.f32x4_demote_f64x2_zero).get(ad[1]!).v(S.f32x4_demote_f64x2_zero).shuffle32([0, 1, 4, 5]);
  return g;
}

/** On the stack a - trunc(a / b) b: gives it a's sign (an exact zero difference is +0),
 *  and a itself for a finite a over an infinite b (where trunc(0) inf is NaN). */
function fmodFixups(f: Fn, a: number, b: number): void {
  f.get(a).i32(31).v(S.i32x4_shr_u).i32(31).v(S.i32x4_shl).v(S.or);
  const r = f.local(V128);
  f.set(r);
  f.get(a).get(r).get(b).v(S.f32x4_abs).f32x4(Infinity).v(S.f32x4_eq).get(a).v(S.f32x4_abs).f32x4(Infinity).v(S.f32x4_lt).v(S.and);
  f.v(S.bitselect);
}

/** Pushes a mask: m != 0 and m's sign (as m < 0) differs from b's (b < 0). */
function signsDiffer(f: Fn, m: number, b: number): void {
  f.get(m).f32x4(0).v(S.f32x4_ne);
  f.get(b).f32x4(0).v(S.f32x4_lt).get(m).f32x4(0).v(S.f32x4_lt).v(S.xor).v(S.and);
}

/** Pushes torch.remainder(a, b) of the f32x4 locals a and b. */
export function emitRemainder(f: Fn, mod: ModuleBuilder, a: number, b: number): void {
  const m = f.local(V128);
  emitFmod(f, mod, a, b);
  f.set(m);
  f.get(m).get(b).v(S.f32x4_add).get(m);
  signsDiffer(f, m, b);
  f.v(S.bitselect);
}

/** Pushes torch.floor_divide(a, b) of the f32x4 locals a and b. */
export function emitFloorDivide(f: Fn, mod: ModuleBuilder, a: number, b: number): void {
  const m = f.local(V128), d = f.local(V128), fl = f.local(V128);
  emitFmod(f, mod, a, b);
  f.set(m);
  f.get(a).get(m).v(S.f32x4_sub).get(b).v(S.f32x4_div).set(d);
  f.get(d).f32x4(1).v(S.f32x4_sub).get(d);
  signsDiffer(f, m, b);
  f.v(S.bitselect).set(d);
  // floor, corrected up when the quotient was rounded to just below an integer
  f.get(d).v(S.f32x4_floor).set(fl);
  f.get(fl).f32x4(1).v(S.f32x4_add).get(fl).get(d).get(fl).v(S.f32x4_sub).f32x4(0.5).v(S.f32x4_gt).v(S.bitselect).set(fl);
  // a zero quotient: the sign of a / b
  f.get(a).get(b).v(S.f32x4_div).i32(31).v(S.i32x4_shr_u).i32(31).v(S.i32x4_shl);
  f.get(fl).get(d).f32x4(0).v(S.f32x4_eq).v(S.bitselect).set(fl);
  // b = 0: a / b (+-inf or NaN)
  f.get(a).get(b).v(S.f32x4_div).get(fl).get(b).f32x4(0).v(S.f32x4_eq).v(S.bitselect);
}

export type IntHelper = "floordiv" | "mod" | "div" | "ipow";

/** The scalar (i32, i32) -> i32 body of an integer helper. */
function scalarHelper(h: IntHelper): Fn {
  const s = new Fn([I32, I32], [I32]);
  const a = 0, b = 1;
  if (h === "ipow") {
    const r = s.local(I32);
    // b < 0: 1 for a == 1, +-1 for a == -1 (by parity), else 0 (NumPy gives an error; 0 is torch's)
    s.get(b).i32(0).op(O.i32_lt_s).if_();
    s.get(a).i32(1).op(O.i32_eq).if_().i32(1).op(O.return).end();
    // (select gives its first operand when the condition, b odd, is non-zero)
    s.get(a).i32(-1).op(O.i32_eq).if_().i32(-1).i32(1).get(b).i32(1).op(O.i32_and).op(O.select).op(O.return).end();
    s.i32(0).op(O.return).end();
    s.i32(1).set(r);
    s.block().loop();
    s.get(b).op(O.i32_eqz).brIf(1);
    s.get(b).i32(1).op(O.i32_and).if_().get(r).get(a).op(O.i32_mul).set(r).end();
    s.get(a).get(a).op(O.i32_mul).set(a);
    s.get(b).i32(1).op(O.i32_shr_u).set(b);
    s.br(0).end().end();
    s.get(r);
    return s;
  }
  // b == 0: record the fault, give 0
  s.get(b).op(O.i32_eqz).if_();
  s.i32(0).i32(0).mem(O.i32_load, 2, FAULT_ADDR).i32(FAULT_BITS[h]).op(O.i32_or).mem(O.i32_store, 2, FAULT_ADDR);
  s.i32(0).op(O.return).end();
  // b == -1: avoid the INT_MIN / -1 trap; the quotient is -a (wrapping), the remainder 0
  s.get(b).i32(-1).op(O.i32_eq).if_();
  if (h === "mod") s.i32(0);
  else s.i32(0).get(a).op(O.i32_sub);
  s.op(O.return).end();
  if (h === "div") {
    s.get(a).get(b).op(O.i32_div_s);
    return s;
  }
  const q = s.local(I32), r = s.local(I32);
  s.get(a).get(b).op(O.i32_div_s).set(q);
  s.get(a).get(b).op(O.i32_rem_s).set(r);
  // remainder with the sign of b (floor semantics)
  s.get(r).i32(0).op(O.i32_ne).get(r).get(b).op(O.i32_xor).i32(0).op(O.i32_lt_s).op(O.i32_and).if_();
  s.get(q).i32(1).op(O.i32_sub).set(q);
  s.get(r).get(b).op(O.i32_add).set(r);
  s.end();
  s.get(h === "floordiv" ? q : r);
  return s;
}

/** The module's (v128, v128) -> v128 function applying integer helper h lane by lane. */
export function intHelper(mod: ModuleBuilder, h: IntHelper): number {
  return mod.helper(`int.${h}`, () => {
    const scalar = mod.helper(`int.${h}.scalar`, () => scalarHelper(h));
    const v = new Fn([V128, V128], [V128]);
    v.get(0);
    for (let l = 0; l < 4; l++) {
      v.get(0).lane(S.i32x4_extract_lane, l).get(1).lane(S.i32x4_extract_lane, l).call(scalar);
      v.lane(S.i32x4_replace_lane, l);
    }
    return v;
  });
}
