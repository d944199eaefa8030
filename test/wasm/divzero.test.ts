// The wasm backend's integer division by zero: the kernel sets a bit in the shared fault
// word (reserved.ts) and the host raises ZeroDivisionError after the dispatch, whichever
// thread met the zero; the word is clear again afterwards. Fused kernels name every int
// division op that met a zero; float32 ops in the same kernel are unaffected.

import { describe, expect, test } from "vitest";
import { ZeroDivisionError, type ScalarExpr } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { download, empty, inp, upload } from "./helpers.js";

const i32 = (index: number) => inp(index, "int32");

describe("wasm integer division by zero", () => {
  const be = createWasmBackend({ threads: 2 });
  const n = 1 << 18; // split between the calling thread and a worker
  const a = Int32Array.from({ length: n }, (_, i) => i - 1000);
  const b = Int32Array.from({ length: n }, (_, i) => (i % 7) + 1);
  const va = upload(be, a, [n], "int32"), vb = upload(be, b, [n], "int32");
  const run = (expr: ScalarExpr, inputs = [va, vb]) => {
    const out = empty(be, [n], "int32");
    try {
      be.dispatch({ kind: "elementwise", expr, inputs, out });
      return download(be, out);
    } finally {
      be.free(out.buffer);
    }
  };

  for (const [op, name] of [["floordiv", "floorDiv"], ["mod", "mod"], ["div", "div"]] as const) {
    test(`${name}: a zero in the worker's half raises; the next dispatch is clean`, () => {
      const zero = Int32Array.from(b);
      zero[n - 3] = 0;
      const vz = upload(be, zero, [n], "int32");
      const expr: ScalarExpr = { op, a: i32(0), b: i32(1), dtype: "int32" };
      expect(() => run(expr, [va, vz])).toThrow(ZeroDivisionError);
      expect(() => run(expr, [va, vz])).toThrow(new RegExp(`^${name}: integer division by zero`));
      const got = run(expr);
      const want = (x: number, y: number) => (op === "div" ? Math.trunc(x / y) : op === "floordiv" ? Math.floor(x / y) : x - Math.floor(x / y) * y);
      expect([got[5], got[n - 1]]).toEqual([want(a[5]!, b[5]!), want(a[n - 1]!, b[n - 1]!)]);
      expect(be.workersStarted()).toBeGreaterThan(0);
      be.free(vz.buffer);
    });
  }

  test("a fused kernel names each integer op that met a zero", () => {
    const z = upload(be, new Int32Array(n), [n], "int32");
    const expr: ScalarExpr = {
      op: "add", a: { op: "floordiv", a: i32(0), b: i32(1), dtype: "int32" }, b: { op: "mod", a: i32(0), b: i32(1), dtype: "int32" }, dtype: "int32",
    };
    expect(() => run(expr, [va, z])).toThrow(/^floorDiv, mod: integer division by zero/);
    be.free(z.buffer);
  });
});
