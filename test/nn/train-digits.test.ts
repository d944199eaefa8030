// End to end: an MLP on the 8x8 digits, trained eagerly with a DataLoader and Adam, reaches
// at least 95% accuracy on a held-out 20% validation split.

import { expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { data, nn, optim } from "../../src/index.js";

it("a digits MLP trained eagerly reaches >= 95% validation accuracy", () => {
  const t0 = performance.now();
  tb.seed(0);
  const ds = data.digits();
  const [train, val] = data.split(ds, [0.8, 0.2], { seed: 0 });
  const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(64, 128), new nn.ReLU(), new nn.Linear(128, 10));
  const opt = new optim.Adam(model.parameters(), { lr: 3e-3 });
  // Standardise with the training split's statistics.
  const all = (d: data.Subset) => d.batch(d.indices.map((_v, i) => i));
  const [xt, yt] = all(train!);
  const stats = data.featureStats(xt!);
  const trainSet = new data.TensorDataset(data.standardize(xt!, stats), yt!);
  const loader = new data.DataLoader(trainSet, { batchSize: 64, shuffle: true, seed: 1 });
  const epochs = 20;
  const sched = new optim.CosineAnnealingLR(opt, epochs * loader.length);
  let firstLoss = NaN;
  let lastLoss = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const [x, y] of loader) {
      const loss = opt.minimize(tb.crossEntropy(model(x!), y!));
      lastLoss = loss.item() as number;
      if (Number.isNaN(firstLoss)) firstLoss = lastLoss;
      sched.step();
    }
  }
  model.eval();
  const [xv, yv] = all(val!);
  const acc = tb.noGrad(() => model(data.standardize(xv!, stats)).argmax(1).eq(yv!).float().mean().item() as number);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`digits MLP: validation accuracy ${(acc * 100).toFixed(1)}% (${val!.length} images), loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}, ${seconds.toFixed(1)} s`);
  expect(lastLoss).toBeLessThan(firstLoss / 5);
  expect(acc).toBeGreaterThanOrEqual(0.95);
});
