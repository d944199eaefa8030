// IEEE edge cases of the elementwise ops against PyTorch: signed zeros, infinities, NaN,
// subnormals and quotients that are not exact, on a grid of edge values (every pair of them
// for binary ops), eager and compiled by tb.fn (fused with another op), on the backend the
// tensor suite runs on. The expected bits come from PyTorch 2.13 CPU through
// test/golden/ieee.py (fixture test/golden/fixtures/ieee.json).
//
// Exact ops (IEEE operations and fixed sequences of them: division, floor, remainder, floor
// division, maximum, ...) must give PyTorch's bits, NaN matching any NaN. Transcendental
// ops must give PyTorch's bits where the result is a NaN, an infinity or a zero, and be
// within a few ulp elsewhere (PyTorch's own vector and scalar paths differ by an ulp). pow
// with a number exponent of 2, 3, -2, 0.5, -0.5 or -1 is PyTorch's x * x, ..., sqrt.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

interface Fixture {
  grid: string;
  exact: string[];
  unary: Record<string, string>;
  binary: Record<string, string>;
}
const fixture = JSON.parse(readFileSync(new URL("../golden/fixtures/ieee.json", import.meta.url), "utf8")) as Fixture;

/** Float32 bit patterns from a string of 8-hex-digit words. */
function words(hex: string): Uint32Array {
  const out = new Uint32Array(hex.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(8 * i, 8 * i + 8), 16);
  return out;
}
const asFloats = (u: Uint32Array) => new Float32Array(u.buffer.slice(0));
const bitsOf = (f: Float32Array) => new Uint32Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));

const grid = asFloats(words(fixture.grid));
const n = grid.length;
const a = new Float32Array(n * n), b = new Float32Array(n * n);
for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { a[i * n + j] = grid[i]!; b[i * n + j] = grid[j]!; }

const isNaNBits = (u: number) => (u & 0x7fffffff) > 0x7f800000;
const isSpecialBits = (u: number) => (u & 0x7fffffff) === 0 || (u & 0x7fffffff) >= 0x7f800000;
/** Steps between two finite float32s (an integer line through -0 = +0). */
const ulpSteps = (x: number, y: number) => {
  const key = (u: number) => (u >>> 31 ? -(u & 0x7fffffff) : u);
  return Math.abs(key(x) - key(y));
};

/** ulp allowed for a transcendental op where the expected result is finite and nonzero: the
 *  largest difference measured on either backend (wasm with and without relaxed SIMD). */
const ULPS: Record<string, number> = {
  exp: 1, log: 1, log1p: 2, expm1: 2, sin: 2, cos: 2, tanh: 1, sigmoid: 1, erf: 2, pow: 1, atan2: 2,
};

/** Where got misses want (exact ops, and pow's number-exponent forms: every bit). */
function mismatches(op: string, got: Float32Array, want: Uint32Array, inputs: Float32Array[], exact = fixture.exact.includes(op)): string[] {
  const g = bitsOf(got);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, h = g[i]!;
    const ok = isNaNBits(w)
      ? isNaNBits(h)
      : w === h || (!exact && !isSpecialBits(w) && !isSpecialBits(h) && ulpSteps(w, h) <= (ULPS[op] ?? 0));
    if (!ok) {
      const args = inputs.map((x) => Object.is(x[i], -0) ? "-0" : String(x[i])).join(", ");
      bad.push(`${op}(${args}) = ${Object.is(got[i], -0) ? "-0" : got[i]} (${h.toString(16)}), PyTorch ${asFloats(new Uint32Array([w]))[0]} (${w.toString(16)})`);
    }
  }
  return bad;
}

type Unary = (x: tb.Tensor) => tb.Tensor;
type Binary = (x: tb.Tensor, y: tb.Tensor) => tb.Tensor;
const unary: Record<string, Unary> = {
  neg: tb.neg, abs: tb.abs, sign: tb.sign, exp: tb.exp, log: tb.log, log1p: tb.log1p, expm1: tb.expm1,
  sqrt: tb.sqrt, rsqrt: tb.rsqrt, reciprocal: tb.reciprocal, sin: tb.sin, cos: tb.cos, tanh: tb.tanh,
  sigmoid: tb.sigmoid, erf: tb.erf, floor: tb.floor, ceil: tb.ceil, round: tb.round,
};
const binary: Record<string, Binary> = {
  div: tb.div, pow: tb.pow, maximum: tb.maximum, minimum: tb.minimum, mod: tb.mod, floorDiv: tb.floorDiv, atan2: tb.atan2,
};

describe("IEEE edge cases match PyTorch (fixture from test/golden/ieee.py)", () => {
  it("covers every op the fixture has", () => {
    expect(Object.keys(unary).sort()).toEqual(Object.keys(fixture.unary).sort());
    expect(Object.keys(binary).sort()).toEqual(Object.keys(fixture.binary).sort());
  });
  for (const [name, f] of Object.entries(unary)) {
    it(`${name}: eager and compiled`, () => {
      const want = words(fixture.unary[name]!);
      const x = tb.tensor(grid);
      const eager = f(x).dataSync() as Float32Array;
      // compiled, fused with a multiplication by one (exact for every input, NaN included)
      const compiled = tb.fn((t: tb.Tensor) => f(t).mul(1))(x).dataSync() as Float32Array;
      expect(mismatches(name, eager, want, [grid])).toEqual([]);
      expect(mismatches(name, compiled, want, [grid])).toEqual([]);
    });
  }
  for (const [name, f] of Object.entries(binary)) {
    it(`${name}: eager and compiled, every pair of grid values`, () => {
      const want = words(fixture.binary[name]!);
      const x = tb.tensor(a), y = tb.tensor(b);
      const eager = f(x, y).dataSync() as Float32Array;
      const compiled = tb.fn((s: tb.Tensor, t: tb.Tensor) => f(s, t).mul(1))(x, y).dataSync() as Float32Array;
      expect(mismatches(name, eager, want, [a, b])).toEqual([]);
      expect(mismatches(name, compiled, want, [a, b])).toEqual([]);
    });
  }
});

describe("pow with a number exponent takes PyTorch's forms", () => {
  // torch.tensor(xs).pow(c) in PyTorch 2.13 (aten's pow_tensor_scalar: sqrt, 1 / sqrt,
  // reciprocal, x * x, x * x * x, 1 / (x * x)), as float32 bits; NumPy's float32 ops give
  // the same bits here (PyTorch's sqrt, from MKL, is not correctly rounded everywhere:
  // sqrt(1.1f) is an ulp above, so 1.1 is not among the inputs)
  const xs = Float32Array.from([-0, -Infinity, 2.5, 1e-20, 3, 1.5, -7.3]);
  const want: [number, string][] = [
    [0.5, "80000000 7fc00000 3fca62c2 2edbe6ff 3fddb3d7 3f9cc471 7fc00000"],
    [-0.5, "ff800000 7fc00000 3f21e89b 501502f9 3f13cd3a 3f5105eb 7fc00000"],
    [-1, "ff800000 80000000 3ecccccd 60ad78ec 3eaaaaab 3f2aaaab be0c4623"],
    [2, "00000000 7f800000 40c80000 000116c2 41100000 40100000 425528f6"],
    [3, "80000000 ff800000 417a0000 00000000 41d80000 40580000 c3c2822e"],
    [-2, "7f800000 00000000 3e23d70a 7f800000 3de38e39 3ee38e39 3c99b993"],
  ];
  for (const [c, hex] of want) {
    it(`x ** ${c}, eager and compiled`, () => {
      const w = words(hex.replace(/ /g, ""));
      const x = tb.tensor(xs);
      expect(mismatches("pow", x.pow(c).dataSync() as Float32Array, w, [xs], true)).toEqual([]);
      expect(mismatches("pow", tb.fn((t: tb.Tensor) => t.pow(c).mul(1))(x).dataSync() as Float32Array, w, [xs], true)).toEqual([]);
    });
  }
});
