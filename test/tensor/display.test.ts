// Printing like PyTorch (text/plain) and the display protocol's HTML summary.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

describe("text/plain like PyTorch", () => {
  it("prints floats, ints, bools, scalars and empties", () => {
    expect(String(tb.tensor([[1, 2], [3, 4]]))).toBe("tensor([[1., 2.],\n        [3., 4.]])");
    expect(String(tb.tensor([0.12345, 2]))).toBe("tensor([0.1235, 2.0000])");
    expect(String(tb.tensor([-1.5, 2.25]))).toBe("tensor([-1.5000,  2.2500])");
    expect(String(tb.tensor([1e-5, 1]))).toBe("tensor([1.0000e-05, 1.0000e+00])");
    expect(String(tb.tensor([1, NaN, -Infinity]))).toBe("tensor([1., nan, -inf])");
    expect(String(tb.tensor(3.5))).toBe("tensor(3.5000)");
    expect(String(tb.arange(10).reshape([2, 5]))).toBe("tensor([[0, 1, 2, 3, 4],\n        [5, 6, 7, 8, 9]], dtype=int32)");
    expect(String(tb.tensor([true, false]))).toBe("tensor([ True, False], dtype=bool)");
    expect(String(tb.zeros([2, 2, 2]))).toBe("tensor([[[0., 0.],\n         [0., 0.]],\n\n        [[0., 0.],\n         [0., 0.]]])");
    expect(String(tb.tensor([]))).toBe("tensor([])");
    expect(String(tb.zeros([0, 3]))).toBe("tensor([], size=(0, 3))");
  });
  it("prints views by their logical order", () => {
    expect(String(tb.tensor([[1, 2], [3, 4]]).T)).toBe("tensor([[1., 3.],\n        [2., 4.]])");
    expect(String(tb.arange(4).flip(0))).toBe("tensor([3, 2, 1, 0], dtype=int32)");
  });
  it("summarises large tensors with ... and wraps long rows at 80 columns", () => {
    expect(String(tb.arange(2000).float())).toBe("tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])");
    const m = String(tb.arange(3000).reshape([100, 30]));
    expect(m.split("\n")).toEqual([
      "tensor([[   0,    1,    2,  ...,   27,   28,   29],",
      "        [  30,   31,   32,  ...,   57,   58,   59],",
      "        [  60,   61,   62,  ...,   87,   88,   89],",
      "        ...,",
      "        [2910, 2911, 2912,  ..., 2937, 2938, 2939],",
      "        [2940, 2941, 2942,  ..., 2967, 2968, 2969],",
      "        [2970, 2971, 2972,  ..., 2997, 2998, 2999]], dtype=int32)",
    ]);
    const wrapped = String(tb.linspace(0, 1, 12));
    expect(wrapped).toBe(
      "tensor([0.0000, 0.0909, 0.1818, 0.2727, 0.3636, 0.4545, 0.5455, 0.6364, 0.7273,\n        0.8182, 0.9091, 1.0000])",
    );
  });
  it("marks tensors on the tape", () => {
    const x = tb.tensor([1, 2], { requiresGrad: true });
    expect(String(x)).toBe("tensor([1., 2.], requiresGrad=true)");
    expect(String(x.mul(2))).toBe("tensor([2., 4.], gradFn=<mul>)");
  });
});

describe("JS coercions", () => {
  it("string contexts print; numeric ones throw with advice", () => {
    const x = tb.tensor([1, 2]);
    expect(`${x}`).toBe("tensor([1., 2.])");
    expect("x = " + x).toBe("x = tensor([1., 2.])");
    expect(() => (x as unknown as number) * 2).toThrow(/float32\[2\] tensor was used as a number: JS operators .*x\.mul\(2\)/);
  });
});

describe("display protocol", () => {
  it("returns text/plain and an HTML card with shape, dtype and statistics", () => {
    const x = tb.tensor([[1, 2], [3, 4]]);
    expect(tb.isDisplayable(x)).toBe(true);
    const bundle = (x as unknown as tb.Displayable)[tb.displaySymbol]() as tb.MimeBundle;
    expect(bundle["text/plain"]).toBe(String(x));
    const html = bundle["text/html"] as string;
    expect(html).toContain("<th style=\"text-align:left;padding:0 8px 0 0\">shape</th><td style=\"text-align:left\">[2,2]</td>");
    expect(html).toContain(">float32<");
    expect(html).toMatch(/min<\/th><td[^>]*>1</);
    expect(html).toMatch(/max<\/th><td[^>]*>4</);
    expect(html).toMatch(/mean<\/th><td[^>]*>2.5</);
    expect(html).toMatch(/std<\/th><td[^>]*>1.118</);
  });
});
