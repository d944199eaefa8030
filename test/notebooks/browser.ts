// The browser half of the notebook checks: opens nbconvert HTML in Debian's headless
// Chromium (driven by playwright-core), waits for plotly.js to draw every figure, measures
// every graph diagram, collects console errors and saves a full-page screenshot.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env.TENSORBOOK_CHROMIUM ?? "/usr/bin/chromium";

export interface PageReport {
  /** Console errors, uncaught exceptions and failed requests, in order. */
  errors: string[];
  /** Per plotly figure div: how many svg.main-svg it holds and how many traces (lines, markers, heatmaps, images) are drawn. */
  figures: { id: string; mainSvgs: number; traces: number }[];
  /** Per graph diagram: drawn size in CSS pixels and whether the image decoded. */
  diagrams: { width: number; height: number; visible: boolean; decoded: boolean }[];
}

// Page-side code, kept as source text: this file is type-checked without the DOM library.
// Figures draw when window.Plotly appears (the first figure's output defines it).
const FIGURES_DRAWN = `(n) => {
  const divs = [...document.querySelectorAll(".tensorbook-plot")];
  return divs.length >= n && divs.every((d) => d.querySelector("svg.main-svg .trace, svg.main-svg .hm, svg.main-svg .im") !== null);
}`;
const MATHJAX_IDLE = `(() => {
  const m = document.getElementById("MathJax_Message");
  return !m || m.style.display === "none" || m.textContent === "";
})()`;
// Diagrams: SVG outputs as <img> (lab-svg template) or inline Graphviz SVG in HTML outputs.
const MEASURE = `() => {
  const figures = [...document.querySelectorAll(".tensorbook-plot")].map((d) => ({
    id: d.id,
    mainSvgs: d.querySelectorAll("svg.main-svg").length,
    traces: d.querySelectorAll("svg.main-svg .trace, svg.main-svg .hm, svg.main-svg .im").length,
  }));
  const nodes = [...document.querySelectorAll("img.tensorbook-svg-output"),
    ...[...document.querySelectorAll(".jp-OutputArea-output svg > g.graph")].map((g) => g.parentElement)];
  const diagrams = nodes.map((n) => {
    const r = n.getBoundingClientRect();
    const style = getComputedStyle(n);
    const img = n instanceof HTMLImageElement ? n : null;
    return {
      width: r.width, height: r.height,
      visible: r.width > 20 && r.height > 20 && style.visibility !== "hidden" && style.display !== "none",
      decoded: img ? img.complete && img.naturalWidth > 0 : true,
    };
  });
  return { figures, diagrams };
}`;

export class Browser {
  private constructor(private readonly ctx: BrowserContext, private readonly userDataDir: string) {}

  static async launch(): Promise<Browser> {
    const userDataDir = mkdtempSync(join(tmpdir(), "tensorbook-chromium-"));
    const ctx = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
      viewport: { width: 1200, height: 900 },
    });
    return new Browser(ctx, userDataDir);
  }

  async check(htmlPath: string, screenshot: string, expectedFigures: number): Promise<PageReport> {
    const page = await this.ctx.newPage();
    const errors: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => errors.push(`exception: ${e.message}`));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url().slice(0, 200)} (${r.failure()?.errorText ?? "?"})`));
    try {
      await page.goto(`file://${htmlPath}`, { waitUntil: "load", timeout: 60_000 });
      // Figures draw when window.Plotly appears (the first figure's output defines it).
      await page.waitForFunction(`(${FIGURES_DRAWN})(${expectedFigures})`, undefined, { timeout: 30_000 })
        .catch(() => undefined); // the report below says which figures are missing
      // MathJax's "Loading ..." banner would otherwise sit over the screenshot.
      await page.waitForFunction(MATHJAX_IDLE, undefined, { timeout: 10_000 }).catch(() => undefined);
      const report = (await page.evaluate(`(${MEASURE})()`)) as Omit<PageReport, "errors">;
      await page.screenshot({ path: screenshot, fullPage: true });
      return { errors, ...report };
    } finally {
      await page.close();
    }
  }

  async close(): Promise<void> {
    await this.ctx.close();
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}
