// Diagrams of graphs: Graphviz DOT built from the IR, rendered to SVG on the server by
// Graphviz compiled to WebAssembly (@viz-js/viz), so the picture shows in every front end,
// in nbconvert HTML and on GitHub.
//
// What the picture shows (DESIGN.md):
// - data vertices: inputs (blue ellipses), variables (green cylinders, with their names:
//   learned state is a vertex like an input), constants (grey notes);
// - function vertices: ops (boxes with the primitive and output type);
// - forward edges (dark) labelled with shape and dtype, flowing down;
// - backward ops (red) whose gradient edges run the other way, up towards the variables;
//   each gradient of a variable or input is a dashed red edge into it (class "gradient");
// - the optimizer's updates (orange) as edges into the variables (class "update");
// - name scopes as clusters; scopes deeper than `depth` (and not listed in `expand`)
//   collapse into one vertex each.
// Layout trick for the reversed edges: an edge u -> v between backward ops is declared
// v -> u with dir=back, so Graphviz ranks the gradient chain bottom-up; forward values
// read by backward ops are drawn with constraint=false so they do not drag it around.

import { displaySymbol, type MimeBundle } from "../display/protocol.js";
import type { Graph, Node } from "./ir.js";
import { avalText, formatFloat32 } from "./aval.js";

export interface DiagramOptions {
  /** Scope levels drawn open; deeper scopes collapse into one vertex (default: all open). */
  depth?: number;
  /** Scope paths ("encoder" or "encoder/layer1") drawn open whatever the depth. */
  expand?: string[];
  /** Label forward edges with shape and dtype (default true up to 300 ops). */
  edgeLabels?: boolean;
  /** Layout direction: top to bottom (default) or left to right. */
  rankdir?: "TB" | "LR";
}

const colors = {
  forward: "#374151",
  backward: "#dc2626",
  update: "#ea580c",
  input: { fill: "#dbeafe", line: "#2563eb" },
  variable: { fill: "#dcfce7", line: "#16a34a" },
  constant: { fill: "#f3f4f6", line: "#9ca3af" },
  op: { fill: "#ffffff", line: "#4b5563" },
  backwardOp: { fill: "#fee2e2", line: "#dc2626" },
  updateOp: { fill: "#ffedd5", line: "#ea580c" },
  collapsed: { fill: "#e0e7ff", line: "#4f46e5" },
};

function q(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function attrs(a: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? q(v) : String(v)}`);
  return parts.length ? ` [${parts.join(", ")}]` : "";
}

/** The scope path a node is drawn in, after collapsing; and whether it is collapsed. */
function visibleScope(n: Node, o: DiagramOptions): { path: string[]; collapsed: boolean } {
  // Inputs and variables are never hidden inside a collapsed scope: they are the picture.
  // A variable is drawn inside its scope's cluster while that scope is open.
  if (n.kind === "input") return { path: [], collapsed: false };
  const depth = o.depth ?? Infinity;
  const expand = new Set(o.expand ?? []);
  for (let k = 1; k <= n.scope.length; k++) {
    const prefix = n.scope.slice(0, k);
    if (k > depth && !expand.has(prefix.join("/"))) {
      return n.kind === "variable" ? { path: prefix.slice(0, -1), collapsed: false } : { path: prefix, collapsed: true };
    }
  }
  return { path: [...n.scope], collapsed: false };
}

interface Cluster { name: string; path: string[]; lines: string[]; children: Map<string, Cluster> }

export function toDot(g: Graph, o: DiagramOptions = {}): string {
  const opCount = g.ops.length;
  const edgeLabels = o.edgeLabels ?? opCount <= 300;
  const root: Cluster = { name: "", path: [], lines: [], children: new Map() };
  const clusterOf = (path: string[]): Cluster => {
    let c = root;
    for (const part of path) {
      let next = c.children.get(part);
      if (!next) c.children.set(part, (next = { name: part, path: [...c.path, part], lines: [], children: new Map() }));
      c = next;
    }
    return c;
  };

  // Vertex of each node: its own, or the collapsed scope's.
  const vertex: string[] = [];
  const collapsedCounts = new Map<string, number>();
  for (const n of g.nodes) {
    const vis = visibleScope(n, o);
    if (vis.collapsed) {
      const key = vis.path.join("/");
      vertex[n.id] = `scope_${key.replace(/[^A-Za-z0-9_]/g, "_")}`;
      collapsedCounts.set(key, (collapsedCounts.get(key) ?? 0) + (n.kind === "op" ? 1 : 0));
      continue;
    }
    vertex[n.id] = `n${n.id}`;
    clusterOf(vis.path).lines.push(`n${n.id}${attrs(nodeStyle(n))};`);
  }
  for (const [key, count] of collapsedCounts) {
    const path = key.split("/");
    clusterOf(path.slice(0, -1)).lines.push(
      `${`scope_${key.replace(/[^A-Za-z0-9_]/g, "_")}`}${attrs({
        label: `${path.at(-1)}\n(${count} ops)`, shape: "box3d", style: "filled",
        fillcolor: colors.collapsed.fill, color: colors.collapsed.line, class: "collapsed-scope",
      })};`,
    );
  }

  // Edges, deduplicated (collapsed scopes merge many edges into one).
  const edges = new Set<string>();
  const edgeLines: string[] = [];
  const edge = (from: string, to: string, a: Record<string, string | number | boolean | undefined>) => {
    if (from === to) return;
    const key = `${from}->${to}:${a.class ?? ""}`;
    if (edges.has(key)) return;
    edges.add(key);
    edgeLines.push(`${from} -> ${to}${attrs(a)};`);
  };
  for (const n of g.nodes) {
    if (n.kind !== "op") continue;
    for (const i of n.inputs) {
      const src = g.nodes[i]!;
      const srcPhase = src.kind === "op" ? src.phase : "forward";
      const type = avalText(src.aval);
      if (n.phase === "forward") {
        edge(vertex[i]!, vertex[n.id]!, { label: edgeLabels ? type : undefined, color: colors.forward, fontsize: 9, class: "forward" });
      } else if (srcPhase === "forward") {
        // A forward value read by a backward or update op: context, not flow.
        edge(vertex[i]!, vertex[n.id]!, { color: "#9ca3af", style: "dotted", constraint: false, arrowsize: 0.5, class: "reads" });
      } else {
        // Gradient flow: declared reversed so the layout runs it upwards.
        const color = n.phase === "update" ? colors.update : colors.backward;
        edge(vertex[n.id]!, vertex[i]!, { dir: "back", color, label: edgeLabels ? type : undefined, fontsize: 9, fontcolor: color, class: n.phase });
      }
    }
  }
  const names = new Map(g.nodes.map((n) => [n.id, n.kind === "input" || n.kind === "variable" ? n.name : ""]));
  for (const l of g.grads) {
    edge(vertex[l.wrt]!, vertex[l.value]!, {
      dir: "back", color: colors.backward, style: "dashed", penwidth: 1.5, class: "gradient",
      label: `grad ${names.get(l.wrt) ?? ""}`.trim(), fontcolor: colors.backward, fontsize: 10,
    });
  }
  for (const u of g.updates) {
    edge(vertex[u.variable]!, vertex[u.value]!, {
      dir: "back", color: colors.update, style: "bold", penwidth: 2, class: "update",
      label: `assign ${names.get(u.variable) ?? ""}`.trim(), fontcolor: colors.update, fontsize: 10,
    });
  }

  const out: string[] = [
    "digraph G {",
    `  graph${attrs({ rankdir: o.rankdir ?? "TB", fontname: "Helvetica", fontsize: 11, nodesep: 0.25, ranksep: 0.35, bgcolor: "white" })};`,
    `  node${attrs({ fontname: "Helvetica", fontsize: 10, margin: "0.08,0.03", height: 0.3 })};`,
    `  edge${attrs({ fontname: "Helvetica", arrowsize: 0.7 })};`,
  ];
  const emit = (c: Cluster, indent: string) => {
    for (const l of c.lines) out.push(indent + l);
    for (const child of c.children.values()) {
      out.push(`${indent}subgraph ${q("cluster_" + child.path.join("/"))} {`);
      out.push(`${indent}  graph${attrs({ label: child.name, style: "rounded,dashed", color: "#9ca3af", fontcolor: "#4b5563", class: "scope" })};`);
      emit(child, indent + "  ");
      out.push(`${indent}}`);
    }
  };
  emit(root, "  ");
  for (const l of edgeLines) out.push("  " + l);
  out.push("}");
  return out.join("\n");
}

function nodeStyle(n: Node): Record<string, string | number | boolean | undefined> {
  const type = avalText(n.aval);
  switch (n.kind) {
    case "input":
      return { label: `${n.name}\n${type}`, shape: "ellipse", style: "filled", fillcolor: colors.input.fill, color: colors.input.line, class: "input" };
    case "variable":
      return { label: `${n.name}\nvar ${type}`, shape: "cylinder", style: "filled", fillcolor: colors.variable.fill, color: colors.variable.line, penwidth: 1.5, class: "variable" };
    case "constant": {
      const value = n.data.length === 1 ? (n.aval.dtype === "float32" ? formatFloat32(n.data[0]!) : String(n.data[0])) : type;
      return { label: n.data.length === 1 ? value : `const\n${type}`, shape: "note", style: "filled", fillcolor: colors.constant.fill, color: colors.constant.line, fontsize: 9, class: "constant" };
    }
    case "op": {
      const c = n.phase === "backward" ? colors.backwardOp : n.phase === "update" ? colors.updateOp : colors.op;
      return { label: `${n.prim}\n${type}`, shape: "box", style: "rounded,filled", fillcolor: c.fill, color: c.line, class: `op ${n.phase}` };
    }
  }
}

// ---------------------------------------------------------------------------------------
// Rendering

type Viz = { renderString(dot: string, options: { format: string; engine: string }): string };
let vizPromise: Promise<Viz> | undefined;

/** Graphviz (WebAssembly), loaded once on first use. */
function viz(): Promise<Viz> {
  vizPromise ??= import("@viz-js/viz").then((m) => m.instance());
  return vizPromise;
}

/** Renders DOT to an SVG document string (the XML prolog and doctype removed). */
export async function renderDot(dot: string): Promise<string> {
  const svg = (await viz()).renderString(dot, { format: "svg", engine: "dot" });
  return svg.slice(svg.indexOf("<svg"));
}

/** A graph drawn with options: displays as SVG with the printed IR as text. */
export class Diagram {
  constructor(readonly graph: Graph, readonly options: DiagramOptions = {}) {}

  toDot(): string {
    return toDot(this.graph, this.options);
  }

  toSVG(): Promise<string> {
    return renderDot(this.toDot());
  }

  /** SVG for front ends that show images, the same SVG inline in HTML (nbconvert 6's HTML
   *  template empties SVG outputs, and HTML is what notebook front ends prefer), and the
   *  printed IR as text. */
  async [displaySymbol](): Promise<MimeBundle> {
    const svg = await this.toSVG();
    return {
      "image/svg+xml": svg,
      "text/html": `<div class="tensorbook-graph" style="overflow-x:auto">${svg}</div>`,
      "text/plain": this.graph.toString(),
    };
  }
}
