// tb.nn.Module: callable instances, parameter discovery and naming by path, name scopes in
// traced graphs, train/eval, state dict round trips and their errors, repr and summary.

import { describe, expect, it } from "vitest";
import { inspect } from "node:util";
import * as tb from "../../src/index.js";
import { nn } from "../../src/index.js";
import { trace } from "../../src/graph/fn.js";
import { Variable } from "../../src/graph/variable.js";
import type { Tensor } from "../../src/tensor/tensor.js";

class Block extends nn.Module {
  fc: nn.Linear;
  act = new nn.ReLU();
  constructor(d: number) {
    super();
    this.fc = new nn.Linear(d, d);
  }
  forward(x: Tensor): Tensor {
    return this.act(this.fc(x));
  }
}

class Net extends nn.Module {
  // Fields called name and length must work on a function object.
  override name = "my net";
  override length = 3;
  encoder = new Block(4);
  layers = new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 2)]);
  bn = new nn.BatchNorm1d(2);
  scale: Variable;
  constructor() {
    super();
    this.scale = this.registerParameter("scale", tb.ones([2]));
  }
  forward(x: Tensor): Tensor {
    let h = this.encoder(x);
    for (const l of this.layers) h = l(h);
    return this.bn(h).mul(this.scale);
  }
}

describe("Module", () => {
  it("instances are callable functions with the subclass prototype", () => {
    tb.seed(0);
    const net = new Net();
    expect(typeof net).toBe("function");
    expect(net).toBeInstanceOf(Net);
    expect(net).toBeInstanceOf(nn.Module);
    expect(net.name).toBe("my net");
    expect(net.length).toBe(3);
    const y = net(tb.randn([5, 4]));
    expect(y.shape).toEqual([5, 2]);
    expect(net.forward(tb.randn([3, 4])).shape).toEqual([3, 2]);
  });

  it("finds parameters, buffers and children, named by path", () => {
    const net = new Net();
    expect(net.namedParameters().map(([k]) => k)).toEqual([
      "scale",
      "encoder.fc.weight",
      "encoder.fc.bias",
      "layers.0.weight",
      "layers.0.bias",
      "layers.1.weight",
      "layers.1.bias",
      "bn.weight",
      "bn.bias",
    ]);
    // Variables carry their paths as names (graph diagrams show them).
    expect(net.parameters().map((p) => p.name)).toEqual(net.namedParameters().map(([k]) => k));
    expect(net.namedBuffers().map(([k]) => k)).toEqual(["bn.runningMean", "bn.runningVar", "bn.numBatchesTracked"]);
    expect(net.children().map((c) => c.constructor.name)).toEqual(["Block", "ModuleList", "BatchNorm1d"]);
    expect(net.namedModules().map(([k]) => k)).toEqual(["", "encoder", "encoder.fc", "encoder.act", "layers", "layers.0", "layers.1", "bn"]);
    expect(net.numParameters()).toBe(2 + 20 + 20 + 10 + 4);
    // Shared modules and tied weights appear once.
    const shared = new nn.Linear(2, 2);
    const seq = new nn.Sequential(shared, new nn.ReLU(), shared);
    expect(seq.parameters()).toHaveLength(2);
    expect(seq[0]).toBe(shared);
    expect(seq.length).toBe(3);
  });

  it("plain arrays of modules are children too, named <field>.<index>", () => {
    class Stack extends nn.Module {
      blocks = [new nn.Linear(2, 2), new nn.Linear(2, 2)];
      forward(x: Tensor): Tensor {
        return this.blocks.reduce((h, b) => b(h), x);
      }
    }
    const s = new Stack();
    expect(s.namedParameters().map(([k]) => k)).toEqual(["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]);
    expect(trace((x: Tensor) => s(x), tb.ones([1, 2])).toString()).toContain("# blocks.1");
  });

  it("module names become name scopes in traced graphs", () => {
    tb.seed(1);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    const g = trace((x: Tensor) => model(x), tb.randn([2, 3]));
    expect(g.variables.map((v) => v.name)).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    const text = g.toString();
    expect(text).toContain("# 0");
    expect(text).toContain("# 1");
    expect(text).toContain("# 2");
    const net = new Net();
    const g2 = trace((x: Tensor) => net(x), tb.randn([2, 4]));
    expect(g2.toString()).toContain("# encoder/fc");
    expect(g2.toString()).toContain("# layers.1");
  });

  it("train() and eval() set the flag recursively; dropout and batch norm follow it", () => {
    tb.seed(2);
    const net = new Net();
    expect(net.modules().every((m) => m.training)).toBe(true);
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.bn.training).toBe(true);
    const drop = new nn.Dropout(0.5);
    const x = tb.ones([1000]);
    const kept = (drop(x).dataSync() as Float32Array).filter((v) => v !== 0);
    expect(kept.length).toBeGreaterThan(400);
    expect(kept.length).toBeLessThan(600);
    expect(new Set(kept)).toEqual(new Set([2]));
    drop.eval();
    expect(drop(x).tolist()).toEqual(x.tolist());
  });

  it("requiresGrad_(false) freezes a submodule: no gradients, no updates, still saved", () => {
    tb.seed(13);
    const net = new Net();
    net.encoder.requiresGrad_(false);
    expect(net.namedParameters().map(([k]) => k)).toContain("encoder.fc.weight");
    const before = net.encoder.fc.weight.tolist();
    const opt = new tb.optim.SGD(net.parameters(), { lr: 0.5 });
    opt.minimize(net(tb.randn([4, 4])).sum());
    expect(net.encoder.fc.weight.grad).toBeNull();
    expect(net.encoder.fc.weight.tolist()).toEqual(before);
    expect(net.layers[0]!.weight.grad).not.toBeNull();
    expect(Object.keys(net.stateDict())).toContain("encoder.fc.bias");
    net.encoder.requiresGrad_(true);
    expect(net.encoder.fc.weight.requiresGrad).toBe(true);
  });

  it("zeroGrad clears every parameter's gradient", () => {
    const net = new Net();
    net(tb.randn([4, 4])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it("stateDict round-trips into a fresh model and reproduces its outputs", () => {
    tb.seed(3);
    const a = new Net();
    a(tb.randn([6, 4])); // updates running stats
    a.eval();
    const sd = a.stateDict();
    expect(Object.keys(sd)).toContain("bn.runningVar");
    expect(sd["bn.numBatchesTracked"]!.item()).toBe(1);
    tb.seed(4);
    const b = new Net();
    b.eval();
    const x = tb.randn([3, 4]);
    expect(b(x).tolist()).not.toEqual(a(x).tolist());
    b.loadStateDict(sd);
    expect(b(x).tolist()).toEqual(a(x).tolist());
    // State dict values are detached views: changing them later does not need grad.
    expect(sd["scale"]!.requiresGrad).toBe(false);
  });

  it("loadStateDict errors name missing and unexpected keys and shape mismatches", () => {
    const net = new Net();
    const sd = net.stateDict();
    const { ["encoder.fc.bias"]: _gone, ...missing } = sd;
    expect(() => net.loadStateDict(missing)).toThrow(/missing keys: encoder\.fc\.bias.*strict: false/);
    expect(() => net.loadStateDict({ ...sd, extra: tb.ones([1]) })).toThrow("unexpected keys: extra");
    expect(() => net.loadStateDict({ ...sd, "bn.weight": tb.ones([3]) })).toThrow("shape mismatch for bn.weight: checkpoint [3], model [2]");
    const r = net.loadStateDict({ ...missing, extra: tb.ones([1]) }, { strict: false });
    expect(r).toEqual({ missingKeys: ["encoder.fc.bias"], unexpectedKeys: ["extra"] });
  });

  it("prints like PyTorch", () => {
    const model = new nn.Sequential(new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(8 * 4 * 4, 10, { bias: false }));
    expect(inspect(model)).toBe(
      [
        "Sequential(",
        "  (0): Conv2d(1, 8, kernelSize=3, padding=1)",
        "  (1): ReLU()",
        "  (2): Flatten(startAxis=1, endAxis=-1)",
        "  (3): Linear(inFeatures=128, outFeatures=10, bias=false)",
        ")",
      ].join("\n"),
    );
    expect(String(new Block(2))).toBe("Block(\n  (fc): Linear(inFeatures=2, outFeatures=2, bias=true)\n  (act): ReLU()\n)");
  });

  it("summary lists layers, output shapes and parameter counts as HTML and text", () => {
    const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Sequential(new nn.Linear(32, 10), new nn.LogSoftmax()));
    const s = nn.summary(model, tb.zeros([7, 64]));
    expect(s.rows.map((r) => [r.path, r.type, r.depth, r.outputShape, r.params])).toEqual([
      ["", "Sequential", 0, "[7, 10]", 64 * 32 + 32 + 32 * 10 + 10],
      ["0", "Linear", 1, "[7, 32]", 64 * 32 + 32],
      ["1", "ReLU", 1, "[7, 32]", 0],
      ["2", "Sequential", 1, "[7, 10]", 330],
      ["2.0", "Linear", 2, "[7, 10]", 330],
      ["2.1", "LogSoftmax", 2, "[7, 10]", 0],
    ]);
    expect(s.trainableParams).toBe(2410);
    const bundle = s[tb.displaySymbol]();
    expect(bundle["text/html"]).toContain("<table");
    expect(bundle["text/html"]).toContain("<code>[7, 32]</code>");
    expect(bundle["text/plain"]).toContain("Total params: 2,410");
    expect(bundle["text/plain"]).toMatch(/0 \(Linear\)\s+\[7, 32\]\s+2,080/);
    // Batch-norm running statistics are non-trainable parameters; its batch counter is not.
    const bn = nn.summary(new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4)), tb.ones([2, 3]));
    expect([bn.totalParams, bn.trainableParams]).toEqual([16 + 8 + 8, 16 + 8]);
  });

  it("a module's forward errors name the layer and the shapes", () => {
    const l = new nn.Linear(3, 2);
    expect(() => l(tb.ones([4, 5]))).toThrow("Linear(3, 2): input [4,5] has 5 features on its last axis, expected 3");
    expect(() => new nn.Conv2d(3, 4, 3)(tb.ones([1, 2, 5, 5]))).toThrow("expected input [N, 3, H, W], got [1,2,5,5]");
    expect(() => new nn.BatchNorm2d(3)(tb.ones([2, 3]))).toThrow("BatchNorm2d(3): expected input [N, 3, H, W], got [2,3]");
    expect(() => new nn.ModuleList([])()).toThrow(/not callable/);
  });
});
