// Elementwise kernels of the wasm backend against plain-loop oracles: contiguous, broadcast
// (stride 0), transposed, flipped (negative strides) and offset views; empty and size-1
// shapes; int32 and bool dtypes with Python floor semantics; shared subexpressions.

import { describe, expect, test } from "vitest";
import type { DType, ScalarExpr, View } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { binaryFn } from "../../src/backend/scalar.js";
import { at, download, empty, forEachIndex, inp, randn, rng, size, upload } from "./helpers.js";

const be = createWasmBackend({ threads: 1 });
const f = Math.fround;

function run(expr: ScalarExpr, inputs: View[], shape: number[], dtype: DType = expr.dtype): number[] {
  const out = empty(be, shape, dtype);
  be.dispatch({ kind: "elementwise", expr, inputs, out });
  const r = Array.from(download(be, out));
  be.free(out.buffer);
  return r;
}

/** Plain oracle: evaluates fn on the strided inputs for every output index. */
function oracle(shape: number[], inputs: { data: ArrayLike<number>; v: View }[], fn: (...x: number[]) => number): number[] {
  const out: number[] = [];
  forEachIndex(shape, (idx) => out.push(fn(...inputs.map((i) => at(i.data, i.v, idx)))));
  return out;
}

describe("wasm elementwise", () => {
  test("contiguous add/mul chain with a vector tail (n = 1003) is exact", () => {
    const a = randn(1003, 1), b = randn(1003, 2);
    const va = upload(be, a, [1003]), vb = upload(be, b, [1003]);
    const expr: ScalarExpr = { op: "add", a: { op: "mul", a: inp(0), b: inp(1), dtype: "float32" }, b: { op: "const", value: 0.5, dtype: "float32" }, dtype: "float32" };
    expect(run(expr, [va, vb], [1003])).toEqual(oracle([1003], [{ data: a, v: va }, { data: b, v: vb }], (x, y) => f(f(x * y) + 0.5)));
  });

  test("large transposed inputs go through the blocked transpose (ragged rows and cols, slices, int32, plain copies)", () => {
    // [67, 130] read from a [130, 70] column-major store (ld 70 > 67 rows: a slice), offset 3
    const rows = 67, cols = 130, ld = 70;
    const a = randn(cols * ld + 3, 5), b = randn(rows * cols, 6);
    const va: View = { ...upload(be, a, [a.length]), shape: [rows, cols], strides: [1, ld], offset: 3 };
    const vb = upload(be, b, [rows, cols]);
    const expr: ScalarExpr = { op: "sub", a: { op: "mul", a: inp(0), b: inp(1), dtype: "float32" }, b: inp(0), dtype: "float32" };
    const want = oracle([rows, cols], [{ data: a, v: va }, { data: b, v: vb }], (x, y) => f(f(x * y) - x));
    expect(run(expr, [va, vb], [rows, cols])).toEqual(want);
    // the same input as a plain copy (straight into out) and as int32 bits
    expect(run(inp(0), [va], [rows, cols])).toEqual(oracle([rows, cols], [{ data: a, v: va }], (x) => x));
    const ints = new Int32Array(a.length).map((_, i) => i * 7 - 1000);
    const vi: View = { ...upload(be, ints, [ints.length], "int32"), shape: [rows, cols], strides: [1, ld], offset: 3 };
    expect(run(inp(0, "int32"), [vi], [rows, cols], "int32")).toEqual(oracle([rows, cols], [{ data: ints, v: vi }], (x) => x));
    // size-1 dims around the transposed pair, as the front end makes them
    const v3: View = { ...va, shape: [1, rows, 1, cols], strides: [999, 1, 5, ld] };
    expect(run(inp(0), [v3], [1, rows, 1, cols])).toEqual(want.map((_, i) => at(a, va, [Math.floor(i / cols), i % cols])));
  });

  test("broadcast, transposed, flipped and offset views", () => {
    const shape = [3, 4, 5];
    const a = randn(15, 3); // [3,1,5] broadcast over axis 1
    const va: View = { ...upload(be, a, [3, 1, 5]), shape, strides: [5, 0, 1] };
    const b = randn(60, 4); // stored as [5,4,3], read transposed
    const vb: View = { ...upload(be, b, [5, 4, 3]), shape, strides: [1, 3, 12] };
    const c = randn(80, 5); // flipped along axis 2, with an offset
    const vc: View = { ...upload(be, c, [80]), shape, strides: [20, 5, -1], offset: 4 + 10 };
    const expr: ScalarExpr = { op: "sub", a: { op: "mul", a: inp(0), b: inp(1), dtype: "float32" }, b: inp(2), dtype: "float32" };
    const want = oracle(shape, [{ data: a, v: va }, { data: b, v: vb }, { data: c, v: vc }], (x, y, z) => f(f(x * y) - z));
    expect(run(expr, [va, vb, vc], shape)).toEqual(want);
  });

  test("scalar-like inputs, empty and size-1 shapes", () => {
    const one = upload(be, new Float32Array([2.5]), [1, 1]);
    expect(run({ op: "neg", x: inp(0), dtype: "float32" }, [one], [1, 1])).toEqual([-2.5]);
    const e = upload(be, new Float32Array(0), [0, 3]);
    expect(run({ op: "exp", x: inp(0), dtype: "float32" }, [e], [0, 3])).toEqual([]);
    const z: View = { ...one, shape: [2, 7], strides: [0, 0] };
    expect(run({ op: "add", a: inp(0), b: inp(0), dtype: "float32" }, [z], [2, 7])).toEqual(new Array(14).fill(5));
  });

  test("non-contiguous output view", () => {
    const a = randn(12, 6), va = upload(be, a, [3, 4]);
    const buf = empty(be, [4, 3]);
    const outT: View = { ...buf, shape: [3, 4], strides: [1, 3] };
    be.dispatch({ kind: "elementwise", expr: { op: "abs", x: inp(0), dtype: "float32" }, inputs: [va], out: outT });
    const got = Array.from(download(be, buf));
    const want: number[] = [];
    forEachIndex([4, 3], ([j, i]) => want.push(Math.abs(a[i! * 4 + j!]!)));
    expect(got).toEqual(want);
  });

  test("int32 floordiv and mod follow Python (floor) semantics (zero divisors: test/wasm/divzero.test.ts)", () => {
    const xs: number[] = [], ys: number[] = [];
    for (const x of [-7, -6, -1, 0, 1, 5, 7, 2147483647, -2147483648]) for (const y of [-3, -1, 2, 3]) { xs.push(x); ys.push(y); }
    const vx = upload(be, Int32Array.from(xs), [xs.length], "int32"), vy = upload(be, Int32Array.from(ys), [ys.length], "int32");
    const fd = run({ op: "floordiv", a: inp(0, "int32"), b: inp(1, "int32"), dtype: "int32" }, [vx, vy], [xs.length]);
    const md = run({ op: "mod", a: inp(0, "int32"), b: inp(1, "int32"), dtype: "int32" }, [vx, vy], [xs.length]);
    const td = run({ op: "div", a: inp(0, "int32"), b: inp(1, "int32"), dtype: "int32" }, [vx, vy], [xs.length]);
    xs.forEach((x, i) => {
      const y = ys[i]!;
      const q = Math.floor(x / y) | 0;
      const r = x - Math.floor(x / y) * y;
      expect([fd[i], md[i], td[i]]).toEqual([q, r | 0, Math.trunc(x / y) | 0]);
    });
  });

  test("float mod and floordiv take the divisor's sign", () => {
    const a = Float32Array.from([-7.5, 7.5, -1, 3, 0.25]), b = Float32Array.from([2, -2, 3, -0.5, 1]);
    const va = upload(be, a, [5]), vb = upload(be, b, [5]);
    expect(run({ op: "mod", a: inp(0), b: inp(1), dtype: "float32" }, [va, vb], [5])).toEqual([0.5, -0.5, 2, 0, 0.25]);
    expect(run({ op: "floordiv", a: inp(0), b: inp(1), dtype: "float32" }, [va, vb], [5])).toEqual([-4, -4, -1, -6, 0]);
  });

  test("float mod and floordiv equal the reference backend's bit for bit, over every exponent", () => {
    // random bit patterns; a third of the divisors free, the rest within 2^30 of the
    // dividend's magnitude, so quotients take every size (fmod's loop for 2^26 and beyond)
    const n = 1 << 16, ua = new Uint32Array(n), ub = new Uint32Array(n);
    const r = rng(99), u32 = () => Math.floor(r() * 2 ** 32) >>> 0;
    for (let i = 0; i < n; i++) {
      ua[i] = u32();
      const e = (((ua[i]! >>> 23) & 0xff) - Math.floor(r() * 30)) & 0xff;
      ub[i] = i % 3 === 0 ? u32() : ((u32() & 0x807fffff) | (e << 23)) >>> 0;
    }
    const a = new Float32Array(ua.buffer), b = new Float32Array(ub.buffer);
    const va = upload(be, a, [n]), vb = upload(be, b, [n]);
    for (const op of ["mod", "floordiv"] as const) {
      const got = run({ op, a: inp(0), b: inp(1), dtype: "float32" }, [va, vb], [n]);
      const ref = binaryFn(op, "float32");
      const bad = got.flatMap((g, i) => {
        const w = f(ref(a[i]!, b[i]!));
        return Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)) ? [] : [`${a[i]} ${op} ${b[i]}: ${g} vs ${w}`];
      });
      expect(bad.slice(0, 5)).toEqual([]);
    }
  });

  test("int32 arithmetic, pow, sign, abs, min/max and comparisons to bool", () => {
    const a = Int32Array.from([-5, -2, 0, 3, 7, 11, -1]), b = Int32Array.from([2, 3, 4, 0, -2, 2, 5]);
    const va = upload(be, a, [7], "int32"), vb = upload(be, b, [7], "int32");
    const bin = (op: "add" | "sub" | "mul" | "pow" | "max" | "min", fn: (x: number, y: number) => number) =>
      expect(run({ op, a: inp(0, "int32"), b: inp(1, "int32"), dtype: "int32" }, [va, vb], [7])).toEqual(Array.from(a, (x, i) => fn(x, b[i]!)));
    bin("add", (x, y) => x + y);
    bin("sub", (x, y) => x - y);
    bin("mul", (x, y) => x * y);
    bin("max", Math.max);
    bin("min", Math.min);
    bin("pow", (x, y) => (y < 0 ? (x === 1 ? 1 : x === -1 ? (y % 2 ? -1 : 1) : 0) : x ** y));
    expect(run({ op: "sign", x: inp(0, "int32"), dtype: "int32" }, [va], [7])).toEqual(Array.from(a, Math.sign));
    expect(run({ op: "abs", x: inp(0, "int32"), dtype: "int32" }, [va], [7])).toEqual(Array.from(a, Math.abs));
    for (const [op, fn] of [["lt", (x: number, y: number) => x < y], ["le", (x: number, y: number) => x <= y], ["eq", (x: number, y: number) => x === y], ["ne", (x: number, y: number) => x !== y], ["gt", (x: number, y: number) => x > y], ["ge", (x: number, y: number) => x >= y]] as const) {
      expect(run({ op, a: inp(0, "int32"), b: inp(1, "int32"), dtype: "bool" }, [va, vb], [7])).toEqual(Array.from(a, (x, i) => (fn(x, b[i]!) ? 1 : 0)));
    }
  });

  test("bool logic, where and casts (float -> int truncates; nonzero -> true)", () => {
    const n = 37;
    const p = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const q = Uint8Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const vp = upload(be, p, [n], "bool"), vq = upload(be, q, [n], "bool");
    expect(run({ op: "and", a: inp(0, "bool"), b: inp(1, "bool"), dtype: "bool" }, [vp, vq], [n])).toEqual(Array.from(p, (x, i) => x & q[i]!));
    expect(run({ op: "or", a: inp(0, "bool"), b: inp(1, "bool"), dtype: "bool" }, [vp, vq], [n])).toEqual(Array.from(p, (x, i) => x | q[i]!));
    expect(run({ op: "not", x: inp(0, "bool"), dtype: "bool" }, [vp], [n])).toEqual(Array.from(p, (x) => 1 - x));
    const x = Float32Array.from({ length: n }, (_, i) => (i - 18) * 0.75);
    const vx = upload(be, x, [n]);
    expect(run({ op: "cast", x: inp(0), dtype: "int32" }, [vx], [n])).toEqual(Array.from(x, (v) => Math.trunc(v) + 0));
    expect(run({ op: "cast", x: inp(0), dtype: "bool" }, [vx], [n])).toEqual(Array.from(x, (v) => (v !== 0 ? 1 : 0)));
    expect(run({ op: "cast", x: inp(0, "bool"), dtype: "float32" }, [vp], [n])).toEqual(Array.from(p));
    const w: ScalarExpr = { op: "where", cond: inp(0, "bool"), a: inp(1), b: { op: "const", value: -1, dtype: "float32" }, dtype: "float32" };
    expect(run(w, [vp, vx], [n])).toEqual(Array.from(p, (c, i) => (c ? x[i]! : -1)));
  });

  test("sign, floor, ceil, round (half to even), sqrt, rsqrt, reciprocal", () => {
    const x = Float32Array.from([-2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 3.7, -3.7, NaN]);
    const vx = upload(be, x, [x.length]);
    const u = (op: "sign" | "floor" | "ceil" | "round") => run({ op, x: inp(0), dtype: "float32" }, [vx], [x.length]);
    const rint = (v: number) => { const r = Math.round(v); return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; };
    expect(u("sign")).toEqual(Array.from(x, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0))); // sign(NaN) = 0, as PyTorch
    expect(u("floor")).toEqual(Array.from(x, Math.floor));
    expect(u("ceil")).toEqual(Array.from(x, Math.ceil));
    expect(u("round").map((v) => v + 0)).toEqual(Array.from(x, (v) => rint(v) + 0));
    const y = Float32Array.from({ length: 50 }, (_, i) => 0.01 + i * 1.37);
    const vy = upload(be, y, [50]);
    expect(run({ op: "sqrt", x: inp(0), dtype: "float32" }, [vy], [50])).toEqual(Array.from(y, (v) => f(Math.sqrt(v))));
    expect(run({ op: "reciprocal", x: inp(0), dtype: "float32" }, [vy], [50])).toEqual(Array.from(y, (v) => f(1 / v)));
    expect(run({ op: "rsqrt", x: inp(0), dtype: "float32" }, [vy], [50])).toEqual(Array.from(y, (v) => f(1 / f(Math.sqrt(v)))));
  });

  test("a shared subexpression is computed once and used twice", () => {
    const a = randn(100, 9), va = upload(be, a, [100]);
    const e: ScalarExpr = { op: "exp", x: inp(0), dtype: "float32" };
    const twice: ScalarExpr = { op: "div", a: e, b: { op: "add", a: e, b: { op: "const", value: 1, dtype: "float32" }, dtype: "float32" }, dtype: "float32" };
    const got = run(twice, [va], [100]);
    const ex = run(e, [va], [100]);
    expect(got).toEqual(ex.map((v) => f(v / f(v + 1))));
  });

  test("pow is within an ulp of the correctly rounded power, constant exponent or not", () => {
    const x = Float32Array.from({ length: 40 }, (_, i) => (i - 20) * 0.37);
    const vx = upload(be, x, [40]);
    const ulps = (got: number[], want: (i: number) => number) => got.map((g, i) => {
      const w = f(want(i));
      if (Number.isNaN(w)) return Number.isNaN(g) ? 0 : Infinity;
      return g === w ? 0 : Math.abs(g - w) / (Math.abs(w) * 2 ** -23);
    });
    for (const c of [2, 3, -1, 0.5, -2.5, 7]) {
      const got = run({ op: "pow", a: inp(0), b: { op: "const", value: c, dtype: "float32" }, dtype: "float32" }, [vx], [40]);
      expect(Math.max(...ulps(got, (i) => Math.pow(x[i]!, c)))).toBeLessThanOrEqual(1);
    }
    const e = Float32Array.from({ length: 40 }, (_, i) => [2, 3, 0.5, -1.5, 0][i % 5]!);
    const ve = upload(be, e, [40]);
    const got = run({ op: "pow", a: inp(0), b: inp(1), dtype: "float32" }, [vx, ve], [40]);
    expect(Math.max(...ulps(got, (i) => Math.pow(x[i]!, e[i]!)))).toBeLessThanOrEqual(1);
  });

  test("constants are run-time parameters: new values reuse the compiled kernel", () => {
    const a = randn(50, 12), va = upload(be, a, [50]);
    const scaled = (c: number, k: number): ScalarExpr => ({
      op: "add", a: { op: "mul", a: inp(0), b: { op: "const", value: c, dtype: "float32" }, dtype: "float32" },
      b: { op: "const", value: k, dtype: "float32" }, dtype: "float32",
    });
    expect(run(scaled(0.5, 1), [va], [50])).toEqual(Array.from(a, (v) => f(f(v * 0.5) + 1)));
    const before = be.kernelCount();
    for (const [c, k] of [[0.25, -3], [1e-3, 7.5], [-2, 0]] as const) {
      expect(run(scaled(c, k), [va], [50])).toEqual(Array.from(a, (v) => f(f(v * f(c)) + f(k))));
    }
    const fill = (v: number, dtype: DType) => run({ op: "const", value: v, dtype }, [], [6], dtype);
    expect(fill(3.25, "float32")).toEqual(new Array(6).fill(3.25));
    expect(fill(-7, "int32")).toEqual(new Array(6).fill(-7));
    expect(fill(1, "bool")).toEqual(new Array(6).fill(1));
    const mid = be.kernelCount();
    expect(fill(9, "float32")).toEqual(new Array(6).fill(9));
    expect(fill(0, "bool")).toEqual(new Array(6).fill(0));
    expect(be.kernelCount()).toBe(mid);
    expect(mid - before).toBe(3); // one fill kernel per dtype, none for the new scale constants
  });

  test("an int32 view read as a float32 expression input is converted on load", () => {
    const a = Int32Array.from([-3, 0, 5, 7, 100]);
    const va = upload(be, a, [5], "int32");
    const e: ScalarExpr = { op: "mul", a: inp(0, "float32"), b: { op: "const", value: 0.5, dtype: "float32" }, dtype: "float32" };
    expect(run(e, [va], [5])).toEqual(Array.from(a, (v) => v * 0.5));
  });

  test("copy kernel materialises a strided view and casts", () => {
    const a = Int32Array.from({ length: 24 }, (_, i) => i - 12);
    const va: View = { ...upload(be, a, [2, 3, 4], "int32"), shape: [4, 3, 2], strides: [1, 4, 12] };
    const out = empty(be, [4, 3, 2]);
    be.dispatch({ kind: "copy", input: va, out });
    expect(Array.from(download(be, out))).toEqual(oracle([4, 3, 2], [{ data: a, v: va }], (v) => v));
    expect(size(out.shape)).toBe(24);
  });
});
