// Multi-head attention and the transformer encoder layer, following PyTorch's
// nn.MultiheadAttention and nn.TransformerEncoderLayer (enough for a small character-level
// transformer). Letters: N batch, L target length, S source length, E embedding size,
// h heads, d = E / h head size.
//
// Masks follow PyTorch: attnMask [L, S] or [N*h, L, S], bool (true = may not attend) or
// float (added to the scores); keyPaddingMask [N, S], bool (true = padding, ignored);
// isCausal builds the [L, L] mask that hides later positions.

import { Tensor } from "../tensor/tensor.js";
import { Variable } from "../graph/variable.js";
import { Module } from "./module.js";
import { Dropout, LayerNorm, Linear } from "./layers.js";
import * as init from "./init.js";
import { add, cast, gelu, mul, relu, where } from "../ops/elementwise.js";
import { mean } from "../ops/reduce.js";
import { permute, reshape, transpose } from "../ops/movement.js";
import { linear, matmul } from "../ops/linalg.js";
import { dropout, softmax } from "../ops/nn.js";
import { tensor, zeros } from "../ops/creation.js";
import { fmtShape } from "../tensor/shape.js";

/** A bool [n, n] mask, true above the diagonal: position i may not attend to j > i. */
export function causalMask(n: number): Tensor {
  const m = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = 1;
  return tensor(m, { dtype: "bool", shape: [n, n] });
}

export interface AttentionOptions {
  attnMask?: Tensor | null;
  keyPaddingMask?: Tensor | null;
  /** Hide later positions (a causal mask over L = S). */
  isCausal?: boolean;
  /** Return the attention weights too (default true, averaged over heads). */
  needWeights?: boolean;
  averageAttnWeights?: boolean;
}

/** Adds a mask to scores [N, h, L, S]: bool masks put -inf where true, float masks add. */
function applyMask(scores: Tensor, mask: Tensor, N: number, h: number, what: string): Tensor {
  const [, , L, S] = scores.shape;
  let m: Tensor;
  if (mask.shape.length === 2 && mask.shape[0] === L && mask.shape[1] === S) m = reshape(mask, [1, 1, L, S]);
  else if (mask.shape.length === 3 && mask.shape[0] === N * h && mask.shape[1] === L && mask.shape[2] === S) m = reshape(mask, [N, h, L, S]);
  else if (what === "keyPaddingMask" && mask.shape.length === 2 && mask.shape[0] === N && mask.shape[1] === S) m = reshape(mask, [N, 1, 1, S]);
  else {
    const want = what === "keyPaddingMask" ? `[${N}, ${S}]` : `[${L}, ${S}] or [${N * h}, ${L}, ${S}]`;
    throw new Error(`MultiheadAttention: ${what} must have shape ${want}, got ${fmtShape(mask.shape)}`);
  }
  return mask.dtype === "bool" ? where(m, -Infinity, scores) : add(scores, cast(m, "float32"));
}

/** Attention over h heads: softmax(q k^T / sqrt(d) + mask) v, with in- and out-projections.
 *  Inputs [L, N, E] (or [N, L, E] with batchFirst); returns [output, weights or null]. */
export class MultiheadAttention extends Module<[Tensor, Tensor, Tensor, AttentionOptions?], [Tensor, Tensor | null]> {
  /** [3E, E]: rows 0..E-1 project queries, then keys, then values. */
  inProjWeight: Variable;
  inProjBias: Variable | null;
  outProj: Linear;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  constructor(readonly embedDim: number, readonly numHeads: number, options: { dropout?: number; bias?: boolean; batchFirst?: boolean } = {}) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    this.batchFirst = options.batchFirst ?? false;
    this.inProjWeight = new Variable(zeros([3 * embedDim, embedDim]), { name: "inProjWeight" });
    init.xavierUniform(this.inProjWeight);
    this.inProjBias = options.bias === false ? null : new Variable(zeros([3 * embedDim]), { name: "inProjBias" });
    this.outProj = new Linear(embedDim, embedDim, { bias: options.bias !== false });
    if (this.outProj.bias) init.zeros(this.outProj.bias);
  }

  forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions = {}): [Tensor, Tensor | null] {
    const E = this.embedDim;
    const h = this.numHeads;
    const d = this.headDim;
    for (const [n, t] of [["query", query], ["key", key], ["value", value]] as const) {
      if (t.shape.length !== 3 || t.shape[2] !== E) {
        throw new Error(`MultiheadAttention: ${n} must be ${this.batchFirst ? "[N, L, E]" : "[L, N, E]"} with E = ${E}, got ${fmtShape(t.shape)}`);
      }
    }
    // To batch first: [N, L, E].
    const [q0, k0, v0] = this.batchFirst ? [query, key, value] : [query, key, value].map((t) => transpose(t, 0, 1));
    const [N, L] = q0.shape;
    const S = k0.shape[1];
    const W = this.inProjWeight;
    const b = this.inProjBias;
    const proj = (x: Tensor, i: number): Tensor => {
      const w = W.narrow(0, i * E, E);
      return linear(x, w, b ? b.narrow(0, i * E, E) : null);
    };
    const heads = (x: Tensor, len: number): Tensor => permute(reshape(x, [N, len, h, d]), [0, 2, 1, 3]); // [N, h, len, d]
    const q = heads(proj(q0, 0), L);
    const k = heads(proj(k0, 1), S);
    const v = heads(proj(v0, 2), S);
    let scores = mul(matmul(q, transpose(k, 2, 3)), 1 / Math.sqrt(d)); // [N, h, L, S]
    if (options.isCausal) {
      if (L !== S) throw new Error(`MultiheadAttention: isCausal needs equal query and key lengths, got ${L} and ${S}`);
      scores = applyMask(scores, causalMask(L), N, h, "attnMask");
    }
    if (options.attnMask) scores = applyMask(scores, options.attnMask, N, h, "attnMask");
    if (options.keyPaddingMask) scores = applyMask(scores, options.keyPaddingMask, N, h, "keyPaddingMask");
    let attn = softmax(scores, -1);
    if (this.dropout > 0) attn = dropout(attn, this.dropout, { training: this.training });
    const ctx = reshape(permute(matmul(attn, v), [0, 2, 1, 3]), [N, L, E]); // [N, L, E]
    let out = this.outProj(ctx);
    if (!this.batchFirst) out = transpose(out, 0, 1);
    if (options.needWeights === false) return [out, null];
    return [out, options.averageAttnWeights === false ? attn : mean(attn, 1)];
  }

  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, batchFirst=${this.batchFirst}`;
  }
}

export interface TransformerEncoderLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: "relu" | "gelu";
  layerNormEps?: number;
  batchFirst?: boolean;
  /** Pre-norm (x + f(norm(x))) instead of post-norm (norm(x + f(x))); default false. */
  normFirst?: boolean;
}

/** Self-attention and a feed-forward block, each with a residual connection and layer
 *  norm, as PyTorch's TransformerEncoderLayer (defaults: dimFeedforward 2048, dropout 0.1,
 *  ReLU, post-norm, [L, N, E] unless batchFirst). */
export class TransformerEncoderLayer extends Module<[Tensor, Omit<AttentionOptions, "needWeights" | "averageAttnWeights">?], Tensor> {
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly activation: "relu" | "gelu";
  readonly normFirst: boolean;
  constructor(readonly dModel: number, readonly nhead: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const p = options.dropout ?? 0.1;
    const ff = options.dimFeedforward ?? 2048;
    const eps = options.layerNormEps ?? 1e-5;
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, batchFirst: options.batchFirst });
    this.linear1 = new Linear(dModel, ff);
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel);
    this.norm1 = new LayerNorm(dModel, { eps });
    this.norm2 = new LayerNorm(dModel, { eps });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.activation = options.activation ?? "relu";
    this.normFirst = options.normFirst ?? false;
  }

  forward(src: Tensor, options: Omit<AttentionOptions, "needWeights" | "averageAttnWeights"> = {}): Tensor {
    const sa = (x: Tensor): Tensor => this.dropout1(this.selfAttn(x, x, x, { ...options, needWeights: false })[0]);
    const act = (x: Tensor): Tensor => (this.activation === "gelu" ? gelu(x) : relu(x));
    const ff = (x: Tensor): Tensor => this.dropout2(this.linear2(this.dropout(act(this.linear1(x)))));
    let x = src;
    if (this.normFirst) {
      x = add(x, sa(this.norm1(x)));
      x = add(x, ff(this.norm2(x)));
    } else {
      x = this.norm1(add(x, sa(x)));
      x = this.norm2(add(x, ff(x)));
    }
    return x;
  }
}
