// Linear algebra, convolution, pooling and NN functions against NumPy references
// (the conv/pool references are plain loops in test/helpers/numpy.ts).

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { np, expectClose } from "../helpers/numpy.js";

await useTestBackend();

const gen = new tb.Generator(21);
const randn = (shape: number[]) => tb.randn(shape, { generator: gen });
const tol = { rtol: 1e-4, atol: 1e-5, dtype: false };

describe("matmul and linear", () => {
  it("covers 1-D, 2-D, batched and broadcast batch operands", async () => {
    const cases: [number[], number[]][] = [[[4], [4]], [[3, 4], [4]], [[4], [4, 5]], [[3, 4], [4, 5]], [[2, 3, 4], [4, 5]], [[2, 1, 3, 4], [5, 4, 2]], [[0, 4], [4, 3]], [[3, 0], [0, 2]]];
    for (const [sa, sb] of cases) {
      const a = randn(sa);
      const b = randn(sb);
      expectClose(tb.matmul(a, b), await np("a @ b", { a, b }), tol, `${sa} @ ${sb}`);
    }
  });
  it("takes transposed operands as strided views", async () => {
    const a = randn([5, 3]);
    const b = randn([4, 5]);
    const before = tb.memory().bytes;
    const aT = a.T;
    const bT = b.T;
    expect(tb.memory().bytes).toBe(before);
    expectClose(aT.matmul(bT), await np("a.T @ b.T", { a, b }), tol);
    const c = randn([2, 3, 4]);
    const d = randn([3, 3]);
    expectClose(c.permute([0, 2, 1]).matmul(d.T), await np("np.transpose(c, (0, 2, 1)) @ d.T", { c, d }), tol);
    expectClose(c.flip(2).mT.matmul(c.index(null, [null, null, -1])), await np("np.swapaxes(c[:, :, ::-1], 1, 2) @ c[:, ::-1]", { c }), tol);
  });
  it("propagates NaN and Inf like NumPy (0 * NaN is NaN)", async () => {
    const a = tb.tensor([[0, 1], [2, 0]]);
    const b = tb.tensor([[NaN, 1], [1, Infinity]]);
    expectClose(a.matmul(b), await np("a @ b", { a, b }), tol);
  });
  it("names the inner dimensions in errors", () => {
    expect(() => tb.matmul(tb.zeros([2, 3]), tb.zeros([4, 5]))).toThrow("matmul: inner dimensions differ: [2,3] @ [4,5] (3 != 4)");
    expect(() => tb.matmul(tb.zeros([2, 2, 3]), tb.zeros([3, 3, 5]))).toThrow(/matmul: cannot broadcast shapes \[2\] and \[3\]/);
  });
  it("linear uses PyTorch's [out, in] weight", async () => {
    const x = randn([6, 4]);
    const w = randn([3, 4]);
    const b = randn([3]);
    expectClose(tb.linear(x, w, b), await np("x @ w.T + b", { x, w, b }), tol);
  });
});

describe("convolution and pooling", () => {
  const convCases: [number[], number[], tb.Conv2dOptions, string][] = [
    [[2, 3, 7, 6], [4, 3, 3, 3], {}, ""],
    [[1, 4, 8, 8], [6, 2, 3, 2], { stride: 2, padding: [1, 0], groups: 2 }, "stride=(2,2), padding=(1,0), groups=2"],
    [[1, 2, 9, 9], [3, 2, 3, 3], { dilation: 2, padding: 2 }, "dilation=(2,2), padding=(2,2)"],
    [[2, 4, 5, 5], [4, 1, 3, 3], { groups: 4, padding: 1, stride: [1, 2] }, "groups=4, padding=(1,1), stride=(1,2)"],
  ];
  it("conv2d: stride, padding, dilation, groups", async () => {
    for (const [xs, ws, opt, py] of convCases) {
      const x = randn(xs);
      const w = randn(ws);
      expectClose(tb.conv2d(x, w, opt), await np(`conv2d_ref(x, w, ${py})`, { x, w }), tol, JSON.stringify(opt));
    }
  });
  it("conv2d with bias and 'same' padding (odd and even kernels)", async () => {
    const x = randn([1, 2, 6, 5]);
    for (const ks of [[3, 3], [4, 2]]) {
      const w = randn([3, 2, ks[0], ks[1]]);
      const b = randn([3]);
      const y = tb.conv2d(x, w, { padding: "same", bias: b });
      expect(y.shape).toEqual([1, 3, 6, 5]);
      const [th, tw] = [ks[0] - 1, ks[1] - 1];
      const code = `conv2d_ref(np.pad(x, ((0,0),(0,0),(${th >> 1},${th - (th >> 1)}),(${tw >> 1},${tw - (tw >> 1)}))), w) + b[None, :, None, None]`;
      expectClose(y, await np(code, { x, w, b }), tol, `same ${ks}`);
    }
  });
  it("conv1d", async () => {
    const x = randn([2, 3, 10]);
    const w = randn([4, 3, 3]);
    const y = tb.conv1d(x, w, { stride: 2, padding: 1 });
    expectClose(y, await np("conv2d_ref(x[:, :, None, :], w[:, :, None, :], (1, 2), (0, 1))[:, :, 0, :]", { x, w }), tol);
  });
  it("convTranspose2d", async () => {
    const x = randn([2, 4, 3, 4]);
    const w = randn([4, 3, 3, 2]);
    expectClose(tb.convTranspose2d(x, w), await np("conv_transpose2d_ref(x, w)", { x, w }), tol);
    expectClose(
      tb.convTranspose2d(x, w, { stride: 2, padding: 1, outputPadding: 1 }),
      await np("conv_transpose2d_ref(x, w, (2, 2), (1, 1), (1, 1))", { x, w }), tol,
    );
    const wg = randn([4, 1, 2, 2]);
    expectClose(tb.convTranspose2d(x, wg, { groups: 2, stride: [2, 1] }), await np("conv_transpose2d_ref(x, w, (2, 1), groups=2)", { x, w: wg }), tol);
  });
  it("maxPool2d, avgPool2d, adaptiveAvgPool2d", async () => {
    const x = randn([2, 3, 7, 6]);
    expectClose(tb.maxPool2d(x, { kernelSize: 2 }), await np("pool_ref(x, (2, 2), (2, 2), (0, 0), 'max')", { x }), tol);
    expectClose(tb.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), await np("pool_ref(x, (3, 3), (2, 2), (1, 1), 'max')", { x }), tol);
    expectClose(tb.avgPool2d(x, { kernelSize: 2 }), await np("pool_ref(x, (2, 2), (2, 2), (0, 0), 'avg')", { x }), tol);
    expectClose(tb.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), await np("pool_ref(x, (3, 3), (2, 2), (1, 1), 'avg')", { x }), tol);
    expectClose(
      tb.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }),
      await np("pool_ref(x, (3, 3), (2, 2), (1, 1), 'avg', False)", { x }), tol,
    );
    for (const [oh, ow] of [[1, 1], [3, 2], [4, 5], [7, 6]]) {
      expectClose(tb.adaptiveAvgPool2d(x, [oh, ow]), await np(`adaptive_ref(x, ${oh}, ${ow})`, { x }), tol, `adaptive ${oh}x${ow}`);
    }
  });
  it("errors name the op and the shapes", () => {
    expect(() => tb.conv2d(tb.zeros([1, 3, 5, 5]), tb.zeros([2, 2, 3, 3]))).toThrow(/conv2d: input channels 3 and weight \[2,2,3,3\] do not fit groups=1/);
    expect(() => tb.conv2d(tb.zeros([3, 5, 5]), tb.zeros([2, 3, 3, 3]))).toThrow(/conv2d: expected input \[N,C,H,W\]/);
    expect(() => tb.maxPool2d(tb.zeros([1, 1, 2, 2]), { kernelSize: 3 })).toThrow(/maxPool2d: kernel 3,3 is larger than the padded input \[1,1,2,2\]/);
  });
});

describe("NN functions", () => {
  it("softmax and logSoftmax on any axis", async () => {
    const x = randn([3, 4, 5]).mul(5);
    for (const a of [-1, 0, 1]) {
      expectClose(tb.softmax(x, a), await np(`np.exp(log_softmax_ref(x, ${a}))`, { x }), tol);
      expectClose(tb.logSoftmax(x, a), await np(`log_softmax_ref(x, ${a})`, { x }), tol);
    }
    const big = tb.tensor([[1000, 0, -1000]]);
    expectClose(tb.softmax(big), await np("np.exp(log_softmax_ref(x, -1))", { x: big }), tol);
  });
  it("crossEntropy: integer labels, probabilities, label smoothing, ignoreIndex", async () => {
    const logits = randn([5, 4]).mul(3);
    const labels = tb.tensor([0, 3, 1, 1, 2], { dtype: "int32" });
    const ls = "log_softmax_ref(x, 1)";
    expectClose(tb.crossEntropy(logits, labels), await np(`-np.mean(${ls}[np.arange(5), l])`, { x: logits, l: labels }), tol);
    expectClose(
      tb.crossEntropy(logits, labels, { labelSmoothing: 0.2 }),
      await np(`np.mean(-(0.8*${ls}[np.arange(5), l] + 0.2*np.mean(${ls}, 1)))`, { x: logits, l: labels }), tol,
    );
    expectClose(tb.crossEntropy(logits, labels, { reduction: "none" }), await np(`-${ls}[np.arange(5), l]`, { x: logits, l: labels }), tol);
    const probs = tb.softmax(randn([5, 4]), -1);
    expectClose(tb.crossEntropy(logits, probs), await np(`np.mean(-np.sum(p * ${ls}, 1))`, { x: logits, p: probs }), tol);
    expectClose(
      tb.crossEntropy(logits, probs, { labelSmoothing: 0.1, reduction: "sum" }),
      await np(`np.sum(-np.sum((0.9*p + 0.1/4) * ${ls}, 1))`, { x: logits, p: probs }), tol,
    );
    const withIgnore = tb.tensor([0, -100, 1, -100, 2], { dtype: "int32" });
    expectClose(
      tb.crossEntropy(logits, withIgnore, { ignoreIndex: -100 }),
      await np(`-np.mean(${ls}[[0, 2, 4], [0, 1, 2]])`, { x: logits }), tol,
    );
    const seq = randn([2, 3, 4]);
    const seqLabels = tb.tensor([[0, 2, 1, 1], [2, 2, 0, 1]], { dtype: "int32" });
    expectClose(tb.crossEntropy(seq, seqLabels), await np("-np.mean(np.take_along_axis(log_softmax_ref(x, 1), l[:, None], 1))", { x: seq, l: seqLabels }), tol);
    expect(() => tb.crossEntropy(logits, tb.tensor([0, 1], { dtype: "int32" }))).toThrow(/crossEntropy: class-index targets must have shape \[5\]/);
  });
  it("nllLoss, mseLoss, l1Loss, bceWithLogits", async () => {
    const logp = tb.logSoftmax(randn([4, 3]), 1);
    const t = tb.tensor([2, 0, 1, 1], { dtype: "int32" });
    expectClose(tb.nllLoss(logp, t), await np("-np.mean(x[np.arange(4), t])", { x: logp, t }), tol);
    const a = randn([3, 4]);
    const b = randn([3, 4]);
    expectClose(tb.mseLoss(a, b), await np("np.mean((a - b)**2)", { a, b }), tol);
    expectClose(tb.l1Loss(a, b, { reduction: "sum" }), await np("np.sum(np.abs(a - b))", { a, b }), tol);
    const z = randn([6]).mul(10);
    const y = tb.tensor([1, 0, 1, 1, 0, 0]);
    const bce = "np.mean(-(y*np.log(1/(1+np.exp(-z.astype(np.float64)))) + (1-y)*np.log(1 - 1/(1+np.exp(-z.astype(np.float64))))))";
    expectClose(tb.bceWithLogits(z, y), await np(bce, { z, y }), { ...tol, rtol: 1e-3 });
    const pw = "np.mean(-(2.5*y*np.log(1/(1+np.exp(-z.astype(np.float64)))) + (1-y)*np.log(1 - 1/(1+np.exp(-z.astype(np.float64))))))";
    expectClose(tb.bceWithLogits(z, y, { posWeight: 2.5 }), await np(pw, { z, y }), { ...tol, rtol: 1e-3 });
  });
  it("layerNorm and batchNorm (train and eval)", async () => {
    const x = randn([4, 3, 5]);
    const w = randn([5]);
    const b = randn([5]);
    expectClose(
      tb.layerNorm(x, 5, { weight: w, bias: b }),
      await np("(x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b", { x, w, b }), tol,
    );
    expectClose(
      tb.layerNorm(x, [3, 5]),
      await np("(x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-5)", { x }), tol,
    );
    const img = randn([4, 3, 2, 2]);
    const rm = tb.zeros([3]);
    const rv = tb.ones([3]);
    const gamma = randn([3]);
    const y = tb.batchNorm(img, rm, rv, { weight: gamma, training: true, momentum: 0.1 });
    const ax = "(0, 2, 3)";
    expectClose(y, await np(`(x - x.mean(${ax}, keepdims=True)) / np.sqrt(x.var(${ax}, keepdims=True) + 1e-5) * g[None, :, None, None]`, { x: img, g: gamma }), tol);
    expectClose(rm, await np(`0.1 * x.mean(${ax})`, { x: img }), tol);
    expectClose(rv, await np(`0.9 + 0.1 * x.var(${ax}, ddof=1)`, { x: img }), tol);
    const ye = tb.batchNorm(img, rm, rv, { training: false });
    expectClose(ye, await np("(x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-5)", { x: img, m: rm, v: rv }), tol);
  });
  it("batchNorm training under tb.fn updates variables and refuses plain running statistics", () => {
    const x = tb.tensor([[1, 2, 3], [3, 6, 9]]);
    const plain = tb.fn((v: tb.Tensor, rm: tb.Tensor, rv: tb.Tensor) => tb.batchNorm(v, rm, rv, { training: true }));
    expect(() => plain(x, tb.zeros([3]), tb.ones([3]))).toThrow(/^batchNorm: .*runningMean is a plain tensor float32\[3\].*tb\.variable/);
    const rm = tb.variable(tb.zeros([3]), { requiresGrad: false });
    const rv = tb.variable(tb.ones([3]), { requiresGrad: false });
    const step = tb.fn((v: tb.Tensor) => tb.batchNorm(v, rm, rv, { training: true }));
    step(x);
    // mean [2, 4, 6], unbiased variance [2, 8, 18]: r = 0.9 r + 0.1 batch
    Array.from(rm.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0.2, 0.4, 0.6][i]!, 6));
    Array.from(rv.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([1.1, 1.7, 2.7][i]!, 6));
  });
  it("dropout keeps the expectation and zeroes about p", () => {
    const x = tb.ones([20000]);
    const y = tb.dropout(x, 0.3, { generator: new tb.Generator(3) });
    const d = y.dataSync();
    let zeros = 0;
    for (const v of d) if (v === 0) zeros++;
    else expect(v).toBeCloseTo(1 / 0.7, 5);
    expect(zeros / d.length).toBeGreaterThan(0.28);
    expect(zeros / d.length).toBeLessThan(0.32);
    expect(tb.dropout(x, 0.3, { training: false })).toBe(x);
  });
  it("embedding", async () => {
    const w = randn([10, 4]);
    const ids = tb.tensor([[1, 9, 1], [0, 3, 3]], { dtype: "int32" });
    expectClose(tb.embedding(ids, w), await np("w[i]", { w, i: ids }));
  });
});
