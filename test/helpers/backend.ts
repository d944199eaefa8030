// Picks the backend the tensor tests run on: TENSORBOOK_TEST_BACKEND=wasm (the library's
// default) or reference, so the same NumPy and finite-difference checks hold every backend
// to one standard; `npm test` runs the tensor suite on both.

import * as tb from "../../src/index.js";

export async function useTestBackend(): Promise<void> {
  const which = process.env.TENSORBOOK_TEST_BACKEND ?? "wasm";
  if (which === "wasm") return;
  if (which === "reference") {
    tb.setBackend(new tb.ReferenceBackend());
    return;
  }
  throw new Error(`TENSORBOOK_TEST_BACKEND: unknown backend "${which}" (use reference or wasm)`);
}
