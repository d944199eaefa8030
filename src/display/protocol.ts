// The display protocol shared by the library and the kernel.
//
// Any object with a `[Symbol.for("Jupyter.display")]()` method returning a MIME bundle is
// shown richly by the kernel: the same symbol Deno's kernel uses, so objects written for
// Deno render here too. Tensors, graphs, figures and progress bars implement it.
//
// Library code that updates output in place (live plots, progress bars) talks to the
// kernel through a DisplayHost that the kernel installs; in plain Node no host is
// installed and those objects fall back to text on stdout.
//
// Interrupts: the kernel stops a cell with vm's breakOnSigint, which terminates JavaScript
// without running catch or finally blocks, possibly inside library code. Each copy of the
// library loaded in the process registers a hook with `onQuiesce`; the kernel calls
// `quiesce()` after every interrupted cell, before it reports the cell done, and the hooks
// stop background work (thread pools) and restore what the skipped finally blocks would
// have restored. The hooks live on globalThis under Symbol.for("tensorbook.quiesce"), a Set
// of functions, so copies of the library and the kernel agree without importing each other.

/** A MIME bundle: mime type -> data (string for text types, JSON value for +json types). */
export type MimeBundle = { [mime: string]: unknown };

/** Optional per-mime metadata, e.g. `{ "image/png": { width: 200 } }`. */
export type MimeMetadata = { [key: string]: unknown };

/** The well-known symbol of the display protocol (shared with Deno's Jupyter kernel). */
export const displaySymbol: unique symbol = Symbol.for("Jupyter.display") as never;

/** An object that knows how to show itself. */
export interface Displayable {
  [displaySymbol](): MimeBundle | Promise<MimeBundle>;
}

export function isDisplayable(value: unknown): value is Displayable {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { [displaySymbol]?: unknown })[displaySymbol] === "function"
  );
}

/** What a front end needs to show or update one output. */
export interface DisplayOptions {
  /** Display id: later `update` calls with the same id replace this output in place. */
  id?: string;
  metadata?: MimeMetadata;
}

/**
 * The kernel side of display. The kernel installs one with `installDisplayHost`; it routes
 * output to the cell that is running (display_data, update_display_data, clear_output).
 */
export interface DisplayHost {
  display(bundle: MimeBundle, options?: DisplayOptions): void;
  update(id: string, bundle: MimeBundle, options?: { metadata?: MimeMetadata }): void;
  clear(options?: { wait?: boolean }): void;
  /** Runs `fn` once before the running cell reports idle: throttled live outputs use it to
   *  draw their final state inside the cell that produced it. */
  beforeIdle?(fn: () => void): void;
}

const hostKey = Symbol.for("tensorbook.displayHost");
type HostSlot = { [hostKey]?: DisplayHost };

/**
 * Installs the kernel's display host. It is kept on globalThis under a registered symbol so
 * that every copy of the library loaded in the process (a notebook's own node_modules and
 * the kernel's) reaches the same kernel.
 */
export function installDisplayHost(host: DisplayHost | undefined): void {
  (globalThis as HostSlot)[hostKey] = host;
}

/** The installed display host, or undefined in plain Node. */
export function displayHost(): DisplayHost | undefined {
  return (globalThis as HostSlot)[hostKey];
}

const quiesceKey = Symbol.for("tensorbook.quiesce");
type QuiesceSlot = { [quiesceKey]?: Set<() => void> };

/**
 * Library side: registers `hook` to run after an interrupted cell (see the header). A hook
 * must be idempotent, must not assume it runs in any particular async context, and runs
 * with no library code on the stack.
 */
export function onQuiesce(hook: () => void): void {
  ((globalThis as QuiesceSlot)[quiesceKey] ??= new Set()).add(hook);
}

/**
 * Kernel side: runs every registered hook, each even if another throws; returns the errors
 * thrown (empty when all went well), for the kernel to report on the interrupted cell.
 */
export function quiesce(): unknown[] {
  const errors: unknown[] = [];
  for (const hook of (globalThis as QuiesceSlot)[quiesceKey] ?? []) {
    try {
      hook();
    } catch (e) {
      errors.push(e);
    }
  }
  return errors;
}
