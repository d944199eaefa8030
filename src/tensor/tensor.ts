// The Tensor: a shape, a dtype, and either a strided view of refcounted backend storage
// (eager) or an abstract value owned by a graph trace. Views (reshape, permute, slice,
// expand, flip) share storage; every op is a method that forwards to the op function of
// the same name (no prototype patching), which binds primitives.

import type { AnyTypedArray, Backend, DType, View } from "../backend/backend.js";
import { displaySymbol, type MimeBundle } from "../display/protocol.js";
import { allocate, getBackend, track, untrack, type Lifetime, type Storage } from "../core/runtime.js";
import type { TapeNode } from "../core/trace.js";
import { contiguousStrides, fmtShape, isContiguous, sizeOf } from "./shape.js";
import { itemSize } from "../backend/backend.js";
import * as o from "../ops/api.js";
import type { Axis, ReduceOptions, VarOptions } from "../ops/reduce.js";
import type { SliceSpec } from "../ops/movement.js";
import type { BatchNormOptions, CrossEntropyOptions, LayerNormOptions, Reduction } from "../ops/nn.js";
import type { Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, Pool2dOptions } from "../ops/linalg.js";
import { backward as runBackward } from "../autograd/autograd.js";
import { formatTensor, htmlTensor } from "../display/tensor-repr.js";

export type TensorLike = Tensor | number | boolean;

/** Nested arrays as returned by tolist(). */
export type NestedList = number | boolean | NestedList[];

/** Tensors made so far: each tensor's `_serial` is its rank in this count. */
let created = 0;

/** @internal How many tensors have been made (graph traces tell captured tensors, made
 *  before the trace began, from tensors made while tracing). */
export function tensorsCreated(): number {
  return created;
}

/** Told of every read and write of a tensor's .grad while set (a graph trace is running). */
type GradAccess = (t: Tensor, write: boolean) => void;
let gradAccess: GradAccess | null = null;

/** @internal Sets the .grad observer; returns the previous one (to restore). */
export function observeGradAccess(f: GradAccess | null): GradAccess | null {
  const prev = gradAccess;
  gradAccess = f;
  return prev;
}

export class Tensor {
  readonly shape: number[];
  readonly dtype: DType;
  /** Tape node that produced this tensor (null for leaves and untracked results). */
  _node: TapeNode | null;
  /** Payload of a graph trace for abstract tensors (undefined in eager mode). */
  _payload: unknown;
  /** @internal Creation order (see tensorsCreated). */
  readonly _serial = created++;
  /** @internal The gradient, without telling an observer (see grad). */
  _grad: Tensor | null = null;
  /** Kept alive past the end of a scope (gradients stored on leaves). */
  _escaped = false;
  private _leafRequiresGrad = false;
  private readonly _v: View | null;
  private readonly _life: Lifetime | null;

  protected constructor(shape: number[], dtype: DType, view: View | null, storage: Storage | null, node: TapeNode | null) {
    this.shape = shape;
    this.dtype = dtype;
    this._v = view;
    this._node = node;
    this._life = storage ? track(this, storage) : null;
  }

  /** @internal A tensor over a view of storage (takes over one reference of storage). */
  static _fromView(view: View, storage: Storage, node: TapeNode | null): Tensor {
    return new Tensor([...view.shape], view.dtype, view, storage, node);
  }

  /** @internal An abstract tensor for graph traces: shape and dtype, no data. */
  static _abstract(shape: readonly number[], dtype: DType, payload: unknown, node: TapeNode | null = null): Tensor {
    const t = new Tensor([...shape], dtype, null, null, node);
    t._payload = payload;
    return t;
  }

  /** @internal A contiguous tensor holding a copy of data. */
  static _fromArray(data: AnyTypedArray, shape: number[], dtype: DType, backend: Backend = getBackend()): Tensor {
    const n = sizeOf(shape);
    const s = allocate(backend, n * itemSize[dtype], `tensor ${dtype}${fmtShape(shape)}`);
    if (n > 0) backend.write(s.buffer, dtype, 0, data);
    return new Tensor(shape, dtype, { buffer: s.buffer, dtype, shape, strides: contiguousStrides(shape), offset: 0 }, s, null);
  }

  /** @internal A 0-d tensor. */
  static _scalar(value: number, dtype: DType, backend?: Backend): Tensor {
    const arr = dtype === "float32" ? new Float32Array([value]) : dtype === "int32" ? new Int32Array([value]) : new Uint8Array([value ? 1 : 0]);
    return Tensor._fromArray(arr, [], dtype, backend);
  }

  /** @internal */
  _view(): View {
    if (!this._v) throw new Error(`cannot read a traced tensor ${this.dtype}${fmtShape(this.shape)}: its value exists only when the compiled function runs (return it from the function instead)`);
    if (!this._life || !this._life.held.storage) throw new Error(`tensor ${this.dtype}${fmtShape(this.shape)} was disposed; it can no longer be used`);
    return this._v;
  }

  /** @internal */
  _storage(): Storage {
    this._view();
    return this._life!.held.storage!;
  }

  /** @internal */
  _isContiguous(): boolean {
    const v = this._view();
    return isContiguous(v.shape, v.strides);
  }

  /** @internal Overwrites this tensor's elements with other's (same shape); used for running
   *  statistics and optimizer updates. Views of this tensor see the change. */
  _assign(other: Tensor): void {
    if (fmtShape(other.shape) !== fmtShape(this.shape)) throw new Error(`assign: shape ${fmtShape(other.shape)} does not match ${fmtShape(this.shape)}`);
    let value = o.cast(other, this.dtype);
    const dst = this._view();
    // The copy kernel needs disjoint views: a value read from this very storage (x.T, a
    // shifted slice) goes through a fresh buffer first.
    if (value._view().buffer === dst.buffer) value = o.copyOf(value);
    this._storage().backend.dispatch({ kind: "copy", input: value._view(), out: dst });
  }

  /** Accumulated gradient after backward() (null until then, or after zeroGrad). */
  get grad(): Tensor | null {
    if (gradAccess !== null) gradAccess(this, false);
    return this._grad;
  }
  set grad(g: Tensor | null) {
    if (gradAccess !== null) gradAccess(this, true);
    this._grad = g;
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this._life !== null && this._life.held.storage === null;
  }

  // -------------------------------------------------------------------------------------
  // Reading back

  /** A contiguous copy of the elements in row-major order. */
  dataSync(): AnyTypedArray {
    const v = this._view();
    const s = this._storage();
    const n = this.size;
    if (isContiguous(v.shape, v.strides)) return s.backend.read(s.buffer, v.dtype, v.offset, n);
    const c = o.contiguous(this);
    const out = c.dataSync();
    c.dispose();
    return out;
  }

  async data(): Promise<AnyTypedArray> {
    return this.dataSync();
  }

  /** The value of a one-element tensor as a number (bool tensors give 1 or 0, so that
   *  `x.item() > 0` and `if (mask.any().item())` type-check). */
  item(): number {
    if (this.size !== 1) throw new Error(`item: needs a tensor with one element, got ${fmtShape(this.shape)} (${this.size} elements)`);
    return this.dataSync()[0];
  }

  tolist(): NestedList {
    const d = this.dataSync();
    const conv = (x: number): number | boolean => (this.dtype === "bool" ? x !== 0 : x);
    const build = (axis: number, off: number, stride: number): NestedList => {
      if (axis === this.shape.length) return conv(d[off]);
      const inner = stride / (this.shape[axis] || 1);
      return Array.from({ length: this.shape[axis] }, (_v, i) => build(axis + 1, off + i * inner, inner));
    };
    return build(0, 0, this.size);
  }

  dispose(): void {
    if (this._life) untrack(this._life);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return formatTensor(this);
  }

  /** JS operators do not apply to tensors: `x * 2` throws and says what to write instead;
   *  string contexts (`${x}`, "loss " + x) get the printed tensor. */
  [Symbol.toPrimitive](hint: "number" | "string" | "default"): string {
    if (hint === "number") {
      throw new TypeError(
        `a ${this.dtype}${fmtShape(this.shape)} tensor was used as a number: JS operators (* / - < ...) do not apply to tensors; ` +
          `use methods (x.mul(2), x.lt(y)) or x.item() for a one-element tensor's value`,
      );
    }
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return formatTensor(this);
  }

  [displaySymbol](): MimeBundle {
    return { "text/plain": formatTensor(this), "text/html": htmlTensor(this) };
  }

  // -------------------------------------------------------------------------------------
  // Autograd

  get requiresGrad(): boolean {
    return this._leafRequiresGrad || this._node !== null;
  }
  set requiresGrad(v: boolean) {
    this.requiresGrad_(v);
  }

  /** Marks a leaf as requiring grad (float32 only); returns this. */
  requiresGrad_(v = true): this {
    if (this._node) throw new Error("requiresGrad: only leaf tensors can change requiresGrad (use detach() first)");
    if (v && this.dtype !== "float32") throw new Error(`requiresGrad: only float32 tensors can require grad, got ${this.dtype}`);
    this._leafRequiresGrad = v;
    return this;
  }

  get isLeaf(): boolean {
    return this._node === null;
  }

  /** Gradients of this tensor (a scalar unless grad is given) into every leaf's .grad. */
  backward(grad?: Tensor | number, options: { createGraph?: boolean } = {}): void {
    runBackward(this, grad, options);
  }

  zeroGrad(): void {
    this.grad = null;
  }

  /** The same data (shared storage), cut from the tape. */
  detach(): Tensor {
    if (!this._v) return Tensor._abstract(this.shape, this.dtype, this._payload);
    return Tensor._fromView(this._view(), this._storage().retain(), null);
  }

  clone(): Tensor {
    return o.copyOf(this);
  }

  // -------------------------------------------------------------------------------------
  // Ops (each forwards to the function of the same name)

  cast(dtype: DType): Tensor { return o.cast(this, dtype); }
  float(): Tensor { return o.cast(this, "float32"); }
  int(): Tensor { return o.cast(this, "int32"); }
  bool(): Tensor { return o.cast(this, "bool"); }
  neg(): Tensor { return o.neg(this); }
  abs(): Tensor { return o.abs(this); }
  sign(): Tensor { return o.sign(this); }
  exp(): Tensor { return o.exp(this); }
  log(): Tensor { return o.log(this); }
  log1p(): Tensor { return o.log1p(this); }
  expm1(): Tensor { return o.expm1(this); }
  sqrt(): Tensor { return o.sqrt(this); }
  rsqrt(): Tensor { return o.rsqrt(this); }
  square(): Tensor { return o.square(this); }
  reciprocal(): Tensor { return o.reciprocal(this); }
  sin(): Tensor { return o.sin(this); }
  cos(): Tensor { return o.cos(this); }
  tanh(): Tensor { return o.tanh(this); }
  sigmoid(): Tensor { return o.sigmoid(this); }
  erf(): Tensor { return o.erf(this); }
  floor(): Tensor { return o.floor(this); }
  ceil(): Tensor { return o.ceil(this); }
  round(): Tensor { return o.round(this); }
  relu(): Tensor { return o.relu(this); }
  leakyRelu(negativeSlope?: number): Tensor { return o.leakyRelu(this, negativeSlope); }
  elu(alpha?: number): Tensor { return o.elu(this, alpha); }
  gelu(options?: { approximate?: "none" | "tanh" }): Tensor { return o.gelu(this, options); }
  silu(): Tensor { return o.silu(this); }
  softplus(options?: { beta?: number; threshold?: number }): Tensor { return o.softplus(this, options); }
  clip(min?: number | null, max?: number | null): Tensor { return o.clip(this, min, max); }
  clamp(min?: number | null, max?: number | null): Tensor { return o.clip(this, min, max); }
  isnan(): Tensor { return o.isnan(this); }
  isinf(): Tensor { return o.isinf(this); }
  isfinite(): Tensor { return o.isFiniteT(this); }

  add(other: TensorLike): Tensor { return o.add(this, other); }
  sub(other: TensorLike): Tensor { return o.sub(this, other); }
  mul(other: TensorLike): Tensor { return o.mul(this, other); }
  div(other: TensorLike): Tensor { return o.div(this, other); }
  pow(other: TensorLike): Tensor { return o.pow(this, other); }
  maximum(other: TensorLike): Tensor { return o.maximum(this, other); }
  minimum(other: TensorLike): Tensor { return o.minimum(this, other); }
  mod(other: TensorLike): Tensor { return o.mod(this, other); }
  floorDiv(other: TensorLike): Tensor { return o.floorDiv(this, other); }
  atan2(other: TensorLike): Tensor { return o.atan2(this, other); }
  eq(other: TensorLike): Tensor { return o.eq(this, other); }
  ne(other: TensorLike): Tensor { return o.ne(this, other); }
  lt(other: TensorLike): Tensor { return o.lt(this, other); }
  le(other: TensorLike): Tensor { return o.le(this, other); }
  gt(other: TensorLike): Tensor { return o.gt(this, other); }
  ge(other: TensorLike): Tensor { return o.ge(this, other); }
  logicalAnd(other: TensorLike): Tensor { return o.logicalAnd(this, other); }
  logicalOr(other: TensorLike): Tensor { return o.logicalOr(this, other); }
  logicalXor(other: TensorLike): Tensor { return o.logicalXor(this, other); }
  logicalNot(): Tensor { return o.logicalNot(this); }
  /** where(cond, this, other). */
  where(cond: TensorLike, other: TensorLike): Tensor { return o.where(cond, this, other); }

  sum(axis?: Axis, options?: ReduceOptions): Tensor { return o.sum(this, axis, options); }
  mean(axis?: Axis, options?: ReduceOptions): Tensor { return o.mean(this, axis, options); }
  max(axis?: Axis, options?: ReduceOptions): Tensor { return o.max(this, axis, options); }
  min(axis?: Axis, options?: ReduceOptions): Tensor { return o.min(this, axis, options); }
  prod(axis?: Axis, options?: ReduceOptions): Tensor { return o.prod(this, axis, options); }
  any(axis?: Axis, options?: ReduceOptions): Tensor { return o.any(this, axis, options); }
  all(axis?: Axis, options?: ReduceOptions): Tensor { return o.all(this, axis, options); }
  argmax(axis?: number | null, options?: ReduceOptions): Tensor { return o.argmax(this, axis, options); }
  argmin(axis?: number | null, options?: ReduceOptions): Tensor { return o.argmin(this, axis, options); }
  var(axis?: Axis, options?: VarOptions): Tensor { return o.variance(this, axis, options); }
  std(axis?: Axis, options?: VarOptions): Tensor { return o.std(this, axis, options); }
  logsumexp(axis?: Axis, options?: ReduceOptions): Tensor { return o.logsumexp(this, axis, options); }
  cumsum(axis: number): Tensor { return o.cumsum(this, axis); }

  reshape(shape: readonly number[]): Tensor { return o.reshape(this, shape); }
  view(shape: readonly number[]): Tensor { return o.reshape(this, shape); }
  flatten(startAxis?: number, endAxis?: number): Tensor { return o.flatten(this, startAxis, endAxis); }
  squeeze(axis?: number | readonly number[]): Tensor { return o.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return o.unsqueeze(this, axis); }
  transpose(axis0?: number, axis1?: number): Tensor { return o.transpose(this, axis0, axis1); }
  permute(perm: readonly number[]): Tensor { return o.permute(this, perm); }
  get T(): Tensor { return o.transpose(this); }
  get mT(): Tensor { return o.mT(this); }
  expand(shape: readonly number[]): Tensor { return o.expand(this, shape); }
  broadcastTo(shape: readonly number[]): Tensor { return o.broadcastTo(this, shape); }
  slice(specs: readonly SliceSpec[]): Tensor { return o.slice(this, specs); }
  /** x.index(0, [1, null, -1]) is x[0, 1::-1] in Python. */
  index(...specs: SliceSpec[]): Tensor { return o.slice(this, specs); }
  narrow(axis: number, start: number, length: number): Tensor { return o.narrow(this, axis, start, length); }
  flip(axis?: number | readonly number[]): Tensor { return o.flip(this, axis); }
  gather(axis: number, index: Tensor): Tensor { return o.gather(this, axis, index); }
  indexSelect(axis: number, index: Tensor | readonly number[]): Tensor { return o.indexSelect(this, axis, index); }
  scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor { return o.scatterAdd(this, axis, index, src); }
  split(sizeOrSections: number | readonly number[], axis?: number): Tensor[] { return o.split(this, sizeOrSections, axis); }
  chunk(chunks: number, axis?: number): Tensor[] { return o.chunk(this, chunks, axis); }
  pad(padding: readonly number[], options?: { value?: number }): Tensor { return o.pad(this, padding, options); }
  repeat(reps: readonly number[]): Tensor { return o.repeat(this, reps); }
  tile(reps: readonly number[]): Tensor { return o.tile(this, reps); }
  contiguous(): Tensor { return o.contiguous(this); }
  oneHot(numClasses: number): Tensor { return o.oneHot(this, numClasses); }

  matmul(other: Tensor): Tensor { return o.matmul(this, other); }
  dot(other: Tensor): Tensor { return o.dot(this, other); }
  softmax(axis?: number): Tensor { return o.softmax(this, axis); }
  logSoftmax(axis?: number): Tensor { return o.logSoftmax(this, axis); }
  dropout(p?: number, options?: { training?: boolean }): Tensor { return o.dropout(this, p, options); }
  mseLoss(target: Tensor, options?: { reduction?: Reduction }): Tensor { return o.mseLoss(this, target, options); }
  l1Loss(target: Tensor, options?: { reduction?: Reduction }): Tensor { return o.l1Loss(this, target, options); }
  crossEntropy(target: Tensor, options?: CrossEntropyOptions): Tensor { return o.crossEntropy(this, target, options); }
  nllLoss(target: Tensor, options?: { reduction?: Reduction }): Tensor { return o.nllLoss(this, target, options); }
  bceWithLogits(target: Tensor, options?: { reduction?: Reduction; posWeight?: Tensor | number }): Tensor { return o.bceWithLogits(this, target, options); }
  logSigmoid(): Tensor { return o.logSigmoid(this); }
  hardtanh(min?: number, max?: number): Tensor { return o.hardtanh(this, min, max); }
  linear(weight: Tensor, bias?: Tensor | null): Tensor { return o.linear(this, weight, bias); }
  conv1d(weight: Tensor, options?: Conv1dOptions): Tensor { return o.conv1d(this, weight, options); }
  conv2d(weight: Tensor, options?: Conv2dOptions): Tensor { return o.conv2d(this, weight, options); }
  convTranspose2d(weight: Tensor, options?: ConvTranspose2dOptions): Tensor { return o.convTranspose2d(this, weight, options); }
  maxPool2d(options: Pool2dOptions): Tensor { return o.maxPool2d(this, options); }
  avgPool2d(options: Pool2dOptions & { countIncludePad?: boolean }): Tensor { return o.avgPool2d(this, options); }
  adaptiveAvgPool2d(outputSize: number | readonly [number, number]): Tensor { return o.adaptiveAvgPool2d(this, outputSize); }
  layerNorm(normalizedShape: number | readonly number[], options?: LayerNormOptions): Tensor { return o.layerNorm(this, normalizedShape, options); }
  batchNorm(runningMean: Tensor | null, runningVar: Tensor | null, options?: BatchNormOptions): Tensor { return o.batchNorm(this, runningMean, runningVar, options); }
  /** this: int32 ids; rows of weight [V, D]. */
  embedding(weight: Tensor): Tensor { return o.embedding(this, weight); }
  zerosLike(): Tensor { return o.zerosLike(this); }
  onesLike(): Tensor { return o.onesLike(this); }
}
