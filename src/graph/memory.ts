// Memory planning for a compiled graph: every intermediate buffer gets a slot of one
// arena, and buffers whose lifetimes do not overlap share a slot.
//
// Input: the program as a list of steps (kernels), each reading and writing buffers, and
// the buffers' sizes. A temporary buffer lives from the step that first writes it to the
// last step that reads it (or to the end, for graph outputs). Walking the steps in order,
// a buffer first written at step i takes a free slot (the smallest that fits) or a new
// one; after step i, the slots of buffers last used at i return to the free list.
// In place: an elementwise step may write its output into the slot of an input that dies
// at that step when the recorder says the layouts match element for element (same byte
// size, both contiguous from offset 0), so x = f(x) chains need no second buffer.
//
// Reported: bytes before planning (one buffer per value, as a naive compiler allocates)
// and after (the arena: the sum of slot sizes). Persistent buffers (inputs' staging,
// constants, variables) are not planned and not counted.

export interface PlannedBuffer {
  readonly id: number;
  readonly bytes: number;
  /** Kept to the end of the program (graph outputs are copied out after the last step). */
  readonly liveToEnd?: boolean;
}

export interface PlannedStep {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  /** [input buffer, output buffer] pairs that may share a slot if the input dies here. */
  readonly inPlace?: readonly (readonly [number, number])[];
}

export interface MemoryPlan {
  /** Buffer id -> slot index, for every planned buffer. */
  readonly slotOf: ReadonlyMap<number, number>;
  /** Byte size of each slot. */
  readonly slotBytes: readonly number[];
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Steps that write their output in place over a dying input. */
  readonly inPlaceSteps: number;
}

const ALIGN = 64;

function aligned(bytes: number): number {
  return Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
}

export function planMemory(buffers: readonly PlannedBuffer[], steps: readonly PlannedStep[]): MemoryPlan {
  const info = new Map(buffers.map((b) => [b.id, b]));
  const last = new Map<number, number>();
  steps.forEach((s, i) => {
    for (const id of [...s.reads, ...s.writes]) if (info.has(id)) last.set(id, i);
  });
  for (const b of buffers) if (b.liveToEnd) last.set(b.id, steps.length);

  const slotOf = new Map<number, number>();
  const slotBytes: number[] = [];
  const free: number[] = []; // slot indices
  let inPlaceSteps = 0;
  const take = (bytes: number): number => {
    // Best fit among free slots; otherwise a new slot.
    let best = -1;
    for (let k = 0; k < free.length; k++) {
      const s = free[k]!;
      if (slotBytes[s]! >= bytes && (best < 0 || slotBytes[s]! < slotBytes[free[best]!]!)) best = k;
    }
    if (best >= 0) return free.splice(best, 1)[0]!;
    slotBytes.push(bytes);
    return slotBytes.length - 1;
  };

  const endsAt = new Map<number, number[]>();
  for (const [id, i] of last) endsAt.set(i, [...(endsAt.get(i) ?? []), id]);

  // Buffers no step writes (filled before the program runs) hold a slot from the start.
  const written = new Set(steps.flatMap((s) => s.writes));
  for (const b of buffers) if (!written.has(b.id)) slotOf.set(b.id, take(aligned(b.bytes)));

  steps.forEach((s, i) => {
    const handedOver = new Set<number>(); // inputs whose slot an in-place output took
    for (const id of s.writes) {
      if (!info.has(id) || slotOf.has(id)) continue;
      const bytes = aligned(info.get(id)!.bytes);
      const pair = s.inPlace?.find(([input, output]) =>
        output === id && last.get(input) === i && slotOf.has(input) && !handedOver.has(input) && slotBytes[slotOf.get(input)!] === bytes);
      if (pair) {
        slotOf.set(id, slotOf.get(pair[0])!);
        handedOver.add(pair[0]);
        inPlaceSteps++;
      } else {
        slotOf.set(id, take(bytes));
      }
    }
    // Slots of buffers last used here (including outputs nobody reads) are free again.
    for (const id of endsAt.get(i) ?? []) if (slotOf.has(id) && !handedOver.has(id)) free.push(slotOf.get(id)!);
  });

  const bytesBefore = buffers.reduce((sum, b) => sum + aligned(b.bytes), 0);
  const bytesAfter = slotBytes.reduce((a, b) => a + b, 0);
  return { slotOf, slotBytes, bytesBefore, bytesAfter, inPlaceSteps };
}
