// The Jupyter wire format (messaging protocol 5.3): frames, HMAC signatures, and message
// construction. Pure functions over Buffers; no sockets, so it is tested directly.
//
// A message on a ROUTER/DEALER/PUB socket is the frame list
//   [ident_0 .. ident_k, "<IDS|MSG>", signature, header, parent_header, metadata, content,
//    buffer_0 .. buffer_m]
// where signature = hex HMAC(key, header ‖ parent_header ‖ metadata ‖ content) over the
// exact bytes of those four JSON frames, with the connection file's signature_scheme
// ("hmac-sha256" by default; any hmac-<hashlib name> jupyter_client accepts). An empty key
// disables signing: the signature frame is "" and incoming signatures are not checked (the
// spec's "auth disabled").
//
// Sending is two steps: serialize (JSON, in the thread that made the message, so a value
// JSON cannot carry is an exception for the code that sent it) and frame (sign, in the I/O
// thread). Receiving verifies the signature before parsing, and ReplayGuard drops a
// message whose signature was already seen, as jupyter_client's Session does.

import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";

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

/** The signing key of a connection file and the hash its signature_scheme names. */
export interface SigningKey {
  key: Buffer;
  /** node:crypto's name of the hash ("sha256"). */
  hash: string;
  /** Length of a hex signature (twice the digest size). */
  hexLength: number;
}

/** jupyter_client's hmac-<name> (a hashlib attribute) -> node:crypto's name of that hash. */
const HASHES: Record<string, string> = {
  sha256: "sha256", sha512: "sha512", sha384: "sha384", sha224: "sha224", sha1: "sha1", md5: "md5",
  sha3_224: "sha3-224", sha3_256: "sha3-256", sha3_384: "sha3-384", sha3_512: "sha3-512",
  blake2b: "blake2b512", blake2s: "blake2s256",
};

/** The signature schemes the kernel accepts in a connection file. */
export const SIGNATURE_SCHEMES: readonly string[] = Object.keys(HASHES).map((h) => `hmac-${h}`);

export function signingKey(key: string, scheme = "hmac-sha256"): SigningKey {
  const hash = scheme.startsWith("hmac-") ? HASHES[scheme.slice(5)] : undefined;
  if (hash === undefined) {
    throw new Error(`wire: signature_scheme "${scheme}" is not supported; use one of ${SIGNATURE_SCHEMES.join(", ")} in the connection file`);
  }
  return { key: Buffer.from(key, "utf8"), hash, hexLength: createHash(hash).digest().length * 2 };
}

/** hex HMAC over the four JSON frames, or "" when the key is empty. */
export function sign(key: SigningKey, parts: readonly Buffer[]): string {
  if (key.key.length === 0) return "";
  const h = createHmac(key.hash, key.key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Constant-time check of a received signature against the four JSON frames. */
export function verify(key: SigningKey, signature: Buffer, parts: readonly Buffer[]): boolean {
  if (key.key.length === 0) return true;
  // Lengths are public (always hexLength digits for a valid signature); compare equal-length only.
  if (signature.length !== key.hexLength) return false;
  return timingSafeEqual(signature, Buffer.from(sign(key, parts), "ascii"));
}

/**
 * Signatures of the messages received so far, to drop a replayed one (a captured message
 * sent again verifies, since its bytes are unchanged). Bounded like jupyter_client's
 * digest history (2^16); the oldest are forgotten first. Every genuine message has a fresh
 * msg_id and date in its header, so its signature is new.
 */
export class ReplayGuard {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly capacity = 2 ** 16) {}

  /** True the first time a signature is offered, false for a replay. */
  fresh(signature: string): boolean {
    if (this.seen.has(signature)) return false;
    if (this.order.length < this.capacity) this.order.push(signature);
    else {
      this.seen.delete(this.order[this.next]!);
      this.order[this.next] = signature;
      this.next = (this.next + 1) % this.capacity;
    }
    this.seen.add(signature);
    return true;
  }
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

/** A message serialized for the wire, not yet signed: what the I/O thread frames. */
export interface Serialized {
  identities: Buffer[];
  /** JSON text of header, parent_header, metadata and content. */
  parts: [string, string, string, string];
  buffers: Buffer[];
}

/**
 * JSON text of a message's four dicts. Throws a TypeError naming the message type and the
 * path of the first value JSON cannot carry (a BigInt, a circular reference, a toJSON that
 * throws) or a buffer that is not bytes, so the code that sent it gets the error.
 */
export function serialize(msg: Message): Serialized {
  const type = typeof msg.header?.msg_type === "string" ? msg.header.msg_type : "message";
  const json = (value: unknown, root: string): string => {
    try {
      return JSON.stringify(value) ?? "{}";
    } catch (e) {
      const problem = jsonProblem(value, root) ?? (e instanceof Error ? e.message : String(e));
      throw new TypeError(`${type}: cannot send this to the front end: ${problem}`);
    }
  };
  // Typed as Buffer[], but a cell's comm.send({}, { buffers }) can pass anything.
  const buffers = ((msg.buffers ?? []) as unknown[]).map((b, i): Buffer => {
    if (Buffer.isBuffer(b)) return b;
    if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    if (b instanceof ArrayBuffer || b instanceof SharedArrayBuffer) return Buffer.from(b);
    throw new TypeError(`${type}: cannot send this to the front end: buffers[${i}] is ${describe(b)}, not bytes; pass Buffers, typed arrays or ArrayBuffers`);
  });
  return {
    identities: msg.identities,
    parts: [json(msg.header, "header"), json(msg.parent_header, "parent_header"), json(msg.metadata, "metadata"), json(msg.content, "content")],
    buffers,
  };
}

/** Signs serialized parts into frames ready for a ZeroMQ multipart send. */
export function frame(s: Serialized, key: SigningKey): Buffer[] {
  const parts = s.parts.map((p) => Buffer.from(p));
  return [...s.identities, Buffer.from(DELIMITER), Buffer.from(sign(key, parts)), ...parts, ...s.buffers];
}

/** Serializes and signs a message into frames ready for a ZeroMQ multipart send. */
export function encode(msg: Message, key: SigningKey): Buffer[] {
  return frame(serialize(msg), key);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return `a ${(v as object).constructor?.name ?? "Object"}`;
  return `a ${typeof v}`;
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** The first thing JSON.stringify fails on inside `value`, as "path is ...", or undefined. */
export function jsonProblem(value: unknown, root: string): string | undefined {
  const ancestors: { value: object; path: string }[] = [];
  const walk = (v: unknown, path: string, holderKey: string): string | undefined => {
    if (typeof v === "object" && v !== null && typeof (v as { toJSON?: unknown }).toJSON === "function") {
      try {
        v = (v as { toJSON(key: string): unknown }).toJSON(holderKey);
      } catch (e) {
        return `${path}.toJSON() threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
      }
    }
    if (typeof v === "bigint") return `${path} is a BigInt (${v}n), which JSON cannot represent; convert it with Number() or String() first`;
    if (typeof v !== "object" || v === null) return undefined;
    const cycle = ancestors.find((a) => a.value === v);
    if (cycle) return `${path} refers back to ${cycle.path} (a circular structure), which JSON cannot represent; send a copy without the cycle`;
    if (ancestors.length > 5000) return `${path} is nested more than 5000 levels deep; flatten it first`;
    ancestors.push({ value: v, path });
    try {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = walk(v[i], `${path}[${i}]`, String(i));
          if (p) return p;
        }
      } else {
        for (const k of Object.keys(v)) {
          const p = walk((v as Record<string, unknown>)[k], keyPath(path, k), k);
          if (p) return p;
        }
      }
    } finally {
      ancestors.pop();
    }
    return undefined;
  };
  return walk(value, root, "");
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
 * The signature is checked before any JSON is parsed, and then against `replays`.
 */
export function decode(frames: readonly Buffer[], key: SigningKey, replays?: ReplayGuard): DecodeResult {
  const at = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("latin1") === DELIMITER);
  if (at < 0) return { ok: false, reason: "no <IDS|MSG> delimiter frame" };
  if (frames.length < at + 6) return { ok: false, reason: `expected 6 frames after the delimiter, got ${frames.length - at - 1}` };
  const signature = frames[at + 1]!;
  const parts = frames.slice(at + 2, at + 6);
  if (!verify(key, signature, parts)) {
    return { ok: false, reason: signature.length === 0 ? "missing signature" : "wrong signature" };
  }
  if (replays && key.key.length > 0 && !replays.fresh(signature.toString("latin1"))) {
    return { ok: false, reason: "replayed message (a message with this signature was already received)" };
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
