// A small JavaScript engine behind the Engine contract, for protocol tests that must not
// depend on the TypeScript cell compiler. Cells are plain JavaScript run with node:vm in one
// persistent context. A cell containing `await` runs as an async function whose last line is
// returned (its declarations are then local: assign to globalThis to keep them).
// Cells see: console.log/error, display(bundle, id?), updateDisplay(id, bundle),
// clearOutput(wait), input(prompt), comms, help(x) / ?x (page payload), sleep(ms).
// The kernel process loads it (transpiled) through TENSORBOOK_ENGINE=<file url>.

import vm from "node:vm";
import type { CellIO, Engine, ExecuteOutcome, PagePayload } from "../../../kernel/engine.js";

type Comms = { registerTarget(name: string, handler: (comm: unknown, msg: unknown) => void): void };

class Interrupted extends Error {
  override name = "KeyboardInterrupt";
}

export function createTypeScriptEngine(options: { cwd: string; comms?: Comms }): Engine {
  let io: CellIO | undefined;
  let cancel: ((e: Error) => void) | undefined;
  const out = (text: string) => io?.stdout(text);
  const fmt = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ") + "\n";
  const comms = options.comms ?? (globalThis as { [k: symbol]: Comms })[Symbol.for("tensorbook.comms")];
  const sandbox = {
    console: { log: (...a: unknown[]) => out(fmt(a)), error: (...a: unknown[]) => io?.stderr(fmt(a)) },
    display: (bundle: Record<string, unknown>, id?: string) => io?.display(bundle, {}, id),
    updateDisplay: (id: string, bundle: Record<string, unknown>) => io?.updateDisplay(id, bundle, {}),
    clearOutput: (wait = false) => io?.clearOutput(wait),
    input: (prompt = "", password = false) => io!.input(prompt, password),
    sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
    setTimeout,
    clearTimeout,
    Promise,
    comms,
    cwd: options.cwd,
  };
  const context = vm.createContext(sandbox);

  function run(code: string): unknown {
    if (!/\bawait\b/.test(code)) return new vm.Script(code, { filename: "cell.js" }).runInContext(context, { breakOnSigint: true });
    const lines = code.trimEnd().split("\n");
    const last = lines.pop() ?? "";
    const body = `(async () => { ${lines.join("\n")}\n return (${last.replace(/;$/, "")}); })()`;
    return new vm.Script(body, { filename: "cell.js" }).runInContext(context, { breakOnSigint: true });
  }

  function toBundle(v: unknown): Record<string, unknown> {
    return { "text/plain": typeof v === "string" ? `'${v}'` : String(JSON.stringify(v) ?? String(v)) };
  }

  return {
    async execute(code: string, cellIO: CellIO): Promise<ExecuteOutcome> {
      io = cellIO;
      const page = /^\s*(?:\?\s*([\w.]+)|help\(([\w.]+)\))\s*$/.exec(code);
      if (page) {
        const name = page[1] ?? page[2]!;
        const value = vm.runInContext(name, context) as unknown;
        const payload: PagePayload = { source: "page", data: { "text/plain": `${name}: ${typeof value}` }, start: 0 };
        return { status: "ok", payload: [payload] };
      }
      try {
        let value = run(code);
        if (value instanceof Promise || (typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function")) {
          value = await new Promise((resolve, reject) => {
            cancel = reject;
            (value as Promise<unknown>).then(resolve, reject);
          });
        }
        if (value === undefined) return { status: "ok", payload: [] };
        return { status: "ok", result: { data: toBundle(value), metadata: {} }, payload: [] };
      } catch (e) {
        const err = e as Error;
        const name = err && /Script execution was interrupted/.test(err.message) ? "KeyboardInterrupt" : (err?.name ?? "Error");
        const message = err?.message ?? String(e);
        return { status: "error", ename: name, evalue: message, traceback: [`${name}: ${message}`] };
      } finally {
        cancel = undefined;
      }
    },
    async evaluate(expressions: Record<string, string>) {
      const out: Record<string, ExecuteOutcome> = {};
      for (const [k, expr] of Object.entries(expressions)) {
        try {
          out[k] = { status: "ok", result: { data: toBundle(vm.runInContext(expr, context)), metadata: {} }, payload: [] };
        } catch (e) {
          const err = e as Error;
          out[k] = { status: "error", ename: err.name, evalue: err.message, traceback: [] };
        }
      }
      return out;
    },
    complete(code: string, cursorPos: number) {
      const m = /[\w$]*$/.exec(code.slice(0, cursorPos))!;
      const names = Object.getOwnPropertyNames(context).filter((n) => n.startsWith(m[0]));
      return { matches: names.sort(), cursor_start: cursorPos - m[0].length, cursor_end: cursorPos, metadata: {} };
    },
    inspect(code: string, cursorPos: number) {
      const m = /[\w$]+$/.exec(code.slice(0, cursorPos));
      const name = m?.[0];
      if (!name || !(name in context)) return { found: false, data: {}, metadata: {} };
      return { found: true, data: { "text/plain": `${name}: ${typeof (context as Record<string, unknown>)[name]}` }, metadata: {} };
    },
    isComplete(code: string) {
      try {
        new vm.Script(code.includes("await") ? `(async () => {${code}\n})` : code);
        return { status: "complete" };
      } catch (e) {
        return /Unexpected end of input|Unterminated/.test((e as Error).message) ? { status: "incomplete", indent: "  " } : { status: "invalid" };
      }
    },
    interrupt() {
      cancel?.(new Interrupted("interrupted while awaiting"));
    },
  };
}
