// Every differentiable op's gradient against central finite differences, the autograd API,
// and grad of grad for elementwise ops and matmul.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";
import { gradCheck } from "../helpers/gradcheck.js";

await useTestBackend();

const gen = new tb.Generator(5);
const randn = (shape: number[], s = 1) => tb.randn(shape, { generator: gen }).mul(s);
const positive = (shape: number[]) => tb.rand(shape, { generator: gen }).mul(2).add(0.5);

type Case = [string, (...xs: tb.Tensor[]) => tb.Tensor, () => tb.Tensor[], { atol?: number; rtol?: number; h?: number }?];

const unary: Case[] = [
  ["neg", tb.neg, () => [randn([3, 4])]],
  ["abs", tb.abs, () => [randn([3, 4])]],
  ["exp", tb.exp, () => [randn([3, 4])]],
  ["log", tb.log, () => [positive([3, 4])]],
  ["log1p", tb.log1p, () => [positive([3, 4])]],
  ["expm1", tb.expm1, () => [randn([3, 4])]],
  ["sqrt", tb.sqrt, () => [positive([3, 4])]],
  ["rsqrt", tb.rsqrt, () => [positive([3, 4])]],
  ["square", tb.square, () => [randn([3, 4])]],
  ["reciprocal", tb.reciprocal, () => [positive([3, 4])]],
  ["sin", tb.sin, () => [randn([3, 4])]],
  ["cos", tb.cos, () => [randn([3, 4])]],
  ["tanh", tb.tanh, () => [randn([3, 4])]],
  ["sigmoid", tb.sigmoid, () => [randn([3, 4])]],
  ["erf", tb.erf, () => [randn([3, 4])]],
  ["relu", tb.relu, () => [randn([3, 4])]],
  ["leakyRelu", (x) => tb.leakyRelu(x, 0.2), () => [randn([3, 4])]],
  ["elu", (x) => tb.elu(x), () => [randn([3, 4])]],
  ["gelu", (x) => tb.gelu(x), () => [randn([3, 4])]],
  ["gelu tanh", (x) => tb.gelu(x, { approximate: "tanh" }), () => [randn([3, 4])]],
  ["silu", tb.silu, () => [randn([3, 4])]],
  ["softplus", (x) => tb.softplus(x), () => [randn([3, 4], 3)]],
  ["logSigmoid", tb.logSigmoid, () => [randn([3, 4], 3)]],
  // Fixed inputs keep every element further than h from the clip bounds (kinks).
  ["clip", (x) => tb.clip(x, -0.5, 0.7), () => [tb.tensor([[-2, -0.9, -0.2], [0.1, 0.4, 1.3]])]],
];

const binary: Case[] = [
  ["add (broadcast)", tb.add, () => [randn([3, 4]), randn([4])]],
  ["sub (broadcast)", tb.sub, () => [randn([2, 1, 3]), randn([4, 1])]],
  ["mul (broadcast)", tb.mul, () => [randn([3, 4]), randn([3, 1])]],
  ["div (broadcast)", tb.div, () => [randn([3, 4]), positive([4])]],
  ["pow", tb.pow, () => [positive([3, 4]), randn([3, 4])]],
  ["pow scalar exponent", (x) => tb.pow(x, 3), () => [randn([5])]],
  ["maximum", tb.maximum, () => [randn([3, 4]), randn([3, 4])]],
  ["minimum", tb.minimum, () => [randn([3, 4]), randn([4])]],
  ["atan2", tb.atan2, () => [randn([3, 4]), randn([3, 4])]],
  // a / b stays away from integers (where mod jumps).
  ["mod", tb.mod, () => [tb.tensor([5.3, -2.2, 7.9, 0.45]), tb.tensor([2, 1.5, 3, 0.7])]],
  ["where", (c, a, b) => tb.where(c.gt(0), a, b), () => [randn([3, 4]), randn([3, 4]), randn([4])]],
  ["scalar ops", (x) => tb.sub(1, x.mul(2).add(1).sub(3).div(4)), () => [randn([4])]],
];

const reductions: Case[] = [
  ["sum axes", (x) => x.sum([0, 2]), () => [randn([2, 3, 4])]],
  ["sum all", (x) => x.sum(), () => [randn([2, 3])]],
  ["mean keepdims", (x) => x.mean(-1, { keepdims: true }), () => [randn([2, 3, 4])]],
  ["max", (x) => x.max(1), () => [randn([3, 5])]],
  ["min all", (x) => x.min(), () => [randn([3, 5])]],
  ["prod", (x) => x.prod(1), () => [positive([3, 4])]],
  ["var", (x) => x.var(0), () => [randn([5, 3])]],
  ["std", (x) => x.std([0, 1], { correction: 0 }), () => [randn([4, 3])]],
  ["logsumexp", (x) => x.logsumexp(-1), () => [randn([3, 5], 3)]],
  ["cumsum", (x) => x.cumsum(1), () => [randn([3, 4])]],
  ["cumsum axis 0 on a view", (x) => x.T.cumsum(0), () => [randn([3, 4])]],
];

const movement: Case[] = [
  ["reshape of a transpose", (x) => x.T.reshape([2, 6]).mul(tb.arange(12).reshape([2, 6])), () => [randn([3, 4])]],
  ["permute", (x) => x.permute([2, 0, 1]), () => [randn([2, 3, 4])]],
  ["expand", (x) => x.expand([3, 2, 4]), () => [randn([2, 1])]],
  ["slice with steps", (x) => x.index([null, null, -1], [1, null, 2]), () => [randn([3, 5])]],
  ["integer index", (x) => x.index(1, -1), () => [randn([3, 4])]],
  ["flip", (x) => x.flip(0).mul(tb.arange(12).reshape([3, 4])), () => [randn([3, 4])]],
  ["pad", (x) => x.pad([1, 2, 0, 1], { value: 0.5 }), () => [randn([2, 3])]],
  ["concat", (a, b) => tb.concat([a, b, a], 1), () => [randn([2, 3]), randn([2, 1])]],
  ["stack", (a, b) => tb.stack([a, b], 1), () => [randn([2, 3]), randn([2, 3])]],
  ["split piece", (x) => x.split(2, 1)[1], () => [randn([2, 5])]],
  ["gather", (x) => x.gather(1, tb.tensor([[0, 0, 2], [1, 3, 3]], { dtype: "int32" })), () => [randn([2, 4])]],
  ["indexSelect repeats", (x) => x.indexSelect(0, [2, 0, 2]), () => [randn([3, 2])]],
  ["scatterAdd", (b, s) => b.scatterAdd(0, tb.tensor([[1, 0], [1, 1]], { dtype: "int32" }), s), () => [randn([2, 2]), randn([2, 2])]],
  ["tile", (x) => x.tile([2, 3]), () => [randn([2, 2])]],
  ["squeeze/unsqueeze", (x) => x.unsqueeze(0).squeeze(), () => [randn([3])]],
];

const nn: Case[] = [
  ["matmul batched broadcast", tb.matmul, () => [randn([2, 1, 3, 4]), randn([3, 4, 2])]],
  ["matmul 3-D @ 2-D (flattened)", tb.matmul, () => [randn([2, 3, 4]), randn([4, 2])]],
  ["matmul strided 3-D @ 1-D", (a, b) => a.permute([1, 0, 2]).matmul(b), () => [randn([3, 2, 4]), randn([4])]],
  ["matmul 1-D", tb.matmul, () => [randn([4]), randn([4, 3])]],
  ["matmul transposed views", (a, b) => a.T.matmul(b.T), () => [randn([4, 3]), randn([2, 4])]],
  ["linear", (x, w, b) => tb.linear(x, w, b), () => [randn([3, 4]), randn([2, 4]), randn([2])]],
  ["conv2d stride/pad", (x, w) => tb.conv2d(x, w, { stride: 2, padding: 1 }), () => [randn([1, 2, 5, 5]), randn([3, 2, 3, 3])]],
  ["conv2d dilation/groups", (x, w, b) => tb.conv2d(x, w, { dilation: 2, groups: 2, bias: b, padding: "same" }), () => [randn([1, 4, 5, 5]), randn([2, 2, 2, 3]), randn([2])]],
  ["conv1d", (x, w) => tb.conv1d(x, w, { padding: 1 }), () => [randn([2, 2, 6]), randn([3, 2, 3])]],
  ["convTranspose2d", (x, w) => tb.convTranspose2d(x, w, { stride: 2, padding: 1, outputPadding: 1 }), () => [randn([1, 2, 3, 3]), randn([2, 3, 3, 3])]],
  ["maxPool2d", (x) => tb.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), () => [randn([1, 2, 5, 5])]],
  ["avgPool2d", (x) => tb.avgPool2d(x, { kernelSize: 2, stride: 1, padding: 1, countIncludePad: false }), () => [randn([1, 2, 4, 4])]],
  ["adaptiveAvgPool2d", (x) => tb.adaptiveAvgPool2d(x, [2, 3]), () => [randn([1, 2, 5, 4])]],
  ["softmax", (x) => tb.softmax(x, 0), () => [randn([4, 3], 2)]],
  ["logSoftmax", (x) => tb.logSoftmax(x, -1), () => [randn([3, 4], 2)]],
  ["crossEntropy labels", (x) => tb.crossEntropy(x, tb.tensor([0, 2, 1], { dtype: "int32" })), () => [randn([3, 4], 2)]],
  ["crossEntropy smoothing", (x) => tb.crossEntropy(x, tb.tensor([3, 2, 1], { dtype: "int32" }), { labelSmoothing: 0.1 }), () => [randn([3, 4], 2)]],
  ["crossEntropy probabilities", (x, p) => tb.crossEntropy(x, tb.softmax(p, 1)), () => [randn([3, 4], 2), randn([3, 4])]],
  ["nllLoss", (x) => tb.nllLoss(x, tb.tensor([1, 0], { dtype: "int32" })), () => [randn([2, 3])]],
  ["mseLoss", (a, b) => tb.mseLoss(a, b), () => [randn([3, 4]), randn([3, 4])]],
  ["bceWithLogits", (x, t) => tb.bceWithLogits(x, t.sigmoid(), { posWeight: 1.5 }), () => [randn([6], 3), randn([6])]],
  ["layerNorm", (x, w, b) => tb.layerNorm(x, 4, { weight: w, bias: b }), () => [randn([3, 4]), randn([4]), randn([4])], { atol: 5e-3 }],
  ["batchNorm train", (x, w) => tb.batchNorm(x, null, null, { weight: w, training: true }), () => [randn([4, 2, 3]), randn([2])], { atol: 5e-3 }],
  ["l1Loss", (a, b) => tb.l1Loss(a, b), () => [randn([3, 4]), randn([3, 4])]],
  ["hardtanh", (x) => tb.hardtanh(x), () => [tb.tensor([-3, -0.4, 0.2, 2.5])]],
  ["dot", (a, b) => tb.dot(a, b), () => [randn([5]), randn([5])]],
  ["dropout (fixed mask)", (x) => tb.dropout(x, 0.4, { generator: new tb.Generator(8) }), () => [randn([3, 4])]],
  ["chunk piece", (x) => x.chunk(2, 0)[1], () => [randn([5, 2])]],
  ["embedding", (w) => tb.embedding(tb.tensor([[1, 1], [0, 2]], { dtype: "int32" }), w), () => [randn([3, 2])]],
];

for (const [group, cases] of [["unary", unary], ["binary", binary], ["reductions", reductions], ["movement", movement], ["nn", nn]] as const) {
  describe(`gradients vs finite differences: ${group}`, () => {
    for (const [name, f, make, opt] of cases) it(name, () => gradCheck(f, make(), opt ?? {}, name));
  });
}

describe("autograd API", () => {
  it("backward accumulates into .grad of leaves; zeroGrad clears", () => {
    const x = tb.tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(x.grad!.tolist()).toEqual([2, 4, 6]);
    x.mul(3).sum().backward();
    expect(x.grad!.tolist()).toEqual([5, 7, 9]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });
  it("backward(grad) for non-scalar outputs, and its errors", () => {
    const x = tb.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(/backward: a gradient can be created implicitly only for one-element outputs, got \[2\]/);
    y.backward(tb.tensor([1, 10]));
    expect(x.grad!.tolist()).toEqual([2, 20]);
    expect(() => tb.tensor([1]).sum().backward()).toThrow(/does not require grad/);
    expect(() => tb.tensor([1], { dtype: "int32" }).requiresGrad_()).toThrow(/only float32 tensors can require grad/);
  });
  it("backward through a disposed input says which op needed it", () => {
    const w = tb.tensor([1, 2], { requiresGrad: true });
    const h = w.mul(3);
    const y = h.mul(h).sum();
    h.dispose();
    expect(() => y.backward()).toThrow(/backward: the gradient of mul \(output float32\[2\]\) needs a tensor that was disposed/);
  });
  it("detach and noGrad cut the tape", () => {
    const x = tb.tensor([1, 2], { requiresGrad: true });
    expect(x.mul(2).requiresGrad).toBe(true);
    expect(x.mul(2).detach().requiresGrad).toBe(false);
    expect(tb.noGrad(() => x.mul(2)).requiresGrad).toBe(false);
    const y = x.mul(x.detach()).sum();
    y.backward();
    expect(x.grad!.tolist()).toEqual([1, 2]);
  });
  it("shared subexpressions sum their gradients", () => {
    const x = tb.tensor([2], { requiresGrad: true });
    const a = x.mul(x);
    a.add(a).mul(a).sum().backward(); // 2 x^4 -> 8 x^3
    expect(x.grad!.item()).toBe(64);
  });
  it("grad and valueAndGrad over nested objects and arrays, with argnums", () => {
    const params = { w: tb.tensor([[1, 2], [3, 4]]), layers: [tb.tensor([1, -1])] };
    const x = tb.tensor([1, 1]);
    const f = (p: typeof params, inp: tb.Tensor) => p.w.matmul(inp).mul(p.layers[0]).sum();
    const g = tb.grad(f)(params, x);
    expect(g.w.tolist()).toEqual([[1, 1], [-1, -1]]);
    expect(g.layers[0].tolist()).toEqual([3, 7]);
    const [value, grads] = tb.valueAndGrad(f, [0, 1])(params, x);
    expect(value.item()).toBe(-4);
    expect((grads[1] as tb.Tensor).tolist()).toEqual([-2, -2]);
    // Inputs are not marked: grad works on plain tensors and leaves them untouched.
    expect(params.w.requiresGrad).toBe(false);
    expect(params.w.grad).toBeNull();
  });
  it("grad of an unused argument is zeros", () => {
    const g = tb.grad((a: tb.Tensor, _b: tb.Tensor) => a.sum(), 1)(tb.ones([2]), tb.ones([3]));
    expect(g.tolist()).toEqual([0, 0, 0]);
  });
  it("grad of grad: elementwise ops", () => {
    const f = (x: tb.Tensor) => x.pow(3).add(x.sin()).sum();
    const d2 = tb.grad((x: tb.Tensor) => tb.grad(f)(x).sum());
    const x = tb.tensor([0.5, -1, 2]);
    const got = d2(x).dataSync();
    [0.5, -1, 2].forEach((v, i) => expect(got[i]).toBeCloseTo(6 * v - Math.sin(v), 4));
    for (const [name, h] of [["tanh", tb.tanh], ["sigmoid", tb.sigmoid], ["exp", tb.exp], ["log", (t: tb.Tensor) => t.abs().add(1).log()], ["sqrt", (t: tb.Tensor) => t.abs().add(1).sqrt()], ["div", (t: tb.Tensor) => tb.div(1, t.abs().add(1))], ["gelu", (t: tb.Tensor) => tb.gelu(t)], ["softplus", (t: tb.Tensor) => tb.softplus(t)]] as const) {
      gradCheck((t) => tb.grad((u: tb.Tensor) => h(u).sum())(t), [randn([5])], {}, `grad of grad ${name}`);
    }
  });
  it("grad of grad: matmul", () => {
    const B = randn([3, 2]);
    const f = (A: tb.Tensor) => A.matmul(B).tanh().sum();
    gradCheck((A) => tb.grad(f)(A), [randn([2, 3])], {}, "grad of grad matmul");
    // Hessian-vector product of 0.5 ||A B||^2 in direction V is V B B^T.
    const A = randn([2, 3]);
    const V = randn([2, 3]);
    const hvp = tb.grad((a: tb.Tensor) => tb.grad((b: tb.Tensor) => b.matmul(B).square().sum().mul(0.5))(a).mul(V).sum())(A);
    const expected = V.matmul(B).matmul(B.T).dataSync();
    hvp.dataSync().forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
  });
  it("grad of grad: conv2d (each conv kernel's gradient is written with the other two)", () => {
    const w = randn([2, 2, 2, 2]);
    gradCheck((x) => tb.grad((u: tb.Tensor) => tb.conv2d(u, w, { stride: 2, padding: 1 }).tanh().sum())(x), [randn([1, 2, 4, 4])], {}, "d2 conv input");
    const x = randn([1, 2, 4, 4]);
    gradCheck((k) => tb.grad((u: tb.Tensor) => tb.conv2d(x, u, { padding: 1 }).tanh().sum())(k), [randn([2, 2, 3, 3], 0.5)], {}, "d2 conv weight");
  });
  it("backward with createGraph gives differentiable .grad", () => {
    const x = tb.tensor([1.5], { requiresGrad: true });
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    expect(g.item()).toBeCloseTo(6.75, 5);
    const d2 = tb.grad((t: tb.Tensor) => t.pow(3).sum())(x);
    expect(d2.requiresGrad).toBe(true);
  });
});

describe("grad mode", () => {
  it("noGrad holds across awaits and does not leak into concurrent work", async () => {
    const x = tb.ones([2], { requiresGrad: true });
    let inside: tb.Tensor | undefined;
    const p = tb.noGrad(async () => {
      await new Promise((r) => setTimeout(r, 5));
      inside = x.mul(2);
    });
    const outside = x.mul(2); // runs while the noGrad task is suspended
    await p;
    expect(inside!.requiresGrad).toBe(false);
    expect(outside.requiresGrad).toBe(true);
  });
});
