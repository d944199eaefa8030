// Golden fixture modules.json (PyTorch 2.13, written by test/golden/generate.py): every
// tb.nn module built with PyTorch's weights (its state dict through fromPytorchNames and
// loadStateDict), then a sequence of calls in train or eval mode, each checked for its
// outputs, the gradients of PyTorch's cotangent with respect to the inputs and every
// parameter, and the buffers after the call (batch norm's running statistics and count).
// Each case runs on both backends, eagerly (backward into .grad) and as one tb.fn per call
// (backward() inside the compiled function, which returns the gradients).
//
// Tolerance: 8 ulp + 16 eps sqrt(n) S for outputs and 16 ulp + 32 eps sqrt(n) S for
// gradients, S the largest |value| in the row (the last axis), n the size of the largest
// input or parameter; buffers as outputs; integer buffers exactly.

import { beforeAll, describe, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { assertNoMismatch, backends, compare, decode, type FixtureValue, loadFixture, type TensorRecord, toTensor, type Tolerance } from "./golden.js";

interface ModuleCall {
  train: boolean;
  inputs: TensorRecord[];
  diff: number[];
  options: FixtureValue;
  out: (TensorRecord | null)[];
  cotangents: (TensorRecord | null)[];
  inputGrads: TensorRecord[];
  paramGrads: Record<string, TensorRecord>;
  buffersAfter: Record<string, TensorRecord>;
}

interface ModuleCase {
  name: string;
  module: string;
  args: FixtureValue[];
  options: FixtureValue;
  state: Record<string, TensorRecord>;
  calls: ModuleCall[];
}

type AnyCallable = tb.nn.Module<never[], unknown> & ((...args: unknown[]) => unknown);
type O = Record<string, never>;
const n = (v: unknown): number => v as number;

/** Each fixture module name: its tensorbook constructor, from decoded args and options. */
const MODULES: Record<string, (a: unknown[], o: O) => unknown> = {
  Linear: (a, o) => new tb.nn.Linear(n(a[0]), n(a[1]), o),
  Conv1d: (a, o) => new tb.nn.Conv1d(n(a[0]), n(a[1]), n(a[2]), o),
  Conv2d: (a, o) => new tb.nn.Conv2d(n(a[0]), n(a[1]), a[2] as number, o),
  ConvTranspose2d: (a, o) => new tb.nn.ConvTranspose2d(n(a[0]), n(a[1]), a[2] as number, o),
  MaxPool2d: (a, o) => new tb.nn.MaxPool2d(a[0] as number, o),
  AvgPool2d: (a, o) => new tb.nn.AvgPool2d(a[0] as number, o),
  AdaptiveAvgPool2d: (a) => new tb.nn.AdaptiveAvgPool2d(a[0] as [number, number]),
  Flatten: () => new tb.nn.Flatten(),
  Dropout: (a) => new tb.nn.Dropout(n(a[0])),
  ReLU: () => new tb.nn.ReLU(), Tanh: () => new tb.nn.Tanh(), Sigmoid: () => new tb.nn.Sigmoid(), SiLU: () => new tb.nn.SiLU(),
  Identity: () => new tb.nn.Identity(),
  GELU: (a) => new tb.nn.GELU(a[0] as "tanh"),
  LeakyReLU: (a) => new tb.nn.LeakyReLU(n(a[0])),
  ELU: (a) => new tb.nn.ELU(n(a[0])),
  Softmax: (a) => new tb.nn.Softmax(n(a[0])),
  LogSoftmax: (a) => new tb.nn.LogSoftmax(n(a[0])),
  LayerNorm: (a, o) => new tb.nn.LayerNorm(a[0] as number, o),
  Embedding: (a) => new tb.nn.Embedding(n(a[0]), n(a[1])),
  MLP: () => new tb.nn.Sequential(new tb.nn.Linear(4, 8), new tb.nn.ReLU(), new tb.nn.Linear(8, 3)),
  BatchNorm1d: (a, o) => new tb.nn.BatchNorm1d(n(a[0]), o),
  BatchNorm2d: (a, o) => new tb.nn.BatchNorm2d(n(a[0]), o),
  MultiheadAttention: (a, o) => new tb.nn.MultiheadAttention(n(a[0]), n(a[1]), o),
  TransformerEncoderLayer: (a, o) => new tb.nn.TransformerEncoderLayer(n(a[0]), n(a[1]), o),
  CrossEntropyLoss: (a) => new tb.nn.CrossEntropyLoss(a[0] as O),
  NLLLoss: (a) => new tb.nn.NLLLoss(a[0] as O),
  MSELoss: (a) => new tb.nn.MSELoss(a[0] as O),
  L1Loss: (a) => new tb.nn.L1Loss(a[0] as O),
  BCEWithLogitsLoss: (a) => new tb.nn.BCEWithLogitsLoss(a[0] as O),
};

const FWD: Tolerance = { ulps: 8, scaled: 16 };
const GRAD: Tolerance = { ulps: 16, scaled: 32 };

/** The module with PyTorch's state loaded (names through fromPytorchNames). */
function build(c: ModuleCase): AnyCallable {
  const make = MODULES[c.module];
  if (!make) throw new Error(`golden: no tensorbook module for fixture module "${c.module}" (add it to MODULES)`);
  const m = make(decode(c.args as FixtureValue) as unknown[], decode(c.options) as O) as AnyCallable;
  const state = Object.fromEntries(Object.entries(c.state).map(([k, r]) => [k, toTensor(r)]));
  m.loadStateDict(tb.nn.fromPytorchNames(state));
  return m;
}

const listify = (r: unknown): (Tensor | null)[] => (Array.isArray(r) ? (r as (Tensor | null)[]) : [r as Tensor]);

function callArgs(inputs: Tensor[], options: unknown): unknown[] {
  const hasOptions = options !== null && typeof options === "object" && Object.keys(options).length > 0;
  return hasOptions ? [...inputs, options] : inputs;
}

/** The accumulation bound n: the largest input or parameter. */
function sizeBound(m: AnyCallable, inputs: Tensor[]): number {
  return Math.max(1, ...inputs.map((t) => t.size), ...m.parameters().map((p) => p.size));
}

function checkCall(m: AnyCallable, call: ModuleCall, outs: (Tensor | null)[], inputGrads: (Tensor | null)[], paramGrads: Map<string, Tensor | null>, inputs: Tensor[]): string[] {
  const errs: string[] = [];
  const bound = sizeBound(m, inputs);
  if (outs.length !== call.out.length) return [`${call.out.length} outputs expected, got ${outs.length}`];
  call.out.forEach((w, j) => {
    if (w === null) {
      if (outs[j] !== null) errs.push(`output ${j}: expected null (PyTorch returns None), got a tensor`);
    } else errs.push(...compare(`output ${j}`, outs[j], w, { tol: FWD, n: bound }));
  });
  call.inputGrads.forEach((w, k) => errs.push(...compare(`gradient of input ${call.diff[k]}`, inputGrads[k] ?? tb.zeros(w.shape), w, { tol: GRAD, n: bound })));
  const wantGrads = tb.nn.fromPytorchNames(Object.fromEntries(Object.entries(call.paramGrads).map(([k, r]) => [k, r as unknown as Tensor])));
  for (const [name, w] of Object.entries(wantGrads) as unknown as [string, TensorRecord][]) {
    if (!paramGrads.has(name)) errs.push(`parameter ${name}: PyTorch has it, tensorbook's module does not`);
    else errs.push(...compare(`gradient of ${name}`, paramGrads.get(name) ?? tb.zeros(w.shape), w, { tol: GRAD, n: bound }));
  }
  const buffers = new Map(m.namedBuffers());
  const wantBuffers = tb.nn.fromPytorchNames(Object.fromEntries(Object.entries(call.buffersAfter).map(([k, r]) => [k, r as unknown as Tensor])));
  for (const [name, w] of Object.entries(wantBuffers) as unknown as [string, TensorRecord][]) {
    errs.push(...compare(`buffer ${name} after the call`, buffers.get(name) ?? null, w, { tol: FWD, n: bound }));
  }
  return errs;
}

function lossOf(outs: (Tensor | null)[], cts: (Tensor | null)[]): Tensor {
  return outs.map((o, j) => (o && cts[j] ? tb.sum(tb.mul(o, cts[j]!)) : null)).filter((v): v is Tensor => v !== null).reduce((s, v) => tb.add(s, v));
}

function runEager(c: ModuleCase): void {
  const m = build(c);
  c.calls.forEach((call, i) => {
    m.train(call.train);
    m.zeroGrad();
    const inputs = call.inputs.map(toTensor);
    for (const k of call.diff) inputs[k]!.requiresGrad_(true);
    const outs = listify(m(...callArgs(inputs, decode(call.options))));
    const loss = lossOf(outs, call.cotangents.map((r) => (r ? toTensor(r) : null)));
    if (loss.requiresGrad) loss.backward();
    const paramGrads = new Map(m.namedParameters().map(([k, p]) => [k, p.grad] as const));
    assertNoMismatch(`${c.module}: ${c.name}, call ${i} (${call.train ? "train" : "eval"}, eager)`,
      checkCall(m, call, outs, call.diff.map((k) => inputs[k]!.grad), paramGrads, inputs));
  });
}

function runCompiled(c: ModuleCase): void {
  const m = build(c);
  c.calls.forEach((call, i) => {
    m.train(call.train);
    const names = m.namedParameters().map(([k]) => k);
    // Inputs, cotangents and call options (masks) are arguments; the parameters are the
    // module's Variables, whose .grad backward() sets inside the compiled function.
    const step = tb.fn((xs: Tensor[], cts: (Tensor | null)[], options: unknown) => {
      m.zeroGrad();
      const full = xs.map((x, k) => (call.diff.includes(k) ? x.detach().requiresGrad_(true) : x));
      const outs = listify(m(...callArgs(full, options)));
      const loss = lossOf(outs, cts);
      if (loss.requiresGrad) loss.backward();
      return { outs, gx: call.diff.map((k) => full[k]!.grad), gp: m.parameters().map((p) => p.grad) };
    });
    const inputs = call.inputs.map(toTensor);
    const r = step(inputs, call.cotangents.map((ct) => (ct ? toTensor(ct) : null)), decode(call.options));
    const paramGrads = new Map(names.map((k, j) => [k, r.gp[j] ?? null] as const));
    assertNoMismatch(`${c.module}: ${c.name}, call ${i} (${call.train ? "train" : "eval"}, tb.fn)`, checkCall(m, call, r.outs, r.gx, paramGrads, inputs));
  });
}

const { cases } = loadFixture<{ cases: ModuleCase[] }>("modules.json");
for (const [name, backend] of backends) {
  describe(`modules.json on ${name}`, () => {
    beforeAll(() => tb.setBackend(backend));
    for (const c of cases) {
      it(`${c.name} eager`, () => runEager(c));
      it(`${c.name} tb.fn`, () => runCompiled(c));
    }
  });
}
