// The one list of primitives. Every tensor op is one of these or a composition of them.
//
// Groups (as in tinygrad's op sets): elementwise unary / binary / compare / logical, the
// ternary `where`, `cast`, reductions, `cumsum`, movement (views without copies where the
// layout allows), indexing (gather, scatterAdd, concat, place), linear algebra and NN
// kernels, and random. Params are plain data, typed per primitive below; rules.ts holds one
// rule record per primitive in a table the compiler checks for completeness.

import type { Conv2dParams, DType, Pool2dParams } from "../backend/backend.js";

export const unaryPrims = [
  "neg", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal",
  "sin", "cos", "tanh", "sigmoid", "erf", "floor", "ceil", "round",
] as const;
export const binaryPrims = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "mod", "floorDiv", "atan2"] as const;
export const comparePrims = ["eq", "ne", "lt", "le", "gt", "ge"] as const;
export const logicalPrims = ["and", "or", "not"] as const;
export const reducePrims = ["sum", "prod", "max", "min", "argmax", "argmin", "any", "all"] as const;
export const movementPrims = ["reshape", "permute", "expand", "slice", "copy"] as const;
export const indexPrims = ["gather", "scatterAdd", "concat", "place"] as const;
export const kernelPrims = [
  "matmul", "conv2d", "conv2dInputGrad", "conv2dWeightGrad", "maxPool2d", "maxPool2dIndices", "cumsum",
] as const;

export const prims = [
  ...unaryPrims, ...binaryPrims, ...comparePrims, ...logicalPrims, "where", "cast",
  ...reducePrims, ...movementPrims, ...indexPrims, ...kernelPrims, "random",
] as const;

export type UnaryPrim = (typeof unaryPrims)[number];
export type BinaryPrim = (typeof binaryPrims)[number];
export type ComparePrim = (typeof comparePrims)[number];
export type ReducePrim = (typeof reducePrims)[number];
export type Prim = (typeof prims)[number];

/** Primitives whose eager kernel is one elementwise ScalarExpr node (fusable). */
export const elementwisePrims: ReadonlySet<Prim> = new Set<Prim>([
  ...unaryPrims, ...binaryPrims, ...comparePrims, ...logicalPrims, "where", "cast",
]);

/** Params of the primitives that have any; all others take `{}`. */
export interface ParamMap {
  cast: { dtype: DType };
  sum: { axes: number[] };
  prod: { axes: number[] };
  max: { axes: number[] };
  min: { axes: number[] };
  /** argmax/argmin reduce one axis. */
  argmax: { axes: number[] };
  argmin: { axes: number[] };
  any: { axes: number[] };
  all: { axes: number[] };
  cumsum: { axis: number };
  reshape: { shape: number[] };
  permute: { perm: number[] };
  expand: { shape: number[] };
  /** Per axis: first index (already normalised, in range), step (non-zero) and count. */
  slice: { starts: number[]; steps: number[]; shape: number[] };
  gather: { axis: number };
  /** out = base with src added at index positions along axis (inputs: base, index, src). */
  scatterAdd: { axis: number };
  concat: { axis: number };
  /** Inverse of slice: out = full(shape, value ?? 0) with the input written at
   *  starts + i * steps (value: constant padding; absent for the gradient of slice). */
  place: { shape: number[]; starts: number[]; steps: number[]; value?: number };
  conv2d: Conv2dParams;
  conv2dInputGrad: Conv2dParams & { inputShape: number[] };
  conv2dWeightGrad: Conv2dParams & { weightShape: number[] };
  maxPool2d: Pool2dParams;
  maxPool2dIndices: Pool2dParams;
  random: { dist: "uniform" | "normal" | "bits"; key: [number, number]; counter: number; shape: number[] };
}

export type Params<P extends Prim> = P extends keyof ParamMap ? ParamMap[P] : Record<string, never>;

// Every key of ParamMap must be a primitive.
type _ParamKeysArePrims = Exclude<keyof ParamMap, Prim> extends never ? true : never;
export const paramKeysArePrims: _ParamKeysArePrims = true;
