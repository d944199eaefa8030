// Reductions and movement/indexing ops against NumPy, including negative axes, keepdims,
// empty tensors, size-1 axes and non-contiguous inputs.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { np, expectClose } from "../helpers/numpy.js";

await useTestBackend();

const gen = new tb.Generator(11);
const randn = (shape: number[]) => tb.randn(shape, { generator: gen });

describe("reductions vs NumPy", () => {
  const x = randn([2, 3, 4]);
  const views: [string, tb.Tensor][] = [["contiguous", x], ["permuted", x.permute([2, 0, 1])], ["flipped", x.flip(1)]];
  const axesList: (number | number[] | undefined)[] = [undefined, 0, -1, [0, 2], [-1, -2]];
  const cases: [string, (t: tb.Tensor, a: number | number[] | undefined, k: boolean) => tb.Tensor, string][] = [
    ["sum", (t, a, k) => t.sum(a, { keepdims: k }), "np.sum(x, axis=A, keepdims=K)"],
    ["mean", (t, a, k) => t.mean(a, { keepdims: k }), "np.mean(x, axis=A, keepdims=K)"],
    ["max", (t, a, k) => t.max(a, { keepdims: k }), "np.max(x, axis=A, keepdims=K)"],
    ["min", (t, a, k) => t.min(a, { keepdims: k }), "np.min(x, axis=A, keepdims=K)"],
    ["prod", (t, a, k) => t.prod(a, { keepdims: k }), "np.prod(x, axis=A, keepdims=K)"],
    ["var", (t, a, k) => t.var(a, { keepdims: k }), "np.var(x, axis=A, keepdims=K, ddof=1)"],
    ["std", (t, a, k) => t.std(a, { keepdims: k, correction: 0 }), "np.std(x, axis=A, keepdims=K)"],
    ["logsumexp", (t, a, k) => t.logsumexp(a, { keepdims: k }), "np.log(np.sum(np.exp(x), axis=A, keepdims=K))"],
  ];
  const pyAxis = (a: number | number[] | undefined) => (a === undefined ? "None" : Array.isArray(a) ? `(${a.join(",")},)` : String(a));
  for (const [name, f, code] of cases) {
    it(name, async () => {
      for (const [vn, v] of views)
        for (const a of axesList)
          for (const k of [false, true]) {
            const ref = await np(code.replace("A", pyAxis(a)).replace("K", k ? "True" : "False"), { x: v });
            expectClose(f(v, a, k), ref, { rtol: 1e-5, atol: 1e-5, dtype: false }, `${name} ${vn} axis=${a} keepdims=${k}`);
          }
    });
  }
  it("argmax / argmin (first occurrence, flattened when no axis)", async () => {
    const t = tb.tensor([[1, 5, 5, 0], [7, 7, -1, 2], [3, 3, 3, 3]]);
    for (const a of [undefined, 0, 1, -1]) {
      expectClose(t.argmax(a), await np(`np.argmax(x, axis=${pyAxis(a)})`, { x: t }), {}, `argmax ${a}`);
      expectClose(t.argmin(a), await np(`np.argmin(x, axis=${pyAxis(a)})`, { x: t }), {}, `argmin ${a}`);
    }
    expect(t.argmax(1, { keepdims: true }).shape).toEqual([3, 1]);
  });
  it("any / all, int and bool sums", async () => {
    const b = tb.tensor([[true, false, false], [true, true, true]]);
    for (const a of [undefined, 0, 1]) {
      expectClose(b.any(a), await np(`np.any(x, axis=${pyAxis(a)})`, { x: b }));
      expectClose(b.all(a), await np(`np.all(x, axis=${pyAxis(a)})`, { x: b }));
      expectClose(b.sum(a), await np(`np.sum(x, axis=${pyAxis(a)}).astype(np.int32)`, { x: b }));
    }
    const i = tb.tensor([[1, -2, 3], [4, 5, -6]], { dtype: "int32" });
    expectClose(i.sum(0), await np("np.sum(x, axis=0).astype(np.int32)", { x: i }));
    expectClose(i.prod(1), await np("np.prod(x, axis=1).astype(np.int32)", { x: i }));
  });
  it("empty tensors and size-1 axes", async () => {
    const e = tb.zeros([0, 3]);
    expectClose(e.sum(0), await np("np.sum(x, axis=0)", { x: e }), { dtype: false });
    expectClose(e.sum(1), await np("np.sum(x, axis=1)", { x: e }), { dtype: false });
    expectClose(e.prod(0), await np("np.prod(x, axis=0)", { x: e }), { dtype: false });
    expect(() => e.max(0)).toThrow(/max: cannot reduce an empty axis 0 of float32\[0,3\]/);
    const s = randn([3, 1, 2]);
    expectClose(s.sum(1), await np("np.sum(x, axis=1)", { x: s }), { dtype: false });
    expectClose(s.max(-2, { keepdims: true }), await np("np.max(x, axis=-2, keepdims=True)", { x: s }), { dtype: false });
  });
  it("NaN propagates through max and sum", async () => {
    const t = tb.tensor([[1, NaN, 3], [4, 5, 6]]);
    expectClose(t.max(1), await np("np.max(x, axis=1)", { x: t }));
    expectClose(t.sum(1), await np("np.sum(x, axis=1)", { x: t }));
    expectClose(t.argmax(1), await np("np.argmax(x, axis=1)", { x: t }));
  });
  it("cumsum", async () => {
    const t = randn([3, 4]);
    for (const a of [0, 1, -1]) expectClose(t.cumsum(a), await np(`np.cumsum(x, axis=${a})`, { x: t }), { rtol: 1e-5, atol: 1e-6, dtype: false });
    expectClose(t.T.cumsum(0), await np("np.cumsum(x, axis=0)", { x: t.T }), { rtol: 1e-5, atol: 1e-6, dtype: false });
    const i = tb.tensor([1, 2, 3], { dtype: "int32" });
    expectClose(i.cumsum(0), await np("np.cumsum(x).astype(np.int32)", { x: i }));
  });
  it("axis errors name the op and the valid range", () => {
    expect(() => x.sum(3)).toThrow(/sum: axis 3 is out of range for a tensor of rank 3 \(valid: -3\.\.2\)/);
    expect(() => x.mean([0, 0])).toThrow(/repeated axis/);
  });
});

describe("movement vs NumPy", () => {
  const x = randn([2, 3, 4]);
  it("reshape, flatten, squeeze, unsqueeze (views when contiguous)", async () => {
    expectClose(x.reshape([4, -1]), await np("x.reshape(4, -1)", { x }));
    expectClose(x.flatten(1), await np("x.reshape(2, 12)", { x }));
    expectClose(x.flatten(), await np("x.reshape(-1)", { x }));
    expectClose(x.unsqueeze(-1), await np("x[..., None]", { x }));
    expectClose(x.unsqueeze(1).squeeze(1), await np("x", { x }));
    const t = x.permute([2, 0, 1]);
    expectClose(t.reshape([4, 6]), await np("np.transpose(x, (2, 0, 1)).reshape(4, 6)", { x }));
    expectClose(t.reshape([4, 2, 3, 1]), await np("np.transpose(x, (2, 0, 1)).reshape(4, 2, 3, 1)", { x }));
    expect(() => x.reshape([5, -1])).toThrow(/reshape: cannot reshape \[2,3,4\] \(24 elements\) into \[5,-1\]/);
    expect(() => x.squeeze(0)).toThrow(/squeeze: axis 0 of \[2,3,4\] has size 2, not 1/);
  });
  it("views share storage without copies", () => {
    const before = tb.memory().bytes;
    const views = [x.reshape([6, 4]), x.T, x.permute([1, 0, 2]), x.slice([null, [null, null, -1]]), x.unsqueeze(0).expand([5, 2, 3, 4]), x.flip(-1)];
    expect(tb.memory().bytes).toBe(before);
    views.forEach((v) => v.dispose());
  });
  it("transpose, permute, expand, broadcastTo", async () => {
    expectClose(x.transpose(0, 2), await np("np.swapaxes(x, 0, 2)", { x }));
    expectClose(x.T, await np("x.T", { x }));
    expectClose(x.permute([1, 2, 0]), await np("np.transpose(x, (1, 2, 0))", { x }));
    const y = randn([3, 1]);
    expectClose(y.expand([2, 3, 4]), await np("np.broadcast_to(x, (2, 3, 4))", { x: y }));
    expectClose(y.broadcastTo([3, 5]), await np("np.broadcast_to(x, (3, 5))", { x: y }));
    expect(() => y.expand([2, 4])).toThrow(/expand: cannot broadcast float32\[3,1\] to \[2,4\]/);
  });
  it("slicing with steps, negative indices and integer indices", async () => {
    expectClose(x.index(1), await np("x[1]", { x }));
    expectClose(x.index(-1, [null, null, -1], [1, null, 2]), await np("x[-1, ::-1, 1::2]", { x }));
    expectClose(x.index(null, [-2], [-1, 0, -1]), await np("x[:, -2:, -1:0:-1]", { x }));
    expectClose(x.index(null, [5, 9]), await np("x[:, 5:9]", { x }));
    expectClose(x.index([null, null, -2], 0), await np("x[::-2, 0]", { x }));
    expectClose(x.T.index([1, 3], null, [null, null, -1]), await np("x.T[1:3, :, ::-1]", { x }));
    expectClose(x.narrow(2, 1, 2), await np("x[:, :, 1:3]", { x }));
    expectClose(x.flip([0, 2]), await np("np.flip(x, (0, 2))", { x }));
    expect(() => x.index(2)).toThrow(/slice: index 2 is out of range for axis 0 of size 2/);
  });
  it("gather, indexSelect, scatterAdd, oneHot", async () => {
    const m = randn([3, 4]);
    const idx = tb.tensor([[0, 2], [3, 3], [1, 0]], { dtype: "int32" });
    expectClose(m.gather(1, idx), await np("np.take_along_axis(x, i, axis=1)", { x: m, i: idx }));
    const idx0 = tb.tensor([[2, 0, 1, 1]], { dtype: "int32" });
    expectClose(m.gather(0, idx0), await np("np.take_along_axis(x, i, axis=0)", { x: m, i: idx0 }));
    const sel = tb.tensor([2, 0, -1, 2], { dtype: "int32" });
    expectClose(m.indexSelect(0, sel), await np("x[i]", { x: m, i: sel }));
    expectClose(m.indexSelect(-1, [3, 1]), await np("x[:, [3, 1]]", { x: m }));
    const src = randn([3, 2]);
    const scatterRef = "(lambda z: [np.add.at(z, (np.arange(3)[:, None].repeat(2, 1), i), s), z][1])(np.zeros((3, 4), dtype=np.float32))";
    expectClose(tb.zeros([3, 4]).scatterAdd(1, idx, src), await np(scatterRef, { i: idx, s: src }));
    const labels = tb.tensor([0, 2, 1, 2], { dtype: "int32" });
    expectClose(labels.oneHot(3), await np("np.eye(3, dtype=np.int32)[l]", { l: labels }));
    expect(() => m.gather(1, tb.tensor([[5]], { dtype: "int32" }).expand([3, 1]))).toThrow(/gather: index.*out of range/);
  });
  it("concat, stack, split, chunk", async () => {
    const a = randn([2, 3]);
    const b = randn([2, 1]);
    const c = randn([2, 2]).T.slice([null, [0, 2]]);
    expectClose(tb.concat([a, b, randn([2, 0])], 1), await np("np.concatenate([a, b], 1)", { a, b }));
    expectClose(tb.concat([a, a.flip(0)], 0), await np("np.concatenate([a, a[::-1]], 0)", { a }));
    expectClose(tb.stack([a, a.mul(2)], -1), await np("np.stack([a, 2*a], -1)", { a }));
    expectClose(tb.concat([a.int(), c.T.cast("bool")], 1), await np("np.concatenate([a.astype(np.int32), c.T.astype(bool).astype(np.int32)], 1)", { a, c }));
    const parts = tb.split(x, 3, 2);
    expect(parts.map((p) => p.shape)).toEqual([[2, 3, 3], [2, 3, 1]]);
    expectClose(parts[1], await np("x[:, :, 3:]", { x }));
    const sized = x.split([1, 2], 1);
    expectClose(sized[1], await np("x[:, 1:]", { x }));
    expect(x.chunk(3, 1).map((p) => p.shape[1])).toEqual([1, 1, 1]);
    expect(() => tb.concat([a, randn([3, 3])], 1)).toThrow(/concat: inputs float32\[2,3\], float32\[3,3\] must match/);
  });
  it("pad, tile, repeat", async () => {
    const m = randn([2, 3]);
    expectClose(m.pad([1, 2]), await np("np.pad(x, ((0, 0), (1, 2)))", { x: m }));
    expectClose(m.pad([1, 0, 2, 1]), await np("np.pad(x, ((2, 1), (1, 0)))", { x: m }));
    expectClose(m.pad([1, 1], { value: -3 }), await np("np.pad(x, ((0, 0), (1, 1)), constant_values=-3)", { x: m }), { rtol: 1e-6 });
    expectClose(m.pad([-1, 1]), await np("np.pad(x[:, 1:], ((0, 0), (0, 1)))", { x: m }));
    expectClose(m.T.pad([0, 0, 1, 1]), await np("np.pad(x.T, ((1, 1), (0, 0)))", { x: m }));
    expectClose(m.tile([2, 2]), await np("np.tile(x, (2, 2))", { x: m }));
    expectClose(m.tile([3]), await np("np.tile(x, 3)", { x: m }));
    expectClose(m.repeat([2, 1, 2]), await np("np.tile(x, (2, 1, 2))", { x: m }));
  });
});

describe("creation", () => {
  it("tensor, full, arange, linspace, eye", async () => {
    expect(tb.tensor([[1, 2], [3, 4]]).dtype).toBe("float32");
    expect(tb.tensor([true, false]).dtype).toBe("bool");
    expect(tb.tensor(new Int32Array([1, 2, 3])).dtype).toBe("int32");
    expect(tb.tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] }).tolist()).toEqual([[1, 2], [3, 4]]);
    expect(tb.tensor(5).shape).toEqual([]);
    const src = tb.tensor([[1, 2]], { requiresGrad: true });
    const copy = tb.tensor(src.T, { dtype: "int32" });
    expect([copy.tolist(), copy.dtype, copy.requiresGrad]).toEqual([[[1], [2]], "int32", false]);
    expect(tb.tensor([]).shape).toEqual([0]);
    expect(() => tb.tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array/);
    expectClose(tb.arange(5), await np("np.arange(5, dtype=np.int32)"));
    expectClose(tb.arange(1, 2, 0.25), await np("np.arange(1, 2, 0.25)"));
    expectClose(tb.arange(5, 0, -2), await np("np.arange(5, 0, -2, dtype=np.int32)"));
    expectClose(tb.linspace(-1, 1, 7), await np("np.linspace(-1, 1, 7)"), { rtol: 1e-6 });
    expectClose(tb.eye(3, 4), await np("np.eye(3, 4)"));
    expectClose(tb.full([2, 2], 7, { dtype: "int32" }), await np("np.full((2, 2), 7, dtype=np.int32)"));
    expect(tb.zerosLike(tb.eye(2, 2, { dtype: "int32" })).dtype).toBe("int32");
    expect(tb.onesLike(tb.zeros([2])).tolist()).toEqual([1, 1]);
  });
});
