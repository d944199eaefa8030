// Types of the globals every cell sees (display, updateDisplay, clearOutput, input, help, comms)
// and of the `tslab` compatibility module, as the text of a declaration file that the
// cell checker adds to its program. Kept as text (not a .d.ts in the project) so these
// globals do not leak into the type checking of the kernel's own sources. The runtime
// side is cellapi.ts; the two must agree.

export const AMBIENT_DTS = `
interface TensorbookDisplayOptions {
  /** Display id: later updateDisplay(id, ...) calls replace this output in place. */
  id?: string;
  /** Per-mime metadata, e.g. { "image/png": { width: 200 } }. */
  metadata?: { [key: string]: unknown };
}
/**
 * Shows a value as a rich output of this cell. Objects with a
 * [Symbol.for("Jupyter.display")]() method are shown through the MIME bundle it returns;
 * anything else as text (util.inspect).
 */
declare function display(value: unknown, options?: TensorbookDisplayOptions): void;
declare namespace display {
  /** Shows an HTML fragment (text/html). */
  function html(html: string, options?: TensorbookDisplayOptions): void;
  /** Shows Markdown (text/markdown). */
  function markdown(markdown: string, options?: TensorbookDisplayOptions): void;
  /** Shows an SVG document (image/svg+xml). */
  function svg(svg: string, options?: TensorbookDisplayOptions): void;
  /** Shows a PNG image given as bytes or base64 text (image/png). */
  function png(image: Uint8Array | string, options?: TensorbookDisplayOptions): void;
  /** Shows a JPEG image given as bytes or base64 text (image/jpeg). */
  function jpeg(image: Uint8Array | string, options?: TensorbookDisplayOptions): void;
  /** Shows a JSON value in the front end's JSON viewer (application/json). */
  function json(value: unknown, options?: TensorbookDisplayOptions): void;
  /** Shows plain text (text/plain). */
  function text(text: string, options?: TensorbookDisplayOptions): void;
  /** Shows LaTeX math (text/latex). */
  function latex(latex: string, options?: TensorbookDisplayOptions): void;
}
/** Replaces the output shown with display(value, { id }) (update_display_data). */
declare function updateDisplay(id: string, value: unknown, options?: { metadata?: { [key: string]: unknown } }): void;
/** Clears this cell's output; with { wait: true } only when the next output arrives. */
declare function clearOutput(options?: { wait?: boolean }): void;
/** Asks the user for a line of text through the front end (input_request). */
declare function input(prompt?: string): Promise<string>;
declare namespace input {
  /** Like input(), with the typed text hidden. */
  function password(prompt?: string): Promise<string>;
}
/** Shows the type and documentation of a value (alone in a cell: in the pager). */
declare function help(value: unknown): void;

/** A JSON value, as comm messages carry. */
type TensorbookJson = string | number | boolean | null | TensorbookJson[] | { [key: string]: TensorbookJson };
/** A message of a comm from the front end: comm_open, comm_msg or comm_close. */
interface TensorbookCommMessage {
  comm_id: string;
  data: { [key: string]: TensorbookJson };
  metadata: { [key: string]: TensorbookJson };
  buffers: Uint8Array[];
}
interface TensorbookCommSendOptions {
  metadata?: { [key: string]: unknown };
  buffers?: Uint8Array[];
}
/** One open comm (Jupyter's custom messages between this kernel and the front end). */
interface TensorbookComm {
  readonly id: string;
  readonly target: string;
  readonly closed: boolean;
  send(data: { [key: string]: unknown }, options?: TensorbookCommSendOptions): void;
  /** Called for every comm_msg the front end sends on this comm. */
  onMsg(callback: (msg: TensorbookCommMessage) => void): void;
  /** Called once when either side closes the comm. */
  onClose(callback: (msg: TensorbookCommMessage) => void): void;
  close(data?: { [key: string]: unknown }, options?: TensorbookCommSendOptions): void;
}
/** The kernel's comm registry: targets the front end can open, and comms this kernel opens. */
declare const comms: {
  registerTarget(name: string, handler: (comm: TensorbookComm, open: TensorbookCommMessage) => void | Promise<void>): void;
  unregisterTarget(name: string): void;
  /** Opens a comm to a target the front end registered. */
  open(target: string, data?: { [key: string]: unknown }, options?: TensorbookCommSendOptions): TensorbookComm;
  /** Open comms by id, optionally of one target (comm_info). */
  info(targetName?: string): Record<string, { target_name: string }>;
};

declare module "tslab" {
  /** tslab's display functions, mapped onto the kernel's display API. */
  export interface Display {
    javascript(s: string): void;
    html(s: string): void;
    markdown(s: string): void;
    latex(s: string): void;
    svg(s: string): void;
    png(b: Uint8Array): void;
    jpeg(b: Uint8Array): void;
    gif(b: Uint8Array): void;
    pdf(b: Uint8Array): void;
    text(s: string): void;
    raw(contentType: string, b: string | Uint8Array): void;
  }
  export const display: Display;
  /** A display whose later calls replace its first output in place. */
  export function newDisplay(): Display;
  export const versions: { tslab: string; typescript: string; node: string };
  export function isNode(): boolean;
  export function isBrowser(): boolean;
}
`;
