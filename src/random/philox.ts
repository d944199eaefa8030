// Philox4x32-10: the counter-based random generator shared by every backend.
//
// A block is philox(key[2], counter[4]) -> 4 uint32 words (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC'11; constants and round function as in Random123).
// Because every output element is a pure function of (key, element index), results are
// identical across backends, runs and thread counts, and any slice can be computed alone.
//
// Mapping of a request (key, counter, n elements) to values (the "random" kernel):
//   bits:    element i = word (i mod 4) of block (counter + floor(i / 4))
//   uniform: u = (bits >>> 8) * 2^-24, in [0, 1) with 24 random bits (exact in float32)
//   normal:  element i uses block (counter + floor(i / 2)), words 2(i mod 2) and 2(i mod 2)+1
//            as u1, u2; z = sqrt(-2 ln(1 - u1)) * cos(2 pi u2)  (Box-Muller, cosine branch;
//            1 - u1 is in (0, 1], so the log is finite)
// The 64-bit block counter is (low word, high word) in counter words 0 and 1; words 2 and 3
// are 0. A Generator advances its counter by the number of blocks each request used.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High and low 32 bits of the 64-bit product of two uint32 (exact, no BigInt). */
function mulhilo(a: number, b: number, out: Uint32Array, hiIdx: number, loIdx: number): void {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const hh = aHi * bHi;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  out[loIdx] = ((mid & 0xffff) << 16) | (ll & 0xffff);
  out[hiIdx] = hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536);
}

const tmp = new Uint32Array(4);

/** One Philox4x32-10 block. `out` receives 4 words. */
export function philox4x32(key: readonly [number, number], ctr: readonly number[], out: Uint32Array): void {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    mulhilo(M0, c0, tmp, 0, 1); // hi0, lo0
    mulhilo(M1, c2, tmp, 2, 3); // hi1, lo1
    const n0 = (tmp[2] ^ c1 ^ k0) >>> 0;
    const n1 = tmp[3];
    const n2 = (tmp[0] ^ c3 ^ k1) >>> 0;
    const n3 = tmp[1];
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

export type RandomDist = "uniform" | "normal" | "bits";

/** Blocks consumed by a request of n elements. */
export function blocksFor(dist: RandomDist, n: number): number {
  return dist === "normal" ? Math.ceil(n / 2) : Math.ceil(n / 4);
}

const TWO_POW_32 = 4294967296;

/** Fills elements [start, end) of a request; `out` receives element i at out[i - start].
 *  bits are written as int32 (same 32 bits), uniform and normal as float. */
export function philoxFill(
  dist: RandomDist,
  key: readonly [number, number],
  counter: number,
  start: number,
  end: number,
  out: Float32Array | Int32Array,
): void {
  const words = new Uint32Array(4);
  const ctr = [0, 0, 0, 0];
  const per = dist === "normal" ? 2 : 4;
  let block = -1;
  for (let i = start; i < end; i++) {
    const b = Math.floor(i / per);
    if (b !== block) {
      block = b;
      const c = counter + b;
      ctr[0] = c % TWO_POW_32;
      ctr[1] = Math.floor(c / TWO_POW_32);
      philox4x32(key, ctr, words);
    }
    const j = i - b * per;
    if (dist === "bits") out[i - start] = words[j] | 0;
    else if (dist === "uniform") out[i - start] = (words[j] >>> 8) * 5.9604644775390625e-8;
    else {
      const u1 = (words[2 * j] >>> 8) * 5.9604644775390625e-8;
      const u2 = (words[2 * j + 1] >>> 8) * 5.9604644775390625e-8;
      out[i - start] = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
  }
}

/** An explicit random stream: a key and a running block counter. */
export class Generator {
  key: [number, number];
  counter = 0;
  constructor(seed = 0) {
    this.key = splitSeed(seed);
  }
  /** Reserve the blocks for a request and return the counter it starts at. */
  take(dist: RandomDist, n: number): number {
    const c = this.counter;
    this.counter += blocksFor(dist, n);
    return c;
  }
  manualSeed(seed: number): this {
    this.key = splitSeed(seed);
    this.counter = 0;
    return this;
  }
}

/** A seed up to 2^53 becomes the two key words (low 32 bits, high bits). */
function splitSeed(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`seed: expected a non-negative safe integer, got ${seed}`);
  }
  return [seed % TWO_POW_32 >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}
