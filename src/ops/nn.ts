// Neural-network functions, all composites of primitives (so they get gradients, fusion in
// graph mode and every backend for free). Letters: N batch, C classes or channels,
// D feature size.

import { Tensor } from "../tensor/tensor.js";
import { isTracing, withGrad } from "../core/trace.js";
import { fmtShape, shapesEqual } from "../tensor/shape.js";
import { abs, add, cast, div, exp, ge, log, mul, ne, neg, reciprocal, rsqrt, softplus, sub, where } from "./elementwise.js";
import { checkChoice, checkOptions } from "./options.js";
import { max, mean, sum } from "./reduce.js";
import { gather, indexSelect, reshape, squeeze, unsqueeze } from "./movement.js";
import { rand, type Generator } from "./creation.js";
import { composite } from "../core/composite.js";

export type Reduction = "mean" | "sum" | "none";
const reductions: readonly Reduction[] = ["mean", "sum", "none"];

function reduce(x: Tensor, reduction: Reduction = "mean"): Tensor {
  return reduction === "none" ? x : reduction === "sum" ? sum(x) : mean(x);
}

/** Checks a loss's option object: known keys only, and a known reduction. */
function lossOptions(op: string, options: { reduction?: Reduction }, allowed: readonly string[]): void {
  checkOptions(op, options, allowed);
  checkChoice(op, "reduction", options.reduction, reductions);
}

export const softmax = composite("softmax", function softmax(x: Tensor, axis: number = -1): Tensor {
  const xf = cast(x, "float32");
  // (never taped: softmax has its own gradient, below)
  const m = max(xf, axis, { keepdims: true });
  const e = exp(sub(xf, m));
  // times 1 / sum, as PyTorch's kernels: one division per row, not per element
  return mul(e, reciprocal(sum(e, axis, { keepdims: true })));
}, (g, y, [, axis = -1]) => mul(y, sub(g, sum(mul(g, y), axis, { keepdims: true }))));

/** log(softmax(x)) as PyTorch computes it: (x - m) - log(sum(exp(x - m))) with m the row's
 *  max, so a row whose max is infinite is NaN throughout (inf - inf), as PyTorch's. */
export const logSoftmax = composite("logSoftmax", function logSoftmax(x: Tensor, axis: number = -1): Tensor {
  const xf = cast(x, "float32");
  // (never taped: logSoftmax has its own gradient, below)
  const d = sub(xf, max(xf, axis, { keepdims: true }));
  return sub(d, log(sum(exp(d), axis, { keepdims: true })));
}, (g, y, [, axis = -1]) => sub(g, mul(exp(y), sum(g, axis, { keepdims: true }))));

export interface CrossEntropyOptions {
  /** Mixes the target with the uniform distribution: (1 - s) target + s / C. */
  labelSmoothing?: number;
  reduction?: Reduction;
  /** Class-index targets equal to this are skipped: their loss is 0 and the mean divides
   *  by the number of the others (NaN when all are skipped). Default -100, as PyTorch. */
  ignoreIndex?: number;
}

/** The loss of each row at its class index, [N, ...], with ignored rows 0, and the mask
 *  of the rows that count (null when every target is a class; checked shapes). */
function pickTargets(op: string, logp: Tensor, target: Tensor, ignoreIndex: number): { picked: Tensor; valid: Tensor } {
  const ax = logp.shape.length === 1 ? 0 : 1;
  const expected = logp.shape.filter((_d, i) => i !== ax);
  if (!shapesEqual(target.shape, expected)) {
    throw new Error(`${op}: class-index targets must have shape ${fmtShape(expected)} for input ${fmtShape(logp.shape)}, got ${fmtShape(target.shape)}`);
  }
  if (target.dtype === "float32") {
    throw new Error(`${op}: class-index targets must be int32, got float32${fmtShape(target.shape)} (cast them, or pass probabilities with the input's shape to crossEntropy)`);
  }
  const t = cast(target, "int32");
  const valid = ne(t, ignoreIndex);
  // ignored rows gather class 0 (any class in range) and are then zeroed
  const safe = where(valid, t, 0);
  let picked: Tensor;
  try {
    picked = squeeze(gather(logp, ax, unsqueeze(safe, ax)), ax);
  } catch (e) {
    throw targetRangeError(op, t, valid, logp.shape, ax, ignoreIndex) ?? e;
  }
  return { picked, valid };
}

/** The error for class-index targets outside [0, C), which gather found eagerly: naming the
 *  loss, the classes and the targets' range (read only on this error path); null when the
 *  targets are in range or only exist in a trace (then gather's own error stands). */
function targetRangeError(op: string, t: Tensor, valid: Tensor, shape: readonly number[], ax: number, ignoreIndex: number): Error | null {
  if (isTracing()) return null;
  const C = shape[ax];
  const ts = t.dataSync();
  const ok = valid.dataSync();
  let lo = Infinity;
  let hi = -Infinity;
  ts.forEach((v, i) => {
    if (ok[i]) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  });
  if (lo >= 0 && hi < C) return null;
  return new Error(
    `${op}: class-index targets must lie in [0, ${C - 1}] for the ${C} classes of input ${fmtShape(shape)}, ` +
      `got targets from ${lo} to ${hi} (targets equal to ignoreIndex ${ignoreIndex} are skipped)`,
  );
}

/** sum(loss) / (number of valid rows) for "mean", as PyTorch with ignoreIndex. */
function reduceValid(loss: Tensor, valid: Tensor, reduction: Reduction = "mean"): Tensor {
  if (reduction !== "mean") return reduce(loss, reduction);
  return div(sum(loss), sum(cast(valid, "float32")));
}

/** Cross entropy of logits [N, C, ...] against int32 class indices [N, ...] or class
 *  probabilities with the logits' shape (classes on axis 1, as PyTorch). */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  lossOptions("crossEntropy", options, ["labelSmoothing", "reduction", "ignoreIndex"]);
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const ax = logits.shape.length === 1 ? 0 : 1;
  const C = logits.shape[ax];
  const logp = logSoftmax(logits, ax);
  if (target.dtype === "float32" && shapesEqual(target.shape, logits.shape)) {
    // probabilities: ignoreIndex does not apply (as PyTorch)
    const t = eps ? add(mul(target, 1 - eps), eps / C) : target;
    return reduce(neg(sum(mul(t, logp), ax)), options.reduction);
  }
  const { picked, valid } = pickTargets("crossEntropy", logp, target, options.ignoreIndex ?? -100);
  let loss = neg(picked);
  if (eps) loss = add(mul(loss, 1 - eps), mul(neg(mean(logp, ax)), eps));
  return reduceValid(where(valid, loss, 0), valid, options.reduction);
}

export interface NllLossOptions {
  reduction?: Reduction;
  /** Targets equal to this are skipped, as in crossEntropy. Default -100, as PyTorch. */
  ignoreIndex?: number;
}

/** Negative log likelihood of log-probabilities [N, C, ...] at int32 targets [N, ...]. */
export function nllLoss(logp: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  lossOptions("nllLoss", options, ["reduction", "ignoreIndex"]);
  const { picked, valid } = pickTargets("nllLoss", logp, target, options.ignoreIndex ?? -100);
  return reduceValid(where(valid, neg(picked), 0), valid, options.reduction);
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  lossOptions("mseLoss", options, ["reduction"]);
  const d = sub(input, target);
  return reduce(mul(d, d), options.reduction);
}

export function l1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  lossOptions("l1Loss", options, ["reduction"]);
  return reduce(abs(sub(input, target)), options.reduction);
}

/** Binary cross entropy on logits: (1 - t) x + w log(1 + exp(-x)) with w = 1 + (posWeight -
 *  1) t, log(1 + exp(-x)) as softplus(-x) (overflow-free; its gradient -sigmoid(-x) makes
 *  the loss's gradient w sigmoid(x) - posWeight t, PyTorch's, also at x = 0). */
export function bceWithLogits(logits: Tensor, target: Tensor, options: { reduction?: Reduction; posWeight?: Tensor | number } = {}): Tensor {
  lossOptions("bceWithLogits", options, ["reduction", "posWeight"]);
  const x = cast(logits, "float32");
  const t = cast(target, "float32");
  const softplusNeg = softplus(neg(x));
  const lw = options.posWeight === undefined ? null : add(mul(sub(options.posWeight, 1), t), 1);
  const loss = add(mul(sub(1, t), x), lw ? mul(lw, softplusNeg) : softplusNeg);
  return reduce(loss, options.reduction);
}

export interface LayerNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/** Normalises over the trailing axes given by normalizedShape (biased variance, as PyTorch). */
export const layerNorm = composite("layerNorm", function layerNorm(x: Tensor, normalizedShape: number | readonly number[], options: LayerNormOptions = {}): Tensor {
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.shape.length - ns.length);
  if (!shapesEqual(tail, ns)) throw new Error(`layerNorm: normalizedShape ${fmtShape(ns)} does not match the trailing axes of ${fmtShape(x.shape)}`);
  const axes = ns.map((_d, i) => x.shape.length - ns.length + i);
  const mu = mean(x, axes, { keepdims: true });
  const d = sub(x, mu);
  const v = mean(mul(d, d), axes, { keepdims: true });
  let y = mul(d, rsqrt(add(v, options.eps ?? 1e-5)));
  if (options.weight) y = mul(y, options.weight);
  if (options.bias) y = add(y, options.bias);
  return y;
});

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Training mode uses batch statistics and updates the running ones in place. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over [N, C, ...] per channel C. In training mode the running mean and
 *  (unbiased) variance are updated in place: r = (1 - momentum) r + momentum batch. */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  if (x.shape.length < 2) throw new Error(`batchNorm: expected input [N, C, ...], got ${fmtShape(x.shape)}`);
  const C = x.shape[1];
  const axes = x.shape.map((_d, i) => i).filter((i) => i !== 1);
  const bshape = x.shape.map((d, i) => (i === 1 ? C : 1));
  const eps = options.eps ?? 1e-5;
  let mu: Tensor;
  let v: Tensor;
  if (options.training ?? true) {
    mu = mean(x, axes, { keepdims: true });
    const d = sub(x, mu);
    v = mean(mul(d, d), axes, { keepdims: true });
    const n = x.shape.reduce((a, b) => a * b, 1) / C;
    const m = options.momentum ?? 0.1;
    // Variables (nn buffers) take `assign`, which a graph trace records as an update, so a
    // traced training step keeps updating the running statistics; plain tensors are
    // overwritten in place, eagerly only: a compiled program would not update them.
    const write = (r: Tensor, value: Tensor, name: string): void => {
      const a = (r as Tensor & { assign?: (v: Tensor) => unknown }).assign;
      if (typeof a === "function") a.call(r, value);
      else if (isTracing()) {
        throw new Error(
          `batchNorm: in training mode inside a traced function (tb.fn) the running statistics it updates must be ` +
            `tb.variable()s, and ${name} is a plain tensor ${r.dtype}${fmtShape(r.shape)}: a compiled function changes ` +
            "state only through variables. Wrap them once with tb.variable(t, { requiresGrad: false }) (nn.BatchNorm keeps " +
            "them as such buffers), or pass null to skip the update.",
        );
      } else r._assign(value);
    };
    withGrad(false, () => {
      if (runningMean) write(runningMean, add(mul(runningMean, 1 - m), mul(reshape(mu, [C]), m)), "runningMean");
      if (runningVar) write(runningVar, add(mul(runningVar, 1 - m), mul(reshape(v, [C]), (m * n) / Math.max(n - 1, 1))), "runningVar");
    });
  } else {
    if (!runningMean || !runningVar) throw new Error("batchNorm: evaluation mode needs runningMean and runningVar");
    mu = reshape(runningMean, bshape);
    v = reshape(runningVar, bshape);
  }
  let y = mul(sub(x, mu), rsqrt(add(v, eps)));
  if (options.weight) y = mul(y, reshape(options.weight, bshape));
  if (options.bias) y = add(y, reshape(options.bias, bshape));
  return y;
}

/** Zeroes entries with probability p and scales the rest by 1 / (1 - p) when training. */
export function dropout(x: Tensor, p = 0.5, options: { training?: boolean; generator?: Generator } = {}): Tensor {
  if (p < 0 || p > 1) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (options.training === false || p === 0) return x;
  if (p === 1) return mul(x, 0);
  const keep = ge(rand(x.shape, { generator: options.generator }), p);
  return where(keep, div(x, 1 - p), 0);
}

/** Rows of weight [V, D] picked by int32 ids of any shape: [...ids.shape, D]. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  const flat = reshape(ids, [-1]);
  return reshape(indexSelect(weight, 0, flat), [...ids.shape, weight.shape[weight.shape.length - 1]]);
}
