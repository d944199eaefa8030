import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";

describe("smoke", () => {
  it("runs a small graph", () => {
    const x = tb.tensor([[1, 2], [3, 4]]);
    console.log(String(x));
    const w = tb.randn([2, 3], { requiresGrad: true });
    const y = x.matmul(w).relu().sum();
    y.backward();
    console.log(String(w.grad), String(y));
    console.log(String(x.sum(1)), String(tb.softmax(x, -1)), String(x.T));
    expect(x.shape).toEqual([2, 2]);
  });
});
