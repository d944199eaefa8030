// The Jupyter wire format (messaging protocol 5.3): frames, HMAC-SHA256 signatures, and
// message construction. Pure functions over Buffers; no sockets, so it is tested directly.
//
// A message on a ROUTER/DEALER/PUB socket is the frame list
//   [ident_0 .. ident_k, "<IDS|MSG>", signature, header, parent_header, metadata, content,
//    buffer_0 .. buffer_m]
// where signature = hex HMAC-SHA256(key, header ‖ parent_header ‖ metadata ‖ content) over
// the exact bytes of those four JSON frames. An empty key disables signing: the signature
// frame is "" and incoming signatures are not checked (the spec's "auth disabled").

import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";
export const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  /** Jupyter clients may add fields (subshell_id, ...); they are carried through untouched. */
  [extra: string]: unknown;
}

export type JsonObject = { [key: string]: unknown };

export interface Message<C extends JsonObject = JsonObject> {
  /** ROUTER routing prefix: who to answer. Empty for PUB messages. */
  identities: Buffer[];
  header: Header;
  /** The request's header, or {} for unsolicited messages. */
  parent_header: Header | Record<string, never>;
  metadata: JsonObject;
  content: C;
  buffers: Buffer[];
}

/** The signing key of a connection file; the scheme must be hmac-sha256. */
export interface SigningKey {
  key: Buffer;
}

export function signingKey(key: string, scheme = "hmac-sha256"): SigningKey {
  if (scheme !== "hmac-sha256" && key !== "") {
    throw new Error(`wire: signature_scheme "${scheme}" is not supported; use "hmac-sha256" in the connection file`);
  }
  return { key: Buffer.from(key, "utf8") };
}

/** hex HMAC-SHA256 over the four JSON frames, or "" when the key is empty. */
export function sign(key: SigningKey, parts: readonly Buffer[]): string {
  if (key.key.length === 0) return "";
  const h = createHmac("sha256", key.key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Constant-time check of a received signature against the four JSON frames. */
export function verify(key: SigningKey, signature: Buffer, parts: readonly Buffer[]): boolean {
  if (key.key.length === 0) return true;
  const expected = Buffer.from(sign(key, parts), "ascii");
  // Lengths are public (always 64 hex digits for a valid signature); compare equal-length only.
  if (signature.length !== expected.length) return false;
  return timingSafeEqual(signature, expected);
}

export function newHeader(msgType: string, session: string, username = "kernel"): Header {
  return {
    msg_id: randomUUID(),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** A new message answering (or caused by) `parent`; identities default to the parent's. */
export function makeMessage<C extends JsonObject>(
  msgType: string,
  content: C,
  parent: Message | undefined,
  session: string,
  options: { identities?: Buffer[]; metadata?: JsonObject; buffers?: Buffer[] } = {},
): Message<C> {
  return {
    identities: options.identities ?? parent?.identities ?? [],
    header: newHeader(msgType, session),
    parent_header: parent ? parent.header : {},
    metadata: options.metadata ?? {},
    content,
    buffers: options.buffers ?? [],
  };
}

/** Serializes and signs a message into frames ready for a ZeroMQ multipart send. */
export function encode(msg: Message, key: SigningKey): Buffer[] {
  const parts = [
    Buffer.from(JSON.stringify(msg.header)),
    Buffer.from(JSON.stringify(msg.parent_header)),
    Buffer.from(JSON.stringify(msg.metadata)),
    Buffer.from(JSON.stringify(msg.content)),
  ];
  return [...msg.identities, Buffer.from(DELIMITER), Buffer.from(sign(key, parts)), ...parts, ...msg.buffers];
}

export type DecodeResult = { ok: true; msg: Message } | { ok: false; reason: string };

function parseObject(frame: Buffer, name: string): JsonObject | string {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch {
    return `${name} frame is not valid JSON`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `${name} frame is not a JSON object`;
  return value as JsonObject;
}

/**
 * Splits, verifies and parses received frames. Any malformed input gives { ok: false } with
 * a reason for the log; it never throws, so a hostile peer cannot crash the I/O thread.
 * The signature is checked before any JSON is parsed.
 */
export function decode(frames: readonly Buffer[], key: SigningKey): DecodeResult {
  const at = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("latin1") === DELIMITER);
  if (at < 0) return { ok: false, reason: "no <IDS|MSG> delimiter frame" };
  if (frames.length < at + 6) return { ok: false, reason: `expected 6 frames after the delimiter, got ${frames.length - at - 1}` };
  const signature = frames[at + 1]!;
  const parts = frames.slice(at + 2, at + 6);
  if (!verify(key, signature, parts)) {
    return { ok: false, reason: signature.length === 0 ? "missing signature" : "wrong signature" };
  }
  const header = parseObject(parts[0]!, "header");
  if (typeof header === "string") return { ok: false, reason: header };
  for (const field of ["msg_id", "msg_type"] as const) {
    if (typeof header[field] !== "string" || header[field] === "") {
      return { ok: false, reason: `header.${field} is missing or not a string` };
    }
  }
  const parent = parseObject(parts[1]!, "parent_header");
  if (typeof parent === "string") return { ok: false, reason: parent };
  const metadata = parseObject(parts[2]!, "metadata");
  if (typeof metadata === "string") return { ok: false, reason: metadata };
  const content = parseObject(parts[3]!, "content");
  if (typeof content === "string") return { ok: false, reason: content };
  const h = header as Header;
  // Fill optional header fields older clients omit, so handlers can rely on them.
  if (typeof h.session !== "string") h.session = "";
  if (typeof h.username !== "string") h.username = "";
  if (typeof h.date !== "string") h.date = "";
  if (typeof h.version !== "string") h.version = PROTOCOL_VERSION;
  return {
    ok: true,
    msg: {
      identities: frames.slice(0, at).map((f) => Buffer.from(f)),
      header: h,
      parent_header: parent as Header,
      metadata,
      content,
      buffers: frames.slice(at + 6).map((f) => Buffer.from(f)),
    },
  };
}

/** The fields of a Jupyter connection file that the kernel and the runner use. */
export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export type ChannelName = "shell" | "iopub" | "stdin" | "control" | "hb";

/** ZeroMQ endpoint of a channel: tcp://ip:port, or ipc://ip-port as jupyter_client writes it. */
export function endpoint(info: ConnectionInfo, channel: ChannelName): string {
  const port = info[`${channel}_port` as const];
  return info.transport === "ipc" ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`;
}

/** Validates a parsed connection file; errors name the field and what is expected. */
export function parseConnectionInfo(value: unknown, source: string): ConnectionInfo {
  if (typeof value !== "object" || value === null) throw new Error(`${source}: connection file is not a JSON object`);
  const v = value as JsonObject;
  const transport = v.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") throw new Error(`${source}: transport must be "tcp" or "ipc", got ${JSON.stringify(transport)}`);
  if (typeof v.ip !== "string") throw new Error(`${source}: "ip" must be a string`);
  for (const ch of ["shell", "iopub", "stdin", "control", "hb"]) {
    const p = v[`${ch}_port`];
    if (typeof p !== "number" || !Number.isInteger(p) || p < 0) throw new Error(`${source}: "${ch}_port" must be a non-negative integer, got ${JSON.stringify(p)}`);
  }
  if (typeof v.key !== "string") throw new Error(`${source}: "key" must be a string ("" disables signing)`);
  const scheme = typeof v.signature_scheme === "string" ? v.signature_scheme : "hmac-sha256";
  return { ...(v as unknown as ConnectionInfo), transport, signature_scheme: scheme };
}
