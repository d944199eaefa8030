// conv2d forward for the wasm backend: im2col fused into a GEMM, one image block at a time.
//
// Letters: N batch, C input channels, O output channels, G groups (Cg = C/G, Og = O/G),
// H x W input, KH x KW kernel, OH x OW output, P = OH*OW, KK = KH*KW, K = Cg*KK.
//
// out[n, g*Og:(g+1)*Og, :] (Og, P) = W_g (Og, K) @ col_n,g (K, P), computed per work unit
// u = (g, n, jb): column block jb of NC output pixels of image n in group g.
//   for pc in K by kcb:          fill col rows [pc, pc+kc) x pixels [j0, j0+nc) into the
//                                thread's scratch (kc x ncp, ncp = nc rounded up to 8), so
//                                the block stays in L2 instead of a (N, K, P) buffer in memory
//     for jr in nc by 8:         one 8-pixel column panel of col (strided rows) stays in L1
//       for ir in Og by MR:      micro-kernel: kc rank-1 updates of an MR x 8 tile of out
// W_g is packed once per thread and group into MR-row panels (k-major, MR floats per k).
// The micro-kernel reads B straight from col rows (stride ncp), so col needs no second
// packing pass. Edge tiles use micro-kernels specialised for the remaining rows (Og % MR)
// and columns (P % 8): they store only real elements, with no scratch tile.
//
// Determinism: every out element is the same chain of multiply-adds (k in order, kcb blocks
// in order, kcb = gemmBlockDepth(K)) whatever column block or thread computes it, so results
// are bit-identical for any thread count.
//
// Filling col: the stride-1 case with rows of W = OW contiguous elements (the usual "same"
// convolution) makes a col row one shifted copy of the input plane (vector loads); the
// columns whose tap falls left or right of the plane are cleared by ANDing with a per-tap
// lane mask (KW rows of nc i32, built once per block), rows above or below are zeroed.
// Otherwise each output row is a segment: padding zeros, then the valid taps (vector
// copies when both sides have unit stride).
//
// Scratch per thread: packed W (ceil(Og/MR)*MR x K floats), col (kcb x NC), masks (KW x NC).

import { gemmBlockDepth } from "./matmul.js";
import { Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";
import type { WasmBackendImpl } from "./index.js";
import type { Conv2dParams, View } from "../backend.js";

/** Rows of the register tile (MR x 8: 2*MR f32x4 accumulators, as the GEMM's 6 x 8). */
export const CONV_MR = 6;
const NR = 8;
/** col block budget in floats (kc x ncp): 256 KiB keeps it in L2 next to the packed W. */
const COL_FLOATS = 1 << 16;

// Descriptor (i32 words): byte addresses, element strides.
const D = {
  x: 0, sN: 1, sC: 2, sH: 3, sW: 4, H: 5, W: 6, KH: 7, KW: 8, OW: 9, sh: 10, sw: 11, ph: 12, pw: 13, dh: 14,
  dw: 15, Cg: 16, Og: 17, N: 18, P: 19, out: 20, O: 21, nJb: 22, NC: 23, kcb: 24, scratch: 25, perThread: 26,
  w: 27, fast: 28, apBytes: 29,
} as const;

/**
 * micro(a, b, kc, c, ldcBytes, ldbBytes, accumulate): out tile (mr x ncols) at c (+)= A panel
 * (k-major, CONV_MR floats per k) @ B rows (8 floats at b, b + ldb, ...). Only the first
 * ncols columns are loaded and stored.
 */
function micro(mr: number, ncols: number, fma: boolean): Fn {
  const f = new Fn([I32, I32, I32, I32, I32, I32, I32]);
  const a = 0, b = 1, kc = 2, c = 3, ldc = 4, ldb = 5, accum = 6;
  const H = ncols > 4 ? 2 : 1;
  const lanes = (h: number) => Math.min(4, ncols - 4 * h);
  const acc: number[] = [];
  for (let i = 0; i < mr * H; i++) acc.push(f.local(V128));
  const bv = [f.local(V128), f.local(V128)], av = f.local(V128), cr = f.local(I32);
  const rows = (body: (r: number) => void) => {
    f.get(c).set(cr);
    for (let r = 0; r < mr; r++) {
      body(r);
      if (r < mr - 1) f.get(cr).get(ldc).op(O.i32_add).set(cr);
    }
  };
  f.get(accum).if_();
  rows((r) => {
    for (let h = 0; h < H; h++) {
      const t = acc[r * H + h]!;
      if (lanes(h) === 4) f.get(cr).vmem(S.load, 2, 16 * h).set(t);
      else {
        f.i32x4(0).set(t);
        for (let l = 0; l < lanes(h); l++) f.get(cr).get(t).vlane(S.load32_lane, 2, 16 * h + 4 * l, l).set(t);
      }
    }
  });
  f.else_();
  for (const t of acc) f.i32x4(0).set(t);
  f.end();
  f.block().loop();
  f.get(kc).op(O.i32_eqz).brIf(1);
  for (let h = 0; h < H; h++) f.get(b).vmem(S.load, 2, 16 * h).set(bv[h]!);
  for (let r = 0; r < mr; r++) {
    f.get(a).vmem(S.load32_splat, 2, r * 4).set(av);
    for (let h = 0; h < H; h++) {
      const t = acc[r * H + h]!;
      if (fma) f.get(av).get(bv[h]!).get(t).v(S.f32x4_relaxed_madd).set(t);
      else f.get(av).get(bv[h]!).v(S.f32x4_mul).get(t).v(S.f32x4_add).set(t);
    }
  }
  f.get(a).i32(CONV_MR * 4).op(O.i32_add).set(a);
  f.get(b).get(ldb).op(O.i32_add).set(b);
  f.get(kc).i32(1).op(O.i32_sub).set(kc);
  f.br(0).end().end();
  rows((r) => {
    for (let h = 0; h < H; h++) {
      const t = acc[r * H + h]!;
      if (lanes(h) === 4) f.get(cr).get(t).vmem(S.store, 2, 16 * h);
      else for (let l = 0; l < lanes(h); l++) f.get(cr).get(t).vlane(S.store32_lane, 2, 16 * h + 4 * l, l);
    }
  });
  return f;
}

/** Loads descriptor words into fresh i32 locals (desc is local 0). */
function words(f: Fn, names: (keyof typeof D)[]): number[] {
  return names.map((k) => {
    const l = f.local(I32);
    f.get(0).mem(O.i32_load, 2, D[k] * 4).set(l);
    return l;
  });
}

/** packW(desc, g, Ap): Ap[ip][k][r] = W[g*Og + ip*MR + r][k] (0 past Og), W dense (O, K). */
function packW(): Fn {
  const f = new Fn([I32, I32, I32]);
  const g = 1, Ap = 2;
  const [w, Og, Cg, KH, KW] = words(f, ["w", "Og", "Cg", "KH", "KW"]) as [number, number, number, number, number];
  const K = f.local(I32), row = f.local(I32), r = f.local(I32), k = f.local(I32), sp = f.local(I32), dp = f.local(I32);
  f.get(Cg).get(KH).op(O.i32_mul).get(KW).op(O.i32_mul).set(K);
  f.forRange(row, () => f.i32(0), () => f.get(Og), CONV_MR, () => {
    f.forRange(r, () => f.i32(0), () => f.i32(CONV_MR), 1, () => {
      // dp = Ap + (row*K + r)*4, k steps CONV_MR floats
      f.get(Ap).get(row).get(K).op(O.i32_mul).get(r).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(dp);
      f.get(row).get(r).op(O.i32_add).get(Og).op(O.i32_lt_s).if_();
      f.get(w).get(g).get(Og).op(O.i32_mul).get(row).op(O.i32_add).get(r).op(O.i32_add).get(K).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(sp);
      f.forRange(k, () => f.i32(0), () => f.get(K), 1, () => {
        f.get(dp).get(sp).mem(O.f32_load, 2).mem(O.f32_store, 2);
        f.get(sp).i32(4).op(O.i32_add).set(sp);
        f.get(dp).i32(CONV_MR * 4).op(O.i32_add).set(dp);
      });
      f.else_();
      f.forRange(k, () => f.i32(0), () => f.get(K), 1, () => {
        f.get(dp).f32(0).mem(O.f32_store, 2);
        f.get(dp).i32(CONV_MR * 4).op(O.i32_add).set(dp);
      });
      f.end();
    });
  });
  return f;
}

/** dst[i] = 0 for i in [from, to) (dst + i*4), 4 at a time then singly. */
function zeroRun(f: Fn, dst: number, from: () => void, to: number, i: number): void {
  from();
  f.set(i);
  f.block().loop();
  f.get(i).i32(4).op(O.i32_add).get(to).op(O.i32_gt_s).brIf(1);
  f.get(dst).get(i).i32(4).op(O.i32_mul).op(O.i32_add).i32x4(0).vmem(S.store, 0);
  f.get(i).i32(4).op(O.i32_add).set(i);
  f.br(0).end().end();
  f.forRange(i, () => f.get(i), () => f.get(to), 1, () => {
    f.get(dst).get(i).i32(4).op(O.i32_mul).op(O.i32_add).f32(0).mem(O.f32_store, 2);
  });
}

/** dst[i] = src[i] (& mask[i] when a mask base is given) for i in [from, to), all unit
 *  stride: v128 copies, the last one overlapping back from `to`; runs shorter than 4 are
 *  copied singly. `o` is a byte-offset local. */
function copyRun(f: Fn, dst: number, src: number, mask: number | undefined, from: number, to: number, o: number): void {
  const one = (n: number, off = 0) => {
    f.get(dst).get(o).op(O.i32_add);
    f.get(src).get(o).op(O.i32_add);
    if (n === 4) {
      f.vmem(S.load, 0, off);
      if (mask !== undefined) f.get(mask).get(o).op(O.i32_add).vmem(S.load, 0, off).v(S.and);
      f.vmem(S.store, 0, off);
    } else {
      f.mem(O.i32_load, 2);
      if (mask !== undefined) f.get(mask).get(o).op(O.i32_add).mem(O.i32_load, 2).op(O.i32_and);
      f.mem(O.i32_store, 2);
    }
  };
  f.get(to).get(from).op(O.i32_sub).i32(4).op(O.i32_ge_s).if_();
  // o runs over [from*4, (to-4)*4], then one copy at (to-4)*4
  f.get(from).i32(4).op(O.i32_mul).set(o);
  // 8 floats per iteration, then 4
  f.block().loop();
  f.get(o).get(to).i32(4).op(O.i32_mul).i32(32).op(O.i32_sub).op(O.i32_gt_s).brIf(1);
  one(4);
  one(4, 16);
  f.get(o).i32(32).op(O.i32_add).set(o);
  f.br(0).end().end();
  f.block().loop();
  f.get(o).get(to).i32(4).op(O.i32_mul).i32(16).op(O.i32_sub).op(O.i32_gt_s).brIf(1);
  one(4);
  f.get(o).i32(16).op(O.i32_add).set(o);
  f.br(0).end().end();
  f.get(to).i32(4).op(O.i32_mul).i32(16).op(O.i32_sub).set(o);
  one(4);
  f.else_();
  f.forRange(o, () => f.get(from).i32(4).op(O.i32_mul), () => f.get(to).i32(4).op(O.i32_mul), 4, () => one(1));
  f.end();
}

/** fillCol(desc, n, g, pc, kc, j0, nc, ncp, dst, masks): dst (kc x ncp) = col rows
 *  [pc, pc+kc), pixels [j0, j0+nc) of image n, group g; columns [nc, ncp) are zeroed.
 *  masks: scratch for KW rows of nc i32 (plane path). */
function fillCol(): Fn {
  const f = new Fn([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const n = 1, g = 2, pc = 3, kc = 4, j0 = 5, nc = 6, ncp = 7, dst = 8, masks = 9;
  const [x, sN, sC, sH, sW, H, W, KH, KW, OW, sh, sw, ph, pw, dh, dw, Cg, fast] = words(f, [
    "x", "sN", "sC", "sH", "sW", "H", "W", "KH", "KW", "OW", "sh", "sw", "ph", "pw", "dh", "dw", "Cg", "fast",
  ]) as number[] as [number, number, number, number, number, number, number, number, number, number, number, number,
    number, number, number, number, number, number];
  const L = () => f.local(I32);
  const kk = L(), r = L(), cc = L(), kh = L(), kw = L(), d = L(), dd = L(), xc = L(), t = L(), lo = L(), hi = L();
  const src = L(), pa = L(), pb = L(), pend = L(), i = L(), p = L(), oh = L(), ow0 = L(), ow1 = L(), ih = L(), a = L();
  const b = L(), step = L(), ow = L(), dq = L(), rowP = L(), KK = L(), mb = L();
  const max = (l: number, v: () => void) => { v(); f.set(t); f.get(l).get(t).get(l).get(t).op(O.i32_gt_s).op(O.select).set(l); };
  const min = (l: number, v: () => void) => { v(); f.set(t); f.get(l).get(t).get(l).get(t).op(O.i32_lt_s).op(O.select).set(l); };
  f.get(KH).get(KW).op(O.i32_mul).set(KK);
  f.get(j0).get(nc).op(O.i32_add).set(pend);
  // row pc = (cc, kh, kw); later rows step kw, then kh, then cc (no divisions per row)
  f.get(pc).get(KK).op(O.i32_div_u).set(cc);
  f.get(pc).get(cc).get(KK).op(O.i32_mul).op(O.i32_sub).set(r);
  f.get(r).get(KW).op(O.i32_div_u).set(kh);
  f.get(r).get(kh).get(KW).op(O.i32_mul).op(O.i32_sub).set(kw);
  const validCols = () => {
    // valid output columns [lo, hi): 0 <= ow*sw - pw + kw*dw < W (a = pw - kw*dw)
    f.get(pw).get(kw).get(dw).op(O.i32_mul).op(O.i32_sub).set(a);
    f.get(W).get(a).op(O.i32_add).set(b);
    f.get(fast).if_();
    // sw = 1: no division
    f.get(a).set(lo);
    max(lo, () => f.i32(0));
    f.get(b).set(hi);
    max(hi, () => f.i32(0));
    f.else_();
    f.get(a).get(sw).op(O.i32_add).i32(1).op(O.i32_sub).get(sw).op(O.i32_div_s).i32(0).get(a).i32(0).op(O.i32_gt_s).op(O.select).set(lo);
    f.get(b).get(sw).op(O.i32_add).i32(1).op(O.i32_sub).get(sw).op(O.i32_div_s).i32(0).get(b).i32(0).op(O.i32_gt_s).op(O.select).set(hi);
    f.end();
    min(hi, () => f.get(OW));
    min(lo, () => f.get(hi));
  };
  f.get(fast).if_();
  // plane path: masks[kw][p - j0] = -1 where output column ow(p) is in [lo, hi) for tap kw, else 0
  f.forRange(kw, () => f.i32(0), () => f.get(KW), 1, () => {
    validCols();
    f.get(j0).get(j0).get(OW).op(O.i32_div_u).get(OW).op(O.i32_mul).op(O.i32_sub).set(ow);
    f.get(masks).get(kw).get(nc).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(mb);
    f.forRange(p, () => f.i32(0), () => f.get(nc), 1, () => {
      f.get(mb).get(p).i32(4).op(O.i32_mul).op(O.i32_add).i32(0);
      f.get(ow).get(lo).op(O.i32_ge_s).get(ow).get(hi).op(O.i32_lt_s).op(O.i32_and).op(O.i32_sub).mem(O.i32_store, 2);
      f.get(ow).i32(1).op(O.i32_add).set(ow);
      f.get(ow).get(OW).op(O.i32_eq).if_().i32(0).set(ow).end();
    });
  });
  f.end();
  f.get(pc).get(KK).op(O.i32_div_u).set(cc);
  f.get(pc).get(cc).get(KK).op(O.i32_mul).op(O.i32_sub).set(r);
  f.get(r).get(KW).op(O.i32_div_u).set(kh);
  f.get(r).get(kh).get(KW).op(O.i32_mul).op(O.i32_sub).set(kw);
  f.forRange(kk, () => f.i32(0), () => f.get(kc), 1, () => {
    // d: this col row; dd: so that pixel p lands at dd + p*4
    f.get(dst).get(kk).get(ncp).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(d);
    f.get(d).get(j0).i32(4).op(O.i32_mul).op(O.i32_sub).set(dd);
    f.get(x).get(n).get(sN).op(O.i32_mul).get(g).get(Cg).op(O.i32_mul).get(cc).op(O.i32_add).get(sC).op(O.i32_mul).op(O.i32_add);
    f.i32(4).op(O.i32_mul).op(O.i32_add).set(xc);
    validCols();
    f.get(fast).if_();
    {
      // sh = sw = sW = 1, sH = W = OW: pixel p reads plane element p + shift, shift =
      // (kh*dh - ph)*W + kw*dw - pw. Copy the pixels whose input row is valid (and whose
      // element lies in the plane), masking columns outside [lo, hi) to zero; zero the rest.
      f.get(kh).get(dh).op(O.i32_mul).get(ph).op(O.i32_sub).get(W).op(O.i32_mul).get(a).op(O.i32_sub).set(step);
      f.get(xc).get(step).i32(4).op(O.i32_mul).op(O.i32_add).set(src);
      f.get(j0).set(pa);
      max(pa, () => f.i32(0).get(step).op(O.i32_sub));
      max(pa, () => f.get(ph).get(kh).get(dh).op(O.i32_mul).op(O.i32_sub).get(OW).op(O.i32_mul));
      f.get(pend).set(pb);
      min(pb, () => f.get(H).get(W).op(O.i32_mul).get(step).op(O.i32_sub));
      min(pb, () => f.get(H).get(ph).op(O.i32_add).get(kh).get(dh).op(O.i32_mul).op(O.i32_sub).get(OW).op(O.i32_mul));
      min(pa, () => f.get(pend));
      max(pb, () => f.get(pa));
      zeroRun(f, dd, () => f.get(j0), pa, i);
      // mb: mask of pixel p at mb + p*4; the centre taps (lo = 0, hi = OW) need none
      f.get(masks).get(kw).get(nc).op(O.i32_mul).get(j0).op(O.i32_sub).i32(4).op(O.i32_mul).op(O.i32_add).set(mb);
      f.get(lo).get(hi).get(OW).op(O.i32_lt_s).op(O.i32_or).if_();
      copyRun(f, dd, src, mb, pa, pb, i);
      f.else_();
      copyRun(f, dd, src, undefined, pa, pb, i);
      f.end();
      zeroRun(f, dd, () => f.get(pb), pend, i);
    }
    f.else_();
    {
      // output row segments [ow0, ow1) of pixels [p, ...); column ow lands at dq + ow*4
      f.get(j0).set(p);
      f.get(j0).get(OW).op(O.i32_div_u).set(oh);
      f.get(j0).get(oh).get(OW).op(O.i32_mul).op(O.i32_sub).set(ow0);
      f.get(sw).get(sW).op(O.i32_mul).i32(4).op(O.i32_mul).set(step);
      f.block().loop();
      f.get(p).get(pend).op(O.i32_ge_s).brIf(1);
      f.get(ow0).get(pend).op(O.i32_add).get(p).op(O.i32_sub).set(ow1);
      min(ow1, () => f.get(OW));
      f.get(dd).get(p).get(ow0).op(O.i32_sub).i32(4).op(O.i32_mul).op(O.i32_add).set(dq);
      f.get(oh).get(sh).op(O.i32_mul).get(ph).op(O.i32_sub).get(kh).get(dh).op(O.i32_mul).op(O.i32_add).set(ih);
      f.get(ih).get(H).op(O.i32_lt_u).if_();
      // source of column ow: rowP + ow*step, rowP = xc + (ih*sH + (kw*dw - pw)*sW)*4
      f.get(xc).get(ih).get(sH).op(O.i32_mul).i32(0).get(a).op(O.i32_sub).get(sW).op(O.i32_mul).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(rowP);
      // a = clamp(lo, ow0, ow1), b = clamp(hi, a, ow1)
      f.get(lo).set(pa);
      min(pa, () => f.get(ow1));
      max(pa, () => f.get(ow0));
      f.get(hi).set(pb);
      min(pb, () => f.get(ow1));
      max(pb, () => f.get(pa));
      zeroRun(f, dq, () => f.get(ow0), pa, i);
      f.get(step).i32(4).op(O.i32_eq).if_();
      copyRun(f, dq, rowP, undefined, pa, pb, i);
      f.else_();
      f.forRange(i, () => f.get(pa), () => f.get(pb), 1, () => {
        f.get(dq).get(i).i32(4).op(O.i32_mul).op(O.i32_add);
        f.get(rowP).get(i).get(step).op(O.i32_mul).op(O.i32_add).mem(O.f32_load, 2);
        f.mem(O.f32_store, 2);
      });
      f.end();
      zeroRun(f, dq, () => f.get(pb), ow1, i);
      f.else_();
      zeroRun(f, dq, () => f.get(ow0), ow1, i);
      f.end();
      f.get(p).get(ow1).op(O.i32_add).get(ow0).op(O.i32_sub).set(p);
      f.get(oh).i32(1).op(O.i32_add).set(oh);
      f.i32(0).set(ow0);
      f.br(0).end().end();
    }
    f.end();
    zeroRun(f, d, () => f.get(nc), ncp, i);
    f.get(kw).i32(1).op(O.i32_add).set(kw);
    f.get(kw).get(KW).op(O.i32_eq).if_();
    f.i32(0).set(kw);
    f.get(kh).i32(1).op(O.i32_add).set(kh);
    f.get(kh).get(KH).op(O.i32_eq).if_();
    f.i32(0).set(kh);
    f.get(cc).i32(1).op(O.i32_add).set(cc);
    f.end();
    f.end();
  });
  return f;
}

function buildConv(fma: boolean, rowsLeft: number, colsLeft: number, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const fPack = mod.add(packW());
  const fFill = mod.add(fillCol());
  // micro-kernels by [full rows?][full columns?]
  const fFull = mod.add(micro(CONV_MR, NR, fma));
  const fColEdge = colsLeft ? mod.add(micro(CONV_MR, colsLeft, fma)) : -1;
  const fRowEdge = rowsLeft ? mod.add(micro(rowsLeft, NR, fma)) : -1;
  const fCorner = rowsLeft && colsLeft ? mod.add(micro(rowsLeft, colsLeft, fma)) : -1;
  const f = new Fn([I32, I32, I32, I32]);
  const desc = 0, start = 1, end = 2, tid = 3;
  const [Og, N, P, out, O_, nJb, NC, kcb, scratch, per, Cg, KH, KW, apBytes] = words(f, [
    "Og", "N", "P", "out", "O", "nJb", "NC", "kcb", "scratch", "perThread", "Cg", "KH", "KW", "apBytes",
  ]) as number[] as [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const L = () => f.local(I32);
  const u = L(), g = L(), n = L(), jb = L(), lastG = L(), Ap = L(), col = L(), K = L(), j0 = L(), nc = L(), ncp = L();
  const cBase = L(), pc = L(), kc = L(), jr = L(), ir = L(), first = L(), ogFull = L(), ldc = L(), ldb = L(), full = L();
  const masks = L();
  f.get(Cg).get(KH).op(O.i32_mul).get(KW).op(O.i32_mul).set(K);
  f.get(scratch).get(tid).get(per).op(O.i32_mul).op(O.i32_add).set(Ap);
  f.get(Ap).get(apBytes).op(O.i32_add).set(col);
  f.get(col).get(kcb).get(NC).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(masks);
  f.get(Og).get(Og).i32(CONV_MR).op(O.i32_rem_u).op(O.i32_sub).set(ogFull);
  f.get(P).i32(4).op(O.i32_mul).set(ldc);
  f.i32(-1).set(lastG);
  f.forRange(u, () => f.get(start), () => f.get(end), 1, () => {
    // u = (g*N + n)*nJb + jb
    f.get(u).get(nJb).op(O.i32_div_u).set(n);
    f.get(u).get(n).get(nJb).op(O.i32_mul).op(O.i32_sub).set(jb);
    f.get(n).get(N).op(O.i32_div_u).set(g);
    f.get(n).get(g).get(N).op(O.i32_mul).op(O.i32_sub).set(n);
    f.get(g).get(lastG).op(O.i32_ne).if_();
    f.get(desc).get(g).get(Ap).call(fPack);
    f.get(g).set(lastG);
    f.end();
    f.get(jb).get(NC).op(O.i32_mul).set(j0);
    f.get(P).get(j0).op(O.i32_sub).set(nc);
    f.get(nc).get(NC).get(nc).get(NC).op(O.i32_lt_s).op(O.select).set(nc);
    f.get(nc).i32(NR - 1).op(O.i32_add).i32(-NR).op(O.i32_and).set(ncp);
    f.get(ncp).i32(4).op(O.i32_mul).set(ldb);
    // cBase = out + ((n*O + g*Og)*P + j0)*4
    f.get(out).get(n).get(O_).op(O.i32_mul).get(g).get(Og).op(O.i32_mul).op(O.i32_add).get(P).op(O.i32_mul).get(j0).op(O.i32_add);
    f.i32(4).op(O.i32_mul).op(O.i32_add).set(cBase);
    f.forRange(pc, () => f.i32(0), () => f.get(K), 0, () => {
      f.get(K).get(pc).op(O.i32_sub).set(kc);
      f.get(kc).get(kcb).get(kc).get(kcb).op(O.i32_lt_s).op(O.select).set(kc);
      f.get(pc).i32(0).op(O.i32_gt_s).set(first);
      f.get(desc).get(n).get(g).get(pc).get(kc).get(j0).get(nc).get(ncp).get(col).get(masks).call(fFill);
      f.forRange(jr, () => f.i32(0), () => f.get(nc), NR, () => {
        f.get(jr).i32(NR).op(O.i32_add).get(nc).op(O.i32_le_s).set(full);
        const tile = (rowFn: number, ir_: () => void) => {
          // a = Ap + (ir*K + pc*MR)*4, b = col + jr*4, c = cBase + (ir*P + jr)*4
          f.get(Ap); ir_(); f.get(K).op(O.i32_mul).get(pc).i32(CONV_MR).op(O.i32_mul).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add);
          f.get(col).get(jr).i32(4).op(O.i32_mul).op(O.i32_add);
          f.get(kc);
          f.get(cBase); ir_(); f.get(P).op(O.i32_mul).get(jr).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add);
          f.get(ldc).get(ldb).get(first).call(rowFn);
        };
        const rowsOf = (fullFn: number, edgeFn: number) => {
          f.forRange(ir, () => f.i32(0), () => f.get(ogFull), CONV_MR, () => tile(fullFn, () => f.get(ir)));
          if (edgeFn >= 0) tile(edgeFn, () => f.get(ogFull));
        };
        if (colsLeft) {
          f.get(full).if_();
          rowsOf(fFull, fRowEdge);
          f.else_();
          rowsOf(fColEdge, fCorner);
          f.end();
        } else rowsOf(fFull, fRowEdge);
      });
      f.get(pc).get(kcb).op(O.i32_add).set(pc);
    });
  });
  mod.add(f, "run");
  return mod;
}

/** out (N, O, OH, OW) contiguous = conv2d(x, w) with w dense (O, Cg, KH, KW). */
export function conv2dForward(be: WasmBackendImpl, x: View, w: View, out: View, p: Conv2dParams): void {
  const [N, , H, W] = x.shape as [number, number, number, number];
  const [O_, Cg, KH, KW] = w.shape as [number, number, number, number];
  const [, , OH, OW] = out.shape as [number, number, number, number];
  const G = p.groups, Og = O_ / G, P = OH * OW, K = Cg * KH * KW;
  if (N * O_ * P === 0) return;
  const rt = be.rt;
  const kcb = gemmBlockDepth(K);
  const threads = rt.threadsFor(N * G * Math.ceil(P / NR) * Og * K, 1 << 16);
  let NC = Math.min(Math.ceil(P / NR) * NR, Math.max(NR, Math.floor(COL_FLOATS / kcb / NR) * NR));
  if (N * G < threads) NC = Math.min(NC, Math.max(NR, Math.ceil(P / Math.ceil(threads / (N * G)) / NR) * NR));
  const nJb = Math.ceil(P / NC);
  const apBytes = Math.ceil(Og / CONV_MR) * CONV_MR * K * 4;
  const per = Math.ceil((apBytes + (kcb + KW) * NC * 4 + 64) / 64) * 64;
  const [sN, sC, sH, sW] = x.strides as [number, number, number, number];
  const fast = p.stride[0] === 1 && p.stride[1] === 1 && sW === 1 && sH === W && OW === W ? 1 : 0;
  const fma = rt.relaxed;
  const kernel = rt.kernel(`conv|${fma}|${Og % CONV_MR}|${P % NR}`, () => buildConv(fma, Og % CONV_MR, P % NR, rt.pages));
  const scratch = rt.heap.alloc(per * rt.threads);
  try {
    const desc = new Array<number>(30).fill(0);
    const set = (k: keyof typeof D, v: number) => { desc[D[k]] = v; };
    set("x", be.base(x)); set("sN", sN); set("sC", sC); set("sH", sH); set("sW", sW); set("H", H); set("W", W);
    set("KH", KH); set("KW", KW); set("OW", OW); set("sh", p.stride[0]); set("sw", p.stride[1]);
    set("ph", p.padding[0]); set("pw", p.padding[1]); set("dh", p.dilation[0]); set("dw", p.dilation[1]);
    set("Cg", Cg); set("Og", Og); set("N", N); set("P", P); set("out", be.base(out)); set("O", O_); set("nJb", nJb);
    set("NC", NC); set("kcb", kcb); set("scratch", scratch); set("perThread", per); set("w", be.base(w));
    set("fast", fast); set("apBytes", apBytes);
    rt.run(kernel, rt.descriptor(desc), G * N * nJb, { threads });
  } finally {
    rt.heap.free(scratch);
  }
}
