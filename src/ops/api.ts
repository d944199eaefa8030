// Every op function, gathered in one module: what rules.ts uses to write gradients and
// what src/index.ts re-exports. (Internal primitives wrappers end in P.)

export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./movement.js";
export * from "./linalg.js";
export * from "./nn.js";
export * from "./creation.js";
