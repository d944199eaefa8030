// conv2d and its gradients against NumPy (a direct loop over kernel taps), pooling, gather
// and scatterAdd against plain loops, for the wasm backend.

import { describe, expect, test } from "vitest";
import type { Conv2dParams, View } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { at, closeness, download, empty, forEachIndex, numpy, randn, size, upload } from "./helpers.js";

const be = createWasmBackend({ threads: 1 });

const PRELUDE = `
def geom(x, w, s, p, d):
    N, C, H, W = x.shape; O, Cg, KH, KW = w.shape
    OH = (H + 2*p[0] - d[0]*(KH-1) - 1)//s[0] + 1; OW = (W + 2*p[1] - d[1]*(KW-1) - 1)//s[1] + 1
    return N, C, H, W, O, Cg, KH, KW, OH, OW
def taps(xp, kh, kw, s, d, OH, OW):
    return xp[:, :, kh*d[0]: kh*d[0] + s[0]*(OH-1) + 1: s[0], kw*d[1]: kw*d[1] + s[1]*(OW-1) + 1: s[1]]
def conv(x, w, s, p, d, g):
    N, C, H, W, O, Cg, KH, KW, OH, OW = geom(x, w, s, p, d)
    xp = np.pad(x.astype(np.float64), ((0,0),(0,0),(p[0],p[0]),(p[1],p[1]))); Og = O//g
    out = np.zeros((N, O, OH, OW))
    for gi in range(g):
        for kh in range(KH):
            for kw in range(KW):
                t = taps(xp[:, gi*Cg:(gi+1)*Cg], kh, kw, s, d, OH, OW)
                out[:, gi*Og:(gi+1)*Og] += np.einsum('ncij,oc->noij', t, w[gi*Og:(gi+1)*Og, :, kh, kw])
    return out
def conv_dx(dy, w, xshape, s, p, d, g):
    N, C, H, W = xshape; O, Cg, KH, KW = w.shape; OH, OW = dy.shape[2:]; Og = O//g
    dxp = np.zeros((N, C, H + 2*p[0] + s[0]*KH*d[0], W + 2*p[1] + s[1]*KW*d[1]))
    for gi in range(g):
        for kh in range(KH):
            for kw in range(KW):
                dxp[:, gi*Cg:(gi+1)*Cg, kh*d[0]: kh*d[0] + s[0]*(OH-1) + 1: s[0], kw*d[1]: kw*d[1] + s[1]*(OW-1) + 1: s[1]] += \\
                    np.einsum('noij,oc->ncij', dy[:, gi*Og:(gi+1)*Og], w[gi*Og:(gi+1)*Og, :, kh, kw])
    return dxp[:, :, p[0]:p[0]+H, p[1]:p[1]+W]
def conv_dw(x, dy, wshape, s, p, d, g):
    O, Cg, KH, KW = wshape; OH, OW = dy.shape[2:]; Og = O//g
    xp = np.pad(x.astype(np.float64), ((0,0),(0,0),(p[0],p[0]),(p[1],p[1])))
    dw = np.zeros(wshape)
    for gi in range(g):
        for kh in range(KH):
            for kw in range(KW):
                t = taps(xp[:, gi*Cg:(gi+1)*Cg], kh, kw, s, d, OH, OW)
                dw[gi*Og:(gi+1)*Og, :, kh, kw] = np.einsum('noij,ncij->oc', dy[:, gi*Og:(gi+1)*Og], t)
    return dw
`;

function outSize(H: number, K: number, s: number, p: number, d: number): number {
  return Math.floor((H + 2 * p - d * (K - 1) - 1) / s) + 1;
}

const configs: { x: number[]; w: number[]; params: Conv2dParams }[] = [
  { x: [2, 3, 9, 8], w: [4, 3, 3, 3], params: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } },
  { x: [1, 4, 11, 10], w: [6, 2, 3, 2], params: { stride: [2, 3], padding: [1, 0], dilation: [1, 2], groups: 2 } },
  { x: [3, 2, 5, 5], w: [5, 2, 1, 1], params: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
  { x: [1, 6, 7, 7], w: [6, 1, 3, 3], params: { stride: [1, 1], padding: [2, 2], dilation: [2, 2], groups: 6 } },
];

describe("wasm conv2d", () => {
  for (const [ci, c] of configs.entries()) {
    const p = c.params;
    const py = `s=${JSON.stringify(p.stride)}; p=${JSON.stringify(p.padding)}; d=${JSON.stringify(p.dilation)}; g=${p.groups}\n`;
    const OH = outSize(c.x[2]!, c.w[2]!, p.stride[0], p.padding[0], p.dilation[0]);
    const OW = outSize(c.x[3]!, c.w[3]!, p.stride[1], p.padding[1], p.dilation[1]);
    const yShape = [c.x[0]!, c.w[0]!, OH, OW];
    const x = randn(size(c.x), 10 + ci), w = randn(size(c.w), 20 + ci), dy = randn(size(yShape), 30 + ci);
    const arrays = { x: { data: x, shape: c.x }, w: { data: w, shape: c.w }, dy: { data: dy, shape: yShape } };

    test(`forward, input and weight gradients match NumPy: x [${c.x}] w [${c.w}] ${JSON.stringify(p)}`, () => {
      const vx = upload(be, x, c.x), vw = upload(be, w, c.w), vdy = upload(be, dy, yShape);
      const y = empty(be, yShape);
      be.dispatch({ kind: "conv2d", x: vx, w: vw, out: y, params: p });
      expect(closeness(download(be, y), numpy(PRELUDE + py + "out = conv(x, w, s, p, d, g)", arrays), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      const dx = empty(be, c.x);
      be.dispatch({ kind: "conv2dInputGrad", dy: vdy, w: vw, out: dx, params: p });
      expect(closeness(download(be, dx), numpy(PRELUDE + py + "out = conv_dx(dy, w, x.shape, s, p, d, g)", arrays), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      const dw = empty(be, c.w);
      be.dispatch({ kind: "conv2dWeightGrad", x: vx, dy: vdy, out: dw, params: p });
      expect(closeness(download(be, dw), numpy(PRELUDE + py + "out = conv_dw(x, dy, w.shape, s, p, d, g)", arrays), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    });
  }

  test("non-contiguous weight and dy views are accepted (copied to dense layouts)", () => {
    const c = configs[0]!;
    const x = randn(size(c.x), 70), w = randn(size(c.w), 71);
    const vx = upload(be, x, c.x);
    // the weight stored as (KW, KH, C, O) and viewed as (O, C, KH, KW)
    const [O, C, KH, KW] = c.w as [number, number, number, number];
    const stored = new Float32Array(w.length);
    forEachIndex(c.w, ([o, ci, kh, kw], flat) => (stored[((kw! * KH + kh!) * C + ci!) * O + o!] = w[flat]!));
    const vwT: View = { ...upload(be, stored, [KW, KH, C, O]), shape: c.w, strides: [1, O, C * O, KH * C * O] };
    const yShape = [c.x[0]!, O, 9, 8];
    const y1 = empty(be, yShape), y2 = empty(be, yShape);
    be.dispatch({ kind: "conv2d", x: vx, w: upload(be, w, c.w), out: y1, params: c.params });
    be.dispatch({ kind: "conv2d", x: vx, w: vwT, out: y2, params: c.params });
    expect(Array.from(download(be, y2))).toEqual(Array.from(download(be, y1)));
    const d1 = empty(be, c.x), d2 = empty(be, c.x);
    const dyData = randn(size(yShape), 72);
    const dy = upload(be, dyData, yShape);
    be.dispatch({ kind: "conv2dInputGrad", dy, w: upload(be, w, c.w), out: d1, params: c.params });
    be.dispatch({ kind: "conv2dInputGrad", dy, w: vwT, out: d2, params: c.params });
    expect(Array.from(download(be, d2))).toEqual(Array.from(download(be, d1)));
  });

  test("a wrong weight shape names the op and the shapes", () => {
    const vx = upload(be, randn(2 * 3 * 4 * 4, 1), [2, 3, 4, 4]);
    const vw = upload(be, randn(4 * 2 * 3 * 3, 1), [4, 2, 3, 3]);
    expect(() => be.dispatch({ kind: "conv2d", x: vx, w: vw, out: empty(be, [2, 4, 2, 2]), params: configs[0]!.params })).toThrow(/conv2d: x \[2,3,4,4\], w \[4,2,3,3\]/);
  });
});

describe("wasm pooling, gather, scatterAdd", () => {
  test("maxPool2d (values and flat indices) and avgPool2d (with and without padding in the count)", () => {
    const xs = [2, 3, 7, 6];
    const x = randn(size(xs), 40);
    const vx = upload(be, x, xs);
    const k: [number, number] = [3, 2], s: [number, number] = [2, 2], pd: [number, number] = [1, 1];
    const OH = Math.floor((7 + 2 - 3) / 2) + 1, OW = Math.floor((6 + 2 - 2) / 2) + 1;
    const out = empty(be, [2, 3, OH, OW]), idx = empty(be, [2, 3, OH, OW], "int32");
    be.dispatch({ kind: "maxPool2d", x: vx, out, indices: idx, params: { kernelSize: k, stride: s, padding: pd } });
    const avgIn = empty(be, [2, 3, OH, OW]), avgEx = empty(be, [2, 3, OH, OW]);
    be.dispatch({ kind: "avgPool2d", x: vx, out: avgIn, params: { kernelSize: k, stride: s, padding: pd, countIncludePad: true } });
    be.dispatch({ kind: "avgPool2d", x: vx, out: avgEx, params: { kernelSize: k, stride: s, padding: pd, countIncludePad: false } });
    const wantMax: number[] = [], wantIdx: number[] = [], wantIn: number[] = [], wantEx: number[] = [];
    forEachIndex([2, 3, OH, OW], ([n, c, oh, ow]) => {
      let best = -Infinity, bi = -1, sum = 0, cnt = 0;
      const h0 = oh! * 2 - 1, w0 = ow! * 2 - 1;
      for (let i = h0; i < h0 + 3; i++) for (let j = w0; j < w0 + 2; j++) {
        if (i < 0 || j < 0 || i >= 7 || j >= 6) continue;
        const v = x[((n! * 3 + c!) * 7 + i) * 6 + j]!;
        if (v > best) { best = v; bi = i * 6 + j; }
        sum += v; cnt++;
      }
      const hEnd = Math.min(h0 + 3, 7 + 1), wEnd = Math.min(w0 + 2, 6 + 1);
      wantMax.push(best); wantIdx.push(bi); wantIn.push(sum / ((hEnd - h0) * (wEnd - w0))); wantEx.push(sum / cnt);
    });
    expect(Array.from(download(be, out))).toEqual(wantMax);
    expect(Array.from(download(be, idx))).toEqual(wantIdx);
    expect(closeness(download(be, avgIn), wantIn, 1e-6, 1e-7)).toBeLessThanOrEqual(1);
    expect(closeness(download(be, avgEx), wantEx, 1e-6, 1e-7)).toBeLessThanOrEqual(1);
  });

  test("gather along each axis, from a strided input", () => {
    const data = randn(24, 50);
    const vd: View = { ...upload(be, data, [4, 3, 2]), shape: [2, 3, 4], strides: [1, 2, 6] };
    for (const axis of [0, 1, 2]) {
      const ishape = [2, 3, 4].map((d, i) => (i === axis ? 5 : d));
      const ind = Int32Array.from({ length: size(ishape) }, (_, i) => (i * 7) % [2, 3, 4][axis]!);
      const vi = upload(be, ind, ishape, "int32");
      const out = empty(be, ishape);
      be.dispatch({ kind: "gather", axis, input: vd, index: vi, out });
      const want: number[] = [];
      forEachIndex(ishape, (idx, flat) => { const k = idx.slice(); k[axis] = ind[flat]!; want.push(at(data, vd, k)); });
      expect(Array.from(download(be, out)), `axis ${axis}`).toEqual(want);
    }
  });

  test("scatterAdd accumulates duplicates in element order; out-of-range index throws and the backend stays usable", () => {
    const base = randn(12, 60), src = randn(8, 61);
    const out = upload(be, base, [3, 4]);
    const ind = Int32Array.from([0, 2, 2, 1, 0, 0, 2, 1]);
    be.dispatch({ kind: "scatterAdd", axis: 0, index: upload(be, ind, [2, 4], "int32"), src: upload(be, src, [2, 4]), out });
    const want = Array.from(base);
    forEachIndex([2, 4], ([i, j], flat) => (want[ind[flat]! * 4 + j!] = Math.fround(want[ind[flat]! * 4 + j!]! + src[i! * 4 + j!]!)));
    expect(Array.from(download(be, out))).toEqual(want);
    const bad = upload(be, Int32Array.from([0, 5, 0, 0, 0, 0, 0, 0]), [2, 4], "int32");
    expect(() => be.dispatch({ kind: "scatterAdd", axis: 0, index: bad, src: upload(be, src, [2, 4]), out })).toThrow(/scatterAdd: index out of range for axis 0 of size 3/);
    const ints = upload(be, Int32Array.from([1, 2, 3]), [3], "int32");
    const res = empty(be, [3], "int32");
    be.dispatch({ kind: "gather", axis: 0, input: ints, index: upload(be, Int32Array.from([2, 0, 1]), [3], "int32"), out: res });
    expect(Array.from(download(be, res))).toEqual([3, 1, 2]);
  });
});
