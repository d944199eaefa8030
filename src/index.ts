// tensorbook: the public API of the library (`import * as tb from "tensorbook"`).
//
// Eager tensors with autograd, graph mode, nn/optim/data and rich display. Everything a
// user reaches is exported from here; internal modules are not part of the contract.

export { displaySymbol, isDisplayable } from "./display/protocol.js";
export type { Displayable, MimeBundle } from "./display/protocol.js";
