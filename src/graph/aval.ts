// Abstract values: the shape and dtype every edge of a graph carries.

import type { DType } from "../backend/backend.js";

export interface Aval {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export function sameAval(a: Aval, b: Aval): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

const shortDType: Record<DType, string> = { float32: "f32", int32: "i32", bool: "bool" };

/** `f32[128,784]`: the type written on every edge and binder. */
export function avalText(a: Aval): string {
  return `${shortDType[a.dtype]}[${a.shape.join(",")}]`;
}

export function sizeOfAval(a: Aval): number {
  return a.shape.reduce((p, d) => p * d, 1);
}

/** Bytes of one value of this aval (bool is one byte, as in backend storage). */
export function bytesOfAval(a: Aval): number {
  return sizeOfAval(a) * (a.dtype === "bool" ? 1 : 4);
}

/** The shortest decimal that reads back as the same float32 (0.1, not 0.10000000149011612). */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  for (let p = 1; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}
