// Training-step and graph-mode benchmark: tensorbook side by side, in one process, with
// jax-js (eager and jit) and tfjs-backend-wasm. Prints markdown tables with ratios.
//
// Run: npm run build && node --experimental-wasm-relaxed-simd --expose-gc dist/bench/graph.js
//
// Rows:
//   MLP 784-512-256-10, batch 128, Adam, cross-entropy: one training step (forward,
//     backward, update, reading the loss back) eagerly in each library, and compiled:
//     tensorbook's tb.fn over a step that calls opt.minimize(loss), jax-js's jit over a
//     value-and-grad + Adam step (written by hand: jax-js has no optimizer library);
//   the fused chain sqrt(x*x + y*y) * 0.5 + 1 on 1M elements (tb.fn vs jax.jit);
//   first call of the compiled step less a later call: trace, optimize and compile;
//   the compiled step's intermediate bytes with one buffer per value and after planning;
//   rendering the diagram of a graph of about 500 nodes (target < 2 s).
// tensorbook runs with 1 and with 2 threads; tfjs-wasm and jax-js use one thread in Node.

import * as tb from "../src/index.js";
import { markdownTable, randomData, setupJax, setupTfjs, time, type TableRow } from "./harness.js";

type Jax = typeof import("@jax-js/jax");
type Tf = typeof import("@tensorflow/tfjs");

const B = 128;
const SIZES = [784, 512, 256, 10];
const LR = 1e-3;
const [BETA1, BETA2, EPS] = [0.9, 0.999, 1e-8];

/** Inputs shared by every library: x [128, 784], labels as ints and one-hot. */
function batch() {
  const x = randomData(B * SIZES[0]!, 1, 7);
  const labels = new Int32Array(B).map((_, i) => (i * 7 + 3) % 10);
  const onehot = new Float32Array(B * 10);
  labels.forEach((c, i) => (onehot[i * 10 + c] = 1));
  return { x, labels, onehot };
}

/** Weights [in, out] scaled like PyTorch's default init, and zero biases. */
function weights(): { w: Float32Array[]; b: Float32Array[] } {
  const w = SIZES.slice(1).map((n, i) => randomData(SIZES[i]! * n, 1 / Math.sqrt(SIZES[i]!), 11 + i));
  const b = SIZES.slice(1).map((n) => new Float32Array(n));
  return { w, b };
}

// ---------------------------------------------------------------------------------------
// tensorbook

function tensorbookMlp() {
  const { x, labels } = batch();
  const { w, b } = weights();
  const layers: tb.nn.Module[] = [];
  w.forEach((wi, i) => {
    const lin = new tb.nn.Linear(SIZES[i]!, SIZES[i + 1]!);
    // nn.Linear stores weight [out, in]: load our [in, out] data transposed.
    lin.weight.assign(tb.tensor(wi, { shape: [SIZES[i]!, SIZES[i + 1]!] }).transpose());
    lin.bias!.assign(tb.tensor(b[i]!));
    layers.push(lin);
    if (i < w.length - 1) layers.push(new tb.nn.ReLU());
  });
  const model = new tb.nn.Sequential(...layers);
  const opt = new tb.optim.Adam(model.parameters(), { lr: LR });
  const xs = tb.tensor(x, { shape: [B, SIZES[0]!] });
  const ys = tb.tensor(labels, { dtype: "int32" });
  const eager = () => {
    const loss = opt.minimize(tb.crossEntropy(model(xs), ys));
    const v = loss.item();
    return v;
  };
  const makeCompiled = () => tb.fn((x: tb.Tensor, y: tb.Tensor) => opt.minimize(tb.crossEntropy(model(x), y)));
  return { eager, makeCompiled, xs, ys };
}

// ---------------------------------------------------------------------------------------
// jax-js: arrays are consumed by every op; `.ref` keeps one for another use.

function jaxMlp(jax: Jax) {
  const np = jax.numpy;
  const { x, onehot } = batch();
  const { w, b } = weights();
  const xs = np.array(x).reshape([B, SIZES[0]!]);
  const ys = np.array(onehot).reshape([B, 10]);
  let params: InstanceType<Jax["Array"]>[] = w.flatMap((wi, i) => [np.array(wi).reshape([SIZES[i]!, SIZES[i + 1]!]), np.array(b[i]!)]);
  let m = params.map((p) => np.zerosLike(p.ref));
  let v = params.map((p) => np.zerosLike(p.ref));
  type A = InstanceType<Jax["Array"]>;
  const lossFn = (ps: A[], x: A, y: A): A => {
    let h = x;
    for (let i = 0; i < 3; i++) {
      h = np.matmul(h, ps[2 * i]!).add(ps[2 * i + 1]!);
      if (i < 2) h = jax.nn.relu(h);
    }
    return jax.nn.logSoftmax(h, -1).mul(y).sum().mul(-1 / B);
  };
  const step = (ps: A[], ms: A[], vs: A[], c1: A, c2: A, x: A, y: A): [A[], A[], A[], A] => {
    const [loss, grads] = jax.valueAndGrad(lossFn)(ps.map((p) => p.ref), x, y) as [A, A[]];
    const np2: A[] = [], nm: A[] = [], nv: A[] = [];
    grads.forEach((g, i) => {
      const mi = ms[i]!.mul(BETA1).add(g.ref.mul(1 - BETA1));
      const vi = vs[i]!.mul(BETA2).add(g.ref.mul(g).mul(1 - BETA2));
      const upd = mi.ref.mul(c1.ref).div(np.sqrt(vi.ref.mul(c2.ref)).add(EPS)).mul(LR);
      np2.push(ps[i]!.sub(upd));
      nm.push(mi);
      nv.push(vi);
    });
    c1.dispose();
    c2.dispose();
    return [np2, nm, nv, loss];
  };
  let t = 0;
  const run = (f: typeof step) => async () => {
    t++;
    const c1 = np.array(1 / (1 - BETA1 ** t));
    const c2 = np.array(1 / (1 - BETA2 ** t));
    const [p2, m2, v2, loss] = f(params, m, v, c1, c2, xs.ref, ys.ref);
    [params, m, v] = [p2, m2, v2];
    return (await loss.data())[0]; // data() consumes the array
  };
  return { eager: run(step), makeJit: () => run(jax.jit(step) as unknown as typeof step) };
}

// ---------------------------------------------------------------------------------------
// tfjs-backend-wasm

function tfjsMlp(tf: Tf) {
  const { x, onehot } = batch();
  const { w, b } = weights();
  const vars = w.flatMap((wi, i) => [tf.variable(tf.tensor2d(wi, [SIZES[i]!, SIZES[i + 1]!])), tf.variable(tf.tensor1d(b[i]!))]);
  const xs = tf.tensor2d(x, [B, SIZES[0]!]);
  const ys = tf.tensor2d(onehot, [B, 10]);
  const opt = tf.train.adam(LR, BETA1, BETA2, EPS);
  return () => {
    const cost = opt.minimize(() => {
      let h: import("@tensorflow/tfjs").Tensor = xs;
      for (let i = 0; i < 3; i++) {
        h = tf.add(tf.matMul(h, vars[2 * i]!), vars[2 * i + 1]!);
        if (i < 2) h = tf.relu(h);
      }
      return tf.losses.softmaxCrossEntropy(ys, h) as import("@tensorflow/tfjs").Scalar;
    }, true)!;
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const tf = await setupTfjs();
  const jax = await setupJax();
  const ms = (v: number) => v.toFixed(2);
  const rows: TableRow[] = [];
  const note: string[] = [];

  // MLP step, eager and compiled, at 1 and 2 threads.
  for (const threads of [1, 2]) {
    tb.setThreads(threads);
    tb.seed(0);
    const mlp = tensorbookMlp();
    const eager = await time(mlp.eager, 1500);
    const compiledFirst = mlp.makeCompiled();
    const t0 = performance.now();
    compiledFirst(mlp.xs, mlp.ys).item();
    const first = performance.now() - t0;
    const compiled = await time(() => compiledFirst(mlp.xs, mlp.ys).item(), 1500);
    const suffix = threads === 1 ? "1 thread" : "2 threads";
    rows.push({ name: `MLP step, eager (tensorbook: ${suffix})`, values: { tensorbook: eager }, format: ms });
    rows.push({ name: `MLP step, compiled (tensorbook: ${suffix})`, values: { tensorbook: compiled }, format: ms });
    rows.push({ name: `MLP step, first call minus a later one: trace + compile (${suffix})`, values: { tensorbook: first - compiled }, format: ms });
    if (threads === 1) {
      const s = compiledFirst.stats(mlp.xs, mlp.ys);
      note.push(
        `Compiled MLP step: ${s.opsBefore} ops traced, ${s.opsAfter} after optimization, ${s.kernels} kernels ` +
          `(${s.fusedKernels} fused), intermediate bytes ${(s.bytesBefore / 2 ** 20).toFixed(2)} MiB with one buffer per value, ` +
          `${(s.bytesAfter / 2 ** 20).toFixed(2)} MiB after memory planning (${s.inPlaceSteps} steps in place).`,
      );
    }
  }
  // The other libraries, once (single-threaded).
  const eagerRow = rows.find((r) => r.name.startsWith("MLP step, eager (tensorbook: 1"))!;
  const compiledRow = rows.find((r) => r.name.startsWith("MLP step, compiled (tensorbook: 1"))!;
  const firstRow = rows.find((r) => r.name.startsWith("MLP step, first call") && r.name.includes("1 thread"))!;
  if (tf) eagerRow.values["tfjs-wasm"] = await time(tfjsMlp(tf), 3000);
  if (jax) {
    try {
      const j = jaxMlp(jax);
      eagerRow.values["jax-js"] = await time(j.eager, 3000);
      const jit = jaxMlp(jax);
      const run = jit.makeJit();
      const t0 = performance.now();
      await run();
      const first = performance.now() - t0;
      compiledRow.values["jax-js"] = await time(run, 3000);
      firstRow.values["jax-js"] = first - compiledRow.values["jax-js"]!;
    } catch (e) {
      console.error("jax-js MLP failed:", e);
    }
  }
  for (const r of rows.filter((r) => r.name.includes("2 threads"))) {
    const one = rows.find((o) => o.name === r.name.replace("2 threads", "1 thread"))!;
    for (const k of ["tfjs-wasm", "jax-js"]) if (one.values[k] !== undefined) r.values[k] = one.values[k];
  }

  // The fused chain.
  const N = 1 << 20;
  for (const threads of [1, 2]) {
    tb.setThreads(threads);
    const x = tb.tensor(randomData(N, 1, 3));
    const y = tb.tensor(randomData(N, 1, 4));
    const chain = tb.fn((x: tb.Tensor, y: tb.Tensor) => x.mul(x).add(y.mul(y)).sqrt().mul(0.5).add(1));
    const ours = await time(() => chain(x, y).dispose(), 1000);
    const row: TableRow = { name: `sqrt(x*x + y*y) * 0.5 + 1, 1M (tensorbook: ${threads} thread${threads > 1 ? "s" : ""})`, values: { tensorbook: ours } };
    if (jax) {
      const np = jax.numpy;
      const jx = np.array(randomData(N, 1, 3));
      const jy = np.array(randomData(N, 1, 4));
      type A = InstanceType<Jax["Array"]>;
      const f = jax.jit((x: A, y: A) => np.sqrt(x.ref.mul(x).add(y.ref.mul(y))).mul(0.5).add(1));
      row.values["jax-js"] = await time(async () => {
        const r = f(jx.ref, jy.ref) as A;
        await r.blockUntilReady();
        r.dispose();
      }, 1000);
    }
    if (tf) {
      const tx = tf.tensor1d(randomData(N, 1, 3));
      const ty = tf.tensor1d(randomData(N, 1, 4));
      row.values["tfjs-wasm"] = await time(() => {
        // tfjs-wasm computes eagerly, as tensorbook does: no read-back for either.
        tf.tidy(() => tf.add(tf.mul(tf.sqrt(tf.add(tf.mul(tx, tx), tf.mul(ty, ty))), 0.5), 1)).dispose();
      }, 1000);
    }
    rows.push(row);
  }

  // Diagram of a 500-node graph: 60 residual blocks in name scopes, traced then drawn.
  const deep = (x: tb.Tensor) => {
    let h = x;
    for (let layer = 0; layer < 60; layer++) {
      h = tb.nameScope(`block${Math.floor(layer / 10)}`, () => tb.nameScope(`layer${layer}`, () => {
        const a = h.matmul(tb.variable(tb.zeros([16, 16]), { name: `W${layer}` })).tanh();
        return a.add(h).exp().div(a.add(2)).mul(a);
      }));
    }
    return h.sum();
  };
  const big = tb.trace(deep, tb.zeros([8, 16]));
  const t0 = performance.now();
  await big.draw().toSVG();
  const firstDraw = performance.now() - t0;
  const draw = await time(() => big.draw().toSVG(), 3000, 1);
  rows.push({ name: `diagram of a ${big.nodes.length}-node graph, first render (loads Graphviz)`, values: { tensorbook: firstDraw }, format: ms });
  rows.push({ name: `diagram of a ${big.nodes.length}-node graph, later renders`, values: { tensorbook: draw }, format: ms });

  console.log(markdownTable("graph mode and training steps (ms)", ["tensorbook", "jax-js", "tfjs-wasm"], rows));
  console.log("");
  for (const n of note) console.log(n);
  console.log(`(relaxed SIMD: ${tb.getBackend().name}; tfjs-wasm and jax-js run one thread in Node; tfjs has no compiled mode, so its eager step is its only row)`);
}

await main();
process.exit(0);
