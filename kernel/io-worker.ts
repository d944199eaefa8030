// The kernel's I/O thread (a worker_threads Worker started by main.ts). It owns every ZeroMQ
// socket, so heartbeats are answered and iopub output is published even while the main
// thread is stuck in a long synchronous cell.
//
//   hb      REP     echo
//   iopub   PUB     whatever the main thread posts, signed here
//   shell   ROUTER  verified requests -> main thread (numbered, see `arrived`)
//   control ROUTER  same, except interrupt_request (answered here at once, then SIGINT) and
//                   kernel_info_request (answered here: control never waits behind a cell)
//   stdin   ROUTER  input_reply -> main thread
//
// Every incoming message is verified (HMAC, constant time) before anything else; a message
// with a missing or wrong signature, a replayed signature, or malformed frames is dropped
// and logged to stderr, never forwarded.
//
// Nothing may throw past this thread's boundary: a worker that dies with ZeroMQ sockets
// open aborts the whole process in zeromq.js's native teardown (`terminate called after
// throwing an instance of 'Napi::Error'`, zeromq.js issue 411), and so does a process exit
// while they are open. So every message is handled inside a try that logs, stray errors
// are logged by process-level handlers, and the process exits only after `close` (main.ts
// waits for the `closed` flag). Outgoing messages arrive as JSON text made by the main
// thread (wire.ts serialize); this thread only signs them.
//
// Nothing is dropped on the way out: ZeroMQ's send high-water mark (1000 messages by default)
// makes a PUB socket silently drop, and a client that missed an idle status waits forever,
// so every socket's is unlimited. The main thread batches stream text (handlers.ts), so the
// number of queued messages stays small even when a cell prints in a tight loop.
//
// shutdown_request on control goes to the main thread, which answers it and exits cleanly;
// if the process still lives a second later (a cell stuck in a synchronous loop), this
// thread answers if the main thread did not, closes the sockets and ends the process.
//
// JPY_PARENT_PID (main.ts passes it as parentPid): the thread polls that process once a
// second, as ipykernel's ParentPollerUnix does, and when it is gone closes the sockets and
// ends the process, even while the main thread is stuck in a cell.
//
import { appendFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { kernelInfoContent } from "./kernel-info.js";
import { reviveMessage, type IoWorkerData, type ToMain, type ToWorker } from "./io-protocol.js";
import { raiseSigint, sigintDelay, type SigintState } from "./sigint.js";
import { decode, encode, endpoint, frame, makeMessage, ReplayGuard, signingKey, type JsonObject, type Message } from "./wire.js";

/** A socket whose sends are serialized (zeromq rejects a send while one is in flight). */
class Outgoing {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    readonly socket: zmq.Publisher | zmq.Router | zmq.Reply,
    private readonly name: string,
  ) {}
  send(frames: Buffer[]): void {
    this.chain = this.chain
      .then(() => this.socket.send(frames))
      .then(() => trace(`${this.name} -> sent`))
      .catch((e: Error) => log(`send on ${this.name} failed: ${e.message}`));
  }
  flushed(): Promise<void> {
    return this.chain;
  }
}

function log(text: string): void {
  process.stderr.write(`tensorbook[io]: ${text}\n`);
  trace(text);
}

// TENSORBOOK_IO_LOG=<file>: a line per event, written synchronously from this thread (its
// stderr is relayed by the main thread, which may be stuck in a cell).
const traceFile = process.env.TENSORBOOK_IO_LOG;
function trace(text: string): void {
  if (traceFile) appendFileSync(traceFile, `${process.pid} ${Date.now()} ${text}\n`);
}

async function run(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error("io-worker.ts must run as a worker thread (started by kernel/main.ts)");
  const data = workerData as IoWorkerData;
  const info = data.connection;
  const key = signingKey(info.key, info.signature_scheme);
  const arrived = new Int32Array(data.arrived);
  const sigint: SigintState = { flags: new Int32Array(data.sigint), epoch: data.sigintEpoch };
  const closedFlag = new Int32Array(data.closed);
  const replays = new ReplayGuard();
  const post = (m: ToMain) => port.postMessage(m);

  const hb = new zmq.Reply({ linger: 0 });
  const iopub = new zmq.Publisher({ linger: 1000, sendHighWaterMark: 0 });
  const shell = new zmq.Router({ linger: 1000, sendHighWaterMark: 0 });
  const control = new zmq.Router({ linger: 1000, sendHighWaterMark: 0 });
  const stdin = new zmq.Router({ linger: 1000, sendHighWaterMark: 0 });
  opened.push(hb, iopub, shell, control, stdin);
  await Promise.all([
    hb.bind(endpoint(info, "hb")),
    iopub.bind(endpoint(info, "iopub")),
    shell.bind(endpoint(info, "shell")),
    control.bind(endpoint(info, "control")),
    stdin.bind(endpoint(info, "stdin")),
  ]);
  const out = { iopub: new Outgoing(iopub, "iopub"), shell: new Outgoing(shell, "shell"), control: new Outgoing(control, "control"), stdin: new Outgoing(stdin, "stdin") };

  // The execute_request whose cell runs now: from its busy status to its execute_reply.
  let executing: string | undefined;
  const track = (m: ToWorker & { kind: "send" }) => {
    const { note } = m;
    if (m.channel === "iopub" && note.type === "status" && note.state === "busy" && note.parentType === "execute_request") executing = note.parentId;
    else if (m.channel === "shell" && note.type === "execute_reply" && note.parentId === executing) executing = undefined;
    else if (note.type === "shutdown_reply") shutdownAnswered = true;
  };
  let shutdownAnswered = false;
  /** busy, the reply on control, idle: a control request answered by this thread. */
  const answer = (msg: Message, content: JsonObject, alsoIopub = false) => {
    const type = msg.header.msg_type.replace(/_request$/, "_reply");
    out.iopub.send(encode(makeMessage("status", { execution_state: "busy" }, msg, data.session, { identities: [] }), key));
    out.control.send(encode(makeMessage(type, content, msg, data.session), key));
    if (alsoIopub) out.iopub.send(encode(makeMessage(type, content, msg, data.session, { identities: [] }), key));
    out.iopub.send(encode(makeMessage("status", { execution_state: "idle" }, msg, data.session, { identities: [] }), key));
  };

  // A SIGINT that lands while the main thread is type-checking, or between awaits before the
  // cell's script starts, finds nothing to stop, and a `while (true) {}` that starts after it
  // would never see it. So while the same cell still runs, raise SIGINT again every 100 ms
  // (for at most 30 s, which covers loading the engine and checking a large cell):
  // breakOnSigint catches the first one that arrives inside the script. Repeats are only
  // useful, and only raised, once a breakOnSigint run has settled (sigint.ts).
  let retrying: string | undefined;
  const insist = (target: string | undefined) => {
    if (target === undefined || retrying === target) return;
    retrying = target;
    let tries = 0;
    const timer = setInterval(() => {
      if (executing !== target || ++tries > 300) {
        clearInterval(timer);
        if (retrying === target) retrying = undefined;
        return;
      }
      if (Atomics.load(sigint.flags, 0) === 0 || sigintDelay(sigint) > 0) return;
      trace(`SIGINT again (${tries})`);
      process.kill(process.pid, "SIGINT");
    }, 100);
  };

  // Sends what is queued (for at most 2 s: a peer that stopped reading must not keep the
  // kernel alive), closes every socket, then raises the flag main.ts waits on to exit.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= Promise.race([Promise.all(Object.values(out).map((o) => o.flushed())), new Promise((r) => setTimeout(r, 2000))]).then(() => {
      for (const s of [hb, iopub, shell, control, stdin]) {
        try {
          s.close();
        } catch (e) {
          log(`closing a socket failed: ${(e as Error).message}`);
        }
      }
      Atomics.store(closedFlag, 0, 1);
      Atomics.notify(closedFlag, 0);
      post({ kind: "closed" });
    }));

  port.on("message", (m: ToWorker) => {
    try {
      if (m.kind === "send") {
        track(m);
        // Output of timers still running at shutdown has nowhere to go.
        if (!closing) out[m.channel].send(frame(reviveMessage(m.wire), key));
      } else if (m.kind === "interrupted") {
        insist(executing);
      } else if (m.kind === "close") {
        void close();
      }
    } catch (e) {
      log(`cannot handle ${m.kind} from the main thread: ${(e as Error).stack ?? String(e)}`);
    }
  });

  // The parent poller: the kernel's life is bound to the process that started it.
  if (data.parentPid > 1) {
    const initialPpid = process.ppid;
    const timer = setInterval(() => {
      if (!parentGone(data.parentPid, initialPpid)) return;
      clearInterval(timer);
      log(`parent process ${data.parentPid} is gone (JPY_PARENT_PID); stopping the kernel`);
      post({ kind: "orphaned", parentPid: data.parentPid });
      // The main thread exits once it sees the flag; one stuck in a cell never looks, so
      // end the process from here (sockets closed first: see the header).
      void close().then(() => setTimeout(() => process.kill(process.pid, "SIGKILL"), 1000));
    }, 1000);
    timer.unref();
  }

  const heartbeat = async () => {
    for await (const frames of hb) await hb.send(frames);
  };

  const serve = async (socket: zmq.Router, channel: "shell" | "control" | "stdin") => {
    for await (const frames of socket) {
      try {
        receive(frames, channel);
      } catch (e) {
        log(`a message on ${channel} could not be handled: ${(e as Error).stack ?? String(e)}`);
      }
    }
  };

  const receive = (frames: Buffer[], channel: "shell" | "control" | "stdin") => {
    const r = decode(frames, key, replays);
    if (!r.ok) {
      log(`dropped a message on ${channel}: ${r.reason}`);
      return;
    }
    const msg = r.msg;
    trace(`${channel} <- ${msg.header.msg_type}`);
    if (channel === "stdin") {
      post({ kind: "stdin", msg });
    } else if (channel === "control" && msg.header.msg_type === "interrupt_request") {
      // Answered here: the main thread may be inside `while (true) {}`. SIGINT then stops
      // the running cell (vm breakOnSigint for sync code, engine.interrupt() for awaits).
      const busy = makeMessage("status", { execution_state: "busy" }, msg, data.session, { identities: [] });
      out.iopub.send(encode(busy, key));
      out.control.send(encode(makeMessage("interrupt_reply", { status: "ok" }, msg, data.session), key));
      out.iopub.send(encode(makeMessage("status", { execution_state: "idle" }, msg, data.session, { identities: [] }), key));
      const target = executing;
      trace(`interrupt: SIGINT, running ${target ?? "nothing"}`);
      raiseSigint(sigint, () => insist(target));
    } else if (channel === "control" && msg.header.msg_type === "kernel_info_request") {
      answer(msg, kernelInfoContent());
    } else if (channel === "control" && msg.header.msg_type === "shutdown_request") {
      const seq = Atomics.add(arrived, 0, 1) + 1;
      post({ kind: "request", channel, msg, seq });
      setTimeout(() => {
        // Still alive: the main thread is stuck in a cell. It may have answered and asked to
        // close, then entered a cell queued before the shutdown, and never see `closed`
        // (seen: 1 run in 6 with `while (true) {}`): ending the process is what was asked.
        log("the kernel did not exit within 1 s of shutdown_request (a cell is stuck); ending the process");
        if (!shutdownAnswered && !closing) answer(msg, { status: "ok", restart: msg.content.restart === true }, true);
        // As the parent poller below: ZeroMQ delivers what lingers in its own threads, so
        // the reply needs a moment after close before the process ends.
        void close().then(() => setTimeout(() => process.kill(process.pid, "SIGKILL"), 500));
      }, 1000);
    } else {
      const seq = Atomics.add(arrived, 0, 1) + 1;
      post({ kind: "request", channel, msg, seq });
    }
  };

  post({ kind: "ready" });
  trace("ready");
  await Promise.all([heartbeat(), serve(shell, "shell"), serve(control, "control"), serve(stdin, "stdin")]).catch((e: Error) => {
    // Sockets closed at shutdown end the loops with an error; anything else is a bug to report.
    if (!/closed|terminated/i.test(e.message)) log(`I/O loop stopped: ${e.stack ?? e.message}`);
  });
}

/** Whether the process JPY_PARENT_PID names is gone: no such pid, or (when it was our
 *  parent) we were re-parented, as ipykernel's poller checks with getppid() == 1. */
function parentGone(parentPid: number, initialPpid: number): boolean {
  if (parentPid === initialPpid && process.ppid !== initialPpid) return true;
  try {
    process.kill(parentPid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

// Errors outside the handlers above (a rejected promise in a socket loop): logged; the
// thread lives, since its death would abort the process (see the header).
process.on("uncaughtException", (e) => log(`uncaught error: ${e.stack ?? e.message}`));
process.on("unhandledRejection", (e) => log(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));

/** Sockets made so far, closed if start-up fails (a bind to a port in use). */
const opened: zmq.Socket[] = [];

run().catch((e: Error) => {
  log(`cannot start: ${e.message}`);
  for (const s of opened) s.close();
  process.exit(1);
});
