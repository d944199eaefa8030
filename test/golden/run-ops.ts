// Replays the op fixtures (elementwise.json, shape-ops.json, nn-ops.json): every case on
// the wasm and the reference backend, each eagerly (forward, then backward of PyTorch's
// cotangent into the inputs' .grad) and through tb.fn (forward, and the vjp traced with
// tb.grad inside the compiled function). Every tensor reaches tb.fn as an argument.
//
// A case PyTorch refuses must throw, eagerly and (when the shapes alone decide it) at
// trace time, with a message that names the op. Failures list the op, the case, the
// backend and mode, and the first differing elements with the inputs there.

import { beforeAll, describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import {
  assertNoMismatch, backends, compare, decode, decodeArray, describeInputs, type FixtureValue, loadFixture, type TensorRecord, toTensor,
} from "./golden.js";
import { OPS, type Params, TOLERANCES } from "./ops.js";

/** One op case of a fixture (see generate.py and golden_common.op_case). */
export interface OpCase {
  name: string;
  op: string;
  params: FixtureValue;
  args: FixtureValue[];
  out?: TensorRecord[];
  diff?: number[];
  cotangents?: (TensorRecord | null)[];
  grads?: TensorRecord[];
  scales?: (TensorRecord | null)[];
  gradScales?: TensorRecord[];
  error?: string;
  errorKind?: "shape" | "value";
  noGrad?: string;
  note?: string;
  /** Arguments the op updates in place, also returned as outputs (batchNorm's running
   *  statistics): tb.fn gets them as tb.variable()s, read back after the call. */
  variables?: number[];
}

type Call = (args: unknown[]) => Tensor[];

function caller(c: OpCase): Call {
  const fn = OPS[c.op];
  if (!fn) throw new Error(`golden: no tensorbook op for fixture op "${c.op}" (add it to test/golden/ops.ts)`);
  const { transpose, ...params } = decode(c.params) as Params;
  return (args) => {
    const a = [...args];
    if (transpose) a[0] = tb.mT(a[0] as Tensor);
    const r = fn(a, params);
    return Array.isArray(r) ? r : [r];
  };
}

/** The size of the largest tensor argument: the bound n on accumulation lengths. */
function accumulation(args: readonly unknown[]): number {
  return Math.max(1, ...args.map((a) => (a instanceof tb.Tensor ? a.size : 1)));
}

function checkOutputs(c: OpCase, outs: Tensor[], args: unknown[]): string[] {
  const tol = TOLERANCES[c.op]!;
  const want = c.out!;
  if (outs.length !== want.length) return [`${want.length} outputs expected, got ${outs.length}`];
  const errs: string[] = [];
  want.forEach((w, j) => {
    let scale: ArrayLike<number> | null = c.scales?.[j] ? decodeArray(c.scales[j]!) : null;
    let fwd = tol.fwd;
    if (tol.elementwise) {
      // No accumulation: only the gelu-like |x| term, if any.
      const x = args[0] instanceof tb.Tensor ? (args[0] as Tensor).dataSync() : null;
      scale = x && x.length === decodeArray(w).length && tol.xScaled ? Array.from(x, (v) => Math.min(Math.abs(v), 16)) : new Float64Array(decodeArray(w).length);
      if (tol.xScaled) fwd = { ...fwd, scaled: 2 };
    }
    errs.push(...compare(`output ${j}`, outs[j], w, { tol: fwd, n: tol.elementwise ? 1 : accumulation(args), scale, at: describeInputs(args, w.shape) }));
  });
  return errs;
}

function checkGrads(c: OpCase, grads: (Tensor | null)[], args: unknown[]): string[] {
  const tol = TOLERANCES[c.op]!;
  const errs: string[] = [];
  const ct0 = c.cotangents!.find((r) => r !== null)!;
  c.grads!.forEach((w, k) => {
    const i = c.diff![k]!;
    let g = grads[k] ?? null;
    if (g === null) g = tb.zeros(w.shape); // no gradient reached the input: PyTorch's must be zero
    let tolG = tol.grad;
    let scale: ArrayLike<number> | null = c.gradScales ? decodeArray(c.gradScales[k]!) : null;
    const broadcast = JSON.stringify(w.shape) !== JSON.stringify(ct0.shape);
    if (tol.elementwise) {
      if (broadcast) tolG = { ulps: tolG.ulps + 1, scaled: 8 }; // the vjp sums over broadcast axes
      else if (tol.gradCancels) {
        const ct = decodeArray(ct0);
        const x = (args[i] as Tensor).dataSync();
        scale = Array.from(ct, (v, e) => Math.abs(v) * (1 + Math.min(Math.abs(x[e]!), 16)));
        tolG = { ...tolG, scaled: 4 };
      } else scale = new Float64Array(decodeArray(w).length);
    }
    const n = tol.elementwise && !broadcast ? 1 : accumulation(args);
    errs.push(...compare(`gradient of arg${i}`, g, w, { tol: tolG, n, scale, at: describeInputs(args, w.shape) }));
  });
  return errs;
}

function expectOpError(c: OpCase, run: () => unknown): void {
  let message = "";
  try {
    run();
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message, `${c.name}: PyTorch raises "${c.error}"; tensorbook must throw too`).not.toBe("");
  expect(message.toLowerCase(), `${c.name}: the error should name the op`).toContain(c.op.toLowerCase());
}

function runEager(c: OpCase): void {
  const call = caller(c);
  const args = decode(c.args as FixtureValue) as unknown[];
  if (c.error) return expectOpError(c, () => call(args).map((t) => t.dataSync()));
  for (const i of c.diff ?? []) (args[i] as Tensor).requiresGrad_(true);
  const outs = call(args);
  const errs = checkOutputs(c, outs, args);
  if (c.grads) {
    const cts = c.cotangents!.map((r) => (r ? toTensor(r) : null));
    const live = outs.map((o, j) => [o, cts[j]] as const).filter(([o, ct]) => ct !== null && o.requiresGrad);
    if (live.length === 1) live[0]![0].backward(live[0]![1]!);
    else if (live.length > 1) live.map(([o, ct]) => tb.sum(tb.mul(o, ct!))).reduce((s, v) => tb.add(s, v)).backward();
    errs.push(...checkGrads(c, c.diff!.map((i) => (args[i] as Tensor).grad), args));
  }
  assertNoMismatch(`${c.op}: ${c.name} (eager)`, errs);
}

function runCompiled(c: OpCase): void {
  const call = caller(c);
  const args = decode(c.args as FixtureValue) as unknown[];
  // State the op updates: variables, which the traced function reads as vertices.
  const state = new Map((c.variables ?? []).map((i) => [i, tb.variable(args[i] as Tensor, { requiresGrad: false })] as const));
  const tensorAt = args.map((a, i) => (a instanceof tb.Tensor && !state.has(i) ? i : -1)).filter((i) => i >= 0);
  const ts = tensorAt.map((i) => args[i] as Tensor);
  const rebuild = (xs: Tensor[]): unknown[] => args.map((a, i) => state.get(i) ?? (tensorAt.includes(i) ? xs[tensorAt.indexOf(i)] : a));
  // A variable the function returns comes back with its value before the call: the outputs
  // that are variables are read from them after it.
  let returned: (tb.Variable | null)[] = [];
  const fwd = tb.fn((xs: Tensor[]) => {
    const outs = call(rebuild(xs));
    returned = outs.map((o) => (o instanceof tb.Variable ? o : null));
    return outs.filter((o) => !(o instanceof tb.Variable));
  });
  const forward = (): Tensor[] => {
    const computed = fwd(ts);
    let k = 0;
    return returned.map((v) => v ?? computed[k++]!);
  };
  if (c.error) return expectOpError(c, () => forward().map((t) => t.dataSync()));
  const errs = checkOutputs(c, forward(), decode(c.args as FixtureValue) as unknown[]);
  if (c.grads) {
    const diffAt = c.diff!.map((i) => tensorAt.indexOf(i));
    const vjp = tb.fn((xs: Tensor[], cts: (Tensor | null)[]) =>
      tb.grad((d: Tensor[]) => {
        const full = [...xs];
        diffAt.forEach((k, j) => (full[k] = d[j]!));
        const outs = call(rebuild(full));
        return outs.map((o, j) => (cts[j] ? tb.sum(tb.mul(o, cts[j]!)) : null)).filter((v): v is Tensor => v !== null).reduce((s, v) => tb.add(s, v));
      })(diffAt.map((k) => xs[k]!)),
    );
    const grads = vjp(ts, c.cotangents!.map((r) => (r ? toTensor(r) : null))) as Tensor[];
    errs.push(...checkGrads(c, grads, decode(c.args as FixtureValue) as unknown[]));
  }
  assertNoMismatch(`${c.op}: ${c.name} (tb.fn)`, errs);
}

/** Declares the suite of one op fixture file: per backend, each case eagerly and compiled. */
export function defineOpSuite(file: string): void {
  const { cases } = loadFixture<{ cases: OpCase[] }>(file);
  for (const [name, backend] of backends) {
    describe(`${file} on ${name}`, () => {
      beforeAll(() => tb.setBackend(backend));
      for (const c of cases) {
        it(`${c.name} eager`, () => runEager(c));
        // A compiled program does not inspect values: errors PyTorch raises from values
        // (integer division by zero, indices out of range) are checked eagerly.
        if (c.errorKind !== "value") it(`${c.name} tb.fn`, () => runCompiled(c));
      }
    });
  }
}
