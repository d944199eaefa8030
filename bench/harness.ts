// What every benchmark shares: median timing after warm-up, the competing libraries set up
// the same way (tfjs-backend-wasm from its npm files, jax-js on its wasm device), seeded
// random data, and a markdown table printer with speed-up ratios.
//
// Timing: a case runs a few times to warm up (V8 tiers wasm up from Liftoff to TurboFan on
// hot functions), then repeatedly for about `budgetMs`; the median is reported. The machine
// may be shared: medians resist outliers, and ratios come from one process, one run.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms of fn over runs lasting about `budgetMs` in total, after warm-up. */
export async function time(fn: () => unknown, budgetMs = 500, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 200)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Deterministic uniform data in [-scale, scale) (a small LCG: same data every run). */
export function randomData(n: number, scale = 1, seed = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
}

export async function setupTfjs(): Promise<typeof import("@tensorflow/tfjs") | undefined> {
  try {
    // The tfjs package (what users install) registers every op's gradient; tfjs-core alone
    // does not, so training needs it. The wasm backend registers itself with the same core.
    const tf = await import("@tensorflow/tfjs");
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/"));
    await tf.setBackend("wasm");
    await tf.ready();
    return tf;
  } catch (e) {
    console.error("tfjs-backend-wasm unavailable:", e);
    return undefined;
  }
}

export async function setupJax(): Promise<typeof import("@jax-js/jax") | undefined> {
  try {
    const jax = await import("@jax-js/jax");
    await jax.init("wasm");
    jax.defaultDevice("wasm");
    return jax;
  } catch (e) {
    console.error("jax-js wasm unavailable:", e);
    return undefined;
  }
}

export interface TableRow {
  name: string;
  /** Column values by library; undefined cells print empty. */
  values: Record<string, number | undefined>;
  /** How to print a value (default: ms with 3 decimals). */
  format?: (v: number) => string;
  /** Larger is better (throughput) rather than smaller (time). */
  higherIsBetter?: boolean;
}

/**
 * A markdown table: one column per library, then "ours / other" ratios as speed-ups
 * (> 1 means the first column is faster), for each other library.
 */
export function markdownTable(title: string, columns: string[], rows: TableRow[]): string {
  const [ours, ...others] = columns;
  const head = [title, ...columns, ...others.map((o) => `vs ${o}`)];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const fmt = r.format ?? ((v: number) => v.toFixed(3));
    const cells = columns.map((c) => (r.values[c] === undefined ? "" : fmt(r.values[c]!)));
    const ratios = others.map((o) => {
      const a = r.values[ours!];
      const b = r.values[o];
      if (a === undefined || b === undefined) return "";
      return `${(r.higherIsBetter ? a / b : b / a).toFixed(2)}x`;
    });
    lines.push(`| ${[r.name, ...cells, ...ratios].join(" | ")} |`);
  }
  return lines.join("\n");
}
