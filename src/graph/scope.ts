// Name scopes: `tb.nameScope("encoder", () => ...)` groups the ops created inside under a
// name, as TensorFlow's name scopes do. Graph traces record the path on every node and
// diagrams draw scopes as clusters; nn modules open a scope named after themselves.
// Eagerly a scope only names things. Scopes nest; fn runs synchronously.

import { onInterrupt } from "../core/interrupt.js";

const stack: string[] = [];

// After an interrupt (core/interrupt.ts) no scope is open, whatever finally blocks it skipped.
onInterrupt(() => {
  stack.length = 0;
});

export function nameScope<T>(name: string, fn: () => T): T {
  if (!/^[\w.-]+$/.test(name)) {
    throw new Error(`nameScope: "${name}" is not a valid scope name (letters, digits, _, . and -)`);
  }
  stack.push(name);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error(`nameScope("${name}"): the function returned a Promise; name scopes take synchronous functions`);
    }
    return result;
  } finally {
    stack.pop();
  }
}

/** The current scope path, outermost first. */
export function currentScope(): string[] {
  return [...stack];
}
