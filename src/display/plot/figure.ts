// Figure: what every plotting function returns, and what a notebook shows.
//
// A Figure wraps the renderer-neutral model (model.ts) and displays through the display
// protocol as one MIME bundle:
//   application/vnd.plotly.v1+json  for front ends with a plotly renderer (JupyterLab
//                                    extension, VS Code),
//   text/html                        a div that plotly.js draws into; it holds the static
//                                    SVG until the script runs, so an untrusted or
//                                    script-less view still shows the plot,
//   image/svg+xml                    the static SVG alone (GitHub, nbconvert to PDF...),
//   text/plain                       a one-line summary.
// plotly.js itself is sent once per kernel session (plotly.ts).

import { displayHost, displaySymbol, type MimeBundle } from "../protocol.js";
import type { FigureSpec } from "./model.js";
import { describePanel, ensurePlotlyLoaded, figureHTML, standaloneHTML, toPlotly, type PlotlyFigure } from "./plotly.js";
import { toSVG } from "./svg.js";

export class Figure {
  readonly spec: FigureSpec;

  constructor(spec: FigureSpec) {
    this.spec = spec;
  }

  /** The plotly.js figure: { data, layout, config }. */
  toPlotly(): PlotlyFigure {
    return toPlotly(this.spec);
  }

  toSVG(): string {
    return toSVG(this.spec);
  }

  /** A self-contained HTML page (plotly.js inlined) for saving to a file. */
  toHTML(): string {
    return standaloneHTML(this.toPlotly(), this.spec.title ?? "figure");
  }

  toString(): string {
    const what = this.spec.panels.map(describePanel).join("; ");
    return `Figure(${this.spec.title ? JSON.stringify(this.spec.title) + ", " : ""}${what})`;
  }

  /** The MIME bundle; in a kernel, also makes sure plotly.js has been sent. */
  mimeBundle(): MimeBundle {
    const host = displayHost();
    if (host) ensurePlotlyLoaded(host);
    const plotly = this.toPlotly();
    const svg = this.toSVG();
    return {
      "application/vnd.plotly.v1+json": plotly,
      "text/html": figureHTML(plotly, svg),
      "image/svg+xml": svg,
      "text/plain": this.toString(),
    };
  }

  [displaySymbol](): MimeBundle {
    return this.mimeBundle();
  }
}
