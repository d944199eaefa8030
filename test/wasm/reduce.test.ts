// Reductions and cumsum of the wasm backend against plain loops: every op over single,
// multiple, negative and all axes, strided inputs, a fused prologue, int32 and bool inputs,
// NaN handling, empty reduced axes and large rows that span several fixed blocks.

import { describe, expect, test } from "vitest";
import type { DType, ReduceOp, ScalarExpr, View } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { BLOCK } from "../../src/backend/wasm/reduce.js";
import { at, closeness, download, empty, forEachIndex, inp, randn, upload } from "./helpers.js";

const be = createWasmBackend({ threads: 1 });

function reduce(op: ReduceOp, x: View, axes: number[], outDtype: DType, prologue?: ScalarExpr, inputs: View[] = [x]): number[] {
  const n = x.shape.length;
  const norm = axes.map((a) => (a < 0 ? a + n : a));
  const outShape = x.shape.map((d, i) => (norm.includes(i) ? 1 : d));
  const out = empty(be, outShape, outDtype);
  be.dispatch({ kind: "reduce", op, axes, inputs, prologue, out });
  const r = Array.from(download(be, out));
  be.free(out.buffer);
  return r;
}

/** Plain oracle: groups elements by kept index, folds in row-major order of reduced axes. */
function oracle(op: ReduceOp, data: ArrayLike<number>, x: View, axes: number[], map: (v: number) => number = (v) => v): number[] {
  const n = x.shape.length;
  const norm = axes.map((a) => (a < 0 ? a + n : a));
  const groups = new Map<string, number[]>();
  const order: string[] = [];
  forEachIndex(x.shape, (idx) => {
    const key = idx.map((v, d) => (norm.includes(d) ? 0 : v)).join(",");
    if (!groups.has(key)) { groups.set(key, []); order.push(key); }
    groups.get(key)!.push(map(at(data, x, idx)));
  });
  // keys in row-major order of the output
  order.sort((p, q) => { const a = p.split(",").map(Number), b = q.split(",").map(Number); for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!; return 0; });
  return order.map((k) => {
    const v = groups.get(k)!;
    switch (op) {
      case "sum": return v.reduce((s, t) => s + t, 0);
      case "prod": return v.reduce((s, t) => s * t, 1);
      case "max": return v.some(Number.isNaN) ? NaN : Math.max(...v);
      case "min": return v.some(Number.isNaN) ? NaN : Math.min(...v);
      case "argmax": { const nan = v.findIndex(Number.isNaN); return nan >= 0 ? nan : v.indexOf(Math.max(...v)); }
      case "argmin": { const nan = v.findIndex(Number.isNaN); return nan >= 0 ? nan : v.indexOf(Math.min(...v)); }
      case "any": return v.some((t) => t !== 0) ? 1 : 0;
      case "all": return v.every((t) => t !== 0) ? 1 : 0;
    }
  });
}

describe("wasm reduce", () => {
  const shape = [3, 5, 7];
  const data = randn(105, 11);
  const x = upload(be, data, shape);
  const axesCases = [[0], [1], [2], [-1], [0, 2], [1, 2], [0, 1, 2]];

  test("sum, prod, max, min over every axis set (float32)", () => {
    for (const axes of axesCases) {
      for (const op of ["sum", "prod"] as const) {
        expect(closeness(reduce(op, x, axes, "float32"), oracle(op, data, x, axes), 1e-5, 1e-6), `${op} ${axes}`).toBeLessThanOrEqual(1);
      }
      for (const op of ["max", "min"] as const) expect(reduce(op, x, axes, "float32"), `${op} ${axes}`).toEqual(oracle(op, data, x, axes).map(Math.fround));
      for (const op of ["argmax", "argmin"] as const) expect(reduce(op, x, axes, "int32"), `${op} ${axes}`).toEqual(oracle(op, data, x, axes));
    }
  });

  test("strided (transposed) input and a fused prologue exp(x - 1)", () => {
    const xt: View = { ...x, shape: [7, 5, 3], strides: [1, 7, 35] };
    for (const axes of axesCases) {
      expect(closeness(reduce("sum", xt, axes, "float32"), oracle("sum", data, xt, axes), 1e-5, 1e-6)).toBeLessThanOrEqual(1);
      expect(reduce("argmax", xt, axes, "int32")).toEqual(oracle("argmax", data, xt, axes));
    }
    const pro: ScalarExpr = { op: "exp", x: { op: "sub", a: inp(0), b: { op: "const", value: 1, dtype: "float32" }, dtype: "float32" }, dtype: "float32" };
    expect(closeness(reduce("sum", x, [1], "float32", pro), oracle("sum", data, x, [1], (v) => Math.exp(v - 1)), 1e-5, 1e-6)).toBeLessThanOrEqual(1);
  });

  test("int32 sums are exact; bool any/all; max of bool", () => {
    const ints = Int32Array.from({ length: 105 }, (_, i) => ((i * 7919) % 201) - 100);
    const xi = upload(be, ints, shape, "int32");
    for (const axes of axesCases) {
      expect(reduce("sum", xi, axes, "int32")).toEqual(oracle("sum", ints, xi, axes));
      expect(reduce("max", xi, axes, "int32")).toEqual(oracle("max", ints, xi, axes));
      expect(reduce("argmin", xi, axes, "int32")).toEqual(oracle("argmin", ints, xi, axes));
    }
    const bools = Uint8Array.from({ length: 105 }, (_, i) => (i % 4 === 0 ? 1 : 0));
    const xb = upload(be, bools, shape, "bool");
    for (const axes of axesCases) {
      expect(reduce("any", xb, axes, "bool")).toEqual(oracle("any", bools, xb, axes));
      expect(reduce("all", xb, axes, "bool")).toEqual(oracle("all", bools, xb, axes));
      expect(reduce("max", xb, axes, "bool")).toEqual(oracle("max", bools, xb, axes));
    }
  });

  test("NaN propagates through max/min and wins argmax", () => {
    const d = Float32Array.from([1, NaN, 3, 2, 5, 4]);
    const v = upload(be, d, [2, 3]);
    expect(reduce("max", v, [1], "float32")).toEqual([NaN, 5]);
    expect(reduce("min", v, [1], "float32")).toEqual([NaN, 2]);
    expect(reduce("argmax", v, [1], "int32")).toEqual([1, 1]);
    // NaN inside the vectorised part of a long row (16-wide and 4-wide steps)
    for (const pos of [5, 37, 60]) {
      const long = randn(67, pos);
      long[pos] = NaN;
      const lv = upload(be, long, [1, 67]);
      expect(reduce("max", lv, [1], "float32"), `NaN at ${pos}`).toEqual([NaN]);
      expect(reduce("min", lv, [1], "float32"), `NaN at ${pos}`).toEqual([NaN]);
    }
  });

  test("rows longer than one block (fixed-block sums) and empty reduced axes", () => {
    const n = BLOCK * 3 + 123;
    const big = randn(2 * n, 5);
    const v = upload(be, big, [2, n]);
    expect(closeness(reduce("sum", v, [1], "float32"), oracle("sum", big, v, [1]), 1e-5, 1e-4)).toBeLessThanOrEqual(1);
    expect(reduce("max", v, [-1], "float32")).toEqual(oracle("max", big, v, [1]).map(Math.fround));
    const e = upload(be, new Float32Array(0), [3, 0]);
    expect(reduce("sum", e, [1], "float32")).toEqual([0, 0, 0]);
    expect(reduce("prod", e, [1], "float32")).toEqual([1, 1, 1]);
    expect(() => reduce("max", e, [1], "float32")).toThrow(/reduce max over an empty axis/);
  });

  test("cumsum along each axis, float32 (sequential, exact) and int32, strided input", () => {
    for (const axis of [0, 1, 2, -1]) {
      const ax = axis < 0 ? axis + 3 : axis;
      const out = empty(be, shape);
      const xt: View = { ...x, shape, strides: x.strides };
      be.dispatch({ kind: "cumsum", axis, input: xt, out });
      const want: number[] = [];
      forEachIndex(shape, (idx) => {
        let s = 0;
        for (let j = 0; j <= idx[ax]!; j++) { const k = idx.slice(); k[ax] = j; s = Math.fround(s + at(data, xt, k)); }
        want.push(s);
      });
      expect(Array.from(download(be, out)), `axis ${axis}`).toEqual(want);
    }
    const ints = Int32Array.from([1, 2, 3, 4, 5, 6]);
    const vi: View = { ...upload(be, ints, [2, 3], "int32"), shape: [3, 2], strides: [1, 3] };
    const out = empty(be, [3, 2], "int32");
    be.dispatch({ kind: "cumsum", axis: 0, input: vi, out });
    expect(Array.from(download(be, out))).toEqual([1, 4, 3, 9, 6, 15]);
  });
});
