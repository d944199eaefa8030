// tb.optim: optimizers, learning-rate schedulers and gradient clipping.

export {
  Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad,
  type Hyper, type ParamGroup, type ParamGroupInput, type OptimizerStateDict, type SavedGroup,
  type SGDOptions, type AdamOptions, type AdamInput, type RMSpropOptions, type AdagradOptions, type BetasGroupInput,
} from "./optimizer.js";
export {
  NAdam, RAdam, Adamax, Adadelta,
  type NAdamOptions, type RAdamOptions, type AdamaxOptions, type AdadeltaOptions, type BetasInput,
} from "./adaptive.js";
export { LBFGS, type LBFGSOptions } from "./lbfgs.js";
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, PolynomialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR, LambdaLR,
  OneCycleLR, SequentialLR, ReduceLROnPlateau, type OneCycleOptions, type ReduceLROnPlateauOptions,
} from "./scheduler.js";
export { clipGradNorm, clipGradValue } from "./clip.js";
