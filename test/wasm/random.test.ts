// The wasm backend's "random" kernel gives exactly the reference backend's Philox stream
// (same key and counter -> same bits), for each distribution, and into strided outputs.

import { describe, expect, test } from "vitest";
import type { View } from "../../src/backend/backend.js";
import { ReferenceBackend } from "../../src/backend/reference.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { download, empty } from "./helpers.js";

describe("wasm random", () => {
  const wasm = createWasmBackend({ threads: 1 });
  const ref = new ReferenceBackend();
  for (const dist of ["uniform", "normal", "bits"] as const) {
    test(`${dist} matches the reference backend bit for bit`, () => {
      const dtype = dist === "bits" ? "int32" : "float32";
      const shape = [7, 13];
      const a = empty(wasm, shape, dtype), b = empty(ref, shape, dtype);
      wasm.dispatch({ kind: "random", dist, key: [123, 456], counter: 789, out: a });
      ref.dispatch({ kind: "random", dist, key: [123, 456], counter: 789, out: b });
      const x = download(wasm, a), y = download(ref, b);
      expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))).toBe(true);
      if (dist === "uniform") expect(Array.from(x).every((v) => v >= 0 && v < 1)).toBe(true);
    });
  }
  test("a transposed output view receives element i at its logical index i", () => {
    const flat = empty(wasm, [12]);
    wasm.dispatch({ kind: "random", dist: "uniform", key: [1, 2], counter: 0, out: flat });
    const buf = empty(wasm, [4, 3]);
    const t: View = { ...buf, shape: [3, 4], strides: [1, 3] };
    wasm.dispatch({ kind: "random", dist: "uniform", key: [1, 2], counter: 0, out: t });
    const want = download(wasm, flat), got = download(wasm, buf);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(got[j * 3 + i]).toBe(want[i * 4 + j]);
  });
});
