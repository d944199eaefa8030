// The kernel process: `node dist/kernel/main.js -f <connection file>` (what kernel.json runs).
// Starts the I/O thread (io-worker.ts), wires it to the protocol handlers, and loads the
// language engine lazily: the first kernel_info_reply goes out before TypeScript is loaded,
// and the engine loads in the background right after (or when a request first needs it).
//
// The engine module is kernel/compiler/index.js (createTypeScriptEngine); TENSORBOOK_ENGINE
// may name another module with the same export (protocol tests use a plain JS engine).
//
// Exits: every process.exit (a cell's, a library's, this file's) goes through exitKernel:
// the I/O thread sends what is queued and closes its sockets first, since an exit with
// ZeroMQ sockets open aborts the process (io-worker.ts). A cell that calls process.exit(n)
// gets its execute_reply, as ipykernel's exit() does, and the process exits with status n;
// a Jupyter front end then restarts the kernel.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Engine } from "./engine.js";
import type { KernelHandlers } from "./handlers.js";
import { noteOf, reviveMessage, type IoWorkerData, type ToMain, type ToWorker } from "./io-protocol.js";
import { newSigintState, trackBreakOnSigint } from "./sigint.js";
import { parseConnectionInfo, serialize } from "./wire.js";

interface EngineModule {
  createTypeScriptEngine(options: { cwd: string }): Engine;
}

function engineSpecifier(): string {
  const chosen = process.env.TENSORBOOK_ENGINE;
  if (!chosen) return new URL("./compiler/index.js", import.meta.url).href;
  return /^[a-z]+:/i.test(chosen) ? chosen : pathToFileURL(resolve(chosen)).href;
}

/** Formats an error nobody awaited, for the stderr of the running (or next) cell. */
export function formatStray(kind: string, e: unknown): string {
  const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  return `${kind}: ${text}\n`;
}

export async function runKernel(connectionFile: string): Promise<void> {
  const connection = parseConnectionInfo(JSON.parse(readFileSync(connectionFile, "utf8")), connectionFile);
  const session = randomUUID();
  const arrived = new SharedArrayBuffer(4);
  const counter = new Int32Array(arrived);
  const sigint = newSigintState();
  trackBreakOnSigint({ flags: new Int32Array(sigint.buffer), epoch: sigint.epoch });
  const closed = new Int32Array(new SharedArrayBuffer(4));
  const parentPid = Number(process.env.JPY_PARENT_PID ?? 0);
  const workerData: IoWorkerData = {
    connection, arrived, session, sigint: sigint.buffer, sigintEpoch: sigint.epoch, closed: closed.buffer as SharedArrayBuffer,
    parentPid: Number.isInteger(parentPid) && parentPid > 1 ? parentPid : 0,
  };
  // The I/O thread starts first: its start-up (a new isolate, the ZeroMQ addon, binding) is
  // most of the time to the first kernel_info_reply, and the imports below overlap with it.
  const worker = new Worker(new URL("./io-worker.js", import.meta.url), { workerData });
  const toWorker = (m: ToWorker) => worker.postMessage(m);
  let workerAlive = true;
  let closeSent = false;
  let handlers: KernelHandlers | undefined;
  const reallyExit = process.exit.bind(process);
  const exitKernel = (code: number | string | null | undefined): never => {
    if (!closeSent) {
      closeSent = true;
      const status = Number(code ?? process.exitCode ?? 0);
      try {
        handlers?.exiting(Number.isInteger(status) ? status : 1);
      } catch (e) {
        process.stderr.write(`tensorbook: could not answer the running cell before exiting: ${(e as Error).message}\n`);
      }
      toWorker({ kind: "close" });
    }
    // The main thread blocks here; the I/O thread flushes and closes on its own loop.
    if (workerAlive) Atomics.wait(closed, 0, 0, 5000);
    return reallyExit(code);
  };
  process.exit = exitKernel as typeof process.exit;
  // Requests that arrive while the modules below load wait here, in order.
  const early: ToMain[] = [];
  let onMessage = (m: ToMain) => void early.push(m);
  worker.on("message", (m: ToMain) => onMessage(m));
  let engine: Engine | undefined;
  // Interrupt (signal mode, or the I/O thread's answer to interrupt_request): synchronous
  // cells are stopped by the engine's breakOnSigint; pending awaits by engine.interrupt().
  // Installed before anything else, so an early SIGINT cannot kill the kernel.
  process.on("SIGINT", () => {
    handlers?.interrupt(engine);
    toWorker({ kind: "interrupted" });
  });
  // Errors nobody awaited must not kill the kernel: show them on the stderr of the cell that
  // made them (Node runs these handlers in the async context of the timer or promise that
  // failed), else of the running or next cell.
  const stray = (kind: string) => (e: unknown) => {
    if (handlers) handlers.reportStray(formatStray(kind, e), engine?.owner?.());
    else process.stderr.write(formatStray(kind, e));
  };
  process.on("uncaughtException", stray("Uncaught"));
  process.on("unhandledRejection", stray("Unhandled promise rejection"));
  const [{ comms }, { KernelHandlers }, { defaultHistoryFile, HistoryStore }, { kernelInfoContent }] = await Promise.all([
    import("./comm.js"),
    import("./handlers.js"),
    import("./history.js"),
    import("./kernel-info.js"),
  ]);

  let loading: Promise<Engine> | undefined;
  const loadEngine = (): Promise<Engine> =>
    (loading ??= import(engineSpecifier()).then((m: EngineModule) => {
      engine = m.createTypeScriptEngine({ cwd: process.cwd() });
      return engine;
    }));
  // Load in the background once the front end has had its first kernel_info_reply.
  let warmTimer: NodeJS.Timeout | undefined = setTimeout(() => void loadEngine().catch(() => {}), 1000);
  const warm = () => {
    if (warmTimer === undefined) return;
    clearTimeout(warmTimer);
    warmTimer = undefined;
    setTimeout(() => void loadEngine().catch((e: Error) => process.stderr.write(`tensorbook: engine failed to load: ${e.stack}\n`)), 5);
  };

  let exiting = false;
  const shutdown = () => {
    if (exiting) return;
    exiting = true;
    // After the current request's idle status, which is posted later in this same turn.
    setImmediate(() => toWorker({ kind: "close" }));
    setTimeout(() => process.exit(0), 1500).unref();
  };

  const kernel = new KernelHandlers({
    engine: loadEngine,
    // Serialized here, so a value JSON cannot carry throws in the cell that sent it.
    outbox: { send: (channel, msg) => toWorker({ kind: "send", channel, wire: serialize(msg), note: noteOf(msg) }) },
    session,
    history: new HistoryStore(defaultHistoryFile()),
    comms,
    kernelInfo: kernelInfoContent,
    arrivedSoFar: () => Atomics.load(counter, 0),
    onShutdown: shutdown,
  });
  handlers = kernel;

  onMessage = (m: ToMain) => {
    if (m.kind === "request") {
      const msg = reviveMessage(m.msg);
      void kernel.receive(m.channel, msg, m.seq).then(() => {
        if (msg.header.msg_type === "kernel_info_request") warm();
      });
    } else if (m.kind === "stdin") {
      kernel.receiveStdin(reviveMessage(m.msg));
    } else if (m.kind === "closed") {
      process.exit(0);
    } else if (m.kind === "orphaned") {
      process.exit(1); // as ipykernel's parent poller
    }
  };
  for (const m of early.splice(0)) onMessage(m);
  worker.on("error", (e) => {
    process.stderr.write(`tensorbook: I/O thread failed: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
  worker.on("exit", (code) => {
    workerAlive = false;
    if (!exiting) {
      process.stderr.write(`tensorbook: I/O thread exited (${code}); stopping the kernel\n`);
      process.exit(1);
    }
  });

}

function connectionFileFromArgv(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-f" || a === "--connection-file") return argv[i + 1];
    if (a.startsWith("--connection-file=")) return a.slice("--connection-file=".length);
    if (a.startsWith("-f=")) return a.slice(3);
  }
  return undefined;
}

// Run when executed directly (node dist/kernel/main.js -f ...), not when imported by the CLI.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const file = connectionFileFromArgv(process.argv.slice(2));
  if (!file) {
    process.stderr.write("usage: node dist/kernel/main.js -f <connection file>\n");
    process.exit(2);
  }
  runKernel(file).catch((e: Error) => {
    process.stderr.write(`tensorbook: ${e.message}\n`);
    process.exit(1);
  });
}

export { connectionFileFromArgv };
