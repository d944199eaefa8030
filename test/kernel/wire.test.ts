// Wire format: signing with every hmac-* scheme, verification (bad, missing, empty-key,
// replayed), framing, malformed input, and serialization errors that name the bad value.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decode, DELIMITER, encode, endpoint, makeMessage, parseConnectionInfo, ReplayGuard, serialize, sign, signingKey, SIGNATURE_SCHEMES, verify } from "../../kernel/wire.js";

const key = signingKey("a0436f6c-1916-498b-8eb9-e81ab9368e84");

function sample() {
  const parent = makeMessage("execute_request", { code: "1+1" }, undefined, "client-session");
  parent.identities = [Buffer.from("client-id")];
  return makeMessage("execute_reply", { status: "ok", execution_count: 1 }, parent, "kernel-session", { buffers: [Buffer.from([1, 2, 3])] });
}

describe("wire", () => {
  it("signs with HMAC-SHA256 over header, parent, metadata, content (oracle: node crypto directly)", () => {
    const frames = encode(sample(), key);
    const at = frames.findIndex((f) => f.toString() === DELIMITER);
    expect(frames[0]!.toString()).toBe("client-id");
    const h = createHmac("sha256", "a0436f6c-1916-498b-8eb9-e81ab9368e84");
    for (const f of frames.slice(at + 2, at + 6)) h.update(f);
    expect(frames[at + 1]!.toString()).toBe(h.digest("hex"));
  });

  it("round-trips identities, header, parent, content and buffers", () => {
    const msg = sample();
    const got = decode(encode(msg, key), key);
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.msg.identities.map(String)).toEqual(["client-id"]);
    expect(got.msg.header).toEqual(msg.header);
    expect(got.msg.header.version).toBe("5.3");
    expect(got.msg.parent_header).toEqual(msg.parent_header);
    expect(got.msg.content).toEqual({ status: "ok", execution_count: 1 });
    expect([...got.msg.buffers[0]!]).toEqual([1, 2, 3]);
  });

  it("rejects a wrong signature, a missing one, and a tampered content frame", () => {
    const frames = encode(sample(), key);
    const at = frames.findIndex((f) => f.toString() === DELIMITER);
    const wrongKey = decode(frames, signingKey("other"));
    expect(wrongKey).toEqual({ ok: false, reason: "wrong signature" });
    const missing = [...frames];
    missing[at + 1] = Buffer.alloc(0);
    expect(decode(missing, key)).toEqual({ ok: false, reason: "missing signature" });
    const tampered = [...frames];
    tampered[at + 5] = Buffer.from(JSON.stringify({ status: "ok", execution_count: 2 }));
    expect(decode(tampered, key).ok).toBe(false);
    // One flipped hex digit of the signature.
    const flipped = [...frames];
    const sig = flipped[at + 1]!.toString();
    flipped[at + 1] = Buffer.from((sig[0] === "0" ? "1" : "0") + sig.slice(1));
    expect(decode(flipped, key).ok).toBe(false);
  });

  it("with an empty key signs with '' and accepts any signature", () => {
    const empty = signingKey("");
    expect(sign(empty, [Buffer.from("{}")])).toBe("");
    expect(verify(empty, Buffer.from("anything"), [Buffer.from("{}")])).toBe(true);
    const frames = encode(sample(), empty);
    expect(frames[2]!.length).toBe(0);
    expect(decode(frames, empty).ok).toBe(true);
  });

  it("reports malformed frames without throwing", () => {
    const ok = encode(sample(), key);
    const at = ok.findIndex((f) => f.toString() === DELIMITER);
    expect(decode([Buffer.from("x")], key)).toEqual({ ok: false, reason: "no <IDS|MSG> delimiter frame" });
    expect(decode(ok.slice(0, at + 4), key).ok).toBe(false);
    const parts = [Buffer.from("not json"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    const bad = [Buffer.from(DELIMITER), Buffer.from(sign(key, parts)), ...parts];
    expect(decode(bad, key)).toEqual({ ok: false, reason: "header frame is not valid JSON" });
    const noType = [Buffer.from('{"msg_id":"1"}'), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("[]")];
    expect(decode([Buffer.from(DELIMITER), Buffer.from(sign(key, noType)), ...noType], key).ok).toBe(false);
  });

  it("signs with every hmac-<hashlib name> scheme jupyter_client allows (oracle: node crypto by the OpenSSL name)", () => {
    const openssl: Record<string, string> = { "hmac-sha3_256": "sha3-256", "hmac-blake2b": "blake2b512", "hmac-blake2s": "blake2s256", "hmac-md5": "md5", "hmac-sha1": "sha1", "hmac-sha512": "sha512" };
    expect(SIGNATURE_SCHEMES).toEqual(expect.arrayContaining(["hmac-sha256", ...Object.keys(openssl), "hmac-sha224", "hmac-sha384"]));
    for (const [scheme, name] of Object.entries(openssl)) {
      const k = signingKey("secret", scheme);
      const frames = encode(sample(), k);
      const at = frames.findIndex((f) => f.toString() === DELIMITER);
      const h = createHmac(name, "secret");
      for (const f of frames.slice(at + 2, at + 6)) h.update(f);
      expect(frames[at + 1]!.toString(), scheme).toBe(h.digest("hex"));
      expect(decode(frames, k).ok, scheme).toBe(true);
      expect(decode(frames, signingKey("secret", scheme === "hmac-md5" ? "hmac-sha1" : "hmac-md5")).ok, scheme).toBe(false);
    }
  });

  it("drops a replayed message, and forgets the oldest signatures beyond its capacity", () => {
    const replays = new ReplayGuard(3);
    const first = encode(sample(), key);
    expect(decode(first, key, replays).ok).toBe(true);
    expect(decode(first, key, replays)).toEqual({ ok: false, reason: "replayed message (a message with this signature was already received)" });
    // A wrong signature is not remembered, so it cannot block the genuine message.
    const second = encode(sample(), key);
    const forged = [...second];
    forged[forged.findIndex((f) => f.toString() === DELIMITER) + 5] = Buffer.from("{}");
    expect(decode(forged, key, replays).ok).toBe(false);
    expect(decode(second, key, replays).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect(decode(encode(sample(), key), key, replays).ok).toBe(true);
    expect(decode(first, key, replays).ok).toBe(true); // forgotten: capacity 3
    expect(new ReplayGuard(2).fresh("a")).toBe(true);
  });

  it("serialization names the value JSON cannot carry, and its path", () => {
    const send = (content: Record<string, unknown>, buffers?: unknown[]) =>
      () => serialize(makeMessage("display_data", content, undefined, "s", { buffers: buffers as Buffer[] }));
    expect(send({ data: { "application/json": { a: 1n } } })).toThrow('display_data: cannot send this to the front end: content.data["application/json"].a is a BigInt (1n)');
    const loop: Record<string, unknown> = { list: [1] };
    (loop.list as unknown[]).push(loop);
    expect(send({ data: loop })).toThrow("content.data.list[1] refers back to content.data (a circular structure)");
    expect(send({ x: { toJSON: () => { throw new Error("nope"); } } })).toThrow("content.x.toJSON() threw Error: nope");
    // the same object twice, not nested in itself, is no cycle
    const shared = { n: 1 };
    expect(JSON.parse(serialize(makeMessage("t", { a: shared, b: [shared] }, undefined, "s")).parts[3])).toEqual({ a: { n: 1 }, b: [{ n: 1 }] });
    expect(send({}, [5])).toThrow("buffers[0] is a number, not bytes");
    const bytes = serialize(makeMessage("t", {}, undefined, "s", { buffers: [new Uint8Array([1, 2]), new ArrayBuffer(3)] as unknown as Buffer[] })).buffers;
    expect(bytes.map((b) => [...b])).toEqual([[1, 2], [0, 0, 0]]);
  });

  it("rejects unsupported signature schemes and validates connection files", () => {
    expect(() => signingKey("k", "hmac-sha999")).toThrow(/hmac-sha256, .*hmac-md5/);
    expect(() => signingKey("k", "sha256")).toThrow(/signature_scheme "sha256" is not supported/);
    const info = parseConnectionInfo({ ip: "127.0.0.1", transport: "tcp", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "k" }, "c.json");
    expect(endpoint(info, "iopub")).toBe("tcp://127.0.0.1:2");
    expect(endpoint({ ...info, transport: "ipc", ip: "/tmp/k" }, "hb")).toBe("ipc:///tmp/k-5");
    expect(() => parseConnectionInfo({ ip: "x", shell_port: "1" }, "c.json")).toThrow(/shell_port/);
  });
});
