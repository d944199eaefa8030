// Checkpoints: tb.save(path, record) and tb.load(path) on top of the safetensors format
// (src/io/safetensors.ts: atomic writes, validated reads).
//
// A record is a plain object of named tensors, e.g. model.stateDict(). Optimizer state
// dicts are flattened: tensors to "state.<param index>.<key>" ("state.0.exp_avg") and the
// parameter groups (hyperparameters and parameter indices) to the metadata entry
// "paramGroups" as a JSON string, with "format" = "tensorbook.optimizer"; loading such a
// file gives a record that optimizer.loadStateDict accepts. The metadata of any loaded
// file is available through checkpointMetadata(record).

import { Tensor } from "../tensor/tensor.js";
import { loadFile, saveFile, type RawTensor, type StoredDType } from "./safetensors.js";
import type { OptimizerStateDict, SavedGroup } from "../optim/optimizer.js";

export type TensorRecord = Record<string, Tensor>;

export interface SaveOptions {
  /** String key-value pairs stored in the file's __metadata__. */
  metadata?: Record<string, string>;
}

export const OPTIMIZER_FORMAT = "tensorbook.optimizer";

const metadataOf = new WeakMap<object, Record<string, string>>();

/** The __metadata__ of the file a record was loaded from (undefined if it had none). */
export function checkpointMetadata(record: TensorRecord): Record<string, string> | undefined {
  return metadataOf.get(record);
}

function isOptimizerState(x: TensorRecord | OptimizerStateDict): x is OptimizerStateDict {
  const o = x as Partial<OptimizerStateDict>;
  return Array.isArray(o.paramGroups) && typeof o.state === "object" && o.state !== null && !(o.state instanceof Tensor);
}

/** Optimizer state as named tensors plus metadata. */
export function flattenOptimizerState(sd: OptimizerStateDict): { tensors: TensorRecord; metadata: Record<string, string> } {
  const tensors: TensorRecord = {};
  for (const [i, entries] of Object.entries(sd.state)) {
    for (const [k, t] of Object.entries(entries)) tensors[`state.${i}.${k}`] = t;
  }
  return { tensors, metadata: { format: OPTIMIZER_FORMAT, paramGroups: JSON.stringify(sd.paramGroups) } };
}

/** The inverse of flattenOptimizerState. */
export function unflattenOptimizerState(tensors: TensorRecord, metadata: Record<string, string> | undefined, what = "record"): OptimizerStateDict {
  if (metadata?.format !== OPTIMIZER_FORMAT || metadata.paramGroups === undefined) {
    throw new Error(`optimizer state: ${what} has no optimizer metadata (format "${OPTIMIZER_FORMAT}" and paramGroups); save it with tb.save(path, optimizer.stateDict())`);
  }
  let paramGroups: SavedGroup[];
  try {
    paramGroups = JSON.parse(metadata.paramGroups) as SavedGroup[];
  } catch (e) {
    throw new Error(`optimizer state: ${what}: paramGroups metadata is not valid JSON (${(e as Error).message})`);
  }
  const state: Record<string, Record<string, Tensor>> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const m = /^state\.(\d+)\.(.+)$/.exec(name);
    if (!m) throw new Error(`optimizer state: ${what}: unexpected tensor "${name}" (expected state.<index>.<key>)`);
    (state[m[1]!] ??= {})[m[2]!] = t;
  }
  return { state, paramGroups };
}

function toRaw(t: Tensor): RawTensor {
  const dtype = t.dtype as StoredDType;
  const d = t.dataSync();
  const data = dtype === "float32" ? Float32Array.from(d) : dtype === "int32" ? Int32Array.from(d) : Uint8Array.from(d);
  return { dtype, shape: [...t.shape], data };
}

/** Writes a record of named tensors (or an optimizer state dict) to a safetensors file,
 *  atomically: a process killed part way leaves the previous file intact. */
export function saveSync(path: string, record: TensorRecord | OptimizerStateDict, options: SaveOptions = {}): void {
  let tensors: TensorRecord;
  let metadata: Record<string, string> = { ...(options.metadata ?? {}) };
  if (isOptimizerState(record)) {
    const flat = flattenOptimizerState(record);
    tensors = flat.tensors;
    metadata = { ...metadata, ...flat.metadata };
  } else tensors = record;
  const raw: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new TypeError(`save: "${name}" is ${t === null ? "null" : typeof t}, not a tensor (a record maps names to tensors)`);
    raw[name] = toRaw(t);
  }
  saveFile(path, { tensors: raw, metadata: Object.keys(metadata).length ? metadata : undefined });
}

/** Reads a safetensors file as a record of named tensors (metadata: checkpointMetadata). */
export function loadSync(path: string): TensorRecord {
  const file = loadFile(path);
  const out: TensorRecord = {};
  for (const [name, t] of Object.entries(file.tensors)) out[name] = Tensor._fromArray(t.data, [...t.shape], t.dtype);
  if (file.metadata) metadataOf.set(out, file.metadata);
  return out;
}

export async function save(path: string, record: TensorRecord | OptimizerStateDict, options: SaveOptions = {}): Promise<void> {
  saveSync(path, record, options);
}

export async function load(path: string): Promise<TensorRecord> {
  return loadSync(path);
}
