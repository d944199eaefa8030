// Shared helpers for the wasm backend tests: tensors in and out of a backend, plain-loop
// oracles over strided views, and NumPy (Debian's /usr/bin/python3) as an oracle.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import type { AnyTypedArray, Backend, DType, ScalarExpr, UnaryScalarOp, View } from "../../src/backend/backend.js";
import { contiguousStrides } from "../../src/backend/wasm/index.js";

export const PYTHON = process.env["TENSORBOOK_PYTHON"] ?? "/usr/bin/python3";

/** A deterministic pseudo-random stream (xorshift32) so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function randn(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return out;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uploads data as a contiguous view of shape. */
export function upload(be: Backend, data: AnyTypedArray, shape: number[], dtype: DType = "float32"): View {
  const bytes = data.length * (dtype === "bool" ? 1 : 4);
  const buffer = be.allocate(bytes);
  if (data.length) be.write(buffer, dtype, 0, data);
  return { buffer, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

export function empty(be: Backend, shape: number[], dtype: DType = "float32"): View {
  const n = size(shape);
  const buffer = be.allocate(n * (dtype === "bool" ? 1 : 4));
  return { buffer, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

export function download(be: Backend, v: View): AnyTypedArray {
  return be.read(v.buffer, v.dtype, v.offset, size(v.shape));
}

/** Element of a strided view of a flat array, by multi-index. */
export function at(data: ArrayLike<number>, v: View, idx: readonly number[]): number {
  let o = v.offset;
  for (let d = 0; d < idx.length; d++) o += idx[d]! * v.strides[d]!;
  return data[o]!;
}

/** Calls fn for every multi-index of shape, in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (idx: number[], flat: number) => void): void {
  const n = size(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    fn(idx, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

export const inp = (index: number, dtype: DType = "float32"): ScalarExpr => ({ op: "input", index, dtype });

/** One elementwise float32 kernel of a unary op over xs on backend be; returns its result. */
export function applyUnary(be: Backend, op: UnaryScalarOp, xs: Float32Array): Float32Array {
  const v = upload(be, xs, [xs.length]);
  const out = empty(be, [xs.length]);
  const expr: ScalarExpr = { op, x: inp(0), dtype: "float32" };
  be.dispatch({ kind: "elementwise", expr, inputs: [v], out });
  const r = download(be, out) as Float32Array;
  be.free(v.buffer);
  be.free(out.buffer);
  return r;
}

/** Runs a NumPy program: `arrays` become float32/int32 numpy arrays named in the program,
 *  which must assign `out` (an array); returns out flattened as float64 numbers. */
export function numpy(program: string, arrays: Record<string, { data: ArrayLike<number>; shape: number[]; dtype?: string }>): number[] {
  const payload = JSON.stringify(
    Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, { data: Array.from(a.data), shape: a.shape, dtype: a.dtype ?? "float32" }])),
  );
  const script = `
import json, sys
import numpy as np
_a = json.loads(sys.stdin.read())
g = {"np": np}
for k, v in _a.items():
    g[k] = np.array(v["data"], dtype=v["dtype"]).reshape(v["shape"])
exec(${JSON.stringify(program)}, g)
print(json.dumps([float(x) for x in np.asarray(g["out"], dtype=np.float64).ravel()]))
`;
  const out = execFileSync(PYTHON, ["-c", script], { input: payload, maxBuffer: 1 << 28 });
  return JSON.parse(out.toString()) as number[];
}

/** Max |a - b| / (atol + rtol |b|) over elements; <= 1 means close. */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    const r = Math.abs(x - y) / (atol + rtol * Math.abs(y));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

/** Transpiles the wasm backend (and what it imports) to plain ESM in a temp dir, so a child
 *  `node` process can load it (for runtime flags and process-exit checks). Returns the dir;
 *  the backend is at <dir>/backend/wasm/index.js. */
export function transpileBackend(): string {
  const dir = mkdtempSync(join(tmpdir(), "tb-wasm-"));
  const src = new URL("../../src/", import.meta.url);
  const files = ["backend/backend.ts", "random/philox.ts", ...readdirSync(new URL("backend/wasm/", src)).map((f) => `backend/wasm/${f}`)];
  for (const d of ["backend/wasm", "random"]) mkdirSync(join(dir, d), { recursive: true });
  for (const f of files) {
    const js = ts.transpileModule(readFileSync(new URL(f, src), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(dir, f.replace(/\.ts$/, ".js")), js);
  }
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  return dir;
}
