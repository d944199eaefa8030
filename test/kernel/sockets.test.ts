// The kernel as a process over real ZeroMQ sockets: signature checks, fuzzed frames,
// interrupt in message and signal mode, heartbeats during a long synchronous cell, errors
// thrown later from timers, stdin. Runs against the plain JS test engine (protocol only) and
// against the real TypeScript engine; cell code is valid in both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KernelClient } from "../../kernel/client.js";
import { DELIMITER, encode, makeMessage, sign, signingKey, type JsonObject, type Message } from "../../kernel/wire.js";
import { launchKernel } from "./helpers/kernel-process.js";
import { mulberry32 } from "../helpers/prng.js";

const text = (r: { outputs: Message[] }, type: string) => r.outputs.filter((m) => m.header.msg_type === type).map((m) => m.content);
const resultText = (r: { outputs: Message[] }) => (text(r, "execute_result")[0] as { data: { "text/plain": string } } | undefined)?.data["text/plain"];

const rng = mulberry32;

describe.each(["js", "typescript"] as const)("kernel process over sockets (%s engine)", (engine) => {
  let k: KernelClient;
  beforeAll(async () => {
    k = await launchKernel({ engine });
  });
  afterAll(async () => {
    await k?.shutdown();
  });

  it("does not execute a message with a wrong or missing signature, and logs the drop", async () => {
    const evil = makeMessage("execute_request", { code: 'Reflect.set(globalThis, "pwned", 1)', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, undefined, k.session, { identities: [] });
    k.sendFrames("shell", encode(evil, signingKey("not-the-key")));
    const unsigned = encode(evil, k.key);
    unsigned[1] = Buffer.alloc(0);
    k.sendFrames("shell", unsigned);
    k.sendFrames("control", encode({ ...evil, header: { ...evil.header, msg_type: "shutdown_request" }, content: { restart: false } }, signingKey("x")));
    const r = await k.execute('Reflect.get(globalThis, "pwned") === undefined');
    expect(resultText(r)).toBe("true");
    expect(k.child!.exitCode).toBeNull();
    // The drops are logged by the I/O thread, whose stderr reaches us asynchronously.
    await k.request("control", "kernel_info_request", {});
    for (let i = 0; i < 100 && !/on control: wrong/.test(k.stderrText); i++) await new Promise((r) => setTimeout(r, 50));
    expect(k.stderrText).toMatch(/dropped a message on shell: wrong signature/);
    expect(k.stderrText).toMatch(/dropped a message on shell: missing signature/);
    expect(k.stderrText).toMatch(/dropped a message on control: wrong signature/);
  });

  it("survives 10,000 malformed and mutated messages and still answers kernel_info", async () => {
    const rand = rng(20261127);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const junk = (): unknown => pick([null, 0, -1, 1e308, "", "x".repeat(Math.floor(rand() * 300)), [], [1, "a"], {}, { a: { b: [null] } }, true, "\u0000\uffff"]);
    // Types safe to deliver with a valid signature (shutdown would end the test's kernel).
    const types = ["execute_request", "complete_request", "inspect_request", "is_complete_request", "history_request", "comm_info_request", "comm_open", "comm_msg", "comm_close", "kernel_info_request", "bogus_request", "status", ""];
    const replies = new Map<string, number>();
    k.onReply = (m) => {
      const key = `${m.header.msg_type}:${String(m.content.status)}`;
      replies.set(key, (replies.get(key) ?? 0) + 1);
    };
    const codes = ["1+1", "", "(", "}}", "null.x", "'\\u'", "undefined", "[1,2", "x =", "/*"];
    for (let i = 0; i < 10_000; i++) {
      const type = pick(types);
      const content: JsonObject = { code: pick(codes), cursor_pos: Math.floor(rand() * 10) - 2, hist_access_type: pick(["tail", "range", "search", 7]), n: junk(), comm_id: pick(["c", junk()]), target_name: junk(), data: junk(), silent: rand() < 0.1, user_expressions: pick([{}, { a: "1" }, junk()]) };
      for (const key of Object.keys(content)) {
        if (rand() < 0.15) content[key] = junk();
        if (rand() < 0.1) delete content[key];
      }
      const msg = makeMessage(type, content, undefined, k.session, { identities: [] });
      let frames = encode(msg, k.key);
      const mode = rand();
      if (mode < 0.2) {
        // Flip a random byte of a random frame (usually breaks the signature).
        const f = Math.floor(rand() * frames.length);
        const b = Buffer.from(frames[f]!);
        if (b.length > 0) b[Math.floor(rand() * b.length)] ^= 1 + Math.floor(rand() * 255);
        frames[f] = b;
      } else if (mode < 0.35) {
        frames = frames.slice(0, Math.floor(rand() * frames.length)); // truncated
      } else if (mode < 0.45) {
        frames = [Buffer.from(pick(["", DELIMITER, "{}", "\u0000"])), ...frames.slice(Math.floor(rand() * frames.length))];
      } else if (mode < 0.6) {
        // Validly signed but malformed JSON frames: reaches the parser, not the handlers.
        const parts = [Buffer.from(pick(["{", "[]", "null", '{"msg_id":1}', JSON.stringify(msg.header)])), Buffer.from(pick(["{}", "x"])), Buffer.from("{}"), Buffer.from(pick(["{}", "7", '{"code":'])) ];
        frames = [Buffer.from(DELIMITER), Buffer.from(sign(k.key, parts)), ...parts];
      } else if (mode < 0.65) {
        frames = [Buffer.from(DELIMITER), Buffer.from("0".repeat(64)), ...frames.slice(2)];
      }
      // else: a validly signed message with junk content, delivered to the handlers.
      k.sendFrames(pick(["shell", "shell", "control", "stdin"] as const), frames);
    }
    const info = await k.request("shell", "kernel_info_request", {}, 120_000);
    expect((info.content.language_info as { name: string }).name).toBe("typescript");
    expect(await k.heartbeat()).toBe(true);
    expect(resultText(await k.execute("40 + 2"))).toBe("42");
    k.onReply = undefined;
    // The validly signed junk reached the handlers and every kind of request was answered:
    // ok where the content made sense, error replies where it did not (executions queued
    // behind a failing one are "aborted", so exact counts vary with timing).
    const count = (prefix: string) => [...replies].filter(([key]) => key.startsWith(prefix)).reduce((a, [, n]) => a + n, 0);
    for (const type of ["execute_reply", "complete_reply", "inspect_reply", "is_complete_reply", "history_reply", "comm_info_reply", "kernel_info_reply"]) {
      expect(count(type), `${type} ${JSON.stringify([...replies])}`).toBeGreaterThan(20);
    }
    expect(count("history_reply:error")).toBeGreaterThan(0);
    expect(k.child!.exitCode).toBeNull();
  }, 180_000);

  // With the TypeScript engine these run from Python too (test/python/test_interrupt.py).
  for (const mode of ["message", "signal"] as const) {
    for (const cell of ["while (true) {}", "await new Promise(() => {})"]) {
      it(`interrupt (${mode} mode) stops \`${cell}\` and keeps variables`, async () => {
        await k.execute('Reflect.set(globalThis, "kept", 41)');
        const running = k.execute(cell, { stop_on_error: false });
        await new Promise((r) => setTimeout(r, 300));
        let replied = false;
        void running.then(() => (replied = true));
        if (mode === "message") {
          const reply = await k.request("control", "interrupt_request", {}, 5000);
          expect(reply.content.status).toBe("ok");
          // The I/O thread answered while the cell was still stuck.
          if (cell.startsWith("while")) expect(replied).toBe(false);
        } else {
          k.child!.kill("SIGINT");
        }
        const r = await running;
        expect(r.reply.content).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
        expect(resultText(await k.execute('Reflect.get(globalThis, "kept") + 1'))).toBe("42");
      });
    }
  }

  // Message mode only: the I/O thread repeats SIGINT until the cell ends. A bare SIGINT (signal
  // mode) that lands while the main thread is still checking the cell is queued behind it and
  // cannot reach a loop that starts afterwards; kernel.json therefore uses message mode.
  it("an interrupt_request that lands before the cell's loop starts (while it is checked) still stops it", async () => {
    for (const mode of ["message"] as const) {
      let started: () => void = () => {};
      const inCell = new Promise<void>((r) => (started = r));
      k.onIopub = (m) => {
        if (m.header.msg_type === "execute_input") started();
      };
      // A cell that takes a while to check and compile before its loop runs.
      const decls = Array.from({ length: 200 }, (_, i) => `const w${mode}${i} = { a: ${i}, b: [${i}] };`).join("\n");
      const running = k.execute(`${decls}\nwhile (true) {}`, { stop_on_error: false });
      await inCell;
      k.onIopub = undefined;
      await k.request("control", "interrupt_request", {}, 5000);
      const r = await running;
      expect(r.reply.content).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
    }
  });

  // One 20 s loop is enough: run it where it matters, with the real engine's output routing.
  if (engine === "typescript") it("answers heartbeats and publishes console.log while a cell loops synchronously for 20 s", async () => {
    const code = "const end = Date.now() + 20000; let n = 0; let t = Date.now(); while (Date.now() < end) { n++; if (Date.now() - t > 1000) { t = Date.now(); console.log('tick'); } } n > 0";
    const streamAt: number[] = [];
    const beats: { at: number; ok: boolean }[] = [];
    k.onIopub = (m) => {
      if (m.header.msg_type === "stream") streamAt.push(Date.now());
    };
    let done = false;
    const running = k.execute(code).then((r) => {
      done = true;
      return { r, at: Date.now() };
    });
    while (!done) {
      const ok = await k.heartbeat();
      if (!done) beats.push({ at: Date.now(), ok });
      await new Promise((r) => setTimeout(r, 500));
    }
    const { r, at } = await running;
    k.onIopub = undefined;
    expect(resultText(r)).toBe("true");
    expect(beats.length).toBeGreaterThanOrEqual(10);
    expect(beats.every((b) => b.ok)).toBe(true);
    // Output flowed during the loop: a tick arrived, then heartbeats, all before the reply.
    expect(streamAt.length).toBeGreaterThanOrEqual(5);
    expect(beats.some((b) => b.at > streamAt[0]!)).toBe(true);
    expect(streamAt[0]!).toBeLessThan(at);
  }, 60_000);

  it("reports a throw in setTimeout and an unhandled rejection on the stderr of their cell, and lives on", async () => {
    const seen: Message[] = [];
    k.onIopub = (m) => void seen.push(m);
    const first = await k.execute("setTimeout(() => { throw new Error('later boom') }, 10); Promise.reject(new Error('nobody awaits')); 1");
    const next = await k.execute("await new Promise((r) => setTimeout(r, 100));\n2");
    k.onIopub = undefined;
    const stderrOf = (parent?: string) =>
      seen.filter((m) => m.header.msg_type === "stream" && m.content.name === "stderr" && (parent === undefined || m.parent_header.msg_id === parent)).map((m) => m.content.text).join("");
    // The TypeScript engine knows the cell a timer or promise belongs to: both errors are
    // sent with that cell as parent, the timer's after its idle (the JS engine's go to the next cell).
    const stderr = stderrOf(engine === "typescript" ? (first.reply.parent_header.msg_id as string) : undefined);
    expect(resultText(first)).toBe("1");
    expect(stderr).toMatch(/Uncaught: Error: later boom/);
    expect(stderr).toMatch(/Unhandled promise rejection: Error: nobody awaits/);
    expect(resultText(next)).toBe("2");
    expect(k.child!.exitCode).toBeNull();
  });

  it("asks for input on the stdin channel", async () => {
    k.onInput = (prompt) => `answer to ${prompt}`;
    const r = await k.execute('await input("q?")');
    k.onInput = undefined;
    expect(resultText(r)).toBe("'answer to q?'");
  });
});
