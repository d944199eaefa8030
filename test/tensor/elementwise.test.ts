// Elementwise ops against NumPy: every unary and binary op, broadcasting, dtype promotion,
// empty tensors, size-1 axes and non-contiguous views (transposed, flipped, sliced).

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { np, expectClose } from "../helpers/numpy.js";

await useTestBackend();

const gen = new tb.Generator(7);
const randn = (shape: number[], scale = 2) => tb.randn(shape, { generator: gen }).mul(scale);
const positive = (shape: number[]) => tb.rand(shape, { generator: gen }).mul(3).add(0.05);

type Unary = [string, (x: tb.Tensor) => tb.Tensor, string, (s: number[]) => tb.Tensor];
const unaryCases: Unary[] = [
  ["neg", tb.neg, "-x", randn],
  ["abs", tb.abs, "np.abs(x)", randn],
  ["sign", tb.sign, "np.sign(x)", randn],
  ["exp", tb.exp, "np.exp(x)", randn],
  ["log", tb.log, "np.log(x)", positive],
  ["log1p", tb.log1p, "np.log1p(x)", positive],
  ["expm1", tb.expm1, "np.expm1(x)", randn],
  ["sqrt", tb.sqrt, "np.sqrt(x)", positive],
  ["rsqrt", tb.rsqrt, "1/np.sqrt(x)", positive],
  ["square", tb.square, "x*x", randn],
  ["reciprocal", tb.reciprocal, "1/x", positive],
  ["sin", tb.sin, "np.sin(x)", randn],
  ["cos", tb.cos, "np.cos(x)", randn],
  ["tanh", tb.tanh, "np.tanh(x)", randn],
  ["sigmoid", tb.sigmoid, "1/(1+np.exp(-x))", randn],
  ["erf", tb.erf, "erf(x)", randn],
  ["floor", tb.floor, "np.floor(x)", randn],
  ["ceil", tb.ceil, "np.ceil(x)", randn],
  ["round", tb.round, "np.round(x)", (s) => randn(s).mul(2).round().div(2)],
  ["relu", tb.relu, "np.maximum(x, 0)", randn],
  ["leakyRelu", (x) => tb.leakyRelu(x, 0.1), "np.where(x > 0, x, 0.1*x)", randn],
  ["elu", (x) => tb.elu(x, 1.5), "np.where(x > 0, x, 1.5*np.expm1(np.minimum(x, 0)))", randn],
  ["gelu erf", (x) => tb.gelu(x), "0.5*x*(1+erf(x/np.sqrt(2)))", randn],
  ["gelu tanh", (x) => tb.gelu(x, { approximate: "tanh" }), "0.5*x*(1+np.tanh(np.sqrt(2/np.pi)*(x+0.044715*x**3)))", randn],
  ["silu", tb.silu, "x/(1+np.exp(-x))", randn],
  ["softplus", (x) => tb.softplus(x), "np.where(x > 20, x, np.log1p(np.exp(x)))", (s) => randn(s, 12)],
  ["softplus beta", (x) => tb.softplus(x, { beta: 2, threshold: 5 }), "np.where(2*x > 5, x, np.log1p(np.exp(2*x))/2)", randn],
  ["clip", (x) => tb.clip(x, -0.5, 1), "np.clip(x, -0.5, 1)", randn],
  ["logSigmoid", tb.logSigmoid, "-np.log1p(np.exp(-x))", randn],
];

const shapes: number[][] = [[], [5], [3, 4], [2, 1, 3], [0, 3]];

describe("unary ops vs NumPy", () => {
  for (const [name, f, code, make] of unaryCases) {
    it(name, async () => {
      for (const s of shapes) {
        const x = make(s);
        expectClose(f(x), await np(code, { x }), { rtol: 2e-6, atol: 2e-6, dtype: false }, `${name} ${JSON.stringify(s)}`);
      }
      // Non-contiguous: a transposed view and a flipped strided slice.
      const base = make([4, 6]);
      const t = base.T;
      expectClose(f(t), await np(code, { x: t }), { rtol: 2e-6, atol: 2e-6, dtype: false }, `${name} transposed`);
      const v = base.slice([[null, null, -1], [1, null, 2]]);
      expectClose(f(v), await np(code, { x: v }), { rtol: 2e-6, atol: 2e-6, dtype: false }, `${name} strided`);
    });
  }
  it("int32 unaries keep int32", async () => {
    const x = tb.tensor([-3, 0, 2, 7], { dtype: "int32" });
    for (const [f, code] of [[tb.neg, "-x"], [tb.abs, "np.abs(x)"], [tb.sign, "np.sign(x)"]] as const) {
      expectClose(f(x), await np(code, { x }));
    }
    expect(tb.exp(x).dtype).toBe("float32");
  });
  it("special values (sign(nan) = 0 as in PyTorch; more in ieee.test.ts)", async () => {
    const x = tb.tensor([NaN, Infinity, -Infinity, 0, -0]);
    for (const [f, code] of [[tb.exp, "np.exp(x)"], [tb.tanh, "np.tanh(x)"], [tb.abs, "np.abs(x)"], [tb.sigmoid, "1/(1+np.exp(-x))"], [tb.sign, "np.where(np.isnan(x), 0, np.sign(x))"], [tb.relu, "np.maximum(x, 0)"]] as const) {
      expectClose(f(x), await np(code, { x }), {}, code);
    }
  });
});

type Binary = [string, (a: tb.Tensor, b: tb.Tensor) => tb.Tensor, string];
const arith: Binary[] = [
  ["add", tb.add, "a + b"],
  ["sub", tb.sub, "a - b"],
  ["mul", tb.mul, "a * b"],
  ["div", tb.div, "a / b"],
  ["maximum", tb.maximum, "np.maximum(a, b)"],
  ["minimum", tb.minimum, "np.minimum(a, b)"],
  ["mod", tb.mod, "np.mod(a, b)"],
  ["floorDiv", tb.floorDiv, "np.floor_divide(a, b)"],
  ["atan2", tb.atan2, "np.arctan2(a, b)"],
];
const compares: Binary[] = [
  ["eq", tb.eq, "a == b"], ["ne", tb.ne, "a != b"], ["lt", tb.lt, "a < b"],
  ["le", tb.le, "a <= b"], ["gt", tb.gt, "a > b"], ["ge", tb.ge, "a >= b"],
];
const pairs: [number[], number[]][] = [[[3, 4], [4]], [[2, 1, 3], [4, 1]], [[], [3]], [[0, 3], [1, 3]], [[5], [5]], [[1], [2, 3]]];

describe("binary ops vs NumPy", () => {
  for (const [name, f, code] of arith) {
    it(`${name} float32 with broadcasting`, async () => {
      for (const [sa, sb] of pairs) {
        const a = randn(sa);
        const b = randn(sb).add(0.01);
        expectClose(f(a, b), await np(code, { a, b }), { rtol: 1e-5, atol: 1e-5 }, `${name} ${sa} ${sb}`);
      }
      const a = randn([4, 3]).T;
      const b = randn([3, 4]).flip(0);
      expectClose(f(a, b), await np(code, { a, b }), { rtol: 1e-5, atol: 1e-5 }, `${name} views`);
    });
  }
  for (const [name, f, code] of arith.filter(([n]) => n !== "atan2")) {
    it(`${name} int32 (NumPy integer semantics)`, async () => {
      const a = tb.tensor([[-7, -3, 0, 5], [9, -12, 4, 1]], { dtype: "int32" });
      const b = tb.tensor([3, -2, 5, -4], { dtype: "int32" });
      expectClose(f(a, b), await np(code, { a, b }), { rtol: 1e-6 }, name);
    });
  }
  it("pow", async () => {
    const a = positive([3, 4]);
    const b = randn([4]);
    expectClose(tb.pow(a, b), await np("a ** b", { a, b }), { rtol: 1e-5, atol: 1e-5 });
    expectClose(a.pow(2), await np("a ** 2", { a }), { rtol: 1e-6 });
  });
  for (const [name, f, code] of compares) {
    it(`${name} -> bool`, async () => {
      const a = tb.tensor([[1, 2, 3], [3, 2, 1]]);
      const b = tb.tensor([2, 2, 2]);
      expectClose(f(a, b), await np(code, { a, b }), {}, name);
      const ai = a.int();
      expectClose(f(ai, b), await np(code, { a: ai, b }), {}, `${name} mixed`);
    });
  }
  it("logical ops and where", async () => {
    const a = tb.tensor([true, false, true, false]);
    const b = tb.tensor([[true], [false]]);
    expectClose(tb.logicalAnd(a, b), await np("np.logical_and(a, b)", { a, b }));
    expectClose(tb.logicalOr(a, b), await np("np.logical_or(a, b)", { a, b }));
    expectClose(tb.logicalXor(a, b), await np("np.logical_xor(a, b)", { a, b }));
    expectClose(tb.logicalNot(a), await np("np.logical_not(a)", { a }));
    const x = randn([2, 4]);
    const y = randn([4]);
    expectClose(tb.where(a, x, y), await np("np.where(a, x, y)", { a, x, y }));
    expectClose(tb.where(x.gt(0), x, 0), await np("np.where(x > 0, x, 0).astype(np.float32)", { x }));
  });
  it("cast", async () => {
    const x = tb.tensor([-2.7, -0.5, 0, 0.4, 3.9, NaN]);
    expectClose(x.cast("bool"), await np("x.astype(bool)", { x }));
    const y = tb.tensor([-2.7, -0.5, 0, 0.4, 3.9]);
    expectClose(y.cast("int32"), await np("y.astype(np.int32)", { y }));
    expectClose(tb.tensor([true, false]).cast("float32"), await np("np.array([1., 0.], dtype=np.float32)"));
  });
});

describe("predicates and copies", () => {
  it("isnan, isinf, isfinite", async () => {
    const x = tb.tensor([NaN, Infinity, -Infinity, 0, -2.5]);
    expectClose(x.isnan(), await np("np.isnan(x)", { x }));
    expectClose(x.isinf(), await np("np.isinf(x)", { x }));
    expectClose(x.isfinite(), await np("np.isfinite(x)", { x }));
    const i = tb.tensor([1, 2], { dtype: "int32" });
    expect(i.isfinite().tolist()).toEqual([true, true]);
  });
  it("broadcastTensors, clone and contiguous", async () => {
    const [a, b] = tb.broadcastTensors(randn([3, 1]), randn([4]));
    expect(a.shape).toEqual([3, 4]);
    expect(b.shape).toEqual([3, 4]);
    const t = randn([3, 4]).T;
    const c = t.contiguous();
    expectClose(c, await np("x", { x: t }));
    expect(c.contiguous()).toBe(c);
    const k = t.clone();
    expectClose(k, await np("x", { x: t }));
  });
});

describe("type promotion", () => {
  const i = tb.tensor([1, 2], { dtype: "int32" });
  const f = tb.tensor([1, 2]);
  const b = tb.tensor([true, false]);
  it("follows bool < int32 < float32 and PyTorch's scalar rule", () => {
    expect(i.add(f).dtype).toBe("float32");
    expect(i.add(1).dtype).toBe("int32");
    expect(i.add(1.5).dtype).toBe("float32");
    expect(i.add(1.5).tolist()).toEqual([2.5, 3.5]);
    expect(b.add(1).dtype).toBe("int32");
    expect(b.add(b).dtype).toBe("bool"); // logical or, as torch: tensor([True]) + tensor([True]) is tensor([True])
    expect(f.add(true).dtype).toBe("float32");
    expect(i.div(2).dtype).toBe("float32");
    expect(i.div(2).tolist()).toEqual([0.5, 1]);
    expect(b.logicalAnd(true).dtype).toBe("bool");
  });
});

