// The API conventions: every op whose first argument is a tensor is also a method of the
// same name (defined on the class, not patched), binary ops take numbers, reading back.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

const tensorFirst = [
  "cast", "neg", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal", "sin", "cos",
  "tanh", "sigmoid", "erf", "floor", "ceil", "round", "square", "clip", "clamp", "relu", "leakyRelu", "elu", "gelu",
  "silu", "softplus", "logSigmoid", "hardtanh", "add", "sub", "mul", "div", "pow", "maximum", "minimum", "mod",
  "floorDiv", "atan2", "eq", "ne", "lt", "le", "gt", "ge", "logicalAnd", "logicalOr", "logicalNot", "logicalXor",
  "isnan", "isinf", "isfinite", "sum", "prod", "max", "min", "any", "all", "argmax", "argmin", "mean", "var", "std",
  "logsumexp", "cumsum", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "expand",
  "broadcastTo", "contiguous", "slice", "narrow", "flip", "gather", "scatterAdd", "indexSelect", "split", "chunk",
  "pad", "tile", "repeat", "oneHot", "matmul", "linear", "dot", "conv1d", "conv2d", "convTranspose2d", "maxPool2d",
  "avgPool2d", "adaptiveAvgPool2d", "softmax", "logSoftmax", "crossEntropy", "nllLoss", "mseLoss", "l1Loss",
  "bceWithLogits", "layerNorm", "batchNorm", "dropout", "embedding", "zerosLike", "onesLike",
] as const;

describe("API conventions", () => {
  it("every tensor-first op is both tb.op and a class method", () => {
    const lib = tb as unknown as Record<string, unknown>;
    const proto = tb.Tensor.prototype as unknown as Record<string, unknown>;
    for (const name of tensorFirst) {
      expect(typeof lib[name], `tb.${name}`).toBe("function");
      expect(typeof proto[name], `Tensor.prototype.${name}`).toBe("function");
      expect(Object.prototype.hasOwnProperty.call(tb.Tensor.prototype, name), `${name} defined on the class`).toBe(true);
    }
  });
  it("methods and functions agree; binary ops take numbers", () => {
    const x = tb.tensor([[1, -2], [3, 4]]);
    expect(x.add(1).tolist()).toEqual(tb.add(x, 1).tolist());
    expect(tb.sub(10, x).tolist()).toEqual([[9, 12], [7, 6]]);
    expect(x.clamp(0, 3).tolist()).toEqual([[1, 0], [3, 3]]);
    expect(x.sum(1).tolist()).toEqual([-1, 7]);
    expect(x.sum([0, 1], { keepdims: true }).tolist()).toEqual([[6]]);
    expect(x.max(-1).tolist()).toEqual([1, 4]);
    expect(x.where(x.gt(0), 0).tolist()).toEqual([[1, 0], [3, 4]]);
  });
  it("reads back: shape, dtype, item, tolist, dataSync, data", async () => {
    const x = tb.tensor([[1, 2, 3]], { dtype: "int32" });
    expect(x.shape).toEqual([1, 3]);
    expect(x.dtype).toBe("int32");
    expect(x.size).toBe(3);
    expect(x.ndim).toBe(2);
    expect(x.dataSync()).toBeInstanceOf(Int32Array);
    expect(Array.from(await x.data())).toEqual([1, 2, 3]);
    expect(x.sum().item()).toBe(6);
    expect(tb.tensor([true]).item()).toBe(1);
    expect(x.T.tolist()).toEqual([[1], [2], [3]]);
    expect(tb.zeros([2, 0]).tolist()).toEqual([[], []]);
    // dataSync returns a copy: mutating it does not touch the tensor.
    const d = x.dataSync();
    d[0] = 100;
    expect(x.tolist()).toEqual([[1, 2, 3]]);
  });
  it("in-place assignment from an overlapping view of itself", () => {
    const x = tb.tensor([[1, 2], [3, 4]]);
    const view = x.reshape([4]);
    x._assign(x.T);
    expect(x.tolist()).toEqual([[1, 3], [2, 4]]);
    expect(view.tolist()).toEqual([1, 3, 2, 4]);
    const r = tb.arange(5).float();
    r.narrow(0, 1, 4)._assign(r.narrow(0, 0, 4));
    expect(r.tolist()).toEqual([0, 0, 1, 2, 3]);
  });
  it("backend is selectable", () => {
    const prev = tb.getBackend();
    const ref = new tb.ReferenceBackend();
    tb.setBackend(ref);
    try {
      const a = tb.ones([2]);
      expect(tb.getBackend()).toBe(ref);
      expect(a.add(1).tolist()).toEqual([2, 2]);
      expect(ref.bytesInUse()).toBeGreaterThan(0);
    } finally {
      tb.setBackend(prev);
    }
    const b = tb.ones([2]);
    const other = new tb.ReferenceBackend();
    tb.setBackend(other);
    try {
      expect(() => b.add(tb.ones([2]))).toThrow(/add: inputs live on different backends/);
      // Numbers join the tensor's own backend.
      expect(b.add(1).tolist()).toEqual([2, 2]);
    } finally {
      tb.setBackend(prev);
    }
  });
});
