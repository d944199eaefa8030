// The standard layers: thin modules that hold parameters (Variables, PyTorch's layouts and
// default initialisations) and call the functional ops of src/ops. Letters: N batch,
// C channels, H/W height and width, L length, D features, V vocabulary.
//
// Default initialisation (as PyTorch's reset_parameters): Linear and convolution weights
// kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)), and biases
// U(-1/sqrt(fanIn), 1/sqrt(fanIn)); norms start at weight 1, bias 0; embeddings N(0, 1).

import { Tensor } from "../tensor/tensor.js";
import { Variable } from "../graph/variable.js";
import { Module, type AnyModule } from "./module.js";
import * as init from "./init.js";
import { add, elu, gelu, leakyRelu, relu, sigmoid, silu, tanh } from "../ops/elementwise.js";
import { flatten } from "../ops/movement.js";
import { linear } from "../ops/linalg.js";
import { adaptiveAvgPool2d, avgPool2d, conv1d, conv2d, convTranspose2d, maxPool2d, type Pool2dOptions } from "../ops/linalg.js";
import { batchNorm, dropout, embedding, layerNorm, logSoftmax, softmax } from "../ops/nn.js";
import { zeros, ones } from "../ops/creation.js";
import { fmtShape } from "../tensor/shape.js";

type Pair = number | readonly [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);
const fmtPair = (v: [number, number]): string => (v[0] === v[1] ? String(v[0]) : `[${v[0]}, ${v[1]}]`);

/** A weight [O, I, ...] with PyTorch's default kaiming-uniform(a = sqrt(5)) values, and a
 *  bias of `biasSize` drawn from U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
function defaultWeights(shape: number[], fanIn: number, biasSize: number | null): [Variable, Variable | null] {
  const weight = new Variable(zeros(shape), { name: "weight" });
  init.kaimingUniform(weight, { a: Math.sqrt(5) });
  if (biasSize === null) return [weight, null];
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const bias = new Variable(zeros([biasSize]), { name: "bias" });
  init.uniform(bias, -bound, bound);
  return [weight, bias];
}

// ---------------------------------------------------------------------------------------
// Linear and convolution

/** y = x W^T + b; x [..., inFeatures] -> [..., outFeatures]; weight [out, in]. */
export class Linear extends Module {
  weight: Variable;
  bias: Variable | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    [this.weight, this.bias] = defaultWeights([outFeatures, inFeatures], inFeatures, options.bias === false ? null : outFeatures);
  }
  forward(x: Tensor): Tensor {
    const d = x.shape[x.shape.length - 1];
    if (d !== this.inFeatures) throw new Error(`Linear(${this.inFeatures}, ${this.outFeatures}): input ${fmtShape(x.shape)} has ${d} features on its last axis, expected ${this.inFeatures}`);
    return linear(x, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

export interface Conv2dModuleOptions {
  stride?: Pair;
  padding?: Pair | "same" | "valid";
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** x [N, Cin, H, W] -> [N, Cout, H', W']; weight [Cout, Cin/groups, KH, KW]. */
export class Conv2d extends Module {
  weight: Variable;
  bias: Variable | null;
  readonly kernelSize: [number, number];
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, readonly options: Conv2dModuleOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv2d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
    this.kernelSize = pair(kernelSize);
    const [kh, kw] = this.kernelSize;
    [this.weight, this.bias] = defaultWeights([outChannels, inChannels / groups, kh, kw], (inChannels / groups) * kh * kw, options.bias === false ? null : outChannels);
  }
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`Conv2d(${this.inChannels}, ${this.outChannels}): expected input [N, ${this.inChannels}, H, W], got ${fmtShape(x.shape)}`);
    }
    const { stride, padding, dilation, groups } = this.options;
    return conv2d(x, this.weight, { bias: this.bias, stride, padding, dilation, groups });
  }
  override extraRepr(): string {
    const o = this.options;
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${fmtPair(this.kernelSize)}`;
    if (o.stride !== undefined) s += `, stride=${fmtPair(pair(o.stride))}`;
    if (o.padding !== undefined) s += `, padding=${typeof o.padding === "string" ? JSON.stringify(o.padding) : fmtPair(pair(o.padding))}`;
    if (o.dilation !== undefined) s += `, dilation=${fmtPair(pair(o.dilation))}`;
    if (o.groups !== undefined && o.groups !== 1) s += `, groups=${o.groups}`;
    if (this.bias === null) s += ", bias=false";
    return s;
  }
}

export interface Conv1dModuleOptions {
  stride?: number;
  padding?: number | "same" | "valid";
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

/** x [N, Cin, L] -> [N, Cout, L']; weight [Cout, Cin/groups, K]. */
export class Conv1d extends Module {
  weight: Variable;
  bias: Variable | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, readonly options: Conv1dModuleOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv1d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
    [this.weight, this.bias] = defaultWeights([outChannels, inChannels / groups, kernelSize], (inChannels / groups) * kernelSize, options.bias === false ? null : outChannels);
  }
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 3 || x.shape[1] !== this.inChannels) {
      throw new Error(`Conv1d(${this.inChannels}, ${this.outChannels}): expected input [N, ${this.inChannels}, L], got ${fmtShape(x.shape)}`);
    }
    const { stride, padding, dilation, groups } = this.options;
    return conv1d(x, this.weight, { bias: this.bias, stride, padding, dilation, groups });
  }
  override extraRepr(): string {
    const o = this.options;
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}`;
    if (o.stride !== undefined) s += `, stride=${o.stride}`;
    if (o.padding !== undefined) s += `, padding=${JSON.stringify(o.padding)}`;
    if (this.bias === null) s += ", bias=false";
    return s;
  }
}

export interface ConvTranspose2dModuleOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** x [N, Cin, H, W] -> [N, Cout, H', W']; weight [Cin, Cout/groups, KH, KW] (PyTorch's
 *  layout, so its fanIn is Cout/groups * KH * KW). */
export class ConvTranspose2d extends Module {
  weight: Variable;
  bias: Variable | null;
  readonly kernelSize: [number, number];
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, readonly options: ConvTranspose2dModuleOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`ConvTranspose2d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
    this.kernelSize = pair(kernelSize);
    const [kh, kw] = this.kernelSize;
    [this.weight, this.bias] = defaultWeights([inChannels, outChannels / groups, kh, kw], (outChannels / groups) * kh * kw, options.bias === false ? null : outChannels);
  }
  forward(x: Tensor): Tensor {
    const { bias: _b, ...o } = this.options;
    return convTranspose2d(x, this.weight, { ...o, bias: this.bias });
  }
  override extraRepr(): string {
    const o = this.options;
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${fmtPair(this.kernelSize)}`;
    if (o.stride !== undefined) s += `, stride=${fmtPair(pair(o.stride))}`;
    if (o.padding !== undefined) s += `, padding=${fmtPair(pair(o.padding))}`;
    if (o.outputPadding !== undefined) s += `, outputPadding=${fmtPair(pair(o.outputPadding))}`;
    if (this.bias === null) s += ", bias=false";
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// Pooling, reshaping, dropout

function poolRepr(o: Pool2dOptions): string {
  const k = pair(o.kernelSize);
  return `kernelSize=${fmtPair(k)}, stride=${fmtPair(pair(o.stride ?? k))}, padding=${fmtPair(pair(o.padding ?? 0))}`;
}

export class MaxPool2d extends Module {
  readonly options: Pool2dOptions;
  constructor(kernelSize: Pair, options: { stride?: Pair; padding?: Pair } = {}) {
    super();
    this.options = { kernelSize, ...options };
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
  override extraRepr(): string {
    return poolRepr(this.options);
  }
}

export class AvgPool2d extends Module {
  readonly options: Pool2dOptions & { countIncludePad?: boolean };
  constructor(kernelSize: Pair, options: { stride?: Pair; padding?: Pair; countIncludePad?: boolean } = {}) {
    super();
    this.options = { kernelSize, ...options };
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }
  override extraRepr(): string {
    return poolRepr(this.options);
  }
}

/** Averages [N, C, H, W] into outputSize bins per channel (PyTorch's adaptive bins). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${fmtPair(pair(this.outputSize))}`;
  }
}

/** Flattens axes startAxis..endAxis (default 1..-1: everything but the batch). */
export class Flatten extends Module {
  constructor(readonly startAxis = 1, readonly endAxis = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startAxis, this.endAxis);
  }
  override extraRepr(): string {
    return `startAxis=${this.startAxis}, endAxis=${this.endAxis}`;
  }
}

/** Zeroes entries with probability p while training (scaling the rest by 1/(1-p)). `p` may
 *  be changed later, as in PyTorch (a compiled function traced through it traces anew). */
export class Dropout extends Module {
  constructor(public p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training });
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

// ---------------------------------------------------------------------------------------
// Normalisation and embedding

export interface BatchNormModuleOptions {
  eps?: number;
  momentum?: number;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics for evaluation (default true). */
  trackRunningStats?: boolean;
}

/** Batch norm over channel axis 1. Buffers runningMean, runningVar (unbiased) and
 *  numBatchesTracked; training mode uses batch statistics and updates the buffers. */
abstract class BatchNormBase extends Module {
  weight: Variable | null;
  bias: Variable | null;
  runningMean: Variable | null = null;
  runningVar: Variable | null = null;
  numBatchesTracked: Variable | null = null;
  readonly eps: number;
  readonly momentum: number;
  protected abstract readonly ranks: readonly number[];
  constructor(readonly numFeatures: number, options: BatchNormModuleOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    this.weight = affine ? new Variable(ones([numFeatures]), { name: "weight" }) : null;
    this.bias = affine ? new Variable(zeros([numFeatures]), { name: "bias" }) : null;
    if (options.trackRunningStats ?? true) {
      this.registerBuffer("runningMean", zeros([numFeatures]));
      this.registerBuffer("runningVar", ones([numFeatures]));
      this.registerBuffer("numBatchesTracked", zeros([], { dtype: "int32" }));
    }
  }
  forward(x: Tensor): Tensor {
    if (!this.ranks.includes(x.shape.length) || x.shape[1] !== this.numFeatures) {
      const want = this.ranks.map((r) => (r === 2 ? `[N, ${this.numFeatures}]` : r === 3 ? `[N, ${this.numFeatures}, L]` : `[N, ${this.numFeatures}, H, W]`)).join(" or ");
      throw new Error(`${this.constructor.name}(${this.numFeatures}): expected input ${want}, got ${fmtShape(x.shape)}`);
    }
    if (this.training && this.numBatchesTracked) this.numBatchesTracked.assign(add(this.numBatchesTracked, 1));
    // Without running statistics, evaluation also normalises with batch statistics.
    return batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: this.training || this.runningMean === null,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, trackRunningStats=${this.runningMean !== null}`;
  }
}

/** Input [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected readonly ranks = [2, 3];
}

/** Input [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected readonly ranks = [4];
}

/** Normalises the trailing axes normalizedShape; elementwise weight (1) and bias (0). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  weight: Variable | null;
  bias: Variable | null;
  constructor(normalizedShape: number | readonly number[], readonly options: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? new Variable(ones(this.normalizedShape), { name: "weight" }) : null;
    this.bias = affine && options.bias !== false ? new Variable(zeros(this.normalizedShape), { name: "bias" }) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.options.eps ?? 1e-5 });
  }
  override extraRepr(): string {
    return `${fmtShape(this.normalizedShape)}, eps=${this.options.eps ?? 1e-5}, elementwiseAffine=${this.weight !== null}`;
  }
}

/** int32 ids [...] -> rows of weight [V, D]: [..., D]. weight ~ N(0, 1). */
export class Embedding extends Module {
  weight: Variable;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number) {
    super();
    this.weight = new Variable(zeros([numEmbeddings, embeddingDim]), { name: "weight" });
    init.normal(this.weight);
  }
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== "int32") throw new Error(`Embedding(${this.numEmbeddings}, ${this.embeddingDim}): ids must be int32, got ${ids.dtype}${fmtShape(ids.shape)}`);
    return embedding(ids, this.weight);
  }
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}

// ---------------------------------------------------------------------------------------
// Activations

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return relu(x); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return tanh(x); }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return sigmoid(x); }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor { return silu(x); }
}
export class GELU extends Module {
  constructor(readonly approximate: "none" | "tanh" = "none") { super(); }
  forward(x: Tensor): Tensor { return gelu(x, { approximate: this.approximate }); }
  override extraRepr(): string { return this.approximate === "none" ? "" : `approximate="${this.approximate}"`; }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  forward(x: Tensor): Tensor { return leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
export class ELU extends Module {
  constructor(readonly alpha = 1) { super(); }
  forward(x: Tensor): Tensor { return elu(x, this.alpha); }
  override extraRepr(): string { return `alpha=${this.alpha}`; }
}
export class Softmax extends Module {
  constructor(readonly axis = -1) { super(); }
  forward(x: Tensor): Tensor { return softmax(x, this.axis); }
  override extraRepr(): string { return `axis=${this.axis}`; }
}
export class LogSoftmax extends Module {
  constructor(readonly axis = -1) { super(); }
  forward(x: Tensor): Tensor { return logSoftmax(x, this.axis); }
  override extraRepr(): string { return `axis=${this.axis}`; }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}

// ---------------------------------------------------------------------------------------
// Containers: items are own fields "0", "1", ..., so model[0] works and they are children.

/** A list of modules (not callable with data: its owner decides how to use them). Typed by
 *  its items: new ModuleList([new Linear(4, 4), new Linear(4, 4)]) iterates Linears. */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<never[], never> {
  readonly [index: number]: M;
  constructor(modules: Iterable<M> = []) {
    super();
    this._passThrough = true;
    for (const m of modules) this.append(m);
  }
  override get length(): number {
    let n = 0;
    while (Object.hasOwn(this, String(n))) n++;
    return n;
  }
  append(m: M): this {
    (this as unknown as Record<string, M>)[String(this.length)] = m;
    this._named = false;
    return this;
  }
  *[Symbol.iterator](): IterableIterator<M> {
    for (let i = 0; i < this.length; i++) yield this[i]!;
  }
  forward(): never {
    throw new Error("ModuleList: a list of modules is not callable; call its items (for (const layer of list) x = layer(x))");
  }
}

/** Calls its modules in order, each on the previous one's output. */
export class Sequential extends Module {
  readonly [index: number]: Module<[Tensor], Tensor>;
  constructor(...modules: Module<[Tensor], Tensor>[]) {
    super();
    modules.forEach((m, i) => {
      (this as unknown as Record<string, unknown>)[String(i)] = m;
    });
  }
  override get length(): number {
    let n = 0;
    while (Object.hasOwn(this, String(n))) n++;
    return n;
  }
  append(m: Module<[Tensor], Tensor>): this {
    (this as unknown as Record<string, unknown>)[String(this.length)] = m;
    this._named = false;
    return this;
  }
  *[Symbol.iterator](): IterableIterator<Module<[Tensor], Tensor>> {
    for (let i = 0; i < this.length; i++) yield this[i]!;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this) h = m(h);
    return h;
  }
}
