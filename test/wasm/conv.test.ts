// The fused conv2d forward kernel (src/backend/wasm/conv.ts) against a float64 loop: edge
// tiles (O/groups not a multiple of 6, OH*OW not a multiple of 8), K split into several
// blocks, column blocks split across threads (one image), strided and offset input views
// (the general im2col path), and bit-identical results for 1 and 2 threads.

import { afterAll, describe, expect, test } from "vitest";
import type { Conv2dParams, View } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { closeness, download, empty, forEachIndex, randn, size, upload } from "./helpers.js";

const be = createWasmBackend({ threads: 2 });
afterAll(() => be.terminate());

function params(s: number, p: number, d = 1, groups = 1): Conv2dParams {
  return { stride: [s, s], padding: [p, p], dilation: [d, d], groups };
}

/** Direct conv2d in float64: x (N, C, H, W) flat NCHW, w (O, Cg, KH, KW). */
function reference(x: Float32Array, xs: number[], w: Float32Array, ws: number[], p: Conv2dParams): { out: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [O, Cg, KH, KW] = ws as [number, number, number, number];
  const OH = Math.floor((H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
  const OW = Math.floor((W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
  const Og = O / p.groups;
  const out = new Float64Array(N * O * OH * OW);
  forEachIndex([N, O, OH, OW], ([n, o, oh, ow], flat) => {
    const g = Math.floor(o! / Og);
    let s = 0;
    for (let c = 0; c < Cg; c++) {
      for (let kh = 0; kh < KH; kh++) {
        const ih = oh! * p.stride[0] - p.padding[0] + kh * p.dilation[0];
        if (ih < 0 || ih >= H) continue;
        for (let kw = 0; kw < KW; kw++) {
          const iw = ow! * p.stride[1] - p.padding[1] + kw * p.dilation[1];
          if (iw < 0 || iw >= W) continue;
          s += x[((n! * C + g * Cg + c) * H + ih) * W + iw]! * w[((o! * Cg + c) * KH + kh) * KW + kw]!;
        }
      }
    }
    out[flat] = s;
  });
  return { out, shape: [N, O, OH, OW] };
}

const cases: { name: string; x: number[]; w: number[]; p: Conv2dParams }[] = [
  { name: "same 3x3, O = 64 (6-row edge of 4), P = 196 (8-column edge of 4)", x: [2, 8, 14, 14], w: [64, 8, 3, 3], p: params(1, 1) },
  { name: "K = 432 in two K blocks, 7 outputs, P = 25", x: [2, 48, 5, 5], w: [7, 48, 3, 3], p: params(1, 1) },
  { name: "one image: column blocks split across threads", x: [1, 16, 20, 20], w: [12, 16, 3, 3], p: params(1, 1) },
  { name: "valid padding (OW != W: segment path), 5x5", x: [3, 4, 11, 13], w: [9, 4, 5, 5], p: params(1, 0) },
  { name: "stride 2, padding 2, groups 2, O/groups = 5", x: [2, 6, 9, 9], w: [10, 3, 3, 3], p: params(2, 2, 1, 2) },
  { name: "dilation 2 same-size output (plane path with dilated taps), P = 1 + 8k", x: [2, 3, 3, 3], w: [13, 3, 3, 3], p: params(1, 2, 2) },
  { name: "wide padding: whole rows and columns of padding", x: [1, 2, 4, 6], w: [3, 2, 2, 3], p: params(1, 3) },
  { name: "same 5x5 on a 3x3 image: taps whose rows or columns are all padding", x: [2, 3, 3, 3], w: [5, 3, 5, 5], p: params(1, 2) },
  { name: "several column blocks and K blocks per image, P = 1681", x: [1, 48, 41, 41], w: [8, 48, 3, 3], p: params(1, 1) },
];

describe("wasm fused conv2d forward", () => {
  for (const [i, c] of cases.entries()) {
    test(c.name, () => {
      const x = randn(size(c.x), 100 + i), w = randn(size(c.w), 200 + i);
      const ref = reference(x, c.x, w, c.w, c.p);
      const vx = upload(be, x, c.x), vw = upload(be, w, c.w);
      const outs = [1, 2].map((t) => {
        be.setThreads(t);
        const y = empty(be, ref.shape);
        be.dispatch({ kind: "conv2d", x: vx, w: vw, out: y, params: c.p });
        return download(be, y);
      });
      // float32 sums of up to 432 products against float64
      expect(closeness(outs[0]!, ref.out, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
      expect(Array.from(outs[1]!)).toEqual(Array.from(outs[0]!));
    });
  }

  test("strided input views: NHWC storage viewed as NCHW, and an offset crop", () => {
    const [N, C, H, W] = [2, 5, 10, 9];
    const x = randn(N * C * H * W, 300), w = randn(7 * C * 9, 301);
    const p = params(1, 1);
    const ref = reference(x, [N, C, H, W], w, [7, C, 3, 3], p);
    const vw = upload(be, w, [7, C, 3, 3]);
    // NHWC storage
    const nhwc = new Float32Array(x.length);
    forEachIndex([N, C, H, W], ([n, c, h, ww], flat) => (nhwc[((n! * H + h!) * W + ww!) * C + c!] = x[flat]!));
    const vNhwc: View = { ...upload(be, nhwc, [N, H, W, C]), shape: [N, C, H, W], strides: [H * W * C, 1, W * C, C] };
    // the same tensor inside a larger (N, C, H + 2, W + 3) buffer, offset by one row and two columns
    const big = new Float32Array(N * C * (H + 2) * (W + 3));
    forEachIndex([N, C, H, W], ([n, c, h, ww], flat) => (big[((n! * C + c!) * (H + 2) + h! + 1) * (W + 3) + ww! + 2] = x[flat]!));
    const vBig = upload(be, big, [N, C, H + 2, W + 3]);
    const vCrop: View = { ...vBig, shape: [N, C, H, W], offset: (W + 3) + 2 };
    for (const vx of [vNhwc, vCrop]) {
      const y = empty(be, ref.shape);
      be.dispatch({ kind: "conv2d", x: vx, w: vw, out: y, params: p });
      expect(closeness(download(be, y), ref.out, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    }
  });
});
