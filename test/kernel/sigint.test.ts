// sigint.ts: the main thread marks vm breakOnSigint runs in shared memory, and the I/O thread
// holds SIGINT back at their start, when Node would die of it instead of interrupting.
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { newSigintState, SETTLE_MS, sigintDelay, trackBreakOnSigint } from "../../kernel/sigint.js";

describe("SIGINT safety", () => {
  it("marks a breakOnSigint run from its start until vm restores the listeners", () => {
    const s = newSigintState();
    const state = { flags: new Int32Array(s.buffer), epoch: s.epoch };
    trackBreakOnSigint(state);
    const listener = () => {};
    process.on("SIGINT", listener);
    try {
      expect(sigintDelay(state)).toBe(0);
      const seen: number[] = [];
      const probe = { record: () => seen.push(Atomics.load(state.flags, 0), sigintDelay(state)) };
      vm.runInNewContext("probe.record()", { probe }, { breakOnSigint: true });
      // Inside the run: flagged, and a SIGINT must wait until the run is SETTLE_MS old.
      expect(seen[0]).toBe(1);
      expect(seen[1]).toBeGreaterThan(0);
      expect(seen[1]).toBeLessThanOrEqual(SETTLE_MS);
      // After it: listeners are back, so SIGINT is safe again.
      expect(Atomics.load(state.flags, 0)).toBe(0);
      expect(sigintDelay(state)).toBe(0);
      expect(process.listeners("SIGINT")).toContain(listener);
    } finally {
      process.off("SIGINT", listener);
    }
  });
});
