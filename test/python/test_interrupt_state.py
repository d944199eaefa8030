"""Interrupts leave the library consistent: KernelManager.interrupt_kernel, in both interrupt
modes ("message": interrupt_request; "signal": SIGINT to the process), stops cells running
tensorbook on 2 threads after a random delay, so that interrupts land inside wasm kernels
(and while the pool's workers still run), inside allocations, inside tb.fn's trace and
compile, inside tb.scope and inside a pending await. After each, a check cell must print
exactly what it printed before any interrupt: the SHA-256 of the bits of a.matmul(a), of
the loss and parameters after one eager and one compiled Adam step from a saved state, of
a DataLoader batch, that grad recording is on, and tb.memory() after a collection.

Scenarios: 20 interrupts of a matmul loop, and 4 each of a compiled training loop (with
retraces), an eager training loop, an `await` inside tb.scope, and a DataLoader loop, per
mode. Prints the count and time per mode. Run by test/python/python.test.ts with the
kernelspecs "tensorbook" (message) and "tensorbook-signal" (signal).
"""

import random
import time
import unittest

from jupyter_client.manager import start_new_kernel

from kernel_wait import reply_to, wait_running

SETUP = r"""
import * as tb from "tensorbook";
import { createHash } from "node:crypto";
tb.setThreads(2);
tb.seed(0);
const hashOf = (...ts: tb.Tensor[]): string => {
  const h = createHash("sha256");
  for (const t of ts) h.update(t.dataSync());
  return h.digest("hex").slice(0, 16);
};
const a = tb.randn([1000, 1000]);
const model = new tb.nn.Sequential(new tb.nn.Linear(64, 256), new tb.nn.ReLU(), new tb.nn.Linear(256, 10));
const opt = new tb.optim.Adam(model.parameters(), { lr: 1e-3 });
const X = tb.randn([1024, 64]);
const Y = tb.randint(0, 10, [1024]);
const stepFn = (x: tb.Tensor, y: tb.Tensor) => {
  opt.zeroGrad();
  const loss = tb.crossEntropy(model(x), y);
  loss.backward();
  opt.step();
  return loss;
};
const step = tb.fn(stepFn);
const loader = new tb.data.DataLoader(new tb.data.TensorDataset(X, Y), { batchSize: 64, shuffle: true, seed: 1 });
// warm: optimizer state, compiled programs, and the compiled composites of both batch
// shapes (programs cached per shape hold memory: the check must find them made already)
for (let i = 0; i < 2; i++) { stepFn(X, Y); step(X, Y); }
for (const [xb, yb] of loader) stepFn(xb, yb);
const savedModel = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.clone()]));
const savedOpt = [...opt.state.values()].map((s) => Object.fromEntries(Object.entries(s).map(([k, t]) => [k, t.clone()])));
// back to the saved state, written into the same variables (a cached program stays valid)
function reset(): void {
  model.loadStateDict(savedModel);
  [...opt.state.values()].forEach((s, i) => {
    for (const [k, v] of Object.entries(s)) v.assign(savedOpt[i]![k]!);
  });
}
function check(): string {
  const gemm = hashOf(a.matmul(a));
  reset();
  const eager = hashOf(stepFn(X, Y), ...model.parameters());
  reset();
  const compiled = hashOf(step(X, Y), ...model.parameters());
  reset();
  const first = new tb.data.DataLoader(new tb.data.TensorDataset(X, Y), { batchSize: 64 })[Symbol.iterator]().next().value!;
  const batch = hashOf(...first);
  const grad = model(X).requiresGrad;
  return JSON.stringify({ gemm, eager, compiled, batch, grad });
}
"""

# memory() is read once check() has returned: while its frame is live, V8 may keep its
# temporaries (the loss, and through its tape a whole step) reachable, depending on tiers.
CHECK = "{ const hashes = check(); tb.collect(); await new Promise((r) => setTimeout(r, 0)); tb.collect(); console.log(hashes, JSON.stringify(tb.memory())); }"

# Each runs until interrupted; block-scoped, so nothing it makes outlives it as a global.
SCENARIOS = {
    "matmul": "{ let c = a; for (;;) c = c.matmul(a).div(1000); }",
    "compiled": "{ for (let i = 0; ; i++) { if (i % 3 === 0) step.clear(); step(X, Y); } }",
    "eager": "{ for (;;) stepFn(X, Y); }",
    # about 0.2 s of kernels, then an await that never settles
    "await": "await tb.scope(async () => { let c = a; for (let k = 0; k < 8; k++) c = c.matmul(a).div(1000); await new Promise<void>(() => {}); });",
    "loader": "{ for (;;) for (const [xb, yb] of loader) stepFn(xb, yb); }",
}
PLAN = ["matmul"] * 20 + ["compiled", "eager", "await", "loader"] * 4


def run_printing(kc, code, timeout=120, stray=None):
    """Runs a cell that must succeed; returns what it printed on stdout. With `stray` (a
    list), a cell that a stray SIGINT of the kernel's interrupt retries stopped (an
    interrupt of the cell before it can be raised again at the start of the next cell: a
    kernel race, not the library's) runs again once; the stray interrupt is appended."""
    out = []
    hook = lambda m: out.append(m["content"]["text"]) if m["msg_type"] == "stream" and m["content"]["name"] == "stdout" else None
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    content = reply["content"]
    if stray is not None and content.get("ename") == "KeyboardInterrupt":
        stray.append(code)
        return run_printing(kc, code, timeout)
    assert content["status"] == "ok", f"{code[:60]!r} failed: {content.get('ename')}: {content.get('evalue')}\n" + "\n".join(content.get("traceback", []))
    return "".join(out).strip()


class InterruptStateTests(unittest.TestCase):
    def check_mode(self, kernel_name, mode, seed):
        rng = random.Random(seed)
        plan = PLAN[:]
        rng.shuffle(plan)
        km, kc = start_new_kernel(kernel_name=kernel_name)
        try:
            self.assertEqual(km.kernel_spec.interrupt_mode, mode)
            run_printing(kc, SETUP)
            expected = run_printing(kc, CHECK)
            self.assertIn('"grad":true', expected)
            self.assertIn('"bytes":', expected)
            t0 = time.perf_counter()
            stray = []
            for i, name in enumerate(plan):
                delay = rng.uniform(0.02, 0.4)
                msg_id = kc.execute(SCENARIOS[name], stop_on_error=False)
                wait_running(kc, msg_id, timeout=60)
                time.sleep(delay)
                km.interrupt_kernel()
                reply = reply_to(kc, msg_id, timeout=30)["content"]
                where = f"{mode} interrupt {i} ({name}, {delay * 1000:.0f} ms, seed {seed})"
                self.assertEqual((reply["status"], reply.get("ename"), reply.get("traceback")), ("error", "KeyboardInterrupt", ["KeyboardInterrupt: Interrupted"]), where)
                self.assertEqual(run_printing(kc, CHECK, stray=stray), expected, where)
            seconds = time.perf_counter() - t0
            print(f"interrupt state {mode:7s}: {len(plan)} interrupts, each followed by an identical check, in {seconds:.1f} s"
                  f" ({len(stray)} checks stopped by a stray interrupt and run again)")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_message_mode(self):
        self.check_mode("tensorbook", "message", seed=1)

    def test_signal_mode(self):
        self.check_mode("tensorbook-signal", "signal", seed=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
