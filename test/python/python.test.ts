// Runs the Python checks against the built kernel: Jupyter's kernel test suite
// (test_conformance.py), nbclient executing a 30-cell notebook 20 times (test_nbclient.py),
// KernelManager interrupts in both interrupt modes (test_interrupt.py), and interrupts of
// multi-threaded tensorbook work that must leave the library consistent
// (test_interrupt_state.py). Each gets a fresh JUPYTER_DATA_DIR with the kernelspecs
// installed by `tensorbook install`.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { installKernelSpec } from "../../kernel/cli.js";
import { root } from "../kernel/helpers/kernel-process.js";

const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";

function runPython(script: string, timeoutMs: number): { code: number | null; out: string } {
  const data = mkdtempSync(join(tmpdir(), "tb-jupyter-"));
  const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: data, JUPYTER_PATH: data, JUPYTER_RUNTIME_DIR: join(data, "runtime"), PYTHONDONTWRITEBYTECODE: "1" };
  delete env.TENSORBOOK_ENGINE;
  installKernelSpec({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message", env });
  installKernelSpec({ where: { kind: "user" }, name: "tensorbook-signal", interruptMode: "signal", env });
  const r = spawnSync(python, [join(root, "test", "python", script)], { cwd: join(root, "test", "python"), env, encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

describe("Python clients against the kernel", () => {
  it("passes jupyter_kernel_test's KernelTests, none skipped", () => {
    const { code, out } = runPython("test_conformance.py", 170_000);
    expect(out, out).toMatch(/\nOK\n|\nOK$/);
    expect(out).not.toMatch(/skipped|FAIL|ERROR/);
    expect(out).toMatch(/Ran 12 tests/);
    expect(code).toBe(0);
  }, 180_000);

  it("nbclient runs a 30-cell notebook 20 times with the same outputs and counts", () => {
    // About 4 s per run on an idle 2-core machine; generous for a loaded one.
    const { code, out } = runPython("test_nbclient.py", 380_000);
    expect(out, out).toMatch(/Ran 1 test/);
    expect(out, out).toMatch(/\nOK\n|\nOK$/);
    expect(code).toBe(0);
  }, 400_000);

  it("KernelManager.interrupt_kernel stops sync loops and pending awaits in both modes, keeping state", () => {
    const { code, out } = runPython("test_interrupt.py", 110_000);
    expect(out, out).toMatch(/Ran 2 tests/);
    expect(out, out).toMatch(/\nOK\n|\nOK$/);
    expect(out.match(/execute_reply [\d.]+ ms after interrupt_kernel/g)).toHaveLength(4);
    expect(code).toBe(0);
    console.log(out.split("\n").filter((l) => l.includes("ms after interrupt")).join("\n"));
  }, 120_000);

  it("interrupts of tensorbook on 2 threads in both modes leave it consistent: the next cell's results are bit-identical", () => {
    // 36 interrupts per mode (20 inside matmul loops; compiled and eager training, an await
    // in tb.scope, a DataLoader loop), each followed by a check; about 30 s per mode.
    const { code, out } = runPython("test_interrupt_state.py", 230_000);
    expect(out, out).toMatch(/Ran 2 tests/);
    expect(out, out).toMatch(/\nOK\n|\nOK$/);
    expect(out.match(/interrupt state \w+ *: 36 interrupts, each followed by an identical check/g)).toHaveLength(2);
    expect(code).toBe(0);
    console.log(out.split("\n").filter((l) => l.includes("interrupt state")).join("\n"));
  }, 240_000);
});
