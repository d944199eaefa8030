// Creating tensors: from data, constants, ranges, and random numbers.
//
// Random ops draw from a Philox4x32-10 stream (src/random/philox.ts) through the "random"
// primitive, so values depend only on (seed, position in the stream): identical on every
// backend, run and thread count. tb.seed(n) resets the default generator; an explicit
// tb.Generator can be passed as { generator }.
//
// Every op that makes a host array first checks its size against the backend's limit
// (checkCapacity): a shape that cannot fit fails at once, naming the limit, instead of
// filling gigabytes of host memory (or failing with the host's "Invalid typed array length").

import { itemSize, type AnyTypedArray, type DType } from "../backend/backend.js";
import { checkCapacity, getBackend } from "../core/runtime.js";
import { bind, currentTrace } from "../core/trace.js";
import { Tensor } from "../tensor/tensor.js";
import { fmtShape, sizeOf } from "../tensor/shape.js";
import { Generator } from "../random/philox.js";
import { add, cast, floor, lt, mul } from "./elementwise.js";

export { Generator };

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

/** Nested arrays of numbers or booleans. */
export type NestedArray = number | boolean | readonly NestedArray[];

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    if (d.length === 0) break;
    d = d[0];
  }
  return shape;
}

function flattenInto(data: NestedArray, shape: number[], depth: number, out: number[], sawBool: { b: boolean }): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new Error(`tensor: ragged nested array (deeper than ${fmtShape(shape)} at depth ${depth})`);
    if (typeof data === "boolean") sawBool.b = true;
    else if (typeof data !== "number") throw new Error(`tensor: expected numbers or booleans, found ${typeof data}`);
    out.push(Number(data));
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new Error(`tensor: ragged nested array: expected ${shape[depth]} entries at depth ${depth} for shape ${fmtShape(shape)}`);
  }
  for (const d of data as readonly NestedArray[]) flattenInto(d, shape, depth + 1, out, sawBool);
}

const arrayFor = (dtype: DType, n: number | number[]): AnyTypedArray =>
  dtype === "float32" ? new Float32Array(n as number) : dtype === "int32" ? new Int32Array(n as number) : new Uint8Array(n as number);

/** Checks `shape` (non-negative integers) and that its elements fit the backend. */
function checkNew(op: string, shape: readonly number[], dtype: DType): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
  }
  checkCapacity(getBackend(), sizeOf(shape) * itemSize[dtype], () => `${op} ${dtype}${fmtShape(shape)}`);
}

/** A tensor from nested arrays, a number, or a TypedArray (1-D unless options.shape). */
export function tensor(data: NestedArray | AnyTypedArray | Tensor, options: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  if (data instanceof Tensor) {
    // A detached copy (as torch.tensor(t)), optionally cast and reshaped.
    const flat = cast(data, options.dtype ?? data.dtype).dataSync();
    return finish(Tensor._fromArray(flat, options.shape ? [...options.shape] : [...data.shape], options.dtype ?? data.dtype), options);
  }
  if (ArrayBuffer.isView(data)) {
    const dt: DType = options.dtype ?? (data instanceof Int32Array ? "int32" : data instanceof Uint8Array ? "bool" : "float32");
    const shape = options.shape ? [...options.shape] : [data.length];
    if (sizeOf(shape) !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)}`);
    const arr = arrayFor(dt, data.length);
    if (dt === "bool") data.forEach((v: number, i: number) => (arr[i] = v ? 1 : 0));
    else arr.set(data);
    return finish(Tensor._fromArray(arr, shape, dt), options);
  }
  const shape = inferShape(data);
  const flat: number[] = [];
  const sawBool = { b: false };
  flattenInto(data, shape, 0, flat, sawBool);
  const dt: DType = options.dtype ?? (sawBool.b ? "bool" : "float32");
  const arr = arrayFor(dt, flat.length);
  if (dt === "bool") flat.forEach((v, i) => (arr[i] = v ? 1 : 0));
  else arr.set(flat);
  const t = Tensor._fromArray(arr, options.shape ? [...options.shape] : shape, dt);
  return finish(t, options);
}

/** `shape` filled with `value` (float32, or bool for a boolean value, unless options.dtype). */
export function full(shape: readonly number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  return filled("full", shape, value, options);
}

function filled(op: string, shape: readonly number[], value: number | boolean, options: CreateOptions): Tensor {
  const dt = options.dtype ?? (typeof value === "boolean" ? "bool" : "float32");
  checkNew(op, shape, dt);
  const arr = arrayFor(dt, sizeOf(shape));
  if (!Object.is(Number(value), 0)) arr.fill(Number(value)); // -0 too: the arrays start at +0
  return finish(Tensor._fromArray(arr, [...shape], dt), options);
}

export const zeros = (shape: readonly number[], options: CreateOptions = {}): Tensor => filled("zeros", shape, 0, options);
export const ones = (shape: readonly number[], options: CreateOptions = {}): Tensor => filled("ones", shape, 1, options);
export const zerosLike = (x: Tensor, options: CreateOptions = {}): Tensor => filled("zerosLike", x.shape, 0, { dtype: x.dtype, ...options });
export const onesLike = (x: Tensor, options: CreateOptions = {}): Tensor => filled("onesLike", x.shape, 1, { dtype: x.dtype, ...options });
export const fullLike = (x: Tensor, value: number, options: CreateOptions = {}): Tensor => filled("fullLike", x.shape, value, { dtype: x.dtype, ...options });

/** [start, stop) by step; int32 when all arguments are integers, else float32 (PyTorch). */
export function arange(start: number, stop?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0) throw new Error("arange: step must be non-zero");
  if (![start, stop, step].every(Number.isFinite)) throw new Error(`arange: start, stop and step must be finite numbers, got ${start}, ${stop}, ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dt = options.dtype ?? ([start, stop, step].every(Number.isInteger) ? "int32" : "float32");
  checkNew("arange", [n], dt);
  const arr = arrayFor(dt, n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return finish(Tensor._fromArray(arr, [n], dt), options);
}

export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  checkNew("linspace", [steps], "float32");
  const arr = new Float32Array(steps);
  for (let i = 0; i < steps; i++) arr[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return finish(Tensor._fromArray(arr, [steps], "float32"), options).cast(options.dtype ?? "float32");
}

export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  const dt = options.dtype ?? "float32";
  checkNew("eye", [n, m], dt);
  const arr = arrayFor(dt, n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return finish(Tensor._fromArray(arr, [n, m], dt), options);
}

// ---------------------------------------------------------------------------------------
// Random

const defaultGen = new Generator(0);

/** Resets the default generator: every random op afterwards is reproducible. */
export function seed(n: number): void {
  defaultGen.manualSeed(n);
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function draw(op: string, dist: "uniform" | "normal" | "bits", shape: readonly number[], gen: Generator | undefined): Tensor {
  // before the generator moves: a request that cannot fit leaves the stream where it was
  checkNew(op, shape, "float32");
  const g = gen ?? defaultGen;
  const counter = g.take(dist, sizeOf(shape));
  currentTrace().noteRandom?.(g, counter, g.counter - counter);
  return bind("random", [], { dist, key: [g.key[0], g.key[1]], counter, shape: [...shape] });
}

/** Uniform in [0, 1). */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return finish(draw("rand", "uniform", shape, options.generator), options);
}

/** Standard normal (Box-Muller). */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return finish(draw("randn", "normal", shape, options.generator), options);
}

/** Integers in [low, high), int32. */
export function randint(low: number, high: number, shape: readonly number[], options: RandomOptions = {}): Tensor {
  if (!(high > low)) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  // floor(u * range) with 24-bit u: uniform for ranges up to 2^24.
  const u = draw("randint", "uniform", shape, options.generator);
  return add(cast(floor(mul(u, high - low)), "int32"), low);
}

/** 1.0 with probability p (a number or a tensor of probabilities), else 0.0. */
export function bernoulli(p: Tensor | number, options: RandomOptions & { shape?: readonly number[] } = {}): Tensor {
  const shape = options.shape ?? (p instanceof Tensor ? p.shape : []);
  return cast(lt(draw("bernoulli", "uniform", shape, options.generator), p), "float32");
}

