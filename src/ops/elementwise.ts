// Elementwise ops: broadcasting and type promotion, then one primitive each; activations
// and other composites are written with primitives only.
//
// Promotion (PyTorch's rule for Python scalars): tensor dtypes promote bool < int32 <
// float32; a JS number only raises a tensor's dtype by category (an integral number keeps
// int32 and float32, a fractional one makes float32; int32 + 1.5 -> float32, int32 + 2 ->
// int32); booleans are bool. As in PyTorch, bool + bool and bool * bool stay bool (logical
// or, and), bool - bool and -bool are errors, and bool + 1 is int32.

import type { DType } from "../backend/backend.js";
import { bind } from "../core/trace.js";
import { Tensor, type TensorLike } from "../tensor/tensor.js";
import { broadcastShapes, fmtShape, promoteTypes, shapesEqual } from "../tensor/shape.js";
import type { UnaryPrim } from "./prims.js";
import { composite } from "../core/composite.js";
import { checkChoice, checkOptions } from "./options.js";

function scalarDtype(v: number | boolean): DType {
  return typeof v === "boolean" ? "bool" : Number.isInteger(v) ? "int32" : "float32";
}

/** The dtype a set of operands computes in. */
export function resultDtype(...xs: TensorLike[]): DType {
  const ts = xs.filter((x): x is Tensor => x instanceof Tensor);
  const tensorDt = ts.length ? promoteTypes(...ts.map((t) => t.dtype)) : undefined;
  const scalarDt = promoteTypes(...xs.filter((x): x is number | boolean => !(x instanceof Tensor)).map(scalarDtype));
  if (tensorDt === undefined) return scalarDt === "int32" ? "float32" : scalarDt;
  return promoteTypes(tensorDt, scalarDt) === tensorDt ? tensorDt : scalarDt;
}

export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : bind("cast", [x], { dtype });
}

/** Lifts operands to tensors of one dtype (or one dtype each) and one (broadcast) shape. */
export function align(op: string, xs: TensorLike[], dtype: DType | readonly DType[]): Tensor[] {
  // Numbers become 0-d tensors on the backend of the tensor operands (abstract ones: current).
  const first = xs.find((x): x is Tensor => x instanceof Tensor && x._payload === undefined && !x.disposed);
  const backend = first ? first._storage().backend : undefined;
  const dt = (i: number): DType => (typeof dtype === "string" ? dtype : dtype[i]);
  const ts = xs.map((x, i) => (x instanceof Tensor ? cast(x, dt(i)) : Tensor._scalar(Number(x), dt(i), backend)));
  const shape = broadcastShapes(op, ...ts.map((t) => t.shape));
  return ts.map((t) => (shapesEqual(t.shape, shape) ? t : bind("expand", [t], { shape })));
}

function unaryOp(p: UnaryPrim, floatOnly: boolean) {
  return (x: Tensor): Tensor => {
    if (floatOnly) return bind(p, [cast(x, "float32")], {});
    if (x.dtype === "bool") {
      if (p === "sign") return bind("copy", [x], {}); // a bool's sign is itself (PyTorch)
      throw new Error(`${p}: not supported for bool tensors, as in PyTorch (for masks use logicalNot; or cast to int32 first), got bool${fmtShape(x.shape)}`);
    }
    return bind(p, [x], {});
  };
}

export const neg = unaryOp("neg", false);
export const abs = unaryOp("abs", false);
export const sign = unaryOp("sign", false);
export const exp = unaryOp("exp", true);
export const log = unaryOp("log", true);
export const log1p = unaryOp("log1p", true);
export const expm1 = unaryOp("expm1", true);
export const sqrt = unaryOp("sqrt", true);
export const rsqrt = unaryOp("rsqrt", true);
export const reciprocal = unaryOp("reciprocal", true);
export const sin = unaryOp("sin", true);
export const cos = unaryOp("cos", true);
export const tanh = unaryOp("tanh", true);
export const sigmoid = unaryOp("sigmoid", true);
export const erf = unaryOp("erf", true);
export const floor = unaryOp("floor", false);
export const ceil = unaryOp("ceil", false);
export const round = unaryOp("round", false);

type Arith = "add" | "sub" | "mul" | "pow" | "maximum" | "minimum" | "mod" | "floorDiv";

/** Arithmetic between bools stays bool, as in PyTorch: add and maximum are logical or, mul
 *  and minimum logical and; the others are errors. */
const boolArith: Partial<Record<Arith, "and" | "or">> = { add: "or", maximum: "or", mul: "and", minimum: "and" };

function arith(p: Arith) {
  return (a: TensorLike, b: TensorLike): Tensor => {
    const dt = resultDtype(a, b);
    if (dt === "bool") {
      const logical = boolArith[p];
      if (!logical) {
        throw new Error(`${p}: not supported for two bool operands, as in PyTorch (for masks use logicalXor or logicalNot; or cast to int32 first)`);
      }
      return bind(logical, align(p, [a, b], "bool"), {});
    }
    return bind(p, align(p, [a, b], dt), {});
  };
}

export const add = arith("add");
export const sub = arith("sub");
export const mul = arith("mul");
const powPrim = arith("pow");
export const maximum = arith("maximum");
export const minimum = arith("minimum");
/** Remainder with the sign of the divisor (Python, NumPy, torch.remainder). */
export const mod = arith("mod");
/** Floor division (rounds toward negative infinity). */
export const floorDiv = arith("floorDiv");

/** PyTorch's forms of x ** c for these number exponents c (aten's pow_tensor_scalar). */
const powForms: Record<number, (x: Tensor) => Tensor> = {
  2: (x) => square(x),
  3: (x) => mul(mul(x, x), x),
  [-2]: (x) => reciprocal(mul(x, x)),
  0.5: (x) => sqrt(x),
  [-0.5]: (x) => rsqrt(x),
  [-1]: (x) => reciprocal(x),
};

/**
 * a ** b (C99's pow for floats, with its special cases). An integer tensor to a negative
 * integer number is an error, as PyTorch's (an integer tensor exponent is not: 2 ** -1 is 0). For a float32 result and a number
 * exponent 2, 3, -2, 0.5, -0.5 or -1, as PyTorch does for torch.pow(x, c), the value is
 * x * x, x * x * x, 1 / (x * x), sqrt, rsqrt or reciprocal: they round differently in the
 * last bit, and sqrt(-0) = -0 and sqrt(-inf) = nan where pow gives +0 and +inf.
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  if (a instanceof Tensor && typeof b === "number" && b < 0 && resultDtype(a, b) !== "float32") {
    throw new Error(
      `pow: integers to negative integer powers are not allowed (${a.dtype}${fmtShape(a.shape)} ** ${b}, as in PyTorch); ` +
        `cast the base to float32 first (x.float().pow(${b}))`,
    );
  }
  const form = a instanceof Tensor && typeof b === "number" ? powForms[b] : undefined;
  if (form && resultDtype(a, b) === "float32") return form(cast(a as Tensor, "float32"));
  return powPrim(a, b);
}

/** True division: integers divide as floats. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return bind("div", align("div", [a, b], "float32"), {});
}

export function atan2(a: TensorLike, b: TensorLike): Tensor {
  return bind("atan2", align("atan2", [a, b], "float32"), {});
}

function compare(p: "eq" | "ne" | "lt" | "le" | "gt" | "ge") {
  return (a: TensorLike, b: TensorLike): Tensor => bind(p, align(p, [a, b], resultDtype(a, b)), {});
}

export const eq = compare("eq");
export const ne = compare("ne");
export const lt = compare("lt");
export const le = compare("le");
export const gt = compare("gt");
export const ge = compare("ge");

export function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return bind("and", align("logicalAnd", [a, b], "bool"), {});
}
export function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return bind("or", align("logicalOr", [a, b], "bool"), {});
}
export function logicalNot(x: Tensor): Tensor {
  return bind("not", [cast(x, "bool")], {});
}
export function logicalXor(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = align("logicalXor", [a, b], "bool");
  return bind("ne", [x, y], {});
}

/** where(cond, a, b): a where cond is true, else b (all three broadcast). cond must be bool
 *  (as PyTorch: compare first). a and b promote as in arithmetic; two numbers give int32 or
 *  float32 by their kind (true and false give bool), as PyTorch's where(c, 1, 2) is integer. */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  if (cond instanceof Tensor ? cond.dtype !== "bool" : typeof cond !== "boolean") {
    const what = cond instanceof Tensor ? `${cond.dtype}${fmtShape(cond.shape)}` : `the number ${cond}`;
    throw new Error(`where: the condition must be a bool tensor, got ${what} (compare first, e.g. x.gt(0), or cast with .cast("bool"))`);
  }
  const scalars = !(a instanceof Tensor) && !(b instanceof Tensor);
  const dt = scalars ? promoteTypes(scalarDtype(a as number | boolean), scalarDtype(b as number | boolean)) : resultDtype(a, b);
  const [c, x, y] = align("where", [cond, a, b], ["bool", dt, dt]);
  return bind("where", [c, x, y], {});
}

// ---------------------------------------------------------------------------------------
// Composites

/** x * x; bools square as int32 (PyTorch gives an integer, not x and x). The gradient is
 *  PyTorch's g * (2 x), so it overflows to +-inf where 2 x does (g x + g x would not). */
export const square = composite("square", function square(x: Tensor): Tensor {
  const xi = x.dtype === "bool" ? cast(x, "int32") : x;
  return mul(xi, xi);
}, (g, _y, [x]) => mul(g, mul(x, 2)), { compile: false });

/** clamp(x, min, max) (alias tb.clamp): max(min(x, max), min), NaN kept. Its gradient is 1
 *  where min <= x <= max, bounds included, and 0 at NaN (PyTorch's clamp). */
export const clip = composite("clip", function clip(x: Tensor, min?: number | null, max?: number | null): Tensor {
  let y = x;
  if (min !== undefined && min !== null) y = maximum(y, min);
  if (max !== undefined && max !== null) y = minimum(y, max);
  return y === x ? bind("copy", [x], {}) : y;
}, (g, _y, [x, min, max]) => {
  const hasMin = min !== undefined && min !== null;
  const hasMax = max !== undefined && max !== null;
  if (!hasMin && !hasMax) return g;
  const lo = () => ge(x, min as number);
  const hi = () => le(x, max as number);
  const inside = hasMin && hasMax ? logicalAnd(lo(), hi()) : hasMin ? lo() : hi();
  return where(inside, g, 0);
}, { compile: false });

/** max(x, 0). Its gradient is 0 at x = 0 and passes through NaN (PyTorch's relu). */
export const relu = composite("relu", function relu(x: Tensor): Tensor {
  return maximum(x, 0);
}, (g, y) => where(le(y, 0), 0, g), { compile: false });

/** x where x > 0, else negativeSlope * x (the gradient at 0 is negativeSlope, as PyTorch). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return where(gt(x, 0), x, mul(x, negativeSlope));
}

/** alpha * (exp(x) - 1) on the branch x <= 0, given only x <= 0 (so its gradient there,
 *  alpha * exp(x), is exact at 0 and no overflowing exp meets a zero gradient). */
function negativeBranch(x: Tensor, negative: Tensor, alpha: number, inputScale = 1): Tensor {
  const xn = where(negative, x, 0);
  return mul(expm1(inputScale === 1 ? xn : mul(xn, inputScale)), alpha);
}

// The ELU family takes the negative branch where x <= 0 and the positive one elsewhere,
// NaN included (PyTorch's elu_backward tests x <= 0): elu'(NaN) is the cotangent.

/** x where x > 0, else alpha * (exp(x) - 1). elu'(0) = alpha (PyTorch takes the negative
 *  branch at 0). */
export function elu(x: Tensor, alpha = 1): Tensor {
  const negative = le(x, 0);
  return where(negative, negativeBranch(x, negative, alpha), x);
}

const seluAlpha = 1.6732632423543772848170429916717;
const seluScale = 1.0507009873554804934193349852946;

/** scale * elu(x, alpha) with PyTorch's constants; selu'(0) = scale * alpha. */
export function selu(x: Tensor): Tensor {
  const negative = le(x, 0);
  return where(negative, negativeBranch(x, negative, seluAlpha * seluScale), mul(x, seluScale));
}

/** x where x > 0, else alpha * (exp(x / alpha) - 1); celu'(0) = 1. */
export function celu(x: Tensor, alpha = 1): Tensor {
  if (alpha === 0) throw new Error("celu: alpha must not be 0 (it divides x)");
  const negative = le(x, 0);
  return where(negative, negativeBranch(x, negative, alpha, 1 / alpha), x);
}

/** GELU; approximate "none" uses erf, "tanh" the tanh approximation (as PyTorch). */
export const gelu = composite("gelu", function gelu(x: Tensor, options: { approximate?: "none" | "tanh" } = {}): Tensor {
  checkOptions("gelu", options, ["approximate"]);
  checkChoice("gelu", "approximate", options.approximate, ["none", "tanh"]);
  if (options.approximate === "tanh") {
    const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
});

/** x * sigmoid(x). The gradient is PyTorch's g s (1 + x (1 - s)) with s = sigmoid(x): the
 *  cotangent at x = +3.4e38 and 0 at -3.4e38, where the product rule meets inf * 0. */
export const silu = composite("silu", function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}, (g, _y, [x]) => {
  const s = sigmoid(x);
  return mul(mul(g, s), add(mul(x, sub(1, s)), 1));
}, { compile: false });

/** softplus(x) = log(1 + exp(beta x)) / beta, and x where beta x > threshold: PyTorch's
 *  formula, so softplus'(x) = sigmoid(beta x) (0.5 at 0 for any beta). exp reads beta x only
 *  below the threshold, so it overflows only for thresholds above 88 (as in PyTorch). */
export const softplus = composite("softplus", function softplus(x: Tensor, options: { beta?: number; threshold?: number } = {}): Tensor {
  checkOptions("softplus", options, ["beta", "threshold"]);
  const beta = options.beta ?? 1;
  const threshold = options.threshold ?? 20;
  const xf = cast(x, "float32");
  const bx = beta === 1 ? xf : mul(xf, beta);
  const linear = gt(bx, threshold);
  const soft = log1p(exp(where(linear, 0, bx)));
  return where(linear, xf, beta === 1 ? soft : div(soft, beta));
});

/** log(sigmoid(x)) = -softplus(-x); its gradient is sigmoid(-x) (0.5 at 0). */
export const logSigmoid = composite("logSigmoid", function logSigmoid(x: Tensor): Tensor {
  return neg(softplus(neg(x)));
});

/** clamp(x, min, max) whose gradient is 0 at the bounds (PyTorch's hardtanh: 1 only where
 *  min < x < max, and at NaN). */
export const hardtanh = composite("hardtanh", function hardtanh(x: Tensor, min: number = -1, max: number = 1): Tensor {
  return minimum(maximum(x, min), max);
}, (g, _y, [x, min, max]) => where(logicalOr(le(x, min ?? -1), ge(x, max ?? 1)), 0, g), { compile: false });

/** min(max(x, 0), 6); its gradient is 0 at 0 and at 6 (PyTorch's relu6 is hardtanh(0, 6)). */
export function relu6(x: Tensor): Tensor {
  return hardtanh(x, 0, 6);
}

export function isnan(x: Tensor): Tensor {
  return ne(x, x);
}

/** True where x is neither NaN nor infinite (x - x is 0 exactly then). */
export function isFiniteT(x: Tensor): Tensor {
  return x.dtype === "float32" ? eq(sub(x, x), 0) : bind("ne", align("isfinite", [x, x], x.dtype), {}).logicalNot();
}

export function isinf(x: Tensor): Tensor {
  return logicalAnd(logicalNot(isFiniteT(x)), eq(x, x));
}
