// Reverse-mode autodiff over the tape: backward(), grad(), valueAndGrad(), noGrad().
//
// The tape is the graph of TapeNodes hanging off tensors (output -> node -> inputs). A
// backward pass sorts it topologically from the roots and applies each primitive's vjp
// rule. The vjp rules are tensor ops, so with createGraph the backward pass records on the
// tape too, which is how grad of grad works (tb.grad(tb.grad(f))).

import { bind, currentTrace, inPhase, isGradEnabled, withGrad } from "../core/trace.js";
import { rules } from "../ops/rules.js";
import type { Prim, Params } from "../ops/prims.js";
import { Tensor } from "../tensor/tensor.js";
import { fmtShape, shapesEqual } from "../tensor/shape.js";
import { add, full, onesLike, zerosLike, cast } from "../ops/api.js";
import { scope } from "../core/runtime.js";

/** Gradients of roots (seeded) with respect to every tensor on their tape. */
export function computeGrads(roots: Tensor[], seeds: Tensor[], createGraph: boolean): Map<Tensor, Tensor> {
  const grads = inPhase("backward", () => accumulateGrads(roots, seeds, createGraph));
  const trace = currentTrace();
  if (trace.recordGradient) for (const [t, g] of grads) if (t._node === null && t.requiresGrad) trace.recordGradient(t, g);
  return grads;
}

function accumulateGrads(roots: Tensor[], seeds: Tensor[], createGraph: boolean): Map<Tensor, Tensor> {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS: a node comes after all of its inputs.
  const stack: [Tensor, number][] = roots.map((r) => [r, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0 && seen.has(t)) {
      stack.pop();
      continue;
    }
    seen.add(t);
    const inputs = t._node ? t._node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const x = inputs[i];
      if (x.requiresGrad && !seen.has(x)) stack.push([x, 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }
  // Eagerly and without createGraph, backward temporaries are freed as soon as they are
  // consumed: each vjp runs in a scope (its intermediates die with it) and a node's
  // gradient is disposed once passed on, unless the same tensor is stored for another
  // entry (uses counts map entries per tensor) or was handed in by the caller (seeds).
  // Leaf gradients are the result and are never freed here.
  const eager = !createGraph && currentTrace().name === "eager";
  const seedSet = new Set(seeds);
  const grads = new Map<Tensor, Tensor>();
  const uses = new Map<Tensor, number>();
  const store = (x: Tensor, g: Tensor) => {
    grads.set(x, g);
    uses.set(g, (uses.get(g) ?? 0) + 1);
  };
  const release = (g: Tensor) => {
    const n = (uses.get(g) ?? 0) - 1;
    if (n > 0) return void uses.set(g, n);
    uses.delete(g);
    if (eager && !seedSet.has(g)) g.dispose();
  };
  roots.forEach((r, i) => {
    const prev = grads.get(r);
    if (prev) {
      store(r, add(prev, seeds[i]));
      release(prev);
    } else store(r, seeds[i]);
  });
  withGrad(createGraph, () => {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const node = t._node;
      const g = grads.get(t);
      if (!node || !g) continue;
      // a composite's own gradient, or the primitive's rule
      const rule = (rules[node.prim as Prim] as {
        vjp: ((g: Tensor, xs: Tensor[], out: Tensor, p: Params<Prim>, needed?: readonly boolean[]) => (Tensor | null)[]) | null;
      } | undefined)?.vjp;
      const custom = node.vjp;
      const vjp = custom ? (g: Tensor) => custom(g, t)
        : rule ? (g: Tensor) => rule(g, [...node.inputs], t, node.params as Params<Prim>, node.inputs.map((x) => x.requiresGrad))
        : null;
      if (vjp) {
        const run = () => {
          try {
            return vjp(g);
          } catch (e) {
            if (!/was disposed/.test((e as Error).message)) throw e;
            throw new Error(
              `backward: the gradient of ${node.prim} (output ${t.dtype}${fmtShape(t.shape)}) needs a tensor that was disposed ` +
                `(${(e as Error).message}). Keep the inputs of a computation alive until backward() has run ` +
                `(tb.scope keeps everything the returned tensors' tape needs).`,
            );
          }
        };
        const gs = eager ? scope(run) : run();
        node.inputs.forEach((x, i) => {
          const gi = gs[i];
          if (!gi || !x.requiresGrad) return;
          if (!shapesEqual(gi.shape, x.shape)) {
            throw new Error(`internal: vjp of ${node.prim} gave a gradient ${fmtShape(gi.shape)} for input ${i} of shape ${fmtShape(x.shape)}`);
          }
          const prev = grads.get(x);
          if (!prev) return store(x, gi);
          store(x, add(prev, gi));
          release(prev);
          // gi was consumed by the sum; free it unless something else holds it.
          if (eager && gi !== g && !uses.has(gi) && !seedSet.has(gi)) gi.dispose();
        });
      }
      // A non-leaf's gradient is not needed once passed to its inputs (with createGraph the
      // caller may ask for it: tb.grad's stand-ins for taped inputs are non-leaves).
      if (eager) {
        grads.delete(t);
        release(g);
      }
    }
  });
  return grads;
}

export function backward(root: Tensor, grad: Tensor | number | undefined, options: { createGraph?: boolean }): void {
  if (!root.requiresGrad) {
    throw new Error(`backward: this ${root.dtype}${fmtShape(root.shape)} tensor does not require grad (no input had requiresGrad, or it was computed under noGrad)`);
  }
  let seed: Tensor;
  if (grad === undefined) {
    if (root.size !== 1) throw new Error(`backward: a gradient can be created implicitly only for one-element outputs, got ${fmtShape(root.shape)}; pass backward(grad)`);
    seed = inPhase("backward", () => onesLike(root));
  } else seed = inPhase("backward", () => (typeof grad === "number" ? full(root.shape, grad) : cast(grad, "float32")));
  if (!shapesEqual(seed.shape, root.shape)) throw new Error(`backward: grad ${fmtShape(seed.shape)} does not match the output ${fmtShape(root.shape)}`);
  const grads = computeGrads([root], [seed], options.createGraph ?? false);
  for (const [t, g] of grads) {
    if (t._node !== null || !t.requiresGrad) continue;
    const next = t.grad ? inPhase("backward", () => withGrad(options.createGraph ?? false, () => add(t.grad!, g))) : g;
    next._escaped = true;
    t.grad = next;
  }
}

export function noGrad<T>(fn: () => T): T {
  return withGrad(false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withGrad(true, fn);
}

// ---------------------------------------------------------------------------------------
// Functional transforms over nested arguments (objects and arrays of tensors).

type Tree = unknown;

function mapTree(x: Tree, f: (t: Tensor) => Tensor): Tree {
  if (x instanceof Tensor) return f(x);
  if (Array.isArray(x)) return x.map((v) => mapTree(v, f));
  if (x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, mapTree(v, f)]));
  }
  return x;
}

/** A fresh differentiable stand-in for t: linked to t's tape when an outer grad records it. */
function standIn(t: Tensor, outer: boolean): Tensor {
  if (t.dtype !== "float32") return t;
  if (outer && t.requiresGrad) return bind("reshape", [t], { shape: [...t.shape] });
  return t.detach().requiresGrad_(true);
}

/** The gradient structure of the selected arguments: the same nesting with tensors. */
function gradOf(f: (...args: never[]) => Tensor, argnums: number | readonly number[], withValue: boolean) {
  return (...args: unknown[]): unknown => {
    const nums = typeof argnums === "number" ? [argnums] : [...argnums];
    const outer = isGradEnabled();
    const stands = new Map<Tensor, Tensor>();
    const wrapped = args.map((a, i) =>
      nums.includes(i)
        ? mapTree(a, (t) => {
            const s = standIn(t, outer);
            stands.set(s, t);
            return s;
          })
        : a,
    );
    const createGraph = outer && [...stands.values()].some((t) => t.requiresGrad);
    const out = withGrad(true, () => (f as (...a: unknown[]) => unknown)(...wrapped));
    if (!(out instanceof Tensor) || out.size !== 1) {
      throw new Error(`grad: the function must return a one-element tensor, got ${out instanceof Tensor ? fmtShape(out.shape) : typeof out}`);
    }
    const grads = out.requiresGrad ? computeGrads([out], [inPhase("backward", () => onesLike(out))], createGraph) : new Map<Tensor, Tensor>();
    const result = nums.map((i) => mapTree(wrapped[i], (s) => grads.get(s) ?? zerosLike(s)));
    const g = typeof argnums === "number" ? result[0] : result;
    return withValue ? [createGraph ? out : out.detach(), g] : g;
  };
}

/** The gradient of a nested argument: the same structure with a tensor per tensor. */
export type GradTree<T> = T extends Tensor
  ? Tensor
  : T extends readonly unknown[]
    ? { [K in keyof T]: GradTree<T[K]> }
    : T extends object
      ? { [K in keyof T]: GradTree<T[K]> }
      : T;

/** tb.grad(f, argnums = 0): a function returning df/dargs for the selected arguments. */
export function grad<A extends unknown[]>(f: (...args: A) => Tensor): (...args: A) => GradTree<A[0]>;
export function grad<A extends unknown[], N extends number>(f: (...args: A) => Tensor, argnums: N): (...args: A) => GradTree<A[N]>;
export function grad<A extends unknown[]>(f: (...args: A) => Tensor, argnums: readonly number[]): (...args: A) => GradTree<A[number]>[];
export function grad<A extends unknown[]>(f: (...args: A) => Tensor, argnums: number | readonly number[] = 0): (...args: A) => unknown {
  return gradOf(f as unknown as (...args: never[]) => Tensor, argnums, false);
}

/** tb.valueAndGrad(f, argnums = 0): a function returning [f(args), df/dargs]. */
export function valueAndGrad<A extends unknown[]>(f: (...args: A) => Tensor): (...args: A) => [Tensor, GradTree<A[0]>];
export function valueAndGrad<A extends unknown[], N extends number>(f: (...args: A) => Tensor, argnums: N): (...args: A) => [Tensor, GradTree<A[N]>];
export function valueAndGrad<A extends unknown[]>(f: (...args: A) => Tensor, argnums: readonly number[]): (...args: A) => [Tensor, GradTree<A[number]>[]];
export function valueAndGrad<A extends unknown[]>(f: (...args: A) => Tensor, argnums: number | readonly number[] = 0): (...args: A) => unknown {
  return gradOf(f as unknown as (...args: never[]) => Tensor, argnums, true);
}
