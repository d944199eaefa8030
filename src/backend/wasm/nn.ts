// Convolution, pooling, gather and scatterAdd for the wasm backend.
//
// Letters: N batch, C input channels, O output channels, G groups (Cg = C/G, Og = O/G),
// H x W input, KH x KW kernel, OH x OW output, P = OH*OW, KK = KH*KW.
//
// conv2d forward is conv.ts: im2col fused into a GEMM, one image block at a time, with
// out (N, G, Og, P) = W (G, Og, Cg*KK) @ col (Cg*KK, P) per image (NCHW directly).
// Input gradient: dcol = W^T @ dy (GEMM with a transposed view of W, no copy), then col2im
// adds dcol into dx plane by plane ((n, c) planes split across threads; each plane sums in
// a fixed (kh, kw, oh, ow) order, so results do not depend on the thread count).
// Weight gradient: im2col writes col as (G, Cg*KK, N, P) and dy is copied to (G, Og, N, P),
// so dW_g = dy_g (Og, N*P) @ col_g^T is one GEMM per group with K = N*P.
// Pooling, gather and scatterAdd are scalar wasm loops; scatterAdd runs on one thread in
// element order (deterministic) and flags out-of-range indices instead of trapping.

import type { Conv2dParams, Kernel, View } from "../backend.js";
import { F32, Fn, I32, ModuleBuilder, O, S } from "./emit.js";
import { contiguousStrides, isContiguous } from "./elementwise.js";
import { conv2dForward } from "./conv.js";
import type { WasmBackendImpl } from "./index.js";

type Pages = { initial: number; maximum: number };

/** Loads descriptor words into fresh i32 locals. */
function params(f: Fn, count: number): number[] {
  const ls: number[] = [];
  for (let w = 0; w < count; w++) {
    const l = f.local(I32);
    f.get(0).mem(O.i32_load, 2, w * 4).set(l);
    ls.push(l);
  }
  return ls;
}

// im2col desc: 0 x, 1 C, 2 H, 3 W, 4 xsN, 5 xsC, 6 xsH, 7 xsW, 8 KH, 9 KW, 10 OH, 11 OW,
// 12 sh, 13 sw, 14 ph, 15 pw, 16 dh, 17 dw, 18 col, 19 colSN, 20 colSR (elements).
// Unit = (n, c, kh, kw) row.
function buildIm2col(pages: Pages): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const f = new Fn([I32, I32, I32, I32]);
  const [x, C, H, W, sN, sC, sH, sW, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, col, cN, cR] = params(f, 21) as [
    number, number, number, number, number, number, number, number, number, number, number, number, number,
    number, number, number, number, number, number, number, number];
  const u = f.local(I32), n = f.local(I32), r = f.local(I32), c = f.local(I32), kh = f.local(I32), kw = f.local(I32);
  const oh = f.local(I32), ow = f.local(I32), ih = f.local(I32), dp = f.local(I32), rowP = f.local(I32);
  const CKK = f.local(I32), t = f.local(I32), lo = f.local(I32), hi = f.local(I32), step = f.local(I32);
  f.get(C).get(KH).op(O.i32_mul).get(KW).op(O.i32_mul).set(CKK);
  f.forRange(u, () => f.get(1), () => f.get(2), 1, () => {
    f.get(u).get(CKK).op(O.i32_div_u).set(n);
    f.get(u).get(n).get(CKK).op(O.i32_mul).op(O.i32_sub).set(r);
    f.get(r).get(KH).get(KW).op(O.i32_mul).op(O.i32_div_u).set(c);
    f.get(r).get(KW).op(O.i32_div_u).get(KH).op(O.i32_rem_u).set(kh);
    f.get(r).get(KW).op(O.i32_rem_u).set(kw);
    f.get(col).get(n).get(cN).op(O.i32_mul).get(r).get(cR).op(O.i32_mul).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(dp);
    // valid output columns [lo, hi): 0 <= ow*sw - pw + kw*dw < W; the rest reads padding
    f.get(pw).get(kw).get(dw).op(O.i32_mul).op(O.i32_sub).set(t);
    f.get(t).get(sw).op(O.i32_add).i32(1).op(O.i32_sub).get(sw).op(O.i32_div_s).i32(0).get(t).i32(0).op(O.i32_gt_s).op(O.select).set(lo);
    f.get(W).get(t).op(O.i32_add).set(t);
    f.get(t).get(sw).op(O.i32_add).i32(1).op(O.i32_sub).get(sw).op(O.i32_div_s).i32(0).get(t).i32(0).op(O.i32_gt_s).op(O.select).set(hi);
    f.get(hi).get(OW).get(hi).get(OW).op(O.i32_lt_s).op(O.select).set(hi);
    f.get(lo).get(hi).get(lo).get(hi).op(O.i32_lt_s).op(O.select).set(lo);
    const zero = (from: () => void, to: () => void) =>
      f.forRange(ow, from, to, 1, () => {
        f.get(dp).get(ow).i32(4).op(O.i32_mul).op(O.i32_add).f32(0).mem(O.f32_store, 2);
      });
    f.forRange(oh, () => f.i32(0), () => f.get(OH), 1, () => {
      f.get(oh).get(sh).op(O.i32_mul).get(ph).op(O.i32_sub).get(kh).get(dh).op(O.i32_mul).op(O.i32_add).set(ih);
      f.get(ih).get(H).op(O.i32_lt_u).if_();
      // source of column ow: x + (n sN + c sC + ih sH + (ow sw - pw + kw dw) sW) * 4
      f.get(x).get(n).get(sN).op(O.i32_mul).get(c).get(sC).op(O.i32_mul).op(O.i32_add).get(ih).get(sH).op(O.i32_mul).op(O.i32_add);
      f.get(kw).get(dw).op(O.i32_mul).get(pw).op(O.i32_sub).get(sW).op(O.i32_mul).op(O.i32_add);
      f.i32(4).op(O.i32_mul).op(O.i32_add).set(rowP);
      f.get(sw).get(sW).op(O.i32_mul).i32(4).op(O.i32_mul).set(step);
      zero(() => f.i32(0), () => f.get(lo));
      f.get(lo).set(ow);
      // unit stride on both sides: 4 columns per v128 copy
      f.get(step).i32(4).op(O.i32_eq).if_();
      f.block().loop();
      f.get(ow).i32(4).op(O.i32_add).get(hi).op(O.i32_gt_s).brIf(1);
      f.get(dp).get(ow).i32(4).op(O.i32_mul).op(O.i32_add);
      f.get(rowP).get(ow).i32(4).op(O.i32_mul).op(O.i32_add).vmem(S.load, 0);
      f.vmem(S.store, 0);
      f.get(ow).i32(4).op(O.i32_add).set(ow);
      f.br(0).end().end();
      f.end();
      f.forRange(ow, () => f.get(ow), () => f.get(hi), 1, () => {
        f.get(dp).get(ow).i32(4).op(O.i32_mul).op(O.i32_add);
        f.get(rowP).get(ow).get(step).op(O.i32_mul).op(O.i32_add).mem(O.f32_load, 2);
        f.mem(O.f32_store, 2);
      });
      zero(() => f.get(hi), () => f.get(OW));
      f.else_();
      zero(() => f.i32(0), () => f.get(OW));
      f.end();
      f.get(dp).get(OW).i32(4).op(O.i32_mul).op(O.i32_add).set(dp);
    });
  });
  mod.add(f, "run");
  return mod;
}

// col2im desc: 0 dcol (N, C*KK, P contiguous), 1 C, 2 H, 3 W, 4 dx (contiguous NCHW, zeroed),
// 8 KH, 9 KW, 10 OH, 11 OW, 12 sh, 13 sw, 14 ph, 15 pw, 16 dh, 17 dw. Unit = (n, c) plane.
function buildCol2im(pages: Pages): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const f = new Fn([I32, I32, I32, I32]);
  const [dcol, , H, W, dx, , , , KH, KW, OH, OW, sh, sw, ph, pw, dh, dw] = params(f, 18) as number[] as [
    number, number, number, number, number, number, number, number, number, number, number, number, number,
    number, number, number, number, number];
  const u = f.local(I32), kh = f.local(I32), kw = f.local(I32), oh = f.local(I32), ow = f.local(I32);
  const ih = f.local(I32), iw = f.local(I32), sp = f.local(I32), plane = f.local(I32), a = f.local(I32);
  f.forRange(u, () => f.get(1), () => f.get(2), 1, () => {
    // dcol rows of plane u = (n, c) start at row u*KK: byte (u*KK*P)*4
    f.get(dcol).get(u).get(KH).op(O.i32_mul).get(KW).op(O.i32_mul).get(OH).op(O.i32_mul).get(OW).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(sp);
    f.get(dx).get(u).get(H).op(O.i32_mul).get(W).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(plane);
    f.forRange(kh, () => f.i32(0), () => f.get(KH), 1, () => {
      f.forRange(kw, () => f.i32(0), () => f.get(KW), 1, () => {
        f.forRange(oh, () => f.i32(0), () => f.get(OH), 1, () => {
          f.get(oh).get(sh).op(O.i32_mul).get(ph).op(O.i32_sub).get(kh).get(dh).op(O.i32_mul).op(O.i32_add).set(ih);
          f.forRange(ow, () => f.i32(0), () => f.get(OW), 1, () => {
            f.get(ow).get(sw).op(O.i32_mul).get(pw).op(O.i32_sub).get(kw).get(dw).op(O.i32_mul).op(O.i32_add).set(iw);
            f.get(ih).get(H).op(O.i32_lt_u).get(iw).get(W).op(O.i32_lt_u).op(O.i32_and).if_();
            f.get(plane).get(ih).get(W).op(O.i32_mul).get(iw).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(a);
            f.get(a).get(a).mem(O.f32_load, 2).get(sp).mem(O.f32_load, 2).op(O.f32_add).mem(O.f32_store, 2);
            f.end();
            f.get(sp).i32(4).op(O.i32_add).set(sp);
          });
        });
      });
    });
  });
  mod.add(f, "run");
  return mod;
}

// pool desc: 0 x, 1 C, 2 H, 3 W, 4 xsN, 5 xsC, 6 xsH, 7 xsW, 8 KH, 9 KW, 10 OH, 11 OW,
// 12 sh, 13 sw, 14 ph, 15 pw, 16 out (contiguous), 17 indices (max) / countIncludePad (avg).
// Unit = (n, c, oh) output row.
function buildPool(kind: "max" | "avg", pages: Pages): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const f = new Fn([I32, I32, I32, I32]);
  const [x, C, H, W, sN, sC, sH, sW, KH, KW, OH, OW, sh, sw, ph, pw, out, extra] = params(f, 18) as number[] as [
    number, number, number, number, number, number, number, number, number, number, number, number, number,
    number, number, number, number, number];
  const u = f.local(I32), n = f.local(I32), c = f.local(I32), oh = f.local(I32), ow = f.local(I32);
  const ih = f.local(I32), iw = f.local(I32), kh = f.local(I32), kw = f.local(I32), plane = f.local(I32);
  const acc = f.local(F32), v = f.local(F32), best = f.local(I32), cnt = f.local(I32), o = f.local(I32);
  const h0 = f.local(I32), w0 = f.local(I32);
  f.forRange(u, () => f.get(1), () => f.get(2), 1, () => {
    f.get(u).get(OH).op(O.i32_div_u).set(c);
    f.get(u).get(c).get(OH).op(O.i32_mul).op(O.i32_sub).set(oh);
    f.get(c).get(C).op(O.i32_div_u).set(n);
    f.get(c).get(n).get(C).op(O.i32_mul).op(O.i32_sub).set(c);
    f.get(x).get(n).get(sN).op(O.i32_mul).get(c).get(sC).op(O.i32_mul).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(plane);
    f.get(oh).get(sh).op(O.i32_mul).get(ph).op(O.i32_sub).set(h0);
    f.forRange(ow, () => f.i32(0), () => f.get(OW), 1, () => {
      f.get(ow).get(sw).op(O.i32_mul).get(pw).op(O.i32_sub).set(w0);
      if (kind === "max") f.f32(-Infinity).set(acc).i32(-1).set(best);
      else f.f32(0).set(acc).i32(0).set(cnt);
      f.forRange(kh, () => f.i32(0), () => f.get(KH), 1, () => {
        f.get(h0).get(kh).op(O.i32_add).set(ih);
        f.forRange(kw, () => f.i32(0), () => f.get(KW), 1, () => {
          f.get(w0).get(kw).op(O.i32_add).set(iw);
          f.get(ih).get(H).op(O.i32_lt_u).get(iw).get(W).op(O.i32_lt_u).op(O.i32_and).if_();
          f.get(plane).get(ih).get(sH).op(O.i32_mul).get(iw).get(sW).op(O.i32_mul).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add);
          f.mem(O.f32_load, 2).set(v);
          if (kind === "max") {
            // first maximum wins; NaN propagates (as torch)
            f.get(v).get(acc).op(O.f32_gt).get(v).get(v).op(O.f32_ne).op(O.i32_or).get(best).i32(0).op(O.i32_lt_s).op(O.i32_or);
            f.get(acc).get(acc).op(O.f32_eq).op(O.i32_and).if_();
            f.get(v).set(acc);
            f.get(ih).get(W).op(O.i32_mul).get(iw).op(O.i32_add).set(best);
            f.end();
          } else {
            f.get(acc).get(v).op(O.f32_add).set(acc);
            f.get(cnt).i32(1).op(O.i32_add).set(cnt);
          }
          f.end();
        });
      });
      // o = ((n*C + c)*OH + oh)*OW + ow = u*OW + ow
      f.get(u).get(OW).op(O.i32_mul).get(ow).op(O.i32_add).set(o);
      f.get(out).get(o).i32(4).op(O.i32_mul).op(O.i32_add);
      if (kind === "max") {
        f.get(acc).mem(O.f32_store, 2);
        f.get(extra).get(o).i32(4).op(O.i32_mul).op(O.i32_add).get(best).mem(O.i32_store, 2);
      } else {
        f.get(acc);
        // divisor: valid count, or the window clipped to the padded input when counting padding
        f.get(extra).if_(I32);
        f.get(h0).get(KH).op(O.i32_add).get(H).get(ph).op(O.i32_add).get(h0).get(KH).op(O.i32_add).get(H).get(ph).op(O.i32_add).op(O.i32_lt_s).op(O.select).get(h0).op(O.i32_sub);
        f.get(w0).get(KW).op(O.i32_add).get(W).get(pw).op(O.i32_add).get(w0).get(KW).op(O.i32_add).get(W).get(pw).op(O.i32_add).op(O.i32_lt_s).op(O.select).get(w0).op(O.i32_sub);
        f.op(O.i32_mul);
        f.else_().get(cnt).end();
        f.op(O.f32_convert_i32_s).op(O.f32_div).mem(O.f32_store, 2);
      }
    });
  });
  mod.add(f, "run");
  return mod;
}

// gather/scatter desc: 0 R (rank), 1 axis, 2 data base, 3 index base, 4 other base (out for
// gather, src for scatter), 5 error flag, then 6.. : shape (R), data strides (R), index
// strides (R), other strides (R), data size along axis. Iterates over index's shape.
// Unit = flat index element.
function buildGatherScatter(kind: "gather" | "scatter", size: 1 | 4, float: boolean, pages: Pages): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const f = new Fn([I32, I32, I32, I32]);
  const [R, axis, data, index, other, errP] = params(f, 6) as [number, number, number, number, number, number];
  const i = f.local(I32), rem = f.local(I32), d = f.local(I32), id = f.local(I32), offD = f.local(I32), offI = f.local(I32);
  const offO = f.local(I32), j = f.local(I32), dimSize = f.local(I32), dataAxisSize = f.local(I32);
  const word = (base: number) => {
    // push i32 at desc + (6 + base*R + d) * 4
    f.get(0).i32(6).get(R).i32(base).op(O.i32_mul).op(O.i32_add).get(d).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).mem(O.i32_load, 2);
  };
  f.forRange(i, () => f.get(1), () => f.get(2), 1, () => {
    f.get(i).set(rem);
    f.i32(0).set(offI).i32(0).set(offO).i32(0).set(offD).i32(0).set(id);
    f.get(R).i32(1).op(O.i32_sub).set(d);
    f.block().loop();
    f.get(d).i32(0).op(O.i32_lt_s).brIf(1);
    word(0);
    f.set(dimSize);
    f.get(rem).get(dimSize).op(O.i32_rem_u).set(j);
    f.get(rem).get(dimSize).op(O.i32_div_u).set(rem);
    f.get(offI);
    word(2);
    f.get(j).op(O.i32_mul).op(O.i32_add).set(offI);
    f.get(offO);
    word(3);
    f.get(j).op(O.i32_mul).op(O.i32_add).set(offO);
    f.get(d).get(axis).op(O.i32_ne).if_();
    f.get(offD);
    word(1);
    f.get(j).op(O.i32_mul).op(O.i32_add).set(offD);
    f.end();
    f.get(d).i32(1).op(O.i32_sub).set(d);
    f.br(0).end().end();
    // index value, bounds-checked against the data's axis size (desc word 6 + 4R); a
    // negative index is out of range (unsigned compare), as on the reference backend and in
    // torch.gather: ops that accept negative indices (indexSelect) normalise them first
    f.get(index).get(offI).i32(4).op(O.i32_mul).op(O.i32_add).mem(O.i32_load, 2).set(id);
    f.get(0).get(R).i32(16).op(O.i32_mul).op(O.i32_add).mem(O.i32_load, 2, 24).set(dataAxisSize);
    f.get(id).get(dataAxisSize).op(O.i32_ge_u).if_();
    f.get(errP).i32(1).mem(O.i32_store, 2);
    f.else_();
    // offD += id * dataStride[axis]
    f.get(offD).get(id).get(0).get(R).get(axis).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).mem(O.i32_load, 2, 24);
    f.op(O.i32_mul).op(O.i32_add).set(offD);
    const addrD = () => f.get(data).get(offD).i32(size).op(O.i32_mul).op(O.i32_add);
    const addrO = () => f.get(other).get(offO).i32(size).op(O.i32_mul).op(O.i32_add);
    const load = size === 1 ? O.i32_load8_u : float ? O.f32_load : O.i32_load;
    const store = size === 1 ? O.i32_store8 : float ? O.f32_store : O.i32_store;
    const align = size === 1 ? 0 : 2;
    if (kind === "gather") {
      addrO();
      addrD();
      f.mem(load, align).mem(store, align);
    } else {
      addrD();
      addrD();
      f.mem(load, align);
      addrO();
      f.mem(load, align);
      f.op(size === 1 ? O.i32_or : float ? O.f32_add : O.i32_add).mem(store, align);
    }
    f.end();
  });
  mod.add(f, "run");
  return mod;
}

function convGeometry(x: View, w: View, out: View, p: Conv2dParams, op: string) {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O_, Cg, KH, KW] = w.shape as [number, number, number, number];
  const [oN, oC, OH, OW] = out.shape as [number, number, number, number];
  const G = p.groups;
  const eh = Math.floor((H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
  const ew = Math.floor((W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
  if (x.shape.length !== 4 || w.shape.length !== 4 || C !== Cg * G || O_ % G !== 0 || oN !== N || oC !== O_ || OH !== eh || OW !== ew) {
    throw new Error(
      `wasm backend: ${op}: x [${x.shape}], w [${w.shape}], out [${out.shape}] with groups ${G}: ` +
        `need x (N, C, H, W), w (O, C/groups, KH, KW), out (N, O, ${eh}, ${ew})`,
    );
  }
  return { N, C, H, W, O: O_, Cg, KH, KW, OH, OW, G, Og: O_ / G, P: OH * OW, KK: KH * KW };
}

function im2col(be: WasmBackendImpl, x: View, g: ReturnType<typeof convGeometry>, p: Conv2dParams, col: number, colSN: number, colSR: number): void {
  const rt = be.rt;
  const k = rt.kernel("im2col", () => buildIm2col(rt.pages));
  const desc = rt.descriptor([
    be.base(x), g.C, g.H, g.W, ...x.strides, g.KH, g.KW, g.OH, g.OW, p.stride[0], p.stride[1], p.padding[0], p.padding[1],
    p.dilation[0], p.dilation[1], col, colSN, colSR,
  ]);
  rt.run(k, desc, g.N * g.C * g.KK, { minPerThread: Math.ceil(4096 / g.P) });
}

function view(buffer: View["buffer"], shape: number[], strides?: number[], offset = 0): View {
  return { buffer, dtype: "float32", shape, strides: strides ?? contiguousStrides(shape), offset };
}

export function dispatchNN(be: WasmBackendImpl, k: Kernel): void {
  switch (k.kind) {
    case "conv2d": {
      const g = convGeometry(k.x, k.w, k.out, k.params, "conv2d");
      const [w, ownW] = dense(be, k.w);
      try {
        conv2dForward(be, k.x, w, outAs(k.out, k.out.shape as number[]), k.params);
      } finally {
        if (ownW) be.free(w.buffer);
      }
      return;
    }
    case "conv2dInputGrad": {
      const g = convGeometry(k.out, k.w, k.dy, k.params, "conv2dInputGrad");
      const [w, ownW] = dense(be, k.w);
      const [dy, ownDy] = dense(be, k.dy);
      const dcol = be.temp("float32", [g.N, g.G, g.Cg * g.KK, g.P]);
      const dxT = isContiguous(k.out) ? undefined : be.temp("float32", k.out.shape);
      const dx = dxT ?? k.out;
      try {
        const ws = w.strides[0]!;
        const wT: View = { ...w, shape: [1, g.G, g.Cg * g.KK, g.Og], strides: [0, g.Og * ws, w.strides[3]!, ws] };
        const dyv: View = { ...dy, shape: [g.N, g.G, g.Og, g.P], strides: [dy.strides[0]!, g.Og * dy.strides[1]!, dy.strides[1]!, dy.strides[3]!] };
        be.matmul(wT, dyv, dcol, undefined, []);
        be.elementwise({ op: "const", value: 0, dtype: "float32" }, [], dx);
        const rt = be.rt;
        const kern = rt.kernel("col2im", () => buildCol2im(rt.pages));
        const p = k.params;
        const desc = rt.descriptor([
          be.base(dcol), g.C, g.H, g.W, be.base(dx), 0, 0, 0, g.KH, g.KW, g.OH, g.OW, p.stride[0], p.stride[1],
          p.padding[0], p.padding[1], p.dilation[0], p.dilation[1],
        ]);
        rt.run(kern, desc, g.N * g.C, { minPerThread: Math.ceil(4096 / (g.KK * g.P)) });
        if (dxT) be.elementwise({ op: "input", index: 0, dtype: "float32" }, [dxT], k.out);
      } finally {
        be.free(dcol.buffer);
        if (dxT) be.free(dxT.buffer);
        if (ownW) be.free(w.buffer);
        if (ownDy) be.free(dy.buffer);
      }
      return;
    }
    case "conv2dWeightGrad": {
      const g = convGeometry(k.x, k.out, k.dy, k.params, "conv2dWeightGrad");
      const col = be.temp("float32", [g.G, g.Cg * g.KK, g.N, g.P]);
      const dyP = be.temp("float32", [g.G, g.Og, g.N, g.P]);
      try {
        im2col(be, k.x, g, k.params, be.base(col), g.P, g.N * g.P);
        // dy (N, G*Og, OH, OW) -> (G, Og, N, P)
        const s = k.dy.strides;
        const dyv: View = { ...k.dy, shape: [g.G, g.Og, g.N, g.OH, g.OW], strides: [g.Og * s[1]!, s[1]!, s[0]!, s[2]!, s[3]!] };
        be.elementwise({ op: "input", index: 0, dtype: "float32" }, [dyv], { ...dyP, shape: [g.G, g.Og, g.N, g.OH, g.OW], strides: contiguousStrides([g.G, g.Og, g.N, g.OH, g.OW]) });
        const K = g.N * g.P;
        const colT = view(col.buffer, [g.G, K, g.Cg * g.KK], [g.Cg * g.KK * K, 1, K]);
        be.matmul(view(dyP.buffer, [g.G, g.Og, K]), colT, outAs(k.out, [g.G, g.Og, g.Cg * g.KK]), undefined, []);
      } finally {
        be.free(col.buffer);
        be.free(dyP.buffer);
      }
      return;
    }
    case "maxPool2d":
    case "avgPool2d": {
      const max = k.kind === "maxPool2d";
      const [N, C, H, W] = k.x.shape as [number, number, number, number];
      const p = k.params;
      const OH = Math.floor((H + 2 * p.padding[0] - p.kernelSize[0]) / p.stride[0]) + 1;
      const OW = Math.floor((W + 2 * p.padding[1] - p.kernelSize[1]) / p.stride[1]) + 1;
      const want = [N, C, OH, OW];
      if (k.x.shape.length !== 4 || k.out.shape.some((d, i) => d !== want[i]) || k.x.dtype !== "float32") {
        throw new Error(`wasm backend: ${k.kind}: x [${k.x.shape}] (${k.x.dtype}) -> out [${k.out.shape}]: need float32 NCHW and out [${want}]`);
      }
      if (!isContiguous(k.out) || (max && !isContiguous((k as { indices: View }).indices))) {
        throw new Error(`wasm backend: ${k.kind}: out and indices must be contiguous`);
      }
      const rt = be.rt;
      const kern = rt.kernel(`pool|${max}`, () => buildPool(max ? "max" : "avg", rt.pages));
      const extra = k.kind === "maxPool2d" ? be.base(k.indices) : k.params.countIncludePad ? 1 : 0;
      const desc = rt.descriptor([
        be.base(k.x), C, H, W, ...k.x.strides, p.kernelSize[0], p.kernelSize[1], OH, OW, p.stride[0], p.stride[1],
        p.padding[0], p.padding[1], be.base(k.out), extra,
      ]);
      rt.run(kern, desc, N * C * OH, { minPerThread: Math.ceil(4096 / Math.max(1, OW)) });
      return;
    }
    case "gather":
    case "scatterAdd": {
      const gather = k.kind === "gather";
      const data = gather ? k.input : k.out;
      const other = gather ? k.out : k.src;
      const R = k.index.shape.length;
      const axis = k.axis < 0 ? k.axis + R : k.axis;
      if (data.shape.length !== R || other.shape.length !== R || k.index.dtype !== "int32" || axis < 0 || axis >= R ||
        other.shape.some((d, i) => d !== k.index.shape[i]) || data.dtype !== other.dtype) {
        throw new Error(
          `wasm backend: ${k.kind}: data [${data.shape}] (${data.dtype}), index [${k.index.shape}] (${k.index.dtype}), ` +
            `${gather ? "out" : "src"} [${other.shape}] (${other.dtype}), axis ${k.axis}: need equal ranks, int32 index of the same shape as ${gather ? "out" : "src"}`,
        );
      }
      const n = k.index.shape.reduce((a, b) => a * b, 1);
      if (n === 0) return;
      const rt = be.rt;
      const size = data.dtype === "bool" ? 1 : 4;
      const kern = rt.kernel(`${k.kind}|${data.dtype}`, () => buildGatherScatter(gather ? "gather" : "scatter", size, data.dtype === "float32", rt.pages));
      const err = rt.heap.alloc(4);
      try {
        rt.heap.i32()[err / 4] = 0;
        const desc = rt.descriptor([
          R, axis, be.base(data), be.base(k.index), be.base(other), err,
          ...k.index.shape, ...data.strides, ...k.index.strides, ...other.strides, data.shape[axis]!,
        ]);
        rt.run(kern, desc, n, gather ? { minPerThread: 1 << 15 } : { threads: 1 });
        if (rt.heap.i32()[err / 4] !== 0) {
          throw new RangeError(`wasm backend: ${k.kind}: index out of range for axis ${k.axis} of size ${data.shape[axis]} (data [${data.shape}])`);
        }
      } finally {
        rt.heap.free(err);
      }
      return;
    }
    default:
      throw new Error(`wasm backend: unknown kernel kind ${(k as { kind: string }).kind}`);
  }
}

/** The view itself if contiguous, else a contiguous float32 copy (owned: free it). */
function dense(be: WasmBackendImpl, v: View): [View, boolean] {
  if (isContiguous(v)) return [v, false];
  const t = be.temp("float32", v.shape);
  be.elementwise({ op: "input", index: 0, dtype: v.dtype }, [v], t);
  return [t, true];
}

/** The contiguous out view reinterpreted with another shape of the same size. */
function outAs(out: View, shape: number[]): View {
  if (!isContiguous(out)) throw new Error(`wasm backend: output [${out.shape}] must be contiguous`);
  return { ...out, shape, strides: contiguousStrides(shape) };
}
