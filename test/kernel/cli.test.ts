// The tensorbook CLI and the headless runner: kernelspec install locations and contents
// (checked by Jupyter's own `jupyter kernelspec list`), the logos as valid PNGs, output
// assembly (stream merging, clear_output wait, display updates), and a notebook run end to
// end through the real kernel.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { crc32, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { heapLimitMiB, installKernelSpec, kernelsDir, main, parseInstallArgs } from "../../kernel/cli.js";
import { OutputCollector, runNotebook } from "../../kernel/runner.js";
import { makeMessage, type JsonObject } from "../../kernel/wire.js";
import { kernelFlags, kernelMain } from "./helpers/kernel-process.js";

const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";

/** Minimal PNG reader: checks signature, chunk CRCs (node:zlib's crc32 as oracle), IHDR, and that IDAT inflates to the right size. */
function readPng(buf: Buffer): { width: number; height: number } {
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + len);
    expect(buf.readUInt32BE(at + 8 + len)).toBe(crc32(buf.subarray(at + 4, at + 8 + len)));
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 6]);
    }
    if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  expect(inflateSync(Buffer.concat(idat)).length).toBe((width * 4 + 1) * height);
  return { width, height };
}

describe("tensorbook CLI", () => {
  it("parses install options and rejects bad ones with the option's name", () => {
    expect(parseInstallArgs([])).toEqual({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message" });
    expect(parseInstallArgs(["--prefix", "/opt/x", "--name", "tb2", "--interrupt-mode", "signal"])).toEqual({ where: { kind: "prefix", path: "/opt/x" }, name: "tb2", interruptMode: "signal" });
    expect(parseInstallArgs(["--sys-prefix"]).where).toEqual({ kind: "sys-prefix" });
    expect(() => parseInstallArgs(["--bogus"])).toThrow(/--bogus/);
    expect(() => parseInstallArgs(["--interrupt-mode", "loud"])).toThrow(/interrupt-mode/);
    expect(kernelsDir({ kind: "prefix", path: "/opt/x" })).toBe("/opt/x/share/jupyter/kernels");
    expect(kernelsDir({ kind: "user" }, { JUPYTER_DATA_DIR: "/d" })).toBe("/d/kernels");
  });

  it("installs a kernelspec that `jupyter kernelspec list` shows, with absolute argv and real PNG logos", async () => {
    const data = mkdtempSync(join(tmpdir(), "tb-cli-"));
    const env = { ...process.env, JUPYTER_DATA_DIR: data };
    const dir = installKernelSpec({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message", env });
    expect(dir).toBe(join(data, "kernels", "tensorbook"));
    const spec = JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8")) as Record<string, unknown>;
    expect(spec).toMatchObject({ display_name: "TypeScript (tensorbook)", language: "typescript", interrupt_mode: "message" });
    // V8's heap sized from the machine: 3/4 of its memory (the default stops near 4 GiB).
    const heap = `--max-old-space-size=${Math.floor((totalmem() * 0.75) / 2 ** 20)}`;
    expect(spec.argv).toEqual([process.execPath, ...kernelFlags, heap, kernelMain, "-f", "{connection_file}"]);
    expect(heapLimitMiB(24 * 2 ** 30)).toBe(18432);
    expect(heapLimitMiB(2 ** 29)).toBe(512);
    expect(readPng(readFileSync(join(dir, "logo-32x32.png")))).toEqual({ width: 32, height: 32 });
    expect(readPng(readFileSync(join(dir, "logo-64x64.png")))).toEqual({ width: 64, height: 64 });
    const prefix = mkdtempSync(join(tmpdir(), "tb-prefix-"));
    const code = await main(["install", "--prefix", prefix, "--name", "tb-prefixed"]);
    expect(code).toBe(0);
    const listing = spawnSync(python, ["-m", "jupyter_client.kernelspecapp", "list", "--json"], { env: { ...env, JUPYTER_PATH: join(prefix, "share", "jupyter") }, encoding: "utf8" });
    const specs = (JSON.parse(listing.stdout) as { kernelspecs: Record<string, { resource_dir: string; spec: { display_name: string } }> }).kernelspecs;
    expect(specs.tensorbook?.resource_dir).toBe(dir);
    expect(specs.tensorbook?.spec.display_name).toBe("TypeScript (tensorbook)");
    expect(specs["tb-prefixed"]?.resource_dir).toBe(join(prefix, "share", "jupyter", "kernels", "tb-prefixed"));
  });

  it("answers unknown commands with usage and exit code 2", async () => {
    expect(await main(["frobnicate"])).toBe(2);
  });
});

describe("notebook runner", () => {
  it("assembles outputs as nbclient does: streams merge, clear_output(wait) waits, updates reach earlier cells", () => {
    const displays = new Map<string, JsonObject[]>();
    const m = (type: string, content: JsonObject) => makeMessage(type, content, undefined, "s");
    const first = new OutputCollector(displays);
    first.add(m("display_data", { data: { "text/plain": "0%" }, metadata: {}, transient: { display_id: "p" } }));
    const second = new OutputCollector(displays);
    for (const msg of [
      m("stream", { name: "stdout", text: "a" }),
      m("stream", { name: "stdout", text: "b\n" }),
      m("stream", { name: "stderr", text: "warn\n" }),
      m("clear_output", { wait: true }),
      m("update_display_data", { data: { "text/plain": "100%" }, metadata: {}, transient: { display_id: "p" } }),
      m("stream", { name: "stdout", text: "after\n" }),
      m("execute_result", { execution_count: 2, data: { "text/plain": "1" }, metadata: {} }),
      m("comm_open", { comm_id: "x", target_name: "t", data: {} }),
    ]) second.add(msg);
    expect(first.outputs).toEqual([{ output_type: "display_data", data: { "text/plain": "100%" }, metadata: {} }]);
    expect(second.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: "after\n" },
      { output_type: "execute_result", execution_count: 2, data: { "text/plain": "1" }, metadata: {} },
    ]);
  });

  it("runs a notebook through the real kernel and writes outputs and execution counts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-run-"));
    const cells = ['const n: number = 2;\nconsole.log("n is", n);\nn * 21', "# markdown", 'display.html("<i>hi</i>")', 'throw new Error("stop")', "n"];
    const nb = {
      cells: cells.map((source) => (source.startsWith("#") ? { cell_type: "markdown", metadata: {}, source } : { cell_type: "code", metadata: {}, source, outputs: [], execution_count: null })),
      metadata: {}, nbformat: 4, nbformat_minor: 5,
    };
    writeFileSync(join(dir, "nb.ipynb"), JSON.stringify(nb));
    const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: dir };
    delete env.TENSORBOOK_ENGINE;
    const argv = [process.execPath, ...kernelFlags, kernelMain, "-f", "{connection_file}"];
    await expect(runNotebook(join(dir, "nb.ipynb"), { argv, output: join(dir, "out.ipynb"), env })).rejects.toThrow(/cell 3 failed: Error: stop/);
    const report = await runNotebook(join(dir, "nb.ipynb"), { argv, output: join(dir, "out.ipynb"), env, allowErrors: true });
    expect(report).toMatchObject({ cells: 4, errors: 1 });
    const out = JSON.parse(readFileSync(join(dir, "out.ipynb"), "utf8")) as { cells: { execution_count?: number; outputs?: JsonObject[] }[] };
    expect(out.cells.map((c) => c.execution_count ?? null)).toEqual([1, null, 2, 3, 4]);
    expect(out.cells[0]!.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: "n is 2\n" },
      { output_type: "execute_result", execution_count: 1, data: { "text/plain": "42" }, metadata: {} },
    ]);
    expect(out.cells[2]!.outputs).toEqual([{ output_type: "display_data", data: { "text/html": "<i>hi</i>" }, metadata: {} }]);
    expect(out.cells[3]!.outputs![0]).toMatchObject({ output_type: "error", ename: "Error", evalue: "stop" });
    expect(out.cells[4]!.outputs![0]).toMatchObject({ data: { "text/plain": "2" } });
  });
});
