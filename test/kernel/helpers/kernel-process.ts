// Launches the built kernel (dist/kernel/main.js) as a real process for socket-level tests.
// By default it runs the plain JS test engine (helpers/js-engine.ts, transpiled once into a
// temp folder and named by TENSORBOOK_ENGINE), so these tests exercise sockets, signing and
// threads without depending on the TypeScript cell compiler.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { KernelClient } from "../../../kernel/client.js";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const kernelMain = join(root, "dist", "kernel", "main.js");
export const kernelFlags = ["--expose-gc", "--experimental-wasm-relaxed-simd"];

let engineUrl: string | undefined;

/** The JS test engine as an ES module file URL. */
export function jsEngineUrl(): string {
  if (engineUrl) return engineUrl;
  const src = readFileSync(join(root, "test", "kernel", "helpers", "js-engine.ts"), "utf8");
  const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
  const dir = mkdtempSync(join(tmpdir(), "tb-js-engine-"));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "js-engine.mjs");
  writeFileSync(file, out);
  engineUrl = pathToFileURL(file).href;
  return engineUrl;
}

export async function launchKernel(options: { engine?: "js" | "typescript"; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<KernelClient> {
  const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: mkdtempSync(join(tmpdir(), "tb-data-")), ...options.env };
  if ((options.engine ?? "js") === "js") env.TENSORBOOK_ENGINE = jsEngineUrl();
  else delete env.TENSORBOOK_ENGINE;
  return KernelClient.launch({ argv: [process.execPath, ...kernelFlags, kernelMain, "-f", "{connection_file}"], env, cwd: options.cwd ?? root, stderr: "collect" });
}
