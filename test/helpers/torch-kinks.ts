// Gradients at kinks and edges of elementwise ops and reductions, with the values PyTorch
// 2.13 (CPU, float32) gives: for each case, torch computed f(*inputs) and the gradients of
// f(*inputs).sum() with respect to every input, e.g.
//   x = torch.tensor([-1., 0., 1.], requires_grad=True); F.relu(x).sum().backward(); x.grad
// Shared by test/tensor/kinks.test.ts (eager, both backends) and test/graph/kinks.test.ts
// (the same gradients computed by compiled programs).

import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";

type Nested = number | Nested[];

export interface KinkCase {
  name: string;
  f: (...xs: Tensor[]) => Tensor;
  inputs: Nested[];
  /** f's value, when the case pins it too. */
  value?: Nested;
  /** d sum(f) / d input, one per input. */
  grads: Nested[];
}

const inf = Infinity;

export const kinkCases: KinkCase[] = [
  // relu'(0) = 0; NaN passes through with gradient 1 (threshold_backward on the result)
  { name: "relu", f: (x) => tb.relu(x), inputs: [[-1, 0, 1, NaN]], value: [0, 0, 1, NaN], grads: [[0, 0, 1, 1]] },
  // softplus'(0) = sigmoid(0) = 0.5 for any beta
  { name: "softplus beta 1", f: (x) => tb.softplus(x), inputs: [[0, 19.9, 20, 20.1]], value: [0.6931471824645996, 19.899999618530273, 20, 20.100000381469727], grads: [[0.5, 1, 1, 1]] },
  { name: "softplus beta 2", f: (x) => tb.softplus(x, { beta: 2 }), inputs: [[0]], grads: [[0.5]] },
  { name: "softplus beta 0.5", f: (x) => tb.softplus(x, { beta: 0.5 }), inputs: [[0]], grads: [[0.5]] },
  // linear where beta x > threshold (2.6 * 2 > 5), PyTorch's formula at and below it
  {
    name: "softplus threshold", f: (x) => tb.softplus(x, { beta: 2, threshold: 5 }), inputs: [[2.4, 2.5, 2.6, -30]],
    value: [2.4040980339050293, 2.5033576488494873, 2.5999999046325684, 4.37825544636038e-27],
    grads: [[0.9918374419212341, 0.9933071732521057, 1, 8.75651089272076e-27]],
  },
  { name: "logSigmoid", f: (x) => tb.logSigmoid(x), inputs: [[0, -30, 30, -100]], value: [-0.6931471824645996, -30, -9.357622912219837e-14, -100], grads: [[0.5, 1, 9.357622912219837e-14, 1]] },
  // F.binary_cross_entropy_with_logits(x, t, reduction="sum"): sigmoid(x) - t at x = 0
  { name: "bceWithLogits at 0", f: (x) => tb.bceWithLogits(x, tb.tensor([0, 1, 0.3]), { reduction: "sum" }), inputs: [[0, 0, 0]], grads: [[0.5, -0.5, 0.19999998807907104]] },
  { name: "bceWithLogits posWeight", f: (x) => tb.bceWithLogits(x, tb.tensor([0, 1, 0.3]), { reduction: "sum", posWeight: 2 }), inputs: [[0, 0, 0]], grads: [[0.5, -1, 0.04999995231628418]] },
  // elu, selu, celu take the negative branch at 0: elu'(0) = alpha, selu'(0) = scale alpha, celu'(0) = 1
  { name: "elu", f: (x) => tb.elu(x), inputs: [[0, -100, 100]], value: [0, -1, 100], grads: [[1, 3.783505853677006e-44, 1]] },
  { name: "elu alpha 0.5", f: (x) => tb.elu(x, 0.5), inputs: [[-1, 0, 1]], value: [-0.31606027483940125, 0, 1], grads: [[0.18393972516059875, 0.5, 1]] },
  { name: "selu", f: (x) => tb.selu(x), inputs: [[-1, 0, 1]], value: [-1.1113307476043701, 0, 1.0507010221481323], grads: [[0.6467686295509338, 1.7580993175506592, 1.0507010221481323]] },
  { name: "celu alpha 2", f: (x) => tb.celu(x, 2), inputs: [[-1, 0, 1]], value: [-0.7869386672973633, 0, 1], grads: [[0.6065306663513184, 1, 1]] },
  { name: "leakyRelu", f: (x) => tb.leakyRelu(x, 0.2), inputs: [[0]], grads: [[0.20000000298023224]] },
  // hardtanh and relu6: 0 at the bounds (1 only strictly inside, and at NaN)
  { name: "hardtanh", f: (x) => tb.hardtanh(x), inputs: [[-1, 1, 0, 2, NaN]], value: [-1, 1, 0, 1, NaN], grads: [[0, 0, 1, 0, 1]] },
  { name: "relu6", f: (x) => tb.relu6(x), inputs: [[0, 6, 3]], value: [0, 6, 3], grads: [[0, 0, 1]] },
  // clamp: 1 at the bounds (min <= x <= max), 0 at NaN
  { name: "clamp", f: (x) => tb.clamp(x, -1, 1), inputs: [[-1, 1, 0, 2, NaN]], value: [-1, 1, 0, 1, NaN], grads: [[1, 1, 1, 0, 0]] },
  { name: "clamp min only", f: (x) => tb.clamp(x, 0), inputs: [[0, -1]], grads: [[1, 0]] },
  { name: "gelu", f: (x) => tb.gelu(x), inputs: [[0]], grads: [[0.5]] },
  { name: "gelu tanh", f: (x) => tb.gelu(x, { approximate: "tanh" }), inputs: [[0]], grads: [[0.5]] },
  { name: "silu", f: (x) => tb.silu(x), inputs: [[0]], grads: [[0.5]] },
  { name: "abs", f: (x) => tb.abs(x), inputs: [[0]], grads: [[0]] },
  { name: "sqrt", f: (x) => tb.sqrt(x), inputs: [[0]], grads: [[inf]] },
  // atan2: 1 / (a^2 + b^2) counts as 0 where the sum is 0 (the origin; squares underflowing)
  { name: "atan2 origin", f: (a, b) => tb.atan2(a, b), inputs: [[0, -0, 0, 1e-30], [0, 0, -0, 1e-30]], grads: [[0, 0, -0, 0], [-0, 0, -0, -0]] },
  // rsqrt' = -0.5 y^3: +inf at -0, -inf at +0
  { name: "rsqrt signed zeros", f: (x) => tb.rsqrt(x), inputs: [[-0, 0]], value: [-inf, inf], grads: [[inf, -inf]] },
  // square' = 2 x, overflowing; silu' = s (1 + x (1 - s)) at the ends of float32
  { name: "square overflow", f: (x) => tb.square(x), inputs: [[3e38, -3e38]], value: [inf, inf], grads: [[inf, -inf]] },
  { name: "silu huge", f: (x) => tb.silu(x), inputs: [[3.4e38, -3.4e38]], grads: [[1, -0]] },
  // elu takes the positive branch at NaN (x <= 0 is false): the gradient is the cotangent
  { name: "elu NaN", f: (x) => tb.elu(x), inputs: [[NaN, 0]], value: [NaN, 0], grads: [[1, 1]] },
  // logSoftmax of a row whose max is +inf: NaN throughout (x - max = inf - inf)
  { name: "logSoftmax inf", f: (x) => tb.logSoftmax(x, -1), inputs: [[inf, 0, 1]], value: [NaN, NaN, NaN], grads: [[NaN, NaN, NaN]] },
  // maximum/minimum: a tie splits the gradient in halves; NaN gives it to both
  { name: "maximum tie", f: (a, b) => tb.maximum(a, b), inputs: [[1, 2], [1, 3]], grads: [[0.5, 0], [0.5, 1]] },
  { name: "minimum tie", f: (a, b) => tb.minimum(a, b), inputs: [[1, 2], [1, 3]], grads: [[0.5, 1], [0.5, 0]] },
  { name: "maximum NaN", f: (a, b) => tb.maximum(a, b), inputs: [[NaN, 2], [1, 2]], grads: [[1, 0.5], [1, 0.5]] },
  { name: "minimum NaN", f: (a, b) => tb.minimum(a, b), inputs: [[NaN, 2], [1, 2]], grads: [[1, 0.5], [1, 0.5]] },
  // max/min over axes split evenly among ties (torch.amax/amin)
  { name: "max axis ties", f: (x) => tb.max(x, 1), inputs: [[[1, 3, 3], [2, 2, 2]]], grads: [[[0, 0.5, 0.5], [0.3333333432674408, 0.3333333432674408, 0.3333333432674408]]] },
  { name: "max all ties", f: (x) => tb.max(x), inputs: [[[1, 3, 3], [2, 2, 2]]], grads: [[[0, 0.5, 0.5], [0, 0, 0]]] },
  { name: "min axis 0 ties", f: (x) => tb.min(x, 0), inputs: [[[1, 3, 3], [1, 2, 3]]], grads: [[[0.5, 0, 0.5], [0.5, 1, 0.5]]] },
  { name: "min all ties", f: (x) => tb.min(x), inputs: [[[1, 3, 1], [2, 1, 2]]], grads: [[[0.3333333432674408, 0, 0.3333333432674408], [0, 0.3333333432674408, 0]]] },
  // tb.max is torch.amax over all axes too: a NaN result gives the whole group a NaN
  // gradient ((g / count) * mask with count 0), unlike torch.max(), which picks the NaNs
  { name: "max all NaN", f: (x) => tb.max(x), inputs: [[[1, NaN, 3], [NaN, 2, 2]]], value: NaN, grads: [[[NaN, NaN, NaN], [NaN, NaN, NaN]]] },
  { name: "min axis NaN", f: (x) => tb.min(x, 1), inputs: [[[1, NaN, 3], [2, 1, 1]]], value: [NaN, 1], grads: [[[NaN, NaN, NaN], [0, 0.5, 0.5]]] },
  // a ** b: d/da is 0 where b = 0 (also at a = 0); d/db is 0 at a = 0 with b >= 0, NaN for a < 0
  { name: "pow 0 ** 0", f: (a, b) => tb.pow(a, b), inputs: [[0], [0]], grads: [[0], [0]] },
  { name: "pow 0 ** 2", f: (a, b) => tb.pow(a, b), inputs: [[0], [2]], grads: [[0], [0]] },
  { name: "pow 0 ** 0.5", f: (a, b) => tb.pow(a, b), inputs: [[0], [0.5]], grads: [[inf], [0]] },
  { name: "pow 0 ** -1", f: (a, b) => tb.pow(a, b), inputs: [[0], [-1]], grads: [[-inf], [-inf]] },
  { name: "pow -2 ** 2", f: (a, b) => tb.pow(a, b), inputs: [[-2], [2]], grads: [[-4], [NaN]] },
  { name: "pow 2 ** 0", f: (a, b) => tb.pow(a, b), inputs: [[2], [0]], grads: [[0], [0.6931471824645996]] },
  { name: "pow x ** 0 (number exponent)", f: (a) => tb.pow(a, 0), inputs: [[0, 3]], grads: [[0, 0]] },
  // prod: the product of the other elements, also with zeros (no division by them)
  { name: "prod one zero", f: (x) => tb.prod(x), inputs: [[2, 0, 3]], grads: [[0, 6, 0]] },
  { name: "prod two zeros", f: (x) => tb.prod(x), inputs: [[2, 0, 0]], grads: [[0, 0, 0]] },
  { name: "prod axis with zeros", f: (x) => tb.prod(x, 1), inputs: [[[2, 0, 3], [1, 2, 4], [0, 0, 5]]], value: [0, 8, 0], grads: [[[0, 6, 0], [8, 4, 2], [0, 0, 0]]] },
  { name: "prod axis 0, negative zero", f: (x) => tb.prod(x, 0), inputs: [[[-0, 2], [3, 4]]], grads: [[[3, 4], [-0, 2]]] },
  // var's gradient is PyTorch's (2 / (n - 1)) g (x - mean): an infinity makes the others -inf,
  // not NaN; std's is 0 where std is 0 (PyTorch masks g / (2 std) there)
  { name: "var with inf", f: (x) => tb.variance(x), inputs: [[inf, 1, 2, 3]], value: NaN, grads: [[NaN, -inf, -inf, -inf]] },
  { name: "std zero variance", f: (x) => tb.std(x), inputs: [[7, 7, 7, 7]], value: 0, grads: [[0, 0, 0, 0]] },
  // logsumexp: rows of -inf give -inf (gradient NaN), +inf gives +inf (gradient NaN at the inf, 0 elsewhere)
  {
    name: "logsumexp infinities", f: (x) => tb.logsumexp(x, 1), inputs: [[[-inf, -inf], [inf, 1], [-inf, 1], [1, 2]]],
    value: [-inf, inf, 1, 2.3132617473602295], grads: [[[NaN, NaN], [NaN, 0], [0, 1], [0.2689414322376251, 0.7310585975646973]]],
  },
];
