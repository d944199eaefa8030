// Memory planning: slots are shared by buffers whose lifetimes do not overlap, in-place
// steps reuse a dying input's slot, and outputs live to the end.

import { describe, expect, it } from "vitest";
import { planMemory } from "../../src/graph/memory.js";

describe("memory planning", () => {
  it("a chain of elementwise steps runs in place in one slot", () => {
    // b0 -> b1 -> b2 -> b3 (each step reads the previous buffer, which then dies)
    const buffers = [0, 1, 2, 3].map((id) => ({ id, bytes: 4096, liveToEnd: id === 3 }));
    const steps = [1, 2, 3].map((id) => ({ reads: [id - 1], writes: [id], inPlace: [[id - 1, id] as const] }));
    const plan = planMemory(buffers, steps);
    expect(plan.bytesBefore).toBe(4 * 4096);
    expect(plan.bytesAfter).toBe(4096);
    expect(plan.inPlaceSteps).toBe(3);
    expect(new Set(plan.slotOf.values()).size).toBe(1);
  });

  it("without in-place, two slots alternate; a value read later keeps its slot", () => {
    const buffers = [0, 1, 2, 3, 4].map((id) => ({ id, bytes: 1000, liveToEnd: id === 4 }));
    const steps = [
      { reads: [0], writes: [1] },
      { reads: [1], writes: [2] },
      { reads: [2], writes: [3] },
      { reads: [3, 0], writes: [4] }, // buffer 0 is read again at the end
    ];
    const plan = planMemory(buffers, steps);
    const slot = (id: number) => plan.slotOf.get(id)!;
    // 0 lives throughout and shares with nobody; 3 reuses the slot of 1, 4 that of 2.
    for (const other of [1, 2, 3, 4]) expect(slot(other)).not.toBe(slot(0));
    expect(slot(3)).toBe(slot(1));
    expect(slot(4)).not.toBe(slot(3));
    expect(plan.slotBytes.length).toBe(3);
    expect(plan.bytesBefore).toBe(5 * 1024);
    expect(plan.bytesAfter).toBe(3 * 1024);
  });

  it("in place needs the input to die at that step and to have the same size", () => {
    const buffers = [{ id: 0, bytes: 256 }, { id: 1, bytes: 256 }, { id: 2, bytes: 512, liveToEnd: true }, { id: 3, bytes: 256, liveToEnd: true }];
    const steps = [
      { reads: [0], writes: [1], inPlace: [[0, 1] as const] }, // 0 is read again below: no
      { reads: [0, 1], writes: [2], inPlace: [[1, 2] as const] }, // sizes differ: no
      { reads: [2], writes: [3] },
    ];
    const plan = planMemory(buffers, steps);
    expect(plan.inPlaceSteps).toBe(0);
    expect(plan.slotOf.get(1)).not.toBe(plan.slotOf.get(0));
    // 0 and 1 die at step 1: step 2's output reuses one of their slots.
    expect([plan.slotOf.get(0), plan.slotOf.get(1)]).toContain(plan.slotOf.get(3));
  });
});
