// Declarations carried from earlier cells to later ones, as the text of one declaration
// file (__tb_prev.d.ts):
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
// earlier declaration of it. Declarations of one name within one cell (overloads, class +
// interface merging) stay together.

import ts from "typescript";

export interface Entry {
  name: string;
  /** Lines at module level of the prev file (import aliases). */
  module: string[];
  /** Declaration text inside `declare global { }`. */
  global: string;
}

let aliasCounter = 0;

export class Carried {
  private readonly entries = new Map<string, Entry[]>();

  /** Adds one cell's entries; each name replaces what earlier cells declared for it. */
  put(batch: Entry[]): void {
    const byName = new Map<string, Entry[]>();
    for (const e of batch) {
      const list = byName.get(e.name) ?? [];
      list.push(e);
      byName.set(e.name, list);
    }
    for (const [name, list] of byName) {
      this.entries.delete(name); // re-inserted last: declarations keep cell order
      this.entries.set(name, list);
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  text(): string {
    const mod: string[] = [];
    const glob: string[] = [];
    for (const list of this.entries.values()) {
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
