// Helpers for the notebook checks: a temporary Jupyter data dir with the tensorbook
// kernelspec, notebooks executed by Debian's nbconvert/nbclient, their text outputs, and
// conversion to HTML. The kernel runs dist/ (the test command builds it first).

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { installKernelSpec } from "../../kernel/cli.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const NOTEBOOKS = join(ROOT, "notebooks");
export const ARTIFACTS = join(ROOT, "test", "artifacts", "notebooks");
export const PYTHON = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";
/** Each notebook must run top to bottom within this (issue 6). */
export const NOTEBOOK_LIMIT_MS = 120_000;

export interface Output {
  output_type: "stream" | "display_data" | "execute_result" | "error" | "update_display_data";
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
export interface Cell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: { tags?: string[] };
  outputs?: Output[];
}
export interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
}

/** The tutorial notebooks in notebooks/ (tour first), by name without .ipynb. */
export function notebookNames(): string[] {
  const names = readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).map((f) => f.slice(0, -6)).sort();
  return [...names.filter((n) => n === "tour"), ...names.filter((n) => n !== "tour")];
}

/** A fresh JUPYTER_DATA_DIR holding only the tensorbook kernelspec. */
export function jupyterDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tensorbook-nb-jupyter-"));
  installKernelSpec({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message", env: { JUPYTER_DATA_DIR: dir } });
  return dir;
}

export interface Done { code: number | null; signal: string | null; stdout: string; stderr: string; ms: number; timedOut: boolean }

/** Runs a command to completion (killed after timeoutMs), feeding `input` on stdin. */
export function run(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number }): Promise<Done> {
  return new Promise((resolveDone, reject) => {
    const start = Date.now();
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // The whole process group: nbconvert and the kernel it started.
      try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ }
    }, o.timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveDone({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), ms: Date.now() - start, timedOut });
    });
    child.stdin.end(o.input ?? "");
  });
}

/**
 * Executes notebooks/<name>.ipynb with `jupyter nbconvert --to notebook --execute` (outputs
 * of the committed copy are discarded by the executor). The notebook goes through stdin so
 * the kernel's working directory is notebooks/, as when a user opens it there. Errors are
 * kept in the result (--allow-errors) so a failure names its cell.
 */
export async function executeNotebook(name: string, dataDir: string): Promise<{ nb: Notebook; json: string; ms: number }> {
  const source = readFileSync(join(NOTEBOOKS, `${name}.ipynb`), "utf8");
  const done = await run(PYTHON, ["-m", "nbconvert", "--to", "notebook", "--execute", "--stdin", "--stdout", "--allow-errors",
    `--ExecutePreprocessor.timeout=${NOTEBOOK_LIMIT_MS / 1000}`, "--ExecutePreprocessor.kernel_name=tensorbook"], {
    cwd: NOTEBOOKS, env: { ...process.env, JUPYTER_DATA_DIR: dataDir }, input: source, timeoutMs: NOTEBOOK_LIMIT_MS,
  });
  if (done.timedOut) throw new Error(`${name}.ipynb: did not finish within ${NOTEBOOK_LIMIT_MS / 1000} s (nbconvert stderr: ${done.stderr.slice(-2000)})`);
  if (done.code !== 0) throw new Error(`${name}.ipynb: nbconvert exited with ${done.code ?? done.signal}: ${done.stderr.slice(-3000)}`);
  return { nb: JSON.parse(done.stdout) as Notebook, json: done.stdout, ms: done.ms };
}

export function joined(s: string | string[] | undefined): string {
  return Array.isArray(s) ? s.join("") : (s ?? "");
}

/** "cell 3: TypeError: ..." for every error output. */
export function errorOutputs(nb: Notebook): string[] {
  const errors: string[] = [];
  nb.cells.forEach((c, i) => {
    for (const o of c.outputs ?? []) {
      if (o.output_type === "error") errors.push(`cell ${i}: ${o.ename}: ${o.evalue}\n${(o.traceback ?? []).join("\n")}\n--- source:\n${joined(c.source)}`);
      if (o.output_type === "stream" && o.name === "stderr") errors.push(`cell ${i}: stderr: ${joined(o.text)}`);
    }
  });
  return errors;
}

/**
 * Per code cell, its text outputs in order: stream text and the text/plain of results and
 * displays. Cells tagged "timing" (inherently timing-dependent tables) are left out.
 * Consecutive stream outputs of one stream are joined, as front ends show them: the kernel
 * batches stream text by time (every 0.2 s), so where one message ends varies by run.
 */
export function textOutputs(nb: Notebook): { cell: number; texts: string[] }[] {
  const cells: { cell: number; texts: string[] }[] = [];
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== "code" || c.metadata.tags?.includes("timing")) return;
    const texts: string[] = [];
    let lastStream: string | undefined;
    for (const o of c.outputs ?? []) {
      if (o.output_type === "stream" && o.name === lastStream) {
        texts[texts.length - 1] += joined(o.text);
        continue;
      }
      lastStream = o.output_type === "stream" ? o.name : undefined;
      texts.push(o.output_type === "stream" ? `${o.name}: ${joined(o.text)}` : o.output_type === "error" ? `error: ${o.ename}: ${o.evalue}` : joined(o.data?.["text/plain"] as string | string[] | undefined));
    }
    cells.push({ cell: i, texts });
  });
  return cells;
}

/** Output kinds the browser check expects to find drawn. */
export function expectedVisuals(nb: Notebook): { figures: number; diagrams: number } {
  let figures = 0;
  let diagrams = 0;
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      const d = o.data ?? {};
      if ("application/vnd.plotly.v1+json" in d) figures++;
      else if ("image/svg+xml" in d) diagrams++;
    }
  }
  return { figures, diagrams };
}

/** Converts an executed notebook to HTML (lab template, SVG outputs as <img>; see lab-svg.html.j2). */
export async function toHTML(ipynb: string, outDir: string, name: string): Promise<string> {
  const done = await run(PYTHON, ["-m", "nbconvert", "--to", "html", "--template-file", join(import.meta.dirname, "lab-svg.html.j2"),
    "--output-dir", outDir, "--output", name, ipynb], { timeoutMs: 120_000 });
  if (done.code !== 0) throw new Error(`nbconvert --to html ${ipynb} failed (${done.code}): ${done.stderr.slice(-2000)}`);
  return join(outDir, `${name}.html`);
}
