// Learning-rate schedulers with PyTorch's semantics: constructing one sets epoch 0's rate,
// each step() advances one epoch (or batch, as the user calls it) and writes every group's
// lr, getLastLr() reports the rates last written. Rates follow the closed forms of
// torch.optim.lr_scheduler. Writing group.lr assigns the group's scalar Variable, so a
// compiled training step reads the new rate on its next call.
//
// Base rates are each group's initial lr, recorded by the first scheduler made on it (as
// PyTorch's group["initial_lr"]): schedulers made one after another on one optimizer, as
// for SequentialLR, all start from the optimizer's own rates, not from each other's.
// SequentialLR hands epochs to the scheduler of each phase; ReduceLROnPlateau (at the end)
// is no function of the epoch but of a metric, given to each step.

import type { Tensor } from "../tensor/tensor.js";
import type { Optimizer } from "./optimizer.js";

type AnyOptimizer = Optimizer<{ lr: number }>;

/** Each parameter group's lr when the first scheduler was made on it. */
const initialLrs = new WeakMap<object, number>();

/** Refuses option names a scheduler does not have (a PyTorch spelling such as total_iters
 *  would otherwise be ignored without a word). */
function checkSchedulerOptions(where: string, options: object, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new Error(`${where}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (the options are ${known.join(", ")})`);
  }
}

export abstract class LRScheduler {
  /** Epoch count: 0 after construction, +1 per step(). */
  lastEpoch = -1;
  /** Each group's initial lr: its lr when the first scheduler was made on the optimizer. */
  readonly baseLrs: number[];
  protected lastLr: number[] = [];

  constructor(readonly optimizer: AnyOptimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => {
      if (!initialLrs.has(g)) initialLrs.set(g, g.lr);
      return initialLrs.get(g)!;
    });
  }

  /** The rate of group i at epoch `epoch`. */
  protected abstract lrAt(epoch: number, base: number, i: number): number;

  /** Subclasses call this at the end of their constructor (after their fields are set). */
  protected start(): void {
    this.step();
  }

  step(): void {
    this.lastEpoch++;
    this.lastLr = this.baseLrs.map((b, i) => this.lrAt(this.lastEpoch, b, i));
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lastLr[i]!;
    });
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): { lastEpoch: number; baseLrs: number[] } {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(state: { lastEpoch: number }): void {
    this.lastEpoch = state.lastEpoch - 1;
    this.step();
  }
}

/** lr = base * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    if (!(stepSize >= 1)) throw new Error(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = base * gamma^(number of milestones <= epoch); milestones are epochs, e.g.
 *  `new MultiStepLR(opt, [30, 80], 0.1)`. gamma defaults to 0.1. */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  constructor(optimizer: AnyOptimizer, milestones: number[], readonly gamma = 0.1) {
    super(optimizer);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** bisectRight(this.milestones, epoch);
  }
}

/** lr = base * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly gamma: number) {
    super(optimizer);
    if (typeof gamma !== "number") throw new Error(`ExponentialLR: gamma (a number) is required, got ${String(gamma)}`);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** epoch;
  }
}

/** lr = base (1 - min(epoch, totalIters) / totalIters)^power: to 0 at totalIters and there
 *  after. Defaults: totalIters 5, power 1 (linear). */
export class PolynomialLR extends LRScheduler {
  readonly totalIters: number;
  readonly power: number;
  constructor(optimizer: AnyOptimizer, options: { totalIters?: number; power?: number } = {}) {
    super(optimizer);
    checkSchedulerOptions("PolynomialLR", options, ["totalIters", "power"]);
    this.totalIters = options.totalIters ?? 5;
    this.power = options.power ?? 1;
    if (!(this.totalIters > 0)) throw new Error(`PolynomialLR: totalIters must be positive, got ${this.totalIters}`);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * (1 - Math.min(epoch, this.totalIters) / this.totalIters) ** this.power;
  }
}

/** SGDR (Loshchilov and Hutter): cosine annealing restarted every cycle, the first t0
 *  epochs long and each next tMult times longer: lr = etaMin + (base - etaMin)
 *  (1 + cos(pi tCur / tI)) / 2, tCur the epochs since the last restart and tI the current
 *  cycle's length. Defaults: tMult 1, etaMin 0. */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly t0: number, readonly tMult = 1, readonly etaMin = 0) {
    super(optimizer);
    if (!(Number.isInteger(t0) && t0 > 0)) throw new Error(`CosineAnnealingWarmRestarts: t0 must be a positive integer, got ${t0}`);
    if (!(Number.isInteger(tMult) && tMult >= 1)) throw new Error(`CosineAnnealingWarmRestarts: tMult must be an integer >= 1, got ${tMult}`);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    let tCur = epoch;
    let tI = this.t0;
    while (tCur >= tI) {
      tCur -= tI;
      tI *= this.tMult;
    }
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
  }
}

/** The number of sorted values <= x (Python's bisect_right). */
function bisectRight(sorted: readonly number[], x: number): number {
  let n = 0;
  while (n < sorted.length && sorted[n]! <= x) n++;
  return n;
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
    if (!(tMax > 0)) throw new Error(`CosineAnnealingLR: tMax must be positive, got ${tMax}`);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

/** Linear warm-up (or decay): lr = base (s + (e - s) min(epoch, totalIters) / totalIters)
 *  with s = startFactor (default 1/3), e = endFactor (default 1). */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: AnyOptimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super(optimizer);
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) throw new Error(`LinearLR: startFactor must be in (0, 1], got ${this.startFactor}`);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    const f = this.startFactor + ((this.endFactor - this.startFactor) * Math.min(epoch, this.totalIters)) / this.totalIters;
    return base * f;
  }
}

/** lr = base * f(epoch). */
export class LambdaLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly f: (epoch: number) => number) {
    super(optimizer);
    this.start();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.f(epoch);
  }
}

export interface OneCycleOptions {
  maxLr: number | number[];
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of steps spent increasing the rate (default 0.3). */
  pctStart?: number;
  annealStrategy?: "cos" | "linear";
  /** initial lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** final lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  threePhase?: boolean;
  /** Cycle momentum inversely to the rate (SGD and RMSprop momentum, Adam beta1) between
   *  baseMomentum (0.85) and maxMomentum (0.95); default true, as PyTorch. */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/** The 1cycle policy (Smith and Topin): warm up from maxLr/divFactor to maxLr, then anneal
 *  to the initial rate / finalDivFactor, over totalSteps calls of step(); momentum (or
 *  Adam's beta1) moves the opposite way, from maxMomentum to baseMomentum and back. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: { end: number; from: "initial" | "max" | "min"; to: "initial" | "max" | "min"; momentum: ["base" | "max", "base" | "max"] }[];
  private readonly momentumKey: "momentum" | "beta1" | null;
  private readonly momentumRange: { base: number; max: number };
  private readonly maxLrs: number[];
  private readonly anneal: "cos" | "linear";
  private readonly divFactor: number;
  private readonly finalDivFactor: number;
  constructor(optimizer: AnyOptimizer, options: OneCycleOptions) {
    super(optimizer);
    const total = options.totalSteps ?? (options.epochs !== undefined && options.stepsPerEpoch !== undefined ? options.epochs * options.stepsPerEpoch : undefined);
    if (total === undefined || !(total > 0)) throw new Error("OneCycleLR: give totalSteps, or epochs and stepsPerEpoch (positive)");
    this.totalSteps = total;
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new Error(`OneCycleLR: pctStart must be in [0, 1], got ${pct}`);
    const n = optimizer.paramGroups.length;
    this.maxLrs = Array.isArray(options.maxLr) ? options.maxLr : Array.from({ length: n }, () => options.maxLr as number);
    if (this.maxLrs.length !== n) throw new Error(`OneCycleLR: maxLr has ${this.maxLrs.length} values for ${n} parameter groups`);
    this.anneal = options.annealStrategy ?? "cos";
    this.divFactor = options.divFactor ?? 25;
    this.finalDivFactor = options.finalDivFactor ?? 1e4;
    this.phases = options.threePhase
      ? [
          { end: pct * total - 1, from: "initial", to: "max", momentum: ["max", "base"] },
          { end: 2 * pct * total - 2, from: "max", to: "initial", momentum: ["base", "max"] },
          { end: total - 1, from: "initial", to: "min", momentum: ["max", "max"] },
        ]
      : [
          { end: pct * total - 1, from: "initial", to: "max", momentum: ["max", "base"] },
          { end: total - 1, from: "max", to: "min", momentum: ["base", "max"] },
        ];
    this.momentumRange = { base: options.baseMomentum ?? 0.85, max: options.maxMomentum ?? 0.95 };
    const g0 = optimizer.paramGroups[0] as unknown as Record<string, unknown>;
    this.momentumKey = !(options.cycleMomentum ?? true) ? null : "beta1" in g0 ? "beta1" : "momentum" in g0 ? "momentum" : null;
    if ((options.cycleMomentum ?? true) && this.momentumKey === null) {
      throw new Error(`OneCycleLR: ${optimizer.constructor.name} has no momentum or beta1 to cycle; pass { cycleMomentum: false }`);
    }
    this.start();
  }
  /** Where `epoch` falls: the phase and the fraction of it done. */
  private phaseAt(epoch: number): [OneCycleLR["phases"][number], number] {
    let startStep = 0;
    for (let k = 0; k < this.phases.length; k++) {
      const ph = this.phases[k]!;
      if (epoch <= ph.end || k === this.phases.length - 1) return [ph, (epoch - startStep) / (ph.end - startStep)];
      startStep = ph.end;
    }
    throw new Error("unreachable");
  }

  private annealed(a: number, b: number, t: number): number {
    return this.anneal === "cos" ? b + ((a - b) / 2) * (Math.cos(Math.PI * t) + 1) : (b - a) * t + a;
  }

  protected lrAt(epoch: number, _base: number, i: number): number {
    if (epoch > this.totalSteps) throw new Error(`OneCycleLR: stepped ${epoch} times, more than totalSteps (${this.totalSteps})`);
    const max = this.maxLrs[i]!;
    const initial = max / this.divFactor;
    const value = { initial, max, min: initial / this.finalDivFactor };
    const [ph, t] = this.phaseAt(epoch);
    return this.annealed(value[ph.from], value[ph.to], t);
  }

  override step(): void {
    super.step();
    if (!this.momentumKey) return;
    const [ph, t] = this.phaseAt(this.lastEpoch);
    const m = this.annealed(this.momentumRange[ph.momentum[0]], this.momentumRange[ph.momentum[1]], t);
    for (const g of this.optimizer.paramGroups) (g as unknown as Record<string, number>)[this.momentumKey] = m;
  }

  /** Each group's current momentum (or beta1), as the last step() set it. */
  getLastMomentum(): number[] {
    const key = this.momentumKey;
    return key ? this.optimizer.paramGroups.map((g) => (g as unknown as Record<string, number>)[key]!) : [];
  }
}

/** Runs schedulers one after another: schedulers[0] until epoch milestones[0], then
 *  schedulers[1] restarted at its epoch 0, and so on (PyTorch's SequentialLR). All must be
 *  made on this optimizer; making them sets rates that this constructor undoes.
 *
 *      const warm = new tb.optim.LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 *      const decay = new tb.optim.ExponentialLR(opt, 0.9);
 *      const sched = new tb.optim.SequentialLR(opt, [warm, decay], [5]);
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  readonly milestones: number[];
  constructor(optimizer: AnyOptimizer, schedulers: LRScheduler[], milestones: number[]) {
    super(optimizer);
    if (schedulers.length < 1) throw new Error("SequentialLR: expects at least one scheduler");
    schedulers.forEach((sch, i) => {
      if (!(sch instanceof LRScheduler)) throw new Error(`SequentialLR: scheduler ${i} is not an epoch scheduler (ReduceLROnPlateau needs a metric at each step and cannot be sequenced)`);
      if (sch.optimizer !== optimizer) throw new Error(`SequentialLR: scheduler ${i} (${sch.constructor.name}) belongs to another optimizer`);
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new Error(`SequentialLR: expects one milestone fewer than schedulers, got ${schedulers.length} schedulers and ${milestones.length} milestones`);
    }
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = 0;
    optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.baseLrs[i]!;
    });
    for (const sch of this.schedulers) undo(sch);
    const first = this.schedulers[bisectRight(this.milestones, 0)]!;
    first.step();
    this.lastLr = first.getLastLr();
  }
  protected lrAt(): number {
    throw new Error("SequentialLR: rates come from its schedulers");
  }
  override step(): void {
    this.lastEpoch++;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const sch = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) sch.lastEpoch = -1; // restart at epoch 0
    sch.step();
    this.lastLr = sch.getLastLr();
  }
  override stateDict(): { lastEpoch: number; baseLrs: number[]; schedulers: { lastEpoch: number }[] } {
    return { ...super.stateDict(), schedulers: this.schedulers.map((sch) => sch.stateDict()) };
  }
  override loadStateDict(state: { lastEpoch: number; schedulers?: { lastEpoch: number }[] }): void {
    const saved = state.schedulers;
    if (!saved || saved.length !== this.schedulers.length) throw new Error(`SequentialLR.loadStateDict: expected the states of ${this.schedulers.length} schedulers`);
    this.schedulers.forEach((sch, i) => {
      sch.lastEpoch = saved[i]!.lastEpoch;
    });
    this.lastEpoch = state.lastEpoch;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    this.schedulers[idx]!.loadStateDict(saved[idx]!);
    this.lastLr = this.schedulers[idx]!.getLastLr();
  }
}

/** Takes back the step a scheduler took when made (into SequentialLRs it holds). */
function undo(sch: LRScheduler): void {
  if (sch instanceof SequentialLR) for (const s of sch.schedulers) undo(s);
  else sch.lastEpoch--;
}

export interface ReduceLROnPlateauOptions {
  /** "min" (default): the metric should fall (a loss); "max": rise (an accuracy). */
  mode?: "min" | "max";
  /** lr = max(lr * factor, minLr) on a plateau (default 0.1; must be < 1). */
  factor?: number;
  /** Steps without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** Improvement needed to count (default 1e-4), relative or absolute per thresholdMode. */
  threshold?: number;
  /** "rel" (default): better than best (1 -+ threshold); "abs": than best -+ threshold. */
  thresholdMode?: "rel" | "abs";
  /** Steps to wait after a reduction before counting bad steps again (default 0). */
  cooldown?: number;
  /** Lower bound of the rate, one for all groups or one per group (default 0). */
  minLr?: number | number[];
  /** A reduction smaller than eps is skipped (default 1e-8). */
  eps?: number;
}

/** Reduces the rate when a metric stops improving (PyTorch's ReduceLROnPlateau): step(metric)
 *  once per epoch; after more than `patience` steps without a better metric, every group's
 *  lr becomes max(lr * factor, minLr), then `cooldown` steps pass before counting again.
 *
 *      const sched = new tb.optim.ReduceLROnPlateau(opt, { factor: 0.5, patience: 2 });
 *      for (...) { train(); sched.step(validationLoss); }
 */
export class ReduceLROnPlateau {
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  /** The best metric so far (inf, or -inf in "max" mode, before the first step). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(readonly optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    checkSchedulerOptions("ReduceLROnPlateau", options, ["mode", "factor", "patience", "threshold", "thresholdMode", "cooldown", "minLr", "eps"]);
    this.mode = options.mode ?? "min";
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? "rel";
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    if (!(this.factor < 1)) throw new Error(`ReduceLROnPlateau: factor must be < 1, got ${this.factor}`);
    if (this.mode !== "min" && this.mode !== "max") throw new Error(`ReduceLROnPlateau: mode must be "min" or "max", got "${String(this.mode)}"`);
    if (this.thresholdMode !== "rel" && this.thresholdMode !== "abs") throw new Error(`ReduceLROnPlateau: thresholdMode must be "rel" or "abs", got "${String(this.thresholdMode)}"`);
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    if (Array.isArray(minLr) && minLr.length !== n) throw new Error(`ReduceLROnPlateau: minLr has ${minLr.length} values for ${n} parameter groups`);
    this.minLrs = Array.isArray(minLr) ? [...minLr] : Array.from({ length: n }, () => minLr);
    this.best = this.mode === "min" ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private isBetter(a: number): boolean {
    const { best, threshold } = this;
    if (this.mode === "min") return this.thresholdMode === "rel" ? a < best * (1 - threshold) : a < best - threshold;
    return this.thresholdMode === "rel" ? a > best * (threshold + 1) : a > best + threshold;
  }

  /** One epoch's metric (a number or a scalar tensor); reduces the rates on a plateau. */
  step(metric: number | Tensor): void {
    const current = typeof metric === "number" ? metric : metric.item();
    this.lastEpoch++;
    if (this.isBetter(current)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const lr = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - lr > this.eps) g.lr = lr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): { lastEpoch: number; best: number; numBadEpochs: number; cooldownCounter: number } {
    return { lastEpoch: this.lastEpoch, best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter };
  }

  loadStateDict(state: { lastEpoch: number; best: number; numBadEpochs: number; cooldownCounter: number }): void {
    ({ lastEpoch: this.lastEpoch, best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter } = state);
  }
}
