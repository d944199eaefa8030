#!/usr/bin/env node
// The `tensorbook` command (npx tensorbook ...): forwards to the compiled CLI in dist/.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/kernel/cli.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error("tensorbook: dist/ is missing; run `npm run build` (npm install runs it for you).");
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
