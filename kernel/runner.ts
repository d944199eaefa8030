// Executes a notebook headlessly through the kernel, with no Python: launches the kernel as
// a child process with its own connection file, runs each code cell over the protocol
// (KernelClient), and fills in outputs and execution counts the way nbclient does:
// consecutive stream outputs of one name merge; clear_output(wait) clears at the next
// output; update_display_data rewrites every earlier output with that display_id.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { KernelClient } from "./client.js";
import type { Message } from "./wire.js";

type Json = { [key: string]: unknown };

export interface NotebookCell {
  cell_type: string;
  source: string | string[];
  metadata: Json;
  outputs?: Json[];
  execution_count?: number | null;
  [key: string]: unknown;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata: Json;
  nbformat: number;
  nbformat_minor: number;
}

export interface RunOptions {
  /** Kernel command with "{connection_file}" (a kernelspec's argv). */
  argv: string[];
  /** Where to write the executed notebook. */
  output: string;
  /** Keep going after a cell errors (as nbclient's allow_errors). Cells tagged raises-exception always may. */
  allowErrors?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface RunReport {
  output: string;
  cells: number;
  errors: number;
}

const sourceText = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

/** Outputs of one cell, built from its iopub messages in order. */
export class OutputCollector {
  readonly outputs: Json[] = [];
  private clearPending = false;

  constructor(private readonly displays: Map<string, Json[]>) {}

  add(m: Message): void {
    const c = m.content as Json;
    const type = m.header.msg_type;
    if (type === "clear_output") {
      if (c.wait === true) this.clearPending = true;
      else this.outputs.length = 0;
      return;
    }
    if (type === "update_display_data") {
      const id = (c.transient as { display_id?: string } | undefined)?.display_id;
      for (const out of (id && this.displays.get(id)) || []) {
        out.data = c.data;
        out.metadata = c.metadata ?? {};
      }
      return;
    }
    let out: Json;
    if (type === "stream") {
      if (this.clearPending) this.clear();
      const last = this.outputs[this.outputs.length - 1];
      if (last && last.output_type === "stream" && last.name === c.name) {
        last.text = String(last.text) + String(c.text);
        return;
      }
      out = { output_type: "stream", name: c.name, text: c.text };
    } else if (type === "display_data") {
      out = { output_type: "display_data", data: c.data, metadata: c.metadata ?? {} };
      const id = (c.transient as { display_id?: string } | undefined)?.display_id;
      if (id) this.displays.set(id, [...(this.displays.get(id) ?? []), out]);
    } else if (type === "execute_result") {
      out = { output_type: "execute_result", execution_count: c.execution_count, data: c.data, metadata: c.metadata ?? {} };
    } else if (type === "error") {
      out = { output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback };
    } else {
      return; // comm messages and others are not outputs
    }
    if (this.clearPending) this.clear();
    this.outputs.push(out);
  }

  private clear(): void {
    this.clearPending = false;
    this.outputs.length = 0;
  }
}

export async function runNotebook(path: string, options: RunOptions): Promise<RunReport> {
  const nb = JSON.parse(readFileSync(path, "utf8")) as Notebook;
  if (!Array.isArray(nb.cells)) throw new Error(`${path}: not a notebook (no "cells" array); expected nbformat 4 JSON`);
  const kernel = await KernelClient.launch({ argv: options.argv, cwd: dirname(resolve(path)), env: options.env });
  const displays = new Map<string, Json[]>();
  let errors = 0;
  try {
    for (const [i, cell] of nb.cells.entries()) {
      if (cell.cell_type !== "code") continue;
      const collector = new OutputCollector(displays);
      const code = sourceText(cell.source);
      const id = kernel.message("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
      const { reply, outputs } = await kernel.executeMessage(id, options.timeoutMs ?? 120_000);
      for (const m of outputs) collector.add(m);
      cell.outputs = collector.outputs;
      cell.execution_count = typeof reply.content.execution_count === "number" ? reply.content.execution_count : null;
      if (reply.content.status === "error") {
        errors++;
        const tags = (cell.metadata?.tags as string[] | undefined) ?? [];
        if (!options.allowErrors && !tags.includes("raises-exception")) {
          writeNotebook(options.output, nb);
          throw new Error(`${path}: cell ${i} failed: ${String(reply.content.ename)}: ${String(reply.content.evalue)} (executed notebook so far: ${options.output})`);
        }
      }
    }
  } finally {
    await kernel.shutdown();
  }
  writeNotebook(options.output, nb);
  return { output: options.output, cells: nb.cells.filter((c) => c.cell_type === "code").length, errors };
}

function writeNotebook(file: string, nb: Notebook): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
}
