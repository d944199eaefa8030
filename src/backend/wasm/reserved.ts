// Words every generated kernel may read or write, in the last KiB of the control area at the
// bottom of the shared memory (memory.ts), written once when the heap is created:
//
//   FAULT_ADDR        i32 fault word: 0, or the OR of FAULT_BITS of the integer ops that met
//                     a zero divisor since the host last looked (any thread may set bits;
//                     the host reads and clears it after each dispatch, see takeFault)
//   TWO_OVER_PI_ADDR  TWO_OVER_PI_WORDS u32 words of 2/pi for sin/cos's reduction of large
//                     arguments (trig.ts): word i holds floor(2/pi * 2^(8 i + 8)) mod 2^32,
//                     so words i, i + 4, i + 8 are 96 consecutive bits starting at bit 8 i + 1
//                     after the binary point.
//
// The bits of 2/pi are computed here, not copied: pi to 320 bits by Machin's formula in
// BigInt arithmetic (test/wasm/trig.test.ts checks them against fdlibm's table).

import { KERNEL_WORDS } from "./memory.js";

export const FAULT_ADDR = KERNEL_WORDS;
export const TWO_OVER_PI_ADDR = KERNEL_WORDS + 64;
export const TWO_OVER_PI_WORDS = 24;

/** Bit of the fault word per integer op that can divide by zero. */
export const FAULT_BITS = { floordiv: 1, mod: 2, div: 4 } as const;
export type FaultOp = keyof typeof FAULT_BITS;

/** Fractional bits of PI_FIXED. */
export const PI_BITS = 320;

/** atan(1/x) * 2^bits, rounded down term by term (error below 2 * terms units). */
function atanInv(x: bigint, bits: bigint): bigint {
  let power = (1n << bits) / x; // 2^bits / x^(2k+1)
  let sum = 0n;
  for (let k = 0n; power !== 0n; k++) {
    const term = power / (2n * k + 1n);
    sum += k % 2n === 0n ? term : -term;
    power /= x * x;
  }
  return sum;
}

/** pi * 2^PI_BITS, within 2^-(PI_BITS - 16) of pi (Machin: pi = 16 atan(1/5) - 4 atan(1/239)),
 *  computed with 32 guard bits. */
export const PI_FIXED: bigint = (() => {
  const guard = 32n;
  const bits = BigInt(PI_BITS) + guard;
  return (16n * atanInv(5n, bits) - 4n * atanInv(239n, bits)) >> guard;
})();

/** The table written at TWO_OVER_PI_ADDR (see the header). */
export function twoOverPiWords(): Uint32Array {
  const words = new Uint32Array(TWO_OVER_PI_WORDS);
  // 2/pi * 2^k = 2^(k + 1 + PI_BITS) / PI_FIXED; k <= 8 * 23 + 8 = 192 < PI_BITS - 64
  for (let i = 0; i < TWO_OVER_PI_WORDS; i++) {
    const k = BigInt(8 * i + 8);
    words[i] = Number(((1n << (k + 1n + BigInt(PI_BITS))) / PI_FIXED) & 0xffffffffn);
  }
  return words;
}

/** Writes the reserved words into a fresh memory (the fault word starts clear). */
export function initReserved(i32: Int32Array): void {
  i32[FAULT_ADDR / 4] = 0;
  i32.set(twoOverPiWords(), TWO_OVER_PI_ADDR / 4);
}

/** The ops whose bits are set in the fault word (clearing it), or [] when none is. */
export function takeFault(i32: Int32Array): FaultOp[] {
  const bits = Atomics.load(i32, FAULT_ADDR / 4);
  if (bits === 0) return [];
  Atomics.store(i32, FAULT_ADDR / 4, 0);
  return (Object.keys(FAULT_BITS) as FaultOp[]).filter((op) => (bits & FAULT_BITS[op]) !== 0);
}
