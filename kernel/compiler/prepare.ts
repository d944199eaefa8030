// A cell's source prepared for the checker: every top-level declaration "export-ified" (an
// `export ` inserted before it, so TypeScript's declaration emit writes each with its
// inferred type; checker.ts says why), with the offset maps between the user's text and
// the checked text, and the names a cell may not redeclare (the cell API's globals).

import ts from "typescript";

const EXPORT = "export ";

/** A cell rewritten for the checker, with the offset map back to the user's text. */
export class Prepared {
  readonly checkText: string;
  /** Offsets in `code` where "export " was inserted, ascending. */
  readonly insertions: number[];
  readonly source: ts.SourceFile;
  readonly nocheck: boolean;
  /** Whether the cell has top-level declarations to carry (else no d.ts is emitted). */
  readonly declares: boolean;

  constructor(readonly code: string) {
    this.source = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    this.nocheck = /^\s*\/\/\s*@ts-nocheck\b/.test(code);
    this.insertions = [];
    for (const s of this.source.statements) if (needsExport(s)) this.insertions.push(s.getStart(this.source));
    this.declares = this.insertions.length > 0 || this.source.statements.some((s) => ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword));
    let text = "";
    let last = 0;
    for (const p of this.insertions) {
      text += code.slice(last, p) + EXPORT;
      last = p;
    }
    // The trailing `export {}` keeps the file a module even without imports/declarations.
    this.checkText = text + code.slice(last) + "\n;export {};\n";
  }

  /** Offset in checkText -> offset in code (inside an insertion: its statement start). */
  toCode(offset: number): number {
    let shift = 0;
    for (let i = 0; i < this.insertions.length; i++) {
      const at = this.insertions[i] + i * EXPORT.length;
      if (offset < at) break;
      if (offset < at + EXPORT.length) return this.insertions[i];
      shift += EXPORT.length;
    }
    return Math.min(offset - shift, this.code.length);
  }

  /** Offset in code -> offset in checkText. */
  toCheck(offset: number): number {
    let n = 0;
    while (n < this.insertions.length && this.insertions[n] <= offset) n++;
    return offset + n * EXPORT.length;
  }

  /** 0-based line/column in checkText -> 1-based line:col in the cell. */
  checkToCell(line0: number, col0: number): { line: number; col: number } {
    this.checkLines ??= lineStarts(this.checkText);
    const start = this.checkLines[Math.min(line0, this.checkLines.length - 1)];
    return this.lineCol(this.toCode(start + col0));
  }
  private checkLines: number[] | undefined;

  /** 1-based line and column (UTF-16 units) of a code offset. */
  lineCol(offset: number): { line: number; col: number } {
    const lc = this.source.getLineAndCharacterOfPosition(offset);
    return { line: lc.line + 1, col: lc.character + 1 };
  }
}

function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) out.push(i + 1);
  return out;
}

/** Top-level declarations that carry to later cells and lack an `export` of their own. */
/**
 * Globals that the kernel and Node's own modules use: a cell's top-level declarations
 * become globals, so declaring one of these would break the kernel, not just the cell.
 */
const PROTECTED = new Set([
  "process", "console", "globalThis", "global", "Buffer", "require", "module", "exports",
  "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate", "queueMicrotask",
  "Object", "Function", "Array", "String", "Number", "Boolean", "Symbol", "BigInt", "Promise", "Error", "TypeError",
  "RangeError", "JSON", "Math", "Reflect", "Proxy", "Map", "Set", "WeakMap", "WeakSet", "Date", "RegExp",
  "Uint8Array", "ArrayBuffer", "SharedArrayBuffer", "Atomics", "TextEncoder", "TextDecoder", "URL",
  "undefined", "NaN", "Infinity",
]);

/** Top-level names a cell declares that would replace a global the kernel relies on. */
export function protectedDeclarations(source: ts.SourceFile): { name: string; at: number }[] {
  const out: { name: string; at: number }[] = [];
  const visit = (n: ts.BindingName | ts.Identifier | undefined) => {
    if (!n) return;
    if (ts.isIdentifier(n)) {
      if (PROTECTED.has(n.text) || n.text.startsWith("__tensorbook")) out.push({ name: n.text, at: n.getStart(source) });
    } else for (const el of n.elements) if (!ts.isOmittedExpression(el)) visit(el.name);
  };
  for (const s of source.statements) {
    if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) visit(d.name);
    else if (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isEnumDeclaration(s)) visit(s.name);
    else if (ts.isModuleDeclaration(s) && ts.isIdentifier(s.name)) visit(s.name);
    else if (ts.isImportDeclaration(s) && s.importClause && !s.importClause.isTypeOnly) {
      visit(s.importClause.name);
      const nb = s.importClause.namedBindings;
      if (nb && ts.isNamespaceImport(nb)) visit(nb.name);
      else if (nb) for (const el of nb.elements) if (!el.isTypeOnly) visit(el.name);
    }
  }
  return out;
}

function needsExport(s: ts.Statement): boolean {
  const carries =
    // `using` resources are disposed at the end of the cell: nothing to carry.
    (ts.isVariableStatement(s) && (s.declarationList.flags & ts.NodeFlags.Using) === 0) ||
    (ts.isFunctionDeclaration(s) && s.name !== undefined) ||
    (ts.isClassDeclaration(s) && s.name !== undefined) ||
    ts.isInterfaceDeclaration(s) ||
    ts.isTypeAliasDeclaration(s) ||
    ts.isEnumDeclaration(s) ||
    (ts.isModuleDeclaration(s) && ts.isIdentifier(s.name)) ||
    (ts.isImportEqualsDeclaration(s) && !ts.isExternalModuleReference(s.moduleReference));
  if (!carries) return false;
  const mods = ts.canHaveModifiers(s) ? ts.getModifiers(s) : undefined;
  return !mods?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}
