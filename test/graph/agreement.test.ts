// Eager and graph agree: every primitive runs both ways, through bind eagerly and through
// a compiled tb.fn, on the same inputs. A one-primitive graph reorders no float operation,
// so results must be bit-identical. The table names every primitive; a primitive added
// without a row fails the completeness test.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { bind } from "../../src/core/trace.js";
import { fn } from "../../src/graph/fn.js";
import { prims, type Params, type Prim } from "../../src/ops/prims.js";
import type { Tensor } from "../../src/tensor/tensor.js";

tb.seed(7);
const f32 = (...shape: number[]) => tb.randn(shape);
const pos = (...shape: number[]) => tb.rand(shape).add(0.1);
const i32 = (...shape: number[]) => tb.randint(-5, 6, shape);
const nonzeroI32 = (...shape: number[]) => tb.cast(tb.randint(1, 6, shape).mul(tb.where(tb.rand(shape).gt(0.5), 1, -1)), "int32");
const bool = (...shape: number[]) => tb.rand(shape).gt(0.5);

type Row = { inputs: () => Tensor[]; params?: object };
const unary = (make = f32): Row => ({ inputs: () => [make(3, 4)] });
const binary = (make = f32, make2 = make): Row => ({ inputs: () => [make(3, 4), make2(3, 4)] });
const reduce = (make = f32): Row => ({ inputs: () => [make(3, 4, 5)], params: { axes: [0, 2] } });
const conv = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
const pool = { kernelSize: [2, 2], stride: [2, 2], padding: [0, 0] };

const table: Record<Prim, Row> = {
  neg: unary(), abs: unary(), sign: unary(i32), exp: unary(), log: unary(pos), log1p: unary(pos), expm1: unary(),
  sqrt: unary(pos), rsqrt: unary(pos), reciprocal: unary(pos), sin: unary(), cos: unary(), tanh: unary(),
  sigmoid: unary(), erf: unary(), floor: unary(), ceil: unary(), round: unary(),
  add: binary(), sub: binary(), mul: binary(), div: binary(f32, pos), pow: binary(pos, f32), maximum: binary(), minimum: binary(),
  mod: binary(i32, nonzeroI32), floorDiv: binary(i32, nonzeroI32), atan2: binary(),
  eq: binary(i32), ne: binary(i32), lt: binary(), le: binary(), gt: binary(), ge: binary(),
  and: binary(bool), or: binary(bool), not: unary(bool),
  where: { inputs: () => [bool(3, 4), f32(3, 4), f32(3, 4)] },
  cast: { inputs: () => [f32(3, 4).mul(4)], params: { dtype: "int32" } },
  sum: reduce(), prod: reduce(pos), max: reduce(), min: reduce(),
  argmax: { inputs: () => [f32(3, 4, 5)], params: { axes: [1] } }, argmin: { inputs: () => [f32(3, 4, 5)], params: { axes: [2] } },
  any: reduce(bool), all: reduce(bool),
  reshape: { inputs: () => [f32(3, 4)], params: { shape: [2, 6] } },
  permute: { inputs: () => [f32(2, 3, 4)], params: { perm: [2, 0, 1] } },
  expand: { inputs: () => [f32(3, 1)], params: { shape: [2, 3, 4] } },
  slice: { inputs: () => [f32(6, 5)], params: { starts: [5, 1], steps: [-2, 2], shape: [3, 2] } },
  copy: unary(),
  gather: { inputs: () => [f32(4, 5), tb.randint(0, 4, [3, 5])], params: { axis: 0 } },
  scatterAdd: { inputs: () => [f32(4, 5), tb.randint(0, 4, [3, 5]), f32(3, 5)], params: { axis: 0 } },
  concat: { inputs: () => [f32(2, 3), f32(4, 3)], params: { axis: 0 } },
  place: { inputs: () => [f32(2, 3)], params: { shape: [5, 7], starts: [1, 0], steps: [2, 3] } },
  matmul: { inputs: () => [f32(2, 3, 4), f32(2, 4, 5)] },
  conv2d: { inputs: () => [f32(2, 3, 6, 6), f32(4, 3, 3, 3)], params: conv },
  conv2dInputGrad: { inputs: () => [f32(2, 4, 6, 6), f32(4, 3, 3, 3)], params: { ...conv, inputShape: [2, 3, 6, 6] } },
  conv2dWeightGrad: { inputs: () => [f32(2, 3, 6, 6), f32(2, 4, 6, 6)], params: { ...conv, weightShape: [4, 3, 3, 3] } },
  maxPool2d: { inputs: () => [f32(2, 3, 6, 6)], params: pool },
  maxPool2dIndices: { inputs: () => [f32(2, 3, 6, 6)], params: pool },
  cumsum: { inputs: () => [f32(3, 4)], params: { axis: 1 } },
  random: { inputs: () => [], params: { dist: "normal", key: [1, 2], counter: 40, shape: [3, 5] } },
};

describe("eager and graph agree on every primitive", () => {
  it("the table covers every primitive", () => {
    expect(Object.keys(table).sort()).toEqual([...prims].sort());
  });

  for (const prim of prims) {
    it(prim, () => {
      const row = table[prim];
      const xs = row.inputs();
      const params = (row.params ?? {}) as Params<Prim>;
      const eager = bind(prim, xs, params);
      const compiled = fn((...args: Tensor[]) => bind(prim, args, params));
      const graphOut = compiled(...xs);
      expect(graphOut.dtype).toBe(eager.dtype);
      expect(graphOut.shape).toEqual(eager.shape);
      expect(Array.from(graphOut.dataSync())).toEqual(Array.from(eager.dataSync()));
      // And again, from the cache.
      expect(Array.from(compiled(...xs).dataSync())).toEqual(Array.from(eager.dataSync()));
      expect(compiled.cacheSize).toBe(1);
    });
  }
});
