// Module loading for cells: `import` in a cell becomes `await __tensorbook_rt.imp(spec)`.
//
//   "tslab"                 the compatibility module (cellapi.ts), installed or not
//   "tensorbook"            this project's library (dist/src/index.js, else src/index.ts)
//   node: and builtin names Node's own modules
//   "./x", "../x", "/abs"   files relative to the notebook's folder, with or without
//                           extension (.ts, .tsx, .mts, .js, .mjs, .cjs, index files);
//                           an edited .ts file is reloaded by the next import
//   anything else           an npm package resolved from the notebook's folder
//                           (import-meta-resolve), CommonJS or ESM-only
//
// Loading is Node's native `import()`: a CommonJS module's default import is
// module.exports and its named exports are what cjs-module-lexer finds. TypeScript files
// (and their own relative imports, extensionless or `.js` meaning `.ts`) go through a
// module loader hook registered once with module.register(); it transpiles with
// typescript's transpileModule and inline source maps (Node maps their stack frames).

import * as fs from "node:fs";
import { isBuiltin, register } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as vm from "node:vm";
import { resolve as resolveSpecifier } from "import-meta-resolve";
import { router } from "./cellapi.js";
import { projectRoot } from "./checker.js";

type Importer = (url: string) => Promise<Record<string, unknown>>;

// A native import() that bundlers and test runners leave alone (they rewrite `import(` in
// module source), so cells load modules exactly as in the kernel process. Where the host
// gives Function-made code no import callback (code itself run through vm, as test runners
// do), fall back to a vm script using Node's default loader.
let nativeImport = new Function("u", "return import(u)") as Importer;
let fellBack = false;

async function importUrl(url: string): Promise<Record<string, unknown>> {
  try {
    return await nativeImport(url);
  } catch (e) {
    if (fellBack || (e as { code?: string }).code !== "ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING") throw e;
    fellBack = true;
    const script = new vm.Script("(u) => import(u)", {
      filename: "tensorbook-import",
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    const viaVm = script.runInThisContext() as Importer;
    // Outside the cell's context: Node's one-time ExperimentalWarning for this loader
    // belongs to the kernel's stderr, not to the cell's output.
    nativeImport = (u) => router.context.exit(() => viaVm(u));
    return nativeImport(url);
  }
}

const TS_FILE = /\.(ts|tsx|mts|cts)$/;
const PROBE = [".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", ".json"];

let hookInstalled = false;

/** The loader hook source: runs on Node's loader thread, so it is plain JavaScript. */
function hookSource(tsUrl: string): string {
  return `
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
const TS = ${TS_FILE.toString()};
const PROBE = ${JSON.stringify(PROBE)};
let ts;
function isFile(p) { try { return statSync(p).isFile(); } catch { return false; } }
function probe(p) {
  if (isFile(p)) return p;
  if (p.endsWith(".js") && isFile(p.slice(0, -3) + ".ts")) return p.slice(0, -3) + ".ts";
  for (const e of PROBE) if (isFile(p + e)) return p + e;
  for (const e of PROBE) if (isFile(p + "/index" + e)) return p + "/index" + e;
  return undefined;
}
function versioned(file) {
  const url = pathToFileURL(file).href;
  if (!TS.test(file) || file.includes("/node_modules/")) return url;
  try { return url + "?v=" + statSync(file).mtimeMs; } catch { return url; }
}
export async function resolve(spec, ctx, next) {
  const parent = ctx.parentURL;
  if (parent && parent.startsWith("file:") && TS.test(new URL(parent).pathname) && /^\\.\\.?\\//.test(spec)) {
    const hit = probe(fileURLToPath(new URL(spec, parent)));
    if (hit) return { url: versioned(hit), shortCircuit: true };
  }
  return next(spec, ctx);
}
export async function load(url, ctx, next) {
  if (url.startsWith("file:") && TS.test(new URL(url).pathname)) {
    ts ??= (await import(${JSON.stringify(tsUrl)})).default;
    const file = fileURLToPath(url);
    const out = ts.transpileModule(readFileSync(file, "utf8"), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, inlineSourceMap: true, inlineSources: true, esModuleInterop: true },
    });
    return { format: "module", source: out.outputText, shortCircuit: true };
  }
  return next(url, ctx);
}
`;
}

function installTsHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  const tsUrl = pathToFileURL(path.join(projectRoot(), "node_modules", "typescript", "lib", "typescript.js")).href;
  register("data:text/javascript," + encodeURIComponent(hookSource(tsUrl)));
  process.setSourceMapsEnabled(true);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A relative/absolute path as a file: exact, `.js` meaning `.ts`, extensions, index files. */
export function probeFile(p: string): string | undefined {
  if (isFile(p)) return p;
  if (p.endsWith(".js") && isFile(p.slice(0, -3) + ".ts")) return p.slice(0, -3) + ".ts";
  for (const e of PROBE) if (isFile(p + e)) return p + e;
  for (const e of PROBE) if (isFile(path.join(p, "index" + e))) return path.join(p, "index" + e);
  return undefined;
}

/**
 * A user .ts file's URL carries its mtime (`?v=`), here and in the loader hook alike: an
 * edited file is loaded afresh by the next import, an unchanged one stays the same
 * module instance. Plain .js files keep Node's own identity (no query), since Node
 * resolves their relative imports itself.
 */
function versionedUrl(file: string): string {
  const url = pathToFileURL(file).href;
  if (!TS_FILE.test(file) || file.includes(`${path.sep}node_modules${path.sep}`)) return url;
  try {
    return `${url}?v=${fs.statSync(file).mtimeMs}`;
  } catch {
    return url;
  }
}

/** The URL of this project's library entry point. */
export function libraryUrl(): string {
  const root = projectRoot();
  const built = path.join(root, "dist", "src", "index.js");
  if (isFile(built)) return pathToFileURL(built).href;
  return pathToFileURL(path.join(root, "src", "index.ts")).href;
}

export class ModuleLoader {
  private readonly base: string;

  constructor(
    private readonly cwd: string,
    private readonly tslab: () => Record<string, unknown>,
  ) {
    this.base = pathToFileURL(path.resolve(cwd) + path.sep).href;
  }

  /** Loads a module for a cell; errors name the specifier and where it was looked for. */
  async load(spec: unknown): Promise<Record<string, unknown>> {
    if (typeof spec !== "string") throw new TypeError(`import(): the module specifier must be a string, got ${typeof spec}`);
    if (spec === "tslab") return this.tslab();
    const url = this.resolve(spec);
    if (url.startsWith("file:") && TS_FILE.test(new URL(url).pathname)) installTsHook();
    return importUrl(url);
  }

  resolve(spec: string): string {
    if (spec === "tensorbook") return libraryUrl();
    if (spec.startsWith("node:") || isBuiltin(spec)) return spec;
    if (spec.startsWith("file:")) return spec;
    if (spec.startsWith("./") || spec.startsWith("../") || path.isAbsolute(spec)) {
      const hit = probeFile(path.resolve(this.cwd, spec));
      if (!hit) throw new Error(`Cannot find module '${spec}' from ${this.cwd} (tried the path, .ts/.js/.mjs/.cjs/.json extensions and index files)`);
      return versionedUrl(hit);
    }
    try {
      return resolveSpecifier(spec, this.base);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`Cannot find package '${spec}' from ${this.cwd}: ${why}. Install it in the notebook's folder (npm install ${spec}).`);
    }
  }
}
