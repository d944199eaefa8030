// bind: the single entry point of every primitive, and the traces that interpret it.
//
// bind(prim, inputs, params) first runs the primitive's abstract rule (shape and dtype,
// with errors that name the op), then hands the primitive to the innermost active trace.
// The eager trace runs the kernel now and, when grad recording is on and an input requires
// grad, records a tape node on the output. Graph mode pushes another Trace (abstract
// values, graph nodes) with pushTrace; no op changes.

import { AsyncLocalStorage } from "node:async_hooks";
import type { DType, View } from "../backend/backend.js";
import type { Prim, Params } from "../ops/prims.js";
import { rules, runImpl } from "../ops/rules.js";
import { observeGradAccess, Tensor } from "../tensor/tensor.js";
import { getBackend } from "./runtime.js";
import { fmtShape } from "../tensor/shape.js";
import { onInterrupt } from "./interrupt.js";

export interface AbstractValue {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A recorded application of a primitive, what backward() walks; or of a composite op with
 *  its own gradient (softmax: y * (g - sum(g * y)) instead of the gradients of its five
 *  primitives), which then carries the vjp and its name in `prim`. */
export type TapeNode =
  | { readonly prim: Prim; readonly params: unknown; readonly inputs: readonly Tensor[]; readonly vjp?: undefined }
  | { readonly prim: string; readonly params: null; readonly inputs: readonly Tensor[]; readonly vjp: (g: Tensor, out: Tensor) => (Tensor | null)[] };

export interface Trace {
  readonly name: string;
  /** Interprets one primitive whose output abstract value has been checked already. */
  process<P extends Prim>(prim: P, inputs: Tensor[], params: Params<P>, out: AbstractValue): Tensor;
  /** Graph traces tag the ops fn creates (autodiff: "backward", optimizers: "update"). */
  withPhase?<T>(phase: "forward" | "backward" | "update", fn: () => T): T;
  /** Graph traces draw each leaf's gradient as a reversed edge into it. */
  recordGradient?(wrt: Tensor, grad: Tensor): void;
  /** Graph traces note the random blocks a generator handed out, so that each run of the
   *  compiled graph draws fresh numbers from it, as eager calls would. */
  noteRandom?(generator: { counter: number; readonly key: readonly number[] }, counter: number, blocks: number): void;
  /** Graph traces put back what they changed on concrete objects (variables' .grad) when
   *  they end, and when recovery after an interrupt abandons them (see below). */
  restore?(): void;
  /** Graph traces collect guards: facts outside the traced function's arguments that the
   *  trace read and baked into the graph; a compiled program runs only while all hold. */
  addGuard?(what: string, holds: () => boolean, key?: object): void;
}

/**
 * Declares that the code being traced read state that is not an argument (a module's
 * training flag, an optimizer's hyperparameters): `holds()` must stay true for the traced
 * program to be valid, and tb.fn traces anew when it does not. A trace keeps the first
 * guard per `key` (a module called many times is guarded once). Eagerly: does nothing.
 */
export function guard(what: string, holds: () => boolean, key?: object): void {
  const t = currentTrace();
  if (t.addGuard) t.addGuard(what, holds, key);
}

/** Runs fn with the active trace's ops tagged as `phase` (eagerly: just runs fn). */
export function inPhase<T>(phase: "forward" | "backward" | "update", fn: () => T): T {
  const t = currentTrace();
  return t.withPhase ? t.withPhase(phase, fn) : fn();
}

const flags = { checkNumerics: false };

// Grad mode lives in async context, so tb.noGrad(async () => ...) holds across awaits and
// concurrent tasks do not see each other's mode.
const gradMode = new AsyncLocalStorage<{ enabled: boolean }>();
const ON = { enabled: true };
const OFF = { enabled: false };

export function isGradEnabled(): boolean {
  return (gradMode.getStore() ?? ON).enabled;
}

/** Runs fn (sync or async) with tape recording on or off. */
export function withGrad<T>(enabled: boolean, fn: () => T): T {
  return gradMode.run(enabled ? ON : OFF, fn);
}

export function setCheckNumerics(on: boolean): void {
  flags.checkNumerics = on;
}

export function isCheckingNumerics(): boolean {
  return flags.checkNumerics;
}

class EagerTrace implements Trace {
  readonly name = "eager";
  process<P extends Prim>(prim: P, inputs: Tensor[], params: Params<P>, out: AbstractValue): Tensor {
    const backend = inputs.length > 0 ? inputs[0]._storage().backend : getBackend();
    const views: View[] = inputs.map((t) => {
      const s = t._storage();
      if (s.backend !== backend) {
        throw new Error(`${prim}: inputs live on different backends (${backend.name} and ${s.backend.name}); move them to one backend`);
      }
      return t._view();
    });
    const { view, storage } = runImpl(prim, backend, views, inputs, params, out);
    const rule = rules[prim];
    const record = isGradEnabled() && rule.vjp !== null && inputs.some((t) => t.requiresGrad);
    const t = Tensor._fromView(view, storage, record ? { prim, params, inputs } : null);
    if (flags.checkNumerics && t.dtype === "float32") checkNumerics(prim, inputs, t);
    return t;
  }
}

function checkNumerics(prim: Prim, inputs: Tensor[], t: Tensor): void {
  const data = t.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const bad = Number.isNaN(data[i]) ? "NaN" : "Inf";
      throw new Error(
        `checkNumerics: ${prim} produced ${bad} at flat index ${i} of its output ${fmtShape(t.shape)} ` +
          `(inputs ${inputs.map((x) => `${x.dtype}${fmtShape(x.shape)}`).join(", ") || "none"})`,
      );
    }
  }
}

const eager = new EagerTrace();
const stack: Trace[] = [];

export function currentTrace(): Trace {
  return stack.length > 0 ? stack[stack.length - 1] : eager;
}

/** Whether a graph trace is interpreting primitives (not eager execution). */
export function isTracing(): boolean {
  return stack.length > 0;
}

/** Makes `trace` interpret primitives while fn runs (graph mode's entry point). */
export function withTrace<T>(trace: Trace, fn: () => T): T {
  stack.push(trace);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}

// After an interrupt (core/interrupt.ts): withTrace's finally did not run, so traces may
// be left on the stack; each is abandoned, innermost first, as its own finally would.
// Grad mode set by withGrad stays in the async context the interrupt stopped in: the
// recovery runs in that context when the kernel calls it right after the interrupted run,
// and puts the default back.
onInterrupt(() => {
  for (let t = stack.pop(); t !== undefined; t = stack.pop()) t.restore?.();
  observeGradAccess(null); // also when the interrupt came before the trace was pushed
  if (gradMode.getStore() !== undefined) gradMode.enterWith(ON);
});

export function bind<P extends Prim>(prim: P, inputs: Tensor[], params: Params<P>): Tensor {
  const out = rules[prim].abstract(inputs, params);
  return currentTrace().process(prim, inputs, params, out);
}
