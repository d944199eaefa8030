// The printed form of a graph: a text IR in the spirit of JAX's jaxpr, read by users and
// pinned by snapshot tests.
//
// Grammar (whitespace separates tokens; NL is a line break; `#` starts a comment to the
// end of the line, used for name scopes):
//
//   graph    := "{ lambda" binder* ";" varbind* [";" constbind*] "." NL
//               ["let" eqn (NL eqn)*] NL
//               "in" "(" atom ("," atom)* ")"
//               [NL "update" name "<-" atom ("," name "<-" atom)*] " }"
//   binder   := name ":" type                       an input: data passed in
//   varbind  := name ":var" type                    a variable: learned state (a vertex)
//   constbind:= name ":const" type                  a constant tensor
//   eqn      := name ":" type "=" prim [params] atom*
//   params   := "[" key "=" value ("," key "=" value)* "]"   values are JSON
//   atom     := name | literal
//   literal  := number ":" type                     a scalar constant, e.g. 0.5:f32[]
//   type     := ("f32" | "i32" | "bool") "[" [int ("," int)*] "]"
//
// Example:
//   { lambda x:f32[128,784] ; W1:var f32[784,512] .
//     let a:f32[128,512] = matmul x W1
//         b:f32[128,512] = relu a
//     in (b) }
//
// Names: inputs and variables keep their own names (made unique with a suffix); values
// computed by ops are named a, b, ..., z, ba, bb, ... in order, skipping taken names.

import type { ConstantNode, Graph, Node } from "./ir.js";
import { avalText, formatFloat32, sizeOfAval } from "./aval.js";

/** a, b, ..., z, ba, bb, ..., zz, baa, ...: jaxpr's variable names. */
function letters(i: number): string {
  let s = "";
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26);
  } while (i > 0);
  return s;
}

function isInlineConstant(n: Node): boolean {
  return n.kind === "constant" && sizeOfAval(n.aval) === 1 && n.aval.shape.length === 0;
}

function literal(n: ConstantNode): string {
  const v = n.data[0]!;
  const text = n.aval.dtype === "float32" ? (Number.isInteger(v) ? v.toFixed(1) : formatFloat32(v)) : n.aval.dtype === "bool" ? String(Boolean(v)) : String(v);
  return `${text}:${avalText(n.aval)}`;
}

function paramText(params: object): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return "";
  return `[${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}]`;
}

/** Assigns every node the name it prints with. */
export function nodeNames(g: Graph): string[] {
  const names: string[] = new Array(g.nodes.length);
  const taken = new Set<string>();
  const claim = (base: string): string => {
    const clean = base.replace(/[^A-Za-z0-9_.']/g, "_") || "v";
    let name = clean;
    for (let k = 1; taken.has(name); k++) name = `${clean}_${k}`;
    taken.add(name);
    return name;
  };
  for (const n of g.nodes) {
    if (n.kind === "input" || n.kind === "variable") names[n.id] = claim(n.name);
  }
  let next = 0;
  let constants = 0;
  for (const n of g.nodes) {
    if (names[n.id] !== undefined) continue;
    if (n.kind === "constant") {
      if (isInlineConstant(n)) {
        names[n.id] = literal(n as ConstantNode);
        continue;
      }
      names[n.id] = claim(`k${constants++}`);
      continue;
    }
    let name: string;
    do name = letters(next++);
    while (taken.has(name));
    taken.add(name);
    names[n.id] = name;
  }
  return names;
}

export function printGraph(g: Graph): string {
  const names = nodeNames(g);
  const inputs = g.inputs.map((n) => `${names[n.id]}:${avalText(n.aval)}`);
  const vars = g.variables.map((n) => `${names[n.id]}:var ${avalText(n.aval)}`);
  const consts = g.nodes.filter((n) => n.kind === "constant" && !isInlineConstant(n)).map((n) => `${names[n.id]}:const ${avalText(n.aval)}`);
  let head = `{ lambda ${[inputs.join(" "), vars.join(" ")].join(" ; ").trim()}`;
  if (consts.length) head += ` ; ${consts.join(" ")}`;
  head = head.replace(/\s+;/g, " ;") + " .";
  const eqns = g.ops.map((n) => {
    const scope = n.scope.length ? `  # ${n.scope.join("/")}` : "";
    const args = n.inputs.map((i) => names[i]).join(" ");
    return `${names[n.id]}:${avalText(n.aval)} = ${n.prim}${paramText(n.params)}${args ? " " + args : ""}${scope}`;
  });
  const lines = [head];
  if (eqns.length) lines.push(`  let ${eqns.join("\n      ")}`);
  let tail = `  in (${g.outputs.map((o) => names[o]).join(", ")})`;
  if (g.updates.length) tail += `\n  update ${g.updates.map((u) => `${names[u.variable]} <- ${names[u.value]}`).join(", ")}`;
  lines.push(tail + " }");
  return lines.join("\n");
}
