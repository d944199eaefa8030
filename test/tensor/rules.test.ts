// The spine's invariants: one rule per primitive, elementwise primitives build ScalarExpr
// nodes, every op goes through bind (so a second trace sees every primitive), and the
// rule table's compile-time completeness check.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { prims, elementwisePrims, type Prim } from "../../src/ops/prims.js";
import { rules, type Rule } from "../../src/ops/rules.js";
import { withTrace, type AbstractValue, type Trace } from "../../src/core/trace.js";
import type { Params } from "../../src/ops/prims.js";
import { Tensor } from "../../src/tensor/tensor.js";

describe("rule table", () => {
  it("has exactly one rule per primitive, with the right impl kind", () => {
    expect(Object.keys(rules).sort()).toEqual([...prims].sort());
    for (const p of prims) {
      const kind = rules[p].impl.kind;
      expect(kind, p).toBe(elementwisePrims.has(p) ? "elementwise" : "kernel");
    }
  });
  it("is typed so that a missing primitive fails to compile", () => {
    // @ts-expect-error: "random" (and the rest) have no rule in this partial table.
    const partial: { [P in Prim]: Rule<P> } = { neg: rules.neg };
    expect(Object.keys(partial)).toEqual(["neg"]);
  });
});

/** A trace that records primitives and returns abstract tensors (what graph mode does). */
class RecordingTrace implements Trace {
  readonly name = "recording";
  readonly seen: string[] = [];
  process<P extends Prim>(prim: P, _inputs: Tensor[], _params: Params<P>, out: AbstractValue): Tensor {
    this.seen.push(`${prim}:${out.dtype}[${out.shape}]`);
    return Tensor._abstract(out.shape, out.dtype, { id: this.seen.length });
  }
}

describe("a second trace", () => {
  it("sees composite ops as primitives, with checked shapes, and no kernel runs", () => {
    const rec = new RecordingTrace();
    const x = tb.ones([2, 3]);
    const before = tb.memory().bytes;
    const y = withTrace(rec, () => tb.softmax(x.matmul(tb.ones([3, 4])), -1));
    expect(y.shape).toEqual([2, 4]);
    expect(rec.seen).toContain("matmul:float32[2,4]");
    expect(rec.seen).toContain("max:float32[2,1]");
    expect(rec.seen).toContain("exp:float32[2,4]");
    expect(rec.seen).toContain("reciprocal:float32[2,1]");
    expect(rec.seen.at(-1)).toBe("mul:float32[2,4]");
    // Only the constants created by the ops themselves were allocated: no outputs.
    expect(tb.memory().bytes - before).toBeLessThan(200);
    expect(() => y.dataSync()).toThrow(/cannot read a traced tensor float32\[2,4\]/);
  });
  it("checks shapes before the trace runs", () => {
    const rec = new RecordingTrace();
    expect(() => withTrace(rec, () => tb.ones([2, 3]).matmul(tb.ones([2, 3])))).toThrow("matmul: inner dimensions differ: [2,3] @ [2,3] (3 != 2)");
    expect(rec.seen).toEqual([]);
  });
});
