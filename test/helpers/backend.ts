// Picks the backend the tensor tests run on: TENSORBOOK_TEST_BACKEND=reference (default) or
// wasm, so the same NumPy and finite-difference checks hold every backend to one standard.

import * as tb from "../../src/index.js";

export async function useTestBackend(): Promise<void> {
  const which = process.env.TENSORBOOK_TEST_BACKEND ?? "reference";
  if (which === "reference") return;
  if (which === "wasm") {
    // A computed specifier: the wasm backend is built separately and loaded only on request.
    const spec = "../../src/backend/wasm/index.js";
    const m = (await import(spec)) as { createWasmBackend(): tb.Backend };
    tb.setBackend(m.createWasmBackend());
    return;
  }
  throw new Error(`TENSORBOOK_TEST_BACKEND: unknown backend "${which}" (use reference or wasm)`);
}
