// A small character-level transformer (embedding + learned positions, two causal encoder
// layers, a linear head) learns to continue a repeating text, eagerly and as a compiled
// training step, and the compiled step matches the eager one.

import { expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { nn, optim } from "../../src/index.js";
import { fn } from "../../src/graph/fn.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import type { Variable } from "../../src/graph/variable.js";

const text = "hello tensorbook. ".repeat(12);
const vocab = [...new Set(text)].sort();
const V = vocab.length;
const T = 12; // context length
const D = 16;

class CharModel extends nn.Module {
  tok = new nn.Embedding(V, D);
  pos: Variable;
  blocks = new nn.ModuleList([0, 1].map(() => new nn.TransformerEncoderLayer(D, 2, { dimFeedforward: 32, dropout: 0, batchFirst: true, normFirst: true })));
  norm = new nn.LayerNorm(D);
  head = new nn.Linear(D, V);
  constructor() {
    super();
    this.pos = this.registerParameter("pos", tb.randn([T, D]).mul(0.1));
  }
  forward(ids: Tensor): Tensor {
    let h = this.tok(ids).add(this.pos); // [B, T, D]
    for (const b of this.blocks) h = b(h, { isCausal: true });
    return this.head(this.norm(h)); // [B, T, V]
  }
}

function batch(starts: number[]): [Tensor, Tensor] {
  const ids = starts.map((s) => [...text.slice(s, s + T + 1)].map((c) => vocab.indexOf(c)));
  const all = tb.tensor(ids, { dtype: "int32" }); // [B, T + 1]
  return [all.narrow(1, 0, T).contiguous(), all.narrow(1, 1, T).contiguous()];
}

const lossOf = (model: CharModel, x: Tensor, y: Tensor) => tb.crossEntropy(model(x).reshape([-1, V]), y.reshape([-1]));

it("a causal character transformer learns the text; compiled steps match eager ones", () => {
  tb.seed(0);
  const [x, y] = batch([0, 5, 9, 14, 20, 27, 33, 41]);
  const make = () => {
    tb.seed(1);
    const model = new CharModel();
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
    return { model, opt };
  };
  const eager = make();
  const graph = make();
  const step = fn((x: Tensor, y: Tensor) => graph.opt.minimize(lossOf(graph.model, x, y)));
  const losses: number[] = [];
  for (let i = 0; i < 60; i++) {
    const lg = step(x, y).item() as number;
    if (i < 5) expect(lg).toBeCloseTo(eager.opt.minimize(lossOf(eager.model, x, y)).item() as number, 3);
    losses.push(lg);
  }
  expect(losses[0]!).toBeGreaterThan(2);
  expect(losses.at(-1)!).toBeLessThan(0.3);
  // Next-character predictions on a training window reproduce the text.
  graph.model.eval();
  const [px] = batch([0]);
  const next = tb.noGrad(() => graph.model(px).argmax(-1)) as Tensor;
  const got = (next.tolist() as number[][])[0]!.map((i) => vocab[i]).join("");
  expect(got).toBe(text.slice(1, 1 + T));
});
