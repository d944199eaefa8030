// A Jupyter client in TypeScript: launches a kernel process with its own connection file and
// speaks the protocol to it over ZeroMQ (DEALER shell/control/stdin, SUB iopub, REQ hb).
// The notebook runner (runner.ts), the socket-level tests and the benchmark use it; no Python.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { decode, encode, endpoint, makeMessage, signingKey, type ConnectionInfo, type JsonObject, type Message, type SigningKey } from "./wire.js";

export interface LaunchOptions {
  /** Command and arguments; "{connection_file}" is replaced as in kernel.json. */
  argv: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Pass stderr through to this process's (default) or collect it. */
  stderr?: "inherit" | "collect";
  /** Kernel launched by someone else: only connect. */
  connection?: ConnectionInfo;
}

export interface ExecuteResult {
  reply: Message;
  /** iopub messages of the cell between busy and idle, status and execute_input excluded. */
  outputs: Message[];
}

type Waiter = (m: Message) => void;

/** Free TCP ports on 127.0.0.1 (bound then released; good enough for a local kernel). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<import("node:net").Server>((resolve, reject) => {
        const s = createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function newConnectionInfo(): Promise<ConnectionInfo> {
  const [shell, iopub, stdin, control, hb] = await freePorts(5);
  return {
    transport: "tcp", ip: "127.0.0.1", shell_port: shell!, iopub_port: iopub!, stdin_port: stdin!, control_port: control!, hb_port: hb!,
    key: randomBytes(16).toString("hex"), signature_scheme: "hmac-sha256", kernel_name: "tensorbook",
  };
}

export class KernelClient {
  readonly session = randomUUID();
  readonly key: SigningKey;
  // shell and stdin share a routing id: the kernel sends input_request to the identity of
  // the execute_request, as jupyter_client expects.
  readonly shell = new zmq.Dealer({ linger: 0, routingId: this.session });
  readonly control = new zmq.Dealer({ linger: 0 });
  readonly stdin = new zmq.Dealer({ linger: 0, routingId: this.session });
  readonly iopub = new zmq.Subscriber({ linger: 0 });
  private hb = new zmq.Request({ linger: 0, receiveTimeout: 3000 });
  private readonly replyWaiters = new Map<string, Waiter>();
  private readonly iopubLog = new Map<string, Message[]>();
  private readonly idleWaiters = new Map<string, () => void>();
  /** Called for every input_request; resolve with the value to send back. */
  onInput: ((prompt: string, password: boolean) => string | Promise<string>) | undefined;
  /** Every shell/control reply, awaited or not (robustness tests count them). */
  onReply: ((m: Message) => void) | undefined;
  /** Every iopub message, for clients that track comms or unparented output. */
  onIopub: ((m: Message) => void) | undefined;
  stderrText = "";
  private closed = false;
  private sends = new Map<zmq.Dealer, Promise<void>>();

  private constructor(
    readonly info: ConnectionInfo,
    readonly child: ChildProcess | undefined,
    private readonly dir: string | undefined,
  ) {
    this.key = signingKey(info.key, info.signature_scheme);
    this.iopub.subscribe();
    this.shell.connect(endpoint(info, "shell"));
    this.control.connect(endpoint(info, "control"));
    this.stdin.connect(endpoint(info, "stdin"));
    this.iopub.connect(endpoint(info, "iopub"));
    this.hb.connect(endpoint(info, "hb"));
    void this.pump(this.shell);
    void this.pump(this.control);
    void this.pumpStdin();
    void this.pumpIopub();
  }

  /** Launches a kernel (argv with {connection_file}) and waits until it answers kernel_info with iopub flowing. */
  static async launch(options: LaunchOptions, timeoutMs = 30_000): Promise<KernelClient> {
    const info = options.connection ?? (await newConnectionInfo());
    let child: ChildProcess | undefined;
    let dir: string | undefined;
    if (!options.connection) {
      dir = mkdtempSync(join(tmpdir(), "tensorbook-conn-"));
      const file = join(dir, "kernel.json");
      writeFileSync(file, JSON.stringify(info));
      const [cmd, ...args] = options.argv.map((a) => a.replace("{connection_file}", file));
      child = spawn(cmd!, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "inherit", options.stderr === "collect" ? "pipe" : "inherit"] });
    }
    const client = new KernelClient(info, child, dir);
    child?.stderr?.on("data", (d: Buffer) => (client.stderrText += d.toString()));
    await client.waitForReady(timeoutMs);
    return client;
  }

  /** Repeats kernel_info until a reply and its iopub status arrive (iopub's slow joiner). */
  async waitForReady(timeoutMs: number): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child && this.child.exitCode !== null) throw new Error(`kernel exited with code ${this.child.exitCode} before answering kernel_info\n${this.stderrText}`);
      const msg = this.message("kernel_info_request", {});
      const reply = this.waitReply(msg.header.msg_id, 250);
      this.sendOn(this.shell, msg);
      const r = await reply.catch(() => undefined);
      if (r && (await this.waitIdle(msg.header.msg_id, 250).then(() => true, () => false))) return r;
    }
    throw new Error(`kernel did not answer kernel_info within ${timeoutMs} ms\n${this.stderrText}`);
  }

  message(type: string, content: JsonObject): Message {
    return makeMessage(type, content, undefined, this.session, { identities: [] });
  }

  /** Sends a request and resolves with its reply. */
  async request(channel: "shell" | "control", type: string, content: JsonObject, timeoutMs = 60_000): Promise<Message> {
    const msg = this.message(type, content);
    const reply = this.waitReply(msg.header.msg_id, timeoutMs);
    this.sendOn(channel === "shell" ? this.shell : this.control, msg);
    return reply;
  }

  /** Sends an execute_request; resolves after both its reply and its idle status arrived. */
  async execute(code: string, options: JsonObject = {}, timeoutMs = 60_000): Promise<ExecuteResult> {
    const msg = this.message("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: this.onInput !== undefined, stop_on_error: true, ...options });
    return this.executeMessage(msg, timeoutMs);
  }

  async executeMessage(msg: Message, timeoutMs = 60_000): Promise<ExecuteResult> {
    const id = msg.header.msg_id;
    const reply = this.waitReply(id, timeoutMs);
    const idle = this.waitIdle(id, timeoutMs);
    this.sendOn(this.shell, msg);
    const [r] = await Promise.all([reply, idle]);
    const outputs = (this.iopubLog.get(id) ?? []).filter((m) => m.header.msg_type !== "status" && m.header.msg_type !== "execute_input");
    this.iopubLog.delete(id);
    return { reply: r, outputs };
  }

  /** Raw frames on a channel, for robustness tests. */
  sendFrames(channel: "shell" | "control" | "stdin", frames: Buffer[]): void {
    const socket = channel === "shell" ? this.shell : channel === "control" ? this.control : this.stdin;
    this.queueSend(socket, frames);
  }

  /** Signs and sends a message on a channel. */
  sendOn(socket: zmq.Dealer, msg: Message): void {
    this.queueSend(socket, encode(msg, this.key));
  }

  private queueSend(socket: zmq.Dealer, frames: Buffer[]): void {
    const prev = this.sends.get(socket) ?? Promise.resolve();
    this.sends.set(socket, prev.then(() => socket.send(frames)).catch(() => {}));
  }

  /** One heartbeat round trip; false when no echo within 3 s (the socket receive timeout). */
  async heartbeat(): Promise<boolean> {
    try {
      await this.hb.send("ping");
      const [echo] = await this.hb.receive();
      return echo?.toString() === "ping";
    } catch {
      // A REQ socket that timed out is stuck mid-exchange: replace it.
      this.hb.close();
      this.hb = new zmq.Request({ linger: 0, receiveTimeout: 3000 });
      this.hb.connect(endpoint(this.info, "hb"));
      return false;
    }
  }

  waitReply(msgId: string, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.replyWaiters.delete(msgId);
        reject(new Error(`no reply to ${msgId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replyWaiters.set(msgId, (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  }

  private waitIdle(msgId: string, timeoutMs: number): Promise<void> {
    if ((this.iopubLog.get(msgId) ?? []).some(isIdle)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.idleWaiters.delete(msgId);
        reject(new Error(`no idle status for ${msgId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.idleWaiters.set(msgId, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async pump(socket: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of socket) {
        const r = decode(frames, this.key);
        if (!r.ok) continue;
        this.onReply?.(r.msg);
        const parent = (r.msg.parent_header as { msg_id?: string }).msg_id;
        const w = parent ? this.replyWaiters.get(parent) : undefined;
        if (w) {
          this.replyWaiters.delete(parent!);
          w(r.msg);
        }
      }
    } catch {
      // socket closed
    }
  }

  private async pumpStdin(): Promise<void> {
    try {
      for await (const frames of this.stdin) {
        const r = decode(frames, this.key);
        if (!r.ok || r.msg.header.msg_type !== "input_request") continue;
        const c = r.msg.content as { prompt: string; password: boolean };
        const value = this.onInput ? await this.onInput(c.prompt, c.password) : "";
        const reply = makeMessage("input_reply", { value }, r.msg, this.session, { identities: [] });
        this.sendOn(this.stdin, reply);
      }
    } catch {
      // socket closed
    }
  }

  private async pumpIopub(): Promise<void> {
    try {
      for await (const frames of this.iopub) {
        const r = decode(frames, this.key);
        if (!r.ok) continue;
        this.onIopub?.(r.msg);
        const parent = (r.msg.parent_header as { msg_id?: string }).msg_id;
        if (!parent) continue;
        const log = this.iopubLog.get(parent) ?? [];
        log.push(r.msg);
        this.iopubLog.set(parent, log);
        if (isIdle(r.msg)) {
          const w = this.idleWaiters.get(parent);
          if (w) {
            this.idleWaiters.delete(parent);
            w();
          } else if (r.msg.header.msg_type === "status") {
            // Nobody waits for this request's outputs (kernel_info probes): drop them.
            setTimeout(() => this.iopubLog.delete(parent), 1000).unref();
          }
        }
      }
    } catch {
      // socket closed
    }
  }

  /** Asks the kernel to shut down (falls back to SIGKILL), then closes sockets. */
  async shutdown(timeoutMs = 3000): Promise<void> {
    if (this.closed) return;
    const exited = this.child && this.child.exitCode === null ? new Promise((r) => this.child!.once("exit", r)) : Promise.resolve();
    await this.request("control", "shutdown_request", { restart: false }, timeoutMs).catch(() => undefined);
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
    if (this.child && this.child.exitCode === null) this.child.kill("SIGKILL");
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function isIdle(m: Message): boolean {
  return m.header.msg_type === "status" && m.content.execution_state === "idle";
}
