// Golden fixture optim.json (PyTorch 2.13, written by test/golden/generate.py).
//
// Optimizers: a Linear(3, 5) - Tanh - Linear(5, 2) model with PyTorch's weights trained for
// 5 steps (RAdam 8, past its rectification threshold) on mean squared error, with optional
// parameter groups and gradient clipping; after each step the loss, the clipped norm and
// every parameter must match. Each case runs on both backends, eagerly and as a compiled
// training step (tb.fn of zeroGrad, backward, clip, step); LBFGS, whose step(closure)
// branches on values, eagerly only. Tolerance: 16 ulp + 32 eps S for parameters (S the
// largest |value| in the row) and 8 ulp + 16 eps sqrt(n) |loss| for the loss and the norm
// (n the number of terms summed); five steps compound each step's rounding.
//
// Schedulers: the rates after construction and after each step, for two parameter groups,
// and OneCycleLR's momenta (Adam's beta1); ReduceLROnPlateau steps with the fixture's
// metrics, SequentialLR runs the schedulers the fixture lists. Rates are doubles, compared
// to 1e-12 relatively.
// OneCycleLR must refuse to step past totalSteps, as PyTorch does.

import { beforeAll, describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { assertNoMismatch, backends, compare, fmt, loadFixture, type TensorRecord, toTensor, type Tolerance } from "./golden.js";

type Options = Record<string, number | boolean | number[]>;

interface OptimizerCase {
  name: string;
  optimizer: "SGD" | "Adam" | "AdamW" | "RMSprop" | "Adagrad" | "NAdam" | "RAdam" | "Adamax" | "Adadelta" | "LBFGS";
  options: Options;
  groups: Options[] | null;
  clip: { norm?: number; value?: number } | null;
  state: Record<string, TensorRecord>;
  x: TensorRecord;
  y: TensorRecord;
  losses: number[];
  totalNorms: number[];
  params: Record<string, TensorRecord>[];
}

interface SchedulerCase {
  name: string;
  scheduler: "StepLR" | "CosineAnnealingLR" | "LinearLR" | "LambdaLR" | "OneCycleLR" | "MultiStepLR" | "ExponentialLR" | "PolynomialLR"
    | "CosineAnnealingWarmRestarts" | "SequentialLR" | "ReduceLROnPlateau";
  /** SequentialLR: [[scheduler, args, options] of each, milestones]. */
  args: unknown[];
  options: Record<string, number | boolean | number[] | string>;
  optimizer: "SGD" | "Adam";
  optimizerOptions: Options;
  lrs: number[][];
  momenta?: number[][];
  stepsBeforeError?: number | null;
  /** ReduceLROnPlateau: the metric of each step. */
  metrics?: number[];
}

const PARAMS: Tolerance = { ulps: 16, scaled: 32 };
const SCALAR: Tolerance = { ulps: 8, scaled: 16 };

type AnyOptimizer = tb.optim.Optimizer<{ lr: number }>;

function makeOptimizer(kind: string, params: unknown, options: Options): AnyOptimizer {
  const o = options as never;
  const p = params as never;
  switch (kind) {
    case "SGD": return new tb.optim.SGD(p, o) as unknown as AnyOptimizer;
    case "Adam": return new tb.optim.Adam(p, o) as unknown as AnyOptimizer;
    case "AdamW": return new tb.optim.AdamW(p, o) as unknown as AnyOptimizer;
    case "RMSprop": return new tb.optim.RMSprop(p, o) as unknown as AnyOptimizer;
    case "Adagrad": return new tb.optim.Adagrad(p, o) as unknown as AnyOptimizer;
    case "NAdam": return new tb.optim.NAdam(p, o) as unknown as AnyOptimizer;
    case "RAdam": return new tb.optim.RAdam(p, o) as unknown as AnyOptimizer;
    case "Adamax": return new tb.optim.Adamax(p, o) as unknown as AnyOptimizer;
    case "Adadelta": return new tb.optim.Adadelta(p, o) as unknown as AnyOptimizer;
  }
  throw new Error(`golden: no tensorbook optimizer "${kind}"`);
}

function setup(c: OptimizerCase) {
  const model = new tb.nn.Sequential(new tb.nn.Linear(3, 5), new tb.nn.Tanh(), new tb.nn.Linear(5, 2));
  model.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, r]) => [k, toTensor(r)])));
  const params = c.groups
    ? [{ params: model[0]!.parameters(), ...c.groups[0]! }, { params: model[2]!.parameters(), ...c.groups[1]! }]
    : model.parameters();
  const opt = makeOptimizer(c.optimizer, params, c.options);
  /** One training step: the loss and, when clipping by norm, the total norm before it. */
  const step = (x: Tensor, y: Tensor): [Tensor, Tensor | null] => {
    opt.zeroGrad();
    const loss = tb.mseLoss(model(x), y);
    loss.backward();
    let norm: Tensor | null = null;
    if (c.clip?.norm !== undefined) norm = tb.optim.clipGradNorm(model.parameters(), c.clip.norm);
    if (c.clip?.value !== undefined) tb.optim.clipGradValue(model.parameters(), c.clip.value);
    opt.step();
    return [loss, norm];
  };
  return { model, step };
}

/** LBFGS: step(closure) evaluates the loss several times per step; eager only (its
 *  iterations branch on values, so it has no compiled step). */
function runLBFGS(c: OptimizerCase): void {
  const model = new tb.nn.Sequential(new tb.nn.Linear(3, 5), new tb.nn.Tanh(), new tb.nn.Linear(5, 2));
  model.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, r]) => [k, toTensor(r)])));
  const opt = new tb.optim.LBFGS(model.parameters(), c.options as Partial<tb.optim.LBFGSOptions>);
  const x = toTensor(c.x);
  const y = toTensor(c.y);
  const closure = () => {
    opt.zeroGrad();
    const loss = tb.mseLoss(model(x), y);
    loss.backward();
    return loss;
  };
  for (let s = 0; s < c.losses.length; s++) {
    const loss = opt.step(closure);
    const errs = scalarErrors("loss", loss, c.losses[s]!, x.shape[0]! * 2);
    const params = new Map(model.namedParameters());
    for (const [k, w] of Object.entries(c.params[s]!)) errs.push(...compare(`parameter ${k}`, params.get(k) ?? null, w, { tol: PARAMS, n: 1 }));
    assertNoMismatch(`LBFGS: ${c.name}, after step ${s + 1}`, errs);
  }
}

function scalarErrors(what: string, got: Tensor, want: number, n: number): string[] {
  const record: TensorRecord = { dtype: "float32", shape: [], data: Buffer.from(new Float32Array([want]).buffer).toString("base64") };
  return compare(what, got.reshape([]), record, { tol: SCALAR, n, scale: [Math.abs(want)] });
}

function runOptimizer(c: OptimizerCase, compiled: boolean): void {
  const { model, step } = setup(c);
  const run = compiled ? tb.fn(step) : step;
  const x = toTensor(c.x);
  const y = toTensor(c.y);
  const terms = x.shape[0]! * 2;
  for (let s = 0; s < c.losses.length; s++) {
    const [loss, norm] = run(x, y);
    const errs = scalarErrors("loss", loss, c.losses[s]!, terms);
    if (c.clip?.norm !== undefined) errs.push(...scalarErrors("total gradient norm", norm!, c.totalNorms[s]!, model.numParameters()));
    const params = new Map(model.namedParameters());
    for (const [k, w] of Object.entries(c.params[s]!)) errs.push(...compare(`parameter ${k}`, params.get(k) ?? null, w, { tol: PARAMS, n: 1 }));
    assertNoMismatch(`${c.optimizer}: ${c.name}, after step ${s + 1} (${compiled ? "tb.fn" : "eager"})`, errs);
  }
}

// LambdaLR's functions by name (golden_optim.py has the same table).
const LAMBDAS: Record<string, (e: number) => number> = {
  "0.9^e": (e) => 0.9 ** e,
  "1/(e+1)": (e) => 1 / (e + 1),
  warmup3: (e) => Math.min(1, (e + 1) / 3),
};

function makeScheduler(kind: SchedulerCase["scheduler"], a: unknown[], options: SchedulerCase["options"], opt: AnyOptimizer): tb.optim.LRScheduler | tb.optim.ReduceLROnPlateau {
  const n = (i: number) => a[i] as number;
  const o = options as never;
  switch (kind) {
    case "StepLR": return new tb.optim.StepLR(opt, n(0), a[1] as number | undefined);
    case "MultiStepLR": return new tb.optim.MultiStepLR(opt, a[0] as number[], a[1] as number | undefined);
    case "ExponentialLR": return new tb.optim.ExponentialLR(opt, n(0));
    case "PolynomialLR": return new tb.optim.PolynomialLR(opt, o);
    case "CosineAnnealingLR": return new tb.optim.CosineAnnealingLR(opt, n(0), a[1] as number | undefined);
    case "CosineAnnealingWarmRestarts": return new tb.optim.CosineAnnealingWarmRestarts(opt, n(0), a[1] as number | undefined, a[2] as number | undefined);
    case "LinearLR": return new tb.optim.LinearLR(opt, o);
    case "LambdaLR": return new tb.optim.LambdaLR(opt, LAMBDAS[a[0] as string]!);
    case "OneCycleLR": return new tb.optim.OneCycleLR(opt, o);
    case "ReduceLROnPlateau": return new tb.optim.ReduceLROnPlateau(opt, o);
    case "SequentialLR": {
      const specs = a[0] as [SchedulerCase["scheduler"], unknown[], SchedulerCase["options"]][];
      const subs = specs.map(([k, args, opts]) => makeScheduler(k, args, opts, opt) as tb.optim.LRScheduler);
      return new tb.optim.SequentialLR(opt, subs, a[1] as number[]);
    }
  }
}

function closeDoubles(what: string, got: number[], want: number[]): string[] {
  if (got.length !== want.length) return [`${what}: ${want.length} values expected, got ${got.length}`];
  return want.flatMap((w, i) => (Math.abs(got[i]! - w) <= 1e-12 * Math.abs(w) + 1e-15 ? [] : [`${what}[${i}]: expected ${fmt(w)}, got ${fmt(got[i]!)}`]));
}

function runScheduler(c: SchedulerCase): void {
  const opt = makeOptimizer(c.optimizer, [{ params: [tb.zeros([2]).requiresGrad_(true)] }, { params: [tb.zeros([3]).requiresGrad_(true)], lr: 0.02 }], c.optimizerOptions);
  const sched = makeScheduler(c.scheduler, c.args, c.options, opt);
  const momenta = () => (sched instanceof tb.optim.OneCycleLR ? sched.getLastMomentum() : []);
  const errs: string[] = [];
  for (let s = 0; s < c.lrs.length; s++) {
    if (s > 0) {
      if (sched instanceof tb.optim.ReduceLROnPlateau) sched.step(c.metrics![s - 1]!);
      else sched.step();
    }
    errs.push(...closeDoubles(`lr after ${s} steps`, sched.getLastLr(), c.lrs[s]!));
    errs.push(...closeDoubles(`group lr after ${s} steps`, opt.paramGroups.map((g) => g.lr), c.lrs[s]!));
    if (c.momenta) errs.push(...closeDoubles(`momentum after ${s} steps`, momenta(), c.momenta[s]!));
  }
  assertNoMismatch(`${c.scheduler}: ${c.name}`, errs);
  if (c.stepsBeforeError !== undefined && c.stepsBeforeError !== null) {
    expect(() => (sched as tb.optim.LRScheduler).step(), `${c.name}: PyTorch refuses step ${c.stepsBeforeError + 1}`).toThrow(/OneCycleLR/);
  }
}

const fixture = loadFixture<{ optimizers: OptimizerCase[]; schedulers: SchedulerCase[] }>("optim.json");
for (const [name, backend] of backends) {
  describe(`optim.json on ${name}`, () => {
    beforeAll(() => tb.setBackend(backend));
    for (const c of fixture.optimizers) {
      if (c.optimizer === "LBFGS") {
        it(`${c.name} eager`, () => runLBFGS(c));
        continue;
      }
      it(`${c.name} eager`, () => runOptimizer(c, false));
      it(`${c.name} tb.fn`, () => runOptimizer(c, true));
    }
    for (const c of fixture.schedulers) it(c.name, () => runScheduler(c));
  });
}

