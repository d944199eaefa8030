// Accuracy of the vectorised float32 transcendental functions (math.ts) against float64
// references (Math.*, and Python's math.erf for erf), in units in the last place (ulp) of the
// float32 result, over wide input ranges. The bounds below are the measured maxima rounded
// up; the table is printed so regressions show the new numbers.

import { describe, expect, test } from "vitest";
import type { UnaryScalarOp } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { applyUnary, PYTHON, rng } from "./helpers.js";
import { execFileSync } from "node:child_process";

const be = createWasmBackend({ threads: 1 });

function ulp(y: number): number {
  const a = Math.abs(Math.fround(y));
  if (a < 2 ** -126) return 2 ** -149;
  if (!Number.isFinite(a)) return Infinity;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const apply = (op: UnaryScalarOp, xs: Float32Array): Float32Array => applyUnary(be, op, xs);

function samples(lo: number, hi: number, n: number, log = false): Float32Array {
  const r = rng(12345);
  return Float32Array.from({ length: n }, (_, i) => {
    const t = (i + r()) / n;
    return log ? Math.exp(Math.log(lo) + t * (Math.log(hi) - Math.log(lo))) : lo + t * (hi - lo);
  });
}

function maxUlp(got: Float32Array, xs: Float32Array, ref: (x: number) => number): { ulps: number; at: number } {
  let worst = 0, at = NaN;
  got.forEach((g, i) => {
    const y = ref(xs[i]!);
    const e = Math.abs(g - y) / ulp(y);
    if (!(e <= worst)) { worst = e; at = xs[i]!; }
  });
  return { ulps: worst, at };
}

const erf = (xs: Float32Array): number[] =>
  JSON.parse(
    execFileSync(PYTHON, ["-c", "import json,sys,math; print(json.dumps([math.erf(x) for x in json.load(sys.stdin)]))"], {
      input: JSON.stringify(Array.from(xs)),
    }).toString(),
  ) as number[];

const N = 20000;
const cases: [UnaryScalarOp, Float32Array, (x: number) => number, number][] = [
  ["exp", samples(-87, 88, N), Math.exp, 2],
  ["log", samples(1e-37, 1e37, N, true), Math.log, 2],
  ["log", samples(0.5, 2, N), Math.log, 2],
  ["log1p", samples(-0.999, 1e6, N), Math.log1p, 3],
  ["log1p", samples(-1e-3, 1e-3, N), Math.log1p, 3],
  ["log1p", samples(-0.999, 1, N), Math.log1p, 3],
  ["expm1", samples(-20, 20, N), Math.expm1, 3],
  ["expm1", samples(-1e-3, 1e-3, N), Math.expm1, 2],
  ["tanh", samples(-10, 10, N), Math.tanh, 4],
  ["tanh", samples(-0.7, 0.7, N), Math.tanh, 3],
  ["sigmoid", samples(-80, 30, N), (x) => 1 / (1 + Math.exp(-x)), 4],
  ["sin", samples(-100, 100, N), Math.sin, 4],
  ["cos", samples(-100, 100, N), Math.cos, 4],
];

describe("wasm transcendental accuracy (ulp vs float64)", () => {
  const table: string[] = [];
  for (const [op, xs, ref, bound] of cases) {
    test(`${op} on [${xs[0]!.toPrecision(3)}, ${xs[xs.length - 1]!.toPrecision(3)}] within ${bound} ulp`, () => {
      const r = maxUlp(apply(op, xs), xs, ref);
      table.push(`${op} [${xs[0]!.toPrecision(3)}, ${xs[xs.length - 1]!.toPrecision(3)}]: max ${r.ulps.toFixed(2)} ulp at x = ${r.at}`);
      expect(r.ulps).toBeLessThanOrEqual(bound);
    });
  }
  test("erf on [-5, 5] within 4 ulp", () => {
    const xs = samples(-5, 5, 4000);
    const want = erf(xs);
    const r = maxUlp(apply("erf", xs), xs, (x) => want[xs.indexOf(x)]!);
    table.push(`erf [-5, 5]: max ${r.ulps.toFixed(2)} ulp at x = ${r.at}`);
    expect(r.ulps).toBeLessThanOrEqual(4);
  });
  test("sin and cos stay within 2e-7 absolute on [-1e4, 1e4] (zeros make ulp meaningless there)", () => {
    const xs = samples(-1e4, 1e4, N);
    for (const [op, ref] of [["sin", Math.sin], ["cos", Math.cos]] as const) {
      const got = apply(op, xs);
      let worst = 0;
      got.forEach((g, i) => (worst = Math.max(worst, Math.abs(g - ref(xs[i]!)))));
      table.push(`${op} [-1e4, 1e4]: max abs error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(2e-7);
    }
  });
  test("special values", () => {
    const xs = Float32Array.from([0, -0, Infinity, -Infinity, NaN, -1]);
    const show = (op: UnaryScalarOp) => Array.from(apply(op, xs));
    expect(show("exp")).toEqual([1, 1, Infinity, 0, NaN, Math.fround(Math.exp(-1))]);
    expect(show("log").slice(0, 5)).toEqual([-Infinity, -Infinity, Infinity, NaN, NaN]);
    expect(show("log")[5]).toBeNaN();
    expect(show("tanh").slice(2, 5)).toEqual([1, -1, NaN]);
    expect(show("sigmoid").slice(2, 5)).toEqual([1, 0, NaN]);
    expect(show("log1p")[5]).toBe(-Infinity);
    expect(show("erf").slice(2, 5)).toEqual([1, -1, NaN]);
    console.log(table.join("\n"));
  });
});
