// Gradient clipping with tensor math only (no reads of values), so it works inside traced
// training steps: call it between loss.backward() and optimizer.step().

import { Tensor } from "../tensor/tensor.js";
import { withGrad } from "../core/trace.js";
import { abs, add, clip, div, minimum, mul, sqrt } from "../ops/elementwise.js";
import { max, sum } from "../ops/reduce.js";
import { stack } from "../ops/movement.js";

/** Scales every gradient by min(1, maxNorm / (total + 1e-6)), where total is the norm of all
 *  gradients taken together (normType 2 or Infinity); returns total (a 0-d tensor). */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, options: { normType?: 2 | typeof Infinity } = {}): Tensor {
  const normType = options.normType ?? 2;
  const ps = [...params].filter((p) => p.grad !== null);
  return withGrad(false, () => {
    if (ps.length === 0) return Tensor._scalar(0, "float32");
    const total =
      normType === Infinity
        ? max(stack(ps.map((p) => max(abs(p.grad!)))))
        : sqrt(sum(stack(ps.map((p) => sum(mul(p.grad!, p.grad!))))));
    const coef = minimum(div(maxNorm, add(total, 1e-6)), 1);
    for (const p of ps) p.grad = mul(p.grad!, coef);
    return total;
  });
}

/** Clamps every gradient element into [-clipValue, clipValue]. */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new Error(`clipGradValue: clipValue must be non-negative, got ${clipValue}`);
  withGrad(false, () => {
    for (const p of params) if (p.grad) p.grad = clip(p.grad, -clipValue, clipValue);
  });
}

