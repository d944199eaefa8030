// safetensors: round trips for every dtype, files parsed independently by Python's json and
// struct following the spec, clear errors for corrupt and truncated files, conversions of
// foreign dtypes, and atomic saves that survive a process killed mid-write.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decode, encode, loadFile, saveFile, type SafetensorsFile } from "../../src/io/safetensors.js";

const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";
const dir = mkdtempSync(join(tmpdir(), "tb-safetensors-"));

const sample: SafetensorsFile = {
  tensors: {
    "layer.weight": { dtype: "float32", shape: [2, 3], data: new Float32Array([1.5, -2, 3.25, 0, 1e-20, -7]) },
    "layer.bias": { dtype: "float32", shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
    steps: { dtype: "int32", shape: [], data: new Int32Array([42]) },
    mask: { dtype: "bool", shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
    empty: { dtype: "float32", shape: [0, 4], data: new Float32Array(0) },
  },
  metadata: { format: "tensorbook", epoch: "3" },
};

/** Builds a file by hand from a header object and a byte buffer. */
function handmade(header: unknown, buffer: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(buffer, 8 + json.length);
  return out;
}

describe("safetensors", () => {
  it("round-trips every dtype, shapes including scalars and empty tensors, and metadata", () => {
    const back = decode(encode(sample));
    expect(back.metadata).toEqual(sample.metadata);
    for (const [name, t] of Object.entries(sample.tensors)) {
      expect(back.tensors[name]!.dtype).toBe(t.dtype);
      expect(back.tensors[name]!.shape).toEqual(t.shape);
      expect(Array.from(back.tensors[name]!.data)).toEqual(Array.from(t.data));
    }
  });

  it("writes what the spec says, as read by Python's json and struct", () => {
    const path = join(dir, "spec.safetensors");
    saveFile(path, sample);
    const script = `
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
h = json.loads(b[8:8 + n].decode("utf-8"))
buf = b[8 + n:]
out = {"n": n, "metadata": h.pop("__metadata__", None), "tensors": {}}
fmt = {"F32": "f", "I32": "i", "BOOL": "?"}
for name, e in h.items():
    s, t = e["data_offsets"]
    k = (t - s) // struct.calcsize(fmt[e["dtype"]])
    out["tensors"][name] = {"dtype": e["dtype"], "shape": e["shape"], "values": list(struct.unpack("<%d%s" % (k, fmt[e["dtype"]]), buf[s:t]))}
print(json.dumps(out))`;
    const r = spawnSync(python, ["-c", script, path], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    const parsed = JSON.parse(r.stdout);
    expect(parsed.n % 8).toBe(0); // the buffer starts 8-byte aligned
    expect(parsed.metadata).toEqual({ format: "tensorbook", epoch: "3" });
    expect(parsed.tensors["layer.weight"]).toEqual({ dtype: "F32", shape: [2, 3], values: Array.from(sample.tensors["layer.weight"]!.data) });
    expect(parsed.tensors.steps).toEqual({ dtype: "I32", shape: [], values: [42] });
    expect(parsed.tensors.mask).toEqual({ dtype: "BOOL", shape: [2, 2], values: [true, false, false, true] });
  });

  it("reads files written by NumPy with foreign dtypes, converting them", () => {
    const path = join(dir, "foreign.safetensors");
    const script = `
import json, struct, sys, numpy as np
arrs = {"f64": np.array([1.5, -2.25], "<f8"), "f16": np.array([0.5, -3, 65504], "<f2"), "i64": np.array([[7, -8]], "<i8"), "u8": np.array([255, 0], "u1")}
codes = {"f64": "F64", "f16": "F16", "i64": "I64", "u8": "U8"}
h, off, data = {}, 0, b""
for k, a in arrs.items():
    raw = a.tobytes(); h[k] = {"dtype": codes[k], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}; off += len(raw); data += raw
j = json.dumps(h).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(j)) + j + data)`;
    expect(spawnSync(python, ["-c", script, path], { encoding: "utf8" }).status).toBe(0);
    const f = loadFile(path);
    expect([f.tensors.f64!.dtype, Array.from(f.tensors.f64!.data)]).toEqual(["float32", [1.5, -2.25]]);
    expect(Array.from(f.tensors.f16!.data)).toEqual([0.5, -3, 65504]);
    expect([f.tensors.i64!.dtype, f.tensors.i64!.shape, Array.from(f.tensors.i64!.data)]).toEqual(["int32", [1, 2], [7, -8]]);
    expect(Array.from(f.tensors.u8!.data)).toEqual([255, 0]);
  });

  it("names what is wrong with corrupt and truncated files", () => {
    const good = encode(sample);
    expect(() => decode(good.subarray(0, 5), "a.st")).toThrow("safetensors: a.st: file is 5 bytes, shorter than the 8-byte header length");
    expect(() => decode(good.subarray(0, 40), "a.st")).toThrow(/header claims \d+ bytes but the file has 32 after the length: truncated/);
    expect(() => decode(good.subarray(0, good.length - 4), "a.st")).toThrow(/truncated/);
    expect(() => decode(handmade({}, new Uint8Array(0), 1n << 40n))).toThrow("exceeds the 104857600-byte limit");
    const f32 = new Uint8Array(8);
    expect(() => decode(handmade({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32)))
      .toThrow('entry "b" [4, 8) overlaps the previous entry');
    expect(() => decode(handmade({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32))).toThrow("holes are not allowed");
    expect(() => decode(handmade({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32))).toThrow("spans 8 bytes but F32 [3] needs 12");
    expect(() => decode(handmade({ a: { dtype: "Q7", shape: [1], data_offsets: [0, 1] } }, f32))).toThrow('unknown dtype "Q7"');
    expect(() => decode(handmade({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32))).toThrow("4 trailing bytes");
    const garbage = new Uint8Array(64).fill(0x41);
    new DataView(garbage.buffer).setBigUint64(0, 20n, true);
    expect(() => decode(garbage, "g.st")).toThrow('header does not start with "{"');
    expect(() => loadFile(join(dir, "missing.safetensors"))).toThrow("cannot read the file (ENOENT)");
    expect(() => encode({ tensors: { x: { dtype: "float32", shape: [3], data: new Float32Array(2) } } })).toThrow('tensor "x" has 8 bytes of data for shape [3] float32 (12 expected)');
  });

  it("a save killed part way leaves the previous file intact", async () => {
    const path = join(dir, "atomic.safetensors");
    saveFile(path, sample);
    const before = readFileSync(path);
    // A child saves a ~64 MB file over it in a loop; it is killed while writing.
    // The child runs the compiled module (`npm test` builds dist/ first).
    const module = new URL("../../dist/src/io/safetensors.js", import.meta.url).pathname;
    expect(existsSync(module), "run `npm run build` first").toBe(true);
    const child = spawn(process.execPath, ["--input-type=module", "-e", `
      const { saveFile } = await import(${JSON.stringify(module)});
      const big = { tensors: { w: { dtype: "float32", shape: [16, 1 << 20], data: new Float32Array(16 << 20).fill(3) } } };
      process.stdout.write("ready\\n");
      for (;;) saveFile(${JSON.stringify(path)}, big);
    `], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const started = await new Promise<boolean>((resolve) => {
      child.stdout.on("data", () => resolve(true));
      child.on("exit", () => resolve(false));
    });
    if (!started) throw new Error(`child failed: ${stderr}`);
    await new Promise((r) => setTimeout(r, 150));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const after = readFileSync(path);
    // Either the old file or a complete new one: never a partial write.
    if (after.length === before.length) expect(after.equals(before)).toBe(true);
    else expect(decode(after).tensors.w!.shape).toEqual([16, 1 << 20]);
  });
});
