// Runtime errors of a cell as Jupyter error outcomes whose stack lines point into the
// cells' own text.
//
// A cell runs as a script named `cell[N]` (N = execution count). V8 stack frames of that
// script (`at f (cell[3]:7:12)`) are positions in the emitted JavaScript; each cell keeps
// its source map, and a frame maps back to the cell's line:column. Frames of the kernel's
// own files and of Node's internals are dropped; frames of user files (node_modules,
// relative .ts/.js imports) stay.

import { findSourceMap, SourceMap } from "node:module";
import * as path from "node:path";
import * as util from "node:util";
import { fileURLToPath } from "node:url";

export interface ErrorOutcome {
  status: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Maps a position in the emitted script (1-based) to 1-based line:col in the cell. */
export type PositionMap = (line: number, col: number) => { line: number; col: number } | undefined;

/** The kernel's folder (kernel/ in the sources, dist/kernel/ built): frames inside it are noise for the user. */
const kernelDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export class CellMaps {
  private readonly maps = new Map<string, PositionMap>();

  /** Registers a cell script's source map; `toCell` maps checker-file offsets to the cell. */
  add(scriptName: string, mapJson: string, toCell: (line0: number, col0: number) => { line: number; col: number }): void {
    let sm: SourceMap | undefined;
    this.maps.set(scriptName, (line, col) => {
      sm ??= new SourceMap(JSON.parse(mapJson) as ConstructorParameters<typeof SourceMap>[0]);
      const e = sm.findEntry(line - 1, col - 1) as { originalLine?: number; originalColumn?: number };
      if (e.originalLine === undefined || e.originalColumn === undefined) return undefined;
      return toCell(e.originalLine, e.originalColumn);
    });
  }

  /** Rewrites one stack line; undefined drops it. */
  private frame(line: string): string | undefined {
    const m = /^(\s*at .*?)\(?(cell\[\d+\](?:#\d+)?):(\d+):(\d+)\)?$/.exec(line);
    if (m) {
      const pos = this.maps.get(m[2])?.(Number(m[3]), Number(m[4]));
      const where = pos ? `${m[2]}:${pos.line}:${pos.col}` : `${m[2]}`;
      const head = m[1].trimEnd();
      return head.endsWith("at") ? `${head} ${where}` : `${head} (${where})`;
    }
    if (!/^\s*at /.test(line)) return line;
    // A transpiled user .ts file whose frame the runtime did not map (a replaced
    // Error.prepareStackTrace skips Node's source maps): map it with Node's cached map.
    const t = /^(.*?)(file:\/\/[^\s)?]+\.(?:ts|tsx|mts|cts))(\?[^\s):]*)?:(\d+):(\d+)(\)?)$/.exec(line);
    if (t) {
      const url = t[2] + (t[3] ?? "");
      const e = findSourceMap(url)?.findEntry(Number(t[4]) - 1, Number(t[5]) - 1) as { originalLine?: number; originalColumn?: number } | undefined;
      if (e?.originalLine !== undefined && e.originalColumn !== undefined) {
        return `${t[1]}${fileURLToPath(t[2])}:${e.originalLine + 1}:${e.originalColumn + 1}${t[6]}`;
      }
    }
    if (line.includes("node:internal") || line.includes(kernelDir) || line.includes("/node_modules/vitest/") || line.includes("/node_modules/tinypool/")) {
      return undefined;
    }
    if (/^\s*at (async )?(new Promise|Promise\.\w+) \(<anonymous>\)$/.test(line)) return undefined;
    if (/^\s*at (Script\.runInThisContext|process\.processTicksAndRejections)/.test(line)) return undefined;
    return line;
  }

  /** The error outcome of a thrown value. */
  outcome(thrown: unknown): ErrorOutcome {
    if (thrown instanceof Error || (typeof thrown === "object" && thrown !== null && "stack" in thrown && "message" in thrown)) {
      const e = thrown as Error;
      const ename = e.name || e.constructor?.name || "Error";
      const evalue = String(e.message ?? "");
      const stack = typeof e.stack === "string" ? e.stack : `${ename}: ${evalue}`;
      const lines = stack.split("\n");
      // The header (message, possibly multi-line) is everything before the first frame.
      const firstFrame = lines.findIndex((l) => /^\s*at /.test(l));
      const head = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
      let raw = firstFrame < 0 ? [] : lines.slice(firstFrame);
      // Below the cell: the script's own top level (the async wrapper's call) and the
      // kernel frames that ran it.
      const base = raw.findIndex((l) => /at (AsyncLocalStorage\.run|Script\.runInThisContext) /.test(l));
      if (base >= 0) {
        raw = raw.slice(0, base);
        if (raw.length > 0 && /^\s*at cell\[\d+\](#\d+)?:\d+:\d+$/.test(raw[raw.length - 1])) raw.pop();
      }
      // Frames after the outermost cell frame are its callers: the kernel (or a test).
      let lastCell = -1;
      raw.forEach((l, i) => {
        if (/\bcell\[\d+\]/.test(l)) lastCell = i;
      });
      if (lastCell >= 0) raw = raw.slice(0, lastCell + 1);
      const frames = raw.map((l) => this.frame(l)).filter((l): l is string => l !== undefined);
      return { status: "error", ename, evalue, traceback: [...head, ...frames] };
    }
    const evalue = util.inspect(thrown, { colors: false, depth: 4 });
    return { status: "error", ename: "Uncaught", evalue, traceback: [`Uncaught ${evalue}`] };
  }
}
