// tb.data: datasets, batching and splits, in the manner of torch.utils.data.
//
// A Dataset is indexable (length, get(i) -> an array of tensors, one per field) and can
// gather a batch of items at once (batch(indices) -> one tensor per field, batch axis 0;
// TensorDataset does it with one indexSelect per field). A DataLoader iterates a dataset
// in batches, `for (const [x, y] of loader)`, optionally reshuffled every epoch from a
// seeded Generator, so runs are reproducible. split() makes seeded random subsets.

import { Tensor } from "../tensor/tensor.js";
import { withGrad } from "../core/trace.js";
import { rand, Generator } from "../ops/creation.js";
import { indexSelect, stack } from "../ops/movement.js";
import { add, cast, div, sub, where, le } from "../ops/elementwise.js";
import { mean, std } from "../ops/reduce.js";
import { fmtShape } from "../tensor/shape.js";

export abstract class Dataset<T extends Tensor[] = Tensor[]> {
  abstract get length(): number;
  /** Item i: one tensor per field (e.g. [x, y]). */
  abstract get(i: number): T;

  /** Items at `indices` gathered along a new axis 0 (default: get each and stack). */
  batch(indices: readonly number[]): T {
    if (indices.length === 0) throw new Error(`${this.constructor.name}.batch: no indices`);
    const items = indices.map((i) => this.get(i));
    return items[0]!.map((_f, k) => stack(items.map((it) => it[k]!))) as T;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  protected check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`${this.constructor.name}: index ${i} is out of range for a dataset of ${this.length} items`);
    }
  }
}

/** Fields given as tensors sharing their first axis: item i is [t[i] for each tensor]. */
export class TensorDataset<T extends Tensor[] = Tensor[]> extends Dataset<T> {
  readonly tensors: T;
  constructor(...tensors: T) {
    super();
    if (tensors.length === 0) throw new Error("TensorDataset: needs at least one tensor");
    const n = tensors[0]!.shape[0];
    tensors.forEach((t, i) => {
      if (t.shape.length === 0 || t.shape[0] !== n) {
        throw new Error(`TensorDataset: every tensor needs the same first axis; tensor 0 is ${fmtShape(tensors[0]!.shape)}, tensor ${i} is ${fmtShape(t.shape)}`);
      }
    });
    this.tensors = tensors;
  }
  get length(): number {
    return this.tensors[0]!.shape[0]!;
  }
  get(i: number): T {
    this.check(i);
    return this.tensors.map((t) => t.index(i)) as T;
  }
  override batch(indices: readonly number[]): T {
    for (const i of indices) this.check(i);
    const idx = Tensor._fromArray(Int32Array.from(indices), [indices.length], "int32");
    return withGrad(false, () => this.tensors.map((t) => indexSelect(t, 0, idx))) as T;
  }
}

/** The items of `dataset` at `indices`. */
export class Subset<T extends Tensor[] = Tensor[]> extends Dataset<T> {
  constructor(readonly dataset: Dataset<T>, readonly indices: readonly number[]) {
    super();
  }
  get length(): number {
    return this.indices.length;
  }
  get(i: number): T {
    this.check(i);
    return this.dataset.get(this.indices[i]!);
  }
  override batch(indices: readonly number[]): T {
    for (const i of indices) this.check(i);
    return this.dataset.batch(indices.map((i) => this.indices[i]!));
  }
}

/** A random permutation of 0..n-1 drawn from the generator (Fisher-Yates on its uniforms). */
export function randperm(n: number, generator?: Generator): number[] {
  const u = n > 0 ? (rand([n], { generator }).dataSync() as Float32Array) : new Float32Array(0);
  const p = Array.from({ length: n }, (_v, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(u[i]! * (i + 1)));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

function generatorFrom(options: { seed?: number; generator?: Generator }): Generator | undefined {
  if (options.generator) return options.generator;
  return options.seed !== undefined ? new Generator(options.seed) : undefined;
}

/**
 * Random disjoint subsets with the given lengths: counts summing to the dataset's length,
 * or fractions summing to 1 (floor of each, the remainder dealt one by one from the
 * first, as PyTorch's random_split).
 */
export function split<T extends Tensor[]>(dataset: Dataset<T>, lengths: readonly number[], options: { seed?: number; generator?: Generator } = {}): Subset<T>[] {
  const n = dataset.length;
  let counts: number[];
  const total = lengths.reduce((a, b) => a + b, 0);
  if (lengths.every((l) => l >= 0 && l <= 1) && Math.abs(total - 1) < 1e-6 && lengths.some((l) => !Number.isInteger(l))) {
    counts = lengths.map((f) => Math.floor(n * f));
    let rest = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]!++;
  } else {
    if (!lengths.every((l) => Number.isInteger(l) && l >= 0) || total !== n) {
      throw new Error(`split: lengths [${lengths.join(", ")}] must be fractions summing to 1 or counts summing to the dataset's length (${n})`);
    }
    counts = [...lengths];
  }
  const perm = randperm(n, generatorFrom(options));
  const out: Subset<T>[] = [];
  let at = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.slice(at, at + c)));
    at += c;
  }
  return out;
}

export interface DataLoaderOptions {
  /** Items per batch (default 1). */
  batchSize?: number;
  /** Reshuffle every epoch (default false). */
  shuffle?: boolean;
  /** Seed of the shuffling generator (default: the global generator, see tb.seed). */
  seed?: number;
  generator?: Generator;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}

/** Batches of a dataset: `for (const [x, y] of loader)`; each iteration is one epoch. */
export class DataLoader<T extends Tensor[] = Tensor[]> implements Iterable<T> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly generator: Generator | undefined;

  constructor(readonly dataset: Dataset<T>, options: DataLoaderOptions = {}) {
    this.batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${options.batchSize}`);
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.generator = generatorFrom(options);
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  *[Symbol.iterator](): IterableIterator<T> {
    const n = this.dataset.length;
    const order = this.shuffle ? randperm(n, this.generator) : Array.from({ length: n }, (_v, i) => i);
    for (let b = 0; b < this.length; b++) {
      yield this.dataset.batch(order.slice(b * this.batchSize, Math.min(n, (b + 1) * this.batchSize)));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Normalisation

export interface FeatureStats {
  /** Per-feature mean, the shape of one item (axis 0 reduced). */
  mean: Tensor;
  /** Per-feature population standard deviation. */
  std: Tensor;
}

/** Mean and standard deviation of each feature over axis 0 (the samples), in float32 for
 *  integer features too. */
export function featureStats(x: Tensor): FeatureStats {
  return withGrad(false, () => {
    const xf = cast(x, "float32");
    return { mean: mean(xf, 0), std: std(xf, 0, { correction: 0 }) };
  });
}

/** (x - mean) / std per feature, with statistics from x unless given (use the training
 *  set's for validation data). Constant features (std 0) are only centred. */
export function standardize(x: Tensor, stats: FeatureStats = featureStats(x)): Tensor {
  return withGrad(false, () => {
    const s = where(le(stats.std, 0), 1, stats.std);
    return div(sub(x, stats.mean), s);
  });
}

/** Scales x linearly so that [lo, hi] maps to [0, 1]. */
export function minMaxScale(x: Tensor, lo: number, hi: number): Tensor {
  return withGrad(false, () => div(add(x, -lo), hi - lo));
}
