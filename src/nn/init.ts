// tb.nn.init: PyTorch's weight initialisers. Each fills a tensor in place (a Variable
// through assign, any other tensor through its storage) and returns it. Random draws come
// from tb.seed's default generator or the Generator given, so initialisation is
// reproducible.
//
// Fans follow torch.nn.init._calculate_fan_in_and_fan_out: for a weight [O, I, ...k],
// fanIn = I * prod(k) and fanOut = O * prod(k).

import { Tensor } from "../tensor/tensor.js";
import { withGrad } from "../core/trace.js";
import { fmtShape } from "../tensor/shape.js";
import { full, rand, randn, type Generator } from "../ops/creation.js";
import { add, mul } from "../ops/elementwise.js";

export type Nonlinearity = "linear" | "conv1d" | "conv2d" | "sigmoid" | "tanh" | "relu" | "leakyRelu" | "selu";
export type FanMode = "fanIn" | "fanOut";

export interface RandomInitOptions {
  generator?: Generator;
}

export interface KaimingOptions extends RandomInitOptions {
  /** Negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear": case "conv1d": case "conv2d": case "sigmoid": return 1;
    case "tanh": return 5 / 3;
    case "relu": return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu": return 3 / 4;
  }
}

/** [fanIn, fanOut] of a weight with at least 2 axes. */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) throw new Error(`nn.init: fan in and fan out need a tensor with at least 2 axes, got ${fmtShape(shape)}`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

/** Writes value into t: Variables through assign, other tensors in place. */
function fill(t: Tensor, value: Tensor): Tensor {
  withGrad(false, () => {
    const a = (t as Tensor & { assign?: (v: Tensor) => unknown }).assign;
    if (typeof a === "function") a.call(t, value);
    else t._assign(value);
  });
  return t;
}

export function uniform(t: Tensor, a = 0, b = 1, options: RandomInitOptions = {}): Tensor {
  return fill(t, withGrad(false, () => add(mul(rand(t.shape, { generator: options.generator }), b - a), a)));
}

export function normal(t: Tensor, mean = 0, std = 1, options: RandomInitOptions = {}): Tensor {
  return fill(t, withGrad(false, () => add(mul(randn(t.shape, { generator: options.generator }), std), mean)));
}

export function constant(t: Tensor, value: number): Tensor {
  return fill(t, full(t.shape, value, { dtype: t.dtype }));
}

export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const [fanIn, fanOut] = fans(t.shape);
  const fan = (options.mode ?? "fanIn") === "fanIn" ? fanIn : fanOut;
  const gain = calculateGain(options.nonlinearity ?? "leakyRelu", options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** U(-b, b) with b = gain * sqrt(3 / fan) (He et al. 2015). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform(t, -bound, bound, options);
}

/** N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, options), options);
}

/** U(-b, b) with b = gain * sqrt(6 / (fanIn + fanOut)) (Glorot and Bengio 2010). */
export function xavierUniform(t: Tensor, options: RandomInitOptions & { gain?: number } = {}): Tensor {
  const [fanIn, fanOut] = fans(t.shape);
  const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -bound, bound, options);
}

/** N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, options: RandomInitOptions & { gain?: number } = {}): Tensor {
  const [fanIn, fanOut] = fans(t.shape);
  return normal(t, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}
