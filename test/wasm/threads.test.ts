// Thread pool behaviour of the wasm backend: results bit-identical with 1 and 2 threads
// (matmul, conv2d, sum, a softmax chain), a clear out-of-memory error that leaves the
// backend usable, and a process using the pool exits by itself when its work is done.

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { ScalarExpr, View } from "../../src/backend/backend.js";
import { createWasmBackend, OutOfMemoryError, type WasmBackend } from "../../src/backend/wasm/index.js";
import { download, empty, inp, randn, size, transpileBackend, upload } from "./helpers.js";

/** Runs fn on a fresh backend with `threads` threads and returns the output bits. */
function bits(threads: number, fn: (be: WasmBackend) => View): { bits: Uint32Array; workers: number } {
  const be = createWasmBackend({ threads });
  const out = fn(be);
  const d = download(be, out);
  void be.terminate();
  return { bits: new Uint32Array(d.buffer, d.byteOffset, d.byteLength / 4), workers: be.workersStarted() };
}

function softmax(be: WasmBackend, x: View): View {
  // softmax over the last axis from primitives: max, exp(x - max), sum, divide
  const [R, C] = x.shape as [number, number];
  const m = empty(be, [R, 1]);
  be.dispatch({ kind: "reduce", op: "max", axes: [1], inputs: [x], out: m });
  const e = empty(be, [R, C]);
  const mb: View = { ...m, shape: [R, C], strides: [1, 0] };
  be.dispatch({ kind: "elementwise", expr: { op: "exp", x: { op: "sub", a: inp(0), b: inp(1), dtype: "float32" }, dtype: "float32" }, inputs: [x, mb], out: e });
  const s = empty(be, [R, 1]);
  be.dispatch({ kind: "reduce", op: "sum", axes: [1], inputs: [e], out: s });
  const out = empty(be, [R, C]);
  be.dispatch({ kind: "elementwise", expr: { op: "div", a: inp(0), b: inp(1), dtype: "float32" }, inputs: [e, { ...s, shape: [R, C], strides: [1, 0] }], out });
  return out;
}

describe("wasm thread pool", () => {
  const cases: [string, (be: WasmBackend) => View][] = [
    ["matmul 200x900 @ 900x190 (three K blocks)", (be) => {
      const out = empty(be, [200, 190]);
      be.dispatch({ kind: "matmul", a: upload(be, randn(200 * 900, 1), [200, 900]), b: upload(be, randn(900 * 190, 2), [900, 190]), out });
      return out;
    }],
    ["batched matmul 3 x (70x90 @ 90x50)", (be) => {
      const out = empty(be, [3, 70, 50]);
      be.dispatch({ kind: "matmul", a: upload(be, randn(3 * 70 * 90, 3), [3, 70, 90]), b: upload(be, randn(3 * 90 * 50, 4), [3, 90, 50]), out });
      return out;
    }],
    ["conv2d [8,16,14,14] x [32,16,3,3]", (be) => {
      const out = empty(be, [8, 32, 14, 14]);
      const params = { stride: [1, 1] as [number, number], padding: [1, 1] as [number, number], dilation: [1, 1] as [number, number], groups: 1 };
      be.dispatch({ kind: "conv2d", x: upload(be, randn(8 * 16 * 196, 5), [8, 16, 14, 14]), w: upload(be, randn(32 * 16 * 9, 6), [32, 16, 3, 3]), out, params });
      return out;
    }],
    ["sum over 300001 elements", (be) => {
      const out = empty(be, [1]);
      be.dispatch({ kind: "reduce", op: "sum", axes: [0], inputs: [upload(be, randn(300001, 7), [300001])], out });
      return out;
    }],
    ["softmax [512, 1000]", (be) => softmax(be, upload(be, randn(512 * 1000, 8), [512, 1000]))],
    ["tanh(x) * sigmoid(y) chain on 200000 elements", (be) => {
      const e: ScalarExpr = { op: "mul", a: { op: "tanh", x: inp(0), dtype: "float32" }, b: { op: "sigmoid", x: inp(1), dtype: "float32" }, dtype: "float32" };
      const out = empty(be, [200000]);
      be.dispatch({ kind: "elementwise", expr: e, inputs: [upload(be, randn(200000, 9), [200000]), upload(be, randn(200000, 10), [200000])], out });
      return out;
    }],
  ];
  for (const [name, fn] of cases) {
    test(`${name}: 1 and 2 threads give identical bits`, () => {
      const one = bits(1, fn), two = bits(2, fn);
      expect(two.workers).toBeGreaterThan(0); // the parallel path really ran
      expect(one.workers).toBe(0);
      expect(Buffer.from(two.bits.buffer, two.bits.byteOffset, two.bits.byteLength).equals(Buffer.from(one.bits.buffer, one.bits.byteOffset, one.bits.byteLength))).toBe(true);
    });
  }

  test("out of memory: a clear error, then the backend is still usable", () => {
    const be = createWasmBackend({ threads: 1, maximumBytes: 32 << 20 });
    const keep = be.allocate(8 << 20);
    expect(() => be.allocate(40 << 20)).toThrow(OutOfMemoryError);
    expect(() => be.allocate(40 << 20)).toThrow(
      /wasm backend: out of memory allocating 41943040 bytes \(\d+ in use, limit 33554432\): free tensors with dispose\(\)\/tb\.scope or use smaller batches/,
    );
    const x = upload(be, Float32Array.from([1, 2, 3]), [3]);
    const out = empty(be, [3]);
    be.dispatch({ kind: "elementwise", expr: { op: "add", a: inp(0), b: inp(0), dtype: "float32" }, inputs: [x], out });
    expect(Array.from(download(be, out))).toEqual([2, 4, 6]);
    const before = be.bytesInUse();
    be.free(keep);
    expect(be.bytesInUse()).toBe(before - (8 << 20));
    // freed blocks are reused: allocating and freeing the same sizes keeps memory flat
    for (let i = 0; i < 1000; i++) be.free(be.allocate(1 << 20));
    expect(be.bytesInUse()).toBe(before - (8 << 20));
    expect(size([2])).toBe(2);
  });

  test("a process that used 2 threads exits by itself (workers never keep it alive)", () => {
    const dir = transpileBackend();
    writeFileSync(join(dir, "main.js"), `
      import { createWasmBackend } from "./backend/wasm/index.js";
      const be = createWasmBackend({ threads: 2 });
      const n = 256, a = be.allocate(n * n * 4), c = be.allocate(n * n * 4);
      const v = (b) => ({ buffer: b, dtype: "float32", shape: [n, n], strides: [n, 1], offset: 0 });
      be.dispatch({ kind: "matmul", a: v(a), b: v(a), out: v(c) });
      console.log("done", be.workersStarted());
    `);
    const out = execFileSync(process.execPath, [join(dir, "main.js")], { timeout: 30_000 }).toString();
    expect(out.trim()).toBe("done 1");
  });
});
