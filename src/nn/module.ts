// tb.nn.Module: the base class of layers and models, callable like PyTorch's modules.
//
// `model(x)` runs `forward(x)` inside a name scope named after the attribute that holds the
// module in its parent ("encoder", "0"), so module names become graph name scopes. An
// instance is a function object: the constructor returns an arrow function whose
// prototype is the subclass prototype (own `name` and `length` deleted so fields with
// those names work); the call signature comes from interface merging below.
//
// State is found by walking own fields, in insertion order (integer keys first, which is
// how Sequential and ModuleList store their items):
//   parameters: Variable fields that require grad, or were registered with registerParameter
//   buffers:    Variable fields registered with registerBuffer or not requiring grad
//   children:   Module fields (and the items of plain arrays of modules, "<field>.<i>")
// Fields whose names start with "_" are internal and never state. The first call of a
// root module, and every parameters()/namedParameters()/stateDict(), names the tree: each
// child's scope becomes its attribute name and each Variable's name its dotted path
// ("layer1.weight"), which graph diagrams show.
//
// A module called while tb.fn traces declares a guard on its settings (`training` and its
// own number, string and boolean fields and number arrays: dropout p, eps, kernel sizes),
// so a compiled function traced in training mode is traced again after model.eval().

import { inspect } from "node:util";
import { Tensor } from "../tensor/tensor.js";
import { Variable } from "../graph/variable.js";
import { nameScope } from "../graph/scope.js";
import { guard, isTracing, withGrad } from "../core/trace.js";
import { fmtShape } from "../tensor/shape.js";
import { displaySymbol, type MimeBundle } from "../display/protocol.js";
import { onInterrupt } from "../core/interrupt.js";

/** Called at the start of each module call while a summary is being recorded (depth 0 is
 *  the outermost call); the returned function receives the call's output. */
type CallRecorder = (module: AnyModule, depth: number) => (output: unknown) => void;
let recorder: CallRecorder | null = null;
let callDepth = 0;

// After an interrupt (core/interrupt.ts): no module call or summary is in progress.
onInterrupt(() => {
  recorder = null;
  callDepth = 0;
});

/** @internal Records every module call made by fn (used by tb.nn.summary). */
export function recordCalls<T>(rec: CallRecorder, fn: () => T): T {
  const saved = recorder;
  recorder = rec;
  try {
    return fn();
  } finally {
    recorder = saved;
  }
}

export interface LoadStateDictOptions {
  /** Default true: every key must match exactly; false skips missing and unexpected keys. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export interface Module<I extends unknown[] = [Tensor], O = Tensor> {
  /** Runs forward(...args) inside this module's name scope. */
  (...args: I): O;
}

export abstract class Module<I extends unknown[] = [Tensor], O = Tensor> {
  /** Training mode (dropout active, batch norm on batch statistics); see train()/eval(). */
  declare training: boolean;
  /** @internal The attribute name in the parent: this module's name scope. */
  declare _scopeName: string | undefined;
  /** @internal True once a tree walk has named this module (as root or child). */
  declare _named: boolean;
  /** @internal Attribute names registered explicitly. */
  declare _paramKeys: Set<string>;
  declare _bufferKeys: Set<string>;
  /** @internal True for containers whose items are called by the container's owner. */
  declare _passThrough: boolean;

  constructor() {
    const self = ((...args: I): O => callModule(self, args)) as unknown as Module<I, O>;
    delete (self as unknown as { name?: string }).name;
    delete (self as unknown as { length?: number }).length;
    Object.setPrototypeOf(self, new.target.prototype);
    // Base-class state is set here: field initialisers would run on the discarded `this`.
    const internal = (key: string, value: unknown): void => {
      Object.defineProperty(self, key, { value, writable: true, enumerable: false, configurable: true });
    };
    internal("_scopeName", undefined);
    internal("_named", false);
    internal("_paramKeys", new Set<string>());
    internal("_bufferKeys", new Set<string>());
    internal("training", true);
    internal("_passThrough", false);
    return self;
  }

  abstract forward(...args: I): O;

  /** Extra text inside this module's repr parentheses, e.g. "inFeatures=4, outFeatures=2". */
  extraRepr(): string {
    return "";
  }

  // -------------------------------------------------------------------------------------
  // Registration

  /** Stores value (a Variable, or a tensor made into one) as parameter `name`. */
  registerParameter(name: string, value: Tensor): Variable {
    const v = value instanceof Variable ? value : new Variable(value, { name });
    this._paramKeys.add(name);
    this._bufferKeys.delete(name);
    (this as unknown as Record<string, unknown>)[name] = v;
    return v;
  }

  /** Stores value as buffer `name`: state that is saved and loaded but not trained. */
  registerBuffer(name: string, value: Tensor): Variable {
    const v = value instanceof Variable ? value : new Variable(value, { name, requiresGrad: false });
    if (v.requiresGrad) v.requiresGrad_(false);
    this._bufferKeys.add(name);
    this._paramKeys.delete(name);
    (this as unknown as Record<string, unknown>)[name] = v;
    return v;
  }

  // -------------------------------------------------------------------------------------
  // Walking the tree

  /** Direct children as [attribute name, module], in field order. A plain array of
   *  modules counts as a ModuleList would: its items are "<field>.<index>". */
  *namedChildren(): IterableIterator<[string, AnyModule]> {
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith("_")) continue;
      if (v instanceof Module) yield [k, v as AnyModule];
      else if (Array.isArray(v) && v.length > 0 && v.every((m) => m instanceof Module)) {
        for (let i = 0; i < v.length; i++) yield [`${k}.${i}`, v[i] as AnyModule];
      }
    }
  }

  children(): AnyModule[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }

  /** This module ("") and every descendant by dotted path, each module once. */
  namedModules(prefix = ""): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const walk = (m: AnyModule, path: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [k, c] of m.namedChildren()) walk(c, path ? `${path}.${k}` : k);
    };
    walk(this as unknown as AnyModule, prefix);
    return out;
  }

  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  private ownState(kind: "param" | "buffer"): [string, Variable][] {
    const out: [string, Variable][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith("_") || !(v instanceof Variable)) continue;
      const isBuffer = this._bufferKeys.has(k) || (!this._paramKeys.has(k) && !v.requiresGrad);
      if ((kind === "buffer") === isBuffer) out.push([k, v]);
    }
    return out;
  }

  private namedState(kind: "param" | "buffer"): [string, Variable][] {
    this.nameTree();
    const out: [string, Variable][] = [];
    const seen = new Set<Variable>();
    for (const [path, m] of this.namedModules()) {
      for (const [k, v] of m.ownState(kind)) {
        if (seen.has(v)) continue; // shared (tied) weights appear once, under their first path
        seen.add(v);
        out.push([path ? `${path}.${k}` : k, v]);
      }
    }
    return out;
  }

  /** Trainable parameters by dotted path ("layer1.weight"), each once. */
  namedParameters(): [string, Variable][] {
    return this.namedState("param");
  }

  parameters(): Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  namedBuffers(): [string, Variable][] {
    return this.namedState("buffer");
  }

  buffers(): Variable[] {
    return this.namedBuffers().map(([, v]) => v);
  }

  /** Names every descendant's scope and every Variable by its path from this module. */
  nameTree(): void {
    const walk = (m: AnyModule, path: string, seen: Set<AnyModule>): void => {
      if (seen.has(m)) return;
      seen.add(m);
      m._named = true;
      for (const kind of ["param", "buffer"] as const) {
        for (const [k, v] of m.ownState(kind)) v.name = path ? `${path}.${k}` : k;
      }
      for (const [k, c] of m.namedChildren()) {
        // Items of a container that is never called itself (ModuleList) are called from
        // the container's owner: their scope carries the container's name ("layers.0").
        c._scopeName = m._passThrough && m._scopeName !== undefined ? `${m._scopeName}.${k}` : k;
        walk(c, path ? `${path}.${k}` : k, seen);
      }
    };
    walk(this as unknown as AnyModule, "", new Set());
  }

  // -------------------------------------------------------------------------------------
  // Modes and gradients

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes (false) or unfreezes (true) every parameter; frozen ones get no gradient and
   *  are skipped by optimizers. Parameters stay parameters (they are saved and loaded). */
  requiresGrad_(requiresGrad = true): this {
    this.nameTree();
    for (const m of this.modules()) {
      for (const [k, v] of m.ownState("param")) {
        m._paramKeys.add(k); // stays a parameter while frozen
        v.requiresGrad_(requiresGrad);
      }
    }
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Calls fn on every module (children first, as PyTorch's apply); returns this. */
  apply(fn: (m: AnyModule) => void): this {
    for (const m of this.modules().reverse()) fn(m);
    return this;
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  // -------------------------------------------------------------------------------------
  // State dicts

  /** Parameters and buffers by dotted path (detached views sharing the variables' data). */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of [...this.namedParameters(), ...this.namedBuffers()]) out[k] = withGrad(false, () => v.detach());
    return out;
  }

  /** Copies values into the parameters and buffers. Shape mismatches always throw; with
   *  strict (default) missing or unexpected keys throw too, naming them. */
  loadStateDict(dict: Record<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    const missingKeys = [...own.keys()].filter((k) => !(k in dict));
    const unexpectedKeys = Object.keys(dict).filter((k) => !own.has(k));
    const cls = this.constructor.name;
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      const parts = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(", ")}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(", ")}`);
      throw new Error(`loadStateDict(${cls}): ${parts.join("; ")} (pass { strict: false } to load the keys that match)`);
    }
    const mismatched: string[] = [];
    for (const [k, v] of own) {
      const t = dict[k];
      if (t && fmtShape(t.shape) !== fmtShape(v.shape)) mismatched.push(`${k}: checkpoint ${fmtShape(t.shape)}, model ${fmtShape(v.shape)}`);
    }
    if (mismatched.length) throw new Error(`loadStateDict(${cls}): shape mismatch for ${mismatched.join("; ")}`);
    withGrad(false, () => {
      for (const [k, v] of own) {
        const t = dict[k];
        if (t) v.assign(t);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // -------------------------------------------------------------------------------------
  // Printing

  toString(): string {
    const extra = this.extraRepr();
    const kids = [...this.namedChildren()];
    if (kids.length === 0) return `${this.constructor.name}(${extra})`;
    const lines = kids.map(([k, m]) => `  (${k}): ${m.toString().split("\n").join("\n  ")}`);
    if (extra) lines.unshift(`  ${extra}`);
    return `${this.constructor.name}(\n${lines.join("\n")}\n)`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /** Notebooks show the repr (a module is a function object, which would show as one). */
  [displaySymbol](): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

/** Any module, whatever its call signature. */
export type AnyModule = Module<never[], unknown>;

/** The settings a traced call of m reads: `training` and its own plain fields. */
function settingsOf(m: object): unknown[] {
  const out: unknown[] = [(m as { training: boolean }).training];
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean" || v === null) out.push(k, v);
    else if (Array.isArray(v) && v.every((x) => typeof x === "number")) out.push(k, v.join(","));
  }
  return out;
}

function callModule<I extends unknown[], O>(m: Module<I, O>, args: I): O {
  if (!m._named) m.nameTree();
  if (isTracing()) {
    const seen = settingsOf(m);
    guard(`settings of ${m.constructor.name} ${m._scopeName ?? ""} (training mode and options)`, () => {
      const now = settingsOf(m);
      return now.length === seen.length && now.every((v, i) => v === seen[i]);
    }, m);
  }
  const done = recorder ? recorder(m as unknown as AnyModule, callDepth) : null;
  callDepth++;
  try {
    const run = (): O => m.forward(...args);
    const out = m._scopeName !== undefined ? nameScope(m._scopeName, run) : run();
    done?.(out);
    return out;
  } finally {
    callDepth--;
  }
}
