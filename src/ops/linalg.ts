// Linear algebra and convolution ops. Letters: N batch, C/O in/out channels, H/W height and
// width, K reduction length, M/N matrix rows/cols.
//
// matmul follows NumPy: 1-D operands gain a unit axis that is removed again, batch axes
// broadcast (as stride-0 views, no copies), and transposed operands reach the kernel as
// strided views. conv1d, convTranspose2d and the pools are composites of the conv prims.

import type { Conv2dParams, Pool2dParams } from "../backend/backend.js";
import { bind } from "../core/trace.js";
import { Tensor } from "../tensor/tensor.js";
import { broadcastShapes, fmtShape } from "../tensor/shape.js";
import { add, cast, div, mul } from "./elementwise.js";
import { sum } from "./reduce.js";
import { composite } from "../core/composite.js";
import { expand, mT, pad, reshape, squeeze, unsqueeze } from "./movement.js";
import { ones } from "./creation.js";

/** int32 [..., M, K] @ [..., K, N] (batch axes broadcast): sum over k of a[..., m, k, 1] *
 *  b[..., 1, k, n], integer arithmetic throughout as PyTorch's integer matmul. Eager calls run
 *  compiled, where the product fuses into the reduction's prologue and no [M, K, N]
 *  intermediate exists; no GEMM kernel, so this is for small integer matrices. */
const integerMatmul = composite("integerMatmul", function integerMatmul(a: Tensor, b: Tensor): Tensor {
  return sum(mul(unsqueeze(a, -1), unsqueeze(b, -3)), -2);
});

/** Matrix product with NumPy's rules for 1-D operands and broadcast batch axes. float32 if
 *  either operand is float32, else int32 (int32 @ int32 is integer, as in PyTorch). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length === 0 || b.shape.length === 0) {
    throw new Error(`matmul: operands must have at least 1 axis, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (use mul for scalars)`);
  }
  const dtype = a.dtype === "float32" || b.dtype === "float32" ? "float32" : "int32";
  const af = cast(a, dtype);
  const bf = cast(b, dtype);
  const a2 = a.shape.length === 1 ? reshape(af, [1, a.shape[0]]) : af;
  const b2 = b.shape.length === 1 ? reshape(bf, [b.shape[0], 1]) : bf;
  const ra = a2.shape.length;
  const rb = b2.shape.length;
  if (a2.shape[ra - 1] !== b2.shape[rb - 2]) {
    throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${a2.shape[ra - 1]} != ${b2.shape[rb - 2]})`);
  }
  if (dtype === "int32") {
    broadcastShapes("matmul", a2.shape.slice(0, ra - 2), b2.shape.slice(0, rb - 2));
    let y = integerMatmul(a2, b2);
    if (a.shape.length === 1) y = squeeze(y, -2);
    if (b.shape.length === 1) y = squeeze(y, -1);
    return y;
  }
  if (rb === 2 && ra > 2) {
    // [..., M, K] @ [K, N]: one [(...)M, K] @ [K, N] product (a view when a is contiguous),
    // so the weight's gradient is a single matmul instead of a batched one summed later.
    const flat = bind("matmul", [reshape(a2, [-1, a2.shape[ra - 1]]), b2], {});
    const y = reshape(flat, [...a2.shape.slice(0, ra - 1), b2.shape[1]]);
    return b.shape.length === 1 ? squeeze(y, -1) : y;
  }
  const batch = broadcastShapes("matmul", a2.shape.slice(0, ra - 2), b2.shape.slice(0, rb - 2));
  const ae = expand(a2, [...batch, ...a2.shape.slice(ra - 2)]);
  const be = expand(b2, [...batch, ...b2.shape.slice(rb - 2)]);
  let y = bind("matmul", [ae, be], {});
  if (a.shape.length === 1) y = squeeze(y, -2);
  if (b.shape.length === 1) y = squeeze(y, -1);
  return y;
}

/** y = x W^T + b with W: [out, in] (PyTorch layout). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const y = matmul(x, mT(weight));
  return bias ? add(y, bias) : y;
}

export function dot(a: Tensor, b: Tensor): Tensor {
  return matmul(a, b);
}

// ---------------------------------------------------------------------------------------
// Convolution primitives (also used by the rules' gradients)

export function conv2dP(x: Tensor, w: Tensor, p: Conv2dParams): Tensor {
  return bind("conv2d", [x, w], { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups });
}
export function conv2dInputGrad(dy: Tensor, w: Tensor, p: Conv2dParams, inputShape: readonly number[]): Tensor {
  return bind("conv2dInputGrad", [dy, w], { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups, inputShape: [...inputShape] });
}
export function conv2dWeightGrad(x: Tensor, dy: Tensor, p: Conv2dParams, weightShape: readonly number[]): Tensor {
  return bind("conv2dWeightGrad", [x, dy], { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups, weightShape: [...weightShape] });
}
export function maxPool2dIndices(x: Tensor, p: Pool2dParams): Tensor {
  return bind("maxPool2dIndices", [x], p);
}

type Pair = number | readonly [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  /** A number, [ph, pw], "valid" (0) or "same" (output size = input size; stride 1). */
  padding?: Pair | "same" | "valid";
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution (cross-correlation, as PyTorch). x: [N,C,H,W], w: [O,C/groups,KH,KW]. */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  const stride = pair(options.stride ?? 1);
  const dilation = pair(options.dilation ?? 1);
  const groups = options.groups ?? 1;
  let input = cast(x, "float32");
  let padding: [number, number];
  if (options.padding === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) throw new Error(`conv2d: padding "same" needs stride 1, got [${stride}]`);
    if (w.shape.length !== 4) throw new Error(`conv2d: expected weight [O,C/groups,KH,KW], got ${fmtShape(w.shape)}`);
    const total = [dilation[0] * (w.shape[2] - 1), dilation[1] * (w.shape[3] - 1)];
    padding = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)];
    const extra = [total[0] - 2 * padding[0], total[1] - 2 * padding[1]];
    // Odd totals put the extra row/column at the end, as PyTorch does.
    if (extra[0] || extra[1]) input = pad(input, [0, extra[1], 0, extra[0]]);
  } else padding = options.padding === "valid" || options.padding === undefined ? [0, 0] : pair(options.padding);
  const y = conv2dP(input, cast(w, "float32"), { stride, padding, dilation, groups });
  return options.bias ? add(y, reshape(options.bias, [1, -1, 1, 1])) : y;
}

export interface Conv1dOptions {
  bias?: Tensor | null;
  stride?: number;
  padding?: number | "same" | "valid";
  dilation?: number;
  groups?: number;
}

/** 1-D convolution: x [N,C,L], w [O,C/groups,K] (a conv2d with height 1). */
export function conv1d(x: Tensor, w: Tensor, options: Conv1dOptions = {}): Tensor {
  const p = options.padding;
  const y = conv2d(unsqueeze(x, 2), unsqueeze(w, 2), {
    bias: options.bias,
    stride: [1, options.stride ?? 1],
    padding: p === "same" || p === "valid" ? p : [0, p ?? 0],
    dilation: [1, options.dilation ?? 1],
    groups: options.groups,
  });
  return squeeze(y, 2);
}

export interface ConvTranspose2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** Transposed convolution: x [N,Cin,H,W], w [Cin,Cout/groups,KH,KW] (PyTorch layout); the
 *  gradient of conv2d with respect to its input. */
export function convTranspose2d(x: Tensor, w: Tensor, options: ConvTranspose2dOptions = {}): Tensor {
  const stride = pair(options.stride ?? 1);
  const padding = pair(options.padding ?? 0);
  const dilation = pair(options.dilation ?? 1);
  const op = pair(options.outputPadding ?? 0);
  const groups = options.groups ?? 1;
  if (x.shape.length !== 4 || w.shape.length !== 4 || w.shape[0] !== x.shape[1]) {
    throw new Error(`convTranspose2d: expected x [N,Cin,H,W] and w [Cin,Cout/groups,KH,KW], got ${fmtShape(x.shape)} and ${fmtShape(w.shape)}`);
  }
  const [N, , H, W] = x.shape;
  const outH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (w.shape[2] - 1) + op[0] + 1;
  const outW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (w.shape[3] - 1) + op[1] + 1;
  const y = conv2dInputGrad(cast(x, "float32"), cast(w, "float32"), { stride, padding, dilation, groups }, [N, w.shape[1] * groups, outH, outW]);
  return options.bias ? add(y, reshape(options.bias, [1, -1, 1, 1])) : y;
}

export interface Pool2dOptions {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
}

export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const kernelSize = pair(options.kernelSize);
  return bind("maxPool2d", [cast(x, "float32")], {
    kernelSize,
    stride: pair(options.stride ?? kernelSize),
    padding: pair(options.padding ?? 0),
  });
}

/** Average pooling as a depthwise convolution with a constant kernel. */
export function avgPool2d(x: Tensor, options: Pool2dOptions & { countIncludePad?: boolean }): Tensor {
  if (x.shape.length !== 4) throw new Error(`avgPool2d: expected input [N,C,H,W], got ${fmtShape(x.shape)}`);
  const [kh, kw] = pair(options.kernelSize);
  const stride = pair(options.stride ?? [kh, kw]);
  const padding = pair(options.padding ?? 0);
  const [N, C, H, W] = x.shape;
  const p = { stride, padding, dilation: [1, 1] as [number, number], groups: 1 };
  const k = ones([1, 1, kh, kw]);
  const s = conv2dP(reshape(cast(x, "float32"), [N * C, 1, H, W]), k, p);
  const y = reshape(s, [N, C, s.shape[2], s.shape[3]]);
  if (options.countIncludePad === false && (padding[0] || padding[1])) {
    const count = conv2dP(ones([1, 1, H, W]), k, p);
    return div(y, count);
  }
  return div(y, kh * kw);
}

/** Averaging matrix [out, n] with PyTorch's adaptive bins [floor(i n/out), ceil((i+1) n/out)). */
function adaptiveMatrix(n: number, out: number): Tensor {
  const m = new Float32Array(out * n);
  for (let i = 0; i < out; i++) {
    const s = Math.floor((i * n) / out);
    const e = Math.ceil(((i + 1) * n) / out);
    for (let j = s; j < e; j++) m[i * n + j] = 1 / (e - s);
  }
  return Tensor._fromArray(m, [out, n], "float32");
}

/** Adaptive average pooling to outputSize: Ph @ x @ Pw^T with constant bin matrices. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  if (x.shape.length !== 4) throw new Error(`adaptiveAvgPool2d: expected input [N,C,H,W], got ${fmtShape(x.shape)}`);
  const [oh, ow] = pair(outputSize);
  const ph = adaptiveMatrix(x.shape[2], oh);
  const pw = adaptiveMatrix(x.shape[3], ow);
  return matmul(matmul(ph, cast(x, "float32")), mT(pw));
}

