// The display protocol shared by the library and the kernel.
//
// Any object with a `[Symbol.for("Jupyter.display")]()` method returning a MIME bundle is
// shown richly by the kernel: the same symbol Deno's kernel uses, so objects written for
// Deno render here too. Tensors, graphs, figures and progress bars implement it.
//
// Library code that updates output in place (live plots, progress bars) talks to the
// kernel through a DisplayHost that the kernel installs; in plain Node no host is
// installed and those objects fall back to text on stdout.

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
