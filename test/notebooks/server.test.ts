// Server check (issue 6): Debian's jupyter-notebook server, started on 127.0.0.1 with a
// token in a temporary directory, lists the tensorbook kernel, and a cell sent through its
// REST and websocket channels API (server_check.py, as a browser front end would) runs in
// the kernel and returns its execute_result.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jupyterDataDir, PYTHON, run } from "./jupyter.js";

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

const token = randomBytes(16).toString("hex");
let server: ChildProcess | undefined;
let base = "";
let env: NodeJS.ProcessEnv = {};
let log = "";

beforeAll(async () => {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), "tensorbook-server-"));
  env = {
    ...process.env,
    JUPYTER_DATA_DIR: jupyterDataDir(),
    JUPYTER_CONFIG_DIR: join(root, "config"),
    JUPYTER_RUNTIME_DIR: join(root, "runtime"),
  };
  base = `http://127.0.0.1:${port}`;
  server = spawn(PYTHON, ["-m", "notebook", "--no-browser", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0",
    `--NotebookApp.token=${token}`, `--notebook-dir=${root}`,
    // The server refuses to run as root unless told (CI containers often are root).
    ...(process.getuid?.() === 0 ? ["--allow-root"] : [])], { env, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout!.on("data", (b: Buffer) => (log += b.toString()));
  server.stderr!.on("data", (b: Buffer) => (log += b.toString()));
  // Ready when the API answers.
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${base}/api/status`, { headers: { Authorization: `token ${token}` } });
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (i > 300 || server.exitCode !== null) throw new Error(`jupyter notebook did not start: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
});

describe("Debian's jupyter-notebook server", () => {
  it("refuses the API without the token", async () => {
    const res = await fetch(`${base}/api/kernelspecs`);
    expect(res.status).toBe(403);
  });

  it("lists the tensorbook kernelspec", async () => {
    const res = await fetch(`${base}/api/kernelspecs`, { headers: { Authorization: `token ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { kernelspecs: Record<string, { spec: { display_name: string; language: string } }> };
    expect(body.kernelspecs.tensorbook?.spec).toMatchObject({ display_name: "TypeScript (tensorbook)", language: "typescript" });
  });

  it("runs a cell sent over REST + websocket and returns its execute_result", async () => {
    const code = 'import * as tb from "tensorbook";\nconst t = tb.tensor([[1, 2], [3, 4]]);\nconsole.log("sum", t.sum().item());\nt.matmul(t).tolist()';
    const done = await run(PYTHON, [join(import.meta.dirname, "server_check.py"), base, token, code], { env, timeoutMs: 120_000 });
    expect(done.code, done.stderr + log.slice(-2000)).toBe(0);
    const result = JSON.parse(done.stdout) as {
      kernelspecs: string[]; status: string; errors: unknown[];
      execute_result: { data: Record<string, string>; execution_count: number } | null; streams: { name: string; text: string }[];
    };
    expect(result.kernelspecs).toContain("tensorbook");
    expect(result.errors).toEqual([]);
    expect(result.status).toBe("ok");
    expect(result.streams.map((s) => s.text).join("")).toBe("sum 10\n");
    // [[1,2],[3,4]] @ [[1,2],[3,4]] = [[7,10],[15,22]]
    expect(result.execute_result?.data["text/plain"]?.replace(/\s+/g, " ")).toBe("[ [ 7, 10 ], [ 15, 22 ] ]");
    expect(result.execute_result?.execution_count).toBe(1);
  }, 150_000);
});
