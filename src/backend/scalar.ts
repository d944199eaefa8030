// Scalar semantics of the elementwise ops, one JS function per ScalarExpr node kind.
//
// This is the meaning every backend must reproduce: float32 results are rounded to float32
// after every node (Math.fround), int32 arithmetic wraps, bool is 0 or 1. Integer mod and
// floordiv follow Python/NumPy (the remainder takes the sign of the divisor; division by
// zero gives 0 for integers, as NumPy does). round() is round-half-to-even (NumPy).

import type { DType, ScalarExpr, UnaryScalarOp, BinaryScalarOp } from "./backend.js";

/** erf with |error| < 1.2e-7 everywhere (Numerical Recipes erfc, Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
          t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const unaryFns: Record<UnaryScalarOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0),
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  expm1: Math.expm1,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  reciprocal: (x) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  erf,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  not: (x) => (x ? 0 : 1),
};

function intMod(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

function floatMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

export function binaryFn(op: BinaryScalarOp, dtype: DType): (a: number, b: number) => number {
  const int = dtype === "int32";
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    case "mul": return int ? Math.imul : (a, b) => a * b;
    case "div": return int ? (a, b) => (b === 0 ? 0 : Math.trunc(a / b)) : (a, b) => a / b;
    case "pow": return Math.pow;
    case "max": return (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b);
    case "min": return (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b);
    case "mod": return int ? intMod : floatMod;
    case "floordiv": return int ? (a, b) => (b === 0 ? 0 : Math.floor(a / b)) : (a, b) => Math.floor(a / b);
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
