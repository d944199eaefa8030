// tb.fit: the training loop's history, eager and compiled alike, and what it shows through
// the display protocol (a live curve updated in place and a progress bar per epoch).

import { afterEach, describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { data, nn, optim } from "../../src/index.js";
import { installDisplayHost, type DisplayHost, type MimeBundle } from "../../src/display/protocol.js";

function irisSetup(seed: number) {
  tb.seed(seed);
  const ds = data.iris();
  const [train, val] = data.split(ds, [0.8, 0.2], { seed: 0 });
  const stats = data.featureStats(ds.tensors[0]);
  const norm = (s: data.Subset<[tb.Tensor, tb.Tensor]>) => {
    const [x, y] = s.batch(s.indices.map((_v, i) => i));
    return new data.TensorDataset(data.standardize(x, stats), y);
  };
  const model = new nn.Sequential(new nn.Linear(4, 16), new nn.ReLU(), new nn.Linear(16, 3));
  const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
  return {
    model,
    opt,
    loader: new data.DataLoader(norm(train!), { batchSize: 32, shuffle: true, seed: 2 }),
    val: new data.DataLoader(norm(val!), { batchSize: 64 }),
  };
}

afterEach(() => installDisplayHost(undefined));

describe("fit", () => {
  it("returns per-epoch history; compiled steps give the same history", () => {
    const a = irisSetup(1);
    const h = tb.fit(a.model, a.loader, { optimizer: a.opt, epochs: 8, validation: a.val, verbose: false });
    expect(h.epoch).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.loss[7]!).toBeLessThan(h.loss[0]! / 2);
    expect(h.accuracy![7]!).toBeGreaterThan(0.85);
    expect(h.val_accuracy![7]!).toBeGreaterThan(0.85);
    expect(h.val_loss).toHaveLength(8);
    const b = irisSetup(1);
    const hc = tb.fit(b.model, b.loader, { optimizer: b.opt, epochs: 8, validation: b.val, verbose: false, compile: true });
    hc.loss.forEach((v, i) => expect(v).toBeCloseTo(h.loss[i]!, 4));
    expect(hc.accuracy).toEqual(h.accuracy);
  });

  it("compiled steps with batch norm and dropout follow the eager ones", () => {
    const run = (compile: boolean) => {
      const s = irisSetup(4);
      tb.seed(5);
      const model = new nn.Sequential(new nn.Linear(4, 16), new nn.BatchNorm1d(16), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(16, 3));
      const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      const h = tb.fit(model, s.loader, { optimizer: opt, epochs: 3, validation: s.val, verbose: false, compile });
      return { h, model };
    };
    const eager = run(false);
    const graph = run(true);
    graph.h.loss.forEach((v, i) => expect(v).toBeCloseTo(eager.h.loss[i]!, 4));
    graph.h.val_loss!.forEach((v, i) => expect(v).toBeCloseTo(eager.h.val_loss![i]!, 4));
    const bn = (m: nn.Sequential) => (m[1] as nn.BatchNorm1d).runningVar!.dataSync();
    bn(graph.model).forEach((v, i) => expect(v).toBeCloseTo(bn(eager.model)[i]!, 4));
  });

  it("shows a live curve updated in place and a progress bar per epoch", () => {
    const shown: { kind: string; id?: string; bundle: MimeBundle }[] = [];
    const host: DisplayHost = {
      display: (bundle, o) => shown.push({ kind: "display", id: o?.id, bundle }),
      update: (id, bundle) => shown.push({ kind: "update", id, bundle }),
      clear: () => {},
    };
    installDisplayHost(host);
    const s = irisSetup(3);
    const sched = new optim.StepLR(s.opt, 1, 0.5);
    tb.fit(s.model, s.loader, { optimizer: s.opt, epochs: 3, validation: s.val, scheduler: sched, clipGradNorm: 1 });
    expect(s.opt.paramGroups[0]!.lr).toBeCloseTo(0.05 / 8, 10);
    const liveId = shown.find((e) => e.id?.startsWith("tensorbook-live"))!.id!;
    const liveEvents = shown.filter((e) => e.id === liveId);
    expect(liveEvents[0]!.kind).toBe("display");
    expect(liveEvents.at(-1)!.kind).toBe("update");
    const fig = liveEvents.at(-1)!.bundle["application/vnd.plotly.v1+json"] as { data: { name?: string; y: number[] }[] };
    expect(fig.data.length).toBeGreaterThanOrEqual(4); // loss, val loss, accuracy, val accuracy
    expect(fig.data.some((t) => t.y.length === 3)).toBe(true);
    const bars = new Set(shown.filter((e) => e.id?.startsWith("tensorbook-progress")).map((e) => e.id));
    expect(bars.size).toBe(3);
    const lastBar = shown.filter((e) => e.id?.startsWith("tensorbook-progress")).at(-1)!;
    expect(String(lastBar.bundle["text/plain"])).toMatch(/^epoch 3\/3: 100%\|█+\| 4\/4, loss=\d/);
  });
});
