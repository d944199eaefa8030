// Kernel benchmark: the tensorbook wasm backend side by side, in one process, with
// @tensorflow/tfjs-backend-wasm and @jax-js/jax (wasm device). Prints a markdown table of
// times (or GFLOP/s) and ratios.
//
// Run: npm run build && node --experimental-wasm-relaxed-simd dist/bench/ops.js
// Without the flag, matmul falls back from fused multiply-add to mul + add.
//
// Each timing is the median of repeated runs after warm-up (V8 tiers wasm up from Liftoff to
// TurboFan on hot functions). tensorbook runs at the backend level (dispatch of kernels on
// views), so the numbers measure kernels, not the front end; softmax is the exception: it is
// a composite op, measured as users call it, `tb.softmax(x, -1)` through the public API
// (one fused row kernel, an output tensor allocated and disposed per call), as tf.softmax
// and jax.nn.softmax are.
// tfjs-wasm is single-threaded in Node; its conv2d uses NHWC (same FLOPs).

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as jax from "@jax-js/jax";
import type { Conv2dParams, View } from "../src/backend/backend.js";
import { contiguousStrides, type WasmBackend } from "../src/backend/wasm/index.js";
import * as tb from "../src/index.js";
import { randomData, time } from "./harness.js";

interface Row {
  name: string;
  unit: "GFLOP/s" | "ms";
  flops?: number;
  ours?: number;
  tfjs?: number;
  jax?: number;
}

// ---------------------------------------------------------------------------------------
// tensorbook (wasm backend, kernel level)

function ours(be: WasmBackend) {
  const upload = (shape: number[], data = randomData(shape.reduce((a, b) => a * b, 1))): View => {
    const buffer = be.allocate(data.length * 4);
    be.write(buffer, "float32", 0, data);
    return { buffer, dtype: "float32", shape, strides: contiguousStrides(shape), offset: 0 };
  };
  const empty = (shape: number[]): View => {
    const buffer = be.allocate(shape.reduce((a, b) => a * b, 1) * 4);
    return { buffer, dtype: "float32", shape, strides: contiguousStrides(shape), offset: 0 };
  };
  const x0 = { op: "input", index: 0, dtype: "float32" } as const;
  const x1 = { op: "input", index: 1, dtype: "float32" } as const;
  return {
    matmul(n: number) {
      const a = upload([n, n]), b = upload([n, n]), out = empty([n, n]);
      return () => be.dispatch({ kind: "matmul", a, b, out });
    },
    conv() {
      const x = upload([32, 32, 14, 14]), w = upload([64, 32, 3, 3]), out = empty([32, 64, 14, 14]);
      const params: Conv2dParams = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
      return () => be.dispatch({ kind: "conv2d", x, w, out, params });
    },
    softmax() {
      const x = tb.tensor(randomData(512 * 1000), { shape: [512, 1000] });
      return () => tb.softmax(x, -1).dispose();
    },
    add(n: number) {
      const a = upload([n]), b = upload([n]), out = empty([n]);
      return () => be.dispatch({ kind: "elementwise", expr: { op: "add", a: x0, b: x1, dtype: "float32" }, inputs: [a, b], out });
    },
    relu(n: number) {
      const a = upload([n]), out = empty([n]);
      const zero = { op: "const", value: 0, dtype: "float32" } as const;
      return () => be.dispatch({ kind: "elementwise", expr: { op: "max", a: x0, b: zero, dtype: "float32" }, inputs: [a], out });
    },
    sum(n: number) {
      const a = upload([n]), out = empty([1]);
      return () => be.dispatch({ kind: "reduce", op: "sum", axes: [0], inputs: [a], out });
    },
  };
}

// ---------------------------------------------------------------------------------------
// tfjs-backend-wasm

async function setupTfjs(): Promise<void> {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  setWasmPaths(join(dir, "/"));
  await tf.setBackend("wasm");
  await tf.ready();
}

const tfjs = {
  matmul(n: number) {
    const a = tf.tensor2d(randomData(n * n), [n, n]), b = tf.tensor2d(randomData(n * n), [n, n]);
    return () => tf.matMul(a, b).dispose();
  },
  conv() {
    const x = tf.tensor4d(randomData(32 * 14 * 14 * 32), [32, 14, 14, 32]);
    const w = tf.tensor4d(randomData(3 * 3 * 32 * 64), [3, 3, 32, 64]);
    return () => tf.conv2d(x, w, 1, "same").dispose();
  },
  softmax() {
    const x = tf.tensor2d(randomData(512 * 1000), [512, 1000]);
    return () => tf.softmax(x).dispose();
  },
  add(n: number) {
    const a = tf.tensor1d(randomData(n)), b = tf.tensor1d(randomData(n));
    return () => tf.add(a, b).dispose();
  },
  relu(n: number) {
    const a = tf.tensor1d(randomData(n));
    return () => tf.relu(a).dispose();
  },
  sum(n: number) {
    const a = tf.tensor1d(randomData(n));
    return () => tf.sum(a).dispose();
  },
};

// ---------------------------------------------------------------------------------------
// jax-js (wasm device). Arrays are consumed by ops, so inputs are passed as `.ref`.

const jx = {
  arr(shape: number[]) {
    return jax.numpy.array(randomData(shape.reduce((a, b) => a * b, 1))).reshape(shape);
  },
  run(f: () => jax.Array) {
    return async () => {
      const r = f();
      await r.blockUntilReady();
      r.dispose();
    };
  },
  matmul(n: number) {
    const a = jx.arr([n, n]), b = jx.arr([n, n]);
    return jx.run(() => jax.numpy.matmul(a.ref, b.ref));
  },
  conv() {
    const x = jx.arr([32, 32, 14, 14]), w = jx.arr([64, 32, 3, 3]);
    return jx.run(() => jax.lax.conv(x.ref, w.ref, [1, 1], "SAME"));
  },
  softmax() {
    const x = jx.arr([512, 1000]);
    return jx.run(() => jax.nn.softmax(x.ref, -1));
  },
  add(n: number) {
    const a = jx.arr([n]), b = jx.arr([n]);
    return jx.run(() => jax.numpy.add(a.ref, b.ref));
  },
  relu(n: number) {
    const a = jx.arr([n]);
    return jx.run(() => jax.nn.relu(a.ref));
  },
  sum(n: number) {
    const a = jx.arr([n]);
    return jx.run(() => jax.numpy.sum(a.ref));
  },
};

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  // the library's own backend: softmax runs through the public API on it, and one worker
  // pool serves every case (a second pool's idle spinning would slow the first)
  const be = tb.getBackend() as WasmBackend;
  if (be.name !== "wasm") throw new Error(`bench/ops: the default backend is ${be.name}, expected wasm`);
  const o = ours(be);
  let haveTf = true, haveJax = true;
  try {
    await setupTfjs();
  } catch (e) {
    haveTf = false;
    console.error("tfjs-backend-wasm unavailable:", e);
  }
  try {
    await jax.init("wasm");
    jax.defaultDevice("wasm");
  } catch (e) {
    haveJax = false;
    console.error("jax-js wasm unavailable:", e);
  }
  const rows: Row[] = [];
  const others = new Map<string, { tfjs?: number; jax?: number }>();
  const M = 1 << 20;
  type Case = { name: string; key?: string; unit: Row["unit"]; flops?: number; threads: number; budget?: number;
    mk: (lib: typeof o | typeof tfjs | typeof jx) => () => void | Promise<void> };
  const cases: Case[] = [];
  for (const threads of [1, 2]) {
    for (const n of [256, 512, 1024]) {
      cases.push({ name: `matmul ${n} (${threads} thread${threads > 1 ? "s" : ""})`, key: `matmul ${n}`, unit: "GFLOP/s", flops: 2 * n ** 3, threads, budget: n === 1024 ? 1500 : 500, mk: (l) => l.matmul(n) });
    }
  }
  cases.push({ name: "conv2d [32,14,14,32] x [64,32,3,3]", unit: "GFLOP/s", flops: 2 * 32 * 64 * 32 * 9 * 14 * 14, threads: 1, mk: (l) => l.conv() });
  cases.push({ name: "conv2d, 2 threads", key: "conv2d [32,14,14,32] x [64,32,3,3]", unit: "GFLOP/s", flops: 2 * 32 * 64 * 32 * 9 * 14 * 14, threads: 2, mk: (l) => l.conv() });
  for (const threads of [1, 2]) {
    const t = threads > 1 ? ", 2 threads" : "";
    cases.push({ name: `softmax [512,1000]${t}`, key: "softmax", unit: "ms", threads, mk: (l) => l.softmax() });
    cases.push({ name: `add 1M${t}`, key: "add", unit: "ms", threads, mk: (l) => l.add(M) });
    cases.push({ name: `relu 1M${t}`, key: "relu", unit: "ms", threads, mk: (l) => l.relu(M) });
    cases.push({ name: `sum 1M${t}`, key: "sum", unit: "ms", threads, mk: (l) => l.sum(M) });
  }
  for (const c of cases) {
    tb.setThreads(c.threads);
    const row: Row = { name: c.name, unit: c.unit, flops: c.flops };
    row.ours = await time(c.mk(o), c.budget);
    // the other libraries run single-threaded here: measure them once per op and reuse
    const key = c.key ?? c.name;
    let other = others.get(key);
    if (!other) {
      other = {
        tfjs: haveTf ? await time(c.mk(tfjs), c.budget) : undefined,
        jax: haveJax ? await time(c.mk(jx), c.budget) : undefined,
      };
      others.set(key, other);
    }
    row.tfjs = other.tfjs;
    row.jax = other.jax;
    rows.push(row);
    console.error(`${c.name}: done`);
  }
  print(rows, be);
}

function cell(r: Row, ms: number | undefined): string {
  if (ms === undefined) return "";
  return r.unit === "GFLOP/s" ? (r.flops! / ms / 1e6).toFixed(1) : ms.toFixed(3);
}

/** ours/other as a speed-up: > 1 means tensorbook is faster. */
function ratio(ours: number | undefined, other: number | undefined): string {
  if (ours === undefined || other === undefined) return "";
  return `${(other / ours).toFixed(2)}x`;
}

function print(rows: Row[], be: WasmBackend): void {
  const lines = [
    `Node ${process.version}, relaxed SIMD (FMA) ${be.relaxedSimd ? "on" : "off"}; median of repeated runs.`,
    "tfjs-wasm and jax-js are measured single-threaded; speed-up = their time / tensorbook's (> 1: tensorbook faster).",
    "",
    "| op | unit | tensorbook | tfjs-wasm | jax-js | speed-up vs tfjs | speed-up vs jax-js |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${r.unit} | ${cell(r, r.ours)} | ${cell(r, r.tfjs)} | ${cell(r, r.jax)} | ${ratio(r.ours, r.tfjs)} | ${ratio(r.ours, r.jax)} |`);
  }
  console.log(lines.join("\n"));
}

await main();
