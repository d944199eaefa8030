// Runs test_abuse.py against the built kernel: the kernel under abuse through Jupyter's own
// client, with ipykernel as the standard (unsendable values, process.exit, large heaps,
// replayed messages, signature schemes, silent errors, history, debug_request, a killed
// parent). A fresh JUPYTER_DATA_DIR holds the kernelspec written by `tensorbook install`.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { installKernelSpec } from "../../kernel/cli.js";
import { root } from "../kernel/helpers/kernel-process.js";

const python = process.env.TENSORBOOK_PYTHON ?? "/usr/bin/python3";

describe("the kernel under abuse, through jupyter_client", () => {
  it("lives through bad values, exits as asked, follows its parent, and answers as ipykernel", () => {
    const data = mkdtempSync(join(tmpdir(), "tb-abuse-"));
    const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: data, JUPYTER_PATH: data, JUPYTER_RUNTIME_DIR: join(data, "runtime"), PYTHONDONTWRITEBYTECODE: "1" };
    delete env.TENSORBOOK_ENGINE;
    installKernelSpec({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message", env });
    // About 80 s on an idle 2-core machine, most of it filling 8 GiB of arrays.
    const r = spawnSync(python, [join(root, "test", "python", "test_abuse.py")], { cwd: join(root, "test", "python"), env, encoding: "utf8", timeout: 590_000 });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`;
    expect(out, out).toMatch(/Ran 10 tests/);
    expect(out, out).toMatch(/\nOK\n|\nOK$/);
    expect(out).not.toMatch(/terminate called|Napi::Error/);
    expect(r.status).toBe(0);
    console.log(out.split("\n").filter((l) => /^(heap|parent killed):/.test(l)).join("\n"));
  }, 600_000);
});
