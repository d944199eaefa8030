// PyTorch state-dict names <-> tensorbook's. Layouts already match PyTorch (Linear weight
// [out, in], conv weights [O, I, kh, kw], MultiheadAttention's packed in_proj_weight...);
// only the spelling differs: tensorbook's camelCase fields ("runningMean", "selfAttn",
// "inProjWeight") are PyTorch's snake_case ("running_mean", "self_attn",
// "in_proj_weight"). Converting each dotted segment is enough for every built-in layer.

import type { Tensor } from "../tensor/tensor.js";

const toSnake = (seg: string): string => seg.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (seg: string): string => seg.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function mapKeys(dict: Record<string, Tensor>, f: (seg: string) => string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(dict)) {
    const name = k.split(".").map(f).join(".");
    if (name in out) throw new Error(`state dict names: "${k}" and another key both become "${name}"`);
    out[name] = v;
  }
  return out;
}

/** model.stateDict() with PyTorch's names ("1.running_mean"), e.g. to save for PyTorch. */
export function toPytorchNames(dict: Record<string, Tensor>): Record<string, Tensor> {
  return mapKeys(dict, toSnake);
}

/** A PyTorch state dict (e.g. tb.load of a .safetensors file saved from PyTorch) with
 *  tensorbook's names, ready for model.loadStateDict. */
export function fromPytorchNames(dict: Record<string, Tensor>): Record<string, Tensor> {
  return mapKeys(dict, toCamel);
}
