// dtype conventions against PyTorch 2.13 (the results and errors torch gives are noted by
// each case): arithmetic on bools, integer matmul, sums and means of integers, true
// division, comparisons, and `where`'s promotion. The deliberate differences (no int64:
// integer sums are int32; int @ float promotes where torch errors) are pinned too.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

const bools = () => tb.tensor([true, false, true, false], { dtype: "bool" });
const others = () => tb.tensor([true, true, false, false], { dtype: "bool" });
const int = (v: number[] | number[][]) => tb.tensor(v, { dtype: "int32" });

describe("arithmetic on bools, as PyTorch", () => {
  it("add and maximum are logical or, mul and minimum logical and; results stay bool", () => {
    // torch: b + c, b * c, torch.maximum(b, c), torch.minimum(b, c), b + True, b * True
    const cases: [tb.Tensor, boolean[]][] = [
      [tb.add(bools(), others()), [true, true, true, false]],
      [tb.mul(bools(), others()), [true, false, false, false]],
      [tb.maximum(bools(), others()), [true, true, true, false]],
      [tb.minimum(bools(), others()), [true, false, false, false]],
      [tb.add(bools(), true), [true, true, true, true]],
      [tb.mul(bools(), true), [true, false, true, false]],
    ];
    for (const [t, want] of cases) {
      expect(t.dtype).toBe("bool");
      expect(t.tolist()).toEqual(want);
    }
    expect(tb.sign(bools()).tolist()).toEqual([true, false, true, false]); // torch.sign(bool) is bool
  });

  it("with numbers they promote: bool + 1 is int32, bool * 1.5 float32, square is int32", () => {
    expect(tb.add(bools(), 1).dtype).toBe("int32");
    expect(tb.add(bools(), 1).tolist()).toEqual([2, 1, 2, 1]);
    expect(tb.mul(bools(), 1.5).tolist()).toEqual([1.5, 0, 1.5, 0]);
    expect(tb.square(bools()).dtype).toBe("int32"); // torch.square(bool) is integer
    expect(tb.div(bools(), 2).tolist()).toEqual([0.5, 0, 0.5, 0]);
  });

  it("sub, neg, abs, pow, mod, floorDiv, floor of bools are errors naming the op", () => {
    // torch: "Subtraction, the `-` operator, with two bool tensors is not supported", ...
    expect(() => tb.sub(bools(), others())).toThrow("sub: not supported for two bool operands");
    expect(() => tb.pow(bools(), others())).toThrow("pow: not supported for two bool operands");
    expect(() => tb.mod(bools(), others())).toThrow("mod: not supported for two bool operands");
    expect(() => tb.floorDiv(bools(), others())).toThrow("floorDiv: not supported for two bool operands");
    expect(() => tb.neg(bools())).toThrow("neg: not supported for bool tensors");
    expect(() => tb.abs(bools())).toThrow("abs: not supported for bool tensors");
    expect(() => tb.floor(bools())).toThrow("floor: not supported for bool tensors");
  });
});

describe("integer matmul, as PyTorch", () => {
  it("int32 @ int32 is int32 and exact", () => {
    // torch: [[1, 2], [3, 4]] @ [[1, 2], [3, 4]] in int32
    const y = tb.matmul(int([[1, 2], [3, 4]]), int([[1, 2], [3, 4]]));
    expect(y.dtype).toBe("int32");
    expect(y.tolist()).toEqual([[7, 10], [15, 22]]);
    // 2^24 + 1 is not a float32: an int32 product must not round through float
    expect(tb.matmul(int([[16777217, 1]]), int([[1], [1]])).tolist()).toEqual([[16777218]]);
  });

  it("1-D operands, broadcast batch axes and bools follow the float path's shapes", () => {
    const a = tb.arange(0, 24, 1, { dtype: "int32" }).reshape([2, 3, 4]).sub(7);
    const b = tb.arange(0, 20, 1, { dtype: "int32" }).reshape([4, 5]).mul(3).sub(20);
    const cases: [tb.Tensor, tb.Tensor][] = [
      [a, b], // [2, 3, 4] @ [4, 5]
      [a, b.reshape([1, 4, 5]).expand([2, 4, 5])],
      [a.index(0, 1), b], // [4] @ [4, 5]
      [a, b.index(null, 2)], // [2, 3, 4] @ [4]
      [a.index(0, 1), b.index(null, 2)], // [4] @ [4]: 0-d
    ];
    for (const [x, w] of cases) {
      const y = tb.matmul(x, w);
      const ref = tb.matmul(x.cast("float32"), w.cast("float32")); // small values: exact in float32
      expect(y.dtype).toBe("int32");
      expect(y.shape).toEqual(ref.shape);
      expect(y.cast("float32").tolist()).toEqual(ref.tolist());
    }
    // bools count as 0 and 1 (torch has no bool matmul)
    const m = tb.tensor([[true, true], [true, false]], { dtype: "bool" });
    expect(tb.matmul(m, m).tolist()).toEqual([[2, 1], [1, 1]]);
    expect(tb.fn((x: tb.Tensor, w: tb.Tensor) => tb.matmul(x, w))(a, b).tolist()).toEqual(tb.matmul(a, b).tolist());
  });

  it("int @ float promotes to float32 (PyTorch requires one dtype)", () => {
    expect(tb.matmul(int([[1, 2]]), tb.tensor([[0.5], [0.25]])).tolist()).toEqual([[1]]);
  });
});

describe("reductions and division of integers", () => {
  it("sums of bool and int32 are int32 (PyTorch: int64, which tensorbook does not have)", () => {
    expect(bools().sum().dtype).toBe("int32");
    expect(bools().sum().item()).toBe(2);
    expect(int([1, 2, 3]).prod().dtype).toBe("int32");
    expect(tb.cumsum(bools(), 0).tolist()).toEqual([1, 1, 2, 2]);
  });

  it("mean, var and std of integers or bools are errors, as in PyTorch", () => {
    // torch: "mean(): could not infer output dtype. Input dtype must be either a floating point..."
    expect(() => int([1, 2]).mean()).toThrow("mean: needs a float32 tensor, got int32[2]; cast it first (x.float().mean())");
    expect(() => bools().mean()).toThrow("mean: needs a float32 tensor, got bool[4]");
    expect(() => int([1, 2]).var()).toThrow("var: needs a float32 tensor");
    expect(() => int([1, 2]).std()).toThrow("std: needs a float32 tensor");
    expect(bools().float().mean().item()).toBe(0.5);
  });

  it("division is true division; floorDiv keeps int32", () => {
    expect(tb.div(int([1, 2]), int([2, 2])).tolist()).toEqual([0.5, 1]);
    expect(tb.floorDiv(int([7, -7]), 2).dtype).toBe("int32");
    expect(tb.floorDiv(int([7, -7]), 2).tolist()).toEqual([3, -4]);
  });

  it("comparisons give bool; int32 against a fraction compares as float", () => {
    expect(tb.lt(int([1, 2, 3]), 2.5).tolist()).toEqual([true, true, false]);
    expect(tb.eq(bools(), others()).dtype).toBe("bool");
  });
});

describe("where", () => {
  const c = () => tb.tensor([true, false, true], { dtype: "bool" });
  it("promotes its values as arithmetic does; two numbers keep their kind", () => {
    // torch.where(c, 1, 2) is integer, torch.where(c, True, False) bool
    expect(tb.where(c(), 1, 2).dtype).toBe("int32");
    expect(tb.where(c(), 1, 2).tolist()).toEqual([1, 2, 1]);
    expect(tb.where(c(), 0.5, 2).dtype).toBe("float32");
    expect(tb.where(c(), true, false).dtype).toBe("bool");
    // torch.where(c, int32 tensor, 1.5) float32; (c, int32, 7) int32; (c, bool, 2) integer
    expect(tb.where(c(), int([1, 2, 3]), 1.5).dtype).toBe("float32");
    expect(tb.where(c(), int([1, 2, 3]), 7).dtype).toBe("int32");
    expect(tb.where(c(), c(), 2).dtype).toBe("int32");
    expect(tb.where(c(), int([1, 2, 3]), tb.tensor([1, 2, 3])).dtype).toBe("float32");
  });

  it("a condition that is not bool is an error, as in PyTorch", () => {
    // torch: "where expected condition to be a boolean tensor, but got a tensor with dtype Long"
    expect(() => tb.where(int([1, 0, 1]), 1, 2)).toThrow("where: the condition must be a bool tensor, got int32[3]");
    expect(() => tb.where(tb.tensor([1, 0, 1]), 1, 2)).toThrow("compare first, e.g. x.gt(0)");
  });
});
