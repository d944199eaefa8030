// The kernel's logo, drawn in code so the kernelspec's logo-32x32.png / logo-64x64.png are
// reproducible from source (`node dist/kernel/png.js kernel/logos` rewrites them). The PNG
// encoder itself lives with the library's display code.

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { encodePng } from "../src/display/png.js";

/**
 * The logo: a TypeScript-blue rounded square holding a 3x3 grid of white dots (a tensor),
 * with the centre dot orange (a variable vertex, as in the project's graph diagrams).
 */
export function logoPixels(size: number): Uint8Array {
  const px = new Uint8Array(size * size * 4);
  const r = size * 0.18; // corner radius
  const blue = [0x31, 0x78, 0xc6];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const cx = Math.min(Math.max(x + 0.5, r), size - r);
      const cy = Math.min(Math.max(y + 0.5, r), size - r);
      const inside = Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= r;
      let rgb = blue;
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const dx = x + 0.5 - size * (0.25 + 0.25 * i);
          const dy = y + 0.5 - size * (0.25 + 0.25 * j);
          if (Math.hypot(dx, dy) <= size * 0.085) rgb = i === 1 && j === 1 ? [0xf5, 0x9e, 0x0b] : [0xff, 0xff, 0xff];
        }
      }
      px.set([...rgb, inside ? 255 : 0], (y * size + x) * 4);
    }
  }
  return px;
}

export function logoPng(size: number): Buffer {
  return encodePng(size, size, logoPixels(size));
}

export function writeLogos(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return [32, 64].map((s) => {
    const file = join(dir, `logo-${s}x${s}.png`);
    writeFileSync(file, logoPng(s));
    return file;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  for (const f of writeLogos(resolve(process.argv[2] ?? "kernel/logos"))) console.log(f);
}
