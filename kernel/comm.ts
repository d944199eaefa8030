// Comms: the Jupyter protocol's bidirectional channels between kernel code and front-end
// widgets (comm_open / comm_msg / comm_close, comm_info). Cell code registers targets and
// opens comms through the `comms` registry exported here; the engine exposes it to cells
// (it is also reachable as globalThis[Symbol.for("tensorbook.comms")]).
//
//   comms.registerTarget("counter", (comm, open) => { comm.onMsg((m) => comm.send({ n: 1 })); });
//   const c = comms.open("plot", { title: "loss" }); c.send({ step: 1 }); c.close();
//
// The kernel's handlers attach a CommTransport that publishes on iopub with the request
// being handled as parent; without one (plain Node), sends are dropped silently.

import { randomUUID } from "node:crypto";
import type { JsonObject } from "./wire.js";

export type CommMsgType = "comm_open" | "comm_msg" | "comm_close";

/** What arrives with comm_open/comm_msg/comm_close from the front end. */
export interface CommMessage {
  comm_id: string;
  data: JsonObject;
  metadata: JsonObject;
  buffers: Buffer[];
}

export interface CommSendOptions {
  metadata?: JsonObject;
  buffers?: Buffer[];
}

export interface Comm {
  readonly id: string;
  readonly target: string;
  readonly closed: boolean;
  send(data: JsonObject, options?: CommSendOptions): void;
  /** Called for every comm_msg the front end sends on this comm. */
  onMsg(callback: (msg: CommMessage) => void): void;
  /** Called once when either side closes the comm. */
  onClose(callback: (msg: CommMessage) => void): void;
  close(data?: JsonObject, options?: CommSendOptions): void;
}

export type CommTargetHandler = (comm: Comm, open: CommMessage) => void | Promise<void>;

/** Publishes a comm message; content already holds comm_id (and target_name for opens). */
export type CommTransport = (type: CommMsgType, content: JsonObject, metadata: JsonObject, buffers: Buffer[]) => void;

class CommImpl implements Comm {
  closed = false;
  private readonly msgCallbacks: ((msg: CommMessage) => void)[] = [];
  private readonly closeCallbacks: ((msg: CommMessage) => void)[] = [];

  constructor(
    readonly id: string,
    readonly target: string,
    private readonly manager: CommManager,
  ) {}

  send(data: JsonObject, options: CommSendOptions = {}): void {
    if (this.closed) throw new Error(`comm.send: comm ${this.id} (target "${this.target}") is closed; open a new comm`);
    this.manager.publish("comm_msg", { comm_id: this.id, data }, options);
  }

  onMsg(callback: (msg: CommMessage) => void): void {
    this.msgCallbacks.push(callback);
  }

  onClose(callback: (msg: CommMessage) => void): void {
    this.closeCallbacks.push(callback);
  }

  close(data: JsonObject = {}, options: CommSendOptions = {}): void {
    if (this.closed) return;
    this.manager.publish("comm_close", { comm_id: this.id, data }, options);
    this.closedBy({ comm_id: this.id, data, metadata: options.metadata ?? {}, buffers: options.buffers ?? [] });
  }

  /** Internal: the comm is gone (either side closed it). */
  closedBy(msg: CommMessage): void {
    this.closed = true;
    this.manager.forget(this.id);
    for (const cb of this.closeCallbacks) cb(msg);
  }

  delivered(msg: CommMessage): void {
    for (const cb of this.msgCallbacks) cb(msg);
  }
}

export class CommManager {
  private readonly targets = new Map<string, CommTargetHandler>();
  private readonly open_ = new Map<string, CommImpl>();
  private transport: CommTransport | undefined;

  /** Installed by the kernel's handlers. */
  attach(transport: CommTransport | undefined): void {
    this.transport = transport;
  }

  registerTarget(name: string, handler: CommTargetHandler): void {
    if (typeof handler !== "function") throw new TypeError(`comms.registerTarget("${name}"): handler must be a function (comm, openMsg) => void`);
    this.targets.set(name, handler);
  }

  unregisterTarget(name: string): void {
    this.targets.delete(name);
  }

  /** Opens a comm from the kernel side; the front end must have a target of that name. */
  open(target: string, data: JsonObject = {}, options: CommSendOptions = {}): Comm {
    const comm = new CommImpl(randomUUID().replace(/-/g, ""), target, this);
    this.publish("comm_open", { comm_id: comm.id, target_name: target, data }, options);
    this.open_.set(comm.id, comm); // only once the front end was told (publish may throw)
    return comm;
  }

  /** comm_info: open comms, optionally only those of one target. */
  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const [id, comm] of this.open_) {
      if (targetName === undefined || comm.target === targetName) out[id] = { target_name: comm.target };
    }
    return out;
  }

  /**
   * A front-end comm_open. Returns an error text when there is no such target (the caller
   * then answers with comm_close, as the spec asks).
   */
  async handleOpen(content: JsonObject, metadata: JsonObject, buffers: Buffer[]): Promise<string | undefined> {
    const id = content.comm_id;
    const target = content.target_name;
    if (typeof id !== "string" || typeof target !== "string") return "comm_open: content needs string comm_id and target_name";
    const handler = this.targets.get(target);
    if (!handler) return `comm_open: no comm target "${target}" is registered; call comms.registerTarget("${target}", handler) in a cell first`;
    const comm = new CommImpl(id, target, this);
    this.open_.set(id, comm);
    await handler(comm, { comm_id: id, data: asObject(content.data), metadata, buffers });
    return undefined;
  }

  handleMsg(content: JsonObject, metadata: JsonObject, buffers: Buffer[]): string | undefined {
    const comm = typeof content.comm_id === "string" ? this.open_.get(content.comm_id) : undefined;
    if (!comm) return `comm_msg: no open comm with id ${JSON.stringify(content.comm_id)}`;
    comm.delivered({ comm_id: comm.id, data: asObject(content.data), metadata, buffers });
    return undefined;
  }

  handleClose(content: JsonObject, metadata: JsonObject, buffers: Buffer[]): string | undefined {
    const comm = typeof content.comm_id === "string" ? this.open_.get(content.comm_id) : undefined;
    if (!comm) return `comm_close: no open comm with id ${JSON.stringify(content.comm_id)}`;
    comm.closedBy({ comm_id: comm.id, data: asObject(content.data), metadata, buffers });
    return undefined;
  }

  /** Internal (CommImpl): send through the attached transport. */
  publish(type: CommMsgType, content: JsonObject, options: CommSendOptions): void {
    this.transport?.(type, content, options.metadata ?? {}, options.buffers ?? []);
  }

  /** Internal (CommImpl): drop a closed comm. */
  forget(id: string): void {
    this.open_.delete(id);
  }
}

function asObject(v: unknown): JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : {};
}

const commsKey = Symbol.for("tensorbook.comms");
type CommsSlot = { [commsKey]?: CommManager };

/**
 * The process's comm registry. Kept on globalThis under a registered symbol so that every
 * copy of this module loaded in the process (cells may import it by path) shares one.
 */
export const comms: CommManager = ((globalThis as CommsSlot)[commsKey] ??= new CommManager());
