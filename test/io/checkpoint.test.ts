// Checkpoints: module state dicts and optimizer state through tb.save/tb.load (async and
// sync), the flattened optimizer layout read back independently by Python (struct + json,
// per the safetensors spec), resumed training equal to uninterrupted training, and errors.

import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tb from "../../src/index.js";
import { nn, optim } from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";

const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";

const makeModel = (seed: number) => {
  tb.seed(seed);
  return new nn.Sequential(new nn.Linear(5, 8), new nn.BatchNorm1d(8), new nn.ReLU(), new nn.Linear(8, 3));
};

function trainSteps(model: nn.Sequential, opt: optim.Optimizer<{ lr: number }>, x: Tensor, y: Tensor, n: number): void {
  for (let i = 0; i < n; i++) opt.minimize(tb.crossEntropy(model(x), y));
}

describe("checkpoints", () => {
  it("a module's state dict round-trips through a file (parameters and buffers)", async () => {
    const a = makeModel(1);
    tb.seed(2);
    a(tb.randn([6, 5])); // moves the batch-norm running statistics
    const path = join(dir, "model.safetensors");
    await tb.save(path, a.stateDict());
    const loaded = await tb.load(path);
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(a.stateDict()).sort());
    expect(loaded["1.numBatchesTracked"]!.dtype).toBe("int32");
    const b = makeModel(3);
    b.loadStateDict(loaded);
    a.eval();
    b.eval();
    const x = tb.randn([4, 5]);
    expect(b(x).tolist()).toEqual(a(x).tolist());
    for (const [k, v] of Object.entries(a.stateDict())) expect(b.stateDict()[k]!.tolist()).toEqual(v.tolist());
  });

  it("optimizer state is flattened to state.<i>.<key> with paramGroups metadata, as Python reads it", () => {
    const model = makeModel(4);
    const opt = new optim.AdamW(model.parameters(), { lr: 0.01, betas: [0.8, 0.9] });
    tb.seed(5);
    trainSteps(model, opt, tb.randn([8, 5]), tb.randint(0, 3, [8]), 2);
    const path = join(dir, "opt.safetensors");
    tb.saveSync(path, opt.stateDict(), { metadata: { note: "epoch 2" } });
    const script = `
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h.pop('__metadata__')
s = h['state.0.exp_avg']
vals = struct.unpack('<%df' % (s['data_offsets'][1] // 4 - s['data_offsets'][0] // 4), b[8 + n + s['data_offsets'][0]:8 + n + s['data_offsets'][1]])
print(json.dumps({'names': sorted(h), 'meta': meta, 'groups': json.loads(meta['paramGroups']), 'shape': s['shape'], 'dtype': s['dtype'], 'first': vals[0]}))`;
    const out = JSON.parse(execFileSync(python, ["-c", script, path], { encoding: "utf8" })) as {
      names: string[]; meta: Record<string, string>; groups: { params: number[]; lr: number; beta1: number }[]; shape: number[]; dtype: string; first: number;
    };
    expect(out.names).toContain("state.0.exp_avg");
    expect(out.names).toContain("state.5.step");
    expect(out.names).toHaveLength(6 * 3);
    expect(out.meta.format).toBe("tensorbook.optimizer");
    expect(out.meta.note).toBe("epoch 2");
    expect(out.groups).toEqual([{ lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-8, weightDecay: 0.01, amsgrad: false, params: [0, 1, 2, 3, 4, 5] }]);
    expect(out.shape).toEqual([8, 5]);
    expect(out.dtype).toBe("F32");
    expect(out.first).toBeCloseTo(opt.stateDict().state["0"]!.exp_avg!.dataSync()[0]!, 6);
    expect(tb.checkpointMetadata(tb.loadSync(path))?.note).toBe("epoch 2");
  });

  it("training resumed from saved model and optimizer files matches uninterrupted training", async () => {
    tb.seed(6);
    const x = tb.randn([16, 5]);
    const y = tb.randint(0, 3, [16]);
    const ref = makeModel(7);
    const refOpt = new optim.Adam(ref.parameters(), { lr: 0.02 });
    trainSteps(ref, refOpt, x, y, 6);

    const first = makeModel(7);
    const firstOpt = new optim.Adam(first.parameters(), { lr: 0.02 });
    trainSteps(first, firstOpt, x, y, 3);
    await tb.save(join(dir, "m.safetensors"), first.stateDict());
    await tb.save(join(dir, "o.safetensors"), firstOpt.stateDict());

    const resumed = makeModel(8);
    const resumedOpt = new optim.Adam(resumed.parameters(), { lr: 0.5 });
    resumed.loadStateDict(await tb.load(join(dir, "m.safetensors")));
    resumedOpt.loadStateDict(await tb.load(join(dir, "o.safetensors")));
    expect(resumedOpt.paramGroups[0]!.lr).toBe(0.02);
    trainSteps(resumed, resumedOpt, x, y, 3);
    ref.parameters().forEach((p, i) => expect(resumed.parameters()[i]!.tolist()).toEqual(p.tolist()));
  });

  it("errors: a model file given to an optimizer, non-tensors, truncated files", async () => {
    const model = makeModel(9);
    const path = join(dir, "plain.safetensors");
    tb.saveSync(path, model.stateDict());
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    expect(() => opt.loadStateDict(tb.loadSync(path))).toThrow('has no optimizer metadata (format "tensorbook.optimizer" and paramGroups)');
    expect(() => tb.saveSync(join(dir, "bad.safetensors"), { w: [1, 2] as unknown as Tensor })).toThrow('"w" is object, not a tensor');
    const bytes = readFileSync(path);
    writeFileSync(join(dir, "cut.safetensors"), bytes.subarray(0, bytes.length - 10));
    await expect(tb.load(join(dir, "cut.safetensors"))).rejects.toThrow(/cut\.safetensors/);
  });
});

describe("PyTorch interop", () => {
  it("a state dict written by Python with PyTorch's names loads into the same architecture", async () => {
    const path = join(dir, "torch.safetensors");
    // A safetensors file as torch's save_file writes it for Sequential(Linear(3, 4),
    // BatchNorm1d(4), ReLU(), Linear(4, 2)), written here with struct and json only.
    const script = `
import json, struct, sys
import numpy as np
rng = np.random.default_rng(0)
t = {
  "0.weight": rng.standard_normal((4, 3)), "0.bias": rng.standard_normal(4),
  "1.weight": rng.standard_normal(4), "1.bias": rng.standard_normal(4),
  "1.running_mean": rng.standard_normal(4), "1.running_var": rng.random(4) + 0.5,
  "3.weight": rng.standard_normal((2, 4)), "3.bias": rng.standard_normal(2),
}
header = {}; blobs = []; off = 0
for k in sorted(t):
    b = t[k].astype("<f4").tobytes(); header[k] = {"dtype": "F32", "shape": list(t[k].shape), "data_offsets": [off, off + len(b)]}; off += len(b); blobs.append(b)
nb = np.array(3, dtype="<i8").tobytes()
header["1.num_batches_tracked"] = {"dtype": "I64", "shape": [], "data_offsets": [off, off + 8]}; blobs.append(nb)
h = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
a = x @ t["0.weight"].T + t["0.bias"]
a = (a - t["1.running_mean"]) / np.sqrt(t["1.running_var"] + 1e-5) * t["1.weight"] + t["1.bias"]
print(json.dumps((np.maximum(a, 0) @ t["3.weight"].T + t["3.bias"]).reshape(-1).tolist()))`;
    const want = JSON.parse(execFileSync(python, ["-c", script, path], { encoding: "utf8" })) as number[];
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4), new nn.ReLU(), new nn.Linear(4, 2));
    model.loadStateDict(nn.fromPytorchNames(await tb.load(path)));
    model.eval();
    const got = model(tb.tensor([[1, -2, 0.5], [0, 3, -1]])).dataSync();
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
    expect(Object.keys(nn.toPytorchNames(model.stateDict()))).toContain("1.num_batches_tracked");
    expect(Object.keys(nn.toPytorchNames(new nn.MultiheadAttention(4, 2).stateDict()))).toEqual(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
  });
});
