// The `tensorbook` command (bin/tensorbook.js calls main):
//   tensorbook install [--user | --sys-prefix | --prefix P] [--name N] [--interrupt-mode message|signal]
//   tensorbook kernel -f <connection file>
//   tensorbook run <notebook.ipynb> [-o out.ipynb] [--allow-errors]
//   tensorbook start        install --user, then run notebooks/tour.ipynb and print the result's path
//
// The kernel command sizes V8's heap from the machine's memory when the kernelspec is
// written: V8's own default stops at about 4 GiB whatever the machine has, and a JS heap
// that runs out is fatal to the process (V8 aborts; nothing in JS can catch it).

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { jupyterDataDir } from "./history.js";
import { projectRoot } from "./kernel-info.js";
import { connectionFileFromArgv, runKernel } from "./main.js";
import { runNotebook } from "./runner.js";

export const NODE_FLAGS = ["--expose-gc", "--experimental-wasm-relaxed-simd"];

/**
 * Environment of the kernel process (kernel.json's "env"). glibc's malloc keeps memory
 * freed by V8's background compiler threads in per-thread arenas and returns little of it:
 * over 1000 cells that was ~200 MB of RSS beyond the V8 heap. Two arenas and trimming
 * above 1 MB keep it near 50 MB. Other C libraries ignore these variables.
 */
export const KERNEL_ENV: Record<string, string> = { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "1048576" };

export interface KernelSpec {
  argv: string[];
  env: Record<string, string>;
  display_name: string;
  language: string;
  interrupt_mode: "message" | "signal";
  metadata: Record<string, unknown>;
}

/**
 * V8's old-space limit for the kernel, in MiB: 3/4 of the memory this process may use (the
 * machine's, or a smaller cgroup limit), leaving the rest to the WebAssembly heap, typed
 * arrays (both outside V8's heap) and the system.
 */
export function heapLimitMiB(memory = usableMemory()): number {
  return Math.max(512, Math.floor((memory * 0.75) / 2 ** 20));
}

function usableMemory(): number {
  const total = totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  // 0, undefined or 2^64 when there is no cgroup limit.
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

/** The kernel command: absolute node, flags, absolute dist/kernel/main.js (also when this module runs from source, as in tests). */
export function kernelArgv(): string[] {
  return [process.execPath, ...NODE_FLAGS, `--max-old-space-size=${heapLimitMiB()}`, join(projectRoot(), "dist", "kernel", "main.js"), "-f", "{connection_file}"];
}

export function kernelSpec(interruptMode: "message" | "signal" = "message"): KernelSpec {
  return {
    argv: kernelArgv(),
    env: KERNEL_ENV,
    display_name: "TypeScript (tensorbook)",
    language: "typescript",
    interrupt_mode: interruptMode,
    metadata: { debugger: false, tensorbook: { root: projectRoot() } },
  };
}

export interface InstallOptions {
  where: { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; path: string };
  name: string;
  interruptMode: "message" | "signal";
  env?: NodeJS.ProcessEnv;
}

/** The kernels/ folder Jupyter searches for each install location. */
export function kernelsDir(where: InstallOptions["where"], env: NodeJS.ProcessEnv = process.env): string {
  switch (where.kind) {
    case "user":
      return join(jupyterDataDir(env), "kernels");
    case "sys-prefix":
      // Node's own prefix (e.g. /usr or /usr/local), whose share/jupyter Jupyter searches.
      return join(dirname(dirname(process.execPath)), "share", "jupyter", "kernels");
    case "prefix":
      return join(resolve(where.path), "share", "jupyter", "kernels");
  }
}

/** Writes <kernels dir>/<name>/{kernel.json, logo-32x32.png, logo-64x64.png}; returns the folder. */
export function installKernelSpec(options: InstallOptions): string {
  if (!/^[a-zA-Z0-9._-]+$/.test(options.name)) {
    throw new Error(`install: kernel name "${options.name}" may only contain letters, digits, ".", "_" and "-" (Jupyter's rule)`);
  }
  const dir = join(kernelsDir(options.where, options.env), options.name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), JSON.stringify(kernelSpec(options.interruptMode), null, 2) + "\n");
  const logos = join(projectRoot(), "kernel", "logos");
  for (const size of [32, 64]) copyFileSync(join(logos, `logo-${size}x${size}.png`), join(dir, `logo-${size}x${size}.png`));
  return dir;
}

export function parseInstallArgs(args: string[]): InstallOptions {
  let where: InstallOptions["where"] = { kind: "user" };
  let name = "tensorbook";
  let interruptMode: "message" | "signal" = "message";
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`install: ${a} needs a value`);
      return v;
    };
    if (a === "--user") where = { kind: "user" };
    else if (a === "--sys-prefix") where = { kind: "sys-prefix" };
    else if (a === "--prefix") where = { kind: "prefix", path: value() };
    else if (a.startsWith("--prefix=")) where = { kind: "prefix", path: a.slice(9) };
    else if (a === "--name") name = value();
    else if (a.startsWith("--name=")) name = a.slice(7);
    else if (a === "--interrupt-mode") {
      const m = value();
      if (m !== "message" && m !== "signal") throw new Error(`install: --interrupt-mode must be "message" or "signal", got "${m}"`);
      interruptMode = m;
    } else throw new Error(`install: unknown option ${a}; use --user, --sys-prefix, --prefix P, --name N, --interrupt-mode message|signal`);
  }
  return { where, name, interruptMode };
}

const USAGE = `usage:
  tensorbook install [--user | --sys-prefix | --prefix P] [--name N] [--interrupt-mode message|signal]
  tensorbook kernel -f <connection file>
  tensorbook run <notebook.ipynb> [-o <out.ipynb>] [--allow-errors]
  tensorbook start`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "install": {
        const dir = installKernelSpec(parseInstallArgs(rest));
        console.log(`Installed the tensorbook kernelspec in ${dir}`);
        return 0;
      }
      case "kernel": {
        const file = connectionFileFromArgv(rest);
        if (!file) throw new Error("kernel: missing -f <connection file>");
        await runKernel(file);
        return await new Promise<number>(() => {}); // the kernel exits the process itself
      }
      case "run": {
        const nb = rest.find((a) => !a.startsWith("-") && rest[rest.indexOf(a) - 1] !== "-o");
        if (!nb) throw new Error("run: missing the notebook path");
        const o = rest.indexOf("-o");
        const output = o >= 0 && rest[o + 1] ? resolve(rest[o + 1]!) : join(dirname(resolve(nb)), "executed", resolve(nb).split("/").pop()!);
        const report = await runNotebook(resolve(nb), { argv: kernelArgv(), output, allowErrors: rest.includes("--allow-errors") });
        console.log(report.output);
        return 0;
      }
      case "start": {
        const dir = installKernelSpec({ where: { kind: "user" }, name: "tensorbook", interruptMode: "message" });
        console.error(`Installed the tensorbook kernelspec in ${dir}`);
        const root = projectRoot();
        const tour = join(root, "notebooks", "tour.ipynb");
        const output = join(root, "notebooks", "executed", "tour.ipynb");
        console.error(`Running ${tour} ...`);
        const report = await runNotebook(tour, { argv: kernelArgv(), output });
        console.error(`Executed ${report.cells} code cells.`);
        console.log(report.output);
        return 0;
      }
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`tensorbook: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    console.error(`tensorbook: ${(e as Error).message}`);
    return 1;
  }
}
