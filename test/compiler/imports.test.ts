// `import` in cells, from a notebook in a temporary folder with its own node_modules:
// CommonJS and ESM-only packages, node: builtins, relative .ts/.js files with and without
// extensions (.ts files importing their own relatives), `tensorbook` and `tslab`.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Session } from "./session.js";

function write(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tb-imports-"));
let s: Session;

beforeAll(() => {
  write(dir, {
    "node_modules/cjs-pkg/package.json": JSON.stringify({ name: "cjs-pkg", version: "1.0.0", main: "index.js", types: "index.d.ts" }),
    "node_modules/cjs-pkg/index.js": "exports.add = (a, b) => a + b;\nexports.kind = 'cjs';\n",
    "node_modules/cjs-pkg/index.d.ts": "export declare function add(a: number, b: number): number;\nexport declare const kind: string;\n",
    "node_modules/cjs-fn/package.json": JSON.stringify({ name: "cjs-fn", version: "1.0.0", main: "main.js", types: "main.d.ts" }),
    "node_modules/cjs-fn/main.js": "module.exports = function shout(s) { return s.toUpperCase() + '!'; };\n",
    "node_modules/cjs-fn/main.d.ts": "declare function shout(s: string): string;\nexport = shout;\n",
    "node_modules/esm-only/package.json": JSON.stringify({
      name: "esm-only",
      version: "1.0.0",
      type: "module",
      exports: { ".": { types: "./index.d.ts", import: "./index.js" } },
    }),
    "node_modules/esm-only/index.js": "export const hello = (n) => `hi ${n}`;\nexport default 42;\n",
    "node_modules/esm-only/index.d.ts": "export declare const hello: (n: string) => string;\ndeclare const d: number;\nexport default d;\n",
    "lib/util.ts": "import { helper } from './helper';\nimport { other } from './other.js';\nexport interface Pair { a: number; b: number }\nexport function twice(p: Pair): number { return helper(p.a + p.b) + other; }\n",
    "lib/helper.ts": "export const helper = (n: number): number => n * 2;\n",
    "lib/other.ts": "export const other: number = 100;\n",
    "lib/thrower.ts": "export function fail(): never {\n  throw new Error('from a .ts file');\n}\n",
    "plain.mjs": "export const fromMjs = 'mjs';\n",
    "common.js": "module.exports = { fromCjs: 'cjs' };\n",
  });
  s = new Session(dir);
});

describe("imports", () => {
  it("node: builtins and bare builtin names", async () => {
    expect(await s.value("import * as p from 'node:path';\nimport { EOL } from 'os';\np.join('a', 'b') + EOL.length")).toBe("'a/b1'");
    expect(await s.value("import fsDefault from 'node:fs'; typeof fsDefault.readFileSync")).toBe("'function'");
  });

  it("a CommonJS package: named (cjs-module-lexer), default = module.exports, namespace", async () => {
    expect(await s.value("import { add, kind } from 'cjs-pkg';\nadd(2, 3) + kind")).toBe("'5cjs'");
    expect(await s.value("import cjsDefault from 'cjs-pkg'; cjsDefault.add(1, 1)")).toBe("2");
    expect(await s.value("import * as cjsNs from 'cjs-pkg'; cjsNs.add(4, 4)")).toBe("8");
    expect(await s.value("import shout from 'cjs-fn'; shout('hey')")).toBe("'HEY!'");
  });

  it("an ESM-only package, statically and with import()", async () => {
    expect(await s.value("import answer, { hello } from 'esm-only';\nhello('x') + answer")).toBe("'hi x42'");
    expect(await s.value("const dyn = await import('esm-only'); dyn.hello('dyn')")).toBe("'hi dyn'");
  });

  it("imports carry to later cells, values and types", async () => {
    expect(await s.value("add(10, hello('y').length)")).toBe("14");
    expect(await s.value("const pth: typeof p = p; pth.basename('/a/b.txt')")).toBe("'b.txt'");
  });

  it("named imports of every kind carry: functions of an `export =` module, generic types, classes", async () => {
    write(dir, {
      "lib/kinds.ts": "export interface Box<T> { value: T }\nexport class Counter { n = 0; inc() { return ++this.n; } }\nexport type Pairish<A, B> = [A, B];\nexport enum Mode { On = 'on' }\n",
    });
    await s.value("import { join as pjoin, sep } from 'node:path';\nimport { Box, Counter, type Pairish, Mode } from './lib/kinds';");
    expect(
      await s.value(`const bx: Box<string> = { value: pjoin("a", "b") };
const pr: Pairish<number, Mode> = [1, Mode.On];
const ctr = new Counter(); ctr.inc();
[bx.value, pr[1], ctr.n, sep].join(" ")`),
    ).toBe("'a/b on 1 /'");
    const err = await s.error("const wrongBox: Box<number> = { value: 'x' };");
    expect(err.evalue).toMatch(/Type 'string' is not assignable to type 'number'/);
  });

  it("relative .ts files, with and without extension, and their own relative imports", async () => {
    expect(await s.value("import { twice, type Pair } from './lib/util';\nconst pr: Pair = { a: 1, b: 2 };\ntwice(pr)")).toBe("106");
    expect(await s.value("import * as util2 from './lib/util.ts'; util2.twice({ a: 0, b: 1 })")).toBe("102");
    expect(await s.value("import { helper as h2 } from './lib/helper.js'; h2(21)")).toBe("42");
    const err = await s.error("const badPair: Pair = { a: 1 };");
    expect(err.evalue).toMatch(/Property 'b' is missing/);
  });

  it("an edited .ts file is type-checked and loaded afresh by the next import", async () => {
    const file = path.join(dir, "lib", "edited.ts");
    fs.writeFileSync(file, "export const version: number = 1;\n");
    expect(await s.value("import { version } from './lib/edited';\nversion + 1")).toBe("2");
    fs.writeFileSync(file, "export const version: string = 'two';\n");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    expect(await s.value("import { version as v2 } from './lib/edited';\nv2.toUpperCase()")).toBe("'TWO'");
    // Its unchanged neighbours stay the same module instances.
    expect(await s.value("import * as again from './lib/util'; again.twice === util2.twice")).toBe("true");
  });

  it("relative .js/.mjs files, with and without extension", async () => {
    expect(await s.value("import { fromMjs } from './plain.mjs'; fromMjs")).toBe("'mjs'");
    expect(await s.value("import common from './common'; common.fromCjs")).toBe("'cjs'");
  });

  it("stack frames inside imported .ts files keep their file and line", async () => {
    const err = await s.error("import { fail } from './lib/thrower';\nfail();");
    expect(err.traceback.join("\n")).toContain(path.join(dir, "lib", "thrower.ts") + ":2:9");
    expect(err.traceback).toContain(`    at cell[${s.executionCount}]:2:1`);
  });

  it("a missing package is a type error naming it; at run time too", async () => {
    const err = await s.error("import nope from 'no-such-package';");
    expect(err.evalue).toMatch(/Cannot find module 'no-such-package'/);
    const run = await s.error("// @ts-nocheck\nimport nope from 'no-such-package';");
    expect(run.evalue).toMatch(/Cannot find package 'no-such-package'.*npm install no-such-package/);
  });

  it("a package installed after a failed import is found by the next cell", async () => {
    const err = await s.error("import { late } from 'late-pkg';");
    expect(err.evalue).toMatch(/Cannot find module 'late-pkg'/);
    write(dir, {
      "node_modules/late-pkg/package.json": JSON.stringify({ name: "late-pkg", version: "1.0.0", type: "module", exports: { ".": { types: "./i.d.ts", default: "./i.js" } } }),
      "node_modules/late-pkg/i.js": "export const late = 'arrived';\n",
      "node_modules/late-pkg/i.d.ts": "export declare const late: string;\n",
    });
    expect(await s.value("import { late } from 'late-pkg'; late")).toBe("'arrived'");
  });

  it("`tensorbook` resolves to this project's library from any folder", async () => {
    expect(await s.value("import * as tb from 'tensorbook';\ntypeof tb.displaySymbol + ' ' + (tb.displaySymbol === Symbol.for('Jupyter.display'))")).toBe(
      "'symbol true'",
    );
  });
});

describe("tslab compatibility", () => {
  it("`import * as tslab from 'tslab'` displays through the kernel", async () => {
    const r = await s.run(`import * as tslab from "tslab";
tslab.display.html("<b>hi</b>");
tslab.display.markdown("# title");
tslab.display.png(new Uint8Array([1, 2, 3]));
tslab.display.raw("text/csv", "a,b");
const d = tslab.newDisplay();
d.text("first");
d.text("second");`);
    expect(r.outcome.status).toBe("ok");
    const [html, md, png, csv, first, second] = r.io.out;
    expect(html).toEqual({ kind: "display", bundle: { "text/html": "<b>hi</b>" }, metadata: undefined, id: undefined });
    expect(md).toMatchObject({ kind: "display", bundle: { "text/markdown": "# title" } });
    expect(png).toMatchObject({ kind: "display", bundle: { "image/png": Buffer.from([1, 2, 3]).toString("base64") } });
    expect(csv).toMatchObject({ kind: "display", bundle: { "text/csv": "a,b" } });
    expect(first).toMatchObject({ kind: "display", bundle: { "text/plain": "first" } });
    expect(second).toMatchObject({ kind: "update", bundle: { "text/plain": "second" } });
    expect(first.kind === "display" && second.kind === "update" && first.id === second.id && first.id !== undefined).toBe(true);
  });

  it("tslab's types are checked", async () => {
    const err = await s.error("tslab.display.html(42);");
    expect(err.evalue).toMatch(/Argument of type 'number' is not assignable to parameter of type 'string'/);
  });
});
