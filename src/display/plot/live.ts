// Live training curves: `tb.plot.live({ title, metrics })` returns a LivePlot whose
// `push({ step, loss, val_loss, accuracy, ... })` redraws one notebook output in place
// (display_data once, then throttled update_display_data under one display id).
//
// Series: each metric gets its own panel; a key `val_<metric>` or `val<Metric>` is the
// validation series of <metric>, drawn dashed beside the training series. `step` is the x
// value (the push count when absent). Without a kernel (plain Node) nothing is shown until
// the figure is displayed or saved; `figure()` returns the current state at any time.

import { displayHost, displaySymbol, type DisplayHost, type MimeBundle } from "../protocol.js";
import { Figure } from "./figure.js";
import type { FigureSpec, XYPanel } from "./model.js";

export interface LiveOptions {
  title?: string;
  /** Metrics to draw, one panel each, in this order (default: as they first appear). */
  metrics?: string[];
  xlabel?: string;
  width?: number;
  height?: number;
  /** Minimum time between redraws in milliseconds (default 250). */
  throttleMs?: number;
}

interface Track { metric: string; validation: boolean; x: number[]; y: number[] }

let liveCounter = 0;

/** `val_loss` and `valLoss` -> ["loss", true]; `loss` -> ["loss", false]. */
export function splitMetricKey(key: string): [string, boolean] {
  if (key.startsWith("val_") && key.length > 4) return [key.slice(4), true];
  if (/^val[A-Z]/.test(key)) return [key[3]!.toLowerCase() + key.slice(4), true];
  return [key, false];
}

export class LivePlot {
  readonly displayId: string;
  private readonly options: LiveOptions;
  private readonly tracks = new Map<string, Track>();
  private readonly order: string[];
  private pushes = 0;
  private host: DisplayHost | undefined;
  private lastDraw = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dirty = false;

  constructor(options: LiveOptions = {}) {
    this.options = options;
    this.order = [...(options.metrics ?? [])];
    this.displayId = `tensorbook-live-${++liveCounter}`;
    this.host = displayHost();
    // Shown at creation, in the cell that made it; pushes update it in place.
    this.host?.display(this.bundle(), { id: this.displayId });
    this.lastDraw = Date.now();
  }

  /** Adds one point to each metric present in `point`. Non-finite values are skipped. */
  push(point: Record<string, number>): void {
    const step = point.step ?? this.pushes;
    this.pushes++;
    for (const [key, value] of Object.entries(point)) {
      if (key === "step") continue;
      if (typeof value !== "number") throw new TypeError(`plot.live.push: "${key}" must be a number, got ${typeof value}`);
      if (!Number.isFinite(value)) continue;
      const [metric, validation] = splitMetricKey(key);
      if (this.options.metrics && !this.options.metrics.includes(metric)) continue;
      if (!this.order.includes(metric)) this.order.push(metric);
      let track = this.tracks.get(key);
      if (!track) this.tracks.set(key, (track = { metric, validation, x: [], y: [] }));
      track.x.push(step);
      track.y.push(value);
    }
    this.dirty = true;
    this.schedule();
  }

  /** Draws the latest state now and stops pending redraws. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    this.lastDraw = Date.now();
    this.host?.update(this.displayId, this.bundle());
  }

  /** Final redraw; later pushes still work but nothing further is scheduled until then. */
  close(): void {
    this.flush();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The current curves as a Figure (save it, display it elsewhere). */
  figure(): Figure {
    const metrics = this.order.length > 0 ? this.order : ["loss"];
    const cols = Math.min(metrics.length, 2);
    const rows = Math.ceil(metrics.length / cols);
    const panels: XYPanel[] = metrics.map((metric) => ({
      kind: "xy",
      title: metric,
      xlabel: this.options.xlabel ?? "step",
      series: [...this.tracks.values()]
        .filter((t) => t.metric === metric)
        .sort((a, b) => Number(a.validation) - Number(b.validation))
        .map((t, k) => ({
          kind: "line" as const, name: t.validation ? "validation" : "training", x: t.x, y: t.y,
          dash: t.validation, color: k === 0 ? "#1f77b4" : "#ff7f0e",
        })),
    }));
    const spec: FigureSpec = {
      width: this.options.width ?? (cols === 1 ? 640 : 860),
      height: this.options.height ?? 320 * rows + (this.options.title ? 40 : 0),
      rows, cols, panels,
      showLegend: [...this.tracks.values()].some((t) => t.validation),
    };
    if (this.options.title !== undefined) spec.title = this.options.title;
    return new Figure(spec);
  }

  private bundle(): MimeBundle {
    return this.figure().mimeBundle();
  }

  private schedule(): void {
    if (!this.host) return;
    const interval = this.options.throttleMs ?? 250;
    const wait = this.lastDraw + interval - Date.now();
    if (wait <= 0) return this.flush();
    // A trailing redraw so the last points show even when pushes stop.
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), wait);
    // In a kernel the cell's last points are drawn before it reports idle, so an executed
    // notebook always ends with the complete curve.
    this.host.beforeIdle?.(() => this.flush());
  }

  [displaySymbol](): MimeBundle {
    return this.bundle();
  }
}

export function live(options?: LiveOptions): LivePlot {
  return new LivePlot(options);
}
