// Recovery after an interrupt (src/core/interrupt.ts), driven as the kernel drives it: code
// run by vm with breakOnSigint is terminated by a SIGINT from another thread (no catch or
// finally block of the library runs), then the display protocol's quiesce() runs the
// library's hook. Afterwards memory() is back to its level, no trace, name scope or grad
// mode is left over, variables have their gradients back, and a compiled training step
// gives the same bits as before. A compiled program dropped without dispose() (as by a
// clear() an interrupt stopped half-way) is freed when it is collected.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { isGradEnabled, isTracing } from "../../src/core/trace.js";
import { quiesce } from "../../src/display/protocol.js";
import { currentScope } from "../../src/graph/scope.js";
import { useTestBackend } from "../helpers/backend.js";
import { runInterrupted } from "../helpers/interrupt.js";

// Outside a breakOnSigint run a SIGINT would end the process: keep it, as the kernel does.
const keep = () => undefined;
beforeAll(async () => {
  process.on("SIGINT", keep);
  await useTestBackend();
  tb.setThreads(2);
});
afterAll(() => void process.off("SIGINT", keep));

const g = globalThis as { t?: Record<string, unknown> };

/** Runs `code` (an endless loop) with `vars` as globalThis.t until a SIGINT from another
 *  thread stops it, `delayMs` after the start (and every 50 ms after that); then, at once
 *  and in the same async context, `after` (by default the recovery, as the kernel runs it). */
async function interrupt<T>(code: string, vars: Record<string, unknown>, delayMs: number, after: () => T = recover as () => T): Promise<T> {
  g.t = { tb, ...vars };
  try {
    return await runInterrupted(`{ const { ${["tb", ...Object.keys(vars)].join(", ")} } = globalThis.t; ${code} }`, delayMs, after);
  } finally {
    delete g.t;
  }
}

/** The recovery as the kernel runs it, which must report no error. */
function recover(): void {
  expect(quiesce()).toEqual([]);
}

/** memory() once garbage is collected: finalizers run from the event loop where V8 gives
 *  no cleanupSome (vitest starts Node without the flag), so the loop turns first. */
async function settledMemory(): Promise<{ tensors: number; bytes: number }> {
  for (let i = 0; i < 2; i++) {
    tb.collect();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return tb.memory();
}

const bits = (...ts: tb.Tensor[]) => ts.map((t) => Buffer.from((t.dataSync() as Float32Array).buffer).toString("base64"));

describe("after an interrupt", () => {
  it("a tensor being computed and everything a tb.scope made are freed", async () => {
    const a = tb.randn([400, 400]);
    const level = await settledMemory();
    for (const [i, code] of [
      "let c = a; for (;;) c = c.matmul(a).div(400);",
      "tb.scope(() => { let c = a; for (;;) c = c.matmul(a).relu().add(1); });",
      "tb.scope(() => tb.scope(() => { for (;;) tb.softmax(a.matmul(a), -1); }));",
    ].entries()) {
      await interrupt(code, { a }, 20 + 30 * i);
      expect(await settledMemory(), code).toEqual(level);
    }
  });

  it("a compiled program forgotten without dispose() (a clear() an interrupt stopped) is freed when collected", async () => {
    const x = tb.randn([256, 256]);
    const level = await settledMemory();
    (() => {
      const f = tb.fn((x: tb.Tensor) => x.matmul(x).relu().sum());
      f(x).dispose(); // compiles: an arena and constants that only f's program holds
    })();
    expect(await settledMemory()).toEqual(level);
  });

  it("no trace, name scope or grad mode is left, and variables have their gradients back", async () => {
    const x = tb.randn([8, 16]);
    const W = tb.variable(tb.randn([16, 16]), { name: "W" });
    const G = tb.ones([16, 16]);
    W.grad = G;
    // backward() inside the trace gives W an abstract gradient, then the trace runs forever
    const f = tb.fn((x: tb.Tensor) => {
      x.matmul(W).sum().backward();
      for (;;) x.matmul(W).relu();
    });
    // left behind by the interrupt (withTrace's finally never ran), then repaired
    expect(await interrupt("f(x);", { f, x }, 30, () => [isTracing(), recover(), isTracing()])).toEqual([true, undefined, false]);
    expect(W.grad).toBe(G);
    expect(x.add(1).dataSync()[0]).toBe(Math.fround(x.dataSync()[0]! + 1)); // runs eagerly

    const nested = "tb.nameScope('outer', () => tb.nameScope('inner', () => { for (;;) x.matmul(W); }));";
    expect(await interrupt(nested, { x, W }, 30, () => [currentScope(), recover(), currentScope()])).toEqual([["outer", "inner"], undefined, []]);

    // grad mode lives in the async context the interrupted run left, where recovery runs
    const off = "tb.noGrad(() => { for (;;) x.matmul(W); });";
    expect(await interrupt(off, { x, W }, 30, () => [isGradEnabled(), recover(), isGradEnabled()])).toEqual([false, undefined, true]);
    expect(x.matmul(W).requiresGrad).toBe(true);
  });

  it("a compiled training step interrupted while tracing, compiling or running gives the same bits after", async () => {
    tb.seed(0);
    const model = new tb.nn.Sequential(new tb.nn.Linear(64, 256), new tb.nn.ReLU(), new tb.nn.Linear(256, 10));
    const opt = new tb.optim.Adam(model.parameters(), { lr: 1e-3 });
    const X = tb.randn([512, 64]);
    const Y = tb.randint(0, 10, [512]);
    const step = tb.fn((x: tb.Tensor, y: tb.Tensor) => {
      opt.zeroGrad();
      const loss = tb.crossEntropy(model(x), y);
      loss.backward();
      opt.step();
      return loss;
    });
    // every third call retraces and recompiles, so interrupts land there too
    const loop = "for (let i = 0; ; i++) { if (i % 3 === 0) step.clear(); step(X, Y); }";
    for (let i = 0; i < 4; i++) {
      if (i % 3 === 0) step.clear();
      step(X, Y); // the optimizer's state exists from here on
    }
    const savedModel = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.clone()]));
    const savedOpt = [...opt.state.values()].map((s) => Object.fromEntries(Object.entries(s).map(([k, t]) => [k, t.clone()])));
    const reset = () => {
      model.loadStateDict(savedModel);
      [...opt.state.values()].forEach((s, i) => {
        for (const [k, v] of Object.entries(s)) v.assign(savedOpt[i]![k]!);
      });
    };
    /** One step from the saved state (written into the same variables, so a cached program
     *  stays valid) with whatever program the interrupt left: the loss and the parameters
     *  after it, and memory() once the cache is cleared. */
    const oneStep = async () => {
      reset();
      const r = bits(step(X, Y), ...model.parameters());
      step.clear();
      return { r, memory: await settledMemory() };
    };
    const reference = await oneStep();
    for (let trial = 0; trial < 5; trial++) {
      await interrupt(loop, { step, X, Y }, 20 + 40 * trial);
      expect(await oneStep(), `trial ${trial}`).toEqual(reference);
    }
  }, 60_000);
});
