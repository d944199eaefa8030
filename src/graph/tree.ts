// Nested arguments and results: flattening trees of tensors (arrays and plain objects) to
// a list of leaves plus a structure, and back.
//
// A traced function's signature is its structure with every tensor leaf's shape and
// dtype and every other leaf's value (numbers, strings, booleans... are static: a new
// value means a new trace, as JAX's static arguments).

import { Tensor } from "../tensor/tensor.js";
import { avalText } from "./aval.js";

export type TreeDef =
  | { kind: "tensor" }
  | { kind: "array"; items: TreeDef[] }
  | { kind: "object"; keys: string[]; items: TreeDef[] }
  | { kind: "static"; value: unknown };

export interface Flat {
  leaves: Tensor[];
  /** Path of each leaf, e.g. "batch.x" or "arg0[1]" (names of graph inputs). */
  paths: string[];
  def: TreeDef;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype;
}

export function flatten(x: unknown, path = ""): Flat {
  const leaves: Tensor[] = [];
  const paths: string[] = [];
  const walk = (v: unknown, p: string): TreeDef => {
    if (v instanceof Tensor) {
      leaves.push(v);
      paths.push(p);
      return { kind: "tensor" };
    }
    if (Array.isArray(v)) return { kind: "array", items: v.map((item, i) => walk(item, `${p}[${i}]`)) };
    if (isPlainObject(v)) {
      const keys = Object.keys(v);
      return { kind: "object", keys, items: keys.map((k) => walk(v[k], p ? `${p}.${k}` : k)) };
    }
    if (typeof v === "function" || (typeof v === "object" && v !== null)) {
      throw new TypeError(`fn: arguments and results must be tensors, numbers, strings, booleans, or arrays and plain objects of them; got ${Object.prototype.toString.call(v)} at ${p || "the top level"}`);
    }
    return { kind: "static", value: v };
  };
  const def = walk(x, path);
  return { leaves, paths, def };
}

export function unflatten(def: TreeDef, leaves: readonly unknown[]): unknown {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case "tensor": return leaves[i++];
      case "array": return d.items.map(build);
      case "object": return Object.fromEntries(d.keys.map((k, j) => [k, build(d.items[j]!)]));
      case "static": return d.value;
    }
  };
  return build(def);
}

/** The cache key of a call: structure, static values, and each tensor leaf's type. */
export function signature(flat: Flat): string {
  return JSON.stringify(flat.def) + "|" + flat.leaves.map((t) => avalText(t)).join(" ");
}

/** Parameter names of a function, when its parameter list is plain identifiers. */
export function parameterNames(f: (...args: never[]) => unknown): string[] {
  const src = Function.prototype.toString.call(f);
  const m = /^(?:async\s*)?(?:function\b[^(]*)?\(([^)]*)\)|^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  const list = m?.[1] ?? m?.[2] ?? "";
  return list.split(",").map((s) => s.trim().replace(/[:=].*$/, "").trim()).map((s) => (/^[A-Za-z_$][\w$]*$/.test(s) ? s : ""));
}
