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
DT = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
for line in sys.stdin:
    req = json.loads(line)
    try:
        env = {"np": np, "erf": erf, "math": math}
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
