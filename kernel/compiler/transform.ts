// Turns a checked cell module into a script that runs in this process's global context
// with top-level await and whose declarations persist for later cells.
//
//   import * as tb from "tensorbook";         "use strict";
//   const x = tb.tensor([1]);            ->   var tb, x, C;
//   function f() { return x; }                function f() { return x; }
//   class C {}                                (async () => {
//   await later();                              var tb = await __tensorbook_rt.imp("tensorbook");
//   f()                                         x = tb.tensor([1]);
//                                               C = class C {};
//                                               await later();
//                                               return [f()];
//                                             })()
//
// Two TypeScript transformers do it: `before` (on the TypeScript AST, while imports are
// still imports, so none is elided) rewrites imports, exports, `import()` and import.meta
// into calls on the runtime object; `after` (on the emitted JavaScript AST, types gone,
// enums and namespaces already lowered to `var` + IIFE) hoists declarations to global
// `var`s, moves function declarations to script level (hoisting as in the cell) and wraps
// the rest in an async arrow. Nodes keep their source positions, so the emitted source
// map still points into the cell. The script's completion value is that arrow's promise,
// resolving to `[value]` of the last expression statement or undefined.

import ts from "typescript";

/** Global name of the runtime object (module loading, import.meta) that cells call. */
export const RT = "__tensorbook_rt";

export function cellTransformers(): ts.CustomTransformers {
  // The last top-level statement when it is an expression: its value is the cell's result.
  let lastExpr: ts.Node | undefined;
  const before: ts.TransformerFactory<ts.SourceFile> = (ctx) => (sf) => {
    const f = ctx.factory;
    const stmts = sf.statements.filter((s) => !ts.isEmptyStatement(s));
    // The checker appends `export {}` to every cell: look past it.
    const real = stmts.filter((s) => !(ts.isExportDeclaration(s) && !s.moduleSpecifier));
    const last = real[real.length - 1];
    lastExpr = last && ts.isExpressionStatement(last) ? last : undefined;
    const deep = (node: ts.Node): ts.Node => {
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const call = f.createCallExpression(rtMember(f, "imp"), undefined, node.arguments.map((a) => ts.visitNode(a, deep) as ts.Expression));
        return ts.setTextRange(call, node);
      }
      if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) {
        return ts.setTextRange(rtMember(f, "meta"), node);
      }
      return ts.visitEachChild(node, deep, ctx);
    };
    const out: ts.Statement[] = [];
    for (const s of sf.statements) {
      if (ts.isImportDeclaration(s)) {
        const r = rewriteImport(f, s);
        if (r) out.push(ts.setTextRange(r, s));
      } else if (ts.isExportDeclaration(s)) {
        continue; // `export { a }`, `export * from`: nothing to run in a notebook
      } else if (ts.isExportAssignment(s)) {
        if (!s.isExportEquals) out.push(ts.setTextRange(f.createExpressionStatement(ts.visitNode(s.expression, deep) as ts.Expression), s));
      } else {
        const v = s.getText(sf).includes("import") ? (ts.visitNode(s, deep) as ts.Statement) : s;
        if (s === lastExpr) lastExpr = v;
        out.push(v);
      }
    }
    return f.updateSourceFile(sf, out);
  };

  const after: ts.TransformerFactory<ts.SourceFile> = (ctx) => (sf) => {
    const f = ctx.factory;
    // Hoisted names; generated ones (e.g. `env_1` of a `using` lowering) get their printed
    // name only when printed, so they are kept as nodes and reused, never re-created.
    const hoisted = new Map<ts.Identifier | string, ts.Identifier>();
    const funcs: ts.Statement[] = [];
    const body: ts.Statement[] = [];
    for (const s of sf.statements) {
      if (ts.isVariableStatement(s)) {
        const kind = s.declarationList.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const) ? "lexical" : "var";
        const parts: ts.Expression[] = [];
        for (const d of s.declarationList.declarations) {
          bindingNames(d.name, hoisted);
          // `let x;` re-run resets x; `var x;` keeps it (JavaScript's var semantics; also
          // how lowered enums and namespaces merge into an existing object).
          const init = d.initializer ?? (kind === "lexical" ? f.createVoidZero() : undefined);
          if (init) parts.push(ts.setTextRange(f.createAssignment(toTarget(f, d.name), init), d));
        }
        if (parts.length > 0) {
          const e = parts.reduce((a, b) => f.createComma(a, b));
          body.push(ts.setTextRange(f.createExpressionStatement(f.createParenthesizedExpression(e)), s));
        }
      } else if (ts.isFunctionDeclaration(s)) {
        if (s.name && s.body) {
          funcs.push(
            f.updateFunctionDeclaration(s, stripExport(s.modifiers), s.asteriskToken, s.name, s.typeParameters, s.parameters, s.type, s.body),
          );
        } else if (s.body) {
          const fe = f.createFunctionExpression(stripExport(s.modifiers) as ts.Modifier[], s.asteriskToken, undefined, s.typeParameters, s.parameters, s.type, s.body);
          body.push(ts.setTextRange(f.createExpressionStatement(fe), s));
        }
      } else if (ts.isClassDeclaration(s)) {
        const ce = f.createClassExpression(stripExport(s.modifiers), s.name, s.typeParameters, s.heritageClauses, s.members);
        ts.setTextRange(ce, s);
        if (s.name) {
          hoist(hoisted, s.name);
          body.push(ts.setTextRange(f.createExpressionStatement(f.createAssignment(s.name, ce)), s));
        } else body.push(ts.setTextRange(f.createExpressionStatement(ce), s));
      } else if (ts.isExpressionStatement(s) && lastExpr && ts.getOriginalNode(s) === ts.getOriginalNode(lastExpr)) {
        body.push(ts.setTextRange(f.createReturnStatement(f.createArrayLiteralExpression([s.expression])), s));
      } else if (ts.isExportDeclaration(s)) {
        continue;
      } else if (ts.isTryStatement(s) && lastExpr) {
        // A cell with top-level `using` comes back wrapped in try/finally (disposal):
        // its last expression, now inside the try block, is still the result.
        body.push(returnLastInTry(f, s, lastExpr));
      } else {
        body.push(s);
      }
    }
    const out: ts.Statement[] = [f.createExpressionStatement(f.createStringLiteral("use strict"))];
    if (hoisted.size > 0) {
      const decls = [...hoisted.values()].map((n) => f.createVariableDeclaration(n));
      out.push(f.createVariableStatement(undefined, f.createVariableDeclarationList(decls, ts.NodeFlags.None)));
    }
    out.push(...funcs);
    const arrow = f.createArrowFunction([f.createModifier(ts.SyntaxKind.AsyncKeyword)], undefined, [], undefined, undefined, f.createBlock(body, true));
    out.push(f.createExpressionStatement(f.createCallExpression(f.createParenthesizedExpression(arrow), undefined, [])));
    return f.updateSourceFile(sf, out);
  };

  return { before: [before], after: [after] };
}

function returnLastInTry(f: ts.NodeFactory, s: ts.TryStatement, lastExpr: ts.Node): ts.TryStatement {
  const want = ts.getOriginalNode(lastExpr);
  const stmts = s.tryBlock.statements.map((t) =>
    ts.isExpressionStatement(t) && ts.getOriginalNode(t) === want ? ts.setTextRange(f.createReturnStatement(f.createArrayLiteralExpression([t.expression])), t) : t,
  );
  return f.updateTryStatement(s, f.updateBlock(s.tryBlock, stmts), s.catchClause, s.finallyBlock);
}

function rtMember(f: ts.NodeFactory, name: string): ts.Expression {
  return f.createPropertyAccessExpression(f.createIdentifier(RT), name);
}

/** `import ... from "m"` -> `var <bindings> = await rt.imp("m")` (or a bare await). */
function rewriteImport(f: ts.NodeFactory, s: ts.ImportDeclaration): ts.Statement | undefined {
  const clause = s.importClause;
  if (clause?.isTypeOnly) return undefined;
  const load = f.createAwaitExpression(f.createCallExpression(rtMember(f, "imp"), undefined, [f.createStringLiteral((s.moduleSpecifier as ts.StringLiteral).text)]));
  if (!clause) return f.createExpressionStatement(load);
  const decls: ts.VariableDeclaration[] = [];
  const nb = clause.namedBindings;
  const props: ts.BindingElement[] = [];
  if (clause.name) props.push(f.createBindingElement(undefined, "default", clause.name.text));
  if (nb && ts.isNamedImports(nb)) {
    for (const el of nb.elements) {
      if (el.isTypeOnly) continue;
      const remote = el.propertyName ? (el.propertyName as ts.Identifier).text : undefined;
      props.push(f.createBindingElement(undefined, remote, el.name.text));
    }
  }
  if (nb && ts.isNamespaceImport(nb)) {
    decls.push(f.createVariableDeclaration(nb.name.text, undefined, undefined, load));
    if (props.length > 0) decls.push(f.createVariableDeclaration(f.createObjectBindingPattern(props), undefined, undefined, f.createIdentifier(nb.name.text)));
  } else if (props.length > 0) {
    decls.push(f.createVariableDeclaration(f.createObjectBindingPattern(props), undefined, undefined, load));
  } else {
    return f.createExpressionStatement(load);
  }
  return f.createVariableStatement(undefined, f.createVariableDeclarationList(decls, ts.NodeFlags.None));
}

function stripExport(mods: ts.NodeArray<ts.ModifierLike> | undefined): ts.ModifierLike[] | undefined {
  return mods?.filter((m) => m.kind !== ts.SyntaxKind.ExportKeyword && m.kind !== ts.SyntaxKind.DefaultKeyword);
}

function hoist(into: Map<ts.Identifier | string, ts.Identifier>, id: ts.Identifier): void {
  // Synthesized identifiers (no source position) may be generated names: keyed by node.
  into.set(id.pos >= 0 ? id.text : id, id);
}

function bindingNames(name: ts.BindingName, into: Map<ts.Identifier | string, ts.Identifier>): void {
  if (ts.isIdentifier(name)) hoist(into, name);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, into);
}

/** A binding pattern (`{ a, b: [c] = d, ...e }`) as the equivalent assignment target. */
function toTarget(f: ts.NodeFactory, name: ts.BindingName): ts.Expression {
  if (ts.isIdentifier(name)) return name;
  const withDefault = (t: ts.Expression, init: ts.Expression | undefined) => (init ? f.createAssignment(t, init) : t);
  if (ts.isObjectBindingPattern(name)) {
    return f.createObjectLiteralExpression(
      name.elements.map((el): ts.ObjectLiteralElementLike => {
        if (el.dotDotDotToken) return f.createSpreadAssignment(toTarget(f, el.name));
        if (el.propertyName) return f.createPropertyAssignment(el.propertyName, withDefault(toTarget(f, el.name), el.initializer));
        return f.createShorthandPropertyAssignment((el.name as ts.Identifier).text, el.initializer);
      }),
    );
  }
  return f.createArrayLiteralExpression(
    name.elements.map((el) => {
      if (ts.isOmittedExpression(el)) return f.createOmittedExpression();
      if (el.dotDotDotToken) return f.createSpreadElement(toTarget(f, el.name));
      return withDefault(toTarget(f, el.name), el.initializer);
    }),
  );
}
