// Language services in the context of earlier cells: completions, inspect (type + JSDoc),
// help pages (`?x`, `x?`, `help(x)`), is_complete, code-point cursor positions; and the
// display API of cells (display.*, updateDisplay, clearOutput, input, the display
// protocol, the library's display host).

import { describe, expect, it } from "vitest";
import { displayHost } from "../../src/display/protocol.js";
import { Session } from "./session.js";

const s = new Session();

describe("complete", () => {
  it("offers names of earlier cells and members, with the cursor range", async () => {
    await s.value("/** A well documented number. */\nconst documented = 3;\nconst docObject = { alpha: 1, beta: 'b' };");
    const r = s.engine.complete("docu", 4);
    expect(r.matches).toContain("documented");
    expect(r.matches.every((m) => m.startsWith("docu"))).toBe(true);
    expect([r.cursor_start, r.cursor_end]).toEqual([0, 4]);
    const m = s.engine.complete("docObject.al", 12);
    expect(m.matches).toEqual(["alpha"]);
    expect([m.cursor_start, m.cursor_end]).toEqual([10, 12]);
    const all = s.engine.complete("docObject.", 10);
    expect(all.matches).toEqual(["alpha", "beta"]);
  });

  it("uses code points for the cursor (astral characters before it)", async () => {
    const code = "const s = '😀😀'; docObject.be";
    const cp = [...code].length;
    const r = s.engine.complete(code, cp);
    expect(r.matches).toEqual(["beta"]);
    expect([r.cursor_start, r.cursor_end]).toEqual([cp - 2, cp]);
  });

  it("completes inside a multi-line cell and knows the cell's own names", () => {
    const code = "const localName = 1;\nlocalN";
    expect(s.engine.complete(code, code.length).matches).toEqual(["localName"]);
  });
});

describe("inspect and help", () => {
  it("inspect shows the type and the JSDoc", () => {
    const r = s.engine.inspect("documented + 1", 3, 0);
    expect(r.found).toBe(true);
    expect(r.data["text/plain"]).toBe("const documented: 3\n\nA well documented number.");
    const end = s.engine.inspect("documented", 10, 0);
    expect(end.data["text/plain"]).toMatch(/^const documented: 3/);
    expect(s.engine.inspect("   ", 1, 0)).toEqual({ found: false, data: {}, metadata: {} });
    // a name that resolves to nothing is not found (TypeScript's quick info would say "any")
    expect(s.engine.inspect("notDefinedAnywhere", 18, 0)).toEqual({ found: false, data: {}, metadata: {} });
    expect(s.engine.inspect("Math.notThere", 13, 0).found).toBe(false);
  });

  it("names imported by earlier cells show their own types, not internal aliases", async () => {
    await s.value("import * as nodePath from 'node:path';\nimport { basename } from 'node:path';");
    const ns = s.engine.inspect("nodePath", 8, 0).data["text/plain"] as string;
    expect(ns).toContain("const nodePath: nodePath.PlatformPath");
    expect(ns).not.toMatch(/__tb|\(alias\)/);
    expect(s.engine.inspect("basename", 8, 0).data["text/plain"]).toMatch(/^const basename: \(path: string, suffix\?: string\) => string/);
  });

  it("`?x`, `x?` and `help(x)` return a page payload and do not run", async () => {
    for (const code of ["?documented", "documented?", "help(documented)", "?? documented"]) {
      const r = await s.run(code);
      expect(r.outcome).toEqual({
        status: "ok",
        payload: [{ source: "page", data: { "text/plain": "const documented: 3\n\nA well documented number." }, start: 0 }],
      });
      expect(r.io.out).toEqual([]);
    }
    const member = await s.run("?docObject.beta");
    expect(member.outcome.status === "ok" && member.outcome.payload[0].data["text/plain"]).toBe("(property) beta: string");
  });

  it("a ternary ending a line is code, not a help request", async () => {
    expect(await s.value("const tern = documented > 2 ? 'y' : 'n'; tern")).toBe("'y'");
  });
});

describe("isComplete", () => {
  const cases: [string, string][] = [
    ["1 + 1", "complete"],
    ["const x = 1;\nx", "complete"],
    ["function f() {", "incomplete"],
    ["if (x) {\n  for (;;) {", "incomplete"],
    ["const s = `abc", "incomplete"],
    ["const s = `a ${1 + ", "incomplete"],
    ["const s = 'abc", "incomplete"],
    ["const x =", "incomplete"],
    ["foo(1, 2", "incomplete"],
    ["/* comment", "incomplete"],
    ["const x = 1)", "invalid"],
    ["}", "invalid"],
    ["let let let = 3;", "invalid"],
  ];
  it.each(cases)("%j is %s", (code, status) => {
    expect(s.engine.isComplete(code).status).toBe(status);
  });

  it("gives an indent for open blocks", () => {
    expect(s.engine.isComplete("if (x) {\n  for (;;) {")).toEqual({ status: "incomplete", indent: "    " });
  });
});

describe("display API", () => {
  it("display.* send display_data bundles, with ids and metadata", async () => {
    const r = await s.run(`display.html("<i>h</i>");
display.markdown("**m**");
display.svg("<svg/>");
display.png(new Uint8Array([137, 80]), { metadata: { "image/png": { width: 10 } } });
display.jpeg("AAAA");
display.json({ a: [1] });
display.text("t");
display.latex("$x$");
display({ plain: true }, { id: "d1" });
updateDisplay("d1", "replaced");
clearOutput({ wait: true });
clearOutput();`);
    expect(r.outcome.status).toBe("ok");
    expect(r.io.out).toEqual([
      { kind: "display", bundle: { "text/html": "<i>h</i>" }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "text/markdown": "**m**" }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "image/svg+xml": "<svg/>" }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "image/png": "iVA=" }, metadata: { "image/png": { width: 10 } }, id: undefined },
      { kind: "display", bundle: { "image/jpeg": "AAAA" }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "application/json": { a: [1] } }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "text/plain": "t" }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "text/latex": "$x$" }, metadata: undefined, id: undefined },
      { kind: "display", bundle: { "text/plain": "{ plain: true }" }, metadata: undefined, id: "d1" },
      { kind: "update", id: "d1", bundle: { "text/plain": "'replaced'" }, metadata: undefined },
      { kind: "clear", wait: true },
      { kind: "clear", wait: false },
    ]);
  });

  it("the display protocol gives rich results, sync and async", async () => {
    const sync = await s.value(`const rich = { [Symbol.for("Jupyter.display")]() { return { "text/html": "<b>rich</b>" }; } };
rich`);
    expect(sync).toBe("{ [Symbol(Jupyter.display)]: [Function: [Jupyter.display]] }");
    const r = await s.run(`const later = { async [Symbol.for("Jupyter.display")]() { await null; return { "text/plain": "mine", "text/html": "<i>a</i>" }; } };
display(later);
later`);
    expect(r.outcome).toEqual({ status: "ok", result: { data: { "text/plain": "mine", "text/html": "<i>a</i>" }, metadata: {} }, payload: [] });
    expect(r.io.out).toEqual([{ kind: "display", bundle: { "text/plain": "mine", "text/html": "<i>a</i>" }, metadata: undefined, id: undefined }]);
    const both = await s.run("rich");
    expect(both.outcome.status === "ok" && both.outcome.result?.data["text/html"]).toBe("<b>rich</b>");
  });

  it("the library's display host routes to the running cell", async () => {
    const host = displayHost();
    expect(host).toBeDefined();
    const r = await s.run(`const hostKey = Symbol.for("tensorbook.displayHost");
const host = (globalThis as unknown as Record<symbol, { display(b: object, o?: object): void; update(id: string, b: object): void }>)[hostKey];
host.display({ "text/plain": "from host" }, { id: "h1" });
host.update("h1", { "text/plain": "updated" });`);
    expect(r.io.out).toEqual([
      { kind: "display", bundle: { "text/plain": "from host" }, metadata: undefined, id: "h1" },
      { kind: "update", id: "h1", bundle: { "text/plain": "updated" }, metadata: undefined },
    ]);
  });

  it("flushes registered with the host's beforeIdle run before the cell reports done", async () => {
    const r = await s.run(`const hk = Symbol.for("tensorbook.displayHost");
const h = (globalThis as unknown as Record<symbol, { beforeIdle(fn: () => void): void; update(id: string, b: object): void }>)[hk];
h.beforeIdle(() => h.update("live", { "text/plain": "final" }));
await new Promise((r) => setTimeout(r, 5));`);
    expect(r.outcome.status).toBe("ok");
    expect(r.io.out).toEqual([{ kind: "update", id: "live", bundle: { "text/plain": "final" }, metadata: undefined }]);
    // Run once: the next cell does not see it again.
    expect((await s.run("1")).io.out).toEqual([]);
  });

  it("input() and input.password() ask the front end", async () => {
    const r = await s.run("const name = await input('name? ');\nconst pw = await input.password('pw: ');\nname + '/' + pw", ["ada", "secret"]);
    expect(r.outcome.status === "ok" && r.outcome.result?.data["text/plain"]).toBe("'ada/secret'");
    expect(r.io.out).toEqual([
      { kind: "input", prompt: "name? ", password: false },
      { kind: "input", prompt: "pw: ", password: true },
    ]);
    const denied = await s.error("await input('x')");
    expect(denied.evalue).toBe("stdin not allowed");
  });

  it("display API calls are type-checked", async () => {
    const err = await s.error("display.html(3)");
    expect(err.evalue).toMatch(/Argument of type 'number' is not assignable to parameter of type 'string'/);
  });
});
