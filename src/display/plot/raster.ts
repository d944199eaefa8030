// Image panels as PNG data URIs: one small image per panel instead of one SVG rectangle
// per pixel, so a grid of 28x28 digits stays a few kilobytes in a notebook.

import { encodePng } from "../png.js";
import { colorAt, extent, type MatrixPanel } from "./model.js";

function hexToRgb(c: string): [number, number, number] {
  return [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16)) as [number, number, number];
}

/** The panel's pixels as a PNG data URI: greyscale through its colour scale, or RGB. */
export function panelPng(panel: MatrixPanel): string {
  const { rows, cols, channels, values } = panel;
  const rgba = new Uint8Array(rows * cols * 4);
  const [lo, hi] = channels === 1 ? [panel.zmin ?? extent(values)[0], panel.zmax ?? extent(values)[1]] : [0, 255];
  for (let p = 0; p < rows * cols; p++) {
    const [r, g, b] = channels === 3
      ? [0, 1, 2].map((k) => Math.max(0, Math.min(255, Math.round(values[p * 3 + k]!))))
      : hexToRgb(colorAt(panel.colorscale, hi > lo ? (values[p]! - lo) / (hi - lo) : 0));
    rgba.set([r!, g!, b!, 255], p * 4);
  }
  return "data:image/png;base64," + encodePng(cols, rows, rgba).toString("base64");
}
