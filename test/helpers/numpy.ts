// A NumPy oracle for tests: one persistent python process (TENSORBOOK_PYTHON, default
// /usr/bin/python3) that evaluates expressions over named arrays, one JSON line each way,
// so hundreds of comparisons cost milliseconds each.
//
// Request:  {"id": n, "code": "<python expression>", "inputs": {name: {data, shape, dtype}}}
// Response: {"id": n, "data": [...], "shape": [...], "dtype": "float32|int32|bool"} or {"id", "error"}
// Non-finite floats travel as the strings "nan", "inf", "-inf" (JSON has no NaN).

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { expect } from "vitest";
import type { Tensor } from "../../src/index.js";

const SCRIPT = String.raw`
import sys, json, math
import numpy as np
np.seterr(all="ignore")
erf = np.vectorize(math.erf, otypes=[np.float64])
def dec(v):
    if isinstance(v, str): return float(v)
    return v
def enc(v):
    if isinstance(v, float) and not math.isfinite(v): return "nan" if v != v else ("inf" if v > 0 else "-inf")
    return v
def conv2d_ref(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    x = x.astype(np.float64); w = w.astype(np.float64)
    N, C, H, W = x.shape; O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    OH = (H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) // stride[1] + 1
    out = np.zeros((N, O, OH, OW))
    Og = O // groups
    for o in range(O):
        g = o // Og
        for kh in range(KH):
            for kw in range(KW):
                h0 = kh * dilation[0]; w0 = kw * dilation[1]
                patch = xp[:, g * Cg:(g + 1) * Cg, h0:h0 + stride[0] * (OH - 1) + 1:stride[0], w0:w0 + stride[1] * (OW - 1) + 1:stride[1]]
                out[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, kh, kw])
    return out
def conv_transpose2d_ref(x, w, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1), groups=1):
    x = x.astype(np.float64); w = w.astype(np.float64)
    N, Cin, H, W = x.shape; _, Cog, KH, KW = w.shape
    OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (KH - 1) + output_padding[0] + 1
    OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (KW - 1) + output_padding[1] + 1
    full = np.zeros((N, Cog * groups, OH + 2 * padding[0] + stride[0] + dilation[0] * KH, OW + 2 * padding[1] + stride[1] + dilation[1] * KW))
    Cg = Cin // groups
    for n in range(N):
        for c in range(Cin):
            g = c // Cg
            for i in range(H):
                for j in range(W):
                    for kh in range(KH):
                        for kw in range(KW):
                            full[n, g * Cog:(g + 1) * Cog, i * stride[0] + kh * dilation[0], j * stride[1] + kw * dilation[1]] += x[n, c, i, j] * w[c, :, kh, kw]
    return full[:, :, padding[0]:padding[0] + OH, padding[1]:padding[1] + OW]
def pool_ref(x, k, s, p, kind, include_pad=True):
    N, C, H, W = x.shape
    OH = (H + 2 * p[0] - k[0]) // s[0] + 1; OW = (W + 2 * p[1] - k[1]) // s[1] + 1
    out = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0 = i * s[0] - p[0]; w0 = j * s[1] - p[1]
            hs, he = max(h0, 0), min(h0 + k[0], H); ws, we = max(w0, 0), min(w0 + k[1], W)
            win = x[:, :, hs:he, ws:we].astype(np.float64)
            if kind == "max": out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = (min(h0 + k[0], H + p[0]) - h0) * (min(w0 + k[1], W + p[1]) - w0) if include_pad else (he - hs) * (we - ws)
                out[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return out
def adaptive_ref(x, oh, ow):
    N, C, H, W = x.shape
    out = np.zeros((N, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, he = (i * H) // oh, -((-(i + 1) * H) // oh); ws, we = (j * W) // ow, -((-(j + 1) * W) // ow)
            out[:, :, i, j] = x[:, :, hs:he, ws:we].astype(np.float64).mean(axis=(2, 3))
    return out
def log_softmax_ref(x, axis):
    x = x.astype(np.float64); m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
DT = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
for line in sys.stdin:
    req = json.loads(line)
    try:
        env = {"np": np, "erf": erf, "math": math, "conv2d_ref": conv2d_ref, "conv_transpose2d_ref": conv_transpose2d_ref,
               "pool_ref": pool_ref, "adaptive_ref": adaptive_ref, "log_softmax_ref": log_softmax_ref}
        for k, v in req["inputs"].items():
            env[k] = np.array([dec(x) for x in v["data"]], dtype=DT[v["dtype"]]).reshape(v["shape"])
        out = np.asarray(eval(req["code"], env))
        if out.dtype == np.bool_: dt = "bool"
        elif np.issubdtype(out.dtype, np.integer): dt = "int32"
        else: dt = "float32"
        data = [enc(float(x)) if dt == "float32" else (bool(x) if dt == "bool" else int(x)) for x in out.reshape(-1).tolist()]
        resp = {"id": req["id"], "data": data, "shape": list(out.shape), "dtype": dt}
    except Exception as e:
        resp = {"id": req["id"], "error": type(e).__name__ + ": " + str(e)}
    sys.stdout.write(json.dumps(resp) + "\n")
    sys.stdout.flush()
`;

export interface NpResult {
  data: number[];
  shape: number[];
  dtype: "float32" | "int32" | "bool";
}

let proc: ChildProcessWithoutNullStreams | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (r: NpResult) => void; reject: (e: Error) => void }>();

function start(): ChildProcessWithoutNullStreams {
  if (proc) return proc;
  const p = spawn(process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3", ["-c", SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
  createInterface({ input: p.stdout }).on("line", (line) => {
    const msg = JSON.parse(line) as { id: number; error?: string } & Partial<NpResult>;
    const w = pending.get(msg.id);
    if (!w) return;
    pending.delete(msg.id);
    if (msg.error) w.reject(new Error(`numpy: ${msg.error}`));
    else {
      const data = (msg.data ?? []).map((v) => (typeof v === "string" ? Number(v === "nan" ? NaN : v === "inf" ? Infinity : -Infinity) : typeof v === "boolean" ? (v ? 1 : 0) : v));
      w.resolve({ data, shape: msg.shape ?? [], dtype: msg.dtype ?? "float32" });
    }
  });
  let err = "";
  p.stderr.on("data", (d) => (err += String(d)));
  p.on("exit", (code) => {
    for (const w of pending.values()) w.reject(new Error(`numpy process exited (${code}): ${err}`));
    pending.clear();
    proc = undefined;
  });
  p.unref();
  (p.stdin as unknown as { unref?: () => void }).unref?.();
  (p.stdout as unknown as { unref?: () => void }).unref?.();
  (p.stderr as unknown as { unref?: () => void }).unref?.();
  proc = p;
  return p;
}

const enc = (v: number) => (Number.isFinite(v) ? v : Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf");

/** Evaluates a NumPy expression with tensors bound to names (values copied as float/int/bool). */
export function np(code: string, inputs: Record<string, Tensor> = {}): Promise<NpResult> {
  const p = start();
  const id = nextId++;
  const payload: Record<string, { data: (number | string)[]; shape: number[]; dtype: string }> = {};
  for (const [k, t] of Object.entries(inputs)) {
    payload[k] = { data: Array.from(t.dataSync(), enc), shape: t.shape, dtype: t.dtype };
  }
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    p.stdin.write(JSON.stringify({ id, code, inputs: payload }) + "\n");
  });
}

export interface CloseOptions {
  rtol?: number;
  atol?: number;
  /** Also require the NumPy dtype (mapped to float32/int32/bool) to match. */
  dtype?: boolean;
}

/** Asserts a tensor equals a NumPy result: shape, dtype category and values (NaN == NaN). */
export function expectClose(t: Tensor, ref: NpResult, options: CloseOptions = {}, what = ""): void {
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-6;
  expect(t.shape, `${what} shape`).toEqual(ref.shape);
  if (options.dtype !== false) expect(t.dtype, `${what} dtype`).toBe(ref.dtype);
  const got = t.dataSync();
  for (let i = 0; i < ref.data.length; i++) {
    const a = got[i];
    const b = ref.data[i];
    if (Number.isNaN(b)) {
      if (!Number.isNaN(a)) expect.fail(`${what} element ${i}: got ${a}, NumPy NaN`);
      continue;
    }
    if (!Number.isFinite(b)) {
      if (a !== b) expect.fail(`${what} element ${i}: got ${a}, NumPy ${b}`);
      continue;
    }
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
      expect.fail(`${what} element ${i}: got ${a}, NumPy ${b} (|diff| ${Math.abs(a - b)} > ${atol} + ${rtol}*|b|)`);
    }
  }
}
