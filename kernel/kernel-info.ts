// The static content of kernel_info_reply. Cheap on purpose: it reads two package.json
// files and loads no TypeScript, so the first kernel_info_reply goes out before the engine
// (which loads the compiler) exists.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROTOCOL_VERSION, type JsonObject } from "./wire.js";

/** The project root: the nearest folder above this file whose package.json is "tensorbook". */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "tensorbook") return dir;
    } catch {
      // not here; keep walking up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("tensorbook: cannot find the project's package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function versionOf(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
}

export function typescriptVersion(): string {
  const require = createRequire(import.meta.url);
  return versionOf(require.resolve("typescript/package.json"));
}

export function kernelInfoContent(): JsonObject {
  const version = versionOf(join(projectRoot(), "package.json"));
  const ts = typescriptVersion();
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "tensorbook",
    implementation_version: version,
    language_info: {
      name: "typescript",
      version: ts,
      mimetype: "text/typescript",
      file_extension: ".ts",
      codemirror_mode: "typescript",
      pygments_lexer: "typescript",
    },
    banner:
      `tensorbook ${version}: TypeScript ${ts} on Node ${process.versions.node}. ` +
      `Cells are type-checked against earlier cells; display(obj), help(expr) or ?expr, input(prompt).`,
    help_links: [
      { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
      { text: "Node.js API", url: `https://nodejs.org/docs/v${process.versions.node}/api/` },
    ],
    debugger: false,
  };
}
