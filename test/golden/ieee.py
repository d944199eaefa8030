"""IEEE edge cases of the elementwise ops, computed by PyTorch (CPU, float32).

Writes test/golden/fixtures/ieee.json, read by test/tensor/ieee.test.ts. Every value is a
float32 bit pattern written as 8 hex digits, so NaN, the infinities, signed zeros and
subnormals survive JSON exactly; an op's results are one string of them, in grid order
for unary ops and row-major over (a, b) in grid x grid for binary ops. Run with a Python
that has torch:

    python test/golden/ieee.py            # writes the fixture
    python test/golden/ieee.py --check    # fails if the committed fixture differs

PyTorch evaluates a float32 kernel on 8 or 16 lanes at a time (its Vectorized<float>
path) and the leftover elements one at a time (the scalar path); the two are written
separately and can disagree at edge cases. Each op is therefore evaluated both ways (a
contiguous tensor of the whole grid, and one-element tensors); the fixture records the
scalar path, and the script stops where the two disagree beyond the known differences
listed in both_paths, so the fixture never records an arbitrary choice.
"""

import json
import math
import struct
import sys
from pathlib import Path

import torch

# float32 edge values: infinities, huge, small integers and halves, signed zeros, NaN,
# subnormals, the largest float32, values whose quotients are not exact (0.1), the end of
# exp's range (88.75 overflows) and -100 (exp and sigmoid give subnormals).
GRID = [
    -math.inf, -1e30, -100.0, -7.0, -3.0, -2.5, -1.0, -0.5, -0.1, -1e-40, -0.0,
    0.0, 1e-40, 0.1, 0.5, 1.0, 2.0, 2.5, 3.0, 7.0, 88.75, 1e30, 3.4028234663852886e38,
    math.inf, math.nan,
]

UNARY = {
    "neg": torch.neg, "abs": torch.abs, "sign": torch.sign, "exp": torch.exp, "log": torch.log,
    "log1p": torch.log1p, "expm1": torch.expm1, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt,
    "reciprocal": torch.reciprocal, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh,
    "sigmoid": torch.sigmoid, "erf": torch.erf, "floor": torch.floor, "ceil": torch.ceil,
    "round": torch.round,
}
# tensorbook name -> torch function of two tensors
BINARY = {
    "div": torch.div,
    "pow": torch.pow, "maximum": torch.maximum, "minimum": torch.minimum,
    "mod": torch.remainder, "floorDiv": torch.floor_divide, "atan2": torch.atan2,
}


def bits(t: torch.Tensor) -> list[str]:
    """Bit patterns, every NaN as the canonical quiet NaN 7fc00000 (sign and payload of a
    NaN differ between PyTorch's own paths and carry no meaning)."""
    t = torch.where(torch.isnan(t), torch.tensor(math.nan, dtype=t.dtype), t)
    return [f"{b & 0xFFFFFFFF:08x}" for b in t.contiguous().view(torch.int32).tolist()]


# Ops whose results are exactly specified (correctly rounded IEEE operations, or a fixed
# sequence of them, such as rsqrt's 1 / sqrt(x)): recorded bits must be reproduced exactly.
# (PyTorch's sqrt comes from MKL and is not correctly rounded everywhere, sqrt(1.1f) is an
# ulp above; on this grid it is.) The others are transcendental
# approximations, compared within a few ulp except where the result is special.
EXACT = {"neg", "abs", "sign", "sqrt", "rsqrt", "reciprocal", "floor", "ceil", "round", "div",
         "maximum", "minimum", "mod", "floorDiv"}


def zeros_ordered(larger: bool):
    """maximum/minimum of two zeros: PyTorch's vector path returns the second operand and its
    scalar path the first, so the sign is unspecified there; the fixture records IEEE
    754-2019's maximum/minimum, which order -0 < +0 (what both backends compute)."""
    def fix(out: list[str], a: torch.Tensor, b: torch.Tensor) -> list[str]:
        both_zero = ((a == 0) & (b == 0)).tolist()
        neg = (torch.signbit(a) & torch.signbit(b)) if larger else (torch.signbit(a) | torch.signbit(b))
        return [("80000000" if n else "00000000") if z else o for o, z, n in zip(out, both_zero, neg.tolist())]
    return fix


ZERO_SIGN_FREE = {"maximum": zeros_ordered(True), "minimum": zeros_ordered(False)}


def ulp_distance(x: str, y: str) -> int:
    """Distance in representable float32 steps between two finite bit patterns."""
    def key(h: str) -> int:
        i = int(h, 16)
        return -(i & 0x7FFFFFFF) if i >> 31 else i
    return abs(key(x) - key(y))


def special(h: str) -> bool:
    """NaN, an infinity or a zero."""
    i = int(h, 16) & 0x7FFFFFFF
    return i == 0 or i >= 0x7F800000


def both_paths(name: str, f, *args: torch.Tensor) -> list[str]:
    """f one element at a time (the scalar path: C library functions, the fixture's values)
    and over whole tensors (the vector path). They must agree bit for bit, except that
    transcendental ops may differ by 2 ulp where neither result is special, and that the
    vector fmod behind remainder gives NaN when a / b overflows (a huge dividend or a
    subnormal divisor), where the scalar path's exact fmod gives the remainder."""
    whole = bits(f(*args))
    single = [bits(f(*(a[i : i + 1] for a in args)))[0] for i in range(args[0].numel())]
    if name in ZERO_SIGN_FREE:
        whole = ZERO_SIGN_FREE[name](whole, *args)
        single = ZERO_SIGN_FREE[name](single, *args)

    def agree(w: str, s: str) -> bool:
        if w == s:
            return True
        if name == "mod" and w == "7fc00000":
            return True
        return name not in EXACT and not special(w) and not special(s) and ulp_distance(w, s) <= 2

    bad = [i for i in range(len(whole)) if not agree(whole[i], single[i])]
    if bad:
        detail = ", ".join(
            f"({', '.join(repr(a[i].item()) for a in args)}) -> {whole[i]} vs {single[i]}" for i in bad[:5]
        )
        sys.exit(f"{name}: PyTorch's vector and scalar paths differ at {len(bad)} inputs: {detail}")
    return single


def generate() -> dict:
    g = torch.tensor(GRID, dtype=torch.float32)
    n = len(GRID)
    a = g.repeat_interleave(n)  # a[i * n + j] = GRID[i]
    b = g.repeat(n)  # b[i * n + j] = GRID[j]
    return {
        "about": "float32 bit patterns from PyTorch on a grid of edge values; see test/golden/ieee.py",
        "torch": torch.__version__,
        "grid": "".join(bits(g)),
        "exact": sorted(EXACT),
        "unary": {k: "".join(both_paths(k, f, g)) for k, f in UNARY.items()},
        "binary": {k: "".join(both_paths(k, f, a, b)) for k, f in BINARY.items()},
    }


def dump(d: dict) -> str:
    """JSON with one op per line, so a regenerated fixture diffs by op."""
    lines = ["{"]
    items = list(d.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(v, dict):
            inner = ",\n".join(f"  {json.dumps(ik)}: {json.dumps(iv)}" for ik, iv in v.items())
            lines.append(f" {json.dumps(k)}: {{\n{inner}\n }}{comma}")
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(__file__).parent / "fixtures" / "ieee.json"
    text = dump(generate())
    if "--check" in sys.argv:
        if out.read_text() != text:
            sys.exit(f"{out} is stale: rerun python {Path(__file__).name}")
        return
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
