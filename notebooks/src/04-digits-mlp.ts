// %% [markdown]
// # 04 · Handwritten digits with an MLP
//
// The classic first network: a multi-layer perceptron on the 8×8 handwritten digits (1797
// images, shipped with tensorbook from scikit-learn's copy of the UCI data). A PyTorch-style
// training loop with a live loss curve and a progress bar, then a confusion matrix, the images
// the model gets wrong, and a round trip of the weights through a safetensors file.
// %%
import * as tb from "tensorbook";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
tb.seed(0);

const digits = tb.data.digits();               // x: float32 [1797, 64] with values 0..16, y: int32 [1797]
const [train, val] = tb.data.split(digits, [0.8, 0.2], { seed: 0 });
console.log(`${digits.length} images: ${train.length} for training, ${val.length} for validation`);
const first = digits.batch([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
tb.plot.images(first[0].reshape([16, 8, 8]), { title: "the first 16 digits", titles: Array.from(first[1].dataSync(), String), size: 60 })
// %% [markdown]
// ## The model
//
// Each pixel is standardised with the mean and standard deviation of the *training* images
// (validation data must not leak into them). Then 64 inputs → 128 hidden units → 64 → 10 class
// scores (logits).
// %%
const all = (ds: tb.data.Dataset<tb.Tensor[]>) => ds.batch(Array.from({ length: ds.length }, (_, i) => i));
const [trainX] = all(train);
const [valX, valY] = all(val);
const pixelStats = tb.data.featureStats(trainX);     // mean and std per pixel, each [64]
const prepare = (x: tb.Tensor) => tb.data.standardize(x, pixelStats);

const makeModel = () => new tb.nn.Sequential(
  new tb.nn.Linear(64, 128), new tb.nn.ReLU(),
  new tb.nn.Linear(128, 64), new tb.nn.ReLU(),
  new tb.nn.Linear(64, 10),
);
const model = makeModel();
tb.nn.summary(model, prepare(valX))
// %% [markdown]
// ## Training
//
// Adam with a cosine learning-rate schedule, batches of 32 reshuffled every epoch, cross-entropy
// loss. After each epoch the model is evaluated on the validation set (under `tb.noGrad`, in `eval()` mode); the live plot draws
// training and validation loss together, and accuracy in a second panel.
// %%
const epochs = 10;
const opt = new tb.optim.Adam(model.parameters(), { lr: 3e-3 });
const schedule = new tb.optim.CosineAnnealingLR(opt, epochs);
const loader = new tb.data.DataLoader(train, { batchSize: 32, shuffle: true, seed: 1 });

function evaluate(): { loss: number; accuracy: number; predicted: tb.Tensor } {
  model.eval();
  const result = tb.noGrad(() => {
    const logits = model(prepare(valX));
    const predicted = logits.argmax(1);
    return { loss: tb.crossEntropy(logits, valY).item(), accuracy: predicted.eq(valY).float().mean().item(), predicted };
  });
  model.train();
  return result;
}

const live = tb.plot.live({ title: "digits MLP", metrics: ["loss", "accuracy"], xlabel: "epoch" });
for (const epoch of tb.progress(epochs, { desc: "epochs" })) {
  let sum = 0;
  let batches = 0;
  for (const [x, y] of loader) {
    sum += opt.minimize(tb.crossEntropy(model(prepare(x)), y)).item();
    batches++;
  }
  schedule.step();
  const v = evaluate();
  live.push({ step: epoch + 1, loss: sum / batches, val_loss: v.loss, val_accuracy: v.accuracy });
}
const final = evaluate();
console.log(`validation accuracy after ${epochs} epochs: ${(final.accuracy * 100).toFixed(2)}%`);
// %% [markdown]
// ## Where it goes wrong
//
// The confusion matrix counts (true digit, predicted digit) pairs over the validation set; the
// diagonal is what it gets right.
// %%
tb.plot.confusionMatrix(valY, final.predicted, { title: "validation confusion matrix", labels: digits.classNames.slice() })
// %% [markdown]
// And the misclassified images themselves, titled "true → predicted":
// %%
const isWrong = final.predicted.ne(valY).dataSync();
const wrong = Array.from(isWrong.keys()).filter((i) => isWrong[i]);
console.log(`${wrong.length} of ${val.length} validation images misclassified`);
const truth = valY.dataSync();
const guess = final.predicted.dataSync();
tb.plot.images(valX.indexSelect(0, wrong).reshape([wrong.length, 8, 8]), {
  title: "misclassified", titles: wrong.map((i) => `${truth[i]} → ${guess[i]}`), size: 70, cols: 8,
})
// %% [markdown]
// ## Saving and loading the weights
//
// `tb.save` writes a record of named tensors in the [safetensors](https://github.com/huggingface/safetensors)
// format (an 8-byte little-endian header length, a JSON header with each tensor's dtype, shape
// and byte offsets, then the raw data), atomically: a crash mid-save leaves the old file intact.
// The same file opens in Python with `safetensors.numpy.load_file`.
// %%
const file = path.join(os.tmpdir(), "tensorbook-digits-mlp.safetensors");
await tb.save(file, model.stateDict());
const bytes = fs.readFileSync(file);
const headerLength = Number(bytes.readBigUInt64LE(0));
const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; shape: number[] }>;
console.log(`${bytes.length} bytes, header of ${headerLength} bytes:`);
for (const [name, info] of Object.entries(header)) if (name !== "__metadata__") console.log(`  ${name.padEnd(22)} ${info.dtype} [${info.shape.join(", ")}]`);
// %% [markdown]
// A fresh model (different random initialisation) loads the weights and makes exactly the same
// predictions:
// %%
tb.seed(123);
const restored = makeModel();
const before = tb.noGrad(() => restored(prepare(valX)).argmax(1).eq(valY).float().mean().item());
restored.loadStateDict(await tb.load(file));
restored.eval();
const after = tb.noGrad(() => restored(prepare(valX)).argmax(1));
console.log(`fresh model: ${(before * 100).toFixed(1)}% accuracy; after loading: ${(after.eq(valY).float().mean().item() * 100).toFixed(2)}%`);
console.log("identical predictions:", after.eq(final.predicted).all().item() === 1);
fs.rmSync(file);
