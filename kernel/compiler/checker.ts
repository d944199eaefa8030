// Type checking of notebook cells against the cells before them, over an in-memory host:
// a TypeScript program rebuilt per cell for checking and emit, and a LanguageService for
// completions and quick info; both share parsed files through one document registry.
//
// Virtual files, all in the notebook's folder so that relative imports resolve from there:
//   __tb_lib.d.ts       TypeScript's lib files (es2023 + esnext.disposable) as one text
//   __tb_globals.d.ts   the cell API (display, input, help, module "tslab"); never changes
//   __tb_prev_<id>.d.ts declarations carried from earlier cells, as `declare global { ... }`,
//                       one file per declaring cell (carry.ts)
//   __tb_cell.ts        the cell being run, "export-ified" (see below); one version per run
//   __tb_probe.ts       scratch file for complete/inspect/help
//
// Why this shape: a cell file is always a module (a trailing `export {}`), so its own
// top-level names shadow the carried globals of earlier cells instead of clashing with
// them: re-running `const x = 1` or redeclaring `interface Foo` just works. Every top-level
// declaration of the cell gets an `export ` inserted before it, so that TypeScript's own
// declaration emit (d.ts) writes a declaration for each of them with the inferred type;
// those become the carried text. The insertions shift columns on their line only; `Prepared`
// (prepare.ts) maps offsets back to the user's text.
//
// Performance: only __tb_cell.ts (plus a new __tb_prev_<id>.d.ts when a cell declared
// something, and the files of the names it redeclared) change between runs, so each new
// program reuses the old one's structure and parsed, bound files: the text parsed per cell
// does not grow with the notebook (parsedChars counts it); disk reads and module resolutions are cached (misses are forgotten when a
// module is not found, edited user files are noticed by mtime); only the cell file's
// diagnostics are computed, and a d.ts is emitted only for cells that declare something.

import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { AMBIENT_DTS } from "./ambient.js";
import { Carried, importEntries, declarationEntries } from "./carry.js";
import { Prepared, protectedDeclarations } from "./prepare.js";

export { Prepared, protectedDeclarations } from "./prepare.js";

export interface CellDiagnostic {
  line: number;
  col: number;
  code: number;
  message: string;
}

export interface Emitted {
  js: string;
  map: string;
}

/** Diagnostics that do not apply to notebook cells. */
const IGNORED = new Set([
  5097, // import path ending in .ts: the executor transpiles .ts files
  2691,
  1208, // isolatedModules-style "cannot be compiled under --isolatedModules"
  7005, // `let z;` at top level: fine in a cell, an error only because we export it
]);

/**
 * TypeScript's lib files for `names` and everything they reference, as one text. One file
 * instead of ~60 makes each new program (one per cell) cheaper: interfaces declared across
 * lib files (Array, Promise, Symbol...) are merged once by the binder of this file instead
 * of being cloned and merged again by every new type checker.
 */
function combinedLib(libDir: string, names: string[]): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  const add = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const text = fs.readFileSync(path.join(libDir, name), "utf8");
    for (const m of text.matchAll(/^\/\/\/\s*<reference lib="([^"]+)"\s*\/>/gm)) add(`lib.${m[1].toLowerCase()}.d.ts`);
    parts.push(text.replace(/^\/\/\/\s*<reference lib="[^"]+"\s*\/>/gm, ""));
  };
  for (const n of names) add(n);
  return parts.join("\n");
}

/**
 * A snapshot that tells TypeScript what changed since the previous one (the common prefix
 * and suffix), so that the virtual files that change every cell (the carried declarations
 * grow at their end) are re-parsed incrementally rather than from scratch.
 */
class TextSnapshot implements ts.IScriptSnapshot {
  constructor(readonly text: string) {}
  getText(start: number, end: number): string {
    return this.text.substring(start, end);
  }
  getLength(): number {
    return this.text.length;
  }
  getChangeRange(old: ts.IScriptSnapshot): ts.TextChangeRange | undefined {
    if (!(old instanceof TextSnapshot)) return undefined;
    const a = old.text;
    const b = this.text;
    const max = Math.min(a.length, b.length);
    let p = 0;
    while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
    let q = 0;
    while (q < max - p && a.charCodeAt(a.length - 1 - q) === b.charCodeAt(b.length - 1 - q)) q++;
    // When most of the text changed (a new cell), a full parse is cheaper than the
    // incremental parser's walk over the old tree.
    if (a.length - p - q > a.length / 4) return undefined;
    return ts.createTextChangeRange(ts.createTextSpan(p, a.length - p - q), b.length - p - q);
  }
}

/** A file's mtime, or -1 when it is gone (then a new version reads it as missing). */
function mtimeOf(f: string): number {
  try {
    return fs.statSync(f).mtimeMs;
  } catch {
    return -1;
  }
}

/** "Cannot find module" and kin: worth a second look after forgetting cached misses. */
const MODULE_NOT_FOUND = new Set([2307, 2792, 7016]);

/** Locates this project's root (the folder of the package.json named "tensorbook"). */
export function projectRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, "utf8")) as { name?: string }).name === "tensorbook") return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("tensorbook kernel: cannot find the project's package.json above " + import.meta.url);
    dir = up;
  }
}

/**
 * Each cell's program leaves the previous one, with its type checker, as garbage (a few
 * hundred KB), and V8 lets the old generation grow to several times the live heap before
 * collecting: over 1000 cells the kernel's RSS rose by ~400 MB while its live heap stayed
 * near 80 MB. A full collection every COLLECT_EVERY programs (~50 ms, so a pause once in
 * that many cells) bounds it. `gc` is there when the kernel runs with --expose-gc (as it
 * does); it is taken at load, before any cell could declare a global of that name.
 */
const COLLECT_EVERY = 100;
const collectGarbage = typeof globalThis.gc === "function" ? globalThis.gc : undefined;

export class CellChecker {
  readonly cwd: string;
  readonly cellFile: string;
  /** Carried declaration files, in cell order (roots between globals and the cell). */
  private prevFiles: string[] = [];
  private rootFiles: string[] = [];
  readonly probeFile: string;
  private readonly globalsFile: string;
  private readonly libFile: string;
  private readonly options: ts.CompilerOptions;
  private readonly virtual = new Map<string, { text: string; version: number; snap?: ts.IScriptSnapshot }>();
  private readonly diskText = new Map<string, string | undefined>();
  private readonly diskSnap = new Map<string, ts.IScriptSnapshot | undefined>();
  /** mtime of each user file (see isUserFile) as last read: its script version. */
  private readonly userFiles = new Map<string, number>();
  private readonly libDir = path.dirname(ts.getDefaultLibFilePath({}));
  private readonly dirExists = new Map<string, boolean>();
  private readonly realpaths = new Map<string, string>();
  readonly service: ts.LanguageService;
  readonly carried = new Carried();
  private readonly moduleCache: ts.ModuleResolutionCache;
  private readonly compilerHost: ts.CompilerHost;
  private readonly registry: ts.DocumentRegistry;
  private readonly registryKey: ts.DocumentRegistryBucketKey;
  private readonly parsed = new Map<string, { version: string; sf: ts.SourceFile }>();
  private current: ts.Program | undefined;
  private dirty = true;
  private programsSinceCollect = 0;
  /** Characters of the files parsed (or re-parsed) so far: a measure of the work per cell. */
  parsedChars = 0;
  /** Set while re-resolving after a module was not found (it may have been installed since). */
  private invalidated = false;

  constructor(cwd: string) {
    this.cwd = path.resolve(cwd);
    this.cellFile = path.join(this.cwd, "__tb_cell.ts");
    this.probeFile = path.join(this.cwd, "__tb_probe.ts");
    this.globalsFile = path.join(this.cwd, "__tb_globals.d.ts");
    this.libFile = path.join(this.cwd, "__tb_lib.d.ts");
    const root = projectRoot();
    const dts = path.join(root, "dist", "src", "index.d.ts");
    const lib = fs.existsSync(dts) ? dts : path.join(root, "src", "index.ts");
    this.options = {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      // The lib files come as one virtual file (combinedLib): see there.
      noLib: true,
      types: ["node"],
      typeRoots: [path.join(root, "node_modules", "@types")],
      esModuleInterop: true,
      allowSyntheticDefaultImports: true,
      resolveJsonModule: true,
      allowImportingTsExtensions: true,
      allowJs: true,
      skipLibCheck: true,
      // d.ts is emitted on demand (forceDtsEmit) for cells that declare something; with
      // `declaration` on, every check would also compute declaration diagnostics.
      declaration: false,
      sourceMap: true,
      useDefineForClassFields: true,
      paths: { tensorbook: [lib] },
    };
    this.setVirtual(this.libFile, combinedLib(this.libDir, ["lib.es2023.d.ts", "lib.esnext.disposable.d.ts"]));
    this.setVirtual(this.globalsFile, AMBIENT_DTS);
    this.setVirtual(this.cellFile, "export {};\n");
    this.setVirtual(this.probeFile, "export {};\n");
    this.rootFiles = this.makeRoots();
    const moduleHost = {
      fileExists: (f) => this.virtual.has(f) || this.read(f) !== undefined,
      readFile: (f) => this.virtual.get(f)?.text ?? this.read(f),
      directoryExists: (d) => this.isDir(d),
      realpath: (p) => this.realpath(p),
      getDirectories: (d) => ts.sys.getDirectories(d),
      getCurrentDirectory: () => this.cwd,
    } satisfies ts.ModuleResolutionHost;
    // One module resolution cache for the kernel's life: without it every program (one per
    // cell) re-reads and re-parses the package.json of every file under node_modules
    // (@types/node alone is ~100 files) to find its module format.
    this.moduleCache = ts.createModuleResolutionCache(this.cwd, (f) => f, this.options);
    const resolution = {
      resolveModuleNameLiterals: (
        literals: readonly ts.StringLiteralLike[],
        containingFile: string,
        redirected: ts.ResolvedProjectReference | undefined,
        options: ts.CompilerOptions,
        containingSourceFile: ts.SourceFile,
      ) =>
        literals.map((lit) =>
          ts.resolveModuleName(lit.text, containingFile, options, moduleHost, this.moduleCache, redirected, ts.getModeForUsageLocation(containingSourceFile, lit, options)),
        ),
      getModuleResolutionCache: () => this.moduleCache,
      hasInvalidatedResolutions: () => this.invalidated,
    };
    this.compilerHost = {
      ...moduleHost,
      ...resolution,
      getSourceFile: (f, languageVersion) => this.sourceFile(f, languageVersion),
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      writeFile: () => undefined,
      getCanonicalFileName: (f) => f,
      useCaseSensitiveFileNames: () => true,
      getNewLine: () => "\n",
    };
    // The language service (completions, quick info) shares parsed files with the
    // checking program through one document registry. getModuleResolutionCache and
    // hasInvalidatedResolutions are read by the service but missing from its public type.
    const host: ts.LanguageServiceHost & typeof resolution = {
      ...moduleHost,
      ...resolution,
      getCompilationSettings: () => this.options,
      getScriptFileNames: () => this.roots,
      getScriptVersion: (f) => this.version(f),
      getScriptSnapshot: (f) => this.snapshot(f),
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      useCaseSensitiveFileNames: () => true,
    };
    this.registry = ts.createDocumentRegistry(true, this.cwd);
    this.registryKey = this.registry.getKeyForCompilationSettings(this.options);
    this.service = ts.createLanguageService(host, this.registry);
  }

  /** The root files; a new array only when the carried files change (programs compare it). */
  private get roots(): string[] {
    return this.rootFiles;
  }

  private makeRoots(): string[] {
    return [this.libFile, this.globalsFile, ...this.prevFiles, this.cellFile, this.probeFile];
  }

  private prevPath(id: number): string {
    return path.join(this.cwd, `__tb_prev_${id}.d.ts`);
  }

  /** Applies the carried files that `Carried.put` changed: new, edited or emptied (dropped). */
  private syncCarried(ids: number[]): void {
    let listChanged = false;
    for (const id of ids) {
      const f = this.prevPath(id);
      const text = this.carried.text(id);
      if (text !== undefined) {
        listChanged ||= !this.virtual.has(f);
        this.setVirtual(f, text);
      } else if (this.virtual.has(f)) {
        this.dropVirtual(f);
        listChanged = true;
      }
    }
    if (listChanged) {
      this.prevFiles = this.carried.ids().map((id) => this.prevPath(id));
      this.rootFiles = this.makeRoots();
    }
  }

  /** Forgets a virtual file and releases its parse (the registry frees it when unused). */
  private dropVirtual(f: string): void {
    this.virtual.delete(f);
    const hit = this.parsed.get(f);
    if (hit) {
      this.parsed.delete(f);
      this.registry.releaseDocumentWithKey(f as ts.Path, this.registryKey, ts.ScriptKind.TS, hit.sf.impliedNodeFormat);
    }
    this.dirty = true;
  }

  private version(f: string): string {
    const v = this.virtual.get(f);
    if (v) return String(v.version);
    return String(this.userFiles.get(f) ?? 0);
  }

  /** The user's own files (not packages, not TypeScript's lib): these may be edited. */
  private isUserFile(f: string): boolean {
    return !this.virtual.has(f) && !f.includes("/node_modules/") && !f.startsWith(this.libDir);
  }

  /**
   * Notices edits of the user's files that earlier programs read (a helper .ts next to the
   * notebook): one stat per such file per cell; an edited file gets a new version.
   */
  private refreshUserFiles(): void {
    for (const [f, known] of this.userFiles) {
      const mtime = mtimeOf(f);
      if (known !== mtime) {
        this.userFiles.set(f, mtime);
        this.diskText.delete(f);
        this.diskSnap.delete(f);
        this.dirty = true;
      }
    }
  }

  /** A parsed file from the shared registry; unchanged files keep their SourceFile (and binding). */
  private sourceFile(f: string, languageVersion: ts.ScriptTarget | ts.CreateSourceFileOptions): ts.SourceFile | undefined {
    if (!this.userFiles.has(f) && this.isUserFile(f)) this.userFiles.set(f, mtimeOf(f));
    const version = this.version(f);
    const hit = this.parsed.get(f);
    if (hit && hit.version === version) return hit.sf;
    const snap = this.snapshot(f);
    if (!snap) return undefined;
    const kind = /\.(m|c)?jsx?$/.test(f) ? ts.ScriptKind.JS : f.endsWith(".json") ? ts.ScriptKind.JSON : f.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
    const p = f as ts.Path;
    const sf = hit
      ? this.registry.updateDocumentWithKey(f, p, this.options, this.registryKey, snap, version, kind, languageVersion)
      : this.registry.acquireDocumentWithKey(f, p, this.options, this.registryKey, snap, version, kind, languageVersion);
    this.parsed.set(f, { version, sf });
    this.parsedChars += snap.getLength();
    return sf;
  }

  /** The checking program for the current virtual files, reusing the previous one's structure. */
  private program(): ts.Program {
    if (!this.current || this.dirty) {
      if (++this.programsSinceCollect >= COLLECT_EVERY) {
        this.programsSinceCollect = 0;
        collectGarbage?.();
      }
      this.current = ts.createProgram({ rootNames: this.roots, options: this.options, host: this.compilerHost, oldProgram: this.current });
      this.dirty = false;
      this.invalidated = false;
    }
    return this.current;
  }

  private setVirtual(file: string, text: string): void {
    const old = this.virtual.get(file);
    if (old && old.text === text) return;
    this.virtual.set(file, { text, version: (old?.version ?? 0) + 1 });
    if (file !== this.probeFile) this.dirty = true;
  }

  private snapshot(f: string): ts.IScriptSnapshot | undefined {
    const v = this.virtual.get(f);
    if (v) return (v.snap ??= new TextSnapshot(v.text));
    if (!this.diskSnap.has(f)) {
      const t = this.read(f);
      this.diskSnap.set(f, t === undefined ? undefined : ts.ScriptSnapshot.fromString(t));
    }
    return this.diskSnap.get(f);
  }

  // Disk files are read once: lib files and installed packages do not change under a kernel.
  private read(f: string): string | undefined {
    if (!this.diskText.has(f)) {
      let t: string | undefined;
      try {
        t = fs.readFileSync(f, "utf8");
      } catch {
        t = undefined;
      }
      this.diskText.set(f, t);
    }
    return this.diskText.get(f);
  }

  private isDir(d: string): boolean {
    let hit = this.dirExists.get(d);
    if (hit === undefined) {
      try {
        hit = fs.statSync(d).isDirectory();
      } catch {
        hit = false;
      }
      this.dirExists.set(d, hit);
    }
    return hit;
  }

  private realpath(p: string): string {
    let r = this.realpaths.get(p);
    if (r === undefined) {
      try {
        r = fs.realpathSync(p);
      } catch {
        r = p;
      }
      this.realpaths.set(p, r);
    }
    return r;
  }

  /**
   * Forgets every negative answer (missing files, folders, module resolutions), so that a
   * package installed while the kernel runs is found; the next program re-resolves.
   */
  private forgetMisses(): void {
    for (const [f, t] of this.diskText) if (t === undefined) (this.diskText.delete(f), this.diskSnap.delete(f));
    for (const [d, hit] of this.dirExists) if (!hit) this.dirExists.delete(d);
    this.moduleCache.clear();
    this.invalidated = true;
  }

  private diagnostics(cell: Prepared): ts.Diagnostic[] {
    const program = this.program();
    const sf = program.getSourceFile(this.cellFile);
    const syn = program.getSyntacticDiagnostics(sf);
    if (syn.length > 0 || cell.nocheck) return [...syn];
    return [...program.getSemanticDiagnostics(sf)];
  }

  /** Sets the cell file and returns its syntactic (+ semantic unless nocheck) errors. */
  check(cell: Prepared): CellDiagnostic[] {
    const clash = protectedDeclarations(cell.source).map(({ name, at }) => ({
      ...cell.lineCol(at),
      code: 0,
      message: `a top-level '${name}' would replace the global '${name}' that the kernel and Node rely on (cell declarations are globals); rename it or declare it inside a block`,
    }));
    if (clash.length > 0) return clash;
    this.refreshUserFiles();
    this.setVirtual(this.cellFile, cell.checkText);
    let all = this.diagnostics(cell);
    if (all.some((d) => MODULE_NOT_FOUND.has(d.code))) {
      this.forgetMisses();
      this.dirty = true;
      all = this.diagnostics(cell);
    }
    const out: CellDiagnostic[] = [];
    for (const d of all) {
      if (d.category !== ts.DiagnosticCategory.Error || IGNORED.has(d.code)) continue;
      const { line, col } = cell.lineCol(cell.toCode(d.start ?? 0));
      out.push({ line, col, code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, "\n") });
    }
    return out;
  }

  /**
   * Emits the checked cell (JS + source map); `commit()` then carries its declarations to
   * later cells (not called for a cell interrupted before it ran).
   */
  emit(cell: Prepared, transformers: ts.CustomTransformers): Emitted & { commit(): void } {
    const program = this.program();
    const sf = program.getSourceFile(this.cellFile);
    if (!sf) throw new Error("tensorbook kernel: the cell file is missing from the program");
    let js = "";
    let map = "";
    let dts = "";
    const write = (name: string, text: string) => {
      if (name.endsWith(".js")) js = text;
      else if (name.endsWith(".js.map")) map = text;
      else if (name.endsWith(".d.ts")) dts = text;
    };
    // One emit pass writes the JS, its map and, for a cell with top-level declarations, the
    // d.ts (forceDtsEmit: a sixth parameter of Program.emit that the language service's
    // getEmitOutput uses but the public type omits; `declaration` itself stays off).
    type EmitForced = (
      sf: ts.SourceFile | undefined,
      write: ts.WriteFileCallback,
      token: undefined,
      dtsOnly: boolean,
      tr: ts.CustomTransformers,
      forceDts: boolean,
    ) => ts.EmitResult;
    (program.emit as EmitForced)(sf, write, undefined, false, transformers, cell.declares);
    if (!js) throw new Error("tensorbook kernel: TypeScript emitted no JavaScript for the cell");
    const entries = [...importEntries(sf, program.getTypeChecker()), ...declarationEntries(dts)];
    const commit = () => {
      if (entries.length === 0) return;
      this.syncCarried(this.carried.put(entries));
    };
    return { js, map, commit };
  }

  /**
   * Builds the first program and its checker (parses and binds lib files and @types/node,
   * about a second), so that the first cell does not pay for it.
   */
  warm(): void {
    const program = this.program();
    program.getSemanticDiagnostics(program.getSourceFile(this.cellFile));
  }

  /** Puts `text` in the probe file (a module, in the context of earlier cells). */
  probe(text: string): string {
    this.setVirtual(this.probeFile, text + "\n;export {};\n");
    return this.probeFile;
  }

  /** Reads a virtual file (for tests and debugging). */
  virtualText(file: string): string | undefined {
    return this.virtual.get(file)?.text;
  }
}
