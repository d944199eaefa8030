// Interrupting the calling thread inside a parallel kernel: vm's breakOnSigint (how the
// kernel stops a cell) terminates JavaScript while the pool's workers still run their share
// and write into the shared memory. The next entry to the backend must wait for them
// (pool.ts, settleDispatch): the kernels run after an interrupt give the same bits as
// before it, also when they reuse the interrupted kernel's buffers, for GEMM (static tasks)
// and elementwise work (chunks claimed dynamically). Recovery (recoverDispatch, which the
// library's interrupt hook calls) also frees the temporaries the terminated dispatch held.

import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { View } from "../../src/backend/backend.js";
import { createWasmBackend, recoverDispatch } from "../../src/backend/wasm/index.js";
import { download, empty, inp, randn, upload } from "./helpers.js";
import { runInterrupted as interrupted } from "../helpers/interrupt.js";

// Outside a breakOnSigint run a SIGINT would end the process: keep it, as the kernel does.
const keep = () => undefined;
beforeAll(() => void process.on("SIGINT", keep));
afterAll(() => void process.off("SIGINT", keep));

/** A digest of the bits of a float32 result. */
const bitsOf = (d: ArrayLike<number>) => createHash("sha256").update(new Float32Array(d as Float32Array)).digest("hex");

describe("wasm backend after an interrupt inside a parallel kernel", () => {
  it("gives the same bits, reusing the interrupted kernels' buffers, 12 times; recovery frees the temporaries", async () => {
    const be = createWasmBackend({ threads: 2 });
    // kernels long enough (tens of ms) that the workers are still at it after the interrupt
    const N = 1500, n = 1 << 23;
    const a = upload(be, randn(N * N, 1), [N, N]);
    const x = upload(be, randn(n, 2), [n]);
    // the interrupted loops compute other numbers (from b, y) into the blocks compute() reuses
    const b = upload(be, randn(N * N, 3), [N, N]);
    const y = upload(be, randn(n, 4), [n]);
    const expr = { op: "add", a: { op: "mul", a: inp(0), b: inp(0), dtype: "float32" }, b: { op: "const", value: 1, dtype: "float32" }, dtype: "float32" } as const;
    // each result is read right after its kernel (a later dispatch would wait for the
    // abandoned workers by accident and hide the damage)
    const compute = () => {
      const p = empty(be, [N, N]);
      be.dispatch({ kind: "matmul", a, b: a, out: p });
      const gemm = bitsOf(download(be, p));
      const q = empty(be, [n]);
      be.dispatch({ kind: "elementwise", expr, inputs: [x], out: q });
      const ew = bitsOf(download(be, q));
      be.free(p.buffer);
      be.free(q.buffer);
      return { gemm, ew };
    };
    const reference = compute();
    const base = be.bytesInUse(); // the inputs and the descriptor scratch
    const g = globalThis as { interruptTest?: unknown };
    const loops = [
      "{ const { be, b, p } = globalThis.interruptTest; for (;;) be.dispatch({ kind: 'matmul', a: b, b, out: p }); }",
      "{ const { be, y, q, expr } = globalThis.interruptTest; for (;;) be.dispatch({ kind: 'elementwise', expr, inputs: [y], out: q }); }",
    ];
    for (let trial = 0; trial < 12; trial++) {
      // each trial's outputs are freed right after the interrupt, so compute() reuses them;
      // every other pair of trials runs recovery first, the others rely on the settle at
      // each backend entry (and leave the terminated dispatch's temporaries, which the next
      // recovery frees: no buffer owns them)
      const recovering = (trial >> 1) % 2 === 0;
      const p: View = empty(be, [N, N]), q: View = empty(be, [n]);
      g.interruptTest = { be, b, y, p, q, expr };
      const after = await interrupted(loops[trial % 2]!, 20 + ((trial * 37) % 150), () => {
        if (recovering) recoverDispatch();
        be.free(p.buffer);
        be.free(q.buffer);
        return { bytes: be.bytesInUse(), ...compute() };
      });
      expect({ ...after, bytes: recovering ? after.bytes : base }, `trial ${trial}`).toEqual({ ...reference, bytes: base });
    }
    delete g.interruptTest;
    await be.terminate();
  }, 60_000);
});
