// The messages between the kernel's main thread (main.ts) and its I/O thread (io-worker.ts).
// Structured clone carries them; Buffers arrive on the other side as Uint8Array, so each
// side revives them with reviveMessage.
//   worker -> main  ready | request (shell/control, numbered) | stdin (input_reply) | closed
//   main -> worker  send (sign and send on a channel) | interrupted (SIGINT seen) | close

import type { ConnectionInfo, Message } from "./wire.js";

export interface IoWorkerData {
  connection: ConnectionInfo;
  /** Int32[0] = number of shell/control requests forwarded so far (read by main for aborts). */
  arrived: SharedArrayBuffer;
  session: string;
  /** Shared with the main thread: see sigint.ts. */
  sigint: SharedArrayBuffer;
  sigintEpoch: number;
}

export type ToMain =
  | { kind: "ready" }
  | { kind: "request"; channel: "shell" | "control"; msg: Message; seq: number }
  | { kind: "stdin"; msg: Message }
  | { kind: "closed" };

export type ToWorker =
  | { kind: "send"; channel: "shell" | "control" | "iopub" | "stdin"; msg: Message }
  /** The main thread took a SIGINT (signal-mode interrupt): make sure it reaches the cell. */
  | { kind: "interrupted" }
  | { kind: "close" };

/** Turns structured-cloned Uint8Arrays back into Buffers. */
export function reviveMessage(msg: Message): Message {
  const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return { ...msg, identities: msg.identities.map(buf), buffers: (msg.buffers ?? []).map(buf) };
}

