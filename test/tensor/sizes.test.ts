// Tensors larger than the backend can ever hold (Backend.maxBytes: the wasm backend's 2 GiB
// WebAssembly memory, the reference backend's configured limit) fail at once, before any
// host memory is filled, with an error naming the op, dtype and shape, the size, the limit
// and what to do; the random stream does not move; the library stays usable.

import { describe, expect, it } from "vitest";
import * as tb from "../../src/index.js";
import { formatBytes } from "../../src/core/runtime.js";
import { useTestBackend } from "../helpers/backend.js";

await useTestBackend();

const backend = tb.getBackend();
const limit = backend.maxBytes!;
const advice = `more than the ${backend.name} backend can ever hold (${formatBytes(limit)} in all). Use smaller shapes, or split the data into batches.`;

/** The error f throws, and how long it took to throw it. */
function failure(f: () => unknown): { message: string; ms: number } {
  const t0 = performance.now();
  try {
    f();
  } catch (e) {
    return { message: (e as Error).message, ms: performance.now() - t0 };
  }
  throw new Error("expected an error");
}

describe("allocations beyond the backend's limit", () => {
  it("the backend states its limit", () => {
    expect(limit).toBe(backend.name === "wasm" ? 2 ** 31 - 64 * 1024 : 4 * 2 ** 30);
    expect(formatBytes(limit)).toMatch(/^[24]\.0 GiB$/);
  });

  it("creation ops fail at once, naming op, shape, size, limit and what to do", () => {
    const before = tb.memory();
    const cases: [() => unknown, string][] = [
      [() => tb.zeros([1e11]), "zeros float32[100000000000]: needs 372.5 GiB (400000000000 bytes), "],
      [() => tb.ones([50000, 50000]), "ones float32[50000,50000]: needs 9.3 GiB (10000000000 bytes), "],
      [() => tb.full([3, 1.5e9], true), "full bool[3,1500000000]: needs 4.2 GiB (4500000000 bytes), "],
      [() => tb.arange(0, 1e11), "arange int32[100000000000]: needs 372.5 GiB (400000000000 bytes), "],
      [() => tb.linspace(0, 1, 1e10), "linspace float32[10000000000]: needs 37.3 GiB (40000000000 bytes), "],
      [() => tb.eye(1e5), "eye float32[100000,100000]: needs 37.3 GiB (40000000000 bytes), "],
      [() => tb.rand([1e6, 1e6]), "rand float32[1000000,1000000]: needs 3725.3 GiB (4000000000000 bytes), "],
      [() => tb.randn([1e6, 1e6]), "randn float32[1000000,1000000]: "],
      [() => tb.randint(0, 9, [1e6, 1e6]), "randint float32[1000000,1000000]: "],
      // one element past the limit
      [() => tb.zeros([Math.floor(limit / 4) + 1]), `zeros float32[${Math.floor(limit / 4) + 1}]: needs ${formatBytes(limit + 4)}`],
    ];
    for (const [f, start] of cases) {
      const { message, ms } = failure(f);
      expect(message.startsWith(start), message).toBe(true);
      expect(message.endsWith(advice), message).toBe(true);
      // Before the check, ones([50000, 50000]) filled 10 GB of host memory for 24 s.
      expect(ms).toBeLessThan(2000);
    }
    expect(tb.memory()).toEqual(before);
    expect(tb.ones([3]).sum().item()).toBe(3);
  });

  it("an op whose result cannot fit fails before allocating, with the same advice", () => {
    const row = tb.zeros([1, 40000]);
    const { message } = failure(() => row.expand([60000, 40000]).add(1));
    expect(message).toBe(`add float32[60000,40000]: needs 8.9 GiB (9600000000 bytes), ${advice}`);
    expect(row.add(1).sum().item()).toBe(40000);
  });

  it("a random op that cannot fit leaves the stream where it was", () => {
    tb.seed(7);
    const first = tb.rand([4]).tolist();
    tb.seed(7);
    expect(() => tb.randn([1e6, 1e6])).toThrow(/can ever hold/);
    expect(tb.rand([4]).tolist()).toEqual(first);
  });

  it("shapes and ranges that are not sizes are named as such", () => {
    expect(() => tb.zeros([-1])).toThrow("zeros: invalid shape [-1]: sizes must be non-negative integers");
    expect(() => tb.ones([2.5])).toThrow("ones: invalid shape [2.5]: sizes must be non-negative integers");
    expect(() => tb.linspace(0, 1, 2.5)).toThrow("linspace: invalid shape [2.5]");
    expect(() => tb.rand([NaN])).toThrow("rand: invalid shape [NaN]");
    expect(() => tb.arange(0, Infinity)).toThrow("arange: start, stop and step must be finite numbers, got 0, Infinity, 1");
  });
});
