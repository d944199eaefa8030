// Generated cases: random broadcast-compatible shapes, random strided views (permuted,
// sliced with steps, flipped, expanded) and random axes, each compared with NumPy. The
// shapes come from a seeded JS generator, so every run checks the same cases.

import { describe, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { np, expectClose } from "../helpers/numpy.js";
import { mulberry32 } from "../helpers/prng.js";

await useTestBackend();

const prng = mulberry32;

const rnd = prng(2024);
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const gen = new tb.Generator(99);

function randomShape(rank: number): number[] {
  return Array.from({ length: rank }, () => (rnd() < 0.15 ? 1 : rnd() < 0.05 ? 0 : int(2, 4)));
}

/** A tensor of `shape` reached through a random non-contiguous view, plus the NumPy
 *  expression that builds the same values from the base array `b`. */
function randomView(shape: number[]): { t: tb.Tensor; base: tb.Tensor; code: string } {
  const kind = int(0, 3);
  if (kind === 0 || shape.length < 2) {
    // flipped along the first axis
    const base = tb.randn(shape, { generator: gen });
    return shape.length ? { t: base.flip(0).flip(0), base, code: "b" } : { t: base, base, code: "b" };
  }
  if (kind === 1) {
    // a permuted base, permuted back
    const perm = shape.map((_d, i) => i).reverse();
    const base = tb.randn(perm.map((i) => shape[i]), { generator: gen });
    return { t: base.permute(perm), base, code: `np.transpose(b, (${perm.join(",")},))` };
  }
  if (kind === 2) {
    // every other row of a taller base
    const tall = [shape[0] * 2, ...shape.slice(1)];
    const base = tb.randn(tall, { generator: gen });
    return { t: base.index([null, null, 2]), base, code: "b[::2]" };
  }
  // an expanded size-1 axis
  const narrow = [1, ...shape.slice(1)];
  const base = tb.randn(narrow, { generator: gen });
  return { t: base.expand(shape), base, code: `np.broadcast_to(b, (${shape.join(",")},))` };
}

describe("generated broadcasting cases", () => {
  it("binary ops on random broadcast shapes and views", async () => {
    const ops: [string, (a: tb.Tensor, b: tb.Tensor) => tb.Tensor, string][] = [
      ["add", tb.add, "$A + $B"], ["mul", tb.mul, "$A * $B"], ["maximum", tb.maximum, "np.maximum($A, $B)"],
      ["sub", tb.sub, "$A - $B"], ["lt", tb.lt, "$A < $B"],
    ];
    for (let c = 0; c < 40; c++) {
      const out = randomShape(int(0, 4));
      // Each operand drops some leading axes and sets some axes to 1.
      const operand = () => out.slice(int(0, out.length)).map((d) => (rnd() < 0.3 ? 1 : d));
      const [sa, sb] = [operand(), operand()];
      const A = randomView(sa);
      const B = randomView(sb);
      const [name, f, code] = ops[c % ops.length];
      const ref = await np(code.replace("$A", `(${A.code.replace(/\bb\b/g, "A")})`).replace("$B", `(${B.code.replace(/\bb\b/g, "B")})`), { A: A.base, B: B.base });
      expectClose(f(A.t, B.t), ref, { rtol: 1e-6, atol: 1e-6 }, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
    }
  });
  it("reductions over random axes of random views", async () => {
    for (let c = 0; c < 40; c++) {
      const shape = randomShape(int(1, 4)).map((d) => d || 2);
      const V = randomView(shape);
      const axes = shape.map((_d, i) => i).filter(() => rnd() < 0.5).map((a) => (rnd() < 0.5 ? a - shape.length : a));
      const keep = rnd() < 0.5;
      const op = ["sum", "max", "mean", "min"][c % 4] as "sum" | "max" | "mean" | "min";
      const ax = axes.length ? `(${axes.join(",")},)` : "None";
      const y = axes.length ? V.t[op](axes, { keepdims: keep }) : V.t[op](undefined, { keepdims: keep });
      const ref = await np(`np.${op}(${V.code}, axis=${ax}, keepdims=${keep ? "True" : "False"})`, { b: V.base });
      expectClose(y, ref, { rtol: 1e-5, atol: 1e-5, dtype: false }, `${op} ${JSON.stringify(shape)} axes=${axes} keepdims=${keep}`);
    }
  });
  it("matmul on random batch shapes and transposed views", async () => {
    for (let c = 0; c < 20; c++) {
      const [m, k, n] = [int(1, 4), int(1, 4), int(1, 4)];
      const batch = randomShape(int(0, 2)).map((d) => d || 1);
      const bBatch = batch.slice(int(0, batch.length)).map((d) => (rnd() < 0.3 ? 1 : d));
      const a = tb.randn([...batch, k, m], { generator: gen });
      const b = tb.randn([...bBatch, n, k], { generator: gen });
      const ref = await np("np.swapaxes(a, -1, -2) @ np.swapaxes(b, -1, -2)", { a, b });
      expectClose(a.mT.matmul(b.mT), ref, { rtol: 1e-5, atol: 1e-5 }, `matmul ${[...batch, m, k]} @ ${[...bBatch, k, n]}`);
    }
  });
});
