// The committed notebooks are the built ones: each notebooks/NAME.ipynb has exactly the cells
// of notebooks/src/NAME.ts (kinds, sources, tags), names the tensorbook kernelspec, carries
// outputs, and had the plotly.js library output shortened (notebooks/tools/build.py --check).

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NOTEBOOKS, PYTHON, run, type Notebook } from "./jupyter.js";

describe("committed notebooks", () => {
  it("match their percent-format sources and carry no plotly.js bundle", async () => {
    const done = await run(PYTHON, [join(NOTEBOOKS, "tools", "build.py"), "--check"], { timeoutMs: 60_000 });
    expect(done.stdout + done.stderr).toMatch(/^\d+ notebooks match their sources/);
    expect(done.code).toBe(0);
  });

  it("every source has its notebook, committed with outputs and small enough for the repository", () => {
    const sources = readdirSync(join(NOTEBOOKS, "src")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort();
    const notebooks = readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).map((f) => f.slice(0, -6)).sort();
    expect(notebooks).toEqual(sources);
    for (const name of notebooks) {
      const path = join(NOTEBOOKS, `${name}.ipynb`);
      // Image grids carry an SVG fallback (a rect per pixel), the largest outputs we commit.
      expect(statSync(path).size, name).toBeLessThan(1_500_000);
      const nb = JSON.parse(readFileSync(path, "utf8")) as Notebook;
      const withOutputs = nb.cells.filter((c) => c.cell_type === "code" && (c.outputs ?? []).length > 0).length;
      expect(withOutputs, `${name}: code cells with outputs`).toBeGreaterThan(2);
      const errors = nb.cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "error"));
      expect(errors, name).toEqual([]);
    }
  });
});
