// Wire format: signing, verification (bad, missing, empty-key), framing and malformed input.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decode, DELIMITER, encode, endpoint, makeMessage, parseConnectionInfo, sign, signingKey, verify } from "../../kernel/wire.js";

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

  it("rejects unsupported signature schemes and validates connection files", () => {
    expect(() => signingKey("k", "hmac-md5")).toThrow(/hmac-sha256/);
    const info = parseConnectionInfo({ ip: "127.0.0.1", transport: "tcp", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "k" }, "c.json");
    expect(endpoint(info, "iopub")).toBe("tcp://127.0.0.1:2");
    expect(endpoint({ ...info, transport: "ipc", ip: "/tmp/k" }, "hb")).toBe("ipc:///tmp/k-5");
    expect(() => parseConnectionInfo({ ip: "x", shell_port: "1" }, "c.json")).toThrow(/shell_port/);
  });
});
