// A notebook session for tests: one engine, cells run in order with increasing counts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTypeScriptEngine } from "../../kernel/compiler/index.js";
import type { Engine, ExecuteOutcome } from "../../kernel/engine.js";
import { RecordingIO } from "./helpers.js";

export interface CellRun {
  outcome: ExecuteOutcome;
  io: RecordingIO;
}

export class Session {
  readonly engine: Engine;
  private count = 0;
  constructor(readonly cwd: string = fs.mkdtempSync(path.join(os.tmpdir(), "tb-cells-"))) {
    this.engine = createTypeScriptEngine({ cwd });
  }

  async run(code: string, answers: string[] = []): Promise<CellRun> {
    const io = new RecordingIO(answers);
    const outcome = await this.engine.execute(code, io, { executionCount: ++this.count, storeHistory: true });
    return { outcome, io };
  }

  /** Runs a cell that must succeed and returns its text/plain result (or undefined). */
  async value(code: string): Promise<string | undefined> {
    const { outcome } = await this.run(code);
    if (outcome.status !== "ok") throw new Error(`cell failed: ${code}\n${JSON.stringify(outcome, null, 2)}`);
    return outcome.result?.data["text/plain"] as string | undefined;
  }

  /** Runs a cell that must fail and returns its error outcome. */
  async error(code: string): Promise<{ ename: string; evalue: string; traceback: string[] }> {
    const { outcome } = await this.run(code);
    if (outcome.status !== "error") throw new Error(`cell did not fail: ${code}\n${JSON.stringify(outcome)}`);
    return outcome;
  }

  get executionCount(): number {
    return this.count;
  }
}
