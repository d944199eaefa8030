// Recovery after an interrupt: the library's quiesce hook (src/display/protocol.ts).
//
// The kernel stops a cell with vm's breakOnSigint, which terminates JavaScript wherever it
// is: inside a wasm kernel, between an allocation and the tensor that takes it, inside
// withTrace or a tb.scope. No catch or finally block of the interrupted code runs. Recovery
// makes the interrupt behave like an exception thrown at that point:
//   1. the worker threads of a parallel kernel the main thread abandoned finish before
//      anything touches memory, and the kernel's temporaries are freed
//      (backend/wasm/index.ts, recoverDispatch);
//   2. each module that keeps state across a try/finally puts it back to what it is when
//      no library code runs (trace stack, name scopes, module-call recorder, grad mode),
//      and frees what the interrupted code held without an owner (storages allocated for a
//      result, tb.scope frames that never ended); the modules register these repairs with
//      onInterrupt when they load.
// Invariant the repairs rely on: recovery runs with no library code on the stack, and no
// library code keeps such state across an await (traces and name scopes are synchronous,
// storages get an owner before control returns to the caller).

import { recoverDispatch } from "../backend/wasm/index.js";
import { onQuiesce } from "../display/protocol.js";

const repairs: (() => void)[] = [];

/** Registers a repair run by `recover` (module state a skipped finally would restore). */
export function onInterrupt(repair: () => void): void {
  repairs.push(repair);
}

/**
 * Brings the library back to a consistent state after an interrupt terminated library code
 * (see the header). Idempotent; a no-op when nothing was interrupted. The kernel runs it
 * through the quiesce hook after every interrupted cell.
 */
export function recover(): void {
  recoverDispatch();
  let first: unknown;
  for (const repair of repairs) {
    try {
      repair();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}

onQuiesce(recover);
