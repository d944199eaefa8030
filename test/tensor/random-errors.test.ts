// Philox4x32-10 against the Random123 known-answer vectors, reproducibility of tb.seed and
// generators, distribution sanity; clear errors and tb.debug.checkNumerics.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { philox4x32, philoxFill } from "../../src/random/philox.js";

await useTestBackend();

const hex = (w: Uint32Array) => Array.from(w, (v) => v.toString(16).padStart(8, "0")).join(" ");

describe("Philox4x32-10", () => {
  it("matches the Random123 known-answer vectors", () => {
    const out = new Uint32Array(4);
    philox4x32([0, 0], [0, 0, 0, 0], out);
    expect(hex(out)).toBe("6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    philox4x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], out);
    expect(hex(out)).toBe("408f276d 41c83b0e a20bc7c6 6d5451fd");
    philox4x32([0xa4093822, 0x299f31d0], [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], out);
    expect(hex(out)).toBe("d16cfe09 94fdcceb 5001e420 24126ea1");
  });
  it("any slice of a request equals the same slice of the whole (thread-count independence)", () => {
    const whole = new Float32Array(103);
    philoxFill("normal", [7, 9], 5, 0, 103, whole);
    const part = new Float32Array(40);
    philoxFill("normal", [7, 9], 5, 37, 77, part);
    expect(Array.from(part)).toEqual(Array.from(whole.subarray(37, 77)));
  });
});

describe("random ops", () => {
  it("tb.seed makes every random op reproducible; generators are independent streams", () => {
    tb.seed(42);
    const a = [tb.rand([5]).tolist(), tb.randn([3]).tolist(), tb.randint(0, 10, [4]).tolist()];
    tb.seed(42);
    const b = [tb.rand([5]).tolist(), tb.randn([3]).tolist(), tb.randint(0, 10, [4]).tolist()];
    expect(b).toEqual(a);
    const g1 = new tb.Generator(1);
    const g2 = new tb.Generator(1);
    expect(tb.randn([4], { generator: g1 }).tolist()).toEqual(tb.randn([4], { generator: g2 }).tolist());
    expect(tb.randn([4], { generator: g1 }).tolist()).not.toEqual(tb.randn([4], { generator: new tb.Generator(2) }).tolist());
  });
  it("draws bit-identical numbers on the reference and wasm backends", async () => {
    const spec = "../../src/backend/wasm/index.js";
    const { createWasmBackend } = (await import(spec)) as { createWasmBackend(o?: { threads?: number }): tb.Backend };
    const prev = tb.getBackend();
    const draws = (backend: tb.Backend) => {
      tb.setBackend(backend);
      const g = new tb.Generator(77);
      const out = [tb.rand([1001], { generator: g }), tb.randn([517], { generator: g }), tb.randint(-5, 9, [64], { generator: g })];
      return out.map((t) => Array.from(t.dataSync()));
    };
    try {
      const a = draws(new tb.ReferenceBackend());
      const b = draws(createWasmBackend({ threads: 2 }));
      expect(b).toEqual(a);
    } finally {
      tb.setBackend(prev);
    }
  });
  it("uniform is (bits >>> 8) * 2^-24", () => {
    const g = new tb.Generator(3);
    const u = tb.rand([8], { generator: g }).dataSync();
    const bits = new Int32Array(8);
    philoxFill("bits", [3, 0], 0, 0, 8, bits);
    Array.from(bits).forEach((b, i) => expect(u[i]).toBe((b >>> 8) * 2 ** -24));
  });
  it("has the right moments and ranges", () => {
    const g = new tb.Generator(9);
    const n = tb.randn([20000], { generator: g });
    expect(Math.abs(n.mean().item() as number)).toBeLessThan(0.03);
    expect(Math.abs((n.std().item() as number) - 1)).toBeLessThan(0.03);
    const u = tb.rand([20000], { generator: g });
    expect(u.min().item()).toBeGreaterThanOrEqual(0);
    expect(u.max().item()).toBeLessThan(1);
    expect(Math.abs((u.mean().item() as number) - 0.5)).toBeLessThan(0.01);
    const r = tb.randint(-3, 4, [5000], { generator: g });
    expect(r.dtype).toBe("int32");
    expect([r.min().item(), r.max().item()]).toEqual([-3, 3]);
    const b = tb.bernoulli(0.25, { shape: [20000], generator: g });
    expect(Math.abs((b.mean().item() as number) - 0.25)).toBeLessThan(0.015);
    const bp = tb.bernoulli(tb.tensor([0, 1, 0, 1]), { generator: g });
    expect(bp.tolist()).toEqual([0, 1, 0, 1]);
  });
});

describe("errors name the op, the shapes or dtypes and the rule", () => {
  it("broadcasting, dtypes, axes and indices", () => {
    expect(() => tb.add(tb.zeros([2, 3]), tb.zeros([4]))).toThrow("add: cannot broadcast shapes [2,3] and [4]: axis -1 has sizes 3 and 4 (sizes must be equal or one of them 1)");
    expect(() => tb.tensor([1, 2]).sum(2)).toThrow("sum: axis 2 is out of range for a tensor of rank 1 (valid: -1..0)");
    expect(() => tb.tensor([1, 2]).gather(0, tb.tensor([0]))).toThrow("gather: index must be int32, got float32[1] (use .cast(\"int32\"))");
    expect(() => tb.tensor([[1, 2]]).permute([0, 0])).toThrow(/permute: \[0,0\] is not a permutation of the 2 axes of float32\[1,2\]/);
    expect(() => tb.tensor([1, 2]).item()).toThrow("item: needs a tensor with one element, got [2] (2 elements)");
    expect(() => tb.layerNorm(tb.zeros([2, 3]), 4)).toThrow("layerNorm: normalizedShape [4] does not match the trailing axes of [2,3]");
    expect(() => tb.arange(0, 1, 0)).toThrow("arange: step must be non-zero");
  });
});

describe("tb.debug.checkNumerics", () => {
  it("names the first op that produced NaN or Inf", () => {
    tb.debug.checkNumerics(true);
    try {
      const x = tb.tensor([1, 0, 2]);
      const y = x.mul(2);
      expect(() => y.log().add(1)).toThrow("checkNumerics: log produced Inf at flat index 1 of its output [3] (inputs float32[3])");
      expect(() => tb.tensor([-1]).sqrt()).toThrow(/checkNumerics: sqrt produced NaN/);
    } finally {
      tb.debug.checkNumerics(false);
    }
    expect(tb.tensor([0]).log().item()).toBe(-Infinity);
  });
});
