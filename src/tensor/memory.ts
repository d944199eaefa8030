// Memory API: tb.memory(), tb.scope(), tb.collect(), wired to the runtime's lifetimes.
//
// A scope keeps what it returns plus everything those tensors' tape still needs (so a
// returned loss can still call backward()), gradients stored on leaves, tensors marked with
// tb.keep, and variables (learned state, recognised by their assign method).

import { installScopeHooks, memory, scope, collect, setCollectThreshold } from "../core/runtime.js";
import { Tensor } from "./tensor.js";

function keepSet(result: unknown): Set<object> {
  const keep = new Set<object>();
  const visit = (t: Tensor) => {
    if (keep.has(t)) return;
    keep.add(t);
    if (t._node) for (const x of t._node.inputs) visit(x);
    if (t.grad) visit(t.grad);
  };
  const walk = (x: unknown, depth: number) => {
    if (depth > 32 || x === null || typeof x !== "object") return;
    if (x instanceof Tensor) return visit(x);
    if (Array.isArray(x)) return x.forEach((v) => walk(v, depth + 1));
    if (x instanceof Map) return x.forEach((v) => walk(v, depth + 1));
    for (const v of Object.values(x)) walk(v, depth + 1);
  };
  walk(result, 0);
  return keep;
}

installScopeHooks({
  keep: keepSet,
  dispose(obj) {
    const t = obj as Tensor & { assign?: unknown };
    // Gradients stored on leaves and learned state (variables, which have assign) outlive scopes.
    if (t._escaped || typeof t.assign === "function") return;
    t.dispose();
  },
});

/** Marks tensors (any nesting) to outlive every enclosing tb.scope; returns its argument. */
export function keep<T>(value: T): T {
  const walk = (x: unknown, depth: number): void => {
    if (depth > 32 || x === null || typeof x !== "object") return;
    if (x instanceof Tensor) {
      x._escaped = true;
      return;
    }
    if (Array.isArray(x)) return x.forEach((v) => walk(v, depth + 1));
    for (const v of Object.values(x)) walk(v, depth + 1);
  };
  walk(value, 0);
  return value;
}

export { memory, scope, collect, setCollectThreshold };
