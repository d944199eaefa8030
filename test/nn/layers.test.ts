// Every layer's output against its functional op or NumPy, default initialisation bounds,
// initialiser statistics, batch norm's running statistics (eager and traced), and
// multi-head attention / the transformer encoder layer against a NumPy implementation.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { nn } from "../../src/index.js";
import { fn } from "../../src/graph/fn.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectClose, np } from "../helpers/numpy.js";

const npExec = (code: string, inputs: Record<string, Tensor>) => np(`[exec(${JSON.stringify(code)}, globals()), result][1]`, inputs);

describe("layers against NumPy", () => {
  it("Linear: x W^T + b", async () => {
    tb.seed(1);
    const l = new nn.Linear(5, 3);
    const x = tb.randn([2, 4, 5]);
    expectClose(l(x), await np("x @ W.T + b", { x, W: l.weight, b: l.bias! }), { rtol: 1e-5, atol: 1e-5 });
    const nb = new nn.Linear(5, 3, { bias: false });
    expect(nb.bias).toBeNull();
    expectClose(nb(x), await np("x @ W.T", { x, W: nb.weight }), { rtol: 1e-5, atol: 1e-5 });
  });

  it("Conv2d, ConvTranspose2d, pools and Flatten", async () => {
    tb.seed(2);
    const x = tb.randn([2, 4, 7, 7]);
    const c = new nn.Conv2d(4, 6, [3, 2], { stride: 2, padding: 1, groups: 2 });
    expect(c.weight.shape).toEqual([6, 2, 3, 2]);
    expectClose(c(x), await np("conv2d_ref(x, w, (2, 2), (1, 1), (1, 1), 2) + b.reshape(1, -1, 1, 1)", { x, w: c.weight, b: c.bias! }), { rtol: 1e-4, atol: 1e-4 });
    const t = new nn.ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 });
    expect(t.weight.shape).toEqual([4, 2, 3, 3]);
    expectClose(t(x), await np("conv_transpose2d_ref(x, w, (2, 2), (1, 1), (1, 1)) + b.reshape(1, -1, 1, 1)", { x, w: t.weight, b: t.bias! }), { rtol: 1e-4, atol: 1e-4 });
    expectClose(new nn.MaxPool2d(2)(x), await np("pool_ref(x, (2, 2), (2, 2), (0, 0), 'max')", { x }), { rtol: 1e-6, atol: 1e-6 });
    expectClose(new nn.AvgPool2d(3, { stride: 2, padding: 1 })(x), await np("pool_ref(x, (3, 3), (2, 2), (1, 1), 'avg')", { x }), { rtol: 1e-5, atol: 1e-5 });
    expect(new nn.Flatten()(x).shape).toEqual([2, 196]);
    expect(new nn.Flatten(2)(x).shape).toEqual([2, 4, 49]);
  });

  it("Conv1d and AdaptiveAvgPool2d", async () => {
    tb.seed(12);
    const c = new nn.Conv1d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
    expect(c.weight.shape).toEqual([6, 2, 3]);
    const x = tb.randn([2, 4, 9]);
    const ref = await np("conv2d_ref(x[:, :, None, :], w[:, :, None, :], (1, 2), (0, 1), (1, 1), 2)[:, :, 0, :] + b.reshape(1, -1, 1)", { x, w: c.weight, b: c.bias! });
    expectClose(c(x), ref, { rtol: 1e-4, atol: 1e-4 });
    expect(() => c(tb.ones([2, 3, 9]))).toThrow("Conv1d(4, 6): expected input [N, 4, L], got [2,3,9]");
    const img = tb.randn([2, 3, 7, 5]);
    expectClose(new nn.AdaptiveAvgPool2d([3, 2])(img), await np("adaptive_ref(x, 3, 2)", { x: img }), { rtol: 1e-5, atol: 1e-5 });
  });

  it("activations equal their functional ops", () => {
    tb.seed(3);
    const x = tb.randn([3, 5]);
    const pairs: [nn.Module, Tensor][] = [
      [new nn.ReLU(), tb.relu(x)],
      [new nn.GELU(), tb.gelu(x)],
      [new nn.GELU("tanh"), tb.gelu(x, { approximate: "tanh" })],
      [new nn.Tanh(), tb.tanh(x)],
      [new nn.Sigmoid(), tb.sigmoid(x)],
      [new nn.SiLU(), tb.silu(x)],
      [new nn.LeakyReLU(0.2), tb.leakyRelu(x, 0.2)],
      [new nn.ELU(0.5), tb.elu(x, 0.5)],
      [new nn.Softmax(0), tb.softmax(x, 0)],
      [new nn.LogSoftmax(), tb.logSoftmax(x, -1)],
      [new nn.Identity(), x],
    ];
    for (const [m, want] of pairs) expect(m(x).tolist(), m.constructor.name).toEqual(want.tolist());
  });

  it("LayerNorm and Embedding", async () => {
    tb.seed(4);
    const ln = new nn.LayerNorm([3, 4], { eps: 1e-3 });
    ln.weight!.assign(tb.randn([3, 4]));
    ln.bias!.assign(tb.randn([3, 4]));
    const x = tb.randn([2, 3, 4]);
    expectClose(
      ln(x),
      await np("(lambda m, v: (x - m) / np.sqrt(v + 1e-3) * w + b)(x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True))", { x, w: ln.weight!, b: ln.bias! }),
      { rtol: 1e-4, atol: 1e-5 },
    );
    const emb = new nn.Embedding(10, 3);
    const ids = tb.tensor([[1, 9], [0, 1]], { dtype: "int32" });
    expectClose(emb(ids), await np("W[i]", { W: emb.weight, i: ids }), { atol: 0 });
    expect(() => emb(tb.tensor([1.0]))).toThrow("ids must be int32");
  });

  it("BatchNorm: batch statistics in training, running ones (unbiased variance) in eval", async () => {
    tb.seed(5);
    const bn = new nn.BatchNorm2d(3, { momentum: 0.2 });
    const x = tb.randn([4, 3, 2, 2]).mul(3).add(1);
    const y = bn(x);
    expectClose(y, await np("(x - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(x.var((0, 2, 3), keepdims=True) + 1e-5)", { x }), { rtol: 1e-4, atol: 1e-4 });
    expectClose(bn.runningMean!, await np("0.2 * x.mean((0, 2, 3))", { x }), { rtol: 1e-5, atol: 1e-6 });
    expectClose(bn.runningVar!, await np("0.8 + 0.2 * x.var((0, 2, 3), ddof=1)", { x }), { rtol: 1e-5, atol: 1e-6 });
    expect(bn.numBatchesTracked!.item()).toBe(1);
    bn.eval();
    const z = tb.randn([2, 3, 2, 2]);
    expectClose(bn(z), await np("(z - m.reshape(1, -1, 1, 1)) / np.sqrt(v.reshape(1, -1, 1, 1) + 1e-5)", { z, m: bn.runningMean!, v: bn.runningVar! }), { rtol: 1e-4, atol: 1e-5 });
    expect(bn.numBatchesTracked!.item()).toBe(1);
    const bn1 = new nn.BatchNorm1d(2, { affine: false, trackRunningStats: false });
    expect(bn1.parameters()).toHaveLength(0);
    expect(bn1.buffers()).toHaveLength(0);
    bn1.eval();
    const u = tb.tensor([[1, 2], [3, 6]]);
    expectClose(bn1(u), await np("(u - u.mean(0)) / np.sqrt(u.var(0) + 1e-5)", { u }), { rtol: 1e-4, atol: 1e-5 });
  });

  it("BatchNorm updates its running statistics inside a compiled function too", () => {
    tb.seed(6);
    const eager = new nn.BatchNorm1d(4);
    const graph = new nn.BatchNorm1d(4);
    const f = fn((x: Tensor) => graph(x));
    for (let i = 0; i < 3; i++) {
      const x = tb.randn([5, 4]).add(i);
      expect(f(x).tolist()).toEqual(eager(x).tolist());
    }
    for (const k of ["runningMean", "runningVar", "numBatchesTracked"] as const) {
      const a = graph[k]!.dataSync();
      const b = eager[k]!.dataSync();
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    }
    expect(graph.numBatchesTracked!.item()).toBe(3);
  });
});

describe("initialisation", () => {
  const stats = (t: Tensor) => {
    const d = Array.from(t.dataSync());
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
    return { mean, std, min: Math.min(...d), max: Math.max(...d) };
  };

  it("Linear and Conv2d defaults: weights and biases in +-1/sqrt(fanIn), uniform", () => {
    tb.seed(7);
    const l = new nn.Linear(400, 300);
    const bound = 1 / Math.sqrt(400);
    const w = stats(l.weight);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeGreaterThan(bound * 0.99);
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 3); // uniform(-b, b) has std b / sqrt(3)
    expect(Math.abs(w.mean)).toBeLessThan(1e-3);
    const b = stats(l.bias!);
    expect(Math.max(Math.abs(b.min), Math.abs(b.max))).toBeLessThanOrEqual(bound);
    const c = new nn.Conv2d(8, 16, 3);
    const cb = 1 / Math.sqrt(8 * 9);
    expect(stats(c.weight).max).toBeLessThanOrEqual(cb);
    expect(stats(c.bias!).max).toBeLessThanOrEqual(cb);
    // Reproducible from tb.seed.
    tb.seed(7);
    expect(new nn.Linear(400, 300).weight.tolist()).toEqual(l.weight.tolist());
  });

  it("kaiming, xavier, normal, uniform, zeros and ones have the stated statistics", () => {
    const w = tb.variable(tb.zeros([500, 200]));
    const g = new tb.Generator(11);
    nn.init.kaimingNormal(w, { generator: g, nonlinearity: "relu" });
    expect(stats(w).std).toBeCloseTo(Math.sqrt(2 / 200), 3);
    nn.init.kaimingNormal(w, { generator: g, mode: "fanOut", nonlinearity: "relu" });
    expect(stats(w).std).toBeCloseTo(Math.sqrt(2 / 500), 3);
    nn.init.kaimingUniform(w, { generator: g, nonlinearity: "relu" });
    expect(stats(w).max).toBeLessThanOrEqual(Math.sqrt(6 / 200));
    expect(stats(w).std).toBeCloseTo(Math.sqrt(2 / 200), 3);
    nn.init.xavierUniform(w, { generator: g });
    expect(stats(w).std).toBeCloseTo(Math.sqrt(2 / 700), 3);
    expect(stats(w).max).toBeLessThanOrEqual(Math.sqrt(6 / 700));
    nn.init.xavierNormal(w, { generator: g, gain: 2 });
    expect(stats(w).std).toBeCloseTo(2 * Math.sqrt(2 / 700), 3);
    nn.init.normal(w, 3, 0.5, { generator: g });
    expect(stats(w).mean).toBeCloseTo(3, 2);
    expect(stats(w).std).toBeCloseTo(0.5, 2);
    nn.init.uniform(w, -2, 4, { generator: g });
    expect(stats(w).mean).toBeCloseTo(1, 1);
    expect(stats(w).min).toBeGreaterThanOrEqual(-2);
    nn.init.zeros(w);
    expect(stats(w).max).toBe(0);
    nn.init.ones(w);
    expect(stats(w).min).toBe(1);
    // The same generator seed gives the same weights.
    const a = nn.init.kaimingUniform(tb.variable(tb.zeros([3, 4])), { generator: new tb.Generator(5) });
    const b = nn.init.kaimingUniform(tb.variable(tb.zeros([3, 4])), { generator: new tb.Generator(5) });
    expect(a.tolist()).toEqual(b.tolist());
    expect(nn.init.calculateGain("tanh")).toBeCloseTo(5 / 3);
    expect(() => nn.init.xavierUniform(tb.variable(tb.zeros([4])))).toThrow("at least 2 axes, got [4]");
  });
});

const MHA_PY = `
def mha(q, k, v, W, b, Wo, bo, h, mask):
    N, L, E = q.shape; S = k.shape[1]; d = E // h
    def proj(x, i): return x @ W[i*E:(i+1)*E].T + b[i*E:(i+1)*E]
    def heads(x): return x.reshape(N, -1, h, d).transpose(0, 2, 1, 3)
    Q, K, V = heads(proj(q, 0)), heads(proj(k, 1)), heads(proj(v, 2))
    s = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(d)
    s = np.where(mask, -np.inf, s)
    a = np.exp(s - s.max(-1, keepdims=True)); a = a / a.sum(-1, keepdims=True)
    o = (a @ V).transpose(0, 2, 1, 3).reshape(N, L, E)
    return o @ Wo.T + bo, a.mean(1)
def ln(x, w, b): return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b
`;

describe("attention", () => {
  it("MultiheadAttention (batch first, causal and padding masks) against NumPy", async () => {
    tb.seed(8);
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    tb.nn.init.normal(mha.inProjBias!, 0, 0.1);
    const x = tb.randn([2, 5, 8]);
    const mem = tb.randn([2, 3, 8]);
    const W = { W: mha.inProjWeight, b: mha.inProjBias!, Wo: mha.outProj.weight, bo: mha.outProj.bias! };
    const [out, weights] = mha(x, x, x, { isCausal: true });
    const ref = await npExec(MHA_PY + "result = np.concatenate([r.reshape(-1) for r in mha(x, x, x, W, b, Wo, bo, 2, np.triu(np.ones((5, 5), bool), 1))])", { x, ...W });
    expectClose(tb.concat([out.reshape([-1]), weights!.reshape([-1])]), ref, { rtol: 1e-4, atol: 1e-5 });
    const pad = tb.tensor([[false, false, true], [false, false, false]], { dtype: "bool" });
    const [o2] = mha(x, mem, mem, { keyPaddingMask: pad, needWeights: false });
    const ref2 = await npExec(MHA_PY + "result = mha(x, m, m, W, b, Wo, bo, 2, p[:, None, None, :])[0]", { x, m: mem, p: pad, ...W });
    expectClose(o2, ref2, { rtol: 1e-4, atol: 1e-5 });
    // Sequence-first layout gives the same numbers transposed.
    const seqFirst = new nn.MultiheadAttention(8, 2);
    seqFirst.loadStateDict(mha.stateDict());
    const [o3] = seqFirst(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), { isCausal: true });
    expectClose(o3.transpose(0, 1).contiguous(), { ...ref, data: ref.data.slice(0, 2 * 5 * 8), shape: [2, 5, 8] }, { rtol: 1e-4, atol: 1e-5 });
    expect(() => new nn.MultiheadAttention(6, 4)).toThrow("embedDim (6) must be divisible by numHeads (4)");
    expect(() => mha(x, x, x, { attnMask: tb.ones([4, 4], { dtype: "bool" }) })).toThrow("attnMask must have shape [5, 5] or [4, 5, 5], got [4,4]");
  });

  it("TransformerEncoderLayer (post-norm and pre-norm, gelu) against NumPy; a causal model's early outputs ignore later tokens", async () => {
    for (const normFirst of [false, true]) {
      tb.seed(9);
      const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true, normFirst, activation: "gelu" });
      nn.init.normal(layer.norm1.weight!, 1, 0.2);
      nn.init.normal(layer.norm2.bias!, 0, 0.2);
      const x = tb.randn([2, 4, 8]);
      const p = Object.fromEntries(layer.namedParameters().map(([k, v]) => [k.replace(/\./g, "_"), v as Tensor]));
      const ref = await npExec(
        MHA_PY +
          `
gelu = lambda z: 0.5 * z * (1 + erf(z / math.sqrt(2)))
sa = lambda z: mha(z, z, z, selfAttn_inProjWeight, selfAttn_inProjBias, selfAttn_outProj_weight, selfAttn_outProj_bias, 2, np.triu(np.ones((4, 4), bool), 1))[0]
ff = lambda z: gelu(z @ linear1_weight.T + linear1_bias) @ linear2_weight.T + linear2_bias
n1 = lambda z: ln(z, norm1_weight, norm1_bias)
n2 = lambda z: ln(z, norm2_weight, norm2_bias)
if ${normFirst ? "True" : "False"}:
    y = x + sa(n1(x)); y = y + ff(n2(y))
else:
    y = n1(x + sa(x)); y = n2(y + ff(y))
result = y`,
        { x, ...p },
      );
      expectClose(layer(x, { isCausal: true }), ref, { rtol: 1e-4, atol: 1e-4 });
      const changed = tb.concat([x.narrow(1, 0, 3), tb.randn([2, 1, 8])], 1);
      expectClose(layer(changed, { isCausal: true }).narrow(1, 0, 3).contiguous(), { ...ref, data: ref.data.filter((_v, i) => Math.floor(i / 8) % 4 < 3), shape: [2, 3, 8] }, { rtol: 1e-4, atol: 1e-4 });
    }
  });
});
