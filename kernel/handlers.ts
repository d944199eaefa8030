// Jupyter protocol semantics with no sockets: what the kernel answers to each request and
// what it publishes on iopub, in what order. Sockets live in the I/O thread (io-worker.ts);
// the language lives behind the Engine contract (engine.ts). Tests drive this class with a
// fake Outbox and a small engine.
//
// Ordering invariants (what front ends rely on):
// - every shell/control request is wrapped in status busy ... idle with it as parent;
// - shell requests run one at a time, in arrival order; control requests do not queue;
// - for execute_request: busy, execute_input, outputs..., execute_result | error, reply, idle,
//   so every output of a cell, the result of top-level await included, precedes its idle;
// - stream text is batched as ipykernel batches it: consecutive writes to one stream of one
//   cell become one message, sent when 0.2 s passed since the first write, when 64 Ki characters
//   are pending, or before any other message the kernel sends (so streams keep their order
//   with display_data, error, execute_result, the reply and idle). A write inside a
//   synchronous loop checks the clock itself, since no timer fires until the loop ends;
// - after an error with stop_on_error, execute_requests that had arrived before the error
//   was handled (sequence number <= the I/O thread's counter then) are answered "aborted";
//   a silent request's error aborts nothing (ipykernel: `not silent and ... stop_on_error`);
// - a message whose content JSON cannot carry (a BigInt in a display bundle or a comm
//   message) throws in the code that sent it; the cell's result is reported as an error.

import type { CellIO, Engine, ExecuteOutcome } from "./engine.js";
import type { CommManager } from "./comm.js";
import type { HistoryStore } from "./history.js";
import { makeMessage, type JsonObject, type Message } from "./wire.js";
import type { MimeBundle, MimeMetadata } from "../src/display/protocol.js";

export type OutChannel = "shell" | "control" | "iopub" | "stdin";

/** Where the handlers' messages go (the I/O thread, or a test's array). */
export interface Outbox {
  send(channel: OutChannel, msg: Message): void;
}

export interface KernelOptions {
  /** The engine, possibly still loading: requests that need it wait for it. */
  engine: () => Promise<Engine>;
  outbox: Outbox;
  /** This kernel's session id (header.session of everything it sends). */
  session: string;
  history: HistoryStore;
  comms: CommManager;
  kernelInfo: () => JsonObject;
  /** The I/O thread's count of requests received so far (for stop_on_error aborts). */
  arrivedSoFar: () => number;
  /** Called after the shutdown_reply is sent; the process should exit. */
  onShutdown: (restart: boolean) => void;
  /** Diagnostics (unknown message types, bad content); defaults to stderr. */
  log?: (text: string) => void;
}

type Channel = "shell" | "control";
interface Queued {
  msg: Message;
  seq: number;
}

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export class KernelHandlers {
  private executionCount = 0;
  private readonly queue: Queued[] = [];
  private draining: Promise<void> | undefined;
  /** Requests with seq <= this are aborted (set when a cell fails with stop_on_error). */
  private abortThrough = 0;
  /** The execute_request whose cell is running, and stray errors waiting for a cell. */
  private running: { msg: Message; io: CellIO; count: number; code: string; storeHistory: boolean } | undefined;
  private strayErrors: string[] = [];
  /** The request whose handling is in progress: the parent of comm messages. */
  private currentParent: Message | undefined;
  private pendingInput: { resolve: (s: string) => void; reject: (e: Error) => void; msgId: string } | undefined;
  private readonly log: (text: string) => void;
  /** Stream text not yet sent: one stream of one cell (see the header). */
  private stream: { parent: Message; name: string; parts: string[]; size: number; since: number } | undefined;
  private streamTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: KernelOptions) {
    this.log = o.log ?? ((t) => process.stderr.write(`tensorbook: ${t}\n`));
    o.comms.attach((type, content, metadata, buffers) => {
      this.publish(type, content, this.currentParent, { metadata, buffers });
    });
  }

  /** Entry point for shell and control requests; seq is the I/O thread's arrival number. */
  receive(channel: Channel, msg: Message, seq = 0): Promise<void> {
    if (channel === "control") return this.dispatch("control", msg, seq);
    this.queue.push({ msg, seq });
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  /** input_reply from the stdin channel. */
  receiveStdin(msg: Message): void {
    const p = this.pendingInput;
    if (msg.header.msg_type !== "input_reply" || !p) return;
    this.pendingInput = undefined;
    const value = msg.content.value;
    if (typeof value === "string") p.resolve(value);
    else p.reject(new ProtocolError("input: input_reply.content.value is not a string"));
  }

  /** SIGINT or interrupt_request: stop the running cell and any pending input(). */
  interrupt(engine: Engine | undefined): void {
    engine?.interrupt();
    const p = this.pendingInput;
    if (p) {
      this.pendingInput = undefined;
      p.reject(Object.assign(new Error("input: interrupted"), { name: "KeyboardInterrupt" }));
    }
  }

  /**
   * An error nobody awaited (a throw in a timer, an unhandled rejection): shown on stderr of
   * the cell that made it when known (owner), else of the running cell, or of the next cell
   * when none runs.
   */
  reportStray(text: string, owner?: CellIO): void {
    if (owner) owner.stderr(text);
    else if (this.running) this.running.io.stderr(text);
    else this.strayErrors.push(text);
  }

  /**
   * The process is about to exit (process.exit in a cell or a timer): the running cell, if
   * any, gets a note on stderr, its execute_reply (ok, with the ask_exit payload, as
   * ipykernel's exit()) and its idle status, and is stored in the history.
   */
  exiting(code: number): void {
    this.flushStream(); // a timer's last words before its process.exit
    const r = this.running;
    if (!r) return;
    this.running = undefined;
    r.io.stderr(`process.exit(${code}): the kernel exits with status ${code}; a Jupyter front end restarts it\n`);
    this.reply("shell", r.msg, { status: "ok", execution_count: r.count, payload: [{ source: "ask_exit", keepkernel: false }], user_expressions: {} });
    if (r.storeHistory) this.o.history.append(r.count, r.code, null);
    this.publish("status", { execution_state: "idle" }, r.msg);
  }

  /** Resolves when the shell queue is empty (tests). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      await this.dispatch("shell", next.msg, next.seq);
    }
  }

  /** Sends the pending stream text, if any, as one stream message. */
  private flushStream(): void {
    const s = this.stream;
    if (!s) return;
    this.stream = undefined;
    if (this.streamTimer !== undefined) clearTimeout(this.streamTimer);
    this.streamTimer = undefined;
    this.send("iopub", this.message("stream", { name: s.name, text: s.parts.join("") }, s.parent));
  }

  /** Adds text to the pending stream, flushing first if it is another cell's or stream's. */
  private write(parent: Message, name: string, text: string): void {
    const s = this.stream;
    if (s && (s.parent !== parent || s.name !== name)) this.flushStream();
    const now = Date.now();
    const t = (this.stream ??= { parent, name, parts: [], size: 0, since: now });
    t.parts.push(text);
    t.size += text.length;
    if (t.size >= STREAM_BATCH_CHARS || now - t.since >= STREAM_INTERVAL_MS) return this.flushStream();
    this.streamTimer ??= setTimeout(() => this.flushStream(), STREAM_INTERVAL_MS);
  }

  /** Every message leaves through here: pending stream text first, to keep the order. */
  private send(channel: OutChannel, msg: Message): void {
    if (this.stream && !(channel === "iopub" && msg.header.msg_type === "stream")) this.flushStream();
    this.o.outbox.send(channel, msg);
  }

  private message(type: string, content: JsonObject, parent: Message | undefined, extra: { metadata?: JsonObject; buffers?: Buffer[] } = {}): Message {
    return makeMessage(type, content, parent, this.o.session, { identities: [Buffer.from(`kernel.${this.o.session}.${type}`)], ...extra });
  }

  private publish(type: string, content: JsonObject, parent: Message | undefined, extra: { metadata?: JsonObject; buffers?: Buffer[] } = {}): void {
    this.send("iopub", this.message(type, content, parent, extra));
  }

  private reply(channel: Channel, parent: Message, content: JsonObject): void {
    const type = parent.header.msg_type.replace(/_request$/, "_reply");
    this.send(channel, makeMessage(type, content, parent, this.o.session));
  }

  private async dispatch(channel: Channel, msg: Message, seq: number): Promise<void> {
    const type = msg.header.msg_type;
    if (!type.endsWith("_request") && !type.startsWith("comm_")) {
      this.log(`ignoring ${type} on ${channel}: not a request`);
      return;
    }
    this.publish("status", { execution_state: "busy" }, msg);
    const previousParent = this.currentParent;
    this.currentParent = msg;
    try {
      await this.handle(channel, msg, seq);
    } catch (e) {
      // A request the handler could not serve (bad content, engine failure): answer with an
      // error reply rather than leave the client waiting, and keep the kernel alive.
      const err = e instanceof Error ? e : new Error(String(e));
      this.log(`${type}: ${err.message}`);
      if (type.endsWith("_request")) {
        this.reply(channel, msg, { status: "error", ename: err.name, evalue: err.message, traceback: [`${err.name}: ${err.message}`] });
      }
    } finally {
      this.currentParent = channel === "shell" ? msg : previousParent;
      this.publish("status", { execution_state: "idle" }, msg);
    }
  }

  private async handle(channel: Channel, msg: Message, seq: number): Promise<void> {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        return this.reply(channel, msg, this.o.kernelInfo());
      case "execute_request":
        return this.execute(msg, seq);
      case "complete_request": {
        const code = str(c, "code");
        const engine = await this.o.engine();
        const r = engine.complete(code, int(c, "cursor_pos", code.length));
        return this.reply(channel, msg, { status: "ok", ...r });
      }
      case "inspect_request": {
        const code = str(c, "code");
        const engine = await this.o.engine();
        const r = engine.inspect(code, int(c, "cursor_pos", code.length), c.detail_level === 1 ? 1 : 0);
        return this.reply(channel, msg, { status: "ok", ...r });
      }
      case "is_complete_request": {
        const engine = await this.o.engine();
        return this.reply(channel, msg, { ...engine.isComplete(str(c, "code")) });
      }
      case "history_request":
        return this.reply(channel, msg, { status: "ok", history: this.history(c) });
      case "comm_info_request": {
        const target = typeof c.target_name === "string" ? c.target_name : undefined;
        return this.reply(channel, msg, { status: "ok", comms: this.o.comms.info(target) });
      }
      case "comm_open": {
        await this.o.engine(); // targets are registered by cells; let the engine exist first
        const problem = await this.o.comms.handleOpen(c, msg.metadata, msg.buffers);
        if (problem !== undefined) {
          this.log(problem);
          this.publish("comm_close", { comm_id: typeof c.comm_id === "string" ? c.comm_id : "", data: { error: problem } }, msg);
        }
        return;
      }
      case "comm_msg":
      case "comm_close": {
        const problem = msg.header.msg_type === "comm_msg" ? this.o.comms.handleMsg(c, msg.metadata, msg.buffers) : this.o.comms.handleClose(c, msg.metadata, msg.buffers);
        if (problem !== undefined) this.log(problem);
        return;
      }
      case "shutdown_request": {
        const restart = c.restart === true;
        this.reply(channel, msg, { status: "ok", restart });
        this.publish("shutdown_reply", { status: "ok", restart }, msg);
        this.o.onShutdown(restart);
        return;
      }
      case "debug_request": {
        // A Debug Adapter Protocol response saying no, with the Jupyter error fields too.
        const message = "tensorbook has no debugger (kernel_info reports debugger: false); debug with console.log or run the code in Node with --inspect";
        return this.reply(channel, msg, {
          type: "response", request_seq: typeof c.seq === "number" ? c.seq : 0, success: false, command: typeof c.command === "string" ? c.command : "",
          message, status: "error", ename: "NotImplementedError", evalue: message, traceback: [`NotImplementedError: ${message}`],
        });
      }
      case "interrupt_request": {
        // Normally answered by the I/O thread itself (the main thread may be stuck in a
        // loop); this path serves front ends wired without it, e.g. tests.
        this.reply(channel, msg, { status: "ok" });
        this.interrupt(await this.o.engine());
        return;
      }
      default:
        this.log(`unknown request type ${msg.header.msg_type} on ${channel}; no reply`);
    }
  }

  private history(c: JsonObject): unknown[] {
    const output = c.output === true;
    const h = this.o.history;
    switch (c.hist_access_type) {
      case "tail":
        return h.tail(int(c, "n", 10), output);
      case "range":
        return h.range(int(c, "session", 0), int(c, "start", 1), typeof c.stop === "number" ? c.stop : undefined, output);
      case "search":
        return h.search(typeof c.pattern === "string" ? c.pattern : "*", typeof c.n === "number" ? c.n : undefined, c.unique === true, output);
      default:
        throw new ProtocolError(`history_request: hist_access_type must be "tail", "range" or "search", got ${JSON.stringify(c.hist_access_type)}`);
    }
  }

  private async execute(msg: Message, seq: number): Promise<void> {
    const c = msg.content;
    if (seq !== 0 && seq <= this.abortThrough) {
      this.reply("shell", msg, { status: "aborted", execution_count: this.executionCount });
      return;
    }
    const code = str(c, "code");
    const silent = c.silent === true;
    const storeHistory = silent ? false : c.store_history !== false;
    const stopOnError = c.stop_on_error !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    if (!silent) this.publish("execute_input", { code, execution_count: count }, msg);

    const io = this.cellIO(msg, silent, c.allow_stdin === true);
    this.running = { msg, io, count, code, storeHistory };
    let outcome: ExecuteOutcome;
    let engine: Engine | undefined;
    try {
      for (const text of this.strayErrors.splice(0)) io.stderr(text);
      engine = await this.o.engine();
      outcome = await engine.execute(code, io, { executionCount: count, storeHistory });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      outcome = { status: "error", ename: err.name, evalue: err.message, traceback: (err.stack ?? `${err.name}: ${err.message}`).split("\n") };
    } finally {
      this.running = undefined;
    }

    let output: string | null = null;
    if (outcome.status === "ok" && outcome.result && !silent) {
      try {
        this.publish("execute_result", { execution_count: count, data: outcome.result.data, metadata: outcome.result.metadata }, msg);
        const text = outcome.result.data["text/plain"];
        output = typeof text === "string" ? text : null;
      } catch (e) {
        // A result whose display bundle JSON cannot carry: the cell fails with the reason.
        const err = e instanceof Error ? e : new Error(String(e));
        outcome = { status: "error", ename: err.name, evalue: err.message, traceback: [`${err.name}: ${err.message}`] };
      }
    }
    if (outcome.status === "ok") {
      const userExpressions = await this.userExpressions(engine, c.user_expressions);
      this.reply("shell", msg, { status: "ok", execution_count: count, payload: outcome.payload, user_expressions: userExpressions });
    } else if (outcome.status === "error") {
      const { ename, evalue, traceback } = outcome;
      if (!silent) this.publish("error", { ename, evalue, traceback }, msg);
      this.reply("shell", msg, { status: "error", execution_count: count, ename, evalue, traceback, user_expressions: {} });
      if (stopOnError && !silent) this.abortThrough = Math.max(this.abortThrough, this.o.arrivedSoFar());
    } else {
      this.reply("shell", msg, { status: "aborted", execution_count: count });
    }
    if (storeHistory) this.o.history.append(count, code, output);
  }

  private async userExpressions(engine: Engine | undefined, expressions: unknown): Promise<JsonObject> {
    if (!engine || typeof expressions !== "object" || expressions === null || Object.keys(expressions).length === 0) return {};
    const wanted: Record<string, string> = {};
    for (const [k, v] of Object.entries(expressions)) if (typeof v === "string") wanted[k] = v;
    const results = await engine.evaluate(wanted);
    const out: JsonObject = {};
    for (const [k, r] of Object.entries(results)) {
      if (r.status === "ok") out[k] = { status: "ok", data: r.result?.data ?? { "text/plain": "undefined" }, metadata: r.result?.metadata ?? {} };
      else if (r.status === "error") out[k] = { status: "error", ename: r.ename, evalue: r.evalue, traceback: r.traceback };
      else out[k] = { status: "aborted" };
    }
    return out;
  }

  /** The output channel of one execute_request: iopub messages with it as parent. */
  private cellIO(parent: Message, silent: boolean, allowStdin: boolean): CellIO {
    const pub = (type: string, content: JsonObject): void => {
      if (!silent) this.publish(type, content, parent);
    };
    return {
      stdout: (text: string) => {
        if (!silent) this.write(parent, "stdout", text);
      },
      stderr: (text: string) => {
        if (!silent) this.write(parent, "stderr", text);
      },
      display: (data: MimeBundle, metadata: MimeMetadata = {}, displayId?: string) =>
        pub("display_data", { data, metadata, transient: displayId === undefined ? {} : { display_id: displayId } }),
      updateDisplay: (displayId: string, data: MimeBundle, metadata: MimeMetadata = {}) =>
        pub("update_display_data", { data, metadata, transient: { display_id: displayId } }),
      clearOutput: (wait: boolean) => pub("clear_output", { wait }),
      input: (prompt: string, password: boolean) => {
        if (!allowStdin) {
          return Promise.reject(new Error("input: this front end does not accept input (execute_request.allow_stdin is false)"));
        }
        if (this.pendingInput) return Promise.reject(new Error("input: another input() is already waiting for a reply"));
        return new Promise<string>((resolve, reject) => {
          const request = makeMessage("input_request", { prompt, password }, parent, this.o.session);
          this.pendingInput = { resolve, reject, msgId: request.header.msg_id };
          this.send("stdin", request);
        });
      },
    };
  }
}

/** Stream batching (see the header): ipykernel's flush_interval, and a size bound so a
 *  synchronous loop's output goes out while it runs and no message grows without limit. */
const STREAM_INTERVAL_MS = 200;
const STREAM_BATCH_CHARS = 64 * 1024;

function str(c: JsonObject, field: string): string {
  const v = c[field];
  if (typeof v !== "string") throw new ProtocolError(`content.${field} must be a string, got ${v === undefined ? "nothing" : typeof v}`);
  return v;
}

function int(c: JsonObject, field: string, fallback: number): number {
  const v = c[field];
  return typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : fallback;
}
