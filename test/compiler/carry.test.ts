// The cost of carrying declarations does not grow with the notebook: after hundreds of
// declaring cells, checking one more cell parses a bounded amount of text (the new cell,
// the newest carried file, the file of a redeclared name), not every earlier declaration.
// Counted in characters parsed, not timed.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FILE_CHARS } from "../../kernel/compiler/carry.js";
import { CellChecker, Prepared } from "../../kernel/compiler/checker.js";

/** Checks and commits one cell like the engine does (without running it). */
function run(c: CellChecker, code: string): void {
  const cell = new Prepared(code);
  const diags = c.check(cell);
  if (diags.length > 0) throw new Error(`${code}: ${JSON.stringify(diags)}`);
  c.emit(cell, {}).commit();
}

/** Characters parsed while checking and committing `code`. */
function parsedBy(c: CellChecker, code: string): number {
  const before = c.parsedChars;
  run(c, code);
  return c.parsedChars - before;
}

describe("carried declarations", () => {
  it("a declaring cell re-parses a bounded text after 400 declaring cells", () => {
    const c = new CellChecker(fs.mkdtempSync(path.join(os.tmpdir(), "tb-carry-")));
    c.warm();
    // ~40 characters carried per cell: 400 cells carry ~16k, several FILE_CHARS.
    for (let i = 0; i < 400; i++) run(c, `const carried_value_number_${i}: number = ${i};`);
    const bound = 2 * FILE_CHARS + 1000;
    expect(parsedBy(c, "const one_more: number = 1;")).toBeLessThan(bound);
    expect(parsedBy(c, "carried_value_number_3 + 1")).toBeLessThan(bound);
    // Redeclaring a name of the first cell drops its old declaration (the type changes)
    // and re-parses only the file that held it.
    expect(parsedBy(c, `const carried_value_number_0: string = "zero";`)).toBeLessThan(bound);
    expect(parsedBy(c, "const upper: string = carried_value_number_0.toUpperCase();")).toBeLessThan(bound);
    expect(c.check(new Prepared("const n: number = carried_value_number_0;"))[0]?.code).toBe(2322);
  });

  it("a file emptied by redeclarations leaves the program", () => {
    const c = new CellChecker(fs.mkdtempSync(path.join(os.tmpdir(), "tb-carry-")));
    const big = "x".repeat(FILE_CHARS);
    run(c, `const first = "${big}";`); // fills a file on its own
    run(c, "const second = 2;"); // so a new file takes this one
    run(c, "const first = 1;");
    const files = c.service.getProgram()!.getSourceFiles().map((f) => path.basename(f.fileName)).filter((f) => f.startsWith("__tb_prev_"));
    expect(files).toEqual(["__tb_prev_1.d.ts"]);
    expect(c.check(new Prepared("const k: number = first + second;"))).toEqual([]);
  });
});
