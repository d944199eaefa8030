// The reference backend: plain TypeScript loops over strided views.
//
// It is the oracle in tests and the default backend until the wasm one is wired in. Every
// kernel walks its views element by element in row-major order; clarity over speed. The
// scalar meaning of elementwise nodes lives in scalar.ts and is shared with no one else on
// purpose: it is the definition the wasm kernels are tested against.
//
// Index conventions (also documented on the Kernel type): maxPool2d indices are flat
// positions ih * W + iw inside each (n, c) input plane, int32, padding excluded.

import { itemSize } from "./backend.js";
import type { AnyTypedArray, Backend, Buffer, DType, Kernel, View, Conv2dParams, Pool2dParams } from "./backend.js";
import { compileScalar, storeAs } from "./scalar.js";
import { philoxFill } from "../random/philox.js";

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Element offsets of a view in row-major order of its shape. */
function offsets(v: View): Int32Array | Float64Array {
  const n = sizeOf(v.shape);
  if (isDense(v)) {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = v.offset + i;
    return out;
  }
  const out = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  const rank = v.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = v.offset;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += v.strides[d];
      if (idx[d] < v.shape[d]) break;
      off -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Row-major contiguous (size-1 axes may have any stride). */
function isDense(v: View): boolean {
  let expected = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] === 1) continue;
    if (v.strides[i] !== expected) return false;
    expected *= v.shape[i];
  }
  return true;
}

/** Dense row-major float64 copy of an [M, K] matrix at offset with the given strides. */
function pack(src: AnyTypedArray, off: number, M: number, K: number, sm: number, sk: number): Float64Array {
  const d = new Float64Array(M * K);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) d[m * K + k] = src[off + m * sm + k * sk];
  return d;
}

function transpose(a: Float64Array, M: number, N: number): Float64Array {
  const t = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) t[n * M + m] = a[m * N + n];
  return t;
}

/** C[M,N] += A[M,K] B[K,N], dense row-major, i-k-j order (unit stride inner loop). */
function gemm(A: Float64Array, B: Float64Array, Cm: Float64Array, M: number, K: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const aik = A[i * K + k];
      const bk = k * N;
      for (let j = 0; j < N; j++) Cm[ci + j] += aik * B[bk + j];
    }
  }
}

export interface ReferenceOptions {
  /** Allocation limit in bytes; allocations past it throw an out-of-memory error. */
  maxBytes?: number;
}

export class ReferenceBackend implements Backend {
  readonly name = "reference";
  private buffers = new Map<number, ArrayBuffer>();
  private nextId = 1;
  private inUse = 0;
  readonly maxBytes: number;

  constructor(options: ReferenceOptions = {}) {
    this.maxBytes = options.maxBytes ?? 4 * 2 ** 30;
  }

  allocate(bytes: number): Buffer {
    if (this.inUse + bytes > this.maxBytes) {
      throw new RangeError(
        `reference backend: out of memory: cannot allocate ${bytes} bytes (${this.inUse} in use, limit ${this.maxBytes})`,
      );
    }
    let ab: ArrayBuffer;
    try {
      ab = new ArrayBuffer(bytes);
    } catch {
      throw new RangeError(`reference backend: out of memory: the JS heap refused ${bytes} bytes`);
    }
    const id = this.nextId++;
    this.buffers.set(id, ab);
    this.inUse += bytes;
    return { id, bytes };
  }

  free(buffer: Buffer): void {
    if (this.buffers.delete(buffer.id)) this.inUse -= buffer.bytes;
  }

  bytesInUse(): number {
    return this.inUse;
  }

  private array(buffer: Buffer, dtype: DType): AnyTypedArray {
    const ab = this.buffers.get(buffer.id);
    if (!ab) throw new Error(`reference backend: buffer ${buffer.id} was freed or never allocated`);
    const n = Math.floor(ab.byteLength / itemSize[dtype]);
    return dtype === "float32" ? new Float32Array(ab, 0, n) : dtype === "int32" ? new Int32Array(ab, 0, n) : new Uint8Array(ab, 0, n);
  }

  read(buffer: Buffer, dtype: DType, offset: number, count: number): AnyTypedArray {
    return this.array(buffer, dtype).slice(offset, offset + count);
  }

  write(buffer: Buffer, dtype: DType, offset: number, data: AnyTypedArray): void {
    this.array(buffer, dtype).set(data, offset);
  }

  dispatch(k: Kernel): void {
    switch (k.kind) {
      case "elementwise": return this.elementwise(k.expr, k.inputs, k.out);
      case "reduce": return this.reduce(k.op, k.axes, k.inputs, k.prologue, k.out);
      case "cumsum": return this.cumsum(k.axis, k.input, k.out);
      case "rows": return this.rows(k);
      case "matmul": return this.matmul(k.a, k.b, k.out, k.epilogue ? compileScalar(k.epilogue) : undefined, k.epilogueInputs ?? []);
      case "conv2d": return this.conv2d(k.x, k.w, k.out, k.params, "forward");
      case "conv2dInputGrad": return this.conv2d(k.out, k.w, k.dy, k.params, "input");
      case "conv2dWeightGrad": return this.conv2d(k.x, k.out, k.dy, k.params, "weight");
      case "maxPool2d": return this.pool(k.x, k.out, k.params, k.indices, false);
      case "avgPool2d": return this.pool(k.x, k.out, k.params, undefined, k.params.countIncludePad);
      case "gather": return this.gather(k.axis, k.input, k.index, k.out);
      case "scatterAdd": return this.scatterAdd(k.axis, k.index, k.src, k.out);
      case "copy": return this.elementwise({ op: "input", index: 0, dtype: k.input.dtype }, [k.input], k.out);
      case "random": {
        const out = this.array(k.out.buffer, k.out.dtype) as Float32Array | Int32Array;
        const n = sizeOf(k.out.shape);
        philoxFill(k.dist, k.key, k.counter, 0, n, out.subarray(k.out.offset, k.out.offset + n));
        return;
      }
    }
  }

  /** Row programs: per row, each stage reduces in float64 and rounds its row value to
   *  float32 (the value a separate reduction kernel would store); the stash is stored into
   *  out as float32 and read back, as separate kernels would; a per-row final is written
   *  once per row. */
  private rows(k: Extract<Kernel, { kind: "rows" }>): void {
    const shape = k.perRow ? k.inputs[0]!.shape : k.out.shape;
    const L = shape.length === 0 ? 1 : shape[shape.length - 1];
    const n = sizeOf(shape);
    if (n === 0) return;
    const arrs = k.inputs.map((v) => this.array(v.buffer, v.dtype));
    const offs = k.inputs.map(offsets);
    const o = this.array(k.out.buffer, k.out.dtype);
    const oo = offsets(k.out);
    const nIn = k.inputs.length;
    const K = k.stages.length;
    const stages = k.stages.map((s) => compileScalar(s.expr));
    const final = compileScalar(k.final);
    const vals = new Float64Array(nIn + K + 1);
    const load = (i: number) => {
      for (let j = 0; j < nIn; j++) vals[j] = arrs[j][offs[j][i]];
      if (k.stash) vals[nIn + K] = o[oo[i]];
    };
    for (let r = 0; r < n; r += L) {
      k.stages.forEach((stage, s) => {
        let acc: number = stage.op === "sum" ? 0 : stage.op === "prod" ? 1 : stage.op === "max" ? -Infinity : Infinity;
        for (let i = r; i < r + L; i++) {
          load(i);
          const x = Math.fround(stages[s](vals));
          if (k.stash && s === K - 1) o[oo[i]] = x;
          if (stage.op === "sum") acc += x;
          else if (stage.op === "prod") acc *= x;
          else if (x !== x || acc !== acc) acc = NaN;
          else acc = stage.op === "max" ? Math.max(acc, x) : Math.min(acc, x);
        }
        vals[nIn + s] = Math.fround(acc);
      });
      if (k.perRow) {
        load(r);
        o[oo[r / L]] = Math.fround(final(vals));
        continue;
      }
      for (let i = r; i < r + L; i++) {
        load(i);
        o[oo[i]] = Math.fround(final(vals));
      }
    }
  }

  private elementwise(expr: Parameters<typeof compileScalar>[0], inputs: View[], out: View): void {
    const f = compileScalar(expr);
    const arrs = inputs.map((v) => this.array(v.buffer, v.dtype));
    const o = this.array(out.buffer, out.dtype);
    const vals = new Float64Array(inputs.length);
    const st = storeAs(out.dtype);
    if (isDense(out) && inputs.every(isDense)) {
      // Fast path: every view walks its buffer linearly.
      const n = sizeOf(out.shape);
      const base = inputs.map((v) => v.offset);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < arrs.length; j++) vals[j] = arrs[j][base[j] + i];
        o[out.offset + i] = st(f(vals));
      }
      return;
    }
    const offs = inputs.map(offsets);
    const oo = offsets(out);
    for (let i = 0; i < oo.length; i++) {
      for (let j = 0; j < arrs.length; j++) vals[j] = arrs[j][offs[j][i]];
      o[oo[i]] = st(f(vals));
    }
  }

  private reduce(op: string, axes: number[], inputs: View[], prologue: Parameters<typeof compileScalar>[0] | undefined, out: View): void {
    const shape = inputs[0].shape;
    const arrs = inputs.map((v) => this.array(v.buffer, v.dtype));
    const offs = inputs.map(offsets);
    const f = prologue ? compileScalar(prologue) : (v: ArrayLike<number>) => v[0];
    const o = this.array(out.buffer, out.dtype);
    const oo = offsets(out);
    const rank = shape.length;
    // Output position of each input element: reduced axes contribute stride 0.
    const ostr = new Array<number>(rank).fill(0);
    let s = 1;
    for (let d = rank - 1; d >= 0; d--) {
      if (!axes.includes(d)) {
        ostr[d] = s;
        s *= shape[d];
      }
    }
    // Position inside the reduced block (for argmax/argmin), row-major over reduced axes.
    const rstr = new Array<number>(rank).fill(0);
    s = 1;
    for (let d = rank - 1; d >= 0; d--) {
      if (axes.includes(d)) {
        rstr[d] = s;
        s *= shape[d];
      }
    }
    const m = oo.length;
    const init = op === "sum" || op === "any" ? 0 : op === "prod" || op === "all" ? 1 : op === "max" || op === "argmax" ? -Infinity : Infinity;
    const acc = new Float64Array(m).fill(init);
    const arg = new Float64Array(m).fill(-1);
    const seenNaN = new Uint8Array(m);
    const vals = new Float64Array(inputs.length);
    const idx = new Array<number>(rank).fill(0);
    const n = offs[0].length;
    let oi = 0;
    let ri = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < arrs.length; j++) vals[j] = arrs[j][offs[j][i]];
      const x = f(vals);
      switch (op) {
        case "sum": acc[oi] += x; break;
        case "prod": acc[oi] *= x; break;
        case "any": if (x) acc[oi] = 1; break;
        case "all": if (!x) acc[oi] = 0; break;
        case "max": case "min":
          if (x !== x) acc[oi] = NaN;
          else if (acc[oi] === acc[oi] && (op === "max" ? x > acc[oi] : x < acc[oi])) acc[oi] = x;
          break;
        default: // argmax / argmin: first occurrence wins; NaN counts as the extreme (NumPy)
          if (seenNaN[oi]) break;
          if (x !== x) { seenNaN[oi] = 1; arg[oi] = ri; break; }
          if (arg[oi] < 0 || (op === "argmax" ? x > acc[oi] : x < acc[oi])) { acc[oi] = x; arg[oi] = ri; }
      }
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        oi += ostr[d];
        ri += rstr[d];
        if (idx[d] < shape[d]) break;
        oi -= ostr[d] * shape[d];
        ri -= rstr[d] * shape[d];
        idx[d] = 0;
      }
    }
    const st = storeAs(out.dtype);
    const res = op === "argmax" || op === "argmin" ? arg : acc;
    for (let i = 0; i < m; i++) o[oo[i]] = st(res[i]);
  }

  private cumsum(axis: number, input: View, out: View): void {
    const a = this.array(input.buffer, input.dtype);
    const o = this.array(out.buffer, out.dtype);
    const ia = offsets(input);
    const oa = offsets(out);
    const st = storeAs(out.dtype);
    const shape = input.shape;
    let inner = 1;
    for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
    const len = shape[axis];
    const outer = sizeOf(shape) / Math.max(1, len * inner);
    for (let p = 0; p < outer; p++) {
      for (let q = 0; q < inner; q++) {
        let acc = 0;
        for (let k = 0; k < len; k++) {
          const i = (p * len + k) * inner + q;
          acc = st(acc + a[ia[i]]);
          o[oa[i]] = acc;
        }
      }
    }
  }

  private matmul(a: View, b: View, out: View, epi: ((v: ArrayLike<number>) => number) | undefined, extra: View[]): void {
    const A = this.array(a.buffer, a.dtype);
    const B = this.array(b.buffer, b.dtype);
    const O = this.array(out.buffer, out.dtype);
    const r = out.shape.length;
    const M = out.shape[r - 2];
    const N = out.shape[r - 1];
    const K = a.shape[r - 1];
    const batch = out.shape.slice(0, r - 2);
    const nb = sizeOf(batch);
    const bidx = new Array<number>(batch.length).fill(0);
    const xArrs = extra.map((v) => this.array(v.buffer, v.dtype));
    const xOffs = extra.map(offsets);
    const oOffs = offsets(out);
    const vals = new Float64Array(1 + extra.length);
    const st = storeAs(out.dtype);
    const acc = new Float64Array(M * N);
    for (let bi = 0; bi < nb; bi++) {
      let ao = a.offset;
      let bo = b.offset;
      for (let d = 0; d < batch.length; d++) {
        ao += bidx[d] * a.strides[d];
        bo += bidx[d] * b.strides[d];
      }
      const Ad = pack(A, ao, M, K, a.strides[r - 2], a.strides[r - 1]);
      const Bd = pack(B, bo, K, N, b.strides[r - 2], b.strides[r - 1]);
      acc.fill(0);
      gemm(Ad, Bd, acc, M, K, N);
      for (let i = 0; i < M * N; i++) {
        const li = bi * M * N + i;
        let v = st(acc[i]);
        if (epi) {
          vals[0] = v;
          for (let j = 0; j < xArrs.length; j++) vals[j + 1] = xArrs[j][xOffs[j][li]];
          v = st(epi(vals));
        }
        O[oOffs[li]] = v;
      }
      for (let d = batch.length - 1; d >= 0; d--) {
        if (++bidx[d] < batch[d]) break;
        bidx[d] = 0;
      }
    }
  }

  /** The three conv kernels through im2col: per image and group, cols [Cg*KH*KW, OH*OW]
   *  holds the input patches (0 in padding); forward y = W cols, input grad scatters
   *  W^T dy back through the patches (col2im), weight grad dW += dy cols^T.
   *  x: [N,C,H,W], w: [O,C/g,KH,KW], y: [N,O,OH,OW]; mode says which one is written. */
  private conv2d(x: View, w: View, y: View, p: Conv2dParams, mode: "forward" | "input" | "weight"): void {
    const [N, C, H, W] = x.shape;
    const [O, Cg, KH, KW] = w.shape;
    const [OH, OW] = [y.shape[2], y.shape[3]];
    const g = p.groups;
    const Og = O / g;
    const P = OH * OW;
    const R = Cg * KH * KW;
    // Dense float64 copies of the operands that are read.
    const dense = (v: View) => {
      const a = this.array(v.buffer, "float32");
      const o = offsets(v);
      const d = new Float64Array(o.length);
      for (let i = 0; i < o.length; i++) d[i] = a[o[i]];
      return d;
    };
    const Xd = mode === "input" ? null : dense(x);
    const Wd = mode === "weight" ? null : dense(w);
    const Yd = mode === "forward" ? null : dense(y);
    const target = mode === "forward" ? y : mode === "input" ? x : w;
    const acc = new Float64Array(sizeOf(target.shape));
    // Patch row r = (c, kh, kw) and column q = (oh, ow) read input (ih, iw), or -1 in padding.
    const src = new Int32Array(R * P);
    for (let c = 0; c < Cg; c++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) {
          const row = (c * KH + kh) * KW + kw;
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * p.stride[0] - p.padding[0] + kh * p.dilation[0];
            for (let ow = 0; ow < OW; ow++) {
              const iw = ow * p.stride[1] - p.padding[1] + kw * p.dilation[1];
              src[row * P + oh * OW + ow] = ih < 0 || ih >= H || iw < 0 || iw >= W ? -1 : (c * H + ih) * W + iw;
            }
          }
        }
    const cols = new Float64Array(R * P);
    const tmp = new Float64Array(Math.max(Og * P, R * P, Og * R));
    for (let n = 0; n < N; n++)
      for (let gi = 0; gi < g; gi++) {
        const xBase = (n * C + gi * Cg) * H * W;
        const yBase = (n * O + gi * Og) * P;
        const wBase = gi * Og * R;
        if (Xd) for (let i = 0; i < R * P; i++) cols[i] = src[i] < 0 ? 0 : Xd[xBase + src[i]];
        if (mode === "forward") {
          const out = tmp.subarray(0, Og * P).fill(0);
          gemm(Wd!.subarray(wBase, wBase + Og * R), cols, out, Og, R, P);
          acc.set(out, yBase);
        } else if (mode === "input") {
          const wT = transpose(Wd!.subarray(wBase, wBase + Og * R), Og, R);
          const dcols = tmp.subarray(0, R * P).fill(0);
          gemm(wT, Yd!.subarray(yBase, yBase + Og * P), dcols, R, Og, P);
          for (let i = 0; i < R * P; i++) if (src[i] >= 0) acc[xBase + src[i]] += dcols[i];
        } else {
          const colsT = transpose(cols, R, P);
          const dw = tmp.subarray(0, Og * R).fill(0);
          gemm(Yd!.subarray(yBase, yBase + Og * P), colsT, dw, Og, P, R);
          for (let i = 0; i < Og * R; i++) acc[wBase + i] += dw[i];
        }
      }
    const T = this.array(target.buffer, "float32");
    const to = offsets(target);
    for (let i = 0; i < acc.length; i++) T[to[i]] = Math.fround(acc[i]);
  }

  private pool(x: View, out: View, p: Pool2dParams, indices: View | undefined, countIncludePad: boolean): void {
    const X = this.array(x.buffer, "float32");
    const O = this.array(out.buffer, "float32");
    const I = indices ? this.array(indices.buffer, "int32") : undefined;
    const [N, C, H, W] = x.shape;
    const [OH, OW] = [out.shape[2], out.shape[3]];
    const xs = x.strides;
    const oo = offsets(out);
    const io = indices ? offsets(indices) : undefined;
    let li = 0;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++, li++) {
            let best = -Infinity;
            let bestIdx = -1;
            let sum = 0;
            let count = 0;
            for (let kh = 0; kh < p.kernelSize[0]; kh++) {
              const ih = oh * p.stride[0] - p.padding[0] + kh;
              for (let kw = 0; kw < p.kernelSize[1]; kw++) {
                const iw = ow * p.stride[1] - p.padding[1] + kw;
                const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                if (countIncludePad && ih < H + p.padding[0] && iw < W + p.padding[1]) count++;
                if (!inside) continue;
                if (!countIncludePad) count++;
                const v = X[x.offset + n * xs[0] + c * xs[1] + ih * xs[2] + iw * xs[3]];
                sum += v;
                if (v > best || bestIdx < 0 || v !== v) {
                  if (!(best !== best)) { best = v; bestIdx = ih * W + iw; }
                }
              }
            }
            if (indices && I && io) {
              O[oo[li]] = best;
              I[io[li]] = bestIdx;
            } else O[oo[li]] = Math.fround(sum / count);
          }
  }

  private gather(axis: number, input: View, index: View, out: View): void {
    const A = this.array(input.buffer, input.dtype);
    const Ix = this.array(index.buffer, "int32");
    const O = this.array(out.buffer, out.dtype);
    const io = offsets(index);
    const oo = offsets(out);
    const shape = out.shape;
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    const size = input.shape[axis];
    for (let i = 0; i < oo.length; i++) {
      const j = Ix[io[i]];
      if (j < 0 || j >= size) throw new RangeError(`gather: index ${j} is out of range for axis ${axis} of size ${size}`);
      let off = input.offset;
      for (let d = 0; d < rank; d++) off += (d === axis ? j : idx[d]) * input.strides[d];
      O[oo[i]] = A[off];
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }

  private scatterAdd(axis: number, index: View, src: View, out: View): void {
    const S = this.array(src.buffer, src.dtype);
    const Ix = this.array(index.buffer, "int32");
    const O = this.array(out.buffer, out.dtype);
    const io = offsets(index);
    const so = offsets(src);
    const shape = src.shape;
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    const size = out.shape[axis];
    const st = storeAs(out.dtype);
    for (let i = 0; i < so.length; i++) {
      const j = Ix[io[i]];
      if (j < 0 || j >= size) throw new RangeError(`scatterAdd: index ${j} is out of range for axis ${axis} of size ${size}`);
      let off = out.offset;
      for (let d = 0; d < rank; d++) off += (d === axis ? j : idx[d]) * out.strides[d];
      O[off] = st(O[off] + S[so[i]]);
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }
}
