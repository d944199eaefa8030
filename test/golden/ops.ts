// The tensorbook side of the op fixtures: each fixture op name mapped to the tb call it
// checks, and the tolerance of each op family (see golden.ts for how a tolerance reads).
//
// Tolerances, forward / gradient:
//   exact (0 ulp, sign of zero checked): sign, rounding, comparisons, logical ops, where,
//     casts, movement and indexing, and the correctly rounded IEEE operations add, sub,
//     mul, div, reciprocal, square (sqrt: 1 ulp, see below); exact without the sign of
//     zero: maximum, minimum, relu, clip, hardtanh, leakyRelu
//   transcendental (exp, log, log1p, expm1, sin, cos, tanh, sigmoid, erf, rsqrt, pow, atan2):
//     4 ulp / 8 ulp (16 for pow's)
//   composite activations (gelu, silu, softplus, logSigmoid, elu): 8 ulp / 8 ulp;
//     gelu's 0.5 x (1 + erf) cancels for x < 0, so it also gets 2 eps |x| (|x| <= 16)
//   gradients that cancel (1 - y^2 of tanh, y (1 - y) of sigmoid, and the activations
//     built on them): also 4 eps |cotangent| (1 + min(|x|, 16))
//   sums and products (sum, mean, cumsum, prod, matmul, linear, convolutions, average
//     pools, scatterAdd): 2 ulp + 8 eps sqrt(n) S, S = PyTorch's op on |inputs|;
//     gradients alike with the vjp of |cotangent| at |inputs|
//   var, std, logsumexp, softmax, logSoftmax, losses: 8 ulp + 8 eps sqrt(n) S
//     (gradients 8 ulp + 16 eps sqrt(n) S); layerNorm, batchNorm: 8 + 16 (16 + 32)
//   gradients of ops that broadcast or gather (their vjp sums): 1 ulp + 8 eps sqrt(n) S
// n bounds the accumulation length: the size of the largest input.

import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { EXACT, type Tolerance } from "./golden.js";

/** Decoded op parameters (numbers, strings, booleans, arrays, tensors). */
export type Params = Record<string, unknown>;

/** One op of the fixtures: its decoded arguments and params in, its output(s) out. */
export type OpFn = (a: unknown[], p: Params) => Tensor | Tensor[];

const t = (v: unknown): Tensor => v as Tensor;
const nums = (v: unknown): number[] => v as number[];
type Axis = tb.Axis;

const unary = (f: (x: Tensor) => Tensor): OpFn => (a) => f(t(a[0]));
const binary = (f: (x: tb.TensorLike, y: tb.TensorLike) => Tensor): OpFn => (a) => f(a[0] as tb.TensorLike, a[1] as tb.TensorLike);
const reduce = (f: (x: Tensor, axis?: Axis, o?: tb.ReduceOptions) => Tensor): OpFn => (a, p) => f(t(a[0]), p.axis as Axis, { keepdims: p.keepdims as boolean });
const opt = <T>(p: Params, key: string): T | undefined => (p[key] === undefined || p[key] === null ? undefined : (p[key] as T));

export const OPS: Record<string, OpFn> = {
  // elementwise
  neg: unary(tb.neg), abs: unary(tb.abs), sign: unary(tb.sign), exp: unary(tb.exp), log: unary(tb.log),
  log1p: unary(tb.log1p), expm1: unary(tb.expm1), sqrt: unary(tb.sqrt), rsqrt: unary(tb.rsqrt),
  reciprocal: unary(tb.reciprocal), sin: unary(tb.sin), cos: unary(tb.cos), tanh: unary(tb.tanh),
  sigmoid: unary(tb.sigmoid), erf: unary(tb.erf), floor: unary(tb.floor), ceil: unary(tb.ceil),
  round: unary(tb.round), square: unary(tb.square), relu: unary(tb.relu), silu: unary(tb.silu),
  logSigmoid: unary(tb.logSigmoid), isnan: unary(tb.isnan), isinf: unary(tb.isinf), isfinite: unary(tb.isfinite),
  logicalNot: unary(tb.logicalNot),
  clip: (a, p) => tb.clip(t(a[0]), p.min as number | null, p.max as number | null),
  leakyRelu: (a, p) => tb.leakyRelu(t(a[0]), opt(p, "negativeSlope")),
  elu: (a, p) => tb.elu(t(a[0]), opt(p, "alpha")),
  gelu: (a, p) => tb.gelu(t(a[0]), { approximate: opt(p, "approximate") }),
  softplus: (a, p) => tb.softplus(t(a[0]), { beta: opt(p, "beta"), threshold: opt(p, "threshold") }),
  hardtanh: (a, p) => tb.hardtanh(t(a[0]), opt(p, "min"), opt(p, "max")),
  cast: (a, p) => tb.cast(t(a[0]), p.dtype as tb.DType),
  add: binary(tb.add), sub: binary(tb.sub), mul: binary(tb.mul), div: binary(tb.div), pow: binary(tb.pow),
  maximum: binary(tb.maximum), minimum: binary(tb.minimum), mod: binary(tb.mod), floorDiv: binary(tb.floorDiv),
  atan2: binary(tb.atan2), eq: binary(tb.eq), ne: binary(tb.ne), lt: binary(tb.lt), le: binary(tb.le),
  gt: binary(tb.gt), ge: binary(tb.ge), logicalAnd: binary(tb.logicalAnd), logicalOr: binary(tb.logicalOr),
  logicalXor: binary(tb.logicalXor),
  where: (a) => tb.where(a[0] as tb.TensorLike, a[1] as tb.TensorLike, a[2] as tb.TensorLike),
  // reductions
  sum: reduce(tb.sum), prod: reduce(tb.prod), max: reduce(tb.max), min: reduce(tb.min), any: reduce(tb.any),
  all: reduce(tb.all), mean: reduce(tb.mean), logsumexp: reduce(tb.logsumexp),
  argmax: (a, p) => tb.argmax(t(a[0]), p.axis as number | null, { keepdims: p.keepdims as boolean }),
  argmin: (a, p) => tb.argmin(t(a[0]), p.axis as number | null, { keepdims: p.keepdims as boolean }),
  variance: (a, p) => tb.variance(t(a[0]), p.axis as Axis, { keepdims: p.keepdims as boolean, correction: opt(p, "correction") }),
  std: (a, p) => tb.std(t(a[0]), p.axis as Axis, { keepdims: p.keepdims as boolean, correction: opt(p, "correction") }),
  cumsum: (a, p) => tb.cumsum(t(a[0]), p.axis as number),
  // movement and indexing
  reshape: (a, p) => tb.reshape(t(a[0]), nums(p.shape)),
  flatten: (a, p) => tb.flatten(t(a[0]), opt(p, "startAxis"), opt(p, "endAxis")),
  squeeze: (a, p) => tb.squeeze(t(a[0]), opt(p, "axis")),
  unsqueeze: (a, p) => tb.unsqueeze(t(a[0]), p.axis as number),
  permute: (a, p) => tb.permute(t(a[0]), nums(p.perm)),
  transpose: (a, p) => tb.transpose(t(a[0]), opt(p, "axis0"), opt(p, "axis1")),
  mT: unary(tb.mT),
  expand: (a, p) => tb.expand(t(a[0]), nums(p.shape)),
  broadcastTo: (a, p) => tb.broadcastTo(t(a[0]), nums(p.shape)),
  contiguous: unary(tb.contiguous),
  copyOf: unary(tb.copyOf),
  slice: (a, p) => tb.slice(t(a[0]), p.specs as tb.SliceSpec[]),
  narrow: (a, p) => tb.narrow(t(a[0]), p.axis as number, p.start as number, p.length as number),
  flip: (a, p) => tb.flip(t(a[0]), opt(p, "axis")),
  split: (a, p) => tb.split(t(a[0]), (p.size ?? p.sizes) as number | number[], p.axis as number),
  chunk: (a, p) => tb.chunk(t(a[0]), p.chunks as number, p.axis as number),
  pad: (a, p) => tb.pad(t(a[0]), nums(p.padding), { value: opt(p, "value") }),
  tile: (a, p) => tb.tile(t(a[0]), nums(p.reps)),
  repeat: (a, p) => tb.repeat(t(a[0]), nums(p.reps)),
  gather: (a, p) => tb.gather(t(a[0]), p.axis as number, t(a[1])),
  scatterAdd: (a, p) => tb.scatterAdd(t(a[0]), p.axis as number, t(a[1]), t(a[2])),
  indexSelect: (a, p) => tb.indexSelect(t(a[0]), p.axis as number, nums(p.index)),
  concat: (a, p) => tb.concat(a as Tensor[], p.axis as number),
  stack: (a, p) => tb.stack(a as Tensor[], p.axis as number),
  broadcastTensors: (a) => tb.broadcastTensors(...(a as Tensor[])),
  oneHot: (a, p) => tb.oneHot(t(a[0]), p.numClasses as number),
  // creation
  arange: (_a, p) => tb.arange(p.start as number, p.stop as number, opt(p, "step"), { dtype: opt(p, "dtype") }),
  linspace: (_a, p) => tb.linspace(p.start as number, p.stop as number, p.num as number),
  eye: (_a, p) => tb.eye(p.n as number, opt(p, "m")),
  full: (_a, p) => tb.full(nums(p.shape), p.value as number),
  // linear algebra, convolution, pooling
  matmul: (a) => tb.matmul(t(a[0]), t(a[1])),
  dot: (a) => tb.dot(t(a[0]), t(a[1])),
  linear: (a) => tb.linear(t(a[0]), t(a[1]), a[2] as Tensor | undefined),
  conv1d: (a, p) => tb.conv1d(t(a[0]), t(a[1]), { ...(p as tb.Conv1dOptions), bias: a[2] as Tensor | undefined }),
  conv2d: (a, p) => tb.conv2d(t(a[0]), t(a[1]), { ...(p as tb.Conv2dOptions), bias: a[2] as Tensor | undefined }),
  convTranspose2d: (a, p) => tb.convTranspose2d(t(a[0]), t(a[1]), { ...(p as tb.ConvTranspose2dOptions), bias: a[2] as Tensor | undefined }),
  maxPool2d: (a, p) => tb.maxPool2d(t(a[0]), p as unknown as tb.Pool2dOptions),
  avgPool2d: (a, p) => tb.avgPool2d(t(a[0]), p as unknown as tb.Pool2dOptions),
  adaptiveAvgPool2d: (a, p) => tb.adaptiveAvgPool2d(t(a[0]), p.outputSize as [number, number]),
  // neural-network functions
  softmax: (a, p) => tb.softmax(t(a[0]), p.axis as number),
  logSoftmax: (a, p) => tb.logSoftmax(t(a[0]), p.axis as number),
  crossEntropy: (a, p) => tb.crossEntropy(t(a[0]), t(a[1]), p as tb.CrossEntropyOptions),
  nllLoss: (a, p) => tb.nllLoss(t(a[0]), t(a[1]), p as { reduction?: tb.Reduction }),
  mseLoss: (a, p) => tb.mseLoss(t(a[0]), t(a[1]), p as { reduction?: tb.Reduction }),
  l1Loss: (a, p) => tb.l1Loss(t(a[0]), t(a[1]), p as { reduction?: tb.Reduction }),
  bceWithLogits: (a, p) => tb.bceWithLogits(t(a[0]), t(a[1]), { reduction: opt(p, "reduction"), posWeight: (a[2] as Tensor | undefined) ?? opt(p, "posWeight") }),
  layerNorm: (a, p) => tb.layerNorm(t(a[0]), p.normalizedShape as number | number[], { weight: a[1] as Tensor | undefined, bias: a[2] as Tensor | undefined, eps: opt(p, "eps") }),
  batchNorm: (a, p) => {
    const y = tb.batchNorm(t(a[0]), t(a[1]), t(a[2]), { weight: a[3] as Tensor | undefined, bias: a[4] as Tensor | undefined, training: opt(p, "training"), momentum: opt(p, "momentum"), eps: opt(p, "eps") });
    return [y, t(a[1]), t(a[2])]; // the running statistics, updated in place when training
  },
  dropout: (a, p) => tb.dropout(t(a[0]), p.p as number, { training: opt(p, "training") }),
  embedding: (a) => tb.embedding(t(a[0]), t(a[1])),
};

/** Forward and gradient tolerances of an op, and how it reads its scales. */
export interface OpTolerance {
  fwd: Tolerance;
  grad: Tolerance;
  /** Elementwise: output i depends on input element i only (no accumulation). */
  elementwise?: boolean;
  /** Forward error grows with |x| (2 eps |x|, |x| clamped to 16). */
  xScaled?: boolean;
  /** The gradient cancels: 4 eps |cotangent| (1 + min(|x|, 16)) more. */
  gradCancels?: boolean;
}

const ew = (fwdUlps: number, gradUlps: number, extra: Partial<OpTolerance> = {}): OpTolerance => ({
  fwd: fwdUlps === 0 ? EXACT : { ulps: fwdUlps }, grad: gradUlps === 0 ? EXACT : { ulps: gradUlps }, elementwise: true, ...extra,
});
const EXACT_EW = ew(0, 0);
// The sign of a zero result is not meaningful here (max(-0, +0), relu(-0), clamp(-0, ...)).
const EXACT_UNSIGNED: OpTolerance = { ...EXACT_EW, fwd: { ulps: 0 }, grad: { ulps: 0 } };
const SUMMING: Tolerance = { ulps: 1, scaled: 8 };
const ACCUM: OpTolerance = { fwd: { ulps: 2, scaled: 8 }, grad: { ulps: 2, scaled: 8 } };
const MOVE: OpTolerance = { fwd: EXACT, grad: SUMMING };
const NN: OpTolerance = { fwd: { ulps: 8, scaled: 8 }, grad: { ulps: 8, scaled: 16 } };
const NORM: OpTolerance = { fwd: { ulps: 8, scaled: 16 }, grad: { ulps: 16, scaled: 32 } };

export const TOLERANCES: Record<string, OpTolerance> = {
  neg: EXACT_EW, abs: EXACT_EW, sign: EXACT_EW, floor: EXACT_EW, ceil: EXACT_EW, round: EXACT_EW, square: EXACT_EW,
  relu: EXACT_UNSIGNED, clip: EXACT_UNSIGNED, hardtanh: EXACT_UNSIGNED, leakyRelu: EXACT_UNSIGNED, isnan: EXACT_EW, isinf: EXACT_EW,
  isfinite: EXACT_EW, logicalNot: EXACT_EW, cast: EXACT_EW, reciprocal: ew(0, 4),
  // PyTorch 2.13's float32 sqrt on CPU is not always correctly rounded (sqrt(3.6770055) is 1 ulp low)
  sqrt: { ...ew(1, 2), fwd: { ulps: 1, signedZeros: true } },
  exp: ew(4, 8), log: ew(4, 8), log1p: ew(4, 8), expm1: ew(4, 8), sin: ew(4, 8), cos: ew(4, 8), erf: ew(4, 8), rsqrt: ew(4, 8),
  tanh: ew(4, 8, { gradCancels: true }), sigmoid: ew(4, 8, { gradCancels: true }),
  gelu: ew(8, 8, { xScaled: true, gradCancels: true }), silu: ew(8, 8, { gradCancels: true }),
  softplus: ew(8, 8, { gradCancels: true }), logSigmoid: ew(8, 8, { gradCancels: true }), elu: ew(8, 8, { gradCancels: true }),
  add: EXACT_EW, sub: EXACT_EW, mul: EXACT_EW, div: ew(0, 4), maximum: EXACT_UNSIGNED, minimum: EXACT_UNSIGNED,
  // remainder adds the divisor to fmod's exact result once: 1 ulp
  mod: ew(1, 1), floorDiv: EXACT_EW, pow: ew(4, 16), atan2: ew(4, 8),
  eq: EXACT_EW, ne: EXACT_EW, lt: EXACT_EW, le: EXACT_EW, gt: EXACT_EW, ge: EXACT_EW,
  logicalAnd: EXACT_EW, logicalOr: EXACT_EW, logicalXor: EXACT_EW, where: EXACT_EW,
  sum: ACCUM, mean: ACCUM, cumsum: ACCUM, prod: ACCUM, max: { fwd: EXACT, grad: { ulps: 1 } }, min: { fwd: EXACT, grad: { ulps: 1 } },
  any: MOVE, all: MOVE, argmax: MOVE, argmin: MOVE, variance: NN, std: NN, logsumexp: NN,
  reshape: MOVE, flatten: MOVE, squeeze: MOVE, unsqueeze: MOVE, permute: MOVE, transpose: MOVE, mT: MOVE, expand: MOVE,
  broadcastTo: MOVE, contiguous: MOVE, copyOf: MOVE, slice: MOVE, narrow: MOVE, flip: MOVE, split: MOVE, chunk: MOVE,
  pad: MOVE, tile: MOVE, repeat: MOVE, gather: MOVE, scatterAdd: ACCUM, indexSelect: MOVE, concat: MOVE, stack: MOVE,
  broadcastTensors: MOVE, oneHot: MOVE,
  arange: MOVE, eye: MOVE, full: MOVE,
  // PyTorch computes linspace in float32 (start + i * step from each end): 2 eps (|start| + |stop|)
  linspace: { fwd: { ulps: 1, scaled: 2 }, grad: EXACT },
  matmul: ACCUM, dot: ACCUM, linear: ACCUM, conv1d: ACCUM, conv2d: ACCUM, convTranspose2d: ACCUM,
  maxPool2d: MOVE, avgPool2d: ACCUM, adaptiveAvgPool2d: ACCUM,
  softmax: NN, logSoftmax: NN, crossEntropy: NN, nllLoss: NN, mseLoss: NN, l1Loss: NN, bceWithLogits: NN,
  layerNorm: NORM, batchNorm: NORM, dropout: MOVE, embedding: MOVE,
};
