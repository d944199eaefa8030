// tb.optim: SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's update equations, param
// groups, minimize(loss) and state dicts (NAdam, RAdam, Adamax and Adadelta: adaptive.ts).
//
// Everything a step reads is a tensor, so a step traced into a graph (tb.fn) stays correct
// on every later call: the per-parameter state (moments, step count) are Variables that do
// not require grad, created on the first step, and each group's learning rate is a scalar
// Variable (`group.lr = x` or a scheduler assigns it eagerly between steps, and a compiled
// step reads the current value). Update math runs without grad recording and tagged as
// the "update" phase, so graph diagrams show it as the edges into the variables.
//
// Invariant of every update: new values are computed from the old ones first and assigned
// after, never re-read through a Variable after its assign (under a trace an assign is an
// update edge of the graph; reading the variable again would give the old value).

import { Tensor } from "../tensor/tensor.js";
import { Variable } from "../graph/variable.js";
import { currentTrace, guard, inPhase, withGrad } from "../core/trace.js";
import { fn, type CompiledFunction } from "../graph/fn.js";
import { add, div, eq, expm1, log, maximum, mul, neg, sqrt, sub, where } from "../ops/elementwise.js";
import { fmtShape } from "../tensor/shape.js";
import { checkpointMetadata, unflattenOptimizerState } from "../io/checkpoint.js";

/** Hyperparameters are numbers or booleans (pairs such as betas are split into two). */
export type Hyper = Record<string, number | boolean>;

/** A parameter group as given to a constructor: params plus overrides of the defaults. */
export type ParamGroupInput<H> = { params: Iterable<Tensor> } & Partial<H>;

/** A live parameter group. `lr` reads and writes the scalar Variable `lrVar`; so do the
 *  other hyperparameters schedulers change (SGD and RMSprop `momentum`, Adam `beta1`),
 *  each through its Variable in `vars`. */
export type ParamGroup<H> = H & { params: Tensor[]; readonly lrVar: Variable; readonly vars: Record<string, Variable> };

export interface OptimizerStateDict {
  /** Per-parameter state by the parameter's index over all groups, PyTorch's key names
   *  (exp_avg, exp_avg_sq, momentum_buffer, square_avg, grad_avg, sum, mu_product, exp_inf,
   *  acc_delta, step). */
  state: Record<string, Record<string, Tensor>>;
  /** Hyperparameters of each group and the indices of its parameters. */
  paramGroups: SavedGroup[];
}

/** A saved group: hyperparameters and the indices of its parameters. */
export type SavedGroup = { params: number[] } & { [key: string]: number | boolean | number[] };

/** Per-parameter state: named Variables. */
export type State = Record<string, Variable>;

/** A scalar float32 Variable that does not require grad (a step count, a rate). */
export function scalarVar(value: number, name: string): Variable {
  return new Variable(Tensor._fromArray(new Float32Array([value]), [], "float32"), { name, requiresGrad: false });
}

/** A Variable of zeros (or `fill`) shaped like p, made without binding ops, so that a first
 *  step inside a graph trace creates concrete state. */
export function stateLike(p: Tensor, name: string, fill = 0): Variable {
  const data = new Float32Array(p.size);
  if (fill) data.fill(fill);
  return new Variable(Tensor._fromArray(data, [...p.shape], "float32"), { name, requiresGrad: false });
}

/** A group's plain-number hyperparameters as text (lr and the scheduled ones are Variables
 *  that a compiled update reads). Outside the class so no closure of compiledUpdate's scope
 *  holds the group. */
function plainHypers(group: { vars: Record<string, unknown> }): string {
  const skip = new Set(["params", "lrVar", "vars", "lr", ...Object.keys(group.vars)]);
  const g = group as unknown as Record<string, unknown>;
  return Object.keys(g).filter((k) => !skip.has(k) && (typeof g[k] === "number" || typeof g[k] === "boolean"))
    .map((k) => `${k}=${String(g[k])}`).join(",");
}

/** defaults with options written over them, refusing names the optimizer does not have:
 *  a PyTorch spelling such as weight_decay would otherwise be ignored without a word. */
export function withOptions<H extends object>(where: string, defaults: H, options: object): H {
  const unknown = Object.keys(options).filter((k) => !(k in defaults));
  if (unknown.length) {
    throw new Error(`${where}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (the options are ${Object.keys(defaults).join(", ")})`);
  }
  return { ...defaults, ...options };
}

/** Frees the compiled update programs (their arenas) of optimizers that were collected. */
const programsOf = new FinalizationRegistry<{ clear(): void }[]>((runs) => {
  for (const r of runs) r.clear();
});

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: ParamGroup<H>[] = [];
  readonly state = new Map<Tensor, State>();
  readonly defaults: H;
  /** Keys of the per-parameter state, in the order they are created. */
  protected abstract readonly stateKeys: readonly string[];

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<H>>, defaults: H) {
    this.defaults = defaults;
    const list = [...(params as Iterable<Tensor | ParamGroupInput<H>>)];
    if (list.length === 0) throw new Error(`${this.constructor.name}: got an empty parameter list (pass model.parameters())`);
    const groups: ParamGroupInput<H>[] = list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>] : (list as ParamGroupInput<H>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  addParamGroup(input: ParamGroupInput<H>): void {
    const params = [...input.params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${this.constructor.name}: parameter ${i} of group ${this.paramGroups.length} is not a tensor`);
      // Frozen parameters (requiresGrad false) are allowed: they get no gradient, so step() skips them.
      if (!p.isLeaf || p.dtype !== "float32") throw new Error(`${this.constructor.name}: parameter ${i} (${p.dtype}${fmtShape(p.shape)}) must be a float32 leaf tensor (a parameter), not the result of an op`);
      if (seen.has(p)) throw new Error(`${this.constructor.name}: parameter ${i} appears more than once (in one group or in more than one group)`);
      seen.add(p);
    });
    const { params: _p, ...overrides } = input as ParamGroupInput<H> & Record<string, unknown>;
    const hyper = withOptions(`${this.constructor.name} (parameter group ${this.paramGroups.length})`, this.defaults, overrides);
    const group = { ...hyper, params } as unknown as ParamGroup<H>;
    const vars: Record<string, Variable> = {};
    for (const key of ["lr", ...this.scheduledHypers()]) {
      let value = (hyper as unknown as Record<string, number>)[key]!;
      const v = scalarVar(value, `${key}${this.paramGroups.length}`);
      vars[key] = v;
      Object.defineProperty(group, key, {
        enumerable: true,
        get: () => value,
        set: (x: number) => {
          value = x;
          withGrad(false, () => v._assign(Tensor._scalar(x, "float32")));
        },
      });
    }
    Object.defineProperty(group, "vars", { value: vars, enumerable: false });
    Object.defineProperty(group, "lrVar", { value: vars.lr, enumerable: false });
    this.paramGroups.push(group);
  }

  /** Sets every parameter's gradient to null. */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    const traced = currentTrace().name !== "eager";
    // Traced: the plain hyperparameters, the groups and each parameter's state Variables
    // are baked into the graph; loadStateDict (new state Variables) or a changed
    // hyperparameter must trace anew.
    if (traced) {
      const groups = this.paramGroups.map((g) => `${plainHypers(g)};${g.params.length}`).join("|");
      guard(`${this.constructor.name} hyperparameters and parameter groups`, () =>
        this.paramGroups.map((g) => `${plainHypers(g)};${g.params.length}`).join("|") === groups);
    }
    const used: [Tensor, State][] = [];
    inPhase("update", () =>
      withGrad(false, () => {
        for (const group of this.paramGroups) {
          for (const p of group.params) {
            if (!p.grad) continue;
            let s = this.state.get(p);
            if (!s) {
              s = this.initState(p, group);
              this.state.set(p, s);
            }
            if (traced) used.push([p, s]);
            if (p instanceof Variable && !traced) this.compiledUpdate(p, p.grad, s, group);
            else this.update(p as Variable, p.grad, s, group);
          }
        }
      }),
    );
    if (traced) guard(`${this.constructor.name} state (replaced by loadStateDict)`, () => used.every(([p, s]) => this.state.get(p) === s));
  }

  /** Eagerly, each parameter's update runs as a compiled function (one graph per parameter:
   *  the moment and parameter updates fuse into a few kernels instead of one kernel and one
   *  temporary per op; Adam's eager MLP step spent a third of its time there). The program
   *  is keyed by the group's plain hyperparameters (passed as a signature argument, so a
   *  change retraces) and rebuilt when the parameter's state Variables are replaced. */
  private readonly updates = new WeakMap<Tensor, { state: State; run: CompiledFunction<[Tensor, string], number> }>();
  /** Every program made, so their arenas are freed when this optimizer is collected. */
  private compiledRuns: CompiledFunction<[Tensor, string], number>[] | undefined;
  private compiledUpdate(p: Variable, grad: Tensor, s: State, group: ParamGroup<H>): void {
    let u = this.updates.get(p);
    if (!u || u.state !== s) {
      u?.run.clear();
      // The program holds the optimizer and the group (whose accessors close over the
      // optimizer) weakly: the finalizer's list, reachable from the registry, must not keep
      // the optimizer alive.
      const self = new WeakRef<Optimizer<H>>(this), groupRef = new WeakRef(group);
      const run = fn((g: Tensor, _hypers: string) => {
        self.deref()!.update(p, g, s, groupRef.deref()!);
        return 0;
      });
      if (!this.compiledRuns) programsOf.register(this, (this.compiledRuns = []));
      this.compiledRuns.push(run);
      this.updates.set(p, (u = { state: s, run }));
    }
    u.run(grad, plainHypers(group));
  }

  /** zeroGrad(), loss.backward(), step(); returns loss. Inside tb.fn this is a whole
   *  training step in one graph. */
  minimize(loss: Tensor): Tensor {
    this.zeroGrad();
    loss.backward();
    this.step();
    return loss;
  }

  /** Hyperparameters besides lr that schedulers may change between steps: each gets a
   *  scalar Variable (group.vars[key]) that the update reads. A method, not a field, since
   *  the base constructor needs it before subclass fields exist. */
  protected scheduledHypers(): string[] {
    return [];
  }

  protected abstract initState(p: Tensor, group: ParamGroup<H>): State;
  /** Writes the new values of p and its state (assign each once, after computing all). */
  protected abstract update(p: Variable, grad: Tensor, state: State, group: ParamGroup<H>): void;

  /** Writes value into p: Variables through assign (an update edge under a trace). */
  protected write(p: Tensor, value: Tensor): void {
    if (p instanceof Variable) p.assign(value);
    else p._assign(value);
  }

  // -------------------------------------------------------------------------------------
  // State dicts

  stateDict(): OptimizerStateDict {
    const state: Record<string, Record<string, Tensor>> = {};
    const paramGroups: SavedGroup[] = [];
    let index = 0;
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s) state[String(index)] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, withGrad(false, () => v.detach())]));
        ids.push(index++);
      }
      const hyper: Hyper = {};
      for (const k of Object.keys(this.defaults)) hyper[k] = (g as unknown as Hyper)[k]!;
      paramGroups.push({ ...hyper, params: ids });
    }
    return { state, paramGroups };
  }

  /** Restores hyperparameters and state saved by stateDict() from an optimizer over
   *  parameters of the same shapes, in the same groups. Also takes the record that
   *  tb.load returns for a file saved with tb.save(path, optimizer.stateDict()). */
  loadStateDict(input: OptimizerStateDict | Record<string, Tensor>): void {
    const name = this.constructor.name;
    const dict: OptimizerStateDict = Array.isArray((input as Partial<OptimizerStateDict>).paramGroups)
      ? (input as OptimizerStateDict)
      : unflattenOptimizerState(input as Record<string, Tensor>, checkpointMetadata(input as Record<string, Tensor>), `${name}.loadStateDict`);
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`${name}.loadStateDict: the state has ${dict.paramGroups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    const all = this.paramGroups.flatMap((g) => g.params);
    dict.paramGroups.forEach((sg, i) => {
      const g = this.paramGroups[i]!;
      if (sg.params.length !== g.params.length) {
        throw new Error(`${name}.loadStateDict: group ${i} has ${sg.params.length} parameters in the state and ${g.params.length} here`);
      }
    });
    for (const [key, entries] of Object.entries(dict.state)) {
      const p = all[Number(key)];
      if (!p) throw new Error(`${name}.loadStateDict: state for parameter ${key}, but there are only ${all.length} parameters`);
      const unknown = Object.keys(entries).filter((k) => !this.stateKeys.includes(k));
      if (unknown.length) throw new Error(`${name}.loadStateDict: unexpected state keys ${unknown.join(", ")} for parameter ${key} (expected ${this.stateKeys.join(", ")})`);
      for (const [k, t] of Object.entries(entries)) {
        if (k !== "step" && fmtShape(t.shape) !== fmtShape(p.shape)) {
          throw new Error(`${name}.loadStateDict: state ${key}.${k} has shape ${fmtShape(t.shape)}, parameter ${key} is ${fmtShape(p.shape)}`);
        }
      }
    }
    dict.paramGroups.forEach((sg, i) => {
      const g = this.paramGroups[i]! as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(sg)) if (k !== "params" && k in this.defaults) g[k] = v;
    });
    this.state.clear();
    for (const [key, entries] of Object.entries(dict.state)) {
      const p = all[Number(key)]!;
      const s: State = {};
      for (const [k, t] of Object.entries(entries)) {
        s[k] = new Variable(withGrad(false, () => t.detach().cast("float32").clone()), { name: k, requiresGrad: false });
      }
      this.state.set(p, s);
    }
  }
}

// ---------------------------------------------------------------------------------------
// The optimizers. Letters: p parameter, g gradient, t step count (after this step).

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** buf = momentum buf + (1 - dampening) g (buf = g on the first step); p -= lr (g +
 *  momentum buf if nesterov, else buf); g includes weightDecay p. */
export class SGD extends Optimizer<SGDOptions> {
  protected readonly stateKeys = ["momentum_buffer", "step"];
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDOptions>>, options: Partial<SGDOptions> & { lr: number }) {
    if (typeof options?.lr !== "number") throw new Error(`SGD: options.lr is required (a number), got ${String(options?.lr)}`);
    const o = withOptions("SGD", { lr: options.lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, options);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new Error("SGD: nesterov momentum needs momentum > 0 and dampening 0");
    super(params, o);
  }
  protected override scheduledHypers(): string[] {
    return ["momentum"];
  }
  // Whether a parameter keeps a momentum buffer is decided at its first step (momentum
  // nonzero then, e.g. set by OneCycleLR); the buffer's factor is read from the Variable.
  protected initState(p: Tensor, group: ParamGroup<SGDOptions>): State {
    return group.momentum ? { momentum_buffer: stateLike(p, "momentum_buffer"), step: scalarVar(0, "step") } : {};
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<SGDOptions>): void {
    let g = group.weightDecay ? add(grad, mul(p, group.weightDecay)) : grad;
    if (s.momentum_buffer) {
      const buf0 = s.momentum_buffer;
      const step = s.step!;
      const mom = group.vars.momentum!;
      let buf = add(mul(buf0, mom), mul(g, 1 - group.dampening));
      // The first step starts the buffer at g; only dampening makes that differ from the
      // general formula with a zero buffer, so only then is the step count consulted.
      if (group.dampening) buf = where(eq(step, 0), g, buf);
      g = group.nesterov ? add(g, mul(buf, mom)) : buf;
      buf0.assign(buf);
      step.assign(add(step, 1));
    }
    this.write(p, sub(p, mul(g, group.lrVar)));
  }
}

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

export interface AdamInput {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

function adamDefaults(name: string, options: AdamInput, weightDecay: number): AdamOptions {
  const { betas, ...rest } = options;
  const [beta1, beta2] = betas ?? [0.9, 0.999];
  return withOptions(name, { lr: 1e-3, beta1, beta2, eps: 1e-8, weightDecay, amsgrad: false }, rest);
}

/** A parameter group of an optimizer with betas may give them as a pair, as PyTorch's. */
export type BetasGroupInput<H> = ParamGroupInput<H> & { betas?: [number, number] };

/** Options or a group with `betas: [b1, b2]` as separate beta1 and beta2. */
export function splitBetas<T extends { betas?: [number, number] }>(input: T): Omit<T, "betas"> & { beta1?: number; beta2?: number } {
  const { betas, ...rest } = input;
  return betas ? { ...rest, beta1: betas[0], beta2: betas[1] } : rest;
}

/** The base of optimizers with betas: betas given as a pair in options and groups, and
 *  beta1 a scheduled hyperparameter (a Variable that OneCycleLR may cycle). */
export abstract class BetasOptimizer<H extends { lr: number; beta1: number; beta2: number }> extends Optimizer<H> {
  override addParamGroup(input: BetasGroupInput<H>): void {
    super.addParamGroup(splitBetas(input) as ParamGroupInput<H>);
  }
  protected override scheduledHypers(): string[] {
    return ["beta1"];
  }
}

/** 1 - beta^t as -expm1(t log beta): in float32, 1 - pow(0.999, t) keeps only about four
 *  digits (pow lands within an ulp of 1, and 0.999 itself rounds to 0.99900001), which made
 *  every Adam step about 1e-5 too large; PyTorch computes these in double. A plain-number
 *  beta's log is taken in double here. */
export function biasCorrection(t: Tensor, beta: Tensor | number): Tensor {
  return neg(expm1(mul(t, typeof beta === "number" ? Math.log(beta) : log(beta))));
}

/** Weight decay, as [p, g] for the update: coupled adds weightDecay p to g; decoupled
 *  (AdamW's) scales p by 1 - lr weightDecay. */
export function decay(p: Variable, grad: Tensor, lr: Tensor, weightDecay: number, decoupled: boolean): [Tensor, Tensor] {
  if (!weightDecay) return [p, grad];
  return decoupled ? [mul(p, sub(1, mul(lr, weightDecay))), grad] : [p, add(grad, mul(p, weightDecay))];
}

type AdamGroupInput = BetasGroupInput<AdamOptions>;

/** Adam (Kingma and Ba), PyTorch's form: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *  p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). AdamW decays p by
 *  (1 - lr wd) first instead of adding wd p to g. */
export class Adam extends BetasOptimizer<AdamOptions> {
  protected readonly stateKeys = ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
  protected readonly decoupled: boolean = false;
  constructor(params: Iterable<Tensor> | Iterable<AdamGroupInput>, options: AdamInput = {}) {
    super(params, adamDefaults(new.target.name, options, 0));
  }
  protected initState(p: Tensor, group: ParamGroup<AdamOptions>): State {
    const s: State = { step: scalarVar(0, "step"), exp_avg: stateLike(p, "exp_avg"), exp_avg_sq: stateLike(p, "exp_avg_sq") };
    if (group.amsgrad) s.max_exp_avg_sq = stateLike(p, "max_exp_avg_sq");
    return s;
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<AdamOptions>): void {
    const { beta2, eps } = group;
    const lr = group.lrVar;
    const beta1 = group.vars.beta1!;
    const [p0, g] = decay(p, grad, lr, group.weightDecay, this.decoupled);
    const t = add(s.step!, 1);
    const m = add(mul(s.exp_avg!, beta1), mul(g, sub(1, beta1)));
    const v = add(mul(s.exp_avg_sq!, beta2), mul(mul(g, g), 1 - beta2));
    const bc1 = biasCorrection(t, beta1);
    const bc2 = biasCorrection(t, beta2);
    let vMax = v;
    if (group.amsgrad) {
      vMax = maximum(s.max_exp_avg_sq!, v);
      s.max_exp_avg_sq!.assign(vMax);
    }
    const denom = add(div(sqrt(vMax), sqrt(bc2)), eps);
    const update = mul(div(m, denom), div(lr, bc1));
    s.step!.assign(t);
    s.exp_avg!.assign(m);
    s.exp_avg_sq!.assign(v);
    this.write(p, sub(p0, update));
  }
}

export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: Iterable<Tensor> | Iterable<AdamGroupInput>, options: AdamInput = {}) {
    super(params, { weightDecay: 0.01, ...options });
  }
}

export interface RMSpropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

/** sq = alpha sq + (1-alpha) g^2; avg = sqrt(sq - ga^2) + eps when centered (ga the running
 *  mean of g), else sqrt(sq) + eps; with momentum buf = momentum buf + g / avg and
 *  p -= lr buf, else p -= lr g / avg. */
export class RMSprop extends Optimizer<RMSpropOptions> {
  protected readonly stateKeys = ["step", "square_avg", "grad_avg", "momentum_buffer"];
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<RMSpropOptions>>, options: Partial<RMSpropOptions> = {}) {
    super(params, withOptions("RMSprop", { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false }, options));
  }
  protected override scheduledHypers(): string[] {
    return ["momentum"];
  }
  protected initState(p: Tensor, group: ParamGroup<RMSpropOptions>): State {
    const s: State = { step: scalarVar(0, "step"), square_avg: stateLike(p, "square_avg") };
    if (group.centered) s.grad_avg = stateLike(p, "grad_avg");
    if (group.momentum > 0) s.momentum_buffer = stateLike(p, "momentum_buffer");
    return s;
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<RMSpropOptions>): void {
    const { alpha, eps, weightDecay } = group;
    const g = weightDecay ? add(grad, mul(p, weightDecay)) : grad;
    const sq = add(mul(s.square_avg!, alpha), mul(mul(g, g), 1 - alpha));
    let avg: Tensor;
    if (group.centered) {
      const ga = add(mul(s.grad_avg!, alpha), mul(g, 1 - alpha));
      avg = add(sqrt(sub(sq, mul(ga, ga))), eps);
      s.grad_avg!.assign(ga);
    } else avg = add(sqrt(sq), eps);
    let delta = div(g, avg);
    if (s.momentum_buffer) {
      delta = add(mul(s.momentum_buffer, group.vars.momentum!), delta);
      s.momentum_buffer!.assign(delta);
    }
    s.square_avg!.assign(sq);
    s.step!.assign(add(s.step!, 1));
    this.write(p, sub(p, mul(delta, group.lrVar)));
  }
}

export interface AdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}

/** sum += g^2; p -= lr / (1 + (t - 1) lrDecay) * g / (sqrt(sum) + eps). */
export class Adagrad extends Optimizer<AdagradOptions> {
  protected readonly stateKeys = ["step", "sum"];
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdagradOptions>>, options: Partial<AdagradOptions> = {}) {
    super(params, withOptions("Adagrad", { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 }, options));
  }
  protected initState(p: Tensor, group: ParamGroup<AdagradOptions>): State {
    return { step: scalarVar(0, "step"), sum: stateLike(p, "sum", group.initialAccumulatorValue) };
  }
  protected update(p: Variable, grad: Tensor, s: State, group: ParamGroup<AdagradOptions>): void {
    const g = group.weightDecay ? add(grad, mul(p, group.weightDecay)) : grad;
    const step = s.step!;
    const clr = group.lrDecay ? div(group.lrVar, add(mul(step, group.lrDecay), 1)) : group.lrVar; // step is t - 1 here
    const sum = add(s.sum!, mul(g, g));
    s.sum!.assign(sum);
    step.assign(add(step, 1));
    this.write(p, sub(p, mul(div(g, add(sqrt(sum), group.eps)), clr)));
  }
}
