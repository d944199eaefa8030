// Test helpers for the cell compiler: a CellIO that records everything a cell emits.

import type { CellIO } from "../../kernel/engine.js";
import type { MimeBundle, MimeMetadata } from "../../src/display/protocol.js";

export type Recorded =
  | { kind: "stdout" | "stderr"; text: string }
  | { kind: "display"; bundle: MimeBundle; metadata?: MimeMetadata; id?: string }
  | { kind: "update"; id: string; bundle: MimeBundle; metadata?: MimeMetadata }
  | { kind: "clear"; wait: boolean }
  | { kind: "input"; prompt: string; password: boolean };

export class RecordingIO implements CellIO {
  readonly out: Recorded[] = [];
  constructor(private readonly answers: string[] = []) {}
  stdout(text: string): void {
    this.out.push({ kind: "stdout", text });
  }
  stderr(text: string): void {
    this.out.push({ kind: "stderr", text });
  }
  display(bundle: MimeBundle, metadata?: MimeMetadata, id?: string): void {
    this.out.push({ kind: "display", bundle, metadata, id });
  }
  updateDisplay(id: string, bundle: MimeBundle, metadata?: MimeMetadata): void {
    this.out.push({ kind: "update", id, bundle, metadata });
  }
  clearOutput(wait: boolean): void {
    this.out.push({ kind: "clear", wait });
  }
  input(prompt: string, password: boolean): Promise<string> {
    this.out.push({ kind: "input", prompt, password });
    const a = this.answers.shift();
    return a === undefined ? Promise.reject(new Error("stdin not allowed")) : Promise.resolve(a);
  }
  /** Everything written to stdout, joined. */
  stdoutText(): string {
    return this.out.flatMap((o) => (o.kind === "stdout" ? [o.text] : [])).join("");
  }
}
