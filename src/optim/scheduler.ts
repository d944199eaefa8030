// Learning-rate schedulers with PyTorch's semantics: constructing one sets epoch 0's rate,
// each step() advances one epoch (or batch, as the user calls it) and writes every group's
// lr, getLastLr() reports the rates last written. Rates follow the closed forms of
// torch.optim.lr_scheduler. Writing group.lr assigns the group's scalar Variable, so a
// compiled training step reads the new rate on its next call.

import type { Optimizer } from "./optimizer.js";

type AnyOptimizer = Optimizer<{ lr: number }>;

export abstract class LRScheduler {
  /** Epoch count: 0 after construction, +1 per step(). */
  lastEpoch = -1;
  /** Each group's lr when the scheduler was made. */
  readonly baseLrs: number[];
  private lastLr: number[] = [];

  constructor(readonly optimizer: AnyOptimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
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
