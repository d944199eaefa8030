// Declarations carried from earlier cells to later ones, as declaration files
// (__tb_prev_<id>.d.ts) of a few kilobytes each, each holding the entries of consecutive
// declaring cells:
//
//   import * as __tbm3 from "tensorbook";        // module-level aliases of cell imports
//   declare global {
//     export import tb = __tbm3;                 // `import * as tb from "tensorbook"`
//     const x: tb.Tensor;                        // `const x = tb.tensor(...)` (inferred)
//     interface Foo { a: number }
//   }
//   export {};
//
// Entries are keyed by the declared name: a later cell declaring the same name (any kind:
// const, let, function, class, interface, type, enum, namespace, import) replaces every
// earlier declaration of it, by dropping it from the file that held it (a file left empty
// is gone). Declarations of one name within one cell (overloads, class + interface merging)
// stay together. Import aliases are module-level names, local to their file, so each entry
// carries its own alias lines.
//
// Why files of bounded size: a declaring cell changes only the newest file (or opens a new
// one) and the files of the names it redeclares, so TypeScript re-parses and re-binds a few
// kilobytes per cell and reuses every other file. One file for everything was re-built,
// re-parsed and re-bound per cell, a cost growing with the notebook; one file per cell
// instead makes a new root file per cell, which defeats the program's structure reuse
// (every file is looked up again) and adds a module augmentation per cell to merge.

import ts from "typescript";

export interface Entry {
  name: string;
  /** Lines at module level of the file (import aliases). */
  module: string[];
  /** Declaration text inside `declare global { }`. */
  global: string;
}

/** A file takes the next cell's entries while it is smaller than this (characters). */
export const FILE_CHARS = 4096;

let aliasCounter = 0;

interface CarriedFile {
  /** Entries by name, in cell order. */
  entries: Map<string, Entry[]>;
  /** Total length of the entries' text (about the file's size). */
  chars: number;
}

const entryChars = (list: Entry[]) => list.reduce((n, e) => n + e.global.length + e.module.reduce((m, l) => m + l.length, 0), 0);

export class Carried {
  private readonly files = new Map<number, CarriedFile>();
  /** Declared name -> the id of the file that holds its current declaration. */
  private readonly owner = new Map<string, number>();
  private nextId = 0;

  /**
   * Adds one cell's entries; each name is dropped from the file that held it before.
   * Returns the ids of the files whose text changed; text(id) is then their text, or
   * undefined for a file left empty.
   */
  put(batch: Entry[]): number[] {
    if (batch.length === 0) return [];
    const byName = new Map<string, Entry[]>();
    for (const e of batch) {
      const list = byName.get(e.name) ?? [];
      list.push(e);
      byName.set(e.name, list);
    }
    const changed = new Set<number>();
    for (const name of byName.keys()) {
      const was = this.owner.get(name);
      if (was === undefined) continue;
      const file = this.files.get(was)!;
      file.chars -= entryChars(file.entries.get(name)!);
      file.entries.delete(name);
      if (file.entries.size === 0) this.files.delete(was);
      changed.add(was);
    }
    let id = this.nextId - 1;
    let file = this.files.get(id);
    if (!file || file.chars >= FILE_CHARS) {
      id = this.nextId++;
      file = { entries: new Map(), chars: 0 };
      this.files.set(id, file);
    }
    for (const [name, list] of byName) {
      file.entries.set(name, list);
      file.chars += entryChars(list);
      this.owner.set(name, id);
    }
    changed.add(id);
    return [...changed];
  }

  names(): string[] {
    return [...this.owner.keys()];
  }

  /** Ids of the files that hold declarations, in cell order. */
  ids(): number[] {
    return [...this.files.keys()];
  }

  /** The declaration text of one file, or undefined when none of its names is left. */
  text(id: number): string | undefined {
    const file = this.files.get(id);
    if (!file) return undefined;
    const mod: string[] = [];
    const glob: string[] = [];
    for (const list of file.entries.values()) {
      for (const e of list) {
        mod.push(...e.module);
        glob.push(e.global);
      }
    }
    return `${mod.join("\n")}\ndeclare global {\n${glob.join("\n")}\n}\nexport {};\n`;
  }
}

/**
 * Entries for the import declarations of a checked cell. `checker` tells what each imported
 * name is: `import x = ns.y` re-aliases every meaning (and generic types) but only works
 * for genuine module exports; a function or variable (possibly a property of an
 * `export =` value, as in node:path) is carried as `const x: typeof alias` instead.
 */
export function importEntries(source: ts.SourceFile, checker: ts.TypeChecker): Entry[] {
  const out: Entry[] = [];
  for (const s of source.statements) {
    if (!ts.isImportDeclaration(s) || !ts.isStringLiteral(s.moduleSpecifier) || !s.importClause) continue;
    const spec = JSON.stringify(s.moduleSpecifier.text);
    const clause = s.importClause;
    const ns = `__tbm${++aliasCounter}`;
    const nsLine = `import * as ${ns} from ${spec};`;
    const meanings = (id: ts.Identifier): ts.SymbolFlags => {
      const sym = checker.getSymbolAtLocation(id);
      if (!sym) return ts.SymbolFlags.None;
      return sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym).flags : sym.flags;
    };
    // A value-only name (function, variable) carried through a named module-level import.
    const valueEntry = (name: string, remote: string, withType: boolean): Entry => {
      const a = `__tbn${++aliasCounter}`;
      const line = remote === "default" ? `import ${a} from ${spec};` : `import { ${remote} as ${a} } from ${spec};`;
      return { name, module: [line], global: `const ${name}: typeof ${a};` + (withType ? `\ntype ${name} = ${a};` : "") };
    };
    if (clause.name) {
      const f = meanings(clause.name);
      out.push(valueEntry(clause.name.text, "default", (f & ts.SymbolFlags.Type) !== 0));
    }
    const nb = clause.namedBindings;
    if (nb && ts.isNamespaceImport(nb)) {
      out.push({ name: nb.name.text, module: [nsLine], global: `export import ${nb.name.text} = ${ns};` });
    } else if (nb) {
      for (const el of nb.elements) {
        const local = el.name.text;
        const remote = el.propertyName ? el.propertyName.text : local;
        const f = meanings(el.name);
        const valueOnly = (f & ts.SymbolFlags.Value) !== 0 && (f & (ts.SymbolFlags.Type | ts.SymbolFlags.Namespace)) === 0;
        if (remote === "default" || valueOnly) out.push(valueEntry(local, remote, remote === "default" && (f & ts.SymbolFlags.Type) !== 0));
        else out.push({ name: local, module: [nsLine], global: `export import ${local} = ${ns}.${remote};` });
      }
    }
  }
  return out;
}

/** Entries for the exported declarations in the d.ts text emitted for a cell. */
export function declarationEntries(dts: string): Entry[] {
  if (!dts) return [];
  const sf = ts.createSourceFile("cell.d.ts", dts, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const out: Entry[] = [];
  for (const s of sf.statements) {
    const mods = ts.canHaveModifiers(s) ? ts.getModifiers(s) ?? [] : [];
    if (!mods.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    if (mods.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) continue;
    // Inside `declare global` the `export` and `declare` modifiers are not allowed.
    let body = s.getStart(sf);
    for (const m of mods) if (m.kind === ts.SyntaxKind.ExportKeyword || m.kind === ts.SyntaxKind.DeclareKeyword) body = m.getEnd();
    // Leading JSDoc travels with the declaration, so hover and help() show it later.
    const lead = dts.slice(s.getFullStart(), s.getStart(sf)).trim();
    const doc = lead ? lead + "\n" : "";
    const text = doc + dts.slice(body, s.getEnd()).trim();
    if (ts.isVariableStatement(s)) {
      const flags = s.declarationList.flags;
      const kw = flags & ts.NodeFlags.Const ? "const" : flags & ts.NodeFlags.Let ? "let" : "var";
      for (const d of s.declarationList.declarations) {
        if (!ts.isIdentifier(d.name)) continue;
        out.push({ name: d.name.text, module: [], global: `${doc}${kw} ${d.getText(sf)};` });
      }
    } else if (ts.isImportEqualsDeclaration(s)) {
      out.push({ name: s.name.text, module: [], global: `export ${text}` });
    } else {
      const name = (s as ts.Statement & { name?: ts.Node }).name;
      if (name && ts.isIdentifier(name)) out.push({ name: name.text, module: [], global: text });
    }
  }
  return out;
}
