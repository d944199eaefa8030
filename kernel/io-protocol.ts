// The messages between the kernel's main thread (main.ts) and its I/O thread (io-worker.ts).
// Structured clone carries them; Buffers arrive on the other side as Uint8Array, so each
// side revives them with reviveMessage.
//   worker -> main  ready | request (shell/control, numbered) | stdin (input_reply)
//                   | closed (sockets closed after `close`) | orphaned (the parent process is gone)
//   main -> worker  send (sign and send on a channel) | interrupted (SIGINT seen) | close
//
// Outgoing messages cross as JSON text (wire.ts serialize): the main thread serializes, so a
// value JSON cannot carry is an exception in the code that sent it, never in this thread.

import type { ConnectionInfo, Message, Serialized } from "./wire.js";

export interface IoWorkerData {
  connection: ConnectionInfo;
  /** Int32[0] = number of shell/control requests forwarded so far (read by main for aborts). */
  arrived: SharedArrayBuffer;
  /** Int32[0] = 1 once the worker closed its sockets (main waits on it before exiting). */
  closed: SharedArrayBuffer;
  session: string;
  /** Shared with the main thread: see sigint.ts. */
  sigint: SharedArrayBuffer;
  sigintEpoch: number;
  /** JPY_PARENT_PID: the kernel exits when this process is gone (0: not watched). */
  parentPid: number;
}

export type ToMain =
  | { kind: "ready" }
  | { kind: "request"; channel: "shell" | "control"; msg: Message; seq: number }
  | { kind: "stdin"; msg: Message }
  | { kind: "closed" }
  | { kind: "orphaned"; parentPid: number };

/** What the I/O thread needs to know of an outgoing message besides its frames. */
export interface SendNote {
  type: string;
  parentId?: string;
  parentType?: string;
  /** execution_state of a status message. */
  state?: string;
}

export type ToWorker =
  | { kind: "send"; channel: "shell" | "control" | "iopub" | "stdin"; wire: Serialized; note: SendNote }
  /** The main thread took a SIGINT (signal-mode interrupt): make sure it reaches the cell. */
  | { kind: "interrupted" }
  | { kind: "close" };

/** The note of a message for its send (see SendNote). */
export function noteOf(msg: Message): SendNote {
  const parent = msg.parent_header as { msg_id?: string; msg_type?: string };
  const state = msg.content.execution_state;
  return { type: msg.header.msg_type, parentId: parent.msg_id, parentType: parent.msg_type, state: typeof state === "string" ? state : undefined };
}

/** Turns structured-cloned Uint8Arrays back into Buffers. */
export function reviveMessage<M extends { identities: Buffer[]; buffers: Buffer[] }>(msg: M): M {
  const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return { ...msg, identities: msg.identities.map(buf), buffers: (msg.buffers ?? []).map(buf) };
}
