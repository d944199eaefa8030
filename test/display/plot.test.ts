// Figures: MIME bundles are well formed (JSON, XML parsed by Python), numbers match NumPy
// (histograms) or hand counts (confusion matrices), and live plots and progress bars drive
// display/update through the display host as a kernel would see them.

import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { installDisplayHost, type DisplayHost, type MimeBundle } from "../../src/display/protocol.js";
import * as plot from "../../src/display/plot/index.js";
import { niceTicks } from "../../src/display/plot/svg.js";
import { progress } from "../../src/display/progress.js";

const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";

function py(script: string, input: unknown): unknown {
  const r = spawnSync(python, ["-c", script], { input: JSON.stringify(input), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Parses every SVG and the SVG inside the HTML with Python's XML parser; returns element counts. */
type ParsedSVG = { root: string; rects: number; paths: number; images: string[]; texts: string[] };
function parseSVGs(svgs: string[]): ParsedSVG[] {
  return py(
    `import json, sys, xml.dom.minidom as m
out = []
for s in json.load(sys.stdin):
    d = m.parseString(s).documentElement
    out.append({"root": d.tagName, "rects": len(d.getElementsByTagName("rect")), "paths": len(d.getElementsByTagName("path")),
                "images": [i.getAttribute("href") for i in d.getElementsByTagName("image")],
                "texts": [t.firstChild.data for t in d.getElementsByTagName("text") if t.firstChild]})
print(json.dumps(out))`,
    svgs,
  ) as ParsedSVG[];
}

/** Width, height and RGBA pixels of a PNG data URI, decoded by Python's zlib (filter 0 rows). */
function decodePng(uri: string): { w: number; h: number; rgba: number[] } {
  return py(
    `import base64, json, struct, sys, zlib
b = base64.b64decode(json.load(sys.stdin).split(",", 1)[1])
assert b[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
w, h = struct.unpack(">II", b[16:24])
at, idat = 8, b""
while at < len(b):
    (n,) = struct.unpack(">I", b[at:at + 4]); t = b[at + 4:at + 8]
    if t == b"IDAT": idat += b[at + 8:at + 8 + n]
    at += 12 + n
raw = zlib.decompress(idat)
rows = [raw[y * (4 * w + 1) + 1:(y + 1) * (4 * w + 1)] for y in range(h)]
print(json.dumps({"w": w, "h": h, "rgba": [v for r in rows for v in r]}))`,
    uri,
  ) as { w: number; h: number; rgba: number[] };
}

function fakeHost() {
  const log: { kind: "display" | "update" | "clear"; id?: string; bundle?: MimeBundle }[] = [];
  const idle: (() => void)[] = [];
  const host: DisplayHost = {
    display: (bundle, o) => log.push({ kind: "display", bundle, ...(o?.id ? { id: o.id } : {}) }),
    update: (id, bundle) => log.push({ kind: "update", id, bundle }),
    clear: () => log.push({ kind: "clear" }),
    beforeIdle: (fn) => idle.push(fn),
  };
  return { host, log, idle };
}

afterEach(() => installDisplayHost(undefined));

describe("figures", () => {
  it("a line plot's bundle has plotly JSON, HTML with the SVG fallback, SVG and text", () => {
    const fig = plot.line([0, 1, 2], { train: [3, 2, 1], validation: [3.5, 2.5, 2] }, { title: "loss", xlabel: "step" });
    const b = fig.mimeBundle();
    expect(Object.keys(b).sort()).toEqual(["application/vnd.plotly.v1+json", "image/svg+xml", "text/html", "text/plain"]);
    const p = b["application/vnd.plotly.v1+json"] as { data: { x: number[]; y: number[]; name: string }[]; layout: { title: { text: string } } };
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
    expect(p.data.map((t) => t.name)).toEqual(["train", "validation"]);
    expect(p.data[1]!.y).toEqual([3.5, 2.5, 2]);
    expect(p.layout.title.text).toBe("loss");
    const html = b["text/html"] as string;
    expect(html).toContain("Plotly.newPlot");
    expect(html).toContain("<svg");
    const [svg] = parseSVGs([b["image/svg+xml"] as string]);
    expect(svg!.root).toBe("svg");
    expect(svg!.paths).toBe(2);
    expect(svg!.texts).toEqual(expect.arrayContaining(["loss", "step", "train", "validation"]));
    expect(b["text/plain"]).toBe('Figure("loss", line: 2 series, 6 points)');
  });

  it("takes typed arrays and tensor-likes, and names mismatched lengths", () => {
    const tensorLike = { shape: [3], dataSync: () => new Float32Array([1, 4, 9]) };
    const p = plot.line(tensorLike).toPlotly();
    expect(p.data[0]!.y).toEqual([1, 4, 9]);
    expect(p.data[0]!.x).toEqual([0, 1, 2]);
    expect(() => plot.line([1, 2], [1, 2, 3])).toThrow("plot.line: x and y differ in length (2 != 3)");
  });

  it("histogram counts agree with numpy.histogram", () => {
    const values = Array.from({ length: 500 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const fig = plot.hist(values, { bins: 12 });
    const counts = (fig.toPlotly().data[0] as { y: number[] }).y;
    const expected = py(
      "import json,sys,numpy as np; v=json.load(sys.stdin); print(json.dumps(np.histogram(v, bins=12)[0].tolist()))",
      values,
    );
    expect(counts).toEqual(expected);
  });

  it("confusion matrix counts (true, predicted) pairs and writes them in", () => {
    const fig = plot.confusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], { labels: ["a", "b", "c"] });
    const panel = fig.spec.panels[0]!;
    expect(panel.kind === "heatmap" && panel.values).toEqual([1, 1, 0, 0, 1, 0, 1, 0, 2]);
    const [svg] = parseSVGs([fig.toSVG()]);
    expect(svg!.rects).toBeGreaterThanOrEqual(10); // background + 9 cells
    expect(svg!.texts).toEqual(expect.arrayContaining(["a", "b", "c", "2", "predicted", "true"]));
    expect(() => plot.confusionMatrix([0, 3], [0, 1], { numClasses: 3 })).toThrow("labels must be integers in [0, 3)");
  });

  it("image grids take [N,H,W], [N,1,H,W] and [N,3,H,W] and reject other shapes", () => {
    const pixels = { shape: [4, 1, 2, 2], dataSync: () => new Float32Array(16).map((_, i) => i) };
    const fig = plot.images(pixels, { cols: 2, titles: ["0", "1", "2", "3"] });
    expect(fig.spec.rows).toBe(2);
    expect(fig.spec.panels).toHaveLength(4);
    // One embedded PNG per image (not a rectangle per pixel), in the SVG and in plotly's JSON.
    const [svg] = parseSVGs([fig.toSVG()]);
    expect(svg!.images).toHaveLength(4);
    expect(svg!.texts).toEqual(["0", "1", "2", "3"]);
    const traces = fig.toPlotly().data as { type: string; source: string }[];
    expect(traces.map((t) => t.type)).toEqual(["image", "image", "image", "image"]);
    expect(traces[3]!.source).toBe(svg!.images[3]);
    // Ink on paper over the batch's range 0..15: image 3 holds 12..15, the darkest pixels.
    const last = decodePng(traces[3]!.source);
    expect([last.w, last.h]).toEqual([2, 2]);
    const grey = (v: number) => Math.round(255 * (1 - v / 15));
    expect([0, 4, 8, 12].map((k) => last.rgba[k])).toEqual([12, 13, 14, 15].map(grey));
    const rgb = { shape: [1, 3, 1, 2], dataSync: () => new Float32Array([1, 0, 0, 1, 0, 0]) };
    const png = decodePng((plot.images(rgb).toPlotly().data[0] as { source: string }).source);
    expect(png.rgba).toEqual([255, 0, 0, 255, 0, 255, 0, 255]);
    expect(() => plot.images({ shape: [2, 5], dataSync: () => new Float32Array(10) })).toThrow("got shape [2,5]");
  });

  it("heatmaps and scatter plots by class", () => {
    const h = plot.heatmap([[1, 2], [3, 4]], { xticks: ["x0", "x1"] }).toPlotly();
    expect((h.data[0] as { z: number[][] }).z).toEqual([[1, 2], [3, 4]]);
    const s = plot.scatter([1, 2, 3, 4], [1, 2, 3, 4], { color: [0, 1, 0, 1], classNames: ["setosa", "virginica"] }).toPlotly();
    expect(s.data.map((t) => [t.name, t.x])).toEqual([["setosa", [1, 3]], ["virginica", [2, 4]]]);
  });

  it("ticks are round numbers covering the range", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3.7, 12.2, 4)).toEqual([0, 5, 10]);
  });

  it("plotly.js is sent once per session before the first figure", () => {
    const { host, log } = fakeHost();
    installDisplayHost(host);
    plot.line([1, 2]).mimeBundle();
    plot.line([1, 2]).mimeBundle();
    const scripts = log.filter((e) => e.kind === "display" && String(e.bundle?.["text/html"]).includes("window.Plotly"));
    expect(scripts).toHaveLength(1);
    expect((scripts[0]!.bundle!["text/html"] as string).length).toBeGreaterThan(1_000_000);
  });
});

describe("live plots", () => {
  it("display once, then update in place; validation keys join their metric", () => {
    const { host, log, idle } = fakeHost();
    installDisplayHost(host);
    const live = plot.live({ title: "training", throttleMs: 60_000 });
    const shown = log.filter((e) => e.kind === "display" && e.id === live.displayId);
    expect(shown).toHaveLength(1);
    for (let step = 0; step < 5; step++) live.push({ step, loss: 1 / (step + 1), val_loss: 1.2 / (step + 1), accuracy: step / 5 });
    // Throttled: nothing drawn yet, one flush registered for the end of the cell.
    expect(log.filter((e) => e.kind === "update")).toHaveLength(0);
    expect(idle).toHaveLength(1);
    idle[0]!();
    const updates = log.filter((e) => e.kind === "update");
    expect(updates).toHaveLength(1);
    expect(updates[0]!.id).toBe(live.displayId);
    const fig = updates[0]!.bundle!["application/vnd.plotly.v1+json"] as { data: { name: string; y: number[]; xaxis: string }[] };
    expect(fig.data.map((t) => [t.name, t.xaxis])).toEqual([["training", "x"], ["validation", "x"], ["training", "x2"]]);
    expect(fig.data[1]!.y).toEqual([0, 1, 2, 3, 4].map((s) => 1.2 / (s + 1)));
    live.close();
    expect(log.filter((e) => e.kind === "update")).toHaveLength(1); // nothing new to draw
  });

  it("keeps the metrics it is told to, in order", () => {
    const live = plot.live({ metrics: ["accuracy", "loss"] });
    live.push({ loss: 2, accuracy: 0.5, lr: 0.1 });
    const fig = live.figure();
    expect(fig.spec.panels.map((p) => p.title)).toEqual(["accuracy", "loss"]);
    expect(() => live.push({ loss: "x" as unknown as number })).toThrow('"loss" must be a number');
  });
});

describe("progress bars", () => {
  it("display, throttled updates, and a final state without times", () => {
    const { host, log } = fakeHost();
    installDisplayHost(host);
    const seen: number[] = [];
    const bar = progress([10, 20, 30, 40], { desc: "epoch 1", throttleMs: 60_000 });
    for (const v of bar) {
      seen.push(v);
      bar.setPostfix({ loss: 0.123456 });
    }
    expect(seen).toEqual([10, 20, 30, 40]);
    expect(log[0]!.kind).toBe("display");
    const last = log.at(-1)!;
    expect(last.kind).toBe("update");
    expect(last.bundle!["text/plain"]).toBe("epoch 1: 100%|████████████████████| 4/4, loss=0.1235");
    expect(last.bundle!["text/html"]).toMatch(/<progress value="4" max="4"[^>]*><\/progress><span>4\/4 \[\d\d:\d\d&lt;\d\d:\d\d, [\d.]+(it\/s|s\/it)\], loss=0.1235<\/span>/);
    expect(log.length).toBeLessThanOrEqual(3);
  });

  it("counts a range and closes when the loop breaks", () => {
    const { host, log } = fakeHost();
    installDisplayHost(host);
    for (const i of progress(10)) if (i === 3) break;
    expect(log.at(-1)!.bundle!["text/plain"]).toBe(" 30%|██████              | 3/10");
    expect(() => progress(-1)).toThrow("total must be a non-negative integer");
  });
});
