// %% [markdown]
// # 06 · A tiny character-level transformer
//
// A language model that reads text one character at a time and learns to predict the next
// one, trained on eleven of Shakespeare's sonnets (1609, public domain; the text ships in
// `notebooks/data/sonnets.txt`, see the README there). The model is a small GPT-style
// decoder: token and position embeddings, two pre-norm transformer layers
// (`tb.nn.TransformerEncoderLayer` with a causal mask, so position t only attends to positions
// ≤ t), and a linear head over the character vocabulary. Training is one compiled `tb.fn`
// step; sampling uses its own seeded generator, so the poem below is the same on every run.
//
// Shapes use B = batch, T = context length (time), D = embedding width, V = vocabulary size.
// %%
import * as tb from "tensorbook";
import * as fs from "node:fs";
tb.seed(0);

const text = fs.readFileSync("data/sonnets.txt", "utf8");
const chars = [...new Set(text)].sort();
const V = chars.length;
const toId = new Map(chars.map((c, i) => [c, i] as const));
const encode = (s: string) => Array.from(s, (c) => toId.get(c)!);
const decode = (ids: ArrayLike<number>) => Array.from(ids, (i) => chars[i]).join("");
const data = tb.tensor(encode(text), { dtype: "int32" });        // [N]
console.log(`${text.length} characters, vocabulary of ${V}: ${JSON.stringify(chars.join(""))}`);
console.log(text.slice(text.indexOf("XVIII"), text.indexOf("XVIII") + 120));
// %% [markdown]
// ## Batches
//
// A batch is B random windows of T + 1 consecutive characters: the model reads the first T and
// is asked, at every position, for the character that follows. The windows are cut with tensor
// ops (an index grid from broadcasting, then `indexSelect`), drawn from the seeded global
// generator.
// %%
const T = 32;
const B = 32;
function batch(): [tb.Tensor, tb.Tensor] {
  const starts = tb.randint(0, text.length - T - 1, [B, 1]);      // [B, 1]
  const grid = starts.add(tb.arange(0, T + 1));                  // [B, T+1]
  const windows = data.indexSelect(0, grid.flatten()).reshape([B, T + 1]);
  return [windows.index(null, [0, T]), windows.index(null, [1, T + 1])];   // inputs, targets: [B, T]
}
const [xb, yb] = batch();
console.log("input :", JSON.stringify(decode(xb.index(0).dataSync())));
console.log("target:", JSON.stringify(decode(yb.index(0).dataSync())));
// %% [markdown]
// ## The model
// %%
const D = 48;
class CharTransformer extends tb.nn.Module<[tb.Tensor], tb.Tensor> {
  readonly token = new tb.nn.Embedding(V, D);
  readonly position = new tb.nn.Embedding(T, D);
  readonly layers = new tb.nn.ModuleList([0, 1].map(() =>
    new tb.nn.TransformerEncoderLayer(D, 4, { dimFeedforward: 4 * D, dropout: 0, batchFirst: true, normFirst: true, activation: "gelu" })));
  readonly norm = new tb.nn.LayerNorm(D);
  readonly head = new tb.nn.Linear(D, V);

  forward(ids: tb.Tensor): tb.Tensor {                          // ids: [B, t] with t ≤ T
    const t = ids.shape[1]!;
    let h = this.token(ids).add(this.position(tb.arange(0, t))); // [B, t, D]
    for (const layer of this.layers) h = (layer as tb.nn.TransformerEncoderLayer)(h, { isCausal: true });
    return this.head(this.norm(h));                             // [B, t, V] logits
  }
}
const model = new CharTransformer();
tb.nn.summary(model, xb)
// %% [markdown]
// ## Training
//
// Cross-entropy of the next-character prediction at every position, AdamW, one compiled step.
// Before training the loss is about ln V (a uniform guess).
// %%
const opt = new tb.optim.AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
const step = tb.fn((x: tb.Tensor, y: tb.Tensor) =>
  opt.minimize(tb.crossEntropy(model(x).reshape([B * T, V]), y.reshape([B * T]))));
console.log(`ln V = ${Math.log(V).toFixed(3)}`);

const steps = 400;
const live = tb.plot.live({ title: "character-level loss", metrics: ["loss"], xlabel: "step" });
let smoothed = Math.log(V);
for (const i of tb.progress(steps, { desc: "training" })) {
  const [x, y] = batch();
  const loss = step(x, y).item();
  smoothed = i === 0 ? loss : 0.95 * smoothed + 0.05 * loss;
  if (i % 10 === 9) live.push({ step: i + 1, loss: smoothed });
}
console.log(`smoothed training loss after ${steps} steps: ${smoothed.toFixed(3)} (bits per character: ${(smoothed / Math.LN2).toFixed(2)})`);
// %% [markdown]
// ## Sampling
//
// Generation feeds the model its own output: take the logits of the last position, divide by a
// temperature (below 1 makes it bolder about its favourites), turn them into probabilities and
// draw the next character by inverse CDF, with uniform numbers from a dedicated
// `tb.Generator(seed)` so the sample is reproducible and independent of the training draws.
// %%
function sample(prompt: string, length: number, options: { temperature: number; seed: number }): string {
  const gen = new tb.Generator(options.seed);
  const ids = encode(prompt);
  return tb.noGrad(() => {
    for (let i = 0; i < length; i++) {
      const context = tb.tensor([ids.slice(-T)], { dtype: "int32" });            // [1, t]
      const logits = model(context).index(0, -1).div(options.temperature);      // [V]
      const cdf = logits.softmax(-1).cumsum(0);                                 // [V], ends at 1
      const u = tb.rand([1], { generator: gen });
      ids.push(Math.min(cdf.lt(u).sum().item(), V - 1));                        // first index with cdf ≥ u
    }
    return decode(ids);
  });
}
console.log(sample("Shall I compare thee", 300, { temperature: 0.8, seed: 7 }));
// %% [markdown]
// Not Shakespeare, but after 400 steps on 7 000 characters the model has picked up the shape of
// the text: real and nearly-real words, spaces between them, line breaks with a capital letter
// after them, commas and colons at line ends, elisions such as "lov'd". A colder temperature
// makes it repeat its most confident patterns:
// %%
console.log(sample("When ", 200, { temperature: 0.5, seed: 1 }));
