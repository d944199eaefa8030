// Progress bars, in the manner of tqdm: `for (const batch of tb.progress(loader)) ...`.
//
// In a notebook the bar is one output updated in place (display_data, then throttled
// update_display_data): HTML with a bar, count, elapsed time, rate and ETA. Its text/plain
// form leaves out times, so re-executed notebooks keep identical text outputs. In a
// terminal the bar redraws one stderr line; when stderr is not a terminal (logs, CI) it
// prints a single line when done.

import { displayHost, displaySymbol, type DisplayHost, type MimeBundle } from "./protocol.js";

export interface ProgressOptions {
  desc?: string;
  /** Number of steps; taken from the iterable's length or size when it has one. */
  total?: number;
  /** Minimum time between redraws in milliseconds (default 100). */
  throttleMs?: number;
}

let progressCounter = 0;

function sizeOf(source: unknown): number | undefined {
  if (typeof source !== "object" || source === null) return undefined;
  const s = source as { length?: unknown; size?: unknown };
  if (typeof s.length === "number") return s.length;
  if (typeof s.size === "number") return s.size;
  return undefined;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

function esc(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c]!);
}

export class Progress<T = number> implements Iterable<T>, AsyncIterable<T> {
  readonly displayId: string;
  readonly total: number | undefined;
  n = 0;
  private readonly source: Iterable<T> | AsyncIterable<T> | undefined;
  private readonly options: ProgressOptions;
  private readonly start = performance.now();
  private postfix: Record<string, unknown> = {};
  private host: DisplayHost | undefined;
  private shown = false;
  private closed = false;
  private lastDraw = -Infinity;

  constructor(source: Iterable<T> | AsyncIterable<T> | undefined, options: ProgressOptions = {}) {
    this.source = source;
    this.options = options;
    this.total = options.total ?? sizeOf(source);
    this.displayId = `tensorbook-progress-${++progressCounter}`;
    this.host = displayHost();
  }

  /** Advances by `n` steps and redraws if the throttle allows. */
  update(n = 1): void {
    this.n += n;
    this.draw(false);
  }

  /** Values shown after the counts, e.g. `{ loss: 0.231 }` (numbers to 4 significant digits). */
  setPostfix(values: Record<string, unknown>): void {
    this.postfix = values;
    this.draw(false);
  }

  setDescription(desc: string): void {
    this.options.desc = desc;
    this.draw(false);
  }

  /** Final redraw; iteration calls it when the source is exhausted or the loop breaks. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.draw(true);
    if (!this.host && !process.stderr.isTTY) process.stderr.write(this.line(true) + "\n");
    else if (!this.host) process.stderr.write("\n");
  }

  [Symbol.dispose](): void {
    this.close();
  }

  *[Symbol.iterator](): Iterator<T> {
    const src = this.source;
    if (src === undefined || !(Symbol.iterator in src)) {
      throw new TypeError("progress: this source is async; iterate it with `for await`");
    }
    this.draw(true);
    try {
      for (const item of src) {
        yield item;
        this.update(1);
      }
    } finally {
      this.close();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const src = this.source;
    if (src === undefined) throw new TypeError("progress: nothing to iterate; pass an iterable or a total");
    this.draw(true);
    try {
      for await (const item of src as AsyncIterable<T>) {
        yield item;
        this.update(1);
      }
    } finally {
      this.close();
    }
  }

  /** The text form: description, percentage, bar, counts and postfix; no times. */
  toString(): string {
    const desc = this.options.desc ? `${this.options.desc}: ` : "";
    return desc + this.counts() + this.postfixText();
  }

  private counts(): string {
    if (this.total === undefined || this.total <= 0) return `${this.n}`;
    const frac = Math.min(1, this.n / this.total);
    const width = 20;
    const full = Math.floor(frac * width);
    const bar = "█".repeat(full) + (full < width ? " ".repeat(width - full) : "");
    return `${String(Math.floor(frac * 100)).padStart(3)}%|${bar}| ${this.n}/${this.total}`;
  }

  private postfixText(): string {
    const parts = Object.entries(this.postfix).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(4)) : String(v)}`);
    return parts.length ? `, ${parts.join(", ")}` : "";
  }

  private timing(): string {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.n / elapsed : NaN;
    const eta = this.total !== undefined && rate > 0 ? (this.total - this.n) / rate : NaN;
    const rateText = Number.isFinite(rate) ? (rate >= 1 ? `${rate.toFixed(2)}it/s` : `${(1 / rate).toFixed(2)}s/it`) : "?it/s";
    return `[${clock(elapsed)}${this.total !== undefined ? "<" + clock(eta) : ""}, ${rateText}]`;
  }

  private line(final: boolean): string {
    return `${this.toString()} ${final ? this.timing().replace(/<[^,]*/, "") : this.timing()}`;
  }

  private html(): string {
    const desc = this.options.desc ? `<span>${esc(this.options.desc)}</span>` : "";
    const bar = this.total !== undefined && this.total > 0
      ? `<progress value="${Math.min(this.n, this.total)}" max="${this.total}" style="width:24em;height:1em"></progress>`
      : "";
    const counts = this.total !== undefined ? `${this.n}/${this.total}` : `${this.n}`;
    return (
      `<div class="tensorbook-progress" style="display:flex;align-items:center;gap:0.6em;font-family:monospace">` +
      `${desc}${bar}<span>${counts} ${esc(this.timing())}${esc(this.postfixText())}</span></div>`
    );
  }

  private bundle(): MimeBundle {
    return { "text/plain": this.toString(), "text/html": this.html() };
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < (this.options.throttleMs ?? 100)) return;
    this.lastDraw = now;
    if (this.host) {
      if (!this.shown) this.host.display(this.bundle(), { id: this.displayId });
      else this.host.update(this.displayId, this.bundle());
      this.shown = true;
    } else if (process.stderr.isTTY) {
      process.stderr.write(`\r${this.line(false)}`);
    }
  }

  [displaySymbol](): MimeBundle {
    return this.bundle();
  }
}

/**
 * Wraps an iterable (or a count: `progress(100)` iterates 0..99) with a progress bar.
 * Works with `for...of` and `for await...of`.
 */
export function progress<T>(source: Iterable<T> | AsyncIterable<T>, options?: ProgressOptions): Progress<T>;
export function progress(total: number, options?: ProgressOptions): Progress<number>;
export function progress<T>(source: Iterable<T> | AsyncIterable<T> | number, options: ProgressOptions = {}): Progress<T | number> {
  if (typeof source === "number") {
    if (!Number.isInteger(source) || source < 0) throw new RangeError(`progress: total must be a non-negative integer, got ${source}`);
    const range = { length: source, *[Symbol.iterator]() { for (let i = 0; i < source; i++) yield i; } };
    return new Progress<number>(range, { ...options, total: options.total ?? source });
  }
  return new Progress<T>(source, options);
}
