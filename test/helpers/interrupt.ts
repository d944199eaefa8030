// Interrupting code as the kernel does: vm runs it with breakOnSigint, and a SIGINT sent
// from another thread terminates it (no catch or finally block inside it runs).

import { runInThisContext } from "node:vm";
import { Worker } from "node:worker_threads";
import { expect } from "vitest";

/** Runs `code` (an endless loop) in this context until a SIGINT from another thread stops
 *  it, `delayMs` after the start and every 50 ms after that; then runs `after` at once (in
 *  the same async context, while work the code started may still be running) and returns
 *  its result. Fails the test if the code ended any other way. The caller keeps a SIGINT
 *  listener installed, as the kernel does: outside the run a SIGINT would end the process. */
export async function runInterrupted<T>(code: string, delayMs: number, after: () => T): Promise<T> {
  const w = new Worker(
    `setTimeout(() => { process.kill(process.pid, "SIGINT"); setInterval(() => process.kill(process.pid, "SIGINT"), 50); }, ${delayMs});`,
    { eval: true },
  );
  await new Promise((resolve) => w.once("online", resolve));
  let stopped = false;
  try {
    runInThisContext(code, { breakOnSigint: true });
  } catch (e) {
    stopped = (e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
  }
  try {
    return after();
  } finally {
    await w.terminate();
    expect(stopped, "the loop was stopped by the interrupt").toBe(true);
  }
}
