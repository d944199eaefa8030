// %% [markdown]
// # A tour of tensorbook
//
// Five minutes of everything: TypeScript cells, tensors, autograd, a traced graph and its
// diagram, and a short training run with a live loss curve and a progress bar. The numbered
// notebooks (01-tensors ... 06-char-transformer) go deeper into each part.
//
// Cells are TypeScript. Each cell is type-checked against the cells before it, then run; the
// value of the last expression is shown. Declarations carry over to later cells, and a type error
// stops a cell before it runs (try `const n: number = "x"`). Top-level `await` works.
// %%
interface Point { x: number; y: number }
const norm = (p: Point) => Math.hypot(p.x, p.y);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
await sleep(10);
[{ x: 3, y: 4 }, { x: 5, y: 12 }].map(norm)
// %% [markdown]
// Rich output goes through one display protocol: any object with a
// `[Symbol.for("Jupyter.display")]()` method returning a MIME bundle shows itself (the symbol
// Deno's kernel uses). `display(...)` shows a value mid-cell; `console.log` goes to stdout.
// %%
const card = { [Symbol.for("Jupyter.display")]: () => ({ "text/markdown": "**a card** that renders itself", "text/plain": "a card" }) };
display(card);
console.log(`Node ${process.versions.node.split(".")[0]}`);
// %% [markdown]
// ## Tensors
//
// `import * as tb from "tensorbook"`: n-dimensional arrays with PyTorch's semantics and
// TypeScript's conventions (camelCase, option objects). Tensors show as a summary table in the
// notebook and as text in a terminal.
// %%
import * as tb from "tensorbook";
tb.seed(0);
const a = tb.tensor([[1, 2], [3, 4]]);
const b = tb.randn([2, 3]);
a.matmul(b).relu()
// %% [markdown]
// ## Autograd
//
// Mark a tensor with `requiresGrad`, compute, call `backward()`; or ask for the gradient as a
// function, the JAX way, with `tb.grad`.
// %%
const w = tb.tensor([1, -2, 3], { requiresGrad: true });
const loss = w.square().sum();          // Σ w²
loss.backward();
console.log("w.grad        =", w.grad!.toString());
const f = (v: tb.Tensor) => v.square().sum();
console.log("tb.grad(f)(v) =", tb.grad(f)(tb.tensor([1, -2, 3])).toString());
// %% [markdown]
// ## Graphs
//
// `tb.trace(f, ...args)` records a function into a graph: a text IR you can read, and a diagram.
// Learned state (`tb.variable`) is a vertex like an input; data (blue, green) and functions
// (white boxes) are separate kinds of node; edges are labelled with shapes and dtypes.
// `tb.fn(f)` compiles the same graph into fused kernels. 03-graphs tells the whole story.
// %%
const W = tb.variable(tb.randn([4, 3]), { name: "W" });
const bias = tb.variable(tb.zeros([3]), { name: "bias" });
const layer = (x: tb.Tensor) => x.matmul(W).add(bias).softmax(-1);
tb.trace(layer, tb.randn([2, 4]))
// %% [markdown]
// ## Training
//
// A small network on Fisher's iris flowers (150 examples, 4 measurements, 3 species), with
// `tb.nn`, `tb.optim` and `tb.data`. `tb.plot.live` draws the loss curve in place while it
// trains, and `tb.progress` wraps any iterable in a progress bar.
// %%
tb.seed(0);
const iris = tb.data.iris();
const [train, test] = tb.data.split(iris, [0.8, 0.2], { seed: 0 });
const stats = tb.data.featureStats(iris.tensors[0]);
const model = new tb.nn.Sequential(new tb.nn.Linear(4, 16), new tb.nn.ReLU(), new tb.nn.Linear(16, 3));
const opt = new tb.optim.Adam(model.parameters(), { lr: 0.05 });
const loader = new tb.data.DataLoader(train, { batchSize: 30, shuffle: true, seed: 0 });

const live = tb.plot.live({ title: "iris: training loss", metrics: ["loss"] });
let step = 0;
for (const epoch of tb.progress(40, { desc: "epochs" })) {
  for (const [x, y] of loader) {
    const l = opt.minimize(tb.crossEntropy(model(tb.data.standardize(x, stats)), y));
    live.push({ step: step++, loss: l.item() });
  }
}
// %% [markdown]
// Accuracy on the 30 held-out flowers, and a model summary:
// %%
const [xt, yt] = test.batch(Array.from({ length: test.length }, (_, i) => i));
const predicted = tb.noGrad(() => model(tb.data.standardize(xt, stats)).argmax(1));
console.log(`test accuracy: ${(predicted.eq(yt).float().mean().item() * 100).toFixed(1)}%`);
tb.nn.summary(model, xt)
