// The safetensors file format, exactly as its specification says, on plain typed arrays.
//
//   [8 bytes]  N, the header length: unsigned 64-bit little endian
//   [N bytes]  the header: UTF-8 JSON object, may be padded at the end with spaces (0x20)
//              { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
//                "__metadata__": { "<key>": "<string value>" } }   (metadata optional)
//   [rest]     the byte buffer; offsets are relative to its start, little-endian data
//
// Reading checks everything before it is used: the header length against the file and the
// 100 MB limit of the reference implementation, the JSON, each entry's dtype, shape and
// offsets (end - begin = elements * item size), and that the entries tile the buffer with
// no overlap and no hole (the spec forbids holes, so files cannot be polyglots).
// Writing pads the header with spaces so the buffer starts 8-byte aligned, as the
// reference implementation does, and orders entries by name for reproducible files.
//
// tensorbook's dtypes are float32 (F32), int32 (I32) and bool (BOOL). Files from other
// libraries may hold other dtypes: F64, F16 and BF16 load as float32; I64, I16, I8, U8,
// U16 and U32 load as int32 (values must fit). This module knows nothing of Tensor;
// checkpoint.ts maps tensors and state dicts onto it.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export type StoredDType = "float32" | "int32" | "bool";

/** One tensor's contents: dtype, shape and row-major data. */
export interface RawTensor {
  dtype: StoredDType;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export interface SafetensorsFile {
  tensors: Record<string, RawTensor>;
  metadata?: Record<string, string>;
}

/** The reference implementation's limit on the header length. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const codeOf: Record<StoredDType, string> = { float32: "F32", int32: "I32", bool: "BOOL" };

/** Item sizes of every dtype the spec names; those we convert on read are mapped below. */
const itemBytes: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

export class SafetensorsError extends Error {
  constructor(file: string, message: string) {
    super(`safetensors: ${file}: ${message}`);
    this.name = "SafetensorsError";
  }
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------
// Encoding

export function encode(file: SafetensorsFile): Uint8Array {
  const names = Object.keys(file.tensors).sort();
  const header: Record<string, unknown> = {};
  if (file.metadata && Object.keys(file.metadata).length > 0) {
    for (const [k, v] of Object.entries(file.metadata)) {
      if (typeof v !== "string") throw new TypeError(`safetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
    header.__metadata__ = file.metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new TypeError(`safetensors: "__metadata__" is reserved and cannot name a tensor`);
    const t = file.tensors[name]!;
    const bytes = t.data.byteLength;
    const expected = count(t.shape) * itemBytes[codeOf[t.dtype]]!;
    if (bytes !== expected) {
      throw new RangeError(`safetensors: tensor "${name}" has ${bytes} bytes of data for shape [${t.shape}] ${t.dtype} (${expected} expected)`);
    }
    header[name] = { dtype: codeOf[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = file.tensors[name]!.data;
    // Typed arrays are little endian on every platform Node runs WebAssembly on.
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Decoding

interface Entry { name: string; dtype: string; shape: number[]; begin: number; end: number }

export function decode(bytes: Uint8Array, file = "<buffer>"): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(file, msg);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length: truncated or not a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit: corrupt or not a safetensors file`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) fail(`header claims ${headerLen} bytes but the file has ${bytes.length - 8} after the length: truncated`);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(8, 8 + headerLen));
  if (!text.startsWith("{")) fail(`header does not start with "{": corrupt or not a safetensors file`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object");
  const h = header as Record<string, unknown>;

  let metadata: Record<string, string> | undefined;
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(h)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`__metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(value as object)) if (typeof v !== "string") fail(`__metadata__ "${k}" is not a string`);
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) fail(`entry "${name}" is not an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in itemBytes)) fail(`entry "${name}" has unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`entry "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      fail(`entry "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const shape = e.shape as number[];
    const want = count(shape) * itemBytes[e.dtype as string]!;
    if (end - begin !== want) fail(`entry "${name}" spans ${end - begin} bytes but ${e.dtype} [${shape}] needs ${want}`);
    entries.push({ name, dtype: e.dtype as string, shape, begin, end });
  }

  // The entries must tile [0, buffer length) exactly: no overlap, no hole.
  const bufferLen = bytes.length - 8 - headerLen;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) fail(`entry "${e.name}" [${e.begin}, ${e.end}) overlaps the previous entry (which ends at ${cursor})`);
    if (e.begin > cursor) fail(`bytes [${cursor}, ${e.begin}) before entry "${e.name}" belong to no tensor (holes are not allowed)`);
    cursor = e.end;
  }
  if (cursor > bufferLen) fail(`tensor data needs ${cursor} bytes but the file holds ${bufferLen}: truncated`);
  if (cursor < bufferLen) fail(`${bufferLen - cursor} trailing bytes after the last tensor belong to no tensor`);

  const base = 8 + headerLen;
  const tensors: Record<string, RawTensor> = {};
  for (const e of entries) {
    tensors[e.name] = convert(e, bytes.subarray(base + e.begin, base + e.end), fail);
  }
  return metadata ? { tensors, metadata } : { tensors };
}

/** Copies one entry's bytes into a fresh typed array of the tensorbook dtype it maps to. */
function convert(e: Entry, raw: Uint8Array, fail: (msg: string) => never): RawTensor {
  const copy = new Uint8Array(raw); // an owned, aligned copy (Buffer.slice would share memory)
  const dv = new DataView(copy.buffer);
  const n = count(e.shape);
  switch (e.dtype) {
    case "F32": return { dtype: "float32", shape: e.shape, data: new Float32Array(copy.buffer) };
    case "I32": return { dtype: "int32", shape: e.shape, data: new Int32Array(copy.buffer) };
    case "BOOL": {
      for (const b of copy) if (b > 1) fail(`entry "${e.name}" is BOOL but holds the byte ${b}`);
      return { dtype: "bool", shape: e.shape, data: copy };
    }
    case "F64": case "F16": case "BF16": {
      const out = new Float32Array(n);
      const bf16 = new DataView(new ArrayBuffer(4)); // bfloat16 is the top half of a float32
      for (let i = 0; i < n; i++) {
        if (e.dtype === "F64") out[i] = dv.getFloat64(i * 8, true);
        else if (e.dtype === "F16") out[i] = half(dv.getUint16(i * 2, true));
        else {
          bf16.setUint32(0, dv.getUint16(i * 2, true) << 16);
          out[i] = bf16.getFloat32(0);
        }
      }
      return { dtype: "float32", shape: e.shape, data: out };
    }
    case "I64": case "U64": case "I16": case "U16": case "I8": case "U8": case "U32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v =
          e.dtype === "I64" ? dv.getBigInt64(i * 8, true) : e.dtype === "U64" ? dv.getBigUint64(i * 8, true)
          : BigInt(e.dtype === "I16" ? dv.getInt16(i * 2, true) : e.dtype === "U16" ? dv.getUint16(i * 2, true)
            : e.dtype === "I8" ? dv.getInt8(i) : e.dtype === "U8" ? dv.getUint8(i) : dv.getUint32(i * 4, true));
        if (v > 2147483647n || v < -2147483648n) fail(`entry "${e.name}" (${e.dtype}) holds ${v}, outside int32`);
        out[i] = Number(v);
      }
      return { dtype: "int32", shape: e.shape, data: out };
    }
    default:
      return fail(`entry "${e.name}" has dtype ${e.dtype}, which tensorbook cannot represent (float32, int32 and bool are supported; F64/F16/BF16 and integer types are converted)`);
  }
}

/** IEEE 754 half precision bits to a number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// ---------------------------------------------------------------------------------------
// Files

/**
 * Writes atomically: a temporary file beside the target, flushed to disk, then renamed over
 * it. A process killed part way leaves the previous file intact.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "w");
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 24));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function saveFile(path: string, file: SafetensorsFile): void {
  writeFileAtomic(path, encode(file));
}

export function loadFile(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decode(bytes, path);
}
