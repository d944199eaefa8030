// Loss modules: PyTorch-style wrappers over the functional losses of src/ops/nn.ts, called
// as loss(prediction, target).

import { Tensor } from "../tensor/tensor.js";
import { Variable } from "../graph/variable.js";
import { Module } from "./module.js";
import { bceWithLogits, crossEntropy, l1Loss, mseLoss, nllLoss, type CrossEntropyOptions, type NllLossOptions, type Reduction } from "../ops/nn.js";

/** Logits [N, C, ...] against int32 classes [N, ...] or probabilities. */
export class CrossEntropyLoss extends Module<[Tensor, Tensor], Tensor> {
  constructor(readonly options: CrossEntropyOptions = {}) { super(); }
  forward(logits: Tensor, target: Tensor): Tensor { return crossEntropy(logits, target, this.options); }
}
/** Log-probabilities [N, C, ...] against int32 classes [N, ...]. */
export class NLLLoss extends Module<[Tensor, Tensor], Tensor> {
  constructor(readonly options: NllLossOptions = {}) { super(); }
  forward(logp: Tensor, target: Tensor): Tensor { return nllLoss(logp, target, this.options); }
}
export class MSELoss extends Module<[Tensor, Tensor], Tensor> {
  constructor(readonly options: { reduction?: Reduction } = {}) { super(); }
  forward(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target, this.options); }
}
export class L1Loss extends Module<[Tensor, Tensor], Tensor> {
  constructor(readonly options: { reduction?: Reduction } = {}) { super(); }
  forward(input: Tensor, target: Tensor): Tensor { return l1Loss(input, target, this.options); }
}
/** A posWeight tensor is a buffer, saved and loaded with the state dict (PyTorch's
 *  pos_weight), so a PyTorch state dict of this loss loads strictly. */
export class BCEWithLogitsLoss extends Module<[Tensor, Tensor], Tensor> {
  posWeight: Variable | null = null;
  constructor(readonly options: { reduction?: Reduction; posWeight?: Tensor | number } = {}) {
    super();
    if (options.posWeight instanceof Tensor) this.registerBuffer("posWeight", options.posWeight);
  }
  forward(logits: Tensor, target: Tensor): Tensor {
    return bceWithLogits(logits, target, { ...this.options, posWeight: this.posWeight ?? this.options.posWeight });
  }
}
