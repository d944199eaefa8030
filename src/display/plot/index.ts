// `tb.plot`: figures for notebooks (plotly.js with a static SVG fallback) and live curves.

export { Figure } from "./figure.js";
export { LivePlot, live, type LiveOptions } from "./live.js";
export type { ColorScale, Numeric } from "./model.js";
export { confusionMatrix, heatmap, hist, images, line, scatter, type FigureOptions, type HeatmapOptions, type SeriesInput } from "./plots.js";
