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
//
// A composite may also bring its own gradient, as PyTorch's softmax has its own backward
// and JAX's a custom JVP: the tape then records one node for it, whose backward reads only
// its output (softmax: y * (g - sum(g * y))), so even a taped call runs its forward
// compiled, and in a traced training step forward and backward each fuse into a row kernel.
// Own gradients also carry conventions at kinks that the primitives' rules cannot: relu'(0)
// is 0 and clamp's gradient is 1 at its bounds (PyTorch's choices), whereas maximum's rule
// splits a tie evenly between its operands.

import { Tensor as TensorClass, type Tensor } from "../tensor/tensor.js";
import { isGradEnabled, withGrad } from "./trace.js";

/** Runs a composite compiled, or returns undefined to let it run primitive by primitive. */
export type CompositeRunner = (name: string, impl: (...args: never[]) => unknown, args: unknown[]) => Tensor | undefined;

let runner: CompositeRunner | undefined;

export function setCompositeRunner(r: CompositeRunner | undefined): void {
  runner = r;
}

/** The gradient of a composite with respect to its first argument, given the gradient g
 *  of its output `out` (written with tensor ops, so grad of grad works). */
export type CompositeGradient<A extends unknown[]> = (g: Tensor, out: Tensor, args: A) => Tensor;

export interface CompositeOptions {
  /** false: eager calls run primitive by primitive, never compiled. For composites of one or
   *  two primitives (relu, clip) that exist only to bring their own gradient: a compiled call
   *  would cost more in dispatch than it saves in kernels. Default true. */
  compile?: boolean;
}

/** Wraps a composite op: eager calls run compiled (unless options.compile is false), and
 *  with `gradient` a taped call is one tape node whose backward applies it. */
export function composite<A extends unknown[]>(
  name: string, impl: (...args: A) => Tensor, gradient?: CompositeGradient<A>, options: CompositeOptions = {},
): (...args: A) => Tensor {
  const compiled = options.compile ?? true;
  const forward = (args: A): Tensor => (compiled ? runner?.(name, impl as (...a: never[]) => unknown, args) : undefined) ?? impl(...args);
  const run = (...args: A): Tensor => {
    const x = args[0];
    // With its own gradient, the composite is one tape node over its first argument: its
    // forward runs untaped (compiled when eager), and backward applies `gradient`.
    if (gradient && x instanceof TensorClass && isGradEnabled() && x.requiresGrad && args.slice(1).every((a) => !(a instanceof TensorClass) || !a.requiresGrad)) {
      const out = withGrad(false, () => forward(args));
      out._node = { prim: name, params: null, inputs: [x], vjp: (g, y) => [gradient(g, y, args)] };
      return out;
    }
    return forward(args);
  };
  Object.defineProperty(run, "name", { value: name });
  return run;
}
