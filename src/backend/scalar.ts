// Scalar semantics of the elementwise ops, one JS function per ScalarExpr node kind.
//
// This is the meaning every backend must reproduce, PyTorch's on CPU: float32 results are
// rounded to float32 after every node (Math.fround), int32 arithmetic wraps, bool is 0 or
// 1. Where a float64 evaluation rounded once to float32 would differ from PyTorch's float32
// arithmetic, the float32 steps are spelled out (rsqrt, sigmoid, floor division). IEEE and C99
// edge cases are PyTorch's: pow(1, nan) = pow(nan, 0) = pow(-1, +-inf) = 1; sign(nan) = 0;
// maximum/minimum order -0 < +0; remainder takes the divisor's sign (torch.remainder);
// floor division is torch.floor_divide's (fmod based: 7 // 0.1 = 69). Integer floor
// division, remainder and division by zero raise ZeroDivisionError. round() is
// round-half-to-even.

import { zeroDivisionError, type DType, type ScalarExpr, type UnaryScalarOp, type BinaryScalarOp } from "./backend.js";

/**
 * erf to about 1e-14 relative, by the series
 *   erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1))
 * whose terms are all positive (no cancellation); |x| >= 4 gives +-1, as float32 rounds it
 * (erfc(4) < 2^-25).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) >= 4) return Math.sign(x);
  const x2 = 2 * x * x;
  let term = x, sum = x;
  for (let k = 1; Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
    term *= x2 / (2 * k + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const unaryFns: Record<UnaryScalarOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), // NaN -> 0, as PyTorch
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  expm1: Math.expm1,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.fround(Math.sqrt(x)), // two float32 roundings, as PyTorch's 1 / sqrt(x)
  reciprocal: (x) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / Math.fround(1 + Math.fround(Math.exp(-x))), // float32 steps: sigmoid(-100) = 0, as PyTorch
  erf,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  not: (x) => (x ? 0 : 1),
};

/** Integer floor division, remainder and division; a zero divisor raises. */
function intDivision(op: "floordiv" | "mod" | "div"): (a: number, b: number) => number {
  return (a, b) => {
    if (b === 0) throw zeroDivisionError([op]);
    if (op === "div") return Math.trunc(a / b);
    if (op === "floordiv") return Math.floor(a / b); // exact: a / b is never within 2^-53 of an integer it is not
    const r = a % b;
    return r !== 0 && r < 0 !== b < 0 ? r + b : r;
  };
}

/** int32 a ** b by squaring, wrapping; b < 0 gives 0 but for a = 1 and a = -1. */
function intPow(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : 0;
  let r = 1;
  for (let base = a | 0, e = b; e > 0; e >>>= 1) {
    if (e & 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
  }
  return r;
}

/** C99 pow: JavaScript's Math.pow agrees but for pow(1, nan) and pow(+-1, +-inf) (NaN there). */
function floatPow(a: number, b: number): number {
  if (b === 0 || a === 1 || (a === -1 && Math.abs(b) === Infinity)) return 1;
  return Math.pow(a, b);
}

/** torch.remainder: fmod (exact in float64 for float32 operands), plus b when the signs
 *  differ (one float32 rounding, by the caller's store). */
function floatMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

/** torch.floor_divide on float32 (c10's div_floor_floating), step by step in float32. */
function floatFloorDiv(a: number, b: number): number {
  if (b === 0) return a / b;
  const mod = a % b;
  let div = Math.fround(Math.fround(a - mod) / b);
  if (mod !== 0 && b < 0 !== mod < 0) div = Math.fround(div - 1);
  if (div === 0) return a / b < 0 || Object.is(a / b, -0) ? -0 : 0;
  const fl = Math.floor(div);
  return div - fl > 0.5 ? fl + 1 : fl;
}

/** maximum/minimum: NaN if either is NaN; of two zeros, +0 is the larger (IEEE 754-2019). */
function maximum(a: number, b: number): number {
  if (a !== a || b !== b) return NaN;
  return a > b ? a : b > a ? b : Object.is(a, -0) ? b : a;
}
function minimum(a: number, b: number): number {
  if (a !== a || b !== b) return NaN;
  return a < b ? a : b < a ? b : Object.is(a, 0) ? b : a;
}

export function binaryFn(op: BinaryScalarOp, dtype: DType): (a: number, b: number) => number {
  const int = dtype === "int32";
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    case "mul": return int ? Math.imul : (a, b) => a * b;
    case "div": return int ? intDivision("div") : (a, b) => a / b;
    case "pow": return int ? intPow : floatPow;
    case "max": return maximum;
    case "min": return minimum;
    case "mod": return int ? intDivision("mod") : floatMod;
    case "floordiv": return int ? intDivision("floordiv") : floatFloorDiv;
    case "eq": return (a, b) => (a === b ? 1 : 0);
    case "ne": return (a, b) => (a !== b ? 1 : 0);
    case "lt": return (a, b) => (a < b ? 1 : 0);
    case "le": return (a, b) => (a <= b ? 1 : 0);
    case "gt": return (a, b) => (a > b ? 1 : 0);
    case "ge": return (a, b) => (a >= b ? 1 : 0);
    case "and": return (a, b) => (a && b ? 1 : 0);
    case "or": return (a, b) => (a || b ? 1 : 0);
    case "atan2": return Math.atan2;
  }
}

/** Rounds a JS number to what the dtype stores. */
export function storeAs(dtype: DType): (x: number) => number {
  if (dtype === "float32") return Math.fround;
  if (dtype === "int32") return (x) => x | 0;
  return (x) => (x !== 0 ? 1 : 0); // NaN is true, as in NumPy
}

/** Compiles an expression tree into a closure over the input values of one element. */
export function compileScalar(expr: ScalarExpr): (vals: ArrayLike<number>) => number {
  const st = storeAs(expr.dtype);
  switch (expr.op) {
    case "input": {
      const i = expr.index;
      return (v) => v[i];
    }
    case "const": {
      const c = st(expr.value);
      return () => c;
    }
    case "where": {
      const c = compileScalar(expr.cond);
      const a = compileScalar(expr.a);
      const b = compileScalar(expr.b);
      return (v) => (c(v) ? a(v) : b(v));
    }
    case "cast": {
      const x = compileScalar(expr.x);
      if (expr.dtype === "int32") return (v) => Math.trunc(x(v)) | 0;
      return (v) => st(x(v));
    }
    default:
      if ("b" in expr) {
        const f = binaryFn(expr.op, expr.a.dtype);
        const a = compileScalar(expr.a);
        const b = compileScalar(expr.b);
        return (v) => st(f(a(v), b(v)));
      } else {
        const f = unaryFns[expr.op];
        const x = compileScalar(expr.x);
        return (v) => st(f(x(v)));
      }
  }
}
