// Matrix multiplication: C[b] (M, N) = A[b] (M, K) @ B[b] (K, N), float32, GotoBLAS-style.
//
// Letters: M, N, K = matrix dims; MR x NR = register tile (MR rows x NR = 8 columns, i.e.
// 2*MR f32x4 accumulators); KC = depth of a packed block; MC = rows of a packed A block.
//
// Loop nest of one work unit u = (batch b, column block jb of NC columns):
//   for pc in K by kcBlock:       pack B[pc:pc+kc, cols]  -> Bp: panels (NR cols) x kcp x NR
//     for ic in M by MC:          pack A[ic:ic+MC, pc:..] -> Ap: panels (MR rows) x kcp x MR
//       for jr in cols by NR:     (one B panel stays in L1)
//         for ir in rows by MR:   micro-kernel: kcp rank-1 updates of the MR x NR tile
// Packing reads A and B through arbitrary element strides, so transposed operands need no
// copy. Panels are zero-padded to whole MR/NR tiles and kcp = kc rounded up to 4, and edge
// tiles go through a scratch tile with the same micro-kernel: every C element is computed by
// the same chain of multiply-adds (over k in order, KC blocks in order) whichever tile or
// thread it lands in, so results are bit-identical for any thread count.
//
// The micro-kernel is a loop of single k steps (6 x 8 tile by default: 12 accumulators, 2 B
// vectors and one splatted A value = 15 of the 15 xmm registers V8 allocates on x64).
// Unrolling k looks cheaper but TurboFan then hoists every load of the unrolled body above
// the multiply-adds and spills accumulators to the stack (measured: 4x8 unrolled by 4 ran
// at 31 GFLOP/s, not unrolled 46, 6x8 not unrolled 50 on one core).
//
// The micro-kernel uses f32x4.relaxed_madd when the runtime validates it (a fused
// multiply-add on x86 with FMA3), else f32x4.mul + f32x4.add.
//
// Descriptor (i32 words): 0 M, 1 N, 2 K, 3 aRowStride, 4 aColStride, 5 bRowStride,
// 6 bColStride (elements), 7 C byte address, 8 ldc (elements), 9 column blocks per batch,
// 10 NC, 11 A batch table (byte address of i32 byte addresses), 12 B batch table,
// 13 C batch stride (bytes), 14 scratch base (bytes), 15 scratch bytes per thread,
// 16 K block depth (gemmBlockDepth).

import { F32, Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";

export const NR = 8;
/** Maximum depth of a packed block: a B panel (KC x NR) stays in L1, an A block (MC x KC)
 *  in L2. K is split into equal blocks of at most KC (kcBlock, see gemmBlockDepth), so no
 *  thin remainder block pays a full C reload. */
export const KC = 384;

/** Depth of each K block for a given K: equal blocks of at most KC, a multiple of 4. Depends
 *  only on K, so the summation order is the same for any thread count. */
export function gemmBlockDepth(K: number): number {
  const blocks = Math.max(1, Math.ceil(K / KC));
  return Math.ceil(Math.ceil(K / blocks) / 4) * 4;
}

export interface GemmConfig {
  mr: number;
  mc: number;
  fma: boolean;
  /** k steps per micro-kernel loop iteration (1, 2 or 4; kcp is a multiple of 4). */
  unroll?: number;
}

/** Scratch bytes one thread needs for a column block of nc columns. */
export function gemmScratchBytes(cfg: GemmConfig, nc: number): number {
  const ncp = Math.ceil(nc / NR) * NR;
  return cfg.mc * KC * 4 + KC * ncp * 4 + cfg.mr * NR * 4 + 64;
}

function micro(cfg: GemmConfig): Fn {
  // (a, b, kcp, c, ldcBytes, accumulate)
  const f = new Fn([I32, I32, I32, I32, I32, I32]);
  const a = 0, b = 1, kcp = 2, c = 3, ldc = 4, accum = 5;
  const MR = cfg.mr;
  const acc: number[] = [];
  for (let i = 0; i < MR * 2; i++) acc.push(f.local(V128));
  const b0 = f.local(V128), b1 = f.local(V128), av = f.local(V128), cr = f.local(I32);
  f.get(accum).if_();
  f.get(c).set(cr);
  for (let r = 0; r < MR; r++) {
    f.get(cr).vmem(S.load, 2, 0).set(acc[2 * r]!);
    f.get(cr).vmem(S.load, 2, 16).set(acc[2 * r + 1]!);
    if (r < MR - 1) f.get(cr).get(ldc).op(O.i32_add).set(cr);
  }
  f.else_();
  for (let i = 0; i < MR * 2; i++) f.i32x4(0).set(acc[i]!);
  f.end();
  f.block().loop();
  f.get(kcp).op(O.i32_eqz).brIf(1);
  const U = cfg.unroll ?? 1;
  for (let u = 0; u < U; u++) {
    f.get(b).vmem(S.load, 2, u * NR * 4).set(b0);
    f.get(b).vmem(S.load, 2, u * NR * 4 + 16).set(b1);
    for (let r = 0; r < MR; r++) {
      f.get(a).vmem(S.load32_splat, 2, (u * MR + r) * 4).set(av);
      for (let h = 0; h < 2; h++) {
        const t = acc[2 * r + h]!;
        if (cfg.fma) f.get(av).get(h ? b1 : b0).get(t).v(S.f32x4_relaxed_madd).set(t);
        else f.get(av).get(h ? b1 : b0).v(S.f32x4_mul).get(t).v(S.f32x4_add).set(t);
      }
    }
  }
  f.get(a).i32(U * MR * 4).op(O.i32_add).set(a);
  f.get(b).i32(U * NR * 4).op(O.i32_add).set(b);
  f.get(kcp).i32(U).op(O.i32_sub).set(kcp);
  f.br(0).end().end();
  f.get(c).set(cr);
  for (let r = 0; r < MR; r++) {
    f.get(cr).get(acc[2 * r]!).vmem(S.store, 2, 0);
    f.get(cr).get(acc[2 * r + 1]!).vmem(S.store, 2, 16);
    if (r < MR - 1) f.get(cr).get(ldc).op(O.i32_add).set(cr);
  }
  return f;
}

/**
 * Emits the vector part of packing one panel row or column: while k + 4 <= kc, load 4
 * contiguous floats at `sp` and store them `width` floats apart from `dp` (a k step in a
 * panel of that width); advances sp, dp and k. The caller copies the k < kc tail.
 */
function copyColumn4(f: Fn, sp: number, dp: number, k: number, kc: number, v: number, width: number): void {
  f.block().loop();
  f.get(k).i32(4).op(O.i32_add).get(kc).op(O.i32_gt_s).brIf(1);
  f.get(sp).vmem(S.load, 0).set(v);
  for (let l = 0; l < 4; l++) f.get(dp).get(v).vlane(S.store32_lane, 0, l * width * 4, l);
  f.get(sp).i32(16).op(O.i32_add).set(sp);
  f.get(dp).i32(4 * width * 4).op(O.i32_add).set(dp);
  f.get(k).i32(4).op(O.i32_add).set(k);
  f.br(0).end().end();
}

/** packA(src, mc, kc, kcp, rowStrideBytes, colStrideBytes, dst): MR-row panels, zero padded. */
function packA(MR: number): Fn {
  const f = new Fn([I32, I32, I32, I32, I32, I32, I32]);
  const src = 0, mc = 1, kc = 2, kcp = 3, rs = 4, cs = 5, dst = 6;
  const ir = f.local(I32), r = f.local(I32), k = f.local(I32), sp = f.local(I32), dp = f.local(I32);
  const v = f.local(V128);
  f.forRange(ir, () => f.i32(0), () => f.get(mc), MR, () => {
    f.forRange(r, () => f.i32(0), () => f.i32(MR), 1, () => {
      // dp = dst + (ir * kcp + r) * 4; rows step by MR*4 bytes per k
      f.get(dst).get(ir).get(kcp).op(O.i32_mul).get(r).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(dp);
      f.get(ir).get(r).op(O.i32_add).get(mc).op(O.i32_lt_s).if_();
      f.get(src).get(ir).get(r).op(O.i32_add).get(rs).op(O.i32_mul).op(O.i32_add).set(sp);
      f.i32(0).set(k);
      // row-major A (unit column stride): 4 k per v128 load, lanes stored MR floats apart
      f.get(cs).i32(4).op(O.i32_eq).if_();
      copyColumn4(f, sp, dp, k, kc, v, MR);
      f.end();
      f.forRange(k, () => f.get(k), () => f.get(kc), 1, () => {
        f.get(dp).get(sp).mem(O.f32_load, 2).mem(O.f32_store, 2);
        f.get(sp).get(cs).op(O.i32_add).set(sp);
        f.get(dp).i32(MR * 4).op(O.i32_add).set(dp);
      });
      f.forRange(k, () => f.get(kc), () => f.get(kcp), 1, () => {
        f.get(dp).f32(0).mem(O.f32_store, 2);
        f.get(dp).i32(MR * 4).op(O.i32_add).set(dp);
      });
      f.else_();
      f.forRange(k, () => f.i32(0), () => f.get(kcp), 1, () => {
        f.get(dp).f32(0).mem(O.f32_store, 2);
        f.get(dp).i32(MR * 4).op(O.i32_add).set(dp);
      });
      f.end();
    });
  });
  return f;
}

/** packB(src, nc, kc, kcp, rowStrideBytes, colStrideBytes, dst): NR-column panels. */
function packB(): Fn {
  const f = new Fn([I32, I32, I32, I32, I32, I32, I32]);
  const src = 0, nc = 1, kc = 2, kcp = 3, rs = 4, cs = 5, dst = 6;
  const jr = f.local(I32), k = f.local(I32), c = f.local(I32), sp = f.local(I32), dp = f.local(I32);
  const dc = f.local(I32), v = f.local(V128);
  f.forRange(jr, () => f.i32(0), () => f.get(nc), NR, () => {
    f.get(dst).get(jr).get(kcp).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add).set(dp);
    // Transposed B (unit row stride), whole panel: each panel column is contiguous in k, so
    // read it 4 k at a time and scatter the lanes down the panel (stride NR floats).
    f.get(rs).i32(4).op(O.i32_eq).get(jr).i32(NR).op(O.i32_add).get(nc).op(O.i32_le_s).op(O.i32_and).if_();
    f.forRange(c, () => f.i32(0), () => f.i32(NR), 1, () => {
      f.get(src).get(jr).get(c).op(O.i32_add).get(cs).op(O.i32_mul).op(O.i32_add).set(sp);
      f.get(dp).get(c).i32(4).op(O.i32_mul).op(O.i32_add).set(dc);
      f.i32(0).set(k);
      copyColumn4(f, sp, dc, k, kc, v, NR);
      f.forRange(k, () => f.get(k), () => f.get(kc), 1, () => {
        f.get(dc).get(sp).mem(O.f32_load, 2).mem(O.f32_store, 2);
        f.get(sp).i32(4).op(O.i32_add).set(sp);
        f.get(dc).i32(NR * 4).op(O.i32_add).set(dc);
      });
    });
    // zero rows kc..kcp
    f.forRange(k, () => f.get(kc), () => f.get(kcp), 1, () => {
      f.get(dp).get(k).i32(NR * 4).op(O.i32_mul).op(O.i32_add).set(dc);
      f.get(dc).i32x4(0).vmem(S.store, 2);
      f.get(dc).i32x4(0).vmem(S.store, 2, 16);
    });
    f.else_();
    // Row-major B (unit column stride), whole panel: one tight loop of two v128 copies per k.
    f.get(cs).i32(4).op(O.i32_eq).get(jr).i32(NR).op(O.i32_add).get(nc).op(O.i32_le_s).op(O.i32_and).if_();
    f.get(src).get(jr).i32(4).op(O.i32_mul).op(O.i32_add).set(sp);
    f.get(dp).set(dc);
    f.forRange(k, () => f.i32(0), () => f.get(kc), 1, () => {
      f.get(dc).get(sp).vmem(S.load, 0).vmem(S.store, 2);
      f.get(dc).get(sp).vmem(S.load, 0, 16).vmem(S.store, 2, 16);
      f.get(sp).get(rs).op(O.i32_add).set(sp);
      f.get(dc).i32(NR * 4).op(O.i32_add).set(dc);
    });
    f.forRange(k, () => f.get(kc), () => f.get(kcp), 1, () => {
      f.get(dc).i32x4(0).vmem(S.store, 2);
      f.get(dc).i32x4(0).vmem(S.store, 2, 16);
      f.get(dc).i32(NR * 4).op(O.i32_add).set(dc);
    });
    f.else_();
    f.forRange(k, () => f.i32(0), () => f.get(kcp), 1, () => {
      f.get(src).get(k).get(rs).op(O.i32_mul).op(O.i32_add).get(jr).get(cs).op(O.i32_mul).op(O.i32_add).set(sp);
      // fast path: unit column stride, whole panel, k inside the block
      f.get(cs).i32(4).op(O.i32_eq).get(jr).i32(NR).op(O.i32_add).get(nc).op(O.i32_le_s).op(O.i32_and);
      f.get(k).get(kc).op(O.i32_lt_s).op(O.i32_and).if_();
      f.get(dp).get(sp).vmem(S.load, 0).vmem(S.store, 2);
      f.get(dp).get(sp).vmem(S.load, 0, 16).vmem(S.store, 2, 16);
      f.else_();
      f.forRange(c, () => f.i32(0), () => f.i32(NR), 1, () => {
        f.get(dp).get(c).i32(4).op(O.i32_mul).op(O.i32_add);
        f.get(jr).get(c).op(O.i32_add).get(nc).op(O.i32_lt_s).get(k).get(kc).op(O.i32_lt_s).op(O.i32_and).if_(F32);
        f.get(sp).get(c).get(cs).op(O.i32_mul).op(O.i32_add).mem(O.f32_load, 2);
        f.else_();
        f.f32(0);
        f.end();
        f.mem(O.f32_store, 2);
      });
      f.end();
      f.get(dp).i32(NR * 4).op(O.i32_add).set(dp);
    });
    f.end();
    f.end();
  });
  return f;
}

/** copyTile(src, srcStrideBytes, dst, dstStrideBytes, rows, cols): f32 rectangle copy. */
function copyTile(): Fn {
  const f = new Fn([I32, I32, I32, I32, I32, I32]);
  const src = 0, ss = 1, dst = 2, ds = 3, rows = 4, cols = 5;
  const r = f.local(I32), c = f.local(I32);
  f.forRange(r, () => f.i32(0), () => f.get(rows), 1, () => {
    f.forRange(c, () => f.i32(0), () => f.get(cols), 1, () => {
      f.get(dst).get(r).get(ds).op(O.i32_mul).op(O.i32_add).get(c).i32(4).op(O.i32_mul).op(O.i32_add);
      f.get(src).get(r).get(ss).op(O.i32_mul).op(O.i32_add).get(c).i32(4).op(O.i32_mul).op(O.i32_add);
      f.mem(O.f32_load, 2).mem(O.f32_store, 2);
    });
  });
  return f;
}

export function buildGemm(cfg: GemmConfig, pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const MR = cfg.mr, MC = cfg.mc;
  const fMicro = mod.add(micro(cfg));
  const fPackA = mod.add(packA(MR));
  const fPackB = mod.add(packB());
  const fCopy = mod.add(copyTile());
  const f = new Fn([I32, I32, I32, I32]);
  const desc = 0, start = 1, end = 2, tid = 3;
  const L = (_: number) => f.local(I32);
  const M = L(0), N = L(0), K = L(0), ars = L(0), acs = L(0), brs = L(0), bcs = L(0), cPtr = L(0), ldc = L(0);
  const nJc = L(0), NC = L(0), aTab = L(0), bTab = L(0), cBatch = L(0), scratch = L(0);
  const u = L(0), bi = L(0), jb = L(0), aBase = L(0), bBase = L(0), cBase = L(0), j0 = L(0), nc = L(0);
  const pc = L(0), kc = L(0), kcp = L(0), ic = L(0), mc = L(0), jr = L(0), ir = L(0), cp = L(0);
  const Ap = L(0), Bp = L(0), tile = L(0), rows = L(0), cols = L(0), first = L(0), kcb = L(0);
  const aSrc = L(0), lastA = L(0), lastMc = L(0), lastKc = L(0);
  const params = [M, N, K, ars, acs, brs, bcs, cPtr, ldc, nJc, NC, aTab, bTab, cBatch, scratch];
  params.forEach((p, w) => f.get(desc).mem(O.i32_load, 2, w * 4).set(p));
  f.get(desc).mem(O.i32_load, 2, 16 * 4).set(kcb);
  f.i32(-1).set(lastA); // nothing packed yet
  // byte strides
  for (const s of [ars, acs, brs, bcs, ldc]) f.get(s).i32(4).op(O.i32_mul).set(s);
  // per-thread scratch: Ap (MC*KC), Bp (KC*NCp), tile (MR*NR)
  f.get(scratch).get(tid).get(desc).mem(O.i32_load, 2, 15 * 4).op(O.i32_mul).op(O.i32_add).set(Ap);
  f.get(Ap).i32(MC * KC * 4).op(O.i32_add).set(Bp);
  f.get(Bp).get(NC).i32(NR - 1).op(O.i32_add).i32(-NR).op(O.i32_and).i32(KC * 4).op(O.i32_mul).op(O.i32_add).set(tile);
  f.forRange(u, () => f.get(start), () => f.get(end), 1, () => {
    f.get(u).get(nJc).op(O.i32_div_u).set(bi);
    f.get(u).get(bi).get(nJc).op(O.i32_mul).op(O.i32_sub).set(jb);
    f.get(aTab).get(bi).i32(4).op(O.i32_mul).op(O.i32_add).mem(O.i32_load, 2).set(aBase);
    f.get(bTab).get(bi).i32(4).op(O.i32_mul).op(O.i32_add).mem(O.i32_load, 2).set(bBase);
    f.get(cPtr).get(bi).get(cBatch).op(O.i32_mul).op(O.i32_add).set(cBase);
    f.get(jb).get(NC).op(O.i32_mul).set(j0);
    // nc = min(NC, N - j0)
    f.get(NC).get(N).get(j0).op(O.i32_sub).get(NC).get(N).get(j0).op(O.i32_sub).op(O.i32_lt_s).op(O.select).set(nc);
    f.i32(0).set(pc);
    f.block().loop();
    f.get(pc).get(K).op(O.i32_ge_s).brIf(1);
    {
      f.get(kcb).get(K).get(pc).op(O.i32_sub).get(kcb).get(K).get(pc).op(O.i32_sub).op(O.i32_lt_s).op(O.select).set(kc);
      f.get(kc).i32(3).op(O.i32_add).i32(-4).op(O.i32_and).set(kcp);
      f.get(pc).i32(0).op(O.i32_gt_s).set(first);
      // pack B block at (pc, j0)
      f.get(bBase).get(pc).get(brs).op(O.i32_mul).op(O.i32_add).get(j0).get(bcs).op(O.i32_mul).op(O.i32_add);
      f.get(nc).get(kc).get(kcp).get(brs).get(bcs).get(Bp).call(fPackB);
      f.forRange(ic, () => f.i32(0), () => f.get(M), MC, () => {
        f.i32(MC).get(M).get(ic).op(O.i32_sub).i32(MC).get(M).get(ic).op(O.i32_sub).op(O.i32_lt_s).op(O.select).set(mc);
        // The packed A block depends only on (source address, mc, kc): a broadcast A (conv's
        // weights over the batch) is packed once per thread, not once per work unit.
        f.get(aBase).get(ic).get(ars).op(O.i32_mul).op(O.i32_add).get(pc).get(acs).op(O.i32_mul).op(O.i32_add).set(aSrc);
        f.get(aSrc).get(lastA).op(O.i32_ne).get(mc).get(lastMc).op(O.i32_ne).op(O.i32_or).get(kc).get(lastKc).op(O.i32_ne).op(O.i32_or).if_();
        f.get(aSrc).get(mc).get(kc).get(kcp).get(ars).get(acs).get(Ap).call(fPackA);
        f.get(aSrc).set(lastA);
        f.get(mc).set(lastMc);
        f.get(kc).set(lastKc);
        f.end();
        f.forRange(jr, () => f.i32(0), () => f.get(nc), NR, () => {
          f.forRange(ir, () => f.i32(0), () => f.get(mc), MR, () => {
            // cp = cBase + (ic + ir) * ldcBytes + (j0 + jr) * 4
            f.get(cBase).get(ic).get(ir).op(O.i32_add).get(ldc).op(O.i32_mul).op(O.i32_add);
            f.get(j0).get(jr).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(cp);
            f.get(ir).i32(MR).op(O.i32_add).get(mc).op(O.i32_le_s).get(jr).i32(NR).op(O.i32_add).get(nc).op(O.i32_le_s).op(O.i32_and);
            f.if_();
            f.get(Ap).get(ir).get(kcp).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add);
            f.get(Bp).get(jr).get(kcp).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add);
            f.get(kcp).get(cp).get(ldc).get(first).call(fMicro);
            f.else_();
            f.get(mc).get(ir).op(O.i32_sub).i32(MR).get(mc).get(ir).op(O.i32_sub).i32(MR).op(O.i32_lt_s).op(O.select).set(rows);
            f.get(nc).get(jr).op(O.i32_sub).i32(NR).get(nc).get(jr).op(O.i32_sub).i32(NR).op(O.i32_lt_s).op(O.select).set(cols);
            f.get(first).if_();
            f.get(cp).get(ldc).get(tile).i32(NR * 4).get(rows).get(cols).call(fCopy);
            f.end();
            f.get(Ap).get(ir).get(kcp).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add);
            f.get(Bp).get(jr).get(kcp).op(O.i32_mul).i32(4).op(O.i32_mul).op(O.i32_add);
            f.get(kcp).get(tile).i32(NR * 4).get(first).call(fMicro);
            f.get(tile).i32(NR * 4).get(cp).get(ldc).get(rows).get(cols).call(fCopy);
            f.end();
          });
        });
      });
    }
    f.get(pc).get(kcb).op(O.i32_add).set(pc);
    f.br(0).end().end();
  });
  mod.add(f, "run");
  return mod;
}
