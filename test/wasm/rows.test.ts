// The "rows" kernel (fused softmax, logSoftmax, layerNorm) of the wasm backend against the
// reference backend: stashed and recomputed stages, per-row inputs with stride 0 along the
// row, transposed (strided) rows, row lengths around the 8/4/1 loop steps, NaN rows, a
// non-contiguous output, and bit-identical results on 1 and 2 threads.

import { describe, expect, test } from "vitest";
import type { Backend, Kernel, RowStage, ScalarExpr, View } from "../../src/backend/backend.js";
import { ReferenceBackend } from "../../src/backend/reference.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { closeness, download, empty, randn, upload } from "./helpers.js";

const wasm1 = createWasmBackend({ threads: 1 });
const wasm2 = createWasmBackend({ threads: 2 });
const ref = new ReferenceBackend();

const inp = (index: number): ScalarExpr => ({ op: "input", index, dtype: "float32" });
const un = (op: "exp" | "log" | "reciprocal" | "rsqrt", x: ScalarExpr): ScalarExpr => ({ op, x, dtype: "float32" });
const bin = (op: "add" | "sub" | "mul" | "div", a: ScalarExpr, b: ScalarExpr): ScalarExpr => ({ op, a, b, dtype: "float32" });
const c = (value: number): ScalarExpr => ({ op: "const", value, dtype: "float32" });

/** Softmax over the row of input 0 (one input): r0 = max x, r1 = sum exp(x - r0) stashed. */
function softmax(nIn: number): { stages: RowStage[]; stash: boolean; final: ScalarExpr } {
  const e = un("exp", bin("sub", inp(0), inp(nIn)));
  return { stages: [{ op: "max", expr: inp(0) }, { op: "sum", expr: e }], stash: true, final: bin("mul", inp(nIn + 2), un("reciprocal", inp(nIn + 1))) };
}

/** logSoftmax: x - (log(sum exp(x - m)) + m), exp recomputed (no stash). */
function logSoftmax(nIn: number): { stages: RowStage[]; stash: boolean; final: ScalarExpr } {
  const e = un("exp", bin("sub", inp(0), inp(nIn)));
  return { stages: [{ op: "max", expr: inp(0) }, { op: "sum", expr: e }], stash: false, final: bin("sub", inp(0), bin("add", un("log", inp(nIn + 1)), inp(nIn))) };
}

/** layerNorm with a per-row scale input 1: (x - mean) * rsqrt(var + eps) * w. */
function layerNorm(L: number): { stages: RowStage[]; stash: boolean; final: ScalarExpr } {
  const mean = bin("div", inp(2), c(L));
  const d = bin("sub", inp(0), mean);
  return {
    stages: [{ op: "sum", expr: inp(0) }, { op: "sum", expr: bin("mul", d, d) }],
    stash: false,
    final: bin("mul", bin("mul", d, un("rsqrt", bin("add", bin("div", inp(3), c(L)), c(1e-5)))), inp(1)),
  };
}

function run(be: Backend, prog: ReturnType<typeof softmax>, x: Float32Array, shape: number[], opts: { transpose?: boolean; scale?: Float32Array } = {}): Float32Array {
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const L = shape.at(-1)!;
  let xv: View;
  if (opts.transpose) {
    // stored [L, rows], viewed as [rows, L]: the row is strided
    const t = new Float32Array(x.length);
    for (let r = 0; r < rows; r++) for (let j = 0; j < L; j++) t[j * rows + r] = x[r * L + j]!;
    const v = upload(be, t, [L, rows]);
    xv = { ...v, shape: [rows, L], strides: [1, rows] };
  } else xv = upload(be, x, shape);
  const inputs: View[] = [xv];
  if (opts.scale) {
    const s = upload(be, opts.scale, [rows, 1]);
    inputs.push({ ...s, shape: [rows, L], strides: [1, 0] });
  }
  const out = empty(be, opts.transpose ? [rows, L] : shape);
  const k: Kernel = { kind: "rows", ...prog, inputs, out };
  be.dispatch(k);
  const r = download(be, out) as Float32Array;
  for (const v of [...inputs, out]) be.free(v.buffer);
  return r;
}

describe("rows kernel", () => {
  for (const L of [1, 3, 4, 7, 8, 13, 1000]) {
    test(`softmax and logSoftmax rows of ${L} match the reference`, () => {
      const shape = [5, L];
      const x = randn(5 * L, L).map((v) => v * 4);
      for (const prog of [softmax(1), logSoftmax(1)]) {
        const want = run(ref, prog, x, shape);
        const got = run(wasm1, prog, x, shape);
        expect(closeness(got, want, 1e-5, 1e-7)).toBeLessThanOrEqual(1);
      }
    });
  }

  test("3-d input, strided rows and a per-row input with stride 0", () => {
    const x = randn(2 * 3 * 37, 5);
    const a = run(ref, softmax(1), x, [2, 3, 37]);
    expect(closeness(run(wasm1, softmax(1), x, [2, 3, 37]), a, 1e-5, 1e-7)).toBeLessThanOrEqual(1);
    const xt = randn(6 * 21, 6);
    const b = run(ref, logSoftmax(1), xt, [6, 21], { transpose: true });
    expect(closeness(run(wasm1, logSoftmax(1), xt, [6, 21], { transpose: true }), b, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    const scale = randn(6, 7);
    const ln = layerNorm(21);
    const want = run(ref, ln, xt, [6, 21], { scale });
    expect(closeness(run(wasm1, ln, xt, [6, 21], { scale }), want, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
    // rows are normalised: mean 0, unit variance before the scale
    const plain = run(wasm1, layerNorm(21), xt, [6, 21], { scale: new Float32Array(6).fill(1) });
    for (let r = 0; r < 6; r++) {
      const row = plain.subarray(r * 21, r * 21 + 21);
      expect(Math.abs(row.reduce((s, v) => s + v, 0) / 21)).toBeLessThan(1e-5);
    }
  });

  test("a NaN in a row makes that row NaN and leaves the others", () => {
    const x = randn(3 * 9, 8);
    x[9 + 4] = NaN;
    const got = run(wasm1, softmax(1), x, [3, 9]);
    expect(Array.from(got.subarray(9, 18)).every(Number.isNaN)).toBe(true);
    expect(Array.from(got.subarray(0, 9)).some(Number.isNaN)).toBe(false);
    expect(got.subarray(18, 27).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  });

  test("1 and 2 threads give identical bits", () => {
    const x = randn(512 * 1000, 9);
    const one = run(wasm1, softmax(1), x, [512, 1000]);
    const two = run(wasm2, softmax(1), x, [512, 1000]);
    expect(Buffer.from(one.buffer).equals(Buffer.from(two.buffer))).toBe(true);
    for (let r = 0; r < 512; r += 97) expect(one.subarray(r * 1000, r * 1000 + 1000).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 4);
  });

  test("max and min stages order -0 below +0 and propagate NaN, like f32x4.max", () => {
    // final = the row value itself, broadcast over the row
    const rowValue = (op: "max" | "min", row: number[]) => {
      const x = new Float32Array(row);
      const got = run(wasm1, { stages: [{ op, expr: inp(0) }], stash: false, final: inp(1) }, x, [1, row.length]);
      return got[0]!;
    };
    const zeros = [-0, 0, -0, -0, 0, -0, -0, -0, -0, 0, -0, -0, -0, -0, -0, -0, -0];
    expect(Object.is(rowValue("max", zeros), 0)).toBe(true);
    expect(Object.is(rowValue("max", zeros.map(() => -0)), -0)).toBe(true);
    expect(Object.is(rowValue("min", zeros), -0)).toBe(true);
    expect(Object.is(rowValue("min", zeros.map(() => 0)), 0)).toBe(true);
    const withNaN = Array.from({ length: 37 }, (_, i) => (i === 21 ? NaN : i));
    expect(rowValue("max", withNaN)).toBeNaN();
    expect(rowValue("min", withNaN)).toBeNaN();
    expect(rowValue("max", Array.from({ length: 37 }, (_, i) => i - 40))).toBe(-4);
  });

  test("per-row results: logsumexp written once per row, strided output", () => {
    const R = 7, L = 37;
    const xs = randn(R * L, 11).map((v) => v * 5);
    const lse = (be: Backend, outStride: number) => {
      const x = upload(be, xs, [R, L]);
      const ob = be.allocate(R * outStride * 4);
      const out: View = { buffer: ob, dtype: "float32", shape: [R, 1], strides: [outStride, 1], offset: 0 };
      const e = un("exp", bin("sub", inp(0), inp(1)));
      be.dispatch({ kind: "rows", perRow: true, stages: [{ op: "max", expr: inp(0) }, { op: "sum", expr: e }], stash: false, final: bin("add", un("log", inp(2)), inp(1)), inputs: [x], out });
      const all = download(be, { ...out, shape: [R * outStride], strides: [1] }) as Float32Array;
      be.free(x.buffer);
      be.free(ob);
      return Array.from({ length: R }, (_, r) => all[r * outStride]!);
    };
    const want = Array.from({ length: R }, (_, r) => {
      const row = Array.from(xs.subarray(r * L, r * L + L));
      const m = Math.max(...row);
      return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    });
    for (const be of [wasm1, ref]) for (const stride of [1, 3]) expect(closeness(lse(be, stride), want, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
  });
});
