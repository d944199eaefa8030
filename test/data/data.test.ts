// tb.data: DataLoader batching, shuffling determinism and epochs, split, normalisation
// against NumPy, the shipped digits and iris (checked against NumPy's own reading of the
// files), IDX reading (Fashion-MNIST) and CSV loading with its errors.

import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as tb from "../../src/index.js";
import { data } from "../../src/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectClose, np } from "../helpers/numpy.js";

const rows = (n: number) => new data.TensorDataset(tb.arange(0, n).reshape([n, 1]).mul(10), tb.arange(0, n, 1, { dtype: "int32" }));
const ids = (batches: Tensor[][]) => batches.map(([, y]) => y!.tolist() as number[]);

describe("DataLoader", () => {
  it("yields [x, y] batches in order with a short last batch, or drops it", () => {
    const ds = rows(10);
    const loader = new data.DataLoader(ds, { batchSize: 4 });
    expect(loader.length).toBe(3);
    const batches = [...loader];
    expect(ids(batches)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(batches[0]![0]!.shape).toEqual([4, 1]);
    expect(batches[2]![0]!.tolist()).toEqual([[80], [90]]);
    const dropping = new data.DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(dropping.length).toBe(2);
    expect(ids([...dropping])).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
  });

  it("shuffles every epoch, reproducibly from a seed, covering every item once", () => {
    const ds = rows(20);
    const a = new data.DataLoader(ds, { batchSize: 6, shuffle: true, seed: 3 });
    const b = new data.DataLoader(ds, { batchSize: 6, shuffle: true, seed: 3 });
    const e1 = ids([...a]);
    const e2 = ids([...a]);
    expect(e1).toEqual(ids([...b]));
    expect(e2).toEqual(ids([...b]));
    expect(e1).not.toEqual(e2);
    expect(e1.flat().sort((p, q) => p - q)).toEqual(Array.from({ length: 20 }, (_v, i) => i));
    expect(ids([...new data.DataLoader(ds, { batchSize: 6, shuffle: true, seed: 4 })])).not.toEqual(e1);
    // Without a seed, tb.seed governs the order.
    tb.seed(9);
    const g1 = ids([...new data.DataLoader(ds, { batchSize: 20, shuffle: true })]);
    tb.seed(9);
    expect(ids([...new data.DataLoader(ds, { batchSize: 20, shuffle: true })])).toEqual(g1);
    // x and y stay paired.
    for (const [x, y] of new data.DataLoader(ds, { batchSize: 7, shuffle: true, seed: 1 })) {
      expect(x!.reshape([-1]).tolist()).toEqual((y!.tolist() as number[]).map((v) => v * 10));
    }
  });

  it("batches generic datasets by stacking items", () => {
    class Squares extends data.Dataset<[Tensor, Tensor]> {
      get length() { return 5; }
      get(i: number): [Tensor, Tensor] { this.check(i); return [tb.tensor([i, i]), tb.tensor(i * i)]; }
    }
    const [x, y] = [...new data.DataLoader(new Squares(), { batchSize: 3 })][1]!;
    expect(x.tolist()).toEqual([[3, 3], [4, 4]]);
    expect(y.tolist()).toEqual([9, 16]);
    expect(() => new Squares().get(5)).toThrow("index 5 is out of range for a dataset of 5 items");
    expect(() => new data.DataLoader(new Squares(), { batchSize: 0 })).toThrow("batchSize must be a positive integer");
    expect(() => new data.TensorDataset(tb.ones([3, 2]), tb.ones([4]))).toThrow("same first axis; tensor 0 is [3,2], tensor 1 is [4]");
  });
});

describe("split and normalisation", () => {
  it("splits by fractions or counts into disjoint seeded subsets", () => {
    const ds = rows(11);
    const [tr, va] = data.split(ds, [0.8, 0.2], { seed: 0 });
    expect([tr!.length, va!.length]).toEqual([9, 2]); // floor 8 and 2, remainder to the first
    const all = [...tr!.indices, ...va!.indices].sort((p, q) => p - q);
    expect(all).toEqual(Array.from({ length: 11 }, (_v, i) => i));
    const [tr2] = data.split(ds, [0.8, 0.2], { seed: 0 });
    expect(tr2!.indices).toEqual(tr!.indices);
    expect(data.split(ds, [0.8, 0.2], { seed: 1 })[0]!.indices).not.toEqual(tr!.indices);
    // Subset items and batches come from the parent at the mapped indices.
    expect(va!.get(1)[1]!.item()).toBe(va!.indices[1]);
    const [, yb] = va!.batch([1, 0]);
    expect(yb!.tolist()).toEqual([va!.indices[1], va!.indices[0]]);
    expect(data.split(ds, [3, 3, 5], { seed: 2 }).map((s) => s.length)).toEqual([3, 3, 5]);
    expect(() => data.split(ds, [3, 3])).toThrow("counts summing to the dataset's length (11)");
  });

  it("standardize uses per-feature mean and population std (as NumPy)", async () => {
    tb.seed(4);
    const x = tb.randn([50, 3]).mul(tb.tensor([1, 5, 0.1])).add(tb.tensor([2, -1, 0]));
    const stats = data.featureStats(x);
    expectClose(stats.mean, await np("x.astype(np.float64).mean(0)", { x }), { atol: 1e-5, rtol: 1e-5, dtype: false });
    expectClose(stats.std, await np("x.astype(np.float64).std(0)", { x }), { atol: 1e-5, rtol: 1e-5, dtype: false });
    expectClose(data.standardize(x), await np("(x - x.mean(0)) / x.std(0)", { x }), { atol: 1e-5, rtol: 1e-4 });
    // Constant features are centred, not divided by zero.
    expect(data.standardize(tb.tensor([[1, 2], [1, 4]])).tolist()).toEqual([[0, -1], [0, 1]]);
  });
});

describe("bundled datasets", () => {
  it("digits: 1797 x 64 pixels 0..16 and int32 labels, as NumPy reads the file", async () => {
    const ds = data.digits();
    const [x, y] = ds.tensors;
    expect(x.shape).toEqual([1797, 64]);
    expect(x.dtype).toBe("float32");
    expect(y.shape).toEqual([1797]);
    expect(y.dtype).toBe("int32");
    expect(x.min().item()).toBe(0);
    expect(x.max().item()).toBe(16);
    const root = data.packageRoot();
    const ref = await np(`(lambda a: np.concatenate([a[:, :64].sum(0), np.bincount(a[:, 64].astype(int)), [a[:, :64].sum()]]))(np.loadtxt(__import__('gzip').open(${JSON.stringify(join(root, "data/digits.csv.gz"))}), delimiter=','))`);
    const counts = Array.from({ length: 10 }, (_v, k) => (y.eq(k).sum().item() as number));
    const got = [...(x.sum(0).tolist() as number[]), ...counts, x.sum().item() as number];
    expect(got).toEqual(ref.data);
    expect(ds.classNames).toHaveLength(10);
  });

  it("iris: 150 x 4 measurements and 3 classes", async () => {
    const ds = data.iris();
    const [x, y] = ds.tensors;
    expect(x.shape).toEqual([150, 4]);
    expect(ds.classNames).toEqual(["setosa", "versicolor", "virginica"]);
    const ref = await np(`np.loadtxt(${JSON.stringify(join(data.packageRoot(), "data/iris.csv"))}, delimiter=',', skiprows=1)`);
    expectClose(tb.concat([x, y.float().reshape([150, 1])], 1), ref, { atol: 1e-6, dtype: false });
  });
});

describe("IDX and Fashion-MNIST", () => {
  const idx = (type: number, shape: number[], payload: Uint8Array) => {
    const head = new Uint8Array(4 + 4 * shape.length);
    const dv = new DataView(head.buffer);
    head[2] = type;
    head[3] = shape.length;
    shape.forEach((s, i) => dv.setUint32(4 + 4 * i, s, false));
    return Buffer.concat([head, payload]);
  };

  it("reads IDX files (gzipped or not) of several types, and rejects bad ones", () => {
    const u8 = data.readIdx(idx(0x08, [2, 3], Uint8Array.from([1, 2, 3, 4, 5, 255])));
    expect(u8.shape).toEqual([2, 3]);
    expect(Array.from(u8.data)).toEqual([1, 2, 3, 4, 5, 255]);
    const i32 = new Uint8Array(8);
    new DataView(i32.buffer).setInt32(0, -5, false);
    new DataView(i32.buffer).setInt32(4, 70000, false);
    expect(Array.from(data.readIdx(gzipSync(idx(0x0c, [2], i32))).data)).toEqual([-5, 70000]);
    expect(() => data.readIdx(Uint8Array.from([1, 2, 3, 4]), "x.idx")).toThrow("x.idx is not an IDX file");
    expect(() => data.readIdx(idx(0x08, [4, 4], new Uint8Array(3)), "y.idx")).toThrow("y.idx is truncated: shape [4,4] needs 28 bytes, the file has 15");
  });

  it("fashionMnist reads a directory of IDX files and names the Debian package when missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "fmnist-"));
    const pixels = Uint8Array.from({ length: 3 * 28 * 28 }, (_v, i) => i % 256);
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), idx(0x08, [3, 28, 28], pixels));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(idx(0x08, [3], Uint8Array.from([9, 0, 4]))));
    const ds = data.fashionMnist({ split: "test", path: dir });
    const [x, y] = ds.tensors;
    expect(x.shape).toEqual([3, 1, 28, 28]);
    expect(y.tolist()).toEqual([9, 0, 4]);
    expect(x.reshape([-1]).index([0, 3]).tolist()).toEqual([0, 1 / 255, 2 / 255].map((v) => Math.fround(v)));
    expect(ds.classNames[9]).toBe("Ankle boot");
    expect(data.fashionMnist({ split: "test", path: dir, flatten: true }).tensors[0].shape).toEqual([3, 784]);
    expect(() => data.fashionMnist({ split: "train", path: dir })).toThrow("train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] not found");
    expect(() => data.fashionMnist({ path: join(dir, "nope") })).toThrow("check the path");
  });

  it("fashionMnist from Debian's dataset-fashion-mnist when installed, else an error naming it", () => {
    let ds: data.ClassificationDataset | undefined;
    let error: Error | undefined;
    try {
      ds = data.fashionMnist({ split: "test" });
    } catch (e) {
      error = e as Error;
    }
    if (ds) {
      expect(ds.tensors[0].shape).toEqual([10000, 1, 28, 28]);
      expect(ds.tensors[1].eq(0).sum().item()).toBe(1000); // the test split is balanced
    } else {
      expect(error!.message).toContain("install Debian's dataset-fashion-mnist package");
    }
  });
});

describe("csv", () => {
  it("loads numeric CSV with a header and a label column; errors name line and column", () => {
    const dir = mkdtempSync(join(tmpdir(), "csv-"));
    const file = join(dir, "a.csv");
    writeFileSync(file, "a,b,label\n1,2,0\n3.5,-4,1\n\n5,6e2,1\n");
    const ds = data.csv(file, { labelColumn: "label" });
    expect(ds.columns).toEqual(["a", "b"]);
    expect(ds.tensors[0]!.tolist()).toEqual([[1, 2], [3.5, -4], [5, 600]]);
    expect(ds.tensors[1]!.tolist()).toEqual([0, 1, 1]);
    expect(ds.tensors[1]!.dtype).toBe("int32");
    const plain = join(dir, "b.csv");
    writeFileSync(plain, "1;2\n3;4\n");
    expect(data.csv(plain, { delimiter: ";" }).tensors[0]!.tolist()).toEqual([[1, 2], [3, 4]]);
    writeFileSync(file, "a,b\n1,x\n");
    expect(() => data.csv(file)).toThrow('line 2, column b: "x" is not a number');
    expect(() => data.csv(plain, { delimiter: ";", labelColumn: "z" })).toThrow('has no column "z"');
  });
});
