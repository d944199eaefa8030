// crossEntropy and nllLoss against PyTorch 2.13's F.cross_entropy and F.nll_loss: the
// default ignore_index (-100), every reduction, label smoothing with ignored targets,
// extra axes, probability targets, an all-ignored batch, the gradients; and the checks of
// option objects (an unknown key or reduction throws, naming it).

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

function expectValues(what: string, got: Tensor, want: number | number[] | number[][]): void {
  const w = [want].flat(2) as number[];
  const g = Array.from(got.dataSync());
  expect(g.length, `${what}: size`).toBe(w.length);
  g.forEach((v, i) => {
    const e = w[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(v) : Math.abs(v - e) <= 1e-6 + 2e-6 * Math.abs(e);
    if (!ok) expect.fail(`${what}: element ${i} is ${v}, PyTorch gives ${e}`);
  });
}

// logits = torch.tensor([[1., 2., .5], [.3, -1., 2.], [.1, .2, .3], [2., 1., 0.]])
const logits = () => tb.tensor([[1, 2, 0.5], [0.3, -1, 2], [0.1, 0.2, 0.3], [2, 1, 0]]);
// t = torch.tensor([2, -100, 0, 1]): row 1 is ignored by default
const target = () => tb.tensor([2, -100, 0, 1], { dtype: "int32" });
const allIgnored = () => tb.tensor([-100, -100, -100, -100], { dtype: "int32" });

describe("crossEntropy as F.cross_entropy", () => {
  it("skips targets equal to -100 by default, in every reduction", () => {
    // F.cross_entropy(logits, t, reduction=r)
    expectValues("mean", tb.crossEntropy(logits(), target()), 1.5246391296386719);
    expectValues("sum", tb.crossEntropy(logits(), target(), { reduction: "sum" }), 4.573917388916016);
    expectValues("none", tb.crossEntropy(logits(), target(), { reduction: "none" }), [1.9643688201904297, 0, 1.2019429206848145, 1.4076058864593506]);
    // ignore_index=1 with t = [2, 1, 0, 1]
    expectValues("ignoreIndex 1", tb.crossEntropy(logits(), tb.tensor([2, 1, 0, 1], { dtype: "int32" }), { ignoreIndex: 1 }), 1.583155870437622);
  });

  it("label smoothing leaves ignored rows out", () => {
    // F.cross_entropy(logits, t, reduction=r, label_smoothing=0.2)
    const ls = (reduction: tb.Reduction) => tb.crossEntropy(logits(), target(), { labelSmoothing: 0.2, reduction });
    expectValues("mean", ls("mean"), 1.4735280275344849);
    expectValues("sum", ls("sum"), 4.420584201812744);
    expectValues("none", ls("none"), [1.8310354948043823, 0, 1.1819429397583008, 1.4076058864593506]);
  });

  it("all targets ignored: the mean is NaN (0 / 0), the sum 0, the gradient 0", () => {
    expectValues("mean", tb.crossEntropy(logits(), allIgnored()), NaN);
    expectValues("sum", tb.crossEntropy(logits(), allIgnored(), { reduction: "sum" }), 0);
    expectValues("smoothed mean", tb.crossEntropy(logits(), allIgnored(), { labelSmoothing: 0.1 }), NaN);
    const g = tb.grad((x: Tensor) => tb.crossEntropy(x, allIgnored()))(logits()) as Tensor;
    expectValues("grad", g, [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]);
  });

  it("gradients: ignored rows get none", () => {
    // x.grad after F.cross_entropy(x, t).backward(), and with label_smoothing=0.2
    const g = tb.grad((x: Tensor) => tb.crossEntropy(x, target()))(logits()) as Tensor;
    expectValues("grad", g, [
      [0.07707463204860687, 0.20951056480407715, -0.2865852117538452], [0, 0, 0],
      [-0.23313014209270477, 0.11074165999889374, 0.12238846719264984], [0.2217470109462738, -0.2517571747303009, 0.030010193586349487],
    ]);
    const gs = tb.grad((x: Tensor) => tb.crossEntropy(x, target(), { labelSmoothing: 0.2 }))(logits()) as Tensor;
    expectValues("smoothed grad", gs, [
      [0.054852407425642014, 0.1872883439064026, -0.2421407699584961], [0, 0, 0],
      [-0.18868570029735565, 0.08851943910121918, 0.10016624629497528], [0.19952479004859924, -0.20731273293495178, 0.007787971757352352],
    ]);
  });

  it("extra axes, probability targets and a single sample", () => {
    // l3 = torch.arange(24.).reshape(2, 3, 4).sin(); t3 = [[0, 1, -100, 2], [2, 2, 1, -100]]
    const l3 = tb.arange(24).reshape([2, 3, 4]).sin();
    const t3 = tb.tensor([[0, 1, -100, 2], [2, 2, 1, -100]], { dtype: "int32" });
    expectValues("[N, C, L] mean", tb.crossEntropy(l3, t3), 1.544376254081726);
    expectValues("[N, C, L] smoothed sum", tb.crossEntropy(l3, t3, { labelSmoothing: 0.3, reduction: "sum" }), 8.884166717529297);
    // p = torch.softmax(torch.tensor([[1., 0., 2.], [.5, .5, 0.]]), 1): probabilities ignore ignore_index
    const p = tb.softmax(tb.tensor([[1, 0, 2], [0.5, 0.5, 0]]), 1);
    const two = logits().index([0, 2]);
    expectValues("probabilities", tb.crossEntropy(two, p), 1.8595712184906006);
    expectValues("smoothed probabilities", tb.crossEntropy(two, p, { labelSmoothing: 0.2, reduction: "none" }), [1.6251074075698853, 1.964884638786316]);
    // F.cross_entropy(logits[0], torch.tensor(2)) and with target -100
    const row = logits().index(0);
    expectValues("[C]", tb.crossEntropy(row, tb.tensor(2, { dtype: "int32" })), 1.9643688201904297);
    expectValues("[C] ignored", tb.crossEntropy(row, tb.tensor(-100, { dtype: "int32" })), NaN);
  });

  it("the module passes its options through", () => {
    const loss = new tb.nn.CrossEntropyLoss({ reduction: "sum" });
    expectValues("CrossEntropyLoss", loss(logits(), target()), 4.573917388916016);
  });
});

describe("nllLoss as F.nll_loss", () => {
  it("skips -100 by default; all ignored gives NaN", () => {
    // F.nll_loss(F.log_softmax(logits, 1), t, reduction=r)
    const logp = tb.logSoftmax(logits(), 1);
    expectValues("mean", tb.nllLoss(logp, target()), 1.5246391296386719);
    expectValues("sum", tb.nllLoss(logp, target(), { reduction: "sum" }), 4.573917388916016);
    expectValues("none", tb.nllLoss(logp, target(), { reduction: "none" }), [1.9643688201904297, 0, 1.2019429206848145, 1.4076058864593506]);
    // F.nll_loss(logits, all -100)
    expectValues("all ignored", tb.nllLoss(logits(), allIgnored()), NaN);
    expectValues("NLLLoss", new tb.nn.NLLLoss({ ignoreIndex: 1 })(logp, tb.tensor([2, 1, 0, 1], { dtype: "int32" })), 1.583155870437622);
  });
});

describe("option objects", () => {
  it("an unknown key or reduction throws, naming it", () => {
    const bad = (o: object) => o as never;
    expect(() => tb.crossEntropy(logits(), target(), bad({ reduce: "sum" }))).toThrow('crossEntropy: unknown option "reduce" (options are: labelSmoothing, reduction, ignoreIndex)');
    expect(() => tb.crossEntropy(logits(), target(), bad({ ignore_index: 1 }))).toThrow('crossEntropy: unknown option "ignore_index"');
    expect(() => tb.crossEntropy(logits(), target(), bad({ reduction: "avg" }))).toThrow('crossEntropy: reduction must be one of "mean", "sum", "none", got "avg"');
    expect(() => tb.crossEntropy(logits(), target(), { labelSmoothing: 1.5 })).toThrow("crossEntropy: labelSmoothing must be in [0, 1], got 1.5");
    expect(() => tb.nllLoss(logits(), target(), bad({ weight: tb.ones([3]) }))).toThrow('nllLoss: unknown option "weight" (options are: reduction, ignoreIndex)');
    expect(() => tb.mseLoss(logits(), logits(), bad({ reduce: false }))).toThrow('mseLoss: unknown option "reduce"');
    expect(() => tb.l1Loss(logits(), logits(), bad({ reduction: "mean " }))).toThrow("l1Loss: reduction must be one of");
    expect(() => tb.bceWithLogits(logits(), logits(), bad({ pos_weight: 2 }))).toThrow('bceWithLogits: unknown option "pos_weight"');
    expect(() => tb.softplus(logits(), bad({ Beta: 2 }))).toThrow('softplus: unknown option "Beta"');
    expect(() => tb.gelu(logits(), bad({ approximate: "fast" }))).toThrow('gelu: approximate must be one of "none", "tanh", got "fast"');
  });

  it("a target outside [0, C) that is not ignored is an error, eager and compiled", () => {
    // torch: "Target -1 is out of bounds." Eagerly the error names the loss, the classes and
    // the targets' range; a compiled program meets it in its gather kernel.
    for (const bad of [-1, 3]) {
      const t = tb.tensor([2, bad, 0, 1], { dtype: "int32" });
      const range = bad < 0 ? "from -1 to 2" : "from 0 to 3";
      const message = `must lie in [0, 2] for the 3 classes of input [4,3], got targets ${range} (targets equal to ignoreIndex -100 are skipped)`;
      expect(() => tb.crossEntropy(logits(), t).item()).toThrow(`crossEntropy: class-index targets ${message}`);
      expect(() => tb.nllLoss(tb.logSoftmax(logits(), 1), t).item()).toThrow(`nllLoss: class-index targets ${message}`);
      const compiled = tb.fn((x: Tensor, y: Tensor) => tb.crossEntropy(x, y));
      expect(() => compiled(logits(), t).item()).toThrow(/index -?\d* ?(is )?out of range/);
    }
    expect(() => tb.gather(tb.tensor([1, 2, 3]), 0, tb.tensor([-1], { dtype: "int32" })).item()).toThrow(/out of range/);
  });

  it("float class indices are an error, not probabilities", () => {
    expect(() => tb.crossEntropy(logits(), tb.tensor([2, 0, 0, 1]))).toThrow("crossEntropy: class-index targets must be int32, got float32[4]");
  });
});
