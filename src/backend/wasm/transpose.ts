// Blocked 2-D transpose of 4-byte elements: dst[r, c] (rows x cols, contiguous) =
// src[r + c * ld] (a column-major source: unit stride along r, ld along c).
//
// Elementwise kernels walk their output in row-major order; an input read through a
// transposed view (inner stride ld, outer stride 1) then costs four lane loads from four
// cache lines per vector. Copying such an input first through this kernel reads every
// source cache line once: a work unit is a block of 16 rows (one 64-byte line of the
// source column), swept across all columns 4 at a time with 4x4 shuffle transposes
// (4 v128 loads, 8 shuffles, 4 v128 stores). Ragged edges (rows or cols not a multiple
// of 4) are copied element by element.
//
// Descriptor (i32 words): 0 src byte address, 1 dst byte address, 2 rows, 3 cols,
// 4 ld (elements). Work units: ceil(rows / 16) row blocks.

import { Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";

export const TRANSPOSE_ROWS_PER_UNIT = 16;

/** i8x16.shuffle of two f32x4 operands by f32 lane indices (0..3 first, 4..7 second). */
function shuffle32(f: Fn, lanes: [number, number, number, number]): void {
  f.v(S.shuffle);
  for (const l of lanes) for (let b = 0; b < 4; b++) f.op(l * 4 + b);
}

export function buildTranspose(pages: { initial: number; maximum: number }): ModuleBuilder {
  const mod = new ModuleBuilder(pages);
  const f = new Fn([I32, I32, I32, I32]);
  const desc = 0, start = 1, end = 2;
  const src = f.local(I32), dst = f.local(I32), rows = f.local(I32), cols = f.local(I32), ld = f.local(I32);
  const u = f.local(I32), r0 = f.local(I32), r1 = f.local(I32), r = f.local(I32), c = f.local(I32), c4 = f.local(I32);
  const sp = f.local(I32), dp = f.local(I32), rr = f.local(I32), cc = f.local(I32), dstRow = f.local(I32);
  const v = [0, 1, 2, 3].map(() => f.local(V128));
  const t = [0, 1, 2, 3].map(() => f.local(V128));
  [src, dst, rows, cols, ld].forEach((l, w) => f.get(desc).mem(O.i32_load, 2, w * 4).set(l));
  f.get(ld).i32(4).op(O.i32_mul).set(ld); // bytes between source columns
  f.get(cols).i32(-4).op(O.i32_and).set(c4); // columns in whole 4-blocks
  // scalar copy of rows [ra, rb) x cols [ca, cb)
  const scalar = (ra: () => void, rb: () => void, ca: () => void, cb: () => void) => {
    f.forRange(rr, ra, rb, 1, () => {
      f.forRange(cc, ca, cb, 1, () => {
        f.get(dst).get(rr).get(cols).op(O.i32_mul).get(cc).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add);
        f.get(src).get(rr).i32(4).op(O.i32_mul).op(O.i32_add).get(cc).get(ld).op(O.i32_mul).op(O.i32_add);
        f.mem(O.f32_load, 2).mem(O.f32_store, 2);
      });
    });
  };
  f.forRange(u, () => f.get(start), () => f.get(end), 1, () => {
    f.get(u).i32(TRANSPOSE_ROWS_PER_UNIT).op(O.i32_mul).set(r0);
    // r1 = min(r0 + 16, rows); whole 4-row groups end at r0 + ((r1 - r0) & ~3)
    f.get(r0).i32(TRANSPOSE_ROWS_PER_UNIT).op(O.i32_add).get(rows).get(r0).i32(TRANSPOSE_ROWS_PER_UNIT).op(O.i32_add)
      .get(rows).op(O.i32_lt_s).op(O.select).set(r1);
    f.forRange(c, () => f.i32(0), () => f.get(c4), 4, () => {
      f.forRange(r, () => f.get(r0), () => f.get(r0).get(r1).get(r0).op(O.i32_sub).i32(-4).op(O.i32_and).op(O.i32_add), 4, () => {
        // v[j] = src[r..r+3, c+j]
        f.get(src).get(r).i32(4).op(O.i32_mul).op(O.i32_add).get(c).get(ld).op(O.i32_mul).op(O.i32_add).set(sp);
        for (let j = 0; j < 4; j++) {
          f.get(sp).vmem(S.load, 2).set(v[j]!);
          if (j < 3) f.get(sp).get(ld).op(O.i32_add).set(sp);
        }
        f.get(v[0]!).get(v[1]!); shuffle32(f, [0, 4, 1, 5]); f.set(t[0]!);
        f.get(v[0]!).get(v[1]!); shuffle32(f, [2, 6, 3, 7]); f.set(t[1]!);
        f.get(v[2]!).get(v[3]!); shuffle32(f, [0, 4, 1, 5]); f.set(t[2]!);
        f.get(v[2]!).get(v[3]!); shuffle32(f, [2, 6, 3, 7]); f.set(t[3]!);
        f.get(cols).i32(4).op(O.i32_mul).set(dstRow);
        f.get(dst).get(r).get(cols).op(O.i32_mul).get(c).op(O.i32_add).i32(4).op(O.i32_mul).op(O.i32_add).set(dp);
        const rowsOut: [number, [number, number, number, number]][] = [[0, [0, 1, 4, 5]], [0, [2, 3, 6, 7]], [1, [0, 1, 4, 5]], [1, [2, 3, 6, 7]]];
        rowsOut.forEach(([half, lanes], i) => {
          f.get(dp).get(t[half]!).get(t[half + 2]!);
          shuffle32(f, lanes);
          f.vmem(S.store, 2);
          if (i < 3) f.get(dp).get(dstRow).op(O.i32_add).set(dp);
        });
      });
    });
    // ragged rows of the block (whole 4-column part), then ragged columns (all rows of the block)
    scalar(() => f.get(r0).get(r1).get(r0).op(O.i32_sub).i32(-4).op(O.i32_and).op(O.i32_add), () => f.get(r1), () => f.i32(0), () => f.get(c4));
    scalar(() => f.get(r0), () => f.get(r1), () => f.get(c4), () => f.get(cols));
  });
  mod.add(f, "run");
  return mod;
}

/** Descriptor words for a transpose of a source at byte address src into dst. */
export function transposeDescriptor(src: number, dst: number, rows: number, cols: number, ld: number): number[] {
  return [src, dst, rows, cols, ld];
}
