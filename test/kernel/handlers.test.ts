// Protocol semantics without sockets: message order, execution counts, silent/store_history,
// errors and stop_on_error aborts, user_expressions, stdin, history, comms, shutdown, a
// result JSON cannot carry, debug_request, and the reply of a cell that exits the process.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { harness } from "./helpers/harness.js";

const execute = (code: string, extra: Record<string, unknown> = {}) => ({ code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra });

describe("handlers", () => {
  it("kernel_info names TypeScript with the installed compiler's version, on shell and control", async () => {
    const h = harness();
    const tsVersion = (JSON.parse(readFileSync(createRequire(import.meta.url).resolve("typescript/package.json"), "utf8")) as { version: string }).version;
    for (const channel of ["shell", "control"] as const) {
      const { msg, done } = h.request("kernel_info_request", {}, channel);
      await done;
      expect(h.trace(msg)).toEqual(["iopub:status:busy", `${channel}:kernel_info_reply`, "iopub:status:idle"]);
      const info = h.of(msg, "kernel_info_reply")[0]!.content as { language_info: Record<string, string>; protocol_version: string };
      expect(info.protocol_version).toBe("5.3");
      expect(info.language_info).toMatchObject({ name: "typescript", version: tsVersion, mimetype: "text/typescript", file_extension: ".ts", codemirror_mode: "typescript", pygments_lexer: "typescript" });
    }
  });

  it("publishes a cell's outputs in order between busy and idle, with its execution count", async () => {
    const h = harness();
    const code = 'console.log("a"); display({"text/html": "<b>x</b>"}, "d1"); updateDisplay("d1", {"text/plain": "y"}); clearOutput(true); console.error("e"); 6*7';
    const { msg, done } = h.request("execute_request", execute(code));
    await done;
    expect(h.trace(msg)).toEqual([
      "iopub:status:busy", "iopub:execute_input", "iopub:stream", "iopub:display_data", "iopub:update_display_data",
      "iopub:clear_output", "iopub:stream", "iopub:execute_result", "shell:execute_reply", "iopub:status:idle",
    ]);
    expect(h.of(msg, "execute_input")[0]!.content).toEqual({ code, execution_count: 1 });
    expect(h.of(msg, "stream").map((m) => m.content)).toEqual([{ name: "stdout", text: "a\n" }, { name: "stderr", text: "e\n" }]);
    expect(h.of(msg, "display_data")[0]!.content).toEqual({ data: { "text/html": "<b>x</b>" }, metadata: {}, transient: { display_id: "d1" } });
    expect(h.of(msg, "update_display_data")[0]!.content.transient).toEqual({ display_id: "d1" });
    expect(h.of(msg, "clear_output")[0]!.content).toEqual({ wait: true });
    expect(h.of(msg, "execute_result")[0]!.content).toEqual({ execution_count: 1, data: { "text/plain": "42" }, metadata: {} });
    expect(h.of(msg, "execute_reply")[0]!.content).toMatchObject({ status: "ok", execution_count: 1, payload: [], user_expressions: {} });
    // The reply goes back to the requester's identity.
    expect(h.of(msg, "execute_reply")[0]!.identities.map(String)).toEqual(["client"]);
  });

  it("batches stream text into few messages, in order with other outputs, before the reply", async () => {
    const h = harness();
    const code = 'for (let i = 0; i < 20000; i++) console.log(String(i)); display({"text/plain": "d"}); console.log("after"); console.error("err"); console.log("last")';
    const { msg, done } = h.request("execute_request", execute(code));
    await done;
    const streams = h.of(msg, "stream").map((m) => m.content as { name: string; text: string });
    expect(streams.length).toBeLessThan(10);
    const lines = Array.from({ length: 20000 }, (_, i) => `${i}\n`).join("");
    expect(streams.slice(0, -3).map((s) => s.text).join("")).toBe(lines);
    expect(streams.slice(-3)).toEqual([{ name: "stdout", text: "after\n" }, { name: "stderr", text: "err\n" }, { name: "stdout", text: "last\n" }]);
    // The loop's text, then the display, then the three last streams, then the reply.
    expect(h.trace(msg).slice(-7)).toEqual(["iopub:stream", "iopub:display_data", "iopub:stream", "iopub:stream", "iopub:stream", "shell:execute_reply", "iopub:status:idle"]);
  });

  it("awaited results are published before idle; silent and store_history=false keep the count", async () => {
    const h = harness();
    const a = h.request("execute_request", execute("await sleep(20)\n5"));
    const b = h.request("execute_request", execute("console.log('quiet'); 1", { silent: true }));
    const c = h.request("execute_request", execute("2", { store_history: false }));
    const d = h.request("execute_request", execute("3"));
    await Promise.all([a.done, b.done, c.done, d.done]);
    expect(h.trace(a.msg).slice(-3)).toEqual(["iopub:execute_result", "shell:execute_reply", "iopub:status:idle"]);
    expect(h.trace(b.msg)).toEqual(["iopub:status:busy", "shell:execute_reply", "iopub:status:idle"]);
    expect(h.of(b.msg, "execute_reply")[0]!.content.execution_count).toBe(1);
    expect(h.of(c.msg, "execute_result")[0]!.content.execution_count).toBe(1);
    expect(h.of(d.msg, "execute_result")[0]!.content.execution_count).toBe(2);
    // Shell requests ran one at a time: a's idle precedes b's busy.
    const idx = (m: typeof a.msg, state: string) => h.sent.findIndex((s) => s.msg.header.msg_type === "status" && s.msg.content.execution_state === state && (s.msg.parent_header as { msg_id: string }).msg_id === m.header.msg_id);
    expect(idx(a.msg, "idle")).toBeLessThan(idx(b.msg, "busy"));
  });

  it("an error aborts the cells queued before it only when stop_on_error is true", async () => {
    const h = harness();
    const bad = h.request("execute_request", execute("await sleep(10)\nnull.x"));
    const queued = h.request("execute_request", execute("globalThis.ran = 1; 1"));
    await Promise.all([bad.done, queued.done]);
    expect(h.of(bad.msg, "error")[0]!.content.ename).toBe("TypeError");
    expect(h.of(bad.msg, "execute_reply")[0]!.content).toMatchObject({ status: "error", ename: "TypeError", execution_count: 1 });
    expect(h.of(queued.msg, "execute_reply")[0]!.content.status).toBe("aborted");
    expect(h.trace(queued.msg)).toEqual(["iopub:status:busy", "shell:execute_reply", "iopub:status:idle"]);
    // A cell sent after the error was handled runs; the aborted one never did.
    const after = h.request("execute_request", execute("typeof globalThis.ran"));
    await after.done;
    expect(h.of(after.msg, "execute_result")[0]!.content.data).toEqual({ "text/plain": "'undefined'" });

    const bad2 = h.request("execute_request", execute("await sleep(10)\nnull.x", { stop_on_error: false }));
    const runs = h.request("execute_request", execute("7"));
    await Promise.all([bad2.done, runs.done]);
    expect(h.of(runs.msg, "execute_reply")[0]!.content.status).toBe("ok");
  });

  it("a failing silent request aborts nothing, as in ipykernel", async () => {
    const h = harness();
    const bad = h.request("execute_request", execute("await sleep(10)\nnull.x", { silent: true }));
    const queued = h.request("execute_request", execute("8"));
    await Promise.all([bad.done, queued.done]);
    expect(h.of(bad.msg, "execute_reply")[0]!.content.status).toBe("error");
    expect(h.of(bad.msg, "error")).toEqual([]);
    expect(h.of(queued.msg, "execute_reply")[0]!.content.status).toBe("ok");
  });

  it("a result JSON cannot carry fails its cell with the reason; the next cell runs", async () => {
    const h = harness({ serialize: true });
    const bad = h.request("execute_request", execute("({ [Symbol.for('x')]: 1, toString() { return 'x'; } }); display({ 'application/json': { n: 1n } })"));
    await bad.done;
    const reply = h.of(bad.msg, "execute_reply")[0]!.content;
    expect(reply).toMatchObject({ status: "error", ename: "TypeError" });
    expect(String(reply.evalue)).toContain('content.data["application/json"].n is a BigInt (1n)');
    expect(h.trace(bad.msg).slice(-3)).toEqual(["iopub:error", "shell:execute_reply", "iopub:status:idle"]);
    const next = h.request("execute_request", execute("2"));
    await next.done;
    expect(h.of(next.msg, "execute_reply")[0]!.content.status).toBe("ok");
  });

  it("debug_request is answered: no debugger, as a failed Debug Adapter Protocol response", async () => {
    const h = harness();
    const { msg, done } = h.request("debug_request", { type: "request", seq: 7, command: "debugInfo", arguments: {} }, "control");
    await done;
    expect(h.trace(msg)).toEqual(["iopub:status:busy", "control:debug_reply", "iopub:status:idle"]);
    expect(h.of(msg, "debug_reply")[0]!.content).toMatchObject({ type: "response", request_seq: 7, success: false, command: "debugInfo", status: "error" });
  });

  it("a cell that exits the process gets its reply (ask_exit) and idle before the exit", async () => {
    const h = harness();
    const { msg, done } = h.request("execute_request", execute("console.log('before')\nawait sleep(1e6)"));
    for (let i = 0; i < 100 && h.of(msg, "stream").length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    h.kernel.exiting(3);
    expect(h.trace(msg)).toEqual(["iopub:status:busy", "iopub:execute_input", "iopub:stream", "iopub:stream", "shell:execute_reply", "iopub:status:idle"]);
    expect(h.of(msg, "stream")[1]!.content).toEqual({ name: "stderr", text: "process.exit(3): the kernel exits with status 3; a Jupyter front end restarts it\n" });
    expect(h.of(msg, "execute_reply")[0]!.content).toMatchObject({ status: "ok", execution_count: 1, payload: [{ source: "ask_exit", keepkernel: false }] });
    h.kernel.interrupt(h.engine);
    await done;
  });

  it("evaluates user_expressions after the cell, with errors per expression", async () => {
    const h = harness();
    const { msg, done } = h.request("execute_request", execute("globalThis.k = 3", { user_expressions: { a: "k * 2", b: "nope.x" } }));
    await done;
    const ue = h.of(msg, "execute_reply")[0]!.content.user_expressions as Record<string, Record<string, unknown>>;
    expect(ue.a).toEqual({ status: "ok", data: { "text/plain": "6" }, metadata: {} });
    expect(ue.b).toMatchObject({ status: "error", ename: "ReferenceError" });
  });

  it("input() asks on stdin and resumes with the reply; without allow_stdin it fails", async () => {
    const h = harness();
    const { msg, done } = h.request("execute_request", execute('const name = await input("who? ")\n"hi " + name', { allow_stdin: true }));
    for (let i = 0; i < 50 && !h.sent.some((s) => s.channel === "stdin"); i++) await new Promise((r) => setTimeout(r, 5));
    const req = h.sent.find((s) => s.channel === "stdin")!.msg;
    expect(req.header.msg_type).toBe("input_request");
    expect(req.content).toEqual({ prompt: "who? ", password: false });
    expect(req.identities.map(String)).toEqual(["client"]);
    const reply = { ...req, header: { ...req.header, msg_type: "input_reply", msg_id: "r1" }, parent_header: req.header, content: { value: "ada" } };
    h.kernel.receiveStdin(reply);
    await done;
    expect(h.of(msg, "execute_result")[0]!.content.data).toEqual({ "text/plain": "'hi ada'" });

    const no = h.request("execute_request", execute('await input("x")'));
    await no.done;
    expect(String(h.of(no.msg, "execute_reply")[0]!.content.evalue)).toMatch(/allow_stdin/);
  });

  it("interrupting a pending await keeps state and answers the cell with an error", async () => {
    const h = harness();
    await h.request("execute_request", execute("globalThis.kept = 41")).done;
    const hang = h.request("execute_request", execute("await new Promise(() => {})"));
    await new Promise((r) => setTimeout(r, 20));
    h.kernel.interrupt(h.engine);
    await hang.done;
    expect(h.of(hang.msg, "execute_reply")[0]!.content).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
    const after = h.request("execute_request", execute("kept + 1"));
    await after.done;
    expect(h.of(after.msg, "execute_result")[0]!.content.data).toEqual({ "text/plain": "42" });
  });

  it("reports stray errors on the running cell's stderr, or the next cell's", async () => {
    const h = harness();
    h.kernel.reportStray("Uncaught Error: later\n");
    const a = h.request("execute_request", execute("1"));
    await a.done;
    expect(h.of(a.msg, "stream")[0]!.content).toEqual({ name: "stderr", text: "Uncaught Error: later\n" });
    const b = h.request("execute_request", execute("await sleep(30)\n2"));
    await new Promise((r) => setTimeout(r, 10));
    h.kernel.reportStray("Unhandled rejection: boom\n");
    await b.done;
    expect(h.of(b.msg, "stream")[0]!.content.text).toBe("Unhandled rejection: boom\n");
  });

  it("keeps history across restarts: tail, range and search (unique, n)", async () => {
    const h = harness();
    for (const code of ["1+1", "2+2", "1+1"]) await h.request("execute_request", execute(code)).done;
    await h.request("execute_request", execute("1+1", { store_history: false })).done;
    const h2 = harness({ historyFile: h.historyFile }); // a restarted kernel: new session
    await h2.request("execute_request", execute("3+3")).done;
    const ask = async (content: Record<string, unknown>) => {
      const { msg, done } = h2.request("history_request", { output: false, raw: true, ...content });
      await done;
      return h2.of(msg, "history_reply")[0]!.content.history as unknown[];
    };
    expect(await ask({ hist_access_type: "tail", n: 2 })).toEqual([[1, 3, "1+1"], [2, 1, "3+3"]]);
    expect(await ask({ hist_access_type: "range", session: 1, start: 2, stop: 3 })).toEqual([[1, 2, "2+2"]]);
    expect(await ask({ hist_access_type: "range", session: 0, start: 1 })).toEqual([[2, 1, "3+3"]]);
    expect(await ask({ hist_access_type: "search", pattern: "1+*" })).toEqual([[1, 1, "1+1"], [1, 3, "1+1"]]);
    expect(await ask({ hist_access_type: "search", pattern: "?+?", unique: true })).toEqual([[1, 2, "2+2"], [1, 3, "1+1"], [2, 1, "3+3"]]);
    expect(await ask({ hist_access_type: "search", pattern: "*", n: 1 })).toEqual([[2, 1, "3+3"]]);
    expect(await ask({ hist_access_type: "tail", n: 1, output: true })).toEqual([[2, 1, ["3+3", "6"]]]);
    expect(readFileSync(h.historyFile, "utf8").trim().split("\n")).toHaveLength(4);
  });

  it("routes comms both ways through targets registered by cell code", async () => {
    const h = harness();
    await h.request("execute_request", execute('comms.registerTarget("echo", (comm, open) => { comm.send({ opened: open.data.x }); comm.onMsg((m) => comm.send({ got: m.data.v })); comm.onClose(() => console.log("closed")); }); 0')).done;
    const open = h.request("comm_open", { comm_id: "c1", target_name: "echo", data: { x: 1 } });
    await open.done;
    expect(h.of(open.msg, "comm_msg")[0]!.content).toEqual({ comm_id: "c1", data: { opened: 1 } });
    const info = h.request("comm_info_request", { target_name: "echo" });
    await info.done;
    expect(h.of(info.msg, "comm_info_reply")[0]!.content).toEqual({ status: "ok", comms: { c1: { target_name: "echo" } } });
    const m = h.request("comm_msg", { comm_id: "c1", data: { v: "ping" } });
    await m.done;
    expect(h.of(m.msg, "comm_msg")[0]!.content).toEqual({ comm_id: "c1", data: { got: "ping" } });
    await h.request("comm_close", { comm_id: "c1", data: {} }).done;
    const after = h.request("comm_info_request", {});
    await after.done;
    expect(h.of(after.msg, "comm_info_reply")[0]!.content.comms).toEqual({});
    // Unknown target: the kernel closes the comm and says why.
    const unknown = h.request("comm_open", { comm_id: "c2", target_name: "nope", data: {} });
    await unknown.done;
    expect(h.of(unknown.msg, "comm_close")[0]!.content.comm_id).toBe("c2");
    // Kernel-opened comm from a cell.
    const k = h.request("execute_request", execute('const c = comms.open("front", { a: 1 }); c.send({ b: 2 }); c.close(); 0'));
    await k.done;
    expect(h.trace(k.msg).filter((t) => t.startsWith("iopub:comm"))).toEqual(["iopub:comm_open", "iopub:comm_msg", "iopub:comm_close"]);
    expect(h.of(k.msg, "comm_open")[0]!.content).toMatchObject({ target_name: "front", data: { a: 1 } });
  });

  it("passes complete, inspect and is_complete through to the engine", async () => {
    const h = harness();
    await h.request("execute_request", execute("globalThis.alpha1 = 1; globalThis.alpha2 = 2")).done;
    const c = h.request("complete_request", { code: "x = alph", cursor_pos: 8 });
    const i = h.request("inspect_request", { code: "alpha1", cursor_pos: 6, detail_level: 0 });
    const ic = h.request("is_complete_request", { code: "function f() {" });
    await Promise.all([c.done, i.done, ic.done]);
    expect(h.of(c.msg, "complete_reply")[0]!.content).toEqual({ status: "ok", matches: ["alpha1", "alpha2"], cursor_start: 4, cursor_end: 8, metadata: {} });
    expect(h.of(i.msg, "inspect_reply")[0]!.content).toMatchObject({ status: "ok", found: true, data: { "text/plain": "alpha1: number" } });
    expect(h.of(ic.msg, "is_complete_reply")[0]!.content).toEqual({ status: "incomplete", indent: "  " });
  });

  it("answers malformed requests with an error reply and keeps serving; shutdown reports restart", async () => {
    const h = harness();
    const bad = h.request("execute_request", { silent: false });
    await bad.done;
    expect(h.of(bad.msg, "execute_reply")[0]!.content).toMatchObject({ status: "error", ename: "ProtocolError" });
    expect(String(h.of(bad.msg, "execute_reply")[0]!.content.evalue)).toMatch(/content\.code must be a string/);
    const hist = h.request("history_request", { hist_access_type: "sideways" });
    await hist.done;
    expect(h.of(hist.msg, "history_reply")[0]!.content.status).toBe("error");
    const unknown = h.request("frobnicate_request", {});
    await unknown.done;
    expect(h.logs.some((l) => l.includes("frobnicate_request"))).toBe(true);
    const ok = h.request("execute_request", execute("1"));
    await ok.done;
    expect(h.of(ok.msg, "execute_reply")[0]!.content.status).toBe("ok");
    const sd = h.request("shutdown_request", { restart: true }, "control");
    await sd.done;
    expect(h.of(sd.msg, "shutdown_reply").map((m) => m.content)).toEqual([{ status: "ok", restart: true }, { status: "ok", restart: true }]);
    expect(h.shutdowns).toEqual([true]);
  });
});
