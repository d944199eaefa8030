// Live outputs through the real kernel: a cell driving tb.plot.live and tb.progress produces
// display_data, then update_display_data for the same display id, all before the cell's
// idle, and the last update holds the complete state (what an executed notebook keeps).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KernelClient } from "../../kernel/client.js";
import type { Message } from "../../kernel/wire.js";
import { launchKernel } from "../kernel/helpers/kernel-process.js";

let kernel: KernelClient;

beforeAll(async () => {
  kernel = await launchKernel({ engine: "typescript" });
}, 120_000);

afterAll(async () => {
  await kernel?.shutdown();
});

type DisplayContent = { data: Record<string, unknown>; transient?: { display_id?: string } };
const kind = (m: Message) => m.header.msg_type;
const content = (m: Message) => m.content as unknown as DisplayContent;

describe("live outputs through the kernel", () => {
  it("a live plot is displayed once and updated in place; the last update has every point", async () => {
    const r = await kernel.execute(
      [
        'import * as tb from "tensorbook";',
        'const live = tb.plot.live({ title: "loss", throttleMs: 0 });',
        "for (let step = 0; step < 20; step++) {",
        "  live.push({ step, loss: 1 / (step + 1), val_loss: 1.5 / (step + 1) });",
        "  const until = Date.now() + 2; while (Date.now() < until) {}",
        "}",
      ].join("\n"),
      {},
      120_000,
    );
    expect(r.reply.content.status).toBe("ok");
    // plotly.js goes out once, as its own output, before the first figure.
    const kinds = r.outputs.map(kind);
    expect(kinds[0]).toBe("display_data");
    expect(String(content(r.outputs[0]!).data["text/html"])).toContain("window.Plotly");
    const figureOutputs = r.outputs.filter((m) => "application/vnd.plotly.v1+json" in content(m).data);
    expect(figureOutputs.map(kind)[0]).toBe("display_data");
    const id = content(figureOutputs[0]!).transient?.display_id;
    expect(id).toMatch(/^tensorbook-live-\d+$/);
    const updates = figureOutputs.slice(1);
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) {
      expect(kind(u)).toBe("update_display_data");
      expect(content(u).transient?.display_id).toBe(id);
    }
    const last = content(updates.at(-1)!).data["application/vnd.plotly.v1+json"] as { data: { name: string; y: number[] }[] };
    expect(last.data.map((t) => [t.name, t.y.length])).toEqual([["training", 20], ["validation", 20]]);
    expect(content(updates.at(-1)!).data["text/plain"]).toBe('Figure("loss", line: 2 series, 40 points)');
  });

  it("a progress bar updates in place and ends complete", async () => {
    const r = await kernel.execute('for (const i of tb.progress(50, { desc: "epoch" })) { const until = Date.now() + 1; while (Date.now() < until) {} }', {}, 60_000);
    expect(r.reply.content.status).toBe("ok");
    const first = r.outputs[0]!;
    expect(kind(first)).toBe("display_data");
    const id = content(first).transient?.display_id;
    expect(id).toMatch(/^tensorbook-progress-\d+$/);
    const last = r.outputs.at(-1)!;
    expect(kind(last)).toBe("update_display_data");
    expect(content(last).transient?.display_id).toBe(id);
    expect(content(last).data["text/plain"]).toBe("epoch: 100%|████████████████████| 50/50");
  });
});
