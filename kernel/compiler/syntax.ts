// Cell text questions that need only the parser or scanner: is_complete_request answers,
// IPython-style help forms (`?expr`, `expr?`, `help(expr)`), and the conversion between
// Jupyter cursor positions (Unicode code points) and JavaScript string offsets (UTF-16).

import ts from "typescript";
import type { IsCompleteResult } from "../engine.js";

/** Code point index -> UTF-16 offset in `text` (clamped to the end). */
export function cpToUtf16(text: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return i;
}

/** UTF-16 offset -> code point index in `text`. */
export function utf16ToCp(text: string, offset: number): number {
  let n = 0;
  for (let i = 0; i < offset && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return n;
}

function parseErrors(code: string): readonly ts.Diagnostic[] {
  const out = ts.transpileModule(code, {
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, noEmit: false },
    fileName: "cell.ts",
  });
  return (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error && d.file !== undefined);
}

const OPEN: Record<number, string> = {
  [ts.SyntaxKind.OpenBraceToken]: "{",
  [ts.SyntaxKind.OpenParenToken]: "(",
  [ts.SyntaxKind.OpenBracketToken]: "[",
};
const CLOSE: Record<number, string> = {
  [ts.SyntaxKind.CloseBraceToken]: "{",
  [ts.SyntaxKind.CloseParenToken]: "(",
  [ts.SyntaxKind.CloseBracketToken]: "[",
};

/**
 * complete: parses. incomplete: open brackets, an unterminated string, template literal or
 * comment, or a parse error only at the very end (`const x =`). invalid: anything else.
 */
export function isComplete(code: string): IsCompleteResult {
  const errors = parseErrors(code);
  if (errors.length === 0) return { status: "complete" };
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, false, ts.LanguageVariant.Standard, code);
  // Open brackets; "`" marks a template substitution `${`, closed by the template's `}`.
  const stack: string[] = [];
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (scanner.isUnterminated()) return { status: "incomplete", indent: "" };
    if (t === ts.SyntaxKind.TemplateHead) stack.push("`");
    else if (OPEN[t]) stack.push(OPEN[t]);
    else if (t === ts.SyntaxKind.CloseBraceToken && stack[stack.length - 1] === "`") {
      const r = scanner.reScanTemplateToken(false);
      if (scanner.isUnterminated()) return { status: "incomplete", indent: "" };
      if (r === ts.SyntaxKind.TemplateTail) stack.pop();
    } else if (CLOSE[t]) {
      if (stack.pop() !== CLOSE[t]) return { status: "invalid" };
    }
  }
  if (stack.length > 0) return { status: "incomplete", indent: "  ".repeat(stack.filter((s) => s !== "`").length) };
  const end = code.trimEnd().length;
  if (errors.every((d) => (d.start ?? 0) >= end)) return { status: "incomplete", indent: "" };
  return { status: "invalid" };
}

/** A help request: the expression's text and where in it to ask for quick info. */
export interface HelpRequest {
  /** Text to put in the probe file. */
  text: string;
  /** Offset in `text` of the identifier to describe. */
  at: number;
  /** The expression as the user wrote it. */
  expr: string;
}

/** The last identifier's offset in `text`, or undefined. */
function lastIdentifier(text: string): number | undefined {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, text);
  let at: number | undefined;
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (t === ts.SyntaxKind.Identifier || t === ts.SyntaxKind.PrivateIdentifier|| (t >= ts.SyntaxKind.FirstKeyword && t <= ts.SyntaxKind.LastKeyword)) at = scanner.getTokenStart();
  }
  return at;
}

/** Recognizes `?expr`, `??expr`, `expr?` and a cell that is only `help(expr)`. */
export function helpRequest(code: string): HelpRequest | undefined {
  const trimmed = code.trim();
  if (!trimmed) return undefined;
  let expr: string | undefined;
  if (/^\?+/.test(trimmed)) expr = trimmed.replace(/^\?+/, "").trim();
  else if (/[^?]\?+$/.test(trimmed) && parseErrors(trimmed).length > 0) expr = trimmed.replace(/\?+$/, "").trim();
  if (expr !== undefined) {
    const at = lastIdentifier(expr);
    return expr && at !== undefined ? { text: expr, at, expr } : undefined;
  }
  if (!trimmed.startsWith("help")) return undefined;
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.ES2022, true);
  if (sf.statements.length !== 1) return undefined;
  const s = sf.statements[0];
  if (!ts.isExpressionStatement(s) || !ts.isCallExpression(s.expression)) return undefined;
  const call = s.expression;
  if (!ts.isIdentifier(call.expression) || call.expression.text !== "help" || call.arguments.length !== 1) return undefined;
  const arg = call.arguments[0];
  const argText = arg.getText(sf);
  const rel = lastIdentifier(argText);
  if (rel === undefined) return undefined;
  return { text: code, at: arg.getStart(sf) + rel, expr: argText };
}
