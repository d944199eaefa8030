// %% [markdown]
// # 03 · Graphs: the picture behind the library
//
// In the picture most people first learn, a neural network is a drawing of **neurons as
// vertices** joined by edges, and each learned weight sits **on an edge**. TensorFlow drew it
// differently, and tensorbook draws it the same way:
//
// - **Data and functions are separate kinds of vertex.** Data vertices hold tensors: the
//   *inputs* you feed in, the *variables* that hold learned state, and *constants*. Function
//   vertices are *ops* (a matrix product, a ReLU, a sum). Edges carry tensors from data into
//   ops and from ops into other ops, labelled with their shape and dtype.
// - **A variable is a vertex, just like an input.** The weights are not decorations on edges;
//   they are tensors that flow into the matmul exactly the way the training batch does. The
//   only difference is that a variable keeps its value from one step to the next.
// - **During learning the edges turn around.** Differentiation builds a second graph whose
//   edges run the other way: from the loss back through every op to each variable, carrying
//   the gradient. The optimizer then writes an **update** into each variable vertex, and the
//   next step reads the new value.
//
// This notebook traces a small model into that graph, prints its text form (the IR), draws it,
// then draws a whole training step and compiles it.
// %%
import * as tb from "tensorbook";
tb.seed(0);

// A two-layer network written with plain ops; its learned state is four variables.
const W1 = tb.variable(tb.randn([4, 8]).mul(0.5), { name: "W1" });
const b1 = tb.variable(tb.zeros([8]), { name: "b1" });
const W2 = tb.variable(tb.randn([8, 3]).mul(0.5), { name: "W2" });
const b2 = tb.variable(tb.zeros([3]), { name: "b2" });

function model(x: tb.Tensor): tb.Tensor {
  const h = tb.nameScope("hidden", () => x.matmul(W1).add(b1).relu());
  return tb.nameScope("output", () => h.matmul(W2).add(b2));
}

const x = tb.randn([16, 4]);                    // a batch of 16 examples with 4 features
const y = tb.randint(0, 3, [16]);               // their class labels
const forward = tb.trace(model, x);
console.log(forward.toString());
// %% [markdown]
// That is the printed IR. After `lambda` come the **inputs** (`x`), then after `;` the
// **variables** (`W1:var ...`), each with its type: `f32[16,4]` is a float32 tensor of shape
// 16×4. Each `let` line is one op vertex: a fresh name, its type, the primitive and its operands.
// `in (...)` names the outputs. Comments show the name scope each op was created in.
//
// Drawn, the same graph reads top to bottom. Blue ellipses are inputs, green cylinders are
// variables, white boxes are ops, and grey boxes around ops are name scopes:
// %%
forward
// %% [markdown]
// The graph object lists the vertices by kind, so the picture can be checked in code too:
// %%
console.log("inputs:   ", forward.inputs.map((n) => `${n.kind} ${n.aval.shape.join("x")}`));
console.log("variables:", forward.variables.map((n) => n.name));
console.log("ops:      ", forward.ops.map((n) => n.prim).join(", "));
// %% [markdown]
// ## The training step: edges that run the other way
//
// A training step computes the loss, calls `backward()` to get the gradient of the loss with
// respect to every variable, and writes `variable − learning rate × gradient` back into each
// variable. Traced, all three become one graph. To keep the drawing readable we take the
// smallest model there is, a linear regression `pred = x·w + b` with a squared-error loss.
//
// In the drawing, forward ops are white and flow down. The backward ops are red and their edges
// point **up**, from the loss back towards the variables; each dashed red edge labelled
// `grad w` delivers a finished gradient to its variable, and each orange edge labelled
// `assign w` is the update written into it.
// %%
const w = tb.variable(tb.zeros([3, 1]), { name: "w" });
const b = tb.variable(tb.zeros([1]), { name: "b" });
function regressionStep(xb: tb.Tensor, target: tb.Tensor): tb.Tensor {
  w.zeroGrad(); b.zeroGrad();   // backward() adds into .grad, as in PyTorch: clear it first
  const loss = tb.mseLoss(xb.matmul(w).add(b), target);
  loss.backward();
  for (const p of [w, b]) p.assign(p.sub(p.grad!.mul(0.1)));
  return loss;
}
const xr = tb.randn([8, 3]);
const yr = xr.matmul(tb.tensor([[2], [-1], [0.5]])).add(1);   // the true w and b to recover
const stepGraph = tb.trace(regressionStep, xr, yr);
stepGraph
// %% [markdown]
// The three phases, counted on the traced graph: every op is tagged forward or backward, and the
// graph carries one gradient link and one update per variable.
// %%
const phases: Record<string, number> = {};
for (const op of stepGraph.ops) phases[op.phase] = (phases[op.phase] ?? 0) + 1;
const nameOf = (id: number) => { const n = stepGraph.node(id); return n.kind === "variable" ? n.name : n.kind; };
console.log("ops by phase:", phases);
console.log("gradients delivered to:", stepGraph.grads.map((l) => nameOf(l.wrt)));
console.log("updates written into:  ", stepGraph.updates.map((u) => nameOf(u.variable)));
// %% [markdown]
// Running the step (compiled, see below) a hundred times recovers the true weights:
// %%
const regression = tb.fn(regressionStep);
for (let i = 0; i < 100; i++) regression(xr, yr);
console.log("w =", w.detach().flatten().toString(), " b =", b.item().toFixed(4), "  (true: [2, -1, 0.5] and 1)");
// %% [markdown]
// ## Compiling: what the passes do
//
// `tb.fn(trainStep)` traces the step once per input signature, then optimizes the graph (dead
// code, common subexpressions, constant folding, algebraic simplification), fuses chains of
// elementwise ops into single kernels (and folds bias-add and activation into the matmul that
// feeds them, and the cross-entropy's log-softmax and its gradient into one row kernel
// each), plans memory so intermediate buffers are reused in place, and caches the
// compiled program. Later calls only run it. Here it compiles the training step of the
// two-layer network from the top of the notebook; `stats` says what the passes did:
// %%
const params = [W1, b1, W2, b2];
function trainStep(xb: tb.Tensor, yb: tb.Tensor): tb.Tensor {
  for (const p of params) p.zeroGrad();   // backward() adds into .grad: start from none
  const loss = tb.crossEntropy(model(xb), yb);
  loss.backward();
  for (const p of params) p.assign(p.sub(p.grad!.mul(0.5)));
  return loss;
}
const step = tb.fn(trainStep);
const stats = step.stats(x, y);
const rows: [string, string | number, string | number][] = [
  ["op vertices", stats.opsBefore, stats.opsAfter],
  ["kernels run per step", stats.opsBefore, `${stats.kernels} (${stats.fusedKernels} of them fused)`],
  ["intermediate bytes", stats.bytesBefore, stats.bytesAfter],
];
console.log("".padEnd(22) + "traced".padEnd(10) + "compiled");
for (const [what, before, after] of rows) console.log(what.padEnd(22) + String(before).padEnd(10) + String(after));
console.log(`(${stats.inPlaceSteps} kernels write their result over an input they were the last to read)`);
// %% [markdown]
// The optimized graph prints and draws like any other. Fewer ops remain: repeated constants and
// subexpressions were merged and double casts folded.
// %%
const optimized = step.graph(x, y);
const traced = tb.trace(trainStep, x, y);
console.log(`traced: ${traced.ops.length} ops, optimized: ${optimized.ops.length} ops`);
console.log(optimized.toString().split("\n").slice(0, 12).join("\n") + "\n      ...");
// %% [markdown]
// Running the compiled step trains the variables in place: each call reads the variables,
// computes the update and writes it back, exactly as the picture says.
// %%
const losses: number[] = [];
for (let i = 0; i < 60; i++) losses.push(step(x, y).item());
console.log("loss at steps 0, 20, 40, 59:", [0, 20, 40, 59].map((i) => losses[i]!.toFixed(4)).join("  "));
console.log("compiled programs cached:", step.cacheSize);
tb.plot.line(losses, { title: "training loss of the compiled step", xlabel: "step", ylabel: "cross-entropy" })
// %% [markdown]
// ## Modules draw the same way
//
// `tb.nn` modules hold their parameters as variables named by path and open a name scope per
// module, so a model built from modules gives the same picture. For larger models,
// `draw({ depth })` collapses deeper scopes into single vertices while keeping the variables
// visible.
// %%
const net = new tb.nn.Sequential(
  new tb.nn.Linear(4, 32), new tb.nn.ReLU(),
  new tb.nn.Linear(32, 32), new tb.nn.ReLU(),
  new tb.nn.Linear(32, 3),
);
const netGraph = tb.trace((xb: tb.Tensor) => net(xb).softmax(-1), x);
console.log("variables:", netGraph.variables.map((v) => v.name).join(", "));
netGraph.draw({ depth: 0 })
