// Execution history (history_request: tail, range, search), kept across kernel restarts in
// <Jupyter data dir>/tensorbook/history.jsonl, one JSON record per stored cell:
//   {"session": 3, "line": 12, "source": "x + 1", "output": "2"}
// A kernel process is one session, numbered one past the largest session in the file.
// Lines are execution counts, so (session, line) names a cell as In[line] in IPython.

import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface HistoryEntry {
  session: number;
  line: number;
  source: string;
  output: string | null;
}

/** One history_reply row: [session, line, input] or [session, line, [input, output]]. */
export type HistoryRow = [number, number, string | [string, string | null]];

/** Jupyter's data directory: $JUPYTER_DATA_DIR, else ~/.local/share/jupyter (as jupyter_core on Linux). */
export function jupyterDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".local", "share"), "jupyter");
}

export function defaultHistoryFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(jupyterDataDir(env), "tensorbook", "history.jsonl");
}

/** Keep at most this many records in memory; older ones stay only in the file. */
const MAX_ENTRIES = 20_000;

export class HistoryStore {
  private entries: HistoryEntry[] | undefined;
  private sessionNo = 0;

  constructor(private readonly file: string | undefined) {}

  /** The current session number (loads the file on first use). */
  get session(): number {
    this.load();
    return this.sessionNo;
  }

  private load(): HistoryEntry[] {
    if (this.entries) return this.entries;
    const entries: HistoryEntry[] = [];
    let text = "";
    if (this.file) {
      try {
        text = readFileSync(this.file, "utf8");
      } catch {
        text = ""; // no history yet
      }
    }
    let maxSession = 0;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const r = JSON.parse(line) as Partial<HistoryEntry>;
        if (typeof r.session !== "number" || typeof r.line !== "number" || typeof r.source !== "string") continue;
        entries.push({ session: r.session, line: r.line, source: r.source, output: typeof r.output === "string" ? r.output : null });
        maxSession = Math.max(maxSession, r.session);
      } catch {
        // A torn line from a crash mid-write: skip it, keep the rest.
      }
    }
    this.entries = entries.slice(-MAX_ENTRIES);
    this.sessionNo = maxSession + 1;
    return this.entries;
  }

  append(line: number, source: string, output: string | null): void {
    const entries = this.load();
    const entry: HistoryEntry = { session: this.sessionNo, line, source, output };
    entries.push(entry);
    if (entries.length > MAX_ENTRIES) entries.splice(0, entries.length - MAX_ENTRIES);
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      appendFileSync(this.file, JSON.stringify(entry) + "\n");
    } catch (e) {
      process.stderr.write(`tensorbook: cannot write history to ${this.file}: ${(e as Error).message}\n`);
    }
  }

  /** The last n cells, oldest first. */
  tail(n: number, output: boolean): HistoryRow[] {
    const entries = this.load();
    return entries.slice(Math.max(0, entries.length - Math.max(0, n))).map((e) => row(e, output));
  }

  /**
   * Cells start <= line < stop of a session; session <= 0 counts back from the current one
   * (0 = this kernel), as IPython does. stop 0/undefined means "to the end".
   */
  range(session: number, start: number, stop: number | undefined, output: boolean): HistoryRow[] {
    const entries = this.load();
    const s = session <= 0 ? this.sessionNo + session : session;
    return entries
      .filter((e) => e.session === s && e.line >= start && (stop === undefined || stop <= 0 || e.line < stop))
      .map((e) => row(e, output));
  }

  /** Glob search (* and ?) over sources; the last n matches, deduplicated when unique. */
  search(pattern: string, n: number | undefined, unique: boolean, output: boolean): HistoryRow[] {
    const re = globToRegExp(pattern);
    let hits = this.load().filter((e) => re.test(e.source));
    if (unique) {
      const seen = new Set<string>();
      const kept: HistoryEntry[] = [];
      for (let i = hits.length - 1; i >= 0; i--) {
        if (seen.has(hits[i]!.source)) continue;
        seen.add(hits[i]!.source);
        kept.push(hits[i]!);
      }
      hits = kept.reverse();
    }
    if (n !== undefined && n > 0) hits = hits.slice(-n);
    return hits.map((e) => row(e, output));
  }
}

function row(e: HistoryEntry, output: boolean): HistoryRow {
  return [e.session, e.line, output ? [e.source, e.output] : e.source];
}

/** IPython's history search pattern: a glob matched against the whole source. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) {
    if (ch === "*") re += "[\\s\\S]*";
    else if (ch === "?") re += "[\\s\\S]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
