// Drives KernelHandlers without sockets: a recording Outbox, a temp history file, a fresh
// comm registry and the JS test engine.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommManager } from "../../../kernel/comm.js";
import type { Engine } from "../../../kernel/engine.js";
import { KernelHandlers, type OutChannel } from "../../../kernel/handlers.js";
import { HistoryStore } from "../../../kernel/history.js";
import { kernelInfoContent } from "../../../kernel/kernel-info.js";
import { makeMessage, serialize, type JsonObject, type Message } from "../../../kernel/wire.js";
import { createTypeScriptEngine } from "./js-engine.js";

export interface Sent {
  channel: OutChannel;
  msg: Message;
}

/** serialize: the outbox serializes each message, as the kernel's does (a value JSON cannot
 *  carry then throws in the sender). */
export function harness(options: { historyFile?: string; serialize?: boolean } = {}) {
  const sent: Sent[] = [];
  const comms = new CommManager();
  const engine: Engine = createTypeScriptEngine({ cwd: process.cwd(), comms });
  const historyFile = options.historyFile ?? join(mkdtempSync(join(tmpdir(), "tb-hist-")), "history.jsonl");
  let arrived = 0;
  const shutdowns: boolean[] = [];
  const logs: string[] = [];
  const kernel = new KernelHandlers({
    engine: async () => engine,
    outbox: {
      send: (channel, msg) => {
        if (options.serialize) serialize(msg);
        sent.push({ channel, msg });
      },
    },
    session: "kernel-session",
    history: new HistoryStore(historyFile),
    comms,
    kernelInfo: kernelInfoContent,
    arrivedSoFar: () => arrived,
    onShutdown: (restart) => shutdowns.push(restart),
    log: (t) => logs.push(t),
  });
  const client = "client-session";
  return {
    kernel,
    engine,
    comms,
    sent,
    shutdowns,
    logs,
    historyFile,
    /** Builds a request and hands it to the kernel as the I/O thread would (with a sequence number). */
    request(type: string, content: JsonObject, channel: "shell" | "control" = "shell"): { msg: Message; done: Promise<void> } {
      const msg = makeMessage(type, content, undefined, client);
      msg.identities = [Buffer.from("client")];
      arrived++;
      return { msg, done: kernel.receive(channel, msg, arrived) };
    },
    /** Messages caused by one request, as [channel, msg_type] pairs in send order. */
    trace(parent: Message): string[] {
      return sent.filter((s) => (s.msg.parent_header as { msg_id?: string }).msg_id === parent.header.msg_id).map((s) => `${s.channel}:${s.msg.header.msg_type}${s.msg.header.msg_type === "status" ? ":" + String(s.msg.content.execution_state) : ""}`);
    },
    of(parent: Message, type: string): Message[] {
      return sent.filter((s) => (s.msg.parent_header as { msg_id?: string }).msg_id === parent.header.msg_id && s.msg.header.msg_type === type).map((s) => s.msg);
    },
  };
}
