// %% [markdown]
// # 02 · Autograd
//
// Gradients two ways: the PyTorch way (`requiresGrad`, `backward()`, `.grad`) and the JAX way
// (`tb.grad(f)` returns a function that computes the gradient of `f`). Both run on the same tape,
// so they compose: the gradient of a gradient is just another gradient. At the end we check a
// gradient against finite differences, the test every gradient rule in the library passes.
// %%
import * as tb from "tensorbook";
tb.seed(0);

const w = tb.tensor([1.5, -2, 0.5], { requiresGrad: true });
const x = tb.tensor([3, 1, 4]);
const y = w.mul(x).sum().square();   // y = (w · x)^2
y.backward();
console.log("y      =", y.item());
console.log("dy/dw  =", w.grad!.toString(), "  (2 (w·x) x)");
console.log("x.grad =", x.grad, "  (x does not require grad)");
// %% [markdown]
// Gradients accumulate across `backward()` calls, as in PyTorch; clear them with `zeroGrad()`.
// Work that should not be recorded (an optimizer update, evaluation) goes in `tb.noGrad`.
// %%
w.mul(x).sum().backward();
console.log("accumulated:", w.grad!.toString());
w.zeroGrad();
console.log("after zeroGrad:", w.grad);
const z = tb.noGrad(() => w.mul(2));
console.log("inside noGrad, requiresGrad =", z.requiresGrad);
// %% [markdown]
// ## Gradients as functions
//
// `tb.grad(f)` differentiates `f` with respect to its first argument (or the ones listed in
// `argnums`); `tb.valueAndGrad(f)` returns the value too. Arguments can be records or arrays of
// tensors: the gradient has the same structure.
// %%
const f = (t: tb.Tensor) => t.pow(3).sum();   // f(t) = Σ t³
const t = tb.tensor([1, 2, 3]);
const df = tb.grad(f);
console.log("f'(t)  =", df(t).toString(), "  (3t²)");
const [value, gradient] = tb.valueAndGrad(f)(t);
console.log("value", value.item(), "gradient", gradient.toString());

type Params = { w: tb.Tensor; b: tb.Tensor };
const model = (p: Params, input: tb.Tensor) => input.matmul(p.w).add(p.b).tanh().sum();
const params: Params = { w: tb.randn([3, 2]), b: tb.zeros([2]) };
const g = tb.grad(model)(params, tb.randn([4, 3]));
console.log("gradient record:", Object.keys(g), g.w.shape, g.b.shape);
// %% [markdown]
// ## Gradients of gradients
//
// `tb.grad(f)` is an ordinary function of tensors, so it can be differentiated again. Here are
// the first three derivatives of sin, drawn together: each curve is the derivative of the one
// before (cos, −sin, −cos).
// %%
const sinSum = (u: tb.Tensor) => u.sin().sum();
const d1 = tb.grad(sinSum);
const d2 = tb.grad((u: tb.Tensor) => d1(u).sum());
const d3 = tb.grad((u: tb.Tensor) => d2(u).sum());
const xs = tb.linspace(-Math.PI, Math.PI, 101);
tb.plot.line(xs, { "sin": xs.sin(), "d/dx": d1(xs), "d²/dx²": d2(xs), "d³/dx³": d3(xs) },
  { title: "sin and its derivatives, by tb.grad of tb.grad", xlabel: "x" })
// %% [markdown]
// The same values as numbers, against the closed forms:
// %%
const at = tb.tensor([0.25, 0.5, 1]);
console.log("d1 ", d1(at).toString(), " cos ", at.cos().toString());
console.log("d2 ", d2(at).toString(), " -sin", at.sin().neg().toString());
console.log("d3 ", d3(at).toString(), " -cos", at.cos().neg().toString());
// %% [markdown]
// ## Checking a gradient by finite differences
//
// The central difference `(f(x + h·e_i) − f(x − h·e_i)) / 2h` approximates each partial
// derivative with an error of order h². We compare it with autograd for a small network loss
// (softmax cross-entropy after a tanh layer). The computation runs in float32, so h is chosen
// around 1e-2 to balance truncation error against rounding error.
// %%
tb.seed(1);
const W = tb.randn([5, 4]).mul(0.5);
const inputs = tb.randn([6, 5]);
const labels = tb.tensor([0, 1, 2, 3, 1, 0], { dtype: "int32" });
const loss = (weights: tb.Tensor) => tb.crossEntropy(inputs.matmul(weights).tanh(), labels);

const analytic = tb.grad(loss)(W).dataSync();
const h = 1e-2;
const base = Array.from(W.dataSync());
const numeric = base.map((_, i) => {
  const plus = base.slice(); plus[i]! += h;
  const minus = base.slice(); minus[i]! -= h;
  const lp = loss(tb.tensor(plus).reshape([5, 4])).item();
  const lm = loss(tb.tensor(minus).reshape([5, 4])).item();
  return (lp - lm) / (2 * h);
});
const worst = numeric.reduce((m, n, i) => Math.max(m, Math.abs(n - analytic[i]!)), 0);
const scale = Math.max(...numeric.map(Math.abs));
console.log(`20 partial derivatives; largest |numeric - autograd| = ${worst.toExponential(1)} (largest gradient ${scale.toFixed(3)})`);
console.log(worst < 1e-3 ? "gradient check passed" : "gradient check FAILED");
tb.plot.scatter(Array.from(analytic), numeric, { title: "finite differences vs autograd", xlabel: "autograd", ylabel: "central difference" })
