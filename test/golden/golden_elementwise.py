# Golden cases for tensorbook's elementwise ops (unary, binary, comparisons, logical, where,
# cast, activations), each on seeded random inputs and on edge inputs: NaN, +-inf, +-0,
# denormals (1e-40, 1e-45), huge values (1e30, 3e38, float32 max), points where the
# function bends (0 for relu, abs, softplus, elu; clamp and hardtanh bounds; ties for
# maximum and minimum) and where rounding changes (halves for round).
#
# Each case is {op, params, args} for tensorbook and a PyTorch function computing the same;
# the op names are tensorbook's and test/golden/ops.ts maps them to tb calls.

import math

import torch
import torch.nn.functional as F

from golden_common import F32, f32, gen_for, op_case, rand, randn

nan, inf = math.nan, math.inf
FMAX = 3.4028234663852886e38

# Edge inputs of unary float ops (1-D).
UNARY_EDGE = [
    nan, inf, -inf, 0.0, -0.0, 1e-40, -1e-40, 1e-45, -1e-45, 1.1754944e-38, 1e-30, -1e-30,
    1e-7, -1e-7, 0.49999997, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.5, -2.5, 3.0, 10.0, -10.0,
    20.0, -20.0, 20.5, 30.0, 88.0, 89.0, -87.0, -104.0, -110.0, 1e4, -1e4, 8388607.5,
    1e30, -1e30, 3e38, -3e38, FMAX, -FMAX,
]

# Edge values whose pairs (a 15 x 15 grid) make the inputs of binary float ops.
BINARY_EDGE = [nan, inf, -inf, 0.0, -0.0, 1e-40, 1.0, -1.0, 0.5, 2.0, -2.5, 3.0, 7.0, 1e30, -3e38]

INT_EDGE = [-2147483648, 2147483647, -7, 7, -2, 2, -1, 1, 0, 5, -5, 3, 100, -100]


def grid(values):
    v = f32(values)
    n = len(values)
    return v.reshape(n, 1).expand(n, n).contiguous(), v.reshape(1, n).expand(n, n).contiguous()


def i32(values, shape=None):
    t = torch.tensor(values, dtype=torch.int32)
    return t.reshape(shape) if shape is not None else t


# name -> (PyTorch function of the tensor, random input maker (generator) -> tensor)
def _pos(g):
    return rand(g, 4, 6, lo=0.05, hi=5.0)


def _n(scale):
    return lambda g: randn(g, 4, 6, scale=scale)


UNARY = {
    "neg": (torch.neg, _n(2)),
    "abs": (torch.abs, _n(2)),
    "sign": (torch.sign, _n(2)),
    "exp": (torch.exp, _n(3)),
    "log": (torch.log, _pos),
    "log1p": (torch.log1p, _pos),
    "expm1": (torch.expm1, _n(2)),
    "sqrt": (torch.sqrt, _pos),
    "rsqrt": (torch.rsqrt, _pos),
    "reciprocal": (torch.reciprocal, _pos),
    "sin": (torch.sin, lambda g: rand(g, 4, 6, lo=-20, hi=20)),
    "cos": (torch.cos, lambda g: rand(g, 4, 6, lo=-20, hi=20)),
    "tanh": (torch.tanh, _n(2)),
    "sigmoid": (torch.sigmoid, _n(3)),
    "erf": (torch.erf, _n(1.5)),
    "floor": (torch.floor, _n(4)),
    "ceil": (torch.ceil, _n(4)),
    "round": (torch.round, lambda g: torch.round(randn(g, 4, 6, scale=8)) / 2),
    "square": (torch.square, _n(2)),
    "relu": (torch.relu, _n(2)),
    "silu": (F.silu, _n(3)),
    "logSigmoid": (F.logsigmoid, _n(3)),
    "isnan": (torch.isnan, _n(1)),
    "isinf": (torch.isinf, _n(1)),
    "isfinite": (torch.isfinite, _n(1)),
}

# Activations with options: (case suffix, params, PyTorch function, random scale)
WITH_PARAMS = [
    ("clip", "both", {"min": -0.5, "max": 1.0}, lambda x: torch.clamp(x, -0.5, 1.0), 2),
    ("clip", "min", {"min": 0.5, "max": None}, lambda x: torch.clamp(x, min=0.5), 2),
    ("clip", "max", {"min": None, "max": -1.0}, lambda x: torch.clamp(x, max=-1.0), 2),
    ("leakyRelu", "default", {}, F.leaky_relu, 2),
    ("leakyRelu", "slope0.2", {"negativeSlope": 0.2}, lambda x: F.leaky_relu(x, 0.2), 2),
    ("elu", "default", {}, F.elu, 2),
    ("elu", "alpha1.5", {"alpha": 1.5}, lambda x: F.elu(x, 1.5), 2),
    ("gelu", "erf", {}, F.gelu, 3),
    ("gelu", "tanh", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh"), 3),
    ("softplus", "default", {}, F.softplus, 12),
    ("softplus", "beta2", {"beta": 2, "threshold": 5}, lambda x: F.softplus(x, 2, 5), 3),
    ("hardtanh", "default", {}, F.hardtanh, 2),
    ("hardtanh", "bounds", {"min": -0.5, "max": 2.0}, lambda x: F.hardtanh(x, -0.5, 2.0), 2),
]

# Points where the activations above bend, added to their edge inputs.
KINKS = [0.5, -0.5, 1.0, -1.0, 2.0, 0.0, -0.0, 2.5, 5.0, 20.0, -20.0]


def unary_cases():
    out = []
    for op, (fn, make) in UNARY.items():
        g = gen_for(f"{op}/random")
        out.append(op_case(f"{op}/random", op, [make(g)], fn))
        out.append(op_case(f"{op}/edge", op, [f32(UNARY_EDGE)], fn, elementwise_edge=True))
    g = gen_for("exp/transposed")
    out.append(op_case("exp/transposed", "exp", [randn(g, 5, 3)], lambda x: torch.exp(x.T), params={"transpose": True}))
    for op, suffix, params, fn, scale in WITH_PARAMS:
        g = gen_for(f"{op}/{suffix}/random")
        out.append(op_case(f"{op}/{suffix}/random", op, [randn(g, 4, 6, scale=scale)], fn, params=params))
        out.append(op_case(f"{op}/{suffix}/edge", op, [f32(UNARY_EDGE + KINKS)], fn, params=params, elementwise_edge=True))
    # Integer inputs keep their dtype (and wrap: abs and neg of INT_MIN are INT_MIN).
    for op, fn in [("neg", torch.neg), ("abs", torch.abs), ("sign", torch.sign), ("square", torch.square),
                   ("relu", torch.relu), ("floor", torch.floor), ("ceil", torch.ceil), ("round", torch.round)]:
        out.append(op_case(f"{op}/int32", op, [i32(INT_EDGE)], fn))
    out.append(op_case("isfinite/int32", "isfinite", [i32(INT_EDGE)], torch.isfinite))
    out.append(op_case("logicalNot/bool", "logicalNot", [torch.tensor([True, False, True])], torch.logical_not))
    out.append(op_case("logicalNot/float", "logicalNot", [f32([0.0, -0.0, 1.0, nan, inf, 1e-40])], torch.logical_not))
    # Casts: float -> int truncates toward zero (in-range values only: PyTorch leaves NaN and
    # out-of-range values undefined), int -> float rounds to nearest even.
    to_int = [-2.5, 2.5, -0.5, 0.5, -0.0, 0.99999994, -1.9999999, 1e9, -2147483648.0, 2147483520.0, 123.75, -7.9]
    out.append(op_case("cast/float-int32", "cast", [f32(to_int)], lambda x: x.to(torch.int32), params={"dtype": "int32"}))
    out.append(op_case("cast/float-bool", "cast", [f32([0.0, -0.0, 1e-45, nan, inf, -2.0])], lambda x: x.to(torch.bool), params={"dtype": "bool"}))
    out.append(op_case("cast/int32-float", "cast", [i32([16777217, 16777219, -16777217, 2147483647, -2147483648, 0, 3])],
                       lambda x: x.to(F32), params={"dtype": "float32"}))
    out.append(op_case("cast/int32-bool", "cast", [i32([0, 1, -1, 2147483647])], lambda x: x.to(torch.bool), params={"dtype": "bool"}))
    out.append(op_case("cast/bool-float", "cast", [torch.tensor([True, False])], lambda x: x.to(F32), params={"dtype": "float32"}))
    return out


def _as_tensor(v):
    return v if isinstance(v, torch.Tensor) else torch.tensor(v)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: torch.true_divide(_as_tensor(a), b),
    "pow": lambda a, b: a ** b,
    "maximum": lambda a, b: torch.maximum(_as_tensor(a), _as_tensor(b)),
    "minimum": lambda a, b: torch.minimum(_as_tensor(a), _as_tensor(b)),
    "mod": lambda a, b: torch.remainder(a, b),
    "floorDiv": lambda a, b: torch.floor_divide(_as_tensor(a), b),
    "atan2": torch.atan2,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "logicalAnd": torch.logical_and,
    "logicalOr": torch.logical_or,
    "logicalXor": torch.logical_xor,
}

ARITH = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "mod", "floorDiv", "atan2"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]


def binary_cases():
    out = []
    for op in ARITH + COMPARE:
        fn = BINARY[op]
        g = gen_for(f"{op}/random")
        a = randn(g, 4, 5, scale=2)
        b = randn(g, 4, 5, scale=2)
        if op in ("div", "mod", "floorDiv"):
            b = torch.where(b.abs() < 0.2, torch.full_like(b, 0.7), b)
        if op == "pow":
            a = rand(g, 4, 5, lo=0.1, hi=3.0)
        out.append(op_case(f"{op}/random", op, [a, b], fn))
        # Broadcasting [3, 1, 5] with [4, 1].
        g = gen_for(f"{op}/broadcast")
        a = randn(g, 3, 1, 5, scale=2)
        b = randn(g, 4, 1, scale=2)
        if op == "pow":
            a = a.abs() + 0.1
        if op in ("div", "mod", "floorDiv"):
            b = b.abs() + 0.5
        out.append(op_case(f"{op}/broadcast", op, [a, b], fn, scale="broadcast"))
        out.append(op_case(f"{op}/edge", op, list(grid(BINARY_EDGE)), fn, elementwise_edge=True))
    # Python-number operands: float32 tensor with a float, float with an int, number first.
    g = gen_for("scalar operands")
    x = randn(g, 2, 3)
    for op in ["add", "sub", "mul", "div", "pow", "maximum", "mod", "floorDiv", "lt"]:
        out.append(op_case(f"{op}/scalar-right", op, [x.abs() + 0.25 if op == "pow" else x, 2.5], lambda a, b, fn=BINARY[op]: fn(a, b), scale="broadcast"))
        out.append(op_case(f"{op}/scalar-left", op, [1.5, x.abs() + 0.25 if op in ("div", "mod", "floorDiv", "pow") else x],
                           lambda a, b, fn=BINARY[op]: fn(a, b), scale="broadcast"))
    out.append(op_case("mul/int-scalar", "mul", [x, 3], lambda a, b: a * b, scale="broadcast"))
    out.append(op_case("add/transposed", "add", [randn(g, 3, 4), randn(g, 4, 3)], lambda a, b: a.T + b, params={"transpose": True}))
    # Integer arithmetic: wraps around, floors toward -inf, divides as floats.
    ia, ib = i32([7, -7, 7, -7, 2147483647, -2147483648, 0, 5, -5, 100], [10]), i32([2, 2, -2, -2, 1, -1, 3, 5, 3, -7], [10])
    for op in ["add", "sub", "mul", "div", "maximum", "minimum", "mod", "floorDiv", "eq", "lt", "ge"]:
        out.append(op_case(f"{op}/int32", op, [ia, ib], BINARY[op]))
    out.append(op_case("pow/int32", "pow", [i32([2, -3, 0, 5, 1, -1, 7]), i32([10, 3, 0, 2, 30, 5, 0])], BINARY["pow"]))
    # A negative integer number as the exponent of an integer tensor raises; a tensor
    # exponent does not (2 ** -1 is 0, 1 and -1 keep their magnitude).
    out.append(op_case("pow/int32-negative-scalar", "pow", [i32([2, 3, 1]), -1], BINARY["pow"], error_kind="shape"))
    out.append(op_case("pow/int32-negative-tensor", "pow", [i32([2, -1, 1, -1, 5]), i32([-1, -1, -3, -2, -2])], BINARY["pow"]))
    out.append(op_case("add/int32-scalar-int", "add", [ia, 3], lambda a, b: a + b))
    out.append(op_case("add/int32-scalar-float", "add", [ia, 1.5], lambda a, b: a + b))
    out.append(op_case("mul/int32-float32", "mul", [ia, randn(g, 10)], lambda a, b: a * b, scale="broadcast"))
    # Bool arithmetic stays bool where PyTorch allows it (+ is or, * is and), else raises.
    ba, bb = torch.tensor([True, True, False, False]), torch.tensor([True, False, True, False])
    for op in ["add", "mul", "maximum", "minimum"]:
        out.append(op_case(f"{op}/bool", op, [ba, bb], BINARY[op]))
    out.append(op_case("sub/bool", "sub", [ba, bb], BINARY["sub"], error_kind="shape"))
    out.append(op_case("neg/bool", "neg", [ba], torch.neg, error_kind="shape"))
    out.append(op_case("add/bool-int-scalar", "add", [ba, 1], lambda a, b: a + b))
    out.append(op_case("square/bool", "square", [ba], torch.square))
    # Integer division by zero: PyTorch raises.
    for op in ["mod", "floorDiv"]:
        out.append(op_case(f"{op}/int32-by-zero", op, [i32([1, -1, 0]), i32([0, 0, 0])], BINARY[op], error_kind="value"))
    # Logical ops on bools and on floats (nonzero and NaN are true).
    ba = torch.tensor([True, True, False, False])
    bb = torch.tensor([True, False, True, False])
    fa = f32([0.0, -0.0, nan, 2.0])
    for op in ["logicalAnd", "logicalOr", "logicalXor"]:
        out.append(op_case(f"{op}/bool", op, [ba, bb], BINARY[op]))
        out.append(op_case(f"{op}/float", op, [fa, f32([1.0, 1.0, 1.0, 0.0])], BINARY[op]))
    return out


def where_cases():
    out = []
    g = gen_for("where")
    c = rand(g, 4, 5) > 0.5
    out.append(op_case("where/random", "where", [c, randn(g, 4, 5), randn(g, 4, 5)], torch.where))
    out.append(op_case("where/broadcast", "where", [rand(g, 4, 1) > 0.5, randn(g, 1, 5), randn(g, 4, 5)], torch.where, scale="broadcast"))
    out.append(op_case("where/scalars", "where", [c, randn(g, 4, 5), 0.0], lambda c, a, b: torch.where(c, a, b)))
    out.append(op_case("where/edge", "where", [torch.tensor([True, False, True, False]), f32([nan, 1.0, -0.0, inf]), f32([2.0, nan, 1.0, -inf])], torch.where, elementwise_edge=True))
    out.append(op_case("where/int32", "where", [c, i32(list(range(20)), [4, 5]), i32([-1] * 20, [4, 5])], torch.where))
    out.append(op_case("where/two-ints", "where", [c, 1, 2], lambda c, a, b: torch.where(c, a, b).to(torch.int32),
                       note="PyTorch gives int64; tensorbook's integers are int32"))
    out.append(op_case("where/float-condition", "where", [c.float(), randn(g, 4, 5), randn(g, 4, 5)], torch.where, error_kind="shape"))
    return out


def cases():
    return unary_cases() + binary_cases() + where_cases()
