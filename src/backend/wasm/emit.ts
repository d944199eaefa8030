// A small WebAssembly binary emitter: enough of the format to generate specialised SIMD
// kernels at run time (as jax-js and tinygrad do), with no compiler outside this project.
//
// Scope: type, import (one shared memory), function, export and code sections; locals;
// structured control flow; i32/i64/f32/f64 scalar ops; SIMD128 (0xFD prefix) and the
// relaxed-SIMD fused multiply-adds. A `Fn` collects one function body as bytes; a `ModuleBuilder` collects
// functions and serialises the module. Opcode numbers follow the WebAssembly core spec
// (binary format, section 5.4) and the SIMD proposal's opcode table.

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128. */
export function uleb(out: number[], n: number): void {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

/** Signed LEB128 of a 64-bit integer. */
export function sleb64(out: number[], n: bigint): void {
  n = BigInt.asIntN(64, n);
  for (;;) {
    const byte = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (byte & 0x40) === 0) || (n === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(out: number[], n: number): void {
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

const f32buf = new Float32Array(1);
const f32bytes = new Uint8Array(f32buf.buffer);
const f64buf = new Float64Array(1);
const f64bytes = new Uint8Array(f64buf.buffer);

/** SIMD opcodes used by the kernels (after the 0xFD prefix). */
export const S = {
  load: 0, load8x8_u: 2, load32_splat: 9, store: 11, const: 12, shuffle: 13,
  i32x4_splat: 17, f32x4_splat: 19,
  i32x4_extract_lane: 27, i32x4_replace_lane: 28, f32x4_extract_lane: 31, f32x4_replace_lane: 32,
  i32x4_eq: 55, i32x4_ne: 56, i32x4_lt_s: 57, i32x4_gt_s: 59, i32x4_le_s: 61, i32x4_ge_s: 63,
  f32x4_eq: 65, f32x4_ne: 66, f32x4_lt: 67, f32x4_gt: 68, f32x4_le: 69, f32x4_ge: 70,
  f64x2_eq: 71, f64x2_ne: 72, f64x2_lt: 73, f64x2_gt: 74, f64x2_le: 75, f64x2_ge: 76,
  not: 77, and: 78, andnot: 79, or: 80, xor: 81, bitselect: 82, any_true: 83,
  load8_lane: 84, load32_lane: 86, store8_lane: 88, store32_lane: 90, load32_zero: 92,
  f32x4_demote_f64x2_zero: 94, f64x2_promote_low_f32x4: 95,
  i8x16_narrow_i16x8_u: 102,
  f32x4_ceil: 103, f32x4_floor: 104, f32x4_trunc: 105, f32x4_nearest: 106,
  f64x2_trunc: 122, f64x2_nearest: 148,
  i16x8_narrow_i32x4_u: 134, i16x8_extend_low_i8x16_u: 137,
  i32x4_abs: 160, i32x4_neg: 161, i32x4_all_true: 163, i32x4_bitmask: 164, i32x4_extend_low_i16x8_u: 169,
  i32x4_shl: 171, i32x4_shr_s: 172, i32x4_shr_u: 173, i32x4_add: 174, i32x4_sub: 177,
  i32x4_mul: 181, i32x4_min_s: 182, i32x4_max_s: 184,
  f32x4_abs: 224, f32x4_neg: 225, f32x4_sqrt: 227, f32x4_add: 228, f32x4_sub: 229,
  f32x4_mul: 230, f32x4_div: 231, f32x4_min: 232, f32x4_max: 233, f32x4_pmin: 234, f32x4_pmax: 235,
  i64x2_shl: 203, i64x2_add: 206, i64x2_sub: 209,
  f64x2_abs: 236, f64x2_neg: 237, f64x2_add: 240, f64x2_sub: 241, f64x2_mul: 242, f64x2_div: 243,
  f64x2_pmin: 246, f64x2_pmax: 247,
  i32x4_trunc_sat_f32x4_s: 248, f32x4_convert_i32x4_s: 250, f64x2_convert_low_i32x4_s: 254,
  f32x4_relaxed_madd: 0x105, f32x4_relaxed_nmadd: 0x106, f64x2_relaxed_madd: 0x107, f64x2_relaxed_nmadd: 0x108,
} as const;

/** Scalar opcodes used by the kernels. */
export const O = {
  unreachable: 0x00, nop: 0x01, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, br_if: 0x0d, return: 0x0f, call: 0x10, drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22,
  i32_load: 0x28, f32_load: 0x2a, i32_load8_u: 0x2d, i32_store: 0x36, f32_store: 0x38, i32_store8: 0x3a,
  i32_const: 0x41, f32_const: 0x43,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a,
  i32_le_s: 0x4c, i32_ge_s: 0x4e, i32_ge_u: 0x4f,
  f32_eq: 0x5b, f32_ne: 0x5c, f32_lt: 0x5d, f32_gt: 0x5e, f32_le: 0x5f, f32_ge: 0x60,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_div_s: 0x6d, i32_div_u: 0x6e, i32_rem_s: 0x6f,
  i32_rem_u: 0x70, i32_and: 0x71, i32_or: 0x72, i32_xor: 0x73, i32_shl: 0x74, i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  f32_abs: 0x8b, f32_neg: 0x8c, f32_floor: 0x8e, f32_sqrt: 0x91, f32_add: 0x92, f32_sub: 0x93,
  f32_mul: 0x94, f32_div: 0x95, f32_min: 0x96, f32_max: 0x97,
  i32_trunc_f32_s: 0xa8, f32_convert_i32_s: 0xb2,
  i64_load: 0x29, i64_const: 0x42, f64_const: 0x44,
  i64_eqz: 0x50,
  i64_add: 0x7c, i64_sub: 0x7d, i64_mul: 0x7e, i64_and: 0x83, i64_or: 0x84, i64_xor: 0x85,
  i64_shl: 0x86, i64_shr_s: 0x87, i64_shr_u: 0x88,
  f64_add: 0xa0, f64_sub: 0xa1, f64_mul: 0xa2,
  i32_wrap_i64: 0xa7, i64_extend_i32_s: 0xac, i64_extend_i32_u: 0xad,
  f32_demote_f64: 0xb6, f64_convert_i64_s: 0xb9, f64_promote_f32: 0xbb,
  i32_reinterpret_f32: 0xbc, f32_reinterpret_i32: 0xbe,
} as const;

/** Block type for blocks that yield nothing. */
export const VOID = 0x40;

/** One function body under construction. Parameters are locals 0..params.length-1. */
export class Fn {
  readonly code: number[] = [];
  private readonly extraLocals: ValType[] = [];
  constructor(readonly params: ValType[], readonly results: ValType[] = []) {}

  /** Declares a fresh local and returns its index. */
  local(type: ValType): number {
    this.extraLocals.push(type);
    return this.params.length + this.extraLocals.length - 1;
  }

  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  get(i: number): this { this.code.push(O.local_get); uleb(this.code, i); return this; }
  set(i: number): this { this.code.push(O.local_set); uleb(this.code, i); return this; }
  tee(i: number): this { this.code.push(O.local_tee); uleb(this.code, i); return this; }
  i32(n: number): this { this.code.push(O.i32_const); sleb(this.code, n); return this; }
  i64(n: bigint): this { this.code.push(O.i64_const); sleb64(this.code, n); return this; }
  f64(x: number): this {
    f64buf[0] = x;
    this.code.push(O.f64_const, ...f64bytes);
    return this;
  }
  f32(x: number): this {
    f32buf[0] = x;
    this.code.push(O.f32_const, ...f32bytes);
    return this;
  }
  call(fnIndex: number): this { this.code.push(O.call); uleb(this.code, fnIndex); return this; }
  /** A memory instruction with its memarg (alignment exponent and byte offset). */
  mem(opcode: number, align: number, offset = 0): this {
    this.code.push(opcode);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }
  /** A SIMD instruction without immediates. */
  v(opcode: number): this { this.code.push(0xfd); uleb(this.code, opcode); return this; }
  /** A SIMD memory instruction (load/store/splat). */
  vmem(opcode: number, align: number, offset = 0): this {
    this.v(opcode);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }
  /** A SIMD lane memory instruction (load*_lane/store*_lane). */
  vlane(opcode: number, align: number, offset: number, lane: number): this {
    this.vmem(opcode, align, offset);
    this.code.push(lane);
    return this;
  }
  /** extract_lane / replace_lane. */
  lane(opcode: number, lane: number): this { this.v(opcode); this.code.push(lane); return this; }
  /** v128.const with four equal f32 lanes. */
  f32x4(x: number): this {
    f32buf[0] = x;
    return this.v128splat(Array.from(f32bytes));
  }
  /** v128.const with two equal f64 lanes. */
  f64x2(x: number): this {
    f64buf[0] = x;
    return this.v128splat(Array.from(f64bytes), 2);
  }
  /** i8x16.shuffle of the two vectors on the stack by 32-bit lane indices (0..3 pick from
   *  the first operand, 4..7 from the second). */
  shuffle32(lanes: readonly [number, number, number, number]): this {
    this.v(S.shuffle);
    for (const l of lanes) for (let b = 0; b < 4; b++) this.code.push(4 * l + b);
    return this;
  }
  /** v128.const with four equal i32 lanes. */
  i32x4(n: number): this {
    return this.v128splat(Array.from(new Uint8Array(new Int32Array([n]).buffer)));
  }

  /** When set, vector constants become locals initialised once at function entry: V8 does
   *  not hoist v128.const out of loops, and materialising one takes several instructions. */
  hoistConstants = false;
  private readonly constLocals = new Map<string, number>();

  /** A v128.const made of `copies` copies of `lane` (4 for 32-bit lanes, 2 for 64-bit). */
  private v128splat(lane: number[], copies = 4): this {
    const bytes: number[] = [];
    for (let l = 0; l < copies; l++) bytes.push(...lane);
    if (this.hoistConstants) {
      const key = bytes.join(",");
      let l = this.constLocals.get(key);
      if (l === undefined) {
        l = this.local(V128);
        this.constLocals.set(key, l);
      }
      return this.get(l);
    }
    this.v(S.const);
    this.code.push(...bytes);
    return this;
  }
  block(): this { return this.op(O.block, VOID); }
  loop(): this { return this.op(O.loop, VOID); }
  /** `if` with an optional result type (the value each branch leaves). */
  if_(result: number = VOID): this { return this.op(O.if, result); }
  else_(): this { return this.op(O.else); }
  end(): this { return this.op(O.end); }
  br(depth: number): this { this.code.push(O.br); uleb(this.code, depth); return this; }
  brIf(depth: number): this { this.code.push(O.br_if); uleb(this.code, depth); return this; }

  /** Structured counted loop: for (i = from; i < to; i += step) body(). `from`/`to` push i32. */
  forRange(i: number, from: () => void, to: () => void, step: number, body: () => void): this {
    from();
    this.set(i);
    this.block();
    this.get(i); to(); this.op(O.i32_ge_s).brIf(0);
    this.loop();
    body();
    this.get(i).i32(step).op(O.i32_add).tee(i);
    to();
    this.op(O.i32_lt_s).brIf(0);
    this.end();
    this.end();
    return this;
  }

  /** Serialised body: local declarations (run-length by type), code, end. */
  body(): number[] {
    const out: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.extraLocals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(out, groups.length);
    for (const [n, t] of groups) {
      uleb(out, n);
      out.push(t);
    }
    for (const [key, l] of this.constLocals) {
      out.push(0xfd);
      uleb(out, S.const);
      out.push(...key.split(",").map(Number));
      out.push(O.local_set);
      uleb(out, l);
    }
    out.push(...this.code, O.end);
    const sized: number[] = [];
    uleb(sized, out.length);
    return sized.concat(out);
  }
}

/** Pushes Horner's evaluation at f32x4 local z of a polynomial with coefficients highest
 *  degree first, by fused multiply-adds when `fma` (relaxed SIMD) is on. */
export function horner(f: Fn, z: number, coeffs: readonly number[], fma: boolean): void {
  f.f32x4(coeffs[0]!);
  for (let i = 1; i < coeffs.length; i++) {
    if (fma) f.get(z).f32x4(coeffs[i]!).v(S.f32x4_relaxed_madd);
    else f.get(z).v(S.f32x4_mul).f32x4(coeffs[i]!).v(S.f32x4_add);
  }
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  for (const b of content) out.push(b);
}

/** Collects functions; the module imports `env.memory` (shared) and exports named functions. */
export class ModuleBuilder {
  private readonly fns: Fn[] = [];
  private readonly exports: [string, number][] = [];
  private readonly helpers = new Map<string, number>();

  constructor(private readonly memoryPages: { initial: number; maximum: number }) {}

  /** Adds a function and returns its index (no imported functions, so indices start at 0). */
  add(fn: Fn, exportName?: string): number {
    this.fns.push(fn);
    const index = this.fns.length - 1;
    if (exportName !== undefined) this.exports.push([exportName, index]);
    return index;
  }

  /** A helper function shared by everything emitted into this module: built by `make` the
   *  first time `key` is asked for, and its index returned every time. */
  helper(key: string, make: () => Fn): number {
    let index = this.helpers.get(key);
    if (index === undefined) {
      index = this.add(make());
      this.helpers.set(key, index);
    }
    return index;
  }

  /** Reserves an index for a function whose body is supplied later with `define`. */
  reserve(params: ValType[], results: ValType[] = []): number {
    return this.add(new Fn(params, results));
  }
  define(index: number, fn: Fn, exportName?: string): void {
    this.fns[index] = fn;
    if (exportName !== undefined) this.exports.push([exportName, index]);
  }

  bytes(): Uint8Array {
    const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    // Types: one per distinct signature.
    const sigKeys: string[] = [];
    const sigOf: number[] = [];
    const types: number[] = [];
    for (const f of this.fns) {
      const key = `${f.params.join(",")}:${f.results.join(",")}`;
      let idx = sigKeys.indexOf(key);
      if (idx < 0) {
        idx = sigKeys.length;
        sigKeys.push(key);
        types.push(0x60);
        uleb(types, f.params.length);
        types.push(...f.params);
        uleb(types, f.results.length);
        types.push(...f.results);
      }
      sigOf.push(idx);
    }
    const typeSec: number[] = [];
    uleb(typeSec, sigKeys.length);
    section(out, 1, typeSec.concat(types));
    // Import: env.memory, shared, with a maximum (limits flag 0x03).
    const imp: number[] = [1];
    name(imp, "env");
    name(imp, "memory");
    imp.push(0x02, 0x03);
    uleb(imp, this.memoryPages.initial);
    uleb(imp, this.memoryPages.maximum);
    section(out, 2, imp);
    const funcSec: number[] = [];
    uleb(funcSec, this.fns.length);
    for (const s of sigOf) uleb(funcSec, s);
    section(out, 3, funcSec);
    const expSec: number[] = [];
    uleb(expSec, this.exports.length);
    for (const [n, i] of this.exports) {
      name(expSec, n);
      expSec.push(0x00);
      uleb(expSec, i);
    }
    section(out, 7, expSec);
    const codeSec: number[] = [];
    uleb(codeSec, this.fns.length);
    for (const f of this.fns) {
      const b = f.body();
      for (const x of b) codeSec.push(x);
    }
    section(out, 10, codeSec);
    return new Uint8Array(out);
  }
}
