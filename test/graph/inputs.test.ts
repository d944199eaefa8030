// Compiled functions read contiguous input tensors where they lie (no staging copy): offset
// views, transposed (copied) inputs, a variable passed as an input while the program
// updates that variable, and inputs left unchanged by the call. Outputs a kernel writes
// into a fresh buffer per call stay valid across later calls; outputs returned twice or as
// views still come out right.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { fn } from "../../src/graph/fn.js";
import { variable } from "../../src/graph/variable.js";
import type { Tensor } from "../../src/tensor/tensor.js";

describe("compiled function inputs and outputs", () => {
  it("contiguous slices (offset views) and transposed views give the eager results and stay unchanged", () => {
    const f = (x: Tensor, y: Tensor) => x.mul(x).add(y).sqrt().mul(0.5);
    const g = fn(f);
    const base = tb.arange(0, 24).reshape([4, 6]);
    const slice = base.slice([[1, 3]]); // rows 1..2: contiguous, offset 6
    const t = tb.arange(0, 12).reshape([6, 2]).transpose(); // [2, 6], not contiguous
    const before = [base.tolist(), t.tolist()];
    for (let i = 0; i < 2; i++) {
      expect(g(slice, t).tolist()).toEqual(f(slice, t).tolist());
      expect(g(t, slice).tolist()).toEqual(f(t, slice).tolist());
    }
    expect([base.tolist(), t.tolist()]).toEqual(before);
  });

  it("a variable passed as an input while the step updates it gives the eager results", () => {
    const make = () => variable(tb.tensor([1, 2, 3]), { name: "w" });
    const body = (w: Tensor) => (g: Tensor) => {
      (w as ReturnType<typeof make>).assign(w.sub(g.mul(0.5)));
      return g.sum();
    };
    const we = make(), wc = make();
    const eager = body(we), compiled = fn(body(wc));
    for (let i = 0; i < 3; i++) {
      expect(compiled(wc).item()).toBe(eager(we).item());
      expect(wc.tolist()).toEqual(we.tolist());
    }
  });

  it("results of earlier calls are not overwritten; repeated and view outputs", () => {
    const f = (x: Tensor) => {
      const y = x.mul(2).add(1);
      return [y, y, y.reshape([3, 2]).transpose(), x.sum()] as const;
    };
    const g = fn(f);
    const a = tb.tensor([[1, 2, 3], [4, 5, 6]]), b = tb.tensor([[0, 0, 0], [1, 1, 1]]);
    const ra = g(a), rb = g(b);
    const want = (x: Tensor) => f(x).map((t) => t.tolist());
    expect(ra.map((t) => t.tolist())).toEqual(want(a));
    expect(rb.map((t) => t.tolist())).toEqual(want(b));
    ra[0].dispose(); // its twin and the other outputs are separate tensors
    expect(ra[1].tolist()).toEqual(want(a)[1]);
  });
});
