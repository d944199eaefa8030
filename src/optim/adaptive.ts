// tb.optim: NAdam, RAdam, Adamax and Adadelta, with PyTorch's update equations, defaults
// and state keys (so a PyTorch state_dict's state maps over), on the Optimizer base of
// optimizer.ts: param groups, minimize(loss), state dicts, compiled steps.
//
// As there, everything a step reads that may change between steps is a tensor: the step
// count and the moments are state Variables, lr and beta1 (which OneCycleLR cycles) are the
// group's scalar Variables; beta2, eps and the rest are plain numbers a compiled step bakes
// in (changing one retraces). Branches on the step count (RAdam's rectification) are
// where() on tensors, so one trace serves every step. New values are computed from the
// old ones first and assigned after.
//
// Letters: p parameter, g gradient (plus weightDecay p unless decoupled), t step count
// after this step, m first moment, v second moment.

import type { Tensor } from "../tensor/tensor.js";
import type { Variable } from "../graph/variable.js";
import { abs, add, div, exp, expm1, gt, log, maximum, mul, neg, sqrt, sub, where } from "../ops/elementwise.js";
import {
  biasCorrection, BetasOptimizer, decay, Optimizer, scalarVar, splitBetas, stateLike, withOptions,
  type BetasGroupInput, type ParamGroup, type ParamGroupInput, type State,
} from "./optimizer.js";

/** Options of an optimizer with betas: the pair as PyTorch takes it (betas: [b1, b2]), or
 *  beta1 and beta2 on their own. */
export type BetasInput<H> = Partial<H> & { betas?: [number, number] };

/** m + (g - m)(1 - beta1), PyTorch's exp_avg.lerp_(grad, 1 - beta1). */
function lerpMoment(m: Tensor, g: Tensor, beta1: Tensor): Tensor {
  return add(m, mul(sub(g, m), sub(1, beta1)));
}

export interface NAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  momentumDecay: number;
  decoupledWeightDecay: boolean;
}

/** NAdam (Dozat; Adam with Nesterov momentum), PyTorch's form:
 *  mu_t = b1 (1 - 0.5 * 0.96^(t momentumDecay)); mu_product *= mu_t;
 *  m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; d = sqrt(v / (1 - b2^t)) + eps;
 *  p -= lr (1 - mu_t) / (1 - mu_product) * g / d + lr mu_{t+1} / (1 - mu_product mu_{t+1}) * m / d.
 *  Defaults: lr 2e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, momentumDecay 4e-3,
 *  decoupledWeightDecay false (true: p *= 1 - lr weightDecay first, as AdamW).
 *  State: step, mu_product, exp_avg, exp_avg_sq.
 *
 *      const opt = new tb.optim.NAdam(model.parameters(), { lr: 1e-3, momentumDecay: 4e-3 });
 */
export class NAdam extends BetasOptimizer<NAdamOptions> {
  protected readonly stateKeys = ["step", "mu_product", "exp_avg", "exp_avg_sq"];
  constructor(params: Iterable<Tensor> | Iterable<BetasGroupInput<NAdamOptions>>, options: BetasInput<NAdamOptions> = {}) {
    super(params, withOptions("NAdam", { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, decoupledWeightDecay: false }, splitBetas(options)));
  }
  protected initState(p: Tensor): State {
    return { step: scalarVar(0, "step"), mu_product: scalarVar(1, "mu_product"), exp_avg: stateLike(p, "exp_avg"), exp_avg_sq: stateLike(p, "exp_avg_sq") };
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<NAdamOptions>): void {
    const { beta2, eps, momentumDecay } = group;
    const lr = group.lrVar;
    const beta1 = group.vars.beta1!;
    const [p0, g] = decay(p, grad, lr, group.weightDecay, group.decoupledWeightDecay);
    const t = add(s.step!, 1);
    // 0.96^(t momentumDecay) as exp(t momentumDecay ln 0.96), the exponent folded in double.
    const k = momentumDecay * Math.log(0.96);
    const mu = mul(beta1, sub(1, mul(exp(mul(t, k)), 0.5)));
    const muNext = mul(beta1, sub(1, mul(exp(mul(add(t, 1), k)), 0.5)));
    const muProduct = mul(s.mu_product!, mu);
    const m = lerpMoment(s.exp_avg!, g, beta1);
    const v = add(mul(s.exp_avg_sq!, beta2), mul(mul(g, g), 1 - beta2));
    const denom = add(sqrt(div(v, biasCorrection(t, beta2))), eps);
    const gStep = mul(div(g, denom), div(mul(lr, sub(1, mu)), sub(1, muProduct)));
    const mStep = mul(div(m, denom), div(mul(lr, muNext), sub(1, mul(muProduct, muNext))));
    s.step!.assign(t);
    s.mu_product!.assign(muProduct);
    s.exp_avg!.assign(m);
    s.exp_avg_sq!.assign(v);
    this.write(p, sub(sub(p0, gStep), mStep));
  }
}

export interface RAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupledWeightDecay: boolean;
}

/** RAdam (Liu et al., rectified Adam), PyTorch's form: m = b1 m + (1-b1) g;
 *  v = b2 v + (1-b2) g^2; rho_inf = 2 / (1 - b2) - 1; rho_t = rho_inf - 2 t b2^t / (1 - b2^t);
 *  while rho_t <= 5, p -= lr m / (1 - b1^t) (momentum only); after,
 *  p -= lr m / (1 - b1^t) * r_t sqrt(1 - b2^t) / (sqrt(v) + eps) with
 *  r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)).
 *  With b2 = 0.999 the adaptive term starts at step 6.
 *  Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, decoupledWeightDecay
 *  false (true: p *= 1 - lr weightDecay first). State: step, exp_avg, exp_avg_sq. */
export class RAdam extends BetasOptimizer<RAdamOptions> {
  protected readonly stateKeys = ["step", "exp_avg", "exp_avg_sq"];
  constructor(params: Iterable<Tensor> | Iterable<BetasGroupInput<RAdamOptions>>, options: BetasInput<RAdamOptions> = {}) {
    super(params, withOptions("RAdam", { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false }, splitBetas(options)));
  }
  protected initState(p: Tensor): State {
    return { step: scalarVar(0, "step"), exp_avg: stateLike(p, "exp_avg"), exp_avg_sq: stateLike(p, "exp_avg_sq") };
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<RAdamOptions>): void {
    const { beta2, eps } = group;
    const lr = group.lrVar;
    const beta1 = group.vars.beta1!;
    const [p0, g] = decay(p, grad, lr, group.weightDecay, group.decoupledWeightDecay);
    const t = add(s.step!, 1);
    const m = lerpMoment(s.exp_avg!, g, beta1);
    const v = add(mul(s.exp_avg_sq!, beta2), mul(mul(g, g), 1 - beta2));
    const bc2 = biasCorrection(t, beta2);
    const rhoInf = 2 / (1 - beta2) - 1;
    const rhoT = sub(rhoInf, div(mul(mul(t, 2), exp(mul(t, Math.log(beta2)))), bc2));
    // Clamped at 0: the radicand is negative for 2 < rho_t < 4, a branch where() discards.
    const rect = sqrt(maximum(div(mul(mul(sub(rhoT, 4), sub(rhoT, 2)), rhoInf), mul(rhoT, (rhoInf - 4) * (rhoInf - 2))), 0));
    const adaptive = div(sqrt(bc2), add(sqrt(v), eps));
    const factor = where(gt(rhoT, 5), mul(adaptive, rect), 1);
    const update = mul(mul(div(m, biasCorrection(t, beta1)), lr), factor);
    s.step!.assign(t);
    s.exp_avg!.assign(m);
    s.exp_avg_sq!.assign(v);
    this.write(p, sub(p0, update));
  }
}

export interface AdamaxOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Adamax (Kingma and Ba; Adam with the infinity norm): m = b1 m + (1-b1) g;
 *  u = max(b2 u, |g| + eps); p -= lr / (1 - b1^t) * m / u.
 *  Defaults: lr 2e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.
 *  State: step, exp_avg, exp_inf. */
export class Adamax extends BetasOptimizer<AdamaxOptions> {
  protected readonly stateKeys = ["step", "exp_avg", "exp_inf"];
  constructor(params: Iterable<Tensor> | Iterable<BetasGroupInput<AdamaxOptions>>, options: BetasInput<AdamaxOptions> = {}) {
    super(params, withOptions("Adamax", { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, splitBetas(options)));
  }
  protected initState(p: Tensor): State {
    return { step: scalarVar(0, "step"), exp_avg: stateLike(p, "exp_avg"), exp_inf: stateLike(p, "exp_inf") };
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<AdamaxOptions>): void {
    const lr = group.lrVar;
    const beta1 = group.vars.beta1!;
    const [, g] = decay(p, grad, lr, group.weightDecay, false);
    const t = add(s.step!, 1);
    const m = lerpMoment(s.exp_avg!, g, beta1);
    const u = maximum(mul(s.exp_inf!, group.beta2), add(abs(g), group.eps));
    const clr = div(lr, biasCorrection(t, beta1));
    s.step!.assign(t);
    s.exp_avg!.assign(m);
    s.exp_inf!.assign(u);
    this.write(p, sub(p, mul(div(m, u), clr)));
  }
}

export interface AdadeltaOptions {
  lr: number;
  rho: number;
  eps: number;
  weightDecay: number;
}

/** Adadelta (Zeiler): v = rho v + (1-rho) g^2; d = sqrt(a + eps) / sqrt(v + eps) * g;
 *  a = rho a + (1-rho) d^2; p -= lr d.
 *  Defaults: lr 1.0, rho 0.9, eps 1e-6, weightDecay 0. State: step, square_avg, acc_delta. */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  protected readonly stateKeys = ["step", "square_avg", "acc_delta"];
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdadeltaOptions>>, options: Partial<AdadeltaOptions> = {}) {
    super(params, withOptions("Adadelta", { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0 }, options));
  }
  protected initState(p: Tensor): State {
    return { step: scalarVar(0, "step"), square_avg: stateLike(p, "square_avg"), acc_delta: stateLike(p, "acc_delta") };
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<AdadeltaOptions>): void {
    const { rho, eps } = group;
    const [, g] = decay(p, grad, group.lrVar, group.weightDecay, false);
    const v = add(mul(s.square_avg!, rho), mul(mul(g, g), 1 - rho));
    const d = mul(div(sqrt(add(s.acc_delta!, eps)), sqrt(add(v, eps))), g);
    const a = add(mul(s.acc_delta!, rho), mul(mul(d, d), 1 - rho));
    s.step!.assign(add(s.step!, 1));
    s.square_avg!.assign(v);
    s.acc_delta!.assign(a);
    this.write(p, sub(p, mul(d, group.lrVar)));
  }
}
