// Compiles a ScalarExpr (backend.ts) into SIMD code that computes four lanes at once.
//
// Register representation of a value by dtype: float32 -> f32x4; int32 -> i32x4; bool ->
// i32x4 holding 0 or 1. Float-only ops (exp, sin, ...) on integer nodes compute in float32
// and convert back. Transcendental functions are in math.ts (and trig.ts, pow.ts); division,
// remainder and floor division, float and integer, in divmod.ts (an integer division by
// zero sets a fault bit that the host raises as ZeroDivisionError). A node referenced more
// than once (graph mode shares subtrees) is computed once into a local.

import { children, type DType, type ScalarExpr } from "../backend.js";
import { Fn, I32, ModuleBuilder, O, S, V128 } from "./emit.js";
import { emitFloorDivide, emitRemainder, intHelper } from "./divmod.js";
import { MathLib } from "./math.js";

const FLOAT_ONLY = new Set(["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tanh", "sigmoid", "erf"]);
const COMPARE = new Set(["eq", "ne", "lt", "le", "gt", "ge"]);

/** Converts the value on the stack from dtype `from` to dtype `to`. */
export function coerce(f: Fn, from: DType, to: DType): void {
  if (from === to) return;
  if (to === "float32") f.v(S.f32x4_convert_i32x4_s);
  else if (to === "int32") {
    if (from === "float32") f.v(S.i32x4_trunc_sat_f32x4_s);
  } else {
    if (from === "float32") f.f32x4(0).v(S.f32x4_ne);
    else f.i32x4(0).v(S.i32x4_ne);
    f.i32x4(1).v(S.and);
  }
}

/** Pushes a mask (all ones where true) for "value != 0" of a value of dtype d. */
function truth(f: Fn, d: DType): void {
  if (d === "float32") f.f32x4(0).v(S.f32x4_ne);
  else f.i32x4(0).v(S.i32x4_ne);
}

export class ExprGen {
  private readonly math: MathLib;
  private readonly uses = new Map<ScalarExpr, number>();
  private readonly cached = new Map<ScalarExpr, number>();
  private readonly slots: Map<ScalarExpr, number>;
  private readonly paramLocals: number[] = [];
  /** Subtrees computed before a loop by `hoist`, in locals. */
  private readonly hoisted = new Map<ScalarExpr, number>();

  /** `inputLocal(i)` returns the local holding input i, in the register representation of
   *  `inputDtype(i)` (the dtype of the view it was loaded from). */
  constructor(
    private readonly mod: ModuleBuilder,
    private readonly f: Fn,
    private readonly inputLocal: (i: number) => number,
    private readonly inputDtype: (i: number) => DType,
    private readonly root: ScalarExpr,
    private readonly fma: boolean,
  ) {
    this.math = new MathLib(fma, mod);
    this.count(root);
    this.slots = constParams(root);
  }

  /** Emits loads of the parameter consts (descriptor words from byte `offset` of the local
   *  `desc`) into splatted locals. Call once, before the loops. */
  loadParams(desc: number, offset: number): void {
    const f = this.f;
    for (const [e, slot] of this.slots) {
      const l = f.local(V128);
      this.paramLocals[slot] = l;
      if (e.dtype === "float32") f.get(desc).mem(O.f32_load, 2, offset + 4 * slot).v(S.f32x4_splat);
      else f.get(desc).mem(O.i32_load, 2, offset + 4 * slot).v(S.i32x4_splat);
      f.set(l);
    }
  }

  private count(e: ScalarExpr): void {
    const n = (this.uses.get(e) ?? 0) + 1;
    this.uses.set(e, n);
    if (n > 1) return;
    for (const c of children(e)) this.count(c);
  }

  /** Emits code that pushes the value of e. Call once per loop body (locals are reused). */
  emit(e: ScalarExpr): void {
    this.cached.clear();
    this.gen(e);
  }

  /** Loop-invariant code motion: emits, here, every largest subtree of the root that reads
   *  only inputs with `invariant(index)` (and constants) into a local, and later `emit`s
   *  read those locals. Call where the invariant inputs hold their values, before the loop
   *  (row kernels hoist what depends only on a row's reductions: softmax's 1 / sum). */
  hoist(invariant: (index: number) => boolean): void {
    const memo = new Map<ScalarExpr, boolean>();
    const inv = (e: ScalarExpr): boolean => {
      let r = memo.get(e);
      if (r === undefined) {
        r = e.op === "input" ? invariant(e.index) : e.op === "const" ? true : children(e).every(inv);
        memo.set(e, r);
      }
      return r;
    };
    const found: ScalarExpr[] = [];
    const seen = new Set<ScalarExpr>();
    const visit = (e: ScalarExpr): void => {
      if (seen.has(e)) return;
      seen.add(e);
      if (inv(e)) {
        if (e.op !== "input" && e.op !== "const") found.push(e);
      } else children(e).forEach(visit);
    };
    visit(this.root);
    this.hoisted.clear();
    this.cached.clear();
    for (const e of found) {
      this.gen(e);
      const l = this.f.local(V128);
      this.f.set(l);
      this.hoisted.set(e, l);
    }
  }

  private gen(e: ScalarExpr): void {
    const pre = this.hoisted.get(e);
    if (pre !== undefined) {
      this.f.get(pre);
      return;
    }
    const local = this.cached.get(e);
    if (local !== undefined) {
      this.f.get(local);
      return;
    }
    this.genUncached(e);
    if ((this.uses.get(e) ?? 0) > 1) {
      const l = this.f.local(V128);
      this.f.tee(l);
      this.cached.set(e, l);
    }
  }

  private genUncached(e: ScalarExpr): void {
    const f = this.f;
    switch (e.op) {
      case "input":
        f.get(this.inputLocal(e.index));
        // the local holds the view's dtype; the expression may read it as another
        coerce(f, this.inputDtype(e.index), e.dtype);
        return;
      case "const":
        if (this.slots.has(e)) f.get(this.paramLocals[this.slots.get(e)!]!);
        else if (e.dtype === "float32") f.f32x4(e.value);
        else if (e.dtype === "int32") f.i32x4(e.value | 0);
        else f.i32x4(e.value ? 1 : 0);
        return;
      case "cast":
        this.gen(e.x);
        coerce(f, e.x.dtype, e.dtype);
        return;
      case "where":
        this.gen(e.a);
        coerce(f, e.a.dtype, e.dtype);
        this.gen(e.b);
        coerce(f, e.b.dtype, e.dtype);
        this.gen(e.cond);
        truth(f, e.cond.dtype);
        f.v(S.bitselect);
        return;
      default:
        break;
    }
    if ("x" in e) this.unary(e.op, e.x, e.dtype);
    else if ("a" in e && "b" in e) this.binary(e.op, e.a, e.b, e.dtype);
  }

  private unary(op: string, x: ScalarExpr, dtype: DType): void {
    const f = this.f;
    if (op === "not") {
      this.gen(x);
      truth(f, x.dtype);
      f.v(S.not).i32x4(1).v(S.and);
      coerce(f, "bool", dtype);
      return;
    }
    const float = FLOAT_ONLY.has(op) || dtype === "float32";
    const t: DType = float ? "float32" : dtype === "bool" ? "int32" : dtype;
    this.gen(x);
    coerce(f, x.dtype, t);
    const v = t === "float32";
    switch (op) {
      case "neg": f.v(v ? S.f32x4_neg : S.i32x4_neg); break;
      case "abs": f.v(v ? S.f32x4_abs : S.i32x4_abs); break;
      case "sign": {
        const tmp = f.local(V128);
        f.set(tmp);
        if (v) {
          // (x > 0) - (x < 0) as float: 0 for NaN and for +-0, as PyTorch
          f.get(tmp).f32x4(0).v(S.f32x4_lt).get(tmp).f32x4(0).v(S.f32x4_gt).v(S.i32x4_sub).v(S.f32x4_convert_i32x4_s);
        } else {
          f.get(tmp).i32x4(0).v(S.i32x4_lt_s).get(tmp).i32x4(0).v(S.i32x4_gt_s).v(S.i32x4_sub);
        }
        break;
      }
      case "sqrt": f.v(S.f32x4_sqrt); break;
      case "rsqrt": { const t2 = f.local(V128); f.set(t2).f32x4(1).get(t2).v(S.f32x4_sqrt).v(S.f32x4_div); break; }
      case "reciprocal": { const t2 = f.local(V128); f.set(t2).f32x4(1).get(t2).v(S.f32x4_div); break; }
      case "floor": if (v) f.v(S.f32x4_floor); break;
      case "ceil": if (v) f.v(S.f32x4_ceil); break;
      case "round": if (v) f.v(S.f32x4_nearest); break;
      case "exp": case "log": case "log1p": case "expm1": case "sin": case "cos": case "tanh":
      case "sigmoid": case "erf":
        this.math.inline(f, op);
        break;
      default:
        throw new Error(`wasm backend: elementwise op "${op}" is not supported`);
    }
    coerce(f, t, dtype);
  }

  private binary(op: string, a: ScalarExpr, b: ScalarExpr, dtype: DType): void {
    const f = this.f;
    if (op === "and" || op === "or") {
      this.gen(a);
      truth(f, a.dtype);
      this.gen(b);
      truth(f, b.dtype);
      f.v(op === "and" ? S.and : S.or).i32x4(1).v(S.and);
      coerce(f, "bool", dtype);
      return;
    }
    // Operand type: comparisons use the promoted operand type, arithmetic the node's.
    let t: DType;
    if (COMPARE.has(op)) t = a.dtype === "float32" || b.dtype === "float32" ? "float32" : "int32";
    else t = dtype === "float32" || op === "atan2" ? "float32" : "int32";
    // max/min against a constant: pmax/pmin are one instruction (x < c ? c : x) and keep a
    // NaN x, which is what max/min must return for it; the general ops also order -0 < +0.
    if ((op === "max" || op === "min") && t === "float32") {
      const [x, c] = b.op === "const" ? [a, b] : a.op === "const" ? [b, a] : [undefined, undefined];
      if (x && c && c.op === "const" && !Number.isNaN(c.value)) {
        this.gen(x);
        coerce(f, x.dtype, t);
        f.f32x4(c.value).v(op === "max" ? S.f32x4_pmax : S.f32x4_pmin);
        coerce(f, t, dtype);
        return;
      }
    }
    // Contraction: a float32 product added to something becomes one fused multiply-add
    // when relaxed SIMD is on and the product is used nowhere else (as compilers contract
    // a * b + c; one rounding instead of two).
    if (this.fma && op === "add" && dtype === "float32" && a.dtype === "float32" && b.dtype === "float32") {
      const [prod, other] = this.contractible(a) ? [a, b] : this.contractible(b) ? [b, a] : [undefined, undefined];
      if (prod && other && prod.op === "mul") {
        // every operand is float32 (contractible and the test above): no conversions
        this.gen(prod.a);
        this.gen(prod.b);
        this.gen(other);
        f.v(S.f32x4_relaxed_madd);
        return;
      }
    }
    this.gen(a);
    coerce(f, a.dtype, t);
    this.gen(b);
    coerce(f, b.dtype, t);
    const v = t === "float32";
    switch (op) {
      case "add": f.v(v ? S.f32x4_add : S.i32x4_add); break;
      case "sub": f.v(v ? S.f32x4_sub : S.i32x4_sub); break;
      case "mul": f.v(v ? S.f32x4_mul : S.i32x4_mul); break;
      case "div": if (v) f.v(S.f32x4_div); else f.call(intHelper(this.mod, "div")); break;
      case "max": f.v(v ? S.f32x4_max : S.i32x4_max_s); break;
      case "min": f.v(v ? S.f32x4_min : S.i32x4_min_s); break;
      case "pow": if (v) this.math.inline(f, "pow"); else f.call(intHelper(this.mod, "ipow")); break;
      case "atan2": this.math.inline(f, "atan2"); break;
      case "floordiv": case "mod":
        if (v) {
          const ta = f.local(V128), tb = f.local(V128);
          f.set(tb).set(ta);
          (op === "mod" ? emitRemainder : emitFloorDivide)(f, this.mod, ta, tb);
        } else f.call(intHelper(this.mod, op));
        break;
      case "eq": f.v(v ? S.f32x4_eq : S.i32x4_eq); break;
      case "ne": f.v(v ? S.f32x4_ne : S.i32x4_ne); break;
      case "lt": f.v(v ? S.f32x4_lt : S.i32x4_lt_s); break;
      case "le": f.v(v ? S.f32x4_le : S.i32x4_le_s); break;
      case "gt": f.v(v ? S.f32x4_gt : S.i32x4_gt_s); break;
      case "ge": f.v(v ? S.f32x4_ge : S.i32x4_ge_s); break;
      default:
        throw new Error(`wasm backend: elementwise op "${op}" is not supported`);
    }
    if (COMPARE.has(op)) {
      f.i32x4(1).v(S.and);
      coerce(f, "bool", dtype);
    } else coerce(f, t, dtype);
  }

  /** A float32 product computed once, here, and not hoisted or shared. */
  private contractible(e: ScalarExpr): boolean {
    return e.op === "mul" && e.dtype === "float32" && (this.uses.get(e) ?? 0) <= 1 && !this.hoisted.has(e) &&
      e.a.dtype === "float32" && e.b.dtype === "float32";
  }
}

type ConstExpr = Extract<ScalarExpr, { op: "const" }>;

/** Const nodes whose value is compiled into the code: max/min bounds (pmax/pmin need a
 *  non-NaN bound). */
function bakedConsts(root: ScalarExpr): Set<ScalarExpr> {
  const baked = new Set<ScalarExpr>();
  const seen = new Set<ScalarExpr>();
  const walk = (e: ScalarExpr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.op === "max" || e.op === "min") for (const c of [e.a, e.b]) if (c.op === "const") baked.add(c);
    children(e).forEach(walk);
  };
  walk(root);
  return baked;
}

/** Every other const is a run-time parameter read from the kernel's descriptor, so kernels
 *  that differ only in constants (x * 0.5, x * 0.25, a learning rate per step) share one
 *  compiled module. Slots are numbered by first occurrence in pre-order. */
export function constParams(root: ScalarExpr): Map<ScalarExpr, number> {
  const baked = bakedConsts(root);
  const slots = new Map<ScalarExpr, number>();
  const walk = (e: ScalarExpr): void => {
    if (e.op === "const" && !baked.has(e) && !slots.has(e)) slots.set(e, slots.size);
    children(e).forEach(walk);
  };
  walk(root);
  return slots;
}

/** Descriptor words for the parameter consts, in slot order (f32 bits, i32, or 0/1). */
const constBits = new Float32Array(1), constBitsI32 = new Int32Array(constBits.buffer);

export function constWords(root: ScalarExpr): number[] {
  const words: number[] = [];
  const f = constBits, i = constBitsI32;
  for (const e of constParams(root).keys()) {
    const c = e as ConstExpr;
    if (c.dtype === "float32") {
      f[0] = c.value;
      words.push(i[0]!);
    } else words.push(c.dtype === "int32" ? c.value | 0 : c.value ? 1 : 0);
  }
  return words;
}

/** A stable text key for caching compiled kernels: structure, dtypes, parameter slots and
 *  baked constant values (shared subtrees print once per use). */
export function exprKey(root: ScalarExpr): string {
  const baked = bakedConsts(root);
  const slots = constParams(root);
  const rec = (e: ScalarExpr): string => {
    switch (e.op) {
      case "input": return `i${e.index}:${e.dtype}`;
      case "const": return baked.has(e) ? `c${e.value}:${e.dtype}` : `p${slots.get(e)}:${e.dtype}`;
      default: return `${e.op}:${e.dtype}(${children(e).map(rec).join(",")})`;
    }
  };
  return rec(root);
}
