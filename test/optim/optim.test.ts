// tb.optim against independent NumPy implementations of PyTorch's update equations: steps
// of every optimizer on known gradients, param groups, state dict round trips, schedulers'
// rate sequences, gradient clipping, and traced+compiled training steps (tb.fn with
// opt.minimize) matching eager steps.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { nn, optim } from "../../src/index.js";
import { fn, trace } from "../../src/graph/fn.js";
import { Variable } from "../../src/graph/variable.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectClose, np } from "../helpers/numpy.js";
import { expectTensorsClose } from "../helpers/close.js";

/** Runs Python statements with the inputs bound; the value of `result` comes back. */
const npExec = (code: string, inputs: Record<string, Tensor>) => np(`[exec(${JSON.stringify(code)}, globals()), result][1]`, inputs);

const close = expectTensorsClose;

/** p0 [3, 4] and K gradients stacked as G [K, 3, 4]. */
function problem(seed: number, K: number) {
  tb.seed(seed);
  return { p0: tb.randn([3, 4]), G: tb.randn([K, 3, 4]) };
}

/** Applies the K gradients through `make`'s optimizer and returns the final parameter. */
function run(p0: Tensor, G: Tensor, make: (p: Variable) => optim.Optimizer<{ lr: number }>): Variable {
  const p = new Variable(p0);
  const opt = make(p);
  for (let k = 0; k < G.shape[0]!; k++) {
    p.grad = G.index(k).contiguous();
    opt.step();
  }
  return p;
}

// PyTorch's equations, written out plainly (float64).
const PY = {
  sgd: `
p = p0.astype(np.float64); buf = None
for k in range(G.shape[0]):
    g = G[k].astype(np.float64) + wd * p
    if mom != 0:
        buf = g.copy() if buf is None else mom * buf + (1 - damp) * g
        g = g + mom * buf if nest else buf
    p = p - lr * g
result = p`,
  adam: `
p = p0.astype(np.float64); m = np.zeros_like(p); v = np.zeros_like(p); vmax = np.zeros_like(p)
for k in range(G.shape[0]):
    t = k + 1
    g = G[k].astype(np.float64)
    if decoupled: p = p * (1 - lr * wd)
    else: g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    vmax = np.maximum(vmax, v)
    vv = vmax if ams else v
    p = p - (lr / (1 - b1 ** t)) * m / (np.sqrt(vv) / math.sqrt(1 - b2 ** t) + eps)
result = p`,
  rmsprop: `
p = p0.astype(np.float64); sq = np.zeros_like(p); ga = np.zeros_like(p); buf = np.zeros_like(p)
for k in range(G.shape[0]):
    g = G[k].astype(np.float64) + wd * p
    sq = alpha * sq + (1 - alpha) * g * g
    if centered:
        ga = alpha * ga + (1 - alpha) * g
        avg = np.sqrt(sq - ga * ga) + eps
    else:
        avg = np.sqrt(sq) + eps
    if mom > 0:
        buf = mom * buf + g / avg
        p = p - lr * buf
    else:
        p = p - lr * g / avg
result = p`,
  adagrad: `
p = p0.astype(np.float64); s = np.full_like(p, init)
for k in range(G.shape[0]):
    t = k + 1
    g = G[k].astype(np.float64) + wd * p
    clr = lr / (1 + (t - 1) * decay)
    s = s + g * g
    p = p - clr * g / (np.sqrt(s) + eps)
result = p`,
};

const py = (code: string, vars: Record<string, number | boolean>) =>
  Object.entries(vars).map(([k, v]) => `${k} = ${typeof v === "boolean" ? (v ? "True" : "False") : v}`).join("\n") + code;

describe("optimizers against NumPy", () => {
  const sgdCases = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0.1, nesterov: true },
  ];
  it.each(sgdCases)("SGD %o: one step and four steps", async (o) => {
    for (const K of [1, 4]) {
      const { p0, G } = problem(K, K);
      const p = run(p0, G, (v) => new optim.SGD([v], o));
      const ref = await npExec(py(PY.sgd, { lr: o.lr, mom: o.momentum, damp: o.dampening, wd: o.weightDecay, nest: o.nesterov }), { p0, G });
      expectClose(p, ref, { rtol: 1e-5, atol: 1e-6 });
    }
  });

  const adamCases: [string, optim.AdamInput, boolean][] = [
    ["Adam", { lr: 1e-2 }, false],
    ["Adam", { lr: 3e-2, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 }, false],
    ["Adam", { lr: 1e-2, amsgrad: true }, false],
    ["AdamW", { lr: 1e-2 }, true],
    ["AdamW", { lr: 5e-2, weightDecay: 0.2, betas: [0.85, 0.99] }, true],
  ];
  it.each(adamCases)("%s %o over 1 and 6 steps", async (kind, o, decoupled) => {
    for (const K of [1, 6]) {
      const { p0, G } = problem(10 + K, K);
      const p = run(p0, G, (v) => (kind === "Adam" ? new optim.Adam([v], o) : new optim.AdamW([v], o)));
      const [b1, b2] = o.betas ?? [0.9, 0.999];
      const wd = o.weightDecay ?? (decoupled ? 0.01 : 0);
      const ref = await npExec(py(PY.adam, { lr: o.lr!, b1, b2, eps: o.eps ?? 1e-8, wd, decoupled, ams: o.amsgrad ?? false }), { p0, G });
      expectClose(p, ref, { rtol: 1e-4, atol: 1e-5 });
    }
  });

  const rmsCases = [
    { lr: 1e-2 },
    { lr: 1e-2, momentum: 0.9 },
    { lr: 5e-3, centered: true, weightDecay: 0.05, alpha: 0.9 },
    { lr: 5e-3, centered: true, momentum: 0.5, eps: 1e-6 },
  ];
  it.each(rmsCases)("RMSprop %o", async (o) => {
    for (const K of [1, 5]) {
      const { p0, G } = problem(20 + K, K);
      const p = run(p0, G, (v) => new optim.RMSprop([v], o));
      const ref = await npExec(
        py(PY.rmsprop, { lr: o.lr, alpha: o.alpha ?? 0.99, eps: o.eps ?? 1e-8, wd: o.weightDecay ?? 0, mom: o.momentum ?? 0, centered: o.centered ?? false }),
        { p0, G },
      );
      expectClose(p, ref, { rtol: 1e-4, atol: 1e-5 });
    }
  });

  const adagradCases = [{ lr: 1e-1 }, { lr: 1e-1, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.5 }];
  it.each(adagradCases)("Adagrad %o", async (o) => {
    for (const K of [1, 5]) {
      const { p0, G } = problem(30 + K, K);
      const p = run(p0, G, (v) => new optim.Adagrad([v], o));
      const ref = await npExec(py(PY.adagrad, { lr: o.lr, decay: o.lrDecay ?? 0, wd: o.weightDecay ?? 0, init: o.initialAccumulatorValue ?? 0, eps: 1e-10 }), { p0, G });
      expectClose(p, ref, { rtol: 1e-5, atol: 1e-6 });
    }
  });

  it("SGD by hand: p - lr g, and the first momentum step takes the undamped gradient", () => {
    const p = new Variable(tb.tensor([1, 2]));
    const opt = new optim.SGD([p], { lr: 0.5, momentum: 0.9, dampening: 0.5 });
    p.grad = tb.tensor([2, -2]);
    opt.step();
    expect(p.tolist()).toEqual([0, 3]);
    p.grad = tb.tensor([2, -2]);
    opt.step(); // buf = 0.9 * [2,-2] + 0.5 * [2,-2] = [2.8,-2.8]
    close(p, tb.tensor([-1.4, 4.4]));
  });
});

describe("optimizer API", () => {
  it("param groups take their own hyperparameters; parameters without gradients are skipped", () => {
    const a = new Variable(tb.tensor([1, 1]));
    const b = new Variable(tb.tensor([1, 1]));
    const c = new Variable(tb.tensor([1]));
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.5 }, { params: [c] }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5, 0.1]);
    a.grad = tb.ones([2]);
    b.grad = tb.ones([2]);
    opt.step();
    close(a, tb.tensor([0.9, 0.9]));
    close(b, tb.tensor([0.5, 0.5]));
    expect(c.tolist()).toEqual([1]);
    opt.paramGroups[0]!.lr = 1;
    expect(opt.paramGroups[0]!.lrVar.item()).toBe(1);
    opt.zeroGrad();
    expect([a.grad, b.grad]).toEqual([null, null]);
    expect(() => new optim.SGD([], { lr: 1 })).toThrow("empty parameter list");
    expect(() => new optim.SGD([a, a], { lr: 1 })).toThrow("appears more than once");
    expect(() => new optim.SGD([tb.ones([2]).requiresGrad_().mul(2)], { lr: 1 })).toThrow("must be a float32 leaf tensor (a parameter), not the result of an op");
  });

  it("unknown options are refused, naming them; Adam groups take betas as a pair", () => {
    const a = new Variable(tb.tensor([1, 1]));
    const b = new Variable(tb.tensor([1]));
    const loose = (o: object) => o as { lr: number };
    expect(() => new optim.SGD([a], loose({ lr: 0.1, weight_decay: 0.1 }))).toThrow('SGD: unknown option "weight_decay" (the options are lr, momentum, dampening, weightDecay, nesterov)');
    expect(() => new optim.AdamW([a], loose({ lr: 0.1, beta: 0.9 }))).toThrow('AdamW: unknown option "beta"');
    expect(() => new optim.RMSprop([a], loose({ decay: 0.9 }))).toThrow('RMSprop: unknown option "decay"');
    expect(() => new optim.Adagrad([a], loose({ lr_decay: 0.1 }))).toThrow('Adagrad: unknown option "lr_decay"');
    expect(() => new optim.SGD([{ params: [a] }, { params: [b], momentom: 0.9 } as never], { lr: 0.1 })).toThrow('SGD (parameter group 1): unknown option "momentom"');
    expect(() => new optim.SGD([a], loose({}))).toThrow("SGD: options.lr is required");
    const opt = new optim.Adam([{ params: [a] }, { params: [b], betas: [0.5, 0.8] }], { betas: [0.7, 0.9] });
    expect(opt.paramGroups.map((g) => [g.beta1, g.beta2])).toEqual([[0.7, 0.9], [0.5, 0.8]]);
    expect(() => new optim.NAdam([a], loose({ momentum_decay: 0.1 }))).toThrow('NAdam: unknown option "momentum_decay"');
    expect(() => new optim.RAdam([a], loose({ decoupled_weight_decay: true }))).toThrow('RAdam: unknown option "decoupled_weight_decay"');
    expect(() => new optim.Adamax([a], loose({ beta: 0.9 }))).toThrow('Adamax: unknown option "beta"');
    expect(() => new optim.Adadelta([a], loose({ lr: 1, weight_decay: 0.1 }))).toThrow('Adadelta: unknown option "weight_decay" (the options are lr, rho, eps, weightDecay)');
    const nadam = new optim.NAdam([{ params: [a] }, { params: [b], betas: [0.5, 0.8] }], { betas: [0.7, 0.9] });
    expect(nadam.paramGroups.map((g) => [g.beta1, g.beta2, g.lr, g.momentumDecay])).toEqual([[0.7, 0.9, 2e-3, 4e-3], [0.5, 0.8, 2e-3, 4e-3]]);
    expect(new optim.Adadelta([a]).defaults).toEqual({ lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0 });
  });

  it("LBFGS minimizes a quadratic through its closure and refuses unknown options", () => {
    const w = new Variable(tb.tensor([3, -2]));
    const opt = new optim.LBFGS([w], { maxIter: 10 });
    const target = tb.tensor([1, 0.5]);
    let calls = 0;
    const closure = () => {
      calls++;
      opt.zeroGrad();
      const loss = w.sub(target).square().mul(tb.tensor([1, 4])).sum();
      loss.backward();
      return loss;
    };
    expect(opt.step(closure).item()).toBe(29); // the first evaluation's loss
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(12); // maxEval = floor(10 * 5 / 4)
    opt.step(closure);
    [...(w.dataSync() as Float32Array)].forEach((v, i) => expect(v).toBeCloseTo([1, 0.5][i]!, 4));
    expect(() => new optim.LBFGS([w], { max_iter: 5 } as never)).toThrow('LBFGS: unknown option "max_iter"');
  });

  it("NAdam, RAdam, Adamax and Adadelta keep PyTorch's state keys", () => {
    const keys = (opt: { minimize(l: Tensor): Tensor; stateDict(): { state: Record<string, Record<string, Tensor>> } }, w: Variable) => {
      opt.minimize(w.mul(w).sum());
      return Object.keys(opt.stateDict().state["0"]!).sort();
    };
    const w = () => new Variable(tb.tensor([1, 2]));
    let v = w();
    expect(keys(new optim.NAdam([v]), v)).toEqual(["exp_avg", "exp_avg_sq", "mu_product", "step"]);
    v = w();
    expect(keys(new optim.RAdam([v]), v)).toEqual(["exp_avg", "exp_avg_sq", "step"]);
    v = w();
    expect(keys(new optim.Adamax([v]), v)).toEqual(["exp_avg", "exp_inf", "step"]);
    v = w();
    expect(keys(new optim.Adadelta([v]), v)).toEqual(["acc_delta", "square_avg", "step"]);
  });

  it("minimize(loss) is zeroGrad, backward, step", () => {
    const w = new Variable(tb.tensor([3]));
    const opt = new optim.SGD([w], { lr: 0.25 });
    w.grad = tb.tensor([100]); // stale: minimize clears it
    const loss = opt.minimize(w.mul(w).sum()); // d/dw w^2 = 6
    expect(loss.item()).toBe(9);
    expect(w.tolist()).toEqual([1.5]);
  });

  it("state dicts restore the trajectory in a fresh optimizer and report mismatches", () => {
    const { p0, G } = problem(40, 6);
    const full = run(p0, G, (v) => new optim.Adam([v], { lr: 0.05 }));
    const p = new Variable(p0);
    const opt = new optim.Adam([p], { lr: 0.05 });
    for (let k = 0; k < 3; k++) {
      p.grad = G.index(k).contiguous();
      opt.step();
    }
    const sd = opt.stateDict();
    expect(Object.keys(sd.state["0"]!)).toEqual(["step", "exp_avg", "exp_avg_sq"]);
    expect(sd.paramGroups).toEqual([{ lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false, params: [0] }]);
    const q = new Variable(p.detach());
    const opt2 = new optim.Adam([q], { lr: 1 });
    opt2.loadStateDict(sd);
    expect(opt2.paramGroups[0]!.lr).toBe(0.05);
    for (let k = 3; k < 6; k++) {
      q.grad = G.index(k).contiguous();
      opt2.step();
    }
    close(q, full, 1e-6, 1e-7);
    const other = new optim.Adam([new Variable(tb.ones([2]))]);
    expect(() => other.loadStateDict(sd)).toThrow("state 0.exp_avg has shape [3,4], parameter 0 is [2]");
    expect(() => new optim.SGD([new Variable(tb.ones([2]))], { lr: 1 }).loadStateDict(sd)).toThrow("unexpected state keys exp_avg, exp_avg_sq");
  });
});

describe("schedulers", () => {
  const lrs = (s: optim.LRScheduler, n: number): number[] => {
    const out = [s.getLastLr()[0]!];
    for (let i = 1; i < n; i++) {
      s.step();
      out.push(s.getLastLr()[0]!);
    }
    return out;
  };
  const opt = (lr: number) => new optim.SGD([new Variable(tb.ones([1]))], { lr });
  const expectSeq = (got: number[], want: number[]) => {
    expect(got).toHaveLength(want.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
  };

  it("StepLR", () => {
    const o = opt(1);
    expectSeq(lrs(new optim.StepLR(o, 3, 0.5), 8), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
    expect(o.paramGroups[0]!.lrVar.item()).toBeCloseTo(0.25, 7);
  });

  it("CosineAnnealingLR matches PyTorch's recursive form", async () => {
    const got = lrs(new optim.CosineAnnealingLR(opt(0.1), 10, 0.001), 25);
    // torch.optim.lr_scheduler.CosineAnnealingLR.get_lr, step by step.
    const ref = await npExec(`
T = 10; lo = 0.001; base = 0.1; out = []
for e in range(25):
    if e == 0: out.append(base)
    elif (e - 1 - T) % (2 * T) == 0: out.append(out[-1] + (base - lo) * (1 - math.cos(math.pi / T)) / 2)
    else: out.append((1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (out[-1] - lo) + lo)
result = out`, {});
    expectSeq(got, ref.data);
  });

  it("LinearLR warm-up", () => {
    expectSeq(lrs(new optim.LinearLR(opt(0.3), { startFactor: 0.25, totalIters: 4 }), 7), [0.075, 0.13125, 0.1875, 0.24375, 0.3, 0.3, 0.3]);
    expectSeq(lrs(new optim.LinearLR(opt(1)), 7), [1 / 3, 1 / 3 + 2 / 15, 1 / 3 + 4 / 15, 1 / 3 + 6 / 15, 1 / 3 + 8 / 15, 1, 1]);
  });

  it("OneCycleLR (two and three phases, cos and linear)", async () => {
    const code = (three: boolean, cos: boolean) => `
total = 20; mx = 0.5; pct = 0.25; div = 10.0; fdiv = 100.0
init = mx / div; mn = init / fdiv
if ${three ? "True" : "False"}:
    ph = [(pct * total - 1, init, mx), (2 * pct * total - 2, mx, init), (total - 1, init, mn)]
else:
    ph = [(pct * total - 1, init, mx), (total - 1, mx, mn)]
def an(a, b, t):
    return b + (a - b) / 2.0 * (math.cos(math.pi * t) + 1) if ${cos ? "True" : "False"} else (b - a) * t + a
out = []
for s in range(total):
    st = 0
    for i, (e, a, b) in enumerate(ph):
        if s <= e or i == len(ph) - 1:
            out.append(an(a, b, (s - st) / (e - st))); break
        st = e
result = out`;
    for (const threePhase of [false, true]) {
      for (const annealStrategy of ["cos", "linear"] as const) {
        const s = new optim.OneCycleLR(opt(1), { maxLr: 0.5, totalSteps: 20, pctStart: 0.25, divFactor: 10, finalDivFactor: 100, threePhase, annealStrategy });
        const ref = await npExec(code(threePhase, annealStrategy === "cos"), {});
        expectSeq(lrs(s, 20), ref.data);
      }
    }
    // Momentum moves against the rate: 0.95 -> 0.85 while warming up, back to 0.95 after.
    const mcode = `
total = 20; pct = 0.25; lo = 0.85; hi = 0.95
ph = [(pct * total - 1, hi, lo), (total - 1, lo, hi)]
out = []
for s in range(total):
    st = 0
    for i, (e, a, b) in enumerate(ph):
        if s <= e or i == len(ph) - 1:
            out.append(b + (a - b) / 2.0 * (math.cos(math.pi * (s - st) / (e - st)) + 1)); break
        st = e
result = out`;
    const mref = await npExec(mcode, {});
    const sgd = new optim.SGD([new Variable(tb.ones([1]))], { lr: 1, momentum: 0.9 });
    const adam = new optim.Adam([new Variable(tb.ones([1]))]);
    const s1 = new optim.OneCycleLR(sgd, { maxLr: 0.5, totalSteps: 20, pctStart: 0.25 });
    const s2 = new optim.OneCycleLR(adam, { maxLr: 0.5, totalSteps: 20, pctStart: 0.25 });
    const m1 = [s1.getLastMomentum()[0]!];
    const m2 = [adam.paramGroups[0]!.beta1];
    for (let i = 1; i < 20; i++) {
      s1.step();
      s2.step();
      m1.push(sgd.paramGroups[0]!.momentum);
      m2.push(adam.paramGroups[0]!.beta1);
    }
    expectSeq(m1, mref.data);
    expectSeq(m2, mref.data);
    expect(adam.paramGroups[0]!.vars.beta1!.item()).toBeCloseTo(mref.data[19]!, 6);
    expect(() => new optim.OneCycleLR(new optim.Adagrad([new Variable(tb.ones([1]))]), { maxLr: 1, totalSteps: 5 })).toThrow("has no momentum or beta1 to cycle; pass { cycleMomentum: false }");
    const s = new optim.OneCycleLR(opt(1), { maxLr: 1, epochs: 1, stepsPerEpoch: 2 });
    s.step();
    s.step();
    expect(() => s.step()).toThrow("more than totalSteps (2)");
  });

  it("schedulers made one after another start from the optimizer's initial rates", () => {
    const o = opt(1);
    new optim.LinearLR(o, { startFactor: 0.5 });
    expect(o.paramGroups[0]!.lr).toBe(0.5);
    expect(new optim.ExponentialLR(o, 0.5).baseLrs).toEqual([1]);
  });

  it("SequentialLR checks its schedulers and restores its state", () => {
    const o = opt(1);
    const mk = () => [new optim.LinearLR(o, { startFactor: 0.5, totalIters: 2 }), new optim.ExponentialLR(o, 0.5)];
    expect(() => new optim.SequentialLR(o, mk(), [])).toThrow("one milestone fewer than schedulers");
    expect(() => new optim.SequentialLR(o, [new optim.StepLR(opt(1), 2)], [])).toThrow("scheduler 0 (StepLR) belongs to another optimizer");
    const plateau = new optim.ReduceLROnPlateau(o) as unknown as optim.LRScheduler;
    expect(() => new optim.SequentialLR(o, [plateau], [])).toThrow("ReduceLROnPlateau needs a metric");
    const a = new optim.SequentialLR(o, mk(), [3]);
    expectSeq(lrs(a, 6), [0.5, 0.75, 1, 1, 0.5, 0.25]);
    const saved = a.stateDict();
    const o2 = opt(1);
    const b = new optim.SequentialLR(o2, [new optim.LinearLR(o2, { startFactor: 0.5, totalIters: 2 }), new optim.ExponentialLR(o2, 0.5)], [3]);
    b.loadStateDict(saved);
    expect(o2.paramGroups[0]!.lr).toBeCloseTo(0.25, 12);
    b.step();
    expect(b.getLastLr()[0]).toBeCloseTo(0.125, 12);
  });

  it("ReduceLROnPlateau takes scalar tensors and refuses unknown options", () => {
    const o = opt(1);
    const s = new optim.ReduceLROnPlateau(o, { patience: 0, factor: 0.5 });
    s.step(tb.tensor(1));
    s.step(tb.tensor(2));
    expect(s.getLastLr()).toEqual([0.5]);
    expect(o.paramGroups[0]!.lrVar.item()).toBe(0.5);
    expect(() => new optim.ReduceLROnPlateau(o, { min_lr: 0.1 } as never)).toThrow('ReduceLROnPlateau: unknown option "min_lr"');
    expect(() => new optim.ReduceLROnPlateau(o, { factor: 1 })).toThrow("factor must be < 1");
    expect(() => new optim.PolynomialLR(o, { total_iters: 3 } as never)).toThrow('PolynomialLR: unknown option "total_iters"');
    expect(() => new optim.CosineAnnealingWarmRestarts(o, 0)).toThrow("t0 must be a positive integer");
  });
});

describe("gradient clipping", () => {
  it("clipGradNorm scales by maxNorm / total and returns the total norm", () => {
    const a = new Variable(tb.zeros([2]));
    const b = new Variable(tb.zeros([1]));
    a.grad = tb.tensor([3, 0]);
    b.grad = tb.tensor([4]);
    const total = optim.clipGradNorm([a, b], 1);
    expect(total.item()).toBeCloseTo(5, 6);
    close(a.grad!, tb.tensor([3 / (5 + 1e-6), 0]));
    close(b.grad!, tb.tensor([4 / (5 + 1e-6)]));
    // Below the limit gradients stay as they are.
    a.grad = tb.tensor([0.3, 0]);
    b.grad = tb.tensor([0.4]);
    expect(optim.clipGradNorm([a, b], 1).item()).toBeCloseTo(0.5, 6);
    close(a.grad!, tb.tensor([0.3, 0]));
    a.grad = tb.tensor([-7, 2]);
    expect(optim.clipGradNorm([a, b], 1, { normType: Infinity }).item()).toBeCloseTo(7, 6);
    close(a.grad!, tb.tensor([-1, 2 / 7]), 1e-5);
  });

  it("clipGradValue clamps elements", () => {
    const a = new Variable(tb.zeros([3]));
    a.grad = tb.tensor([-5, 0.5, 5]);
    optim.clipGradValue([a], 1);
    expect(a.grad!.tolist()).toEqual([-1, 0.5, 1]);
  });
});

describe("compiled training steps", () => {
  type Kind = "sgd" | "adam" | "adamw-amsgrad" | "rmsprop" | "adagrad";
  const setup = (kind: Kind, seed: number, clip = false) => {
    tb.seed(seed);
    const model = new nn.Sequential(new nn.Linear(6, 8), new nn.Tanh(), new nn.Linear(8, 3));
    const ps = model.parameters();
    const opt: optim.Optimizer<{ lr: number }> =
      kind === "sgd" ? new optim.SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: false })
      : kind === "adam" ? new optim.Adam(ps, { lr: 0.01 })
      : kind === "adamw-amsgrad" ? new optim.AdamW(ps, { lr: 0.01, amsgrad: true })
      : kind === "rmsprop" ? new optim.RMSprop(ps, { lr: 0.01, centered: true, momentum: 0.5 })
      : new optim.Adagrad(ps, { lr: 0.1, lrDecay: 0.05 });
    const step = (x: Tensor, y: Tensor) => {
      if (!clip) return opt.minimize(tb.crossEntropy(model(x), y));
      opt.zeroGrad();
      const loss = tb.crossEntropy(model(x), y);
      loss.backward();
      optim.clipGradNorm(ps, 0.5);
      opt.step();
      return loss;
    };
    return { model, opt, step };
  };

  it.each([["sgd", false], ["adam", false], ["adamw-amsgrad", true], ["rmsprop", false], ["adagrad", true]] as const)("%s (clipping: %s): tb.fn(step) matches eager steps over 6 calls, lr and momentum changes included", (kind, clip) => {
    tb.seed(50);
    const x = tb.randn([10, 6]);
    const y = tb.randint(0, 3, [10]);
    const eager = setup(kind, 7, clip);
    const graph = setup(kind, 7, clip);
    const compiled = fn(graph.step);
    // OneCycleLR changes the rate and the momentum (beta1) the compiled step reads.
    const sched = (o: optim.Optimizer<{ lr: number }>) => (kind === "adagrad" ? new optim.StepLR(o, 2, 0.5) : new optim.OneCycleLR(o, { maxLr: 0.05, totalSteps: 8 }));
    const sE = sched(eager.opt);
    const sG = sched(graph.opt);
    for (let i = 0; i < 6; i++) {
      const le = eager.step(x, y);
      const lg = compiled(x, y);
      close(lg, le, 1e-4, 1e-5);
      sE.step();
      sG.step();
    }
    expect(compiled.cacheSize).toBe(1);
    graph.model.parameters().forEach((p, i) => close(p, eager.model.parameters()[i]!, 1e-4, 1e-5));
    const ge = graph.opt.stateDict().state;
    const ee = eager.opt.stateDict().state;
    for (const k of Object.keys(ee)) for (const n of Object.keys(ee[k]!)) close(ge[k]![n]!, ee[k]![n]!, 1e-4, 1e-5);
  });

  it("the traced step tags update ops and names variables by module path", () => {
    const { step } = setup("adam", 8);
    const g = trace(step, tb.randn([4, 6]), tb.randint(0, 3, [4]));
    expect(g.ops.some((o) => o.phase === "update")).toBe(true);
    const names = g.variables.map((v) => v.name);
    expect(names).toContain("0.weight");
    expect(names).toContain("2.bias");
    // The rate and beta1 are read from variables, so schedulers reach compiled steps.
    expect(names).toContain("lr0");
    expect(names).toContain("beta10");
    expect(g.updates.length).toBe(4 * 4); // each parameter and its step, exp_avg, exp_avg_sq
  });
});
