// Interrupting a cell: a synchronous loop stops on SIGINT (breakOnSigint), a pending await
// is abandoned by interrupt(); either way the cell ends with KeyboardInterrupt and every
// variable is kept. SIGINT comes from a worker thread, as the kernel's I/O thread sends it.

import { MessageChannel, Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Session } from "./session.js";

const s = new Session();
// Outside the vm run a SIGINT would end the process: keep it as the kernel does.
const keep = () => undefined;
beforeAll(() => void process.on("SIGINT", keep));
afterAll(() => void process.off("SIGINT", keep));

/**
 * Sends SIGINT to this process from another thread every `ms` milliseconds (as the
 * kernel's I/O thread insists): on a loaded machine the first one may arrive while the
 * cell is still being type-checked, where it stops nothing.
 */
function sigintEvery(ms: number): Worker {
  return new Worker(`setInterval(() => process.kill(process.pid, "SIGINT"), ${ms});`, { eval: true });
}

describe("interrupt", () => {
  it("SIGINT stops a synchronous loop; variables are kept", async () => {
    await s.value("let spins = 0; const keptBefore = 'yes';");
    const w = sigintEvery(300);
    const err = await s.error("spins = 0;\nwhile (true) { spins++; }");
    await w.terminate();
    expect(err).toEqual({ status: "error", ename: "KeyboardInterrupt", evalue: "Interrupted", traceback: ["KeyboardInterrupt: Interrupted"] });
    expect(await s.value("keptBefore + ' ' + (spins > 0)")).toBe("'yes true'");
  });

  it("interrupt() abandons a pending await; variables are kept and the kernel goes on", async () => {
    const running = s.run("const beforeAwait = 7;\nawait new Promise(() => {});\nconst neverSet = 1;");
    // Repeated: an interrupt that lands before the cell reaches its await stops nothing.
    const timer = setInterval(() => s.engine.interrupt(), 50);
    const { outcome } = await running;
    clearInterval(timer);
    expect(outcome).toEqual({ status: "error", ename: "KeyboardInterrupt", evalue: "Interrupted", traceback: ["KeyboardInterrupt: Interrupted"] });
    expect(await s.value("beforeAwait")).toBe("7");
    expect(await s.value("1 + 1")).toBe("2");
  });

  it("an interrupt while the cell is being compiled stops it before it runs; its declarations do not carry", async () => {
    const running = s.run("(globalThis as { ranAnyway?: boolean }).ranAnyway = true;\nconst declaredButInterrupted = 1;");
    s.engine.interrupt(); // execute() is past its synchronous type check, not yet running
    const { outcome } = await running;
    expect(outcome).toEqual({ status: "error", ename: "KeyboardInterrupt", evalue: "Interrupted", traceback: ["KeyboardInterrupt: Interrupted"] });
    expect(await s.value("String((globalThis as { ranAnyway?: boolean }).ranAnyway)")).toBe("'undefined'");
    expect((await s.error("declaredButInterrupted")).evalue).toMatch(/Cannot find name 'declaredButInterrupted'/);
  });

  it("a SIGINT that arrives while the cell is type-checked stops it before it runs", async () => {
    // As in the kernel: the request is handled in a poll phase (here a MessagePort message)
    // and the process's SIGINT listener calls interrupt(). The signal waits in libuv's pipe
    // until the next poll phase, after the first setImmediate the engine awaits.
    const listener = () => s.engine.interrupt();
    process.on("SIGINT", listener);
    const { port1, port2 } = new MessageChannel();
    try {
      const run = new Promise<Awaited<ReturnType<Session["run"]>>>((resolve) => {
        port1.once("message", () => {
          process.kill(process.pid, "SIGINT");
          resolve(s.run("const t0 = Date.now();\nwhile (Date.now() - t0 < 3000) {}"));
        });
      });
      port2.postMessage(0);
      expect((await run).outcome).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
    } finally {
      process.off("SIGINT", listener);
      port1.close();
    }
  });

  it("interrupt() with no cell running does nothing", async () => {
    s.engine.interrupt();
    expect(await s.value("'still fine'")).toBe("'still fine'");
  });
});
