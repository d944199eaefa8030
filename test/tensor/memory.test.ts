// Memory: dispose, `using`, tb.scope (sync and async), finalization with allocation-pressure
// collection in flat memory, out-of-memory errors that leave the library usable.
//
// Both loops are synchronous and never dispose: the library collects on allocation pressure
// and runs finalizers at once. A child plain-node process runs the full 10,000 steps.

import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { tmpdir } from "node:os";
import ts from "typescript";
import * as tb from "../../src/index.js";
import { setCollectThreshold } from "../../src/core/runtime.js";

describe("deterministic release", () => {
  it("dispose frees storage once the last view is gone", () => {
    const before = tb.memory();
    const x = tb.zeros([1000]);
    expect(tb.memory().bytes).toBe(before.bytes + 4000);
    const v = x.reshape([10, 100]);
    x.dispose();
    expect(x.disposed).toBe(true);
    expect(tb.memory().bytes).toBe(before.bytes + 4000);
    expect(() => x.sum()).toThrow(/was disposed/);
    v.dispose();
    expect(tb.memory().bytes).toBe(before.bytes);
    v.dispose();
    expect(tb.memory()).toEqual(before);
  });
  it("`using` disposes at the end of the block", () => {
    const before = tb.memory().bytes;
    let inner: tb.Tensor;
    {
      using t = tb.ones([256]);
      inner = t;
      expect(tb.memory().bytes).toBe(before + 1024);
    }
    expect(inner.disposed).toBe(true);
    expect(tb.memory().bytes).toBe(before);
  });
  it("scope frees everything but the result and what its tape needs", () => {
    const w = tb.randn([4, 4], { requiresGrad: true });
    const before = tb.memory();
    const loss = tb.scope(() => {
      const a = tb.randn([2, 4]).matmul(w).relu();
      tb.ones([1000]); // garbage
      return a.square().sum();
    });
    // The loss and its tape (inputs of recorded ops) survive; the garbage does not.
    expect(tb.memory().bytes).toBeLessThan(before.bytes + 1000);
    loss.backward();
    expect(w.grad!.shape).toEqual([4, 4]);
    const kept = tb.scope(() => ({ list: [tb.zeros([3])], n: 1 }));
    expect(kept.list[0].disposed).toBe(false);
  });
  it("async scopes span awaits and keep gradients stored on leaves", async () => {
    const w = tb.ones([3], { requiresGrad: true });
    const before = tb.memory().bytes;
    const out = await tb.scope(async () => {
      const a = w.mul(2);
      await new Promise((r) => setTimeout(r, 5));
      const b = a.add(tb.ones([3]));
      b.sum().backward();
      return b.sum().item();
    });
    expect(out).toBe(9);
    expect(w.grad!.disposed).toBe(false);
    expect(w.grad!.tolist()).toEqual([2, 2, 2]);
    expect(tb.memory().bytes).toBe(before + 12);
  });
  it("tb.keep lets a tensor stored elsewhere outlive the scope", () => {
    const holder: { w?: tb.Tensor } = {};
    tb.scope(() => {
      holder.w = tb.keep(tb.ones([4]));
      tb.zeros([4]);
    });
    expect(holder.w!.disposed).toBe(false);
    expect(holder.w!.sum().item()).toBe(4);
  });
  it("variables created inside a scope survive it", () => {
    const v = tb.scope(() => {
      const w = tb.variable(tb.ones([2]), { name: "w" });
      return { kept: w.mul(2), w };
    }).w;
    const inner: tb.Variable[] = [];
    tb.scope(() => {
      inner.push(tb.variable(tb.zeros([3])));
    });
    expect(v.disposed).toBe(false);
    expect(inner[0].disposed).toBe(false);
    expect(inner[0].sum().item()).toBe(0);
  });
  it("nested scopes hand kept tensors to the outer scope", () => {
    const before = tb.memory().bytes;
    tb.scope(() => {
      const inner = tb.scope(() => tb.zeros([10]));
      expect(inner.disposed).toBe(false);
    });
    expect(tb.memory().bytes).toBe(before);
  });
});

describe("out of memory", () => {
  it("throws a clear error and leaves the library usable", () => {
    const prev = tb.getBackend();
    tb.setBackend(new tb.ReferenceBackend({ maxBytes: 1 << 20 }));
    try {
      // more than the backend can ever hold: said before anything is allocated
      expect(() => tb.zeros([1 << 20])).toThrow("zeros float32[1048576]: needs 4.0 MiB (4194304 bytes), more than the reference backend can ever hold (1.0 MiB in all)");
      // more than is free now: dispose something
      const most = tb.ones([200_000]);
      expect(() => tb.zeros([100_000])).toThrow(/tensor float32\[100000\]: out of memory allocating 400000 bytes on the reference backend .*Dispose tensors/);
      const a = tb.ones([1000]);
      expect(() => a.reshape([1, 1000]).expand([100, 1000]).add(1)).toThrow(/add float32\[100,1000\]: out of memory .*Dispose tensors/);
      most.dispose();
      expect(a.reshape([1, 1000]).expand([100, 1000]).add(1).sum().item()).toBe(200_000);
    } finally {
      tb.setBackend(prev);
    }
  });
});

// ---------------------------------------------------------------------------------------

function step(W: tb.Tensor, x: tb.Tensor, y: tb.Tensor): number {
  const loss = tb.mseLoss(x.matmul(W).tanh(), y);
  loss.backward();
  tb.noGrad(() => W._assign(W.sub(W.grad!.mul(0.05))));
  W.zeroGrad();
  return loss.item() as number;
}

describe("finalization under allocation pressure", () => {
  it("a naive synchronous loop that never disposes stays within a fixed bound", () => {
    setCollectThreshold(2 * 2 ** 20);
    try {
      const W = tb.randn([32, 8], { requiresGrad: true });
      const x = tb.randn([64, 32]);
      const y = tb.randn([64, 8]);
      let warm = { bytes: 0, rss: 0 };
      let peak = 0;
      for (let i = 0; i < 3000; i++) {
        step(W, x, y);
        if (i === 500) warm = { bytes: tb.memory().bytes, rss: process.memoryUsage().rss };
        if (i > 500) peak = Math.max(peak, tb.memory().bytes);
      }
      // One step allocates ~30 KB; without release 2,500 steps would hold ~75 MB. A pass
      // runs every 2 MB allocated, so garbage stays near that.
      expect(peak - warm.bytes).toBeLessThan(6 * 2 ** 20);
      expect(process.memoryUsage().rss - warm.rss).toBeLessThan(150 * 2 ** 20);
    } finally {
      setCollectThreshold(32 * 2 ** 20);
    }
  });

  it("10,000 synchronous steps in plain node run in flat memory", () => {
    // Transpile the library to plain JS in a temp dir so a bare node process can import it.
    const root = join(dirname(new URL(import.meta.url).pathname), "../..");
    const out = mkdtempSync(join(tmpdir(), "tb-mem-"));
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : f.endsWith(".ts") ? [join(dir, f)] : []));
    // Only the tensor core (not graph mode, plots or nn), so the check depends on nothing else.
    const core = ["ops", "core", "tensor", "autograd", "random", "display/protocol.ts", "display/tensor-repr.ts", "backend"];
    const files = core.flatMap((c) => (c.endsWith(".ts") ? [join(root, "src", c)] : walk(join(root, "src", c))));
    for (const file of files) {
      const js = ts.transpileModule(readFileSync(file, "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const dest = join(out, relative(root, file)).replace(/\.ts$/, ".js");
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, js);
    }
    writeFileSync(join(out, "package.json"), '{"type":"module"}');
    writeFileSync(
      join(out, "loop.js"),
      `import * as ops from "./src/ops/api.js";
       import { noGrad } from "./src/autograd/autograd.js";
       import { memory, setCollectThreshold } from "./src/core/runtime.js";
       import { getBackend } from "./src/core/runtime.js";
       import "./src/tensor/memory.js";
       const tb = { ...ops, noGrad, memory };
       setCollectThreshold(4 << 20);
       const W = tb.randn([32, 8], { requiresGrad: true });
       const x = tb.randn([64, 32]);
       const y = tb.randn([64, 8]);
       const samples = [];
       for (let i = 0; i < 10000; i++) {
         const loss = x.matmul(W).sub(y).square().mean();
         loss.backward();
         tb.noGrad(() => W._assign(W.sub(W.grad.mul(0.01))));
         W.zeroGrad();
         if (i % 1000 === 999) samples.push({ bytes: tb.memory().bytes, rss: process.memoryUsage().rss, loss: loss.item() });
       }
       console.log(JSON.stringify({ backend: getBackend().name, samples }));`,
    );
    // Plain node, no flags: the library enables gc and cleanupSome itself.
    const r = spawnSync(process.execPath, [join(out, "loop.js")], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    // The library's default backend (the wasm heap, unless the default changes).
    const { backend, samples } = JSON.parse(r.stdout) as { backend: string; samples: { bytes: number; rss: number; loss: number }[] };
    expect(backend).toBe(tb.getBackend().name);
    expect(samples).toHaveLength(10);
    const first = samples[0];
    // ~20 KB per step: 200 MB over the run without release; passes every 4 MB keep it flat.
    for (const s of samples) {
      expect(s.bytes).toBeLessThan(first.bytes + 6 * 2 ** 20);
      expect(s.rss).toBeLessThan(first.rss + 100 * 2 ** 20);
    }
    expect(samples[9].loss).toBeLessThan(samples[0].loss);
  });
});
