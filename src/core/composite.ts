// Composite ops that run compiled when called eagerly.
//
// softmax, logSoftmax, layerNorm and the like are written once with primitives: that one
// definition gives eager autograd, graph tracing and every backend. Run eagerly primitive by
// primitive, though, softmax is five kernels and four full-size intermediates where one
// fused row kernel does. So, as JAX's own jax.nn.softmax is a jitted function, a composite
// wrapped here runs an eager call through graph mode's compiler (registered by
// src/graph/composite.ts), cached per input signature. The definition runs primitive by
// primitive instead inside a trace (the trace inlines it, and the graph compiler fuses it
// with its neighbours), when the tape must record it (grad mode on and an input requires
// grad), and under tb.debug.checkNumerics (which names the primitive that went wrong).
// Compiled and primitive-by-primitive results agree to float32 rounding, not bit for bit.

import type { Tensor } from "../tensor/tensor.js";

/** Runs a composite compiled, or returns undefined to let it run primitive by primitive. */
export type CompositeRunner = (name: string, impl: (...args: never[]) => unknown, args: unknown[]) => Tensor | undefined;

let runner: CompositeRunner | undefined;

export function setCompositeRunner(r: CompositeRunner | undefined): void {
  runner = r;
}

export function composite<A extends unknown[]>(name: string, impl: (...args: A) => Tensor): (...args: A) => Tensor {
  const run = (...args: A): Tensor => (runner?.(name, impl as (...a: never[]) => unknown, args) ?? impl(...args));
  Object.defineProperty(run, "name", { value: name });
  return run;
}
