// Every tutorial notebook, through Jupyter's own client and a real browser (issue 6):
// - executes top to bottom with `jupyter nbconvert --to notebook --execute` within two
//   minutes and without error outputs;
// - a second execution gives identical text outputs (cells tagged "timing" excepted);
// - converted to HTML by nbconvert and opened in headless Chromium, every plotly figure has
//   drawn its traces, every graph diagram is visible, and the page logs no errors.
// Executed notebooks, HTML pages and screenshots are left in test/artifacts/notebooks/.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "./browser.js";
import {
  ARTIFACTS, errorOutputs, executeNotebook, expectedVisuals, jupyterDataDir, NOTEBOOK_LIMIT_MS, notebookNames, textOutputs, toHTML,
} from "./jupyter.js";

const names = notebookNames();

/** All stream text of a notebook, for the claims its prose makes. */
const printed = (nb: Parameters<typeof textOutputs>[0]) => textOutputs(nb).flatMap((c) => c.texts).join("\n");
const percent = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

/** What each notebook claims in its prose, checked on its fresh outputs. */
const claims: Record<string, (text: string) => void> = {
  "02-autograd": (text) => expect(text).toContain("gradient check passed"),
  "03-graphs": (text) => {
    expect(text).toContain("gradients delivered to: [ 'b', 'w' ]");
    expect(text).toContain("updates written into:   [ 'w', 'b' ]");
  },
  "04-digits-mlp": (text) => {
    expect(percent(text, /validation accuracy after \d+ epochs: ([\d.]+)%/)).toBeGreaterThanOrEqual(95);
    expect(text).toContain("identical predictions: true");
  },
};
let dataDir = "";
let browser: Browser | undefined;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = jupyterDataDir();
  browser = await Browser.launch();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe("tutorial notebooks", () => {
  it("are all there", () => {
    expect(names).toEqual(["tour", "01-tensors", "02-autograd", "03-graphs", "04-digits-mlp", "05-fashion-cnn", "06-char-transformer"]);
  });

  for (const name of names) {
    it(`${name}: runs in nbconvert twice with identical text outputs, and renders in Chromium`, async () => {
      const first = await executeNotebook(name, dataDir);
      writeFileSync(join(ARTIFACTS, `${name}.ipynb`), first.json);
      expect(errorOutputs(first.nb)).toEqual([]);
      expect(first.ms).toBeLessThan(NOTEBOOK_LIMIT_MS);
      const code = first.nb.cells.filter((c) => c.cell_type === "code");
      expect(code.length).toBeGreaterThan(3);
      claims[name]?.(printed(first.nb));

      const second = await executeNotebook(name, dataDir);
      expect(errorOutputs(second.nb)).toEqual([]);
      expect(textOutputs(second.nb)).toEqual(textOutputs(first.nb));

      const html = await toHTML(join(ARTIFACTS, `${name}.ipynb`), ARTIFACTS, name);
      const want = expectedVisuals(first.nb);
      const page = await browser!.check(html, join(ARTIFACTS, `${name}.png`), want.figures);
      expect(page.errors).toEqual([]);
      expect(page.figures).toHaveLength(want.figures);
      for (const f of page.figures) {
        expect(f.mainSvgs, `figure ${f.id}`).toBeGreaterThan(0);
        expect(f.traces, `figure ${f.id}`).toBeGreaterThan(0);
      }
      expect(page.diagrams).toHaveLength(want.diagrams);
      for (const d of page.diagrams) expect(d).toMatchObject({ visible: true, decoded: true });
    }, 3 * NOTEBOOK_LIMIT_MS + 120_000);
  }
});
