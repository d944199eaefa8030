// tb.fit(model, loader, { epochs, optimizer, loss, metrics, validation }): a Keras-style
// training loop over a DataLoader that shows a progress bar per epoch (tb.progress) and a
// live loss/accuracy curve (tb.plot.live) with training and validation series, and
// returns the per-epoch history. With { compile: true } each training step (forward,
// backward, optimizer update) runs as one compiled graph (tb.fn).
//
// Losses and accuracies are averaged over samples (batch values weighted by batch size).

import { Tensor } from "../tensor/tensor.js";
import { withGrad } from "../core/trace.js";
import { fn } from "../graph/fn.js";
import { live, type LivePlot } from "../display/plot/live.js";
import { progress } from "../display/progress.js";
import { crossEntropy } from "../ops/nn.js";
import { argmax, sum } from "../ops/reduce.js";
import { cast, eq } from "../ops/elementwise.js";
import type { Module } from "./module.js";
import type { Optimizer } from "../optim/optimizer.js";
import type { LRScheduler } from "../optim/scheduler.js";
import { clipGradNorm } from "../optim/clip.js";

export type Metric = "accuracy";

export interface FitOptions {
  optimizer: Optimizer<{ lr: number }>;
  epochs?: number;
  /** loss(output, target), default cross entropy on logits and int32 classes. */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /** Default ["accuracy"] with the default loss, else none. */
  metrics?: Metric[];
  /** Batches [x, y] evaluated after every epoch (e.g. a DataLoader of the validation split). */
  validation?: Iterable<Tensor[]>;
  scheduler?: LRScheduler;
  /** Step the scheduler after every batch or every epoch (default "epoch"). */
  schedulerStep?: "batch" | "epoch";
  /** Clip the gradients' total norm before each update. */
  clipGradNorm?: number;
  /** Run each training step as one compiled graph (default false). */
  compile?: boolean;
  /** Show the progress bars and the live curve (default true). */
  verbose?: boolean;
  /** Draw into this live plot instead of a new one. */
  plot?: LivePlot;
}

/** Per-epoch values: loss, and accuracy / val_loss / val_accuracy when measured. */
export interface History {
  epoch: number[];
  loss: number[];
  accuracy?: number[];
  val_loss?: number[];
  val_accuracy?: number[];
}

/** [loss * n, correct count] of one batch (correct is 0 without the accuracy metric). */
type BatchStats = [Tensor, Tensor];

export function fit(model: Module<[Tensor], Tensor>, loader: Iterable<Tensor[]>, options: FitOptions): History {
  const opt = options.optimizer;
  const epochs = options.epochs ?? 1;
  const lossFn = options.loss ?? ((o: Tensor, t: Tensor) => crossEntropy(o, t));
  const metrics = options.metrics ?? (options.loss ? [] : ["accuracy"]);
  const withAcc = metrics.includes("accuracy");
  const verbose = options.verbose ?? true;
  const plot = options.plot ?? (verbose ? live({ title: "training", metrics: ["loss", ...metrics] }) : undefined);

  const correct = (out: Tensor, y: Tensor): Tensor => (withAcc ? sum(cast(eq(argmax(out, 1), cast(y, "int32")), "float32")) : Tensor._scalar(0, "float32"));
  const stepFn = (x: Tensor, y: Tensor): BatchStats => {
    opt.zeroGrad();
    const out = model(x);
    const loss = lossFn(out, y);
    loss.backward();
    if (options.clipGradNorm !== undefined) clipGradNorm(opt.paramGroups.flatMap((g) => g.params), options.clipGradNorm);
    opt.step();
    return [loss.detach(), withGrad(false, () => correct(out.detach(), y))];
  };
  const step = options.compile ? fn(stepFn) : stepFn;
  const evalFn = (x: Tensor, y: Tensor): BatchStats => {
    const out = model(x);
    return [lossFn(out, y), correct(out, y)];
  };

  const history: History = { epoch: [], loss: [] };
  if (withAcc) history.accuracy = [];
  if (options.validation) {
    history.val_loss = [];
    if (withAcc) history.val_accuracy = [];
  }
  for (let epoch = 0; epoch < epochs; epoch++) {
    model.train();
    let n = 0;
    let lossSum = 0;
    let hits = 0;
    const bar = verbose ? progress(loader, { desc: `epoch ${epoch + 1}/${epochs}` }) : loader;
    for (const [x, y] of bar) {
      const [l, c] = step(x!, y!);
      const b = x!.shape[0] ?? 1;
      const lv = l.item() as number;
      n += b;
      lossSum += lv * b;
      hits += c.item() as number;
      if (verbose) (bar as ReturnType<typeof progress>).setPostfix({ loss: lv });
      if (options.scheduler && options.schedulerStep === "batch") options.scheduler.step();
    }
    if (options.scheduler && options.schedulerStep !== "batch") options.scheduler.step();
    if (n === 0) throw new Error("fit: the loader yielded no batches");
    const point: Record<string, number> = { step: epoch + 1, loss: lossSum / n };
    history.epoch.push(epoch + 1);
    history.loss.push(lossSum / n);
    if (withAcc) {
      history.accuracy!.push(hits / n);
      point.accuracy = hits / n;
    }
    if (options.validation) {
      model.eval();
      let vn = 0;
      let vl = 0;
      let vh = 0;
      withGrad(false, () => {
        for (const [x, y] of options.validation!) {
          const [l, c] = evalFn(x!, y!);
          const b = x!.shape[0] ?? 1;
          vn += b;
          vl += (l.item() as number) * b;
          vh += c.item() as number;
        }
      });
      if (vn > 0) {
        history.val_loss!.push(vl / vn);
        point.val_loss = vl / vn;
        if (withAcc) {
          history.val_accuracy!.push(vh / vn);
          point.val_accuracy = vh / vn;
        }
      }
      model.train();
    }
    plot?.push(point);
  }
  plot?.flush();
  return history;
}
