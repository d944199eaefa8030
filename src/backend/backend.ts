// The narrow interface between the tensor front end and a compute backend.
//
// A backend owns memory (allocate, free, read, write) and runs a closed list of kernels
// (dispatch). Two backends implement it: `reference` (plain TypeScript, the oracle in tests)
// and `wasm` (one shared WebAssembly.Memory, SIMD128 kernels, a worker pool). The front end
// never touches a backend's memory directly.
//
// Layout: a View addresses elements of a buffer by shape, strides (in elements, may be 0
// for broadcast or negative for flip) and an element offset. Kernels take strided views as
// inputs, so transposes, slices and broadcasts reach them without copies; outputs are
// always contiguous row-major views of a fresh buffer unless a kernel says otherwise.
//
// Elementwise work is described by a ScalarExpr: a small expression tree over the kernel's
// inputs. Each elementwise primitive contributes one node kind; graph mode fuses chains of
// them into one tree, and the wasm backend compiles each distinct tree once into a SIMD
// kernel. Reductions may carry a ScalarExpr prologue (fused elementwise-then-reduce).

export type DType = "float32" | "int32" | "bool";

/** Bytes per element: bool is stored as one byte (0 or 1), as in NumPy. */
export const itemSize: Record<DType, number> = { float32: 4, int32: 4, bool: 1 };

export type TypedArrayFor<D extends DType> = D extends "float32"
  ? Float32Array
  : D extends "int32"
    ? Int32Array
    : Uint8Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint8Array;

/** An opaque handle to a backend allocation. */
export interface Buffer {
  readonly id: number;
  readonly bytes: number;
}

export interface View {
  readonly buffer: Buffer;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Strides in elements; 0 broadcasts, negative flips. */
  readonly strides: readonly number[];
  /** Offset of element [0, 0, ...] in elements. */
  readonly offset: number;
}

// ---------------------------------------------------------------------------------------
// Scalar expressions: the fusable body of elementwise kernels.

export type UnaryScalarOp =
  | "neg" | "abs" | "sign" | "exp" | "log" | "log1p" | "expm1" | "sqrt" | "rsqrt"
  | "reciprocal" | "sin" | "cos" | "tanh" | "sigmoid" | "erf" | "floor" | "ceil" | "round"
  | "not";
export type BinaryScalarOp =
  | "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "mod" | "floordiv"
  | "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "and" | "or" | "atan2";

export type ScalarExpr =
  | { readonly op: "input"; readonly index: number; readonly dtype: DType }
  | { readonly op: "const"; readonly value: number; readonly dtype: DType }
  | { readonly op: UnaryScalarOp; readonly x: ScalarExpr; readonly dtype: DType }
  | { readonly op: BinaryScalarOp; readonly a: ScalarExpr; readonly b: ScalarExpr; readonly dtype: DType }
  | { readonly op: "where"; readonly cond: ScalarExpr; readonly a: ScalarExpr; readonly b: ScalarExpr; readonly dtype: DType }
  | { readonly op: "cast"; readonly x: ScalarExpr; readonly dtype: DType };

/** The operands of an expression node (none for inputs and constants). */
export function children(e: ScalarExpr): ScalarExpr[] {
  switch (e.op) {
    case "input": case "const": return [];
    case "where": return [e.cond, e.a, e.b];
    default:
      if ("x" in e) return [e.x];
      if ("a" in e && "b" in e) return [e.a, e.b];
      return [];
  }
}

/** The integer ops that raise ZeroDivisionError for a zero divisor. */
export type IntDivisionOp = "floordiv" | "mod" | "div";

/** The integer division ops an expression contains (each op once), in pre-order. */
export function integerDivisions(e: ScalarExpr, found: IntDivisionOp[] = [], seen = new Set<ScalarExpr>()): IntDivisionOp[] {
  if (seen.has(e)) return found;
  seen.add(e);
  if ((e.op === "floordiv" || e.op === "mod" || e.op === "div") && e.dtype !== "float32" && !found.includes(e.op)) found.push(e.op);
  for (const c of children(e)) integerDivisions(c, found, seen);
  return found;
}

/** An integer division by zero (PyTorch raises ZeroDivisionError for it too). */
export class ZeroDivisionError extends Error {
  override name = "ZeroDivisionError";
}

const opNames: Record<IntDivisionOp, string> = { floordiv: "floorDiv", mod: "mod", div: "div" };

/** The error for integer divisions by zero in the given ops (front-end names in the text). */
export function zeroDivisionError(ops: readonly IntDivisionOp[]): ZeroDivisionError {
  const names = ops.map((op) => opNames[op]).join(", ");
  return new ZeroDivisionError(
    `${names}: integer division by zero (an int32 divisor contains 0); ` +
      "cast the operands to float32 for IEEE results (inf or nan), or replace the zeros first (tb.where)",
  );
}

// ---------------------------------------------------------------------------------------
// Kernels: the closed list a backend must run. Params are plain data.

export type ReduceOp = "sum" | "prod" | "max" | "min" | "argmax" | "argmin" | "any" | "all";

export interface RowStage {
  readonly op: "sum" | "prod" | "max" | "min";
  readonly expr: ScalarExpr;
}

export interface Conv2dParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export interface Pool2dParams {
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
}

export type Kernel =
  /** out[i] = expr(inputs[0][i], inputs[1][i], ...); inputs already broadcast to out.shape.
   *  `inputs` may be empty: a constant expr fills out (the front end zero-fills this way). */
  | { kind: "elementwise"; expr: ScalarExpr; inputs: View[]; out: View }
  /** Reduce `axes` of input (after an optional elementwise prologue over inputs); out keeps
   *  reduced axes with size 1. Sums reduce in a fixed blocked order, independent of threads. */
  | { kind: "reduce"; op: ReduceOp; axes: number[]; inputs: View[]; prologue?: ScalarExpr; out: View }
  /** Row programs, graph mode's fused normalisations (softmax, logSoftmax, layerNorm). For
   *  each row along the last axis of out (length L): stage k reduces its float32 expression
   *  over the row into the row value r_k, in order; then out[j] = final. Expressions read
   *  inputs[i] (views of out.shape; a per-row value has stride 0 on the last axis) as input
   *  i, r_k as input inputs.length + k, and, with `stash`, the last stage's own value at j
   *  as input inputs.length + stages.length: that stage also writes its values into out
   *  while reducing, and the final pass reads them back (softmax's exp runs once). out is
   *  float32 and contiguous along the last axis. With `perRow`, out has shape [..., 1]
   *  where the inputs have [..., L], and final, which then reads only row values and
   *  per-row inputs, is written once per row (logsumexp). A row runs on one thread. */
  | { kind: "rows"; stages: RowStage[]; stash: boolean; final: ScalarExpr; inputs: View[]; out: View; perRow?: boolean }
  /** Inclusive cumulative sum along axis. */
  | { kind: "cumsum"; axis: number; input: View; out: View }
  /** out[..., m, n] = sum_k a[..., m, k] * b[..., k, n]; batch dims broadcast through strides.
   *  Optional epilogue: out = epilogue(acc, extra inputs...) with acc as input 0. */
  | { kind: "matmul"; a: View; b: View; out: View; epilogue?: ScalarExpr; epilogueInputs?: View[] }
  | { kind: "conv2d"; x: View; w: View; out: View; params: Conv2dParams }
  /** Gradients of conv2d with respect to its input and its weight. */
  | { kind: "conv2dInputGrad"; dy: View; w: View; out: View; params: Conv2dParams }
  | { kind: "conv2dWeightGrad"; x: View; dy: View; out: View; params: Conv2dParams }
  /** indices (int32, out's shape): the argmax as a flat position ih * W + iw inside its
   *  (n, c) input plane, padding excluded; the gradient scatters through them. */
  | { kind: "maxPool2d"; x: View; out: View; indices: View; params: Pool2dParams }
  | { kind: "avgPool2d"; x: View; out: View; params: Pool2dParams & { countIncludePad: boolean } }
  /** out = input gathered along axis by int32 index (index has out's shape). The index view
   *  may broadcast (stride 0), e.g. indexSelect passes a 1-D index expanded to out's shape. */
  | { kind: "gather"; axis: number; input: View; index: View; out: View }
  /** out (pre-filled copy) [index[i] along axis] += src[i]. The index view may broadcast
   *  (stride 0). */
  | { kind: "scatterAdd"; axis: number; index: View; src: View; out: View }
  /** Materialise a strided view into a contiguous one (also used for casts of layout).
   *  `out` may also be a strided block of a larger buffer (concat and place write their
   *  inputs this way) or an existing tensor's view (in-place assignment of running statistics,
   *  optimizer updates and graph variables); it never overlaps input. */
  | { kind: "copy"; input: View; out: View }
  /** Counter-based random bits: out[i] = philox(key, counter + i), mapped by `dist`. */
  | { kind: "random"; dist: "uniform" | "normal" | "bits"; key: [number, number]; counter: number; out: View };

export interface Backend {
  readonly name: string;
  allocate(bytes: number): Buffer;
  free(buffer: Buffer): void;
  /** Copies `count` elements of dtype starting at element `offset` out of the buffer. */
  read(buffer: Buffer, dtype: DType, offset: number, count: number): AnyTypedArray;
  write(buffer: Buffer, dtype: DType, offset: number, data: AnyTypedArray): void;
  dispatch(kernel: Kernel): void;
  /** Worker threads used for large kernels; results must be bit-identical for any count. */
  setThreads?(n: number): void;
  readonly threads?: number;
  /** Bytes currently allocated. */
  bytesInUse(): number;
  /** The most bytes this backend can ever hold (a hard limit, however much is free now);
   *  undefined when only the host's memory limits it. Checked before an allocation is
   *  attempted, so a request beyond it fails at once, saying so. */
  readonly maxBytes?: number;
}
