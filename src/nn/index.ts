// tb.nn: modules, layers, initialisers and the model summary.

export { Module, type AnyModule, type LoadStateDictOptions, type LoadStateDictResult } from "./module.js";
export {
  Linear, Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, BatchNorm1d, BatchNorm2d,
  LayerNorm, Embedding, ReLU, GELU, Tanh, Sigmoid, SiLU, LeakyReLU, ELU, Softmax, LogSoftmax, Identity,
  Sequential, ModuleList,
  type Conv1dModuleOptions, type Conv2dModuleOptions, type ConvTranspose2dModuleOptions, type BatchNormModuleOptions,
} from "./layers.js";
export { MultiheadAttention, TransformerEncoderLayer, causalMask, type AttentionOptions, type TransformerEncoderLayerOptions } from "./attention.js";
export { CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCEWithLogitsLoss } from "./losses.js";
export { summary, ModelSummary, type SummaryRow } from "./summary.js";
export * as init from "./init.js";
export { fit, type FitOptions, type History, type Metric } from "./fit.js";
export { toPytorchNames, fromPytorchNames } from "./names.js";
