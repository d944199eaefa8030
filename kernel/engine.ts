// The contract between the protocol side of the kernel (handlers, sockets) and the
// language side (cell compiler and executor).
//
// Handlers know the Jupyter messaging protocol and nothing of TypeScript; the engine knows
// TypeScript and nothing of ZeroMQ or message headers. Everything a running cell can emit
// goes through a CellIO that the handler passes in, so output lands on the right cell.

import type { MimeBundle, MimeMetadata } from "../src/display/protocol.js";

/** Output channel of the cell that is running (maps onto iopub/stdin messages). */
export interface CellIO {
  stdout(text: string): void;
  stderr(text: string): void;
  display(bundle: MimeBundle, metadata?: MimeMetadata, displayId?: string): void;
  updateDisplay(displayId: string, bundle: MimeBundle, metadata?: MimeMetadata): void;
  clearOutput(wait: boolean): void;
  /** input_request on the stdin channel; rejects when the front end does not allow stdin. */
  input(prompt: string, password: boolean): Promise<string>;
}

/** A pager payload (IPython's `?x`): shown by the front end's pager. */
export interface PagePayload {
  source: "page";
  data: MimeBundle;
  start: number;
}

export type ExecuteOutcome =
  | { status: "ok"; result?: { data: MimeBundle; metadata: MimeMetadata }; payload: PagePayload[] }
  | { status: "error"; ename: string; evalue: string; traceback: string[] }
  | { status: "aborted" };

export interface CompleteResult {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
}

export interface InspectResult {
  found: boolean;
  data: MimeBundle;
  metadata: MimeMetadata;
}

export type IsCompleteResult =
  | { status: "complete" }
  | { status: "incomplete"; indent: string }
  | { status: "invalid" }
  | { status: "unknown" };

/** The language side of the kernel: one per kernel process, state carried across cells. */
export interface Engine {
  /** Type-checks, compiles and runs one cell; resolves after all its output is emitted. */
  execute(code: string, io: CellIO, options: { executionCount: number; storeHistory: boolean }): Promise<ExecuteOutcome>;
  /** user_expressions: each expression evaluated in the notebook's scope after a cell. */
  evaluate(expressions: Record<string, string>): Promise<Record<string, ExecuteOutcome>>;
  complete(code: string, cursorPos: number): CompleteResult;
  inspect(code: string, cursorPos: number, detailLevel: 0 | 1): InspectResult;
  isComplete(code: string): IsCompleteResult;
  /** Stops the running cell (sync loop or pending await); variables are kept. */
  interrupt(): void;
  /** The CellIO of the cell whose code runs now, in its async context (a timer's or a
   *  promise's of a finished cell too): where an error thrown there belongs. */
  owner?(): CellIO | undefined;
}
