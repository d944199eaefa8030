// tensorbook: the public API of the library (`import * as tb from "tensorbook"`).
//
// Eager tensors with autograd, graph mode, nn/optim/data and rich display. Everything a
// user reaches is exported from here; internal modules are not part of the contract.

export { displaySymbol, isDisplayable } from "./display/protocol.js";
export type { Displayable, MimeBundle } from "./display/protocol.js";

export { Tensor } from "./tensor/tensor.js";
export type { TensorLike, NestedList } from "./tensor/tensor.js";
export type { DType, Backend } from "./backend/backend.js";
export { ReferenceBackend } from "./backend/reference.js";
export { ZeroDivisionError } from "./backend/backend.js";
export { getBackend, getThreads, setBackend, setThreads } from "./core/runtime.js";
export { memory, scope, collect, keep } from "./tensor/memory.js";
export { noGrad, enableGrad, grad, valueAndGrad } from "./autograd/autograd.js";
export type { GradTree } from "./autograd/autograd.js";
export { Generator } from "./random/philox.js";
export { formatTensor } from "./display/tensor-repr.js";

export {
  // creation
  tensor, full, zeros, ones, zerosLike, onesLike, fullLike, arange, linspace, eye,
  rand, randn, randint, bernoulli, seed,
  // elementwise
  cast, neg, abs, sign, exp, log, log1p, expm1, sqrt, rsqrt, reciprocal, sin, cos, tanh,
  sigmoid, erf, floor, ceil, round, square, clip, clip as clamp, relu, relu6, leakyRelu, elu, selu, celu,
  gelu, silu, softplus, logSigmoid, hardtanh, add, sub, mul, div, pow, maximum, minimum, mod, floorDiv,
  atan2, eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalNot, logicalXor, where,
  isnan, isinf, isFiniteT as isfinite, resultDtype,
  // reductions
  sum, prod, max, min, any, all, argmax, argmin, mean, variance, variance as var, std,
  logsumexp, cumsum,
  // movement and indexing
  reshape, flatten, squeeze, unsqueeze, permute, transpose, mT, expand, broadcastTo,
  broadcastTensors, contiguous, slice, narrow, flip, gather, scatterAdd, indexSelect,
  concat, concat as cat, stack, split, chunk, pad, tile, repeat, oneHot, copyOf,
  // linear algebra and convolution
  matmul, linear, dot, conv1d, conv2d, convTranspose2d, maxPool2d, avgPool2d, adaptiveAvgPool2d,
  // neural-network functions
  softmax, logSoftmax, crossEntropy, nllLoss, mseLoss, l1Loss, bceWithLogits, layerNorm,
  batchNorm, dropout, embedding,
} from "./ops/api.js";
export type { Axis, ReduceOptions, VarOptions } from "./ops/reduce.js";
export type { SliceSpec } from "./ops/movement.js";
export type { Conv2dOptions, Conv1dOptions, ConvTranspose2dOptions, Pool2dOptions } from "./ops/linalg.js";
export type { Reduction, CrossEntropyOptions, NllLossOptions, LayerNormOptions, BatchNormOptions } from "./ops/nn.js";
export type { CreateOptions, RandomOptions, NestedArray } from "./ops/creation.js";

import { setCheckNumerics } from "./core/trace.js";
/** Debugging switches. checkNumerics(true) makes every op check its output and throw,
 *  naming the op, at the first NaN or Inf. */
export const debug = {
  checkNumerics(on: boolean): void {
    setCheckNumerics(on);
  },
} as const;

// Graph mode: trace, optimize, compile; learned state as graph vertices; diagrams.
export { fn, fn as jit, trace } from "./graph/fn.js";
// Eager calls of composite ops (softmax, layerNorm, ...) run through the graph compiler.
import "./graph/composite.js";
export type { CompiledFunction } from "./graph/fn.js";
export type { CompileStats } from "./graph/compile.js";
export { Variable, variable } from "./graph/variable.js";
export type { VariableOptions } from "./graph/variable.js";
export { nameScope } from "./graph/scope.js";
export { Graph } from "./graph/ir.js";
export { Diagram } from "./graph/diagram.js";
export type { DiagramOptions } from "./graph/diagram.js";

// Display: figures, live training curves, progress bars.
export * as plot from "./display/plot/index.js";
export { progress, Progress } from "./display/progress.js";
export type { ProgressOptions } from "./display/progress.js";

// nn, optim, data and checkpoints (training in notebooks).
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as data from "./data/index.js";
export { save, load, saveSync, loadSync, checkpointMetadata, type TensorRecord, type SaveOptions } from "./io/checkpoint.js";
export { fit } from "./nn/fit.js";
