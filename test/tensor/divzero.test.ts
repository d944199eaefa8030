// Integer division by zero raises ZeroDivisionError, as in PyTorch, on the backend the tensor
// suite runs on: floorDiv, mod, eager and compiled; the error names the op; the next
// computation is unaffected; a compiled call that raises leaves every variable unchanged
// (it writes no update in place, see compile.ts); and a float32 division by zero keeps
// IEEE's inf and nan.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

const int = (xs: number[]) => tb.tensor(xs, { dtype: "int32" });

describe("integer division by zero", () => {
  it("floorDiv and mod raise ZeroDivisionError naming the op, eagerly", () => {
    const a = int([7, -7, 3]), b = int([2, 0, 1]);
    expect(() => tb.floorDiv(a, b)).toThrow(tb.ZeroDivisionError);
    expect(() => tb.floorDiv(a, b)).toThrow(/^floorDiv: integer division by zero/);
    expect(() => tb.mod(a, b)).toThrow(/^mod: integer division by zero \(an int32 divisor contains 0\)/);
    expect(() => a.floorDiv(0)).toThrow(tb.ZeroDivisionError);
    // the next computation is unaffected (the fault is cleared once raised)
    expect(tb.floorDiv(a, int([2, 3, 1])).tolist()).toEqual([3, -3, 3]);
    expect(tb.mod(a, int([2, 3, -2])).tolist()).toEqual([1, 2, -1]);
  });

  it("a large tensor with one zero divisor far from the start raises", () => {
    const n = 1 << 18;
    const b = tb.ones([n], { dtype: "int32" }).mul(3);
    const withZero = tb.where(tb.arange(n).eq(n - 5), 0, b);
    expect(() => tb.floorDiv(tb.arange(n), withZero)).toThrow(tb.ZeroDivisionError);
    const q = tb.floorDiv(tb.arange(n), b).dataSync();
    expect([q[0], q[4], q[n - 1]]).toEqual([0, 1, Math.floor((n - 1) / 3)]);
  });

  it("compiled: the fused kernel raises, the next call works", () => {
    const f = tb.fn((a: tb.Tensor, b: tb.Tensor) => tb.floorDiv(a.mul(2), b).add(1));
    expect(f(int([4, 5]), int([3, 2])).tolist()).toEqual([3, 6]);
    expect(() => f(int([4, 5]), int([3, 0]))).toThrow(/^floorDiv: integer division by zero/);
    expect(f(int([4, 5]), int([-3, 2])).tolist()).toEqual([-2, 6]);
  });

  it("compiled: a call that raises leaves the variables as they were", () => {
    // W's update does not depend on the division (its kernel may run first), V's does
    const W = tb.variable(tb.tensor([1, 2, 3]), { name: "W" });
    const V = tb.variable(tb.tensor([0, 0, 0]), { name: "V" });
    const step = tb.fn((a: tb.Tensor, b: tb.Tensor) => {
      W.assign(W.mul(2));
      V.assign(V.add(tb.mod(a, b).float()));
      return tb.mod(a, b);
    });
    expect(step(int([5, 5, 5]), int([2, 3, 4])).tolist()).toEqual([1, 2, 1]);
    expect([W.tolist(), V.tolist()]).toEqual([[2, 4, 6], [1, 2, 1]]);
    expect(() => step(int([5, 5, 5]), int([2, 0, 4]))).toThrow(/^mod: integer division by zero/);
    expect([W.tolist(), V.tolist()]).toEqual([[2, 4, 6], [1, 2, 1]]);
    step(int([5, 5, 5]), int([2, 3, 4]));
    expect([W.tolist(), V.tolist()]).toEqual([[4, 8, 12], [2, 4, 2]]);
  });

  it("compiled: constants folded at trace time raise there", () => {
    const f = tb.fn((a: tb.Tensor) => a.add(int([6]).floorDiv(int([0]))));
    expect(() => f(int([1]))).toThrow(/^floorDiv: integer division by zero/);
  });

  it("float32 division by zero stays IEEE: inf, nan, and floorDiv's a / b", () => {
    const a = tb.tensor([1, -1, 0]), z = tb.zeros([3]);
    expect(tb.div(a, z).tolist()).toEqual([Infinity, -Infinity, NaN]);
    expect(tb.floorDiv(a, z).tolist()).toEqual([Infinity, -Infinity, NaN]);
    expect(tb.mod(a, z).tolist()).toEqual([NaN, NaN, NaN]);
  });
});
