// The compiled path of eager composite ops (src/core/composite.ts): one tb.fn per composite,
// whose signature cache holds one program per input signature (shapes, dtypes, options).
//
// A composite runs compiled only on the current backend's tensors, outside any trace, with
// no gradient to record and checkNumerics off. Each composite keeps at most MAX_SIGNATURES
// programs; past that its cache starts over (a loop over ever new shapes then recompiles,
// at about a millisecond a program, rather than holding memory for every shape seen).

import { setCompositeRunner } from "../core/composite.js";
import { getBackend } from "../core/runtime.js";
import { isCheckingNumerics, isGradEnabled, isTracing } from "../core/trace.js";
import type { Backend } from "../backend/backend.js";
import { fn, type CompiledFunction } from "./fn.js";
import { flatten } from "./tree.js";
import type { Tensor } from "../tensor/tensor.js";

const MAX_SIGNATURES = 64;

const compiled = new Map<string, { backend: Backend; f: CompiledFunction<never[], unknown> }>();

setCompositeRunner((name, impl, args) => {
  if (isTracing() || isCheckingNumerics()) return undefined;
  const backend = getBackend();
  const tensors = flatten(args).leaves; // as fn sees them
  if (tensors.length === 0 || tensors.some((t) => t.disposed || t._storage().backend !== backend)) return undefined;
  if (isGradEnabled() && tensors.some((t) => t.requiresGrad)) return undefined;
  let entry = compiled.get(name);
  if (!entry || entry.backend !== backend) {
    entry?.f.clear();
    entry = { backend, f: fn(impl) };
    compiled.set(name, entry);
  }
  if (entry.f.cacheSize >= MAX_SIGNATURES) entry.f.clear();
  return entry.f(...(args as never[])) as Tensor;
});
