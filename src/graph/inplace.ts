// In-place updates: the kernel that computes a variable's new value writes it straight into
// the variable's storage, instead of into a temporary that is copied over afterwards.
//
// For an update `variable <- value` on a recorded program, with V the variable's buffer and
// U the value's temporary buffer, U may become V when:
//   - U is a temporary written by exactly one kernel K, in full (a contiguous view from
//     offset 0 with the variable's shape and dtype);
//   - no kernel after K reads V (they would see the new value instead of the old), and
//     neither does what is read after the program: outputs and other update values;
//   - K itself reads V only if K is elementwise and reads V element for element like its
//     output (each element is read before it is written);
//   - no other update already took U or V.
// Every view of U is then redirected to V: later readers of the new value read it from the
// variable, and the update needs no copy. Optimizer steps (p - lr * m / sqrt(v)) satisfy
// this for every parameter and every state tensor.

import type { Buffer, Kernel, View } from "../backend/backend.js";
import { contiguousStrides } from "../tensor/shape.js";

export interface UpdateSite {
  variable: View;
  value: View;
}

function isFull(v: View, like: View): boolean {
  const c = contiguousStrides(v.shape);
  return (
    v.offset === 0 && v.dtype === like.dtype && v.shape.length === like.shape.length &&
    v.shape.every((d, i) => d === like.shape[i]) && v.strides.every((s, i) => s === c[i])
  );
}

/**
 * Chooses the updates that can be written in place and returns the buffer substitution
 * (temporary -> variable buffer) to apply to every view of the program.
 */
export function planInPlaceUpdates(
  program: readonly Kernel[],
  updates: readonly UpdateSite[],
  isTemporary: (b: Buffer) => boolean,
  viewsOf: (k: Kernel) => { reads: View[]; writes: View[] },
  /** Views read after the last kernel (graph outputs, update values). */
  finalReads: readonly View[],
): Map<Buffer, Buffer> {
  const writers = new Map<Buffer, number[]>();
  const lastRead = new Map<Buffer, number>();
  const access = program.map(viewsOf);
  access.forEach(({ reads, writes }, i) => {
    for (const w of writes) writers.set(w.buffer, [...(writers.get(w.buffer) ?? []), i]);
    for (const r of reads) lastRead.set(r.buffer, i);
  });
  for (const r of finalReads) lastRead.set(r.buffer, program.length);

  const substitution = new Map<Buffer, Buffer>();
  const taken = new Set<Buffer>();
  for (const { variable, value } of updates) {
    const U = value.buffer;
    const V = variable.buffer;
    if (taken.has(U) || taken.has(V) || !isTemporary(U) || !isFull(value, variable)) continue;
    const ws = writers.get(U) ?? [];
    if (ws.length !== 1) continue;
    const k = ws[0]!;
    const K = program[k]!;
    if (!access[k]!.writes.every((w) => w.buffer !== U || isFull(w, variable))) continue;
    if ((lastRead.get(V) ?? -1) > k) continue;
    const readsV = access[k]!.reads.filter((r) => r.buffer === V);
    if (readsV.length > 0 && !(K.kind === "elementwise" && readsV.every((r) => isFull(r, variable)))) continue;
    substitution.set(U, V);
    taken.add(U);
    taken.add(V);
  }
  return substitution;
}
