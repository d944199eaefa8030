// What a running cell can emit, and where it goes: the globals of the cell API (display,
// updateDisplay, clearOutput, input, help; types in ambient.ts), the `tslab` compatibility
// module, the display host of the library's display protocol, and the routing of
// process.stdout/stderr writes (console.* included) to the CellIO of the cell.
//
// Routing rule: output made by cell code (anything running in the AsyncLocalStorage
// context entered when a cell starts: its timers, promise callbacks and event handlers
// included) goes to the cell that made it, at once, even after that cell's reply: as
// ipykernel sends a background thread's output with the parent of the cell that started
// it, so a front end shows it under that cell. Display calls with no cell context (a comm
// handler's) go to the running cell, or are held for the next one. Stream writes of the
// kernel's own code (no cell context) go to the process's real stdout/stderr.
//
// A display the kernel cannot send (a bundle JSON cannot carry) throws in the display call
// when a cell runs; held for the next cell, or made by a promise, its error goes to that
// cell's stderr instead, since no code is left to catch it.

import { AsyncLocalStorage } from "node:async_hooks";
import { Console } from "node:console";
import * as util from "node:util";
import ts from "typescript";
import { comms } from "../comm.js";
import type { CellIO } from "../engine.js";
import { displaySymbol, installDisplayHost, isDisplayable } from "../../src/display/protocol.js";
import type { MimeBundle, MimeMetadata } from "../../src/display/protocol.js";

type Send = (io: CellIO) => void;

/** Outputs of no cell held for the next cell while none runs (the oldest are dropped beyond this). */
const MAX_HELD = 10_000;

/** The store of a cell's async context. It shows in util.inspect of promises made there
 *  (Node prints kResourceStore), so it prints as one word that inspectText removes. */
export class CellContext {
  constructor(readonly io: CellIO) {}
  [util.inspect.custom](): string {
    return "cell";
  }
}

class OutputRouter {
  /** The cell whose code runs now (set for the whole of its async context). */
  readonly context = new AsyncLocalStorage<CellContext>();
  private current: CellIO | undefined;
  private held: Send[] = [];
  /** Async display bundles of the running cell, settled before the cell reports done. */
  private pending: Promise<unknown>[] = [];
  private installed = false;

  begin(io: CellIO): void {
    this.current = io;
    const held = this.held;
    this.held = [];
    for (const send of held) {
      try {
        this.send(send);
      } catch (e) {
        io.stderr(`an output held for this cell could not be sent: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  }

  end(): void {
    this.current = undefined;
  }

  running(): boolean {
    return this.current !== undefined;
  }

  send(fn: Send): void {
    const target = this.context.getStore()?.io ?? this.current;
    if (!target) {
      // Bounded: a timer printing forever while no cell runs must not fill the memory.
      if (this.held.length >= MAX_HELD) this.held.shift();
      this.held.push(fn);
      return;
    }
    const outer = this.delivering;
    this.delivering = true;
    try {
      fn(target);
    } finally {
      this.delivering = outer;
    }
  }
  private delivering = false;

  track(p: Promise<unknown>): void {
    this.pending.push(p);
  }

  async settle(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await Promise.allSettled(batch);
    }
  }

  input(prompt: string, password: boolean): Promise<string> {
    if (!this.current) return Promise.reject(new Error("input(): no cell is running, so there is no front end to ask"));
    return this.current.input(prompt, password);
  }

  /** Patches process.stdout/stderr and the global console once per process. */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    for (const kind of ["stdout", "stderr"] as const) {
      const stream = process[kind];
      const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      const routed = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
        // Kernel code, and a CellIO that itself logs while delivering (no recursion).
        if (this.context.getStore() === undefined || this.delivering) return original(chunk, encoding, cb);
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
        this.send((io) => io[kind](text));
        const done = typeof encoding === "function" ? encoding : cb;
        if (typeof done === "function") process.nextTick(done as () => void);
        return true;
      };
      stream.write = routed as typeof stream.write;
    }
    // A console of our own: no ANSI colors in notebook output, and test runners' console
    // replacements do not swallow cell output.
    globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr, colorMode: false });
  }
}

export const router = new OutputRouter();

/** util.inspect as the kernel shows values: no colors, a readable depth. */
export function inspectText(value: unknown): string {
  const text = util.inspect(value, { colors: false, depth: 4, maxArrayLength: 100, breakLength: 100 });
  if (!(value instanceof Promise)) return text;
  // Promises made while async hooks are on (AsyncLocalStorage) carry bookkeeping symbols.
  const clean = text.replace(/,?\s*\[Symbol\((async_id_symbol|trigger_async_id_symbol|kResourceStore)\)\]: [^,\n}]*/g, "");
  return clean.replace(/^Promise \{\s*([^\n]*?)\s*\}$/, "Promise { $1 }");
}

/** The MIME bundle of a value: its display protocol bundle (+ text/plain), else text. */
export function bundleOf(value: unknown): MimeBundle | Promise<MimeBundle> {
  if (!isDisplayable(value)) return { "text/plain": inspectText(value) };
  const withText = (b: MimeBundle): MimeBundle => ("text/plain" in b ? b : { "text/plain": inspectText(value), ...b });
  const b = value[displaySymbol]();
  return b instanceof Promise ? b.then(withText) : withText(b);
}

function base64(data: Uint8Array | string): string {
  return typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

interface DisplayOpts {
  id?: string;
  metadata?: MimeMetadata;
}

function show(bundle: MimeBundle | Promise<MimeBundle>, opts: DisplayOpts | undefined, update = false): void {
  const emit = (b: MimeBundle) =>
    router.send((io) => (update && opts?.id ? io.updateDisplay(opts.id, b, opts.metadata) : io.display(b, opts?.metadata, opts?.id)));
  if (bundle instanceof Promise) {
    const failed = (e: unknown) => router.send((io) => io.stderr(`display: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`));
    router.track(bundle.then(emit).catch(failed));
  } else emit(bundle);
}

type DisplayFn = ((value: unknown, opts?: DisplayOpts) => void) & Record<string, (v: never, opts?: DisplayOpts) => void>;

function makeDisplay(): DisplayFn {
  const display = ((value: unknown, opts?: DisplayOpts) => show(bundleOf(value), opts)) as DisplayFn;
  const mime = (type: string, encode: (v: never) => unknown = (v) => v) => (v: never, opts?: DisplayOpts) => show({ [type]: encode(v) }, opts);
  Object.assign(display, {
    html: mime("text/html"),
    markdown: mime("text/markdown"),
    svg: mime("image/svg+xml"),
    png: mime("image/png", base64),
    jpeg: mime("image/jpeg", base64),
    json: mime("application/json"),
    text: mime("text/plain"),
    latex: mime("text/latex"),
  });
  return display;
}

let displayCounter = 0;

/** The `tslab` module for cells: tslab's display API mapped onto this kernel's. */
export function tslabModule(): Record<string, unknown> {
  const displayFor = (emit: (b: MimeBundle) => void) => ({
    javascript: (s: string) => emit({ "application/javascript": s }),
    html: (s: string) => emit({ "text/html": s }),
    markdown: (s: string) => emit({ "text/markdown": s }),
    latex: (s: string) => emit({ "text/latex": s }),
    svg: (s: string) => emit({ "image/svg+xml": s }),
    png: (b: Uint8Array) => emit({ "image/png": base64(b) }),
    jpeg: (b: Uint8Array) => emit({ "image/jpeg": base64(b) }),
    gif: (b: Uint8Array) => emit({ "image/gif": base64(b) }),
    pdf: (b: Uint8Array) => emit({ "application/pdf": base64(b) }),
    text: (s: string) => emit({ "text/plain": s }),
    raw: (type: string, b: string | Uint8Array) => emit({ [type]: base64(b) }),
  });
  const newDisplay = () => {
    const id = `tslab-${process.pid}-${++displayCounter}`;
    let shown = false;
    return displayFor((b) => {
      show(b, { id }, shown);
      shown = true;
    });
  };
  const mod: Record<string, unknown> = {
    display: displayFor((b) => show(b, undefined)),
    newDisplay,
    versions: { tslab: "tensorbook", typescript: ts.version, node: process.version },
    isNode: () => true,
    isBrowser: () => false,
  };
  mod.default = { ...mod };
  return mod;
}

let globalsInstalled = false;

/** Flushes registered by library objects (throttled live plots) for the running cell. */
const beforeIdle: (() => void)[] = [];

/** Runs and clears the flushes registered through the display host's beforeIdle. */
export function runBeforeIdle(): void {
  for (const fn of beforeIdle.splice(0)) {
    try {
      fn();
    } catch (e) {
      router.send((io) => io.stderr(`error while flushing a live output: ${e instanceof Error ? e.message : String(e)}\n`));
    }
  }
}

/** Defines the cell API globals and the display host (once per process). */
export function installCellGlobals(): void {
  router.install();
  installDisplayHost({
    display: (bundle, options) => show(bundle, options),
    update: (id, bundle, options) => show(bundle, { id, metadata: options?.metadata }, true),
    clear: (options) => router.send((io) => io.clearOutput(options?.wait ?? false)),
    beforeIdle: (fn) => beforeIdle.push(fn),
  });
  if (globalsInstalled) return;
  globalsInstalled = true;
  const input = Object.assign((prompt = "") => router.input(String(prompt), false), {
    password: (prompt = "") => router.input(String(prompt), true),
  });
  const api: Record<string, unknown> = {
    comms,
    display: makeDisplay(),
    updateDisplay: (id: string, value: unknown, opts?: { metadata?: MimeMetadata }) =>
      show(bundleOf(value), { id, metadata: opts?.metadata }, true),
    clearOutput: (opts?: { wait?: boolean }) => router.send((io) => io.clearOutput(opts?.wait ?? false)),
    input,
    // help(x) inside a larger cell: no static type at run time, so show what the value is.
    help: (value: unknown) => show({ "text/plain": `${typeof value}: ${inspectText(value)}` }, undefined),
  };
  for (const [name, value] of Object.entries(api)) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }
}
