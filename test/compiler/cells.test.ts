// Cells across a session: redeclaration of every kind, re-runs, type errors (with the
// cell's line:column, and the cell not run), @ts-nocheck, top-level await, results,
// source-mapped tracebacks and user expressions.

import { describe, expect, it } from "vitest";
import { RecordingIO } from "./helpers.js";
import { Session } from "./session.js";

const s = new Session();

describe("declarations carry to later cells", () => {
  it("const, let, var, function, class, interface, type, enum, namespace", async () => {
    await s.value(`
const k1 = 10;
let k2 = "two";
var k3 = [1, 2, 3];
function k4(a: number): number { return a + k1; }
class K5 { constructor(public v: number) {} twice() { return this.v * 2; } }
interface K6 { name: string; n: number }
type K7 = { tag: "k7"; size: number };
enum K8 { Red = 1, Green = 2 }
namespace K9 { export const inside = "ns"; }
`);
    expect(await s.value(`
const six: K6 = { name: "a", n: k1 };
const seven: K7 = { tag: "k7", size: k3.length };
JSON.stringify([k4(1), new K5(4).twice(), six.n, seven.size, K8.Green, K9.inside, k2.toUpperCase()])
`)).toBe(`'[11,8,10,3,2,"ns","TWO"]'`);
  });

  it("overloads, generics and declaration merging within a cell carry together", async () => {
    await s.value(`function over(a: string): string;
function over(a: number): number;
function over(a: string | number) { return a; }
function firstOf<T>(xs: T[]): T | undefined { return xs[0]; }
interface Merged { extra: number }
class Merged { base = 1 }
namespace Merged { export const tag = "m"; }`);
    expect(await s.value("const o1: number = over(2); const o2: string = over('s'); const f: string | undefined = firstOf(['a']);\n[o1, o2, f, Merged.tag].join()")).toBe(
      "'2,s,a,m'",
    );
    const err = await s.error("const bad: string = over(3);");
    expect(err.evalue).toMatch(/Type 'number' is not assignable to type 'string'/);
    expect(await s.value("const mm: Merged = new Merged(); 'extra' in mm")).toBe("false");
  });

  it("let and var stay assignable in later cells; const does not", async () => {
    expect(await s.value("k2 = 'changed'; k3 = [9]; [k2, k3]")).toBe("[ 'changed', [ 9 ] ]");
    const err = await s.error("k1 = 3");
    expect(err.ename).toBe("TSError");
    expect(err.evalue).toMatch(/1:1: Cannot assign to 'k1' because it is a constant/);
  });

  it("a later cell redeclares each kind with a new type", async () => {
    await s.value(`
const k1 = "now text";
let k2 = 42;
function k4(a: string): string { return a + "!"; }
class K5 { label = "new" }
interface K6 { other: boolean }
type K7 = number[];
enum K8 { Only }
const K9 = { replaced: true };
`);
    expect(await s.value(`
const six: K6 = { other: true };
const seven: K7 = [1, 2];
JSON.stringify([k1.length, k2 + 1, k4("a"), new K5().label, six.other, seven.length, K8.Only, K9.replaced])
`)).toBe(`'[8,43,"a!","new",true,2,0,true]'`);
    // The old shapes are gone from the checker's view.
    const err = await s.error("const bad: K6 = { name: 'a', n: 1 };");
    expect(err.evalue).toMatch(/1:19: Object literal may only specify known properties/);
  });

  it("re-running the same declaring cell works", async () => {
    for (let i = 0; i < 3; i++) {
      expect(await s.value(`const again = ${i}; let again2: string = "r${i}"; class Again {}\nagain`)).toBe(String(i));
    }
    expect(await s.value("again2")).toBe("'r2'");
  });

  it("destructuring declarations, with defaults and rest, persist", async () => {
    await s.value("const { da, db: [dc, dd = 5], ...drest } = { da: 1, db: [2], de: 3, df: 4 };");
    expect(await s.value("[da, dc, dd, drest]")).toBe("[ 1, 2, 5, { de: 3, df: 4 } ]");
  });

  it("functions are hoisted within a cell; classes see earlier cells", async () => {
    expect(await s.value("const early = hoisted(2);\nfunction hoisted(n: number) { return n * 3; }\nearly")).toBe("6");
    expect(await s.value("class Sub extends K5 { more = 1 }\nnew Sub().label + new Sub().more")).toBe("'new1'");
  });

  it("`let x;` on re-run resets x; a declaration-only cell has no result", async () => {
    await s.value("let resettable: number | undefined = 5;");
    const r = await s.run("let resettable: number | undefined;");
    expect(r.outcome).toEqual({ status: "ok", payload: [] });
    expect(await s.value("String(resettable)")).toBe("'undefined'");
  });
});

describe("type errors", () => {
  it("report cell line:column and the cell does not run", async () => {
    const err = await s.error(`(globalThis as { sideEffect?: string }).sideEffect = "ran";
const ok = 1;
const wrong: number = "text";
  let alsoWrong: string = ok;`);
    expect(err.ename).toBe("TSError");
    const n = s.executionCount;
    expect(err.traceback).toEqual([
      `cell[${n}]:3:7: Type 'string' is not assignable to type 'number'. (TS2322)`,
      `cell[${n}]:4:7: Type 'number' is not assignable to type 'string'. (TS2322)`,
    ]);
    expect(await s.value("typeof (globalThis as { sideEffect?: string }).sideEffect")).toBe("'undefined'");
  });

  it("columns are right on lines where the compiler inserted text", async () => {
    const err = await s.error("const a1 = 1; const a2: string = a1;");
    expect(err.traceback[0]).toMatch(/:1:21: Type 'number' is not assignable to type 'string'/);
  });

  it("declaring a global the kernel relies on is refused, naming it", async () => {
    const err = await s.error("const ok2 = 1;\nconst { process, other } = { process: 1, other: 2 };\nfunction console() {}");
    const n = s.executionCount;
    expect(err.traceback).toEqual([
      `cell[${n}]:2:9: a top-level 'process' would replace the global 'process' that the kernel and Node rely on (cell declarations are globals); rename it or declare it inside a block`,
      `cell[${n}]:3:10: a top-level 'console' would replace the global 'console' that the kernel and Node rely on (cell declarations are globals); rename it or declare it inside a block`,
    ]);
    expect(typeof process.exit).toBe("function");
    expect(await s.value("(() => { const process = 'block scoped is fine'; return process; })()")).toBe("'block scoped is fine'");
  });

  it("syntax errors are reported with their position", async () => {
    const err = await s.error("const x = (1 + ;");
    expect(err.traceback[0]).toMatch(/:1:16: Expression expected/);
  });

  it("a failed cell's declarations do not carry", async () => {
    await s.error("const neverDeclared: number = 'x';");
    const err = await s.error("neverDeclared");
    expect(err.evalue).toMatch(/Cannot find name 'neverDeclared'/);
  });

  it("// @ts-nocheck skips checking; its declarations still carry", async () => {
    expect(await s.value("// @ts-nocheck\nconst loose: number = 'not checked';\nloose.length")).toBe("11");
    expect(await s.value("const fromLoose: number = loose; fromLoose")).toBe("'not checked'");
  });
});

describe("running", () => {
  it("top-level await, with declarations around it", async () => {
    expect(
      await s.value(`
const before = 1;
const waited = await new Promise<number>((r) => setTimeout(() => r(41), 5));
const after = waited + before;
after`),
    ).toBe("42");
    expect(await s.value("for await (const v of (async function* () { yield 1; yield 2; })()) console.log(v);\nafter")).toBe("42");
  });

  it("import.meta describes the notebook's folder", async () => {
    expect(await s.value("import.meta.dirname")).toBe(`'${s.cwd}'`);
    expect(await s.value("import.meta.url.startsWith('file://') && import.meta.resolve('node:fs')")).toBe("'node:fs'");
  });

  it("console output of the cell goes to its CellIO, in order", async () => {
    const r = await s.run("console.log('one'); process.stdout.write('two\\n'); console.error('three'); await null; console.log({ a: 1 })");
    expect(r.io.out).toEqual([
      { kind: "stdout", text: "one\n" },
      { kind: "stdout", text: "two\n" },
      { kind: "stderr", text: "three\n" },
      { kind: "stdout", text: "{ a: 1 }\n" },
    ]);
  });

  it("a CellIO that itself logs while delivering output does not recurse", async () => {
    const io = new RecordingIO();
    const logged: string[] = [];
    const original = io.stdout.bind(io);
    io.stdout = (text: string) => {
      console.log("[kernel log] delivering"); // goes to the real stdout, not back into the cell
      logged.push(text);
      original(text);
    };
    const outcome = await s.engine.execute("console.log('once')", io, { executionCount: 999, storeHistory: false });
    expect(outcome.status).toBe("ok");
    expect(logged).toEqual(["once\n"]);
  });

  it("late output of a callback goes to the cell that scheduled it, even while another runs", async () => {
    const first = await s.run("setTimeout(() => console.log('late'), 20); 'started'");
    expect(first.io.stdoutText()).toBe("");
    const second = await s.run("await new Promise((r) => setTimeout(r, 60)); 'second'");
    expect(second.io.stdoutText()).toBe("");
    expect(first.io.stdoutText()).toBe("late\n");
  });

  it("top-level `using` disposes at the end of the cell; other declarations persist", async () => {
    const r = await s.run(`const disposals: string[] = [];
using res = { [Symbol.dispose]() { disposals.push("disposed"); } };
const keptWithUsing = 5;
disposals.push("body");
disposals.length`);
    expect(r.outcome).toEqual({ status: "ok", result: { data: { "text/plain": "1" }, metadata: {} }, payload: [] });
    expect(await s.value("JSON.stringify(disposals) + keptWithUsing")).toBe(`'["body","disposed"]5'`);
  });

  it("the last expression is the result; undefined gives none", async () => {
    expect((await s.run("undefined")).outcome).toEqual({ status: "ok", payload: [] });
    expect((await s.run("console.log('x')")).outcome).toEqual({ status: "ok", payload: [] });
    expect(await s.value("const m = new Map([[1, 'a']]); m")).toBe("Map(1) { 1 => 'a' }");
    // Strings are shown as util.inspect shows them, without ANSI codes.
    const v = await s.value("'a\\u001b[31m'");
    expect(v).toBe("'a\\x1B[31m'");
    // A promise as the last value is shown, not awaited.
    expect(await s.value("Promise.resolve(3)")).toBe("Promise { 3 }");
  });

  it("runtime errors point at the cell's own lines (source maps)", async () => {
    const err = await s.error(`interface P { x: number }
function inner(p: P): number {
  if (p.x > 1) throw new RangeError("too big: " + p.x);
  return p.x;
}
const outer = (n: number) => inner({ x: n });
outer(5);`);
    const n = s.executionCount;
    expect(err.ename).toBe("RangeError");
    expect(err.evalue).toBe("too big: 5");
    expect(err.traceback[0]).toBe("RangeError: too big: 5");
    expect(err.traceback.slice(1)).toEqual([
      `    at inner (cell[${n}]:3:22)`,
      `    at outer (cell[${n}]:6:30)`,
      `    at cell[${n}]:7:1`,
    ]);
  });

  it("errors after an await and from earlier cells' functions map too", async () => {
    await s.value("function thrower(): never {\n  throw new Error('from an earlier cell');\n}");
    const defined = s.executionCount;
    const err = await s.error("await null;\nthrower();");
    expect(err.traceback).toContain(`    at thrower (cell[${defined}]:2:9)`);
    expect(err.traceback).toContain(`    at cell[${s.executionCount}]:2:1`);
  });

  it("a repeated execution count (silent runs) keeps each script's own source map", async () => {
    const io = new RecordingIO();
    const opts = { executionCount: 500, storeHistory: false };
    await s.engine.execute("function firstAt500() {\n  throw new Error('one');\n}", io, opts);
    await s.engine.execute("\n\n\nfunction secondAt500() { throw new Error('two'); }", io, opts);
    const err = await s.error("firstAt500()");
    expect(err.traceback[1]).toBe("    at firstAt500 (cell[500]:2:9)");
    const err2 = await s.error("secondAt500()");
    expect(err2.traceback[1]).toBe("    at secondAt500 (cell[500]#2:4:32)");
  });

  it("a thrown non-Error value is reported", async () => {
    const err = await s.error("throw { code: 7 }");
    expect(err.ename).toBe("Uncaught");
    expect(err.evalue).toBe("{ code: 7 }");
    const str = await s.error("await null; throw 'plain'");
    expect(str.evalue).toBe("'plain'");
  });

  it("a cell with a runtime error keeps what it assigned before the error", async () => {
    await s.error("const partA = 'kept';\nthrow new Error('stop');\nconst partB = 1;");
    expect(await s.value("partA")).toBe("'kept'");
  });
});

describe("user expressions", () => {
  it("evaluates each expression in the notebook's scope", async () => {
    await s.value("const ue = { a: 2 };");
    const r = await s.engine.evaluate({ ok: "ue.a * 21", bad: "ue.nothing.deeper", typed: "(ue as { a: number }).a" });
    expect(r.ok).toEqual({ status: "ok", result: { data: { "text/plain": "42" }, metadata: {} }, payload: [] });
    expect(r.typed).toEqual({ status: "ok", result: { data: { "text/plain": "2" }, metadata: {} }, payload: [] });
    expect(r.bad.status).toBe("error");
    if (r.bad.status === "error") expect(r.bad.ename).toBe("TypeError");
  });
});
