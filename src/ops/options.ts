// Checks of the option objects ops take ({ reduction: "sum" }, { beta: 2 }): a misspelled
// key or an unknown value would otherwise be ignored and the op would silently compute with
// its defaults (crossEntropy(x, y, { reduce: "sum" }) returning a mean). TypeScript catches
// these in literal objects; these checks catch the rest (objects built at run time, plain
// JavaScript, `as any`).

/** Throws, naming the op and the key, when `options` has a key not in `allowed`. */
export function checkOptions(op: string, options: object | undefined, allowed: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object") throw new Error(`${op}: options must be an object, got ${typeof options}`);
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new Error(`${op}: unknown option "${key}" (options are: ${allowed.join(", ")})`);
    }
  }
}

/** Throws, naming the op and the field, when `value` is set and not one of `allowed`. */
export function checkChoice<T extends string>(op: string, field: string, value: T | undefined, allowed: readonly T[]): void {
  if (value !== undefined && !allowed.includes(value)) {
    throw new Error(`${op}: ${field} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(value)}`);
  }
}
