// %% [markdown]
// # 05 · A CNN on Fashion-MNIST, in graph mode
//
// Fashion-MNIST (Zalando Research, MIT licence) has 70 000 greyscale 28×28 photos of clothes in
// ten classes. `tb.data.fashionMnist()` reads the IDX files of Debian's `dataset-fashion-mnist`
// package (`apt install dataset-fashion-mnist`) or a directory you pass as `{ path }`.
//
// To keep this notebook quick on a laptop CPU we train on a 4 000-image subset for four
// epochs, with the whole training step (forward, backward and the Adam update) compiled into one
// graph by `tb.fn`. At the end, a small table compares eager and graph time per step.
// %%
import * as tb from "tensorbook";
tb.seed(0);

const fullTrain = tb.data.fashionMnist({ split: "train" });   // x: [60000, 1, 28, 28] in 0..1, y: [60000]
const fullTest = tb.data.fashionMnist({ split: "test" });     // [10000, ...]
const [train] = tb.data.split(fullTrain, [4000, fullTrain.length - 4000], { seed: 0 });
const [test] = tb.data.split(fullTest, [1000, fullTest.length - 1000], { seed: 0 });
const classes = fullTrain.classNames.slice();
console.log(`training on ${train.length} of ${fullTrain.length} images, testing on ${test.length} of ${fullTest.length}`);
console.log("classes:", classes.join(", "));
const [sampleX, sampleY] = train.batch([0, 1, 2, 3, 4, 5]);
tb.plot.images(sampleX, { title: "training examples", titles: Array.from(sampleY.dataSync(), (c) => classes[c]!), cols: 6, size: 110 })
// %% [markdown]
// ## The network
//
// Two convolution blocks (3×3 convolution, ReLU, 2×2 max pooling) turn a 1×28×28 image into
// 16 feature maps of 7×7; a linear layer maps those 784 numbers to ten class scores.
// %%
const model = new tb.nn.Sequential(
  new tb.nn.Conv2d(1, 8, 3, { padding: 1 }), new tb.nn.ReLU(), new tb.nn.MaxPool2d(2),    // [B, 8, 14, 14]
  new tb.nn.Conv2d(8, 16, 3, { padding: 1 }), new tb.nn.ReLU(), new tb.nn.MaxPool2d(2),   // [B, 16, 7, 7]
  new tb.nn.Flatten(),                                                                      // [B, 784]
  new tb.nn.Linear(16 * 7 * 7, 10),                                                         // [B, 10]
);
tb.nn.summary(model, sampleX)
// %% [markdown]
// ## One compiled training step
//
// `opt.minimize(loss)` is zeroGrad, backward and the optimizer step. Wrapped in `tb.fn`, the
// first call traces all of it into one graph (the parameters and Adam's moment estimates are
// variables: vertices the step reads and writes), optimizes and compiles it; every later call
// with the same shapes just runs the compiled program. The evaluation pass is compiled the same
// way.
// %%
const opt = new tb.optim.Adam(model.parameters(), { lr: 2e-3 });
const trainStep = (x: tb.Tensor, y: tb.Tensor) => opt.minimize(tb.crossEntropy(model(x), y));
const compiledStep = tb.fn(trainStep);
const predict = tb.fn((x: tb.Tensor) => model(x).argmax(1));

const batchSize = 64;
const loader = new tb.data.DataLoader(train, { batchSize, shuffle: true, seed: 1, dropLast: true });
const [x0, y0] = loader[Symbol.iterator]().next().value!;
const s = compiledStep.stats(x0, y0);
console.log(`training step: ${s.opsBefore} ops traced, ${s.opsAfter} after optimization, ${s.kernels} kernels (${s.fusedKernels} fused)`);
console.log(`intermediate memory: ${(s.bytesBefore / 1e6).toFixed(2)} MB with a buffer per value, ${(s.bytesAfter / 1e6).toFixed(2)} MB planned`);
// %% [markdown]
// ## Training
//
// Four epochs of 62 batches, with the loss drawn live and test accuracy after every epoch.
// %%
const [testX, testY] = test.batch(Array.from({ length: test.length }, (_, i) => i));
function testAccuracy(): { accuracy: number; predicted: tb.Tensor } {
  const predicted = tb.concat(testX.split(250).map((xb) => predict(xb)));
  return { accuracy: predicted.eq(testY).float().mean().item(), predicted };
}

const live = tb.plot.live({ title: "Fashion-MNIST CNN", metrics: ["loss", "accuracy"], xlabel: "step" });
let step = 0;
for (const epoch of tb.progress(4, { desc: "epochs" })) {
  for (const [x, y] of loader) {
    const loss = compiledStep(x, y).item();
    step++;
    if (step % 5 === 0) live.push({ step, loss });
  }
  const { accuracy } = testAccuracy();
  live.push({ step, val_accuracy: accuracy });
  console.log(`epoch ${epoch + 1}: test accuracy ${(accuracy * 100).toFixed(1)}%`);
}
console.log(`compiled programs: training step ${compiledStep.cacheSize}, prediction ${predict.cacheSize}`);
// %% [markdown]
// Which classes get confused with which: shirts, T-shirts, pullovers and coats look alike at
// 28×28, and the matrix shows it.
// %%
const final = testAccuracy();
tb.plot.confusionMatrix(testY, final.predicted, { title: `test set (${(final.accuracy * 100).toFixed(1)}% correct)`, labels: classes })
// %% [markdown]
// ## Eager or graph: time per step
//
// The same training step, run eagerly (each op dispatched as it is called, the tape recorded
// and walked backwards) and compiled (one cached program of fused kernels). Times are wall
// clock on whatever machine ran this notebook, so this cell is the one output that changes
// from run to run (it carries the cell tag `timing`).
// %% tags=["timing"]
function msPerStep(run: (x: tb.Tensor, y: tb.Tensor) => tb.Tensor, steps: number): number {
  const batches = [...loader].slice(0, steps);
  run(batches[0]![0], batches[0]![1]).item();           // warm up (and compile, for tb.fn)
  const start = performance.now();
  for (const [x, y] of batches) run(x, y).item();
  return (performance.now() - start) / steps;
}
const eagerMs = msPerStep(trainStep, 5);
const graphMs = msPerStep(compiledStep, 5);
display.markdown(
  `| mode | ms per step (batch ${batchSize}) |\n|---|---|\n` +
  `| eager | ${eagerMs.toFixed(1)} |\n| graph (tb.fn) | ${graphMs.toFixed(1)} |\n` +
  `| speed-up | ${(eagerMs / graphMs).toFixed(1)}× |`,
);
