// The TypeScript engine of the kernel: the language side of kernel/engine.ts.
//
// execute(): help forms answer with a page; otherwise the cell is type-checked against
// earlier cells (checker.ts), emitted through the cell transformers (transform.ts), and run
// as a script in this process's global context (vm.runInThisContext, breakOnSigint) with
// the cell's CellIO receiving its output (cellapi.ts). The last expression's value becomes
// the execute result (text/plain via util.inspect + the display protocol's bundle).
//
// Interrupt: a synchronous loop in the script's synchronous part stops through
// breakOnSigint (the protocol side raises SIGINT); a pending await is abandoned by
// interrupt(), which ends the cell with KeyboardInterrupt. Globals are never rolled back,
// so every variable is kept. breakOnSigint terminates the script without running its catch
// or finally blocks, possibly inside a library (tensorbook: in a kernel its worker threads
// still run, inside a trace or a tb.scope), so after an interrupted cell, before its reply,
// the engine calls the quiesce hooks of the display protocol (src/display/protocol.ts):
// each loaded copy of the library waits for its worker threads and restores its state.
// They run right after the interrupted script, in the async context it ran in, so that
// state the script left in that context (grad mode) is what they restore.
//
// Known limit: a synchronous loop reached after an await runs in a promise job outside the
// vm call, where neither breakOnSigint nor a SIGINT listener can run. Stopping it with
// node:inspector's Runtime.terminateExecution from a helper worker works in plain Node, but
// with AsyncLocalStorage active (the output routing here, the library's grad mode) Node 20
// aborts on `InternalCallbackScope::Close: execution_async_id() == 0` after the
// termination, so it is not used; and a breakOnSigint watchdog kept in a worker replaces
// the main thread's SIGINT handler process-wide (the next SIGINT would kill the kernel).

import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as vm from "node:vm";
import ts from "typescript";
import type { CellIO, CompleteResult, Engine, ExecuteOutcome, InspectResult, IsCompleteResult, PagePayload } from "../engine.js";
import { quiesce } from "../../src/display/protocol.js";
import { bundleOf, CellContext, installCellGlobals, router, runBeforeIdle, tslabModule } from "./cellapi.js";
import { CellChecker, Prepared, type CellDiagnostic } from "./checker.js";
import { ModuleLoader } from "./modules.js";
import { cpToUtf16, helpRequest, isComplete, utf16ToCp } from "./syntax.js";
import { CellMaps, type ErrorOutcome } from "./traceback.js";
import { cellTransformers, RT } from "./transform.js";

export interface TypeScriptEngineOptions {
  /** The notebook's folder: npm packages and relative imports resolve from here. */
  cwd: string;
}

class Interrupted extends Error {
  constructor() {
    super("Interrupted");
    this.name = "KeyboardInterrupt";
  }
}

function interruptedOutcome(): ErrorOutcome {
  return { status: "error", ename: "KeyboardInterrupt", evalue: "Interrupted", traceback: ["KeyboardInterrupt: Interrupted"] };
}

/** After an interrupted cell: runs the libraries' quiesce hooks; what they throw is added
 *  to the cell's traceback (the libraries' state may then be inconsistent: say so). */
function quiescedOutcome(): ErrorOutcome {
  const outcome = interruptedOutcome();
  for (const e of quiesce()) {
    const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    outcome.traceback.push(`recovering from the interrupt failed (restart the kernel if results look wrong): ${text}`);
  }
  return outcome;
}

function typeErrorOutcome(diags: CellDiagnostic[], name: string): ErrorOutcome {
  const lines = diags.map((d) => `${name}:${d.line}:${d.col}: ${d.message}${d.code ? ` (TS${d.code})` : ""}`);
  return { status: "error", ename: "TSError", evalue: lines.join("\n"), traceback: lines };
}

const identChar = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}$_\u200c\u200d]/u;

class TypeScriptEngine implements Engine {
  private readonly checker: CellChecker;
  private readonly maps = new CellMaps();
  private abort: ((e: Error) => void) | undefined;
  private readonly names = new Map<string, number>();
  /** Between the start of execute() and the end of its cell. */
  private executing = false;
  /** interrupt() arrived before the cell's script started. */
  private interruptRequested = false;

  constructor(cwd: string) {
    this.checker = new CellChecker(cwd);
    const loader = new ModuleLoader(this.checker.cwd, tslabModule);
    const runtime = {
      imp: (spec: unknown) => loader.load(spec),
      // `import.meta` of a cell: as if the notebook were a module in its folder.
      meta: {
        url: pathToFileURL(path.join(this.checker.cwd, "notebook.ts")).href,
        dirname: this.checker.cwd,
        filename: path.join(this.checker.cwd, "notebook.ts"),
        resolve: (spec: string) => loader.resolve(spec),
      },
    };
    Object.defineProperty(globalThis, RT, { value: runtime, writable: true, configurable: true, enumerable: false });
    installCellGlobals();
    // Load the compiler's world right after start-up, not in the first cell.
    setTimeout(() => {
      try {
        this.checker.warm();
      } catch {
        // the first cell reports whatever is wrong, with context
      }
    }, 0).unref();
  }

  async execute(code: string, io: CellIO, options: { executionCount: number; storeHistory: boolean }): Promise<ExecuteOutcome> {
    router.begin(io);
    this.executing = true;
    this.interruptRequested = false;
    try {
      const help = helpRequest(code);
      if (help) return { status: "ok", payload: [this.page(help.text, help.at, help.expr)] };
      // Script names must stay unique: silent runs repeat an execution count.
      const base = `cell[${options.executionCount}]`;
      const seen = (this.names.get(base) ?? 0) + 1;
      this.names.set(base, seen);
      const name = seen === 1 ? base : `${base}#${seen}`;
      const cell = new Prepared(code);
      const diags = this.checker.check(cell);
      if (diags.length > 0) return typeErrorOutcome(diags, name);
      const { js, map, commit } = this.checker.emit(cell, cellTransformers());
      this.maps.add(name, map, (l, c) => cell.checkToCell(l, c));
      // A SIGINT that came while the cell was being checked waits in the event loop; vm's
      // breakOnSigint would drop it (it detaches SIGINT listeners while the script runs), so
      // let it be delivered first: an interrupt now stops the cell before it starts. libuv
      // reads its signal pipe in the poll phase, and a request is handled in a poll phase
      // whose check phase (where a first setImmediate runs) comes before the next poll: only
      // the second setImmediate follows a poll. (With one, a SIGINT sent 5 ms after
      // execute_input in signal mode was lost every time and the cell ran on.)
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      if (this.interruptRequested) return interruptedOutcome();
      commit();
      return await this.run(js, name, io);
    } catch (e) {
      return this.maps.outcome(e);
    } finally {
      this.executing = false;
      router.end();
    }
  }

  /** Runs an emitted cell script; resolves with its outcome once its output is out. */
  private async run(js: string, name: string, io: CellIO): Promise<ExecuteOutcome> {
    const interrupted = new Promise<never>((_, reject) => (this.abort = reject));
    interrupted.catch(() => undefined);
    let done: Promise<[unknown] | undefined> | undefined;
    try {
      try {
        done = router.context.run(new CellContext(io), () =>
          new vm.Script(js, { filename: name }).runInThisContext({ breakOnSigint: true, displayErrors: false }),
        ) as Promise<[unknown] | undefined>;
      } catch (e) {
        if ((e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") return quiescedOutcome();
        throw e;
      }
      const r = await Promise.race([done, interrupted]);
      runBeforeIdle();
      await router.settle();
      const value = r?.[0];
      if (value === undefined) return { status: "ok", payload: [] };
      return { status: "ok", result: { data: await bundleOf(value), metadata: {} }, payload: [] };
    } catch (e) {
      runBeforeIdle(); // what a failed cell already drew still gets its final state
      if (e instanceof Interrupted) {
        // The abandoned cell may still fail later: that is part of its interruption.
        done?.catch(() => undefined);
        return quiescedOutcome();
      }
      return this.maps.outcome(e);
    } finally {
      this.abort = undefined;
    }
  }

  async evaluate(expressions: Record<string, string>): Promise<Record<string, ExecuteOutcome>> {
    const out: Record<string, ExecuteOutcome> = {};
    for (const [key, expr] of Object.entries(expressions)) {
      try {
        const js = ts.transpileModule(`(${expr}\n)`, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
        const value: unknown = vm.runInThisContext(js, { filename: `user_expressions[${key}]` });
        out[key] = { status: "ok", result: { data: await bundleOf(value), metadata: {} }, payload: [] };
      } catch (e) {
        out[key] = this.maps.outcome(e);
      }
    }
    return out;
  }

  complete(code: string, cursorPos: number): CompleteResult {
    const pos = cpToUtf16(code, cursorPos);
    let start = pos;
    while (start > 0 && identChar.test(code[start - 1])) start--;
    const prefix = code.slice(start, pos);
    const file = this.checker.probe(code);
    const info = this.checker.service.getCompletionsAtPosition(file, pos, { includeCompletionsWithInsertText: true });
    const entries = (info?.entries ?? []).filter((e) => !e.name.startsWith("__tb") && e.name.startsWith(prefix));
    entries.sort((a, b) => (a.sortText === b.sortText ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.sortText < b.sortText ? -1 : 1));
    const seen = new Set<string>();
    const unique = entries.filter((e) => !seen.has(e.name) && seen.add(e.name));
    const cs = utf16ToCp(code, start);
    const ce = utf16ToCp(code, pos);
    return {
      matches: unique.map((e) => e.name),
      cursor_start: cs,
      cursor_end: ce,
      metadata: { _jupyter_types_experimental: unique.map((e) => ({ text: e.name, type: e.kind, start: cs, end: ce })) },
    };
  }

  inspect(code: string, cursorPos: number, detailLevel: 0 | 1): InspectResult {
    let pos = cpToUtf16(code, cursorPos);
    // A cursor right after an identifier (Jupyter's shift-tab) means that identifier.
    if (pos > 0 && !identChar.test(code[pos] ?? "") && identChar.test(code[pos - 1])) pos--;
    const text = this.describe(code, pos, detailLevel);
    return text === undefined ? { found: false, data: {}, metadata: {} } : { found: true, data: { "text/plain": text }, metadata: {} };
  }

  /** Type and documentation of the symbol at `pos` of `text` (probe file), or undefined. */
  private describe(text: string, pos: number, detailLevel: 0 | 1): string | undefined {
    const file = this.checker.probe(text);
    const info = this.checker.service.getQuickInfoAtPosition(file, pos);
    // A name that resolves to nothing comes back as kind "" with the text "any".
    if (!info || info.kind === ts.ScriptElementKind.unknown) return undefined;
    // Names carried from earlier cells' imports are aliases of generated module names.
    let out = ts
      .displayPartsToString(info.displayParts)
      .split("\n")
      .filter((l) => !/^import \S+ = __tb[mn]\d+/.test(l))
      .map((l) => l.replace(/^\(alias\) /, ""))
      .join("\n");
    const doc = ts.displayPartsToString(info.documentation);
    if (doc) out += "\n\n" + doc;
    if (detailLevel === 1 || doc) {
      for (const tag of info.tags ?? []) out += `\n@${tag.name}${tag.text ? " " + ts.displayPartsToString(tag.text) : ""}`;
    }
    return out;
  }

  private page(text: string, at: number, expr: string): PagePayload {
    const found = this.describe(text, at, 1);
    return { source: "page", data: { "text/plain": found ?? `No type information for ${expr}` }, start: 0 };
  }

  isComplete(code: string): IsCompleteResult {
    return isComplete(code);
  }

  owner(): CellIO | undefined {
    return router.context.getStore()?.io;
  }

  interrupt(): void {
    if (this.abort) this.abort(new Interrupted());
    else if (this.executing) this.interruptRequested = true; // still compiling: see execute()
  }
}

/** The kernel's TypeScript engine for a notebook in folder `options.cwd`. */
export function createTypeScriptEngine(options: TypeScriptEngineOptions): Engine {
  return new TypeScriptEngine(options.cwd);
}
