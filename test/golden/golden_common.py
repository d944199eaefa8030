# Shared pieces of the golden-fixture generator (test/golden/generate.py): exact encoding of
# tensors and numbers into JSON, seeded inputs, and running one op case through PyTorch's
# forward and autograd.
#
# Encoding (read by test/golden/golden.ts):
#   tensor  {"dtype": "float32" | "int32" | "bool", "shape": [...], "data": base64}, the data
#           little-endian float32 / int32 bytes or one byte per bool, so NaN, +-inf, -0 and
#           denormals survive JSON exactly. PyTorch's int64 results are stored as int32
#           (tensorbook has no int64; every value here fits).
#   number  a JSON number, or "nan" / "inf" / "-inf" / "-0" where JSON has no spelling.

import base64
import math
import zlib

import numpy as np
import torch

F32 = torch.float32


def num(v):
    """A Python number as JSON: non-finite values and -0.0 as strings."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1.0, v) < 0:
        return "-0"
    return v


def enc(t):
    """A torch tensor as the fixture's tensor record."""
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.float32, torch.float64, torch.float16):
        dtype, arr = "float32", t.to(torch.float32).numpy().astype("<f4")
    elif t.dtype in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8):
        if t.numel() and (int(t.min()) < -(2**31) or int(t.max()) >= 2**31):
            raise ValueError(f"int value out of int32 range in {t}")
        dtype, arr = "int32", t.to(torch.int64).numpy().astype("<i4")
    elif t.dtype == torch.bool:
        dtype, arr = "bool", t.numpy().astype("u1")
    else:
        raise TypeError(f"cannot encode dtype {t.dtype}")
    return {"dtype": dtype, "shape": list(t.shape), "data": base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()}


def enc_any(v):
    """Tensors, numbers and nested lists/dicts of them."""
    if isinstance(v, torch.Tensor):
        return enc(v)
    if isinstance(v, (list, tuple)):
        return [enc_any(x) for x in v]
    if isinstance(v, dict):
        return {k: enc_any(x) for k, x in v.items()}
    if isinstance(v, (int, float)) or v is None:
        return num(v)
    return v


def gen_for(name):
    """A torch.Generator seeded from the case name: each case's data is fixed on its own,
    so adding or reordering cases never changes the others."""
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return g


def randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=F32) * scale


def rand(g, *shape, lo=0.0, hi=1.0):
    return torch.rand(*shape, generator=g, dtype=F32) * (hi - lo) + lo


def f32(values, shape=None):
    t = torch.tensor(values, dtype=F32)
    return t.reshape(shape) if shape is not None else t


def outputs_of(r):
    """An op's result as a list of tensors (split/chunk/broadcastTensors give several)."""
    return list(r) if isinstance(r, (list, tuple)) else [r]


def _abs(v):
    return v.abs() if isinstance(v, torch.Tensor) and v.dtype == F32 else v


def _run(torch_fn, args, diff, cts):
    """torch_fn(*args) as a list of outputs, and the vjp of the cotangents (None entries for
    outputs without one) into the arguments listed in diff (zeros where no gradient flows);
    grads is None when PyTorch defines no derivative."""
    targs = [a.detach().clone().requires_grad_(True) if i in diff else a for i, a in enumerate(args)]
    outs = outputs_of(torch_fn(*targs))
    leaves = [targs[i] for i in diff]
    if cts is None:
        return outs, None
    live = [(o, c) for o, c in zip(outs, cts) if c is not None and o.requires_grad]
    grads = [None] * len(leaves)
    if live and leaves:
        grads = torch.autograd.grad([o for o, _ in live], leaves, [c for _, c in live], allow_unused=True)
    return [o.detach() for o in outs], [gr if gr is not None else torch.zeros_like(l) for gr, l in zip(grads, leaves)]


def _elementwise_scalar_path(torch_fn, args, cts, diff, outs, grads):
    """Each element again through one-element tensors. PyTorch runs float32 kernels on 8 or
    16 lanes (its Vectorized<float> code) and leftovers one at a time (plain C++ math), and
    the vector code is wrong at some edges (gelu(inf) = NaN, remainder(1, 1e-40) = NaN): edge
    cases of elementwise ops record the scalar path, as test/golden/ieee.py does."""
    shape = outs[0].shape
    bargs = [a.expand(shape).contiguous() if isinstance(a, torch.Tensor) else a for a in args]
    flat_outs = [torch.empty(o.numel(), dtype=o.dtype) for o in outs]
    flat_grads = [torch.empty(o.numel(), dtype=F32) for o in grads] if grads is not None else None
    for e in range(outs[0].numel()):
        one = [a.reshape(-1)[e : e + 1] if isinstance(a, torch.Tensor) else a for a in bargs]
        ct = [c.reshape(-1)[e : e + 1] if c is not None else None for c in cts] if grads is not None else None
        o1, g1 = _run(torch_fn, one, diff, ct)
        for fo, o in zip(flat_outs, o1):
            fo[e] = o[0]
        if grads is not None:
            for fg, gr in zip(flat_grads, g1):
                fg[e] = gr[0]
    new_outs = [f.reshape(o.shape) for f, o in zip(flat_outs, outs)]
    if grads is None:
        return new_outs, None
    # Broadcast arguments receive the sum of their elements' contributions.
    new_grads = [f.reshape(shape).sum_to_size(g.shape) for f, g in zip(flat_grads, grads)]
    return new_outs, new_grads


def _broadcast_grad_scales(torch_fn, args, diff, cts):
    """For elementwise ops whose arguments broadcast: the sum of |contribution| that each
    argument element's gradient adds up (the vjp at the arguments expanded to the output
    shape, in absolute value, summed back to the argument's shape)."""
    outs = outputs_of(torch_fn(*args))
    shape = outs[0].shape
    bargs = [a.expand(shape).contiguous() if isinstance(a, torch.Tensor) and a.dtype == F32 else a for a in args]
    _, grads = _run(torch_fn, bargs, diff, cts)
    return [gr.abs().sum_to_size(args[i].shape) for gr, i in zip(grads, diff)]


def op_case(name, op, args, torch_fn, params=None, diff=None, error_kind=None, note=None, scale=None, elementwise_edge=False,
            variables=None):
    """Runs torch_fn(*args) (params are the tensorbook options the case records; torch_fn
    already applies their PyTorch spelling) and, for differentiable float arguments, the vjp
    of a seeded random cotangent. `args` holds tensors and Python numbers; `diff` lists the
    indices of the arguments to differentiate (default: every float32 tensor argument). If
    PyTorch raises, the case records the error (error_kind "shape": raised from shapes
    alone, so a traced call must raise too; "value": raised by the values).

    `scale` sizes the rounding error a float32 evaluation may make at each element (the
    test's tolerance is a multiple of float32 epsilon times it): "abs" for ops that are
    linear or multiplicative in each argument (sums, products, matmul, convolution, average
    pools), where the op applied to |args| (and, for gradients, the vjp of |cotangent| at
    |args|) bounds every term that was added; "broadcast" for elementwise ops with
    broadcasting arguments (gradient scales only, see _broadcast_grad_scales); or a function
    of the arguments returning one scale tensor per output. Without it the test derives a
    scale from the result itself. elementwise_edge records PyTorch's scalar path.
    `variables` lists the indices of arguments the op updates in place (batchNorm's running
    statistics), which torch_fn also returns as outputs: through tb.fn the test passes them
    as tb.variable()s, since a traced function changes state only through variables."""
    g = gen_for(name + "/cotangent")
    params = params or {}
    case = {"name": name, "op": op, "params": enc_any(params), "args": enc_any(args)}
    if note:
        case["note"] = note
    if variables:
        case["variables"] = variables
    if diff is None:
        diff = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.dtype == F32]
    try:
        outs, _ = _run(torch_fn, args, diff, None)
    except (RuntimeError, ValueError, IndexError) as e:
        case["error"] = str(e).split("\n")[0]
        case["errorKind"] = error_kind or "shape"
        return case
    if error_kind is not None:
        raise AssertionError(f"{name}: expected PyTorch to raise")
    # Cotangents for every float output (null for others).
    cts = [torch.randn(o.shape, generator=g, dtype=F32) if o.dtype == F32 else None for o in outs]
    grads = None
    if diff and any(c is not None for c in cts):
        try:
            outs, grads = _run(torch_fn, args, diff, cts)
        except RuntimeError as e:
            # PyTorch defines no derivative (floor_divide): the case checks forward only.
            case["noGrad"] = str(e).split("\n")[0]
    if elementwise_edge:
        outs, grads = _elementwise_scalar_path(torch_fn, args, cts, diff, outs, grads)
    case["out"] = [enc(o) for o in outs]
    if grads is not None:
        case["diff"] = diff
        case["cotangents"] = [enc(c) if c is not None else None for c in cts]
        case["grads"] = [enc(gr) for gr in grads]
    if scale == "abs":
        aargs = [_abs(a) for a in args]
        souts, sgrads = _run(torch_fn, aargs, diff, [c.abs() if c is not None else None for c in cts] if grads is not None else None)
        case["scales"] = [enc(o) if o.dtype == F32 else None for o in souts]
        if sgrads is not None:
            case["gradScales"] = [enc(gr) for gr in sgrads]
    elif scale == "broadcast":
        if grads is not None:
            case["gradScales"] = [enc(gr) for gr in _broadcast_grad_scales(torch_fn, args, diff, cts)]
    elif scale is not None:
        case["scales"] = [enc(s) for s in outputs_of(scale(*args))]
    return case
