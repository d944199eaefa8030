// Runs test_output.py against the built kernel through Jupyter's own client: batched stream
// output with nothing lost, control answered during a busy cell, late timer output under
// its own cell. A fresh JUPYTER_DATA_DIR holds the kernelspec written by `tensorbook install`.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { installKernelSpec } from "../../kernel/cli.js";
import { root } from "../kernel/helpers/kernel-process.js";

const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";

describe("output and control under load, through jupyter_client", () => {
  it("sends every line, answers control during a loop, and sends late output under its cell", () => {
    const data = mkdtempSync(join(tmpdir(), "tb-output-"));
    const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: data, JUPYTER_PATH: data, JUPYTER_RUNTIME_DIR: join(data, "runtime"), PYTHONDONTWRITEBYTECODE: "1" };
    delete env.TENSORBOOK_ENGINE;
    installKernelSpec({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message", env });
    const r = spawnSync(python, [join(root, "test", "python", "test_output.py")], { cwd: join(root, "test", "python"), env, encoding: "utf8", timeout: 290_000 });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`;
    expect(out, out).toMatch(/Ran 5 tests/);
    expect(out, out).toMatch(/\nOK\n|\nOK$/);
    expect(out).not.toMatch(/terminate called|Napi::Error/);
    expect(r.status).toBe(0);
    console.log(out.split("\n").filter((l) => /^rss /.test(l)).join("\n"));
  }, 300_000);
});
