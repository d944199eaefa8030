// The wasm GEMM against NumPy (float64 products of the same float32 inputs): edge sizes
// around the MR x NR tile and the KC block, transposed operands through strides, batched
// matmul with broadcast batch dims, a fused epilogue, K = 0 and empty outputs.

import { describe, expect, test } from "vitest";
import type { View } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { closeness, download, empty, inp, numpy, randn, size, upload } from "./helpers.js";

const be = createWasmBackend({ threads: 1 });

function mm(a: View, b: View, outShape: number[]): Float32Array {
  const out = empty(be, outShape);
  be.dispatch({ kind: "matmul", a, b, out });
  const r = download(be, out) as Float32Array;
  be.free(out.buffer);
  return r;
}

describe("wasm matmul", () => {
  test("sizes around the register tile and the K block match NumPy", () => {
    const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [4, 8, 4], [5, 9, 13], [17, 33, 9], [64, 300, 70], [129, 257, 31], [20, 800, 17]];
    for (const [M, K, N] of sizes) {
      const a = randn(M * K, M + K), b = randn(K * N, K + N);
      const got = mm(upload(be, a, [M, K]), upload(be, b, [K, N]), [M, N]);
      const want = numpy("out = a.astype(np.float64) @ b.astype(np.float64)", { a: { data: a, shape: [M, K] }, b: { data: b, shape: [K, N] } });
      expect(closeness(got, want, 1e-5, 1e-5 * Math.sqrt(K)), `[${M},${K}]@[${K},${N}]`).toBeLessThanOrEqual(1);
    }
  });

  test("transposed operands via strides (no copies)", () => {
    const M = 23, K = 41, N = 19;
    const at = randn(K * M, 1), bt = randn(N * K, 2);
    const a: View = { ...upload(be, at, [K, M]), shape: [M, K], strides: [1, M] };
    const b: View = { ...upload(be, bt, [N, K]), shape: [K, N], strides: [1, K] };
    const got = mm(a, b, [M, N]);
    const want = numpy("out = a.astype(np.float64).T @ b.astype(np.float64).T", { a: { data: at, shape: [K, M] }, b: { data: bt, shape: [N, K] } });
    expect(closeness(got, want, 1e-5, 1e-4)).toBeLessThanOrEqual(1);
  });

  test("transposed B over several K blocks (column-wise packing, k remainders)", () => {
    const M = 13, K = 777, N = 37;
    const a = randn(M * K, 5), bt = randn(N * K, 6);
    const b: View = { ...upload(be, bt, [N, K]), shape: [K, N], strides: [1, K] };
    const got = mm(upload(be, a, [M, K]), b, [M, N]);
    const want = numpy("out = a.astype(np.float64) @ b.astype(np.float64).T", { a: { data: a, shape: [M, K] }, b: { data: bt, shape: [N, K] } });
    expect(closeness(got, want, 1e-5, 1e-5 * Math.sqrt(K))).toBeLessThanOrEqual(1);
  });

  test("batched with broadcast batch dims: [2,1,M,K] @ [3,K,N] -> [2,3,M,N]", () => {
    const M = 6, K = 10, N = 9;
    const a = randn(2 * M * K, 3), b = randn(3 * K * N, 4);
    const got = mm(upload(be, a, [2, 1, M, K]), upload(be, b, [1, 3, K, N]), [2, 3, M, N]);
    const want = numpy("out = np.matmul(a.astype(np.float64), b.astype(np.float64))", { a: { data: a, shape: [2, 1, M, K] }, b: { data: b, shape: [3, K, N] } });
    expect(closeness(got, want, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    // rank-2 b broadcast against batched a (stride-0 batch)
    const got2 = mm(upload(be, a, [2, M, K]), { ...upload(be, b.subarray(0, K * N), [K, N]), shape: [1, K, N], strides: [0, N, 1] }, [2, M, N]);
    const want2 = numpy("out = np.matmul(a.astype(np.float64), b.astype(np.float64))", { a: { data: a, shape: [2, M, K] }, b: { data: b.subarray(0, K * N), shape: [K, N] } });
    expect(closeness(got2, want2, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
  });

  test("epilogue: relu(acc + bias) with a broadcast bias", () => {
    const M = 7, K = 12, N = 10;
    const a = randn(M * K, 5), b = randn(K * N, 6), bias = randn(N, 7);
    const out = empty(be, [M, N]);
    const vbias: View = { ...upload(be, bias, [N]), shape: [M, N], strides: [0, 1] };
    const epi = { op: "max" as const, a: { op: "add" as const, a: inp(0), b: inp(1), dtype: "float32" as const }, b: { op: "const" as const, value: 0, dtype: "float32" as const }, dtype: "float32" as const };
    be.dispatch({ kind: "matmul", a: upload(be, a, [M, K]), b: upload(be, b, [K, N]), out, epilogue: epi, epilogueInputs: [vbias] });
    const want = numpy("out = np.maximum(a.astype(np.float64) @ b + bias, 0)", { a: { data: a, shape: [M, K] }, b: { data: b, shape: [K, N] }, bias: { data: bias, shape: [N] } });
    expect(closeness(download(be, out), want, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
  });

  test("K = 0 gives zeros; empty M or N does nothing", () => {
    const z = mm(upload(be, new Float32Array(0), [3, 0]), upload(be, new Float32Array(0), [0, 4]), [3, 4]);
    expect(Array.from(z)).toEqual(new Array(12).fill(0));
    expect(mm(upload(be, new Float32Array(0), [0, 5]), upload(be, randn(10, 1), [5, 2]), [0, 2]).length).toBe(0);
  });

  test("shape and dtype errors name the op and shapes", () => {
    const a = upload(be, randn(6, 1), [2, 3]), b = upload(be, randn(20, 1), [4, 5]);
    expect(() => be.dispatch({ kind: "matmul", a, b, out: empty(be, [2, 5]) })).toThrow(/matmul: \[2,3\] @ \[4,5\]/);
    const i = upload(be, new Int32Array(6), [2, 3], "int32");
    expect(() => be.dispatch({ kind: "matmul", a: i, b: upload(be, randn(6, 1), [3, 2]), out: empty(be, [2, 2]) })).toThrow(/float32 only/);
    expect(size([2, 2])).toBe(4);
  });
});
