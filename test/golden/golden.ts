// Reading the golden fixtures (test/golden/fixtures/*.json, written by generate.py from
// PyTorch) and comparing tensorbook's results with them.
//
// Fixture values: a tensor is {dtype, shape, data} with data the base64 of little-endian
// float32 / int32 bytes or one byte per bool, so NaN, +-inf, -0 and denormals arrive
// exactly; a number is a JSON number or "nan" / "inf" / "-inf" / "-0".
//
// Closeness of one float element (the tolerance of each op family is in ops.ts):
//   expected NaN      -> got NaN
//   expected +-inf    -> got exactly that infinity
//   expected finite   -> |got - want| <= ulps * ulp(want) + scaled * eps * sqrt(n) * S
//                        (and, with signedZeros, a zero of the same sign)
// where eps = 2^-23, n bounds the length of the sums behind the element and S is the size
// of the terms those sums add: given by the fixture (PyTorch's op on |inputs|), given by
// the caller, or else the largest finite |want| in the element's row along the last axis.
// int32 and bool elements must be equal.

import { readFileSync } from "node:fs";
import * as tb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";

export type Num = number | "nan" | "inf" | "-inf" | "-0";

export interface TensorRecord {
  dtype: "float32" | "int32" | "bool";
  shape: number[];
  data: string;
}

/** Any value of a fixture: tensors, numbers, strings, booleans, null, arrays, objects. */
export type FixtureValue = TensorRecord | Num | string | boolean | null | FixtureValue[] | { [key: string]: FixtureValue };

/** A fixture file, parsed. */
export function loadFixture<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8")) as T;
}

export function isTensorRecord(v: unknown): v is TensorRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as TensorRecord).data === "string" && Array.isArray((v as TensorRecord).shape);
}

/** The values of a tensor record as a typed array of its dtype (Uint8Array for bool). */
export function decodeArray(r: TensorRecord): Float32Array | Int32Array | Uint8Array {
  const bytes = Buffer.from(r.data, "base64");
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (r.dtype === "float32") return new Float32Array(copy.buffer);
  if (r.dtype === "int32") return new Int32Array(copy.buffer);
  return copy;
}

/** A tensor record as a tensor on the current backend. */
export function toTensor(r: TensorRecord): Tensor {
  return tb.tensor(decodeArray(r), { shape: r.shape, dtype: r.dtype });
}

export function decodeNum(v: Num): number {
  return v === "nan" ? NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === "-0" ? -0 : v;
}

/** A fixture value with every tensor record made a tensor (current backend) and every
 *  spelled-out number a number. */
export function decode(v: FixtureValue): unknown {
  if (v === "nan" || v === "inf" || v === "-inf" || v === "-0") return decodeNum(v);
  if (Array.isArray(v)) return v.map(decode);
  if (isTensorRecord(v)) return toTensor(v);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  return v;
}

// ---------------------------------------------------------------------------------------
// Backends: every case runs on both, in the same run.

const wasm = tb.getBackend();
const reference = new tb.ReferenceBackend();

/** The two backends by name: the WebAssembly one (the default) and the TypeScript oracle. */
export const backends: readonly (readonly [string, tb.Backend])[] = [["wasm", wasm], ["reference", reference]];

// ---------------------------------------------------------------------------------------
// Comparing

export const EPS = 2 ** -23;

export interface Tolerance {
  /** Units in the last place of the expected value. */
  ulps: number;
  /** Multiple of eps * sqrt(n) * S (see the header); 0 or absent: none. */
  scaled?: number;
  /** The sign of a zero result must match (where PyTorch's sign is meaningful). */
  signedZeros?: boolean;
}

export const EXACT: Tolerance = { ulps: 0, signedZeros: true };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The gap from |x| (a float32) to the next float32 away from zero. */
export function ulp(x: number): number {
  const a = Math.abs(Math.fround(x));
  f32[0] = a;
  if (u32[0]! >= 0x7f7fffff) return 2 ** 104; // the gap below float32 max
  u32[0]! += 1;
  return f32[0]! - a;
}

/** A number as text that tells NaN, +-inf, -0 and every float32 apart. */
export function fmt(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

/** Row-major multi-index of flat position i in shape. */
export function multiIndex(i: number, shape: readonly number[]): number[] {
  const idx: number[] = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** The largest finite |v| of each row along the last axis, for every element. */
export function rowScale(want: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const n = want.length;
  const row = shape.length ? Math.max(1, shape[shape.length - 1]!) : 1;
  const s = new Float64Array(n);
  for (let r = 0; r < n; r += row) {
    let m = 0;
    for (let i = r; i < Math.min(n, r + row); i++) {
      const a = Math.abs(want[i]!);
      if (Number.isFinite(a) && a > m) m = a;
    }
    s.fill(m, r, Math.min(n, r + row));
  }
  return s;
}

export interface CompareOptions {
  tol: Tolerance;
  /** Accumulation length bound for the scaled term (1 for elementwise ops). */
  n?: number;
  /** Per-element S; default: the fixture's scale record, else rowScale of want. */
  scale?: ArrayLike<number> | null;
  /** Extra text for a failing element i (e.g. the inputs there). */
  at?: (i: number) => string;
}

/** Compares a tensor with an expected record; returns a description of the mismatches
 *  (empty when they agree): shape, dtype, then up to 5 differing elements. */
export function compare(what: string, got: Tensor | null | undefined, want: TensorRecord, o: CompareOptions): string[] {
  if (!got) return [`${what}: expected a ${want.dtype}[${want.shape}] tensor, got ${String(got)}`];
  if (JSON.stringify(got.shape) !== JSON.stringify(want.shape)) return [`${what}: shape [${got.shape}] expected [${want.shape}]`];
  if (got.dtype !== want.dtype) return [`${what}: dtype ${got.dtype} expected ${want.dtype}`];
  const g = got.dataSync();
  const w = decodeArray(want);
  const errs: string[] = [];
  let count = 0;
  const isFloat = want.dtype === "float32";
  const scale = isFloat ? (o.scale ?? rowScale(w, want.shape)) : null;
  const sq = Math.sqrt(Math.max(1, o.n ?? 1));
  for (let i = 0; i < w.length; i++) {
    const a = g[i]!;
    const b = w[i]!;
    let ok: boolean;
    let tolText = "";
    if (!isFloat) ok = a === b;
    else if (Number.isNaN(b)) ok = Number.isNaN(a);
    else if (!Number.isFinite(b)) ok = a === b;
    else {
      const s = scale![i]!;
      const tol = o.tol.ulps * ulp(b) + (o.tol.scaled ?? 0) * EPS * sq * (Number.isNaN(s) ? 0 : s);
      ok = Math.abs(a - b) <= tol && (!o.tol.signedZeros || b !== 0 || Object.is(a, b));
      tolText = ` (|diff| ${fmt(Math.abs(a - b))}, tolerance ${fmt(tol)}${b === 0 && o.tol.signedZeros ? ", zero sign checked" : ""})`;
    }
    if (!ok) {
      if (count < 5) {
        errs.push(`${what}[${multiIndex(i, want.shape)}] (flat ${i}): expected ${fmt(b)}, got ${fmt(a)}${tolText}${o.at ? `; ${o.at(i)}` : ""}`);
      }
      count++;
    }
  }
  if (count > 5) errs.push(`${what}: ${count - 5} more of ${w.length} elements differ`);
  return errs;
}

/** The values of a (decoded) input at flat position i, for failure messages: the element
 *  when shapes match the output, the whole input when small, else its shape. */
export function describeInputs(args: readonly unknown[], outShape: readonly number[]): (i: number) => string {
  const shown = args.map((a) => (a instanceof tb.Tensor ? { t: a, d: a.dataSync() } : a));
  return (i: number) =>
    "inputs " +
    shown
      .map((a, k) => {
        if (a && typeof a === "object" && "t" in a) {
          const { t, d } = a as { t: Tensor; d: ArrayLike<number> };
          if (JSON.stringify(t.shape) === JSON.stringify(outShape)) return `arg${k}=${fmt(d[i]!)}`;
          if (d.length <= 16) return `arg${k}=[${Array.from(d, fmt).join(", ")}]`;
          return `arg${k}=${t.dtype}[${t.shape}]`;
        }
        return `arg${k}=${typeof a === "number" ? fmt(a) : JSON.stringify(a)}`;
      })
      .join(" ");
}

/** Throws one error listing every mismatch, if any. */
export function assertNoMismatch(title: string, errs: string[]): void {
  if (errs.length) throw new Error(`${title}\n  ${errs.join("\n  ")}`);
}
