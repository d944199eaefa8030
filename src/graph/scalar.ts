// Tree utilities for scalar expressions (backend.ts) built by the graph compiler: fusion
// composes members' scalar rules into one tree per kernel, and row kernels rewrite some of
// its leaves. Expressions are immutable and share subtrees (a value used twice is one
// object), so the rewrites below memoise by object and keep that sharing.

import { children, type ScalarExpr } from "../backend/backend.js";

/** Whether `part` (by identity: graphs share subexpression objects) occurs in e. */
export function containsExpr(e: ScalarExpr, part: ScalarExpr, seen = new Set<ScalarExpr>()): boolean {
  if (e === part) return true;
  if (seen.has(e)) return false;
  seen.add(e);
  return children(e).some((c) => containsExpr(c, part, seen));
}

/** e with every occurrence of `part` replaced (shared subtrees stay shared). */
export function replaceExpr(e: ScalarExpr, part: ScalarExpr, by: ScalarExpr): ScalarExpr {
  return rebuildExpr(e, (x) => (x === part ? by : undefined));
}

/** e with input indices mapped. */
export function mapInputs(e: ScalarExpr, fn: (index: number) => number): ScalarExpr {
  return rebuildExpr(e, (x) => (x.op === "input" ? { ...x, index: fn(x.index) } : undefined));
}

function rebuildExpr(e: ScalarExpr, leafOf: (x: ScalarExpr) => ScalarExpr | undefined, memo = new Map<ScalarExpr, ScalarExpr>()): ScalarExpr {
  const have = memo.get(e);
  if (have) return have;
  let r = leafOf(e);
  if (!r) {
    const rec = (x: ScalarExpr) => rebuildExpr(x, leafOf, memo);
    if (e.op === "where") r = { ...e, cond: rec(e.cond), a: rec(e.a), b: rec(e.b) };
    else if ("x" in e) r = { ...e, x: rec(e.x) };
    else if ("a" in e) r = { ...e, a: rec(e.a), b: rec(e.b) };
    else r = e;
  }
  memo.set(e, r);
  return r;
}
