// tb.nn.summary(model, ...exampleInputs): a table of the layers a forward pass calls, their
// output shapes and parameter counts, in the manner of Keras' model.summary() and
// torchinfo. It runs the model once on the example inputs (no gradients recorded) and
// displays as an HTML table (display protocol) with a text/plain twin.

import { Tensor } from "../tensor/tensor.js";
import { withGrad } from "../core/trace.js";
import { displaySymbol, type MimeBundle } from "../display/protocol.js";
import { recordCalls, type AnyModule, type Module } from "./module.js";

export interface SummaryRow {
  /** Dotted path of the module in the model ("" for the model itself). */
  path: string;
  /** Class name. */
  type: string;
  /** Nesting depth of the call (0 = the model). */
  depth: number;
  /** Output shapes, e.g. "[32, 10]" (several for tuple outputs). */
  outputShape: string;
  /** Parameters of this module and its descendants. */
  params: number;
}

function describeOutput(out: unknown): string {
  if (out instanceof Tensor) return `[${out.shape.join(", ")}]`;
  if (Array.isArray(out)) return out.map(describeOutput).filter((s) => s !== "").join(", ");
  return "";
}

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

export class ModelSummary {
  constructor(
    readonly rows: SummaryRow[],
    readonly totalParams: number,
    readonly trainableParams: number,
  ) {}

  toString(): string {
    const body = this.rows.slice(1).map((r) => [`${"  ".repeat(r.depth - 1)}${r.path.split(".").pop()} (${r.type})`, r.outputShape, r.params.toLocaleString("en-US")]);
    const head = ["Layer (type)", "Output shape", "Param #"];
    const all = [head, ...body];
    const w = head.map((_h, i) => Math.max(...all.map((r) => r[i]!.length)));
    const line = (r: string[]): string => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padStart(w[2]!)}`;
    const rule = "=".repeat(w[0]! + w[1]! + w[2]! + 4);
    const model = this.rows[0];
    return [
      `${model?.type ?? "Model"}: output ${model?.outputShape ?? "?"}`,
      rule,
      line(head),
      rule,
      ...body.map(line),
      rule,
      `Total params: ${this.totalParams.toLocaleString("en-US")}`,
      `Trainable params: ${this.trainableParams.toLocaleString("en-US")}`,
      `Non-trainable params: ${(this.totalParams - this.trainableParams).toLocaleString("en-US")}`,
    ].join("\n");
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  [displaySymbol](): MimeBundle {
    const td = 'style="text-align:left;padding:2px 10px"';
    const tdr = 'style="text-align:right;padding:2px 10px;font-variant-numeric:tabular-nums"';
    const rows = this.rows.slice(1).map((r) => {
      const name = `<span style="padding-left:${(r.depth - 1) * 1.2}em">${esc(r.path.split(".").pop() ?? "")}</span> <span style="color:#888">(${esc(r.type)})</span>`;
      return `<tr><td ${td}>${name}</td><td ${td}><code>${esc(r.outputShape)}</code></td><td ${tdr}>${r.params.toLocaleString("en-US")}</td></tr>`;
    });
    const model = this.rows[0];
    const html =
      `<table class="tensorbook-summary" style="border-collapse:collapse;font-size:13px">` +
      `<caption style="text-align:left;font-weight:bold">${esc(model?.type ?? "Model")}</caption>` +
      `<thead><tr><th ${td}>Layer (type)</th><th ${td}>Output shape</th><th ${tdr}>Param #</th></tr></thead>` +
      `<tbody>${rows.join("")}</tbody>` +
      `<tfoot><tr><td ${td} colspan="2">Total params</td><td ${tdr}>${this.totalParams.toLocaleString("en-US")}</td></tr>` +
      `<tr><td ${td} colspan="2">Trainable params</td><td ${tdr}>${this.trainableParams.toLocaleString("en-US")}</td></tr></tfoot></table>`;
    return { "text/plain": this.toString(), "text/html": html };
  }
}

/** Runs model on the example inputs (without recording gradients) and tabulates every
 *  module call in call order. */
export function summary<I extends unknown[], O>(model: Module<I, O>, ...exampleInputs: I): ModelSummary {
  model.nameTree();
  const paths = new Map<AnyModule, string>(model.namedModules().map(([p, m]) => [m, p]));
  const rows: SummaryRow[] = [];
  recordCalls(
    (m, depth) => {
      const row: SummaryRow = { path: paths.get(m) ?? "?", type: m.constructor.name, depth, outputShape: "", params: m.numParameters() };
      rows.push(row);
      return (out) => {
        row.outputShape = describeOutput(out);
      };
    },
    () => withGrad(false, () => model(...exampleInputs)),
  );
  // Non-trainable parameters are float buffers (running statistics), as Keras counts them;
  // integer counters such as numBatchesTracked are not parameters.
  const all = [...model.namedParameters(), ...model.namedBuffers().filter(([, v]) => v.dtype === "float32")];
  const total = all.reduce((n, [, v]) => n + v.size, 0);
  const trainable = model.parameters().reduce((n, p) => n + p.size, 0);
  return new ModelSummary(rows, total, trainable);
}
