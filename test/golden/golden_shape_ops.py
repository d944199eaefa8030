# Golden cases for reductions (sum ... cumsum, over all axes, one, several, negative, with
# keepdims; edge inputs: NaN, +-inf, ties, zeros for prod, empty axes), movement and
# indexing ops (views with steps and negative indices, gather/scatter, concat, pad, ...)
# and the creation ops whose values are defined (arange, linspace, eye, full).
#
# tensorbook's max/min return values only and are torch.amax/amin for every axis choice,
# the full reduction included (not torch.max()): the gradient splits evenly among ties, and
# a NaN result gives its whole group a NaN gradient. var/std take `correction` as
# torch.var/std do.

import math

import torch
import torch.nn.functional as F

from golden_common import F32, f32, gen_for, op_case, rand, randn

nan, inf = math.nan, math.inf


def _dims(axis, ndim):
    if axis is None:
        return list(range(ndim))
    return [a % ndim for a in ([axis] if isinstance(axis, int) else axis)]


def reduce_fn(op, axis, keepdims, correction=None):
    """PyTorch's reduction for tensorbook's op over `axis` (None: all axes)."""
    def f(x):
        d = _dims(axis, x.dim())
        if op == "sum":
            r = torch.sum(x, dim=d, keepdim=keepdims)
            return r.to(torch.int32) if x.dtype != F32 else r
        if op == "prod":
            # torch.prod takes one dim: reduce the axes one at a time, last first.
            r = x
            for a in sorted(d, reverse=True):
                r = torch.prod(r, dim=a, keepdim=True)
            r = r if keepdims else r.reshape([n for i, n in enumerate(x.shape) if i not in d])
            return r.to(torch.int32) if x.dtype != F32 else r
        if op == "max":
            return torch.amax(x, dim=d, keepdim=keepdims)
        if op == "min":
            return torch.amin(x, dim=d, keepdim=keepdims)
        if op == "any":
            return torch.any(x, dim=d, keepdim=keepdims)
        if op == "all":
            return torch.all(x, dim=d, keepdim=keepdims)
        if op == "mean":
            return torch.mean(x, dim=d, keepdim=keepdims)
        if op == "variance":
            return torch.var(x, dim=d, keepdim=keepdims, correction=1 if correction is None else correction)
        if op == "std":
            return torch.std(x, dim=d, keepdim=keepdims, correction=1 if correction is None else correction)
        if op == "logsumexp":
            return torch.logsumexp(x, dim=d, keepdim=keepdims)
        raise KeyError(op)
    return f


def reduce_scale(op, axis, keepdims, correction=None):
    """The scale of the rounding error of a float32 reduction (see op_case): "abs" for the
    sums and products; for var and std the squares of |x| + |mean| (the size of what the
    centring cancels); for logsumexp the largest |x| (the shift) plus log of the count."""
    if op in ("sum", "prod", "mean"):
        return "abs"
    if op not in ("variance", "std", "logsumexp"):
        return None

    def f(x):
        d = _dims(axis, x.dim())
        n = math.prod(x.shape[a] for a in d)
        if op == "logsumexp":
            if n == 0:
                return torch.zeros_like(torch.sum(x, dim=d, keepdim=keepdims))
            return torch.amax(x.abs(), dim=d, keepdim=keepdims) + math.log(n) + 1
        mu = torch.mean(x, dim=d, keepdim=True)
        c = 1 if correction is None else correction
        v = torch.sum((x.abs() + mu.abs()) ** 2, dim=d, keepdim=keepdims) / max(n - c, 0)
        return v.sqrt() if op == "std" else v
    return f


class LogSumExpSoftmaxGrad(torch.autograd.Function):
    """torch.logsumexp with softmax(x) as its derivative where the largest x is finite.
    PyTorch's own backward, exp(x - logsumexp(x)), gives each of n equal huge inputs (1e30)
    the whole cotangent instead of 1/n of it: x - logsumexp(x) rounds to 0 in float32 and
    in float64 alike. Rows with an infinite maximum keep PyTorch's own formula."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.save_for_backward(x)
        ctx.dim = dim
        return torch.logsumexp(x, dim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        finite = torch.isfinite(torch.amax(x, ctx.dim, keepdim=True))
        native = torch.exp(x - torch.logsumexp(x, ctx.dim, keepdim=True))
        return g.unsqueeze(ctx.dim) * torch.where(finite, torch.softmax(x, ctx.dim), native), None


class StdOfFloat32Variance(torch.autograd.Function):
    """tensorbook's std, a documented difference from PyTorch: the square root of the
    float32 variance, so it underflows and overflows where the variance does. PyTorch takes
    the root of a float64 variance: of [1e-40, 1e-40, 2e-40, 1e-45] (deviations whose
    squares are below float32's denormals) it gives 8.2e-41 where tensorbook gives 0, and
    of [3e38, 3e38, 1, 2] 1.7e38 where tensorbook gives inf. Exact in float32 would need a
    second, scaled pass over every input. The backward is PyTorch's std_backward formula,
    var's backward of g / (2 std) with 0 where std is 0, at this std."""

    @staticmethod
    def forward(ctx, x, dim):
        y = torch.sqrt(torch.var(x, dim=dim))
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gv = (g / (y * 2)).masked_fill(y == 0, 0).unsqueeze(ctx.dim)
        n = x.shape[ctx.dim] - 1
        return (2.0 / n) * gv * (x - x.mean(ctx.dim, keepdim=True)), None


def arg_fn(op, axis, keepdims):
    def f(x):
        fn = torch.argmax if op == "argmax" else torch.argmin
        if axis is None:
            r = fn(x)
            return r.reshape([1] * x.dim()) if keepdims else r
        return fn(x, dim=axis, keepdim=keepdims)
    return f


AXES = [(None, False), (1, False), ([0, 2], False), (-1, True), ([0, 1, 2], True)]


def reduce_cases():
    out = []
    for op in ["sum", "prod", "max", "min", "mean", "variance", "std", "logsumexp", "any", "all"]:
        for axis, keep in AXES:
            name = f"{op}/axis={axis}/keepdims={keep}"
            g = gen_for(name)
            x = randn(g, 3, 4, 5, scale=2)
            if op == "prod":
                x = rand(g, 3, 4, 5, lo=0.5, hi=1.6) * torch.sign(randn(g, 3, 4, 5))
            if op in ("any", "all"):
                x = rand(g, 3, 4, 5) > (0.2 if op == "all" else 0.9)
            params = {"axis": axis, "keepdims": keep}
            out.append(op_case(name, op, [x], reduce_fn(op, axis, keep), params=params, scale=reduce_scale(op, axis, keep)))
    for op in ["argmax", "argmin"]:
        for axis, keep in [(None, False), (1, False), (-1, True), (None, True)]:
            name = f"{op}/axis={axis}/keepdims={keep}"
            x = randn(gen_for(name), 3, 4, 5)
            out.append(op_case(name, op, [x], arg_fn(op, axis, keep), params={"axis": axis, "keepdims": keep}))
    for c in [0, 2]:
        x = randn(gen_for(f"variance/correction={c}"), 4, 6)
        for op in ["variance", "std"]:
            out.append(op_case(f"{op}/correction={c}", op, [x], reduce_fn(op, 1, False, c), params={"axis": 1, "correction": c},
                               scale=reduce_scale(op, 1, False, c)))
    # Integer and bool sums and products stay int32.
    xi = torch.tensor([[1, -2, 3], [4, 5, -6]], dtype=torch.int32)
    out.append(op_case("sum/int32", "sum", [xi], reduce_fn("sum", 1, False), params={"axis": 1}))
    out.append(op_case("prod/int32", "prod", [xi], reduce_fn("prod", 0, False), params={"axis": 0}))
    out.append(op_case("sum/bool", "sum", [xi > 0], reduce_fn("sum", None, False), params={"axis": None}))
    out.append(op_case("max/int32", "max", [xi], reduce_fn("max", 1, False), params={"axis": 1}))
    out.append(op_case("argmax/int32", "argmax", [xi], arg_fn("argmax", 0, False), params={"axis": 0}))
    out.append(op_case("mean/int32", "mean", [xi], lambda x: torch.mean(x, dim=1), params={"axis": 1}, error_kind="shape"))

    # Edge inputs, reduced along the last axis (each row one situation).
    rows = f32([
        [1.0, 2.0, 3.0, 4.0],          # plain
        [nan, 1.0, 2.0, 3.0],          # NaN propagates
        [inf, 1.0, 2.0, 3.0],          # +inf
        [-inf, 1.0, 2.0, 3.0],         # -inf
        [inf, -inf, 1.0, 2.0],         # inf - inf
        [3.0, 3.0, 1.0, 3.0],          # ties at the max
        [-2.0, 5.0, -2.0, 0.0],        # ties at the min, a zero
        [0.0, 2.0, 3.0, 4.0],          # one zero (prod gradient)
        [0.0, 2.0, 0.0, 4.0],          # two zeros
        [-0.0, -0.0, -0.0, -0.0],      # all -0
        [1e30, 1e30, 1e30, 1e30],      # overflow of sums of squares
        [3e38, 3e38, 1.0, 2.0],        # sum overflows to inf (in any order)
        [1e-40, 1e-40, 2e-40, 1e-45],  # denormals
        [-inf, -inf, -inf, -inf],      # logsumexp of all -inf
        [80.0, 90.0, 100.0, 88.0],     # exp overflows unless shifted
        [7.0, 7.0, 7.0, 7.0],          # zero variance (std gradient)
    ])
    for op in ["sum", "prod", "max", "min", "mean", "variance", "std"]:
        fn = (lambda x: StdOfFloat32Variance.apply(x, -1)) if op == "std" else reduce_fn(op, -1, False)
        out.append(op_case(f"{op}/edge", op, [rows], fn, params={"axis": -1}, scale=reduce_scale(op, -1, False)))
    out.append(op_case("logsumexp/edge", "logsumexp", [rows], lambda x: LogSumExpSoftmaxGrad.apply(x, -1),
                       params={"axis": -1}, scale=reduce_scale("logsumexp", -1, False)))
    for op in ["argmax", "argmin"]:
        out.append(op_case(f"{op}/edge", op, [rows], arg_fn(op, -1, False), params={"axis": -1}))
    out.append(op_case("max/all-ties", "max", [f32([[2.0, 2.0], [2.0, 2.0]])], reduce_fn("max", None, False), params={"axis": None}))
    out.append(op_case("min/all-ties", "min", [f32([[2.0, 2.0], [2.0, 1.0]])], reduce_fn("min", None, False), params={"axis": None}))
    # Empty axes: sum 0, prod 1, mean NaN, logsumexp -inf, any false, all true; max raises.
    empty = torch.zeros(3, 0)
    for op in ["sum", "prod", "mean", "logsumexp"]:
        out.append(op_case(f"{op}/empty-axis", op, [empty], reduce_fn(op, 1, False), params={"axis": 1}, scale=reduce_scale(op, 1, False)))
    out.append(op_case("any/empty-axis", "any", [empty > 0], reduce_fn("any", 1, False), params={"axis": 1}))
    out.append(op_case("all/empty-axis", "all", [empty > 0], reduce_fn("all", 1, False), params={"axis": 1}))
    out.append(op_case("max/empty-axis", "max", [empty], reduce_fn("max", 1, False), params={"axis": 1}, error_kind="shape"))
    out.append(op_case("argmax/empty-axis", "argmax", [empty], arg_fn("argmax", 1, False), params={"axis": 1}, error_kind="shape"))
    out.append(op_case("sum/empty-other-axis", "sum", [empty], reduce_fn("sum", 0, False), params={"axis": 0}))
    # cumsum
    for axis in [0, 1, -1]:
        x = randn(gen_for(f"cumsum/{axis}"), 4, 6)
        out.append(op_case(f"cumsum/axis={axis}", "cumsum", [x], lambda x, a=axis: torch.cumsum(x, a), params={"axis": axis}, scale="abs"))
    out.append(op_case("cumsum/edge", "cumsum", [rows], lambda x: torch.cumsum(x, 1), params={"axis": 1}, scale="abs"))
    out.append(op_case("cumsum/int32", "cumsum", [xi], lambda x: torch.cumsum(x, 1).to(torch.int32), params={"axis": 1}))
    return out


def py_slice(x, specs):
    """x sliced with tensorbook's per-axis specs (an index, None, or [start, stop, step] with
    Python semantics, negative steps included) through index_select, so it differentiates."""
    drop = []
    for i, s in enumerate(specs):
        n = x.shape[i]
        if isinstance(s, int):
            idx = [range(n)[s]]
            drop.append(i)
        elif s is None:
            continue
        else:
            idx = list(range(n)[slice(*(list(s) + [None] * (3 - len(s))))])
        x = torch.index_select(x, i, torch.tensor(idx, dtype=torch.int64))
    return x.reshape([d for i, d in enumerate(x.shape) if i not in drop]) if drop else x


def mixed(g, *shape):
    """Random values with specials (NaN, +-inf, -0, a denormal) at the first positions:
    movement ops must move every bit pattern unchanged."""
    x = randn(g, *shape).reshape(-1)
    x[:5] = f32([nan, inf, -inf, -0.0, 1e-40])
    return x.reshape(shape)


def movement_cases():
    out = []
    g = gen_for("movement")
    x = mixed(g, 2, 3, 4)
    M = [
        ("reshape", {"shape": [4, -1]}, lambda t: t.reshape(4, -1)),
        ("flatten", {}, lambda t: torch.flatten(t)),
        ("flatten", {"startAxis": 1}, lambda t: torch.flatten(t, 1)),
        ("squeeze", {}, None),
        ("unsqueeze", {"axis": -1}, lambda t: t.unsqueeze(-1)),
        ("permute", {"perm": [2, 0, 1]}, lambda t: t.permute(2, 0, 1)),
        ("transpose", {"axis0": 0, "axis1": 2}, lambda t: t.transpose(0, 2)),
        ("transpose", {}, lambda t: t.permute(2, 1, 0)),
        ("mT", {}, lambda t: t.mT),
        ("expand", {"shape": [3, 2, 3, 4]}, lambda t: t.expand(3, 2, 3, 4)),
        ("broadcastTo", {"shape": [2, 2, 3, 4]}, lambda t: torch.broadcast_to(t, (2, 2, 3, 4))),
        ("contiguous", {}, lambda t: t.contiguous()),
        ("copyOf", {}, lambda t: t.clone()),
        ("slice", {"specs": [1, [None, None, -1], [3, 0, -2]]}, lambda t: py_slice(t, [1, [None, None, -1], [3, 0, -2]])),
        ("slice", {"specs": [None, [-2, None], [1, 100, 2]]}, lambda t: py_slice(t, [None, [-2, None], [1, 100, 2]])),
        ("slice", {"specs": [[5, 9]]}, lambda t: py_slice(t, [[5, 9]])),
        ("narrow", {"axis": 2, "start": 1, "length": 2}, lambda t: t.narrow(2, 1, 2)),
        ("flip", {"axis": [0, 2]}, lambda t: torch.flip(t, [0, 2])),
        ("flip", {}, lambda t: torch.flip(t, [0, 1, 2])),
        ("split", {"size": 2, "axis": 2}, lambda t: torch.split(t, 2, 2)),
        ("split", {"sizes": [1, 2], "axis": 1}, lambda t: torch.split(t, [1, 2], 1)),
        ("chunk", {"chunks": 3, "axis": 2}, lambda t: torch.chunk(t, 3, 2)),
        ("pad", {"padding": [1, 2]}, lambda t: F.pad(t, [1, 2])),
        ("pad", {"padding": [0, 1, 2, 0], "value": 1.5}, lambda t: F.pad(t, [0, 1, 2, 0], value=1.5)),
        ("pad", {"padding": [-1, 1, 1, -1]}, lambda t: F.pad(t, [-1, 1, 1, -1])),
        ("tile", {"reps": [2, 1, 1, 2]}, lambda t: torch.tile(t, (2, 1, 1, 2))),
        ("tile", {"reps": [2]}, lambda t: torch.tile(t, (2,))),
        ("repeat", {"reps": [1, 2, 2]}, lambda t: t.repeat(1, 2, 2)),
    ]
    for op, params, fn in M:
        name = f"{op}/{params}"
        if op == "squeeze":
            y = mixed(gen_for(name), 2, 1, 3, 1)
            out.append(op_case(name, op, [y], lambda t: t.squeeze()))
            out.append(op_case(f"{op}/axis", op, [y], lambda t: t.squeeze(1), params={"axis": 1}))
            continue
        out.append(op_case(name, op, [x], fn, params=params))
    out.append(op_case("reshape/transposed", "reshape", [mixed(g, 4, 6)], lambda t: t.T.reshape(3, 8), params={"shape": [3, 8], "transpose": True}))
    # Indexing.
    base = mixed(gen_for("gather"), 4, 5)
    idx = torch.randint(0, 4, (3, 5), generator=gen_for("gather/index"), dtype=torch.int64)
    out.append(op_case("gather/axis0", "gather", [base, idx.int()], lambda t, i: torch.gather(t, 0, i.long()), params={"axis": 0}))
    idx1 = torch.randint(0, 5, (4, 7), generator=gen_for("gather/index1"), dtype=torch.int64)
    out.append(op_case("gather/axis1", "gather", [base, idx1.int()], lambda t, i: torch.gather(t, 1, i.long()), params={"axis": 1}))
    src = randn(gen_for("scatterAdd/src"), 3, 5)
    out.append(op_case("scatterAdd/axis0", "scatterAdd", [randn(g, 4, 5), idx.int(), src],
                       lambda t, i, s: torch.scatter_add(t, 0, i.long(), s), params={"axis": 0}, scale="abs"))
    sel = [3, -1, 0, 0, -4]
    out.append(op_case("indexSelect/negative", "indexSelect", [base], lambda t: torch.index_select(t, 0, torch.tensor([i % 4 for i in sel])),
                       params={"axis": 0, "index": sel}))
    out.append(op_case("indexSelect/axis1", "indexSelect", [base], lambda t: torch.index_select(t, 1, torch.tensor([4, 2])), params={"axis": 1, "index": [4, 2]}))
    out.append(op_case("gather/out-of-range", "gather", [base, torch.tensor([[4, 0, 0, 0, 0]], dtype=torch.int32)],
                       lambda t, i: torch.gather(t, 0, i.long()), params={"axis": 0}, error_kind="value"))
    a, b, c = mixed(gen_for("concat a"), 2, 3), randn(gen_for("concat b"), 1, 3), randn(gen_for("concat c"), 4, 3)
    out.append(op_case("concat/axis0", "concat", [a, b, c], lambda *t: torch.cat(t, 0), params={"axis": 0}))
    out.append(op_case("concat/axis1", "concat", [a, randn(g, 2, 2)], lambda *t: torch.cat(t, 1), params={"axis": -1}))
    out.append(op_case("stack/axis1", "stack", [a, randn(g, 2, 3), randn(g, 2, 3)], lambda *t: torch.stack(t, 1), params={"axis": 1}))
    out.append(op_case("broadcastTensors", "broadcastTensors", [randn(g, 3, 1), randn(g, 1, 4), randn(g, 4)], lambda *t: torch.broadcast_tensors(*t)))
    out.append(op_case("oneHot", "oneHot", [torch.tensor([0, 3, 1, 1, 2], dtype=torch.int32)],
                       lambda i: F.one_hot(i.long(), 4).to(torch.int32), params={"numClasses": 4}))
    return out


def creation_cases():
    out = []
    A = [
        ("arange", {"start": 0, "stop": 5}, lambda: torch.arange(0, 5)),
        ("arange", {"start": 1, "stop": 2, "step": 0.1}, lambda: torch.arange(1, 2, 0.1)),
        ("arange", {"start": 5, "stop": -3, "step": -1.5}, lambda: torch.arange(5, -3, -1.5)),
        ("arange", {"start": 0, "stop": 7, "step": 2, "dtype": "int32"}, lambda: torch.arange(0, 7, 2, dtype=torch.int32)),
        ("linspace", {"start": 0, "stop": 1, "num": 7}, lambda: torch.linspace(0, 1, 7)),
        ("linspace", {"start": -3.5, "stop": 10, "num": 21}, lambda: torch.linspace(-3.5, 10, 21)),
        ("linspace", {"start": 2, "stop": 2, "num": 1}, lambda: torch.linspace(2, 2, 1)),
        ("eye", {"n": 3}, lambda: torch.eye(3)),
        ("eye", {"n": 2, "m": 4}, lambda: torch.eye(2, 4)),
        ("full", {"shape": [2, 3], "value": -0.0}, lambda: torch.full((2, 3), -0.0)),
        ("full", {"shape": [2], "value": 0.1}, lambda: torch.full((2,), 0.1)),
    ]
    for op, params, fn in A:
        # linspace's terms are start and stop: PyTorch adds multiples of a float32 step.
        sc = (lambda p=params: torch.full((p["num"],), abs(p["start"]) + abs(p["stop"]))) if op == "linspace" else None
        out.append(op_case(f"{op}/{params}", op, [], fn, params=params, scale=sc))
    return out


def cases():
    return reduce_cases() + movement_cases() + creation_cases()
