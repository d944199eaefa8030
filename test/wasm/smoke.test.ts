import { createWasmBackend } from "../../src/backend/wasm/index.js";
import { test } from "vitest";
import type { View } from "../../src/backend/backend.js";
test("smoke", () => {
const be = createWasmBackend({ threads: 1 });
function t(data: Float32Array, shape: number[]): View {
  const b = be.allocate(data.length * 4); be.write(b, "float32", 0, data);
  const strides: number[] = []; let acc = 1; for (let d = shape.length - 1; d >= 0; d--) { strides[d] = acc; acc *= shape[d]!; }
  return { buffer: b, dtype: "float32", shape, strides, offset: 0 };
}
const n = 1003;
const a = t(Float32Array.from({ length: n }, (_, i) => i * 0.01 - 5), [n]);
const out = t(new Float32Array(n), [n]);
for (const op of ["exp", "log", "tanh", "sin", "erf", "sigmoid", "expm1", "log1p", "cos"] as const) {
  be.dispatch({ kind: "elementwise", expr: { op, x: { op: "input", index: 0, dtype: "float32" }, dtype: "float32" }, inputs: [a], out });
  const r = be.read(out.buffer, "float32", 0, n) as Float32Array;
  const src = be.read(a.buffer, "float32", 0, n) as Float32Array;
  const ref: Record<string, (x: number) => number> = { exp: Math.exp, log: Math.log, tanh: Math.tanh, sin: Math.sin, cos: Math.cos, erf: (x) => NaN, sigmoid: (x) => 1 / (1 + Math.exp(-x)), expm1: Math.expm1, log1p: Math.log1p };
  let maxe = 0; for (let i = 0; i < n; i++) { const e = Math.abs(r[i]! - ref[op]!(src[i]!)) / Math.max(1e-30, Math.abs(ref[op]!(src[i]!))); if (e > maxe && Number.isFinite(e)) maxe = e; }
  console.log(op, r[0], r[500], r[1002], "maxrel", maxe);
}
// matmul
const M = 37, K = 300, N = 29;
const A = t(Float32Array.from({ length: M * K }, () => Math.random() - 0.5), [M, K]);
const B = t(Float32Array.from({ length: K * N }, () => Math.random() - 0.5), [K, N]);
const C = t(new Float32Array(M * N), [M, N]);
be.dispatch({ kind: "matmul", a: A, b: B, out: C });
const av = be.read(A.buffer, "float32", 0, M * K), bv = be.read(B.buffer, "float32", 0, K * N), cv = be.read(C.buffer, "float32", 0, M * N);
let me = 0; for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) { let s = 0; for (let k = 0; k < K; k++) s += av[i * K + k]! * bv[k * N + j]!; me = Math.max(me, Math.abs(s - cv[i * N + j]!)); }
console.log("matmul maxabs", me, "relaxed", be.relaxedSimd);

});
