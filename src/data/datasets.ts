// Datasets that work offline: the 8x8 handwritten digits and iris shipped in data/ at the
// package root, Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist (or a
// path), and CSV files.
//
// The package root is found from this module's URL by walking up to the nearest
// package.json, so it works from src/ (tests) and dist/src/ (the built package) alike.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { Tensor } from "../tensor/tensor.js";
import { TensorDataset } from "./dataset.js";

let rootCache: string | undefined;

/** The directory of the package.json that contains this module. */
export function packageRoot(): string {
  if (rootCache) return rootCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return (rootCache = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`tb.data: no package.json above ${fileURLToPath(import.meta.url)}; cannot find the shipped data/ directory`);
    dir = up;
  }
}

function readShipped(name: string): Buffer {
  const path = join(packageRoot(), "data", name);
  if (!existsSync(path)) throw new Error(`tb.data: ${path} is missing; the package's data/ directory should ship ${name}`);
  const bytes = readFileSync(path);
  return name.endsWith(".gz") ? gunzipSync(bytes) : bytes;
}

export type ClassificationDataset = TensorDataset<[Tensor, Tensor]> & { readonly classNames: readonly string[] };

function classification(x: Tensor, y: Tensor, classNames: string[]): ClassificationDataset {
  return Object.assign(new TensorDataset<[Tensor, Tensor]>(x, y), { classNames });
}

let digitsCache: { x: Float32Array; y: Int32Array } | undefined;

/** The 1797 8x8 handwritten digits (UCI, via scikit-learn): x float32 [1797, 64] with
 *  pixel values 0..16, y int32 [1797] with the digit. */
export function digits(): ClassificationDataset {
  if (!digitsCache) {
    const lines = readShipped("digits.csv.gz").toString("utf8").trim().split("\n");
    const x = new Float32Array(lines.length * 64);
    const y = new Int32Array(lines.length);
    lines.forEach((line, i) => {
      const v = line.split(",");
      if (v.length !== 65) throw new Error(`tb.data.digits: line ${i + 1} of digits.csv.gz has ${v.length} values, expected 65`);
      for (let j = 0; j < 64; j++) x[i * 64 + j] = Number(v[j]);
      y[i] = Number(v[64]);
    });
    digitsCache = { x, y };
  }
  const n = digitsCache.y.length;
  return classification(
    Tensor._fromArray(digitsCache.x, [n, 64], "float32"),
    Tensor._fromArray(digitsCache.y, [n], "int32"),
    Array.from({ length: 10 }, (_v, i) => String(i)),
  );
}

/** Fisher's iris: x float32 [150, 4] (sepal length, sepal width, petal length, petal
 *  width in cm), y int32 [150] (0 setosa, 1 versicolor, 2 virginica). */
export function iris(): ClassificationDataset {
  const lines = readShipped("iris.csv").toString("utf8").trim().split("\n");
  // scikit-learn's header: n_samples, n_features, then the class names.
  const header = lines[0]!.split(",");
  const rows = lines.slice(1);
  const x = new Float32Array(rows.length * 4);
  const y = new Int32Array(rows.length);
  rows.forEach((line, i) => {
    const v = line.split(",").map(Number);
    for (let j = 0; j < 4; j++) x[i * 4 + j] = v[j]!;
    y[i] = v[4]!;
  });
  return classification(Tensor._fromArray(x, [rows.length, 4], "float32"), Tensor._fromArray(y, [rows.length], "int32"), header.slice(2));
}

// ---------------------------------------------------------------------------------------
// IDX (the MNIST file format): magic 0x0000 TT DD (TT type code, DD number of axes), then
// DD big-endian uint32 sizes, then the data row-major (big-endian for multi-byte types).

export interface IdxArray {
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Parses an IDX file (gunzipped first if it starts with the gzip magic). */
export function readIdx(bytes: Uint8Array, file = "<buffer>"): IdxArray {
  const b = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new Error(`readIdx: ${file} is not an IDX file (bad magic number)`);
  const type = b[2]!;
  const ndim = b[3]!;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4 + 4 * ndim) throw new Error(`readIdx: ${file} is truncated in its header`);
  const shape = Array.from({ length: ndim }, (_v, i) => dv.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, c) => a * c, 1);
  const at = 4 + 4 * ndim;
  const kinds: Record<number, [number, (o: number) => number, new (n: number) => IdxArray["data"]]> = {
    0x08: [1, (o) => dv.getUint8(o), Uint8Array],
    0x09: [1, (o) => dv.getInt8(o), Int8Array],
    0x0b: [2, (o) => dv.getInt16(o, false), Int16Array],
    0x0c: [4, (o) => dv.getInt32(o, false), Int32Array],
    0x0d: [4, (o) => dv.getFloat32(o, false), Float32Array],
    0x0e: [8, (o) => dv.getFloat64(o, false), Float64Array],
  };
  const kind = kinds[type];
  if (!kind) throw new Error(`readIdx: ${file} has unknown data type code 0x${type.toString(16)}`);
  const [size, read, Ctor] = kind;
  if (b.length < at + n * size) throw new Error(`readIdx: ${file} is truncated: shape [${shape}] needs ${at + n * size} bytes, the file has ${b.length}`);
  if (size === 1) return { shape, data: type === 0x08 ? b.slice(at, at + n) : new Int8Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + at + n)) };
  const data = new Ctor(n);
  for (let i = 0; i < n; i++) data[i] = read(at + i * size);
  return { shape, data };
}

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
export const FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

function findIdx(dir: string, stem: string): string | undefined {
  for (const name of [`${stem}.gz`, stem]) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Fashion-MNIST: x float32 [N, 1, 28, 28] scaled to [0, 1] (or [N, 784] with flatten),
 *  y int32 [N]; N = 60000 (train) or 10000 (test). Reads the IDX files, gzipped or not,
 *  that Debian's dataset-fashion-mnist installs, or those in options.path. */
export function fashionMnist(options: { split?: "train" | "test"; path?: string; flatten?: boolean } = {}): ClassificationDataset {
  const split = options.split ?? "train";
  const dir = options.path ?? FASHION_MNIST_DIR;
  const prefix = split === "train" ? "train" : "t10k";
  const imgPath = findIdx(dir, `${prefix}-images-idx3-ubyte`);
  const lblPath = findIdx(dir, `${prefix}-labels-idx1-ubyte`);
  if (!imgPath || !lblPath) {
    throw new Error(
      `tb.data.fashionMnist: ${prefix}-images-idx3-ubyte[.gz] and ${prefix}-labels-idx1-ubyte[.gz] not found in ${dir}; ` +
        (options.path ? "check the path" : "install Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist) or pass { path }"),
    );
  }
  const img = readIdx(readFileSync(imgPath), imgPath);
  const lbl = readIdx(readFileSync(lblPath), lblPath);
  if (img.shape.length !== 3 || lbl.shape.length !== 1 || img.shape[0] !== lbl.shape[0]) {
    throw new Error(`tb.data.fashionMnist: images [${img.shape}] and labels [${lbl.shape}] do not match (expected [N, 28, 28] and [N])`);
  }
  const [n, h, w] = img.shape as [number, number, number];
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i]! / 255;
  const shape = options.flatten ? [n, h * w] : [n, 1, h, w];
  return classification(Tensor._fromArray(x, shape, "float32"), Tensor._fromArray(Int32Array.from(lbl.data), [n], "int32"), FASHION_MNIST_CLASSES);
}

// ---------------------------------------------------------------------------------------
// CSV

export interface CsvOptions {
  /** The first line names the columns (default: true when it has a non-numeric field). */
  header?: boolean;
  delimiter?: string;
  /** Column (index or header name) holding an integer label: the dataset becomes [x, y]. */
  labelColumn?: number | string;
  /** Columns to keep as features (indices or names; default: all but the label). */
  columns?: (number | string)[];
}

export type CsvDataset = TensorDataset & { readonly columns: readonly string[] };

/** A numeric CSV file as a TensorDataset: [x float32 [N, F]] or, with labelColumn,
 *  [x, y int32 [N]]. Empty lines are skipped; a non-numeric value is an error naming the
 *  line and column. */
export function csv(path: string, options: CsvOptions = {}): CsvDataset {
  const text = readFileSync(path, "utf8");
  const delim = options.delimiter ?? ",";
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error(`tb.data.csv: ${path} is empty`);
  const first = lines[0]!.split(delim).map((s) => s.trim());
  const header = options.header ?? first.some((f) => f === "" || Number.isNaN(Number(f)));
  const names = header ? first : first.map((_f, i) => `column${i}`);
  const rows = header ? lines.slice(1) : lines;
  const col = (c: number | string): number => {
    const i = typeof c === "number" ? c : names.indexOf(c);
    if (i < 0 || i >= names.length) throw new Error(`tb.data.csv: ${path} has no column ${JSON.stringify(c)} (columns: ${names.join(", ")})`);
    return i;
  };
  const label = options.labelColumn === undefined ? -1 : col(options.labelColumn);
  const feats = options.columns ? options.columns.map(col) : names.map((_n, i) => i).filter((i) => i !== label);
  const x = new Float32Array(rows.length * feats.length);
  const y = new Int32Array(rows.length);
  rows.forEach((line, r) => {
    const v = line.split(delim);
    if (v.length !== names.length) throw new Error(`tb.data.csv: ${path} line ${r + 1 + (header ? 1 : 0)} has ${v.length} fields, expected ${names.length}`);
    const num = (i: number): number => {
      const s = v[i]!.trim();
      const n = Number(s);
      if (s === "" || Number.isNaN(n)) throw new Error(`tb.data.csv: ${path} line ${r + 1 + (header ? 1 : 0)}, column ${names[i]}: ${JSON.stringify(s)} is not a number`);
      return n;
    };
    feats.forEach((c, j) => (x[r * feats.length + j] = num(c)));
    if (label >= 0) y[r] = num(label);
  });
  const xs = Tensor._fromArray(x, [rows.length, feats.length], "float32");
  const ds = label >= 0 ? new TensorDataset(xs, Tensor._fromArray(y, [rows.length], "int32")) : new TensorDataset(xs);
  return Object.assign(ds, { columns: feats.map((i) => names[i]!) });
}
